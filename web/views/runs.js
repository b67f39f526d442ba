// views/runs.js: the Runs view, a table of every run the run store keeps
// (web/runs.js): its recipe, the settings that differ between the listed
// runs, the best epoch (the engine's) with its validation loss and accuracy,
// test accuracy, wall time and status; a box to overlay a run's curves on the
// charts, Load (its weights become the model the review box scores) and
// Delete; and below, Export CSV, Export JSON and Clear all.
//
//   const view = createRunsView({ root, store, onLoadWeights(id), onOverlayChange(runs) });
//
// onLoadWeights(id): the page fetches store.weights(id), hands them to the
// worker and, when that worked, calls store.setCurrent(id).
// onOverlayChange(runs): the runs ticked for overlay, newest first, whenever
// that set or one of its runs changes (and once at start if any are ticked).
// confirm(question) (optional, window.confirm by default) asks before Clear all.
// Returns {element, refresh(), destroy()}.
//
// The table follows the store's events and changes in place: a run's row is
// redrawn at most every ROW_MS while it trains, columns of settings come and
// go as runs are added or deleted, and focus stays where it was. Names and
// every other text reach the page through textContent only. The table scrolls
// sideways in its own box, so a phone's page never widens.
//
// Deliberately not here: keeping runs (runs.js), drawing curves (the charts
// view draws the overlays it is given), loading weights into the engine.

import { differingKeys } from '../runs.js';

const ROW_MS = 250;

// The run palette's colours by name (runs.js RUN_COLORS), for screen readers.
const COLOR_NAMES = {
  '#0072B2': 'blue', '#D55E00': 'vermillion', '#009E73': 'bluish green', '#CC79A7': 'reddish purple', '#E69F00': 'orange',
  '#56B4E9': 'sky blue', '#000000': 'black', '#882255': 'wine', '#999999': 'grey', '#F0E442': 'yellow',
};

const STATUS_TEXT = { training: 'training', done: 'done', stopped: 'stopped', diverged: 'diverged' };

let views = 0; // for ids unique on the page

const dash = '–';
const fmtLoss = (v) => (typeof v === 'number' ? v.toFixed(3) : dash);
const fmtAcc = (v) => (typeof v === 'number' ? `${(100 * v).toFixed(1)}%` : dash);

function fmtTime(ms) {
  if (!(ms > 0)) return dash;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

// A setting's value as the table shows it (float32 noise from the engine's
// JSON trimmed: 0.0010000000474974513 is 0.001).
function fmtSetting(v) {
  if (v === undefined) return dash;
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'number') return String(Number(v.toPrecision(6)));
  if (v === '') return '(none)';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function statusText(run) {
  let s = STATUS_TEXT[run.status] ?? String(run.status);
  if (run.stoppedEarly) s += run.restoredBest ? ', stopped early, best epoch restored' : ', stopped early';
  return s;
}

function loadTitle(run, maxWeights) {
  if (run.hasWeights) return `Make ${run.name} the model that scores reviews`;
  if (run.status === 'training') return 'Its weights are kept when the run ends';
  return `No weights kept for this run: only the last ${maxWeights} runs keep theirs`;
}

function download(doc, text, filename, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = doc.createElement('a');
  a.href = url;
  a.download = filename;
  doc.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

export function createRunsView({ root, store, onLoadWeights = () => {}, onOverlayChange = () => {}, confirm = (q) => globalThis.confirm(q) }) {
  const doc = root.ownerDocument;
  const uid = `runs-view-${++views}`;

  // el('td', {className: 'num'}, child, 'text'...): strings become text nodes.
  function el(tag, props = {}, ...children) {
    const node = doc.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k.startsWith('aria-') || k === 'role' || k === 'scope' || k === 'for') node.setAttribute(k, v);
      else node[k] = v;
    }
    node.append(...children);
    return node;
  }
  const hidden = (text) => el('span', { className: 'runs-vh', textContent: text });

  // ---------------------------------------------------------------- layout

  const heading = el('h2', { id: `${uid}-heading`, textContent: 'Runs' });
  const note = el('p', { className: 'runs-note' });
  note.textContent = `Kept in this browser: the last ${store.maxRuns} runs; the weights of the last ${store.maxWeights}. Tick a run to overlay its curves on the charts.`;
  const error = el('p', { className: 'runs-error', hidden: true });
  const status = el('p', { className: 'runs-vh', role: 'status' });
  const caption = el('caption', { id: `${uid}-caption`, textContent: 'Runs, newest first; validation loss and accuracy at the best epoch' });
  const headRow = el('tr');
  const tbody = el('tbody');
  const table = el('table', { className: 'runs-table' }, caption, el('thead', {}, headRow), tbody);
  const scroller = el('div', { className: 'runs-scroll', tabIndex: 0, role: 'region', 'aria-labelledby': caption.id }, table);
  const empty = el('p', { className: 'runs-empty', textContent: 'No runs yet. Every run you train is listed here.' });
  const exportCsv = el('button', { type: 'button', textContent: 'Export CSV' });
  const exportJson = el('button', { type: 'button', textContent: 'Export JSON' });
  const clearAll = el('button', { type: 'button', textContent: 'Clear all' });
  const actions = el('div', { className: 'runs-actions', role: 'group', 'aria-label': 'All runs' }, exportCsv, exportJson, clearAll);
  const section = el('section', { className: 'runs-view', 'aria-labelledby': heading.id }, heading, note, error, scroller, empty, actions, status);
  root.append(section);

  // ----------------------------------------------------------------- rows

  const rows = new Map(); // id -> {run, tr, settingCells, ...cells}
  const lastDrawn = new Map(); // id -> time of the row's last redraw
  const pending = new Map(); // id -> timer of a redraw to come
  let columns = []; // the setting keys shown, in order

  function settingColumns() {
    const runs = store.list();
    const keys = differingKeys(runs);
    if (new Set(runs.map((r) => r.dataset)).size > 1) keys.unshift('dataset');
    return keys;
  }

  function settingValue(run, key) {
    return key === 'dataset' ? fmtSetting(run.dataset ?? undefined) : fmtSetting(run.config?.[key]);
  }

  function drawHead() {
    const th = (text, className = '') => el('th', { scope: 'col', className }, text);
    headRow.replaceChildren(
      th('Overlay'),
      th(hidden('Colour')),
      th('Run'),
      ...columns.map((k) => th(k, 'runs-setting')),
      th('Epochs', 'num'),
      th('Best epoch', 'num'),
      th('Val loss', 'num'),
      th('Val acc', 'num'),
      th('Test acc', 'num'),
      th('Time', 'num'),
      th('Status', 'runs-status'),
      th(hidden('Actions')),
    );
  }

  function makeRow(run) {
    const r = { run };
    r.checkbox = el('input', { type: 'checkbox' });
    r.checkLabel = hidden('');
    r.checkbox.addEventListener('change', () => store.setOverlay(run.id, r.checkbox.checked));
    r.swatch = el('span', { className: 'runs-swatch', role: 'img' });
    r.name = el('span');
    r.badge = el('span', { className: 'runs-badge', textContent: 'current', hidden: true });
    r.epochs = el('td', { className: 'num' });
    r.best = el('td', { className: 'num' });
    r.valLoss = el('td', { className: 'num' });
    r.valAcc = el('td', { className: 'num' });
    r.testAcc = el('td', { className: 'num' });
    r.time = el('td', { className: 'num' });
    r.status = el('td', { className: 'runs-status' });
    r.loadName = hidden('');
    r.load = el('button', { type: 'button', className: 'runs-load' }, 'Load', r.loadName);
    r.load.addEventListener('click', () => onLoadWeights(run.id));
    r.delName = hidden('');
    r.del = el('button', { type: 'button', className: 'runs-delete' }, 'Delete', r.delName);
    r.del.addEventListener('click', () => deleteRun(r));
    r.settingCells = [];
    r.tr = el(
      'tr',
      {},
      el('td', {}, el('label', { className: 'runs-check' }, r.checkbox, r.checkLabel)),
      el('td', {}, r.swatch),
      el('th', { scope: 'row', className: 'runs-name' }, r.name, ' ', r.badge),
      r.epochs,
      r.best,
      r.valLoss,
      r.valAcc,
      r.testAcc,
      r.time,
      r.status,
      el('td', { className: 'runs-buttons' }, r.load, ' ', r.del),
    );
    r.tr.dataset.runId = String(run.id);
    placeSettings(r);
    fillRow(r);
    return r;
  }

  // The setting cells sit between the name and the epochs; replacing them
  // leaves the row's controls (and focus) alone.
  function placeSettings(r) {
    for (const td of r.settingCells) td.remove();
    r.settingCells = columns.map((k) => el('td', { className: 'runs-setting' }, settingValue(r.run, k)));
    r.epochs.before(...r.settingCells);
  }

  function fillRow(r) {
    const run = r.run;
    const best = run.bestEpoch > 0 ? run.history.find((h) => h.epoch === run.bestEpoch) : null;
    const planned = Number(run.config?.epochs);
    r.checkbox.checked = Boolean(run.overlay);
    r.checkLabel.textContent = `Overlay ${run.name} on the charts`;
    r.swatch.style.background = run.color;
    r.swatch.setAttribute('aria-label', `colour: ${COLOR_NAMES[run.color] ?? run.color}`);
    r.name.textContent = run.name;
    r.name.title = [run.recipe, run.dataset].filter(Boolean).join(', ');
    const current = store.current()?.id === run.id;
    r.badge.hidden = !current;
    if (current) r.tr.setAttribute('aria-current', 'true');
    else r.tr.removeAttribute('aria-current');
    r.tr.classList.toggle('runs-current', current);
    r.epochs.textContent = run.status === 'training' && planned > 0 ? `${run.history.length} of ${planned}` : String(run.history.length);
    r.best.textContent = run.bestEpoch > 0 ? String(run.bestEpoch) : dash;
    r.valLoss.textContent = fmtLoss(best?.val_loss);
    r.valAcc.textContent = fmtAcc(best?.val_acc);
    r.testAcc.textContent = fmtAcc(run.test?.acc);
    r.time.textContent = fmtTime(run.wallMs);
    r.status.textContent = statusText(run);
    r.loadName.textContent = ` the weights of ${run.name}`;
    r.load.disabled = !run.hasWeights;
    r.load.title = loadTitle(run, store.maxWeights);
    r.delName.textContent = ` ${run.name}`;
    r.del.disabled = run.status === 'training';
    r.del.title = run.status === 'training' ? 'Stop the run before deleting it' : `Delete ${run.name} from this browser`;
    for (let i = 0; i < columns.length; i++) r.settingCells[i].textContent = settingValue(run, columns[i]);
    lastDrawn.set(run.id, performance.now());
  }

  // While a run trains its row is redrawn at most every ROW_MS; any other
  // change at once.
  function scheduleRow(run) {
    const r = rows.get(run.id);
    if (!r) return;
    const wait = run.status === 'training' ? (lastDrawn.get(run.id) ?? -Infinity) + ROW_MS - performance.now() : 0;
    if (wait <= 0) {
      clearTimeout(pending.get(run.id));
      pending.delete(run.id);
      fillRow(r);
      if (run.overlay) overlaysChanged();
    } else if (!pending.has(run.id)) {
      pending.set(
        run.id,
        setTimeout(() => {
          pending.delete(run.id);
          if (rows.has(run.id)) scheduleRow(run);
        }, wait),
      );
    }
  }

  function addRow(run) {
    if (rows.has(run.id)) return;
    const r = makeRow(run);
    rows.set(run.id, r);
    // Newest first, wherever it lands (runs loaded at open() may come after
    // one begun meanwhile).
    const after = [...tbody.children].find((tr) => Number(tr.dataset.runId) < run.id);
    tbody.insertBefore(r.tr, after ?? null);
  }

  function removeRow(run) {
    const r = rows.get(run.id);
    if (!r) return;
    clearTimeout(pending.get(run.id));
    pending.delete(run.id);
    lastDrawn.delete(run.id);
    r.tr.remove();
    rows.delete(run.id);
  }

  // Columns of settings follow the runs listed.
  function syncColumns(force = false) {
    const next = settingColumns();
    if (force || next.join('\u0000') !== columns.join('\u0000')) {
      columns = next;
      drawHead();
      for (const r of rows.values()) placeSettings(r);
    }
    const n = rows.size;
    empty.hidden = n > 0;
    scroller.hidden = n === 0;
    exportCsv.disabled = exportJson.disabled = clearAll.disabled = n === 0;
  }

  function showPersistError() {
    const text = store.persistError;
    error.hidden = !text;
    error.textContent = text ?? '';
  }

  let overlayTimer = 0;
  function overlaysChanged() {
    if (overlayTimer) return;
    overlayTimer = setTimeout(() => {
      overlayTimer = 0;
      onOverlayChange(store.overlays());
    });
  }

  // ---------------------------------------------------------------- actions

  async function deleteRun(r) {
    // Focus goes to the next row's Delete (or the previous one's, or Export).
    const sibling = r.tr.nextElementSibling ?? r.tr.previousElementSibling;
    const hadFocus = r.tr.contains(doc.activeElement);
    const name = r.run.name;
    await store.remove(r.run.id);
    if (hadFocus) {
      const del = sibling?.querySelector('.runs-delete:not(:disabled)');
      (del ?? (rows.size ? scroller : exportCsv)).focus();
    }
    status.textContent = `Deleted ${name}.`;
  }

  const stamp = () => new Date().toISOString().slice(0, 10);
  exportCsv.addEventListener('click', () => {
    download(doc, store.exportCsv(), `imdb-playground-runs-${stamp()}.csv`, 'text/csv');
    status.textContent = `Exported ${rows.size} runs as CSV.`;
  });
  exportJson.addEventListener('click', () => {
    download(doc, store.exportJson(), `imdb-playground-runs-${stamp()}.json`, 'application/json');
    status.textContent = `Exported ${rows.size} runs as JSON.`;
  });
  clearAll.addEventListener('click', async () => {
    const training = store.list().filter((r) => r.status === 'training');
    const others = rows.size - training.length;
    if (others === 0) return;
    const question = training.length
      ? `Delete the ${others} finished runs and their saved weights from this browser? The run being trained stays.`
      : `Delete all ${others} runs and their saved weights from this browser?`;
    if (!confirm(question)) return;
    if (training.length) {
      for (const run of store.list()) if (run.status !== 'training') await store.remove(run.id);
    } else {
      await store.clear();
    }
    (rows.size ? scroller : exportCsv).focus();
    status.textContent = `Deleted ${others} runs.`;
  });

  // ---------------------------------------------------------- store events

  const unsubscribe = store.subscribe(({ type, run }) => {
    switch (type) {
      case 'add':
        addRow(run);
        syncColumns();
        if (run.overlay) overlaysChanged();
        break;
      case 'remove':
        removeRow(run);
        syncColumns();
        if (run.overlay) overlaysChanged();
        break;
      case 'update':
        scheduleRow(run);
        break;
      case 'overlay':
        if (rows.has(run.id)) rows.get(run.id).checkbox.checked = run.overlay;
        overlaysChanged();
        break;
      case 'current':
        for (const r of rows.values()) fillRow(r);
        break;
      case 'persist':
        showPersistError();
        break;
      default:
        break; // an event this view does not know: newer stores may add some
    }
  });

  function refresh() {
    for (const run of store.list()) addRow(run);
    for (const id of [...rows.keys()]) if (!store.get(id)) removeRow({ id });
    syncColumns(true);
    for (const r of rows.values()) fillRow(r);
    showPersistError();
  }

  refresh();
  if (store.overlays().length) overlaysChanged();

  return {
    element: section,
    refresh,
    destroy() {
      unsubscribe();
      for (const t of pending.values()) clearTimeout(t);
      clearTimeout(overlayTimer);
      section.remove();
    },
  };
}
