// worker.js: the Web Worker that owns the engine (web/PROTOCOL.md, part 2):
// its entry point, the table from message type to handler, and what happens
// when a request or the engine fails.
//
// An ES-module worker: new Worker(new URL('./worker/worker.js',
// import.meta.url), {type: 'module'}). It creates the one wasm instance
// (../engine/engine.js, built by scripts/build-wasm.sh) on `init` and answers
// every request {id, type, data} exactly once, with {id, type: 'ok', data}
// or {id, type: 'error', data: {op, message}}. Long jobs (training,
// diagnosis, …) run in slices (slicer.js) and report through events.
//
// Where each request lives: datasets.js (loadShard, loadImageShard), testsplit.js (attachTest),
// training.js (configure, configSchema, presets, train, pause, resume, stop,
// evaluate, importCheckpoint), model.js (snapshot, restore,
// exportCheckpoint), text.js (predict, explain, review, stopwords),
// diagnosis.js (diagnose*, labelledText), embeddings.js (embed*,
// neighbours, memorised, projectorTsv, fullRun, fullStop), images.js
// (image, predictImage, confusion), pretrain.js (loadCorpus, pretrain,
// stopPretrain, nearest), mlm.js (pretrainMlm, pauseMlm, resumeMlm, stopMlm,
// fillMask, exportEncoder, importEncoder, useEncoder); here: init, stats, debugTrap.
//
// Deliberately not here: any engine logic (that is C, behind
// engine/wasm_api.c) and anything about the page.

import '../trusted-types.js'; // first: the two-thread engine starts its threads with new Worker(url)
import { attentionHandlers } from './attention.js';
import { datasetHandlers } from './datasets.js';
import { diagnosisHandlers } from './diagnosis.js';
import { embeddingHandlers } from './embeddings.js';
import { imageHandlers } from './images.js';
import { modelHandlers } from './model.js';
import { pretrainHandlers } from './pretrain.js';
import { mlmHandlers } from './mlm.js';
import { RequestError, api, fatal, isFatal, post, shared } from './session.js';
import { testSplitHandlers } from './testsplit.js';
import { textHandlers } from './text.js';
import { trainingHandlers } from './training.js';

let initPromise = null;

// Loads the engine once; a second init reuses the instance.
function init(data) {
  if (data?.debug === true) shared.debug = true;
  if (!initPromise) {
    initPromise = loadEngine(data);
    initPromise.catch(() => { initPromise = null; });
  }
  return initPromise;
}

// A cross-origin-isolated page (SharedArrayBuffer) on a machine with a core
// to spare for the page itself (3 or more) gets the two-thread engine,
// engine-mt.js; `threads: true` asks for it on any isolated page, `false`
// never. Otherwise, or if it fails to start, the one-thread engine.js.
// Results are the same bit for bit.
async function loadEngine(data) {
  const single = new URL('../engine/engine.js', import.meta.url).href;
  const multi = new URL('../engine/engine-mt.js', import.meta.url).href;
  const isolated = self.crossOriginIsolated === true && typeof SharedArrayBuffer === 'function';
  const spare = (self.navigator?.hardwareConcurrency ?? 1) >= 3;
  const wantThreads = data?.threads === true || (data?.threads === undefined && spare);
  const urls = data?.engineUrl ? [data.engineUrl] : isolated && wantThreads ? [multi, single] : [single];
  let engine = null, failure = null;
  for (const engineUrl of urls) {
    try {
      const { default: createEngine } = await import(engineUrl);
      const options = {};
      // Only the .wasm moves; emscripten's other files stay beside the engine.
      if (data?.wasmUrl) options.locateFile = (file) => (file.endsWith('.wasm') ? data.wasmUrl : new URL(file, engineUrl).href);
      engine = await createEngine(options);
      break;
    } catch (err) {
      failure = `could not load ${engineUrl} (${err?.message ?? err})`;
    }
  }
  if (!engine) throw new RequestError(`${failure}: build the engine with scripts/build-wasm.sh`);
  const session = engine._nnw_session_create();
  if (!session) throw new RequestError('out of memory creating the engine session');
  shared.engine = engine;
  shared.session = session;
  return { version: engine.UTF8ToString(engine._nnw_version()), threads: engine._nnw_threads(session) };
}

const sessionHandlers = {
  init,

  // The wasm memory's size: it only grows, so this is its peak (benchmarks).
  stats() {
    return { wasmBytes: api().HEAPU8.length };
  },

  // A test hook (debug only: init with {debug: true}): the engine executes
  // a trap, as a crash would; the worker then reports `fatal` and closes.
  debugTrap() {
    const e = api();
    if (!shared.debug) throw new RequestError('debugTrap is a test hook: send init with {debug: true} first');
    e._nnw_debug_trap();
    return {};
  },
};

// Message type -> handler(data), returning its reply data or [data,
// transfer list]; a type two modules both answer is a bug caught here.
function dispatchTable(...groups) {
  const table = {};
  for (const group of groups) {
    for (const [type, handler] of Object.entries(group)) {
      if (Object.hasOwn(table, type)) throw new Error(`two handlers for the request type '${type}'`);
      table[type] = handler;
    }
  }
  return Object.freeze(table);
}

const HANDLERS = dispatchTable(sessionHandlers, datasetHandlers, trainingHandlers, modelHandlers, textHandlers,
  diagnosisHandlers, embeddingHandlers, imageHandlers, pretrainHandlers, attentionHandlers, mlmHandlers, testSplitHandlers);

async function handle(message) {
  const { id, type, data } = message ?? {};
  try {
    const handler = Object.hasOwn(HANDLERS, type) ? HANDLERS[type] : null;
    if (!handler) throw new RequestError(`unknown request type '${type}'`);
    const result = await handler(data);
    const [reply, transfer] = Array.isArray(result) ? result : [result, []];
    post({ id, type: 'ok', data: reply }, transfer);
  } catch (err) {
    // An engine abort or a bug in the worker still answers the request; an
    // engine crash then also ends this worker.
    const message = err instanceof RequestError ? err.message : `internal error: ${err?.message ?? err}`;
    const report = err?.report ? { report: err.report } : {}; // buildLabelledShard: what was read
    post({ id, type: 'error', data: { op: String(type), message, ...report } });
    if (isFatal(err)) fatal(err);
  }
}

self.addEventListener('message', (event) => { handle(event.data); });
