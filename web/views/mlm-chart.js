// mlm-chart.js: the pretraining panel's chart (views/mlm.js): the masked
// words' loss (left axis) and the share of them guessed right (right axis)
// against the reviews processed, a point per mlmProgress event (each the
// average since the previous event, web/PROTOCOL.md). Tuned for streaming
// like the training charts (views/charts.js): no animation, parsing off
// with {x, y} points, decimation on, update('none'); points are kept here
// and drawn at most once per REDRAW_MS, in an animation frame, and only
// while the canvas is on screen (chart-tools.js's visibleUpdater). The
// canvas's aria-label is a text summary of the curves, rewritten at the
// same pace.
//
// Deliberately not here: the worker, the panel's state (mlm.js decides
// when to add and clear), any DOM outside the canvas.

import { fmtInt, fmtPct } from '../page.js';
import { COLORS, STREAMING, visibleUpdater } from './chart-tools.js';

const REDRAW_MS = 100;
const LABEL = 'Pretraining: masked-word loss and share guessed right by reviews processed';

export class MlmChart {
  constructor(canvas) {
    const Chart = globalThis.Chart;
    if (typeof Chart !== 'function') throw new Error('Chart.js did not load (vendor/chart.umd.js)');
    const line = (label, color, axis, extra = {}) => ({
      label, data: [], borderColor: color, backgroundColor: color, yAxisID: axis,
      borderWidth: 2, pointRadius: 0, pointHoverRadius: 4, tension: 0, spanGaps: true, clip: 6, ...extra,
    });
    this.canvas = canvas;
    this.chart = new Chart(canvas, {
      type: 'line',
      data: {
        datasets: [
          line('loss', COLORS.train, 'y'),
          line('guessed right', COLORS.val, 'y1', { borderDash: [5, 3] }),
        ],
      },
      options: {
        ...STREAMING,
        interaction: { mode: 'nearest', axis: 'x', intersect: false },
        scales: {
          x: {
            type: 'linear', min: 0, title: { display: true, text: 'reviews processed', color: COLORS.text },
            ticks: { color: COLORS.text, maxTicksLimit: 6 }, grid: { color: COLORS.grid },
          },
          y: {
            type: 'linear', position: 'left', title: { display: true, text: 'masked-word loss', color: COLORS.text },
            ticks: { color: COLORS.text }, grid: { color: COLORS.grid },
          },
          y1: {
            type: 'linear', position: 'right', min: 0, title: { display: true, text: 'guessed right', color: COLORS.text },
            ticks: { color: COLORS.text, callback: (v) => `${Math.round(v * 1000) / 10}%` }, grid: { drawOnChartArea: false },
          },
        },
        plugins: {
          decimation: { enabled: true, algorithm: 'min-max' },
          legend: { labels: { color: COLORS.text, boxWidth: 24, usePointStyle: true, pointStyle: 'line' } },
          tooltip: {
            callbacks: {
              title: (items) => (items.length ? `${fmtInt(items[0].parsed.x)} reviews` : ''),
              label: (item) => `${item.dataset.label}: ${item.dataset.yAxisID === 'y1' ? fmtPct(item.parsed.y) : item.parsed.y.toFixed(3)}`,
            },
          },
        },
      },
    });
    this.update = visibleUpdater(this.chart);
    this.loss = [];
    this.acc = [];
    this.timer = 0;
    this.drawnAt = -Infinity;
    this.draws = 0; // redraws asked of Chart.js (the test hook's)
    this.canvas.setAttribute('aria-label', `${LABEL}: no points yet.`);
  }

  // One mlmProgress event's figures: {reviews, loss, accuracy}.
  add({ reviews, loss, accuracy }) {
    if (!Number.isFinite(reviews)) return;
    if (Number.isFinite(loss)) this.loss.push({ x: reviews, y: loss });
    if (Number.isFinite(accuracy)) this.acc.push({ x: reviews, y: accuracy });
    this.schedule();
  }

  // A new pretraining (or another encoder): no points.
  clear() {
    this.loss = [];
    this.acc = [];
    this.schedule();
  }

  // At most one redraw per REDRAW_MS, however fast the events come.
  schedule() {
    if (this.timer) return;
    const wait = Math.max(0, this.drawnAt + REDRAW_MS - performance.now());
    this.timer = setTimeout(() => {
      this.timer = 0;
      this.drawnAt = performance.now();
      this.draw();
    }, wait);
  }

  draw() {
    const [loss, acc] = this.chart.data.datasets;
    loss.data = this.loss;
    acc.data = this.acc;
    this.canvas.setAttribute('aria-label', `${LABEL}: ${this.summary()}`);
    this.draws += 1;
    this.update({ frame: true });
  }

  // The curves in words: first and last loss and share guessed right.
  summary() {
    const l = this.loss, a = this.acc;
    if (!l.length) return 'no points yet.';
    const parts = [`loss ${l[0].y.toFixed(2)} at ${fmtInt(l[0].x)} reviews to ${l.at(-1).y.toFixed(2)} at ${fmtInt(l.at(-1).x)}`];
    if (a.length) parts.push(`guessed right ${fmtPct(a[0].y)} to ${fmtPct(a.at(-1).y)}`);
    return `${parts.join('; ')} (${l.length} points).`;
  }

  snapshot() {
    return {
      loss: this.loss.map(({ x, y }) => ({ x, y })),
      acc: this.acc.map(({ x, y }) => ({ x, y })),
      label: this.canvas.getAttribute('aria-label'),
      draws: this.draws,
    };
  }
}
