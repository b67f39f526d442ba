// stopwords.js: the stop-word control of the Experiment form.
//
// The setting (PROPS.stopwords in app.js, the engine's config key
// "stopwords") is a list the engine reads (engine/stopwords.h): "" for none,
// "@english" for the built-in list, words to add, "-word" to take one out.
// The control shows it as a choice (keep every word / English / my own list)
// and the words themselves in a textarea; an edited list is written back as
// the shorter of "@english -not -no …" and the plain words, so links stay
// short. The engine expands and checks every list (the worker's 'stopwords'
// request): the page keeps no copy of the built-in list, and what it shows is
// exactly what training and the review box remove.
//
// Deliberately not here: the filtering itself (C, applied in the engine).

const $ = (id) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`index.html lacks #${id}`);
  return el;
};

export function createStopwordsControl(ctx) {
  const mode = $('stopwords-mode');
  const editor = $('stopwords-editor');
  const list = $('stopwords-list');
  const hint = $('stopwords-hint');
  const baseHint = hint.textContent;
  let english = null; // the built-in list, from the engine
  let engine = false;
  let seq = 0; // the newest apply or render wins: they wait for the engine

  const expand = (spec) => ctx.request('stopwords', { spec });

  // The words of the textarea: lowercased, each once, in order. A leading
  // "-", "+" or "@" means nothing in a plain list, so it is dropped.
  function wordsOf(textValue) {
    const seen = new Set();
    for (const raw of textValue.split(/[\s,]+/)) {
      const w = raw.replace(/^[-+@]+/, '').toLowerCase();
      if (w) seen.add(w);
    }
    return [...seen];
  }

  // The shortest setting for a list of words.
  function specFor(words) {
    const plain = words.join(' ');
    if (!english || words.length === 0) return plain;
    const have = new Set(words);
    const builtIn = new Set(english);
    const diff = ['@english', ...english.filter((w) => !have.has(w)).map((w) => `-${w}`),
      ...words.filter((w) => !builtIn.has(w))].join(' ');
    return diff.length <= plain.length ? diff : plain;
  }

  function note(text, invalid) {
    hint.textContent = text;
    if (invalid) list.setAttribute('aria-invalid', 'true');
    else list.removeAttribute('aria-invalid');
  }

  async function apply(spec) {
    const mine = ++seq;
    try {
      if (engine && spec) {
        const r = await expand(spec); // the engine refuses a list it cannot read
        if (mine !== seq) return;
        note(`${r.count} word${r.count === 1 ? '' : 's'} removed from every review. ${baseHint}`, false);
      } else {
        note(baseHint, false);
      }
      ctx.applySetting('stopwords', spec);
    } catch (err) {
      if (mine === seq) note(`This list cannot be used: ${err.message}`, true);
    }
  }

  // Shows the setting in force (after a link, a reset or a loaded model).
  async function render() {
    const spec = ctx.state.stopwords;
    const mine = ++seq;
    mode.value = spec === '' ? 'none' : spec.trim().toLowerCase() === '@english' ? 'english' : 'custom';
    editor.hidden = spec === '';
    if (!spec) {
      note(baseHint, false);
      return;
    }
    if (!engine) return;
    try {
      const r = await expand(spec);
      if (mine !== seq) return;
      list.value = r.words.join(' ');
      note(`${r.count} word${r.count === 1 ? '' : 's'} removed from every review. ${baseHint}`, false);
    } catch (err) {
      if (mine === seq) note(`The stop-word list in the link cannot be used: ${err.message}`, true);
    }
  }

  mode.addEventListener('change', () => {
    if (mode.value === 'none') {
      editor.hidden = true;
      apply('');
    } else if (mode.value === 'english') {
      editor.hidden = false;
      if (english) list.value = english.join(' ');
      apply('@english');
    } else {
      editor.hidden = false;
      if (!list.value.trim() && english) list.value = english.join(' ');
      apply(specFor(wordsOf(list.value)));
      list.focus();
    }
  });

  list.addEventListener('change', () => {
    const words = wordsOf(list.value);
    const spec = specFor(words);
    if (spec === ctx.state.stopwords) return; // e.g. a second change event on blur
    if (mode.value === 'english' && spec.toLowerCase() !== '@english') mode.value = 'custom';
    if (words.length === 0) {
      mode.value = 'none';
      editor.hidden = true;
    }
    apply(spec);
  });

  return {
    render,
    // The worker is up: fetch the built-in list and show the setting.
    async engineReady() {
      engine = true;
      try {
        english = (await expand('@english')).english;
      } catch (err) {
        ctx.showError(`Could not read the built-in stop-word list: ${err.message}`);
      }
      render();
    },
  };
}
