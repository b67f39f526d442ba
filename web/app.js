// app.js: the playground page's start-up and wiring. It starts the worker
// (web/worker/worker.js, through supervisor.js, which restarts it if it
// dies), asks the engine for its presets and its config schema (which
// state.js turns into the settings table), loads the shard, opens the run
// store and the views, and brings back a model saved in this browser.
// Everything else lives where its name says:
//   state.js            the settings table and the URL hash
//   page.js             the shared elements, helpers and live page state
//   views/status.js     the phase, the buttons' states, the status line
//   views/training.js   Train/Pause/Stop, the worker's training events
//   views/review.js     the review box: its score and coloured words
//   views/settings.js   the settings form, the recipe and dataset menus
//   views/sections.js   the section menu (#view=...) below the first screen
//   views/modelfiles.js download, load, the saved model, engine restarts
//   views/charts.js     the loss and accuracy charts (and run overlays)
//   views/wordmap.js, views/embedstats.js   what the model learned about words
//   views/diagnosis.js, views/images.js, views/pretrain.js, views/stopwords.js
//   runs.js, views/runs.js   the run store and the Runs table
//   debug-view.js       window.__playground, the read-only test hook
// Deliberately not here: any engine work on the main thread, HTML built
// from strings, inline styles (the page runs under a strict CSP).

import './trusted-types.js'; // first: the page's Trusted Types policy
import { TrainingCharts } from './views/charts.js';
import { EmbeddingsView } from './views/wordmap.js';
import { createDiagnosis } from './views/diagnosis.js';
import { createAttentionView } from './views/attention.js';
import { createStopwordsControl } from './views/stopwords.js';
import { WordVectors } from './views/pretrain.js';
import { createMlmPanel } from './views/mlm.js';
import { ImagesView } from './views/images.js';
import { EngineSupervisor } from './supervisor.js';
import { $, ui, controls, fmtInt, fmtPct, fmtDuration, showError, announce, debugHooks, store, page } from './page.js';
import { state, items, writeHash, readHash, setSetting, applySchema, view } from './state.js';
import { setPhase, scheduleStatus } from './views/status.js';
import { renderControls, syncPresetMenu, applySetting, ensureDatasetModel, setUpDatasetView, showHashNotes, bindControls, setFormEnabled } from './views/settings.js';
import { configureModel, onEngineEvent, corpusUrl } from './views/training.js';
import { showSaved, restoreSaved, onEngineCrash, setUpAfterCrash, onEngineRecovered, loadRunWeights } from './views/modelfiles.js';
import { explainCurrent, renderEmptyScore, openReview } from './views/review.js';
import { explainShardFailure, datasetPath, datasetUrl, showShardLoaded } from './views/shard.js';
import { showSection } from './views/sections.js';
import { installDebugView } from './debug-view.js';
import { dataset } from './datasets.js';

async function start() {
  const context = {
    state,
    applySetting,
    request: (type, data, transfer) => page.worker.request(type, data, transfer),
    openReview,
    announce,
    showError,
    fmtInt,
    fmtPct,
    fmtDuration,
  };
  readHash(); // the page's own keys (dataset, shard); the engine's come with its schema
  store.key = dataset().storeKey; // each dataset keeps its own saved model
  setUpDatasetView();
  setFormEnabled(false); // until the engine's schema says what the settings are
  page.stopwordsControl = createStopwordsControl(context);
  renderEmptyScore();
  ui.scoreText.textContent = 'The score appears here once the model is ready.';
  try {
    page.charts = new TrainingCharts($('chart-loss'), $('chart-acc'));
  } catch (err) {
    showError(err.message);
    setPhase('failed');
    return;
  }

  setPhase('starting');
  page.worker = new EngineSupervisor({
    url: new URL('./worker/worker.js', import.meta.url),
    onEvent: onEngineEvent,
    setUp: setUpAfterCrash,
    onCrash: onEngineCrash,
    onRecovered: onEngineRecovered,
    onGiveUp: (why) => {
      showError(`The engine stopped: ${why}. Reload the page to start again. (If web/engine/ is missing, build it with scripts/build-wasm.sh.)`);
      page.haveModel = false;
      setPhase('failed');
    },
  });

  // A static site's shard starts downloading while the engine loads
  // (worker/download.js), or did already, before any module (data-early.js).
  const prefetch = dataset().own ? null : prefetchShard(datasetUrl());
  (dataset().images ? setUpImageViews : setUpTextViews)(context);

  page.wordVectors = new WordVectors(
    page.worker,
    { status: $('pretrain-status'), progress: $('pretrain-progress'), neighbours: $('pretrain-neighbours') },
    () => {
      if (page.phase === 'pretraining') scheduleStatus();
    },
  );

  if (!dataset().images) page.mlm = createMlmPanel(corpusUrl);

  try {
    const info = await page.worker.request('init', { debug: debugHooks });
    ui.engineVersion.textContent = info && info.version != null ? String(info.version) : 'loaded';
    showThreads(info?.threads);
    // The settings table's engine keys come from the engine (contract 4).
    const { schema } = await page.worker.request('configSchema', {});
    showHashNotes(applySchema(schema, (key) => document.getElementById(key) !== null));
    bindControls();
    renderControls();
    page.embeddings?.renderControls();
    writeHash();
    setFormEnabled(true);
    page.stopwordsControl.engineReady();
    const { presets } = await page.worker.request('presets', {});
    page.allPresets = Object.fromEntries(presets.map((p) => [p.name, p.config]));
    page.presetConfigs = Object.fromEntries(presets.filter((p) => dataset().ownsModel(p.config.model)).map((p) => [p.name, p.config]));
    ensureDatasetModel();
    syncPresetMenu();
  } catch (err) {
    if (!page.worker.dead) {
      showError(`The engine could not start: ${err.message}. If web/engine/ is missing, build it with scripts/build-wasm.sh.`);
      setPhase('failed');
    }
    return;
  }

  setPhase('loading');
  ui.shardLabel.textContent = `Loading the ${items()} (${datasetPath()})`;
  await prefetch; // the worker has the early download before it is asked for the shard
  try {
    // Your own text: the shard kept in this browser, or the first file read (views/owntext.js).
    page.shardInfo = dataset().own ? await (await import('./views/owntext.js')).loadOwnShard()
      : await page.worker.request(dataset().loadRequest, { url: datasetUrl() });
  } catch (err) {
    if (!page.worker.dead) {
      explainShardFailure(datasetPath(), err.message);
      setPhase('failed');
    }
    return;
  }
  showShardLoaded();
  page.imagesView?.setInfo(page.shardInfo);
  if (page.shardInfo.classes > 2) (await import('./views/classes.js')).useClassDiagnosis(context);
  const splits = page.shardInfo.splits || {};
  if (splits.train > 0) controls.val_size.max = String(splits.train - 1);
  if (splits.train > 0) controls.train_size.max = String(splits.train - 1);
  if (page.shardInfo.vocab_size > 0) controls.vocab_size.max = String(page.shardInfo.vocab_size);
  if (page.shardInfo.max_tokens > 0) controls.maxlen.max = String(page.shardInfo.max_tokens);

  await openRuns();
  if (await restoreSaved()) {
    page.worker.arm();
    showSection(view, { scroll: true });
    return;
  }
  try {
    await configureModel();
  } catch (err) {
    showError(`The settings do not fit this shard: ${err.message}`);
  }
  page.worker.arm();
  setPhase('ready');
  showSaved();
  announce(`${dataset().Items} loaded. Ready to train.`);
  explainCurrent();
  showSection(view, { scroll: true });
}

// The footer says how many threads train, and why only one on a host that
// does not send COOP/COEP (a plain static host: README "Host it yourself").
function showThreads(threads) {
  const note = document.getElementById('engine-threads');
  if (!note || !(threads > 0)) return;
  note.textContent = threads > 1 ? `, ${threads} threads`
    : self.crossOriginIsolated ? ', one thread'
      : ', one thread (this host does not send the COOP/COEP headers that two threads need)';
}

// The run store (runs.js) and its view (views/runs.js): every run's
// settings, history, best epoch, test metrics and (the newest few) weights,
// kept in IndexedDB. Loaded by import() so that a page without them (or a
// browser whose storage fails) still trains; the Runs section then says so.
async function openRuns() {
  try {
    const [{ RunStore }, { createRunsView }] = await Promise.all([import('./runs.js'), import('./views/runs.js')]);
    const runs = new RunStore();
    await runs.open();
    page.runs = runs;
    createRunsView({
      root: $('runs-root'),
      store: runs,
      onLoadWeights: loadRunWeights,
      onOverlayChange: (list) => page.charts.setOverlays(list),
    });
    page.charts.setOverlays(runs.overlays());
    runs.subscribe(({ type, run }) => {
      // A ticked run's new epochs redraw its overlay.
      if ((type === 'update' || type === 'overlay' || type === 'remove') && (!run || run.overlay || type !== 'update')) {
        page.charts.setOverlays(runs.overlays());
      }
    });
  } catch (err) {
    $('runs-root').textContent = `Runs cannot be kept on this page: ${err.message}.`;
  }
}

// The panels of the reviews: the diagnosis and the word map (the review box
// and the stop words are index.html's, shown for text only).
function setUpTextViews(context) {
  page.diagnosis = createDiagnosis(context);
  page.attention = createAttentionView();
  try {
    page.embeddings = new EmbeddingsView({ worker: page.worker, charts: page.charts, state, setSetting, announce, showError, $ });
  } catch (err) {
    showError(`The word map cannot run: ${err.message}`);
  }
}

// The panels of the images: the test images, the drawing pad and the
// confusion matrix. The diagnosis reads reviews, so an image model gets
// hooks that do nothing (its panel is hidden).
function setUpImageViews() {
  page.imagesView = new ImagesView({
    $, announce, showError, fmtPct,
    request: (type, data, transfer) => page.worker.request(type, data, transfer),
    haveModel: () => page.haveModel,
    phase: () => page.phase,
  });
  const none = () => {};
  page.diagnosis = { renderSettings: none, phaseChanged: none, modelChanged: none, epochDone: none, trainingDone: none, snapshot: () => null };
}

installDebugView();
start().catch((err) => {
  showError(`The page failed to start: ${err.message}`);
  setPhase('failed');
});

// Asks the worker to start downloading the site's shard at url: with the
// body of data-early.js's download of it when there is one (transferred, so
// nothing is fetched twice; a browser that cannot transfer a stream gets the
// download cancelled and the worker fetches the file itself). Never throws:
// a failure is the shard load's to report.
async function prefetchShard(url) {
  const early = window.__earlyShard;
  window.__earlyShard = null;
  const got = early && early.url === url ? await early.response : null;
  if (early && !got) early.abort();
  if (got) {
    const { entry, response } = got;
    try {
      await page.worker.request('prefetchShard', { url, early: { entry, body: response.body } }, [response.body]);
      return;
    } catch {
      early.abort();
    }
  }
  await page.worker.request('prefetchShard', { url }).catch(() => {});
}
