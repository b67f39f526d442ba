// runs.test.mjs: the run store of web/runs.js, in Node, on a small in-memory
// IndexedDB written here (only the calls the store makes), so that
// persistence, the bounds and storage failures can be checked without a
// browser. No wasm needed: the store knows nothing of the engine.
//
//   node --test tests/wasm/runs.test.mjs
//
// The browser test of the Runs view (tests/browser/) checks the same store
// against Chromium's real IndexedDB.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RunStore, RUN_COLORS, differingKeys, csvField, CSV_COLUMNS } from '../../web/runs.js';

// ------------------------------------------------------- a fake IndexedDB

// Requests and transactions complete in a later task, as in a browser;
// values are stored and read back as structured clones. failWrites makes
// every readwrite transaction abort with a quota error, failOpen every open.
class FakeIndexedDB {
  constructor() {
    this.databases = new Map(); // name -> {version, stores: Map(name -> {keyPath, rows: Map})}
    this.failWrites = false;
    this.failOpen = false;
    this.writes = 0; // readwrite transactions committed
  }

  open(name, version) {
    const req = { result: null, error: null };
    setTimeout(() => {
      if (this.failOpen) {
        req.error = Object.assign(new Error('the user denied storage'), { name: 'SecurityError' });
        req.onerror?.();
        return;
      }
      let data = this.databases.get(name);
      if (!data) this.databases.set(name, (data = { version: 0, stores: new Map() }));
      req.result = new FakeDatabase(this, data);
      if (data.version < version) {
        data.version = version;
        req.onupgradeneeded?.();
      }
      req.onsuccess?.();
    });
    return req;
  }

  rows(dbName, store) {
    return this.databases.get(dbName).stores.get(store).rows;
  }
}

class FakeDatabase {
  constructor(factory, data) {
    this.factory = factory;
    this.data = data;
    this.objectStoreNames = { contains: (n) => data.stores.has(n) };
    this.closed = false;
  }
  createObjectStore(name, { keyPath } = {}) {
    this.data.stores.set(name, { keyPath, rows: new Map() });
  }
  transaction(names, mode) {
    if (this.closed) throw Object.assign(new Error('the database connection is closing'), { name: 'InvalidStateError' });
    for (const n of names) if (!this.data.stores.has(n)) throw Object.assign(new Error(`no store ${n}`), { name: 'NotFoundError' });
    return new FakeTransaction(this, names, mode);
  }
  close() {
    this.closed = true;
  }
}

class FakeTransaction {
  constructor(db, names, mode) {
    this.db = db;
    this.mode = mode;
    this.ops = []; // [request, fn(rows of every store) -> result]
    this.error = null;
    setTimeout(() => this.commit());
  }
  objectStore(name) {
    const { keyPath } = this.db.data.stores.get(name);
    const op = (fn, write) => {
      if (write && this.mode !== 'readwrite') throw Object.assign(new Error('read-only transaction'), { name: 'ReadOnlyError' });
      const req = { result: undefined, readyState: 'pending' };
      this.ops.push([req, (rows) => fn(rows.get(name))]);
      return req;
    };
    return {
      put: (value, key) => op((rows) => rows.set(keyPath ? value[keyPath] : key, structuredClone(value)), true),
      delete: (key) => op((rows) => rows.delete(key), true),
      get: (key) => op((rows) => structuredClone(rows.get(key))),
      getAll: () => op((rows) => [...rows.values()].map((v) => structuredClone(v))),
      getAllKeys: () => op((rows) => [...rows.keys()]),
    };
  }
  commit() {
    if (this.mode === 'readwrite' && this.db.factory.failWrites) {
      this.error = Object.assign(new Error('the quota has been exceeded'), { name: 'QuotaExceededError' });
      this.onerror?.();
      this.onabort?.();
      return;
    }
    // All or nothing: work on copies, then swap them in.
    const stores = new Map([...this.db.data.stores].map(([n, s]) => [n, { ...s, rows: new Map(s.rows) }]));
    const rows = new Map([...stores].map(([n, s]) => [n, s.rows]));
    for (const [req, fn] of this.ops) {
      req.result = fn(rows);
      req.readyState = 'done';
    }
    this.db.data.stores = stores;
    if (this.mode === 'readwrite') this.db.factory.writes++;
    this.oncomplete?.();
  }
}

// ---------------------------------------------------------------- helpers

const BAG = { model: 'bag', vocab_size: 10000, embed_dim: 16, pooling: 'keras', lr: 0.001, epochs: 3, seed: 1 };
const epochOf = (n, extra = {}) => ({ epoch: n, loss: 0.7 - 0.1 * n, acc: 0.5 + 0.1 * n, val_loss: 0.72 - 0.1 * n, val_acc: 0.5 + 0.09 * n, ms: 10, bestEpoch: n, ...extra });
const bytes = (n, fill) => new Uint8Array(n).fill(fill).buffer;

async function openStore(fake, options = {}) {
  const store = new RunStore({ dbName: 'test-runs', indexedDB: fake, ...options });
  await store.open();
  return store;
}

// A finished run of the bag recipe with `epochs` epochs.
function trainedRun(store, { epochs = 2, config = BAG, recipe = 'tutorial-bag' } = {}) {
  const run = store.begin({ dataset: 'imdb', recipe, config });
  for (let e = 1; e <= epochs; e++) store.epoch(run.id, epochOf(e));
  store.finish(run.id, { status: 'done', test: { loss: 0.4, acc: 0.81 }, bestEpoch: epochs, stoppedEarly: false, restoredBest: false, wallMs: 25 });
  return run;
}

// ------------------------------------------------------------------ tests

test('begin, epoch and finish build a run with the engine best epoch taken as given', async () => {
  const store = await openStore(new FakeIndexedDB());
  const events = [];
  store.subscribe((e) => events.push(`${e.type} ${e.run?.name ?? '-'}`));
  const run = store.begin({ dataset: 'imdb', recipe: 'tutorial-bag', config: BAG });
  assert.equal(run.name, '#1 bag');
  assert.equal(run.status, 'training');
  assert.equal(store.current(), run, 'a new run becomes current');
  assert.ok(RUN_COLORS.includes(run.color));
  store.epoch(run.id, epochOf(1));
  store.epoch(run.id, epochOf(2, { bestEpoch: 1 }));
  store.epoch(run.id, epochOf(3, { val_loss: 0.01, val_acc: NaN, bestEpoch: 1 })); // lowest val_loss, but the engine says 1
  store.epoch(run.id, epochOf(2, { loss: 0.123, bestEpoch: 1 })); // epoch 2 again replaces epoch 2
  assert.deepEqual(run.history.map((h) => h.epoch), [1, 2, 3]);
  assert.equal(run.history[1].loss, 0.123);
  assert.equal(run.history[2].val_acc, null, 'a NaN metric is stored as null');
  assert.equal(run.bestEpoch, 1, 'bestEpoch is the engine value, not recomputed');
  assert.equal(run.wallMs, 30, 'while training, wall time is the sum of the epochs');
  store.finish(run.id, { status: 'done', test: { loss: 0.35, acc: 0.86 }, bestEpoch: 1, stoppedEarly: true, restoredBest: true, wallMs: 42 });
  assert.equal(run.status, 'done');
  assert.deepEqual(run.test, { loss: 0.35, acc: 0.86 });
  assert.equal(run.stoppedEarly, true);
  assert.equal(run.restoredBest, true);
  assert.equal(run.wallMs, 42);
  assert.equal(run.bestEpoch, 1);
  assert.deepEqual(events.slice(0, 3), ['add #1 bag', 'current #1 bag', 'update #1 bag']);
  assert.equal(events.at(-1), 'update #1 bag');
  const masked = store.begin({ dataset: 'imdb', recipe: 'custom', config: { ...BAG, pooling: 'masked' } });
  assert.equal(masked.name, '#2 bag (masked)');
  assert.equal(store.begin({ dataset: 'imdb', recipe: 'tutorial-lstm', config: { ...BAG, model: 'lstm' }, label: 'from scratch' }).name, '#3 lstm (from scratch)');
  assert.equal(store.epoch(12345, epochOf(1)), null, 'an unknown run is ignored');
  assert.equal(store.finish(12345, {}), null);
  await store.settled();
  store.close();
});

test('epochs within the write interval are not written one by one; finish writes at once', async () => {
  const fake = new FakeIndexedDB();
  // An interval no test run reaches, so that what is checked is not timing.
  const store = await openStore(fake, { persistMs: 1e9 });
  const run = store.begin({ dataset: 'imdb', recipe: 'tutorial-bag', config: BAG });
  for (let e = 1; e <= 5; e++) {
    store.epoch(run.id, epochOf(e));
    await new Promise((resolve) => setTimeout(resolve, 1)); // epochs arrive in separate tasks
    await store.queue;
  }
  assert.equal(fake.writes, 1, 'only begin has been written so far');
  store.finish(run.id, { status: 'done', test: null, bestEpoch: 5 });
  await store.settled();
  assert.equal(fake.writes, 2, 'finish wrote the run (and the waiting epochs) in one write');
  assert.equal(fake.rows('test-runs', 'runs').get(run.id).history.length, 5);
  assert.equal(fake.rows('test-runs', 'runs').get(run.id).status, 'done');
  store.close();
});

test('a new store on the same database sees the runs; one still training becomes stopped', async () => {
  const fake = new FakeIndexedDB();
  const a = await openStore(fake);
  const done = trainedRun(a, { epochs: 3 });
  assert.equal(await a.setWeights(done.id, bytes(16, 7)), true);
  const training = a.begin({ dataset: 'imdb', recipe: 'tutorial-lstm', config: { ...BAG, model: 'lstm' } });
  a.epoch(training.id, epochOf(1));
  a.setOverlay(done.id, true);
  await a.settled();
  a.close();

  const b = await openStore(fake);
  assert.deepEqual(b.list().map((r) => r.id), [training.id, done.id], 'both runs, newest first');
  const back = b.get(done.id);
  assert.deepEqual(back.history, done.history);
  assert.deepEqual(back.config, BAG);
  assert.equal(back.name, '#1 bag');
  assert.equal(back.bestEpoch, 3);
  assert.deepEqual(back.test, { loss: 0.4, acc: 0.81 });
  assert.equal(back.status, 'done');
  assert.equal(back.hasWeights, true);
  assert.equal(back.overlay, true);
  assert.deepEqual(b.overlays().map((r) => r.id), [done.id]);
  assert.deepEqual(new Uint8Array(await b.weights(done.id)), new Uint8Array(16).fill(7), 'the weights come back byte for byte');
  assert.equal(b.get(training.id).status, 'stopped', 'a run left training by a reload is stopped');
  assert.equal(b.get(training.id).history.length, 1);
  assert.equal(b.current(), null);
  assert.equal(b.persistError, null);
  await b.settled();
  assert.equal(fake.rows('test-runs', 'runs').get(training.id).status, 'stopped', 'and is written back as stopped');
  const next = b.begin({ dataset: 'imdb', recipe: 'tutorial-bag', config: BAG });
  assert.equal(next.name, '#3 bag', 'numbering goes on after a reload');
  assert.ok(next.id > training.id);
  b.close();
});

test('at most maxRuns runs are kept (the oldest go, with their weights), weights only for the newest maxWeights', async () => {
  const fake = new FakeIndexedDB();
  const store = await openStore(fake, { maxRuns: 4, maxWeights: 2 });
  const removed = [];
  store.subscribe((e) => e.type === 'remove' && removed.push(e.run.id));
  const runs = [];
  for (let i = 0; i < 6; i++) {
    const run = trainedRun(store);
    assert.equal(await store.setWeights(run.id, bytes(8, i)), true, `the weights of the newest run ${i} are kept`);
    runs.push(run);
  }
  const kept = runs.slice(2).reverse();
  assert.deepEqual(store.list().map((r) => r.id), kept.map((r) => r.id), 'the newest 4 runs are kept');
  assert.deepEqual(removed, [runs[0].id, runs[1].id], 'the oldest were removed, oldest first');
  assert.deepEqual(store.list().map((r) => r.hasWeights), [true, true, false, false], 'weights only for the newest 2');
  assert.equal(await store.weights(runs[2].id), null);
  assert.equal(await store.setWeights(runs[2].id, bytes(8, 9)), false, 'an older run cannot take weights');
  assert.equal(store.get(runs[2].id).hasWeights, false);
  await store.settled();
  assert.deepEqual([...fake.rows('test-runs', 'runs').keys()].sort(), kept.map((r) => r.id).sort(), 'the database holds the same 4 runs');
  assert.deepEqual([...fake.rows('test-runs', 'weights').keys()].sort(), [runs[4].id, runs[5].id].sort(), 'and the weights of the newest 2');
  store.close();

  const again = await openStore(fake, { maxRuns: 4, maxWeights: 2 });
  assert.deepEqual(again.list().map((r) => r.hasWeights), [true, true, false, false]);
  assert.deepEqual(new Uint8Array(await again.weights(runs[5].id)), new Uint8Array(8).fill(5));
  again.close();
});

test('kept runs have distinct colours while fewer than ten are kept, and the newest ten always do', async () => {
  const store = await openStore(new FakeIndexedDB());
  assert.equal(new Set(RUN_COLORS).size, 10, 'ten palette colours');
  const runs = [];
  for (let i = 0; i < 9; i++) runs.push(store.begin({ dataset: 'imdb', recipe: 'tutorial-bag', config: BAG }));
  const colours = () => store.list().map((r) => r.color);
  assert.equal(new Set(colours()).size, 9);
  await store.remove(runs[3].id);
  await store.remove(runs[5].id);
  store.begin({ dataset: 'imdb', recipe: 'tutorial-bag', config: BAG });
  store.begin({ dataset: 'imdb', recipe: 'tutorial-bag', config: BAG });
  store.begin({ dataset: 'imdb', recipe: 'tutorial-bag', config: BAG });
  assert.equal(store.list().length, 10);
  assert.equal(new Set(colours()).size, 10, 'ten kept runs, ten colours');
  for (let i = 0; i < 7; i++) {
    store.begin({ dataset: 'imdb', recipe: 'tutorial-bag', config: BAG });
    assert.equal(new Set(colours().slice(0, 10)).size, 10, `the newest ten distinct after ${11 + i} runs`);
  }
  await store.settled();
  store.close();
});

test('differingKeys lists the config keys whose values differ, seed included, in config order', () => {
  const a = { config: { model: 'bag', vocab_size: 10000, pooling: 'keras', lr: 0.001, seed: 1 } };
  const b = { config: { model: 'bag', vocab_size: 10000, pooling: 'masked', lr: 0.001, seed: 2 } };
  const c = { config: { model: 'lstm', vocab_size: 10000, pooling: 'keras', lr: 0.001, seed: 1, hidden: 64 } };
  assert.deepEqual(differingKeys([]), []);
  assert.deepEqual(differingKeys([a]), [], 'one run differs from nothing');
  assert.deepEqual(differingKeys([a, a]), []);
  assert.deepEqual(differingKeys([a, b]), ['pooling', 'seed']);
  assert.deepEqual(differingKeys([b, a]), ['pooling', 'seed'], 'the same order whichever run comes first');
  assert.deepEqual(differingKeys([a, b, c]), ['model', 'pooling', 'seed', 'hidden'], 'a key only some runs have differs');
  assert.deepEqual(differingKeys([{ config: { stopwords: '' } }, { config: { stopwords: '@english' } }]), ['stopwords']);
  assert.deepEqual(differingKeys([{ config: { lr: 0.001 } }, { config: { lr: 0.001 } }]), []);
});

test('CSV: a header line, one row per run per epoch, fields with commas or quotes quoted', async () => {
  assert.equal(csvField('plain'), 'plain');
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField('two\nlines'), '"two\nlines"');
  assert.equal(csvField(null), '');
  assert.equal(csvField(NaN), '');
  assert.equal(csvField(0.25), '0.25');

  const store = await openStore(new FakeIndexedDB());
  const first = trainedRun(store, { epochs: 2, recipe: 'my "best", run' });
  const second = trainedRun(store, { epochs: 3 });
  store.begin({ dataset: 'imdb', recipe: 'tutorial-bag', config: BAG }); // no epochs yet: no rows
  const lines = store.exportCsv().trimEnd().split('\n');
  assert.equal(lines[0], CSV_COLUMNS.join(','));
  // The contract's columns, in its order (plus the run's name after its id).
  assert.deepEqual(CSV_COLUMNS.filter((c) => c !== 'name'), ['run_id', 'recipe', 'epoch', 'loss', 'acc', 'val_loss', 'val_acc', 'ms', 'best_epoch', 'test_acc']);
  assert.equal(lines.length, 1 + 2 + 3);
  assert.equal(lines[1], `${first.id},"#1 my ""best"", run","my ""best"", run",1,${[0.6, 0.6, 0.62, 0.59, 10, 2, 0.81].map(csvField).join(',')}`);
  assert.ok(lines[3].startsWith(`${second.id},#2 bag,tutorial-bag,1,`));
  assert.ok(lines[5].startsWith(`${second.id},#2 bag,tutorial-bag,3,`));

  const json = JSON.parse(store.exportJson());
  assert.equal(json.runs.length, 3);
  assert.deepEqual(json.runs[0].config, BAG);
  assert.deepEqual(json.runs[1].history.map((h) => h.epoch), [1, 2, 3]);
  await store.settled();
  store.close();
});

test('remove and clear delete runs and their weights from memory and from the database', async () => {
  const fake = new FakeIndexedDB();
  const store = await openStore(fake);
  const a = trainedRun(store);
  const b = trainedRun(store);
  await store.setWeights(a.id, bytes(4, 1));
  await store.setWeights(b.id, bytes(4, 2));
  await store.remove(a.id);
  assert.deepEqual(store.list().map((r) => r.id), [b.id]);
  assert.equal(fake.rows('test-runs', 'runs').has(a.id), false);
  assert.equal(fake.rows('test-runs', 'weights').has(a.id), false);
  assert.equal(store.current(), b, 'b stays current');
  await store.clear();
  assert.equal(store.list().length, 0);
  assert.equal(store.current(), null);
  assert.equal(fake.rows('test-runs', 'runs').size, 0);
  assert.equal(fake.rows('test-runs', 'weights').size, 0);
  store.close();
});

test('without IndexedDB the store works in memory and says why', async () => {
  const store = await openStore(null); // (undefined would mean globalThis.indexedDB, a browser's own)
  assert.match(store.persistError, /no IndexedDB/);
  const run = trainedRun(store);
  assert.equal(await store.setWeights(run.id, bytes(4, 3)), true);
  assert.deepEqual(new Uint8Array(await store.weights(run.id)), new Uint8Array(4).fill(3));
  assert.equal(store.list().length, 1);
  await store.settled();
});

test('a database that will not open leaves the store working with persistError set', async () => {
  const fake = new FakeIndexedDB();
  fake.failOpen = true;
  const store = await openStore(fake);
  assert.match(store.persistError, /denied storage/);
  const run = trainedRun(store);
  assert.equal(store.get(run.id).status, 'done');
  await store.settled();
});

test('failing writes (a full disk) never throw: runs and weights stay in memory, persistError says why', async () => {
  const fake = new FakeIndexedDB();
  const store = await openStore(fake);
  let persistEvents = 0;
  store.subscribe((e) => e.type === 'persist' && persistEvents++);
  fake.failWrites = true;
  const run = trainedRun(store);
  await store.settled();
  assert.match(store.persistError, /quota/);
  assert.ok(persistEvents >= 1, 'listeners hear that storage failed');
  assert.equal(await store.setWeights(run.id, bytes(4, 5)), true, 'weights are kept in memory');
  assert.deepEqual(new Uint8Array(await store.weights(run.id)), new Uint8Array(4).fill(5));
  await store.remove(run.id);
  await store.clear();
  assert.equal(store.list().length, 0);

  fake.failWrites = false; // space again: the next write succeeds and the message goes
  const next = trainedRun(store);
  await store.settled();
  assert.equal(fake.rows('test-runs', 'runs').has(next.id), true);
  assert.equal(await store.setWeights(next.id, bytes(4, 6)), true);
  assert.equal(store.persistError, null);
  store.close();
});

test('a run begun before open() finished is kept and written', async () => {
  const fake = new FakeIndexedDB();
  const first = await openStore(fake);
  const old = trainedRun(first);
  await first.settled();
  first.close();
  const store = new RunStore({ dbName: 'test-runs', indexedDB: fake });
  const adds = [];
  const colourUpdates = [];
  store.subscribe((e) => {
    if (e.type === 'add') adds.push(e.run.id);
    if (e.type === 'update') colourUpdates.push(e.run.color);
  });
  const opening = store.open();
  for (const t = Date.now(); Date.now() === t; ); // a later millisecond than the saved run's: ids cannot meet
  const early = trainedRun(store);
  await opening;
  await store.settled();
  assert.deepEqual(store.list().map((r) => r.id), [early.id, old.id]);
  assert.equal(fake.rows('test-runs', 'runs').has(early.id), true);
  assert.deepEqual(adds, [early.id, old.id], 'each run is announced once');
  assert.notEqual(store.get(early.id).color, store.get(old.id).color, 'the two runs get distinct colours');
  assert.equal(colourUpdates.at(-1), store.get(early.id).color, 'a colour changed at open() is announced');
  store.close();
});
