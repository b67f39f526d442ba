// status.js: the page's phase (setPhase enables and disables the buttons)
// and the status line above the charts, written at most every STATUS_MS.

import { $, ui, fmtInt, fmtPct, fmtDuration, setText, store, page } from '../page.js';
import { state, items } from '../state.js';

export function setPhase(next) {
  page.phase = next;
  const trained = page.haveModel && ['ready', 'stopped', 'done', 'paused', 'training'].includes(page.phase);
  ui.train.disabled = !['ready', 'stopped', 'done'].includes(page.phase);
  ui.pause.disabled = page.phase !== 'training';
  ui.resume.disabled = page.phase !== 'paused';
  ui.stop.disabled = !['training', 'paused', 'pretraining'].includes(page.phase);
  ui.reset.disabled = !['ready', 'stopped', 'done', 'training', 'paused'].includes(page.phase);
  ui.download.disabled = !trained;
  ui.checkpointFile.disabled = !['ready', 'stopped', 'done'].includes(page.phase);
  ui.dataset.disabled = ['training', 'paused', 'pretraining', 'busy', 'recovering', 'starting'].includes(page.phase);
  ui.random.disabled = !['ready', 'stopped', 'done', 'training', 'paused', 'pretraining'].includes(page.phase) || !page.shardInfo;
  ui.continue.hidden = !(page.run && page.run.resumable && ['stopped', 'done'].includes(page.phase));
  ui.continue.disabled = ui.continue.hidden;
  ui.forget.disabled = !store.latest || ['busy', 'recovering', 'starting', 'loading'].includes(page.phase);
  document.body.dataset.phase = page.phase;
  page.diagnosis?.phaseChanged(page.phase, page.haveModel);
  page.imagesView?.phaseChanged(page.phase, page.haveModel);
  updateStatus();
}

// Writes text into an element only when it differs: an unchanged status line
// or score costs no DOM change, hence no style and layout work.

export function updateStatus() {
  setText(ui.status, statusText());
}

export function statusText() {
  switch (page.phase) {
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
      const pct = page.wordVectors?.progress ? ` (${Math.floor(page.wordVectors.progress.fraction * 100)}%)` : '';
      return `First the word vectors${pct}, above; then the model${state.compare ? ' from scratch, then the pretrained one' : ''}.`;
    }
    case 'ready': {
      if (!page.shardInfo) return 'Ready.';
      const train = page.shardInfo.splits?.train ?? 0;
      const pending = page.shardInfo.test_pending ?? 0; // a static site's, still downloading
      const test = page.shardInfo.splits?.test ?? pending;
      const val = Math.min(state.val_size, train);
      const rest = train - val;
      const used = state.train_size > 0 ? Math.min(state.train_size, rest) : rest; // train_size: a subset
      return `Ready: ${fmtInt(used)} ${items()} to train on, ${fmtInt(val)} to validate, ${fmtInt(test)} to test${pending ? ' (downloading)' : ''}. Press Train.`;
    }
    case 'training':
    case 'paused':
    case 'stopped': {
      if (!page.run) return page.phase;
      if (page.phase === 'stopped' && page.run.diverged) return `Training diverged: ${page.run.diverged.message}.`;
      if (page.phase === 'stopped' && page.run.restored) return restoredText();
      const parts = [];
      // Every batch trained but no epoch event yet: the validation pass runs
      // (seconds for the Transformer preset, which sends no batch events).
      const validating = page.phase === 'training' && page.run.batches > 0 && page.run.batch === page.run.batches && page.run.validatedEpoch !== page.run.epoch && (page.engineInForce?.val_size ?? state.val_size) > 0;
      const where = `epoch ${page.run.epoch || 1}/${page.run.epochs}, ${validating ? 'validating' : `batch ${page.run.batch}/${page.run.batches || '?'}`}`;
      if (page.phase === 'training' && page.run.waitingTest) {
        const d = page.testDownload;
        const got = d?.total > 0 ? ` (${fmtInt(Math.floor((100 * d.loaded) / d.total))}% here)` : '';
        return `Trained. Waiting for the test ${items()} to finish downloading${got}; then the test result.`;
      }
      if (page.phase === 'paused') return `Paused at ${where}. Press Resume to continue.`;
      if (page.phase === 'stopped') return `Stopped at ${where}. Press Train to start a new run.`;
      parts.push(`Training${page.currentStage?.title ? ` the ${page.currentStage.title}` : ''}: ${where}`);
      if (page.run.msPerEpoch != null) parts.push(`${fmtInt(page.run.msPerEpoch)} ms per epoch`);
      if (page.run.reviewsPerSec != null) parts.push(`${fmtInt(page.run.reviewsPerSec)} ${items()}/s`);
      const left = timeLeft();
      if (left != null && !(validating && left < 1000)) parts.push(`about ${fmtDuration(left)} left`);
      return parts.join(' · ');
    }
    case 'done': {
      const epochs = page.runHistory.length;
      const parts = [`Done: ${epochs} epoch${epochs === 1 ? '' : 's'}`];
      if (page.run && page.run.totalMs != null && !page.run.epochOffset) parts[0] += ` in ${fmtDuration(page.run.totalMs)}`;
      if (page.run && page.run.imported) parts[0] = `Loaded a model trained for ${epochs} epoch${epochs === 1 ? '' : 's'}`;
      if (page.run && page.run.restored) parts[0] = restoredText();
      const last = page.runHistory[page.runHistory.length - 1];
      if (last && Number.isFinite(last.val_acc)) parts.push(`validation accuracy ${fmtPct(last.val_acc)}`);
      if (page.testResult) parts.push(`test accuracy ${fmtPct(page.testResult.acc)} (loss ${page.testResult.loss.toFixed(3)})`);
      else if (page.testDownload?.failed) parts.push(`no test result: the test ${items()} could not be downloaded`);
      else parts.push(`evaluating on the test ${items()}…`);
      if (page.run?.stoppedEarly) {
        const s = page.run.stoppedEarly;
        parts.push(`early stopping ended the run; best epoch ${s.best}${s.restored ? ', its weights restored' : ''}`);
      }
      if (page.referenceResult) parts.push(comparisonText());
      return parts.join(' · ');
    }
    default:
      return '';
  }
}

// A model brought back from this browser's storage (after a reload) or by
// an engine restart.
export function restoredText() {
  const epochs = page.runHistory.length;
  const when = page.run.savedAt ? ` (saved ${new Date(page.run.savedAt).toLocaleTimeString('en-GB')})` : '';
  const what = `${epochs} of ${page.run.epochs} epoch${page.run.epochs === 1 ? '' : 's'}${when}`;
  const head = page.run.restored === 'crash' ? `The engine was restarted and your model is back: ${what}` : `Your model is back from this browser: ${what}`;
  if (page.run.resumable) return `${head}. Press Continue to train the remaining ${page.run.epochs - epochs}, or Train to start a new run.`;
  return head;
}

// The pretrained run against its from-scratch twin: when each first reached
// 80% validation accuracy, and their test accuracies.
export function comparisonText() {
  const at = (hist) => {
    const i = hist.findIndex((h) => h && h.val_acc >= 0.8);
    return i < 0 ? `not within ${hist.length} epoch${hist.length === 1 ? '' : 's'}` : `at epoch ${i + 1}`;
  };
  const ref = page.referenceResult;
  const parts = [`80% validation accuracy: pretrained ${at(page.runHistory)}, from scratch ${at(ref.history)}`];
  if (ref.test) parts.push(`from scratch: test accuracy ${fmtPct(ref.test.acc)}`);
  return parts.join(' · ');
}

export function activeMs() {
  if (!page.run) return 0;
  return page.run.activeMs + (page.run.segmentStart != null ? performance.now() - page.run.segmentStart : 0);
}

export function timeLeft() {
  if (!page.run || !page.run.batches || !page.run.epochs) return null;
  const doneFraction = (page.run.epoch - 1 + page.run.batch / page.run.batches) / page.run.epochs;
  if (!(doneFraction > 0)) return null;
  if (page.run.msPerEpoch != null) return page.run.msPerEpoch * page.run.epochs * (1 - doneFraction);
  return (activeMs() * (1 - doneFraction)) / doneFraction;
}


// The status line follows events at most once per STATUS_MS, in an
// animation frame: at full speed its batch counter would otherwise change
// (and the line be laid out and painted again) every frame. Phase changes
// still write it at once (setPhase).
const STATUS_MS = 200;
let statusFrame = 0;
let statusTimer = 0;
let lastStatus = -Infinity;
export function scheduleStatus() {
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
  if (page.phase === 'training') scheduleStatus();
}, 1000);
