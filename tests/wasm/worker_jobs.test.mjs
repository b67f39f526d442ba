// worker_jobs.test.mjs: the worker's long jobs when the data or the model
// under them changes (issue 15), and uploads too large for wasm memory.
// A request that replaces the shard or the model cancels the jobs that read
// it (diagnose, confusion, the comparison run; training and pretraining
// refuse it instead); configure and importCheckpoint are refused while a
// shard is being loaded; an upload over its limit is refused in JS, before
// a byte reaches wasm memory (the `stats` request's wasmBytes stays put).
//
//   node --no-experimental-fetch --test tests/wasm/worker_jobs.test.mjs
//
// Needs web/engine/engine.js (scripts/build-wasm.sh) and the native
// build/imdb_build_shard and build/fashion_build_shard. The reviews and
// images are made up here.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startWorker, findEngine, rng, idxGz } from './worker_client.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BUILD = process.env.NN_NATIVE_BUILD ?? join(ROOT, 'build');
const MB = 1024 * 1024;

// ---------------------------------------------------------------- fixtures

const POSITIVE = ['a wonderful moving film', 'the cast was superb', 'i loved this brilliant story', 'truly great'];
const NEGATIVE = ['a dull boring mess', 'the acting was terrible', 'worst film ever, awful', 'a tedious failure'];
const NEUTRAL = ['i saw it on a sunday.', 'the film runs two hours.', 'my friend read the book.'];

function writeReviews(dir) {
  const next = rng(4242);
  const pick = (list) => list[Math.floor(next() * list.length)];
  for (const split of ['train', 'test']) {
    for (const label of ['pos', 'neg']) {
      const folder = join(dir, 'aclImdb', split, label);
      mkdirSync(folder, { recursive: true });
      for (let i = 0; i < 50; i++) {
        const words = label === 'pos' ? POSITIVE : NEGATIVE;
        writeFileSync(join(folder, `${i}_${label === 'pos' ? 8 : 2}.txt`), [pick(words), pick(NEUTRAL), pick(words)].join(' '));
      }
    }
  }
}

const S = 8, D = S * S, K = 10;
const IMAGE_CONFIG = { model: 'mlp', input_dim: D, classes: K, hidden: 16, batch_size: 16, epochs: 1, val_size: 20, seed: 3 };

// An image shard of `train` and `test` synthetic 8 x 8 images (class k: a bar at its own place).
function writeImageShard(dir, train, test, seed) {
  mkdirSync(dir, { recursive: true });
  const next = rng(seed);
  const images = (n) => {
    const px = new Uint8Array(n * D), labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const k = Math.floor(next() * K);
      labels[i] = k;
      for (let j = 0; j < D; j++) px[i * D + j] = Math.floor(next() * 90);
      for (let j = 0; j < 6; j++) px[i * D + 6 * k + j] = 200;
    }
    return { px, labels };
  };
  const a = images(train), b = images(test);
  writeFileSync(join(dir, 'train-images-idx3-ubyte.gz'), idxGz([train, S, S], a.px));
  writeFileSync(join(dir, 'train-labels-idx1-ubyte.gz'), idxGz([train], a.labels));
  writeFileSync(join(dir, 't10k-images-idx3-ubyte.gz'), idxGz([test, S, S], b.px));
  writeFileSync(join(dir, 't10k-labels-idx1-ubyte.gz'), idxGz([test], b.labels));
  const shard = join(dir, 'images.shard');
  execFileSync(join(BUILD, 'fashion_build_shard'), ['--source', dir, '--out', shard, '--quiet'], { stdio: 'pipe' });
  return shard;
}

let tmp, w, textShard, bigImages, smallImages, SMALL;

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'nn-jobs-test-'));
  writeReviews(tmp);
  const tool = join(BUILD, 'imdb_build_shard');
  assert.ok(existsSync(tool), `${tool} not found: build the native tools (cmake -S . -B build && cmake --build build)`);
  execFileSync(tool, ['--source', tmp, '--out', join(tmp, 'out'), '--quiet'], { stdio: 'pipe' });
  textShard = join(tmp, 'out', 'imdb.shard');
  bigImages = writeImageShard(join(tmp, 'big'), 200, 16000, 11);
  smallImages = writeImageShard(join(tmp, 'small'), 100, 40, 12);
  w = startWorker();
  await w.request('init', { engineUrl: pathToFileURL(findEngine()).href });
  const info = await w.request('loadShard', { url: pathToFileURL(textShard).href });
  SMALL = { vocab_size: info.vocab_size, maxlen: 16, embed_dim: 8, hidden: 8, batch_size: 16, epochs: 2, val_size: 40, lr: 0.02, seed: 5 };
});

after(async () => {
  await w?.worker.terminate();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const shardBytes = (path) => new Uint8Array(readFileSync(path)).buffer;

// ------------------------------------------------------------------- tests

test('configure during a diagnosis cancels it; the engine dropped it, and a new one works', async () => {
  // An LSTM is diagnosed in many slices (diagnosis.test.mjs checks that);
  // untrained is enough here.
  await w.request('configure', { ...SMALL, model: 'lstm', padding: 'pre' });
  const diagnosis = w.request('diagnose', { split: 'val' });
  const configured = w.request('configure', SMALL);
  await assert.rejects(diagnosis, (e) => e.op === 'diagnose' && /^cancelled: configure replaced the model/.test(e.message));
  assert.equal((await configured).model, 'bag');
  await assert.rejects(w.request('diagnoseThreshold', { threshold: 0.5 }), (e) => /diagnose again/.test(e.message));
  const d = await w.request('diagnose', { split: 'val' });
  assert.equal(d.n, SMALL.val_size);
});

test('a newer labelled text cancels a diagnosis of the old one', async () => {
  await w.request('configure', { ...SMALL, model: 'lstm', padding: 'pre' }); // many slices
  // Enough texts that the diagnosis outlasts the message queue by many slices
  // (with 200 it once finished before the second request was read, on a
  // loaded machine; 50,000 take about 20 slices and 0.1 s uncut).
  const lines = Array.from({ length: 50000 }, (_, i) => `${i % 2}\t${i % 2 ? 'a wonderful film' : 'a dull mess'} number ${i}`);
  await w.request('labelledText', { text: lines.join('\n') });
  const diagnosis = w.request('diagnose', { split: 'text' });
  const info = await w.request('labelledText', { text: lines.slice(0, 10).join('\n') });
  assert.equal(info.examples, 10);
  await assert.rejects(diagnosis, (e) => /^cancelled: labelledText replaced the texts/.test(e.message));
  assert.equal((await w.request('diagnose', { split: 'text' })).n, 10);
});

test('configure cancels a comparison run: fullRun then starts a new one', async () => {
  const long = { ...SMALL, model: 'lstm', padding: 'pre', epochs: 100 }; // seconds of slices
  await w.request('configure', long);
  assert.deepEqual(await w.request('fullRun', {}), { started: true });
  assert.deepEqual(await w.request('fullRun', {}), { started: false, running: true });
  await w.request('configure', long);
  assert.deepEqual(await w.request('fullRun', {}), { started: true }, 'the old run is gone');
  assert.deepEqual(await w.request('fullStop', {}), { stopped: true });
});

test('configure and importCheckpoint are refused while a shard is being loaded', async () => {
  await w.request('configure', SMALL);
  const { bytes } = await w.request('exportCheckpoint', {});
  // The load is held back 300 ms, so both requests arrive while it is in flight.
  const loading = w.request('loadShard', { url: `${pathToFileURL(textShard).href}?test_delay_ms=300` });
  const configure = w.request('configure', SMALL);
  const importing = w.request('importCheckpoint', { bytes });
  await assert.rejects(configure, (e) => e.op === 'configure' && /cannot configure during loadShard/.test(e.message));
  await assert.rejects(importing, (e) => e.op === 'importCheckpoint' && /during loadShard/.test(e.message));
  await loading;
  await w.request('configure', SMALL);
});

test('a shard change during the confusion job cancels it; the next one reads the new, smaller split', async () => {
  // 16,000 test images: a confusion job of seven slices or more (128
  // images, then at most twice as many each slice), so the next request
  // arrives while it runs.
  await w.request('loadImageShard', { url: pathToFileURL(bigImages).href });
  await w.request('configure', IMAGE_CONFIG);
  const first = w.request('confusion', { split: 'test' });
  await w.request('configure', IMAGE_CONFIG);
  await assert.rejects(first, (e) => e.op === 'confusion' && /^cancelled: configure replaced the model/.test(e.message));

  const confusion = w.request('confusion', { split: 'test' });
  const loaded = w.request('loadImageShard', { bytes: shardBytes(smallImages) });
  await assert.rejects(confusion, (e) => e.op === 'confusion' && /^cancelled: loadImageShard replaced the shard/.test(e.message));
  assert.equal((await loaded).splits.test, 40);
  await assert.rejects(w.request('confusion', { split: 'test' }), (e) => /configure/.test(e.message), 'the new shard has no model yet');
  await w.request('configure', IMAGE_CONFIG);
  const r = await w.request('confusion', { split: 'test' });
  assert.equal(r.n, 40);
  assert.equal(r.matrix.reduce((a, b) => a + b, 0), 40, 'every image of the new split counted once');
});

test('uploads over their limit are refused in JS, before wasm memory grows', async () => {
  await w.request('loadShard', { bytes: shardBytes(textShard) });
  await w.request('configure', SMALL);
  const before = (await w.request('stats', {})).wasmBytes;
  const huge = (n) => new ArrayBuffer(n); // zeros: pages the system never touches
  const tooBig = [
    ['labelledText', { bytes: huge(65 * MB) }, /65\.0 MB.*64\.0 MB/],
    ['labelledText', { text: 'x'.repeat(65 * MB) }, /65\.0 MB.*64\.0 MB/],
    ['importCheckpoint', { bytes: huge(257 * MB) }, /checkpoint is 257\.0 MB.*256\.0 MB/],
    ['loadShard', { bytes: huge(513 * MB) }, /shard is 513\.0 MB.*512\.0 MB/],
    ['loadImageShard', { bytes: huge(513 * MB) }, /shard is 513\.0 MB.*512\.0 MB/],
    ['loadCorpus', { bytes: huge(513 * MB) }, /corpus is 513\.0 MB.*512\.0 MB/],
  ];
  for (const [type, data, message] of tooBig) {
    const transfer = data.bytes ? [data.bytes] : [];
    await assert.rejects(w.request(type, data, transfer), (e) => e.op === type && message.test(e.message), `${type}: ${message}`);
  }
  const after = (await w.request('stats', {})).wasmBytes;
  assert.equal(after, before, `wasm memory ${before} bytes before, ${after} after`);
  // Nothing was replaced: the shard and the model are still there.
  assert.ok((await w.request('predict', { text: 'a wonderful film' })).score >= 0);
});

test('every request got exactly one reply', () => {
  for (const [id, n] of w.replies) assert.equal(n, 1, `request ${id} got ${n} replies`);
});
