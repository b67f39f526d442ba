// mlm.js: the requests for the Transformer's masked-language-model
// pretraining (web/PROTOCOL.md): pretrainMlm, pauseMlm, resumeMlm, stopMlm,
// fillMask, exportEncoder, importEncoder and useEncoder.
//
// Pretraining runs as a job of the slicer, like word2vec's (pretrain.js):
// slices of whole batches sized to take about SLICE_MS, over the loaded
// shard's training reviews and the loaded corpus (loadCorpus), never the
// test reviews. The encoder is usable at any moment (fillMask while it
// learns); stopping keeps it. Deliberately not here: any MLM logic
// (engine/mlm.c, engine/session_mlm.c) or anything about the page.

import { mlmProgress } from './layouts.js';
import { RequestError, api, check, copyIn, json, lastError, now, post, readLayout, session, shared, withString } from './session.js';
import { findJob, refuseDuring, startJob } from './slicer.js';

const MLM = 'masked-language-model pretraining';
const EVENT_INTERVAL_MS = 100; // at most one mlmProgress event per this

const run = {
  ms: 0,          // engine time so far
  lastEvent: 0,
  lossSum: 0,     // loss * targets since the last event
  right: 0,       // masked tokens predicted right since the last event
  targets: 0,
  done: false,
};

function fail(message) {
  post({ type: 'mlmError', data: { message } });
}

// One slice: slice.units whole batches.
function mlmStep(slice) {
  const e = api();
  const t0 = now();
  const status = e._nnw_mlm_step(session(), slice.units);
  slice.ms = now() - t0;
  run.ms += slice.ms;
  if (status !== 0) {
    fail(lastError());
    return true;
  }
  const q = readLayout(mlmProgress, e._nnw_mlm_progress(session()));
  if (q.targets > 0 && Number.isFinite(q.loss)) {
    run.lossSum += q.loss * q.targets;
    run.right += q.accuracy * q.targets;
    run.targets += q.targets;
  }
  const finished = q.finished === 1;
  const reviewsPerSec = run.ms > 0 ? q.reviews / (run.ms / 1000) : 0;
  const t = now();
  if (finished || t - run.lastEvent >= EVENT_INTERVAL_MS) {
    run.lastEvent = t;
    const left = reviewsPerSec > 0 ? ((q.reviews_total - q.reviews) / reviewsPerSec) * 1000 : null;
    post({
      type: 'mlmProgress',
      data: {
        fraction: q.fraction, reviews: q.reviews, reviewsTotal: q.reviews_total, pass: q.pass, passes: q.passes,
        lr: q.lr, loss: run.targets > 0 ? run.lossSum / run.targets : null,
        accuracy: run.targets > 0 ? run.right / run.targets : null, ms: run.ms, msLeft: left, reviewsPerSec,
      },
    });
    run.lossSum = 0;
    run.right = 0;
    run.targets = 0;
  }
  if (!finished) return false;
  run.done = true;
  post({ type: 'mlmDone', data: { ms: run.ms, reviews: q.reviews, reviewsPerSec } });
  return true;
}

function job() {
  return findJob(MLM);
}

export const mlmHandlers = {
  // data: {config: a transformer's config (e.g. the preset
  // tutorial-transformer's), passes (1), reviews (per pass; 0: all)}.
  pretrainMlm(data) {
    const e = api();
    refuseDuring(MLM, 'start pretraining');
    if (shared.busy) throw new RequestError(`cannot start pretraining during ${shared.busy}`);
    const text = JSON.stringify(data?.config ?? {});
    const passes = Math.max(1, Math.floor(Number(data?.passes) || 1));
    const reviews = Math.max(0, Math.floor(Number(data?.reviews) || 0));
    run.done = false;
    check(withString(text, (p) => e._nnw_mlm_begin(session(), p, passes, reviews)));
    Object.assign(run, { ms: 0, lastEvent: 0, lossSum: 0, right: 0, targets: 0 });
    startJob({
      name: MLM,
      reads: ['shard', 'corpus'],
      onChange: 'refuse',
      refusal: (verb) => `cannot ${verb} during ${MLM}: send stopMlm first`,
      step: mlmStep,
      units: 1,
      min: 1,
      max: 64,
      onError: (err) => fail(`internal error: ${err?.message ?? err}`),
    });
    return { started: true };
  },

  pauseMlm() {
    job()?.pause();
    return { state: job()?.state ?? (run.done ? 'done' : 'idle') };
  },

  resumeMlm() {
    job()?.resume();
    return { state: job()?.state ?? (run.done ? 'done' : 'idle') };
  },

  // The encoder learned so far stays: fillMask, exportEncoder and
  // useEncoder work on it.
  stopMlm() {
    job()?.cancel('stopped');
    return { state: job() ? 'running' : run.done ? 'done' : 'stopped' };
  },

  // data: {text: with a [MASK], k (10)} -> {words: [{word, p}, ...]}
  fillMask(data) {
    const e = api();
    const k = Math.max(1, Math.min(50, Number(data?.k) || 10));
    const ptr = withString(String(data?.text ?? ''), (p, n) => e._nnw_mlm_fill(session(), p, n, k));
    if (!ptr) throw new RequestError(lastError());
    return { words: json(ptr) };
  },

  // -> {bytes}: the encoder as a checkpoint file (transferred).
  exportEncoder() {
    const e = api();
    const ptr = e._nnw_mlm_export(session());
    if (!ptr) throw new RequestError(lastError());
    const n = e._nnw_mlm_export_len(session());
    const bytes = e.HEAPU8.slice(ptr, ptr + n);
    return [{ bytes: bytes.buffer }, [bytes.buffer]];
  },

  // data: {bytes: an ArrayBuffer of an encoder's checkpoint file}
  importEncoder(data) {
    refuseDuring(MLM, 'load an encoder');
    const bytes = new Uint8Array(data?.bytes ?? []);
    if (bytes.length === 0) throw new RequestError('importEncoder needs the bytes of an encoder file');
    const ptr = copyIn(bytes); // nnw_mlm_import takes ownership, even on failure
    check(api()._nnw_mlm_import(session(), ptr, bytes.length));
    return { bytes: bytes.length };
  },

  // The configured transformer (configure with the preset
  // transformer-pretrained's config, before train) starts from the encoder.
  useEncoder() {
    refuseDuring('training', 'give the model the encoder');
    check(api()._nnw_mlm_give(session()));
    return { ok: true };
  },
};
