// modelfiles.js: the model's files and its keeping: download, load a model
// file (or a run's weights from the Runs view), the session saved in this
// browser (persist.js) with Continue and Forget, and the engine's restarts
// (supervisor.js) which bring the saved model back.

import { $, ui, showError, announce, debugHooks, store, page } from '../page.js';
import { PROPS, ENGINE_KEYS, state, items, writeHash, linkHadSettings, fromEngine } from '../state.js';
import { setPhase, updateStatus, statusText, activeMs } from './status.js';
import { renderControls } from './settings.js';
import { configurableNow, pauseRun, normaliseEpoch, beginRun, finishRun } from './training.js';
import { explainCurrent } from './review.js';
import { datasetUrl, showShardLoaded, whenTestReady } from './shard.js';
import { dataset } from '../datasets.js';
import { CHECKPOINT_MAX_BYTES, sizeProblem, sizeText } from '../limits.js';

// -------------------------------------------------------------- checkpoints

ui.download.addEventListener('click', async () => {
  try {
    const { bytes } = await page.worker.request('exportCheckpoint', {});
    const blob = new Blob([bytes], { type: 'application/octet-stream' });
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = dataset().fileName(page.runHistory.length, state);
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    announce('Model file downloaded.');
  } catch (err) {
    showError(`Could not save the model: ${err.message}`);
  }
});

ui.checkpointFile.addEventListener('change', async () => {
  const file = ui.checkpointFile.files[0];
  if (!file) return;
  try {
    // Read as bytes and handed to the engine's checkpoint reader, which
    // checks magic, version, sizes and CRC: a file is never run or shown.
    await importModel(await checkpointBytes(file), file.name);
  } catch (err) {
    showError(`Could not load the model file “${file.name}”: ${err.message}`);
  } finally {
    ui.checkpointFile.value = '';
  }
});

// The checkpoint header (engine/checkpoint.c): magic "NNCKPT01" (nn.h's
// NN_CKPT_MAGIC), u32 version, u32 JSON bytes, u64 parameter bytes, ...
const CHECKPOINT_MAGIC = 'NNCKPT01';
const CHECKPOINT_HEADER_BYTES = 32;

// The bytes of a chosen model file for the engine, checked before the file
// is read whole, since wasm memory only grows: its size against the limit
// the worker also applies (limits.js), then its 32-byte header. A file that
// does not start with the checkpoint magic gives the engine its header
// only, which is all the engine's reader needs to refuse it with its own
// reason (not a checkpoint, a dataset shard); one whose header promises
// another length than the file has is refused here.
async function checkpointBytes(file) {
  const tooBig = sizeProblem('the file', file.size, CHECKPOINT_MAX_BYTES);
  if (tooBig) throw new Error(tooBig);
  const head = await readBytes(file.slice(0, CHECKPOINT_HEADER_BYTES));
  const magic = String.fromCharCode(...new Uint8Array(head, 0, Math.min(8, head.byteLength)));
  if (head.byteLength < CHECKPOINT_HEADER_BYTES || magic !== CHECKPOINT_MAGIC) return head;
  const header = new DataView(head);
  const promised = CHECKPOINT_HEADER_BYTES + header.getUint32(12, true) + Number(header.getBigUint64(16, true));
  if (promised !== file.size)
    throw new Error(`the file is ${sizeText(file.size)} but its header describes ${sizeText(promised)}: it is truncated or has bytes after its end; download the model again`);
  return readBytes(file);
}

// A Blob's bytes; a browser's failure to read it (a file moved or changed
// since it was chosen) as an error with a message.
async function readBytes(blob) {
  try {
    return await blob.arrayBuffer();
  } catch (err) {
    throw new Error(`the browser could not read the file (${err.message})`);
  }
}

// Load weights of a run in the Runs view: its checkpoint becomes the model
// the review box scores (and the charts show its history).
export async function loadRunWeights(id) {
  const r = page.runs?.get(id);
  try {
    if (!['ready', 'stopped', 'done'].includes(page.phase)) throw new Error('stop the training first');
    const bytes = await page.runs.weights(id);
    if (!bytes) throw new Error('its weights are no longer kept (only the newest runs keep theirs)');
    await importModel(bytes, r?.name ?? `run ${id}`, r);
  } catch (err) {
    showError(`Could not load the weights of ${r?.name ?? `run ${id}`}: ${err.message}`);
  }
}

// Gives the worker a model's checkpoint bytes and shows it: its settings,
// history and test accuracy. run: the run store's record it came from, if any.
async function importModel(bytes, name, run = null) {
  const previous = page.phase;
  setPhase('busy');
  try {
    const kept = bytes.slice(0); // the transfer below empties `bytes`
    const { config, history: hist } = await page.worker.request('importCheckpoint', { bytes }, [bytes]);
    page.haveModel = true;
    page.engineInForce = config;
    page.attention?.modelChanged();
    page.runId = run ? run.id : null;
    const notes = [];
    for (const key of ENGINE_KEYS) {
      if (!config || !(key in config)) continue;
      try {
        state[key] = fromEngine(key, config[key]);
      } catch (err) {
        notes.push(`${key} ${err.message}`);
      }
    }
    if (notes.length) showError(`The model file has settings this page cannot show: ${notes.join('; ')}.`);
    renderControls();
    writeHash();
    page.runHistory = Array.isArray(hist) ? hist.map(normaliseEpoch) : [];
    page.charts.setHistory(page.runHistory);
    if (run?.bestEpoch > 0) page.charts.setBestEpoch(run.bestEpoch);
    if (page.runs) page.charts.setOverlays(page.runs.overlays());
    page.testResult = null;
    page.run = { imported: true, epochs: page.runHistory.length, epoch: page.runHistory.length, batch: 0, batches: 0, activeMs: 0 };
    page.diagnosis.modelChanged();
    page.imagesView?.modelChanged();
    setPhase('done');
    page.embeddings?.onImported(page.runHistory);
    page.diagnosis.trainingDone(page.runHistory, run?.bestEpoch);
    announce(`Loaded ${name}.`);
    explainCurrent();
    if (!page.shardInfo?.test_pending) {
      const test = await page.worker.request('evaluate', { split: 'test' });
      page.testResult = { loss: test.loss, acc: test.acc };
    } else {
      evaluateTestWhenReady(); // a static site's test reviews are still downloading: the result follows
    }
    updateStatus();
    page.saving = true;
    saveSession('imported', kept);
  } catch (err) {
    setPhase(previous === 'busy' ? 'ready' : previous);
    throw err;
  }
}

// ------------------------------------------------- saving and restoring
//
// The session (model bytes, history, curves, settings) is saved in IndexedDB
// at epoch ends (the worker sends the bytes with an epoch event, at most once
// a second), when a run ends, stops or diverges, and when a model file is
// loaded. A reload brings it back; so does an engine restart, from the newest
// record in memory.

// status: 'training' | 'stopped' | 'done' | 'diverged' | 'imported';
// checkpoint: the model's bytes, or undefined to ask the worker for them.
export async function saveSession(status, checkpoint) {
  if (!page.saving || !page.run) return;
  const r = page.run;
  try {
    const bytes = checkpoint || (await page.worker.request('exportCheckpoint', {})).bytes;
    if (r !== page.run) return; // a new run started meanwhile
    const line = page.charts.batchLine(); // the charts' own arrays: only read here
    const batches = { x: [], loss: [], acc: [] };
    const step = Math.max(1, Math.ceil(line.loss.length / 20000)); // at most ~20,000 points
    for (let i = 0; i < line.loss.length; i += step) {
      batches.x.push(line.loss[i].x);
      batches.loss.push(line.loss[i].y);
      batches.acc.push(line.acc[i]?.y ?? NaN);
    }
    store.save({
      settings: { ...state },
      config: page.engineInForce,
      dataset: state.dataset,
      checkpoint: bytes,
      history: page.runHistory.map((h) => ({ ...h })),
      batches,
      test: page.testResult,
      epochsTotal: page.run.epochs,
      status,
      divergence: page.run.diverged ? { x: page.run.diverged.x, message: page.run.diverged.message } : null,
      bestEpoch: page.charts.bestEpoch, // the engine's (the worker's events), drawn again on a reload
    });
    showSaved();
  } catch (err) {
    // Not worth an alert: the model itself is fine; the note says so.
    ui.savedNote.textContent = `Not saved in this browser: ${err.message}.`;
  }
}
// training.js saves through page.saveSession, so that it need not import
// this file back (this file starts and finishes runs through training.js).
page.saveSession = saveSession;

export function showSaved(record = store.latest) {
  if (store.unavailable) {
    ui.savedNote.textContent = `This browser cannot keep your model (${store.unavailable}); download it to keep it.`;
  } else if (store.lastError) {
    ui.savedNote.textContent = `Not saved in this browser: ${store.lastError}.`;
  } else if (record) {
    const epochs = record.history.length;
    const what =
      record.status === 'diverged' ? `the last good weights before training diverged (after ${epochs} full epoch${epochs === 1 ? '' : 's'})`
        : record.status === 'imported' ? 'the model loaded from a file'
          : record.status === 'done' ? `the finished model, ${epochs} epoch${epochs === 1 ? '' : 's'}`
            : `the model after ${epochs} of ${record.epochsTotal} epochs`;
    ui.savedNote.textContent = `Saved in this browser: ${what}, at ${new Date(record.savedAt).toLocaleTimeString('en-GB')}.`;
  } else {
    ui.savedNote.textContent = 'Nothing saved in this browser yet: a model is saved as it trains.';
  }
  ui.forget.disabled = !store.latest || ['busy', 'recovering', 'starting', 'loading'].includes(page.phase);
}
store.onChange = () => showSaved();

ui.forget.addEventListener('click', async () => {
  page.saving = false; // until the next Train or model file
  try {
    await store.clear();
    announce('The saved model was removed from this browser.');
  } catch (err) {
    showError(`Could not remove the saved model: ${err.message}`);
  }
  showSaved(null);
  if (page.run && page.run.resumable) {
    page.run.resumable = false;
    setPhase(page.phase);
  }
});

// Gives worker w the model of a saved record (its checkpoint); resolves
// with {config, history}.
export function loadRecord(w, record) {
  return w.request('importCheckpoint', { bytes: record.checkpoint.slice(0) });
}

// Puts a saved record on the page: the worker must already hold its model
// (importCheckpoint). how: 'reload' or 'crash'.
export function showRestored(record, config, how) {
  page.haveModel = true;
  page.engineInForce = config;
  page.attention?.modelChanged();
  page.imagesView?.modelChanged();
  page.runHistory = record.history.map(normaliseEpoch);
  page.testResult = record.test && Number.isFinite(record.test.acc) ? { ...record.test } : null;
  const epochs = Math.max(record.epochsTotal || 0, page.runHistory.length);
  const diverged = record.divergence ? { ...record.divergence } : null;
  const resumable = !diverged && ['training', 'stopped'].includes(record.status) && page.runHistory.length < epochs;
  page.run = {
    restored: how, savedAt: record.savedAt, resumable, diverged: null,
    epochs, epoch: page.runHistory.length, batch: 0, batches: 0, activeMs: 0, totalMs: null,
  };
  page.charts.setHistory(page.runHistory);
  page.charts.setBatches(record.batches);
  page.charts.setBestEpoch(record.bestEpoch ?? null);
  if (diverged) {
    page.run.diverged = diverged;
    page.charts.markDivergence(diverged.x);
  }
  setPhase(diverged || resumable ? 'stopped' : 'done');
  explainCurrent();
  // (a static site's test reviews may still be downloading: after them)
  if (page.phase === 'done' && !page.testResult) evaluateTestWhenReady();
}

// The loaded model's test result, once the test reviews are in (at once
// unless a static site is still downloading them); dropped if another run
// has begun meanwhile.
function evaluateTestWhenReady() {
  const r = page.run;
  whenTestReady().then(() => page.worker.request('evaluate', { split: 'test' })).then((test) => {
    if (r !== page.run) return;
    page.testResult = { loss: test.loss, acc: test.acc };
    updateStatus();
  }, () => {});
}

// The settings of a saved record, through the state table (so a damaged or
// foreign value falls back to its default like a bad link would).
export function applySavedSettings(settings) {
  for (const key of Object.keys(PROPS)) {
    if (!(key in settings) || key === 'dataset') continue; // the page's dataset chose the record
    try {
      state[key] = PROPS[key].parse(String(settings[key]));
    } catch {
      // keep the default
    }
  }
  renderControls();
  writeHash();
}

// Continue: the remaining epochs of a restored run, from its weights. The
// engine starts a new run (epoch 1, Adam's moments at zero, as after any
// checkpoint load) with epochs = what is left, on the same seed's split.
export async function continueTraining() {
  if (!page.run || !page.run.resumable) return;
  const done = page.runHistory.length;
  const remaining = page.run.epochs - done;
  setPhase('busy');
  try {
    const { params } = await page.worker.request('snapshot', {});
    // (A word2vec model whose vectors this worker lacks, after a restart,
    // is set up from a random embedding: the weights come back just below.)
    const config = await page.worker.request('configure', configurableNow({ ...engineConfigOf(page.engineInForce), epochs: remaining }));
    await page.worker.request('restore', { params }, [params.buffer]);
    page.engineInForce = { ...config, epochs: page.run.epochs };
    page.attention?.modelChanged();
    page.run = {
      epochs: page.run.epochs, epoch: done + 1, batch: 0, batches: 0, activeMs: 0,
      segmentStart: performance.now(), msPerEpoch: null, reviewsPerSec: null, totalMs: null,
      epochOffset: done, baseHistory: page.runHistory.map((h) => ({ ...h })),
    };
    page.testResult = null;
    page.saving = true;
    beginRun({ label: 'continued' }, config); // a run of its own in the Runs view (epochs done+1 to the end)
    setPhase('training');
    await page.worker.request('train', { pace: state.pace, checkpoints: true });
    announce(`Training continues: epochs ${done + 1} to ${page.run.epochs}.`);
  } catch (err) {
    showError(`Could not continue training: ${err.message}`);
    setPhase('stopped');
  }
}
ui.continue.addEventListener('click', continueTraining);

// The engine's config without the keys it reports but does not take back.
export function engineConfigOf(config) {
  const out = {};
  for (const [k, v] of Object.entries(config || {})) if (v !== null) out[k] = v;
  return out;
}

// After a reload: the session saved in this browser, if there is one and the
// engine takes its model back. Returns whether it did.
export async function restoreSaved() {
  const saved = await store.load();
  if (!saved) return false;
  if (saved.error) {
    ui.savedNote.textContent = `A saved model could not be read (${saved.error}); Forget removes it.`;
    return false;
  }
  try {
    const { config } = await loadRecord(page.worker, saved);
    if (!linkHadSettings) applySavedSettings(saved.settings);
    showRestored(saved, config, 'reload');
    showSaved();
    announce(statusText());
    return true;
  } catch (err) {
    if (page.worker.dead) throw err;
    showSaved();
    ui.savedNote.textContent = `The model saved in this browser could not be loaded (${err.message}); Forget removes it.`;
    return false;
  }
}

// ------------------------------------------------------------ engine restarts

export function onEngineCrash(why) {
  pauseRun();
  finishRun('stopped', {}); // the run store keeps what it had
  page.haveModel = false;
  page.recoveryNote = null;
  showError(`The engine stopped: ${why}. Restarting it…`);
  setPhase('recovering');
  announce('The engine stopped; restarting it.');
}

// Runs in the new worker: the engine, the shard, then the newest saved model
// (or a fresh one when nothing was saved yet).
export async function setUpAfterCrash(w) {
  page.wordVectors?.reset(); // the new worker has no word vectors (nor unlabelled reviews)
  page.mlm?.reset(); // nor an encoder
  page.stages = [];
  await w.request('init', { debug: debugHooks });
  page.shardInfo = await w.request(dataset().loadRequest, { url: datasetUrl() });
  showShardLoaded();
  const record = store.latest;
  if (record) {
    try {
      const { config } = await loadRecord(w, record);
      return { record, config };
    } catch (err) {
      if (w.dead) throw err;
      page.recoveryNote = `the saved model could not be loaded (${err.message})`;
    }
  }
  const config = await w.request('configure', configurableNow());
  return { record: null, config };
}

export function onEngineRecovered({ record, config }, why) {
  if (record) {
    showRestored(record, config, 'crash');
    const epochs = record.history.length;
    page.recoveryNote = `the ${items()} and your model from epoch ${epochs} are back`;
  } else {
    page.haveModel = true;
    page.engineInForce = config;
    page.attention?.modelChanged();
    page.run = null;
    page.runHistory = [];
    page.testResult = null;
    page.charts.clear();
    page.recoveryNote = `${page.recoveryNote ? page.recoveryNote + '; ' : ''}no model had been saved yet, so a new one is ready to train`;
    setPhase('ready');
    explainCurrent();
  }
  ui.errorText.textContent = `The engine stopped (${why}) and was restarted: ${page.recoveryNote}.`;
  announce(`The engine was restarted: ${page.recoveryNote}.`);
}

// A read-only view for tests and the curious (window.__playground in the
