// runs.js: the run store, the page's one record of every training run: its
// settings, per-epoch history, the engine's best epoch, test metrics, wall
// time and (for the newest few) its weights. Charts, the Runs view,
// persistence and the diagnosis subscribe to it; nobody else keeps a history.
//
// Kept in this browser's IndexedDB (database dbName, laid out in runs-db.js:
// a store of runs, one of weights, the engine's checkpoint bytes by run id),
// bounded: the newest maxRuns runs (the oldest are deleted with their
// weights) and the weights of the newest maxWeights runs only (older runs keep
// their history, hasWeights becomes false). Records are written on every
// finish() and at most once a second while training, so a reload keeps them;
// a run still 'training' when the page went away becomes 'stopped' on open().
//
// Storage never breaks the page: when IndexedDB is missing, will not open,
// or a write fails (quota, private mode, another tab), nothing throws out of
// the store; the runs stay in memory (weights too, for this visit) and
// persistError says why, in a sentence the Runs view shows.
//
// A run: { id, seq, name, dataset, recipe, config, history: [{epoch, loss, acc, val_loss, val_acc, ms}],
//   bestEpoch, stoppedEarly, restoredBest, test: {loss, acc} | null, status: 'training' | 'done' | 'stopped'
//   | 'diverged', startedAt, wallMs, hasWeights, color, overlay }.
// id: a number unique across tabs (the start time in ms × 1000 plus a random tail, strictly increasing);
// seq: the number in its name ("#3 bag (masked)"). Metrics the engine did not have (no validation set,
// a diverged epoch) are null, never NaN, so exports keep them.
//
// Deliberately not here: any DOM (web/views/runs.js draws the table), the
// best-epoch rule (the engine's bestEpoch is taken as given), what the page
// does with a run's weights.

import { RUNS, WEIGHTS, STATUSES, openDatabase, transaction, runFromRecord, toRecord } from './runs-db.js';

const EXPORT_FORMAT = 'imdb-playground-runs';

// While training, at most one write per PERSIST_MS: an epoch of the bag model
// can take 10 ms, and a write per epoch would keep IndexedDB busy for nothing.
const PERSIST_MS = 1000;

// Ten colours told apart by colour-blind readers: the Okabe-Ito palette
// (Okabe and Ito, "Color Universal Design", 2008), yellow last because it is
// faint on white, plus Paul Tol's wine and a mid grey. In assignment order.
export const RUN_COLORS = Object.freeze([
  '#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', // blue, vermillion, bluish green, reddish purple, orange
  '#56B4E9', '#000000', '#882255', '#999999', '#F0E442', // sky blue, black, wine (Tol), grey, yellow
]);

const metric = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const message = (err) => (err && (err.message || err.name)) || String(err);

// "tutorial-bag" -> "bag"; a custom recipe is named by its model.
function shortRecipe(recipe, config) {
  if (typeof recipe === 'string' && recipe.startsWith('tutorial-')) return recipe.slice('tutorial-'.length);
  if (recipe && recipe !== 'custom') return String(recipe);
  return config?.model ? String(config.model) : 'custom';
}

// "#3 bag (masked)": the number, the recipe, and what sets it apart at a glance.
export function runName(seq, recipe, config, label) {
  const tags = [];
  if (config?.pooling === 'masked' && config?.model !== 'mlp') tags.push('masked');
  if (label) tags.push(String(label));
  return `#${seq} ${shortRecipe(recipe, config)}${tags.length ? ` (${tags.join(', ')})` : ''}`;
}

// The config keys whose values are not the same in every given run, in the
// order the configs list them (the engine's FIELDS order), keys that only
// some configs have after. A key missing from one config differs.
export function differingKeys(runs) {
  const list = [...runs];
  if (list.length < 2) return [];
  const keys = [];
  const seen = new Set();
  for (const r of list) {
    for (const k of Object.keys(r.config ?? {})) {
      if (!seen.has(k)) {
        seen.add(k);
        keys.push(k);
      }
    }
  }
  const same = (k) => {
    const first = JSON.stringify(list[0].config?.[k]);
    return list.every((r) => r.config && k in r.config && JSON.stringify(r.config[k]) === first);
  };
  return keys.filter((k) => !same(k));
}

// One CSV field: RFC 4180 quoting for text with a comma, quote or line break.
export function csvField(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export const CSV_COLUMNS = Object.freeze(['run_id', 'name', 'recipe', 'epoch', 'loss', 'acc', 'val_loss', 'val_acc', 'ms', 'best_epoch', 'test_acc']);

// ------------------------------------------------------------------- store

export class RunStore {
  // persistMs: the least time between two writes while training (tests set it).
  constructor({ dbName = 'imdb-playground-runs', maxRuns = 50, maxWeights = 10, indexedDB = globalThis.indexedDB, persistMs = PERSIST_MS } = {}) {
    this.dbName = dbName;
    this.persistMs = persistMs;
    this.maxRuns = maxRuns;
    this.maxWeights = Math.min(maxWeights, maxRuns);
    this.factory = indexedDB;
    this.db = null;
    this.runs = new Map(); // id -> run
    this.currentId = null;
    this.listeners = new Set();
    this.errors = { open: null, runs: null, weights: null }; // why storage failed, by kind
    this.memWeights = new Map(); // id -> bytes not on disk (no database, or the write failed)
    this.dirty = new Set(); // ids whose record is newer than the database's
    this.deleted = new Set(); // ids of runs to delete from the database
    this.deletedWeights = new Set(); // ids whose weights to delete
    this.opened = false; // open() has finished, with or without a database
    this.persistTimer = null;
    this.lastPersist = -Infinity;
    this.queue = Promise.resolve(); // database work, one operation at a time, in order
    this.lastId = 0;
    this.opening = null;
  }

  // Why runs are not (all) kept in this browser, or null.
  get persistError() {
    return [this.errors.open, this.errors.runs, this.errors.weights].filter(Boolean).join(' ') || null;
  }

  open() {
    this.opening ??= this.load();
    return this.opening;
  }

  async load() {
    await this.loadRuns().catch((err) => this.setError('open', `The saved runs could not be read (${message(err)}).`));
    this.opened = true;
    if (this.dirty.size || this.deleted.size || this.deletedWeights.size) await this.persistNow();
    return this;
  }

  async loadRuns() {
    if (!this.factory) {
      this.setError('open', 'This browser has no IndexedDB: runs are kept until the page is closed.');
      return;
    }
    let records = [];
    let weightKeys = [];
    try {
      const db = await openDatabase(this.factory, this.dbName);
      this.db = db;
      db.onversionchange = () => {
        // Another tab deletes or upgrades the database: let go of it.
        db.close();
        if (this.db === db) this.db = null;
        this.setError('open', 'Another tab changed the saved runs: new runs are kept until the page is closed.');
      };
      [records, weightKeys] = await transaction(this.db, [RUNS, WEIGHTS], 'readonly', (s) => {
        const [all, keys] = [s[RUNS].getAll(), s[WEIGHTS].getAllKeys()];
        return () => [all.result, keys.result];
      });
    } catch (err) {
      this.db = null;
      this.setError('open', `Runs cannot be saved in this browser (${message(err)}): they are kept until the page is closed.`);
      return;
    }
    const onDisk = new Set(weightKeys);
    const announced = new Set(this.runs.keys()); // begun before open() finished
    let damaged = 0;
    for (const r of records ?? []) {
      const run = runFromRecord(r);
      if (!run) {
        damaged++;
        continue;
      }
      if (this.runs.has(run.id)) continue; // begun before open() finished
      if (run.status === 'training') {
        run.status = 'stopped'; // the page went away while it trained
        this.dirty.add(run.id);
      }
      if (run.hasWeights !== onDisk.has(run.id)) {
        run.hasWeights = onDisk.has(run.id);
        this.dirty.add(run.id);
      }
      this.runs.set(run.id, run);
      this.lastId = Math.max(this.lastId, run.id);
    }
    if (damaged) this.setError('open', `${damaged} saved run${damaged === 1 ? '' : 's'} could not be read and ${damaged === 1 ? 'was' : 'were'} left out.`);
    for (const key of onDisk) if (!this.runs.has(key)) this.deletedWeights.add(key); // weights whose run is gone
    for (const run of this.fixColors()) if (announced.has(run.id)) this.emit('update', run);
    this.enforceBounds();
    for (const run of this.list().reverse()) if (!announced.has(run.id)) this.emit('add', run);
  }

  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  emit(type, run) {
    for (const fn of [...this.listeners]) {
      try {
        fn({ type, run });
      } catch (err) {
        // A broken listener must not stop the others or the store.
        console.error('runs.js listener:', err);
      }
    }
  }

  setError(kind, text) {
    if (this.errors[kind] === text) return;
    this.errors[kind] = text;
    this.emit('persist', null);
  }

  // ---------------------------------------------------------------- runs

  // label: optional, what sets this run apart in its name ("from scratch").
  begin({ dataset, recipe, config, label } = {}) {
    const now = Date.now();
    // The time in µs-sized steps with a random tail: two tabs (or a run
    // begun while open() still reads the saved ones) practically never meet.
    const id = Math.max(now * 1000 + Math.floor(Math.random() * 1000), this.lastId + 1);
    this.lastId = id;
    const seq = 1 + Math.max(0, ...[...this.runs.values()].map((r) => r.seq ?? 0));
    const cfg = JSON.parse(JSON.stringify(config ?? {}));
    const run = {
      id, seq, name: runName(seq, recipe, cfg, label), dataset: dataset ?? null, recipe: recipe ?? null, config: cfg,
      history: [], bestEpoch: 0, stoppedEarly: false, restoredBest: false, test: null,
      status: 'training', startedAt: now, wallMs: 0, hasWeights: false, color: this.freeColor(), overlay: false,
    };
    this.runs.set(id, run);
    this.emit('add', run);
    this.setCurrent(id);
    this.enforceBounds();
    this.markDirty(run.id);
    return run;
  }

  epoch(id, { epoch, loss, acc, val_loss, val_acc, ms, bestEpoch } = {}) {
    const run = this.runs.get(id);
    if (!run || !Number.isInteger(epoch) || epoch < 1) return null;
    const entry = { epoch, loss: metric(loss), acc: metric(acc), val_loss: metric(val_loss), val_acc: metric(val_acc), ms: metric(ms) };
    const at = run.history.findIndex((h) => h.epoch >= epoch);
    if (at < 0) run.history.push(entry);
    else if (run.history[at].epoch === epoch) run.history[at] = entry;
    else run.history.splice(at, 0, entry);
    if (Number.isInteger(bestEpoch) && bestEpoch >= 0) run.bestEpoch = bestEpoch;
    run.wallMs = run.history.reduce((s, h) => s + (h.ms ?? 0), 0);
    this.emit('update', run);
    this.markDirty(id);
    return run;
  }

  finish(id, { status = 'done', test = null, bestEpoch, stoppedEarly, restoredBest, wallMs } = {}) {
    const run = this.runs.get(id);
    if (!run) return null;
    run.status = STATUSES.includes(status) && status !== 'training' ? status : 'stopped';
    run.test = test && (metric(test.loss) !== null || metric(test.acc) !== null) ? { loss: metric(test.loss), acc: metric(test.acc) } : null;
    if (Number.isInteger(bestEpoch) && bestEpoch >= 0) run.bestEpoch = bestEpoch;
    run.stoppedEarly = Boolean(stoppedEarly);
    run.restoredBest = Boolean(restoredBest);
    if (metric(wallMs) !== null) run.wallMs = wallMs;
    this.emit('update', run);
    this.dirty.add(id);
    this.persistNow();
    return run;
  }

  // Keeps the checkpoint of a run among the newest maxWeights; true when
  // kept (on disk, or in memory for this visit when the write failed).
  async setWeights(id, checkpointBytes) {
    const run = this.runs.get(id);
    if (!run || !(checkpointBytes instanceof ArrayBuffer)) return false;
    if (!this.weightsRanks().has(id)) return false;
    let onDisk = false;
    if (this.db) {
      onDisk = await this.enqueue(async () => {
        try {
          await transaction(this.db, [WEIGHTS], 'readwrite', (s) => s[WEIGHTS].put(checkpointBytes, id));
          this.setError('weights', null);
          return true;
        } catch (err) {
          this.setError('weights', `A run's weights could not be saved in this browser (${message(err)}): they are kept until the page is closed.`);
          return false;
        }
      });
    }
    if (!this.runs.has(id)) {
      // Removed while the write ran.
      if (onDisk) {
        this.deletedWeights.add(id);
        this.persistNow();
      }
      return false;
    }
    if (onDisk) this.memWeights.delete(id);
    else this.memWeights.set(id, checkpointBytes);
    if (!run.hasWeights) {
      run.hasWeights = true;
      this.emit('update', run);
    }
    this.dirty.add(id);
    this.persistNow();
    return true;
  }

  async weights(id) {
    if (this.memWeights.has(id)) return this.memWeights.get(id);
    const run = this.runs.get(id);
    if (!run || !run.hasWeights || !this.db) return null;
    try {
      const bytes = await this.enqueue(() =>
        transaction(this.db, [WEIGHTS], 'readonly', (s) => {
          const req = s[WEIGHTS].get(id);
          return () => req.result;
        }),
      );
      return bytes instanceof ArrayBuffer ? bytes : null;
    } catch (err) {
      this.setError('weights', `A run's weights could not be read (${message(err)}).`);
      return null;
    }
  }

  list() {
    return [...this.runs.values()].sort((a, b) => b.id - a.id);
  }

  get(id) {
    return this.runs.get(id) ?? null;
  }

  current() {
    return this.get(this.currentId);
  }

  // The run whose model the page holds (begin() sets it; loading a run's
  // weights should too); null for none.
  setCurrent(id) {
    const run = this.get(id);
    if ((run?.id ?? null) !== this.currentId) {
      this.currentId = run?.id ?? null;
      this.emit('current', run);
    }
    return run;
  }

  setOverlay(id, on) {
    const run = this.runs.get(id);
    if (!run || run.overlay === Boolean(on)) return;
    run.overlay = Boolean(on);
    this.emit('overlay', run);
    this.markDirty(id);
  }

  overlays() {
    return this.list().filter((r) => r.overlay);
  }

  async remove(id) {
    const run = this.runs.get(id);
    if (!run) return;
    this.drop(run);
    await this.persistNow();
  }

  async clear() {
    for (const run of this.list()) this.drop(run);
    await this.persistNow();
  }

  drop(run) {
    this.runs.delete(run.id);
    this.memWeights.delete(run.id);
    this.dirty.delete(run.id);
    this.deleted.add(run.id);
    if (this.currentId === run.id) this.setCurrent(null);
    this.emit('remove', run);
  }

  // ------------------------------------------------------------- exports

  // One row per run per epoch, the oldest run first.
  exportCsv() {
    const lines = [CSV_COLUMNS.join(',')];
    for (const run of this.list().reverse()) {
      for (const h of run.history) {
        const row = [run.id, run.name, run.recipe, h.epoch, h.loss, h.acc, h.val_loss, h.val_acc, h.ms, run.bestEpoch || null, run.test?.acc ?? null];
        lines.push(row.map(csvField).join(','));
      }
    }
    return lines.join('\n') + '\n';
  }

  exportJson() {
    const runs = this.list().reverse().map(({ overlay, ...run }) => ({ ...run, startedAtIso: new Date(run.startedAt).toISOString() }));
    return JSON.stringify({ format: EXPORT_FORMAT, version: 1, exportedAt: new Date().toISOString(), runs }, null, 2);
  }

  // ------------------------------------------------------- bounds, colours

  // The ids of the runs allowed to hold weights: the newest maxWeights.
  weightsRanks() {
    return new Set(this.list().slice(0, this.maxWeights).map((r) => r.id));
  }

  enforceBounds() {
    const list = this.list();
    for (const run of list.slice(this.maxRuns)) {
      if (run.id !== this.currentId) this.drop(run);
    }
    const allowed = this.weightsRanks();
    for (const run of this.runs.values()) {
      if (run.hasWeights && !allowed.has(run.id)) {
        run.hasWeights = false;
        this.memWeights.delete(run.id);
        this.deletedWeights.add(run.id);
        this.dirty.add(run.id);
        this.emit('update', run);
      }
    }
    if (this.opened && (this.deleted.size || this.deletedWeights.size)) this.persistNow();
  }

  // The palette colour whose latest use among kept runs is oldest (unused
  // ones first, in palette order): so the newest RUN_COLORS.length runs
  // always have distinct colours.
  freeColor() {
    const lastUse = new Map(RUN_COLORS.map((c) => [c, -Infinity]));
    for (const r of this.runs.values()) if (lastUse.has(r.color)) lastUse.set(r.color, Math.max(lastUse.get(r.color), r.id));
    let best = RUN_COLORS[0];
    for (const c of RUN_COLORS) if (lastUse.get(c) < lastUse.get(best)) best = c;
    return best;
  }

  // Runs saved by two tabs can share a colour: among the newest
  // RUN_COLORS.length, a repeated (or unknown) colour is replaced by a free
  // one; an older run's unknown colour by the first.
  // Returns the runs whose colour changed.
  fixColors() {
    const changed = [];
    const newest = this.list().slice(0, RUN_COLORS.length).reverse();
    const used = new Set();
    for (const r of newest) {
      if (!RUN_COLORS.includes(r.color) || used.has(r.color)) {
        r.color = RUN_COLORS.find((c) => !used.has(c) && !newest.some((o) => o.color === c)) ?? RUN_COLORS.find((c) => !used.has(c));
        changed.push(r);
      }
      used.add(r.color);
    }
    for (const r of this.runs.values()) {
      if (!RUN_COLORS.includes(r.color)) {
        r.color = RUN_COLORS[0];
        changed.push(r);
      }
    }
    for (const r of changed) this.dirty.add(r.id);
    return changed;
  }

  // ---------------------------------------------------------- persistence

  enqueue(fn) {
    const p = this.queue.then(fn);
    this.queue = p.catch(() => {});
    return p;
  }

  markDirty(id) {
    this.dirty.add(id);
    if (this.persistTimer) return;
    const wait = this.lastPersist + this.persistMs - Date.now();
    if (wait <= 0) {
      this.persistNow();
      return;
    }
    this.persistTimer = setTimeout(() => {
      this.persistTimer = null;
      this.persistNow();
    }, wait);
  }

  // Writes every changed run and deletes every dropped one, now (in order
  // after any database work under way). Resolves when written; never rejects.
  persistNow() {
    clearTimeout(this.persistTimer);
    this.persistTimer = null;
    this.lastPersist = Date.now();
    if (!this.opened) return this.queue; // open() writes what changed meanwhile
    if (!this.db) {
      this.dirty.clear();
      this.deleted.clear();
      this.deletedWeights.clear();
      return this.queue;
    }
    return this.enqueue(async () => {
      const put = [...this.dirty].map((id) => this.runs.get(id)).filter(Boolean).map(toRecord);
      const gone = [...this.deleted];
      const goneWeights = [...this.deletedWeights];
      this.dirty.clear();
      this.deleted.clear();
      this.deletedWeights.clear();
      if (!this.db || (!put.length && !gone.length && !goneWeights.length)) return;
      try {
        await transaction(this.db, [RUNS, WEIGHTS], 'readwrite', (s) => {
          for (const r of put) s[RUNS].put(r);
          for (const id of gone) {
            s[RUNS].delete(id);
            s[WEIGHTS].delete(id);
          }
          for (const id of goneWeights) s[WEIGHTS].delete(id);
        });
        this.setError('runs', null);
      } catch (err) {
        // Tried again at the next change.
        for (const r of put) if (this.runs.has(r.id)) this.dirty.add(r.id);
        for (const id of gone) this.deleted.add(id);
        for (const id of goneWeights) this.deletedWeights.add(id);
        this.setError('runs', `Runs could not be saved in this browser (${message(err)}): they are kept until the page is closed.`);
      }
    });
  }

  // Resolves once every change so far is written (or has failed): for
  // tests, and for a page about to go away.
  async settled() {
    if (this.opening) await this.opening;
    if (this.dirty.size || this.deleted.size || this.deletedWeights.size || this.persistTimer) await this.persistNow();
    await this.queue;
  }

  // Lets go of the database (tests open a second store on the same one).
  close() {
    clearTimeout(this.persistTimer);
    this.persistTimer = null;
    this.db?.close();
    this.db = null;
  }
}
