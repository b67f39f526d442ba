// diagnosis_charts.js: the four charts of the diagnosis panel: the ROC and
// precision-recall curves with the current threshold as a dot, the
// reliability diagram, and the scores by true class with the threshold as a
// line. The engine computes every point (the 'diagnose' reply); this file
// only draws them, without animation, and moves the threshold marks when
// the slider moves (update('none'), so dragging stays smooth). Each chart
// redraws at most once an animation frame and not while it is out of view
// (visibleUpdater): a finished run's diagnosis used to redraw five times in
// one task, 40-50 ms at the end of every run, mostly while the panel was
// below the first screen.
//
// Deliberately not here: talking to the worker, any metric.

import { visibleUpdater } from './chart-tools.js';

const COLORS = {
  curve: '#1d4ed8',
  marker: '#b45309',
  chance: 'rgba(75, 85, 99, 0.55)',
  pos: 'rgba(22, 163, 74, 0.75)',
  neg: 'rgba(220, 38, 38, 0.7)',
  bars: 'rgba(29, 78, 216, 0.65)',
  grid: 'rgba(0, 0, 0, 0.08)',
  text: '#374151',
};

const axis = (title, extra = {}) => ({
  type: 'linear',
  min: 0,
  max: 1,
  title: { display: true, text: title, color: COLORS.text },
  ticks: { color: COLORS.text, maxTicksLimit: 6 },
  grid: { color: COLORS.grid },
  ...extra,
});

const line = (label, color, extra = {}) => ({
  label,
  data: [],
  borderColor: color,
  backgroundColor: color,
  borderWidth: 2,
  pointRadius: 0,
  pointHoverRadius: 3,
  showLine: true,
  tension: 0,
  ...extra,
});

const marker = (label) => ({
  label,
  data: [],
  borderColor: COLORS.marker,
  backgroundColor: COLORS.marker,
  pointRadius: 6,
  pointHoverRadius: 7,
  pointStyle: 'circle',
  showLine: false,
});

function baseOptions() {
  return {
    animation: false,
    parsing: false,
    normalized: true,
    responsive: true,
    maintainAspectRatio: false,
    plugins: {
      legend: { labels: { color: COLORS.text, boxWidth: 12, usePointStyle: true } },
      decimation: { enabled: false },
    },
  };
}

// A vertical line at options.x (a value between 0 and 1) over a bar chart
// of `bins` equal categories spanning [0, 1].
const thresholdLinePlugin = {
  id: 'thresholdLine',
  afterDatasetsDraw(chart, _args, options) {
    const bins = chart.data.labels.length;
    if (options.x == null || bins < 2) return;
    const scale = chart.scales.x;
    const first = scale.getPixelForValue(0), last = scale.getPixelForValue(bins - 1);
    const px = first + (options.x * bins - 0.5) * ((last - first) / (bins - 1));
    const { top, bottom } = chart.chartArea;
    const ctx = chart.ctx;
    ctx.save();
    ctx.strokeStyle = COLORS.marker;
    ctx.lineWidth = 2;
    ctx.setLineDash([6, 4]);
    ctx.beginPath();
    ctx.moveTo(px, top);
    ctx.lineTo(px, bottom);
    ctx.stroke();
    ctx.restore();
  },
};

const points = (xs, ys) => {
  const out = [];
  for (let i = 0; i < xs.length; i++) if (Number.isFinite(xs[i]) && Number.isFinite(ys[i])) out.push({ x: xs[i], y: ys[i] });
  return out;
};

export class DiagnosisCharts {
  constructor({ roc, pr, calibration, histogram }) {
    const Chart = globalThis.Chart;
    if (typeof Chart !== 'function') throw new Error('Chart.js did not load (vendor/chart.umd.js)');
    this.canvases = { roc, pr, calibration, histogram };
    const pct = { callbacks: { label: (item) => `${item.dataset.label}: (${item.parsed.x.toFixed(3)}, ${item.parsed.y.toFixed(3)})` } };
    this.roc = new Chart(roc, {
      type: 'scatter',
      data: { datasets: [line('ROC', COLORS.curve), line('chance', COLORS.chance, { borderDash: [5, 4], borderWidth: 1, pointHoverRadius: 0 }), marker('threshold')] },
      options: { ...baseOptions(), scales: { x: axis('false-positive rate'), y: axis('true-positive rate') }, plugins: { ...baseOptions().plugins, tooltip: pct } },
    });
    this.pr = new Chart(pr, {
      type: 'scatter',
      data: { datasets: [line('precision-recall', COLORS.curve), line('share of positives', COLORS.chance, { borderDash: [5, 4], borderWidth: 1, pointHoverRadius: 0 }), marker('threshold')] },
      options: { ...baseOptions(), scales: { x: axis('recall'), y: axis('precision') }, plugins: { ...baseOptions().plugins, tooltip: pct } },
    });
    this.calibration = new Chart(calibration, {
      type: 'bar',
      data: {
        labels: [],
        datasets: [
          { type: 'bar', label: 'share truly positive', data: [], backgroundColor: COLORS.bars, order: 2 },
          { type: 'line', label: 'calibrated', data: [], borderColor: COLORS.chance, borderDash: [5, 4], borderWidth: 1, pointRadius: 0, order: 1 },
        ],
      },
      options: {
        ...baseOptions(),
        parsing: true,
        scales: {
          x: { title: { display: true, text: 'score band', color: COLORS.text }, ticks: { color: COLORS.text, maxRotation: 0, autoSkip: true }, grid: { display: false } },
          y: { min: 0, max: 1, title: { display: true, text: 'share positive', color: COLORS.text }, ticks: { color: COLORS.text }, grid: { color: COLORS.grid } },
        },
        plugins: {
          ...baseOptions().plugins,
          tooltip: { callbacks: { afterLabel: (item) => (item.datasetIndex === 0 ? `${this.counts?.[item.dataIndex] ?? 0} reviews` : '') } },
        },
      },
    });
    this.histogram = new Chart(histogram, {
      type: 'bar',
      data: {
        labels: [],
        datasets: [
          { label: 'truly negative', data: [], backgroundColor: COLORS.neg },
          { label: 'truly positive', data: [], backgroundColor: COLORS.pos },
        ],
      },
      options: {
        ...baseOptions(),
        parsing: true,
        scales: {
          x: { title: { display: true, text: 'score', color: COLORS.text }, ticks: { color: COLORS.text, maxRotation: 0, autoSkip: true }, grid: { display: false } },
          y: { beginAtZero: true, title: { display: true, text: 'reviews', color: COLORS.text }, ticks: { color: COLORS.text, precision: 0 }, grid: { color: COLORS.grid } },
        },
        plugins: { ...baseOptions().plugins, thresholdLine: { x: null } },
      },
      plugins: [thresholdLinePlugin],
    });
    this.updaters = new Map([this.roc, this.pr, this.calibration, this.histogram].map((c) => [c, visibleUpdater(c)]));
  }

  // The curves and bins of a 'diagnose' reply.
  show(d) {
    this.roc.data.datasets[0].data = points(d.roc.fpr, d.roc.tpr);
    this.roc.data.datasets[1].data = [{ x: 0, y: 0 }, { x: 1, y: 1 }];
    this.pr.data.datasets[0].data = points(d.pr.recall, d.pr.precision);
    const base = d.n ? d.positives / d.n : 0;
    this.pr.data.datasets[1].data = [{ x: 0, y: base }, { x: 1, y: base }];
    const bins = d.calibration.count.length;
    const labels = Array.from({ length: bins }, (_, k) => `${(k / bins).toFixed(1)}–${((k + 1) / bins).toFixed(1)}`);
    this.counts = Array.from(d.calibration.count);
    this.calibration.data.labels = labels;
    this.calibration.data.datasets[0].data = Array.from(d.calibration.fracPos, (v) => (Number.isFinite(v) ? v : null));
    this.calibration.data.datasets[1].data = labels.map((_, k) => (k + 0.5) / bins);
    this.histogram.data.labels = labels;
    this.histogram.data.datasets[0].data = Array.from(d.histogram.negative);
    this.histogram.data.datasets[1].data = Array.from(d.histogram.positive);
    this.canvases.roc.setAttribute('aria-label', `ROC curve, area under it ${fmt(d.auc)}`);
    this.canvases.pr.setAttribute('aria-label', `Precision-recall curve, average precision ${fmt(d.ap)}`);
    this.canvases.calibration.setAttribute('aria-label', `Reliability diagram, expected calibration error ${fmt(d.ece)}`);
    this.canvases.histogram.setAttribute('aria-label', `Scores of ${d.negatives} negative and ${d.positives} positive reviews`);
    for (const c of [this.calibration, this.histogram]) this.redraw(c);
  }

  // A redraw of chart c on the next animation frame, once it is in view.
  redraw(c) {
    this.updaters.get(c)({ frame: true });
  }

  // The threshold's confusion matrix: the dot on both curves, the line on
  // the histogram.
  setThreshold(at) {
    const { tp, fp, tn, fn } = at.confusion;
    const fpr = fp + tn ? fp / (fp + tn) : NaN, tpr = tp + fn ? tp / (tp + fn) : NaN;
    const precision = tp + fp ? tp / (tp + fp) : 1;
    this.roc.data.datasets[2].data = Number.isFinite(fpr) && Number.isFinite(tpr) ? [{ x: fpr, y: tpr }] : [];
    this.pr.data.datasets[2].data = Number.isFinite(tpr) ? [{ x: tpr, y: precision }] : [];
    this.histogram.options.plugins.thresholdLine.x = at.threshold;
    for (const c of [this.roc, this.pr, this.histogram]) this.redraw(c);
  }
}

const fmt = (x) => (Number.isFinite(x) ? x.toFixed(3) : 'undefined');
