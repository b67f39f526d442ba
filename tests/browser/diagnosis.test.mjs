// diagnosis.test.mjs: the diagnosis panel, the stop-word option and "bring
// your own labelled text", end to end in headless Chromium (the same setup
// as page.test.mjs: scripts/serve.mjs, the system Chromium, a fresh
// profile, and no console error or uncaught exception allowed).
//
//   node --test --test-concurrency=1 tests/browser/
//
// It reads the page through window.__playground (copies of its state) and
// the DOM; it changes the page only as a user would (clicks, keys, files).
// The diagnosis of the 10,000 validation reviews is timed and the figure
// printed (the benchmark), never asserted.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ARTIFACTS, startSession, pg, phaseIs, assertClean } from './harness.mjs';

// Three epochs at lr 0.01 pass 85% validation accuracy (see page.test.mjs).
const QUICK = '#epochs=3&lr=0.01';
const STOP_WORDS = ['the', 'and', 'a', 'of', 'to', 'is', 'it', 'this', 'i', 'was', 'in', 'that'];

let session;
const openPage = (...args) => session.openPage(...args);

// A finished diagnosis matching want (an object of fields of __playground.diagnosis).
const diagnosed = (page, want = {}, timeout = 120000) =>
  page.waitForFunction((w) => {
    const d = window.__playground.diagnosis;
    return d && !d.running && d.n && Object.entries(w).every(([k, v]) => d[k] === v);
  }, want, { timeout, polling: 50 });
const diag = (page) => pg(page, () => window.__playground.diagnosis);

// The confusion matrix as the page shows it (the big number of each cell).
async function shownMatrix(page) {
  return pg(page, () => Object.fromEntries(['tp', 'fp', 'tn', 'fn'].map((k) =>
    [k, Number(document.querySelector(`#cm-${k} strong`).textContent.replace(/,/g, ''))])));
}

before(async () => {
  session = await startSession('diag');
});

after(async () => {
  await session?.close();
});

test('after training, the diagnosis shows the confusion matrix, curves, reviews and words; the threshold moves it', async (t) => {
  const { page, problems } = await openPage(QUICK);
  await phaseIs(page, ['ready']);
  await page.click('#btn-train');
  await phaseIs(page, ['done'], 300000);
  await diagnosed(page, { split: 'val' }); // it runs by itself when training ends
  const valSize = (await pg(page, () => window.__playground.settings)).val_size;
  const d = await diag(page);
  const m = await shownMatrix(page);
  assert.equal(m.tp + m.fp + m.tn + m.fn, valSize, `the cells sum to the validation size ${valSize}: ${JSON.stringify(m)}`);
  assert.deepEqual(m, d.confusion, 'the cells show the engine\'s counts');
  const auc = Number(await page.textContent('#s-auc'));
  assert.ok(auc > 0.9, `AUC shown ${auc}`);
  assert.ok(Math.abs(auc - d.auc) < 1e-3);
  const history = await pg(page, () => window.__playground.history);
  assert.ok(Math.abs(d.accuracy - history.at(-1).val_acc) < 1e-6, `accuracy at 0.5 (${d.accuracy}) is the last val_acc`);
  assert.match(await page.textContent('#s-acc'), /^\d+\.\d%$/);
  const curves = await pg(page, () => ['chart-roc', 'chart-pr', 'chart-calibration', 'chart-histogram']
    .map((id) => globalThis.Chart.getChart(document.getElementById(id)).data.datasets[0].data.length));
  assert.ok(curves[0] > 20 && curves[1] > 20 && curves[2] === 10 && curves[3] === 10, `curves drawn: ${curves}`);
  assert.match(await page.getAttribute('#chart-roc', 'aria-label'), /area under it 0\.9/);
  const words = d.words;
  assert.equal(words.positive.length, 20);
  assert.ok(words.positive.includes('great') || words.positive.includes('excellent'), `positive words: ${words.positive}`);
  assert.ok(words.negative.includes('bad') || words.negative.includes('worst'), `negative words: ${words.negative}`);
  assert.equal(await page.locator('#words-pos li').count(), 20);

  // The benchmark: the diagnosis of the 10,000 validation reviews, again.
  const runs = [];
  for (let i = 0; i < 5; i++) {
    const before = await diag(page);
    await page.click('#btn-diagnose');
    await page.waitForFunction((w) => {
      const x = window.__playground.diagnosis;
      return x && !x.running && x.wallMs !== w;
    }, before.wallMs, { timeout: 60000 });
    runs.push(await diag(page));
  }
  const median = (k) => runs.map((r) => r[k]).sort((a, b) => a - b)[2];
  t.diagnostic(`benchmark: diagnosis of ${d.n} validation reviews in the worker: median of 5, ` +
    `${median('reviewsMs').toFixed(1)} ms scoring and summarising the reviews + ${median('wordsMs').toFixed(1)} ms rating ` +
    `${d.words ? '9,996' : 0} words (engine), ${median('wallMs').toFixed(1)} ms from request to reply; ` +
    `all runs (reviews ms): ${runs.map((r) => r.reviewsMs.toFixed(1)).join(' ')}`);
  console.log(`diagnosis benchmark: reviews ${median('reviewsMs').toFixed(1)} ms, words ${median('wordsMs').toFixed(1)} ms, wall ${median('wallMs').toFixed(1)} ms`);

  // The threshold, from the keyboard: the matrix and the hash follow.
  await page.focus('#threshold');
  for (let i = 0; i < 20; i++) await page.keyboard.press('ArrowRight');
  await page.waitForFunction(() => window.__playground.diagnosis.threshold >= 0.695, null, { timeout: 30000 });
  await page.waitForFunction(() => document.getElementById('threshold-value').textContent === '0.70');
  const m2 = await shownMatrix(page);
  assert.notDeepEqual(m2, m, 'moving the threshold changes the matrix');
  assert.equal(m2.tp + m2.fp + m2.tn + m2.fn, valSize);
  assert.ok(m2.tp + m2.fp < m.tp + m.fp, 'a higher threshold predicts fewer positives');
  assert.match(await pg(page, () => location.hash), /threshold=0\.70/);
  const rocDot = await pg(page, () => globalThis.Chart.getChart(document.getElementById('chart-roc')).data.datasets[2].data[0]);
  assert.ok(Math.abs(rocDot.x - m2.fp / (m2.fp + m2.tn)) < 1e-6, 'the ROC dot sits at the threshold\'s false-positive rate');

  // The most confident false positive opens in the review box.
  const firstFp = page.locator('#list-fp .review-item').first();
  await firstFp.locator('.open-review:not([disabled])').waitFor({ timeout: 60000 });
  const meta = await firstFp.locator('.review-meta').textContent();
  assert.match(meta, /actually negative/);
  const fpScore = Number(meta.match(/^([0-9.]+)/)[1]);
  assert.ok(fpScore > 0.7, `a false positive scores above the threshold: ${fpScore}`);
  assert.ok((await firstFp.locator('.word').count()) > 10, 'its words are coloured');
  await page.screenshot({ path: path.join(ARTIFACTS, 'diagnosis.png'), fullPage: true });
  await firstFp.locator('.open-review').click();
  await page.waitForFunction(() => {
    const p = window.__playground;
    return p.explain && p.explain.text === document.getElementById('review-text').value && !p.explainBusy;
  }, null, { timeout: 30000 });
  const boxed = await pg(page, () => window.__playground.explain);
  assert.ok(boxed.text.length > 50, 'the review is in the review box');
  assert.match(await page.textContent('#true-label'), /True label: negative/);
  assert.ok(Math.abs(boxed.score - fpScore) < 2e-3, `the review box scores it as listed: ${boxed.score} vs ${fpScore}`);
  assert.equal(await pg(page, () => document.activeElement.id), 'review-text', 'focus moves to the review box');

  // One click from the curves to the panel.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.click('#btn-to-diagnosis');
  await page.waitForFunction(() => Math.abs(document.getElementById('diagnosis').getBoundingClientRect().top) < 50);

  // An earlier epoch's weights, then the test reviews.
  const options = await page.locator('#diag_epoch option').allTextContents();
  assert.deepEqual(options.slice(1).map((o) => o.match(/^epoch (\d+)/)[1]), ['1', '2', '3'], `epoch choices: ${options}`);
  await page.selectOption('#diag_epoch', '1');
  await diagnosed(page, { epoch: 1 });
  assert.match(await page.textContent('#diag-status'), /epoch 1’s weights/);
  const e1 = await diag(page);
  assert.ok(Math.abs(e1.logLoss - history[0].val_loss) < 1e-4, `epoch 1's log loss ${e1.logLoss} is its val_loss ${history[0].val_loss}`);
  await page.selectOption('#diag_split', 'test');
  await diagnosed(page, { split: 'test' });
  assert.equal((await diag(page)).n, 25000);
  assert.match(await pg(page, () => location.hash), /diag_split=test/);
  assertClean(problems, 'diagnosis page');
  await page.close();
});

test('an uploaded file with two malformed lines reports those two line numbers; the rest is diagnosed', async () => {
  const { page, problems } = await openPage('#epochs=2&lr=0.01');
  await phaseIs(page, ['ready']);
  // Read before any training: the report does not need a model.
  const file = path.join(session.dataDir, 'my-reviews.tsv');
  await writeFile(file, [
    'pos\tA wonderful film, brilliant acting and a moving story.',
    'neg\tDull, boring and far too long. A waste of time.',
    'maybe\tI am not sure about this one.',
    '1\tI loved every minute, one of the best films of the year!',
    'this line has no tab at all',
    '0\tThe worst film I have seen: terrible acting and an awful plot.',
    '',
  ].join('\n'));
  await page.setInputFiles('#byo-file', file);
  await page.waitForSelector('#byo-report .byo-problems li');
  const lines = await page.locator('#byo-report .byo-problems li').evaluateAll((els) => els.map((el) => el.dataset.line));
  assert.deepEqual(lines, ['3', '5'], 'the two malformed lines are named');
  const report = await page.textContent('#byo-report');
  assert.match(report, /Read 4 labelled reviews \(2 positive, 2 negative\)/);
  assert.match(report, /2 malformed lines were left out/);
  assert.match(report, /line 3: the label "maybe" is not 0, 1, neg or pos/);
  assert.match(report, /line 5: there is no tab/);
  assert.equal(await page.getAttribute('#byo-report', 'role'), 'status');

  await page.click('#btn-train');
  await phaseIs(page, ['done'], 300000);
  await diagnosed(page, { split: 'text' }); // the labelled text is what it diagnoses now
  const d = await diag(page);
  assert.equal(d.n, 4);
  const m = await shownMatrix(page);
  assert.equal(m.tp + m.fp + m.tn + m.fn, 4);
  assert.equal(await page.inputValue('#diag_split'), 'text');
  // A listed text opens with its line number.
  const item = page.locator('#diagnosis .review-item .open-review:not([disabled])').first();
  await item.waitFor({ timeout: 60000 });
  await item.click();
  await page.waitForFunction(() => /line \d/.test(document.getElementById('true-label').textContent));

  // Pasted CSV, cut inside a quote: the line where the quote opened.
  await page.fill('#byo-text', 'label,text\n1,"Great, ""really"" great"\n0,Bad film\n1,"never closed');
  await page.click('#btn-byo');
  await page.waitForFunction(() => /Read 2 labelled/.test(document.getElementById('byo-report').textContent));
  assert.deepEqual(await page.locator('#byo-report .byo-problems li').evaluateAll((els) => els.map((el) => el.dataset.line)), ['4']);
  assert.match(await page.textContent('#byo-report'), /never closed/);
  assertClean(problems, 'labelled text page');
  await page.close();
});

test('stop words: the English list is removed in training and in the review box, and never listed', async () => {
  const { page, problems } = await openPage('#epochs=2&lr=0.01');
  await phaseIs(page, ['ready']);
  await page.selectOption('#stopwords-mode', 'english');
  await page.waitForFunction(() => window.__playground.settings.stopwords === '@english');
  assert.match(await pg(page, () => location.hash), /stopwords=%40english/);
  assert.ok((await page.inputValue('#stopwords-list')).split(' ').length === 179, 'the list shows the 179 words');
  assert.match(await page.textContent('#stopwords-hint'), /179 words removed/);
  await page.click('#btn-train');
  await phaseIs(page, ['done'], 300000);
  assert.equal((await pg(page, () => window.__playground.config)).stopwords, '@english', 'the engine trained with the list');
  await diagnosed(page, { split: 'val' });
  const d = await diag(page);
  const listed = [...d.words.positive, ...d.words.negative];
  assert.ok(!listed.some((w) => STOP_WORDS.includes(w)), `no stop word among the listed words: ${listed}`);
  await page.fill('#review-text', 'The film was not good, and the acting is awful.');
  await page.waitForFunction(() => document.querySelectorAll('#words .word.stop').length > 0, null, { timeout: 30000 });
  const stopped = await page.locator('#words .word.stop').allTextContents();
  assert.deepEqual(stopped.map((w) => w.toLowerCase()), ['the', 'was', 'not', 'and', 'the', 'is'], `greyed: ${stopped}`);

  // Edited: "not" goes back in; the link keeps the edit, shortly.
  await page.fill('#stopwords-list', (await page.inputValue('#stopwords-list')).replace(/(^| )not( |$)/, ' '));
  await page.dispatchEvent('#stopwords-list', 'change');
  await page.waitForFunction(() => window.__playground.settings.stopwords === '@english -not');
  assert.equal(await page.inputValue('#stopwords-mode'), 'custom');
  await page.click('#btn-defaults');
  assert.equal(await pg(page, () => window.__playground.settings.stopwords), '');
  assert.equal(await page.inputValue('#stopwords-mode'), 'none');
  assertClean(problems, 'stop-word page');
  await page.close();
});

test('the diagnosis works at 375 px and from the keyboard', async () => {
  const { page, problems } = await openPage('#epochs=1', { viewport: { width: 375, height: 812 } });
  await phaseIs(page, ['ready']);
  await page.click('#btn-train');
  await phaseIs(page, ['done'], 300000);
  await diagnosed(page, { split: 'val' });
  await page.locator('#list-fn .open-review:not([disabled])').first().waitFor({ timeout: 60000 });
  // The panel is laid out and its charts sized when it comes into view
  // (content-visibility: auto; style.css): look at it as a reader would.
  await page.evaluate(() => document.querySelector('#diagnosis .charts, #diagnosis canvas').scrollIntoView());
  await page.waitForFunction(() => [...document.querySelectorAll('#diagnosis canvas')].every((c) => c.getBoundingClientRect().width > 0), null, { timeout: 10000 }).catch(() => {});
  const layout = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    canvases: [...document.querySelectorAll('#diagnosis canvas')].map((c) => c.getBoundingClientRect().width),
    tables: [...document.querySelectorAll('#diagnosis table')].map((el) => el.getBoundingClientRect().right),
  }));
  assert.ok(layout.scrollWidth <= 375, `no horizontal scroll (scrollWidth ${layout.scrollWidth})`);
  for (const w of layout.canvases) assert.ok(w > 250 && w <= 375, `diagnosis chart width ${w} fits the phone`);
  for (const r of layout.tables) assert.ok(r <= 375, `table ends at ${r}`);
  await (await page.$('#diagnosis')).screenshot({ path: path.join(ARTIFACTS, 'diagnosis-375.png') });

  // Keyboard: Tab reaches Diagnose, Enter runs it; arrows move the threshold.
  const before = (await diag(page)).wallMs;
  await page.focus('#diag_epoch');
  await page.keyboard.press('Tab');
  assert.equal(await pg(page, () => document.activeElement.id), 'btn-diagnose');
  await page.keyboard.press('Enter');
  await page.waitForFunction((w) => window.__playground.diagnosis.wallMs !== w && !window.__playground.diagnosis.running, before);
  await page.keyboard.press('Tab');
  assert.equal(await pg(page, () => document.activeElement.id), 'threshold');
  await page.keyboard.press('ArrowLeft');
  await page.waitForFunction(() => window.__playground.diagnosis.threshold === 0.49);
  const outline = await pg(page, () => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, 'none', 'focus is visible');
  assertClean(problems, '375 px diagnosis');
  await page.close();
});
