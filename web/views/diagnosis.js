// diagnosis.js: the diagnosis panel. When accuracy looks good but
// predictions are not, it shows what one number hides: the confusion matrix
// and per-class precision, recall and F1 at an adjustable threshold, the ROC
// and precision-recall curves with that threshold marked, the reliability
// diagram, the reviews the model gets most confidently wrong (and the ones it
// is least sure of) with their words coloured, the words that push each way,
// and the same for labelled text the user brings.
//
// Every number comes from the engine through the worker ('diagnose',
// 'diagnoseThreshold', 'diagnoseExample', 'diagnoseWords', 'labelledText';
// web/PROTOCOL.md): nothing is computed here but percentages for display.
// Its settings (threshold, diag_split, diag_epoch, words_by) live in app.js's
// PROPS table and the URL hash, changed through ctx.applySetting.
//
// Deliberately not here: HTML from strings (review and user text only go in
// through textContent), Chart.js details (diagnosis_charts.js).

import { DiagnosisCharts } from './diagnosis_charts.js';
import { LABELLED_TEXT_MAX_BYTES, sizeProblem } from '../limits.js';

const K = 6; // reviews per list (18 in all: still readable on a phone)
const WORDS_K = 20;
const POLARITY_MIN_COUNT = 20;
const EPOCH_MENU_MS = 250; // while training, the epoch menu is rebuilt at most this often

const $ = (id) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`index.html lacks #${id}`);
  return el;
};

const SPLIT_NAMES = { val: 'validation', test: 'test', text: 'labelled' };

export function createDiagnosis(ctx) {
  const ui = {
    split: $('diag_split'),
    epoch: $('diag_epoch'),
    run: $('btn-diagnose'),
    threshold: $('threshold'),
    thresholdValue: $('threshold-value'),
    status: $('diag-status'),
    results: $('diag-results'),
    cm: { tp: $('cm-tp'), fp: $('cm-fp'), tn: $('cm-tn'), fn: $('cm-fn') },
    lists: { fp: $('list-fp'), fn: $('list-fn'), unc: $('list-unc') },
    wordsBy: $('words_by'),
    wordsNote: $('words-note'),
    wordsPos: $('words-pos'),
    wordsNeg: $('words-neg'),
    byoText: $('byo-text'),
    byoFile: $('byo-file'),
    byoButton: $('btn-byo'),
    byoReport: $('byo-report'),
    textOption: document.querySelector('#diag_split option[value="text"]'),
  };
  let charts = null;
  try {
    charts = new DiagnosisCharts({
      roc: $('chart-roc'), pr: $('chart-pr'), calibration: $('chart-calibration'), histogram: $('chart-histogram'),
    });
  } catch (err) {
    ctx.showError(err.message);
  }

  let phase = 'starting';
  let haveModel = false;
  let current = null;       // the last 'diagnose' reply
  let at = null;            // its numbers at the current threshold
  let words = null;         // {positive, negative} as shown
  let seq = 0;              // counts diagnoses: cached examples belong to one
  let running = false;
  let kept = new Map();     // epoch -> {val_loss, kept}
  let history = [];
  let byo = null;           // the last labelledText info
  const examples = new Map(); // `${seq}:${index}` -> 'diagnoseExample' reply
  const shownLists = { fp: null, fn: null, unc: null }; // the indices each list shows
  let epochsTimer = 0;      // a renderEpochs() waiting (epochDone)

  // ---------------------------------------------------------- settings

  function renderSettings() {
    ui.threshold.value = String(ctx.state.threshold);
    ui.thresholdValue.textContent = ctx.state.threshold.toFixed(2);
    ui.split.value = ctx.state.diag_split === 'text' && !hasText() ? 'val' : ctx.state.diag_split;
    ui.wordsBy.value = ctx.state.words_by;
    renderEpochs();
  }

  const hasText = () => byo && byo.examples > 0;

  function renderEpochs() {
    const best = bestEpoch();
    const options = [new Option(history.length ? `current (after epoch ${history.length})` : 'current', '0')];
    for (const [epoch, info] of [...kept.entries()].sort((a, b) => a[0] - b[0])) {
      if (!info.kept) continue;
      const loss = Number.isFinite(info.val_loss) ? `, val loss ${info.val_loss.toFixed(3)}` : '';
      options.push(new Option(`epoch ${epoch}${loss}${epoch === best ? ' (best)' : ''}`, String(epoch)));
    }
    ui.epoch.replaceChildren(...options);
    const want = String(ctx.state.diag_epoch);
    ui.epoch.value = options.some((o) => o.value === want) ? want : '0';
  }

  // The best epoch is the engine's (the worker's epoch and done events,
  // contract 3): the page has no rule of its own.
  let engineBest = null;
  const bestEpoch = () => engineBest;

  function setting(key, value) {
    try {
      return ctx.applySetting(key, value);
    } catch (err) {
      ctx.showError(`${key}: ${err.message}`);
      return ctx.state[key];
    }
  }

  function enable() {
    const modelPhase = haveModel && ['ready', 'stopped', 'done', 'training', 'paused'].includes(phase);
    ui.run.disabled = !modelPhase || running;
    ui.threshold.disabled = !current;
    ui.byoButton.disabled = ['starting', 'loading', 'failed'].includes(phase);
    ui.byoFile.disabled = ui.byoButton.disabled;
    ui.textOption.disabled = !hasText();
  }

  // ------------------------------------------------------------ running

  async function run() {
    if (!haveModel || running) return;
    let split = ctx.state.diag_split;
    const notes = [];
    if (split === 'text' && !hasText()) {
      notes.push('no labelled text yet, so the validation reviews');
      split = 'val';
    }
    let epoch = ctx.state.diag_epoch;
    if (epoch && !(kept.get(epoch)?.kept)) {
      notes.push(`the weights of epoch ${epoch} are not kept, so the current ones`);
      epoch = 0;
    }
    running = true;
    enable();
    ui.status.textContent = `Diagnosing the ${SPLIT_NAMES[split]} reviews…`;
    try {
      const d = await ctx.request('diagnose', {
        split, epoch, threshold: ctx.state.threshold, k: K, words: true, wordsK: WORDS_K,
      });
      current = d;
      seq++;
      examples.clear();
      for (const key of Object.keys(shownLists)) shownLists[key] = null;
      ui.results.hidden = false;
      charts?.show(d);
      renderSummary(d);
      renderAt(d.at);
      await renderWords(d.words);
      const weights = d.epoch ? `epoch ${d.epoch}’s weights` : 'the current weights';
      ui.status.textContent = `${ctx.fmtInt(d.n)} ${SPLIT_NAMES[split]} reviews diagnosed with ${weights} ` +
        `in ${d.wallMs.toFixed(0)} ms (engine: ${d.reviewsMs.toFixed(1)} ms for the reviews, ${d.wordsMs.toFixed(1)} ms for the words)` +
        `${notes.length ? `; ${notes.join('; ')}` : ''}.`;
      ctx.announce(`Diagnosis ready: AUC ${fmt3(d.auc)}, accuracy ${ctx.fmtPct(d.at.accuracy)}.`);
    } catch (err) {
      if (/^cancelled/.test(err.message)) return;
      ui.status.textContent = `The diagnosis failed: ${err.message}`;
    } finally {
      running = false;
      enable();
    }
  }

  const fmt3 = (x) => (Number.isFinite(x) ? x.toFixed(3) : '–');
  const pct = (num, den) => (den > 0 ? ctx.fmtPct(num / den) : '–');

  function renderSummary(d) {
    $('s-auc').textContent = fmt3(d.auc);
    $('s-ap').textContent = fmt3(d.ap);
    $('s-logloss').textContent = fmt3(d.logLoss);
    $('s-ece').textContent = fmt3(d.ece);
    $('m-all-n').textContent = ctx.fmtInt(d.n);
  }

  function cell(el, count, rowTotal, what) {
    const big = document.createElement('strong');
    big.textContent = ctx.fmtInt(count);
    const small = document.createElement('span');
    small.textContent = `${pct(count, rowTotal)} ${what}`;
    el.replaceChildren(big, small);
    el.style.setProperty('--strength', rowTotal > 0 ? (count / rowTotal).toFixed(3) : '0');
  }

  // Everything that depends on the threshold.
  function renderAt(a) {
    at = a;
    const { tp, fp, tn, fn } = a.confusion;
    cell(ui.cm.tn, tn, tn + fp, 'of negatives');
    cell(ui.cm.fp, fp, tn + fp, 'of negatives');
    cell(ui.cm.fn, fn, fn + tp, 'of positives');
    cell(ui.cm.tp, tp, fn + tp, 'of positives');
    const set = (id, v) => ($(id).textContent = fmt3(v));
    set('m-neg-p', a.negative.precision);
    set('m-neg-r', a.negative.recall);
    set('m-neg-f', a.negative.f1);
    set('m-pos-p', a.positive.precision);
    set('m-pos-r', a.positive.recall);
    set('m-pos-f', a.positive.f1);
    set('m-mac-p', a.macro.precision);
    set('m-mac-r', a.macro.recall);
    set('m-mac-f', a.macro.f1);
    $('m-neg-n').textContent = ctx.fmtInt(a.negative.support);
    $('m-pos-n').textContent = ctx.fmtInt(a.positive.support);
    $('s-acc').textContent = ctx.fmtPct(a.accuracy);
    charts?.setThreshold(a);
    renderList('fp', a.falsePositives, 'No false positives at this threshold.');
    renderList('fn', a.falseNegatives, 'No false negatives at this threshold.');
    renderList('unc', a.uncertain, 'No reviews.');
    pumpExamples();
  }

  // ------------------------------------------------------------ reviews

  function renderList(key, indices, empty) {
    const sig = indices.join(',');
    if (shownLists[key] === sig) return;
    shownLists[key] = sig;
    const ol = ui.lists[key];
    if (!indices.length) {
      const li = document.createElement('li');
      li.className = 'muted small';
      li.textContent = empty;
      ol.replaceChildren(li);
      return;
    }
    ol.replaceChildren(...indices.map((index) => reviewItem(index)));
  }

  function reviewItem(index) {
    const li = document.createElement('li');
    li.className = 'review-item';
    li.dataset.index = String(index);
    const meta = document.createElement('p');
    meta.className = 'review-meta';
    const text = document.createElement('p');
    text.className = 'review-text';
    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'open-review';
    open.textContent = 'Open in the review box';
    open.disabled = true;
    li.append(meta, text, open);
    const ex = examples.get(`${seq}:${index}`);
    if (ex) fillItem(li, ex);
    else {
      meta.textContent = `review ${index + 1}`;
      text.textContent = 'loading…';
    }
    return li;
  }

  function fillItem(li, ex) {
    const [meta, text, open] = li.children;
    const truth = ex.label === 1 ? 'positive' : 'negative';
    const where = ex.line !== undefined ? `line ${ex.line}` : `${ex.split} review ${ex.source}`;
    meta.replaceChildren();
    const score = document.createElement('strong');
    score.textContent = ex.score.toFixed(3);
    meta.append(score, document.createTextNode(` · actually ${truth} · ${where}`));
    // With 'pre' truncation the model reads the end of a long review: the
    // snippet starts where its reading starts.
    const firstRead = ex.tokens.findIndex((t) => t.id !== -2);
    const from = firstRead > 0 ? ex.tokens[firstRead].start : 0;
    const parts = [];
    if (firstRead > 0) {
      const skipped = document.createElement('span');
      skipped.className = 'word cut';
      skipped.textContent = `[${ctx.fmtInt(firstRead)} words before maxlen, not read] `;
      parts.push(skipped);
    }
    parts.push(colouredText(ex.text, ex.tokens, from));
    text.replaceChildren(...parts);
    const unread = ex.tokens.filter((t) => t.id === -2).length;
    if (unread) {
      const note = document.createElement('span');
      note.className = 'unread-note';
      note.textContent = ` · ${ctx.fmtInt(unread)} words beyond maxlen, never read (grey)`;
      meta.append(note);
    }
    open.disabled = false;
    open.onclick = () => {
      const epoch = current && current.epoch ? ` at epoch ${current.epoch}` : '';
      ctx.openReview(ex.text, `True label: ${truth} (${where}; the diagnosis scored it ${ex.score.toFixed(3)}${epoch}).`);
    };
  }

  // The text with each token's span coloured by its contribution (the same
  // classes as the review box: pos, neg, zero, stop).
  function colouredText(text, tokens, from = 0) {
    const frag = document.createDocumentFragment();
    const spans = tokens.filter((t) => Number.isInteger(t.start) && Number.isInteger(t.end) && t.start < t.end && t.end <= text.length);
    const maxAbs = spans.reduce((m, t) => Math.max(m, Math.abs(t.contribution) || 0), 0);
    let pos = from;
    for (const t of spans) {
      if (t.start < pos) continue;
      if (t.start > pos) frag.append(document.createTextNode(text.slice(pos, t.start)));
      const c = Number.isFinite(t.contribution) ? t.contribution : 0;
      const w = document.createElement('span');
      w.className = `word ${t.id === -1 ? 'stop' : t.id === -2 ? 'cut' : c > 0 ? 'pos' : c < 0 ? 'neg' : 'zero'}`;
      w.textContent = text.slice(t.start, t.end);
      w.style.setProperty('--strength', maxAbs > 0 ? (Math.abs(c) / maxAbs).toFixed(3) : '0');
      frag.append(w);
      pos = t.end;
    }
    if (pos < text.length) frag.append(document.createTextNode(text.slice(pos)));
    return frag;
  }

  const idleMoment = () => new Promise((resolve) =>
    (globalThis.requestIdleCallback ? requestIdleCallback(() => resolve(), { timeout: 300 }) : setTimeout(resolve, 0)));

  // Fetches the listed reviews one at a time (the newest lists only).
  let pumping = false;
  async function pumpExamples() {
    if (pumping) return;
    pumping = true;
    try {
      for (;;) {
        const mine = seq;
        const li = [...document.querySelectorAll('#diag-results .review-item')]
          .find((el) => !el.dataset.failed && !examples.has(`${mine}:${el.dataset.index}`));
        if (!li) break;
        const index = Number(li.dataset.index);
        let ex;
        try {
          ex = await ctx.request('diagnoseExample', { index });
        } catch (err) {
          li.dataset.failed = '1';
          if (mine === seq) li.children[1].textContent = `could not load this review: ${err.message}`;
          continue;
        }
        // Built in the browser's idle time: a run's end brings a dozen of
        // these (hundreds of coloured words each) while its charts and word
        // map are drawn; idle time keeps them out of those frames.
        await idleMoment();
        if (mine !== seq) continue;
        examples.set(`${mine}:${index}`, ex);
        for (const el of document.querySelectorAll(`#diag-results .review-item[data-index="${index}"]`)) fillItem(el, ex);
      }
    } finally {
      pumping = false;
    }
  }

  // -------------------------------------------------------------- words

  async function renderWords(w) {
    if (!w) return;
    let lists = w;
    if (ctx.state.words_by === 'polarity') {
      try {
        lists = await ctx.request('diagnoseWords', { k: WORDS_K, by: 'polarity', minCount: POLARITY_MIN_COUNT });
      } catch (err) {
        ui.wordsNote.textContent = `Could not rank the words: ${err.message}`;
        return;
      }
    }
    words = lists;
    const byCount = ctx.state.words_by === 'count';
    ui.wordsNote.textContent = `A word’s polarity is how much a review made of that word alone scores above or below an empty review (${fmt3(w.baseline)}). ` +
      (byCount ? 'Times how often it appears in the training reviews, that is its total push. ' : `Words seen fewer than ${POLARITY_MIN_COUNT} times are left out. `) +
      `${ctx.fmtInt(w.rated)} words rated${ctx.state.stopwords ? '; stop words are removed, so never rated' : ''}.`;
    const fill = (ol, list) => {
      const max = list.reduce((m, x) => Math.max(m, Math.abs(byCount ? x.polarity * x.count : x.polarity)), 0);
      ol.replaceChildren(...list.map((x) => {
        const li = document.createElement('li');
        const word = document.createElement('span');
        word.className = 'w-word';
        word.textContent = x.word;
        const bar = document.createElement('span');
        bar.className = `w-bar ${x.polarity > 0 ? 'pos' : 'neg'}`;
        bar.setAttribute('aria-hidden', 'true');
        const v = Math.abs(byCount ? x.polarity * x.count : x.polarity);
        bar.style.setProperty('--strength', max > 0 ? (v / max).toFixed(3) : '0');
        const value = document.createElement('span');
        value.className = 'w-value small muted';
        value.textContent = `${x.polarity >= 0 ? '+' : '−'}${Math.abs(x.polarity).toFixed(3)} × ${ctx.fmtInt(x.count)}`;
        li.append(word, bar, value);
        return li;
      }));
    };
    fill(ui.wordsPos, lists.positive);
    fill(ui.wordsNeg, lists.negative);
  }

  // -------------------------------------------------------- the slider

  let thresholdInFlight = false;
  let wantedThreshold = null;
  async function pumpThreshold() {
    if (thresholdInFlight || wantedThreshold === null || !current) return;
    const threshold = wantedThreshold;
    wantedThreshold = null;
    thresholdInFlight = true;
    try {
      renderAt(await ctx.request('diagnoseThreshold', { threshold, k: K }));
    } catch (err) {
      ui.status.textContent = `Could not move the threshold: ${err.message}`;
    } finally {
      thresholdInFlight = false;
      pumpThreshold();
    }
  }

  ui.threshold.addEventListener('input', () => {
    const t = setting('threshold', ui.threshold.value);
    ui.thresholdValue.textContent = t.toFixed(2);
    wantedThreshold = t;
    pumpThreshold();
  });
  ui.run.addEventListener('click', run);
  // From the training panel: one click to the diagnosis (run if there is none yet).
  $('btn-to-diagnosis').addEventListener('click', () => {
    $('diagnosis').scrollIntoView({ block: 'start' });
    (current ? ui.run : ui.split).focus({ preventScroll: true });
    if (!current && !ui.run.disabled) run();
  });
  ui.split.addEventListener('change', () => {
    setting('diag_split', ui.split.value);
    run();
  });
  ui.epoch.addEventListener('change', () => {
    setting('diag_epoch', ui.epoch.value);
    run();
  });
  ui.wordsBy.addEventListener('change', () => {
    setting('words_by', ui.wordsBy.value);
    if (current) renderWords(current.words);
  });

  // ------------------------------------------------ your labelled text

  async function readLabelled(data, from) {
    ui.byoReport.replaceChildren();
    try {
      const info = await ctx.request('labelledText', data, data.bytes ? [data.bytes] : []);
      byo = info;
      renderReport(info, from);
      enable();
      if (info.examples > 0) {
        setting('diag_split', 'text');
        ui.split.value = 'text';
        if (haveModel) run();
        else ui.status.textContent = 'Your labelled reviews are read: train (or load) a model to diagnose them.';
      }
    } catch (err) {
      const p = document.createElement('p');
      p.textContent = `Could not read ${from}: ${err.message}`;
      ui.byoReport.replaceChildren(p);
    }
  }

  function renderReport(info, from) {
    const p = document.createElement('p');
    const plural = (n, w) => `${ctx.fmtInt(n)} ${w}${n === 1 ? '' : 's'}`;
    p.textContent = `Read ${plural(info.examples, 'labelled review')} (${info.positives} positive, ${info.negatives} negative) ` +
      `from ${from} as ${info.format.toUpperCase()}` +
      `${info.header ? ', after a header line' : ''}${info.blank ? `, skipping ${plural(info.blank, 'blank line')}` : ''}.`;
    const parts = [p];
    if (info.malformed) {
      const warn = document.createElement('p');
      warn.className = 'byo-warning';
      warn.textContent = `${plural(info.malformed, 'malformed line')} ${info.malformed === 1 ? 'was' : 'were'} left out:`;
      const ul = document.createElement('ul');
      ul.className = 'byo-problems';
      for (const problem of info.problems) {
        const li = document.createElement('li');
        li.dataset.line = String(problem.line);
        li.textContent = `line ${problem.line}: ${problem.reason}`;
        ul.append(li);
      }
      parts.push(warn, ul);
      if (info.malformed > info.problems.length) {
        const more = document.createElement('p');
        more.textContent = `…and ${ctx.fmtInt(info.malformed - info.problems.length)} more.`;
        parts.push(more);
      }
    }
    ui.byoReport.replaceChildren(...parts);
  }

  ui.byoButton.addEventListener('click', () => {
    const text = ui.byoText.value;
    if (!text.trim()) {
      ui.byoReport.textContent = 'Paste some lines first: a label, a tab, the review.';
      return;
    }
    readLabelled({ text, format: 'auto' }, 'the pasted text');
  });

  ui.byoFile.addEventListener('change', async () => {
    const file = ui.byoFile.files[0];
    if (!file) return;
    const ext = (file.name.match(/\.([a-z]+)$/i)?.[1] ?? '').toLowerCase();
    const format = ext === 'csv' ? 'csv' : ext === 'tsv' || ext === 'txt' ? 'tsv' : 'auto';
    const from = `“${file.name}”`;
    const refuse = (why) => {
      const p = document.createElement('p');
      p.textContent = `Could not read ${from}: ${why}`;
      ui.byoReport.replaceChildren(p);
    };
    try {
      // Checked before it is read: a file over the limit never reaches
      // memory, the page's or the engine's (the worker checks again).
      const tooBig = sizeProblem('it', file.size, LABELLED_TEXT_MAX_BYTES, 'split it into smaller files');
      if (tooBig) return refuse(`${tooBig}.`);
      let bytes;
      try {
        bytes = await file.arrayBuffer();
      } catch (err) {
        return refuse(`the browser could not read the file (${err.message}).`);
      }
      await readLabelled({ bytes, format }, from);
    } finally {
      ui.byoFile.value = '';
    }
  });

  renderSettings();
  enable();

  return {
    renderSettings,
    phaseChanged(next, model) {
      phase = next;
      haveModel = model;
      enable();
    },
    // A new or reset model, or a loaded one: the old diagnosis is gone.
    modelChanged() {
      current = null;
      at = null;
      words = null;
      seq++;
      examples.clear();
      kept = new Map();
      history = [];
      for (const key of Object.keys(shownLists)) {
        shownLists[key] = null;
        ui.lists[key].replaceChildren();
      }
      ui.results.hidden = true;
      ui.status.textContent = 'A new model: train it (or diagnose it untrained, to see chance level), then press Diagnose.';
      renderEpochs();
      enable();
    },
    epochDone(e) {
      if (e.bestEpoch > 0) engineBest = e.bestEpoch;
      kept.set(e.epoch, { val_loss: e.val_loss ?? NaN, kept: e.weightsKept === true });
      history[e.epoch - 1] = e;
      // At full speed epochs end every few ms: while training, the menu is
      // rebuilt at most every EPOCH_MENU_MS (and at once when it ends).
      if (!epochsTimer) epochsTimer = setTimeout(() => {
        epochsTimer = 0;
        renderEpochs();
      }, EPOCH_MENU_MS);
    },
    // Training finished (or a model was loaded): diagnose it.
    trainingDone(hist, best = null) {
      history = hist.slice();
      if (best > 0) engineBest = best;
      for (const [i, h] of hist.entries()) if (kept.has(i + 1)) kept.get(i + 1).val_loss = h.val_loss;
      renderEpochs();
      run();
    },
    snapshot() {
      return structuredClone({
        running,
        split: current?.split ?? null,
        epoch: current?.epoch ?? null,
        n: current?.n ?? null,
        auc: current?.auc ?? null,
        ap: current?.ap ?? null,
        logLoss: current?.logLoss ?? null,
        ece: current?.ece ?? null,
        ms: current?.ms ?? null,
        reviewsMs: current?.reviewsMs ?? null,
        wordsMs: current?.wordsMs ?? null,
        wallMs: current?.wallMs ?? null,
        threshold: at?.threshold ?? null,
        confusion: at?.confusion ?? null,
        accuracy: at?.accuracy ?? null,
        lists: at ? { fp: at.falsePositives, fn: at.falseNegatives, uncertain: at.uncertain } : null,
        examplesLoaded: [...examples.keys()].filter((k) => k.startsWith(`${seq}:`)).length,
        words: words ? { positive: words.positive.map((x) => x.word), negative: words.negative.map((x) => x.word) } : null,
        labelled: byo,
        keptEpochs: [...kept.entries()].filter(([, v]) => v.kept).map(([e]) => e),
      });
    },
  };
}
