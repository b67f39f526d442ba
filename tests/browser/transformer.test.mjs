// transformer.test.mjs: the Transformer (model "transformer",
// engine/transformer.c) in the page, in headless Chromium: its recipe in the
// menu with its settings, a small one chosen by a link, trained 2 epochs
// with live curves and the same history as the native trainer's (the same
// engine compiled to wasm) within 1e-4, the review box's colours, and the
// attention view: the words drawn with the weights the engine returns for
// the clicked word, the pooled row, the heads' average, and new weights
// after training.
//
//   node --test --test-concurrency=1 tests/browser/transformer.test.mjs
//
// Through the shared harness (harness.mjs). Needs build/imdb_train
// (scripts/setup.sh) for the native history.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  ARTIFACTS, POSITIVE_REVIEW, startSession, pg, phaseIs, typeReview, assertClean, trainAndWatch, nativeHistory, historyDifference,
} from './harness.mjs';

let session;

before(async () => {
  session = await startSession('transformer');
});

after(async () => {
  await session?.close();
});

const TRANSFORMER_IDS = ['heads', 'blocks', 'ff_dim', 'warmup_steps', 'weight_decay', 'alibi', 'positions', 'mlm_lr', 'mlm_warmup_steps'];
const controlValue = async (page, id) =>
  (await page.locator(`#${id}`).getAttribute('type')) === 'checkbox' ? String(await page.isChecked(`#${id}`)) : page.inputValue(`#${id}`);

test('the Transformer recipe sets its controls and the link, and its hint says what it is and costs', async () => {
  const { page, problems } = await session.openPage('');
  await phaseIs(page, ['ready'], 120000);
  assert.ok(await page.isHidden('#attention'), 'no attention view for the bag model');
  for (const id of TRANSFORMER_IDS) assert.ok(await page.isDisabled(`#${id}`), `${id} is disabled for the bag model`);
  await page.selectOption('#preset', 'tutorial-transformer');
  const want = { model: 'transformer', maxlen: '200', embed_dim: '32', heads: '2', blocks: '1', ff_dim: '64', warmup_steps: '200', weight_decay: '0.01', alibi: 'false', batch_size: '32', patience: '1', restore_best_weights: 'true' };
  for (const [id, v] of Object.entries(want)) assert.equal(await controlValue(page, id), v, `${id} set by the Transformer preset`);
  for (const id of [...TRANSFORMER_IDS, 'dropout']) assert.ok(await page.isEnabled(`#${id}`), `${id} is enabled for it`);
  for (const id of ['hidden', 'layers', 'recurrent_dropout', 'pooling']) assert.ok(await page.isDisabled(`#${id}`), `${id} does nothing for it and is disabled`);
  const hash = await pg(page, () => location.hash);
  for (const kv of ['model=transformer', 'heads=2', 'blocks=1', 'ff_dim=64', 'warmup_steps=200', 'weight_decay=0.01']) assert.ok(hash.includes(kv), `the link has ${kv}`);
  const hint = await page.textContent('#preset-hint');
  assert.match(hint, /0\.8742/, 'the hint gives its test accuracy');
  assert.match(hint, /epoch/, 'and what an epoch costs');
  // The engine's range is the form's.
  assert.equal(await page.getAttribute('#blocks', 'max'), '4');
  assert.equal(await page.getAttribute('#heads', 'max'), '64');
  // The pretrained recipe: a wider encoder with ALiBi, and pretraining's own
  // rate, warm-up and sinusoid positions.
  await page.selectOption('#preset', 'transformer-pretrained');
  const pre = { embed_dim: '64', heads: '4', ff_dim: '128', alibi: 'true', positions: 'sinusoid', mlm_lr: '0.003', mlm_warmup_steps: '500', lr: '0.001', warmup_steps: '200', epochs: '2' };
  for (const [id, v] of Object.entries(pre)) assert.equal(await controlValue(page, id), v, `${id} set by the pretrained Transformer preset`);
  const preHash = await pg(page, () => location.hash);
  for (const kv of ['positions=sinusoid', 'mlm_lr=0.003', 'mlm_warmup_steps=500']) assert.ok(preHash.includes(kv), `the link has ${kv}`);
  assertClean(problems, 'Transformer recipe');
  await page.close();
});

// A small Transformer by link: the keys the link does not give keep the
// engine's defaults (the page's restore_best_weights too does nothing with
// patience 0), so imdb_train gets the same keys. With ALiBi's distance
// penalty (the page's checkbox, set by the link) and sinusoid positions
// (its menu), so those paths are the native ones too.
const SMALL = {
  model: 'transformer', maxlen: 64, embed_dim: 16, heads: 2, blocks: 1, ff_dim: 32, dropout: 0.1, padding: 'post',
  truncating: 'pre', batch_size: 32, epochs: 2, train_size: 1024, val_size: 256, lr: 0.002, warmup_steps: 8,
  weight_decay: 0.01, alibi: true, positions: 'sinusoid', patience: 0, seed: 5,
};
const HASH = '#' + new URLSearchParams(Object.entries(SMALL).map(([k, v]) => [k, String(v)])).toString();

// The (W, W) matrix of block l, head h of an attention answer.
const matrixOf = (a, l, h) => Array.from(a.weights).slice((l * a.heads + h) * a.positions ** 2, (l * a.heads + h + 1) * a.positions ** 2);

test('a small Transformer by link trains 2 epochs like the native trainer, and its attention view draws the engine\'s weights, live', async (t) => {
  const { page, problems } = await session.openPage(HASH);
  await phaseIs(page, ['ready'], 120000);
  assert.equal(await page.inputValue('#model'), 'transformer');
  assert.equal(await page.inputValue('#preset'), 'custom');
  assert.ok(await page.isVisible('#attention'), 'the attention view is shown for a transformer');
  assert.ok(await page.isChecked('#alibi'), 'the link set ALiBi\'s box');

  // Before training: the review's attention with the initial weights.
  await typeReview(page, POSITIVE_REVIEW);
  await page.waitForFunction((text) => window.__playground.attention?.text === text, POSITIVE_REVIEW, { timeout: 30000, polling: 50 });
  const first = await pg(page, () => window.__playground.attention);
  assert.equal(first.drawn.length, first.reply.positions, 'a word button per position');

  const live = await trainAndWatch(page, 10 * 60 * 1000);
  assert.ok(live > 0, `batch points appeared while training (${live})`);
  const history = await pg(page, () => window.__playground.history);
  const testResult = await pg(page, () => window.__playground.test);
  const epochMs = await pg(page, () => window.__playground.epochTimes);
  const native = await nativeHistory(Object.entries(SMALL).flatMap(([k, v]) => [`--${k}`, String(v)]));
  const worst = historyDifference(history, native);
  t.diagnostic(`transformer E16 maxlen 64, 1,024 reviews: epochs ${epochMs.map((ms) => Math.round(ms)).join(', ')} ms; val_acc ${history.map((h) => h.val_acc.toFixed(4)).join(', ')}; ` +
    `test acc ${testResult.acc.toFixed(4)}; page vs native, largest difference ${worst.toExponential(2)}`);
  assert.ok(worst <= 1e-4, `the page's history equals the native trainer's within 1e-4 (worst ${worst})`);
  assert.ok(Math.abs(testResult.acc - native.test.accuracy) <= 1e-4, `and so does the test accuracy (${testResult.acc} vs ${native.test.accuracy})`);

  // The view followed the weights as they trained, with nothing typed or clicked.
  await page.waitForFunction(
    (before) => {
      const a = window.__playground.attention;
      return a && a.text === before.text && a.drawn.some((w, i) => Math.abs(w - before.drawn[i]) > 1e-4);
    },
    first, { timeout: 30000, polling: 100 });

  // The review box's colours (occlusion) work for it.
  const explained = await typeReview(page, POSITIVE_REVIEW + ' ');
  assert.ok(explained.tokens.some((tk) => tk.contribution !== 0), 'occlusion colours the words');
  await typeReview(page, POSITIVE_REVIEW);
  await page.waitForFunction((text) => window.__playground.attention?.text === text, POSITIVE_REVIEW, { timeout: 30000, polling: 50 });

  // Click the third position's word: the drawn weights are that row of the
  // engine's answer for block 1, head 1; then the heads' average.
  await page.click('#attention-words .att-word >> nth=2');
  const shown = await pg(page, () => window.__playground.attention);
  const engine = await pg(page, (text) => window.__playground.attentionOf(text), POSITIVE_REVIEW);
  const W = engine.positions;
  assert.equal(shown.reply.positions, W);
  const head1 = matrixOf(engine, 0, 0).slice(2 * W, 3 * W);
  const d1 = Math.max(...shown.drawn.map((w, j) => Math.abs(w - head1[j])));
  assert.ok(d1 < 1e-6, `the drawn weights are the engine's row (largest difference ${d1})`);
  assert.ok(Math.abs(shown.drawn.reduce((a, b) => a + b, 0) - 1) < 1e-4, 'and add up to 1');
  assert.equal(await page.getAttribute('#attention-words .att-word >> nth=2', 'aria-pressed'), 'true');
  const m = matrixOf(engine, 0, 0);
  const received = Array.from({ length: W }, (_, j) => m.reduce((s, _, k) => (k % W === j ? s + m[k] / W : s), 0));
  const dPooled = Math.max(...shown.pooled.map((w, j) => Math.abs(w - received[j])));
  assert.ok(dPooled < 1e-6, `the pooled row is the attention each word receives on average (largest difference ${dPooled})`);
  await page.selectOption('#attention-head', '-1');
  const avg = await pg(page, () => window.__playground.attention);
  const heads = [0, 1].map((h) => matrixOf(engine, 0, h).slice(2 * W, 3 * W));
  const dAvg = Math.max(...avg.drawn.map((w, j) => Math.abs(w - (heads[0][j] + heads[1][j]) / 2)));
  assert.ok(dAvg < 1e-6, `the average of the heads (largest difference ${dAvg})`);
  assert.match(await page.textContent('#attention-top'), /looks most at/);
  await page.screenshot({ path: path.join(ARTIFACTS, 'transformer-attention.png'), fullPage: false });
  assertClean(problems, 'Transformer page');
  await page.close();
});

test('the attention view fits a phone: no sideways scrolling at 375 px, words wrap', async () => {
  const { page, problems } = await session.openPage(HASH, { viewport: { width: 375, height: 812 } });
  await phaseIs(page, ['ready'], 120000);
  await typeReview(page, POSITIVE_REVIEW);
  await page.waitForFunction((text) => window.__playground.attention?.text === text, POSITIVE_REVIEW, { timeout: 30000, polling: 50 });
  await page.selectOption('#attention-head', '-1');
  await page.locator('#attention').scrollIntoViewIfNeeded();
  const scrollWidth = await pg(page, () => document.documentElement.scrollWidth);
  assert.ok(scrollWidth <= 375, `no horizontal scroll at 375 px (scrollWidth ${scrollWidth})`);
  const box = await page.locator('#attention-words').boundingBox();
  assert.ok(box.width <= 375 && box.height > 60, `the words wrap onto several lines (${box.width} x ${box.height})`);
  await page.screenshot({ path: path.join(ARTIFACTS, 'transformer-attention-375.png'), fullPage: false });
  assertClean(problems, 'attention view at 375 px');
  await page.close();
});
