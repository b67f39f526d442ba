// worker.js: the Web Worker that owns the engine (web/PROTOCOL.md, part 2).
//
// An ES-module worker: new Worker(new URL('./worker.js', import.meta.url),
// {type: 'module'}). It creates the one wasm instance (engine/engine.js, built
// by scripts/build-wasm.sh) on `init` and answers every request {id, type,
// data} exactly once, with {id, type: 'ok', data} or {id, type: 'error',
// data: {op, message}}. Training runs in slices of a few batches, yielding
// to the message queue between slices, so pause, stop, predict and explain
// are answered while it runs.
//
// Deliberately not here: any engine logic (that is C, behind engine/wasm_api.c)
// and anything about the page.

import './trusted-types.js'; // first: the two-thread engine starts its threads with new Worker(url)
import { embeddingHandlers } from './worker_embeddings.js';
import { pretrainHandlers } from './worker_pretrain.js';

const SLICE_MS = 15;          // aim for slices this long, so replies come within ~50 ms
const MAX_SLICE_BATCHES = 256;
const CONFUSION_CHUNK = 128;  // images per nnw_predict_images call (a few ms)
const EVENT_INTERVAL_MS = 50; // at most one batch/shardProgress event per this
const WATCH_EPOCH_MS = 1500;  // the 'watch' pace: about this long per epoch
// train {checkpoints}: epoch events carry the model at most this often (an
// export costs ~3 ms, a tenth of a fast epoch); done and divergence always do.
const CHECKPOINT_INTERVAL_MS = 1000;
const REBUILD_HINT = 'Rebuild the shard with scripts/setup.sh (it writes data/imdb.shard).';
const IMAGE_REBUILD_HINT = 'Rebuild the image shard with scripts/setup.sh (it writes data/fashion.shard).';
// The weights at the end of each epoch are kept for the diagnosis while they
// fit in this many bytes (the default model: 0.64 MB an epoch, 26 MB for 40).
// Exact copies, not the embedding history's int8 snapshots: a past epoch's
// diagnosis must give that epoch's validation loss and accuracy (README,
// "What the model learned about words").
const EPOCH_WEIGHTS_BUDGET = 64 * 1024 * 1024;

// NN_* status codes of engine/nn.h that mean "this file is stale or damaged",
// and the one for a loss that is no longer finite.
const NN_ERR_FORMAT = 2, NN_ERR_VERSION = 3, NN_ERR_CHECKSUM = 4, NN_ERR_DIVERGED = 6;

const now = () => performance.now();

class RequestError extends Error {}

// The loaded image shard's info, or the error the image requests answer.
function imageShard() {
  const info = worker.shardInfo;
  if (info?.kind !== 'images') throw new RequestError('no image shard is loaded: send loadImageShard first');
  return info;
}

// The image shard and the split a request names (default 'test'), with its size.
function imageSplit(data) {
  const info = imageShard();
  const split = data?.split ?? 'test';
  const n = info.splits?.[split];
  if (n === undefined) throw new RequestError(`the image shard has no split '${split}'`);
  return { info, split, n };
}

// ------------------------------------------------------------------ state

const worker = {
  engine: null,       // the emscripten module (createEngine instance)
  session: 0,         // nnw_session pointer
  initPromise: null,
  debug: false,       // init {debug: true} enables the test-hook requests
  shardInfo: null,
  busy: null,         // name of a long request in flight (loadShard), or null
  run: {
    state: 'idle',    // 'idle' | 'running' | 'paused' | 'done'
    sliceBatches: 1,  // adapted so one slice takes about SLICE_MS
    epochMs: 0,       // engine time in the current epoch (pauses excluded)
    totalMs: 0,
    lastBatchEvent: 0,
    scheduled: false,
    pace: 'fast',     // 'fast' | 'watch' (train request)
    checkpoints: false, // train {checkpoints: true}: epoch/done/trainError carry the model's bytes
    lastCheckpoint: 0,  // when an epoch event last carried them
    paceMs: 0,        // 'watch' pace: wait this long between one-batch slices
    points: [],       // per-batch points not yet sent
    logEpoch: 0,      // the epoch whose batch log was last read
    logRead: 0,       // batches of it already read
    testing: null,    // {early, pending} while the test set is evaluated
    restoresBest: false, // early stopping with restore_best_weights
  },
  epochWeights: new Map(), // epoch (1-based) -> Float32Array of its parameters
  epochWeightsBytes: 0,
  diagJob: null,      // the diagnose request in flight: {cancelled}
  confusionJob: null, // the confusion request in flight: {cancelled}
};

function post(message, transfer) {
  self.postMessage(message, transfer || []);
}

// ----------------------------------------------------------- engine calls

function api() {
  if (!worker.engine) throw new RequestError('the engine is not loaded yet: send init first');
  return worker.engine;
}

function lastError() {
  const e = api();
  return e.UTF8ToString(e._nnw_error(worker.session)) || 'unknown engine error';
}

// Throws the engine's message unless status is 0 (NN_OK).
function check(status, hint) {
  if (status !== 0) {
    const message = lastError();
    throw new RequestError(hint ? `${message} ${hint}` : message);
  }
}

// A session-owned string answer (JSON), or the engine's error.
function answer(ptr) {
  if (!ptr) throw new RequestError(lastError());
  return api().UTF8ToString(ptr);
}

// Copies bytes into fresh wasm memory from nnw_alloc; the caller frees it,
// or hands it to a call that takes ownership.
function copyIn(bytes, nulTerminate = false) {
  const e = api();
  const ptr = e._nnw_alloc(bytes.length + (nulTerminate ? 1 : 0));
  if (!ptr) throw new RequestError(`out of memory copying ${bytes.length} bytes into the engine`);
  const heap = e.HEAPU8; // fresh: nnw_alloc may have grown memory
  heap.set(bytes, ptr);
  if (nulTerminate) heap[ptr + bytes.length] = 0;
  return ptr;
}

const encoder = new TextEncoder();

// Runs fn(ptr, byteLength) on a NUL-terminated UTF-8 copy of str.
function withString(str, fn) {
  const bytes = encoder.encode(String(str));
  const ptr = copyIn(bytes, true);
  try {
    return fn(ptr, bytes.length);
  } finally {
    api()._nnw_free(ptr);
  }
}

function progressArray() {
  const e = api();
  const p = e._nnw_progress(worker.session) >> 2;
  return e.HEAPF32.slice(p, p + 14); // a copy: later calls may grow memory
}

// (loss, acc) of the last finished evaluation (nnw_eval_result).
function evalResult() {
  const e = api();
  const p = e._nnw_eval_result(worker.session) >> 2;
  return { loss: e.HEAPF32[p], acc: e.HEAPF32[p + 1] };
}

function history() {
  return JSON.parse(answer(api()._nnw_history(worker.session)));
}

function config() {
  return JSON.parse(answer(api()._nnw_config(worker.session)));
}

// For each UTF-8 byte offset of str (0..bytes), its UTF-16 index in str.
// Lone surrogates count as U+FFFD, 3 bytes, as TextEncoder writes them.
function byteToUtf16Index(str, byteLength) {
  const map = new Uint32Array(byteLength + 1);
  let b = 0;
  for (let j = 0; j < str.length; ) {
    const cp = str.codePointAt(j);
    const units = cp > 0xffff ? 2 : 1;
    const n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    for (let k = 0; k < n; k++) map[b + k] = j;
    b += n;
    j += units;
  }
  map[b] = str.length;
  return map;
}

// ------------------------------------------------------------- training

function requireIdleTraining(op) {
  if (worker.pretrain?.state === 'running')
    throw new RequestError(`cannot ${op} while word vectors are being trained: send stopPretrain first`);
  const s = worker.run.state;
  if (s === 'running' || s === 'paused')
    throw new RequestError(`cannot ${op} while training is ${s}: stop it first`);
}

// Yields to the event loop without setTimeout's 4 ms clamp: a message posted
// to our own MessageChannel is queued behind any request already waiting.
const sliceChannel = new MessageChannel();
sliceChannel.port1.onmessage = () => {
  worker.run.scheduled = false;
  runSlice();
};
function scheduleSlice() {
  if (worker.run.scheduled) return;
  worker.run.scheduled = true;
  if (worker.run.paceMs > 0 && !worker.run.testing) {
    // 'watch' pace: one batch per slice, spread out so an epoch lasts about
    // WATCH_EPOCH_MS and the curves can be followed by eye.
    setTimeout(() => {
      worker.run.scheduled = false;
      runSlice();
    }, worker.run.paceMs);
  } else {
    sliceChannel.port2.postMessage(null);
  }
}

// Moves the per-batch (loss, accuracy) of batches not yet sent into
// run.points, as {x: fractional epoch, loss, acc}.
function collectBatchPoints(epoch, batches) {
  const run = worker.run;
  const e = api();
  if (epoch !== run.logEpoch) {
    run.logEpoch = epoch;
    run.logRead = 0;
  }
  const n = e._nnw_batch_log_len(worker.session);
  if (n <= run.logRead) return;
  const base = e._nnw_batch_log(worker.session) >> 2;
  const heap = e.HEAPF32; // fresh after the calls above
  for (let i = run.logRead; i < n; i++)
    run.points.push({ x: epoch - 1 + (i + 1) / batches, loss: heap[base + 2 * i], acc: heap[base + 2 * i + 1] });
  run.logRead = n;
}

function trainSlice() {
  const run = worker.run;
  if (run.state !== 'running') return;
  if (run.testing) {
    testSlice();
    return;
  }
  const e = api();
  const t0 = now();
  const status = e._nnw_train(worker.session, run.paceMs > 0 ? 1 : run.sliceBatches);
  const ms = now() - t0;
  run.epochMs += ms;
  run.totalMs += ms;
  if (status !== 0) {
    run.state = 'idle';
    const data = status === NN_ERR_DIVERGED ? divergence() : { message: lastError() };
    if (data.checkpoint) post({ type: 'trainError', data }, [data.checkpoint]);
    else post({ type: 'trainError', data });
    return;
  }
  const [epoch, batch, batches, batchLoss, batchAcc, epochDone, finished,
    loss, acc, valLoss, valAcc, trainSize, stoppedEarly, bestEpoch] = progressArray();
  if (run.pace === 'watch') run.paceMs = Math.max(1, Math.round(WATCH_EPOCH_MS / Math.max(1, batches)));

  // Adapt the slice so it takes about SLICE_MS. A batch of work is a
  // training batch or a validation batch; both are counted.
  if (!epochDone) {
    const perBatch = ms / run.sliceBatches;
    const want = Math.round(SLICE_MS / Math.max(perBatch, 0.01));
    run.sliceBatches = Math.max(1, Math.min(MAX_SLICE_BATCHES, want, run.sliceBatches * 2));
  }

  // Every batch's loss reaches the page, in bundles of at most one per
  // EVENT_INTERVAL_MS (and at each epoch's end), so the page redraws at
  // its own pace whatever the engine's.
  collectBatchPoints(epoch, batches);
  const t = now();
  if (run.points.length && (epochDone || t - run.lastBatchEvent >= EVENT_INTERVAL_MS)) {
    run.lastBatchEvent = t;
    post({
      type: 'batch',
      data: { epoch, batch: batch || batches, batches, loss: batchLoss, acc: batchAcc, points: run.points },
    });
    run.points = [];
  }
  if (epochDone) {
    const nan = (x) => (Number.isNaN(x) ? null : x);
    // Restoring the best weights replaced this epoch's: nothing to keep.
    const weightsKept = stoppedEarly === 1 && run.restoresBest ? false : keepEpochWeights(epoch);
    const due = run.checkpoints && !finished && now() - run.lastCheckpoint >= CHECKPOINT_INTERVAL_MS;
    const checkpoint = due ? checkpointBytes() : null;
    if (checkpoint) run.lastCheckpoint = now();
    post({
      type: 'epoch',
      data: {
        epoch, loss, acc, val_loss: nan(valLoss), val_acc: nan(valAcc),
        ms: run.epochMs, reviewsPerSec: run.epochMs > 0 ? trainSize / (run.epochMs / 1000) : 0,
        embed: embedding.epochData(),
        weightsKept,
        ...(checkpoint ? { checkpoint } : {}),
      },
    }, checkpoint ? [checkpoint] : []);
    run.epochMs = 0;
  }
  if (finished) {
    startTest({ stoppedEarly: stoppedEarly === 1, bestEpoch });
    return;
  }
  scheduleSlice();
}

// A copy of the parameters at the end of an epoch, for diagnosing that
// epoch later, while the copies fit in EPOCH_WEIGHTS_BUDGET.
function keepEpochWeights(epoch) {
  const e = api();
  const n = e._nnw_params_len(worker.session);
  if (worker.epochWeightsBytes + 4 * n > EPOCH_WEIGHTS_BUDGET) return false;
  const p = e._nnw_params(worker.session) >> 2;
  worker.epochWeights.set(epoch, e.HEAPF32.slice(p, p + n));
  worker.epochWeightsBytes += 4 * n;
  return true;
}

function clearEpochWeights() {
  worker.epochWeights.clear();
  worker.epochWeightsBytes = 0;
}

// The trainError data of a diverged run: the engine's message, where it
// happened (x: the fractional epoch of the bad batch) and its loss; the batch
// points up to there are sent first, so the curve reaches the mark.
function divergence() {
  const run = worker.run;
  const message = lastError();
  const [epoch, batch, batches, loss] = progressArray();
  collectBatchPoints(epoch, batches);
  if (run.points.length) {
    post({ type: 'batch', data: { epoch, batch, batches, loss: run.points.at(-1).loss, acc: run.points.at(-1).acc, points: run.points } });
    run.points = [];
  }
  const x = batches > 0 ? epoch - 1 + Math.min(batch + 1, batches) / batches : epoch;
  // The engine has gone back to the last good weights: those are the model now.
  const checkpoint = run.checkpoints ? checkpointBytes() : null;
  return { message, diverged: true, epoch, batch: batch + 1, batches, loss, x, ...(checkpoint ? { checkpoint } : {}) };
}

// The model as checkpoint bytes (a fresh ArrayBuffer, to transfer), or null
// when the engine cannot write it (the event then goes without).
function checkpointBytes() {
  const e = api();
  const p = e._nnw_checkpoint_export(worker.session);
  if (!p) return null;
  const n = e._nnw_checkpoint_len(worker.session);
  return e.HEAPU8.slice(p, p + n).buffer;
}

// A trap or an abort inside the engine leaves the wasm instance in an unknown
// state (its stack and heap may be half-updated), so the worker is done:
// it says so with a `fatal` event and closes; the page starts a new one.
function isFatal(err) {
  return err instanceof WebAssembly.RuntimeError || /\bAborted\b|out of memory|allocation failed/i.test(String(err?.message ?? err));
}

function fatal(err) {
  worker.run.state = 'idle';
  const what = err instanceof WebAssembly.RuntimeError ? 'a WebAssembly trap' : 'an engine abort';
  post({ type: 'fatal', data: { message: `${what} (${err?.message ?? err})` } });
  self.close();
}

// Runs one slice of training; an engine crash there ends the worker.
function runSlice() {
  try {
    trainSlice();
  } catch (err) {
    if (isFatal(err)) fatal(err);
    else post({ type: 'trainError', data: { message: `internal error: ${err?.message ?? err}` } });
  }
}

// After the last epoch: the test set, evaluated in slices like training.
function startTest(early) {
  const run = worker.run;
  run.testing = { early };
  if ((worker.shardInfo?.splits?.test ?? 0) > 0) {
    if (withString('test', (p) => api()._nnw_evaluate_begin(worker.session, p)) !== 0) {
      run.state = 'idle';
      run.testing = null;
      post({ type: 'trainError', data: { message: lastError() } });
      return;
    }
    run.testing.pending = true;
  }
  scheduleSlice();
}

function testSlice() {
  const run = worker.run;
  const { early } = run.testing;
  let test = null;
  if (run.testing.pending) {
    const t0 = now();
    const batches = Math.max(1, run.sliceBatches);
    const r = api()._nnw_evaluate_step(worker.session, batches);
    const ms = now() - t0;
    run.totalMs += ms;
    // Sized like training slices; under the 'watch' pace too, which paces
    // training only (scheduleSlice), not the test set's evaluation.
    const want = Math.round(SLICE_MS / Math.max(ms / batches, 0.01));
    run.sliceBatches = Math.max(1, Math.min(MAX_SLICE_BATCHES, want, batches * 2));
    if (r < 0) {
      run.state = 'idle';
      run.testing = null;
      post({ type: 'trainError', data: { message: lastError() } });
      return;
    }
    if (r === 0) {
      scheduleSlice();
      return;
    }
    test = evalResult();
  }
  run.testing = null;
  run.state = 'done';
  const checkpoint = run.checkpoints ? checkpointBytes() : null;
  post({ type: 'done', data: { history: history(), test, ms: run.totalMs, ...early, ...(checkpoint ? { checkpoint } : {}) } },
    checkpoint ? [checkpoint] : []);
}

// ------------------------------------------------------------- requests

async function fetchWithProgress(url, eventType = 'shardProgress') {
  let response;
  try {
    response = await fetch(url);
  } catch (err) {
    throw new RequestError(`could not fetch ${url}: ${err.message}. ${REBUILD_HINT}`);
  }
  if (!response.ok)
    throw new RequestError(`could not fetch ${url}: HTTP ${response.status}. ${REBUILD_HINT}`);
  // Content-Length counts encoded bytes; with compression it is only a hint.
  const total = Number(response.headers.get('content-length')) || 0;
  const chunks = [];
  let loaded = 0, lastEvent = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    if (now() - lastEvent >= EVENT_INTERVAL_MS) {
      lastEvent = now();
      post({ type: eventType, data: { loaded, total: Math.max(total, loaded) } });
    }
  }
  post({ type: eventType, data: { loaded, total: loaded } });
  const bytes = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return bytes;
}

// loadShard and loadImageShard: the bytes from {url} or {bytes}, handed to
// the engine's loader export (which takes ownership, even on failure); the
// info export's JSON, kept as worker.shardInfo.
async function loadDataset(data, request, loadExport, infoExport, hint) {
  const e = api();
  requireIdleTraining('load a shard');
  if (worker.busy) throw new RequestError(`cannot load a shard during ${worker.busy}`);
  worker.busy = 'loadShard';
  try {
    let bytes;
    if (data?.bytes) bytes = new Uint8Array(data.bytes);
    else if (data?.url) bytes = await fetchWithProgress(data.url);
    else throw new RequestError(`${request} needs {url} or {bytes}`);
    const ptr = copyIn(bytes);
    embedding.onNewModel();
    const status = e[loadExport](worker.session, ptr, bytes.length);
    worker.shardInfo = null;
    worker.run.state = 'idle';
    if (status === NN_ERR_FORMAT || status === NN_ERR_VERSION || status === NN_ERR_CHECKSUM)
      check(status, hint);
    check(status);
    worker.shardInfo = JSON.parse(answer(e[infoExport](worker.session)));
    return worker.shardInfo;
  } finally {
    worker.busy = null;
  }
}

const handlers = {
  async init(data) {
    if (data?.debug === true) worker.debug = true;
    if (!worker.initPromise) {
      worker.initPromise = (async () => {
        // A cross-origin-isolated page (SharedArrayBuffer) on a machine with
        // a core to spare for the page itself (3 or more) gets the
        // two-thread engine, engine-mt.js; `threads: true` asks for it on
        // any isolated page, `false` never. Otherwise, or if it fails to
        // start, the one-thread engine.js. Results are the same bit for bit.
        const single = new URL('./engine/engine.js', import.meta.url).href;
        const multi = new URL('./engine/engine-mt.js', import.meta.url).href;
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
        worker.engine = engine;
        worker.session = session;
        return { version: engine.UTF8ToString(engine._nnw_version()), threads: engine._nnw_threads(session) };
      })();
      worker.initPromise.catch(() => { worker.initPromise = null; });
    }
    return worker.initPromise;
  },

  loadShard(data) {
    return loadDataset(data, 'loadShard', '_nnw_load_shard', '_nnw_shard_info', REBUILD_HINT);
  },

  // The second kind of dataset: an image shard (fashion.shard) for model
  // "mlp". Loading it replaces a loaded text shard and its model, and the
  // other way round; configure, train, evaluate, snapshot and restore then
  // work as for text.
  async loadImageShard(data) {
    const info = await loadDataset(data, 'loadImageShard', '_nnw_load_image_shard', '_nnw_image_info', IMAGE_REBUILD_HINT);
    info.kind = 'images';
    return info;
  },

  // One image of the loaded image shard: its pixels (0-255, row-major) and label.
  image(data) {
    const e = api();
    const { info, split, n } = imageSplit(data);
    let index = data?.index;
    if (index === undefined || index === null) index = Math.floor(Math.random() * n);
    if (!Number.isInteger(index) || index < 0 || index >= n)
      throw new RequestError(`image index ${index} is out of range: '${split}' has ${n} images`);
    const size = info.height * info.width * info.channels;
    const ptr = withString(split, (p) => e._nnw_image(worker.session, p, index));
    if (!ptr) throw new RequestError(lastError());
    const pixels = e.HEAPU8.slice(ptr, ptr + size);
    const label = withString(split, (p) => e._nnw_image_label(worker.session, p, index));
    return [{ split, index, label, className: info.class_names[label], height: info.height,
      width: info.width, channels: info.channels, pixels }, [pixels.buffer]];
  },

  // The model's class probabilities for one image: {pixels} (D values 0-255,
  // e.g. drawn on the page) or {split, index} of the loaded shard.
  predictImage(data) {
    const e = api();
    const info = imageShard();
    const size = info.height * info.width * info.channels;
    const t0 = now();
    let cls;
    if (data?.pixels) {
      const px = data.pixels instanceof Uint8Array ? data.pixels : Uint8Array.from(data.pixels);
      if (px.length !== size) throw new RequestError(`an image of ${px.length} values; the model reads ${size}`);
      const ptr = copyIn(px);
      try {
        cls = e._nnw_predict_image(worker.session, ptr);
      } finally {
        e._nnw_free(ptr);
      }
    } else {
      const split = data?.split ?? 'test', index = data?.index ?? 0;
      const ptr = withString(split, (p) => e._nnw_image(worker.session, p, index));
      if (!ptr) throw new RequestError(lastError());
      cls = e._nnw_predict_image(worker.session, ptr);
    }
    if (cls < 0) throw new RequestError(lastError());
    const probs = Array.from(floatsAt(e._nnw_predict_probs(worker.session), info.classes));
    return { probs, class: cls, className: info.class_names[cls], ms: now() - t0 };
  },

  // The model's predictions on a whole split of the loaded image shard
  // (default 'test'): the K x K confusion matrix (rows: true class, columns:
  // predicted) and the accuracy. Sliced like training (about SLICE_MS of
  // work, then other requests and training slices run), so it can run while
  // training; a newer confusion request cancels one in flight.
  async confusion(data) {
    const e = api();
    const { info, split, n } = imageSplit(data);
    if (worker.confusionJob) worker.confusionJob.cancelled = true;
    const job = { cancelled: false };
    worker.confusionJob = job;
    const K = info.classes;
    const matrix = new Uint32Array(K * K);
    const t0 = now();
    let ms = 0, correct = 0, i = 0;
    const name = copyIn(encoder.encode(split), true);
    const classes = e._nnw_alloc(CONFUSION_CHUNK * 4);
    try {
      if (!classes) throw new RequestError('out of memory for the predicted classes');
      while (i < n) {
        const start = now();
        while (i < n && now() - start < SLICE_MS) {
          // CONFUSION_CHUNK consecutive images, batch_size per forward pass.
          const count = Math.min(n - i, CONFUSION_CHUNK);
          const ptr = e._nnw_image(worker.session, name, i);
          if (!ptr || e._nnw_predict_images(worker.session, ptr, count, classes) !== count) throw new RequestError(lastError());
          const predicted = e.HEAPU32.subarray(classes >> 2, (classes >> 2) + count); // fresh view
          for (let j = 0; j < count; j++, i++) {
            const label = e._nnw_image_label(worker.session, name, i);
            if (label < 0) throw new RequestError(lastError());
            matrix[label * K + predicted[j]]++;
            if (label === predicted[j]) correct++;
          }
        }
        ms += now() - start;
        if (i < n) {
          await yieldToQueue();
          if (job.cancelled) throw new RequestError('cancelled: a newer confusion request replaced this one');
        }
      }
    } finally {
      e._nnw_free(name);
      e._nnw_free(classes);
      if (worker.confusionJob === job) worker.confusionJob = null;
    }
    return [{ split, n, classes: K, classNames: info.class_names, matrix, accuracy: n ? correct / n : NaN, ms, wallMs: now() - t0 },
      [matrix.buffer]];
  },

  configure(data) {
    const e = api();
    requireIdleTraining('configure');
    const json = JSON.stringify(data ?? {});
    embedding.onNewModel();
    check(withString(json, (p) => e._nnw_configure(worker.session, p)));
    Object.assign(worker.run, { state: 'idle', sliceBatches: 1, epochMs: 0, totalMs: 0, points: [], testing: null, logEpoch: 0, logRead: 0 });
    clearEpochWeights();
    return config();
  },

  train(data) {
    api();
    const run = worker.run;
    if (!api()._nnw_params_len(worker.session))
      throw new RequestError('no model yet: send configure (or importCheckpoint) first');
    if (worker.busy) throw new RequestError(`cannot train during ${worker.busy}`);
    if (run.state === 'running') throw new RequestError('training is already running');
    if (run.state === 'paused') throw new RequestError('training is paused: send resume');
    if (run.state === 'done')
      throw new RequestError('this run has finished all its epochs: send configure to start a new one');
    const pace = data?.pace ?? 'fast';
    if (pace !== 'fast' && pace !== 'watch')
      throw new RequestError(`unknown pace '${pace}': use 'fast' or 'watch'`);
    run.pace = pace;
    run.checkpoints = data?.checkpoints === true;
    run.lastCheckpoint = now();
    run.paceMs = 0; // set from the batch count after the first slice
    const c = config();
    run.restoresBest = c.patience > 0 && c.restore_best_weights === true;
    run.state = 'running';
    run.epochMs = 0;
    run.lastBatchEvent = 0;
    run.points = [];
    scheduleSlice();
    return { started: true };
  },

  pause() {
    if (worker.run.state === 'running') worker.run.state = 'paused';
    return { state: worker.run.state };
  },

  resume() {
    if (worker.run.state === 'paused') {
      worker.run.state = 'running';
      scheduleSlice();
    }
    return { state: worker.run.state };
  },

  stop() {
    const run = worker.run;
    if (run.state === 'running' || run.state === 'paused') run.state = 'idle';
    return { state: run.state };
  },

  predict(data) {
    const e = api();
    const t0 = now();
    const score = withString(data?.text ?? '', (p, n) => e._nnw_score(worker.session, p, n));
    if (score < 0) throw new RequestError(lastError());
    return { score, ms: now() - t0 };
  },

  explain(data) {
    const e = api();
    const text = String(data?.text ?? '');
    const t0 = now();
    let byteLength = 0;
    const k = withString(text, (p, n) => {
      byteLength = n;
      return e._nnw_explain(worker.session, p, n);
    });
    if (k < 0) throw new RequestError(lastError());
    const score = e._nnw_explain_score(worker.session);
    const rowsAt = e._nnw_explain_data(worker.session) >> 2;
    const rows = e.HEAPF32.subarray(rowsAt, rowsAt + 4 * k); // fresh view, used at once
    const at = byteToUtf16Index(text, byteLength);
    const tokens = new Array(k);
    for (let i = 0; i < k; i++) {
      tokens[i] = {
        start: at[rows[4 * i]],
        end: at[rows[4 * i + 1]],
        contribution: rows[4 * i + 2],
        id: rows[4 * i + 3],
      };
    }
    return { score, tokens, ms: now() - t0 };
  },

  review(data) {
    const e = api();
    const split = data?.split ?? 'test';
    const n = worker.shardInfo?.splits?.[split];
    if (n === undefined) throw new RequestError(`the shard has no split '${split}'`);
    if (n === 0) throw new RequestError(`split '${split}' is empty`);
    let index = data?.index;
    if (index === undefined || index === null) index = Math.floor(Math.random() * n);
    if (!Number.isInteger(index) || index < 0 || index >= n)
      throw new RequestError(`review index ${index} is out of range: '${split}' has ${n} reviews`);
    const r = JSON.parse(answer(withString(split, (p) => e._nnw_review(worker.session, p, index))));
    return { text: r.text, label: r.label, rating: r.rating, reviewId: r.review_id, tokens: r.tokens, index };
  },

  snapshot() {
    const e = api();
    const n = e._nnw_params_len(worker.session);
    if (!n) throw new RequestError('no model yet: send configure first');
    const p = e._nnw_params(worker.session) >> 2;
    const params = e.HEAPF32.slice(p, p + n);
    return [{ params }, [params.buffer]];
  },

  restore(data) {
    const e = api();
    const n = e._nnw_params_len(worker.session);
    if (!n) throw new RequestError('no model yet: send configure first');
    const params = data?.params;
    if (!(params instanceof Float32Array))
      throw new RequestError('restore needs {params: Float32Array}');
    if (params.length !== n)
      throw new RequestError(`restore got ${params.length} parameters; this model has ${n}`);
    e.HEAPF32.set(params, e._nnw_params(worker.session) >> 2);
    return {};
  },

  exportCheckpoint() {
    const bytes = checkpointBytes();
    if (!bytes) throw new RequestError(lastError());
    return [{ bytes }, [bytes]];
  },

  importCheckpoint(data) {
    const e = api();
    requireIdleTraining('import a checkpoint');
    if (!data?.bytes) throw new RequestError('importCheckpoint needs {bytes: ArrayBuffer}');
    const bytes = new Uint8Array(data.bytes);
    const ptr = copyIn(bytes); // nnw_checkpoint_import takes ownership
    embedding.onNewModel();
    check(e._nnw_checkpoint_import(worker.session, ptr, bytes.length));
    Object.assign(worker.run, { state: 'idle', sliceBatches: 1, epochMs: 0, totalMs: 0, points: [], testing: null, logEpoch: 0, logRead: 0 });
    clearEpochWeights();
    return { config: config(), history: history() };
  },

  // The wasm memory's size: it only grows, so this is its peak (benchmarks).
  stats() {
    return { wasmBytes: api().HEAPU8.length };
  },

  // A test hook (debug only: init with {debug: true}): the engine executes
  // a trap, as a crash would; the worker then reports `fatal` and closes.
  debugTrap() {
    const e = api();
    if (!worker.debug) throw new RequestError('debugTrap is a test hook: send init with {debug: true} first');
    e._nnw_debug_trap();
    return {};
  },

  evaluate(data) {
    const e = api();
    const split = data?.split ?? 'test';
    check(withString(split, (p) => e._nnw_evaluate(worker.session, p)));
    return evalResult();
  },
};

// What the model learned about words (worker_embeddings.js).
const embedding = embeddingHandlers({
  api, withString, answer, lastError, check, RequestError, post,
  session: () => worker.session,
  trainingState: () => worker.run.state,
});
Object.assign(handlers, embedding.handlers);

// ------------------------------------------------------------- diagnosis
//
// The engine scores every review of a split (or of the user's labelled
// text) with the current weights or an earlier epoch's, in slices like
// training, and summarises the scores (engine/diagnosis.h). The slider's
// requests (diagnoseThreshold) then only recount at a new threshold.

const diagChannel = new MessageChannel();
const diagWaiting = [];
diagChannel.port1.onmessage = () => diagWaiting.shift()?.();
// Lets queued requests (and training slices) run, like scheduleSlice.
const yieldToQueue = () => new Promise((resolve) => {
  diagWaiting.push(resolve);
  diagChannel.port2.postMessage(null);
});

const DIAG_SPLITS = ['val', 'test', 'text'];

function floatsAt(ptr, n) {
  const e = api();
  return e.HEAPF32.slice(ptr >> 2, (ptr >> 2) + n); // a copy: later calls may grow memory
}

// nnw_diagnose_at and nnw_diagnose_examples as an object.
function diagnosisAt(threshold, k) {
  const e = api();
  check(e._nnw_diagnose_threshold(worker.session, threshold, k));
  const a = floatsAt(e._nnw_diagnose_at(worker.session), 20);
  const ex = e._nnw_diagnose_examples(worker.session) >> 2;
  const heap = e.HEAPU32;
  const list = (at, n) => Array.from(heap.subarray(ex + at, ex + at + n));
  const cls = (i) => ({ precision: a[i], recall: a[i + 1], f1: a[i + 2], support: a[i + 3] });
  return {
    threshold, // as asked (a[0] holds it as a float32)
    confusion: { tp: a[1], fp: a[2], tn: a[3], fn: a[4] },
    accuracy: a[5],
    positive: cls(6),
    negative: cls(10),
    macro: { precision: a[14], recall: a[15], f1: a[16] },
    falsePositives: list(0, a[17]),
    falseNegatives: list(k, a[18]),
    uncertain: list(2 * k, a[19]),
  };
}

function diagnosisWords(k, byCount, minCount) {
  const e = api();
  const get = (sign) => JSON.parse(answer(e._nnw_diagnose_words(worker.session, k, sign, byCount ? 1 : 0, minCount)));
  return { positive: get(1), negative: get(-1) };
}

function checkK(k, what) {
  if (!Number.isInteger(k) || k < 0 || k > 1000) throw new RequestError(`${what} must be a whole number from 0 to 1000`);
  return k;
}

function checkThreshold(t) {
  if (typeof t !== 'number' || !(t >= 0 && t <= 1)) throw new RequestError('threshold must be a number from 0 to 1');
  return t;
}

const diagnosisHandlers = {
  async diagnose(data) {
    const e = api();
    const split = data?.split ?? 'val';
    if (!DIAG_SPLITS.includes(split)) throw new RequestError(`cannot diagnose '${split}': use 'val', 'test' or 'text'`);
    const epoch = data?.epoch ?? 0;
    const threshold = checkThreshold(data?.threshold ?? 0.5);
    const k = checkK(data?.k ?? 10, 'k');
    const words = data?.words !== false;
    const wordsK = checkK(data?.wordsK ?? 20, 'wordsK');
    let params = null;
    if (epoch) {
      params = worker.epochWeights.get(epoch);
      if (!params) {
        throw new RequestError(`the weights of epoch ${epoch} were not kept` +
          (worker.epochWeights.size ? ` (kept: epochs ${[...worker.epochWeights.keys()].join(', ')})` : '') +
          ': diagnose the current weights (epoch 0)');
      }
    }
    if (worker.diagJob) worker.diagJob.cancelled = true;
    const job = { cancelled: false };
    worker.diagJob = job;
    const t0 = now();
    let steps = 0;
    let status;
    let mark = now();
    if (params) {
      if (params.length !== e._nnw_params_len(worker.session))
        throw new RequestError(`epoch ${epoch} was kept for another model: diagnose the current weights`);
      const ptr = e._nnw_alloc(4 * params.length);
      if (!ptr) throw new RequestError('out of memory copying the weights to diagnose');
      e.HEAPF32.set(params, ptr >> 2);
      status = withString(split, (p) => e._nnw_diagnose_begin(worker.session, p, ptr, words ? 1 : 0));
      e._nnw_free(ptr);
    } else {
      status = withString(split, (p) => e._nnw_diagnose_begin(worker.session, p, 0, words ? 1 : 0));
    }
    check(status);
    let reviewsMs = now() - mark; // choosing the set, scoring it, the summary, the threshold's counts
    let wordsMs = 0;              // rating the words and ranking them
    const total = e._nnw_diagnose_size(worker.session);
    let batches = 1;
    for (;;) {
      const rating = e._nnw_diagnose_scored(worker.session) >= total;
      mark = now();
      const r = e._nnw_diagnose_step(worker.session, batches);
      const ms = now() - mark;
      if (rating) wordsMs += ms;
      else reviewsMs += ms;
      steps++;
      if (r < 0) throw new RequestError(lastError());
      if (r === 1) break;
      // Slices of about SLICE_MS, as training's, so replies stay prompt.
      const want = Math.round(SLICE_MS / Math.max(ms / batches, 0.01));
      batches = Math.max(1, Math.min(MAX_SLICE_BATCHES, want, batches * 2));
      await yieldToQueue();
      if (job.cancelled) throw new RequestError('cancelled: a newer diagnose request replaced this one');
    }
    mark = now();
    check(e._nnw_diagnose_finish(worker.session));
    const sm = floatsAt(e._nnw_diagnose_summary(worker.session), 12);
    const [n, positives, negatives, auc, ap, logLoss, ece, rocLen, prLen, bins, baseline, rated] = sm;
    const curves = floatsAt(e._nnw_diagnose_curves(worker.session), 3 * rocLen + 3 * prLen + 5 * bins);
    let at = 0;
    const part = (len) => curves.slice(at, (at += len));
    const roc = { fpr: part(rocLen), tpr: part(rocLen), threshold: part(rocLen) };
    const pr = { recall: part(prLen), precision: part(prLen), threshold: part(prLen) };
    const calibration = { meanProb: part(bins), fracPos: part(bins), count: part(bins) };
    const histogram = { negative: part(bins), positive: part(bins) };
    const atThreshold = diagnosisAt(threshold, k);
    reviewsMs += now() - mark;
    mark = now();
    const wordLists = words ? { baseline, rated, ...diagnosisWords(wordsK, true, 0) } : null;
    wordsMs += now() - mark;
    if (worker.diagJob === job) worker.diagJob = null;
    const transfer = [roc.fpr, roc.tpr, roc.threshold, pr.recall, pr.precision, pr.threshold,
      calibration.meanProb, calibration.fracPos, calibration.count, histogram.negative, histogram.positive].map((a) => a.buffer);
    return [{
      split, epoch, n, positives, negatives, auc, ap, logLoss, ece,
      roc, pr, calibration, histogram, at: atThreshold, words: wordLists,
      ms: reviewsMs + wordsMs, reviewsMs, wordsMs, wallMs: now() - t0, steps,
    }, transfer];
  },

  diagnoseThreshold(data) {
    return diagnosisAt(checkThreshold(data?.threshold ?? 0.5), checkK(data?.k ?? 10, 'k'));
  },

  diagnoseExample(data) {
    const e = api();
    const index = data?.index;
    if (!Number.isInteger(index) || index < 0) throw new RequestError('diagnoseExample needs {index}, a whole number');
    const r = JSON.parse(answer(e._nnw_diagnose_example(worker.session, index)));
    const k = r.rows;
    const rows = floatsAt(e._nnw_explain_data(worker.session), 4 * k);
    const score = e._nnw_explain_score(worker.session);
    const at = byteToUtf16Index(r.text, encoder.encode(r.text).length);
    const tokens = new Array(k);
    for (let i = 0; i < k; i++)
      tokens[i] = { start: at[rows[4 * i]], end: at[rows[4 * i + 1]], contribution: rows[4 * i + 2], id: rows[4 * i + 3] };
    const out = { index, text: r.text, label: r.label, score: r.score, explainScore: score, split: r.split, tokens };
    if (r.line !== undefined) out.line = r.line;
    else out.source = r.source;
    return out;
  },

  diagnoseWords(data) {
    const by = data?.by ?? 'count';
    if (by !== 'count' && by !== 'polarity') throw new RequestError(`rank words by 'count' or 'polarity', not '${by}'`);
    const minCount = data?.minCount ?? 0;
    if (!Number.isInteger(minCount) || minCount < 0) throw new RequestError('minCount must be a whole number');
    return diagnosisWords(checkK(data?.k ?? 20, 'k'), by === 'count', minCount);
  },

  labelledText(data) {
    const e = api();
    const format = { auto: 0, tsv: 1, txt: 1, csv: 2 }[data?.format ?? 'auto'];
    if (format === undefined) throw new RequestError(`unknown format '${data.format}': use 'auto', 'tsv', 'txt' or 'csv'`);
    let bytes;
    if (data?.bytes instanceof ArrayBuffer) bytes = new Uint8Array(data.bytes);
    else if (typeof data?.text === 'string') bytes = encoder.encode(data.text);
    else throw new RequestError('labelledText needs {text} or {bytes: ArrayBuffer}');
    if (worker.diagJob) worker.diagJob.cancelled = true; // it may be reading the old texts
    const ptr = copyIn(bytes);
    try {
      check(e._nnw_labelled_text(worker.session, ptr, bytes.length, format));
    } finally {
      e._nnw_free(ptr);
    }
    return JSON.parse(answer(e._nnw_labelled_text_info(worker.session)));
  },

  stopwords(data) {
    const spec = String(data?.spec ?? '');
    const r = JSON.parse(answer(withString(spec, (p) => api()._nnw_stopwords(worker.session, p))));
    const split = (s) => (s ? s.split(' ') : []);
    return { words: split(r.words), count: r.count, english: split(r.english) };
  },
};
Object.assign(handlers, diagnosisHandlers);
// Presets and pretrained embeddings (web/worker_pretrain.js).
Object.assign(handlers, pretrainHandlers({
  worker, api, post, check, answer, withString, copyIn, fetchWithProgress, RequestError, requireIdleTraining,
  isFatal, fatal,
}));

async function handle(message) {
  const { id, type, data } = message ?? {};
  try {
    const handler = Object.hasOwn(handlers, type) ? handlers[type] : null;
    if (!handler) throw new RequestError(`unknown request type '${type}'`);
    const result = await handler(data);
    const [reply, transfer] = Array.isArray(result) ? result : [result, []];
    post({ id, type: 'ok', data: reply }, transfer);
  } catch (err) {
    // An engine abort or a bug in this file still answers the request; an
    // engine crash then also ends this worker.
    const message = err instanceof RequestError ? err.message : `internal error: ${err?.message ?? err}`;
    post({ id, type: 'error', data: { op: String(type), message } });
    if (!(err instanceof RequestError) && isFatal(err)) fatal(err);
  }
}

self.addEventListener('message', (event) => { handle(event.data); });
