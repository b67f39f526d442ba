// worker_protocol.test.mjs: the real wasm module, driven through web/worker/worker.js
// and the message protocol of web/PROTOCOL.md.
//
//   node --no-experimental-fetch --test tests/wasm/
//
// Needs web/engine/engine.js (or build-wasm/engine.js) from
// scripts/build-wasm.sh and the native build/imdb_build_shard (cmake --build
// build). Builds a tiny, easy IMDB-shaped dataset of sentences written here,
// turns it into a shard with the native tool, and runs the worker (unchanged,
// in a Node worker thread through web_worker_shim.mjs) on it: load, configure,
// train, predict, explain, checkpoints, errors; and, when build/imdb_train
// exists, compares the per-epoch losses with the native trainer's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startWorker, findEngine, rng } from './worker_client.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BUILD = process.env.NN_NATIVE_BUILD ?? join(ROOT, 'build');

// ---------------------------------------------------------------- fixture

const POSITIVE = [
  'a wonderful moving film, great acting',
  'the story was brilliant and the cast superb',
  'i loved this movie, a beautiful ending',
  'excellent direction and a touching, funny script',
  'one of the best films of the year, truly great',
  'a delightful gem with wonderful performances',
];
const NEGATIVE = [
  'a dull boring mess, awful plot',
  'the acting was terrible and the story a waste',
  'worst film ever, bad ending',
  'poor direction and a lazy, stupid script',
  'one of the worst movies of the year, truly awful',
  'a tedious failure with horrible performances',
];
const NEUTRAL = [
  'i saw it on a sunday with my brother.',
  'the film runs about two hours.',
  'it was shown in the old cinema downtown.',
  'my friend had read the book first.',
];

function review(sentences, next) {
  const pick = (list) => list[Math.floor(next() * list.length)];
  const parts = [pick(sentences), pick(NEUTRAL), pick(sentences)];
  if (next() < 0.3) parts.splice(1, 0, '<br /><br />');
  return parts.join(' ');
}

// aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt, PER_FOLDER reviews each.
const PER_FOLDER = 40;
function writeDataset(dir) {
  const next = rng(12345);
  for (const split of ['train', 'test']) {
    for (const label of ['pos', 'neg']) {
      const folder = join(dir, 'aclImdb', split, label);
      mkdirSync(folder, { recursive: true });
      for (let i = 0; i < PER_FOLDER; i++) {
        const rating = label === 'pos' ? 7 + (i % 4) : 1 + (i % 4);
        const text = review(label === 'pos' ? POSITIVE : NEGATIVE, next);
        writeFileSync(join(folder, `${i}_${rating}.txt`), text);
      }
    }
  }
}

// ------------------------------------------------------------ the worker

// Starts web/worker/worker.js in a thread; request() resolves with the reply's data
// or rejects with the error reply; events are recorded with arrival times.

// --------------------------------------------------------------- the tests

let tmp, shardPath, shardBytes, w, config, trained, trainedEpochs, shardInfo, exported;

// Small enough to train in well under a second, big enough to learn.
const SMALL = {
  maxlen: 32, embed_dim: 8, hidden: 8, batch_size: 16, epochs: 3,
  val_size: 16, lr: 0.02, seed: 7, padding: 'post', pooling: 'keras',
};

before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'nn-wasm-test-'));
  writeDataset(tmp);
  const tool = process.env.IMDB_BUILD_SHARD ?? join(BUILD, 'imdb_build_shard');
  assert.ok(existsSync(tool), `${tool} not found: build the native tools (cmake -S . -B build && cmake --build build)`);
  execFileSync(tool, ['--source', tmp, '--out', join(tmp, 'out'), '--quiet'], { stdio: 'pipe' });
  shardPath = join(tmp, 'out', 'imdb.shard');
  shardBytes = readFileSync(shardPath);
  findEngine();
  w = startWorker();
});

after(async () => {
  await w?.worker.terminate();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('before init, and with a missing engine, requests fail with a useful message', async () => {
  const other = startWorker();
  try {
    await assert.rejects(other.request('predict', { text: 'good' }),
      (e) => e.op === 'predict' && /send init first/.test(e.message));
    await assert.rejects(other.request('init', { engineUrl: pathToFileURL(join(tmp, 'no-engine.js')).href }),
      (e) => e.op === 'init' && /scripts\/build-wasm\.sh/.test(e.message));
  } finally {
    await other.worker.terminate();
  }
});

test('init instantiates the module and reports a version', async () => {
  const engineUrl = pathToFileURL(findEngine()).href;
  const r = await w.request('init', { engineUrl });
  assert.match(r.version, /^nnw \d+/);
  const again = await w.request('init', { engineUrl });
  assert.equal(again.version, r.version, 'a second init reuses the one instance');
});

test('requests before a shard is loaded fail with a message naming the op', async () => {
  await assert.rejects(w.request('configure', { epochs: 1 }), (e) => e.op === 'configure' && /shard/.test(e.message));
  await assert.rejects(w.request('predict', { text: 'great' }), (e) => e.op === 'predict' && /configure/.test(e.message));
  await assert.rejects(w.request('nonsense', {}), (e) => e.op === 'nonsense' && /unknown request type/.test(e.message));
});

test('a corrupted shard is refused with the engine message and how to rebuild', async () => {
  const bad = new Uint8Array(shardBytes);
  for (let i = 0; i < 16; i++) bad[Math.floor(bad.length / 2) + i] ^= 0x5a;
  await assert.rejects(w.request('loadShard', { bytes: bad.buffer }, [bad.buffer]),
    (e) => e.op === 'loadShard' && /scripts\/setup\.sh/.test(e.message) && e.message.length > 40);
  const truncated = new Uint8Array(shardBytes.subarray(0, 100)).buffer;
  await assert.rejects(w.request('loadShard', { bytes: truncated }, [truncated]),
    (e) => e.op === 'loadShard' && /scripts\/setup\.sh/.test(e.message));
  await assert.rejects(w.request('loadShard', { url: pathToFileURL(join(tmp, 'missing.shard')).href }),
    (e) => e.op === 'loadShard' && /404/.test(e.message) && /scripts\/setup\.sh/.test(e.message));
});

test('loadShard by url streams the file with progress and returns shard info', async () => {
  const first = w.events.length;
  const info = await w.request('loadShard', { url: pathToFileURL(shardPath).href });
  shardInfo = info;
  // The tutorial's vocab_size (10000) is more than this tiny shard has.
  SMALL.vocab_size = info.vocab_size;
  assert.equal(info.splits.train, 2 * PER_FOLDER);
  assert.equal(info.splits.test, 2 * PER_FOLDER);
  assert.ok(info.vocab_size > 40, `vocab_size ${info.vocab_size}`);
  const progress = w.events.slice(first).filter((e) => e.type === 'shardProgress');
  assert.ok(progress.length >= 1, 'at least one shardProgress event');
  assert.equal(progress.at(-1).data.loaded, shardBytes.length);
  assert.equal(progress.at(-1).data.total, shardBytes.length);
});

test('an unknown config key is refused by name', async () => {
  await assert.rejects(w.request('configure', { ...SMALL, bogus_key: 3 }),
    (e) => e.op === 'configure' && /bogus_key/.test(e.message));
});

test('configure returns the full config in force', async () => {
  config = await w.request('configure', SMALL);
  assert.equal(config.maxlen, 32);
  assert.equal(config.epochs, 3);
  assert.ok('vocab_size' in config && 'beta1' in config && 'train_size' in config);
});

test('training 3 epochs streams events and reaches accuracy above 0.9', async (t) => {
  const first = w.events.length;
  const done = w.waitFor('done');
  assert.deepEqual(await w.request('train', {}), { started: true });
  const d = (await done).data;
  const events = w.events.slice(first);
  const epochs = events.filter((e) => e.type === 'epoch').map((e) => e.data);
  assert.deepEqual(epochs.map((e) => e.epoch), [1, 2, 3]);
  for (const e of epochs) {
    assert.ok(e.ms > 0 && e.reviewsPerSec > 0, `epoch ${e.epoch}: ms ${e.ms}, reviews/s ${e.reviewsPerSec}`);
    assert.ok(Number.isFinite(e.loss) && Number.isFinite(e.val_loss));
  }
  assert.equal(d.history.length, 3);
  assert.ok(d.history[2].loss < d.history[0].loss, `loss falls: ${d.history.map((h) => h.loss)}`);
  assert.ok(d.test.acc > 0.9, `test accuracy ${d.test.acc}`);
  t.diagnostic(`losses ${d.history.map((h) => h.loss.toFixed(4)).join(' ')}, test accuracy ${d.test.acc}`);
  assert.ok(d.history[2].val_acc > 0.9, `validation accuracy ${d.history[2].val_acc}`);
  trained = d;
  trainedEpochs = epochs;
  await assert.rejects(w.request('train', {}), (e) => e.op === 'train' && /configure/.test(e.message));
  const ev = await w.request('evaluate', { split: 'test' });
  assert.ok(Math.abs(ev.acc - d.test.acc) < 1e-6);
});

// The engine's best-epoch rule (Keras EarlyStopping, monitor val_loss): an
// epoch is the best so far when its val_loss + min_delta is below the best's.
function bestSoFar(epochs, minDelta = 0) {
  let best = Infinity, at = 0;
  return epochs.map((e) => {
    if (e.val_loss + minDelta < best) {
      best = e.val_loss;
      at = e.epoch;
    }
    return at;
  });
}

test('every epoch event carries the engine\'s best epoch so far, with patience 0 too; done adds restoredBest', async () => {
  assert.equal(config.patience, 0);
  assert.deepEqual(trainedEpochs.map((e) => e.bestEpoch), bestSoFar(trainedEpochs));
  assert.equal(trained.bestEpoch, bestSoFar(trainedEpochs).at(-1), 'done: the best epoch of the run');
  assert.equal(trained.stoppedEarly, false);
  assert.equal(trained.restoredBest, false, 'nothing restored without early stopping');
});

test('configSchema is the engine\'s config table: one entry per config key, in order', async () => {
  const { schema } = await w.request('configSchema', {});
  assert.ok(Array.isArray(schema), 'an array');
  assert.deepEqual(schema.map((f) => f.key), Object.keys(config), 'the keys of the config in force, in the same order');
  for (const f of schema) {
    assert.ok(['int', 'float', 'enum', 'bool', 'string'].includes(f.kind), `${f.key}: kind ${f.kind}`);
    assert.equal(typeof f.range, 'string', `${f.key}: range`);
    assert.ok(typeof f.doc === 'string' && f.doc.length > 0, `${f.key}: a description`);
    assert.equal(Array.isArray(f.choices), f.kind === 'enum', `${f.key}: choices only for an enum`);
  }
  const vocab = schema.find((f) => f.key === 'vocab_size');
  assert.equal(vocab.kind, 'int');
  assert.equal(vocab.default, 10000);
  const model = schema.find((f) => f.key === 'model');
  assert.ok(['bag', 'lstm', 'gru'].every((m) => model.choices.includes(m)), model.choices.join(' '));
});

test('predict puts a positive and a negative sentence on the right sides of 0.5', async () => {
  const pos = await w.request('predict', { text: 'A wonderful, moving film with great acting!' });
  const neg = await w.request('predict', { text: 'A dull, boring mess with an awful plot.' });
  assert.ok(pos.score > 0.5, `positive score ${pos.score}`);
  assert.ok(neg.score < 0.5, `negative score ${neg.score}`);
});

test('explain returns spans that index the words of the JS string', async () => {
  // Non-ASCII before the words checks the byte -> UTF-16 conversion: "é" is
  // 2 bytes and 1 unit, the emoji 4 bytes and 2 units.
  const text = 'Café 🎬: a WONDERFUL film, but awful popcorn.';
  const r = await w.request('explain', { text });
  const words = r.tokens.map((t) => text.slice(t.start, t.end).toLowerCase());
  assert.deepEqual(words, ['café', '🎬', 'a', 'wonderful', 'film', 'but', 'awful', 'popcorn']);
  const by = Object.fromEntries(r.tokens.map((t, i) => [words[i], t]));
  assert.ok(by.wonderful.contribution > 0, `wonderful ${by.wonderful.contribution}`);
  assert.ok(by.awful.contribution < 0, `awful ${by.awful.contribution}`);
  assert.equal(by.popcorn.id, 2, 'a word outside the vocabulary is <UNK> (id 2)');
  const p = await w.request('predict', { text });
  assert.ok(Math.abs(p.score - r.score) < 1e-6, `explain score ${r.score} = predict score ${p.score}`);
});

test('review decodes a stored review like decode_review', async () => {
  const r = await w.request('review', { split: 'train', index: 0 });
  assert.equal(typeof r.text, 'string');
  assert.ok(r.text.length > 10 && !r.text.includes('<START>'), r.text);
  assert.ok(r.label === 0 || r.label === 1);
  assert.ok(r.rating >= 1 && r.rating <= 10);
  const random = await w.request('review', { split: 'test' });
  assert.ok(random.index >= 0 && random.index < 2 * PER_FOLDER);
  await assert.rejects(w.request('review', { split: 'test', index: 1e6 }), (e) => e.op === 'review' && /out of range/.test(e.message));
});

test('snapshot and restore round-trip the parameters', async () => {
  const { params } = await w.request('snapshot', {});
  assert.ok(params instanceof Float32Array && params.length > 0);
  const text = 'great acting, a brilliant story';
  const before = (await w.request('predict', { text })).score;
  const zero = new Float32Array(params.length);
  await w.request('restore', { params: zero }, [zero.buffer]);
  assert.ok(Math.abs((await w.request('predict', { text })).score - 0.5) < 1e-6, 'all-zero weights score 0.5');
  await w.request('restore', { params }, [params.buffer]);
  assert.equal((await w.request('predict', { text })).score, before);
});

test('checkpoint export then import gives the same score and history', async () => {
  const text = 'the story was brilliant, but the ending was bad';
  const before = (await w.request('predict', { text })).score;
  const { bytes } = await w.request('exportCheckpoint', {});
  assert.ok(bytes instanceof ArrayBuffer && bytes.byteLength > 0);
  await w.request('configure', { ...SMALL, seed: 99 }); // different weights
  const other = (await w.request('predict', { text })).score;
  assert.notEqual(other, before);
  const copy = bytes.slice(0);
  exported = bytes.slice(0);
  const r = await w.request('importCheckpoint', { bytes }, [bytes]);
  assert.equal(r.config.maxlen, SMALL.maxlen);
  assert.deepEqual(r.history, trained.history);
  assert.equal((await w.request('predict', { text })).score, before);
  const damaged = new Uint8Array(copy);
  damaged[damaged.length - 5] ^= 0xff;
  await assert.rejects(w.request('importCheckpoint', { bytes: damaged.buffer }, [damaged.buffer]),
    (e) => e.op === 'importCheckpoint' && e.message.length > 20);
});

test('pause stops events until resume; stop ends the run', async (t) => {
  // Enough epochs that the run is still going when pause arrives.
  await w.request('configure', { ...SMALL, epochs: 10000 });
  const start = w.events.length;
  const firstEpoch = w.waitFor('epoch');
  await w.request('train', {});
  await firstEpoch;
  await assert.rejects(w.request('train', {}), (e) => e.op === 'train' && /already running/.test(e.message));
  await assert.rejects(w.request('configure', SMALL), (e) => e.op === 'configure' && /stop it first/.test(e.message));
  // Answered between slices, while the run goes on (timings are reported,
  // not asserted: a slice aims at about 15 ms).
  let slowest = 0;
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    await w.request('predict', { text: 'a wonderful film' });
    slowest = Math.max(slowest, performance.now() - t0);
    await new Promise((r) => setTimeout(r, 3));
  }
  assert.ok(!w.events.slice(start).some((e) => e.type === 'done'), 'still training while predicting');
  const t0 = performance.now();
  assert.deepEqual(await w.request('pause', {}), { state: 'paused' });
  const latency = performance.now() - t0;
  const mark = w.events.length;
  // Predict and explain are answered while paused (and while running).
  assert.ok((await w.request('predict', { text: 'great' })).score >= 0);
  await new Promise((r) => setTimeout(r, 100));
  const during = w.events.slice(mark).filter((e) => e.type === 'batch' || e.type === 'epoch');
  assert.equal(during.length, 0, 'no training events while paused');
  assert.deepEqual(await w.request('resume', {}), { state: 'running' });
  await w.waitFor('epoch');
  const t1 = performance.now();
  assert.deepEqual(await w.request('stop', {}), { state: 'idle' });
  t.diagnostic(`while training: slowest predict ${slowest.toFixed(1)} ms, pause ${latency.toFixed(1)} ms, ` +
    `stop ${(performance.now() - t1).toFixed(1)} ms`);
  const mark2 = w.events.length;
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(w.events.slice(mark2).filter((e) => e.type !== 'shardProgress').length, 0, 'no events after stop');
});

test('early stopping that restores the best weights: done says so, and the model is the best epoch\'s', async () => {
  // min_delta 10: no epoch after the first improves on it, so patience 2
  // stops the run after epoch 3 and puts epoch 1's weights back.
  await w.request('configure', { ...SMALL, epochs: 10, patience: 2, min_delta: 10, restore_best_weights: true });
  const first = w.events.length;
  const done = w.waitFor('done');
  await w.request('train', {});
  const d = (await done).data;
  const epochs = w.events.slice(first).filter((e) => e.type === 'epoch').map((e) => e.data);
  assert.deepEqual(epochs.map((e) => e.epoch), [1, 2, 3]);
  assert.deepEqual(epochs.map((e) => e.bestEpoch), [1, 1, 1]);
  assert.equal(d.stoppedEarly, true);
  assert.equal(d.bestEpoch, 1);
  assert.equal(d.restoredBest, true);
  assert.equal(epochs[2].weightsKept, false, 'the last epoch\'s weights were replaced by the best\'s: not kept');
  const val = await w.request('evaluate', { split: 'val' });
  assert.ok(Math.abs(val.loss - d.history[0].val_loss) < 1e-6, `validation loss now ${val.loss} = epoch 1's ${d.history[0].val_loss}`);
});

test('every request got exactly one reply', () => {
  for (const [id, n] of w.replies) assert.equal(n, 1, `request ${id} got ${n} replies`);
});

// Runs build/imdb_train on the same shard and config; its history file.
function nativeHistory(t, cfg) {
  const tool = process.env.IMDB_TRAIN ?? join(BUILD, 'imdb_train');
  if (!existsSync(tool)) {
    t.skip(`${tool} not built`);
    return null;
  }
  const configPath = join(tmp, 'config.json');
  const historyPath = join(tmp, 'history.json');
  writeFileSync(configPath, JSON.stringify(cfg));
  execFileSync(tool, ['--shard', shardPath, '--config', configPath, '--history', historyPath, '--quiet'], { stdio: 'pipe' });
  return JSON.parse(readFileSync(historyPath, 'utf8'));
}

function compareHistories(native, wasm, testAcc) {
  const pairs = [['loss', 'loss'], ['acc', 'accuracy'], ['val_loss', 'val_loss'], ['val_acc', 'val_accuracy']];
  let maxdiff = 0;
  for (const [ours, theirs] of pairs) {
    assert.equal(native.history[theirs].length, wasm.length);
    for (let i = 0; i < wasm.length; i++)
      maxdiff = Math.max(maxdiff, Math.abs(Math.fround(native.history[theirs][i]) - Math.fround(wasm[i][ours])));
  }
  maxdiff = Math.max(maxdiff, Math.abs(native.test.accuracy - testAcc));
  return maxdiff;
}

test('a GRU trains in the worker, explains by occlusion, and matches the native trainer', async (t) => {
  const gru = await w.request('configure', { ...SMALL, model: 'gru', hidden: 8, epochs: 4, lr: 0.02 });
  const done = w.waitFor('done', 120000);
  await w.request('train', {});
  const d = (await done).data;
  t.diagnostic(`gru losses ${d.history.map((h) => h.loss.toFixed(4)).join(' ')}, test accuracy ${d.test.acc}`);
  assert.equal(d.history.length, 4);
  assert.ok(d.history[3].loss < d.history[0].loss);
  const text = 'Café 🎬: a WONDERFUL film, but awful popcorn.';
  const r = await w.request('explain', { text });
  assert.deepEqual(r.tokens.map((tk) => text.slice(tk.start, tk.end).toLowerCase()),
    ['café', '🎬', 'a', 'wonderful', 'film', 'but', 'awful', 'popcorn']);
  const native = nativeHistory(t, gru);
  if (!native) return;
  const maxdiff = compareHistories(native, d.history, d.test.acc);
  t.diagnostic(`gru: wasm vs native history maxdiff=${maxdiff}`);
  // Recurrent cells call expf/tanhf: musl's and glibc's may differ in the last bit.
  assert.ok(maxdiff <= 1e-4, `wasm and native GRU histories differ by ${maxdiff}`);
});

test('per-epoch losses equal the native trainer\'s (build/imdb_train)', async (t) => {
  const native = nativeHistory(t, config);
  if (!native) return;
  const wasm = trained.history;
  const maxdiff = compareHistories(native, wasm, trained.test.acc);
  t.diagnostic(`bag: wasm vs native history maxdiff=${maxdiff}`);
  // Same code, same seed; only libm (musl vs glibc expf/logf) may differ in the last bit.
  assert.ok(maxdiff <= 1e-5, `wasm and native histories differ by ${maxdiff}`);
});

test('a checkpoint is refused against a shard with another vocabulary', async () => {
  const tool = process.env.IMDB_BUILD_SHARD ?? join(BUILD, 'imdb_build_shard');
  execFileSync(tool, ['--source', tmp, '--out', join(tmp, 'small'), '--vocab-size', '20', '--quiet'], { stdio: 'pipe' });
  const other = readFileSync(join(tmp, 'small', 'imdb.shard'));
  const info = await w.request('loadShard', { bytes: new Uint8Array(other).buffer });
  assert.notEqual(info.vocab_crc, shardInfo.vocab_crc);
  await assert.rejects(w.request('importCheckpoint', { bytes: exported }),
    (e) => e.op === 'importCheckpoint' && /vocabulary/.test(e.message) && /shard/.test(e.message));
});
