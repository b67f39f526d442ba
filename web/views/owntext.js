// owntext.js: the "Your own text" dataset (#dataset=own): the panel where
// the user drops, picks or pastes a labelled file, the engine's report of
// what it read (classes and counts, lines skipped and why, duplicates,
// texts cut), the validation and test shares, and the shard the engine
// built, kept in IndexedDB (its own database, so that a reload trains on
// the same texts without the file).
//
// One record, key 'own': { bytes: ArrayBuffer (the shard), report (the
// engine's nnw_labelled_shard_info), name (the file's), valShare, testShare
// (fractions), savedAt }.
//
// Deliberately not here: reading the file's lines or building the shard
// (the engine, worker request buildLabelledShard), or starting the page
// (app.js calls loadOwnShard where it would fetch a shard).

import { $, ui, fmtInt, showError, announce, page } from '../page.js';
import { state, writeHash, ENGINE_KEYS, PROPS, fromEngine, hashKeys } from '../state.js';
import { LABELLED_TEXT_MAX_BYTES, sizeProblem } from '../limits.js';
import { renderControls, syncPresetMenu } from './settings.js';

const DB_NAME = 'imdb-playground-own';
const STORE = 'shard';
const KEY = 'own';

function openDb() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB did not open'));
  });
}

async function withStore(mode, fn) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = fn(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error ?? new Error('the write was aborted (storage full?)'));
    });
  } finally {
    db.close();
  }
}

export const readOwnRecord = () => withStore('readonly', (s) => s.get(KEY)).catch(() => null);
const saveOwnRecord = (record) => withStore('readwrite', (s) => s.put(record, KEY));

const el = {
  panel: $('own-panel'),
  file: $('own-file'),
  paste: $('own-paste'),
  drop: $('own-drop'),
  val: $('own-val'),
  test: $('own-test'),
  build: $('own-build'),
  status: $('own-status'),
  report: $('own-report'),
};

const share = (input, lo, hi) => {
  const x = Number(input.value);
  return Number.isFinite(x) ? Math.min(hi, Math.max(lo, x)) / 100 : lo / 100;
};

// The report of what the engine read, as lists (textContent only).
export function renderReport(report, name) {
  const parts = [];
  const p = (text) => {
    const e = document.createElement('p');
    e.className = 'small';
    e.textContent = text;
    parts.push(e);
  };
  if (!report) {
    el.report.replaceChildren();
    return;
  }
  const file = report.file || {};
  if (report.classes?.length) {
    const table = document.createElement('table');
    table.className = 'own-classes';
    const cap = document.createElement('caption');
    cap.textContent = `${report.classes.length} classes read${name ? ` from ${name}` : ''}`;
    const head = document.createElement('tr');
    for (const h of ['class', 'training', 'test']) {
      const th = document.createElement('th');
      th.scope = 'col';
      th.textContent = h;
      head.append(th);
    }
    table.append(cap, head);
    for (const c of report.classes) {
      const tr = document.createElement('tr');
      for (const v of [c.name, fmtInt(c.train), fmtInt(c.test)]) {
        const td = document.createElement('td');
        td.textContent = v;
        tr.append(td);
      }
      table.append(tr);
    }
    parts.push(table);
  }
  if (report.ok) p(`${fmtInt(report.train)} training and ${fmtInt(report.test)} test texts; a vocabulary of ${fmtInt(report.vocab_size)} words.`);
  if (file.lines !== undefined) p(`${fmtInt(file.lines)} lines read${file.header ? ', the first a header (skipped)' : ''}${file.blank ? `, ${fmtInt(file.blank)} blank` : ''}.`);
  if (report.duplicates) p(`${fmtInt(report.duplicates)} duplicate lines left out${file.first_duplicate_line ? ` (the first on line ${file.first_duplicate_line})` : ''}.`);
  if (report.test_in_train) p(`${fmtInt(report.test_in_train)} test texts are also training texts: they flatter the test score.`);
  if (report.cut || file.truncated) p(`${fmtInt(report.cut || file.truncated)} texts were longer than the maximum and were cut.`);
  if (file.malformed) p(`${fmtInt(file.malformed)} lines skipped:`);
  if (file.problems?.length) {
    const ul = document.createElement('ul');
    ul.className = 'own-problems small';
    for (const q of file.problems) {
      const li = document.createElement('li');
      li.textContent = `line ${q.line}: ${q.reason}`;
      ul.append(li);
    }
    parts.push(ul);
  }
  el.report.replaceChildren(...parts);
}

// The settings a user's shard needs: the validation share as the engine's
// val_size (a count of training texts), every training text used, the
// vocabulary no larger than the file's (all its words by default) and
// maxlen no longer than its longest text.
export function applyValShare(info, valShare) {
  const train = info?.splits?.train || 0;
  if (train < 2) return;
  state.val_size = Math.max(1, Math.min(train - 1, Math.round(valShare * train)));
  state.train_size = 0;
  if (info.vocab_size > 0 && !(state.vocab_size <= info.vocab_size)) state.vocab_size = info.vocab_size;
  if (info.max_tokens > 0 && !(state.maxlen <= info.max_tokens)) state.maxlen = info.max_tokens;
  renderControls();
  syncPresetMenu();
  writeHash();
}

// The default recipe for a user's shard (the engine's, fitted to this
// shard: worker request labelledRecipe) into the settings.
async function applyRecipe() {
  const { config } = await page.worker.request('labelledRecipe', {});
  for (const key of ENGINE_KEYS) {
    if (!(key in config) || key === 'classes') continue; // classes: from the shard (state.js engineConfig)
    try {
      state[key] = fromEngine(key, config[key]);
    } catch {
      state[key] = PROPS[key].def;
    }
  }
}

let firstBuild = null; // resolves the page's start when it waits for a first file

async function readInput() {
  const file = el.file.files?.[0];
  if (file) {
    const problem = sizeProblem(`the file ${file.name}`, file.size, LABELLED_TEXT_MAX_BYTES, 'split it into smaller files');
    if (problem) throw new Error(problem); // refused before it is read, let alone copied into wasm memory
    return { data: { bytes: await file.arrayBuffer() }, name: file.name };
  }
  const text = el.paste.value;
  if (text.trim() === '') throw new Error('choose a file, drop one here, or paste the lines first');
  return { data: { text }, name: 'the pasted lines' };
}

async function build() {
  el.build.disabled = true;
  el.status.textContent = 'Reading…';
  try {
    const { data, name } = await readInput();
    const valShare = share(el.val, 1, 50), testShare = share(el.test, 0, 50);
    const transfer = data.bytes ? [data.bytes] : [];
    let reply;
    try {
      reply = await page.worker.request('buildLabelledShard', { ...data, testShare }, transfer);
    } catch (err) {
      renderReport(err.report, name);
      throw err;
    }
    renderReport(reply.report, name);
    const record = { bytes: reply.bytes, report: reply.report, name, valShare, testShare, savedAt: Date.now() };
    try {
      await saveOwnRecord(record);
    } catch (err) {
      showError(`The shard was built but cannot be kept in this browser (${err.message}): a reload will ask for the file again.`);
    }
    el.status.textContent = `Built in ${reply.ms.toFixed(0)} ms from ${name}.`;
    announce(`Read ${name}: ${reply.info.classes} classes.`);
    await applyRecipe(); // a new file starts from the default recipe (then the chosen shares)
    if (firstBuild) {
      const resolve = firstBuild;
      firstBuild = null;
      applyValShare(reply.info, valShare);
      resolve(reply.info);
    } else {
      // The worker's dataset and model were replaced: start the page again on the new shard.
      applyValShare(reply.info, valShare);
      location.reload();
    }
  } catch (err) {
    el.status.textContent = `Not used: ${err.message}. Nothing was replaced.`;
    showError(`Your file was not used: ${err.message}`);
  } finally {
    el.build.disabled = false;
  }
}

el.build.addEventListener('click', build);
el.drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  el.drop.classList.add('dragging');
});
el.drop.addEventListener('dragleave', () => el.drop.classList.remove('dragging'));
el.drop.addEventListener('drop', (e) => {
  e.preventDefault();
  el.drop.classList.remove('dragging');
  if (e.dataTransfer?.files?.length) {
    el.file.files = e.dataTransfer.files;
    build();
  }
});

// The page's start on #dataset=own: the kept shard, loaded as any shard
// (loadShard {bytes}); without one, the panel asks for a file and this
// waits for the first one the engine accepts. Returns the shard info.
export async function loadOwnShard() {
  const record = await readOwnRecord();
  if (record?.bytes) {
    el.val.value = String(Math.round(record.valShare * 100));
    el.test.value = String(Math.round(record.testShare * 100));
    renderReport(record.report, record.name);
    el.status.textContent = `Training on ${record.name} (kept in this browser). Read another file to replace it.`;
    const info = await page.worker.request('loadShard', { bytes: record.bytes.slice(0) });
    if (!hashKeys.has('model')) await applyRecipe(); // a bare #dataset=own link: the default recipe
    applyValShare(info, record.valShare);
    return info;
  }
  ui.shardLabel.textContent = 'Choose your labelled file below, then press “Read the file”.';
  ui.shardProgress.hidden = true;
  el.status.textContent = 'No file yet.';
  return new Promise((resolve) => {
    firstBuild = (info) => {
      ui.shardProgress.hidden = false;
      resolve(info);
    };
  });
}
