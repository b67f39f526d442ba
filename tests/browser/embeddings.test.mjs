// embeddings.test.mjs: "What the model learned about words", end to end, in a
// real headless Chromium (the same setup as page.test.mjs: scripts/serve.mjs
// on a free port, playwright-core driving /usr/bin/chromium, any console
// error or page exception fails the test).
//
//   node --test --test-concurrency=1 tests/browser/
//   SKIP_FULL_RECIPE=1 ...   skips the 40-epoch test
//
// The 40-epoch test is the issue's: train the Keras recipe, scrub the map to
// epoch 1, the best epoch and epoch 40 (screenshots in test-artifacts/), and
// check what the map and the statistics show. It reads the page through
// window.__playground (read-only copies) and drives it only through its
// controls. No timing assertions.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ARTIFACTS, startSession, pg, phaseIs, assertClean } from './harness.mjs';

const CLEARLY_POSITIVE = new Set([
  'excellent', 'great', 'wonderful', 'wonderfully', 'superb', 'superbly', 'outstanding', 'perfect', 'perfectly',
  'brilliant', 'brilliantly', 'amazing', 'best', 'beautiful', 'beautifully', 'fantastic', 'masterpiece', 'gem',
  'loved', 'love', 'enjoyed', 'enjoyable', 'favorite', 'favourite', 'terrific', 'delightful', 'magnificent',
  'stunning', 'excellently', 'remarkable', 'finest', 'marvelous', 'marvellous', 'fabulous', 'incredible', 'awesome',
  'touching', 'moving', 'powerful', 'flawless', 'refreshing', 'highly', 'beauty', 'superior', 'splendid', 'lovely',
  'memorable', 'impressive', 'charming', 'heartwarming', 'recommended', 'recommend', 'gripping', 'captivating',
]);

let session;
// The form shows the link's settings once the engine's config schema is
// known (web/state.js builds the engine's keys from it): wait for that.
async function openPage(...args) {
  const opened = await session.openPage(...args);
  await opened.page.waitForFunction(() => window.__playground && window.__playground.phase !== 'starting', null, { timeout: 60000 });
  return opened;
}

const embed = (page) => pg(page, () => window.__playground.embeddings());

// Waits until the map shows `epoch` and nothing is pending.
async function mapShows(page, epoch) {
  await page.waitForFunction(
    (e) => {
      const s = window.__playground.embeddings();
      return s && s.shownEpoch === e && !s.busy && s.points.length > 0 && s.neighbours && s.neighbours.epoch === e;
    },
    epoch,
    { timeout: 60000, polling: 50 },
  );
  return embed(page);
}

// Trains with the page's Train button until the run and the word panel are done.
async function train(page) {
  await phaseIs(page, ['ready'], 120000);
  await page.click('#btn-train');
  await phaseIs(page, ['done'], 30 * 60 * 1000);
  await page.waitForFunction(() => window.__playground.test !== null, null, { timeout: 120000 });
  await page.waitForFunction(
    () => {
      const s = window.__playground.embeddings();
      return s && s.info && s.epochs.length > 0 && s.points.length > 0 && !s.busy && s.memorised;
    },
    null,
    { timeout: 120000, polling: 100 },
  );
}

function spread(points) {
  return points.reduce((s, p) => s + Math.hypot(p.x, p.y), 0) / points.length;
}

function maxMove(a, b) {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.hypot(a[i].x - b[i].x, a[i].y - b[i].y));
  return m;
}

before(async () => {
  session = await startSession('embed', { acceptDownloads: true });
});

after(async () => {
  await session?.close();
});

test(
  'the full recipe (40 epochs): the map moves from epoch 1 to the best to the last, rare words grow after the best epoch, memorised words are listed, and "excellent" sits among positive words',
  { skip: process.env.SKIP_FULL_RECIPE ? 'SKIP_FULL_RECIPE is set' : false, timeout: 30 * 60 * 1000 },
  async (t) => {
    const { page, problems } = await openPage('');
    await train(page);
    const s = await embed(page);
    assert.equal(s.epochs.length, 40, 'a snapshot of every epoch is kept');
    assert.equal(s.lastEpoch, 40);
    const best = s.bestEpoch;
    assert.ok(best > 1 && best < 40, `the lowest validation loss is between the first and last epochs (${best})`);
    t.diagnostic(`best epoch ${best}; snapshots ${s.info.snapshot_bytes} bytes (${s.info.bytes_per_snapshot} each)`);
    const panel = page.locator('section.embeddings');

    // Epoch 1, with the slider from the keyboard (Home: its first value).
    await page.focus('#map_epoch');
    await page.keyboard.press('Home');
    const at1 = await mapShows(page, 1);
    assert.equal(await page.inputValue('#map_epoch'), '1');
    assert.match(await page.textContent('#embed-epoch-text'), /^1\b/);
    await panel.screenshot({ path: path.join(ARTIFACTS, 'embeddings-epoch-1.png') });

    // The best epoch, with its button.
    await page.click('#embed-best');
    const atBest = await mapShows(page, best);
    assert.match(await page.textContent('#embed-epoch-text'), /lowest validation loss/);
    await panel.screenshot({ path: path.join(ARTIFACTS, `embeddings-epoch-${best}-best.png`) });

    // The last epoch, with the slider (End).
    await page.focus('#map_epoch');
    await page.keyboard.press('End');
    const at40 = await mapShows(page, 40);
    await panel.screenshot({ path: path.join(ARTIFACTS, 'embeddings-epoch-40.png') });

    // The map changes: words spread out as they learn, and keep moving after the best epoch.
    const [s1, sb, s40] = [spread(at1.points), spread(atBest.points), spread(at40.points)];
    t.diagnostic(`map spread: epoch 1 ${s1.toFixed(3)}, best ${sb.toFixed(3)}, 40 ${s40.toFixed(3)}; ` +
      `largest move best->40 ${maxMove(atBest.points, at40.points).toFixed(3)}`);
    assert.equal(at1.points.length, 1000);
    assert.ok(sb > 2 * s1, `the words spread out from epoch 1 to the best epoch (${s1} -> ${sb})`);
    assert.ok(maxMove(at1.points, atBest.points) > 0.5, 'points move between epoch 1 and the best epoch');
    assert.ok(maxMove(atBest.points, at40.points) > 0.05, 'points move between the best and the last epoch');
    const wordsAt = (snap, w) => snap.points.find((p) => p.word === w);
    assert.ok(wordsAt(atBest, 'excellent').x > 0 && wordsAt(atBest, 'worst').x < 0, 'positive words right, negative left');

    // The rare-word statistics rise after the best epoch.
    const stat = (e) => s.stats.find((x) => x.epoch === e);
    const b = stat(best), l = stat(40);
    t.diagnostic(`rare words (${b.rareWords}): mean norm ${b.rareNorm.toFixed(4)} -> ${l.rareNorm.toFixed(4)}, ` +
      `share of effect ${b.rareShare.toFixed(4)} -> ${l.rareShare.toFixed(4)}; frequent (${b.frequentWords}) ` +
      `${b.frequentNorm.toFixed(4)} -> ${l.frequentNorm.toFixed(4)}`);
    assert.ok(l.rareNorm > b.rareNorm, 'rare words\' mean norm rises after the best epoch');
    assert.ok(l.rareShare > b.rareShare, 'the share of effect carried by rare words rises after the best epoch');
    assert.match(await page.textContent('#embed-summary'), new RegExp(`best epoch \\(${best}\\) to the last \\(40\\)`));

    // The memorised words: rare words whose effect changed most after the best epoch.
    const memo = s.memorised;
    assert.equal(memo.from, best);
    assert.equal(memo.to, 40);
    assert.ok(memo.words.length > 0, 'the memorised-words list is not empty');
    assert.ok(memo.words.every((w) => w.count >= 1 && w.count < 20), 'only rare words (seen 1-19 times)');
    assert.equal(await page.locator('#embed-memo-body tr').count(), memo.words.length);
    t.diagnostic(`memorised: ${memo.words.map((w) => `${w.word} (${w.count}, ${w.before.toFixed(3)} -> ${w.after.toFixed(3)})`).join(', ')}`);

    // Nearest neighbours of "excellent" at the best epoch.
    await page.click('#embed-best');
    const nb = (await mapShows(page, best)).neighbours;
    assert.equal(nb.word, 'excellent');
    const words = nb.neighbours.map((n) => n.word);
    const positive = words.filter((w) => CLEARLY_POSITIVE.has(w));
    t.diagnostic(`neighbours of excellent at epoch ${best}: ${words.join(', ')}`);
    assert.equal(words.length, 10);
    assert.ok(positive.length >= 3, `at least 3 clearly positive neighbours: ${positive.join(', ')}`);
    assert.equal(await page.locator('#embed-neighbours li').count(), 10);

    // Clicking the loss chart moves the map to that epoch and marks it.
    await page.locator('#chart-loss').scrollIntoViewIfNeeded();
    const box = await page.locator('#chart-loss').boundingBox();
    await page.mouse.click(box.x + box.width * 0.3, box.y + box.height * 0.5);
    await page.waitForFunction((b) => {
      const e = window.__playground.embeddings();
      return e.shownEpoch !== b && !e.busy;
    }, best, { timeout: 30000 });
    const picked = (await embed(page)).shownEpoch;
    const marks = (await pg(page, () => window.__playground.charts())).marks;
    assert.ok(picked > 1 && picked < 40, `a click picked epoch ${picked}`);
    assert.ok(marks.some((m) => m.x === picked && /map/.test(m.label)), 'the curves mark the epoch shown');
    assert.match(await pg(page, () => location.hash), new RegExp(`map_epoch=${picked}`), 'the epoch is in the link');

    assertClean(problems, 'full recipe, word map');
    await page.close();
  },
);

test('early stopping: marked on the curves, and the run without it drawn dashed for comparison', { timeout: 10 * 60 * 1000 }, async (t) => {
  // lr 0.01 overfits within a few epochs, so patience 2 stops well before 15.
  const { page, problems } = await openPage('#epochs=15&lr=0.01&patience=2&restore_best_weights=true&full_run=true');
  assert.equal(await page.inputValue('#patience'), '2');
  assert.ok(await page.isChecked('#full_run'));
  await train(page);
  const s = await embed(page);
  assert.ok(s.stoppedEarly, 'the run stopped early');
  const history = await pg(page, () => window.__playground.history);
  assert.equal(s.stopEpoch, history.length);
  assert.ok(history.length < 15);
  assert.equal(s.lastEpoch, s.stopEpoch, 'the stop epoch has its own snapshot (taken before the weights were restored)');
  const marks = (await pg(page, () => window.__playground.charts())).marks;
  assert.ok(marks.some((m) => m.x === s.stopEpoch && /early stopping/.test(m.label)), 'the stop is marked');

  await page.waitForFunction(() => {
    const e = window.__playground.embeddings();
    return e.full && !e.full.running && e.full.test;
  }, null, { timeout: 5 * 60 * 1000 });
  const charts = await pg(page, () => window.__playground.charts());
  assert.ok(charts.comparison.shown);
  assert.equal(charts.comparison.loss.val.length, 15, 'the run without early stopping has all 15 epochs');
  for (let i = 0; i < history.length; i++)
    assert.ok(Math.abs(charts.comparison.loss.val[i].y - history[i].val_loss) < 1e-6, `same epoch ${i + 1} in both runs`);
  const note = await page.textContent('#embed-full-note');
  t.diagnostic(note);
  assert.match(note, /ended this run after epoch \d+ and restored the weights of epoch \d+; test accuracy [\d.]+%\. Without it \(dashed\): 15 epochs, test accuracy [\d.]+%/);
  await page.locator('section[aria-labelledby="progress-heading"]').screenshot({ path: path.join(ARTIFACTS, 'embeddings-early-stopping.png') });

  await page.click('#full_run');
  await page.waitForFunction(() => !window.__playground.charts().comparison.shown);
  assert.doesNotMatch(await pg(page, () => location.hash), /full_run=true/);
  assertClean(problems, 'early stopping');
  await page.close();
});

test('the word panel at 375 px, from the keyboard, with a highlighted word and the Projector export', { timeout: 10 * 60 * 1000 }, async () => {
  const { page, problems } = await openPage('#epochs=3&lr=0.01&map_words=300&highlight=great', { viewport: { width: 375, height: 812 } });
  await train(page);
  const layout = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    map: document.getElementById('embed-map').getBoundingClientRect().width,
    stats: document.getElementById('embed-stats').getBoundingClientRect().width,
  }));
  assert.ok(layout.scrollWidth <= 375, `no horizontal scroll (scrollWidth ${layout.scrollWidth})`);
  assert.ok(layout.map > 250 && layout.map <= 375 && layout.stats > 250, `charts fit: ${JSON.stringify(layout)}`);
  assert.match(await page.textContent('#embed-highlight-note'), /“great” is circled/);
  await page.fill('#highlight', 'zzzzqqq');
  await page.waitForFunction(() => /not among the 300 words/.test(document.getElementById('embed-highlight-note').textContent));

  // Keyboard: the slider moves one epoch per arrow key.
  await page.focus('#map_epoch');
  await page.keyboard.press('Home');
  await mapShows(page, 1);
  await page.keyboard.press('ArrowRight');
  await mapShows(page, 2);
  assert.equal(await page.getAttribute('#map_epoch', 'aria-valuetext'), 'epoch 2');

  // Neighbours of a word the model lacks say so.
  await page.fill('#neighbours_of', 'qwertyuiopasdf');
  await page.waitForFunction(() => /not among the model's words/.test(document.getElementById('embed-neighbours-note').textContent));
  await page.screenshot({ path: path.join(ARTIFACTS, 'embeddings-375.png'), fullPage: true });

  // The two Embedding Projector files.
  const downloads = [];
  page.on('download', (d) => downloads.push(d));
  await page.click('#embed-export');
  await page.waitForFunction(() => true);
  for (let i = 0; i < 100 && downloads.length < 2; i++) await page.waitForTimeout(50);
  assert.deepEqual(downloads.map((d) => d.suggestedFilename()).sort(), ['metadata-epoch2.tsv', 'vectors-epoch2.tsv']);
  const files = await Promise.all(downloads.map(async (d) => [d.suggestedFilename(), await readFile(await d.path(), 'utf8')]));
  const byName = Object.fromEntries(files);
  const vectors = byName['vectors-epoch2.tsv'].trimEnd().split('\n');
  const meta = byName['metadata-epoch2.tsv'].trimEnd().split('\n');
  assert.equal(vectors.length, 10000 - 4);
  assert.equal(meta.length, vectors.length + 1);
  assert.equal(vectors[0].split('\t').length, 16);
  assert.match(meta[1], /^the\t\d+\t-?\d/);
  assertClean(problems, '375 px word panel');
  await page.close();
});
