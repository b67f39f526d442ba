// confusion.test.mjs: the worker's `confusion` request (web/PROTOCOL.md),
// which the page's Fashion-MNIST view draws as a 10 x 10 matrix: every image
// of a split predicted in slices, counted by true and predicted class.
// Checked against the same images predicted one by one (predictImage), on
// an untrained model (so that it makes mistakes in every direction) and on
// a trained one (its accuracy is the test evaluation's), and while training
// runs.
//
//   node --no-experimental-fetch --test tests/wasm/
//
// Needs web/engine/engine.js (scripts/build-wasm.sh) and the native
// build/fashion_build_shard. The images are synthetic (8 x 8, ten classes,
// as in images.test.mjs), written as gzip-compressed IDX files.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { startWorker, findEngine, rng, idxGz } from './worker_client.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BUILD = process.env.NN_NATIVE_BUILD ?? join(ROOT, 'build');
const S = 8, D = S * S, K = 10;
const CONFIG = { model: 'mlp', input_dim: D, classes: K, hidden: 16, batch_size: 16, epochs: 3, val_size: 100, seed: 3 };

// Class k: a bright bar at its own place on noise (labels not in order).
function makeImages(n, next) {
  const px = new Uint8Array(n * D), labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const k = Math.floor(next() * K);
    labels[i] = k;
    for (let j = 0; j < D; j++) px[i * D + j] = Math.floor(next() * 90);
    for (let j = 0; j < 6; j++) px[i * D + 6 * k + j] = 150 + Math.floor(next() * 105);
  }
  return { px, labels };
}

let tmp, w, shardUrl, testSet;

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'nn-confusion-test-'));
  const next = rng(77);
  const train = makeImages(600, next);
  testSet = makeImages(300, next);
  writeFileSync(join(tmp, 'train-images-idx3-ubyte.gz'), idxGz([600, S, S], train.px));
  writeFileSync(join(tmp, 'train-labels-idx1-ubyte.gz'), idxGz([600], train.labels));
  writeFileSync(join(tmp, 't10k-images-idx3-ubyte.gz'), idxGz([300, S, S], testSet.px));
  writeFileSync(join(tmp, 't10k-labels-idx1-ubyte.gz'), idxGz([300], testSet.labels));
  const shard = join(tmp, 'tiny.shard');
  execFileSync(join(BUILD, 'fashion_build_shard'), ['--source', tmp, '--out', shard, '--quiet'], { stdio: 'pipe' });
  shardUrl = pathToFileURL(shard).href;
  w = startWorker();
  await w.request('init', { engineUrl: pathToFileURL(findEngine()).href });
});

after(async () => {
  await w?.worker.terminate();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// The matrix from the images predicted one by one.
async function oneByOne(n) {
  const m = new Array(K * K).fill(0);
  for (let i = 0; i < n; i++) {
    const { class: c } = await w.request('predictImage', { split: 'test', index: i });
    m[testSet.labels[i] * K + c]++;
  }
  return m;
}

test('confusion is refused without an image shard, and for a split the shard lacks', async () => {
  await assert.rejects(w.request('confusion', {}), /no image shard is loaded/);
  await w.request('loadImageShard', { url: shardUrl });
  await w.request('configure', CONFIG);
  await assert.rejects(w.request('confusion', { split: 'val' }), /no split 'val'/);
});

test('an untrained model: the matrix counts each test image once, at (true, predicted), as predictImage says', async () => {
  await w.request('loadImageShard', { url: shardUrl });
  await w.request('configure', CONFIG);
  const r = await w.request('confusion', { split: 'test' });
  assert.equal(r.n, 300);
  assert.equal(r.classes, K);
  assert.equal(r.classNames.length, K);
  assert.ok(r.matrix instanceof Uint32Array && r.matrix.length === K * K);
  const rows = Array.from({ length: K }, (_, t) => r.matrix.slice(t * K, t * K + K).reduce((a, b) => a + b, 0));
  const counts = Array.from({ length: K }, (_, t) => testSet.labels.filter((l) => l === t).length);
  assert.deepEqual(rows, counts, 'each row sums to the images of that class');
  const expected = await oneByOne(300);
  assert.deepEqual(Array.from(r.matrix), expected);
  const offDiagonal = expected.filter((v, i) => i % (K + 1) !== 0 && v > 0).length;
  assert.ok(offDiagonal > 5, `an untrained model errs in many directions (${offDiagonal} cells)`);
  const trace = expected.filter((_, i) => i % (K + 1) === 0).reduce((a, b) => a + b, 0);
  assert.equal(r.accuracy, trace / 300);
});

test('a trained model: the matrix\'s accuracy is the test evaluation\'s; it is answered while training runs', async () => {
  await w.request('loadImageShard', { url: shardUrl });
  await w.request('configure', CONFIG);
  const done = w.waitFor('done');
  await w.request('train', {});
  const result = (await done).data;
  const r = await w.request('confusion', { split: 'test' });
  assert.deepEqual(Array.from(r.matrix), await oneByOne(300));
  assert.ok(Math.abs(r.accuracy - result.test.acc) < 1e-6, `confusion ${r.accuracy}, evaluation ${result.test.acc}`);
  assert.ok(r.accuracy > 0.5, `a trained model gets most right (${r.accuracy})`);

  await w.request('configure', { ...CONFIG, epochs: 50 });
  await w.request('train', { pace: 'watch' });
  const during = await w.request('confusion', { split: 'train' });
  assert.equal(during.n, 600);
  assert.equal(during.matrix.reduce((a, b) => a + b, 0), 600);
  assert.equal((await w.request('stop', {})).state, 'idle');
});
