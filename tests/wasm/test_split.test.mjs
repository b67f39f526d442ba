// test_split.test.mjs: a shard's test reviews attached after the rest
// (nnw_expect_test, nnw_attach_test; web/worker/testsplit.js), as the
// static site sends them: build/imdb_split_shard cuts a shard in two, the
// worker loads the first half (loadShard {bytes, expectTest}), trains, the
// run waits at its end for the test reviews (event testWaiting), and after
// attachTest {bytes} gives its test result, the same bit for bit as a run
// on the whole shard; the history too. A test file of another vocabulary,
// a truncated one and a damaged one are refused with a message; a
// diagnosis of 'test' meanwhile says the test reviews are still downloading.
//
//   node --no-experimental-fetch --test tests/wasm/test_split.test.mjs
//
// Needs web/engine/engine.js (scripts/build-wasm.sh) and the native
// build/imdb_split_shard (cmake --build build). The sentences are written here.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startWorker, findEngine, rng } from './worker_client.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BUILD = process.env.NN_NATIVE_BUILD ?? join(ROOT, 'build');
const SPLIT_TOOL = join(BUILD, 'imdb_split_shard');

const WORDS = {
  good: ['wonderful', 'superb', 'moving', 'funny', 'brilliant', 'charming', 'gripping'],
  bad: ['boring', 'awful', 'dull', 'clumsy', 'tedious', 'silly', 'wooden'],
};
const FILLER = ['the', 'film', 'was', 'and', 'a', 'plot', 'actors', 'really', 'quite', 'story'];
const OTHER = ['apple', 'pear', 'plum', 'fig', 'kiwi', 'lime', 'date'];

// n lines "label<TAB>text", seeded; words: the two classes' words.
function corpus(n, seed, words = WORDS) {
  const next = rng(seed);
  const pick = (list) => list[Math.floor(next() * list.length)];
  const labels = Object.keys(words);
  const lines = [];
  for (let i = 0; i < n; i++) {
    const label = labels[i % 2];
    lines.push(`${label}\t${[pick(FILLER), pick(words[label]), pick(FILLER), pick(FILLER), pick(words[label]), pick(FILLER)].join(' ')}`);
  }
  return `${lines.join('\n')}\n`;
}

const CONFIG = { model: 'bag', maxlen: 12, embed_dim: 8, hidden: 8, batch_size: 16, epochs: 3, val_size: 40, lr: 0.02, seed: 7 };

let tmp, w;
const whole = {}, other = {}; // {bytes, main, test, info}

// The shard the worker builds from text, and its two halves from the native tool.
async function shardAndHalves(name, text, testText) {
  const r = await w.request('buildLabelledShard', { text, testText });
  const file = join(tmp, `${name}.shard`);
  writeFileSync(file, Buffer.from(r.bytes));
  const out = execFileSync(SPLIT_TOOL, [file, join(tmp, `${name}-main.shard`), join(tmp, `${name}-test.shard`)], { encoding: 'utf8' });
  const said = JSON.parse(out);
  return {
    bytes: Buffer.from(r.bytes), info: r.info, said,
    main: readFileSync(join(tmp, `${name}-main.shard`)), test: readFileSync(join(tmp, `${name}-test.shard`)),
  };
}

const ab = (buf) => buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length); // a copy to transfer

async function trainToDone() {
  const done = w.waitFor('done', 120000);
  await w.request('train', {});
  return (await done).data;
}

before(async () => {
  assert.ok(existsSync(SPLIT_TOOL), `${SPLIT_TOOL} not found: build the native tools (cmake --build build)`);
  tmp = mkdtempSync(join(tmpdir(), 'nn-test-split-'));
  w = startWorker();
  await w.request('init', { engineUrl: pathToFileURL(findEngine()).href });
  Object.assign(whole, await shardAndHalves('whole', corpus(400, 1), corpus(120, 2)));
  Object.assign(other, await shardAndHalves('other', corpus(400, 3, { good: WORDS.good, bad: OTHER }), corpus(120, 4, { good: WORDS.good, bad: OTHER })));
});

after(async () => {
  await w?.worker.terminate();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('imdb_split_shard cuts a shard into its training half (with the vocabulary) and its test split alone', async () => {
  assert.equal(whole.said.test.reviews, 120);
  assert.equal(whole.said.main.reviews, whole.info.splits.train);
  assert.ok(whole.main.length + whole.test.length > whole.bytes.length * 0.9, 'the halves hold the whole shard');
  const main = await w.request('loadShard', { bytes: ab(whole.main) });
  assert.deepEqual(main.splits, { train: whole.info.splits.train }, 'the first half has no test split');
  assert.equal(main.vocab_crc, whole.info.vocab_crc, 'and the whole shard\'s vocabulary');
  assert.equal(whole.test.readUInt32LE(24), 0, 'the test file has no vocabulary (V = 0)');
  assert.equal(whole.test.readUInt32LE(28), whole.info.vocab_crc, 'and records the first file\'s vocab_crc');
});

test('a run on the first half waits at its end for the test reviews, then gives the whole shard\'s test result and history bit for bit', async () => {
  await w.request('loadShard', { bytes: ab(whole.bytes) });
  await w.request('configure', { ...CONFIG, vocab_size: whole.info.vocab_size });
  const reference = await trainToDone();
  assert.ok(reference.test && reference.test.acc > 0.5, `the whole shard's run has a test result: ${JSON.stringify(reference.test)}`);

  const info = await w.request('loadShard', { bytes: ab(whole.main), expectTest: 120 });
  assert.equal(info.test_pending, 120, 'the shard info says 120 test reviews are to come');
  await w.request('configure', { ...CONFIG, vocab_size: whole.info.vocab_size });
  const waiting = w.waitFor('testWaiting', 120000);
  const done = w.waitFor('done', 120000);
  await w.request('train', {});
  await waiting;
  // Meanwhile the test set cannot be read: the engine says why.
  await assert.rejects(w.request('diagnose', { split: 'test' }), /test reviews are still downloading/);
  await assert.rejects(w.request('evaluate', { split: 'test' }), /test reviews are still downloading/);
  await assert.rejects(w.request('review', { split: 'test' }), /test reviews are still downloading/);
  let early = false;
  done.then(() => { early = true; });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(early, false, 'no done event before the test reviews are attached');
  const attached = await w.request('attachTest', { bytes: ab(whole.test) });
  assert.equal(attached.info.splits.test, 120);
  assert.equal(attached.info.test_pending, undefined, 'nothing is pending any more');
  const got = (await done).data;
  assert.deepEqual(got.history, reference.history, 'the same history');
  assert.equal(got.test.loss, reference.test.loss, 'the same test loss, bit for bit');
  assert.equal(got.test.acc, reference.test.acc, 'the same test accuracy');
  // And a diagnosis of 'test' now reads them.
  const diag = await w.request('diagnose', { split: 'test', words: false });
  assert.equal(diag.n, 120);
});

test('a model configured after the test reviews arrived trains as on the whole shard', async () => {
  await w.request('loadShard', { bytes: ab(whole.bytes) });
  await w.request('configure', { ...CONFIG, vocab_size: whole.info.vocab_size });
  const reference = await trainToDone();
  await w.request('loadShard', { bytes: ab(whole.main), expectTest: 120 });
  await w.request('attachTest', { bytes: ab(whole.test) });
  await w.request('configure', { ...CONFIG, vocab_size: whole.info.vocab_size });
  const got = await trainToDone();
  assert.deepEqual(got.history, reference.history);
  assert.equal(got.test.loss, reference.test.loss);
});

test('a test file of another vocabulary, a truncated one and a damaged one are refused with a message, and the right one is then taken', async () => {
  await w.request('loadShard', { bytes: ab(whole.main), expectTest: 120 });
  await w.request('configure', { ...CONFIG, vocab_size: whole.info.vocab_size });
  await assert.rejects(w.request('attachTest', { bytes: ab(other.test) }), /another vocabulary .*different builds/);
  await assert.rejects(w.request('attachTest', { bytes: ab(whole.test.subarray(0, whole.test.length - 100)) }), /truncated/);
  const bad = Buffer.from(whole.test);
  bad[bad.length >> 1] ^= 0x21;
  await assert.rejects(w.request('attachTest', { bytes: ab(bad) }), /checksum|corrupt/i);
  await assert.rejects(w.request('attachTest', { bytes: ab(whole.main) }), /one split, "test"/, 'the first half is not a test file');
  const info = (await w.request('attachTest', { bytes: ab(whole.test) })).info;
  assert.equal(info.splits.test, 120);
  await assert.rejects(w.request('attachTest', { bytes: ab(whole.test) }), /no test split is expected/, 'attached once');
});

test('a test file of another count than expected is refused, and a shard that has its test split expects none', async () => {
  await w.request('loadShard', { bytes: ab(whole.main), expectTest: 121 });
  await assert.rejects(w.request('attachTest', { bytes: ab(whole.test) }), /120 reviews, but 121 were expected/);
  await assert.rejects(w.request('loadShard', { bytes: ab(whole.bytes), expectTest: 120 }), /has its test split already/);
});
