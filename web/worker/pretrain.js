// pretrain.js: the requests for pretrained word vectors (web/PROTOCOL.md):
// loadCorpus (the unlabelled reviews), pretrain, stopPretrain and nearest.
//
// word2vec runs as a job of the slicer, like training: slices of a number of
// words sized to take about SLICE_MS, so every request is still answered
// within a slice. While it runs, requests that replace the shard, the model
// or the corpus are refused. Deliberately not here: any word2vec logic
// (engine/word2vec.c) or anything about the page.

import { pretrainProgress } from './layouts.js';
import { RequestError, api, check, copyIn, json, lastError, now, post, readLayout, session, shared, withString } from './session.js';
import { findJob, refuseDuring, refuseReplacing, startJob } from './slicer.js';
import { SHARD_MAX_BYTES, uploadedBytes } from './uploads.js';

const PRETRAINING = 'word2vec pretraining';
const EVENT_INTERVAL_MS = 50; // at most one pretrainProgress event per this
const CORPUS_HINT = 'Rebuild it with scripts/setup.sh (it writes data/imdb-unsup.shard).';

const pre = {
  done: false,   // the vectors of the last pretrain are complete
  ms: 0,         // engine time so far
  lastEvent: 0,
  lossSum: 0,    // loss * pairs since the last event
  lossPairs: 0,
  pairs: 0,
};

function fail(message) {
  post({ type: 'pretrainError', data: { message } });
}

// One slice: whole reviews until at least slice.units words were read.
function pretrainStep(slice) {
  const e = api();
  const t0 = now();
  const status = e._nnw_pretrain_step(session(), slice.units);
  slice.ms = now() - t0;
  pre.ms += slice.ms;
  if (status !== 0) {
    fail(lastError());
    return true;
  }
  const q = readLayout(pretrainProgress, e._nnw_pretrain_progress(session()));
  const pairs = q.pairs - pre.pairs;
  pre.pairs = q.pairs;
  if (Number.isFinite(q.loss) && pairs > 0) {
    pre.lossSum += q.loss * pairs;
    pre.lossPairs += pairs;
  }
  const finished = q.finished === 1;
  const wordsPerSec = pre.ms > 0 ? q.tokens / (pre.ms / 1000) : 0;
  const t = now();
  if (finished || t - pre.lastEvent >= EVENT_INTERVAL_MS) {
    pre.lastEvent = t;
    post({
      type: 'pretrainProgress',
      data: {
        fraction: q.fraction, tokens: q.tokens, tokensTotal: q.tokens_total, epoch: q.epoch, epochs: q.epochs, lr: q.lr,
        loss: pre.lossPairs > 0 ? pre.lossSum / pre.lossPairs : null, ms: pre.ms, wordsPerSec,
      },
    });
    pre.lossSum = 0;
    pre.lossPairs = 0;
  }
  if (!finished) return false;
  pre.done = true;
  post({ type: 'pretrainDone', data: { ms: pre.ms, tokens: q.tokens, pairs: q.pairs, wordsPerSec } });
  return true;
}

export const pretrainHandlers = {
  async loadCorpus(data) {
    const e = api();
    refuseReplacing('load the unlabelled reviews', ['corpus']);
    if (!shared.shardInfo) throw new RequestError('load the main shard (imdb.shard) before the unlabelled reviews');
    if (shared.busy) throw new RequestError(`cannot load the unlabelled reviews during ${shared.busy}`);
    shared.busy = 'loadCorpus';
    try {
      const bytes = await uploadedBytes(data, {
        request: 'loadCorpus', what: 'the corpus', limit: SHARD_MAX_BYTES, progress: 'corpusProgress', hint: CORPUS_HINT,
      });
      refuseReplacing('load the unlabelled reviews', ['corpus']);
      const ptr = copyIn(bytes); // nnw_load_corpus takes ownership, even on failure
      pre.done = false;
      check(e._nnw_load_corpus(session(), ptr, bytes.length), CORPUS_HINT);
      return { reviews: e._nnw_corpus_reviews(session()), bytes: bytes.length };
    } finally {
      shared.busy = null;
    }
  },

  pretrain(data) {
    const e = api();
    refuseDuring(PRETRAINING, 'start pretraining');
    refuseDuring('training', 'start pretraining');
    if (shared.busy) throw new RequestError(`cannot start pretraining during ${shared.busy}`);
    const text = JSON.stringify(data ?? {});
    pre.done = false;
    check(withString(text, (p) => e._nnw_pretrain_begin(session(), p)));
    Object.assign(pre, { ms: 0, lastEvent: 0, lossSum: 0, lossPairs: 0, pairs: 0 });
    startJob({
      name: PRETRAINING,
      // configure may start a model from the vectors being trained
      // (embedding_init word2vec): a new model waits too.
      reads: ['shard', 'model', 'corpus'],
      onChange: 'refuse',
      refusal: (verb) => `cannot ${verb} while word vectors are being trained: send stopPretrain first`,
      step: pretrainStep,
      units: 2000,
      min: 100,
      max: 1 << 20,
      onError: (err) => fail(`internal error: ${err?.message ?? err}`),
    });
    return { started: true };
  },

  // Stopped vectors are unusable (the engine refuses a model from them).
  stopPretrain() {
    findJob(PRETRAINING)?.cancel('stopped');
    return { state: findJob(PRETRAINING) ? 'running' : pre.done ? 'done' : 'idle' };
  },

  nearest(data) {
    const e = api();
    const words = Array.isArray(data?.words) ? data.words.map(String) : [];
    const k = Math.max(1, Math.min(32, Number(data?.k) || 8));
    const neighbours = {};
    for (const word of words)
      neighbours[word] = json(withString(word, (p, n) => e._nnw_pretrain_nearest(session(), p, n, k)));
    return { neighbours };
  },
};
