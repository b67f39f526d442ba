// mlm.js: the "Pretrain the Transformer" panel. It pretrains the page's
// Transformer encoder as a masked-language model in the worker (web/PROTOCOL.md:
// loadCorpus, pretrainMlm, pauseMlm, resumeMlm, stopMlm, mlmProgress,
// mlmDone, mlmError), shows its progress, time left and the masked-token
// loss and accuracy (as text and on a live chart, mlm-chart.js), saves and
// loads the encoder as a file (exportEncoder, importEncoder), answers
// "fill in the blank" (fillMask) from the encoder as it is, refreshed while
// it learns, and tells Train whether to start the model from the encoder
// (training.js sends useEncoder then, after the same model from scratch
// when "compare" is on).
//
// Deliberately not here: any MLM maths (engine/mlm.c), the training runs
// (training.js), HTML built from strings (every node is made with
// createElement and textContent).

import { $, page, showError, announce } from '../page.js';
import { engineConfig } from '../state.js';
import { MlmChart } from './mlm-chart.js';

const FILL_MS = 2000; // fill in the blank asks again at most this often while pretraining runs
const DEFAULT_BLANK = 'this movie was [MASK] .';
export const ENCODER_RECIPE = 'transformer-pretrained';
export const NO_ENCODER =
  'The transformer-pretrained recipe starts from a pretrained encoder, and this page has none yet: ' +
  'pretrain the encoder first, or load an encoder file (panel "Pretrain the Transformer").';

const fmtInt = (n) => Math.round(n).toLocaleString('en-US');

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'text') node.textContent = v;
    else if (k in node) node[k] = v;
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

function field(labelText, input) {
  return el('label', { className: 'mlm-field' }, `${labelText} `, input);
}

export function createMlmPanel(corpusUrl) {
  const root = $('mlm-panel');
  const ui = {
    status: el('p', { id: 'mlm-status', className: 'status', 'aria-live': 'polite' }),
    progress: el('progress', { id: 'mlm-progress', max: 1, value: 0 }),
    metrics: el('p', { id: 'mlm-metrics', className: 'small' }),
    canvas: el('canvas', { id: 'mlm-chart', role: 'img' }),
    reviews: el('input', { id: 'mlm-reviews', type: 'number', min: 0, step: 1, value: '0' }),
    passes: el('input', { id: 'mlm-passes', type: 'number', min: 1, max: 20, step: 1, value: '1' }),
    start: el('button', { id: 'mlm-start', type: 'button', text: 'Pretrain' }),
    pause: el('button', { id: 'mlm-pause', type: 'button', text: 'Pause' }),
    stop: el('button', { id: 'mlm-stop', type: 'button', text: 'Stop' }),
    save: el('button', { id: 'mlm-save', type: 'button', text: 'Save the encoder' }),
    load: el('input', { id: 'mlm-file', type: 'file', accept: '.nnenc,.nnckpt,application/octet-stream' }),
    use: el('input', { id: 'mlm-use', type: 'checkbox' }),
    blank: el('input', { id: 'mlm-blank', type: 'text', value: DEFAULT_BLANK, size: 32, spellcheck: false }),
    words: el('ol', { id: 'mlm-words', className: 'mlm-words small' }),
    fillNote: el('p', { id: 'mlm-fill-note', className: 'muted small', 'aria-live': 'polite' }),
  };
  root.append(
    el('p', { className: 'muted small', text:
      'Teaches the encoder English before it sees a label: 15% of the words of the training and unlabelled reviews are hidden ' +
      '(80% as [MASK], 10% a random word, 10% kept) and it learns to guess them. The recipe “Transformer, pretrained” then ' +
      'starts from this encoder. The sizes (width, heads, blocks, feed-forward, vocabulary) are the settings’.' }),
    el('div', { className: 'mlm-row' }, field('Reviews per pass (0: all)', ui.reviews), field('Passes', ui.passes)),
    el('div', { className: 'buttons', role: 'group', 'aria-label': 'Pretraining' }, ui.start, ui.pause, ui.stop),
    ui.status,
    el('label', { htmlFor: 'mlm-progress', className: 'visually-hidden', text: 'pretraining progress' }),
    ui.progress,
    ui.metrics,
    el('figure', { className: 'chart mlm-chart' },
      el('div', { className: 'chart-box mlm-chart-box' }, ui.canvas),
      el('figcaption', { text: 'The masked words’ loss (solid, left axis) and the share of them guessed right (dashed, right ' +
        'axis) by reviews processed, each point the average since the one before. Kept when paused or stopped; ' +
        'a new pretraining starts it again.' })),
    el('div', { className: 'mlm-row' }, ui.save, el('label', { htmlFor: 'mlm-file', className: 'file-label', text: 'Load an encoder file' }), ui.load),
    el('label', { className: 'mlm-field' }, ui.use, ' Train starts from this encoder (always, for the pretrained recipe)'),
    el('h3', { text: 'Fill in the blank' }),
    field('Sentence with a [MASK]', ui.blank),
    ui.words,
    ui.fillNote,
  );

  const s = {
    state: 'none', // none | loading | running | paused | ready | failed
    encoder: false, // the worker holds an encoder (pretrained, stopped or loaded)
    origin: '', // 'pretrained' | 'stopped' | 'loaded'
    progress: null,
    done: null,
    words: null, // the last fillMask answer
    fillText: null,
    fillError: '',
    liveFills: 0, // fillMask answers received while pretraining ran
  };
  const chart = new MlmChart(ui.canvas);
  let filling = false;
  let lastFill = -Infinity;

  const busy = () => s.state === 'loading' || s.state === 'running' || s.state === 'paused';

  function statusText() {
    const p = s.progress;
    switch (s.state) {
      case 'loading':
        return 'Loading the 50,000 unlabelled reviews…';
      case 'running':
      case 'paused': {
        if (!p) return 'Pretraining the encoder…';
        const parts = [`${s.state === 'paused' ? 'Paused' : 'Pretraining'}: ${(p.fraction * 100).toFixed(0)}%`,
          `${fmtInt(p.reviews)} of ${fmtInt(p.reviewsTotal)} reviews`];
        if (p.passes > 1) parts.push(`pass ${p.pass} of ${p.passes}`);
        if (p.msLeft != null && Number.isFinite(p.msLeft)) parts.push(`about ${Math.ceil(p.msLeft / 1000)} s left`);
        return parts.join(' · ');
      }
      case 'ready':
        if (s.origin === 'loaded') return 'Encoder loaded from a file: Train can start from it.';
        if (s.origin === 'stopped') return 'Pretraining stopped: the encoder learned so far is kept, and Train can start from it.';
        return s.done
          ? `Encoder pretrained: ${fmtInt(s.done.reviews)} reviews in ${(s.done.ms / 1000).toFixed(1)} s (${fmtInt(s.done.reviewsPerSec)} reviews/s).`
          : 'Encoder pretrained.';
      case 'failed':
        return 'The encoder could not be pretrained: see the message above.';
      default:
        return 'No encoder yet: press Pretrain, or load an encoder file.';
    }
  }

  function render() {
    ui.status.textContent = statusText();
    ui.progress.max = 1;
    if (s.state === 'loading') ui.progress.removeAttribute('value');
    else ui.progress.value = s.state === 'ready' && s.origin === 'pretrained' ? 1 : s.progress ? s.progress.fraction : 0;
    const p = s.progress;
    ui.metrics.textContent = p && Number.isFinite(p.loss)
      ? `Masked words: loss ${p.loss.toFixed(3)}, guessed right ${(p.accuracy * 100).toFixed(1)}%` +
        (p.reviewsPerSec > 0 ? ` · ${fmtInt(p.reviewsPerSec)} reviews/s` : '')
      : '';
    ui.start.disabled = busy();
    ui.pause.disabled = !(s.state === 'running' || s.state === 'paused');
    ui.pause.textContent = s.state === 'paused' ? 'Resume' : 'Pause';
    ui.stop.disabled = !(s.state === 'running' || s.state === 'paused');
    ui.save.disabled = !s.encoder || busy();
    ui.load.disabled = busy();
    ui.words.replaceChildren(...(s.words ?? []).map((w) => el('li', {}, el('strong', { text: w.word }), ` ${(w.p * 100).toFixed(w.p < 0.01 ? 3 : 1)}%`)));
    ui.fillNote.textContent = s.fillError || (s.encoder || s.state === 'running' ? '' : 'The ten likeliest words appear here once there is an encoder.');
  }

  async function ensureCorpus() {
    const url = corpusUrl();
    const wv = page.wordVectors;
    if (wv && wv.corpusUrl === url) return; // word2vec loaded it already
    const info = await page.worker.request('loadCorpus', { url });
    if (wv) Object.assign(wv, { corpusUrl: url, reviews: info.reviews }); // and shares it
  }

  async function start() {
    if (busy()) return;
    const config = engineConfig(page.shardInfo);
    if (config.model !== 'transformer') return;
    s.state = 'loading';
    s.progress = null;
    s.done = null;
    chart.clear();
    render();
    try {
      await ensureCorpus();
      s.state = 'running';
      render();
      await page.worker.request('pretrainMlm', {
        config, passes: Number(ui.passes.value) || 1, reviews: Math.max(0, Math.floor(Number(ui.reviews.value) || 0)),
      });
      s.encoder = true; // usable from the first batch on (fillMask while it learns)
      announce('Pretraining the encoder started.');
      fill(true);
    } catch (err) {
      s.state = 'failed';
      render();
      showError(`Pretraining could not start: ${err.message}`);
    }
  }

  async function control(type) {
    try {
      await page.worker.request(type, {});
      if (type === 'pauseMlm') s.state = 'paused';
      if (type === 'resumeMlm') s.state = 'running';
      if (type === 'stopMlm') Object.assign(s, { state: 'ready', origin: 'stopped' });
    } catch (err) {
      showError(`The pretraining did not ${type.replace('Mlm', '')}: ${err.message}`);
    }
    render();
  }

  async function save() {
    try {
      const { bytes } = await page.worker.request('exportEncoder', {});
      const url = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
      const a = el('a', { href: url, download: 'transformer-encoder.nnenc' });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      announce(`Encoder saved (${fmtInt(bytes.byteLength)} bytes).`);
    } catch (err) {
      showError(`The encoder could not be saved: ${err.message}`);
    }
  }

  async function load(file) {
    try {
      const bytes = await file.arrayBuffer();
      await page.worker.request('importEncoder', { bytes }, [bytes]);
      Object.assign(s, { state: 'ready', encoder: true, origin: 'loaded', progress: null, done: null });
      chart.clear(); // the curves were another encoder's
      announce('Encoder loaded.');
      fill(true);
    } catch (err) {
      showError(`The encoder file could not be loaded: ${err.message}`);
    }
    render();
  }

  // Fill in the blank: one request at a time; the newest text wins.
  async function fill(force = false) {
    if (root.hidden || !s.encoder || filling) return;
    const t = performance.now();
    if (!force && t - lastFill < FILL_MS) return;
    lastFill = t;
    filling = true;
    const text = ui.blank.value;
    try {
      const { words } = await page.worker.request('fillMask', { text, k: 10 });
      Object.assign(s, { words, fillText: text, fillError: '' });
      if (s.state === 'running') s.liveFills += 1;
    } catch (err) {
      Object.assign(s, { words: null, fillText: text, fillError: err.message });
    } finally {
      filling = false;
    }
    render();
    if (ui.blank.value !== text) fill(true);
  }

  ui.start.addEventListener('click', start);
  ui.pause.addEventListener('click', () => control(s.state === 'paused' ? 'resumeMlm' : 'pauseMlm'));
  ui.stop.addEventListener('click', () => control('stopMlm'));
  ui.save.addEventListener('click', save);
  ui.load.addEventListener('change', () => {
    const file = ui.load.files?.[0];
    ui.load.value = '';
    if (file) load(file);
  });
  ui.blank.addEventListener('input', () => fill(true));
  render();

  return {
    // Shown for a transformer's settings only.
    setShown(shown) {
      root.hidden = !shown;
      if (shown) render();
    },
    // Whether Train should start from the encoder, and why it cannot.
    wanted: (recipe) => recipe === ENCODER_RECIPE || ui.use.checked,
    refusal() {
      if (busy()) return 'the encoder is still pretraining: wait for it, or press Stop in its panel, then Train';
      if (!s.encoder) return NO_ENCODER;
      return '';
    },
    // Events from the worker; true when the event was one of ours.
    handleEvent(type, data) {
      switch (type) {
        case 'mlmProgress':
          s.progress = data;
          chart.add(data);
          render();
          fill();
          return true;
        case 'mlmDone':
          Object.assign(s, { state: 'ready', origin: 'pretrained', done: data });
          render();
          announce('The encoder is pretrained.');
          fill(true);
          return true;
        case 'mlmError':
          s.state = 'failed';
          render();
          showError(`Pretraining failed: ${data.message}`);
          return true;
        default:
          return false;
      }
    },
    // A restarted worker has no encoder.
    reset() {
      Object.assign(s, { state: 'none', encoder: false, origin: '', progress: null, done: null, words: null, fillError: '' });
      chart.clear();
      render();
    },
    snapshot: () => structuredClone({
      ...s, status: ui.status.textContent, metrics: ui.metrics.textContent, shown: !root.hidden, chart: chart.snapshot(),
    }),
  };
}
