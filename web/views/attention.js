// attention.js: the attention view of the typed review, for a "transformer"
// model (issue 14): choose a block and a head (or the average of the
// heads); click a word to shade every word by its share of that word's
// attention; below, the attention each word receives on average over all
// the words that look (the column means of the matrix: the model's masked
// mean pools every word's final vector with the same weight, so these are
// the words that feed the score most through attention). The numbers are
// the engine's (worker request `attention`, engine/attention_view.h): this
// file only draws them. Live: it asks again when the text changes, after
// each epoch (review.js re-scores then) and at most once per LIVE_MS while
// a batch event says the weights moved; one request at a time, newest text
// only, so training never waits on more than one forward pass of one review.
//
// Deliberately not here: any maths on the model, HTML from strings (every
// node is made with createElement and textContent).

import { $, page, showError } from '../page.js';
import { state } from '../state.js';

const LIVE_MS = 1500;

// A share shown as a percentage.
const pct = (x) => `${(x * 100).toFixed(1)}%`;

export function createAttentionView() {
  const ui = {
    panel: $('attention'),
    block: $('attention-block'),
    head: $('attention-head'),
    status: $('attention-status'),
    words: $('attention-words'),
    pooled: $('attention-pooled'),
    top: $('attention-top'),
  };
  let shown = null; // {text, reply}: the last answer drawn
  let selected = 0; // the window position of the clicked word
  let inFlight = false;
  let wanted = null; // the newest text to ask about, or null
  let lastLive = -Infinity;

  const isTransformer = () => (page.engineInForce?.model ?? state.model) === 'transformer';

  function fillMenu(select, n, label, extra) {
    const want = [...(extra ? [[String(-1), extra]] : []), ...Array.from({ length: n }, (_, i) => [String(i), `${label} ${i + 1}`])];
    const have = [...select.options].map((o) => [o.value, o.textContent]);
    if (JSON.stringify(want) === JSON.stringify(have)) return;
    const keep = select.value;
    select.replaceChildren(...want.map(([value, text]) => new Option(text, value)));
    select.value = want.some(([v]) => v === keep) ? keep : want[extra ? 1 : 0]?.[0] ?? '0';
  }

  // The (W, W) matrix of the chosen block and head, or the heads' average.
  function matrix(reply) {
    const W = reply.positions, WW = W * W;
    const l = Math.min(Number(ui.block.value) || 0, reply.blocks - 1);
    const h = Number(ui.head.value);
    const at = (k) => reply.weights.subarray((l * reply.heads + k) * WW, (l * reply.heads + k + 1) * WW);
    if (h >= 0 && h < reply.heads) return at(h);
    const avg = new Float32Array(WW);
    for (let k = 0; k < reply.heads; k++) {
      const m = at(k);
      for (let i = 0; i < WW; i++) avg[i] += m[i] / reply.heads;
    }
    return avg;
  }

  const wordOf = (text, t) => (t.start < 0 ? '<START>' : text.slice(t.start, t.end));

  function draw() {
    if (!shown) return;
    const { text, reply } = shown;
    const W = reply.positions;
    const m = matrix(reply);
    if (selected >= W) selected = W > 1 ? 1 : 0;
    const row = m.subarray(selected * W, (selected + 1) * W);
    const received = new Float32Array(W);
    for (let i = 0; i < W; i++) for (let j = 0; j < W; j++) received[j] += m[i * W + j] / W;
    // Shaded above an even share (1/W) only, darkest at the largest: attention
    // of a small model is close to even, and a shade relative to zero would
    // paint every word alike.
    const even = 1 / W;
    const shade = (w, max) => (max > even && w > even ? ((w - even) / (max - even)).toFixed(3) : '0');
    const rowMax = Math.max(...row), recMax = Math.max(...received);

    // The words as buttons, gaps as text; rebuilt only for a new text or window.
    const key = `${text}\u0000${reply.tokens.map((t) => `${t.start}-${t.end}`).join(',')}`;
    if (ui.words.dataset.key !== key) {
      const wordEls = [], cellEls = [];
      for (let p = 0; p < W; p++) {
        const t = reply.tokens[p];
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'att-word';
        b.dataset.position = String(p);
        b.textContent = wordOf(text, t);
        wordEls.push(b);
        const c = document.createElement('span');
        c.className = 'att-cell';
        c.dataset.position = String(p);
        c.textContent = wordOf(text, t);
        cellEls.push(c);
      }
      ui.words.replaceChildren(...wordEls);
      ui.pooled.replaceChildren(...cellEls);
      ui.words.dataset.key = key;
    }
    const who = wordOf(text, reply.tokens[selected]);
    [...ui.words.children].forEach((b, p) => {
      b.style.setProperty('--att', shade(row[p], rowMax));
      b.dataset.weight = String(row[p]);
      b.setAttribute('aria-pressed', String(p === selected));
      b.title = `${pct(row[p])} of “${who}”’s attention`;
    });
    [...ui.pooled.children].forEach((c, p) => {
      c.style.setProperty('--att', shade(received[p], recMax));
      c.dataset.weight = String(received[p]);
      c.title = `receives ${pct(received[p])} of the attention on average`;
    });
    const order = [...row.keys()].sort((a, b) => row[b] - row[a]).slice(0, 3);
    ui.top.textContent = `“${who}” looks most at: ${order.map((p) => `${wordOf(text, reply.tokens[p])} (${pct(row[p])})`).join(', ')}.`;
    const head = Number(ui.head.value) >= 0 ? `head ${Number(ui.head.value) + 1}` : 'the average of the heads';
    const cut = reply.tokens.length && reply.tokens[0].start >= 0 ? ' The review is longer than maxlen: its first words were cut, as the model reads it.' : '';
    ui.status.textContent = `Block ${(Number(ui.block.value) || 0) + 1}, ${head}: ${W} positions (<START> and the words the model reads; stop words are not read), so an even share is ${pct(even)}. Score ${reply.score.toFixed(3)}.${cut}`;
  }

  async function pump() {
    if (inFlight || wanted === null || ui.panel.hidden) return;
    const text = wanted;
    wanted = null;
    if (text.trim() === '') {
      shown = null;
      ui.words.replaceChildren();
      ui.pooled.replaceChildren();
      ui.words.dataset.key = '';
      ui.top.textContent = '';
      ui.status.textContent = 'Type a review above.';
      return;
    }
    inFlight = true;
    try {
      const reply = await page.worker.request('attention', { text });
      if (shown?.text !== text) selected = reply.positions > 1 ? 1 : 0;
      shown = { text, reply };
      fillMenu(ui.block, reply.blocks, 'block');
      fillMenu(ui.head, reply.heads, 'head', 'average of the heads');
      draw();
    } catch (err) {
      if (page.phase !== 'recovering' && !/^cancelled/.test(err.message)) showError(`Could not read the attention: ${err.message}`);
    } finally {
      inFlight = false;
      pump();
    }
  }

  // Ask again for the review box's text (newest only).
  function refresh() {
    if (ui.panel.hidden || !page.haveModel) return;
    wanted = $('review-text').value;
    pump();
  }

  ui.words.addEventListener('click', (e) => {
    const b = e.target.closest('.att-word');
    if (!b) return;
    selected = Number(b.dataset.position);
    draw();
  });
  ui.block.addEventListener('change', draw);
  ui.head.addEventListener('change', draw);
  $('review-text').addEventListener('input', refresh);

  return {
    refresh,
    // The model in force changed (configure, a loaded model): shown only for a transformer.
    modelChanged() {
      ui.panel.hidden = !isTransformer();
      shown = null;
      ui.words.dataset.key = '';
      refresh();
    },
    // A training batch event: the weights moved; at most once per LIVE_MS.
    weightsMoved() {
      const t = performance.now();
      if (t - lastLive < LIVE_MS) return;
      lastLive = t;
      refresh();
    },
    // Test hook: the answer drawn last.
    last: () => shown,
  };
}
