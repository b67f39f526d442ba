// pretrain.js: the page's side of pretrained embeddings and the model menu's
// texts. WordVectors loads the unlabelled reviews (imdb-unsup.shard) into the
// worker, trains word2vec there with progress (web/PROTOCOL.md: loadCorpus,
// pretrain, stopPretrain, nearest), keeps track of which settings the
// session's vectors were trained with, and draws the "Word vectors" panel.
//
// Deliberately not here: the page's state table, the training runs and the
// charts (app.js), any engine work (the worker), HTML built from strings
// (words go through textContent).

// What each preset of the model menu is, in a sentence or two.
export const PRESET_NOTES = {
  'tutorial-bag':
    'The Keras text-classification tutorial: Embedding(10000, 16), the average over the review, Dense(16, ReLU), Dense(1). ' +
    '40 epochs of 15,000 reviews, about a second each.',
  'tutorial-lstm':
    'The Keras RNN tutorial: Embedding(10000, 32), LSTM(32), Dense(1); maxlen 250, batch 128, 10 epochs of 20,000 reviews ' +
    '(5,000 validate), stopping early once validation loss has not improved for 2 epochs and keeping the best epoch. ' +
    'Several seconds per epoch.',
  'tutorial-gru': 'The LSTM tutorial with a GRU(32): fewer gates, a little faster.',
  'tutorial-bilstm': 'The LSTM tutorial with Bidirectional(LSTM(32)): reads each review both ways, twice the work.',
  'tutorial-pretrained':
    'Our answer to the TF-Hub tutorial: word vectors learned first from the 50,000 unlabelled reviews (word2vec, ' +
    'in your browser), then the LSTM recipe on only 1,000 labelled reviews, beside the same model trained from scratch.',
  'tutorial-mlp':
    'The Keras basic classification tutorial: the 28 × 28 pixels divided by 255, Dense(512, ReLU), Dense(10), softmax; ' +
    'Adam 0.001, batch 64, 10 epochs of 50,000 images (10,000 validate). A few seconds per epoch.',
  ngram:
    'Beyond the tutorials: a fastText-style bag of words and bigrams (the 200,000 most frequent word pairs of the training ' +
    'reviews), each weighted by its NBSVM log-count ratio, averaged over the review, then one dense unit; Adam updates only ' +
    'the rows a batch uses (lazy Adam). Word pairs such as “not good” and the NB weights carry what one averaged word vector ' +
    'cannot: test accuracy 0.9164 natively (build/imdb_train --preset ngram), against 0.864–0.877 for the tutorials’ recipes and 0.912 ' +
    'for NBSVM. Stops early after 4 epochs of 20,000 reviews (5,000 validate).',
  'tutorial-transformer':
    'A small BERT-style encoder from scratch: token and position embeddings (width 32, maxlen 200), one block of ' +
    '2-head self-attention and a GELU feed-forward of 64 (pre-LN), the masked mean over the words, Dense(1); AdamW 0.001 ' +
    '(weight decay 0.01, 200 warm-up steps, linear decay), batch 32, stopping early on validation loss and keeping the ' +
    'best epoch. Test accuracy 0.8742 natively (build/imdb_train --preset tutorial-transformer --threads 2, best epoch 2 ' +
    'of 3). It costs about 36 s of CPU an epoch natively; on a busy 2-core machine (load 7-12) an epoch took 80-114 s ' +
    'in the page against 92-95 s natively, so minutes, not seconds. The attention view under the review box shows which ' +
    'words each word looks at.',
  'transformer-pretrained':
    'A wider small BERT (width 64, 4 heads, feed-forward 128, ALiBi’s distance penalty in every head), started from an ' +
    'encoder pretrained as a masked-language model (the panel “Pretrain the Transformer”: pretrain it there, or load an ' +
    'encoder file, before Train). Pretraining has its own rate, 0.003 with 500 warm-up steps, and the positions start ' +
    'as sinusoids; fine-tuning is AdamW 0.001 over 2 epochs, keeping the best. Test accuracy natively 0.8787 after one ' +
    'pretraining pass, 0.8855 after 8 and 0.8877 after 12 (build/imdb_pretrain --passes 12, then build/imdb_train --preset ' +
    'transformer-pretrained --init encoder.ckpt --threads 2), against 0.8701 for the same model from scratch. A pass ' +
    'costs about 4 minutes natively on 2 cores (5½ in this page), an epoch about 25 s. ' +
    'With “Also train it from scratch, to compare” (Embedding settings) Train first trains the same model without the ' +
    'encoder: its curves stay on the charts, dashed, under the pretrained one’s.',
  custom: 'Your own settings; the link keeps them.',
};

// What each recipe costs and earns, measured natively on this project's
// 2-core machine while it was shared (nice -n 10 scripts/short-table.sh, one
// thread; README "Short reviews"): test accuracy, accuracy on the test
// reviews cut to their first 20 words and to their first sentence, the
// training time ("Trained N epochs in X ms"), the whole run's time (data,
// training, test sets) and the load average when it began. The page's wasm
// engine trains the same histories; its own times are in the README's Figures.
export const PRESET_COSTS = {
  'tutorial-bag': { test: 0.8729, words20: 0.6825, sentence: 0.6704, trainS: 2.5, runS: 5.8, load: 11.2 },
  'tutorial-lstm': { test: 0.8689, words20: 0.6804, sentence: 0.6743, trainS: 236.6, runS: 304.0, load: 23.3 },
  'tutorial-gru': { test: 0.8644, words20: 0.6742, sentence: 0.6743, trainS: 350.8, runS: 421.2, load: 21.6 },
  'tutorial-bilstm': { test: 0.8701, words20: 0.684, sentence: 0.6817, trainS: 501.8, runS: 603.5, load: 25.1 },
  'tutorial-pretrained': { test: 0.842, words20: 0.6826, sentence: 0.6751, trainS: 67.1, runS: 640.6, load: 10.8 },
  ngram: { test: 0.9164, words20: 0.7258, sentence: 0.72, trainS: 9.6, runS: 16.4, load: 11.3 },
};

// The hint's sentence of what a recipe costs and earns ('' when not measured).
export function presetCostNote(name) {
  const c = PRESET_COSTS[name];
  if (!c) return '';
  const acc = (x) => x.toFixed(3);
  return (
    `Measured here (natively, one thread, load average ${c.load}): test accuracy ${acc(c.test)}; ` +
    `on short reviews ${acc(c.words20)} (first 20 words) and ${acc(c.sentence)} (first sentence); ` +
    `${c.runS.toFixed(1)} s for the whole run, ${c.trainS.toFixed(1)} s of it training.`
  );
}

// The config keys word2vec uses: vectors trained with other values of these
// do not fit a model (the engine refuses them).
export const W2V_KEYS = ['vocab_size', 'embed_dim', 'seed', 'w2v_epochs', 'w2v_window', 'w2v_negative', 'w2v_sample', 'w2v_lr'];

// Words whose nearest neighbours show what the vectors learned.
const PROBES = ['excellent', 'awful', 'boring', 'funny'];

const fmtInt = (n) => Math.round(n).toLocaleString('en-US');

export class StoppedError extends Error {
  constructor() {
    super('stopped');
    this.stopped = true;
  }
}

export class WordVectors {
  // worker: the page's EngineWorker (request(type, data)); el: the panel's
  // elements {panel, status, progress, neighbours}; onChange: called after
  // every visible change (the page updates its status line).
  constructor(worker, el, onChange = () => {}) {
    this.worker = worker;
    this.el = el;
    this.onChange = onChange;
    this.state = 'none'; // none | loading | training | ready | failed
    this.corpusUrl = null;
    this.reviews = 0;
    this.key = null; // the W2V_KEYS values the session's vectors were trained with
    this.progress = null; // the last pretrainProgress event's data
    this.done = null; // the pretrainDone event's data
    this.loaded = null; // {loaded, total} while the corpus downloads
    this.neighbours = null;
    this.pending = null; // {resolve, reject} of the run in flight
    this.render();
  }

  keyOf(config) {
    return JSON.stringify(W2V_KEYS.map((k) => config[k]));
  }

  // True when the session holds vectors trained with config's settings.
  has(config) {
    return this.state === 'ready' && this.key === this.keyOf(config);
  }

  // Loads the corpus (once) and trains vectors for config unless the session
  // already has them. Rejects with StoppedError when stop() is called.
  async ensure(config, corpusUrl) {
    if (this.has(config)) return;
    this.stopRequested = false;
    if (this.corpusUrl !== corpusUrl) {
      this.state = 'loading';
      this.loaded = null;
      this.render();
      try {
        const info = await this.worker.request('loadCorpus', { url: corpusUrl });
        this.corpusUrl = corpusUrl;
        this.reviews = info.reviews;
      } catch (err) {
        this.state = 'failed';
        this.render();
        throw new Error(`the unlabelled reviews could not be loaded: ${err.message}`);
      }
      if (this.stopRequested) throw new StoppedError();
    }
    this.state = 'training';
    this.key = null;
    this.progress = null;
    this.done = null;
    this.neighbours = null;
    this.render();
    const finished = new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
    });
    const w2v = Object.fromEntries(W2V_KEYS.map((k) => [k, config[k]]));
    try {
      await this.worker.request('pretrain', w2v);
    } catch (err) {
      this.pending = null;
      this.state = 'failed';
      this.render();
      throw err;
    }
    await finished;
    this.key = this.keyOf(config);
    this.state = 'ready';
    this.render();
    try {
      const { neighbours } = await this.worker.request('nearest', { words: PROBES, k: 5 });
      this.neighbours = neighbours;
    } catch {
      this.neighbours = null; // only a sanity view: training goes on without it
    }
    this.render();
  }

  // Forgets the corpus and the vectors: a restarted worker has neither. A
  // run in flight is dropped, not rejected: the page's recovery owns what
  // happens next.
  reset() {
    this.pending = null;
    Object.assign(this, { state: 'none', corpusUrl: null, key: null, progress: null, done: null, loaded: null, neighbours: null });
    this.render();
  }

  async stop() {
    if (this.state !== 'training' && this.state !== 'loading') return;
    this.stopRequested = true;
    try {
      await this.worker.request('stopPretrain', {});
    } finally {
      this.state = 'none';
      const p = this.pending;
      this.pending = null;
      p?.reject(new StoppedError());
      this.render();
    }
  }

  // Events from the worker; true when the event was one of ours.
  handleEvent(type, data) {
    switch (type) {
      case 'corpusProgress':
        this.loaded = data;
        this.render();
        return true;
      case 'pretrainProgress':
        this.progress = data;
        this.render();
        return true;
      case 'pretrainDone': {
        this.done = data;
        const p = this.pending;
        this.pending = null;
        p?.resolve();
        return true;
      }
      case 'pretrainError': {
        this.state = 'failed';
        const p = this.pending;
        this.pending = null;
        p?.reject(new Error(data.message || 'word2vec failed'));
        this.render();
        return true;
      }
      default:
        return false;
    }
  }

  statusText() {
    const p = this.progress;
    switch (this.state) {
      case 'loading': {
        const l = this.loaded;
        return l && l.total
          ? `Loading the 50,000 unlabelled reviews: ${(l.loaded / 1e6).toFixed(1)} of ${(l.total / 1e6).toFixed(1)} MB…`
          : 'Loading the 50,000 unlabelled reviews…';
      }
      case 'training': {
        if (!p) return `Learning word vectors from ${fmtInt(this.reviews)} unlabelled reviews…`;
        const parts = [`Learning word vectors (word2vec): ${(p.fraction * 100).toFixed(0)}%`];
        if (p.epochs > 1) parts.push(`pass ${p.epoch} of ${p.epochs}`);
        if (p.wordsPerSec > 0) parts.push(`${fmtInt(p.wordsPerSec)} words/s`);
        if (Number.isFinite(p.loss)) parts.push(`loss ${p.loss.toFixed(3)}`);
        if (p.wordsPerSec > 0 && p.tokensTotal > p.tokens)
          parts.push(`about ${Math.ceil((p.tokensTotal - p.tokens) / p.wordsPerSec)} s left`);
        return parts.join(' · ');
      }
      case 'ready': {
        const d = this.done;
        return d
          ? `Word vectors ready: ${fmtInt(d.tokens)} words of ${fmtInt(this.reviews)} unlabelled reviews in ${(d.ms / 1000).toFixed(1)} s (${fmtInt(d.wordsPerSec)} words/s). Words used alike now start alike:`
          : 'Word vectors ready.';
      }
      case 'failed':
        return 'The word vectors could not be learned: see the message above.';
      default:
        return 'Pressing Train first learns word vectors from the 50,000 unlabelled reviews (word2vec, skip-gram with negative sampling), then trains the model on top of them. They are kept for this visit.';
    }
  }

  render() {
    const { status, progress, neighbours } = this.el;
    status.textContent = this.statusText();
    if (this.state === 'loading' && this.loaded?.total) {
      progress.max = this.loaded.total;
      progress.value = this.loaded.loaded;
    } else if (this.state === 'loading') {
      progress.removeAttribute('value');
    } else {
      progress.max = 1;
      progress.value = this.state === 'ready' ? 1 : this.progress ? this.progress.fraction : 0;
    }
    const list = document.createElement('ul');
    if (this.state === 'ready' && this.neighbours) {
      for (const [word, near] of Object.entries(this.neighbours)) {
        if (!near.length) continue;
        const li = document.createElement('li');
        const b = document.createElement('strong');
        b.textContent = word;
        li.append(b, ` → ${near.map((n) => n.word).join(', ')}`);
        list.append(li);
      }
    }
    neighbours.replaceChildren(...(list.children.length ? [list] : []));
    this.onChange();
  }

  // A copy of what the panel shows, for the page's read-only test hook.
  snapshot() {
    return {
      state: this.state,
      fraction: this.state === 'ready' ? 1 : this.progress ? this.progress.fraction : 0,
      progress: this.progress ? { ...this.progress } : null,
      done: this.done ? { ...this.done } : null,
      reviews: this.reviews,
      neighbours: this.neighbours ? structuredClone(this.neighbours) : null,
    };
  }
}
