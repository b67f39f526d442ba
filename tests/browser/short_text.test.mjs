// short_text.test.mjs: honest scores for short text in the review box
// (issue 13), in a real headless Chromium: a text the model cannot judge (no
// word it knows outside the stop words) says so instead of a confidence, and
// words whose contribution is under WEAK_SHARE of the strongest word's are
// not coloured as evidence.
//
//   node --test --test-concurrency=1 tests/browser/short_text.test.mjs

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { POSITIVE_REVIEW, startSession, pg, phaseIs, typeReview, trainAndWatch, assertClean } from './harness.mjs';

let session;

before(async () => {
  session = await startSession('short-text');
});

after(async () => {
  await session?.close();
});

test('a stop-word-only text cannot be judged, and weightless words are not coloured', async () => {
  const { page, problems } = await session.openPage('#epochs=2&lr=0.01');
  await phaseIs(page, ['ready'], 120000);
  await trainAndWatch(page);

  for (const text of ['the the the', 'and of the', 'zxqv qwzx']) {
    const r = await typeReview(page, text);
    assert.equal(r.judgeable, 0, `"${text}": the worker counts no word that carries meaning (${r.judgeable})`);
    const said = await page.textContent('#score-text');
    assert.match(said, /cannot judge/, `"${text}": the score line says the model cannot judge it: ${said}`);
    assert.doesNotMatch(said, /sure/, `"${text}": no confidence is claimed`);
    assert.equal(await page.locator('#words .word.pos, #words .word.neg').count(), 0, `"${text}": no word is coloured`);
    console.log(`"${text}": ${said}`);
  }

  const r = await typeReview(page, 'Not bad at all.');
  assert.ok(r.judgeable >= 1, `"Not bad at all." has a word the model knows (${r.judgeable})`);
  const line = await page.textContent('#score-text');
  assert.match(line, /sure/, 'a judgeable text gets its confidence');
  // After training the score is calibrated by the temperature of short
  // validation reviews; the class stays the model's.
  assert.ok(r.temperature > 0, `a temperature was fitted (${r.temperature})`);
  assert.ok(Number.isFinite(r.calibrated) && r.calibrated > 0 && r.calibrated < 1, `calibrated score ${r.calibrated}`);
  assert.equal(r.calibrated >= 0.5, r.score >= 0.5, 'calibration keeps the class');
  assert.match(line, /sure, calibrated\)$/, line);
  const how = await page.getAttribute('#score-text', 'title');
  assert.match(how, /Calibrated: .* at temperature \d+\.\d\d, fitted on the validation reviews cut to 20 words/, how);
  console.log(`"Not bad at all.": ${line}`);

  // A long review (over 40 words: the whole reviews' temperature): its
  // weakest words are below a tenth of the strongest.
  const full = await typeReview(page, `${POSITIVE_REVIEW} ${POSITIVE_REVIEW}`);
  assert.ok(full.temperature > 0, 'a long review is calibrated too');
  assert.match(await page.getAttribute('#score-text', 'title'), /fitted on the validation reviews\.$/, 'with the whole reviews\' temperature');
  const share = await pg(page, () => import('/views/review.js').then((m) => m.WEAK_SHARE));
  assert.equal(share, 0.1, 'the threshold is a tenth of the strongest word');
  const shown = await pg(page, () =>
    [...document.querySelectorAll('#words .word')].map((el) => ({ word: el.textContent, cls: el.className })),
  );
  const spans = full.tokens.filter((t) => t.start < t.end).sort((a, b) => a.start - b.start);
  assert.equal(shown.length, spans.length, 'one element per token');
  const maxAbs = Math.max(...spans.map((t) => Math.abs(t.contribution)));
  let weak = 0;
  spans.forEach((t, i) => {
    const c = t.contribution;
    if (Math.abs(c) < share * maxAbs) {
      weak++;
      assert.equal(shown[i].cls, 'word zero', `"${shown[i].word}" (${c.toFixed(5)}, max ${maxAbs.toFixed(5)}) is not coloured`);
    } else {
      assert.equal(shown[i].cls, c > 0 ? 'word pos' : 'word neg', `"${shown[i].word}" (${c.toFixed(5)}) is coloured as evidence`);
    }
  });
  assert.ok(weak > 0, `some words of the review are too weak to colour (${weak} of ${spans.length})`);
  console.log(`${weak} of ${spans.length} words below ${share} of the strongest (${maxAbs.toFixed(4)}) left uncoloured`);
  assert.match(await page.textContent('#legend-method'), /not coloured/, 'the legend says which words are not coloured');
  assertClean(problems, 'short text');
});

test('every recipe\'s hint says what it costs and earns: test and short-review accuracy, time per run', async () => {
  const { page, problems } = await session.openPage('');
  await phaseIs(page, ['ready'], 120000);
  for (const preset of ['tutorial-bag', 'tutorial-lstm', 'tutorial-gru', 'tutorial-bilstm', 'tutorial-pretrained', 'ngram']) {
    await page.selectOption('#preset', preset);
    const hint = await page.textContent('#preset-hint');
    assert.match(
      hint,
      /Measured here \(natively, one thread, load average [\d.]+\): test accuracy 0\.\d{3}; on short reviews 0\.\d{3} \(first 20 words\) and 0\.\d{3} \(first sentence\); [\d.]+ s for the whole run, [\d.]+ s of it training\./,
      `${preset}: ${hint}`,
    );
  }
  assertClean(problems, 'recipe hints');
  await page.close();
});
