// training.js: Train, Pause, Resume, Stop and Reset, the stages of a Train
// press (word vectors, the from-scratch twin, the model), the worker's
// training events (batch, epoch, done, trainError) drawn on the charts and
// recorded in the run store (runs.js), and a divergence's advice.

import { $, ui, controls, showError, announce, page } from '../page.js';
import { CONTROL_KEYS, state, engineConfig } from '../state.js';
import { settingOfMessage, showFieldMessage, clearFieldMessage } from '../input-checks.js';
import { setPhase, statusText, activeMs, scheduleStatus } from './status.js';
import { rescoreSoon, explainCurrent } from './review.js';
import { showShardProgress, showTestAttached, showTestFailure, showTestProgress } from './shard.js';
import { dataset } from '../datasets.js';

// ------------------------------------------------------------------ training

// A config the worker can set up now: a word2vec model needs this visit's
// vectors for its settings, so until Train has learned them the page's
// model starts from a random embedding.
export function configurableNow(config = engineConfig(page.shardInfo)) {
  if (config.embedding_init === 'word2vec' && !page.wordVectors?.has(config)) return { ...config, embedding_init: 'uniform' };
  return config;
}

export async function configureModel(wanted = configurableNow()) {
  let config;
  try {
    config = await page.worker.request('configure', wanted);
  } catch (err) {
    // A setting the engine refused (one that does not fit the shard, say)
    // is shown at its control too.
    const key = settingOfMessage(err.message, CONTROL_KEYS);
    if (key) showFieldMessage(controls[key], err.message);
    throw err;
  }
  page.haveModel = true;
  page.engineInForce = config;
  page.diagnosis.modelChanged();
  page.imagesView?.modelChanged();
  page.attention?.modelChanged();
  return config;
}

// A press of Train runs one or more stages: with word2vec, first the word
// vectors (if this visit has none for these settings), then, to compare, the
// same model from scratch (its curves then stay on the charts, dashed), and
// last the model itself, which is the one the page keeps. A Transformer
// started from the pretraining panel's encoder does the same: to compare,
// first the same config without the encoder, then the one from it.

export function corpusUrl() {
  return new URL('imdb-unsup.shard', new URL(state.shard, location.href)).href;
}

// Empty charts and no run in progress: before a new run, and on Reset.
function clearRunView() {
  page.charts.clear();
  page.charts.clearReference();
  page.charts.setRunLabel('');
  page.runHistory = [];
  page.testResult = null;
  page.referenceResult = null;
  page.currentStage = null;
  page.stages = [];
}

export async function startTraining() {
  if (!['ready', 'stopped', 'done'].includes(page.phase)) return;
  setPhase('busy');
  clearRunView();
  const config = engineConfig(page.shardInfo);
  try {
    if (config.embedding_init === 'word2vec' && !dataset().images) {
      setPhase('pretraining');
      await page.wordVectors.ensure(config, corpusUrl());
      if (state.compare)
        page.stages.push({
          label: 'from scratch', title: 'model from scratch (1 of 2)', reference: true,
          config: { ...config, embedding_init: 'uniform' },
        });
      page.stages.push({ label: state.compare ? 'pretrained' : '', title: `pretrained model${state.compare ? ' (2 of 2)' : ''}`, reference: false, config });
    } else if (config.model === 'transformer' && page.mlm?.wanted(ui.preset.value)) {
      // Never the pretrained recipe from scratch: without an encoder, refuse.
      const why = page.mlm.refusal();
      if (why) throw new Error(why);
      // To compare, as with word2vec: the same config from scratch (no
      // encoder; early stopping and its restore as set) first, dashed on
      // the charts, then the model from the encoder, the one the page keeps.
      const recipe = ui.preset.value === 'transformer-pretrained';
      if (state.compare)
        page.stages.push({
          label: 'from scratch', title: 'Transformer from scratch (1 of 2)', reference: true, config,
        });
      const label = !recipe ? 'from the encoder' : state.compare ? 'pretrained' : '';
      const title = state.compare ? 'Transformer from the pretrained encoder (2 of 2)' : '';
      page.stages.push({ label, title, reference: false, config, encoder: true });
    } else {
      page.stages.push({ label: '', title: '', reference: false, config });
    }
    await startStage();
  } catch (err) {
    page.stages = [];
    if (err.stopped) {
      setPhase(page.haveModel ? 'stopped' : 'ready');
      announce('Stopped.');
      return;
    }
    showError(`Training could not start: ${err.message}`);
    setPhase(page.haveModel ? 'stopped' : 'ready');
  }
}

export async function startStage() {
  const stage = page.stages.shift();
  page.currentStage = stage;
  setPhase('busy');
  page.charts.clear();
  page.charts.setRunLabel(stage.label);
  page.runHistory = [];
  page.testResult = null;
  const config = await configureModel(stage.config);
  if (stage.encoder) await page.worker.request('useEncoder', {}); // after configure, before train
  page.embeddings?.onNewRun(config);
  beginRun(stage, config);
  const epochs = Number(config?.epochs) || state.epochs;
  page.run = {
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
  page.saving = true;
  clearFieldMessage(controls.lr);
  setPhase('training');
  await page.worker.request('train', { pace: state.pace, checkpoints: true });
  announce(`Training${stage.title ? ` the ${stage.title}` : ''} started: ${epochs} epochs.`);
  explainCurrent();
}

// ------------------------------------------------------------ the run store
// Every stage of a Train press is one run in the store (runs.js): begun
// here, an epoch per epoch event, finished at done, stop or divergence
// with the engine's best epoch, the test metrics, the wall time and, at
// done, the weights.

export function beginRun(stage, config) {
  page.runId = null;
  if (!page.runs) return;
  const recipe = ui.preset.value === 'custom' ? 'custom' : ui.preset.value;
  const r = page.runs.begin({ dataset: state.dataset, recipe: stage.label ? `${recipe} (${stage.label})` : recipe, config: { ...config } });
  page.runId = r.id;
  page.runStartedAt = performance.now();
}

export function finishRun(status, data) {
  const id = page.runId;
  if (!page.runs || id == null) return;
  const r = page.runs.get(id);
  if (!r || r.status !== 'training') return;
  const test = data.test && Number.isFinite(data.test.acc) ? { loss: data.test.loss, acc: data.test.acc } : null;
  page.runs.finish(id, {
    status, test,
    bestEpoch: Number.isInteger(data.bestEpoch) ? data.bestEpoch : r.bestEpoch ?? 0,
    stoppedEarly: data.stoppedEarly === true,
    restoredBest: data.restoredBest === true,
    wallMs: performance.now() - page.runStartedAt,
  });
  if (status === 'done' && data.checkpoint) {
    page.runs.setWeights(id, data.checkpoint.slice(0)).catch((err) => showError(`The run's weights were not kept: ${err.message}`));
  }
}

export function pauseRun() {
  if (!page.run || page.run.segmentStart == null) return;
  page.run.activeMs += performance.now() - page.run.segmentStart;
  page.run.segmentStart = null;
}

export async function control(type) {
  const before = page.phase;
  try {
    const reply = await page.worker.request(type, {});
    if (type === 'pause' && page.phase === 'training') {
      pauseRun();
      setPhase('paused');
      announce('Paused.');
    } else if (type === 'resume' && page.phase === 'paused') {
      if (page.run) page.run.segmentStart = performance.now();
      setPhase('training');
      announce('Training resumed.');
    } else if (type === 'stop' && (page.phase === 'training' || page.phase === 'paused')) {
      finishRun('stopped', {});
      page.stages = [];
      pauseRun();
      setPhase('stopped');
      announce('Stopped.');
      page.embeddings?.onStopped();
      page.saveSession('stopped');
    }
    return reply;
  } catch (err) {
    showError(`Could not ${type} (while ${before}): ${err.message}`);
    return null;
  }
}

export async function resetModel() {
  if (page.phase === 'pretraining') await page.wordVectors.stop().catch(() => {});
  if (page.phase === 'training' || page.phase === 'paused') await control('stop');
  setPhase('busy');
  clearRunView();
  page.run = null;
  page.embeddings?.reset();
  try {
    await configureModel();
    announce('Reset: a freshly initialised model.');
  } catch (err) {
    showError(`Could not set up the model: ${err.message}`);
  }
  setPhase('ready');
  explainCurrent();
}

export function onEngineEvent(type, raw) {
  const data = page.run && page.run.epochOffset ? shiftEpochs(type, raw, page.run) : raw;
  switch (type) {
    case 'shardProgress':
      showShardProgress(data.loaded, data.total, data);
      break;
    case 'testProgress':
      showTestProgress(data);
      scheduleStatus();
      break;
    case 'testAttached':
      showTestAttached(data.info);
      if (page.run) page.run.waitingTest = false;
      scheduleStatus();
      break;
    case 'testFailed':
      showTestFailure(data.message);
      scheduleStatus();
      break;
    case 'testWaiting':
      if (page.run) page.run.waitingTest = true;
      scheduleStatus();
      break;
    case 'batch':
      if (!page.run) return;
      page.run.epoch = data.epoch;
      page.run.batch = data.batch;
      page.run.batches = data.batches;
      page.charts.addBatch(data);
      page.attention?.weightsMoved(); // the attention view, at a throttled rate
      scheduleStatus();
      break;
    case 'epoch':
      if (!page.run) return;
      page.runHistory[data.epoch - 1] = { loss: data.loss, acc: data.acc, val_loss: data.val_loss, val_acc: data.val_acc };
      page.run.epoch = data.epoch;
      page.run.batch = page.run.batches;
      page.run.validatedEpoch = data.epoch; // status.js: no longer validating
      if (Number.isFinite(data.ms)) {
        page.run.msPerEpoch = data.ms;
        (page.run.epochTimes ??= [])[data.epoch - 1] = data.ms;
      }
      if (Number.isFinite(data.reviewsPerSec)) page.run.reviewsPerSec = data.reviewsPerSec;
      page.charts.addEpoch(data);
      if (Number.isInteger(data.bestEpoch)) page.charts.setBestEpoch(data.bestEpoch);
      page.runs?.epoch(page.runId, {
        epoch: data.epoch, loss: data.loss, acc: data.acc, val_loss: data.val_loss, val_acc: data.val_acc, ms: data.ms, bestEpoch: data.bestEpoch,
      });
      page.diagnosis.epochDone(data);
      scheduleStatus();
      rescoreSoon(); // the weights changed: re-score the typed review
      page.attention?.refresh();
      if (data.checkpoint) page.saveSession('training', data.checkpoint);
      break;
    case 'done':
      pauseRun();
      if (page.run) page.run.totalMs = Number.isFinite(data.ms) ? data.ms : activeMs();
      if (Array.isArray(data.history)) {
        page.runHistory = data.history.map(normaliseEpoch);
        page.charts.setHistory(page.runHistory, { keepBatches: true });
      }
      page.testResult = data.test && Number.isFinite(data.test.acc) ? { loss: data.test.loss, acc: data.test.acc } : null;
      if (page.run) page.run.resumable = false;
      if (Number.isInteger(data.bestEpoch)) page.charts.setBestEpoch(data.bestEpoch);
      finishRun('done', data);
      if (page.run && !page.embeddings && data.stoppedEarly) {
        // (On the review page the word panel marks it, views/wordmap.js.)
        const restored = data.restoredBest === true; // the engine's word, not the config's
        page.run.stoppedEarly = { after: page.runHistory.length, best: data.bestEpoch, restored };
        page.charts.setMarks([{ x: page.runHistory.length, label: `early stopping: ended after ${page.runHistory.length}`, color: '#b45309', dash: [2, 3] }]); // views/wordmap.js's colour for it
      }
      if (page.currentStage?.reference && page.stages.length) {
        // The from-scratch twin is done: keep its curves, train the next.
        page.referenceResult = { history: page.runHistory, test: page.testResult };
        page.charts.setReference(page.runHistory, page.currentStage.label);
        startStage().catch((err) => {
          page.stages = [];
          showError(`Training could not start: ${err.message}`);
          setPhase(page.haveModel ? 'stopped' : 'ready');
        });
        break;
      }
      setPhase('done');
      announce(statusText());
      explainCurrent();
      page.diagnosis.trainingDone(page.runHistory, data.bestEpoch);
      page.imagesView?.trainingDone();
      if (data.checkpoint) page.saveSession('done', data.checkpoint);
      break;
    case 'trainError':
      pauseRun();
      if (data.diverged && page.run) {
        finishRun('diverged', data);
        onDivergence(data);
        break;
      }
      finishRun('stopped', data);
      showError(`Training stopped: ${data.message || 'the engine reported an error'}`);
      setPhase('stopped');
      page.embeddings?.onStopped();
      break;
    default:
      // Word vectors' events go to their panel; an event this page does not
      // know is not an error: newer workers may add some.
      page.wordVectors?.handleEvent(type, data) || page.mlm?.handleEvent(type, data);
      break;
  }
  // The word map's snapshots live in the worker, numbered by its own run:
  // it gets the events as the worker sent them.
  page.embeddings?.onEngineEvent(type, raw);
}

// A NaN or infinite loss: the engine has stopped and gone back to the last
// good weights (they still score reviews). The curves get a mark, the status
// line the engine's advice, the learning rate a hint; the model is saved.
export function onDivergence(data) {
  page.run.diverged = { message: data.message, x: data.x, epoch: data.epoch, batch: data.batch };
  page.run.resumable = false;
  page.charts.markDivergence(data.x);
  const lr = state.lr;
  const lower = lr / 10;
  showFieldMessage(controls.lr, `Training diverged at ${lr} with ${state.optimizer === 'sgd' ? 'SGD' : 'Adam'}: try ${lower} or lower.`, { hint: true });
  setPhase('stopped');
  announce(statusText());
  explainCurrent();
  if (data.checkpoint) page.saveSession('diverged', data.checkpoint);
}

// A run continued from a restored model trains the remaining epochs as a new
// engine run; its epochs and batch positions are shifted to follow the
// restored ones, and its history is appended to theirs.
export function shiftEpochs(type, data, r) {
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
export function normaliseEpoch(h) {
  const n = (v) => (typeof v === 'number' ? v : NaN);
  return { loss: n(h.loss), acc: n(h.acc), val_loss: n(h.val_loss), val_acc: n(h.val_acc) };
}

ui.train.addEventListener('click', startTraining);
ui.pause.addEventListener('click', () => control('pause'));
ui.resume.addEventListener('click', () => control('resume'));
ui.stop.addEventListener('click', () => (page.phase === 'pretraining' ? page.wordVectors.stop() : control('stop')));
ui.reset.addEventListener('click', resetModel);
