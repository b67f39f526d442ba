// app.js: the playground page. It owns the UI state, the controls, the
// charts and the "Type a review" panel, and talks to the engine only through
// web/worker.js with the {id, type, data} messages of web/PROTOCOL.md.
//
// UI state lives in ONE table of named properties (PROPS below) with their
// defaults, mirrored to the URL hash, so a link reproduces an experiment.
// Deliberately not here: any engine work on the main thread (the worker owns
// the only wasm instance), HTML built from strings (user text and review text
// only ever go through textContent), or inline styles in markup (the page
// runs under a CSP without 'unsafe-inline').
// Robustness lives in its own modules: supervisor.js (the worker, restarted
// when it dies), persist.js (the session saved in IndexedDB), input-checks.js
// (settings against the shard, messages at the controls, review notes).

import './trusted-types.js'; // first: the page's Trusted Types policy
import { TrainingCharts } from './charts.js';
import { EmbeddingsView } from './embeddings.js';
import { createDiagnosis } from './diagnosis.js';
import { createStopwordsControl } from './stopwords.js';
import { EngineSupervisor } from './supervisor.js';
import { SessionStore } from './persist.js';
import { MAX_COLOURED_CHARS, shardLimitError, settingOfMessage, showFieldMessage, clearFieldMessage, reviewNote } from './input-checks.js';
import { WordVectors, PRESET_NOTES } from './pretrain.js';
import { ImagesView } from './images.js';

// ------------------------------------------------------------ the state table

// A whole number in [lo, hi].
function int(def, lo, hi, help) {
  return {
    def,
    help,
    parse(text) {
      const s = String(text).trim();
      if (!/^[0-9]+$/.test(s)) throw new Error(`must be a whole number from ${lo} to ${hi}`);
      const v = Number(s);
      if (!Number.isSafeInteger(v) || v < lo || v > hi) throw new Error(`must be a whole number from ${lo} to ${hi}`);
      return v;
    },
    format: (v) => String(v),
  };
}

// A number in (lo, hi] (the engine's range for the learning rate).
function positive(def, hi, help) {
  return {
    def,
    help,
    parse(text) {
      const s = String(text).trim();
      const v = s === '' ? NaN : Number(s);
      if (!Number.isFinite(v) || !(v > 0) || v > hi) throw new Error(`must be a number above 0 and at most ${hi}`);
      return v;
    },
    format: (v) => String(v),
  };
}

function choice(def, options, help) {
  return {
    def,
    help,
    options,
    parse(text) {
      const s = String(text).trim();
      if (!options.includes(s)) throw new Error(`must be one of ${options.join(', ')}`);
      return s;
    },
    format: (v) => v,
  };
}

// A same-origin URL path for the shard (relative to the page, or absolute
// path). Anything that could leave the site, or climb with "..", is refused;
// the CSP's connect-src 'self' would refuse it again.
function shardPath(def, help) {
  return {
    def,
    help,
    parse(text) {
      const s = String(text).trim();
      const bad = () => new Error('must be a path on this site such as data/imdb.shard');
      if (s.length === 0 || s.length > 256 || !/^[A-Za-z0-9._~\-/]+$/.test(s) || s.startsWith('//')) throw bad();
      if (s.split('/').includes('..')) throw bad();
      if (new URL(s, location.href).origin !== location.origin) throw bad();
      return s;
    },
    format: (v) => v,
  };
}

// true or false (the engine's JSON booleans, and the page's checkboxes).
function bool(def, help) {
  return {
    def,
    help,
    parse(text) {
      const s = String(text).trim();
      if (s !== 'true' && s !== 'false') throw new Error('must be true or false');
      return s === 'true';
    },
    format: (v) => String(v),
  };
}

// A word typed by the user (up to 64 characters; it only ever reaches the
// page through textContent, and the engine through its tokenizer).
function word(def, help) {
  return {
    def,
    help,
    parse(text) {
      const s = String(text);
      if (s.length > 64) throw new Error('must be at most 64 characters');
      return s;
    },
    format: (v) => v,
  };
}

// A number in [lo, hi) (dropout rates) or [lo, hi], kept exactly.
function real(def, lo, hi, help, { openHi = false } = {}) {
  const range = openHi ? `at least ${lo} and below ${hi}` : `from ${lo} to ${hi}`;
  return {
    def,
    help,
    parse(text) {
      const s = String(text).trim();
      const v = s === '' ? NaN : Number(s);
      if (!Number.isFinite(v) || v < lo || (openHi ? v >= hi : v > hi)) throw new Error(`must be a number ${range}`);
      return v;
    },
    format: (v) => String(v),
  };
}

// A number in [0, 1], to two decimals (the diagnosis threshold).
function fraction(def, help) {
  return {
    def,
    help,
    parse(text) {
      const s = String(text).trim();
      const v = s === '' ? NaN : Number(s);
      if (!Number.isFinite(v) || v < 0 || v > 1) throw new Error('must be a number from 0 to 1');
      return Math.round(v * 100) / 100;
    },
    format: (v) => v.toFixed(2),
  };
}

// Free text of at most maxBytes UTF-8 bytes (the stop-word list; the engine
// checks what it means).
function freeText(def, maxBytes, help) {
  return {
    def,
    help,
    parse(value) {
      const s = String(value).trim();
      if (new TextEncoder().encode(s).length > maxBytes) throw new Error(`must be at most ${maxBytes} bytes`);
      return s;
    },
    format: (v) => v,
  };
}

// An epoch: 'best', 'last', or a number from 1.
function epochChoice(def, help) {
  return {
    def,
    help,
    parse(text) {
      const s = String(text).trim();
      if (s === 'best' || s === 'last') return s;
      if (/^[0-9]+$/.test(s) && Number(s) >= 1 && Number(s) <= 100000) return Number(s);
      throw new Error('must be best, last or an epoch number');
    },
    format: (v) => String(v),
  };
}

// Every setting of the page. Keys are the engine's config keys (nn_config,
// engine/config.c) except `shard`, which only the page uses. Defaults are the
// Keras tutorial's recipe.
const PROPS = {
  vocab_size: int(10000, 5, 65536, 'words kept; rarer ones become <UNK>'),
  maxlen: int(256, 1, 2048, 'tokens per review after padding/truncating'),
  padding: choice('post', ['pre', 'post'], 'where short reviews get padding'),
  truncating: choice('pre', ['pre', 'post'], 'which end of long reviews is cut'),
  embed_dim: int(16, 1, 1024, 'embedding width'),
  hidden: int(16, 1, 4096, 'hidden units: dense (bag) or recurrent'),
  pooling: choice('keras', ['keras', 'masked'], 'average over all positions or real tokens'),
  model: choice('bag', ['bag', 'lstm', 'gru', 'bilstm', 'bigru', 'mlp'], 'the architecture (mlp: images)'),
  layers: int(1, 1, 4, 'stacked recurrent layers'),
  dropout: real(0, 0, 1, 'dropout on the recurrent layers\' inputs', { openHi: true }),
  recurrent_dropout: real(0, 0, 1, 'dropout on the recurrent state', { openHi: true }),
  embedding_init: choice('uniform', ['uniform', 'word2vec'], 'random embedding, or word2vec vectors'),
  trainable_embedding: bool(true, 'fine-tune the embedding (false: frozen)'),
  w2v_epochs: int(1, 1, 100, 'word2vec passes over the unlabelled reviews'),
  w2v_window: int(5, 1, 50, 'word2vec context window'),
  w2v_negative: int(5, 1, 50, 'word2vec negative samples'),
  w2v_sample: real(0.001, 0, 1, 'word2vec subsampling threshold'),
  w2v_lr: real(0.025, 0, 10, 'word2vec learning rate'),
  train_size: int(0, 0, 4294967295, 'training reviews (0: all left after validation)'),
  optimizer: choice('adam', ['adam', 'sgd'], 'optimizer'),
  lr: positive(0.001, 10, 'learning rate'),
  batch_size: int(512, 1, 65536, 'reviews per batch'),
  epochs: int(40, 1, 10000, 'passes over the training reviews'),
  val_size: int(10000, 0, 4294967295, 'training reviews held out for validation'),
  stopwords: freeText('', 2047, 'stop words removed before training and scoring: "@english", words, "-word"'),
  seed: int(1, 0, Number.MAX_SAFE_INTEGER, 'seed for shuffling and initialisation'),
  patience: int(0, 0, 10000, 'early stopping: epochs without a better validation loss before stopping (0: off)'),
  restore_best_weights: bool(true, 'early stopping: go back to the best epoch\'s weights when it stops'),
  monitor: choice('val_loss', ['val_loss', 'val_accuracy'], 'what early stopping watches'),
  min_delta: real(0, 0, 1e30, 'the smallest change that counts as an improvement'),
  pace: choice('fast', ['fast', 'watch'], 'full speed, or about 1.5 s per epoch to follow by eye'),
  compare: bool(true, 'with word2vec: also train the same model from scratch, to compare'),
  shard: shardPath('data/imdb.shard', 'the shard file to train on'),
  // The second dataset: Fashion-MNIST images (fashion.shard, beside the
  // review shard), for model "mlp".
  dataset: choice('imdb', ['imdb', 'fashion'], 'the data: IMDB reviews or Fashion-MNIST images'),
  // What the model learned about words (embeddings.js owns their controls).
  map_epoch: epochChoice('best', 'the epoch the word map shows'),
  map_words: int(1000, 10, 5000, 'words on the map (the most frequent)'),
  map_basis: choice('best', ['best', 'last'], 'the epoch whose principal axes the map uses'),
  highlight: word('', 'a word to circle on the map'),
  side_by_side: bool(false, 'show the last epoch beside the selected one'),
  rare_below: int(20, 1, 1000000, 'rare words: seen fewer times than this in training'),
  frequent_from: int(1000, 1, 100000000, 'frequent words: seen at least this often in training'),
  memo_rare_only: bool(true, 'list only rare words among those that changed most'),
  neighbours_of: word('excellent', 'the word whose nearest words are listed'),
  full_run: bool(false, 'also train the run without early stopping, to compare'),
  // The diagnosis panel (web/diagnosis.js).
  threshold: fraction(0.5, 'a review is predicted positive when its score is above this'),
  diag_split: choice('val', ['val', 'test', 'text'], 'the reviews the diagnosis scores'),
  diag_epoch: int(0, 0, 10000, 'the epoch whose weights the diagnosis uses (0: the current ones)'),
  words_by: choice('count', ['count', 'polarity'], 'rank words by polarity times count, or by polarity'),
};
const EMBED_KEYS = ['map_epoch', 'map_words', 'map_basis', 'highlight', 'side_by_side', 'rare_below',
  'frequent_from', 'memo_rare_only', 'neighbours_of', 'full_run'];
// Settings that are the page's own, not the engine's config.
const DIAG_KEYS = ['threshold', 'diag_split', 'diag_epoch', 'words_by'];
const PAGE_KEYS = ['pace', 'shard', 'dataset', 'compare', ...EMBED_KEYS, ...DIAG_KEYS];
const ENGINE_KEYS = Object.keys(PROPS).filter((k) => !PAGE_KEYS.includes(k));
// Settings with a control in the form (the shard is chosen by the link only).
// (diagnosis.js and stopwords.js draw their own, like embeddings.js.)
const OWN_CONTROL_KEYS = [...EMBED_KEYS, ...DIAG_KEYS, 'stopwords', 'dataset'];
const CONTROL_KEYS = Object.keys(PROPS).filter((k) => k !== 'shard' && !OWN_CONTROL_KEYS.includes(k));

const state = Object.fromEntries(Object.entries(PROPS).map(([k, p]) => [k, p.def]));

// Engine settings that only a text model reads: an image model ("mlp")
// ignores them, the page hides their controls, and they are not sent.
const TEXT_ONLY_KEYS = ['vocab_size', 'maxlen', 'padding', 'truncating', 'embed_dim', 'layers', 'dropout',
  'recurrent_dropout', 'pooling', 'embedding_init', 'trainable_embedding', 'w2v_epochs', 'w2v_window',
  'w2v_negative', 'w2v_sample', 'w2v_lr', 'stopwords'];
// The dataset is fixed for a page load: choosing another reloads the page.
const isImages = () => state.dataset === 'fashion';
const items = () => (isImages() ? 'images' : 'reviews');

// "#epochs=3&lr=0.01": every engine setting is written (so a link keeps its
// meaning even if a default changes), the shard only when not the default.
function writeHash() {
  const params = new URLSearchParams();
  for (const [key, prop] of Object.entries(PROPS)) {
    if ((key === 'shard' || key === 'dataset') && state[key] === prop.def) continue;
    params.set(key, prop.format(state[key]));
  }
  const hash = '#' + params.toString().replaceAll('%2F', '/');
  if (location.hash !== hash) window.history.replaceState(null, '', hash);
}

// The settings the link itself gave (readHash), which a dataset's recipe
// does not override (ensureDatasetModel).
let hashKeys = new Set();

// Applies the hash to `state`; returns notes about values it had to ignore.
function readHash() {
  const notes = [];
  hashKeys = new Set();
  for (const [key, prop] of Object.entries(PROPS)) state[key] = prop.def;
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  for (const [key, value] of params) {
    const prop = Object.hasOwn(PROPS, key) ? PROPS[key] : null;
    if (!prop) {
      notes.push(`“${key}” is not a setting, so it was ignored`);
      continue;
    }
    try {
      state[key] = prop.parse(value);
      hashKeys.add(key);
    } catch (err) {
      notes.push(`${key}=“${value}” ${err.message}, so the default ${prop.format(prop.def)} is used`);
    }
  }
  return notes;
}

// Changes one setting from text (a control or the word map); throws the
// parser's message for a bad value, which then changes nothing.
function setSetting(key, text) {
  state[key] = PROPS[key].parse(text);
  writeHash();
}

function engineConfig() {
  if (!isImages()) return Object.fromEntries(ENGINE_KEYS.map((k) => [k, state[k]]));
  const config = Object.fromEntries(ENGINE_KEYS.filter((k) => !TEXT_ONLY_KEYS.includes(k)).map((k) => [k, state[k]]));
  // The image size and the classes come from the shard.
  if (shardInfo?.kind === 'images') {
    config.input_dim = shardInfo.height * shardInfo.width * shardInfo.channels;
    config.classes = shardInfo.classes;
  }
  return config;
}

// ------------------------------------------------------------------ elements

const $ = (id) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`index.html lacks #${id}`);
  return el;
};
const ui = {
  hashNote: $('hash-note'),
  error: $('error'),
  errorText: $('error-text'),
  errorDismiss: $('error-dismiss'),
  shardPanel: $('shard-panel'),
  shardLabel: $('shard-label'),
  shardProgress: $('shard-progress'),
  shardDetail: $('shard-detail'),
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
  engineVersion: $('engine-version'),
  preset: $('preset'),
  presetHint: $('preset-hint'),
  w2vFields: $('w2v-fields'),
  pretrainPanel: $('pretrain-panel'),
  dataset: $('dataset'),
};
const controls = Object.fromEntries(CONTROL_KEYS.map((k) => [k, $(k)]));

// ------------------------------------------------------------------- helpers

const fmtInt = (n) => Math.round(n).toLocaleString('en-US');
const fmtPct = (x) => `${(x * 100).toFixed(1)}%`;
const fmtBytes = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${Math.round(n / 1e3)} kB`);

function fmtDuration(ms) {
  if (!Number.isFinite(ms) || ms < 0) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}

const errorsShown = [];

function showError(message) {
  errorsShown.push(message);
  ui.errorText.textContent = message;
  ui.error.hidden = false;
}

ui.errorDismiss.addEventListener('click', () => {
  ui.error.hidden = true;
  ui.errorText.textContent = '';
});

function announce(text) {
  ui.announce.textContent = text;
}

// -------------------------------------------------------------- page state

// phase: starting | loading | ready | busy | training | paused | stopped | done | recovering | failed
let phase = 'starting';
let haveModel = false; // the worker holds a configured model (explain works)
let shardInfo = null;
let engineInForce = null; // the config the worker reported for the current model
let runHistory = [];
let testResult = null;
let run = null; // timing and position of the current training run
let lastExplain = null;
let charts = null;
let worker = null; // the EngineSupervisor: request() goes to the live worker
let embeddings = null; // the word map and friends (embeddings.js)
let wordVectors = null; // word2vec's panel and the session's vectors (pretrain.js)
let imagesView = null; // Fashion-MNIST: test images, their predictions, the confusion matrix (images.js)
const store = new SessionStore();
let saving = true; // this run saves itself (Forget turns it off until the next Train)
let recoveryNote = null; // what the last engine restart brought back
const debugHooks = new URLSearchParams(location.search).has('debug'); // ?debug: test hooks in the worker

function setPhase(next) {
  phase = next;
  const trained = haveModel && ['ready', 'stopped', 'done', 'paused', 'training'].includes(phase);
  ui.train.disabled = !['ready', 'stopped', 'done'].includes(phase);
  ui.pause.disabled = phase !== 'training';
  ui.resume.disabled = phase !== 'paused';
  ui.stop.disabled = !['training', 'paused', 'pretraining'].includes(phase);
  ui.reset.disabled = !['ready', 'stopped', 'done', 'training', 'paused'].includes(phase);
  ui.download.disabled = !trained;
  ui.checkpointFile.disabled = !['ready', 'stopped', 'done'].includes(phase);
  ui.dataset.disabled = ['training', 'paused', 'pretraining', 'busy', 'recovering', 'starting'].includes(phase);
  ui.random.disabled = !['ready', 'stopped', 'done', 'training', 'paused', 'pretraining'].includes(phase) || !shardInfo;
  ui.continue.hidden = !(run && run.resumable && ['stopped', 'done'].includes(phase));
  ui.continue.disabled = ui.continue.hidden;
  ui.forget.disabled = !store.latest || ['busy', 'recovering', 'starting', 'loading'].includes(phase);
  document.body.dataset.phase = phase;
  diagnosis?.phaseChanged(phase, haveModel);
  imagesView?.phaseChanged(phase, haveModel);
  updateStatus();
}

// Writes text into an element only when it differs: an unchanged status line
// or score costs no DOM change, hence no style and layout work.
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

function updateStatus() {
  setText(ui.status, statusText());
}

function statusText() {
  switch (phase) {
    case 'starting':
      return 'Starting the engine…';
    case 'loading':
      return `Loading the ${items()}…`;
    case 'failed':
      return 'The playground cannot run: see the message above.';
    case 'recovering':
      return `The engine stopped. Restarting it, then loading the ${items()} and your last saved model…`;
    case 'busy':
      return 'Working…';
    case 'pretraining': {
      const pct = wordVectors?.progress ? ` (${Math.floor(wordVectors.progress.fraction * 100)}%)` : '';
      return `First the word vectors${pct}, above; then the model${state.compare ? ' from scratch, then the pretrained one' : ''}.`;
    }
    case 'ready': {
      if (!shardInfo) return 'Ready.';
      const train = shardInfo.splits?.train ?? 0;
      const test = shardInfo.splits?.test ?? 0;
      const val = Math.min(state.val_size, train);
      const rest = train - val;
      const used = state.train_size > 0 ? Math.min(state.train_size, rest) : rest; // train_size: a subset
      return `Ready: ${fmtInt(used)} ${items()} to train on, ${fmtInt(val)} to validate, ${fmtInt(test)} to test. Press Train.`;
    }
    case 'training':
    case 'paused':
    case 'stopped': {
      if (!run) return phase;
      if (phase === 'stopped' && run.diverged) return `Training diverged: ${run.diverged.message}.`;
      if (phase === 'stopped' && run.restored) return restoredText();
      const parts = [];
      const where = `epoch ${run.epoch || 1}/${run.epochs}, batch ${run.batch}/${run.batches || '?'}`;
      if (phase === 'paused') return `Paused at ${where}. Press Resume to continue.`;
      if (phase === 'stopped') return `Stopped at ${where}. Press Train to start a new run.`;
      parts.push(`Training${currentStage?.title ? ` the ${currentStage.title}` : ''}: ${where}`);
      if (run.msPerEpoch != null) parts.push(`${fmtInt(run.msPerEpoch)} ms per epoch`);
      if (run.reviewsPerSec != null) parts.push(`${fmtInt(run.reviewsPerSec)} ${items()}/s`);
      const left = timeLeft();
      if (left != null) parts.push(`about ${fmtDuration(left)} left`);
      return parts.join(' · ');
    }
    case 'done': {
      const epochs = runHistory.length;
      const parts = [`Done: ${epochs} epoch${epochs === 1 ? '' : 's'}`];
      if (run && run.totalMs != null && !run.epochOffset) parts[0] += ` in ${fmtDuration(run.totalMs)}`;
      if (run && run.imported) parts[0] = `Loaded a model trained for ${epochs} epoch${epochs === 1 ? '' : 's'}`;
      if (run && run.restored) parts[0] = restoredText();
      const last = runHistory[runHistory.length - 1];
      if (last && Number.isFinite(last.val_acc)) parts.push(`validation accuracy ${fmtPct(last.val_acc)}`);
      if (testResult) parts.push(`test accuracy ${fmtPct(testResult.acc)} (loss ${testResult.loss.toFixed(3)})`);
      else parts.push(`evaluating on the test ${items()}…`);
      if (run?.stoppedEarly) {
        const s = run.stoppedEarly;
        parts.push(`early stopping ended the run; best epoch ${s.best}${s.restored ? ', its weights restored' : ''}`);
      }
      if (referenceResult) parts.push(comparisonText());
      return parts.join(' · ');
    }
    default:
      return '';
  }
}

// A model brought back from this browser's storage (after a reload) or by
// an engine restart.
function restoredText() {
  const epochs = runHistory.length;
  const when = run.savedAt ? ` (saved ${new Date(run.savedAt).toLocaleTimeString('en-GB')})` : '';
  const what = `${epochs} of ${run.epochs} epoch${run.epochs === 1 ? '' : 's'}${when}`;
  const head = run.restored === 'crash' ? `The engine was restarted and your model is back: ${what}` : `Your model is back from this browser: ${what}`;
  if (run.resumable) return `${head}. Press Continue to train the remaining ${run.epochs - epochs}, or Train to start a new run.`;
  return head;
}

// The pretrained run against its from-scratch twin: when each first reached
// 80% validation accuracy, and their test accuracies.
function comparisonText() {
  const at = (hist) => {
    const i = hist.findIndex((h) => h && h.val_acc >= 0.8);
    return i < 0 ? `not within ${hist.length} epoch${hist.length === 1 ? '' : 's'}` : `at epoch ${i + 1}`;
  };
  const ref = referenceResult;
  const parts = [`80% validation accuracy: pretrained ${at(runHistory)}, from scratch ${at(ref.history)}`];
  if (ref.test) parts.push(`from scratch: test accuracy ${fmtPct(ref.test.acc)}`);
  return parts.join(' · ');
}

function activeMs() {
  if (!run) return 0;
  return run.activeMs + (run.segmentStart != null ? performance.now() - run.segmentStart : 0);
}

function timeLeft() {
  if (!run || !run.batches || !run.epochs) return null;
  const doneFraction = (run.epoch - 1 + run.batch / run.batches) / run.epochs;
  if (!(doneFraction > 0)) return null;
  if (run.msPerEpoch != null) return run.msPerEpoch * run.epochs * (1 - doneFraction);
  return (activeMs() * (1 - doneFraction)) / doneFraction;
}

// ---------------------------------------------------------------- controls

function renderControls() {
  for (const key of CONTROL_KEYS) {
    const el = controls[key];
    if (el.type === 'checkbox') el.checked = state[key];
    else el.value = PROPS[key].format(state[key]);
    clearFieldMessage(el);
  }
  stopwordsControl?.render();
  diagnosis?.renderSettings();
  updateRelevance();
}

// Controls that do nothing for the chosen architecture are disabled (their
// values still travel in the link); word2vec's own settings and panel show
// only when the embedding starts from word2vec.
function updateRelevance() {
  const recurrent = state.model !== 'bag';
  controls.pooling.disabled = recurrent;
  for (const key of ['layers', 'dropout', 'recurrent_dropout']) controls[key].disabled = !recurrent;
  for (const key of ['monitor', 'min_delta', 'restore_best_weights']) controls[key].disabled = state.patience === 0;
  const w2v = state.embedding_init === 'word2vec' && !isImages();
  ui.w2vFields.hidden = !w2v;
  ui.pretrainPanel.hidden = !w2v;
  syncPresetMenu();
}

// ------------------------------------------------------------- model menu

// name -> the preset's full config, from the engine (nn_config_preset):
// every preset, and those of this page's dataset (the image model's for
// Fashion-MNIST, the text models' for IMDB).
let allPresets = {};
let presetConfigs = {};

// Keys that change nothing in a config: early stopping's details without
// early stopping, word2vec's settings without word2vec. A recipe is the
// same whatever they hold, and choosing one leaves them as they are.
function idleKeys(config) {
  const idle = [];
  if (Number(config.patience) === 0) idle.push('monitor', 'min_delta', 'restore_best_weights');
  if (config.embedding_init !== 'word2vec') idle.push('w2v_epochs', 'w2v_window', 'w2v_negative', 'w2v_sample', 'w2v_lr');
  if (config.model === 'mlp') idle.push(...TEXT_ONLY_KEYS);
  return idle;
}

// The preset whose every engine setting that matters equals the page's, or
// 'custom'.
function matchingPreset() {
  for (const [name, config] of Object.entries(presetConfigs)) {
    const idle = idleKeys(config);
    const same = ENGINE_KEYS.every((k) => {
      if (!(k in config) || idle.includes(k)) return true;
      try {
        return PROPS[k].format(PROPS[k].parse(String(config[k]))) === PROPS[k].format(state[k]);
      } catch {
        return false;
      }
    });
    if (same) return name;
  }
  return 'custom';
}

function syncPresetMenu() {
  const name = Object.keys(presetConfigs).length ? matchingPreset() : isImages() ? 'tutorial-mlp' : 'tutorial-bag';
  ui.preset.value = name;
  ui.presetHint.textContent = PRESET_NOTES[name] ?? '';
}

function applyPreset(name) {
  if (!presetConfigs[name]) return;
  setPresetValues(name);
  renderControls();
  writeHash();
  ui.controlsNote.textContent =
    phase === 'training' || phase === 'paused' || phase === 'pretraining'
      ? 'The new recipe applies to the next run: press Stop, then Train.'
      : `Recipe set: ${ui.preset.selectedOptions[0]?.textContent ?? name}. Press Train.`;
  if (phase === 'ready') updateStatus();
}

ui.preset.addEventListener('change', () => {
  if (ui.preset.value === 'custom') {
    syncPresetMenu();
    return;
  }
  applyPreset(ui.preset.value);
});

// A setting changed by a control of stopwords.js or diagnosis.js: parsed,
// stored and mirrored to the hash like the form's. Returns the value.
function applySetting(key, value) {
  state[key] = PROPS[key].parse(value);
  writeHash();
  if (ENGINE_KEYS.includes(key)) {
    ui.controlsNote.textContent =
      phase === 'training' || phase === 'paused'
        ? 'New settings apply to the next run: press Stop, then Train.'
        : phase === 'stopped' || phase === 'done'
          ? 'New settings apply when you press Train.'
          : '';
    if (phase === 'ready') updateStatus();
  }
  return state[key];
}

function onControlChange(e) {
  const key = e.target.name;
  if (!CONTROL_KEYS.includes(key)) return;
  try {
    const value = PROPS[key].parse(e.target.type === 'checkbox' ? String(e.target.checked) : e.target.value);
    const tooBig = shardLimitError(key, value, shardInfo);
    if (tooBig) throw new Error(tooBig);
    state[key] = value;
    updateRelevance();
    clearFieldMessage(e.target);
    ui.controlsNote.textContent =
      phase === 'training' || phase === 'paused'
        ? 'New settings apply to the next run: press Stop, then Train.'
        : phase === 'stopped' || phase === 'done'
          ? 'New settings apply when you press Train.'
          : '';
    writeHash();
    if (phase === 'ready') updateStatus();
  } catch (err) {
    showFieldMessage(e.target, `${e.target.labels[0]?.textContent || key} ${err.message}; keeping ${PROPS[key].format(state[key])}.`);
  }
}

ui.form.addEventListener('change', onControlChange);
$('btn-defaults').addEventListener('click', () => {
  for (const key of ENGINE_KEYS) state[key] = PROPS[key].def;
  if (isImages()) setPresetValues('tutorial-mlp');
  renderControls();
  writeHash();
  ui.controlsNote.textContent = 'Settings restored to the Keras tutorial’s recipe.';
  if (phase === 'ready') updateStatus();
});

// Sets the state to a preset's values (keys that change nothing for it are
// left alone); false when the engine's presets are not known.
function setPresetValues(name) {
  const config = allPresets[name];
  if (!config) return false;
  const idle = idleKeys(config);
  for (const key of ENGINE_KEYS) {
    if (!(key in config) || idle.includes(key)) continue;
    try {
      state[key] = PROPS[key].parse(String(config[key]));
    } catch {
      state[key] = PROPS[key].def;
    }
  }
  return true;
}

// The dataset menu: another dataset is another page load (its shard, its
// recipe, its saved model), as a changed shard in the link is.
ui.dataset.addEventListener('change', () => {
  const next = ui.dataset.value;
  if (next === state.dataset) return;
  try {
    state.dataset = PROPS.dataset.parse(next);
  } catch {
    ui.dataset.value = state.dataset;
    return;
  }
  for (const key of ENGINE_KEYS) state[key] = PROPS[key].def;
  if (isImages() && !setPresetValues('tutorial-mlp')) state.model = 'mlp';
  writeHash();
  ui.controlsNote.textContent = `Loading ${isImages() ? 'Fashion-MNIST' : 'the IMDB reviews'}…`;
  location.reload();
});

// A page on Fashion-MNIST trains the image model, one on IMDB a text model:
// a link (or the defaults) with the other kind gets its dataset's recipe,
// except for the settings the link gave ("#dataset=fashion&epochs=1" is the
// image recipe for one epoch).
function ensureDatasetModel() {
  if (isImages() === (state.model === 'mlp')) return;
  const given = Object.fromEntries([...hashKeys].filter((k) => ENGINE_KEYS.includes(k)).map((k) => [k, state[k]]));
  for (const key of ENGINE_KEYS) state[key] = PROPS[key].def;
  if (isImages()) setPresetValues('tutorial-mlp');
  Object.assign(state, given);
  state.model = isImages() ? 'mlp' : PROPS.model.def;
  renderControls();
  writeHash();
}

// What the page shows for its dataset: <html data-dataset> hides the other
// dataset's controls and panels (style.css, [data-for]; dataset-early.js
// marks it before the first paint); the menus offer the dataset's models.
function setUpDatasetView() {
  document.documentElement.dataset.dataset = state.dataset;
  ui.dataset.value = state.dataset;
  for (const el of document.querySelectorAll('.items')) el.textContent = items();
  if (!isImages()) {
    for (const o of controls.model.options) if (o.value === 'mlp') o.remove();
    return;
  }
  const option = (value, text) => {
    const o = document.createElement('option');
    o.value = value;
    o.textContent = text;
    return o;
  };
  ui.preset.replaceChildren(option('tutorial-mlp', 'Dense network (Keras basic classification)'), option('custom', 'Custom settings'));
  controls.model.replaceChildren(option('mlp', 'dense (MLP)'));
  document.title = 'Fashion-MNIST playground: watch a neural network learn to see';
}
ui.form.addEventListener('submit', (e) => e.preventDefault());

window.addEventListener('hashchange', () => {
  const oldShard = state.shard;
  const oldDataset = state.dataset;
  const notes = readHash();
  showHashNotes(notes);
  if (state.shard !== oldShard || state.dataset !== oldDataset) {
    location.reload();
    return;
  }
  renderControls();
  embeddings?.renderControls();
  writeHash();
  if (phase === 'ready') updateStatus();
});

function showHashNotes(notes) {
  ui.hashNote.hidden = notes.length === 0;
  ui.hashNote.textContent = notes.length ? `Some settings in the link were not used: ${notes.join('; ')}.` : '';
}

// ------------------------------------------------------------------ training

// A config the worker can set up now: a word2vec model needs this visit's
// vectors for its settings, so until Train has learned them the page's
// model starts from a random embedding.
function configurableNow(config = engineConfig()) {
  if (config.embedding_init === 'word2vec' && !wordVectors?.has(config)) return { ...config, embedding_init: 'uniform' };
  return config;
}

async function configureModel(wanted = configurableNow()) {
  let config;
  try {
    config = await worker.request('configure', wanted);
  } catch (err) {
    // A setting the engine refused (one that does not fit the shard, say)
    // is shown at its control too.
    const key = settingOfMessage(err.message, CONTROL_KEYS);
    if (key) showFieldMessage(controls[key], err.message);
    throw err;
  }
  haveModel = true;
  engineInForce = config;
  diagnosis.modelChanged();
  imagesView?.modelChanged();
  return config;
}

// A press of Train runs one or more stages: with word2vec, first the word
// vectors (if this visit has none for these settings), then, to compare, the
// same model from scratch (its curves then stay on the charts, dashed), and
// last the model itself, which is the one the page keeps.
let stages = []; // runs still to do: {label, title, reference, config}
let currentStage = null;
let referenceResult = null; // {history, test} of the finished from-scratch twin

function corpusUrl() {
  return new URL('imdb-unsup.shard', new URL(state.shard, location.href)).href;
}

async function startTraining() {
  if (!['ready', 'stopped', 'done'].includes(phase)) return;
  setPhase('busy');
  charts.clear();
  charts.clearReference();
  charts.setRunLabel('');
  runHistory = [];
  testResult = null;
  referenceResult = null;
  currentStage = null;
  const config = engineConfig();
  stages = [];
  try {
    if (config.embedding_init === 'word2vec' && !isImages()) {
      setPhase('pretraining');
      await wordVectors.ensure(config, corpusUrl());
      if (state.compare)
        stages.push({
          label: 'from scratch', title: 'model from scratch (1 of 2)', reference: true,
          config: { ...config, embedding_init: 'uniform' },
        });
      stages.push({ label: state.compare ? 'pretrained' : '', title: `pretrained model${state.compare ? ' (2 of 2)' : ''}`, reference: false, config });
    } else {
      stages.push({ label: '', title: '', reference: false, config });
    }
    await startStage();
  } catch (err) {
    stages = [];
    if (err.stopped) {
      setPhase(haveModel ? 'stopped' : 'ready');
      announce('Stopped.');
      return;
    }
    showError(`Training could not start: ${err.message}`);
    setPhase(haveModel ? 'stopped' : 'ready');
  }
}

async function startStage() {
  const stage = stages.shift();
  currentStage = stage;
  setPhase('busy');
  charts.clear();
  charts.setRunLabel(stage.label);
  runHistory = [];
  testResult = null;
  const config = await configureModel(stage.config);
  embeddings?.onNewRun(config);
  const epochs = Number(config?.epochs) || state.epochs;
  run = {
    epochs,
    epoch: 1,
    batch: 0,
    batches: 0,
    activeMs: 0,
    segmentStart: performance.now(),
    msPerEpoch: null,
    reviewsPerSec: null,
    totalMs: null,
  };
  saving = true;
  clearFieldMessage(controls.lr);
  setPhase('training');
  await worker.request('train', { pace: state.pace, checkpoints: true });
  announce(`Training${stage.title ? ` the ${stage.title}` : ''} started: ${epochs} epochs.`);
  explainCurrent();
}

function pauseRun() {
  if (!run || run.segmentStart == null) return;
  run.activeMs += performance.now() - run.segmentStart;
  run.segmentStart = null;
}

async function control(type) {
  const before = phase;
  try {
    const reply = await worker.request(type, {});
    if (type === 'pause' && phase === 'training') {
      pauseRun();
      setPhase('paused');
      announce('Paused.');
    } else if (type === 'resume' && phase === 'paused') {
      if (run) run.segmentStart = performance.now();
      setPhase('training');
      announce('Training resumed.');
    } else if (type === 'stop' && (phase === 'training' || phase === 'paused')) {
      stages = [];
      pauseRun();
      setPhase('stopped');
      announce('Stopped.');
      embeddings?.onStopped();
      saveSession('stopped');
    }
    return reply;
  } catch (err) {
    showError(`Could not ${type} (while ${before}): ${err.message}`);
    return null;
  }
}

async function resetModel() {
  if (phase === 'pretraining') await wordVectors.stop().catch(() => {});
  if (phase === 'training' || phase === 'paused') await control('stop');
  stages = [];
  currentStage = null;
  referenceResult = null;
  setPhase('busy');
  charts.clear();
  charts.clearReference();
  charts.setRunLabel('');
  runHistory = [];
  testResult = null;
  run = null;
  embeddings?.reset();
  try {
    await configureModel();
    announce('Reset: a freshly initialised model.');
  } catch (err) {
    showError(`Could not set up the model: ${err.message}`);
  }
  setPhase('ready');
  explainCurrent();
}

function onEngineEvent(type, raw) {
  const data = run && run.epochOffset ? shiftEpochs(type, raw, run) : raw;
  switch (type) {
    case 'shardProgress':
      showShardProgress(data.loaded, data.total);
      break;
    case 'batch':
      if (!run) return;
      run.epoch = data.epoch;
      run.batch = data.batch;
      run.batches = data.batches;
      charts.addBatch(data);
      scheduleStatus();
      break;
    case 'epoch':
      if (!run) return;
      runHistory[data.epoch - 1] = { loss: data.loss, acc: data.acc, val_loss: data.val_loss, val_acc: data.val_acc };
      run.epoch = data.epoch;
      run.batch = run.batches;
      if (Number.isFinite(data.ms)) {
        run.msPerEpoch = data.ms;
        (run.epochTimes ??= [])[data.epoch - 1] = data.ms;
      }
      if (Number.isFinite(data.reviewsPerSec)) run.reviewsPerSec = data.reviewsPerSec;
      charts.addEpoch(data);
      diagnosis.epochDone(data);
      scheduleStatus();
      rescoreSoon(); // the weights changed: re-score the typed review
      if (data.checkpoint) saveSession('training', data.checkpoint);
      break;
    case 'done':
      pauseRun();
      if (run) run.totalMs = Number.isFinite(data.ms) ? data.ms : activeMs();
      if (Array.isArray(data.history)) {
        runHistory = data.history.map(normaliseEpoch);
        charts.setHistory(runHistory, { keepBatches: true });
      }
      testResult = data.test && Number.isFinite(data.test.acc) ? { loss: data.test.loss, acc: data.test.acc } : null;
      if (run) run.resumable = false;
      if (run && isImages() && data.stoppedEarly) {
        // (On the review page the word panel marks it, embeddings.js.)
        const restored = engineInForce?.restore_best_weights !== false;
        run.stoppedEarly = { after: runHistory.length, best: data.bestEpoch, restored };
        charts.setMarks([{ x: runHistory.length, label: `early stopping: ended after ${runHistory.length}`, color: '#b45309', dash: [2, 3] }]); // embeddings.js's colour for it
      }
      if (currentStage?.reference && stages.length) {
        // The from-scratch twin is done: keep its curves, train the next.
        referenceResult = { history: runHistory, test: testResult };
        charts.setReference(runHistory, currentStage.label);
        startStage().catch((err) => {
          stages = [];
          showError(`Training could not start: ${err.message}`);
          setPhase(haveModel ? 'stopped' : 'ready');
        });
        break;
      }
      setPhase('done');
      announce(statusText());
      explainCurrent();
      diagnosis.trainingDone(runHistory);
      imagesView?.trainingDone();
      if (data.checkpoint) saveSession('done', data.checkpoint);
      break;
    case 'trainError':
      pauseRun();
      if (data.diverged && run) {
        onDivergence(data);
        break;
      }
      showError(`Training stopped: ${data.message || 'the engine reported an error'}`);
      setPhase('stopped');
      embeddings?.onStopped();
      break;
    default:
      // Word vectors' events go to their panel; an event this page does not
      // know is not an error: newer workers may add some.
      wordVectors?.handleEvent(type, data);
      break;
  }
  // The word map's snapshots live in the worker, numbered by its own run:
  // it gets the events as the worker sent them.
  embeddings?.onEngineEvent(type, raw);
}

// A NaN or infinite loss: the engine has stopped and gone back to the last
// good weights (they still score reviews). The curves get a mark, the status
// line the engine's advice, the learning rate a hint; the model is saved.
function onDivergence(data) {
  run.diverged = { message: data.message, x: data.x, epoch: data.epoch, batch: data.batch };
  run.resumable = false;
  charts.markDivergence(data.x);
  const lr = state.lr;
  const lower = lr / 10;
  showFieldMessage(controls.lr, `Training diverged at ${lr} with ${state.optimizer === 'sgd' ? 'SGD' : 'Adam'}: try ${lower} or lower.`, { hint: true });
  setPhase('stopped');
  announce(statusText());
  explainCurrent();
  if (data.checkpoint) saveSession('diverged', data.checkpoint);
}

// A run continued from a restored model trains the remaining epochs as a new
// engine run; its epochs and batch positions are shifted to follow the
// restored ones, and its history is appended to theirs.
function shiftEpochs(type, data, r) {
  const off = r.epochOffset;
  const d = { ...data };
  if (typeof d.epoch === 'number') d.epoch += off;
  if (typeof d.x === 'number') d.x += off;
  if (Array.isArray(d.points)) d.points = d.points.map((p) => ({ ...p, x: p.x + off }));
  if (type === 'done' && Array.isArray(d.history)) d.history = r.baseHistory.concat(d.history);
  // Epoch weights the worker keeps for the diagnosis are numbered by its own
  // run, so a continued run offers none (the current weights still work).
  if ('weightsKept' in d) d.weightsKept = false;
  return d;
}

// Epoch values can arrive as null where the engine had NaN (no validation set).
function normaliseEpoch(h) {
  const n = (v) => (typeof v === 'number' ? v : NaN);
  return { loss: n(h.loss), acc: n(h.acc), val_loss: n(h.val_loss), val_acc: n(h.val_acc) };
}

// The status line follows events at most once per STATUS_MS, in an
// animation frame: at full speed its batch counter would otherwise change
// (and the line be laid out and painted again) every frame. Phase changes
// still write it at once (setPhase).
const STATUS_MS = 200;
let statusFrame = 0;
let statusTimer = 0;
let lastStatus = -Infinity;
function scheduleStatus() {
  if (statusFrame || statusTimer) return;
  const draw = () => {
    statusTimer = 0;
    statusFrame = requestAnimationFrame(() => {
      statusFrame = 0;
      lastStatus = performance.now();
      updateStatus();
    });
  };
  const wait = lastStatus + STATUS_MS - performance.now();
  if (wait <= 0) draw();
  else statusTimer = setTimeout(draw, wait);
}
// Keep "time left" ticking between events while training.
setInterval(() => {
  if (phase === 'training') scheduleStatus();
}, 1000);

ui.train.addEventListener('click', startTraining);
ui.pause.addEventListener('click', () => control('pause'));
ui.resume.addEventListener('click', () => control('resume'));
ui.stop.addEventListener('click', () => (phase === 'pretraining' ? wordVectors.stop() : control('stop')));
ui.reset.addEventListener('click', resetModel);

// -------------------------------------------------------------- checkpoints

ui.download.addEventListener('click', async () => {
  try {
    const { bytes } = await worker.request('exportCheckpoint', {});
    const blob = new Blob([bytes], { type: 'application/octet-stream' });
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = isImages() ? `fashion-mlp-${runHistory.length}ep.nnckpt` : `imdb-sentiment-${runHistory.length}ep-v${state.vocab_size}.nnckpt`;
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
  const previous = phase;
  setPhase('busy');
  try {
    // Read as bytes and handed to the engine's checkpoint reader, which
    // checks magic, version, sizes and CRC: a file is never run or shown.
    const bytes = await file.arrayBuffer();
    const kept = bytes.slice(0); // the transfer below empties `bytes`
    const { config, history: hist } = await worker.request('importCheckpoint', { bytes }, [bytes]);
    haveModel = true;
    engineInForce = config;
    const notes = [];
    for (const key of ENGINE_KEYS) {
      if (!config || !(key in config)) continue;
      try {
        state[key] = PROPS[key].parse(String(config[key]));
      } catch (err) {
        notes.push(`${key} ${err.message}`);
      }
    }
    if (notes.length) showError(`The model file has settings this page cannot show: ${notes.join('; ')}.`);
    renderControls();
    writeHash();
    runHistory = Array.isArray(hist) ? hist.map(normaliseEpoch) : [];
    charts.setHistory(runHistory);
    testResult = null;
    run = { imported: true, epochs: runHistory.length, epoch: runHistory.length, batch: 0, batches: 0, activeMs: 0 };
    diagnosis.modelChanged();
    imagesView?.modelChanged();
    setPhase('done');
    embeddings?.onImported(runHistory);
    diagnosis.trainingDone(runHistory);
    announce(`Loaded ${file.name}.`);
    explainCurrent();
    const test = await worker.request('evaluate', { split: 'test' });
    testResult = { loss: test.loss, acc: test.acc };
    updateStatus();
    saving = true;
    saveSession('imported', kept);
  } catch (err) {
    showError(`Could not load the model file “${file.name}”: ${err.message}`);
    setPhase(previous === 'busy' ? 'ready' : previous);
  } finally {
    ui.checkpointFile.value = '';
  }
});

// ------------------------------------------------- saving and restoring
//
// The session (model bytes, history, curves, settings) is saved in IndexedDB
// at epoch ends (the worker sends the bytes with an epoch event, at most once
// a second), when a run ends, stops or diverges, and when a model file is
// loaded. A reload brings it back; so does an engine restart, from the newest
// record in memory.

// status: 'training' | 'stopped' | 'done' | 'diverged' | 'imported';
// checkpoint: the model's bytes, or undefined to ask the worker for them.
async function saveSession(status, checkpoint) {
  if (!saving || !run) return;
  const r = run;
  try {
    const bytes = checkpoint || (await worker.request('exportCheckpoint', {})).bytes;
    if (r !== run) return; // a new run started meanwhile
    const line = charts.batchLine(); // the charts' own arrays: only read here
    const batches = { x: [], loss: [], acc: [] };
    const step = Math.max(1, Math.ceil(line.loss.length / 20000)); // at most ~20,000 points
    for (let i = 0; i < line.loss.length; i += step) {
      batches.x.push(line.loss[i].x);
      batches.loss.push(line.loss[i].y);
      batches.acc.push(line.acc[i]?.y ?? NaN);
    }
    store.save({
      settings: { ...state },
      config: engineInForce,
      dataset: state.dataset,
      checkpoint: bytes,
      history: runHistory.map((h) => ({ ...h })),
      batches,
      test: testResult,
      epochsTotal: run.epochs,
      status,
      divergence: run.diverged ? { x: run.diverged.x, message: run.diverged.message } : null,
    });
    showSaved();
  } catch (err) {
    // Not worth an alert: the model itself is fine; the note says so.
    ui.savedNote.textContent = `Not saved in this browser: ${err.message}.`;
  }
}

function showSaved(record = store.latest) {
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
  ui.forget.disabled = !store.latest || ['busy', 'recovering', 'starting', 'loading'].includes(phase);
}
store.onChange = () => showSaved();

ui.forget.addEventListener('click', async () => {
  saving = false; // until the next Train or model file
  try {
    await store.clear();
    announce('The saved model was removed from this browser.');
  } catch (err) {
    showError(`Could not remove the saved model: ${err.message}`);
  }
  showSaved(null);
  if (run && run.resumable) {
    run.resumable = false;
    setPhase(phase);
  }
});

// Gives worker w the model of a saved record (its checkpoint); resolves
// with {config, history}.
function loadRecord(w, record) {
  return w.request('importCheckpoint', { bytes: record.checkpoint.slice(0) });
}

// Puts a saved record on the page: the worker must already hold its model
// (importCheckpoint). how: 'reload' or 'crash'.
function showRestored(record, config, how) {
  haveModel = true;
  engineInForce = config;
  imagesView?.modelChanged();
  runHistory = record.history.map(normaliseEpoch);
  testResult = record.test && Number.isFinite(record.test.acc) ? { ...record.test } : null;
  const epochs = Math.max(record.epochsTotal || 0, runHistory.length);
  const diverged = record.divergence ? { ...record.divergence } : null;
  const resumable = !diverged && ['training', 'stopped'].includes(record.status) && runHistory.length < epochs;
  run = {
    restored: how, savedAt: record.savedAt, resumable, diverged: null,
    epochs, epoch: runHistory.length, batch: 0, batches: 0, activeMs: 0, totalMs: null,
  };
  charts.setHistory(runHistory);
  charts.setBatches(record.batches);
  if (diverged) {
    run.diverged = diverged;
    charts.markDivergence(diverged.x);
  }
  setPhase(diverged || resumable ? 'stopped' : 'done');
  explainCurrent();
  if (phase === 'done' && !testResult) {
    const r = run;
    worker.request('evaluate', { split: 'test' }).then((test) => {
      if (r !== run) return;
      testResult = { loss: test.loss, acc: test.acc };
      updateStatus();
    }, () => {});
  }
}

// The settings of a saved record, through the state table (so a damaged or
// foreign value falls back to its default like a bad link would).
function applySavedSettings(settings) {
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
async function continueTraining() {
  if (!run || !run.resumable) return;
  const done = runHistory.length;
  const remaining = run.epochs - done;
  setPhase('busy');
  try {
    const { params } = await worker.request('snapshot', {});
    // (A word2vec model whose vectors this worker lacks, after a restart,
    // is set up from a random embedding: the weights come back just below.)
    const config = await worker.request('configure', configurableNow({ ...engineConfigOf(engineInForce), epochs: remaining }));
    await worker.request('restore', { params }, [params.buffer]);
    engineInForce = { ...config, epochs: run.epochs };
    run = {
      epochs: run.epochs, epoch: done + 1, batch: 0, batches: 0, activeMs: 0,
      segmentStart: performance.now(), msPerEpoch: null, reviewsPerSec: null, totalMs: null,
      epochOffset: done, baseHistory: runHistory.map((h) => ({ ...h })),
    };
    testResult = null;
    saving = true;
    setPhase('training');
    await worker.request('train', { pace: state.pace, checkpoints: true });
    announce(`Training continues: epochs ${done + 1} to ${run.epochs}.`);
  } catch (err) {
    showError(`Could not continue training: ${err.message}`);
    setPhase('stopped');
  }
}
ui.continue.addEventListener('click', continueTraining);

// The engine's config without the keys it reports but does not take back.
function engineConfigOf(config) {
  const out = {};
  for (const [k, v] of Object.entries(config || {})) if (v !== null) out[k] = v;
  return out;
}

// ----------------------------------------------------------- type a review

// Only the newest text matters: while a request is in flight, keystrokes just
// replace `wantedText`; when the reply comes back the newest text (if any)
// is sent. Stale texts are never queued.
let explainInFlight = false;
let wantedText = null;

// While training, the typed review is re-scored after each epoch, but at
// most once per RESCORE_MS (at full speed an epoch ends every ~15 ms, far
// faster than anyone reads a score); the last epoch's weights are always
// scored, by the trailing call. A waiting re-score counts as busy.
const RESCORE_MS = 200;
let rescoreTimer = 0;
let lastRescore = -Infinity;

function rescoreSoon() {
  if (rescoreTimer) return;
  const rescore = () => {
    rescoreTimer = 0;
    lastRescore = performance.now();
    explainCurrent();
  };
  const wait = lastRescore + RESCORE_MS - performance.now();
  if (wait <= 0) rescore();
  else rescoreTimer = setTimeout(rescore, wait);
}

function explainCurrent() {
  if (isImages()) {
    // The image view's predictions instead of the review box's score.
    imagesView?.refresh();
    return;
  }
  wantedText = ui.reviewText.value;
  pumpExplain();
}

async function pumpExplain() {
  if (explainInFlight || wantedText === null || !haveModel || !worker) return;
  const text = wantedText;
  wantedText = null;
  if (text.trim() === '') {
    renderEmptyScore();
    return;
  }
  explainInFlight = true;
  try {
    const limits = { vocabSize: engineInForce?.vocab_size ?? state.vocab_size, maxlen: engineInForce?.maxlen ?? state.maxlen, truncating: engineInForce?.truncating ?? state.truncating };
    if (text.length > MAX_COLOURED_CHARS) {
      // Scored whole, not coloured: see input-checks.js.
      const reply = await worker.request('predict', { text });
      lastExplain = { text: null, length: text.length, score: reply.score, tokens: [], coloured: false };
      renderExplanation('', { score: reply.score, tokens: [] });
      showReviewNote(reviewNote(text, null, limits));
    } else {
      const reply = await worker.request('explain', { text });
      lastExplain = { text, length: text.length, score: reply.score, tokens: reply.tokens || [], coloured: true };
      renderExplanation(text, reply);
      showReviewNote(reviewNote(text, reply.tokens || [], limits));
    }
  } catch (err) {
    if (phase !== 'recovering') showError(`Could not score the review: ${err.message}`);
  } finally {
    explainInFlight = false;
    pumpExplain();
  }
}

function showReviewNote(text) {
  ui.reviewNote.textContent = text;
  ui.reviewNote.hidden = !text;
}

// What #words holds: the text and token spans it was built for, and the
// word elements, so a new score of the same text (after every epoch while
// training) recolours the words in place instead of rebuilding them.
let shownWords = null;

function renderEmptyScore() {
  lastExplain = null;
  showReviewNote('');
  setText(ui.scoreText, 'Type a review (or pick a random one) to see its score.');
  ui.scoreBar.style.setProperty('--score', '0.5');
  ui.scoreBar.dataset.label = '';
  if (ui.words.firstChild) ui.words.replaceChildren();
  if (ui.topWords.firstChild) ui.topWords.replaceChildren();
  shownWords = null;
}

// A word's colour class, strength and tooltip, written only where changed.
function styleWord(el, t, maxAbs) {
  const c = Number.isFinite(t.contribution) ? t.contribution : 0;
  const cls = `word ${t.id === -1 ? 'stop' : c > 0 ? 'pos' : c < 0 ? 'neg' : 'zero'}`;
  const strength = maxAbs > 0 ? (Math.abs(c) / maxAbs).toFixed(3) : '0';
  const title = t.id === -1 ? 'stop word: removed before scoring' : `${c >= 0 ? '+' : '−'}${Math.abs(c).toFixed(4)}`;
  if (el.className !== cls) el.className = cls;
  if (el.style.getPropertyValue('--strength') !== strength) el.style.setProperty('--strength', strength);
  if (el.title !== title) el.title = title;
}

function renderExplanation(text, { score, tokens = [] }) {
  const label = score >= 0.5 ? 'positive' : 'negative';
  setText(ui.scoreText, `Score ${score.toFixed(3)}: ${label} (${fmtPct(score >= 0.5 ? score : 1 - score)} sure)`);
  ui.scoreBar.style.setProperty('--score', String(Math.min(1, Math.max(0, score))));
  ui.scoreBar.dataset.label = label;

  // The text, with each token's span wrapped; gaps stay plain text nodes.
  const sorted = tokens
    .filter((t) => Number.isInteger(t.start) && Number.isInteger(t.end) && t.start < t.end && t.end <= text.length)
    .sort((a, b) => a.start - b.start);
  const spans = [];
  for (const t of sorted) if (!spans.length || t.start >= spans[spans.length - 1].end) spans.push(t);
  const maxAbs = spans.reduce((m, t) => Math.max(m, Math.abs(t.contribution) || 0), 0);
  const key = spans.map((t) => `${t.start}-${t.end}`).join(',');
  if (shownWords && shownWords.text === text && shownWords.key === key) {
    spans.forEach((t, i) => styleWord(shownWords.elements[i], t, maxAbs));
  } else {
    const frag = document.createDocumentFragment();
    const elements = [];
    let pos = 0;
    for (const t of spans) {
      if (t.start > pos) frag.append(document.createTextNode(text.slice(pos, t.start)));
      const word = document.createElement('span');
      word.textContent = text.slice(t.start, t.end);
      styleWord(word, t, maxAbs);
      frag.append(word);
      elements.push(word);
      pos = t.end;
    }
    if (pos < text.length) frag.append(document.createTextNode(text.slice(pos)));
    ui.words.replaceChildren(frag);
    shownWords = { text, key, elements };
  }

  // The strongest words each way, as text, for readers who cannot see colour.
  const describe = (list) => list.map((t) => `${text.slice(t.start, t.end)} (${t.contribution >= 0 ? '+' : '−'}${Math.abs(t.contribution).toFixed(3)})`).join(', ');
  const pos3 = spans.filter((t) => t.contribution > 0).sort((a, b) => b.contribution - a.contribution).slice(0, 3);
  const neg3 = spans.filter((t) => t.contribution < 0).sort((a, b) => a.contribution - b.contribution).slice(0, 3);
  const parts = [];
  if (pos3.length) parts.push(`Most positive: ${describe(pos3)}.`);
  if (neg3.length) parts.push(`Most negative: ${describe(neg3)}.`);
  setText(ui.topWords, parts.join(' '));
}

ui.reviewText.addEventListener('input', () => {
  ui.trueLabel.textContent = '';
  explainCurrent();
});

ui.random.addEventListener('click', async () => {
  try {
    const r = await worker.request('review', { split: 'test' });
    ui.reviewText.value = r.text;
    const stars = r.rating ? `, ${r.rating}/10 stars` : '';
    ui.trueLabel.textContent = `True label: ${r.label === 1 ? 'positive' : r.label === 0 ? 'negative' : 'none'}${stars} (test review ${r.reviewId}).`;
    explainCurrent();
  } catch (err) {
    showError(`Could not fetch a test review: ${err.message}`);
  }
});

// ------------------------------------------------------------------ startup

function showShardProgress(loaded, total) {
  if (total > 0) {
    ui.shardProgress.max = total;
    ui.shardProgress.value = Math.min(loaded, total);
    ui.shardDetail.textContent = `${fmtBytes(loaded)} of ${fmtBytes(total)}`;
  } else {
    ui.shardProgress.removeAttribute('value');
    ui.shardDetail.textContent = `${fmtBytes(loaded)}`;
  }
}

function explainShardFailure(url, message) {
  let what;
  const file = isImages() ? 'image file' : 'review file';
  if (/\b404\b|not found/i.test(message)) {
    what = isImages()
      ? `The ${file} ${url} is not there yet. It is not downloaded: it is built on your machine from Debian's dataset-fashion-mnist package.`
      : `The ${file} ${url} is not there yet. It is not downloaded: it is built on your machine from the IMDB archive.`;
  } else if (/checksum|corrupt|truncat|damaged|magic|not a shard/i.test(message)) {
    what = `The ${file} ${url} is damaged or incomplete, so the engine refused it.`;
  } else if (/version/i.test(message)) {
    what = `The ${file} ${url} was built by a different version of the engine.`;
  } else {
    what = `The ${file} ${url} could not be loaded.`;
  }
  ui.shardLabel.textContent = `The ${items()} could not be loaded.`;
  ui.shardProgress.hidden = true;
  ui.shardDetail.textContent = '';
  ui.shardHelpWhat.textContent = what;
  ui.shardHelp.hidden = false;
  showError(`Could not load ${url}: ${message}`);
}

// The diagnosis panel and the stop-word control: their own modules, given
// what they need from the page.
let diagnosis = null;
let stopwordsControl = null;

function openReview(text, trueLabel) {
  ui.reviewText.value = text;
  ui.trueLabel.textContent = trueLabel || '';
  explainCurrent();
  ui.reviewText.scrollIntoView({ block: 'center' });
  ui.reviewText.focus({ preventScroll: true });
}

// Whether the link itself carried settings (they then win over saved ones).
const linkHadSettings = location.hash.replace(/^#/, '') !== '';

async function start() {
  const context = {
    state,
    applySetting,
    request: (type, data, transfer) => worker.request(type, data, transfer),
    openReview,
    announce,
    showError,
    fmtInt,
    fmtPct,
    fmtDuration,
  };
  showHashNotes(readHash());
  store.key = isImages() ? 'fashion' : 'current'; // each dataset keeps its own saved model
  setUpDatasetView();
  // The diagnosis panel reads reviews; an image model gets the image view's
  // confusion matrix instead (the panel is hidden, its hooks do nothing).
  diagnosis = isImages() ? imageDiagnosisStub() : createDiagnosis(context);
  stopwordsControl = createStopwordsControl(context);
  renderControls();
  writeHash();
  renderEmptyScore();
  ui.scoreText.textContent = 'The score appears here once the model is ready.';
  try {
    charts = new TrainingCharts($('chart-loss'), $('chart-acc'));
  } catch (err) {
    showError(err.message);
    setPhase('failed');
    return;
  }

  setPhase('starting');
  worker = new EngineSupervisor({
    url: new URL('./worker.js', import.meta.url),
    onEvent: onEngineEvent,
    setUp: setUpAfterCrash,
    onCrash: onEngineCrash,
    onRecovered: onEngineRecovered,
    onGiveUp: (why) => {
      showError(`The engine stopped: ${why}. Reload the page to start again. (If web/engine/ is missing, build it with scripts/build-wasm.sh.)`);
      haveModel = false;
      setPhase('failed');
    },
  });

  if (isImages()) {
    imagesView = new ImagesView({
      $, announce, showError, fmtPct,
      request: (type, data, transfer) => worker.request(type, data, transfer),
      haveModel: () => haveModel,
      phase: () => phase,
    });
  } else {
    try {
      embeddings = new EmbeddingsView({ worker, charts, state, setSetting, announce, showError, $ });
      embeddings.renderControls();
    } catch (err) {
      showError(`The word map cannot run: ${err.message}`);
    }
  }

  wordVectors = new WordVectors(
    worker,
    { status: $('pretrain-status'), progress: $('pretrain-progress'), neighbours: $('pretrain-neighbours') },
    () => {
      if (phase === 'pretraining') scheduleStatus();
    },
  );

  try {
    const info = await worker.request('init', { debug: debugHooks });
    ui.engineVersion.textContent = info && info.version != null ? String(info.version) : 'loaded';
    stopwordsControl.engineReady();
    const { presets } = await worker.request('presets', {});
    allPresets = Object.fromEntries(presets.map((p) => [p.name, p.config]));
    presetConfigs = Object.fromEntries(presets.filter((p) => (p.config.model === 'mlp') === isImages()).map((p) => [p.name, p.config]));
    ensureDatasetModel();
    syncPresetMenu();
  } catch (err) {
    if (!worker.dead) {
      showError(`The engine could not start: ${err.message}. If web/engine/ is missing, build it with scripts/build-wasm.sh.`);
      setPhase('failed');
    }
    return;
  }

  setPhase('loading');
  ui.shardLabel.textContent = `Loading the ${items()} (${datasetPath()})`;
  try {
    shardInfo = await worker.request(isImages() ? 'loadImageShard' : 'loadShard', { url: datasetUrl() });
  } catch (err) {
    if (!worker.dead) {
      explainShardFailure(datasetPath(), err.message);
      setPhase('failed');
    }
    return;
  }
  showShardLoaded();
  imagesView?.setInfo(shardInfo);
  const splits = shardInfo.splits || {};
  if (splits.train > 0) controls.val_size.max = String(splits.train - 1);
  if (splits.train > 0) controls.train_size.max = String(splits.train - 1);
  if (shardInfo.vocab_size > 0) controls.vocab_size.max = String(shardInfo.vocab_size);
  if (shardInfo.max_tokens > 0) controls.maxlen.max = String(shardInfo.max_tokens);

  if (await restoreSaved()) {
    worker.arm();
    return;
  }
  try {
    await configureModel();
  } catch (err) {
    showError(`The settings do not fit this shard: ${err.message}`);
  }
  worker.arm();
  setPhase('ready');
  showSaved();
  announce(`${isImages() ? 'Images' : 'Reviews'} loaded. Ready to train.`);
  explainCurrent();
}

// The shard of the page's dataset: the link's shard for IMDB, fashion.shard
// beside it for Fashion-MNIST.
function datasetPath() {
  return isImages() ? state.shard.replace(/[^/]*$/, 'fashion.shard') : state.shard;
}
function datasetUrl() {
  return new URL(datasetPath(), location.href).href;
}

function showShardLoaded() {
  const splits = shardInfo.splits || {};
  ui.shardLabel.textContent = `${isImages() ? 'Images' : 'Reviews'} loaded`;
  ui.shardProgress.max = 1;
  ui.shardProgress.value = 1;
  ui.shardDetail.textContent = isImages()
    ? `${fmtInt(splits.train || 0)} training and ${fmtInt(splits.test || 0)} test images of ${shardInfo.height} × ${shardInfo.width} pixels in ${shardInfo.classes} classes.`
    : `${fmtInt(splits.train || 0)} training and ${fmtInt(splits.test || 0)} test reviews; a vocabulary of ${fmtInt(shardInfo.vocab_size || 0)} ids.`;
  ui.shardPanel.classList.add('loaded');
}

// The diagnosis panel's hooks for an image model, which it cannot diagnose.
function imageDiagnosisStub() {
  const none = () => {};
  return { renderSettings: none, phaseChanged: none, modelChanged: none, epochDone: none, trainingDone: none, snapshot: () => null };
}

// After a reload: the session saved in this browser, if there is one and the
// engine takes its model back. Returns whether it did.
async function restoreSaved() {
  const saved = await store.load();
  if (!saved) return false;
  if (saved.error) {
    ui.savedNote.textContent = `A saved model could not be read (${saved.error}); Forget removes it.`;
    return false;
  }
  try {
    const { config } = await loadRecord(worker, saved);
    if (!linkHadSettings) applySavedSettings(saved.settings);
    showRestored(saved, config, 'reload');
    showSaved();
    announce(statusText());
    return true;
  } catch (err) {
    if (worker.dead) throw err;
    showSaved();
    ui.savedNote.textContent = `The model saved in this browser could not be loaded (${err.message}); Forget removes it.`;
    return false;
  }
}

// ------------------------------------------------------------ engine restarts

function onEngineCrash(why) {
  pauseRun();
  haveModel = false;
  recoveryNote = null;
  showError(`The engine stopped: ${why}. Restarting it…`);
  setPhase('recovering');
  announce('The engine stopped; restarting it.');
}

// Runs in the new worker: the engine, the shard, then the newest saved model
// (or a fresh one when nothing was saved yet).
async function setUpAfterCrash(w) {
  wordVectors?.reset(); // the new worker has no word vectors (nor unlabelled reviews)
  stages = [];
  await w.request('init', { debug: debugHooks });
  shardInfo = await w.request(isImages() ? 'loadImageShard' : 'loadShard', { url: datasetUrl() });
  showShardLoaded();
  const record = store.latest;
  if (record) {
    try {
      const { config } = await loadRecord(w, record);
      return { record, config };
    } catch (err) {
      if (w.dead) throw err;
      recoveryNote = `the saved model could not be loaded (${err.message})`;
    }
  }
  const config = await w.request('configure', configurableNow());
  return { record: null, config };
}

function onEngineRecovered({ record, config }, why) {
  if (record) {
    showRestored(record, config, 'crash');
    const epochs = record.history.length;
    recoveryNote = `the ${items()} and your model from epoch ${epochs} are back`;
  } else {
    haveModel = true;
    engineInForce = config;
    run = null;
    runHistory = [];
    testResult = null;
    charts.clear();
    recoveryNote = `${recoveryNote ? recoveryNote + '; ' : ''}no model had been saved yet, so a new one is ready to train`;
    setPhase('ready');
    explainCurrent();
  }
  ui.errorText.textContent = `The engine stopped (${why}) and was restarted: ${recoveryNote}.`;
  announce(`The engine was restarted: ${recoveryNote}.`);
}

// A read-only view for tests and the curious (window.__playground in the
// console). Every getter returns a copy; nothing here changes the page.
const copy = (x) => (x == null ? x : structuredClone(x));
Object.defineProperty(window, '__playground', {
  value: Object.freeze({
    get phase() {
      return phase;
    },
    get settings() {
      return { ...state };
    },
    get dataset() {
      return state.dataset;
    },
    // The Fashion-MNIST view: the shown image, its probabilities, the strip,
    // the drawn image and the confusion matrix (null on the IMDB page).
    images() {
      return imagesView ? imagesView.snapshot() : null;
    },
    get shardInfo() {
      return copy(shardInfo);
    },
    get config() {
      return copy(engineInForce);
    },
    get history() {
      return copy(runHistory);
    },
    get test() {
      return copy(testResult);
    },
    get progress() {
      return run ? { epoch: run.epoch, batch: run.batch, batches: run.batches, epochs: run.epochs } : null;
    },
    get lastRunMs() {
      return run && run.totalMs != null ? run.totalMs : null;
    },
    // The engine time of each epoch of the current run (ms), as the epoch events gave it.
    get epochTimes() {
      return run && run.epochTimes ? [...run.epochTimes] : [];
    },
    get explain() {
      return copy(lastExplain);
    },
    get explainBusy() {
      return explainInFlight || wantedText !== null || rescoreTimer !== 0;
    },
    get errors() {
      return [...errorsShown];
    },
    // What is saved in this browser ({savedAt, epochs, status, written}) or null.
    get session() {
      const r = store.latest;
      return r ? { savedAt: r.savedAt, epochs: r.history.length, status: r.status, written: store.written === r, settings: { ...r.settings } } : null;
    },
    get restarts() {
      return worker ? worker.restarts : 0;
    },
    get run() {
      return run ? { restored: run.restored ?? null, resumable: !!run.resumable, diverged: copy(run.diverged ?? null), epochOffset: run.epochOffset ?? 0 } : null;
    },
    get pretrain() {
      return wordVectors ? wordVectors.snapshot() : null;
    },
    get stage() {
      return currentStage ? { label: currentStage.label, reference: currentStage.reference, left: stages.length } : null;
    },
    get reference() {
      return copy(referenceResult);
    },
    get reviewNote() {
      return ui.reviewNote.hidden ? '' : ui.reviewNote.textContent;
    },
    charts() {
      return charts ? charts.snapshot() : null;
    },
    get diagnosis() {
      return diagnosis ? diagnosis.snapshot() : null;
    },
    embeddings() {
      return embeddings ? embeddings.snapshot() : null;
    },
  }),
  writable: false,
  configurable: false,
});

start().catch((err) => {
  showError(`The page failed to start: ${err.message}`);
  setPhase('failed');
});
