// embedstats.js: the word map's companions below it: the embedding
// statistics chart (rare and frequent words' norms by epoch), the summary
// from the best epoch to the last, the memorised words, the nearest
// neighbours, the comparison run without early stopping, the panel's
// controls and the Embedding Projector export. Each function
// takes the word map's view (views/wordmap.js: its run state, elements and
// worker requests) and draws into its own elements.

import { COLORS, fmtPct, fmtSigned, fmtBytes, fmtInt } from './wordmap-draw.js';
import { epochMarksPlugin, STREAMING } from './chart-tools.js';

// A worker answer dropped because a newer run replaced the one that asked
// (wordmap.js throws it; both views ignore it).
export const STALE = new Error('a newer run replaced this one');


export function makeStatsChart(canvas) {
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
      ...STREAMING,
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

// --- statistics

export function renderStats(v) {
  const pts = (key) => v.stats.filter((s) => Number.isFinite(s[key])).map((s) => ({ x: s.epoch, y: s[key] }));
  const [rare, frequent, share] = v.statsChart.data.datasets;
  rare.data = pts('rareNorm');
  frequent.data = pts('frequentNorm');
  share.data = pts('rareShare');
  const s0 = v.stats[0];
  if (s0) {
    rare.label = `rare words (${fmtInt(s0.rareWords)})`;
    frequent.label = `frequent words (${fmtInt(s0.frequentWords)})`;
  }
  v.statsUpdate({ frame: true });
  renderSummary(v);
}

export function renderSummary(v) {
  const best = v.bestEpoch(), last = v.lastEpoch();
  const at = (e) => v.stats.find((s) => s.epoch === e);
  const b = at(best), l = at(last);
  if (!v.done || !b || !l || best === last) {
    v.ui.summary.textContent = v.done && best === last
      ? 'The last epoch has the lowest validation loss: the curves have not parted yet.'
      : '';
    return;
  }
  const change = (x, y) => `${x.toFixed(3)} → ${y.toFixed(3)} (${y >= x ? '+' : '−'}${Math.abs((y / x - 1) * 100).toFixed(0)}%)`;
  const parts = [`From the best epoch (${best}) to the last (${last}):`];
  if (Number.isFinite(b.rareNorm) && Number.isFinite(l.rareNorm)) parts.push(`rare words' vectors grew ${change(b.rareNorm, l.rareNorm)},`);
  if (Number.isFinite(b.frequentNorm) && Number.isFinite(l.frequentNorm)) parts.push(`frequent words' ${change(b.frequentNorm, l.frequentNorm)};`);
  if (Number.isFinite(b.rareShare) && Number.isFinite(l.rareShare)) parts.push(`rare words carry ${fmtPct(b.rareShare)} → ${fmtPct(l.rareShare)} of all effect.`);
  v.ui.summary.textContent = parts.join(' ');
}

export function renderCost(v) {
  const c = v.costs.filter(Boolean);
  const info = v.info;
  const parts = [];
  if (c.length) {
    const embed = c.reduce((s, x) => s + x.embedMs, 0), epoch = c.reduce((s, x) => s + x.epochMs, 0);
    if (epoch > 0) parts.push(`Recording took ${(embed / c.length).toFixed(2)} ms per epoch, ${fmtPct(embed / epoch)} of training time.`);
  }
  if (info && info.epochs.length)
    parts.push(`${info.epochs.length} snapshots in memory: ${fmtBytes(info.snapshot_bytes)} (${fmtBytes(info.bytes_per_snapshot)} each, vectors as 8-bit integers).`);
  v.ui.cost.textContent = parts.join(' ');
}

export function renderMarks(v) {
  const marks = [];
  const shown = v.training ? null : v.shownEpoch;
  if (shown !== null && shown !== undefined) marks.push({ x: shown, label: `map: epoch ${shown}`, color: COLORS.selected, width: 2 });
  if (v.stopEpoch) marks.push({ x: v.stopEpoch, label: `early stopping: ended after ${v.stopEpoch}`, color: COLORS.stopped, dash: [2, 3] });
  v.ctx.charts.setMarks(marks);
  const best = v.bestEpoch();
  const statMarks = marks.slice();
  if (best) statMarks.push({ x: best, label: `best: ${best}`, color: '#15803d', dash: [5, 4], width: 1.5 });
  v.statsChart.options.plugins.epochMarks.marks = statMarks;
  v.statsUpdate({ frame: true });
}

// ----------------------------------------------- memorised, neighbours

export async function refreshMemorised(v) {
  const best = v.bestEpoch(), last = v.lastEpoch();
  const from = best === null ? null : v.nearestStored(best);
  if (!v.done || from === null || last === null) return;
  if (from >= last) {
    v.memorised = { from, to: last, words: [] };
    v.ui.memoBody.replaceChildren();
    v.ui.memoTable.hidden = true;
    v.ui.memoNote.textContent = 'The last epoch has the lowest validation loss, so nothing happened after the best epoch yet.';
    return;
  }
  const rareOnly = v.ctx.state.memo_rare_only;
  try {
    const r = await v.ask('memorised', {
      from, to: last, countBelow: rareOnly ? v.ctx.state.rare_below : 0, k: 15,
    });
    v.memorised = r;
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
    v.ui.memoBody.replaceChildren(...rows);
    v.ui.memoTable.hidden = rows.length === 0;
    v.ui.memoNote.textContent = rareOnly
      ? `Words seen fewer than ${v.ctx.state.rare_below} times in training, whose effect changed most from epoch ${from} (best) to ${last}.`
      : `All words, by how much their effect changed from epoch ${from} (best) to ${last}.`;
  } catch (err) {
    if (err !== STALE) v.ui.memoNote.textContent = `The changes could not be computed: ${err.message}`;
  }
}

export async function refreshNeighbours(v) {
  const word = String(v.ctx.state.neighbours_of || '').trim();
  const epoch = v.selectedEpoch();
  if (!word || epoch === null || v.training) {
    if (!word) {
      v.ui.neighbours.replaceChildren();
      v.ui.neighboursNote.textContent = 'Type a word to see its nearest words.';
    }
    return;
  }
  const key = `${word}@${epoch}`;
  if (v.neighboursKey === key) return;
  if (v.neighboursBusy) {
    v.neighboursAgain = true;
    return;
  }
  v.neighboursBusy = true;
  try {
    const r = await v.ask('neighbours', { word, epoch, k: 10 });
    v.neighbours = r;
    v.neighboursKey = key;
    const items = r.neighbours.map((n) => {
      const li = document.createElement('li');
      li.textContent = `${n.word} `;
      const sim = document.createElement('span');
      sim.className = 'muted';
      sim.textContent = `(${n.similarity.toFixed(3)})`;
      li.append(sim);
      return li;
    });
    v.ui.neighbours.replaceChildren(...items);
    v.ui.neighboursNote.textContent = `The 10 words whose vectors point most nearly the same way as “${r.word}” at epoch ${epoch} (cosine similarity).`;
  } catch (err) {
    if (err === STALE) return;
    v.neighbours = null;
    v.neighboursKey = key;
    v.ui.neighbours.replaceChildren();
    v.ui.neighboursNote.textContent = err.message;
  } finally {
    v.neighboursBusy = false;
    if (v.neighboursAgain) {
      v.neighboursAgain = false;
      refreshNeighbours(v);
    }
  }
}

// --------------------------------------------- early stopping comparison

export function startFullRun(v) {
  if (!v.done || !v.stoppedEarly) {
    renderFullNote(v);
    return;
  }
  if (v.full) {
    v.ctx.charts.setComparison(v.full.history);
    renderFullNote(v);
    return;
  }
  v.full = { history: [], test: null, running: true };
  v.ui.fullNote.textContent = 'Training the same run without early stopping…';
  v.ctx.worker.request('fullRun', {}).catch((err) => {
    v.full = null;
    v.ui.fullNote.textContent = `The run without early stopping could not start: ${err.message}`;
  });
}

export function renderFullNote(v) {
  const note = v.ui.fullNote;
  if (!v.done) {
    note.textContent = v.patience > 0 ? '' : 'Early stopping is off (patience 0).';
    return;
  }
  if (!v.stoppedEarly) {
    note.textContent = v.patience > 0
      ? `Early stopping (patience ${v.patience}) did not trigger: the run trained every epoch.`
      : 'Early stopping is off (patience 0): set a patience, then train, to compare.';
    return;
  }
  const stop = `Early stopping ended this run after epoch ${v.stopEpoch}` +
    `${v.restoreBest ? ` and restored the weights of epoch ${v.bestEpoch()}` : ''}`;
  const withIt = v.testResult ? `; test accuracy ${fmtPct(v.testResult.acc)}` : '';
  if (!v.ctx.state.full_run || !v.full) {
    note.textContent = `${stop}${withIt}. Tick the box to see what would have happened without it.`;
    return;
  }
  if (v.full.running) {
    note.textContent = `${stop}${withIt}. Training the same run without it…`;
    return;
  }
  const n = v.full.history.length;
  const without = v.full.test ? `, test accuracy ${fmtPct(v.full.test.acc)}` : '';
  note.textContent = `${stop}${withIt}. Without it (dashed): ${n} epochs${without}.`;
}

// --- the word panel's controls, and the Embedding Projector export

export async function exportProjector(v) {
  const epoch = v.selectedEpoch();
  if (epoch === null) return;
  try {
    const r = await v.ctx.worker.request('projectorTsv', { epoch });
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
    v.ctx.announce(`Downloaded the vectors and metadata of epoch ${epoch} (${fmtInt(r.words)} words).`);
  } catch (err) {
    v.ctx.showError(`Could not export epoch ${epoch}: ${err.message}`);
  }
}

export function bindControls(v) {
  const ui = v.ui;
  ui.epoch.addEventListener('input', () => v.pick(Number(ui.epoch.value)));
  ui.prev.addEventListener('click', () => v.step(-1));
  ui.next.addEventListener('click', () => v.step(1));
  ui.play.addEventListener('click', () => v.togglePlay());
  ui.best.addEventListener('click', () => {
    v.setSetting('map_epoch', 'best');
    v.showEpoch();
  });
  ui.last.addEventListener('click', () => {
    v.setSetting('map_epoch', 'last');
    v.showEpoch();
  });
  const onChange = (el, key, after) => {
    el.addEventListener('change', () => {
      const value = el.type === 'checkbox' ? String(el.checked) : el.value;
      try {
        v.ctx.setSetting(key, value);
        el.removeAttribute('aria-invalid');
      } catch (err) {
        el.setAttribute('aria-invalid', 'true');
        v.ctx.showError(`${el.labels?.[0]?.textContent || key} ${err.message}`);
        return;
      }
      after();
    });
  };
  onChange(ui.words, 'map_words', () => v.refreshMap({}));
  onChange(ui.basis, 'map_basis', () => v.refreshMap({}));
  onChange(ui.sideBySide, 'side_by_side', () => v.showEpoch());
  onChange(ui.rareBelow, 'rare_below', () => v.regroup());
  onChange(ui.frequentFrom, 'frequent_from', () => v.regroup());
  onChange(ui.memoRareOnly, 'memo_rare_only', () => refreshMemorised(v));
  onChange(ui.fullRun, 'full_run', () => {
    if (v.ctx.state.full_run) startFullRun(v);
    else v.ctx.charts.setComparison(null);
    renderFullNote(v);
  });
  // Words: as they are typed (no change event needed).
  ui.highlight.addEventListener('input', () => {
    v.setSetting('highlight', ui.highlight.value);
    v.showEpoch();
  });
  ui.neighboursOf.addEventListener('input', () => {
    v.setSetting('neighbours_of', ui.neighboursOf.value);
    refreshNeighbours(v);
  });
  ui.exportButton.addEventListener('click', () => exportProjector(v));
}
