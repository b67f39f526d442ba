// embeddings.js: the worker's requests about what the model learned about
// words (web/PROTOCOL.md, "Embeddings"), and the comparison run that shows
// what would have happened without early stopping.
//
// The snapshots themselves live in the wasm session, recorded by the engine
// at every epoch's end (engine/embedding_stats.c through engine/wasm_api.c),
// so nothing here holds per-epoch data. Deliberately not here: any
// computation on vectors (the engine does it) or anything about the page.

import { embedChangesRow, embedStatsRow, fullProgress, neighboursRow } from './layouts.js';
import {
  RequestError, api, check, floatsAt, json, lastError, answer, now, post, readLayout, readRows, requireModel, session,
  shared, withString,
} from './session.js';
import { findJob, startJob } from './slicer.js';
import { TEST_WAIT_MS, testFailure, testPending } from './testsplit.js';
import { mapScale } from '../map-scale.js';

const COMPARISON = 'the comparison run';

function info() {
  return json(requireModel()._nnw_embed_info(session()));
}

// Rows of nnw_embed_stats: every recorded epoch, or only the last.
function statsRows(lastOnly = false) {
  const e = requireModel();
  const k = e._nnw_embed_stats(session());
  if (k < 0) throw new RequestError(lastError());
  const first = lastOnly ? Math.max(0, k - 1) : 0;
  const at = e._nnw_embed_data(session()) + 4 * first * embedStatsRow.size;
  const nan = (x) => (Number.isNaN(x) ? null : x);
  return readRows(embedStatsRow, at, k - first).map((r) => ({
    epoch: r.epoch, stored: r.stored === 1, rareNorm: nan(r.rare_norm), frequentNorm: nan(r.frequent_norm),
    rareShare: nan(r.rare_share), baseScore: nan(r.base_score), rareWords: r.rare_words, frequentWords: r.frequent_words,
  }));
}

// id -> word, for the shard loaded when it was filled (a word's id is the
// shard vocabulary's, whatever the model).
const words = { shard: null, byId: new Map() };
function word(id) {
  if (words.shard !== shared.shardInfo) {
    words.shard = shared.shardInfo;
    words.byId.clear();
  }
  let w = words.byId.get(id);
  if (w === undefined) {
    w = answer(api()._nnw_word(session(), id));
    words.byId.set(id, w);
  }
  return w;
}

// The id of a typed word, or a RequestError saying why there is none.
function wordId(text) {
  const id = withString(String(text ?? ''), (p, n) => api()._nnw_word_id(session(), p, n));
  if (id === -1) throw new RequestError('type a word');
  if (id === -3) throw new RequestError(`“${text}” is several words: type one`);
  if (id === -2) throw new RequestError(`“${text}” is not among the model's words (its vocabulary is the most frequent ones)`);
  if (id < 0) throw new RequestError(lastError());
  return id;
}

function epochArg(data, name = 'epoch') {
  const epoch = data?.[name];
  if (!Number.isInteger(epoch) || epoch < 1) throw new RequestError(`${name} must be an epoch number (1 or more)`);
  return epoch;
}

// The statistics of the epoch that just ended, for the `epoch` event.
export function epochData() {
  try {
    const last = statsRows(true)[0] ?? null;
    return { ...last, ms: info().last_ms };
  } catch (err) {
    return { error: err.message };
  }
}

// ----------------------------------------------------- the comparison run

let comparisonWaiting = false; // the comparison run waits for the test reviews

// One slice of the comparison run: a few batches (nnw_full_train), then its
// events; true once its test result was sent.
function comparisonStep(slice) {
  const e = api();
  const t0 = now();
  const status = e._nnw_full_train(session(), slice.units);
  slice.ms = now() - t0;
  if (status !== 0) {
    post({ type: 'fullError', data: { message: lastError() } });
    return true;
  }
  const q = readLayout(fullProgress, e._nnw_full_progress(session()));
  const nan = (x) => (Number.isNaN(x) ? null : x);
  if (q.epoch_done)
    post({ type: 'fullEpoch', data: { epoch: q.epoch, loss: q.loss, acc: q.acc, val_loss: nan(q.val_loss), val_acc: nan(q.val_acc) } });
  comparisonWaiting = q.finished === 1 && !q.test_done && testPending();
  if (comparisonWaiting) slice.adapt = false;
  if (comparisonWaiting && testFailure()) {
    post({ type: 'fullError', data: { message: `no test result: ${testFailure()}` } });
    return true;
  }
  if (!q.test_done) return false;
  const history = json(e._nnw_full_history(session()));
  post({ type: 'fullDone', data: { history, test: Number.isNaN(q.test_acc) ? null : { loss: q.test_loss, acc: q.test_acc } } });
  return true;
}

export const embeddingHandlers = {
  embedInfo() {
    return info();
  },

  embedStats(data) {
    const e = requireModel();
    if (data?.rareBelow !== undefined || data?.frequentFrom !== undefined) {
      const rare = data.rareBelow, frequent = data.frequentFrom;
      if (!Number.isInteger(rare) || !Number.isInteger(frequent) || rare < 1 || frequent < 1)
        throw new RequestError('rareBelow and frequentFrom must be whole numbers of at least 1');
      check(e._nnw_embed_groups(session(), rare, frequent));
    }
    return { stats: statsRows() };
  },

  // nnw_embed_data after nnw_embed_map: epochs (k), xy (k, n, 2),
  // effect (k, n), counts (n), then the variance along both axes and the
  // total (3).
  embedMap(data) {
    const e = requireModel();
    const basis = epochArg(data, 'basis');
    const n = data?.words;
    if (!Number.isInteger(n) || n < 1) throw new RequestError('words must be a whole number of at least 1');
    const t0 = now();
    const k = e._nnw_embed_map(session(), basis, n, data?.basisOnly ? 1 : 0);
    if (k < 0) throw new RequestError(lastError());
    const all = floatsAt(e._nnw_embed_data(session()), k + 3 * k * n + n + 3); // a copy to transfer
    let at = 0;
    const part = (len) => all.slice(at, (at += len));
    const epochs = Array.from(part(k));
    const xy = part(2 * k * n);
    const effect = part(k * n);
    const counts = part(n);
    const [var0, var1, total] = part(3);
    const list = new Array(n);
    for (let i = 0; i < n; i++) list[i] = word(4 + i);
    const reply = {
      basis, epochs, words: list, xy, effect, counts, scale: mapScale(xy, effect),
      explained: total > 0 ? [var0 / total, var1 / total] : [0, 0], ms: now() - t0,
    };
    return [reply, [xy.buffer, effect.buffer, counts.buffer]];
  },

  neighbours(data) {
    const e = requireModel();
    const epoch = epochArg(data);
    const k = Number.isInteger(data?.k) && data.k > 0 ? Math.min(data.k, 100) : 10;
    const id = wordId(data?.word);
    const m = e._nnw_embed_neighbours(session(), epoch, id, k);
    if (m < 0) throw new RequestError(lastError());
    const rows = readRows(neighboursRow, e._nnw_embed_data(session()), m);
    const neighbours = rows.map((r) => ({ id: r.id, word: word(r.id), similarity: r.similarity }));
    return { word: word(id), id, epoch, neighbours };
  },

  memorised(data) {
    const e = requireModel();
    const from = epochArg(data, 'from');
    const to = epochArg(data, 'to');
    const countBelow = Number.isInteger(data?.countBelow) && data.countBelow > 0 ? data.countBelow : 0;
    const k = Number.isInteger(data?.k) && data.k > 0 ? Math.min(data.k, 200) : 15;
    const m = e._nnw_embed_changes(session(), from, to, countBelow, k);
    if (m < 0) throw new RequestError(lastError());
    const rows = readRows(embedChangesRow, e._nnw_embed_data(session()), m);
    const changed = rows.map((r) => ({ id: r.id, word: word(r.id), count: r.count, before: r.effect_from, after: r.effect_to }));
    return { from, to, countBelow, words: changed };
  },

  // The two files the TensorFlow Embedding Projector loads: one vector
  // per line (tab-separated) and the matching metadata with a header.
  // nnw_embed_data after nnw_embed_effects: the empty review's score (1),
  // then every word's training count (n) and effect (n).
  projectorTsv(data) {
    const e = requireModel();
    const epoch = epochArg(data);
    const { vocab_size: V, embed_dim: E } = info();
    const n = e._nnw_embed_effects(session(), epoch);
    if (n < 0) throw new RequestError(lastError());
    const scored = floatsAt(e._nnw_embed_data(session()), 1 + 2 * n);
    const p = e._nnw_embed_vectors(session(), epoch);
    if (!p) throw new RequestError(lastError());
    const emb = floatsAt(p, V * E);
    const vectors = new Array(n), metadata = ['word\ttraining count\teffect'];
    for (let i = 0; i < n; i++) {
      const id = 4 + i;
      vectors[i] = Array.from(emb.subarray(id * E, id * E + E), (x) => x.toPrecision(6)).join('\t');
      // A token never holds a tab or a newline (they separate tokens).
      metadata.push(`${word(id)}\t${scored[1 + i]}\t${scored[1 + n + i].toFixed(5)}`);
    }
    return { epoch, words: n, vectors: vectors.join('\n') + '\n', metadata: metadata.join('\n') + '\n' };
  },

  // The comparison run: the run's config again with patience 0, as a job
  // that a new shard or model cancels (silently: the page replaced it).
  fullRun() {
    const e = requireModel();
    const training = findJob('training');
    if (training) throw new RequestError('the comparison run starts after training: wait for it to finish');
    if (findJob(COMPARISON)) return { started: false, running: true };
    check(e._nnw_full_start(session()));
    startJob({
      name: COMPARISON,
      reads: ['shard', 'model'],
      onChange: 'cancel',
      step: comparisonStep,
      // Trained, waiting for the test reviews (testsplit.js): look again now and then.
      delayMs: () => (comparisonWaiting ? TEST_WAIT_MS : 0),
      onError: (err) => post({ type: 'fullError', data: { message: `internal error: ${err?.message ?? err}` } }),
    });
    return { started: true };
  },

  fullStop() {
    const job = findJob(COMPARISON);
    job?.cancel('stopped');
    api()._nnw_full_free(session());
    return { stopped: Boolean(job) };
  },
};
