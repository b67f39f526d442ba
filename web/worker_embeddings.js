// worker_embeddings.js: the worker's requests about what the model learned
// about words (web/PROTOCOL.md, "Embeddings"), and the comparison run that
// shows what would have happened without early stopping.
//
// worker.js imports this module and hands it its helpers (ctx); the
// snapshots themselves live in the wasm session, recorded by the engine at
// every epoch's end (engine/embedding_stats.c through engine/wasm_api.c), so
// nothing here holds per-epoch data. Deliberately not here: any computation
// on vectors (the engine does it) or anything about the page.

const STATS_ROW = 8;      // floats per row of nnw_embed_stats
const SLICE_MS = 15;      // the comparison run's slices, like training's
const MAX_SLICE_BATCHES = 256;

// ctx: {api, session(), withString, answer, lastError, check, RequestError,
//       post, trainingState()}
export function embeddingHandlers(ctx) {
  const { api, withString, answer, lastError, check, RequestError, post } = ctx;
  const session = () => ctx.session();

  function needModel() {
    const e = api();
    if (!e._nnw_params_len(session())) throw new RequestError('no model yet: send configure first');
    return e;
  }

  function info() {
    return JSON.parse(answer(needModel()._nnw_embed_info(session())));
  }

  // Rows of nnw_embed_stats: every recorded epoch, or only the last.
  function statsRows(lastOnly = false) {
    const e = needModel();
    const k = e._nnw_embed_stats(session());
    if (k < 0) throw new RequestError(lastError());
    const at = e._nnw_embed_data(session()) >> 2;
    const heap = e.HEAPF32; // fresh: the call may have grown memory
    const nan = (x) => (Number.isNaN(x) ? null : x);
    const rows = [];
    for (let i = lastOnly ? Math.max(0, k - 1) : 0; i < k; i++) {
      const r = at + i * STATS_ROW;
      rows.push({
        epoch: heap[r], stored: heap[r + 1] === 1, rareNorm: nan(heap[r + 2]), frequentNorm: nan(heap[r + 3]),
        rareShare: nan(heap[r + 4]), baseScore: nan(heap[r + 5]), rareWords: heap[r + 6], frequentWords: heap[r + 7],
      });
    }
    return rows;
  }

  const words = new Map(); // id -> word, for this shard
  function word(id) {
    let w = words.get(id);
    if (w === undefined) {
      w = answer(api()._nnw_word(session(), id));
      words.set(id, w);
    }
    return w;
  }

  // The id of a typed word, or a RequestError saying why there is none.
  function wordId(text) {
    const id = withString(String(text ?? ''), (p, n) => api()._nnw_word_id(session(), p, n));
    if (id === -1) throw new RequestError('type a word');
    if (id === -3) throw new RequestError(`“${text}” is several words: type one`);
    if (id === -2) throw new RequestError(`“${text}” is not among the model's words (its vocabulary is the most frequent ones)`);
    if (id < 0) throw new RequestError(lastError());
    return id;
  }

  function epochArg(data, name = 'epoch') {
    const epoch = data?.[name];
    if (!Number.isInteger(epoch) || epoch < 1) throw new RequestError(`${name} must be an epoch number (1 or more)`);
    return epoch;
  }

  // --------------------------------------------------- the comparison run

  const full = { generation: 0, running: false, batches: 1 };
  const channel = new MessageChannel();
  channel.port1.onmessage = (event) => fullSlice(event.data);

  function fullSlice(generation) {
    if (generation !== full.generation || !full.running) return;
    const e = api();
    const t0 = performance.now();
    const status = e._nnw_full_train(session(), full.batches);
    const ms = performance.now() - t0;
    if (status !== 0) {
      full.running = false;
      post({ type: 'fullError', data: { message: lastError() } });
      return;
    }
    const at = e._nnw_full_progress(session()) >> 2;
    const q = e.HEAPF32.slice(at, at + 12);
    const [epoch, , , epochDone, , loss, acc, valLoss, valAcc, testDone, testLoss, testAcc] = q;
    const want = Math.round(SLICE_MS / Math.max(ms / full.batches, 0.01));
    full.batches = Math.max(1, Math.min(MAX_SLICE_BATCHES, want, full.batches * 2));
    const nan = (x) => (Number.isNaN(x) ? null : x);
    if (epochDone) post({ type: 'fullEpoch', data: { epoch, loss, acc, val_loss: nan(valLoss), val_acc: nan(valAcc) } });
    if (testDone) {
      full.running = false;
      const history = JSON.parse(answer(e._nnw_full_history(session())));
      post({ type: 'fullDone', data: { history, test: Number.isNaN(testAcc) ? null : { loss: testLoss, acc: testAcc } } });
      return;
    }
    channel.port2.postMessage(generation);
  }

  return {
    // Called by worker.js when the model is replaced (configure, import,
    // a new shard): a comparison run in flight belongs to the old one.
    onNewModel() {
      full.generation++;
      full.running = false;
      words.clear();
    },

    // The statistics of the epoch that just ended, for the `epoch` event.
    epochData() {
      try {
        const last = statsRows(true)[0] ?? null;
        return { ...last, ms: info().last_ms };
      } catch (err) {
        return { error: err.message };
      }
    },

    handlers: {
      embedInfo() {
        return info();
      },

      embedStats(data) {
        const e = needModel();
        if (data?.rareBelow !== undefined || data?.frequentFrom !== undefined) {
          const rare = data.rareBelow, frequent = data.frequentFrom;
          if (!Number.isInteger(rare) || !Number.isInteger(frequent) || rare < 1 || frequent < 1)
            throw new RequestError('rareBelow and frequentFrom must be whole numbers of at least 1');
          check(e._nnw_embed_groups(session(), rare, frequent));
        }
        return { stats: statsRows() };
      },

      embedMap(data) {
        const e = needModel();
        const basis = epochArg(data, 'basis');
        const n = data?.words;
        if (!Number.isInteger(n) || n < 1) throw new RequestError('words must be a whole number of at least 1');
        const t0 = performance.now();
        const k = e._nnw_embed_map(session(), basis, n, data?.basisOnly ? 1 : 0);
        if (k < 0) throw new RequestError(lastError());
        const at = e._nnw_embed_data(session()) >> 2;
        const all = e.HEAPF32.slice(at, at + k + k * n * 3 + n + 3); // a copy to transfer
        const epochs = Array.from(all.subarray(0, k));
        const xy = all.slice(k, k + k * n * 2);
        const effect = all.slice(k + k * n * 2, k + k * n * 3);
        const counts = all.slice(k + k * n * 3, k + k * n * 3 + n);
        const [var0, var1, total] = all.subarray(k + k * n * 3 + n);
        const list = new Array(n);
        for (let i = 0; i < n; i++) list[i] = word(4 + i);
        const reply = {
          basis, epochs, words: list, xy, effect, counts,
          explained: total > 0 ? [var0 / total, var1 / total] : [0, 0], ms: performance.now() - t0,
        };
        return [reply, [xy.buffer, effect.buffer, counts.buffer]];
      },

      neighbours(data) {
        const e = needModel();
        const epoch = epochArg(data);
        const k = Number.isInteger(data?.k) && data.k > 0 ? Math.min(data.k, 100) : 10;
        const id = wordId(data?.word);
        const m = e._nnw_embed_neighbours(session(), epoch, id, k);
        if (m < 0) throw new RequestError(lastError());
        const at = e._nnw_embed_data(session()) >> 2;
        const rows = e.HEAPF32.slice(at, at + 2 * m);
        const neighbours = [];
        for (let i = 0; i < m; i++) neighbours.push({ id: rows[2 * i], word: word(rows[2 * i]), similarity: rows[2 * i + 1] });
        return { word: word(id), id, epoch, neighbours };
      },

      memorised(data) {
        const e = needModel();
        const from = epochArg(data, 'from');
        const to = epochArg(data, 'to');
        const countBelow = Number.isInteger(data?.countBelow) && data.countBelow > 0 ? data.countBelow : 0;
        const k = Number.isInteger(data?.k) && data.k > 0 ? Math.min(data.k, 200) : 15;
        const m = e._nnw_embed_changes(session(), from, to, countBelow, k);
        if (m < 0) throw new RequestError(lastError());
        const at = e._nnw_embed_data(session()) >> 2;
        const rows = e.HEAPF32.slice(at, at + 4 * m);
        const words_ = [];
        for (let i = 0; i < m; i++) {
          const r = rows.subarray(4 * i, 4 * i + 4);
          words_.push({ id: r[0], word: word(r[0]), count: r[1], before: r[2], after: r[3] });
        }
        return { from, to, countBelow, words: words_ };
      },

      // The two files the TensorFlow Embedding Projector loads: one vector
      // per line (tab-separated) and the matching metadata with a header.
      projectorTsv(data) {
        const e = needModel();
        const epoch = epochArg(data);
        const { vocab_size: V, embed_dim: E } = info();
        const n = e._nnw_embed_effects(session(), epoch);
        if (n < 0) throw new RequestError(lastError());
        let at = e._nnw_embed_data(session()) >> 2;
        const scored = e.HEAPF32.slice(at, at + 1 + 2 * n);
        const p = e._nnw_embed_vectors(session(), epoch);
        if (!p) throw new RequestError(lastError());
        at = p >> 2;
        const emb = e.HEAPF32.slice(at, at + V * E); // fresh view after the calls above
        const vectors = new Array(n), metadata = ['word\ttraining count\teffect'];
        for (let i = 0; i < n; i++) {
          const id = 4 + i;
          vectors[i] = Array.from(emb.subarray(id * E, id * E + E), (x) => x.toPrecision(6)).join('\t');
          // A token never holds a tab or a newline (they separate tokens).
          metadata.push(`${word(id)}\t${scored[1 + i]}\t${scored[1 + n + i].toFixed(5)}`);
        }
        return { epoch, words: n, vectors: vectors.join('\n') + '\n', metadata: metadata.join('\n') + '\n' };
      },

      fullRun() {
        const e = needModel();
        const state = ctx.trainingState();
        if (state === 'running' || state === 'paused')
          throw new RequestError('the comparison run starts after training: wait for it to finish');
        if (full.running) return { started: false, running: true };
        check(e._nnw_full_start(session()));
        full.generation++;
        full.running = true;
        full.batches = 1;
        channel.port2.postMessage(full.generation);
        return { started: true };
      },

      fullStop() {
        full.generation++;
        const was = full.running;
        full.running = false;
        api()._nnw_full_free(session());
        return { stopped: was };
      },
    },
  };
}
