// images.test.mjs: the image requests of web/PROTOCOL.md (loadImageShard,
// image, predictImage) and training the "mlp" model in slices, on the real
// wasm module through web/worker/worker.js, against the native trainer.
//
//   node --no-experimental-fetch --test tests/wasm/
//
// Needs web/engine/engine.js (scripts/build-wasm.sh) and the native
// build/fashion_build_shard and imdb_train. A tiny synthetic image dataset
// (8 x 8 images in ten classes, each class a bright bar at its own place on
// noise) is written here as gzip-compressed IDX files and built into an
// image shard with the real tool; no Fashion-MNIST image is used.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { startWorker, findEngine, rng, idxGz } from './worker_client.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BUILD = process.env.NN_NATIVE_BUILD ?? join(ROOT, 'build');

const S = 8, D = S * S;

// Class k: six bright pixels starting at 6k, on dim noise.
function makeImages(n, next) {
  const px = new Uint8Array(n * D), labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const k = i % 10;
    labels[i] = k;
    for (let j = 0; j < D; j++) px[i * D + j] = Math.floor(next() * 60);
    for (let j = 0; j < 6; j++) px[i * D + 6 * k + j] = 180 + Math.floor(next() * 75);
  }
  return { px, labels };
}

const CONFIG = { model: 'mlp', input_dim: D, classes: 10, hidden: 32, batch_size: 16, epochs: 4, val_size: 100, seed: 5 };
let tmp, w, shardPath, train, testSet;

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'nn-images-test-'));
  const next = rng(2024);
  train = makeImages(500, next);
  testSet = makeImages(100, next);
  writeFileSync(join(tmp, 'train-images-idx3-ubyte.gz'), idxGz([500, S, S], train.px));
  writeFileSync(join(tmp, 'train-labels-idx1-ubyte.gz'), idxGz([500], train.labels));
  writeFileSync(join(tmp, 't10k-images-idx3-ubyte.gz'), idxGz([100, S, S], testSet.px));
  writeFileSync(join(tmp, 't10k-labels-idx1-ubyte.gz'), idxGz([100], testSet.labels));
  shardPath = join(tmp, 'tiny.shard');
  execFileSync(join(BUILD, 'fashion_build_shard'), ['--source', tmp, '--out', shardPath, '--quiet'], { stdio: 'pipe' });
  w = startWorker();
  await w.request('init', { engineUrl: pathToFileURL(findEngine()).href });
});

after(async () => {
  await w?.worker.terminate();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('an image shard loads with its sizes, class names and splits', async () => {
  const info = await w.request('loadImageShard', { url: pathToFileURL(shardPath).href });
  assert.equal(info.kind, 'images');
  assert.equal(info.height, S);
  assert.equal(info.width, S);
  assert.equal(info.classes, 10);
  assert.deepEqual(info.splits, { train: 500, test: 100 });
  assert.equal(info.class_names[9], 'Ankle boot');
  const img = await w.request('image', { split: 'test', index: 7 });
  assert.equal(img.label, 7);
  assert.equal(img.className, 'Sneaker');
  assert.deepEqual(Array.from(img.pixels), Array.from(testSet.px.subarray(7 * D, 8 * D)));
  await assert.rejects(w.request('image', { split: 'test', index: 100 }), /out of range/);
});

test('a corrupt image shard is refused with the engine\'s message', async () => {
  const bytes = new Uint8Array(readFileSync(shardPath));
  bytes[bytes.length - 1] ^= 1;
  await assert.rejects(w.request('loadImageShard', { bytes: bytes.buffer }, [bytes.buffer]), /checksum[\s\S]*fashion\.shard/);
  const text = new Uint8Array(readFileSync(shardPath)).subarray(0, 100);
  await assert.rejects(w.request('loadShard', { bytes: text.slice().buffer }), /image shard|not a shard/);
});

test('the mlp trains in slices with batch and epoch events, evaluates and predicts one image', async () => {
  await w.request('loadImageShard', { url: pathToFileURL(shardPath).href });
  const cfg = await w.request('configure', CONFIG);
  assert.equal(cfg.model, 'mlp');
  const first = w.events.length;
  const done = w.waitFor('done');
  await w.request('train', {});
  const result = (await done).data;
  const events = w.events.slice(first);
  const epochs = events.filter((e) => e.type === 'epoch').map((e) => e.data);
  const batches = events.filter((e) => e.type === 'batch');
  assert.equal(epochs.length, 4);
  assert.ok(batches.length >= 4, `${batches.length} batch events`);
  assert.equal(result.history.length, 4);
  for (const h of result.history) assert.ok(Number.isFinite(h.loss) && Number.isFinite(h.val_loss), JSON.stringify(h));
  assert.ok(result.history[3].loss < result.history[0].loss, 'the training loss falls');
  assert.ok(result.test.acc >= 0.9, `test accuracy ${result.test.acc} on an easy synthetic set`);
  const p = await w.request('predictImage', { split: 'test', index: 3 });
  assert.equal(p.probs.length, 10);
  assert.ok(Math.abs(p.probs.reduce((a, b) => a + b, 0) - 1) < 1e-5, 'probabilities sum to 1');
  assert.equal(p.class, p.probs.indexOf(Math.max(...p.probs)));
  assert.equal(p.class, 3, 'an easy test image is recognised');
  const drawn = testSet.px.slice(5 * D, 6 * D);
  const q = await w.request('predictImage', { pixels: drawn });
  assert.equal(q.class, 5, 'pixels sent by the page are predicted too');
  await assert.rejects(w.request('predictImage', { pixels: new Uint8Array(3) }), /3 values/);
  await assert.rejects(w.request('predict', { text: 'a great film' }), /images, not text/);
  const ev = await w.request('evaluate', { split: 'test' });
  assert.ok(Math.abs(ev.acc - result.test.acc) < 1e-6);
  // The native trainer, same config and seed, gives the same history.
  const hist = join(tmp, 'native.json');
  execFileSync(join(BUILD, 'imdb_train'), ['--shard', shardPath, '--config', writeConfig(), '--history', hist, '--quiet']);
  const native = JSON.parse(readFileSync(hist, 'utf8')).history;
  result.history.forEach((h, i) => {
    assert.ok(Math.abs(h.loss - native.loss[i]) < 1e-5 && Math.abs(h.val_loss - native.val_loss[i]) < 1e-5,
      `epoch ${i + 1}: wasm ${h.loss}/${h.val_loss}, native ${native.loss[i]}/${native.val_loss[i]}`);
    assert.ok(Math.abs(h.val_acc - native.val_accuracy[i]) < 1e-6, `epoch ${i + 1} val_acc`);
  });
});

test('an image model exports a checkpoint and imports it on the image shard, predicting the same', async () => {
  const { bytes } = await w.request('exportCheckpoint', {});
  const before = await w.request('predictImage', { split: 'test', index: 11 });
  await w.request('configure', { ...CONFIG, seed: 99 });
  const fresh = await w.request('predictImage', { split: 'test', index: 11 });
  assert.notDeepEqual(fresh.probs, before.probs, 'a new model predicts otherwise');
  const r = await w.request('importCheckpoint', { bytes }, [bytes]);
  assert.equal(r.config.model, 'mlp');
  assert.equal(r.history.length, 4);
  const after = await w.request('predictImage', { split: 'test', index: 11 });
  assert.deepEqual(after.probs, before.probs, 'the imported weights predict as before');
});

function writeConfig() {
  const path = join(tmp, 'mlp.json');
  writeFileSync(path, JSON.stringify(CONFIG));
  return path;
}
