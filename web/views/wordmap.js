// wordmap.js: "What the model learned about words", the page module.
//
// The word map (a PCA of the most frequent words' vectors, one basis for
// every epoch, coloured by each word's effect and sized by its training
// count), the epoch scrubber linked to the loss and accuracy curves, the
// Projector export, and the page side of early stopping (marks on the curves).
// The statistics chart, the memorised words, nearest neighbours and the run
// without early stopping are views/embedstats.js; drawing, wordmap-draw.js. Everything is computed by the engine in the
// worker (web/PROTOCOL.md, "Embeddings"); this file only asks and draws.
//
// Settings live in state.js's PROPS table (mirrored to the URL hash); this
// module reads them from `state` and changes them only through setSetting.
// Deliberately not here: HTML from strings (words reach the page through
// textContent, or are drawn on a canvas), engine work, the worker itself.

import { epochMarksPlugin, pickEpochs, visibleUpdater } from './chart-tools.js';
import { fmtSigned, fmtInt, effectColor, makeMap, FREQUENT_LABELS, PLAY_MS, LIVE_MAP_MS, LABELS_EACH_WAY } from './wordmap-draw.js';
import { STALE, bindControls, renderStats, renderCost, renderMarks, refreshMemorised, refreshNeighbours, startFullRun, renderFullNote, makeStatsChart } from './embedstats.js';


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
    bindControls(this);
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
    this.engineBest = null;
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
    renderMarks(this);
  }

  // A new run starts (configure + train) with this config.
  onNewRun(config) {
    this.reset();
    this.training = true;
    this.patience = Number(config?.patience) || 0;
    this.monitor = config?.monitor ?? 'val_loss';
    this.engineBest = null;
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
    if ((type === 'epoch' || type === 'done') && Number.isInteger(data.bestEpoch)) this.engineBest = data.bestEpoch;
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
        renderFullNote(this);
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
      this.statsDirty = true;
    } else if (e?.error) {
      this.setStatus(`No word snapshots: ${e.error}`);
    }
    // At full speed epochs end every few ms: the statistics, the cost line
    // and the controls are redrawn at most once per animation frame, not in
    // the worker message's handler.
    if (!this.epochFrame)
      this.epochFrame = requestAnimationFrame(() => {
        this.epochFrame = 0;
        if (this.statsDirty) {
          this.statsDirty = false;
          renderStats(this);
          renderCost(this);
        }
        this.updateControls();
      });
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
    renderFullNote(this);
  }

  async onDone(data) {
    this.training = false;
    this.done = true;
    if (Array.isArray(data.history)) this.history = data.history.slice();
    this.stoppedEarly = !!data.stoppedEarly;
    this.restoreBest = data.restoredBest === true; // the engine's word, not the config's
    this.stopEpoch = this.stoppedEarly ? this.history.length : null;
    this.testResult = data.test || null;
    await this.refreshAll();
    if (this.ctx.state.full_run) startFullRun(this);
    else renderFullNote(this);
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
    renderStats(this);
    renderCost(this);
    this.updateControls();
    await this.refreshMap({});
    await Promise.all([refreshNeighbours(this), refreshMemorised(this)]);
  }

  // --------------------------------------------------------------- epochs

  // The engine's best epoch under the config's monitor, from the worker's
  // epoch and done events (contract 3); null before the first validated one.
  bestEpoch() {
    return this.engineBest > 0 ? this.engineBest : null;
  }

  // What the best epoch is best at, in words.
  bestWhat() {
    return this.monitor === 'val_accuracy' ? 'highest validation accuracy' : 'lowest validation loss';
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
    // The worker sends the frame with the map (map-scale.js).
    this.axes = d.scale.axes;
    this.colorScale = d.scale.colorScale;
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
    renderMarks(this);
    const d = this.mapData;
    if (!d || epoch === null) return;
    const side = this.ctx.state.side_by_side && !this.training;
    this.ui.map2Figure.hidden = !side;
    this.drawMap(this.map, 0, epoch, this.ui.mapCaption, this.mapUpdate);
    if (side) this.drawMap(this.map2, 1, this.lastEpoch(), this.ui.map2Caption, this.map2Update);
    this.renderHighlightNote();
    refreshNeighbours(this);
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
    if (e === this.bestEpoch()) tags.push(this.bestWhat());
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

  // -------------------------------------------------------------- controls


  async regroup() {
    if (!this.epochs.length) return;
    try {
      const { stats } = await this.ask('embedStats', {
        rareBelow: this.ctx.state.rare_below, frequentFrom: this.ctx.state.frequent_from,
      });
      this.stats = stats;
      renderStats(this);
      refreshMemorised(this);
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
      refreshMemorised(this);
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
