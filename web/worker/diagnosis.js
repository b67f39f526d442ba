// diagnosis.js: the diagnosis requests (web/PROTOCOL.md): the engine scores
// every review of a split (or of the user's labelled text) with the current
// weights or an earlier epoch's, as a job of the slicer, and summarises the
// scores (engine/diagnosis.h). The slider's requests (diagnoseThreshold)
// then only recount at a new threshold.
//
// Deliberately not here: any metric (the engine computes them all) or
// anything about the page.

import { diagnoseAt, diagnoseSummary, explainRow } from './layouts.js';
import { epochWeightsOf } from './model.js';
import {
  RequestError, api, byteToUtf16Index, check, copyIn, encoder, floatsAt, json, lastError, now, readLayout, readRows,
  session, withString,
} from './session.js';
import { beforeReplacing, cancelJob, runJob } from './slicer.js';
import { LABELLED_TEXT_MAX_BYTES, uploadedText } from './uploads.js';

const DIAGNOSIS = 'the diagnosis';
const DIAG_SPLITS = ['val', 'test', 'text'];

// nnw_diagnose_at and nnw_diagnose_examples as an object.
function diagnosisAt(threshold, k) {
  const e = api();
  check(e._nnw_diagnose_threshold(session(), threshold, k));
  const a = readLayout(diagnoseAt, e._nnw_diagnose_at(session()));
  // nnw_diagnose_examples: k slots each of false positives, false
  // negatives and uncertain reviews, found_* of them filled.
  const ex = e._nnw_diagnose_examples(session()) >> 2;
  const heap = e.HEAPU32;
  const list = (slot, n) => Array.from(heap.subarray(ex + slot * k, ex + slot * k + n));
  return {
    threshold, // as asked (a.threshold holds it as a float32)
    confusion: { tp: a.tp, fp: a.fp, tn: a.tn, fn: a.fn },
    accuracy: a.accuracy,
    positive: { precision: a.pos_precision, recall: a.pos_recall, f1: a.pos_f1, support: a.pos_support },
    negative: { precision: a.neg_precision, recall: a.neg_recall, f1: a.neg_f1, support: a.neg_support },
    macro: { precision: a.macro_precision, recall: a.macro_recall, f1: a.macro_f1 },
    falsePositives: list(0, a.found_fp),
    falseNegatives: list(1, a.found_fn),
    uncertain: list(2, a.found_uncertain),
  };
}

function diagnosisWords(k, byCount, minCount) {
  const e = api();
  const get = (sign) => json(e._nnw_diagnose_words(session(), k, sign, byCount ? 1 : 0, minCount));
  return { positive: get(1), negative: get(-1) };
}

// nnw_diagnose_curves: ROC fpr, tpr, threshold (roc_len each), PR recall,
// precision, threshold (pr_len each), then per bin mean probability,
// fraction positive, count, negatives, positives (bins each).
function curves(summary) {
  const { roc_len: rocLen, pr_len: prLen, bins } = summary;
  const all = floatsAt(api()._nnw_diagnose_curves(session()), 3 * rocLen + 3 * prLen + 5 * bins);
  let at = 0;
  const part = (len) => all.slice(at, (at += len));
  return {
    roc: { fpr: part(rocLen), tpr: part(rocLen), threshold: part(rocLen) },
    pr: { recall: part(prLen), precision: part(prLen), threshold: part(prLen) },
    calibration: { meanProb: part(bins), fracPos: part(bins), count: part(bins) },
    histogram: { negative: part(bins), positive: part(bins) },
  };
}

function checkK(k, what) {
  if (!Number.isInteger(k) || k < 0 || k > 1000) throw new RequestError(`${what} must be a whole number from 0 to 1000`);
  return k;
}

function checkThreshold(t) {
  if (typeof t !== 'number' || !(t >= 0 && t <= 1)) throw new RequestError('threshold must be a number from 0 to 1');
  return t;
}

// Starts the engine's diagnosis of split with an epoch's kept weights (or,
// epoch 0, the current ones).
function beginDiagnosis(split, epoch, words) {
  const e = api();
  if (!epoch) return withString(split, (p) => e._nnw_diagnose_begin(session(), p, 0, words ? 1 : 0));
  const params = epochWeightsOf(epoch);
  if (params.length !== e._nnw_params_len(session()))
    throw new RequestError(`epoch ${epoch} was kept for another model: diagnose the current weights`);
  const ptr = e._nnw_alloc(4 * params.length);
  if (!ptr) throw new RequestError('out of memory copying the weights to diagnose');
  try {
    e.HEAPF32.set(params, ptr >> 2);
    return withString(split, (p) => e._nnw_diagnose_begin(session(), p, ptr, words ? 1 : 0));
  } finally {
    e._nnw_free(ptr);
  }
}

export const diagnosisHandlers = {
  async diagnose(data) {
    const e = api();
    const split = data?.split ?? 'val';
    if (!DIAG_SPLITS.includes(split)) throw new RequestError(`cannot diagnose '${split}': use 'val', 'test' or 'text'`);
    const epoch = data?.epoch ?? 0;
    const threshold = checkThreshold(data?.threshold ?? 0.5);
    const k = checkK(data?.k ?? 10, 'k');
    const words = data?.words !== false;
    const wordsK = checkK(data?.wordsK ?? 20, 'wordsK');
    if (epoch) epochWeightsOf(epoch); // refused before the diagnosis in flight is cancelled
    // The engine holds one diagnosis: a newer request replaces the one in flight.
    cancelJob(DIAGNOSIS, 'cancelled: a newer diagnose request replaced this one');
    const t0 = now();
    let mark = now();
    check(beginDiagnosis(split, epoch, words));
    let reviewsMs = now() - mark; // choosing the set, scoring it, the summary, the threshold's counts
    let wordsMs = 0;              // rating the words and ranking them
    let steps = 0;
    const total = e._nnw_diagnose_size(session());
    await runJob({
      name: DIAGNOSIS,
      reads: ['shard', 'model', 'texts'],
      onChange: 'cancel',
      step(slice) {
        const rating = e._nnw_diagnose_scored(session()) >= total;
        const start = now();
        const r = e._nnw_diagnose_step(session(), slice.units);
        slice.ms = now() - start;
        if (rating) wordsMs += slice.ms;
        else reviewsMs += slice.ms;
        steps++;
        if (r < 0) throw new RequestError(lastError());
        return r === 1;
      },
    });
    mark = now();
    check(e._nnw_diagnose_finish(session()));
    const summary = readLayout(diagnoseSummary, e._nnw_diagnose_summary(session()));
    const { roc, pr, calibration, histogram } = curves(summary);
    const atThreshold = diagnosisAt(threshold, k);
    reviewsMs += now() - mark;
    mark = now();
    const wordLists = words ? { baseline: summary.empty_score, rated: summary.words_rated, ...diagnosisWords(wordsK, true, 0) } : null;
    wordsMs += now() - mark;
    const transfer = [roc.fpr, roc.tpr, roc.threshold, pr.recall, pr.precision, pr.threshold,
      calibration.meanProb, calibration.fracPos, calibration.count, histogram.negative, histogram.positive].map((a) => a.buffer);
    const { n, positives, negatives, auc, ap, log_loss: logLoss, ece } = summary;
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
    const r = json(e._nnw_diagnose_example(session(), index));
    const rows = readRows(explainRow, e._nnw_explain_data(session()), r.rows);
    const score = e._nnw_explain_score(session());
    const at = byteToUtf16Index(r.text, encoder.encode(r.text).length);
    const tokens = rows.map((row) => ({ start: at[row.start], end: at[row.end], contribution: row.contribution, id: row.id }));
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
    const bytes = uploadedText(data, {
      request: 'labelledText', what: 'the labelled text', limit: LABELLED_TEXT_MAX_BYTES, advice: 'split it into smaller files',
    });
    beforeReplacing('labelledText', 'read labelled text', ['texts']); // a diagnosis may be reading the old texts
    const ptr = copyIn(bytes);
    try {
      check(e._nnw_labelled_text(session(), ptr, bytes.length, format));
    } finally {
      e._nnw_free(ptr);
    }
    return json(e._nnw_labelled_text_info(session()));
  },
};
