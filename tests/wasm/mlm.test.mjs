// mlm.test.mjs: masked-language-model pretraining of the Transformer through
// the real wasm module and web/worker/worker.js (web/PROTOCOL.md, "mlm.js"):
// pretrainMlm in slices with mlmProgress events, fillMask while and after it
// runs, exportEncoder / importEncoder, and useEncoder starting a configured
// transformer that then trains.
//
//   node --no-experimental-fetch --test tests/wasm/mlm.test.mjs
//
// Builds a tiny IMDB-shaped dataset of sentences written here with the
// native build/imdb_build_shard (as pretrain.test.mjs does): reviews made of
// the sentence "this movie was ADJ", whose every word but the adjective
// follows from its neighbours.
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

const POSITIVE = ['wonderful', 'brilliant', 'superb', 'great'];
const NEGATIVE = ['awful', 'boring', 'terrible', 'dull'];

function review(words, next, sentences) {
  const out = [];
  for (let i = 0; i < sentences; i++) out.push(`this movie was ${words[Math.floor(next() * words.length)]} .`);
  return out.join(' ');
}

function writeDataset(dir) {
  const next = rng(7);
  for (const split of ['train', 'test']) {
    for (const label of ['pos', 'neg']) {
      const folder = join(dir, 'aclImdb', split, label);
      mkdirSync(folder, { recursive: true });
      for (let i = 0; i < 40; i++)
        writeFileSync(join(folder, `${i}_${label === 'pos' ? 8 : 2}.txt`), review(label === 'pos' ? POSITIVE : NEGATIVE, next, 4));
    }
  }
  const unsup = join(dir, 'aclImdb', 'train', 'unsup');
  mkdirSync(unsup, { recursive: true });
  for (let i = 0; i < 160; i++) writeFileSync(join(unsup, `${i}_0.txt`), review(i % 2 ? POSITIVE : NEGATIVE, next, 4));
}

let tmp, w, V;
const TINY = () => ({
  model: 'transformer', vocab_size: V, maxlen: 20, embed_dim: 16, heads: 2, blocks: 1, ff_dim: 32, batch_size: 16,
  lr: 0.01, warmup_steps: 10, mlm_lr: 0.01, mlm_warmup_steps: 10, dropout: 0, seed: 5, val_size: 16, epochs: 2,
});

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'nn-mlm-test-'));
  writeDataset(tmp);
  const tool = process.env.IMDB_BUILD_SHARD ?? join(BUILD, 'imdb_build_shard');
  assert.ok(existsSync(tool), `${tool} not found: build the native tools (cmake -S . -B build && cmake --build build)`);
  execFileSync(tool, ['--source', tmp, '--out', join(tmp, 'out'), '--quiet'], { stdio: 'pipe' });
  w = startWorker();
  await w.request('init', { engineUrl: pathToFileURL(findEngine()).href });
  const info = await w.request('loadShard', { url: pathToFileURL(join(tmp, 'out', 'imdb.shard')).href });
  V = info.vocab_size;
});

after(async () => {
  await w?.worker.terminate();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('pretraining needs the unlabelled reviews, and fillMask an encoder', async () => {
  await assert.rejects(w.request('pretrainMlm', { config: TINY() }), (e) => e.op === 'pretrainMlm' && /unlabelled/.test(e.message));
  await assert.rejects(w.request('fillMask', { text: 'this [MASK] was great' }), (e) => /encoder/.test(e.message));
  const corpus = await w.request('loadCorpus', { url: pathToFileURL(join(tmp, 'out', 'imdb-unsup.shard')).href });
  assert.equal(corpus.reviews, 160);
});

test('MLM pretraining streams progress, answers fillMask while it runs, and learns the sentences', async (t) => {
  const first = w.events.length;
  const done = w.waitFor('mlmDone');
  assert.deepEqual(await w.request('pretrainMlm', { config: TINY(), passes: 12 }), { started: true });
  await assert.rejects(w.request('pretrainMlm', { config: TINY() }), (e) => /stopMlm/.test(e.message));
  const early = await w.request('fillMask', { text: 'this [MASK] was great .' });
  assert.equal(early.words.length, 10, 'ten words while pretraining runs');
  const d = (await done).data;
  const progress = w.events.slice(first).filter((e) => e.type === 'mlmProgress').map((e) => e.data);
  assert.ok(progress.length >= 2, 'mlmProgress events');
  assert.ok(progress.every((p, i) => i === 0 || p.reviews >= progress[i - 1].reviews), 'progress only grows');
  const last = progress.at(-1);
  assert.equal(last.fraction, 1);
  assert.equal(last.reviews, 12 * (80 + 160));
  assert.equal(last.pass, 12);
  assert.ok(last.loss < 0.5 * Math.log(V), `masked-token loss ${last.loss} well below log V = ${Math.log(V).toFixed(2)}`);
  assert.ok(last.accuracy > 0.5, `masked accuracy ${last.accuracy}`);
  t.diagnostic(`${d.reviews} reviews in ${d.ms.toFixed(0)} ms (${Math.round(d.reviewsPerSec)} reviews/s); ` +
    `loss ${progress[0].loss?.toFixed(3)} -> ${last.loss.toFixed(3)}, accuracy ${last.accuracy.toFixed(3)}`);

  const { words } = await w.request('fillMask', { text: 'this [MASK] was great .', k: 5 });
  t.diagnostic(`this [MASK] was great . -> ${words.map((x) => `${x.word} ${x.p.toFixed(3)}`).join(', ')}`);
  assert.equal(words.length, 5);
  assert.equal(words[0].word, 'movie');
  assert.ok(words.every((x, i) => i === 0 || x.p <= words[i - 1].p), 'most likely first');
  await assert.rejects(w.request('fillMask', { text: 'this movie was great' }), (e) => /\[MASK\]/.test(e.message));
});

test('the encoder goes out as a file and back, and starts a transformer that trains', async () => {
  const { bytes } = await w.request('exportEncoder', {});
  assert.ok(bytes.byteLength > 1000, `${bytes.byteLength} bytes`);
  const before = await w.request('fillMask', { text: 'this [MASK] was awful .' });
  assert.deepEqual(await w.request('importEncoder', { bytes }), { bytes: bytes.byteLength });
  const after = await w.request('fillMask', { text: 'this [MASK] was awful .' });
  assert.deepEqual(after, before, 'the imported encoder answers as the exported one');

  await w.request('configure', { ...TINY(), lr: 0.003 });
  assert.deepEqual(await w.request('useEncoder', {}), { ok: true });
  await w.request('configure', { ...TINY(), embed_dim: 8 });
  await assert.rejects(w.request('useEncoder', {}), (e) => /embed_dim/.test(e.message));
  await w.request('configure', { ...TINY(), lr: 0.003 });
  await w.request('useEncoder', {});
  const trained = w.waitFor('done');
  await w.request('train', {});
  const { history } = (await trained).data;
  assert.equal(history.length, 2, 'two epochs trained from the encoder');
  assert.ok(history.every((e) => Number.isFinite(e.loss)), JSON.stringify(history));

  // The comparison run (the same config without early stopping) starts from
  // the weights the encoder gave this run, not from a random start: with no
  // early stop to differ, its history is the run's to the last bit.
  const fullDone = w.waitFor('fullDone');
  assert.deepEqual(await w.request('fullRun', {}), { started: true });
  const full = (await fullDone).data;
  assert.equal(full.history.length, 2);
  for (const key of ['loss', 'acc', 'val_loss', 'val_acc'])
    assert.deepEqual(full.history.map((e) => e[key]), history.map((e) => e[key]), `the comparison's ${key} per epoch`);
});
