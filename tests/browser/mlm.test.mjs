// mlm.test.mjs: the Transformer's pretraining panel (web/views/mlm.js) in
// headless Chromium: the recipe transformer-pretrained is refused without an
// encoder (never trained from scratch under that name); a tiny encoder
// pretrained on a subset through the panel with its progress, masked-word
// loss and live chart (mlm-chart.js: cleared by a new pretraining, held by
// a pause); fill in the blank answers ten words; the encoder saved as a file
// and loaded back answers the same; and one Train press with "compare" trains
// the same model from scratch (dashed on the charts), then from the encoder,
// which learns a different first epoch with the same seed.
//
//   node --test --test-concurrency=1 tests/browser/mlm.test.mjs
//
// Through the shared harness (harness.mjs), with data/imdb-unsup.shard served
// beside the shard (the pretraining reads the unlabelled reviews too).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { readFile, realpath, symlink } from 'node:fs/promises';
import { ARTIFACTS, ROOT, startSession, pg, phaseIs, assertClean, trainAndWatch } from './harness.mjs';

const UNSUP = path.join(ROOT, 'data', 'imdb-unsup.shard');
let session;

before(async () => {
  session = await startSession('mlm', { acceptDownloads: true });
  await symlink(await realpath(UNSUP), path.join(session.dataDir, 'imdb-unsup.shard'));
});

after(async () => {
  await session?.close();
});

// A tiny Transformer by link, one epoch (transformer.test.mjs's, shorter).
const SMALL = {
  model: 'transformer', maxlen: 64, embed_dim: 16, heads: 2, blocks: 1, ff_dim: 32, dropout: 0.1, padding: 'post',
  truncating: 'pre', batch_size: 32, epochs: 1, train_size: 1024, val_size: 256, lr: 0.002, warmup_steps: 8, mlm_lr: 0.002,
  mlm_warmup_steps: 8,
  weight_decay: 0.01, patience: 0, seed: 5,
};
const HASH = '#' + new URLSearchParams(Object.entries(SMALL).map(([k, v]) => [k, String(v)])).toString();
const mlm = (page) => pg(page, () => window.__playground.mlm);

test('the pretrained Transformer recipe without an encoder: Train refuses and says what to do', async () => {
  const { page, problems } = await session.openPage('');
  await phaseIs(page, ['ready'], 120000);
  assert.ok(await page.isHidden('#mlm-panel'), 'no pretraining panel for the bag model');
  await page.selectOption('#preset', 'transformer-pretrained');
  assert.equal(await page.inputValue('#preset'), 'transformer-pretrained', 'the recipe is in the menu');
  assert.ok(await page.isVisible('#mlm-panel'), 'the pretraining panel shows for a transformer');
  await page.click('#btn-train');
  await page.waitForFunction(() => window.__playground.errors.some((e) => /pretrain the encoder first, or load an encoder file/.test(e)), null, { timeout: 10000, polling: 50 });
  await phaseIs(page, ['ready', 'stopped'], 10000); // 'stopped': the page holds its untrained model
  assert.equal(await pg(page, () => window.__playground.history.length), 0, 'nothing was trained');
  assertClean(problems, 'refusal');
  await page.close();
});

test('a tiny encoder pretrained in the panel fills in the blank, saves and loads, and a Transformer trains from it', async (t) => {
  const { page, problems } = await session.openPage(HASH);
  await phaseIs(page, ['ready'], 120000);
  assert.ok(await page.isVisible('#mlm-panel'), 'the pretraining panel shows for a transformer');
  assert.equal((await mlm(page)).encoder, false);

  // Pretrain on 512 reviews through the panel.
  await page.fill('#mlm-reviews', '512');
  await page.click('#mlm-start');
  await page.waitForFunction(() => ['ready', 'failed'].includes(window.__playground.mlm.state), null, { timeout: 120000, polling: 50 });
  const done = await mlm(page);
  assert.equal(done.state, 'ready', `pretraining finished (${done.status})`);
  assert.equal(done.progress.fraction, 1, 'the last progress event says 100%');
  assert.equal(done.progress.reviews, 512, 'over the 512 reviews asked for');
  assert.ok(Number.isFinite(done.progress.loss) && done.progress.loss > 0, `a masked-word loss (${done.progress.loss})`);
  assert.match(done.metrics, /loss \d+\.\d{3}, guessed right \d+\.\d%/, 'the panel shows the loss and accuracy');
  assert.match(done.status, /Encoder pretrained: 512 reviews/, 'and says it is done');
  assert.equal(await page.getAttribute('#mlm-progress', 'value'), '1');
  // The chart: a point per progress event, the last at 512 reviews, its
  // text summary in the canvas's label.
  const curve = done.chart;
  assert.ok(curve.loss.length >= 1 && curve.loss.length === curve.acc.length, `loss and accuracy points (${curve.loss.length})`);
  assert.equal(curve.loss.at(-1).x, 512, 'the last point is at the last review');
  assert.equal(curve.loss.at(-1).y, done.progress.loss, 'the last point is the last event\'s loss');
  await page.waitForFunction(() => /loss \d+\.\d\d at [\d,]+ reviews to \d+\.\d\d at 512; guessed right/.test(document.getElementById('mlm-chart').getAttribute('aria-label')), null, { timeout: 5000, polling: 50 });

  // Fill in the blank: ten words with their probabilities.
  await page.waitForFunction(() => window.__playground.mlm.words?.length === 10, null, { timeout: 20000, polling: 50 });
  const { words } = await mlm(page);
  const sum = words.reduce((s, w) => s + w.p, 0);
  t.diagnostic(`512 reviews: loss ${done.progress.loss.toFixed(3)}; "this movie was [MASK] ." -> ${words.map((w) => `${w.word} ${w.p.toFixed(3)}`).join(', ')}`);
  assert.ok(words.every((w) => typeof w.word === 'string' && w.word.length > 0 && w.p > 0), 'ten words with probabilities');
  assert.ok(sum <= 1 + 1e-6, `their probabilities sum to at most 1 (${sum})`);
  assert.equal(await page.locator('#mlm-words li').count(), 10, 'ten words drawn');
  await page.fill('#mlm-blank', 'no mask here');
  await page.waitForFunction(() => window.__playground.mlm.fillText === 'no mask here', null, { timeout: 10000, polling: 50 });
  assert.ok((await mlm(page)).fillError.length > 0, 'a sentence without [MASK] gets a message, not words');
  await page.fill('#mlm-blank', 'this movie was [MASK] .');
  await page.waitForFunction(() => window.__playground.mlm.fillText === 'this movie was [MASK] .' && window.__playground.mlm.words?.length === 10, null, { timeout: 10000, polling: 50 });

  // Save the encoder, then load the file back: the same answers.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#mlm-save')]);
  const file = path.join(ARTIFACTS, 'mlm-encoder.nnenc');
  await download.saveAs(file);
  const bytes = await readFile(file);
  assert.ok(bytes.length > 1000, `the encoder file has its weights (${bytes.length} bytes)`);
  await page.setInputFiles('#mlm-file', file);
  await page.waitForFunction(() => window.__playground.mlm.origin === 'loaded', null, { timeout: 20000, polling: 50 });
  assert.equal((await mlm(page)).chart.loss.length, 0, 'a loaded encoder file empties the chart (its curves were another encoder\'s)');
  await page.waitForFunction((before) => {
    const w = window.__playground.mlm.words;
    return w?.length === 10 && w.every((x, i) => x.word === before[i].word && Math.abs(x.p - before[i].p) < 1e-6);
  }, words, { timeout: 10000, polling: 50 });

  // The model started from the encoder, compared (the default, as with
  // word2vec): one Train press trains the same config from scratch first,
  // its curves left dashed, then from the encoder.
  await page.check('#mlm-use');
  assert.ok(await page.isVisible('#compare') && await page.isChecked('#compare'), 'compare shows for a transformer, on by default');
  await trainAndWatch(page, 5 * 60 * 1000);
  const pretrained = (await pg(page, () => window.__playground.history))[0];
  const scratch = (await pg(page, () => window.__playground.reference)).history[0];
  t.diagnostic(`first epoch from scratch loss ${scratch.loss.toFixed(4)} val_acc ${scratch.val_acc.toFixed(4)}; from the encoder loss ${pretrained.loss.toFixed(4)} val_acc ${pretrained.val_acc.toFixed(4)}`);
  assert.ok(Math.abs(pretrained.loss - scratch.loss) > 1e-6, 'the first epoch differs from the from-scratch run with the same seed');
  const charts = await pg(page, () => window.__playground.charts());
  for (const name of ['loss', 'acc']) {
    assert.equal(charts[name].val.length, 1, `${name}: the encoder's run's validation point`);
    assert.equal(charts.reference[name].val.length, 1, `${name}: the from-scratch run's validation point`);
  }
  assert.ok(charts.labels.includes('from the encoder: validation') && charts.labels.includes('from scratch: validation'), charts.labels.join(', '));
  assert.ok(charts.dashed.includes('from scratch: validation') && !charts.dashed.includes('from the encoder: validation'), `dashed: ${charts.dashed.join(', ')}`);
  assert.match(await page.textContent('#status'), /pretrained at epoch|pretrained not within/, 'the status compares the two');
  assert.match(await page.textContent('#status'), /from scratch/);
  const runs = (await pg(page, () => window.__playground.runs())).slice(0, 2).map((r) => `${r.recipe} ${r.status}`);
  assert.deepEqual(runs, ['custom (from the encoder) done', 'custom (from scratch) done'], 'the Runs store names each stage');

  // A longer pretraining: fill in the blank answers while it runs; pause
  // holds it, resume goes on, stop keeps the encoder.
  // Its chart grows while it runs (loading the file above emptied it).
  await page.fill('#mlm-reviews', '20000');
  await page.click('#mlm-start');
  await page.waitForFunction(() => window.__playground.mlm.liveFills >= 1 && window.__playground.mlm.progress?.reviews > 0, null, { timeout: 60000, polling: 50 });
  await page.waitForFunction(() => window.__playground.mlm.chart.loss.length >= 2 && window.__playground.mlm.state === 'running', null, { timeout: 60000, polling: 50 });
  await page.click('#mlm-pause');
  await page.waitForFunction(() => window.__playground.mlm.state === 'paused', null, { timeout: 10000, polling: 50 });
  assert.equal(await page.textContent('#mlm-pause'), 'Resume');
  const paused = await mlm(page);
  const held = paused.progress.reviews;
  const xs = paused.chart.loss.map((p) => p.x);
  assert.ok(xs.every((x, i) => i === 0 || x > xs[i - 1]), `x only grows (${xs.join(', ')})`);
  assert.ok(xs.at(-1) <= held && xs.at(-1) < 20000, 'points while it runs, up to the reviews done');
  await page.waitForTimeout(600);
  const still = await mlm(page);
  assert.equal(still.progress.reviews, held, 'paused: no reviews go by');
  assert.equal(still.chart.loss.length, xs.length, 'paused: the chart keeps its points and adds none');
  await page.click('#mlm-pause');
  await page.waitForFunction((n) => window.__playground.mlm.progress.reviews > n && window.__playground.mlm.chart.loss.length > 0, held, { timeout: 30000, polling: 50 });
  assert.match((await mlm(page)).status, /Pretraining: \d+% · [\d,]+ of 20,000 reviews/, 'the status gives the reviews done');
  await page.click('#mlm-stop');
  await page.waitForFunction(() => window.__playground.mlm.origin === 'stopped', null, { timeout: 10000, polling: 50 });
  assert.ok((await mlm(page)).chart.loss.length > xs.length, 'stopped: the chart keeps the run\'s points');
  await page.fill('#mlm-blank', 'a [MASK] film');
  await page.waitForFunction(() => window.__playground.mlm.fillText === 'a [MASK] film' && window.__playground.mlm.words?.length === 10, null, { timeout: 10000, polling: 50 });
  await page.locator('#mlm-panel').screenshot({ path: path.join(ARTIFACTS, 'mlm-panel.png') });

  // Pretrain again (64 reviews): the stopped run's points go, the new run's come.
  await page.fill('#mlm-reviews', '64');
  await page.click('#mlm-start');
  await page.waitForFunction(() => ['ready', 'failed'].includes(window.__playground.mlm.state) && window.__playground.mlm.origin === 'pretrained', null, { timeout: 60000, polling: 50 });
  const again = (await mlm(page)).chart.loss.map((p) => p.x);
  assert.ok(again.length >= 1 && again.at(-1) === 64 && again.every((x, i) => x <= 64 && (i === 0 || x > again[i - 1])), `a new pretraining starts the chart again: ${again.join(', ')}`);
  assertClean(problems, 'pretraining panel');
  await page.close();
});
