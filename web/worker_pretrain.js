// worker_pretrain.js: the worker's requests for pretrained embeddings and
// presets (web/PROTOCOL.md): presets, loadCorpus, pretrain, stopPretrain,
// nearest. worker.js merges these handlers into its own and passes in its
// helpers, so this file holds only the word2vec side of the worker.
//
// word2vec runs like training: in slices sized to take about SLICE_MS,
// yielding through a MessageChannel between them, so every request is still
// answered within one slice. Deliberately not here: any word2vec logic
// (engine/word2vec.c) or anything about the page.

const SLICE_MS = 15;
const EVENT_INTERVAL_MS = 50;
const MAX_SLICE_TOKENS = 1 << 20;

// The engine's progress slots (nnw_pretrain_progress, PROTOCOL.md).
const W = { fraction: 0, tokens: 1, tokensTotal: 2, epoch: 3, epochs: 4, lr: 5, loss: 6, finished: 7, pairs: 8, count: 9 };

export function pretrainHandlers(ctx) {
  const { worker, api, post, check, answer, withString, copyIn, fetchWithProgress, RequestError, requireIdleTraining } = ctx;
  // An engine trap or abort ends the worker (worker.js's rule): with them,
  // a slice's crash is reported as 'fatal', not as a word2vec error.
  const isFatal = ctx.isFatal ?? (() => false);
  const fatal = ctx.fatal ?? ((err) => { throw err; });
  const now = () => performance.now();

  const pre = {
    state: 'idle',      // 'idle' | 'running' | 'done'
    sliceTokens: 2000,  // adapted so one slice takes about SLICE_MS
    ms: 0,              // engine time so far
    lastEvent: 0,
    lossSum: 0,         // loss * pairs since the last event
    lossPairs: 0,
    pairs: 0,
    scheduled: false,
  };
  worker.pretrain = pre; // worker.js refuses shard/config changes while it runs

  function progress() {
    const e = api();
    const p = e._nnw_pretrain_progress(worker.session) >> 2;
    return e.HEAPF32.slice(p, p + W.count);
  }

  const channel = new MessageChannel();
  channel.port1.onmessage = () => {
    pre.scheduled = false;
    try {
      slice();
    } catch (err) {
      pre.state = 'idle';
      if (isFatal(err)) fatal(err);
      else post({ type: 'pretrainError', data: { message: `internal error: ${err?.message ?? err}` } });
    }
  };
  function schedule() {
    if (pre.scheduled) return;
    pre.scheduled = true;
    channel.port2.postMessage(null);
  }

  function fail(message) {
    pre.state = 'idle';
    post({ type: 'pretrainError', data: { message } });
  }

  function slice() {
    if (pre.state !== 'running') return;
    const e = api();
    const t0 = now();
    const status = e._nnw_pretrain_step(worker.session, pre.sliceTokens);
    const ms = now() - t0;
    pre.ms += ms;
    if (status !== 0) {
      fail(e.UTF8ToString(e._nnw_error(worker.session)));
      return;
    }
    const q = progress();
    const pairs = q[W.pairs] - pre.pairs;
    pre.pairs = q[W.pairs];
    if (Number.isFinite(q[W.loss]) && pairs > 0) {
      pre.lossSum += q[W.loss] * pairs;
      pre.lossPairs += pairs;
    }
    const perToken = ms / pre.sliceTokens;
    const want = Math.round(SLICE_MS / Math.max(perToken, 1e-5));
    pre.sliceTokens = Math.max(100, Math.min(MAX_SLICE_TOKENS, want, pre.sliceTokens * 2));
    const finished = q[W.finished] === 1;
    const t = now();
    if (finished || t - pre.lastEvent >= EVENT_INTERVAL_MS) {
      pre.lastEvent = t;
      post({
        type: 'pretrainProgress',
        data: {
          fraction: q[W.fraction], tokens: q[W.tokens], tokensTotal: q[W.tokensTotal],
          epoch: q[W.epoch], epochs: q[W.epochs], lr: q[W.lr],
          loss: pre.lossPairs > 0 ? pre.lossSum / pre.lossPairs : null,
          ms: pre.ms, wordsPerSec: pre.ms > 0 ? q[W.tokens] / (pre.ms / 1000) : 0,
        },
      });
      pre.lossSum = 0;
      pre.lossPairs = 0;
    }
    if (finished) {
      pre.state = 'done';
      post({
        type: 'pretrainDone',
        data: { ms: pre.ms, tokens: q[W.tokens], pairs: q[W.pairs], wordsPerSec: pre.ms > 0 ? q[W.tokens] / (pre.ms / 1000) : 0 },
      });
      return;
    }
    schedule();
  }

  function requireIdlePretraining(op) {
    if (pre.state === 'running') throw new RequestError(`cannot ${op} while word vectors are being trained: stop that first`);
  }

  return {
    presets() {
      // An object: an array reply would be read as [reply, transfer].
      return { presets: JSON.parse(answer(api()._nnw_presets(worker.session))) };
    },

    async loadCorpus(data) {
      const e = api();
      requireIdlePretraining('load the unlabelled reviews');
      if (!worker.shardInfo) throw new RequestError('load the main shard (imdb.shard) before the unlabelled reviews');
      if (worker.busy) throw new RequestError(`cannot load the unlabelled reviews during ${worker.busy}`);
      worker.busy = 'loadCorpus';
      try {
        let bytes;
        if (data?.bytes) bytes = new Uint8Array(data.bytes);
        else if (data?.url) bytes = await fetchWithProgress(data.url, 'corpusProgress');
        else throw new RequestError('loadCorpus needs {url} or {bytes}');
        const ptr = copyIn(bytes); // nnw_load_corpus takes ownership, even on failure
        pre.state = 'idle';
        check(e._nnw_load_corpus(worker.session, ptr, bytes.length), 'Rebuild it with scripts/setup.sh (it writes data/imdb-unsup.shard).');
        return { reviews: e._nnw_corpus_reviews(worker.session), bytes: bytes.length };
      } finally {
        worker.busy = null;
      }
    },

    pretrain(data) {
      const e = api();
      requireIdlePretraining('start pretraining');
      requireIdleTraining('start pretraining');
      const json = JSON.stringify(data ?? {});
      pre.state = 'idle';
      check(withString(json, (p) => e._nnw_pretrain_begin(worker.session, p)));
      Object.assign(pre, { state: 'running', sliceTokens: 2000, ms: 0, lastEvent: 0, lossSum: 0, lossPairs: 0, pairs: 0 });
      schedule();
      return { started: true };
    },

    stopPretrain() {
      if (pre.state === 'running') pre.state = 'idle';
      return { state: pre.state };
    },

    nearest(data) {
      const e = api();
      const words = Array.isArray(data?.words) ? data.words.map(String) : [];
      const k = Math.max(1, Math.min(32, Number(data?.k) || 8));
      const neighbours = {};
      for (const word of words) {
        neighbours[word] = JSON.parse(answer(withString(word, (p, n) => e._nnw_pretrain_nearest(worker.session, p, n, k))));
      }
      return { neighbours };
    },
  };
}
