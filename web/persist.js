// persist.js: the page's work, saved in this browser (IndexedDB), so that a
// reload or a crashed engine loses nothing.
//
// One record per dataset (key 'current' for the IMDB reviews, 'fashion' for
// Fashion-MNIST), the current session: the trained model as checkpoint bytes
// (the engine's own format, web/PROTOCOL.md exportCheckpoint), its history
// and curves, the experiment settings and where the run stood:
//
//   { format: 'imdb-playground-session', version: 1, savedAt (ms since 1970),
//     settings: {the page's state table}, config: {the engine's config},
//     dataset: 'imdb' | 'fashion',
//     checkpoint: ArrayBuffer, history: [{loss, acc, val_loss, val_acc}],
//     batches: {x: [...], loss: [...], acc: [...]} (the per-batch curve),
//     test: {loss, acc} | null, epochsTotal, status: 'training' | 'stopped'
//     | 'done' | 'diverged' | 'imported', divergence: {x, message} | null,
//     bestEpoch: the engine's best epoch (null when it reported none) }
//
// SessionStore.save() never waits for a write to finish and never queues
// more than one: while a write is in flight, a newer record replaces the
// waiting one, so saving at every epoch end cannot pile up work, and the
// main thread only hands IndexedDB the record (the bytes are cloned, not
// encoded). The newest record is also kept in memory (latest), which is what
// a restarted engine gets back even where IndexedDB is unavailable.
//
// Deliberately not here: what goes into a record (app.js), any DOM.

const DB_NAME = 'imdb-playground';
const STORE = 'session';
const KEY = 'current';
export const SESSION_FORMAT = 'imdb-playground-session';
export const SESSION_VERSION = 1;

// Larger models are kept in memory for a restart but not written to disk:
// IndexedDB quotas vary, and a write of hundreds of MB every epoch would not
// be "without stalling".
const MAX_SAVED_BYTES = 128 * 1024 * 1024;

// A page must not wait for storage: if IndexedDB has not opened by then
// (another tab holds up a deletion or an upgrade, say), the page goes on
// without it and says so.
const OPEN_TIMEOUT_MS = 5000;

function openDb() {
  return new Promise((resolve, reject) => {
    let req;
    try {
      req = indexedDB.open(DB_NAME, 1);
    } catch (err) {
      reject(err);
      return;
    }
    const timer = setTimeout(() => reject(new Error('IndexedDB did not open (is another tab of this page holding it?)')), OPEN_TIMEOUT_MS);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => {
      clearTimeout(timer);
      const db = req.result;
      // Another tab deleting or upgrading the database must not wait for
      // this one: let go of it (the next save opens it again).
      db.onversionchange = () => {
        db.close();
        db.closedByOtherTab = true;
      };
      resolve(db);
    };
    req.onerror = () => {
      clearTimeout(timer);
      reject(req.error || new Error('IndexedDB could not be opened'));
    };
  });
}

function run(db, mode, fn) {
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const req = fn(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(req.result);
    tx.onerror = () => reject(tx.error || new Error('IndexedDB transaction failed'));
    tx.onabort = () => reject(tx.error || new Error('IndexedDB transaction aborted (is the disk full?)'));
  });
}

// A record read back is checked before the page trusts it: a record from
// another version of the page, or a damaged one, is ignored (and reported).
function validRecord(r) {
  return (
    r &&
    r.format === SESSION_FORMAT &&
    r.version === SESSION_VERSION &&
    r.checkpoint instanceof ArrayBuffer &&
    Array.isArray(r.history) &&
    r.settings &&
    typeof r.settings === 'object'
  );
}

export class SessionStore {
  // key: the record this page reads and writes (one per dataset).
  constructor(key = KEY) {
    this.key = key;
    this.db = null;
    this.unavailable = null; // why IndexedDB cannot be used, or null
    this.latest = null;      // the newest record, written or not
    this.writing = false;
    this.waiting = null;     // a record to write once the current write ends
    this.lastError = null;
    this.written = null;     // the newest record known to be on disk
    this.onChange = () => {};
  }

  async open() {
    if (this.db && this.db.closedByOtherTab) this.db = null;
    if (this.db || this.unavailable) return this.db;
    try {
      if (typeof indexedDB === 'undefined') throw new Error('this browser has no IndexedDB');
      this.db = await openDb();
    } catch (err) {
      this.unavailable = err.message || String(err);
    }
    return this.db;
  }

  // The saved record, or null; {error} when one exists but cannot be used.
  async load() {
    const db = await this.open();
    if (!db) return null;
    try {
      const r = await run(db, 'readonly', (s) => s.get(this.key));
      if (r == null) return null;
      if (!validRecord(r)) return { error: 'the saved session is from another version of this page or is damaged' };
      this.latest = r;
      this.written = r;
      return r;
    } catch (err) {
      return { error: err.message || String(err) };
    }
  }

  save(record) {
    const r = { format: SESSION_FORMAT, version: SESSION_VERSION, savedAt: Date.now(), ...record };
    this.latest = r;
    if (this.writing) {
      this.waiting = r;
      return;
    }
    this.write(r);
  }

  async write(r) {
    this.writing = true;
    try {
      const db = await this.open();
      if (db && r.checkpoint.byteLength <= MAX_SAVED_BYTES) {
        await run(db, 'readwrite', (s) => s.put(r, this.key));
        this.written = r;
        this.lastError = null;
        this.onChange(r);
      } else if (db) {
        this.lastError = `the model (${Math.round(r.checkpoint.byteLength / 1e6)} MB) is too large to keep in this browser`;
        this.onChange(null);
      }
    } catch (err) {
      this.lastError = err.message || String(err);
      this.onChange(null);
    } finally {
      this.writing = false;
    }
    const next = this.waiting;
    this.waiting = null;
    if (next && this.latest === next) this.write(next);
  }

  // Waits until nothing is being written (for tests, and before clearing).
  async settled() {
    while (this.writing) await new Promise((resolve) => setTimeout(resolve, 10));
  }

  async clear() {
    this.latest = null;
    this.waiting = null;
    await this.settled();
    this.written = null;
    const db = await this.open();
    if (db) await run(db, 'readwrite', (s) => s.delete(this.key));
    this.onChange(null);
  }
}
