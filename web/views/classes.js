// classes.js: what the page shows for a text model of K > 2 classes (a
// labelled-text shard, #dataset=own): the review box's bar per class, top
// class first, and the diagnosis for K classes: the K x K confusion matrix
// of the test texts (worker request textConfusion), per-class precision,
// recall and F1, and their macro and micro averages (the definitions of
// engine/metrics.c's nn_multiclass_from_confusion: macro over the classes
// that occur, micro from the summed counts, which for single-label data is
// the accuracy), and each class against the rest: its ROC AUC and average
// precision ranked by that class's probability (the worker's oneVsRest,
// engine/metrics.c), and its ROC curve on one chart. The binary diagnosis
// (calibration, threshold, word ratings) reads one probability: for K > 2
// it is hidden and the panel says so instead of showing wrong numbers.
//
// Deliberately not here: scoring (the worker) or the two-class views.

import { $, ui, fmtPct, page } from '../page.js';

const className = (c) => c.name ?? `class ${c.class}`;

// The review box: one bar per class, the top class first (predict's
// `classes`, already in that order).
export function renderClassBars(classes) {
  const list = ui.classBars ?? (ui.classBars = $('class-bars'));
  if (!classes) {
    list.hidden = true;
    list.replaceChildren();
    return;
  }
  list.replaceChildren(...classes.map((c, i) => {
    const li = document.createElement('li');
    li.className = i === 0 ? 'class-bar top' : 'class-bar';
    const name = document.createElement('span');
    name.className = 'class-name';
    name.textContent = className(c);
    const meter = document.createElement('span');
    meter.className = 'class-meter';
    meter.setAttribute('aria-hidden', 'true');
    const fill = document.createElement('span');
    fill.className = 'class-fill';
    fill.style.setProperty('--p', String(Math.min(1, Math.max(0, c.p))));
    meter.append(fill);
    const pct = document.createElement('span');
    pct.className = 'class-p';
    pct.textContent = fmtPct(c.p);
    li.append(name, meter, pct);
    li.dataset.class = String(c.class);
    return li;
  }));
  list.hidden = false;
}

// Per-class precision, recall, F1 and support from a K x K matrix (row:
// true, column: predicted); macro over the classes with support, micro from
// the summed counts.
export function multiclassMetrics(matrix, K) {
  const per = [];
  let tpSum = 0, fpSum = 0, fnSum = 0;
  for (let k = 0; k < K; k++) {
    let tp = matrix[k * K + k], row = 0, col = 0;
    for (let j = 0; j < K; j++) {
      row += matrix[k * K + j];
      col += matrix[j * K + k];
    }
    const precision = col ? tp / col : 0, recall = row ? tp / row : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    per.push({ precision, recall, f1, support: row });
    tpSum += tp;
    fpSum += col - tp;
    fnSum += row - tp;
  }
  const occurring = per.filter((c) => c.support > 0);
  const mean = (key) => (occurring.length ? occurring.reduce((s, c) => s + c[key], 0) / occurring.length : NaN);
  const mp = tpSum + fpSum ? tpSum / (tpSum + fpSum) : 0, mr = tpSum + fnSum ? tpSum / (tpSum + fnSum) : 0;
  return {
    perClass: per,
    macro: { precision: mean('precision'), recall: mean('recall'), f1: mean('f1') },
    micro: { precision: mp, recall: mr, f1: mp + mr > 0 ? (2 * mp * mr) / (mp + mr) : 0 },
  };
}

// The one-vs-rest macro averages: the mean AUC and AP over the classes
// whose AUC is defined (texts of the class and texts of other classes).
export function oneVsRestMacro(ovr) {
  const both = ovr.filter((o) => o.auc !== null);
  if (!both.length) return { auc: NaN, ap: NaN, classes: 0 };
  const mean = (key) => both.reduce((s, o) => s + o[key], 0) / both.length;
  return { auc: mean('auc'), ap: mean('ap'), classes: both.length };
}

function cell(tag, text, cls) {
  const e = document.createElement(tag);
  e.textContent = text;
  if (cls) e.className = cls;
  if (tag === 'th') e.scope = 'col';
  return e;
}

// The diagnosis panel for K > 2: replaces page.diagnosis's hooks (the
// two-class view stays built, hidden).
export function useClassDiagnosis(ctx) {
  const section = $('diagnosis');
  section.classList.add('multiclass');
  const box = document.createElement('div');
  box.className = 'class-diag';
  box.id = 'class-diag';
  const note = cell('p', 'With more than two classes the two-class diagnosis (calibration, the threshold, ' +
    'the words rated by one probability) does not apply, so it is not shown; the word map is not drawn for the same reason. ' +
    'Here: every test text scored, the K × K confusion matrix (row: true class, column: predicted), each class’s ' +
    'precision, recall and F1, and each class against the rest: the texts ranked by that class’s probability, ' +
    'its ROC AUC and average precision, and its ROC curve.', 'small muted');
  const button = cell('button', 'Score the test texts');
  button.type = 'button';
  button.id = 'btn-class-diag';
  const status = cell('p', 'Train a model, then score the test texts.', 'small');
  status.id = 'class-diag-status';
  status.setAttribute('role', 'status');
  const matrixTable = document.createElement('table');
  matrixTable.id = 'class-confusion';
  matrixTable.className = 'class-confusion';
  const metricsTable = document.createElement('table');
  metricsTable.id = 'class-metrics';
  metricsTable.className = 'class-metrics';
  const rocFigure = document.createElement('figure');
  rocFigure.className = 'chart class-roc';
  rocFigure.hidden = true;
  const rocBox = document.createElement('div');
  rocBox.className = 'chart-box';
  const rocCanvas = document.createElement('canvas');
  rocCanvas.id = 'chart-class-roc';
  rocCanvas.setAttribute('role', 'img');
  rocCanvas.setAttribute('aria-label', 'ROC curve of each class against the rest');
  rocBox.append(rocCanvas);
  rocFigure.append(rocBox, cell('figcaption', 'Each class against the rest: the true-positive rate against the ' +
    'false-positive rate as the threshold on that class’s probability falls. The diagonal is chance.', 'small muted'));
  box.append(note, button, status, matrixTable, metricsTable, rocFigure);
  let rocChart = null;
  section.querySelector('h2').after(box);

  let haveModel = false, running = false, current = null;
  const enable = () => { button.disabled = !haveModel || running; };

  function render(d) {
    const K = d.classes;
    const names = Array.from({ length: K }, (_, k) => d.classNames?.[k] ?? `class ${k}`);
    const cap = cell('caption', `Confusion of the ${d.n} test texts: accuracy ${fmtPct(d.accuracy)}`);
    const head = document.createElement('tr');
    head.append(cell('th', 'true \\ predicted'), ...names.map((n) => cell('th', n)));
    const rows = names.map((n, i) => {
      const tr = document.createElement('tr');
      const th = cell('th', n);
      th.scope = 'row';
      tr.append(th, ...names.map((_, j) => cell('td', String(d.matrix[i * K + j]), i === j ? 'diag' : '')));
      return tr;
    });
    matrixTable.replaceChildren(cap, head, ...rows);
    const m = multiclassMetrics(d.matrix, K);
    const f = (x) => (Number.isFinite(x) ? x.toFixed(3) : '–');
    const ovr = d.oneVsRest ?? [];
    const auc = oneVsRestMacro(ovr);
    const mhead = document.createElement('tr');
    mhead.append(...['class', 'precision', 'recall', 'F1', 'support', 'ROC AUC (vs rest)', 'avg. precision (vs rest)']
      .map((h) => cell('th', h)));
    const mrows = m.perClass.map((c, k) => {
      const tr = document.createElement('tr');
      tr.append(cell('td', names[k]), cell('td', f(c.precision)), cell('td', f(c.recall)), cell('td', f(c.f1)),
        cell('td', String(c.support)), cell('td', f(ovr[k]?.auc ?? NaN)), cell('td', f(ovr[k]?.ap ?? NaN)));
      return tr;
    });
    for (const [label, a, rest] of [['macro average', m.macro, auc], ['micro average', m.micro, null]]) {
      const tr = document.createElement('tr');
      tr.className = 'average';
      tr.append(cell('td', label), cell('td', f(a.precision)), cell('td', f(a.recall)), cell('td', f(a.f1)), cell('td', String(d.n)),
        cell('td', rest ? f(rest.auc) : ''), cell('td', rest ? f(rest.ap) : ''));
      mrows.push(tr);
    }
    metricsTable.replaceChildren(cell('caption', 'Per class, and averaged (the one-vs-rest macro average: over the classes ' +
      'with texts on both sides)'), mhead, ...mrows);
    drawRoc(ovr, names);
    current = { ...d, matrix: Array.from(d.matrix), probs: undefined, labels: undefined, ...m, oneVsRestMacro: auc };
  }

  // One line per class (the classes no AUC is defined for are left out),
  // the diagonal for chance; the legend only while it fits.
  function drawRoc(ovr, names) {
    const Chart = globalThis.Chart;
    const shown = ovr.map((o, k) => ({ o, k })).filter(({ o }) => o.auc !== null && o.fpr.length);
    rocFigure.hidden = shown.length === 0;
    if (!shown.length || typeof Chart !== 'function') return;
    const datasets = shown.map(({ o, k }) => {
      const color = `hsl(${Math.round((360 * k) / ovr.length)}, 70%, 40%)`;
      return {
        label: `${names[k]} (AUC ${o.auc.toFixed(3)})`, data: o.fpr.map((x, i) => ({ x, y: o.tpr[i] })),
        borderColor: color, backgroundColor: color, borderWidth: 2, pointRadius: 0, showLine: true, tension: 0,
      };
    });
    datasets.push({
      label: 'chance', data: [{ x: 0, y: 0 }, { x: 1, y: 1 }], borderColor: 'rgba(75, 85, 99, 0.55)',
      borderDash: [4, 4], borderWidth: 1, pointRadius: 0, showLine: true,
    });
    if (rocChart) {
      rocChart.data.datasets = datasets;
      rocChart.options.plugins.legend.display = shown.length <= 12;
      rocChart.update('none');
      return;
    }
    const axis = (text) => ({ type: 'linear', min: 0, max: 1, title: { display: true, text } });
    rocChart = new Chart(rocCanvas, {
      type: 'scatter',
      data: { datasets },
      options: {
        animation: false, parsing: false, responsive: true, maintainAspectRatio: false,
        scales: { x: axis('false-positive rate'), y: axis('true-positive rate') },
        plugins: { legend: { display: shown.length <= 12, labels: { boxWidth: 12 } } },
      },
    });
  }

  async function run() {
    if (!haveModel || running) return;
    running = true;
    enable();
    status.textContent = 'Scoring the test texts…';
    try {
      const d = await ctx.request('textConfusion', { split: 'test' });
      render(d);
      status.textContent = `${d.n} test texts scored in ${d.ms.toFixed(0)} ms.`;
      ctx.announce(`Diagnosis ready: accuracy ${fmtPct(d.accuracy)} over ${d.classes} classes.`);
    } catch (err) {
      status.textContent = `The diagnosis failed: ${err.message}`;
    } finally {
      running = false;
      enable();
    }
  }
  button.addEventListener('click', run);
  enable();

  const none = () => {};
  page.diagnosis = {
    renderSettings: none,
    phaseChanged(phase, model) {
      haveModel = model;
      enable();
    },
    modelChanged() {
      current = null;
      matrixTable.replaceChildren();
      metricsTable.replaceChildren();
      rocFigure.hidden = true;
      status.textContent = 'A new model: train it, then score the test texts.';
    },
    epochDone: none,
    trainingDone: () => run(),
    snapshot: () => structuredClone({ running, multiclass: true, ...(current ?? {}) }),
  };
}
