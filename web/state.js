// state.js: the page's settings, ONE table of named properties with their
// defaults, mirrored to the URL hash, so a link reproduces an experiment
// (the TensorFlow Playground's state.ts). The engine's keys are not written
// here: they are built from the engine's own config table (nnw_config_schema,
// the worker's `configSchema` reply) by applySchema; the page's own keys
// (pace, dataset, the word map's, the diagnosis's) are listed below.
// The hash also carries the open section: "#view=diagnosis&epochs=3".
// Deliberately not here: any DOM (views/settings.js draws the form).

// ------------------------------------------------------------ the state table

// A whole number in [lo, hi].
function int(def, lo, hi, help) {
  return {
    def,
    help,
    min: lo,
    max: hi,
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

// The parser of one engine key, from its schema entry (contract 4).
function fromSchema(f) {
  const prop = { ...parserOf(f), kind: f.kind };
  if (Object.hasOwn(PAGE_DEFAULTS, f.key)) prop.def = PAGE_DEFAULTS[f.key];
  return prop;
}

// The one engine key whose default the page sets otherwise: with early
// stopping on, the page goes back to the best epoch's weights, as the
// early-stopping tutorials do (EarlyStopping(restore_best_weights=True)) and
// as the page always has; the engine keeps Keras's default, false, so the
// command-line tools behave as Keras does. A link that names the key wins.
const PAGE_DEFAULTS = { restore_best_weights: true };

function parserOf(f) {
  const help = f.doc || f.range || '';
  // float32 defaults come back as doubles (0.0010000000474974513): keep the
  // digits a float holds, so the link and the form show 0.001.
  const def = f.kind === 'float' && typeof f.default === 'number' ? Number(f.default.toPrecision(7)) : f.default;
  switch (f.kind) {
    case 'int':
      return int(def, f.min, Math.min(f.max, Number.MAX_SAFE_INTEGER), help);
    case 'float':
      if (f.min_open && f.min === 0 && !f.max_open) return positive(def, f.max, help);
      return real(def, f.min, f.max, help, { openHi: f.max_open });
    case 'enum':
      return choice(def, f.choices, help);
    case 'bool':
      return bool(def, help);
    case 'string':
      return freeText(def ?? '', f.max > 0 ? f.max : 2047, help);
    default:
      throw new Error(`the engine's config schema has a key ${f.key} of unknown kind ${f.kind}`);
  }
}

// The page's own settings (not the engine's config). `shard` is chosen by
// the link only.
const PAGE_PROPS = {
  pace: choice('fast', ['fast', 'watch'], 'full speed, or about 1.5 s per epoch to follow by eye'),
  compare: bool(true, 'with word2vec or a pretrained Transformer encoder: also train the same model from scratch, to compare'),
  shard: shardPath('data/imdb.shard', 'the shard file to train on'),
  // The second dataset: Fashion-MNIST images (fashion.shard, beside the
  // review shard), for model "mlp".
  // The third: the user's own labelled text ("own"), a shard built in the
  // page from their file and kept in this browser (views/owntext.js).
  dataset: choice('imdb', ['imdb', 'fashion', 'own'], 'the data: IMDB reviews, Fashion-MNIST images or your own labelled text'),
  // What the model learned about words (views/wordmap.js owns their controls).
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
  // The diagnosis panel (views/diagnosis.js).
  threshold: fraction(0.5, 'a review is predicted positive when its score is above this'),
  diag_split: choice('val', ['val', 'test', 'text'], 'the reviews the diagnosis scores'),
  diag_epoch: int(0, 0, 10000, 'the epoch whose weights the diagnosis uses (0: the current ones)'),
  words_by: choice('count', ['count', 'polarity'], 'rank words by polarity times count, or by polarity'),
};
export const EMBED_KEYS = ['map_epoch', 'map_words', 'map_basis', 'highlight', 'side_by_side', 'rare_below',
  'frequent_from', 'memo_rare_only', 'neighbours_of', 'full_run'];
export const DIAG_KEYS = ['threshold', 'diag_split', 'diag_epoch', 'words_by'];
// Engine keys the page sets from the shard (images), never from a control or the link.
const SHARD_KEYS = ['input_dim', 'classes'];

// Every setting: the page's now, the engine's once applySchema ran. The
// key lists are filled in place so that importers see them grow.
export const PROPS = { ...PAGE_PROPS };
export const ENGINE_KEYS = [];
// Settings with a control in the form (views/settings.js): the engine keys
// the form has an element for, and `pace` and `compare`.
export const CONTROL_KEYS = [];
export const state = Object.fromEntries(Object.entries(PROPS).map(([k, p]) => [k, p.def]));
export let schemaLoaded = false;

// Engine settings that only a text model reads: an image model ("mlp")
// ignores them, the page hides their controls, and they are not sent.
export const TEXT_ONLY_KEYS = ['vocab_size', 'maxlen', 'padding', 'truncating', 'embed_dim', 'layers', 'dropout',
  'recurrent_dropout', 'pooling', 'embedding_init', 'trainable_embedding', 'w2v_epochs', 'w2v_window',
  'w2v_negative', 'w2v_sample', 'w2v_lr', 'stopwords'];

// Adds the engine's keys to the table from its schema (an array in the
// engine's FIELDS order). hasControl(key) says whether the form has an
// element for a key. Then reads the hash again, now for every key.
export function applySchema(schema, hasControl) {
  if (!Array.isArray(schema) || schema.length === 0) throw new Error('the engine sent no config schema');
  for (const f of schema) {
    if (SHARD_KEYS.includes(f.key) || Object.hasOwn(PAGE_PROPS, f.key)) continue;
    PROPS[f.key] = fromSchema(f);
    ENGINE_KEYS.push(f.key);
    state[f.key] = PROPS[f.key].def;
  }
  CONTROL_KEYS.push(...Object.keys(PROPS).filter((k) => (ENGINE_KEYS.includes(k) || k === 'pace' || k === 'compare') && k !== 'stopwords' && hasControl(k)));
  schemaLoaded = true;
  return readHash();
}

// Whether the link itself carried settings (they then win over the ones of
// a model saved in this browser); "#view=runs" alone carries none.
export const linkHadSettings = [...new URLSearchParams(location.hash.replace(/^#/, '')).keys()].some((k) => k !== 'view');

// The dataset is fixed for a page load: choosing another reloads the page.
export const isImages = () => state.dataset === 'fashion';
export const items = () => (isImages() ? 'images' : state.dataset === 'own' ? 'texts' : 'reviews'); // (datasets.js has the rest)

// The open section of the page ("view" in the hash: views/sections.js).
export const VIEWS = ['train', 'settings', 'words', 'diagnosis', 'runs', 'files', 'images'];
export let view = 'train';
export function setView(name) {
  view = VIEWS.includes(name) ? name : 'train';
  writeHash();
}

// "#epochs=3&lr=0.01": every engine setting is written (so a link keeps its
// meaning even if a default changes), the shard only when not the default.
// Until the schema is known the hash is left as the link gave it.
export function writeHash() {
  if (!schemaLoaded) return;
  const params = new URLSearchParams();
  if (view !== 'train') params.set('view', view);
  for (const [key, prop] of Object.entries(PROPS)) {
    if ((key === 'shard' || key === 'dataset') && state[key] === prop.def) continue;
    params.set(key, prop.format(state[key]));
  }
  const hash = '#' + params.toString().replaceAll('%2F', '/');
  if (location.hash !== hash) window.history.replaceState(null, '', hash);
}

// The settings the link itself gave (readHash), which a dataset's recipe
// does not override (views/settings.js ensureDatasetModel).
export let hashKeys = new Set();

// Applies the hash to `state`; returns notes about values it had to ignore.
// Before the schema, engine keys are left for later (no notes about them).
export function readHash() {
  const notes = [];
  hashKeys = new Set();
  for (const [key, prop] of Object.entries(PROPS)) state[key] = prop.def;
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  view = 'train';
  for (const [key, value] of params) {
    if (key === 'view') {
      if (VIEWS.includes(value)) view = value;
      else notes.push(`view=“${value}” is not a part of the page, so it was ignored`);
      continue;
    }
    const prop = Object.hasOwn(PROPS, key) ? PROPS[key] : null;
    if (!prop) {
      if (schemaLoaded) notes.push(`“${key}” is not a setting, so it was ignored`);
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

// An engine value (a preset's, a checkpoint's config) as the page keeps it:
// float32 values come back as doubles (0.8999999761581421), so a float keeps
// the 7 significant digits a float32 holds. Throws like parse().
export function fromEngine(key, value) {
  const prop = PROPS[key];
  const v = prop.kind === 'float' && typeof value === 'number' ? Number(value.toPrecision(7)) : value;
  return prop.parse(String(v));
}

// Changes one setting from text (a control or the word map); throws the
// parser's message for a bad value, which then changes nothing.
export function setSetting(key, text) {
  state[key] = PROPS[key].parse(text);
  writeHash();
}

// The config the engine gets: the engine keys (an image model's without the
// text-only ones, plus its size and classes from the shard; a text model's
// classes from the shard when its info has them).
export function engineConfig(shardInfo) {
  if (!isImages()) {
    const config = Object.fromEntries(ENGINE_KEYS.map((k) => [k, state[k]]));
    // A labelled-text shard's K (its info's classes), else the default 2.
    if (shardInfo?.kind !== 'images' && shardInfo?.classes >= 2) config.classes = shardInfo.classes;
    return config;
  }
  const config = Object.fromEntries(ENGINE_KEYS.filter((k) => !TEXT_ONLY_KEYS.includes(k)).map((k) => [k, state[k]]));
  if (shardInfo?.kind === 'images') {
    config.input_dim = shardInfo.height * shardInfo.width * shardInfo.channels;
    config.classes = shardInfo.classes;
  }
  return config;
}
