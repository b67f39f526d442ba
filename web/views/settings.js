// settings.js: the settings form (views of state.js's table), the recipe
// menu (the engine's presets), the dataset menu and the link's hash: a
// changed control is parsed by its property, stored and written to the URL.

import { $, ui, controls, page } from '../page.js';
import { PROPS, ENGINE_KEYS, CONTROL_KEYS, TEXT_ONLY_KEYS, state, items, writeHash, readHash, view, hashKeys, fromEngine } from '../state.js';
import { shardLimitError, showFieldMessage, clearFieldMessage } from '../input-checks.js';
import { PRESET_NOTES, presetCostNote } from './pretrain.js';
import { updateStatus } from './status.js';
import { showSection } from './sections.js';
import { dataset } from '../datasets.js';

// The Transformer's own keys: disabled and idle for the other models.
const TRANSFORMER_KEYS = ['heads', 'blocks', 'ff_dim', 'warmup_steps', 'weight_decay', 'alibi', 'positions', 'mlm_lr',
  'mlm_warmup_steps'];

// ---------------------------------------------------------------- controls

export function renderControls() {
  for (const key of CONTROL_KEYS) {
    const el = controls[key];
    if (el.type === 'checkbox') el.checked = state[key];
    else el.value = PROPS[key].format(state[key]);
    clearFieldMessage(el);
  }
  page.stopwordsControl?.render();
  page.diagnosis?.renderSettings();
  updateRelevance();
}

// Controls that do nothing for the chosen architecture are disabled (their
// values still travel in the link); word2vec's own settings and panel show
// only when the embedding starts from word2vec, the Transformer's pretraining
// panel for a Transformer, and "compare" for either.
export function updateRelevance() {
  const recurrent = !['bag', 'ngram', 'mlp', 'transformer'].includes(state.model);
  const transformer = state.model === 'transformer';
  const ngram = state.model === 'ngram';
  controls.pooling.disabled = state.model !== 'bag'; // ngram averages over its features, never padding
  for (const key of ['layers', 'dropout', 'recurrent_dropout']) controls[key].disabled = !recurrent;
  controls.hidden.disabled = ngram || transformer; // their head is one dense unit
  for (const key of ['bigrams', 'nb_weighting']) if (controls[key]) controls[key].disabled = !ngram;
  for (const key of TRANSFORMER_KEYS) if (controls[key]) controls[key].disabled = !transformer;
  if (transformer) controls.dropout.disabled = false; // the residual branches' dropout
  for (const key of ['monitor', 'min_delta', 'restore_best_weights']) controls[key].disabled = state.patience === 0;
  const w2v = state.embedding_init === 'word2vec' && !dataset().images;
  ui.w2vFields.hidden = !w2v;
  // The from-scratch twin: beside word2vec's vectors or the Transformer's encoder (training.js).
  ui.compareField.hidden = !(w2v || (transformer && !dataset().images));
  ui.pretrainPanel.hidden = !w2v;
  page.mlm?.setShown(transformer && !dataset().images);
  syncPresetMenu();
}

// ------------------------------------------------------------- model menu

// name -> the preset's full config, from the engine (nn_config_preset):
// every preset, and those of this page's dataset (the image model's for
// Fashion-MNIST, the text models' for IMDB).

// Keys that change nothing in a config: early stopping's details without
// early stopping, word2vec's settings without word2vec. A recipe is the
// same whatever they hold, and choosing one leaves them as they are.
export function idleKeys(config) {
  const idle = [];
  if (Number(config.patience) === 0) idle.push('monitor', 'min_delta', 'restore_best_weights');
  if (config.embedding_init !== 'word2vec') idle.push('w2v_epochs', 'w2v_window', 'w2v_negative', 'w2v_sample', 'w2v_lr');
  if (config.model === 'mlp') idle.push(...TEXT_ONLY_KEYS);
  if (config.model !== 'ngram') idle.push('bigrams', 'nb_weighting');
  if (config.model !== 'transformer') idle.push(...TRANSFORMER_KEYS);
  return idle;
}

// The preset whose every engine setting that matters equals the page's, or
// 'custom'.
export function matchingPreset() {
  for (const [name, config] of Object.entries(page.presetConfigs)) {
    const idle = idleKeys(config);
    const same = ENGINE_KEYS.every((k) => {
      if (!(k in config) || idle.includes(k)) return true;
      try {
        return PROPS[k].format(fromEngine(k, config[k])) === PROPS[k].format(state[k]);
      } catch {
        return false;
      }
    });
    if (same) return name;
  }
  return 'custom';
}

export function syncPresetMenu() {
  const name = Object.keys(page.presetConfigs).length ? matchingPreset() : dataset().recipe;
  ui.preset.value = name;
  ui.presetHint.textContent = [PRESET_NOTES[name], presetCostNote(name)].filter(Boolean).join(' ');
}

export function applyPreset(name) {
  if (!page.presetConfigs[name]) return;
  setPresetValues(name);
  renderControls();
  writeHash();
  ui.controlsNote.textContent =
    page.phase === 'training' || page.phase === 'paused' || page.phase === 'pretraining'
      ? 'The new recipe applies to the next run: press Stop, then Train.'
      : `Recipe set: ${ui.preset.selectedOptions[0]?.textContent ?? name}. Press Train.`;
  if (page.phase === 'ready') updateStatus();
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
export function applySetting(key, value) {
  state[key] = PROPS[key].parse(value);
  writeHash();
  if (ENGINE_KEYS.includes(key)) {
    ui.controlsNote.textContent =
      page.phase === 'training' || page.phase === 'paused'
        ? 'New settings apply to the next run: press Stop, then Train.'
        : page.phase === 'stopped' || page.phase === 'done'
          ? 'New settings apply when you press Train.'
          : '';
    if (page.phase === 'ready') updateStatus();
  }
  return state[key];
}

export function onControlChange(e) {
  const key = e.target.name;
  if (!CONTROL_KEYS.includes(key)) return;
  try {
    const value = PROPS[key].parse(e.target.type === 'checkbox' ? String(e.target.checked) : e.target.value);
    const tooBig = shardLimitError(key, value, page.shardInfo);
    if (tooBig) throw new Error(tooBig);
    state[key] = value;
    updateRelevance();
    clearFieldMessage(e.target);
    ui.controlsNote.textContent =
      page.phase === 'training' || page.phase === 'paused'
        ? 'New settings apply to the next run: press Stop, then Train.'
        : page.phase === 'stopped' || page.phase === 'done'
          ? 'New settings apply when you press Train.'
          : '';
    writeHash();
    if (page.phase === 'ready') updateStatus();
  } catch (err) {
    showFieldMessage(e.target, `${e.target.labels[0]?.textContent || key} ${err.message}; keeping ${PROPS[key].format(state[key])}.`);
  }
}

ui.form.addEventListener('change', onControlChange);
$('btn-defaults').addEventListener('click', () => {
  for (const key of ENGINE_KEYS) state[key] = PROPS[key].def;
  if (dataset().model) setPresetValues(dataset().recipe);
  renderControls();
  writeHash();
  ui.controlsNote.textContent = 'Settings restored to the Keras tutorial’s recipe.';
  if (page.phase === 'ready') updateStatus();
});

// Sets the state to a preset's values (keys that change nothing for it are
// left alone); false when the engine's presets are not known.
export function setPresetValues(name) {
  const config = page.allPresets[name];
  if (!config) return false;
  const idle = idleKeys(config);
  for (const key of ENGINE_KEYS) {
    if (!(key in config) || idle.includes(key)) continue;
    try {
      state[key] = fromEngine(key, config[key]);
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
  if (dataset().model && !setPresetValues(dataset().recipe)) state.model = dataset().model;
  if (dataset().own) setPresetValues(dataset().recipe); // the default recipe for a user's shard
  writeHash();
  ui.controlsNote.textContent = `Loading ${dataset().name}…`;
  location.reload();
});

// A page on Fashion-MNIST trains the image model, one on IMDB a text model:
// a link (or the defaults) with the other kind gets its dataset's recipe,
// except for the settings the link gave ("#dataset=fashion&epochs=1" is the
// image recipe for one epoch).
export function ensureDatasetModel() {
  if (dataset().ownsModel(state.model)) return;
  const given = Object.fromEntries([...hashKeys].filter((k) => ENGINE_KEYS.includes(k)).map((k) => [k, state[k]]));
  for (const key of ENGINE_KEYS) state[key] = PROPS[key].def;
  if (dataset().model) setPresetValues(dataset().recipe);
  Object.assign(state, given);
  state.model = dataset().model ?? PROPS.model.def;
  renderControls();
  writeHash();
}

// What the page shows for its dataset: <html data-dataset> hides the other
// dataset's controls and panels (style.css, [data-for]; dataset-early.js
// marks it before the first paint); the menus offer the dataset's models.
export function setUpDatasetView() {
  document.documentElement.dataset.dataset = state.dataset;
  ui.dataset.value = state.dataset;
  for (const el of document.querySelectorAll('.items')) el.textContent = items();
  const d = dataset();
  const menu = (select, entries) => select.replaceChildren(...entries.map(([value, text]) => new Option(text, value)));
  const model = $('model');
  menu(model, d.modelMenu([...model.options].map((o) => [o.value, o.textContent])));
  if (d.presetMenu) menu(ui.preset, d.presetMenu);
  if (d.title) document.title = d.title;
  if (d.heading) $('site-heading-text').textContent = d.heading;
  if (d.lede) $('site-lede-text').textContent = d.lede;
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
  page.embeddings?.renderControls();
  writeHash();
  showSection(view, { scroll: true });
  if (page.phase === 'ready') updateStatus();
});

// The form's element of each setting, once the schema said which there are;
// each number field's limits are the engine's.
export function bindControls() {
  for (const key of CONTROL_KEYS) {
    const el = $(key);
    controls[key] = el;
    const prop = PROPS[key];
    if (el.type === 'number' && Number.isFinite(prop.min)) el.min = String(prop.min);
    if (el.type === 'number' && Number.isFinite(prop.max) && prop.max < 1e15) el.max = String(prop.max);
  }
}

// The settings stay disabled until the engine's schema is known.
export function setFormEnabled(on) {
  for (const fs of ui.form.querySelectorAll('fieldset')) fs.disabled = !on;
}

export function showHashNotes(notes) {
  ui.hashNote.hidden = notes.length === 0;
  ui.hashNote.textContent = notes.length ? `Some settings in the link were not used: ${notes.join('; ')}.` : '';
}
