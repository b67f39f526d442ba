// chart-tools.js: what the page's Chart.js charts share: the vertical-line
// plugins (the best epoch, epoch marks, divergence), the on-screen-only
// updater and the click-to-pick-an-epoch handler. No state, no worker.

// The options every streaming chart of the page starts from: no animation,
// {x, y} points used as they are given (parsing off, normalized), sized by
// its box. Spread into a chart's options, before its own.
export const STREAMING = {
  animation: false,
  parsing: false,
  normalized: true,
  responsive: true,
  maintainAspectRatio: false,
};

export const COLORS = {
  train: '#1d4ed8',
  trainFaint: 'rgba(29, 78, 216, 0.28)',
  val: '#c2410c',
  best: '#15803d',
  diverged: '#b91c1c',
  refTrain: '#7c9bd8', // the train and validation colours, lighter: same meaning, other run
  refVal: '#e3a07a',
  grid: 'rgba(0, 0, 0, 0.08)',
  text: '#374151',
};

// Draws a dashed vertical line at options.x with a small label on top.
// Chart.js has no built-in annotation; this is the whole of what we need.
export const bestEpochPlugin = {
  id: 'bestEpoch',
  afterDatasetsDraw(chart, _args, options) {
    if (options.x == null) return;
    const xScale = chart.scales.x;
    const { top, bottom, left, right } = chart.chartArea;
    const px = xScale.getPixelForValue(options.x);
    if (!(px >= left && px <= right)) return;
    const ctx = chart.ctx;
    ctx.save();
    ctx.strokeStyle = COLORS.best;
    ctx.lineWidth = 1.5;
    ctx.setLineDash([5, 4]);
    ctx.beginPath();
    ctx.moveTo(px, top);
    ctx.lineTo(px, bottom);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.font = '600 11px system-ui, sans-serif';
    // The long label where it fits, else the short one; kept inside the plot
    // (to the right of the line, or to its left near the right edge).
    let label = options.label || '';
    if (ctx.measureText(label).width > (right - left) / 2) label = options.shortLabel || label;
    const width = ctx.measureText(label).width;
    let textX = px + 6 + width > right ? px - 6 - width : px + 6;
    textX = Math.max(left + 3, Math.min(textX, right - width - 3));
    // A light box behind the text keeps it readable over the curves.
    ctx.fillStyle = 'rgba(255, 255, 255, 0.85)';
    ctx.fillRect(textX - 3, top + 2, width + 6, 15);
    ctx.fillStyle = COLORS.best;
    ctx.textBaseline = 'top';
    ctx.fillText(label, textX, top + 4);
    ctx.restore();
  },
};

// Draws vertical lines at options.marks [{x, label, color, dash}] with
// their labels at the bottom of the plot (the best-epoch label is at the
// top): the epoch shown on the word map, where early stopping ended a run.
// Exported so the embedding statistics chart marks the same epochs.
export const epochMarksPlugin = {
  id: 'epochMarks',
  afterDatasetsDraw(chart, _args, options) {
    const marks = options.marks || [];
    if (!marks.length) return;
    const xScale = chart.scales.x;
    const { top, bottom, left, right } = chart.chartArea;
    const ctx = chart.ctx;
    ctx.save();
    ctx.font = '600 11px system-ui, sans-serif';
    marks.forEach((mark, i) => {
      const px = xScale.getPixelForValue(mark.x);
      if (!(px >= left - 0.5 && px <= right + 0.5)) return;
      ctx.strokeStyle = mark.color;
      ctx.lineWidth = mark.width || 2;
      ctx.setLineDash(mark.dash || []);
      ctx.beginPath();
      ctx.moveTo(px, top);
      ctx.lineTo(px, bottom);
      ctx.stroke();
      ctx.setLineDash([]);
      if (!mark.label) return;
      const width = ctx.measureText(mark.label).width;
      let textX = px + 6 + width > right ? px - 6 - width : px + 6;
      textX = Math.max(left + 3, Math.min(textX, right - width - 3));
      const y = bottom - 17 - i * 16;
      ctx.fillStyle = 'rgba(255, 255, 255, 0.85)';
      ctx.fillRect(textX - 3, y, width + 6, 15);
      ctx.fillStyle = mark.color;
      ctx.textBaseline = 'top';
      ctx.fillText(mark.label, textX, y + 2);
    });
    ctx.restore();
  },
};

// A solid red line where training diverged (options.x), labelled half-way
// up, clear of the best-epoch label (top) and the epoch marks (bottom).
export const divergencePlugin = {
  id: 'divergence',
  afterDatasetsDraw(chart, _args, options) {
    if (options.x == null) return;
    const { top, bottom, left, right } = chart.chartArea;
    const px = Math.min(right, Math.max(left, chart.scales.x.getPixelForValue(options.x)));
    const ctx = chart.ctx;
    ctx.save();
    ctx.strokeStyle = COLORS.diverged;
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(px, top);
    ctx.lineTo(px, bottom);
    ctx.stroke();
    ctx.font = '600 11px system-ui, sans-serif';
    const label = 'diverged';
    const width = ctx.measureText(label).width;
    const textX = px - 6 - width >= left ? px - 6 - width : px + 6;
    const y = Math.round((top + bottom) / 2);
    ctx.fillStyle = 'rgba(255, 255, 255, 0.85)';
    ctx.fillRect(textX - 3, y - 8, width + 6, 15);
    ctx.fillStyle = COLORS.diverged;
    ctx.textBaseline = 'middle';
    ctx.fillText(label, textX, y);
    ctx.restore();
  },
};

// For charts below the fold (the word map, the embedding statistics): the
// returned update() redraws `chart` only while its canvas is on screen, and
// otherwise when it gets there, so a chart out of
// view costs nothing while data streams in. update() draws at once, or with
// { frame: true } on the next animation frame (several calls, one redraw).
// update.visible() says whether the canvas is in view; onShow() runs each
// time it comes into view.
export function visibleUpdater(chart, onShow) {
  let visible = false;
  let dirty = false;
  let frame = 0;
  const draw = () => {
    frame = 0;
    if (!dirty || !visible) return;
    dirty = false;
    chart.update('none');
  };
  new IntersectionObserver((entries) => {
    visible = entries[entries.length - 1].isIntersecting;
    if (!visible) return;
    if (dirty && !frame) frame = requestAnimationFrame(draw);
    onShow?.();
  }).observe(chart.canvas);
  const update = ({ frame: later = false } = {}) => {
    dirty = true;
    if (!visible) return;
    if (!later) draw();
    else if (!frame) frame = requestAnimationFrame(draw);
  };
  update.visible = () => visible;
  return update;
}

// Clicking, or dragging with the button held, along a chart picks the
// nearest whole epoch. Exported for the embedding statistics chart.
export function pickEpochs(chart, fn) {
  const canvas = chart.canvas;
  let dragging = false;
  const pick = (event) => {
    const rect = canvas.getBoundingClientRect();
    const x = chart.scales.x.getValueForPixel(event.clientX - rect.left);
    if (Number.isFinite(x)) fn(Math.max(1, Math.round(x)));
  };
  canvas.addEventListener('pointerdown', (e) => {
    dragging = true;
    pick(e);
  });
  canvas.addEventListener('pointermove', (e) => {
    if (dragging && e.buttons) pick(e);
  });
  for (const type of ['pointerup', 'pointercancel', 'pointerleave']) canvas.addEventListener(type, () => (dragging = false));
}
