// labelled_shard.test.mjs: buildLabelledShard (web/PROTOCOL.md) on the real
// wasm module, through web/worker/worker.js: the user's labelled file
// becomes the session's dataset with its class names, the bytes the worker
// hands back are the very bytes build/imdb_build_shard --labelled writes for
// the same file, they load again as a shard (as after a reload from
// IndexedDB), a two-class file trains, and bad files are refused with a
// message and the report of what was read; the default recipe for the
// shard (labelledRecipe), the K x K confusion of its test texts
// (textConfusion) and the class names a checkpoint keeps.
//
//   node --no-experimental-fetch --test tests/wasm/labelled_shard.test.mjs
//
// Needs web/engine/engine.js (scripts/build-wasm.sh) and the native
// build/imdb_build_shard (cmake --build build). The sentences are written here.
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

const TOPICS = {
  billing: ['invoice', 'refund', 'charge', 'payment', 'receipt', 'price'],
  shipping: ['parcel', 'courier', 'delivery', 'tracking', 'box', 'address'],
  'caf\u00e9': ['espresso', 'croissant', 'latte', 'table', 'terrace', 'menu'],
};
const FILLER = ['the', 'my', 'was', 'again', 'please', 'today', 'still', 'why', 'na\u00efve'];

// n lines "label<TAB>text" of the given topics, seeded.
function corpus(topics, n, seed) {
  const next = rng(seed);
  const pick = (list) => list[Math.floor(next() * list.length)];
  const lines = [];
  for (let i = 0; i < n; i++) {
    const label = topics[i % topics.length];
    lines.push(`${label}\t${[pick(FILLER), pick(TOPICS[label]), pick(FILLER), pick(TOPICS[label]), pick(FILLER)].join(' ')}`);
  }
  return `${lines.join('\n')}\n`;
}

let tmp, w;

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'nn-labelled-test-'));
  w = startWorker();
  await w.request('init', { engineUrl: pathToFileURL(findEngine()).href });
});

after(async () => {
  await w?.worker.terminate();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('a 3-class file builds the same shard bytes as imdb_build_shard --labelled, with its class names', async () => {
  const twice = 'billing\tthe invoice was the refund please\n';
  const text = `label\ttext\n${twice}${corpus(Object.keys(TOPICS), 120, 5)}${twice}`;
  const file = join(tmp, 'three.tsv');
  writeFileSync(file, text);
  const tool = join(BUILD, 'imdb_build_shard');
  assert.ok(existsSync(tool), `${tool} not found: build the native tools (cmake --build build)`);
  execFileSync(tool, ['--labelled', file, '--out', join(tmp, 'three'), '--test-share', '0.25', '--seed', '3', '--quiet'], { stdio: 'pipe' });
  const native = readFileSync(join(tmp, 'three', 'labelled.shard'));

  const r = await w.request('buildLabelledShard', { text, testShare: 0.25, seed: 3 });
  assert.deepEqual(Buffer.from(r.bytes), native, 'the worker built the native tool\'s bytes');
  assert.equal(r.info.classes, 3);
  assert.deepEqual(r.info.class_names, ['billing', 'caf\u00e9', 'shipping'], 'names as written, in byte order');
  assert.equal(r.info.version, 2);
  assert.equal(r.info.splits.train + r.info.splits.test, r.report.train + r.report.test);
  assert.equal(r.report.ok, true);
  assert.equal(r.report.file.header, true, 'the header line is reported');
  assert.deepEqual(r.report.classes.map((c) => c.name), r.info.class_names);
  assert.ok(r.report.duplicates > 0 && r.report.file.duplicates === r.report.duplicates, `duplicates counted: ${r.report.duplicates}`);
  assert.ok(r.ms >= 0);

  // Kept bytes load again, as the page does after a reload.
  const again = await w.request('loadShard', { bytes: r.bytes });
  assert.deepEqual(again.class_names, r.info.class_names);
});

test('bad files are refused with a message that says what to fix, and the report of what was read', async () => {
  await assert.rejects(w.request('buildLabelledShard', { text: '' }), (e) => /empty/.test(e.message) && e.report?.ok === false);
  await assert.rejects(w.request('buildLabelledShard', { text: 'a\tone\na\ttwo\n' }), (e) => /two classes/.test(e.message));
  await assert.rejects(w.request('buildLabelledShard', { text: 'a\tone\na\ttwo\nb\tthree\n' }),
    (e) => /only one example \(line 3\)/.test(e.message));
  await assert.rejects(w.request('buildLabelledShard', { text: 'a\tone\nb\ttw\u0000o\n' }), (e) => /line 2 has a NUL byte/.test(e.message));
  // Latin-1, not UTF-8: "a<TAB>café" and "b<TAB>naïve".
  const latin1 = new Uint8Array([0x61, 0x09, 0x63, 0x61, 0x66, 0xe9, 0x0a, 0x62, 0x09, 0x6e, 0x61, 0xef, 0x76, 0x65, 0x0a]).buffer;
  await assert.rejects(w.request('buildLabelledShard', { bytes: latin1 }),
    (e) => /line 1/.test(e.message) && /UTF-8/.test(e.message) && e.report.file.problems[0].line === 1);
  await assert.rejects(w.request('buildLabelledShard', { bytes: new ArrayBuffer(100 * 1024 * 1024) }),
    (e) => /100\.0 MB/.test(e.message), 'a 100 MB file is refused before it is copied into wasm memory');
  await assert.rejects(w.request('buildLabelledShard', { text: 'a\tb\n', testShare: 0.9 }), (e) => /testShare/.test(e.message));
});

test('a two-class file trains end to end and its test file is scored', async () => {
  const train = corpus(['billing', 'shipping'], 300, 9), test = corpus(['shipping', 'billing'], 60, 10);
  const r = await w.request('buildLabelledShard', { text: train, testText: test });
  assert.equal(r.info.classes, 2);
  assert.equal(r.report.test_file.examples, 60);
  await w.request('configure', { model: 'ngram', vocab_size: r.info.vocab_size, maxlen: 8, bigrams: 200, embed_dim: 8,
    batch_size: 32, epochs: 6, val_size: 40, lr: 0.02, seed: 1 });
  const done = w.waitFor('done');
  await w.request('train', {});
  const d = (await done).data;
  assert.ok(d.test.acc >= 0.95, `test accuracy ${d.test.acc}`);
  const p = await w.request('predict', { text: 'my parcel is still with the courier' });
  assert.ok(p.score > 0.5, `"shipping" (class 1) scores ${p.score}`);
});

test('a model of a labelled file keeps its class names in the checkpoint: it loads on that shard, not on one of other names', async () => {
  const text = corpus(Object.keys(TOPICS), 150, 11);
  const r = await w.request('buildLabelledShard', { text, testShare: 0.2, seed: 2 });
  // The default recipe for a user's shard, as the page starts it.
  const { config } = await w.request('labelledRecipe', {});
  assert.equal(config.model, 'ngram');
  assert.equal(config.classes, 3);
  assert.equal(config.val_size, Math.round(0.2 * r.info.splits.train), 'a fifth of the training texts validate');
  assert.ok(config.vocab_size <= r.info.vocab_size && config.patience === 2, JSON.stringify(config));
  await w.request('configure', { model: 'bag', classes: 3, vocab_size: r.info.vocab_size, maxlen: 8, embed_dim: 8,
    hidden: 8, batch_size: 16, epochs: 1, val_size: 20, lr: 0.02, seed: 1 });
  const done = w.waitFor('done');
  await w.request('train', {});
  await done;
  const before = await w.request('predict', { text: 'the refund for my invoice' });
  // The K x K confusion of the test texts: every one counted once, the diagonal its accuracy.
  const cm = await w.request('textConfusion', { split: 'test' });
  assert.equal(cm.classes, 3);
  assert.deepEqual(cm.classNames, r.info.class_names);
  assert.equal(cm.n, r.info.splits.test);
  assert.equal(cm.matrix.reduce((a, b) => a + b, 0), cm.n, 'the cells add up to the test texts');
  assert.ok(Math.abs((cm.matrix[0] + cm.matrix[4] + cm.matrix[8]) / cm.n - cm.accuracy) < 1e-12, 'accuracy is the diagonal');
  // Each class against the rest: the AUC and AP recounted here by brute force
  // from the probabilities the reply carries (pairs, ties 1/2; the precision
  // at each positive's score, ties as one group).
  assert.equal(cm.oneVsRest.length, 3);
  assert.equal(cm.probs.length, cm.n * 3);
  for (let k = 0; k < 3; k++) {
    const o = cm.oneVsRest[k];
    const s = Array.from({ length: cm.n }, (_, i) => cm.probs[i * 3 + k]);
    const pos = s.filter((_, i) => cm.labels[i] === k), neg = s.filter((_, i) => cm.labels[i] !== k);
    assert.equal(o.positives, pos.length, `class ${k}: positives`);
    let u = 0;
    for (const a of pos) for (const b of neg) u += a > b ? 1 : a === b ? 0.5 : 0;
    const auc = u / (pos.length * neg.length);
    let ap = 0;
    for (const a of pos) {
      const above = s.filter((x) => x >= a).length, posAbove = pos.filter((x) => x >= a).length;
      ap += posAbove / above;
    }
    ap /= pos.length;
    assert.ok(Math.abs(o.auc - auc) < 1e-6, `class ${k}: AUC ${o.auc} against ${auc} by brute force`);
    assert.ok(Math.abs(o.ap - ap) < 1e-6, `class ${k}: AP ${o.ap} against ${ap} by brute force`);
    assert.ok(o.fpr.length >= 2 && o.fpr[0] === 0 && o.tpr[0] === 0 && o.fpr.at(-1) === 1 && o.tpr.at(-1) === 1,
      `class ${k}: the ROC curve runs from (0,0) to (1,1)`);
  }
  await assert.rejects(w.request('textConfusion', { split: 'nope' }), /no texts in 'nope'/);
  const { bytes } = await w.request('exportCheckpoint', {});
  const json = JSON.parse(Buffer.from(bytes).subarray(32, 32 + new DataView(bytes).getUint32(12, true)).toString('utf8'));
  assert.equal(json.version, 3, 'checkpoint format version 3');
  assert.deepEqual(json.class_names, r.info.class_names, 'the class names are in the file');
  await w.request('importCheckpoint', { bytes: bytes.slice(0) });
  const after = await w.request('predict', { text: 'the refund for my invoice' });
  assert.deepEqual(after.classes, before.classes, 'the same classes and probabilities after loading it back');
  // The same texts under other names: the same vocabulary, other classes.
  // ("bills" sorts where "billing" did, so the split and the vocabulary stay the same.)
  const renamed = text.replace(/^billing\t/gm, 'bills\t');
  const other = await w.request('buildLabelledShard', { text: renamed, testShare: 0.2, seed: 2 });
  assert.notDeepEqual(other.info.class_names, r.info.class_names);
  await assert.rejects(w.request('importCheckpoint', { bytes: bytes.slice(0) }), (e) => /classes are not the loaded shard's/.test(e.message),
    'a model of other class names is refused with what to load');
});
