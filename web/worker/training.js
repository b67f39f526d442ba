// training.js: a run of training, from the model it starts with to its test
// result: configure (and importCheckpoint, which starts a run from a
// checkpoint's weights), the config's schema and presets, train with its
// batch/epoch/done events, pause/resume/stop, and evaluate.
//
// Training is one job of the slicer (slicer.js): each slice trains a few
// batches (nnw_train), then, after the last epoch, evaluates the test set in
// slices too; the page hears `batch`, `epoch` and `done` events (or
// `trainError`). The best epoch and whether its weights were restored are
// the engine's (progress fields best_epoch, restored_best), never decided
// here. Deliberately not here: any training logic (engine/train.c) or
// anything about the page.

import { epochData } from './embeddings.js';
import { evalResult } from './layouts.js';
import { checkpointBytes, clearEpochWeights, keepEpochWeights } from './model.js';
import {
  NN_ERR_DIVERGED, RequestError, api, check, config, copyIn, history, json, lastError, now, post, progressNow,
  readLayout, requireModel, session, shared, withString,
} from './session.js';
import { beforeReplacing, findJob, refuseReplacing, startJob } from './slicer.js';
import { TEST_WAIT_MS, testFailure, testPending } from './testsplit.js';
import { CHECKPOINT_MAX_BYTES, givenBytes } from './uploads.js';

const EVENT_INTERVAL_MS = 50; // at most one batch event per this
const WATCH_EPOCH_MS = 1500;  // the 'watch' pace: about this long per epoch
// train {checkpoints}: epoch events carry the model at most this often (an
// export costs ~3 ms, a tenth of a fast epoch); done and divergence always do.
const CHECKPOINT_INTERVAL_MS = 1000;
// nnw_batch_log: one (loss, accuracy) pair per training batch.
const BATCH_LOG_ROW = 2;

const TRAINING = 'training';

// The run in the session: its settings and what the events have sent so far.
const run = {
  finished: false,  // all epochs and the test set done: train needs a new configure
  testing: null,    // {early, pending} while (or before) the test set is evaluated
  pace: 'fast',     // 'fast' | 'watch' (train request)
  paceMs: 0,        // 'watch' pace: wait this long between one-batch slices
  checkpoints: false, // train {checkpoints: true}: epoch/done/trainError carry the model's bytes
  lastCheckpoint: 0,  // when an epoch event last carried them
  epochMs: 0,       // engine time in the current epoch (pauses excluded)
  totalMs: 0,
  lastBatchEvent: 0,
  points: [],       // per-batch points not yet sent
  logEpoch: 0,      // the epoch whose batch log was last read
  logRead: 0,       // batches of it already read
};

// 'idle' | 'running' | 'paused' | 'done', as the pause/resume/stop replies say.
function trainingState() {
  const job = findJob(TRAINING);
  if (job) return job.state;
  return run.finished ? 'done' : 'idle';
}

// A new model, or none (a new shard): the next train starts a new run.
export function resetRun() {
  findJob(TRAINING)?.cancel('a new model');
  Object.assign(run, { finished: false, testing: null, epochMs: 0, totalMs: 0, points: [], logEpoch: 0, logRead: 0 });
}

// Moves the per-batch (loss, accuracy) of batches not yet sent into
// run.points, as {x: fractional epoch, loss, acc}.
function collectBatchPoints(epoch, batches) {
  const e = api();
  if (epoch !== run.logEpoch) {
    run.logEpoch = epoch;
    run.logRead = 0;
  }
  const n = e._nnw_batch_log_len(session());
  if (n <= run.logRead) return;
  const base = e._nnw_batch_log(session()) >> 2;
  const heap = e.HEAPF32; // fresh after the calls above
  for (let i = run.logRead; i < n; i++) {
    const at = base + BATCH_LOG_ROW * i;
    run.points.push({ x: epoch - 1 + (i + 1) / batches, loss: heap[at], acc: heap[at + 1] });
  }
  run.logRead = n;
}

function sendPoints(data) {
  post({ type: 'batch', data: { ...data, points: run.points } });
  run.points = [];
}

const nan = (x) => (Number.isNaN(x) ? null : x);

// One slice of the training job: a few batches, or a few of the test set's.
function trainingStep(slice) {
  if (run.testing) return testStep(slice);
  const e = api();
  if (run.paceMs > 0) slice.ran = 1;
  const t0 = now();
  const status = e._nnw_train(session(), slice.ran);
  const ms = now() - t0;
  slice.ms = ms;
  run.epochMs += ms;
  run.totalMs += ms;
  if (status !== 0) {
    const data = status === NN_ERR_DIVERGED ? divergence() : { message: lastError() };
    post({ type: 'trainError', data }, data.checkpoint ? [data.checkpoint] : []);
    return true;
  }
  const p = progressNow();
  if (run.pace === 'watch') run.paceMs = Math.max(1, Math.round(WATCH_EPOCH_MS / Math.max(1, p.batches)));
  // The slice at an epoch's end also validated and recorded the embedding:
  // not a measure of a batch's time.
  if (p.epoch_done) slice.adapt = false;

  // Every batch's loss reaches the page, in bundles of at most one per
  // EVENT_INTERVAL_MS (and at each epoch's end), so the page redraws at
  // its own pace whatever the engine's.
  collectBatchPoints(p.epoch, p.batches);
  const t = now();
  if (run.points.length && (p.epoch_done || t - run.lastBatchEvent >= EVENT_INTERVAL_MS)) {
    run.lastBatchEvent = t;
    sendPoints({ epoch: p.epoch, batch: p.batch || p.batches, batches: p.batches, loss: p.batch_loss, acc: p.batch_acc });
  }
  if (p.epoch_done) sendEpoch(p);
  if (p.finished) {
    run.testing = { early: { stoppedEarly: p.stopped_early === 1, bestEpoch: p.best_epoch, restoredBest: p.restored_best === 1 } };
    // A static site's test reviews may still be downloading (testsplit.js):
    // the run waits for them, and says so.
    if (testPending()) {
      run.testing.waiting = true;
      post({ type: 'testWaiting', data: {} });
      return false;
    }
    return beginTest();
  }
  return false;
}

// Starts the test evaluation when there is a test set; true: the run ended with an error.
function beginTest() {
  if ((shared.shardInfo?.splits?.test ?? 0) > 0) {
    if (withString('test', (s) => api()._nnw_evaluate_begin(session(), s)) !== 0) {
      run.testing = null;
      post({ type: 'trainError', data: { message: lastError() } });
      return true;
    }
    run.testing.pending = true;
  }
  return false;
}

function sendEpoch(p) {
  // Restoring the best weights replaced this epoch's: nothing to keep.
  const weightsKept = p.restored_best === 1 ? false : keepEpochWeights(p.epoch);
  const due = run.checkpoints && !p.finished && now() - run.lastCheckpoint >= CHECKPOINT_INTERVAL_MS;
  const checkpoint = due ? checkpointBytes() : null;
  if (checkpoint) run.lastCheckpoint = now();
  post({
    type: 'epoch',
    data: {
      epoch: p.epoch, loss: p.loss, acc: p.acc, val_loss: nan(p.val_loss), val_acc: nan(p.val_acc),
      ms: run.epochMs, reviewsPerSec: run.epochMs > 0 ? p.train_size / (run.epochMs / 1000) : 0,
      bestEpoch: p.best_epoch,
      embed: epochData(),
      weightsKept,
      ...(checkpoint ? { checkpoint } : {}),
    },
  }, checkpoint ? [checkpoint] : []);
  run.epochMs = 0;
}

// After the last epoch: the test set, in slices like training (and under
// the 'watch' pace too, which paces training only), then the review box's
// temperatures fitted on the validation reviews (engine/temperature.h; not
// counted in the run's time), then `done`.
function testStep(slice) {
  const { early } = run.testing;
  if (run.testing.waiting) {
    slice.adapt = false; // no work: not a measure of a slice's size
    run.testing.waiting = testPending() && !testFailure();
    if (run.testing.waiting) return false; // looked at again after TEST_WAIT_MS
    if (testPending()) return false; // the download failed (testFailed told the page): done without a test result
    return beginTest();
  }
  if (run.testing.pending) {
    const t0 = now();
    const r = api()._nnw_evaluate_step(session(), slice.ran);
    slice.ms = now() - t0;
    run.totalMs += slice.ms;
    if (r < 0) {
      run.testing = null;
      post({ type: 'trainError', data: { message: lastError() } });
      return true;
    }
    if (r === 0) return false;
    run.testing.test = readLayout(evalResult, api()._nnw_eval_result(session()));
    run.testing.pending = false;
    return false;
  }
  if (!run.testing.calibrating) {
    // No validation reviews (or an image model): no temperature, done.
    run.testing.calibrating = api()._nnw_temperature_begin(session()) === 0;
    if (run.testing.calibrating) return false;
  } else {
    const t0 = now();
    const r = api()._nnw_temperature_step(session(), slice.ran);
    slice.ms = now() - t0;
    if (r === 0) return false;
  }
  const test = run.testing.test ?? null;
  run.testing = null;
  run.finished = true;
  const checkpoint = run.checkpoints ? checkpointBytes() : null;
  post({ type: 'done', data: { history: history(), test, ms: run.totalMs, temperature: temperatures(), ...early, ...(checkpoint ? { checkpoint } : {}) } },
    checkpoint ? [checkpoint] : []);
  return true;
}

// The review box's temperatures (0: none fitted), as the engine holds them.
export function temperatures() {
  const e = api();
  return { whole: e._nnw_temperature(session()), short: e._nnw_temperature_short(session()) };
}

// The trainError data of a diverged run: the engine's message, where it
// happened (x: the fractional epoch of the bad batch) and its loss; the batch
// points up to there are sent first, so the curve reaches the mark.
function divergence() {
  const message = lastError();
  const { epoch, batch, batches, batch_loss: loss } = progressNow();
  collectBatchPoints(epoch, batches);
  if (run.points.length) sendPoints({ epoch, batch, batches, loss: run.points.at(-1).loss, acc: run.points.at(-1).acc });
  const x = batches > 0 ? epoch - 1 + Math.min(batch + 1, batches) / batches : epoch;
  // The engine has gone back to the last good weights: those are the model now.
  const checkpoint = run.checkpoints ? checkpointBytes() : null;
  return { message, diverged: true, epoch, batch: batch + 1, batches, loss, x, ...(checkpoint ? { checkpoint } : {}) };
}

function startTraining() {
  return startJob({
    name: TRAINING,
    reads: ['shard', 'model'],
    onChange: 'refuse',
    refusal: (verb) => `cannot ${verb} while training is ${trainingState()}: stop it first`,
    step: trainingStep,
    // 'watch' pace: one batch per slice, spread out so an epoch lasts about
    // WATCH_EPOCH_MS and the curves can be followed by eye.
    delayMs: () => (run.testing ? (run.testing.waiting ? TEST_WAIT_MS : 0) : run.paceMs),
    onError: (err) => post({ type: 'trainError', data: { message: `internal error: ${err?.message ?? err}` } }),
  });
}

// A new model was configured or imported: a new run.
function newModel() {
  resetRun();
  clearEpochWeights();
}

function refuseWhileBusy(verb) {
  if (shared.busy) throw new RequestError(`cannot ${verb} during ${shared.busy}`);
}

// A checkpoint refused from its head, before the whole file is copied into
// wasm memory (which never shrinks): the engine checks the 32-byte header
// (sizes against the file's length, the JSON's at most 64 MB), then the
// header with its JSON (the config, and the budget of the trainer it would
// build), so a 200 MB file whose config is over the budget costs its head,
// not 200 MB plus the reader's model (nnw_checkpoint_check, PROTOCOL.md).
function checkCheckpointHead(bytes) {
  const e = api();
  const checkSlice = (n) => {
    const ptr = copyIn(bytes.subarray(0, n));
    try {
      check(e._nnw_checkpoint_check(session(), ptr, n, bytes.length));
    } finally {
      e._nnw_free(ptr);
    }
  };
  checkSlice(Math.min(bytes.length, 32));
  // The header passed: its JSON length (offset 12, engine/checkpoint.c) fits the file.
  const jsonLen = new DataView(bytes.buffer, bytes.byteOffset + 12, 4).getUint32(0, true);
  checkSlice(32 + jsonLen);
}

export const trainingHandlers = {
  configure(data) {
    const e = api();
    refuseReplacing('configure', ['model']);
    refuseWhileBusy('configure');
    beforeReplacing('configure', 'configure', ['model']);
    const text = JSON.stringify(data ?? {});
    check(withString(text, (p) => e._nnw_configure(session(), p)));
    newModel();
    return config();
  },

  // The engine's config table (engine/config.c FIELDS), for the page's
  // settings table.
  configSchema() {
    return { schema: json(api()._nnw_config_schema()) };
  },

  presets() {
    // An object: an array reply would be read as [reply, transfer].
    return { presets: json(api()._nnw_presets(session())) };
  },

  importCheckpoint(data) {
    const e = api();
    refuseReplacing('import a checkpoint', ['model']);
    refuseWhileBusy('import a checkpoint');
    if (!data?.bytes) throw new RequestError('importCheckpoint needs {bytes: ArrayBuffer}');
    const bytes = givenBytes(data.bytes, { request: 'importCheckpoint', what: 'the checkpoint', limit: CHECKPOINT_MAX_BYTES });
    checkCheckpointHead(bytes);
    beforeReplacing('importCheckpoint', 'import a checkpoint', ['model']);
    const ptr = copyIn(bytes); // nnw_checkpoint_import takes ownership
    check(e._nnw_checkpoint_import(session(), ptr, bytes.length));
    newModel();
    return { config: config(), history: history() };
  },

  train(data) {
    requireModel('send configure (or importCheckpoint) first');
    refuseWhileBusy('train');
    const state = trainingState();
    if (state === 'running') throw new RequestError('training is already running');
    if (state === 'paused') throw new RequestError('training is paused: send resume');
    if (state === 'done') throw new RequestError('this run has finished all its epochs: send configure to start a new one');
    const pace = data?.pace ?? 'fast';
    if (pace !== 'fast' && pace !== 'watch')
      throw new RequestError(`unknown pace '${pace}': use 'fast' or 'watch'`);
    run.pace = pace;
    run.checkpoints = data?.checkpoints === true;
    run.lastCheckpoint = now();
    run.paceMs = 0; // set from the batch count after the first slice
    run.epochMs = 0;
    run.lastBatchEvent = 0;
    run.points = [];
    startTraining();
    return { started: true };
  },

  pause() {
    findJob(TRAINING)?.pause();
    return { state: trainingState() };
  },

  resume() {
    findJob(TRAINING)?.resume();
    return { state: trainingState() };
  },

  // Ends the run's job without the test evaluation (no `done`); the weights
  // stay, and a later train goes on with the same run.
  stop() {
    findJob(TRAINING)?.cancel('stopped');
    return { state: trainingState() };
  },

  evaluate(data) {
    const e = api();
    const split = data?.split ?? 'test';
    check(withString(split, (p) => e._nnw_evaluate(session(), p)));
    return readLayout(evalResult, e._nnw_eval_result(session()));
  },
};
