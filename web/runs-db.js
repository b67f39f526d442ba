// runs-db.js: how the run store (runs.js) keeps runs in IndexedDB: the
// database's layout, its record format and two promise wrappers. Only
// runs.js imports it.
//
// Database (version 1), two object stores:
//   'runs'    one record per run, keyPath 'id': the run of runs.js with a
//             format tag and a version, so that a record from another
//             version of the page, or a damaged one, is recognised
//   'weights' run id -> ArrayBuffer, the engine's checkpoint bytes
//
// Deliberately not here: what is kept and when (runs.js), error messages
// for the page (runs.js words them).

const DB_VERSION = 1;
export const RUNS = 'runs';
export const WEIGHTS = 'weights';
const RECORD_FORMAT = 'imdb-playground-run';
export const STATUSES = ['training', 'done', 'stopped', 'diverged'];

// A page must not wait for storage (persist.js has the same rule): if the
// database has not opened by then, the store goes on in memory.
const OPEN_TIMEOUT_MS = 5000;

// Runs fn({name: objectStore}) in one transaction over the named stores and
// resolves once the transaction has committed. If fn returns a function, the
// promise resolves with what that returns then: a request's result can be
// read only after completion.
export function transaction(db, names, mode, fn) {
  return new Promise((resolve, reject) => {
    let read;
    try {
      const tx = db.transaction(names, mode);
      tx.oncomplete = () => resolve(typeof read === 'function' ? read() : undefined);
      tx.onerror = () => reject(tx.error || new Error('IndexedDB transaction failed'));
      tx.onabort = () => reject(tx.error || new Error('IndexedDB transaction aborted (is the disk full?)'));
      read = fn(Object.fromEntries(names.map((n) => [n, tx.objectStore(n)])));
    } catch (err) {
      reject(err); // (a transaction whose requests threw commits nothing it did not get)
    }
  });
}

export function openDatabase(factory, name) {
  return new Promise((resolve, reject) => {
    let req;
    try {
      req = factory.open(name, DB_VERSION);
    } catch (err) {
      reject(err);
      return;
    }
    const timer = setTimeout(() => reject(new Error('IndexedDB did not open (is another tab of this page holding it?)')), OPEN_TIMEOUT_MS);
    req.onupgradeneeded = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains(RUNS)) db.createObjectStore(RUNS, { keyPath: 'id' });
      if (!db.objectStoreNames.contains(WEIGHTS)) db.createObjectStore(WEIGHTS);
    };
    req.onsuccess = () => {
      clearTimeout(timer);
      resolve(req.result);
    };
    req.onerror = () => {
      clearTimeout(timer);
      reject(req.error || new Error('IndexedDB could not be opened'));
    };
  });
}

// A record read back is checked before it is trusted; a damaged one, or one
// from another version of this page, is left out.
export function runFromRecord(r) {
  if (!r || r.format !== RECORD_FORMAT || r.version !== 1) return null;
  if (typeof r.id !== 'number' || !Array.isArray(r.history) || !r.config || typeof r.config !== 'object') return null;
  const { format, version, ...run } = r;
  run.status = STATUSES.includes(run.status) ? run.status : 'stopped';
  run.overlay = Boolean(run.overlay);
  run.hasWeights = Boolean(run.hasWeights);
  return run;
}

export const toRecord = (run) => ({ format: RECORD_FORMAT, version: 1, ...run, history: run.history.map((h) => ({ ...h })) });
