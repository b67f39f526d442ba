// text.js: the requests about a piece of text, answered at once (also while
// training runs): predict (the review box's score), explain (each word's
// contribution), review (a stored review, decoded) and stopwords (what a
// stop-word setting stands for).
//
// Deliberately not here: tokenizing or scoring (the engine does both) or
// anything about the page.

import { explainRow, oneVsRestRow } from './layouts.js';
import {
  RequestError, api, byteToUtf16Index, copyIn, floatsAt, json, lastError, now, readRows, session, shared, withString,
} from './session.js';

// A K-class model's probabilities (class order) as [{class, p, name}],
// the top class first (ties: the smaller class id); name from the shard's
// class names when it has them, else null.
function classesTopFirst(probs) {
  const names = shared.shardInfo?.class_names;
  return probs.map((p, k) => ({ class: k, p, name: names?.[k] ?? null }))
    .sort((a, b) => b.p - a.p || a.class - b.class);
}

// The score divided by the review box's temperature for a text of `words`
// words read (nnw_calibrate), and that temperature; nothing before a fit.
function calibrated(e, score, words) {
  const n = Math.min(words, 0xffffffff);
  const temperature = e._nnw_temperature_for(session(), n);
  if (!(temperature > 0)) return {};
  const short = e._nnw_temperature_is_short(session(), n) === 1;
  return { calibrated: e._nnw_calibrate(session(), score, n), temperature, short };
}

// Each class against the rest (nnw_one_vs_rest): [{auc, ap, positives, fpr,
// tpr}] with the ROC curve kept to ROC_POINTS points; null for an undefined
// AUC or AP (a class no text has, or every text has).
const ROC_POINTS = 101;
function oneVsRestCurves(e, probs, labels, K) {
  const rowSize = oneVsRestRow.size;
  const pProbs = copyIn(new Uint8Array(probs.buffer, probs.byteOffset, probs.byteLength));
  let pLabels = 0, pRows = 0, pCurves = 0;
  try {
    pLabels = copyIn(labels);
    pRows = e._nnw_alloc(K * rowSize * 4);
    pCurves = e._nnw_alloc(K * 2 * ROC_POINTS * 4);
    if (!pRows || !pCurves) throw new RequestError('out of memory for the one-vs-rest curves');
    if (e._nnw_one_vs_rest(session(), pProbs, pLabels, labels.length, K, ROC_POINTS, pRows, pCurves) < 0)
      throw new RequestError(lastError());
    const rows = readRows(oneVsRestRow, pRows, K);
    const curves = floatsAt(pCurves, K * 2 * ROC_POINTS);
    const finite = (x) => (Number.isFinite(x) ? x : null);
    return rows.map((r, k) => {
      const at = k * 2 * ROC_POINTS;
      return {
        auc: finite(r.auc), ap: finite(r.ap), positives: r.positives,
        fpr: Array.from(curves.subarray(at, at + r.roc_len)),
        tpr: Array.from(curves.subarray(at + ROC_POINTS, at + ROC_POINTS + r.roc_len)),
      };
    });
  } finally {
    for (const p of [pProbs, pLabels, pRows, pCurves]) if (p) e._nnw_free(p);
  }
}

export const textHandlers = {
  predict(data) {
    const e = api();
    const t0 = now();
    const text = String(data?.text ?? '');
    const judgeable = withString(text, (p, n) => e._nnw_judgeable(session(), p, n));
    if (judgeable < 0) throw new RequestError(lastError());
    const K = e._nnw_model_classes(session());
    if (K > 2) {
      const top = withString(text, (p, n) => e._nnw_score_classes(session(), p, n));
      if (top < 0) throw new RequestError(lastError());
      const probs = Array.from(floatsAt(e._nnw_predict_probs(session()), K));
      return { score: probs[top], class: top, classes: classesTopFirst(probs), judgeable, ms: now() - t0 };
    }
    const score = withString(text, (p, n) => e._nnw_score(session(), p, n));
    if (score < 0) throw new RequestError(lastError());
    // A text too long to colour is never short: the whole reviews' temperature.
    return { score, judgeable, ...calibrated(e, score, Infinity), ms: now() - t0 };
  },

  explain(data) {
    const e = api();
    const text = String(data?.text ?? '');
    const t0 = now();
    let byteLength = 0;
    const k = withString(text, (p, n) => {
      byteLength = n;
      return e._nnw_explain(session(), p, n);
    });
    if (k < 0) throw new RequestError(lastError());
    const score = e._nnw_explain_score(session());
    const judgeable = e._nnw_explain_judgeable(session());
    const rows = readRows(explainRow, e._nnw_explain_data(session()), k);
    // The engine's byte offsets into the UTF-8 text, as UTF-16 indices into the JS string.
    const at = byteToUtf16Index(text, byteLength);
    const tokens = rows.map((r) => ({ start: at[r.start], end: at[r.end], contribution: r.contribution, id: r.id }));
    if (e._nnw_model_classes(session()) > 2) {
      return { score, class: e._nnw_explain_class(session()), judgeable, tokens, ms: now() - t0 };
    }
    const words = tokens.filter((t) => t.id >= 0).length;
    return { score, judgeable, ...calibrated(e, score, words), tokens, ms: now() - t0 };
  },

  review(data) {
    const e = api();
    const split = data?.split ?? 'test';
    const n = shared.shardInfo?.splits?.[split];
    if (n === undefined && split === 'test' && shared.shardInfo?.test_pending) // a static site's (testsplit.js)
      throw new RequestError('the test reviews are still downloading: try again when they are in (the page shows their progress)');
    if (n === undefined) throw new RequestError(`the shard has no split '${split}'`);
    if (n === 0) throw new RequestError(`split '${split}' is empty`);
    let index = data?.index;
    if (index === undefined || index === null) index = Math.floor(Math.random() * n);
    if (!Number.isInteger(index) || index < 0 || index >= n)
      throw new RequestError(`review index ${index} is out of range: '${split}' has ${n} reviews`);
    const r = json(withString(split, (p) => e._nnw_review(session(), p, index)));
    return { text: r.text, label: r.label, rating: r.rating, reviewId: r.review_id, tokens: r.tokens, index };
  },

  // A K-class model on a labelled-text shard: every text of a split (the
  // shard's 'test' by default) decoded (nnw_review) and scored
  // (nnw_score_classes) as the review box scores it, counted into a K x K
  // matrix (row: true class, column: predicted), and each class against the
  // rest (its AUC, AP and ROC curve, from the class probabilities).
  // Synchronous: a user's test part is hundreds to a few thousand short
  // texts (about 0.1 ms each).
  textConfusion(data) {
    const e = api();
    const t0 = now();
    const split = data?.split ?? 'test';
    const K = e._nnw_model_classes(session());
    if (!(K >= 2)) throw new RequestError('no text model: configure or train one first');
    const n = shared.shardInfo?.splits?.[split];
    if (!n) throw new RequestError(`the shard has no texts in '${split}': build it with a test share above 0`);
    const matrix = new Uint32Array(K * K);
    const probs = new Float32Array(n * K), labels = new Uint8Array(n);
    let correct = 0, m = 0;
    for (let i = 0; i < n; i++) {
      const r = json(withString(split, (p) => e._nnw_review(session(), p, i)));
      const top = withString(r.text, (p, len) => e._nnw_score_classes(session(), p, len));
      if (top < 0) throw new RequestError(lastError());
      if (r.label >= K) continue; // unlabelled
      matrix[r.label * K + top]++;
      if (r.label === top) correct++;
      probs.set(floatsAt(e._nnw_predict_probs(session()), K), m * K);
      labels[m++] = r.label;
    }
    const oneVsRest = oneVsRestCurves(e, probs.subarray(0, m * K), labels.subarray(0, m), K);
    const names = shared.shardInfo?.class_names ?? null;
    const reply = {
      split, n, classes: K, classNames: names, matrix, accuracy: n ? correct / n : NaN, oneVsRest,
      probs: probs.slice(0, m * K), labels: labels.slice(0, m), ms: now() - t0,
    };
    return [reply, [matrix.buffer, reply.probs.buffer, reply.labels.buffer]];
  },

  stopwords(data) {
    const spec = String(data?.spec ?? '');
    const r = json(withString(spec, (p) => api()._nnw_stopwords(session(), p)));
    const split = (s) => (s ? s.split(' ') : []);
    return { words: split(r.words), count: r.count, english: split(r.english) };
  },
};
