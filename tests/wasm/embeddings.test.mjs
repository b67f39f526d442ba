// embeddings.test.mjs: the worker's embedding requests (web/PROTOCOL.md,
// "Embeddings") against the real wasm module, on a tiny made-up dataset whose
// positive and negative words are known, so the answers can be checked:
// snapshots at every epoch, the statistics in each `epoch` event, the map,
// neighbours, the largest changes, the Embedding Projector files, and the
// comparison run without early stopping.
//
//   node --no-experimental-fetch --test tests/wasm/
//
// Needs web/engine/ (scripts/build-wasm.sh) and build/imdb_build_shard.
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

// Reviews made of clearly positive or negative words and neutral filler;
// "zyzzyva" appears in exactly two positive training reviews (a rare word).
const POS = ['wonderful', 'brilliant', 'superb', 'excellent', 'delightful', 'moving', 'great', 'beautiful'];
const NEG = ['awful', 'terrible', 'boring', 'dull', 'tedious', 'stupid', 'horrible', 'worst'];
const FILLER = ['the', 'film', 'movie', 'was', 'a', 'it', 'and', 'of', 'story', 'cast', 'plot', 'i', 'saw', 'this'];

function writeDataset(dir) {
  const next = rng(99);
  const pick = (list) => list[Math.floor(next() * list.length)];
  for (const split of ['train', 'test']) {
    for (const label of ['pos', 'neg']) {
      const folder = join(dir, 'aclImdb', split, label);
      mkdirSync(folder, { recursive: true });
      for (let i = 0; i < 60; i++) {
        const words = [];
        for (let j = 0; j < 12; j++) words.push(next() < 0.35 ? pick(label === 'pos' ? POS : NEG) : pick(FILLER));
        if (split === 'train' && label === 'pos' && i < 2) words.push('zyzzyva');
        writeFileSync(join(folder, `${i}_${label === 'pos' ? 8 : 2}.txt`), words.join(' '));
      }
    }
  }
}


let tmp, w, history;
const CONFIG = {
  maxlen: 16, embed_dim: 8, hidden: 8, batch_size: 16, epochs: 8, val_size: 20, lr: 0.03, seed: 3,
};

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'nn-embed-test-'));
  writeDataset(tmp);
  const tool = process.env.IMDB_BUILD_SHARD ?? join(BUILD, 'imdb_build_shard');
  assert.ok(existsSync(tool), `${tool} not found: build the native tools first`);
  execFileSync(tool, ['--source', tmp, '--out', join(tmp, 'out'), '--quiet'], { stdio: 'pipe' });
  w = startWorker();
  await w.request('init', { engineUrl: pathToFileURL(findEngine()).href });
  const info = await w.request('loadShard', { url: pathToFileURL(join(tmp, 'out', 'imdb.shard')).href });
  CONFIG.vocab_size = info.vocab_size;
});

after(async () => {
  await w?.worker.terminate();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('every epoch event carries that epoch\'s embedding statistics, and the snapshots are kept', async () => {
  await w.request('configure', CONFIG);
  const before = await w.request('embedInfo', {});
  assert.deepEqual(before.epochs, [], 'no snapshots before training');
  assert.ok(before.bytes_per_snapshot >= CONFIG.vocab_size * (8 + 4), `bytes per snapshot ${before.bytes_per_snapshot}`);
  // This dataset is tiny: "frequent" means seen 50 times (the page's default is 1,000).
  assert.deepEqual(await w.request('embedStats', { rareBelow: 3, frequentFrom: 50 }), { stats: [] });
  const first = w.events.length;
  const done = w.waitFor('done');
  await w.request('train', {});
  history = (await done).data.history;
  const epochs = w.events.slice(first).filter((e) => e.type === 'epoch').map((e) => e.data);
  assert.equal(epochs.length, 8);
  for (const e of epochs) {
    assert.equal(e.embed.epoch, e.epoch, 'the statistics are those of the epoch just ended');
    assert.ok(e.embed.frequentNorm > 0 && e.embed.ms >= 0 && e.embed.stored, JSON.stringify(e.embed));
  }
  assert.ok(epochs[7].embed.frequentNorm > epochs[0].embed.frequentNorm, 'frequent words grow');
  const info = await w.request('embedInfo', {});
  assert.deepEqual(info.epochs, [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(info.snapshot_bytes, 8 * info.bytes_per_snapshot);
  assert.equal(info.error, null);
});

test('statistics regroup on request; a word seen twice is rare', async () => {
  const { stats } = await w.request('embedStats', { rareBelow: 3, frequentFrom: 40 });
  assert.equal(stats.length, 8);
  assert.ok(stats.every((s) => s.rareWords >= 1), 'zyzzyva (seen at most twice) is rare');
  assert.ok(stats.every((s) => s.rareShare > 0 && s.rareShare < 1));
  await assert.rejects(w.request('embedStats', { rareBelow: 0, frequentFrom: 5 }), /at least 1/);
});

test('the map puts positive words right and negative words left, with one basis for every epoch', async () => {
  const map = await w.request('embedMap', { basis: 8, words: 30 });
  assert.deepEqual(map.epochs, [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(map.words.length, 30);
  assert.equal(map.xy.length, 8 * 30 * 2);
  assert.equal(map.effect.length, 8 * 30);
  assert.ok(map.explained[0] > 0.5, `the first axis explains ${map.explained[0]}`);
  const last = 7;
  let right = 0, left = 0;
  map.words.forEach((word, i) => {
    const x = map.xy[(last * 30 + i) * 2];
    if (POS.includes(word)) right += x > 0 ? 1 : 0;
    if (NEG.includes(word)) left += x < 0 ? 1 : 0;
    if (POS.includes(word)) assert.ok(map.effect[last * 30 + i] > 0, `${word} has a positive effect`);
  });
  assert.ok(right >= 7 && left >= 7, `positive words right (${right}/8), negative left (${left}/8)`);
  assert.ok(map.counts.every((c) => c >= 0));
  const alone = await w.request('embedMap', { basis: 5, words: 30, basisOnly: true });
  const all5 = await w.request('embedMap', { basis: 5, words: 30 });
  assert.deepEqual(alone.epochs, [5]);
  assert.deepEqual(Array.from(alone.xy), Array.from(all5.xy.subarray(4 * 60, 5 * 60)), 'basisOnly gives that epoch of the full map');
  await assert.rejects(w.request('embedMap', { basis: 99, words: 30 }), /no snapshot/);
});

test('neighbours of a positive word are positive words; unknown and multi-word queries are refused', async () => {
  const r = await w.request('neighbours', { word: 'Wonderful!', epoch: 8, k: 5 });
  assert.equal(r.word, 'wonderful');
  assert.equal(r.neighbours.length, 5);
  const positives = r.neighbours.filter((n) => POS.includes(n.word)).length;
  assert.ok(positives >= 4, `neighbours ${r.neighbours.map((n) => n.word)}`);
  assert.ok(r.neighbours.every((n, i, a) => i === 0 || n.similarity <= a[i - 1].similarity));
  await assert.rejects(w.request('neighbours', { word: 'qwertyuiop', epoch: 8 }), /not among the model's words/);
  await assert.rejects(w.request('neighbours', { word: 'very good', epoch: 8 }), /several words/);
  await assert.rejects(w.request('neighbours', { word: '', epoch: 8 }), /type a word/);
});

test('the largest changes between two epochs, all words and rare ones only', async () => {
  const all = await w.request('memorised', { from: 2, to: 8, k: 6 });
  assert.equal(all.words.length, 6);
  assert.ok(all.words.every((x, i, a) => i === 0 || Math.abs(x.after - x.before) <= Math.abs(a[i - 1].after - a[i - 1].before)));
  const rare = await w.request('memorised', { from: 2, to: 8, countBelow: 3, k: 6 });
  assert.ok(rare.words.length >= 1 && rare.words.every((x) => x.count < 3 && x.count >= 1));
  assert.ok(rare.words.some((x) => x.word === 'zyzzyva'), JSON.stringify(rare.words));
});

test('the Embedding Projector files: one vector and one metadata line per word', async () => {
  const r = await w.request('projectorTsv', { epoch: 8 });
  const vectors = r.vectors.trimEnd().split('\n');
  const meta = r.metadata.trimEnd().split('\n');
  assert.equal(vectors.length, CONFIG.vocab_size - 4);
  assert.equal(meta.length, vectors.length + 1, 'metadata has a header line');
  assert.equal(meta[0], 'word\ttraining count\teffect');
  assert.ok(vectors.every((l) => l.split('\t').length === 8 && l.split('\t').every((x) => Number.isFinite(Number(x)))));
  assert.ok(meta.slice(1).every((l) => l.split('\t').length === 3));
});

test('the comparison run trains the same config without early stopping', async (t) => {
  await w.request('configure', { ...CONFIG, patience: 1, restore_best_weights: true, epochs: 12, lr: 0.1, min_delta: 0.05 });
  const done = w.waitFor('done');
  await w.request('train', {});
  const stopped = (await done).data;
  const fullDone = w.waitFor('fullDone');
  const first = w.events.length;
  assert.deepEqual(await w.request('fullRun', {}), { started: true });
  const full = (await fullDone).data;
  const fullEpochs = w.events.slice(first).filter((e) => e.type === 'fullEpoch');
  assert.equal(full.history.length, 12, 'the comparison runs every epoch');
  assert.equal(fullEpochs.length, 12);
  assert.ok(full.test && full.test.acc > 0.5);
  assert.ok(stopped.stoppedEarly, `patience 1 stops this run early: ${stopped.history.map((h) => h.val_loss.toFixed(4))}`);
  const n = stopped.history.length;
  t.diagnostic(`stopped after epoch ${n} (best ${stopped.bestEpoch}); test acc ${stopped.test.acc} vs ${full.test.acc} without stopping`);
  assert.ok(n < 12);
  for (let i = 0; i < n; i++)
    assert.equal(full.history[i].val_loss, stopped.history[i].val_loss, `epoch ${i + 1} is the same in both runs`);
  const info = await w.request('embedInfo', {});
  assert.equal(info.epochs.length, stopped.history.length, 'snapshots only of the run itself, the stop epoch included');
});
