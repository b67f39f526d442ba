// diagnosis.test.mjs: the diagnosis requests of web/PROTOCOL.md and the
// stop-word filter, on the real wasm module, through web/worker/worker.js (in a
// Node worker thread, web_worker_shim.mjs), against the native tools.
//
//   node --no-experimental-fetch --test tests/wasm/
//
// Needs web/engine/engine.js (scripts/build-wasm.sh) and the native
// build/imdb_build_shard, imdb_train and imdb_predict (cmake --build build).
// A tiny IMDB-shaped dataset is written here and built into a shard. The
// stop-word checks compare the ids the worker's model reads with the ids
// imdb_predict --ids prints for the same checkpoint, and a training run with
// stop words with imdb_train's: the same list removes the same ids in both.
// Timings are printed (t.diagnostic), never asserted.
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

const POSITIVE = ['a wonderful moving film', 'the story was brilliant and the cast superb', 'i loved this movie',
  'excellent direction and a touching script', 'truly great, the best of the year', 'a delightful gem'];
const NEGATIVE = ['a dull boring mess', 'the acting was terrible and the story a waste', 'worst film ever, bad ending',
  'poor direction and a stupid script', 'truly awful, the worst of the year', 'a tedious failure'];
const NEUTRAL = ['i saw it on a sunday with my brother.', 'it is not on television.', 'the film runs about two hours.',
  'my friend had read the book first.', 'we did not know the director.'];
const PER_FOLDER = 60;

function writeDataset(dir) {
  const next = rng(777);
  const pick = (list) => list[Math.floor(next() * list.length)];
  for (const split of ['train', 'test']) {
    for (const label of ['pos', 'neg']) {
      const folder = join(dir, 'aclImdb', split, label);
      mkdirSync(folder, { recursive: true });
      for (let i = 0; i < PER_FOLDER; i++) {
        const words = label === 'pos' ? POSITIVE : NEGATIVE;
        // Some reviews carry a sentence of the other class: the diagnosis
        // needs a few mistakes to list.
        const other = next() < 0.15 ? (label === 'pos' ? NEGATIVE : POSITIVE) : words;
        const text = [pick(words), pick(NEUTRAL), pick(other), pick(NEUTRAL)].join(' ');
        writeFileSync(join(folder, `${i}_${label === 'pos' ? 8 : 2}.txt`), text);
      }
    }
  }
}

// ------------------------------------------------------------ the worker


let tmp, shardPath, w, trained;

const SMALL = {
  maxlen: 32, embed_dim: 8, hidden: 8, batch_size: 16, epochs: 4,
  val_size: 40, lr: 0.02, seed: 5, padding: 'post', pooling: 'keras',
};

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'nn-diag-test-'));
  writeDataset(tmp);
  const tool = join(BUILD, 'imdb_build_shard');
  assert.ok(existsSync(tool), `${tool} not found: build the native tools (cmake -S . -B build && cmake --build build)`);
  execFileSync(tool, ['--source', tmp, '--out', join(tmp, 'out'), '--quiet'], { stdio: 'pipe' });
  shardPath = join(tmp, 'out', 'imdb.shard');
  w = startWorker();
  await w.request('init', { engineUrl: pathToFileURL(findEngine()).href });
  const info = await w.request('loadShard', { url: pathToFileURL(shardPath).href });
  SMALL.vocab_size = info.vocab_size;
});

after(async () => {
  await w?.worker.terminate();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function train(config) {
  await w.request('configure', config);
  const first = w.events.length;
  const done = w.waitFor('done');
  await w.request('train', {});
  const d = (await done).data;
  return { ...d, epochs: w.events.slice(first).filter((e) => e.type === 'epoch').map((e) => e.data) };
}

// ------------------------------------------------------------------ tests

test('before any model, diagnose fails with a message; a labelled text needs no model', async () => {
  await assert.rejects(w.request('diagnose', { split: 'val' }), (e) => e.op === 'diagnose' && /configure/.test(e.message));
  await assert.rejects(w.request('diagnoseThreshold', { threshold: 0.3 }), (e) => /diagnose again/.test(e.message));
});

test('after training, diagnose val: the confusion matrix sums to the validation size and agrees with val_acc', async (t) => {
  trained = await train(SMALL);
  assert.ok(trained.epochs.every((e) => e.weightsKept === true), 'every epoch weights kept');
  const d = await w.request('diagnose', { split: 'val', threshold: 0.5, k: 5 });
  const c = d.at.confusion;
  assert.equal(d.n, SMALL.val_size);
  assert.equal(c.tp + c.fp + c.tn + c.fn, SMALL.val_size, 'the matrix sums to the validation size');
  assert.equal(d.positives + d.negatives, SMALL.val_size);
  const valAcc = trained.history.at(-1).val_acc;
  assert.ok(Math.abs(d.at.accuracy - valAcc) < 1e-6, `accuracy at 0.5 ${d.at.accuracy} = val_acc ${valAcc}`);
  assert.ok(Math.abs(d.logLoss - trained.history.at(-1).val_loss) < 1e-4, `log loss ${d.logLoss} = val_loss`);
  assert.ok(d.auc > 0.9 && d.auc <= 1, `AUC ${d.auc}`);
  for (const a of [d.roc.fpr, d.roc.tpr, d.pr.recall, d.pr.precision, d.calibration.count, d.histogram.positive])
    assert.ok(a instanceof Float32Array && a.length >= 2, 'curves arrive as Float32Arrays');
  assert.equal(d.roc.fpr[0], 0);
  assert.equal(d.roc.tpr.at(-1), 1);
  assert.equal(d.calibration.count.reduce((a, b) => a + b, 0), SMALL.val_size);
  assert.equal(d.histogram.positive.reduce((a, b) => a + b, 0), d.positives);
  const pos = d.words.positive.map((x) => x.word), neg = d.words.negative.map((x) => x.word);
  t.diagnostic(`words towards positive: ${pos.slice(0, 8).join(' ')}; towards negative: ${neg.slice(0, 8).join(' ')}`);
  assert.ok(['wonderful', 'brilliant', 'loved', 'excellent', 'great', 'delightful', 'best'].some((x) => pos.includes(x)), pos.join(' '));
  assert.ok(['dull', 'boring', 'terrible', 'worst', 'awful', 'bad', 'poor', 'tedious'].some((x) => neg.includes(x)), neg.join(' '));
  for (const x of d.words.positive) assert.ok(x.polarity > 0 && x.count > 0 && Number.isInteger(x.id));
  t.diagnostic(`diagnosis of ${d.n} reviews: ${d.reviewsMs.toFixed(2)} ms (reviews) + ${d.wordsMs.toFixed(2)} ms (words) in the engine, ${d.wallMs.toFixed(2)} ms in the worker, ${d.steps} step(s)`);

  // The threshold moves the matrix; the lists follow it.
  const low = await w.request('diagnoseThreshold', { threshold: 0.05, k: 5 });
  const high = await w.request('diagnoseThreshold', { threshold: 0.95, k: 5 });
  assert.ok(low.confusion.tp + low.confusion.fp > high.confusion.tp + high.confusion.fp, 'a lower threshold predicts more positives');
  assert.equal(high.confusion.tp + high.confusion.fp + high.confusion.tn + high.confusion.fn, SMALL.val_size);
  assert.equal(low.falsePositives.length, Math.min(5, low.confusion.fp));
  assert.equal(high.falseNegatives.length, Math.min(5, high.confusion.fn));
  await assert.rejects(w.request('diagnoseThreshold', { threshold: 2 }), (e) => /threshold/.test(e.message));

  // A listed review, decoded and coloured with the diagnosed weights.
  const index = low.falsePositives[0] ?? low.uncertain[0];
  const ex = await w.request('diagnoseExample', { index });
  assert.equal(ex.index, index);
  assert.ok(ex.label === 0 || ex.label === 1);
  assert.equal(ex.split, 'train');
  assert.ok(Number.isInteger(ex.source));
  assert.ok(Math.abs(ex.explainScore - ex.score) < 1e-6, `the explained score ${ex.explainScore} is the listed ${ex.score}`);
  assert.equal(ex.tokens.map((tk) => ex.text.slice(tk.start, tk.end)).join(' '), ex.text, 'the spans tile the decoded text');
  const review = await w.request('review', { split: 'train', index: ex.source });
  assert.equal(review.text, ex.text, 'the same text as review() decodes');
  await assert.rejects(w.request('diagnoseExample', { index: 1e6 }), (e) => /out of range/.test(e.message));

  const words = await w.request('diagnoseWords', { k: 3, by: 'polarity', minCount: 2 });
  assert.ok(words.positive.length <= 3 && words.positive.every((x) => x.count >= 2));
});

test('diagnose an earlier epoch and the test split', async () => {
  const now = await w.request('diagnose', { split: 'val' });
  const first = await w.request('diagnose', { split: 'val', epoch: 1 });
  const last = await w.request('diagnose', { split: 'val', epoch: SMALL.epochs });
  assert.equal(first.epoch, 1);
  assert.notEqual(first.logLoss, now.logLoss, 'epoch 1 has other weights');
  assert.ok(Math.abs(first.logLoss - trained.history[0].val_loss) < 1e-4, `epoch 1 log loss ${first.logLoss} = its val_loss ${trained.history[0].val_loss}`);
  assert.equal(last.logLoss, now.logLoss, 'the last epoch is the current weights');
  await assert.rejects(w.request('diagnose', { split: 'val', epoch: 99 }), (e) => /not kept/.test(e.message));
  const test = await w.request('diagnose', { split: 'test', words: false });
  assert.equal(test.n, 2 * PER_FOLDER);
  assert.equal(test.words, null);
  assert.ok(Math.abs(test.at.accuracy - trained.test.acc) < 1e-6, 'test accuracy matches the run\'s');
  // The example of a test review names the test split.
  const ex = await w.request('diagnoseExample', { index: 3 });
  assert.equal(ex.split, 'test');
  assert.equal(ex.source, 3);
});

test('a labelled text with two malformed lines reports both; the rest is diagnosed', async () => {
  const lines = [
    'pos\tA wonderful film, brilliant and moving.',
    'neg\tA dull and boring mess.',
    'maybe\tnot sure about this one',
    '1\tI loved it, excellent!',
    'this line has no tab at all',
    '0\tThe worst film, terrible acting.',
    '',
  ];
  const info = await w.request('labelledText', { text: lines.join('\n'), format: 'auto' });
  assert.equal(info.examples, 4);
  assert.equal(info.malformed, 2);
  assert.deepEqual(info.problems.map((p) => p.line), [3, 5]);
  assert.match(info.problems[0].reason, /label "maybe"/);
  assert.match(info.problems[1].reason, /no tab/);
  const d = await w.request('diagnose', { split: 'text', k: 4 });
  assert.equal(d.n, 4);
  const c = d.at.confusion;
  assert.equal(c.tp + c.fp + c.tn + c.fn, 4);
  const ex = await w.request('diagnoseExample', { index: 2 });
  assert.equal(ex.line, 4);
  assert.equal(ex.text, 'I loved it, excellent!');
  const p = await w.request('predict', { text: ex.text });
  assert.ok(Math.abs(p.score - ex.score) < 1e-6, 'a text scores as the review box scores it');

  const csv = '\ufefflabel,text\r\n1,"Great, ""really"" great"\r\n0,"cut short';
  const info2 = await w.request('labelledText', { bytes: new TextEncoder().encode(csv).buffer, format: 'csv' });
  assert.equal(info2.format, 'csv');
  assert.equal(info2.header, true);
  assert.equal(info2.examples, 1);
  assert.deepEqual(info2.problems.map((x) => x.line), [3]);
  const bad = new Uint8Array([0x31, 0x09, 0x63, 0x61, 0x66, 0xe9, 0x0a]); // "1\tcaf\xe9\n": Latin-1
  const info3 = await w.request('labelledText', { bytes: bad.buffer, format: 'tsv' }, [bad.buffer]);
  assert.equal(info3.examples, 0);
  assert.match(info3.problems[0].reason, /UTF-8/);
  await assert.rejects(w.request('diagnose', { split: 'text' }), (e) => /every line was malformed/.test(e.message));
});

test('strings come through the engine\'s JSON intact: quotes, backslashes, control characters, UTF-8', async () => {
  // The text of a labelled example comes back in diagnoseExample's JSON,
  // and a bad label in a problem's reason (printed as ASCII, '?' for the rest).
  const tricky = 'He said "great" \\ not \\u0041 \\"; bell\u0007 \u0001\u001f\b\f\ttab, DEL\u007f café 🎬 naïve \u2028 日本 end';
  const badLabel = '"x\\u12 "y"';
  const lines = [`1\t${tricky}`, `${badLabel}\tsome text`, '0\ta dull and boring mess'];
  const info = await w.request('labelledText', { text: lines.join('\n'), format: 'tsv' });
  assert.equal(info.examples, 2);
  assert.deepEqual(info.problems.map((p) => p.line), [2]);
  assert.ok(info.problems[0].reason.includes(`"${badLabel}"`), `the reason quotes the label: ${info.problems[0].reason}`);
  await w.request('diagnose', { split: 'text', k: 2 });
  const ex = await w.request('diagnoseExample', { index: 0 });
  assert.equal(ex.line, 1);
  assert.equal(ex.text, tricky);
  assert.ok(ex.tokens.some((tk) => ex.text.slice(tk.start, tk.end) === 'café'), 'the spans index the same text');
});

test('diagnosing while training runs: replies come, training goes on', async (t) => {
  await w.request('configure', { ...SMALL, epochs: 10000 });
  const firstEpoch = w.waitFor('epoch');
  await w.request('train', {});
  await firstEpoch;
  const t0 = performance.now();
  const d = await w.request('diagnose', { split: 'val' });
  const ms = performance.now() - t0;
  assert.equal(d.n, SMALL.val_size);
  const before = w.events.length;
  await w.waitFor('epoch');
  assert.ok(w.events.length > before, 'training continued');
  await w.request('stop', {});
  t.diagnostic(`diagnose while training: ${ms.toFixed(1)} ms round trip`);
});

test('a recurrent model is diagnosed in slices: other requests are answered in between', async (t) => {
  await train({ ...SMALL, model: 'lstm', padding: 'pre', hidden: 8, epochs: 2 });
  const order = [];
  const diagnosis = w.request('diagnose', { split: 'val' }).then((d) => (order.push('diagnose'), d));
  const predict = w.request('predict', { text: 'a wonderful film' }).then((p) => (order.push('predict'), p));
  const [d] = await Promise.all([diagnosis, predict]);
  t.diagnostic(`lstm: ${d.n} reviews in ${d.steps} steps, ${d.reviewsMs.toFixed(1)} + ${d.wordsMs.toFixed(1)} ms`);
  assert.ok(d.steps > 1, `sliced: ${d.steps} steps`);
  assert.deepEqual(order, ['predict', 'diagnose'], 'the predict request was answered during the diagnosis');
  assert.equal(d.n, SMALL.val_size);
  const ex = await w.request('diagnoseExample', { index: 0 });
  assert.ok(Math.abs(ex.explainScore - ex.score) < 1e-6, 'an LSTM example explains to its listed score');
});

// ---------------------------------------------------------- stop words

function nativeIds(ckpt, texts) {
  const out = execFileSync(join(BUILD, 'imdb_predict'), ['--checkpoint', ckpt, '--ids', '--', ...texts], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.startsWith('    ids')).map((l) => l.trim().split(' ').slice(1).map(Number));
}

test('the stop-word setting expands in the engine', async () => {
  const r = await w.request('stopwords', { spec: '@english -not -no +film' });
  assert.equal(r.english.length, 179);
  assert.equal(r.count, 178);
  assert.ok(r.words.includes('film') && !r.words.includes('not') && r.words.includes('the'));
  await assert.rejects(w.request('stopwords', { spec: '@french' }), (e) => /@french/.test(e.message));
  await assert.rejects(w.request('configure', { ...SMALL, stopwords: '@french' }), (e) => /stopwords/.test(e.message));
});

test('stop words: the same ids are removed in the worker and natively, in training and in scoring', async (t) => {
  const spec = '@english -not';
  const cfg = { ...SMALL, stopwords: spec };
  const run = await train(cfg);
  const texts = ['The story was NOT brilliant, and the cast was a dull mess.', 'I loved it: one of the best films of the year!',
    "we didn't know the director; it is on television", 'Café 🎬 and a wonderful film'];
  const { bytes } = await w.request('exportCheckpoint', {});
  const ckpt = join(tmp, 'stop.nnckpt');
  writeFileSync(ckpt, new Uint8Array(bytes));
  const native = nativeIds(ckpt, texts);
  assert.equal(native.length, texts.length);
  for (let i = 0; i < texts.length; i++) {
    const r = await w.request('explain', { text: texts[i] });
    const kept = [1, ...r.tokens.filter((tk) => tk.id >= 0).map((tk) => tk.id)];
    assert.deepEqual(kept, native[i], `"${texts[i]}": the worker reads ${kept}, imdb_predict ${native[i]}`);
    const removed = r.tokens.filter((tk) => tk.id === -1).map((tk) => texts[i].slice(tk.start, tk.end).toLowerCase());
    assert.ok(removed.includes('the') || removed.includes('and') || removed.includes('we'), `stop words removed: ${removed}`);
    assert.ok(!removed.includes('not'), '"not" was taken out of the list');
    for (const tk of r.tokens.filter((x) => x.id === -1)) assert.equal(tk.contribution, 0);
  }
  // Training: the native trainer with the same config gives the same history.
  const configPath = join(tmp, 'stop.json');
  const historyPath = join(tmp, 'stop-history.json');
  writeFileSync(configPath, JSON.stringify(cfg));
  execFileSync(join(BUILD, 'imdb_train'), ['--shard', shardPath, '--config', configPath, '--history', historyPath, '--quiet'], { stdio: 'pipe' });
  const nativeRun = JSON.parse(readFileSync(historyPath, 'utf8'));
  let maxdiff = 0;
  for (const [ours, theirs] of [['loss', 'loss'], ['val_loss', 'val_loss'], ['acc', 'accuracy']])
    for (let i = 0; i < run.history.length; i++)
      maxdiff = Math.max(maxdiff, Math.abs(Math.fround(nativeRun.history[theirs][i]) - Math.fround(run.history[i][ours])));
  t.diagnostic(`with stop words "${spec}": wasm vs native history maxdiff=${maxdiff}`);
  assert.ok(maxdiff <= 1e-6, `histories differ by ${maxdiff}`);
  // Without the list the same model reads other ids.
  const plain = await w.request('configure', SMALL);
  assert.equal(plain.stopwords, '');
  const r = await w.request('explain', { text: texts[0] });
  assert.ok(r.tokens.every((tk) => tk.id !== -1), 'no stop word is removed without the list');
  // Words of the stop list are never rated.
  await train(cfg);
  const d = await w.request('diagnose', { split: 'val', wordsK: 50 });
  const listed = [...d.words.positive, ...d.words.negative].map((x) => x.word);
  assert.ok(!listed.some((x) => ['the', 'and', 'a', 'was'].includes(x)), `no stop word listed: ${listed}`);
});
