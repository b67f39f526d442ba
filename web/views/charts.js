// charts.js: the two live training charts (loss and accuracy by epoch).
//
// Each chart shows a faint per-batch training line (x = fractional epoch),
// the per-epoch training and validation points over it, a vertical marker at
// the best epoch (the engine's, under the config's monitor: setBestEpoch),
// the curves of runs ticked in the Runs view (setOverlays, each in its run's
// colour, under the current run's), and a line where training
// diverged, if it did. Charts are tuned for
// streaming: no animation, parsing off with {x, y} points, decimation on,
// update('none'), and points buffered and drawn by a pacer (schedule()):
// at most ONE of the two charts is redrawn in an animation frame, and a
// chart waits REDRAW_PACE times its own last redraw time before the next,
// so redrawing takes a bounded share of the main thread however fast the
// worker sends points (at full speed it sends an epoch every ~15 ms). Every
// point is kept and drawn; only the redraws are spaced.
//
// Deliberately not here: talking to the worker, the page's state, or any
// DOM outside the two canvases. Chart.js is the UMD build loaded by a
// <script> tag before app.js (global `Chart`); nothing is fetched from a CDN.

import { COLORS, STREAMING, bestEpochPlugin, epochMarksPlugin, divergencePlugin, pickEpochs } from './chart-tools.js';

function lineDataset(label, color, extra) {
  return {
    label,
    data: [],
    borderColor: color,
    backgroundColor: color,
    borderWidth: 2,
    pointRadius: 3,
    pointHoverRadius: 5,
    tension: 0,
    spanGaps: true,
    clip: 6, // points on the last epoch sit on the plot's edge: draw them whole
    ...extra,
  };
}

function makeChart(canvas, { yTitle, percent }) {
  const Chart = globalThis.Chart;
  const tickFormat = percent ? (v) => `${Math.round(v * 1000) / 10}%` : undefined;
  return new Chart(canvas, {
    type: 'line',
    data: {
      datasets: [
        // The faint per-batch line first, so the epoch points draw over it.
        lineDataset('train (per batch)', COLORS.trainFaint, {
          borderWidth: 1,
          pointRadius: 0,
          pointHoverRadius: 0,
          order: 3,
        }),
        lineDataset('train (epoch)', COLORS.train, { order: 2 }),
        lineDataset('validation', COLORS.val, { order: 1, pointStyle: 'rectRot', pointRadius: 4 }),
        // "What would have happened without early stopping" (setComparison).
        lineDataset('train, no early stopping', COLORS.train, { order: 4, borderDash: [6, 4], borderWidth: 1.5, pointRadius: 0, hidden: true }),
        lineDataset('validation, no early stopping', COLORS.val, { order: 4, borderDash: [6, 4], borderWidth: 1.5, pointRadius: 0, hidden: true }),
        // A reference run (the same model from scratch, beside a pretrained
        // one, setReference): dashed and lighter, under the run in progress.
        lineDataset('from scratch: train', COLORS.refTrain, { order: 6, borderDash: [6, 4], borderWidth: 1.5, pointRadius: 2 }),
        lineDataset('from scratch: validation', COLORS.refVal, {
          order: 5, borderDash: [6, 4], borderWidth: 1.5, pointStyle: 'rectRot', pointRadius: 3,
        }),
      ],
    },
    options: {
      ...STREAMING,
      layout: { padding: { right: 8 } },
      interaction: { mode: 'nearest', axis: 'x', intersect: false },
      scales: {
        x: {
          type: 'linear',
          min: 0,
          title: { display: true, text: 'epoch', color: COLORS.text },
          ticks: { color: COLORS.text, precision: 0 },
          grid: { color: COLORS.grid },
        },
        y: {
          type: 'linear',
          title: { display: true, text: yTitle, color: COLORS.text },
          ticks: { color: COLORS.text, callback: tickFormat },
          grid: { color: COLORS.grid },
        },
      },
      plugins: {
        decimation: { enabled: true, algorithm: 'min-max' },
        legend: {
          labels: {
            color: COLORS.text, boxWidth: 14, usePointStyle: true, sort: (a, b) => a.datasetIndex - b.datasetIndex,
            filter: (item, data) => {
              const i = item.datasetIndex;
              if (i >= REF_TRAIN) return data.datasets[i].data.length > 0;
              return !data.datasets[i].hidden || i < 3;
            },
          },
        },
        tooltip: {
          callbacks: {
            title: (items) => (items.length ? `epoch ${items[0].parsed.x.toFixed(2)}` : ''),
            label: (item) => {
              const v = item.parsed.y;
              return `${item.dataset.label}: ${percent ? (v * 100).toFixed(2) + '%' : v.toFixed(4)}`;
            },
          },
        },
        bestEpoch: { x: null, label: '', shortLabel: '' },
        epochMarks: { marks: [] },
        divergence: { x: null },
      },
    },
    plugins: [bestEpochPlugin, epochMarksPlugin, divergencePlugin],
  });
}

// Pacing of redraws (see schedule()). On a 2-core machine whose other core
// trains, a chart's redraw took 4 ms on average (up to 12-30 ms) in
// tests/bench/browser_bench.mjs; with a pace of 6 each chart then redraws
// about every 25 ms, the two charts taking turns, and a chart never waits
// longer than MAX_REDRAW_GAP_MS.
// MIN_REDRAW_GAP_MS: however cheap a redraw was, a chart waits at least
// this long before the next (about 10 redraws a second each, the two taking
// turns): on a quiet machine a redraw costs ~3 ms and the pace alone let the
// charts redraw in nearly every frame, which left no slack for the epoch
// events' handling when the machine got busy (tests/bench/page_profile.mjs).
const REDRAW_PACE = 6;
const MIN_REDRAW_GAP_MS = 100;
const MAX_REDRAW_GAP_MS = 250;

const BATCH = 0;
const TRAIN = 1;
const VAL = 2;
const FULL_TRAIN = 3;
const FULL_VAL = 4;
const REF_TRAIN = 5; // the reference run's, kept apart from the series (setReference)
const REF_VAL = 6;
const OVERLAY = 7; // the Runs view's ticked runs (setOverlays) from here on, two datasets each

function emptySeries() {
  return [[], [], [], [], []]; // indexed by BATCH, TRAIN, VAL, FULL_TRAIN, FULL_VAL
}

export class TrainingCharts {
  constructor(lossCanvas, accCanvas) {
    if (typeof globalThis.Chart !== 'function') {
      throw new Error(
        'Chart.js did not load (vendor/chart.umd.js). Run npm install, then serve the page with scripts/serve.mjs.',
      );
    }
    this.loss = makeChart(lossCanvas, { yTitle: 'loss', percent: false });
    this.acc = makeChart(accCanvas, { yTitle: 'accuracy', percent: true });
    // Our own copies of the points. Once decimation kicks in, Chart.js hands
    // back the decimated array from dataset.data, so the full series live
    // here and are (re)assigned to the datasets before every update.
    this.series = { loss: emptySeries(), acc: emptySeries() };
    this.pendingBatches = [];
    this.frame = 0;
    this.timer = 0;
    // Per chart: whether it has changes not yet drawn, when it was last
    // drawn, and what its redraws cost (a running average, ms).
    this.pacing = [this.loss, this.acc].map((chart) => ({ chart, dirty: false, at: -Infinity, cost: 0 }));
    this.bestEpoch = null;
    this.history = [];
    this.divergedAt = null;
    // The reference run's epoch points (setReference), kept by clear().
    this.reference = { loss: [[], []], acc: [[], []] };
    this.overlays = []; // setOverlays: [{id, name, color, series}]
  }

  // Marks where training diverged (x: fractional epoch) on both charts; the
  // loss chart turns logarithmic, since a diverging loss climbs by orders
  // of magnitude and would flatten everything before it. null unmarks.
  // A divergence early in a run would sit in a sliver at the left of an
  // axis that runs to a whole epoch, so the x axis then ends at the mark.
  markDivergence(x) {
    const at = Number.isFinite(x) ? x : null;
    this.divergedAt = at;
    for (const chart of [this.loss, this.acc]) {
      chart.options.plugins.divergence.x = at;
      const xs = chart.options.scales.x;
      xs.max = at != null && at < 2 ? at : undefined;
      xs.ticks.precision = at != null && at < 2 ? undefined : 0;
    }
    const y = this.loss.options.scales.y;
    y.type = at == null ? 'linear' : 'logarithmic';
    y.title.text = at == null ? 'loss' : 'loss (log scale)';
    y.ticks.callback = at == null ? undefined : logTick;
    this.schedule();
  }

  // Replaces the per-batch line (a saved session): {x, loss, acc} arrays.
  setBatches({ x = [], loss = [], acc = [] } = {}) {
    this.pendingBatches = [];
    this.series.loss[BATCH] = [];
    this.series.acc[BATCH] = [];
    for (let i = 0; i < x.length; i++) {
      push(this.series.loss[BATCH], x[i], loss[i]);
      push(this.series.acc[BATCH], x[i], acc[i]);
    }
    this.schedule();
  }

  // Names the run in progress in the legends ("pretrained: validation"), or
  // gives it back its plain names with an empty label.
  setRunLabel(label) {
    for (const chart of [this.loss, this.acc]) {
      const ds = chart.data.datasets;
      ds[BATCH].label = label ? `${label}: train (per batch)` : 'train (per batch)';
      ds[TRAIN].label = label ? `${label}: train` : 'train (epoch)';
      ds[VAL].label = label ? `${label}: validation` : 'validation';
    }
    this.schedule();
  }

  // Draws a finished run's history [{loss, acc, val_loss, val_acc}] as the
  // dashed reference curves, labelled "<label>: train/validation".
  setReference(history, label = 'from scratch') {
    const r = { loss: [[], []], acc: [[], []] };
    history.forEach((h, i) => {
      if (!h) return;
      push(r.loss[0], i + 1, h.loss);
      push(r.acc[0], i + 1, h.acc);
      push(r.loss[1], i + 1, h.val_loss);
      push(r.acc[1], i + 1, h.val_acc);
    });
    this.reference = r;
    for (const chart of [this.loss, this.acc]) {
      chart.data.datasets[REF_TRAIN].label = `${label}: train`;
      chart.data.datasets[REF_VAL].label = `${label}: validation`;
    }
    this.schedule();
  }

  clearReference() {
    this.reference = { loss: [[], []], acc: [[], []] };
    this.schedule();
  }

  // Training batches: the worker's bundle {points: [{x (fractional epoch),
  // loss, acc}]}, or one {epoch (1-based), batch, batches, loss, acc}.
  // Buffered and drawn on the next animation frame.
  addBatch(b) {
    if (Array.isArray(b.points)) {
      for (const p of b.points) this.pendingBatches.push({ x: p.x, loss: p.loss, acc: p.acc });
    } else if (b.batches > 0) {
      this.pendingBatches.push({ x: b.epoch - 1 + b.batch / b.batches, loss: b.loss, acc: b.acc });
    } else {
      return;
    }
    this.schedule();
  }

  // An epoch's summary: {epoch, loss, acc, val_loss, val_acc}.
  addEpoch(e) {
    this.flushBatches();
    this.history[e.epoch - 1] = { loss: e.loss, acc: e.acc, val_loss: e.val_loss, val_acc: e.val_acc };
    this.rebuildEpochSeries();
    this.schedule();
  }

  // Replaces the epoch points with a history [{loss, acc, val_loss, val_acc}]
  // (a finished run or a loaded checkpoint). The batch line is kept only
  // with keepBatches (when the history is that of the run just drawn).
  setHistory(history, { keepBatches = false } = {}) {
    if (!keepBatches) this.clear();
    this.flushBatches();
    this.history = history.map((h) => ({ ...h }));
    this.rebuildEpochSeries();
    this.schedule();
  }

  clear() {
    this.pendingBatches = [];
    this.history = [];
    this.series = { loss: emptySeries(), acc: emptySeries() };
    this.setComparison(null);
    this.setMarks([]);
        if (this.divergedAt != null) this.markDivergence(null);
    this.schedule();
  }

  // The curves of the same run without early stopping, [{loss, acc,
  // val_loss, val_acc}] (dashed, under the run's), or null to hide them.
  setComparison(history) {
    for (const [name, key, valKey] of [['loss', 'loss', 'val_loss'], ['acc', 'acc', 'val_acc']]) {
      const s = this.series[name];
      s[FULL_TRAIN] = [];
      s[FULL_VAL] = [];
      (history || []).forEach((h, i) => {
        if (!h) return;
        push(s[FULL_TRAIN], i + 1, h[key]);
        push(s[FULL_VAL], i + 1, h[valKey]);
      });
    }
    for (const chart of [this.loss, this.acc]) {
      chart.data.datasets[FULL_TRAIN].hidden = !history;
      chart.data.datasets[FULL_VAL].hidden = !history;
    }
    this.schedule();
  }

  // Extra vertical marks on both charts: [{x, label, color, dash}].
  setMarks(marks) {
    for (const chart of [this.loss, this.acc]) chart.options.plugins.epochMarks.marks = marks;
    this.schedule();
  }

  // Calls fn(epoch) when the user clicks or drags along either chart
  // (the nearest whole epoch, at least 1).
  onPick(fn) {
    for (const chart of [this.loss, this.acc]) pickEpochs(chart, fn);
  }

  rebuildEpochSeries() {
    const { loss, acc } = this.series;
    for (const s of [loss, acc]) {
      s[TRAIN] = [];
      s[VAL] = [];
    }
    this.history.forEach((h, i) => {
      if (!h) return;
      push(loss[TRAIN], i + 1, h.loss);
      push(acc[TRAIN], i + 1, h.acc);
      push(loss[VAL], i + 1, h.val_loss);
      push(acc[VAL], i + 1, h.val_acc);
    });
      }

  // Marks the best epoch (1-based), as the engine reported it in the worker's
  // epoch and done events; null (or 0: no validated epoch yet) unmarks.
  setBestEpoch(epoch) {
    const best = Number.isInteger(epoch) && epoch > 0 ? epoch : null;
    this.bestEpoch = best;
    for (const chart of [this.loss, this.acc]) {
      const opts = chart.options.plugins.bestEpoch;
      opts.x = best;
      opts.label = best === null ? '' : `best epoch: ${best}`;
      opts.shortLabel = best === null ? '' : `best: ${best}`;
    }
    this.schedule();
  }

  // Draws runs of the Runs view [{id, name, color, history}] under the
  // current run: per run a thin training line and its validation line with
  // points, in the run's colour. [] removes them.
  setOverlays(runs) {
    this.overlays = (runs || []).map((r) => {
      const series = { loss: [[], []], acc: [[], []] };
      (r.history || []).forEach((h, i) => {
        if (!h) return;
        const x = Number.isInteger(h.epoch) ? h.epoch : i + 1;
        push(series.loss[0], x, h.loss);
        push(series.acc[0], x, h.acc);
        push(series.loss[1], x, h.val_loss);
        push(series.acc[1], x, h.val_acc);
      });
      return { id: r.id, name: r.name ?? `run ${r.id}`, color: r.color || '#6b7280', series };
    });
    for (const chart of [this.loss, this.acc]) {
      const ds = chart.data.datasets;
      ds.length = OVERLAY;
      for (const o of this.overlays) {
        ds.push(lineDataset(`${o.name}: train`, o.color, { order: 20, borderWidth: 1, borderDash: [3, 3], pointRadius: 0 }));
        ds.push(lineDataset(`${o.name}: validation`, o.color, { order: 10, borderWidth: 1.5, pointRadius: 2, pointStyle: 'rectRot' }));
      }
    }
    this.schedule();
  }

  // Marks both charts as changed and makes sure a frame will draw them.
  schedule() {
    for (const p of this.pacing) p.dirty = true;
    this.requestFrame();
  }

  requestFrame() {
    if (this.frame || this.timer) return;
    this.frame = requestAnimationFrame(() => this.drawFrame());
  }

  // One animation frame: of the changed charts whose pause is over, the one
  // drawn longest ago is redrawn. If a chart still waits, a frame is asked
  // for when its pause ends (a timer first if that is more than a frame
  // away, so that waiting does not keep the browser producing frames).
  drawFrame() {
    this.frame = 0;
    const now = performance.now();
    const gap = (p) => Math.min(MAX_REDRAW_GAP_MS, Math.max(MIN_REDRAW_GAP_MS, REDRAW_PACE * p.cost));
    let next = null;
    for (const p of this.pacing) {
      if (!p.dirty || now - p.at < gap(p)) continue;
      if (!next || p.at < next.at) next = p;
    }
    if (next) {
      this.flushBatches();
      const chart = next.chart;
      const series = chart === this.loss ? this.series.loss : this.series.acc;
      const reference = this.reference[chart === this.loss ? 'loss' : 'acc'];
      const key = chart === this.loss ? 'loss' : 'acc';
      chart.data.datasets.forEach((ds, i) => {
        if (i < REF_TRAIN) ds.data = series[i];
        else if (i < OVERLAY) ds.data = reference[i - REF_TRAIN];
        else ds.data = this.overlays[(i - OVERLAY) >> 1].series[key][(i - OVERLAY) & 1];
      });
      next.dirty = false;
      chart.update('none');
      const end = performance.now();
      next.cost = next.at === -Infinity ? end - now : 0.7 * next.cost + 0.3 * (end - now);
      next.at = end;
    }
    let wait = Infinity;
    const later = performance.now();
    for (const p of this.pacing) if (p.dirty) wait = Math.min(wait, p.at + gap(p) - later);
    if (wait === Infinity) return;
    if (wait <= 16) this.requestFrame();
    else
      this.timer = setTimeout(() => {
        this.timer = 0;
        this.requestFrame();
      }, wait - 16);
  }

  flushBatches() {
    if (!this.pendingBatches.length) return;
    for (const p of this.pendingBatches) {
      push(this.series.loss[BATCH], p.x, p.loss);
      push(this.series.acc[BATCH], p.x, p.acc);
    }
    this.pendingBatches = [];
  }

  // The per-batch points of both charts, {loss, acc} arrays of {x, y}: the
  // charts' own arrays, not copies (saving a session reads them once a
  // second while training, and must not copy every other series too).
  batchLine() {
    this.flushBatches();
    return { loss: this.series.loss[BATCH], acc: this.series.acc[BATCH] };
  }

  // A deep copy of every point (not the decimated view), for the read-only
  // test hook and for anyone curious in the console.
  snapshot() {
    this.flushBatches();
    const copy = (s) => ({
      batch: s[BATCH].map(({ x, y }) => ({ x, y })),
      train: s[TRAIN].map(({ x, y }) => ({ x, y })),
      val: s[VAL].map(({ x, y }) => ({ x, y })),
    });
    const ref = (r) => ({ train: r[0].map(({ x, y }) => ({ x, y })), val: r[1].map(({ x, y }) => ({ x, y })) });
    const full = (s) => ({
      train: s[FULL_TRAIN].map(({ x, y }) => ({ x, y })),
      val: s[FULL_VAL].map(({ x, y }) => ({ x, y })),
    });
    return {
      loss: copy(this.series.loss), acc: copy(this.series.acc), bestEpoch: this.bestEpoch,
      comparison: { loss: full(this.series.loss), acc: full(this.series.acc), shown: !this.loss.data.datasets[FULL_TRAIN].hidden },
      marks: this.loss.options.plugins.epochMarks.marks.map((m) => ({ x: m.x, label: m.label })),
      divergedAt: this.divergedAt,
      lossScale: this.loss.options.scales.y.type,
      reference: { loss: ref(this.reference.loss), acc: ref(this.reference.acc) },
      labels: this.loss.data.datasets.map((ds) => ds.label),
      dashed: this.loss.data.datasets.filter((ds) => ds.borderDash?.length > 0).map((ds) => ds.label),
      overlays: this.overlays.map((o) => ({ id: o.id, color: o.color, lossDatasets: 2, valLoss: o.series.loss[1].map(({ x, y }) => ({ x, y })) })),
      lossDatasets: this.loss.data.datasets.length,
    };
  }
}

// Log-scale ticks: 0.1, 1, 10, then 1e+3, 1e+6… (Chart.js would write every
// zero of 1e18); only powers of ten are labelled.
function logTick(v) {
  const e = Math.log10(v);
  if (Math.abs(e - Math.round(e)) > 1e-9) return '';
  if (v >= 0.01 && v <= 100) return String(Number(v.toPrecision(1)));
  return v.toExponential(0);
}

// Appends a point, skipping non-finite values (no validation set gives NaN).
// Points stay sorted by x, as decimation needs: time only moves forward
// within a run, and clear() starts a new one.
function push(points, x, y) {
  if (!Number.isFinite(x) || !Number.isFinite(y)) return;
  points.push({ x, y });
}
