// debug-view.js: a read-only view of the page for tests and the curious
// (window.__playground in the console). Every getter returns a copy;
// nothing here changes the page.

import { ui, store, page, errorsShown } from './page.js';
import { state } from './state.js';
import { explainBusy } from './views/review.js';

const copy = (x) => (x == null ? x : structuredClone(x));
export function installDebugView() {
Object.defineProperty(window, '__playground', {
  value: Object.freeze({
    get phase() {
      return page.phase;
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
      return page.imagesView ? page.imagesView.snapshot() : null;
    },
    get shardInfo() {
      return copy(page.shardInfo);
    },
    get config() {
      return copy(page.engineInForce);
    },
    get history() {
      return copy(page.runHistory);
    },
    get test() {
      return copy(page.testResult);
    },
    get progress() {
      return page.run ? { epoch: page.run.epoch, batch: page.run.batch, batches: page.run.batches, epochs: page.run.epochs } : null;
    },
    get lastRunMs() {
      return page.run && page.run.totalMs != null ? page.run.totalMs : null;
    },
    // The engine time of each epoch of the current run (ms), as the epoch events gave it.
    get epochTimes() {
      return page.run && page.run.epochTimes ? [...page.run.epochTimes] : [];
    },
    get explain() {
      return copy(page.lastExplain);
    },
    get explainBusy() {
      return explainBusy();
    },
    // The attention view (views/attention.js): the text and the worker's
    // answer it drew last, and each drawn word's weight (data-weight), or null.
    get attention() {
      const last = page.attention?.last();
      if (!last) return null;
      const read = (sel) => [...document.querySelectorAll(sel)].map((el) => Number(el.dataset.weight));
      return { text: last.text, reply: copy(last.reply), drawn: read('#attention-words .att-word'), pooled: read('#attention-pooled .att-cell') };
    },
    // The engine's attention answer for a text now (the worker's `attention`), a promise.
    attentionOf(text) {
      return page.worker.request('attention', { text });
    },
    get errors() {
      return [...errorsShown];
    },
    // What is saved in this browser ({savedAt, epochs, status, written}) or null.
    get session() {
      const r = store.latest;
      return r ? { savedAt: r.savedAt, epochs: r.history.length, status: r.status, written: store.written === r, settings: { ...r.settings } } : null;
    },
    // The engine's wasm memory in bytes (the worker's `stats`), which only
    // grows: a promise, read before and after an upload that must not grow it.
    async wasmBytes() {
      return (await page.worker.request('stats', {})).wasmBytes;
    },
    get restarts() {
      return page.worker ? page.worker.restarts : 0;
    },
    get run() {
      return page.run ? { restored: page.run.restored ?? null, resumable: !!page.run.resumable, diverged: copy(page.run.diverged ?? null), epochOffset: page.run.epochOffset ?? 0 } : null;
    },
    get pretrain() {
      return page.wordVectors ? page.wordVectors.snapshot() : null;
    },
    // The Transformer's pretraining panel (views/mlm.js).
    get mlm() {
      return page.mlm ? page.mlm.snapshot() : null;
    },
    get stage() {
      return page.currentStage ? { label: page.currentStage.label, reference: page.currentStage.reference, left: page.stages.length } : null;
    },
    get reference() {
      return copy(page.referenceResult);
    },
    get reviewNote() {
      return ui.reviewNote.hidden ? '' : ui.reviewNote.textContent;
    },
    charts() {
      return page.charts ? page.charts.snapshot() : null;
    },
    get diagnosis() {
      return page.diagnosis ? page.diagnosis.snapshot() : null;
    },
    // The run store's runs (runs.js), newest first, or null without it.
    runs() {
      return page.runs ? copy(page.runs.list()) : null;
    },
    embeddings() {
      return page.embeddings ? page.embeddings.snapshot() : null;
    },
  }),
  writable: false,
  configurable: false,
});
}
