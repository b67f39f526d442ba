// review.js: the review box: the typed (or a random test) review, scored by
// the model as it is right now, its words coloured by their contribution.
// Only the newest text is ever sent to the worker.

import { $, ui, fmtPct, showError, setText, page } from '../page.js';
import { state } from '../state.js';
import { MAX_COLOURED_CHARS, reviewNote } from '../input-checks.js';
import { renderClassBars } from './classes.js';

// ----------------------------------------------------------- type a review

// Only the newest text matters: while a request is in flight, keystrokes just
// replace `wantedText`; when the reply comes back the newest text (if any)
// is sent. Stale texts are never queued.
let explainInFlight = false;
let wantedText = null;

// While training, the typed review is re-scored after each epoch, but at
// most once per RESCORE_MS (at full speed an epoch ends every ~15 ms, far
// faster than anyone reads a score); the last epoch's weights are always
// scored, by the trailing call. A waiting re-score counts as busy.
const RESCORE_MS = 200;
let rescoreTimer = 0;
let lastRescore = -Infinity;

// Whether a score is on its way (a request, a newer text, or a waiting re-score).
export function explainBusy() {
  return explainInFlight || wantedText !== null || rescoreTimer !== 0;
}

export function rescoreSoon() {
  if (rescoreTimer) return;
  const rescore = () => {
    rescoreTimer = 0;
    lastRescore = performance.now();
    explainCurrent();
  };
  const wait = lastRescore + RESCORE_MS - performance.now();
  if (wait <= 0) rescore();
  else rescoreTimer = setTimeout(rescore, wait);
}

export function explainCurrent() {
  if (page.imagesView) {
    // The image view's predictions instead of the review box's score.
    page.imagesView?.refresh();
    return;
  }
  wantedText = ui.reviewText.value;
  pumpExplain();
}

export async function pumpExplain() {
  if (explainInFlight || wantedText === null || !page.haveModel || !page.worker) return;
  const text = wantedText;
  wantedText = null;
  if (text.trim() === '') {
    renderEmptyScore();
    return;
  }
  explainInFlight = true;
  try {
    const limits = { vocabSize: page.engineInForce?.vocab_size ?? state.vocab_size, maxlen: page.engineInForce?.maxlen ?? state.maxlen, truncating: page.engineInForce?.truncating ?? state.truncating };
    if (text.length > MAX_COLOURED_CHARS) {
      // Scored whole, not coloured: see input-checks.js.
      const reply = await page.worker.request('predict', { text });
      page.lastExplain = { text: null, length: text.length, score: reply.score, judgeable: reply.judgeable, calibrated: reply.calibrated, temperature: reply.temperature, tokens: [], coloured: false, class: reply.class, classes: reply.classes };
      renderExplanation('', { ...reply, tokens: [] });
      showReviewNote(reviewNote(text, null, limits));
    } else {
      const reply = await page.worker.request('explain', { text });
      // K > 2 classes: every class's probability too (the words are coloured toward the top class).
      if (reply.class !== undefined) reply.classes = (await page.worker.request('predict', { text })).classes;
      page.lastExplain = { text, length: text.length, score: reply.score, judgeable: reply.judgeable, calibrated: reply.calibrated, temperature: reply.temperature, tokens: reply.tokens || [], coloured: true, class: reply.class, classes: reply.classes };
      renderExplanation(text, reply);
      showReviewNote(reviewNote(text, reply.tokens || [], limits));
    }
  } catch (err) {
    if (page.phase !== 'recovering') showError(`Could not score the review: ${err.message}`);
  } finally {
    explainInFlight = false;
    pumpExplain();
  }
}

export function showReviewNote(text) {
  ui.reviewNote.textContent = text;
  ui.reviewNote.hidden = !text;
}

// What #words holds: the text and token spans it was built for, and the
// word elements, so a new score of the same text (after every epoch while
// training) recolours the words in place instead of rebuilding them.
let shownWords = null;

export function renderEmptyScore() {
  page.lastExplain = null;
  renderLegend();
  showReviewNote('');
  setText(ui.scoreText, 'Type a review (or pick a random one) to see its score.');
  ui.scoreBar.style.setProperty('--score', '0.5');
  ui.scoreBar.dataset.label = '';
  renderClassBars(null);
  if (ui.words.firstChild) ui.words.replaceChildren();
  if (ui.topWords.firstChild) ui.topWords.replaceChildren();
  shownWords = null;
}

// A word whose contribution is under this share of the strongest word's in
// the same text is not coloured as evidence (issue 13): it carries no weight
// worth reading. Said in the legend (WEAK_LEGEND) and the README.
export const WEAK_SHARE = 0.1;
const WEAK_LEGEND = `Words under ${WEAK_SHARE * 100}% of the strongest word’s contribution are not coloured.`;

// A word's colour class, strength and tooltip, written only where changed.
// With `judged` false (the model knows none of the text's words outside the
// stop words) no word is evidence.
export function styleWord(el, t, maxAbs, judged = true) {
  const c = Number.isFinite(t.contribution) ? t.contribution : 0;
  const weak = !judged || !(Math.abs(c) >= WEAK_SHARE * maxAbs) || c === 0;
  const cls = `word ${t.id === -1 ? 'stop' : weak ? 'zero' : c > 0 ? 'pos' : 'neg'}`;
  const strength = maxAbs > 0 && !weak ? (Math.abs(c) / maxAbs).toFixed(3) : '0';
  const value = `${c >= 0 ? '+' : '−'}${Math.abs(c).toFixed(4)}`;
  const title = t.id === -1 ? 'stop word: removed before scoring' : weak ? `${value} (too weak to count as evidence)` : value;
  if (el.className !== cls) el.className = cls;
  if (el.style.getPropertyValue('--strength') !== strength) el.style.setProperty('--strength', strength);
  if (el.title !== title) el.title = title;
}

// How the colours were computed, by the model that scored the text (the
// engine's nn_review_explain_text: occlusion, except for the ngram model,
// whose score is a sum over its features, split exactly in nn_ngram_explain).
const LEGEND_METHOD = {
  occlusion: 'Colours are occlusion: the change in the score when that word is replaced by padding.',
  ngram:
    'Colours are each word’s share of the score’s distance from an empty review’s: its own term of the n-gram model’s sum ' +
    'plus half of each bigram it is in (a bigram’s share is split equally between its two words), so the shares add up to that distance.',
};

export function renderLegend() {
  const model = page.engineInForce?.model ?? state.model;
  setText(ui.legendMethod, `${model === 'ngram' ? LEGEND_METHOD.ngram : LEGEND_METHOD.occlusion} ${WEAK_LEGEND}`);
}

// judgeable: the worker's count of the text's words the model knows outside
// the stop words (nn_review_judgeable); 0 means its score is only the model's
// guess for an empty review, so the page says it cannot judge the text.
// calibrated (after training a two-class model): the score divided, in logit
// units, by the temperature fitted on the validation reviews (on them cut to
// their first 20 words when `short`, the text having at most 40):
// engine/temperature.h. The class never changes; only how sure the line says
// the model is. classes (K > 2): every class's probability, top first.
export function renderExplanation(text, { score: raw, judgeable, calibrated, temperature, short, tokens = [], classes = null }) {
  renderLegend();
  const judged = judgeable !== 0;
  const score = Number.isFinite(calibrated) ? calibrated : raw;
  const label = !judged ? 'unknown' : score >= 0.5 ? 'positive' : 'negative';
  renderClassBars(judged ? classes : null);
  // K classes: the colours are toward the top class, not toward "positive".
  setText($('legend-neg'), classes ? 'pulls away from the top class' : 'pushes towards negative');
  setText($('legend-pos'), classes ? 'pushes towards the top class' : 'pushes towards positive');
  // The line stays one line on the first screen; how it was calibrated is
  // its tooltip (title).
  const isCalibrated = Number.isFinite(calibrated);
  const how = isCalibrated
    ? `Calibrated: the model’s ${raw.toFixed(3)} at temperature ${temperature.toFixed(2)}, fitted on the validation reviews${short ? ' cut to 20 words, as this text is short' : ''}.`
    : '';
  let line;
  if (!judged) line = `The model cannot judge this text: it knows none of its words outside the stop words (its score, ${raw.toFixed(3)}, would be its guess for an empty review).`;
  else if (classes) line = `Top class: ${classes[0].name ?? `class ${classes[0].class}`} (${fmtPct(classes[0].p)}); words coloured by their pull toward it`;
  else line = `Score ${score.toFixed(3)}: ${label} (${fmtPct(score >= 0.5 ? score : 1 - score)} sure${isCalibrated ? ', calibrated' : ''})`;
  setText(ui.scoreText, line);
  const title = judged ? how : '';
  if (ui.scoreText.title !== title) ui.scoreText.title = title;
  ui.scoreBar.style.setProperty('--score', judged ? String(Math.min(1, Math.max(0, score))) : '0.5');
  ui.scoreBar.dataset.label = judged ? label : '';

  // The text, with each token's span wrapped; gaps stay plain text nodes.
  const sorted = tokens
    .filter((t) => Number.isInteger(t.start) && Number.isInteger(t.end) && t.start < t.end && t.end <= text.length)
    .sort((a, b) => a.start - b.start);
  const spans = [];
  for (const t of sorted) if (!spans.length || t.start >= spans[spans.length - 1].end) spans.push(t);
  const maxAbs = spans.reduce((m, t) => Math.max(m, Math.abs(t.contribution) || 0), 0);
  const key = spans.map((t) => `${t.start}-${t.end}`).join(',');
  if (shownWords && shownWords.text === text && shownWords.key === key) {
    spans.forEach((t, i) => styleWord(shownWords.elements[i], t, maxAbs, judged));
  } else {
    const frag = document.createDocumentFragment();
    const elements = [];
    let pos = 0;
    for (const t of spans) {
      if (t.start > pos) frag.append(document.createTextNode(text.slice(pos, t.start)));
      const word = document.createElement('span');
      word.textContent = text.slice(t.start, t.end);
      styleWord(word, t, maxAbs, judged);
      frag.append(word);
      elements.push(word);
      pos = t.end;
    }
    if (pos < text.length) frag.append(document.createTextNode(text.slice(pos)));
    ui.words.replaceChildren(frag);
    shownWords = { text, key, elements };
  }

  // The strongest words each way, as text, for readers who cannot see colour.
  const describe = (list) => list.map((t) => `${text.slice(t.start, t.end)} (${t.contribution >= 0 ? '+' : '−'}${Math.abs(t.contribution).toFixed(3)})`).join(', ');
  const evidence = judged ? spans.filter((t) => Math.abs(t.contribution) >= WEAK_SHARE * maxAbs) : [];
  const pos3 = evidence.filter((t) => t.contribution > 0).sort((a, b) => b.contribution - a.contribution).slice(0, 3);
  const neg3 = evidence.filter((t) => t.contribution < 0).sort((a, b) => a.contribution - b.contribution).slice(0, 3);
  const parts = [];
  if (pos3.length) parts.push(`Most positive: ${describe(pos3)}.`);
  if (neg3.length) parts.push(`Most negative: ${describe(neg3)}.`);
  setText(ui.topWords, parts.join(' '));
}

ui.reviewText.addEventListener('input', () => {
  ui.trueLabel.textContent = '';
  explainCurrent();
});

ui.random.addEventListener('click', async () => {
  try {
    const r = await page.worker.request('review', { split: 'test' });
    ui.reviewText.value = r.text;
    const stars = r.rating ? `, ${r.rating}/10 stars` : '';
    const names = page.shardInfo?.class_names; // a labelled-text shard's classes
    const label = names ? (names[r.label] ?? 'none') : r.label === 1 ? 'positive' : r.label === 0 ? 'negative' : 'none';
    ui.trueLabel.textContent = `True label: ${label}${stars} (test ${names ? 'text' : 'review'} ${names ? r.index + 1 : r.reviewId}).`;
    explainCurrent();
  } catch (err) {
    showError(`Could not fetch a test review: ${err.message}`);
  }
});

export function openReview(text, trueLabel) {
  ui.reviewText.value = text;
  ui.trueLabel.textContent = trueLabel || '';
  explainCurrent();
  ui.reviewText.scrollIntoView({ block: 'center' });
  ui.reviewText.focus({ preventScroll: true });
}

