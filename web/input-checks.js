// input-checks.js: what the user types, checked before it reaches the
// engine, and the messages that say what is wrong where it is wrong.
//
// - Settings against the loaded shard (a vocabulary or maxlen larger than
//   the shard's, a validation set that leaves nothing to train on): the
//   page's state table only knows the engine's fixed ranges.
// - An engine message about a setting, mapped back to its control.
// - A message beside a control (aria-describedby, aria-invalid), in an
//   element created next to it, so index.html needs no slot per control.
// - Notes about a typed review the model cannot read well: no words at
//   all, only words it does not know, or a text too long to colour.
//
// Deliberately not here: the state table itself (app.js), talking to the
// worker. Every message is put on the page with textContent.

// Longer texts are scored whole but not coloured word by word: the page
// would need a <span> per token (a 5 MB paste has about a million), and the
// model reads only its last maxlen tokens anyway.
export const MAX_COLOURED_CHARS = 200000;

const fmtInt = (n) => Math.round(n).toLocaleString('en-US');

// A message when `value` for `key` does not fit the loaded shard, else null.
export function shardLimitError(key, value, shardInfo) {
  if (!shardInfo) return null;
  const train = shardInfo.splits?.train ?? 0;
  if (key === 'vocab_size' && shardInfo.vocab_size > 0 && value > shardInfo.vocab_size)
    return `must be at most ${fmtInt(shardInfo.vocab_size)}: the loaded reviews have only that many word ids (rebuild the shard with a larger --vocab-size for more)`;
  if (key === 'maxlen' && shardInfo.max_tokens > 0 && value > shardInfo.max_tokens)
    return `must be at most ${fmtInt(shardInfo.max_tokens)}: the loaded reviews were cut to that many tokens when the shard was built`;
  if (key === 'val_size' && train > 0 && value >= train)
    return `must be less than ${fmtInt(train)}, the number of training ${shardInfo.kind === 'images' ? 'images' : 'reviews'}, so that some are left to train on`;
  return null;
}

// The setting an engine message is about ('config "lr" is 100; allowed…',
// 'vocab_size is 40000 but the shard has…', 'config key "x" must be…'), if
// it is one of `keys`.
export function settingOfMessage(message, keys) {
  const m = /config(?: key)? "([a-z_0-9]+)"/.exec(message) || /^([a-z_0-9]+) (?:is|plus) /.exec(message);
  return m && keys.includes(m[1]) ? m[1] : null;
}

function messageElement(input, create) {
  const id = `${input.id}-message`;
  let el = document.getElementById(id);
  if (!el && create) {
    el = document.createElement('p');
    el.id = id;
    el.className = 'field-message';
    el.setAttribute('aria-live', 'polite');
    input.insertAdjacentElement('afterend', el);
    const described = (input.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean);
    if (!described.includes(id)) input.setAttribute('aria-describedby', [...described, id].join(' '));
  }
  return el;
}

// Shows text beside input: an error (marks the control invalid) or, with
// {hint: true}, advice about a value that is valid but did not work out.
export function showFieldMessage(input, text, { hint = false } = {}) {
  const el = messageElement(input, true);
  el.textContent = text;
  el.classList.toggle('advice', hint);
  el.hidden = false;
  if (hint) input.removeAttribute('aria-invalid');
  else input.setAttribute('aria-invalid', 'true');
}

export function clearFieldMessage(input) {
  const el = messageElement(input, false);
  if (el) {
    el.textContent = '';
    el.hidden = true;
  }
  input.removeAttribute('aria-invalid');
}

// A note about a scored review, or '' when there is nothing to say.
// tokens: the explain reply's tokens (id 2 is <UNK>), or null when the text
// was only scored (too long to colour).
export function reviewNote(text, tokens, { vocabSize, maxlen, truncating }) {
  if (tokens === null)
    return `This text is ${fmtInt(text.length)} characters long. It is scored (the model reads only its ` +
      `${truncating === 'post' ? 'first' : 'last'} ${fmtInt(maxlen)} tokens), but words are coloured only in texts ` +
      `up to ${fmtInt(MAX_COLOURED_CHARS)} characters.`;
  if (tokens.length === 0)
    return 'There are no words here, only punctuation or symbols, so the model has nothing to read: ' +
      'the score is what it says about an empty review.';
  if (tokens.every((t) => t.id === 2))
    return `None of ${tokens.length === 1 ? 'this text' : 'these words'} is among the ${fmtInt(vocabSize)} words the model knows ` +
      '(it reads each as “unknown word”), so the score says little.';
  return '';
}
