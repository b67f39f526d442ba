// attention.test.mjs: the attention view's request (`attention`, engine
// nnw_attention*, engine/attention_view.h) in the real wasm module, through
// web/worker/worker.js: a one-block "transformer" on a tiny shard of
// sentences written here; every attention row sums to 1 over the review's
// own positions (so padding gets 0), the tokens are the text's words in
// order, <START> first, with stop words and the maxlen cut left out; 'pre'
// padding moves the window, not the weights; the answer's score is the
// review box's; the weights change as the model trains.
//
//   node --no-experimental-fetch --test tests/wasm/attention.test.mjs
//
// Needs web/engine/engine.js (scripts/build-wasm.sh) and the native
// build/imdb_build_shard (cmake --build build).
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

const POSITIVE = ['a wonderful moving film with great acting', 'i loved this movie and its beautiful ending',
  'the cast was superb and the story brilliant'];
const NEGATIVE = ['a dull boring mess with an awful plot', 'worst film ever with a bad ending',
  'the acting was terrible and the story a waste'];

function writeDataset(dir) {
  const next = rng(4242);
  const pick = (list) => list[Math.floor(next() * list.length)];
  for (const split of ['train', 'test']) {
    for (const label of ['pos', 'neg']) {
      const folder = join(dir, 'aclImdb', split, label);
      mkdirSync(folder, { recursive: true });
      for (let i = 0; i < 32; i++) {
        const list = label === 'pos' ? POSITIVE : NEGATIVE;
        writeFileSync(join(folder, `${i}_${label === 'pos' ? 8 : 2}.txt`), `${pick(list)} . ${pick(list)}`);
      }
    }
  }
}

// One block of 2 heads, width 8: small enough to train in a second.
const TINY = {
  model: 'transformer', maxlen: 24, embed_dim: 8, heads: 2, blocks: 1, ff_dim: 16, dropout: 0,
  batch_size: 16, epochs: 2, val_size: 16, lr: 0.01, warmup_steps: 2, weight_decay: 0.01, seed: 3,
  padding: 'post', truncating: 'pre', patience: 0,
};
const TEXT = 'The film was wonderful, the ending awful!';

let tmp, w;

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'nn-attention-test-'));
  writeDataset(tmp);
  const tool = process.env.IMDB_BUILD_SHARD ?? join(BUILD, 'imdb_build_shard');
  assert.ok(existsSync(tool), `${tool} not found: build the native tools (cmake -S . -B build && cmake --build build)`);
  execFileSync(tool, ['--source', tmp, '--out', join(tmp, 'out'), '--quiet'], { stdio: 'pipe' });
  w = startWorker();
  await w.request('init', { engineUrl: pathToFileURL(findEngine()).href });
  const bytes = new Uint8Array(readFileSync(join(tmp, 'out', 'imdb.shard'))).buffer;
  const info = await w.request('loadShard', { bytes }, [bytes]);
  TINY.vocab_size = info.vocab_size;
});

after(async () => {
  await w?.worker.terminate();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// The (W, W) matrix of block l, head h.
const matrix = (a, l, h) => a.weights.subarray((l * a.heads + h) * a.positions ** 2, (l * a.heads + h + 1) * a.positions ** 2);

function checkRows(a, what) {
  const W = a.positions;
  for (let l = 0; l < a.blocks; l++)
    for (let h = 0; h < a.heads; h++) {
      const m = matrix(a, l, h);
      for (let i = 0; i < W; i++) {
        let sum = 0;
        for (let j = 0; j < W; j++) {
          assert.ok(m[i * W + j] >= 0 && m[i * W + j] <= 1, `${what}: block ${l} head ${h} row ${i} has ${m[i * W + j]}`);
          sum += m[i * W + j];
        }
        assert.ok(Math.abs(sum - 1) < 1e-5, `${what}: block ${l} head ${h} row ${i} sums to ${sum}`);
      }
    }
}

const words = (a, text) => a.tokens.map((t) => (t.start < 0 ? '<START>' : text.slice(t.start, t.end).toLowerCase()));

test('a model of another kind is refused with a message naming the transformer', async () => {
  await w.request('configure', { maxlen: 24, embed_dim: 8, hidden: 8, epochs: 1, val_size: 16, vocab_size: TINY.vocab_size });
  await assert.rejects(w.request('attention', { text: TEXT }), (e) => e.op === 'attention' && /transformer/.test(e.message));
});

let before1;
test('the attention of a typed review: rows sum to 1 over its own words, padding outside the window', async () => {
  await w.request('configure', TINY);
  const a = await w.request('attention', { text: TEXT });
  assert.equal(a.blocks, 1);
  assert.equal(a.heads, 2);
  assert.deepEqual(words(a, TEXT), ['<START>', 'the', 'film', 'was', 'wonderful', 'the', 'ending', 'awful']);
  assert.equal(a.positions, 8, '8 of maxlen 24 positions: the 16 padding positions are not in the window');
  assert.equal(a.weights.length, a.blocks * a.heads * 64);
  checkRows(a, 'post padding');
  assert.equal(a.tokens[0].id, 1, '<START> is id 1');
  const p = await w.request('predict', { text: TEXT });
  assert.ok(Math.abs(p.score - a.score) < 1e-6, `the score ${a.score} is the review box's ${p.score}`);
  before1 = a;
});

test("'pre' padding moves the window; stop words and the maxlen cut leave the window", async () => {
  await w.request('configure', { ...TINY, padding: 'pre' });
  const pre = await w.request('attention', { text: TEXT });
  assert.deepEqual(words(pre, TEXT), words(before1, TEXT));
  checkRows(pre, 'pre padding');
  await w.request('configure', { ...TINY, stopwords: 'the was' });
  const stop = await w.request('attention', { text: TEXT });
  assert.deepEqual(words(stop, TEXT), ['<START>', 'film', 'wonderful', 'ending', 'awful']);
  checkRows(stop, 'stop words');
  await w.request('configure', { ...TINY, maxlen: 5 });
  const cut = await w.request('attention', { text: TEXT });
  assert.equal(cut.positions, 5);
  assert.deepEqual(words(cut, TEXT), ['was', 'wonderful', 'the', 'ending', 'awful'], "'pre' truncation keeps the last 5");
  checkRows(cut, 'truncated');
});

test('two blocks: each has its own rows; the weights change as the model trains', async () => {
  await w.request('configure', { ...TINY, blocks: 2 });
  const a0 = await w.request('attention', { text: TEXT });
  assert.equal(a0.blocks, 2);
  assert.equal(a0.weights.length, 2 * 2 * a0.positions ** 2);
  checkRows(a0, 'two blocks');
  const done = w.waitFor('done');
  await w.request('train', {});
  await done;
  const a1 = await w.request('attention', { text: TEXT });
  checkRows(a1, 'trained');
  let diff = 0;
  for (let i = 0; i < a0.weights.length; i++) diff = Math.max(diff, Math.abs(a0.weights[i] - a1.weights[i]));
  assert.ok(diff > 1e-3, `training changed the attention (max change ${diff})`);
  const again = await w.request('attention', { text: TEXT });
  assert.deepEqual(Array.from(again.weights), Array.from(a1.weights), 'the same weights give the same attention');
});

test('the diagnosis, a kept epoch, model files and the word map work for a transformer unchanged', async () => {
  await w.request('configure', TINY);
  const done = w.waitFor('done');
  await w.request('train', {});
  const d = (await done).data;
  assert.equal(d.history.length, 2);
  const diag = await w.request('diagnose', { split: 'val', k: 3 });
  assert.equal(diag.n, 16);
  assert.ok(Number.isFinite(diag.auc) && Number.isFinite(diag.logLoss), `auc ${diag.auc}, log loss ${diag.logLoss}`);
  const example = await w.request('diagnoseExample', { index: 0 });
  assert.ok(example.tokens.length > 3 && example.tokens.some((t) => t.contribution !== 0), 'a diagnosed review has its words\' contributions');
  const epoch1 = await w.request('diagnose', { split: 'val', epoch: 1 });
  assert.equal(epoch1.epoch, 1);
  const info = await w.request('embedInfo', {});
  assert.deepEqual(info.epochs, [1, 2], `the word map has both epochs (${info.error})`);

  const score = (await w.request('predict', { text: TEXT })).score;
  const att = await w.request('attention', { text: TEXT });
  const { bytes } = await w.request('exportCheckpoint', {});
  await w.request('configure', { ...TINY, seed: 99 });
  const imported = await w.request('importCheckpoint', { bytes }, [bytes]);
  assert.equal(imported.config.model, 'transformer');
  assert.equal((await w.request('predict', { text: TEXT })).score, score, 'a loaded model file scores as the model did');
  const again = await w.request('attention', { text: TEXT });
  assert.deepEqual(Array.from(again.weights), Array.from(att.weights), 'and attends as it did');
});
