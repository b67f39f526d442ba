// page.js: what every view of the page shares: its elements (ui), the
// formatting helpers, the error banner and the screen-reader line, and the
// page's live state (`page`: the phase, the model the worker holds, the
// current run). Views read and write `page`; only views/status.js's
// setPhase changes the phase.
// Deliberately not here: settings (state.js) or any engine work.

import { SessionStore } from './persist.js';

export const $ = (id) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`index.html lacks #${id}`);
  return el;
};
export const ui = {
  hashNote: $('hash-note'),
  error: $('error'),
  errorText: $('error-text'),
  errorDismiss: $('error-dismiss'),
  shardPanel: $('shard-panel'),
  shardLabel: $('shard-label'),
  shardProgress: $('shard-progress'),
  shardDetail: $('shard-detail'),
  testDetail: $('test-detail'),
  shardHelp: $('shard-help'),
  shardHelpWhat: $('shard-help-what'),
  form: $('controls'),
  controlsNote: $('controls-note'),
  train: $('btn-train'),
  pause: $('btn-pause'),
  resume: $('btn-resume'),
  stop: $('btn-stop'),
  reset: $('btn-reset'),
  download: $('btn-download'),
  checkpointFile: $('checkpoint-file'),
  continue: $('btn-continue'),
  forget: $('btn-forget'),
  savedNote: $('saved-note'),
  reviewNote: $('review-note'),
  status: $('status'),
  announce: $('announce'),
  reviewText: $('review-text'),
  random: $('btn-random'),
  trueLabel: $('true-label'),
  scoreText: $('score-text'),
  scoreBar: $('score-bar'),
  words: $('words'),
  topWords: $('top-words'),
  legendMethod: $('legend-method'),
  engineVersion: $('engine-version'),
  preset: $('preset'),
  presetHint: $('preset-hint'),
  w2vFields: $('w2v-fields'),
  compareField: $('compare-field'),
  pretrainPanel: $('pretrain-panel'),
  dataset: $('dataset'),
};
// The form's element of each setting that has one (views/settings.js fills
// it once the engine's schema is known).
export const controls = {};

export const fmtInt = (n) => Math.round(n).toLocaleString('en-US');
export const fmtPct = (x) => `${(x * 100).toFixed(1)}%`;
export const fmtBytes = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${Math.round(n / 1e3)} kB`);

export function fmtDuration(ms) {
  if (!Number.isFinite(ms) || ms < 0) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

export const errorsShown = [];

export function showError(message) {
  errorsShown.push(message);
  ui.errorText.textContent = message;
  ui.error.hidden = false;
}

ui.errorDismiss.addEventListener('click', () => {
  ui.error.hidden = true;
  ui.errorText.textContent = '';
});

export function announce(text) {
  ui.announce.textContent = text;
}

// Writes text into an element only when it differs: an unchanged status line
// or score costs no DOM change, hence no style and layout work.
export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

export const debugHooks = new URLSearchParams(location.search).has('debug'); // ?debug: test hooks in the worker
export const store = new SessionStore(); // the last model, saved in this browser (persist.js)

// The page's live state.
// phase: starting | loading | ready | busy | training | paused | pretraining | stopped | done | recovering | failed
export const page = {
  phase: 'starting',
  haveModel: false, // the worker holds a configured model (explain works)
  shardInfo: null,
  engineInForce: null, // the config the worker reported for the current model
  runHistory: [],
  testResult: null,
  testDownload: null, // a static site's test reviews still downloading: {loaded, total} or {failed} (views/shard.js)
  run: null, // timing and position of the current training run
  runId: null, // its record in the run store (runs.js)
  runs: null, // the RunStore
  lastExplain: null,
  charts: null,
  worker: null, // the EngineSupervisor: request() goes to the live worker
  saveSession: null, // views/modelfiles.js's: keeps the model in IndexedDB (training.js calls it)
  embeddings: null, // the word map and friends (views/wordmap.js)
  wordVectors: null, // word2vec's panel and the session's vectors (views/pretrain.js)
  imagesView: null, // Fashion-MNIST (views/images.js)
  diagnosis: null,
  stopwordsControl: null,
  saving: true, // this run saves itself (Forget turns it off until the next Train)
  recoveryNote: null, // what the last engine restart brought back
  // A press of Train runs one or more stages (views/training.js).
  stages: [],
  currentStage: null,
  referenceResult: null, // {history, test} of the finished from-scratch twin
  // name -> the preset's full config, from the engine (views/settings.js)
  allPresets: {},
  presetConfigs: {},
};
