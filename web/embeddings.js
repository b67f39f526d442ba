// embeddings.js: "What the model learned about words", the page module.
//
// The word map (a PCA of the most frequent words' vectors, one basis for
// every epoch, coloured by each word's effect and sized by its training
// count), the epoch scrubber linked to the loss and accuracy curves, the
// embedding statistics on the curves' time axis, the words whose effect
// changed most after the best epoch, nearest neighbours, the Embedding
// Projector export, and the page side of early stopping (marks on the curves
// and the run without it). Everything is computed by the engine in the
// worker (web/PROTOCOL.md, "Embeddings"); this file only asks and draws.
//
// Settings live in app.js's PROPS table (mirrored to the URL hash); this
// module reads them from `state` and changes them only through setSetting.
// Deliberately not here: HTML from strings (words reach the page through
// textContent, or are drawn on a canvas), engine work, the worker itself.

import { epochMarksPlugin, pickEpochs, visibleUpdater } from './charts.js';

const COLORS = {
  selected: '#7c3aed',
  stopped: '#b45309',
  rare: '#b45309',
  frequent: '#1d4ed8',
  share: '#0f766e',
  grid: 'rgba(0, 0, 0, 0.08)',
  text: '#374151',
};
const POS = [22, 163, 74];   // style.css --pos
const NEG = [220, 38, 38];   // style.css --neg
const GREY = [156, 163, 175];
const FREQUENT_LABELS = 6;  // and the most frequent words
const PLAY_MS = 300;         // per epoch when playing
const LIVE_MAP_MS = 1500;    // while training (and in view), refresh the map at most this often
const LABELS_EACH_WAY = 12;  // words named on the map at most: the strongest each way

const fmtPct = (x) => `${(x * 100).toFixed(1)}%`;
const fmtSigned = (x) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(3)}`;
const fmtBytes = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${Math.round(n / 1e3)} kB`);
const fmtInt = (n) => Math.round(n).toLocaleString('en-US');

function mix(a, b, t) {
  return a.map((v, i) => Math.round(v + (b[i] - v) * t));
}

// A diverging colour for an effect, relative to the map's scale.
function effectColor(effect, scale) {
  const t = Math.max(-1, Math.min(1, scale > 0 ? effect / scale : 0));
  const [r, g, b] = mix(GREY, t >= 0 ? POS : NEG, Math.abs(t));
  return `rgba(${r}, ${g}, ${b}, 0.8)`;
}

// Draws the names of some points (labels: [{x, y, text, strong}], in order
// of importance) next to them, on the canvas (text never becomes HTML),
// skipping any label that would overlap one already drawn.
const wordLabelsPlugin = {
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

function makeMap(canvas, view, which) {
  const Chart = globalThis.Chart;
  return new Chart(canvas, {
    type: 'scatter',
    data: { datasets: [{ label: 'words', data: [], pointRadius: [], backgroundColor: [], borderWidth: 0, pointHoverRadius: 8 }] },
    options: {
      animation: false,
      parsing: false,
      normalized: true,
      responsive: true,
      maintainAspectRatio: false,
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

function makeStatsChart(canvas) {
  const Chart = globalThis.Chart;
  const line = (label, color, axis, extra = {}) => ({
    label, data: [], borderColor: color, backgroundColor: color, yAxisID: axis,
    borderWidth: 2, pointRadius: 2, tension: 0, spanGaps: true, clip: 6, ...extra,
  });
  return new Chart(canvas, {
    type: 'line',
    data: {
      datasets: [
        line('rare words', COLORS.rare, 'y'),
        line('frequent words', COLORS.frequent, 'y'),
        line('rare words\' share of effect', COLORS.share, 'y1', { borderDash: [5, 3], pointStyle: 'rectRot' }),
      ],
    },
    options: {
      animation: false,
      parsing: false,
      normalized: true,
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: 'nearest', axis: 'x', intersect: false },
      scales: {
        x: { type: 'linear', min: 0, title: { display: true, text: 'epoch', color: COLORS.text }, ticks: { color: COLORS.text, precision: 0 }, grid: { color: COLORS.grid } },
        y: { type: 'linear', position: 'left', title: { display: true, text: 'mean vector length', color: COLORS.text }, ticks: { color: COLORS.text }, grid: { color: COLORS.grid } },
        y1: {
          type: 'linear', position: 'right', title: { display: true, text: 'share of effect', color: COLORS.text },
          ticks: { color: COLORS.text, callback: (v) => `${Math.round(v * 1000) / 10}%` }, grid: { drawOnChartArea: false },
        },
      },
      plugins: {
        legend: { labels: { color: COLORS.text, boxWidth: 14, usePointStyle: true } },
        tooltip: {
          callbacks: {
            title: (items) => (items.length ? `epoch ${items[0].parsed.x}` : ''),
            label: (item) => `${item.dataset.label}: ${item.dataset.yAxisID === 'y1' ? fmtPct(item.parsed.y) : item.parsed.y.toFixed(4)}`,
          },
        },
        epochMarks: { marks: [] },
      },
    },
    plugins: [epochMarksPlugin],
  });
}

// Thrown by ask() when the run changed while a request was in flight.
const STALE = new Error('a newer run replaced this one');

export class EmbeddingsView {
  // ctx: {worker, charts, state, setSetting(key, value) (parses, stores,
  // writes the hash; throws on a bad value), announce, showError, $}
  constructor(ctx) {
    this.ctx = ctx;
    const $ = ctx.$;
    this.ui = {
      status: $('embed-status'),
      epoch: $('map_epoch'),
      epochText: $('embed-epoch-text'),
      prev: $('embed-prev'),
      play: $('embed-play'),
      next: $('embed-next'),
      best: $('embed-best'),
      last: $('embed-last'),
      words: $('map_words'),
      basis: $('map_basis'),
      highlight: $('highlight'),
      highlightNote: $('embed-highlight-note'),
      sideBySide: $('side_by_side'),
      map2Figure: $('embed-map2-figure'),
      mapCaption: $('embed-map-caption'),
      map2Caption: $('embed-map2-caption'),
      rareBelow: $('rare_below'),
      frequentFrom: $('frequent_from'),
      summary: $('embed-summary'),
      cost: $('embed-cost'),
      memoRareOnly: $('memo_rare_only'),
      memoNote: $('embed-memo-note'),
      memoBody: $('embed-memo-body'),
      memoTable: $('embed-memo-table'),
      neighboursOf: $('neighbours_of'),
      neighboursNote: $('embed-neighbours-note'),
      neighbours: $('embed-neighbours'),
      exportButton: $('embed-export'),
      fullRun: $('full_run'),
      fullNote: $('embed-full-note'),
    };
    this.map = makeMap($('embed-map'), this, 0);
    this.map2 = makeMap($('embed-map2'), this, 1);
    this.statsChart = makeStatsChart($('embed-stats'));
    // The charts redraw only in view (they sit below the training curves):
    // while training, the statistics and the live map cost nothing until
    // the reader scrolls to them; the map then fetches the newest epoch.
    this.mapUpdate = visibleUpdater(this.map, () => {
      if (this.training && this.epochs.length) this.refreshMap({ live: true });
    });
    this.map2Update = visibleUpdater(this.map2);
    this.statsUpdate = visibleUpdater(this.statsChart);
    pickEpochs(this.statsChart, (e) => this.pick(e));
    ctx.charts.onPick((e) => this.pick(e));
    this.bindControls();
    this.reset();
  }

  // ------------------------------------------------------------- run state

  // A worker request whose answer is dropped (STALE) if the run changes
  // meanwhile (reset, a new run, a loaded model file).
  async ask(type, data) {
    const run = this.runId;
    const reply = await this.ctx.worker.request(type, data);
    if (run !== this.runId) throw STALE;
    return reply;
  }

  reset() {
    this.runId = (this.runId || 0) + 1;
    this.stopPlaying();
    this.history = [];         // [{loss, acc, val_loss, val_acc}] of the run
    this.stats = [];           // per recorded epoch, from the engine
    this.epochs = [];          // epochs with a snapshot
    this.mapData = null;       // the worker's embedMap reply
    this.mapKey = '';          // what mapData was asked for
    this.mapFetchedAt = 0;
    this.mapBusy = false;
    this.training = false;
    this.done = false;
    this.stoppedEarly = false;
    this.stopEpoch = null;
    this.patience = 0;
    this.restoreBest = false;
    this.full = null;          // {history, test, running}
    this.testResult = null;
    this.memorised = null;
    this.neighbours = null;
    this.costs = [];           // [{embedMs, epochMs}] per epoch
    this.info = null;
    this.shownEpoch = null;
    this.renderedEpochs = [null, null];
    this.requestSeq = 0;
    this.map.data.datasets[0].data = [];
    this.map2.data.datasets[0].data = [];
    this.map.options.plugins.wordLabels.labels = [];
    this.map2.options.plugins.wordLabels.labels = [];
    this.mapUpdate();
    this.map2Update();
    this.statsChart.data.datasets.forEach((d) => (d.data = []));
    this.statsUpdate({ frame: true });
    this.ui.memoBody.replaceChildren();
    this.ui.memoTable.hidden = true;
    this.ui.neighbours.replaceChildren();
    this.ui.summary.textContent = '';
    this.ui.cost.textContent = '';
    this.ui.memoNote.textContent = 'After training, the words whose effect changed most after the best epoch appear here.';
    this.ui.neighboursNote.textContent = '';
    this.ui.fullNote.textContent = '';
    this.setStatus('Train the model: a snapshot of its word vectors is kept at the end of every epoch.');
    this.updateControls();
    this.renderMarks();
  }

  // A new run starts (configure + train) with this config.
  onNewRun(config) {
    this.reset();
    this.training = true;
    this.patience = Number(config?.patience) || 0;
    this.restoreBest = config?.restore_best_weights === true;
    this.setStatus('Training: the map follows the newest epoch.');
  }

  // A model file was loaded: its one snapshot (its last epoch).
  async onImported(history) {
    this.reset();
    this.history = history.slice();
    this.done = true;
    this.setStatus('Loaded a model file: only its final state is known, so the map has one epoch.');
    await this.refreshAll();
  }

  onEngineEvent(type, data) {
    switch (type) {
      case 'epoch':
        this.onEpoch(data);
        break;
      case 'done':
        this.onDone(data);
        break;
      case 'fullEpoch':
        if (!this.full) return;
        this.full.history[data.epoch - 1] = data;
        this.ctx.charts.setComparison(this.ctx.state.full_run ? this.full.history : null);
        this.ui.fullNote.textContent = `Training the same run without early stopping: epoch ${data.epoch}…`;
        break;
      case 'fullDone':
        if (!this.full) return;
        this.full.history = data.history;
        this.full.test = data.test;
        this.full.running = false;
        this.ctx.charts.setComparison(this.ctx.state.full_run ? this.full.history : null);
        this.renderFullNote();
        this.ctx.announce(this.ui.fullNote.textContent);
        break;
      case 'fullError':
        if (this.full) this.full.running = false;
        this.ctx.showError(`The run without early stopping failed: ${data.message}`);
        break;
      default:
        break;
    }
  }

  onEpoch(data) {
    this.history[data.epoch - 1] = { loss: data.loss, acc: data.acc, val_loss: data.val_loss, val_acc: data.val_acc };
    const e = data.embed;
    if (e && !e.error) {
      this.stats = this.stats.filter((s) => s.epoch !== e.epoch).concat([e]);
      if (!this.epochs.includes(e.epoch)) this.epochs.push(e.epoch);
      this.costs[data.epoch - 1] = { embedMs: e.ms, epochMs: data.ms };
      this.renderStats();
      this.renderCost();
    } else if (e?.error) {
      this.setStatus(`No word snapshots: ${e.error}`);
    }
    this.updateControls();
    // The map follows the newest epoch while training, refreshed now and
    // then, while it is in view.
    if (this.mapUpdate.visible() && performance.now() - this.mapFetchedAt > LIVE_MAP_MS) this.refreshMap({ live: true });
  }

  // The run was stopped (Stop, or an error) before its last epoch: what it
  // recorded can be explored like a finished run.
  async onStopped() {
    if (!this.training) return;
    this.training = false;
    this.done = true;
    await this.refreshAll();
    this.renderFullNote();
  }

  async onDone(data) {
    this.training = false;
    this.done = true;
    if (Array.isArray(data.history)) this.history = data.history.slice();
    this.stoppedEarly = !!data.stoppedEarly;
    this.stopEpoch = this.stoppedEarly ? this.history.length : null;
    this.testResult = data.test || null;
    await this.refreshAll();
    if (this.ctx.state.full_run) this.startFullRun();
    else this.renderFullNote();
  }

  // Snapshots, statistics, the map at the chosen epoch, neighbours, changes.
  async refreshAll() {
    try {
      this.info = await this.ask('embedInfo', {});
      this.epochs = this.info.epochs.slice();
      const { stats } = await this.ask('embedStats', {
        rareBelow: this.ctx.state.rare_below, frequentFrom: this.ctx.state.frequent_from,
      });
      this.stats = stats;
      if (this.info.error && !this.epochs.length) this.setStatus(`No word snapshots: ${this.info.error}`);
    } catch (err) {
      if (err !== STALE) this.setStatus(`No word snapshots: ${err.message}`);
      return;
    }
    this.renderStats();
    this.renderCost();
    this.updateControls();
    await this.refreshMap({});
    await Promise.all([this.refreshNeighbours(), this.refreshMemorised()]);
  }

  // --------------------------------------------------------------- epochs

  bestEpoch() {
    let best = null;
    this.history.forEach((h, i) => {
      if (h && Number.isFinite(h.val_loss) && (best === null || h.val_loss < this.history[best - 1].val_loss)) best = i + 1;
    });
    return best;
  }

  lastEpoch() {
    return this.epochs.length ? this.epochs[this.epochs.length - 1] : null;
  }

  // The stored epoch nearest to e.
  nearestStored(e) {
    let best = null;
    for (const s of this.epochs) if (best === null || Math.abs(s - e) < Math.abs(best - e)) best = s;
    return best;
  }

  // The epoch the map shows: the map_epoch setting ('best', 'last' or a
  // number), resolved against the stored epochs; the newest while training.
  selectedEpoch() {
    if (!this.epochs.length) return null;
    if (this.training) return this.lastEpoch();
    const want = this.ctx.state.map_epoch;
    if (want === 'last') return this.lastEpoch();
    if (want === 'best') return this.nearestStored(this.bestEpoch() ?? this.lastEpoch());
    return this.nearestStored(want);
  }

  basisEpoch() {
    if (this.training || this.ctx.state.map_basis === 'last') return this.lastEpoch();
    return this.nearestStored(this.bestEpoch() ?? this.lastEpoch());
  }

  // Shows epoch e (from the curves, the slider, the buttons, playing).
  pick(e) {
    if (!this.epochs.length || this.training) return;
    const epoch = this.nearestStored(e);
    const best = this.bestEpoch() === null ? null : this.nearestStored(this.bestEpoch());
    const value = epoch === best ? 'best' : epoch === this.lastEpoch() ? 'last' : epoch;
    this.setSetting('map_epoch', String(value));
    this.showEpoch();
  }

  step(delta) {
    const cur = this.selectedEpoch();
    if (cur === null) return;
    const i = this.epochs.indexOf(cur);
    const j = Math.max(0, Math.min(this.epochs.length - 1, i + delta));
    this.pick(this.epochs[j]);
  }

  togglePlay() {
    if (this.playTimer) {
      this.stopPlaying();
      return;
    }
    if (!this.epochs.length || this.training) return;
    if (this.selectedEpoch() === this.lastEpoch()) this.pick(this.epochs[0]);
    this.ui.play.textContent = 'Pause';
    this.ui.play.setAttribute('aria-pressed', 'true');
    this.playTimer = setInterval(() => {
      if (this.selectedEpoch() === this.lastEpoch()) this.stopPlaying();
      else this.step(1);
    }, PLAY_MS);
  }

  stopPlaying() {
    if (this.playTimer) clearInterval(this.playTimer);
    this.playTimer = null;
    if (this.ui) {
      this.ui.play.textContent = 'Play';
      this.ui.play.setAttribute('aria-pressed', 'false');
    }
  }

  setSetting(key, value) {
    try {
      this.ctx.setSetting(key, value);
    } catch (err) {
      this.ctx.showError(`${key}: ${err.message}`);
    }
  }

  // --------------------------------------------------------------- the map

  async refreshMap({ live = false } = {}) {
    const basis = this.basisEpoch();
    if (basis === null) return;
    const words = this.ctx.state.map_words;
    const key = `${basis}/${words}/${live ? 'live' : this.epochs.length}`;
    if (this.mapBusy || (key === this.mapKey && this.mapData)) {
      this.showEpoch();
      return;
    }
    this.mapBusy = true;
    this.mapFetchedAt = performance.now();
    try {
      // While training, only the newest epoch is shown: ask for it alone.
      const reply = await this.ask('embedMap', { basis, words, basisOnly: live });
      this.mapData = reply;
      this.mapKey = key;
      this.prepareMap();
    } catch (err) {
      if (err === STALE) return;
      if (!live) this.setStatus(`The map could not be drawn: ${err.message}`);
    } finally {
      this.mapBusy = false;
    }
    this.showEpoch();
  }

  // Fixed axes and colour scale over every epoch of the map, so points move
  // (and colours deepen) against a still frame.
  prepareMap() {
    const d = this.mapData;
    const n = d.words.length, k = d.epochs.length;
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (let i = 0; i < k * n; i++) {
      const x = d.xy[2 * i], y = d.xy[2 * i + 1];
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
    const pad = (a, b) => Math.max((b - a) * 0.06, 1e-3);
    this.axes = { x0: x0 - pad(x0, x1), x1: x1 + pad(x0, x1), y0: y0 - pad(y0, y1), y1: y1 + pad(y0, y1) };
    const abs = Array.from(d.effect, Math.abs).filter(Number.isFinite).sort((a, b) => a - b);
    this.colorScale = abs.length ? abs[Math.floor(0.98 * (abs.length - 1))] : 1;
    this.radii = Array.from(d.counts, (c) => Math.min(8, 1.5 + 1.1 * Math.log10(c + 1)));
    this.wordIndex = new Map(d.words.map((w, i) => [w, i]));
    for (const chart of [this.map, this.map2]) {
      Object.assign(chart.options.scales.x, { min: this.axes.x0, max: this.axes.x1 });
      Object.assign(chart.options.scales.y, { min: this.axes.y0, max: this.axes.y1 });
    }
  }

  // Draws the selected epoch (and the last one beside it), at most once a frame.
  showEpoch() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.drawMaps();
    });
  }

  drawMaps() {
    const epoch = this.selectedEpoch();
    this.shownEpoch = epoch;
    this.updateControls();
    this.renderMarks();
    const d = this.mapData;
    if (!d || epoch === null) return;
    const side = this.ctx.state.side_by_side && !this.training;
    this.ui.map2Figure.hidden = !side;
    this.drawMap(this.map, 0, epoch, this.ui.mapCaption, this.mapUpdate);
    if (side) this.drawMap(this.map2, 1, this.lastEpoch(), this.ui.map2Caption, this.map2Update);
    this.renderHighlightNote();
    this.refreshNeighbours();
  }

  drawMap(chart, which, epoch, caption, update) {
    const d = this.mapData;
    let k = d.epochs.indexOf(epoch);
    if (k < 0) k = d.epochs.length - 1; // the map lags the newest epoch while training
    const shown = d.epochs[k];
    this.renderedEpochs[which] = shown;
    const n = d.words.length;
    const points = new Array(n), colors = new Array(n);
    for (let i = 0; i < n; i++) {
      points[i] = { x: d.xy[(k * n + i) * 2], y: d.xy[(k * n + i) * 2 + 1] };
      colors[i] = effectColor(d.effect[k * n + i], this.colorScale);
    }
    const ds = chart.data.datasets[0];
    ds.data = points;
    ds.backgroundColor = colors;
    ds.pointRadius = this.radii;
    // Name the highlighted word, then the strongest words, alternating ways.
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => d.effect[k * n + a] - d.effect[k * n + b]);
    const labels = [];
    const hi = this.highlightIndex();
    if (hi !== null) labels.push({ ...points[hi], text: d.words[hi], strong: true });
    for (let j = 0; j < LABELS_EACH_WAY && 2 * j < n; j++) {
      for (const i of [order[n - 1 - j], order[j]]) if (i !== hi) labels.push({ ...points[i], text: d.words[i] });
    }
    // And the most frequent words (the map's first), for orientation.
    for (let i = 0; i < Math.min(FREQUENT_LABELS, n); i++) if (i !== hi) labels.push({ ...points[i], text: d.words[i] });
    chart.options.plugins.wordLabels.labels = labels;
    update();
    const tag = this.epochTag(shown);
    const explained = d.explained.map((v) => `${Math.round(v * 100)}%`).join(' and ');
    caption.textContent = `Epoch ${shown}${tag}: the ${fmtInt(n)} most frequent words, placed by the two principal axes of ` +
      `their vectors at epoch ${d.basis} (they explain ${explained} of the spread there). Colour: the word's effect ` +
      `(its score alone minus an empty review's); size: how often it occurs in the training reviews.`;
    chart.canvas.setAttribute('aria-label', `Word map at epoch ${shown}${tag}; the table of nearest words and the changes list below give the same information as text.`);
  }

  epochTag(e) {
    const tags = [];
    if (e === this.bestEpoch()) tags.push('lowest validation loss');
    if (e === this.lastEpoch() && this.done) tags.push(this.stoppedEarly ? 'where early stopping ended the run' : 'the last');
    return tags.length ? ` (${tags.join(', ')})` : '';
  }

  highlightIndex() {
    const word = String(this.ctx.state.highlight || '').trim().toLowerCase();
    if (!word || !this.wordIndex) return null;
    const i = this.wordIndex.get(word);
    return i === undefined ? null : i;
  }

  describePoint(which, i) {
    const d = this.mapData;
    const epoch = this.renderedEpochs[which];
    const k = d.epochs.indexOf(epoch);
    const n = d.words.length;
    const effect = d.effect[k * n + i];
    const base = this.stats.find((s) => s.epoch === epoch)?.baseScore;
    const alone = Number.isFinite(base) ? `; alone it scores ${(base + effect).toFixed(3)} (an empty review ${base.toFixed(3)})` : '';
    return `${d.words[i]}: seen ${fmtInt(d.counts[i])} times in training${alone}; effect ${fmtSigned(effect)}`;
  }

  renderHighlightNote() {
    const word = String(this.ctx.state.highlight || '').trim();
    if (!word || !this.mapData) {
      this.ui.highlightNote.textContent = '';
      return;
    }
    const i = this.highlightIndex();
    this.ui.highlightNote.textContent = i === null
      ? `“${word}” is not among the ${fmtInt(this.mapData.words.length)} words on the map.`
      : `“${this.mapData.words[i]}” is circled (the ${fmtInt(i + 1)}th most frequent word).`;
  }

  // ----------------------------------------------------------- statistics

  renderStats() {
    const pts = (key) => this.stats.filter((s) => Number.isFinite(s[key])).map((s) => ({ x: s.epoch, y: s[key] }));
    const [rare, frequent, share] = this.statsChart.data.datasets;
    rare.data = pts('rareNorm');
    frequent.data = pts('frequentNorm');
    share.data = pts('rareShare');
    const s0 = this.stats[0];
    if (s0) {
      rare.label = `rare words (${fmtInt(s0.rareWords)})`;
      frequent.label = `frequent words (${fmtInt(s0.frequentWords)})`;
    }
    this.statsUpdate({ frame: true });
    this.renderSummary();
  }

  renderSummary() {
    const best = this.bestEpoch(), last = this.lastEpoch();
    const at = (e) => this.stats.find((s) => s.epoch === e);
    const b = at(best), l = at(last);
    if (!this.done || !b || !l || best === last) {
      this.ui.summary.textContent = this.done && best === last
        ? 'The last epoch has the lowest validation loss: the curves have not parted yet.'
        : '';
      return;
    }
    const change = (x, y) => `${x.toFixed(3)} → ${y.toFixed(3)} (${y >= x ? '+' : '−'}${Math.abs((y / x - 1) * 100).toFixed(0)}%)`;
    const parts = [`From the best epoch (${best}) to the last (${last}):`];
    if (Number.isFinite(b.rareNorm) && Number.isFinite(l.rareNorm)) parts.push(`rare words' vectors grew ${change(b.rareNorm, l.rareNorm)},`);
    if (Number.isFinite(b.frequentNorm) && Number.isFinite(l.frequentNorm)) parts.push(`frequent words' ${change(b.frequentNorm, l.frequentNorm)};`);
    if (Number.isFinite(b.rareShare) && Number.isFinite(l.rareShare)) parts.push(`rare words carry ${fmtPct(b.rareShare)} → ${fmtPct(l.rareShare)} of all effect.`);
    this.ui.summary.textContent = parts.join(' ');
  }

  renderCost() {
    const c = this.costs.filter(Boolean);
    const info = this.info;
    const parts = [];
    if (c.length) {
      const embed = c.reduce((s, x) => s + x.embedMs, 0), epoch = c.reduce((s, x) => s + x.epochMs, 0);
      if (epoch > 0) parts.push(`Recording took ${(embed / c.length).toFixed(2)} ms per epoch, ${fmtPct(embed / epoch)} of training time.`);
    }
    if (info && info.epochs.length)
      parts.push(`${info.epochs.length} snapshots in memory: ${fmtBytes(info.snapshot_bytes)} (${fmtBytes(info.bytes_per_snapshot)} each, vectors as 8-bit integers).`);
    this.ui.cost.textContent = parts.join(' ');
  }

  renderMarks() {
    const marks = [];
    const shown = this.training ? null : this.shownEpoch;
    if (shown !== null && shown !== undefined) marks.push({ x: shown, label: `map: epoch ${shown}`, color: COLORS.selected, width: 2 });
    if (this.stopEpoch) marks.push({ x: this.stopEpoch, label: `early stopping: ended after ${this.stopEpoch}`, color: COLORS.stopped, dash: [2, 3] });
    this.ctx.charts.setMarks(marks);
    const best = this.bestEpoch();
    const statMarks = marks.slice();
    if (best) statMarks.push({ x: best, label: `lowest val loss: ${best}`, color: '#15803d', dash: [5, 4], width: 1.5 });
    this.statsChart.options.plugins.epochMarks.marks = statMarks;
    this.statsUpdate({ frame: true });
  }

  // ----------------------------------------------- memorised, neighbours

  async refreshMemorised() {
    const best = this.bestEpoch(), last = this.lastEpoch();
    const from = best === null ? null : this.nearestStored(best);
    if (!this.done || from === null || last === null) return;
    if (from >= last) {
      this.memorised = { from, to: last, words: [] };
      this.ui.memoBody.replaceChildren();
      this.ui.memoTable.hidden = true;
      this.ui.memoNote.textContent = 'The last epoch has the lowest validation loss, so nothing happened after the best epoch yet.';
      return;
    }
    const rareOnly = this.ctx.state.memo_rare_only;
    try {
      const r = await this.ask('memorised', {
        from, to: last, countBelow: rareOnly ? this.ctx.state.rare_below : 0, k: 15,
      });
      this.memorised = r;
      const rows = r.words.map((w) => {
        const tr = document.createElement('tr');
        const cells = [
          [w.word, null], [fmtInt(w.count), null], [fmtSigned(w.before), w.before],
          [fmtSigned(w.after), w.after], [fmtSigned(w.after - w.before), w.after - w.before],
        ];
        cells.forEach(([text, sign], i) => {
          const td = document.createElement(i === 0 ? 'th' : 'td');
          if (i === 0) td.scope = 'row';
          td.textContent = text;
          if (sign !== null) td.className = sign >= 0 ? 'pos' : 'neg';
          tr.append(td);
        });
        return tr;
      });
      this.ui.memoBody.replaceChildren(...rows);
      this.ui.memoTable.hidden = rows.length === 0;
      this.ui.memoNote.textContent = rareOnly
        ? `Words seen fewer than ${this.ctx.state.rare_below} times in training, whose effect changed most from epoch ${from} (best) to ${last}.`
        : `All words, by how much their effect changed from epoch ${from} (best) to ${last}.`;
    } catch (err) {
      if (err !== STALE) this.ui.memoNote.textContent = `The changes could not be computed: ${err.message}`;
    }
  }

  async refreshNeighbours() {
    const word = String(this.ctx.state.neighbours_of || '').trim();
    const epoch = this.selectedEpoch();
    if (!word || epoch === null || this.training) {
      if (!word) {
        this.ui.neighbours.replaceChildren();
        this.ui.neighboursNote.textContent = 'Type a word to see its nearest words.';
      }
      return;
    }
    const key = `${word}@${epoch}`;
    if (this.neighboursKey === key) return;
    if (this.neighboursBusy) {
      this.neighboursAgain = true;
      return;
    }
    this.neighboursBusy = true;
    try {
      const r = await this.ask('neighbours', { word, epoch, k: 10 });
      this.neighbours = r;
      this.neighboursKey = key;
      const items = r.neighbours.map((n) => {
        const li = document.createElement('li');
        li.textContent = `${n.word} `;
        const sim = document.createElement('span');
        sim.className = 'muted';
        sim.textContent = `(${n.similarity.toFixed(3)})`;
        li.append(sim);
        return li;
      });
      this.ui.neighbours.replaceChildren(...items);
      this.ui.neighboursNote.textContent = `The 10 words whose vectors point most nearly the same way as “${r.word}” at epoch ${epoch} (cosine similarity).`;
    } catch (err) {
      if (err === STALE) return;
      this.neighbours = null;
      this.neighboursKey = key;
      this.ui.neighbours.replaceChildren();
      this.ui.neighboursNote.textContent = err.message;
    } finally {
      this.neighboursBusy = false;
      if (this.neighboursAgain) {
        this.neighboursAgain = false;
        this.refreshNeighbours();
      }
    }
  }

  // --------------------------------------------- early stopping comparison

  startFullRun() {
    if (!this.done || !this.stoppedEarly) {
      this.renderFullNote();
      return;
    }
    if (this.full) {
      this.ctx.charts.setComparison(this.full.history);
      this.renderFullNote();
      return;
    }
    this.full = { history: [], test: null, running: true };
    this.ui.fullNote.textContent = 'Training the same run without early stopping…';
    this.ctx.worker.request('fullRun', {}).catch((err) => {
      this.full = null;
      this.ui.fullNote.textContent = `The run without early stopping could not start: ${err.message}`;
    });
  }

  renderFullNote() {
    const note = this.ui.fullNote;
    if (!this.done) {
      note.textContent = this.patience > 0 ? '' : 'Early stopping is off (patience 0).';
      return;
    }
    if (!this.stoppedEarly) {
      note.textContent = this.patience > 0
        ? `Early stopping (patience ${this.patience}) did not trigger: the run trained every epoch.`
        : 'Early stopping is off (patience 0): set a patience, then train, to compare.';
      return;
    }
    const stop = `Early stopping ended this run after epoch ${this.stopEpoch}` +
      `${this.restoreBest ? ` and restored the weights of epoch ${this.bestEpoch()}` : ''}`;
    const withIt = this.testResult ? `; test accuracy ${fmtPct(this.testResult.acc)}` : '';
    if (!this.ctx.state.full_run || !this.full) {
      note.textContent = `${stop}${withIt}. Tick the box to see what would have happened without it.`;
      return;
    }
    if (this.full.running) {
      note.textContent = `${stop}${withIt}. Training the same run without it…`;
      return;
    }
    const n = this.full.history.length;
    const without = this.full.test ? `, test accuracy ${fmtPct(this.full.test.acc)}` : '';
    note.textContent = `${stop}${withIt}. Without it (dashed): ${n} epochs${without}.`;
  }

  // -------------------------------------------------------------- controls

  bindControls() {
    const ui = this.ui;
    ui.epoch.addEventListener('input', () => this.pick(Number(ui.epoch.value)));
    ui.prev.addEventListener('click', () => this.step(-1));
    ui.next.addEventListener('click', () => this.step(1));
    ui.play.addEventListener('click', () => this.togglePlay());
    ui.best.addEventListener('click', () => {
      this.setSetting('map_epoch', 'best');
      this.showEpoch();
    });
    ui.last.addEventListener('click', () => {
      this.setSetting('map_epoch', 'last');
      this.showEpoch();
    });
    const onChange = (el, key, after) => {
      el.addEventListener('change', () => {
        const value = el.type === 'checkbox' ? String(el.checked) : el.value;
        try {
          this.ctx.setSetting(key, value);
          el.removeAttribute('aria-invalid');
        } catch (err) {
          el.setAttribute('aria-invalid', 'true');
          this.ctx.showError(`${el.labels?.[0]?.textContent || key} ${err.message}`);
          return;
        }
        after();
      });
    };
    onChange(ui.words, 'map_words', () => this.refreshMap({}));
    onChange(ui.basis, 'map_basis', () => this.refreshMap({}));
    onChange(ui.sideBySide, 'side_by_side', () => this.showEpoch());
    onChange(ui.rareBelow, 'rare_below', () => this.regroup());
    onChange(ui.frequentFrom, 'frequent_from', () => this.regroup());
    onChange(ui.memoRareOnly, 'memo_rare_only', () => this.refreshMemorised());
    onChange(ui.fullRun, 'full_run', () => {
      if (this.ctx.state.full_run) this.startFullRun();
      else this.ctx.charts.setComparison(null);
      this.renderFullNote();
    });
    // Words: as they are typed (no change event needed).
    ui.highlight.addEventListener('input', () => {
      this.setSetting('highlight', ui.highlight.value);
      this.showEpoch();
    });
    ui.neighboursOf.addEventListener('input', () => {
      this.setSetting('neighbours_of', ui.neighboursOf.value);
      this.refreshNeighbours();
    });
    ui.exportButton.addEventListener('click', () => this.exportProjector());
  }

  async regroup() {
    if (!this.epochs.length) return;
    try {
      const { stats } = await this.ask('embedStats', {
        rareBelow: this.ctx.state.rare_below, frequentFrom: this.ctx.state.frequent_from,
      });
      this.stats = stats;
      this.renderStats();
      this.refreshMemorised();
    } catch (err) {
      if (err !== STALE) this.ctx.showError(`Could not regroup the words: ${err.message}`);
    }
  }

  // Puts the settings into the controls (after a hash change, or at start).
  renderControls() {
    const s = this.ctx.state, ui = this.ui;
    ui.words.value = String(s.map_words);
    ui.basis.value = s.map_basis;
    ui.highlight.value = s.highlight;
    ui.sideBySide.checked = s.side_by_side;
    ui.rareBelow.value = String(s.rare_below);
    ui.frequentFrom.value = String(s.frequent_from);
    ui.memoRareOnly.checked = s.memo_rare_only;
    ui.neighboursOf.value = s.neighbours_of;
    ui.fullRun.checked = s.full_run;
    if (this.epochs?.length) {
      this.refreshMap({});
      this.refreshMemorised();
    }
  }

  updateControls() {
    const ui = this.ui;
    const have = this.epochs.length > 0 && !this.training;
    for (const el of [ui.epoch, ui.prev, ui.next, ui.play, ui.best, ui.last, ui.exportButton]) el.disabled = !have;
    const epoch = this.selectedEpoch();
    if (this.epochs.length) {
      ui.epoch.min = String(this.epochs[0]);
      ui.epoch.max = String(this.lastEpoch());
      if (epoch !== null) ui.epoch.value = String(epoch);
    }
    const text = epoch === null ? '–' : `${epoch}${this.epochTag(epoch)}`;
    ui.epochText.textContent = text;
    ui.epoch.setAttribute('aria-valuetext', epoch === null ? 'no epochs yet' : `epoch ${text}`);
    ui.exportButton.textContent = epoch === null ? 'Download for the Embedding Projector' : `Download epoch ${epoch} for the Embedding Projector`;
    if (!this.training && this.done && this.epochs.length)
      this.setStatus(`${this.epochs.length} epochs recorded. Scrub, play, or click an epoch on any chart.`);
  }

  setStatus(text) {
    this.ui.status.textContent = text;
  }

  // ----------------------------------------------------------------- export

  async exportProjector() {
    const epoch = this.selectedEpoch();
    if (epoch === null) return;
    try {
      const r = await this.ctx.worker.request('projectorTsv', { epoch });
      for (const [name, text] of [[`vectors-epoch${epoch}.tsv`, r.vectors], [`metadata-epoch${epoch}.tsv`, r.metadata]]) {
        const url = URL.createObjectURL(new Blob([text], { type: 'text/tab-separated-values' }));
        const a = document.createElement('a');
        a.href = url;
        a.download = name;
        document.body.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10000);
      }
      this.ctx.announce(`Downloaded the vectors and metadata of epoch ${epoch} (${fmtInt(r.words)} words).`);
    } catch (err) {
      this.ctx.showError(`Could not export epoch ${epoch}: ${err.message}`);
    }
  }

  // ------------------------------------------------------------- test hook

  snapshot() {
    const d = this.mapData;
    const points = [];
    const epoch = this.renderedEpochs[0];
    if (d && epoch !== null) {
      const k = d.epochs.indexOf(epoch), n = d.words.length;
      for (let i = 0; i < n; i++)
        points.push({ word: d.words[i], x: d.xy[(k * n + i) * 2], y: d.xy[(k * n + i) * 2 + 1], effect: d.effect[k * n + i], count: d.counts[i] });
    }
    return {
      epochs: this.epochs.slice(),
      selectedEpoch: this.selectedEpoch(),
      shownEpoch: epoch,
      bestEpoch: this.bestEpoch(),
      lastEpoch: this.lastEpoch(),
      basis: d ? d.basis : null,
      points,
      stats: this.stats.map((s) => ({ ...s })),
      memorised: this.memorised ? structuredClone(this.memorised) : null,
      neighbours: this.neighbours ? structuredClone(this.neighbours) : null,
      busy: this.mapBusy || !!this.neighboursBusy || !!this.frame,
      stoppedEarly: this.stoppedEarly,
      stopEpoch: this.stopEpoch,
      full: this.full ? structuredClone({ history: this.full.history, test: this.full.test, running: this.full.running }) : null,
      info: this.info ? { ...this.info } : null,
    };
  }
}
