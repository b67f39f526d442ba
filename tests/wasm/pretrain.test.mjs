// pretrain.test.mjs: presets and pretrained embeddings through the real wasm
// module and web/worker/worker.js (web/PROTOCOL.md): presets, loadCorpus, pretrain
// with progress, nearest, stopPretrain, and a model whose embedding starts
// from the vectors.
//
//   node --no-experimental-fetch --test tests/wasm/
//
// Builds a tiny IMDB-shaped dataset of sentences written here (with
// unlabelled reviews in which the words of one sentiment keep company) into
// shards with the native build/imdb_build_shard, and runs the worker in a
// Node thread through web_worker_shim.mjs, as worker_protocol.test.mjs does.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startWorker, findEngine, rng } from './worker_client.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BUILD = process.env.NN_NATIVE_BUILD ?? join(ROOT, 'build');

const POSITIVE = ['wonderful', 'brilliant', 'superb', 'loved', 'beautiful', 'great', 'touching', 'delightful'];
const NEGATIVE = ['awful', 'boring', 'terrible', 'waste', 'dull', 'worst', 'stupid', 'tedious'];
const FILLER = ['the', 'film', 'movie', 'was', 'and', 'a', 'it', 'story', 'acting', 'plot', 'i', 'this'];

function review(words, next, n) {
  const pick = (list) => list[Math.floor(next() * list.length)];
  const out = [];
  for (let i = 0; i < n; i++) out.push(next() < 0.4 ? pick(words) : pick(FILLER));
  return out.join(' ');
}

// Labelled train/test reviews, and unlabelled ones (train/unsup) whose
// sentiment words keep company with each other.
function writeDataset(dir) {
  const next = rng(99);
  for (const split of ['train', 'test']) {
    for (const label of ['pos', 'neg']) {
      const folder = join(dir, 'aclImdb', split, label);
      mkdirSync(folder, { recursive: true });
      for (let i = 0; i < 30; i++) {
        const rating = label === 'pos' ? 8 : 2;
        writeFileSync(join(folder, `${i}_${rating}.txt`), review(label === 'pos' ? POSITIVE : NEGATIVE, next, 20));
      }
    }
  }
  const unsup = join(dir, 'aclImdb', 'train', 'unsup');
  mkdirSync(unsup, { recursive: true });
  for (let i = 0; i < 300; i++) writeFileSync(join(unsup, `${i}_0.txt`), review(i % 2 ? POSITIVE : NEGATIVE, next, 25));
}


let tmp, w, V;
const W2V = { embed_dim: 8, w2v_epochs: 10, w2v_window: 10, w2v_sample: 0, seed: 3, val_size: 10 };

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'nn-pretrain-test-'));
  writeDataset(tmp);
  const tool = process.env.IMDB_BUILD_SHARD ?? join(BUILD, 'imdb_build_shard');
  assert.ok(existsSync(tool), `${tool} not found: build the native tools (cmake -S . -B build && cmake --build build)`);
  execFileSync(tool, ['--source', tmp, '--out', join(tmp, 'out'), '--quiet'], { stdio: 'pipe' });
  w = startWorker();
  await w.request('init', { engineUrl: pathToFileURL(findEngine()).href });
});

after(async () => {
  await w?.worker.terminate();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('presets come from the engine, the first being the defaults', async () => {
  const { presets } = await w.request('presets', {});
  assert.deepEqual(presets.map((p) => p.name),
    ['tutorial-bag', 'tutorial-lstm', 'tutorial-gru', 'tutorial-bilstm', 'tutorial-pretrained', 'tutorial-mlp',
     'ngram', 'tutorial-transformer', 'transformer-pretrained']);
  const lstm = presets[1].config;
  assert.equal(lstm.model, 'lstm');
  assert.equal(lstm.maxlen, 250);
  assert.equal(lstm.padding, 'pre');
  assert.equal(lstm.batch_size, 128);
  const pre = presets[4].config;
  assert.equal(pre.embedding_init, 'word2vec');
  assert.equal(pre.train_size, 1000);
  assert.equal(pre.w2v_window, 20);
  assert.equal(presets[0].config.model, 'bag');
  assert.equal(presets[0].config.embedding_init, 'uniform');
});

test('the unlabelled reviews need the main shard first, and load with progress', async () => {
  const url = pathToFileURL(join(tmp, 'out', 'imdb-unsup.shard')).href;
  await assert.rejects(w.request('loadCorpus', { url }), (e) => e.op === 'loadCorpus' && /imdb\.shard/.test(e.message));
  const info = await w.request('loadShard', { url: pathToFileURL(join(tmp, 'out', 'imdb.shard')).href });
  V = info.vocab_size;
  await assert.rejects(w.request('loadCorpus', { url: pathToFileURL(join(tmp, 'out', 'imdb.shard')).href }),
    (e) => /unsup/.test(e.message), 'the main shard is not a corpus of unlabelled reviews');
  const first = w.events.length;
  const corpus = await w.request('loadCorpus', { url });
  assert.equal(corpus.reviews, 300);
  assert.ok(w.events.slice(first).some((e) => e.type === 'corpusProgress'), 'corpusProgress events');
});

test('a word2vec config is refused until the vectors are trained', async () => {
  await assert.rejects(w.request('configure', { vocab_size: V, ...W2V, embedding_init: 'word2vec' }),
    (e) => e.op === 'configure' && /pretrain/.test(e.message));
});

test('pretraining streams progress, answers requests meanwhile, and learns who keeps company', async (t) => {
  const first = w.events.length;
  const done = w.waitFor('pretrainDone');
  assert.deepEqual(await w.request('pretrain', { vocab_size: V, ...W2V }), { started: true });
  await assert.rejects(w.request('configure', { vocab_size: V }), (e) => /word vectors are being trained/.test(e.message));
  await assert.rejects(w.request('pretrain', { vocab_size: V }), (e) => /word vectors are being trained/.test(e.message));
  const d = (await done).data;
  const progress = w.events.slice(first).filter((e) => e.type === 'pretrainProgress').map((e) => e.data);
  assert.ok(progress.length >= 1, 'pretrainProgress events');
  assert.ok(progress.every((p, i) => i === 0 || p.fraction >= progress[i - 1].fraction), 'progress only grows');
  const last = progress.at(-1);
  assert.equal(last.fraction, 1);
  assert.equal(last.epoch, 10);
  assert.equal(last.tokens, last.tokensTotal);
  assert.ok(Number.isFinite(last.loss) && last.loss > 0, `loss ${last.loss}`);
  assert.ok(d.ms > 0 && d.wordsPerSec > 0 && d.pairs > 0, JSON.stringify(d));
  t.diagnostic(`${d.tokens} words in ${d.ms.toFixed(0)} ms (${Math.round(d.wordsPerSec)} words/s)`);

  const { neighbours } = await w.request('nearest', { words: ['wonderful', 'awful', 'nonexistentword'], k: 4 });
  const near = (word) => neighbours[word].map((n) => n.word);
  t.diagnostic(`wonderful: ${near('wonderful')}; awful: ${near('awful')}`);
  assert.equal(neighbours.wonderful.length, 4);
  const positives = near('wonderful').filter((x) => POSITIVE.includes(x)).length;
  const negatives = near('awful').filter((x) => NEGATIVE.includes(x)).length;
  assert.ok(positives >= 3 && negatives >= 3, 'the nearest words share the sentiment');
  assert.deepEqual(neighbours.nonexistentword, []);
});

test('a model starts from the vectors only with the same settings, and trains', async () => {
  await assert.rejects(w.request('configure', { vocab_size: V, ...W2V, w2v_window: 7, embedding_init: 'word2vec' }),
    (e) => /other settings/.test(e.message));
  const config = await w.request('configure', {
    vocab_size: V, ...W2V, embedding_init: 'word2vec', maxlen: 32, hidden: 8, batch_size: 16, epochs: 2, val_size: 10,
  });
  assert.equal(config.embedding_init, 'word2vec');
  const done = w.waitFor('done');
  await w.request('train', {});
  const d = (await done).data;
  assert.equal(d.history.length, 2);
  // Its checkpoint round-trips (the embedding is in it, no vectors needed).
  const { bytes } = await w.request('exportCheckpoint', {});
  const back = await w.request('importCheckpoint', { bytes });
  assert.equal(back.config.embedding_init, 'word2vec');
});

test('stopPretrain stops at once and leaves no half-trained vectors', async () => {
  await w.request('pretrain', { vocab_size: V, ...W2V, w2v_epochs: 100 });
  await new Promise((r) => setTimeout(r, 30));
  const { state } = await w.request('stopPretrain', {});
  assert.equal(state, 'idle');
  await assert.rejects(w.request('configure', { vocab_size: V, ...W2V, w2v_epochs: 100, embedding_init: 'word2vec' }),
    (e) => /not|pretrain/.test(e.message));
});
