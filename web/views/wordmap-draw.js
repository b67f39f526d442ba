// wordmap-draw.js: how the word map is drawn: the colours, the formatting
// helpers of the word panels, a word's effect as a colour, the labels plugin
// and the map chart itself (Chart.js scatter). No state, no worker.

import { epochMarksPlugin, STREAMING } from './chart-tools.js';

export const COLORS = {
  selected: '#7c3aed',
  stopped: '#b45309',
  rare: '#b45309',
  frequent: '#1d4ed8',
  share: '#0f766e',
  grid: 'rgba(0, 0, 0, 0.08)',
  text: '#374151',
};
export const POS = [22, 163, 74];   // style.css --pos
export const NEG = [220, 38, 38];   // style.css --neg
export const GREY = [156, 163, 175];
export const FREQUENT_LABELS = 6;  // and the most frequent words
export const PLAY_MS = 300;         // per epoch when playing
export const LIVE_MAP_MS = 1500;    // while training (and in view), refresh the map at most this often
export const LABELS_EACH_WAY = 12;  // words named on the map at most: the strongest each way

export const fmtPct = (x) => `${(x * 100).toFixed(1)}%`;
export const fmtSigned = (x) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(3)}`;
export const fmtBytes = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${Math.round(n / 1e3)} kB`);
export const fmtInt = (n) => Math.round(n).toLocaleString('en-US');

export function mix(a, b, t) {
  return a.map((v, i) => Math.round(v + (b[i] - v) * t));
}

// A diverging colour for an effect, relative to the map's scale.
export function effectColor(effect, scale) {
  const t = Math.max(-1, Math.min(1, scale > 0 ? effect / scale : 0));
  const [r, g, b] = mix(GREY, t >= 0 ? POS : NEG, Math.abs(t));
  return `rgba(${r}, ${g}, ${b}, 0.8)`;
}

// Draws the names of some points (labels: [{x, y, text, strong}], in order
// of importance) next to them, on the canvas (text never becomes HTML),
// skipping any label that would overlap one already drawn.
export const wordLabelsPlugin = {
  id: 'wordLabels',
  afterDatasetsDraw(chart, _args, options) {
    const labels = options.labels || [];
    if (!labels.length) return;
    const ctx = chart.ctx;
    const { left, right, top, bottom } = chart.chartArea;
    const placed = [];
    const overlaps = (r) => placed.some((p) => r.x0 < p.x1 && r.x1 > p.x0 && r.y0 < p.y1 && r.y1 > p.y0);
    ctx.save();
    for (const l of labels) {
      const px = chart.scales.x.getPixelForValue(l.x);
      const py = chart.scales.y.getPixelForValue(l.y);
      if (!(px >= left && px <= right && py >= top && py <= bottom)) continue;
      ctx.font = l.strong ? '700 13px system-ui, sans-serif' : '600 11px system-ui, sans-serif';
      const w = ctx.measureText(l.text).width;
      // Right of the point, or left of it near the right edge.
      const tx = px + 8 + w > right ? px - 8 - w : px + 8;
      const rect = { x0: tx - 2, x1: tx + w + 2, y0: py - 14, y1: py + 2 };
      if (!l.strong && overlaps(rect)) continue;
      placed.push(rect);
      ctx.fillStyle = 'rgba(255, 255, 255, 0.85)';
      ctx.fillRect(rect.x0, rect.y0, rect.x1 - rect.x0, rect.y1 - rect.y0);
      ctx.fillStyle = l.strong ? COLORS.selected : '#111827';
      ctx.fillText(l.text, tx, py - 2);
      if (l.strong) {
        ctx.strokeStyle = COLORS.selected;
        ctx.lineWidth = 2.5;
        ctx.beginPath();
        ctx.arc(px, py, 9, 0, 2 * Math.PI);
        ctx.stroke();
      }
    }
    ctx.restore();
  },
};

export function makeMap(canvas, view, which) {
  const Chart = globalThis.Chart;
  return new Chart(canvas, {
    type: 'scatter',
    data: { datasets: [{ label: 'words', data: [], pointRadius: [], backgroundColor: [], borderWidth: 0, pointHoverRadius: 8 }] },
    options: {
      ...STREAMING,
      interaction: { mode: 'nearest', intersect: true },
      scales: {
        x: { type: 'linear', title: { display: true, text: 'first principal axis (negative ← → positive)', color: COLORS.text }, ticks: { color: COLORS.text, maxTicksLimit: 7 }, grid: { color: COLORS.grid } },
        y: { type: 'linear', title: { display: true, text: 'second axis', color: COLORS.text }, ticks: { color: COLORS.text, maxTicksLimit: 7 }, grid: { color: COLORS.grid } },
      },
      plugins: {
        legend: { display: false },
        decimation: { enabled: false },
        tooltip: { callbacks: { label: (item) => view.describePoint(which, item.dataIndex) } },
        wordLabels: { labels: [] },
      },
    },
    plugins: [wordLabelsPlugin],
  });
}


// Thrown by ask() when the run changed while a request was in flight.
