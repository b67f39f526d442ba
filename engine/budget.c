/* budget.c: what a configuration will cost, in bytes and in seconds, before
 * any of it is spent; and the one budget every create function checks.
 *
 * The estimate mirrors the allocations of model.c (create_bag, create_mlp,
 * create_recurrent), train.c (trainer_begin, the padded sets) and
 * embedding_stats.c (the page's snapshots and view model), in 64-bit
 * arithmetic that saturates instead of wrapping, so a link such as
 * model=bilstm&layers=4&hidden=3600 is measured as the 15 GB it is and not as
 * the 144 bytes a 32-bit size_t makes of it. tests/test_budget.c checks the
 * mirror: the parameter count exactly, the bytes against the allocations
 * counted by malloc. Not here: the allocations themselves.
 *
 * The budgets (nn.h):
 *  - wasm32 (and any 32-bit build): 1 GB. wasm32 addresses 4 GB, but this
 *    build's memory may grow to 2 GB (emscripten's default maximum), Chrome
 *    caps a worker's wasm memory at 2-4 GB depending on the device, and a
 *    wasm memory never shrinks: a run that grows it to 2 GB leaves the tab
 *    at 2 GB for good. Half the maximum for one run (its trainer and the
 *    page's embedding history) leaves the other half for what the session
 *    holds beside it: the shards (24 MB text, 55 MB images, 24 MB unlabelled
 *    reviews), word vectors, the diagnosis and the comparison run (a second
 *    trainer of the same config without the best-weights copy, checked
 *    against this budget on its own when it is created).
 *  - 64-bit native: 8 GB, the command-line tools on a workstation; big
 *    enough for every setting the page accepts, small enough that a typo in
 *    a config is refused rather than sending the machine into swap.
 *
 * The time limits: configure (init_seconds) at most 1 s and one training
 * batch (batch_seconds) at most 2 s in the page's engine, from rates
 * measured on this project's 2-core machine (node 20, wasm SIMD, one
 * thread; tests/wasm/budget.test.mjs prints the measured times beside the
 * estimates). The orthogonal initialisation is O(H^3) per recurrent layer:
 * without a bound, hidden 4096 takes minutes and the page's worker hangs
 * on every reload of the link. */
#include "nn.h"
#include "layers.h"
#include "encoder.h" /* nn_encoder_forward_flops: the transformer's batch */
#include "transformer.h" /* NN_TFM_CHUNKS */

#include <stdio.h>
#include <string.h>

typedef uint64_t u64;

/* Saturating arithmetic: an overflowing size becomes UINT64_MAX, which is
 * over every budget. */
static u64 mul(u64 a, u64 b) { return a && b > UINT64_MAX / a ? UINT64_MAX : a * b; }
static u64 mul3(u64 a, u64 b, u64 c) { return mul(mul(a, b), c); }
static u64 add(u64 a, u64 b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

/* Nanoseconds per operation in the page's engine: CPU time (node's
 * process.cpuUsage, so other processes on the machine do not count) of
 * engine.wasm in node 20 on this 2-core machine, fitted to the 131
 * configurations budget.test.mjs trains and rounded up: hidden 512 LSTM's
 * orthogonal initialisation (537 M multiply-adds) and GRU 600's (648 M)
 * took 0.8-1.3 ns per multiply-add; growing and zeroing 961 MB of fresh
 * memory 1.1 s; a GRU of 3 units, 4 layers, on 2905 reviews of maxlen 520,
 * 2.0-3.0 s for its 3.1 M row-steps (650-1000 ns each: at small H the
 * gates' element-wise work, not the products, is the cost); a GRU of 87
 * units on 3 reviews, 1.5 ms a step (at small B, reading the kernels is);
 * tutorial-lstm's batch of 128 about 130 ms (0.17 ns per multiply-add).
 * CPU time varied by up to 1.5x between runs as the machine's load did. */
#define NS_PER_DRAW 8.0        /* a uniform draw written into a weight */
#define NS_PER_NORMAL 40.0     /* a normal deviate (polar method, log and sqrt) */
#define NS_PER_ORTHO_MAC 1.5   /* a multiply-add of modified Gram-Schmidt (doubles, one chain) */
#define NS_PER_BYTE 1.0        /* a byte allocated and zeroed (fresh memory grown, memset) */
#define NS_PER_PADDED_ID 3.0   /* an id padded into a set */
#define NS_PER_BATCH_MAC 0.4   /* a multiply-add of a batch's forward or backward pass */
#define NS_PER_GATE 30.0       /* a recurrent gate of one row at one step, forward and backward */
#define NS_PER_ROW_STEP 500.0  /* the rest of one row at one step of one recurrent layer */
#define NS_PER_WEIGHT_BYTE 0.5 /* a byte of a recurrent layer's kernels, read three times a step
                                * (forward, both backward products): what a small batch costs */
#define NS_PER_DENSE_UNIT 80.0 /* a hidden unit of one row of the bag's (and the MLP's) dense
                                * layer, forward and backward, beside its multiply-adds: bags
                                * of embed_dim 5-64, hidden 300-1213, batch 4096-24630 took
                                * 45-60 ns per row x unit of CPU at load 20-23 (93 ns at 27),
                                * where the multiply-adds alone predicted a tenth of it (one
                                * batch of 24630 x 1213 units: 2.2 s, estimated 0.19 s) */

static int is_recurrent(const nn_config *c) {
    return c->model == NN_MODEL_LSTM || c->model == NN_MODEL_GRU || c->model == NN_MODEL_BILSTM ||
           c->model == NN_MODEL_BIGRU;
}
static u64 gates_of(const nn_config *c) {
    return c->model == NN_MODEL_GRU || c->model == NN_MODEL_BIGRU ? 3 : 4;
}
static u64 dirs_of(const nn_config *c) {
    return c->model == NN_MODEL_BILSTM || c->model == NN_MODEL_BIGRU ? 2 : 1;
}
static u64 layers_of(const nn_config *c) {
    return c->layers < 1 ? 1 : c->layers > NN_MAX_LAYERS ? NN_MAX_LAYERS : c->layers;
}

/* Floats of one tensor, rounded up to 4 as model.c's add_tensor does. */
static u64 tensor(u64 rows, u64 cols) {
    u64 n = mul(rows, cols);
    return n > UINT64_MAX - 3 ? UINT64_MAX : (n + 3) & ~(u64)3;
}

/* Bytes of alloc_floats(n): 64-byte lines. */
static u64 floats(u64 n) {
    u64 b = mul(n ? n : 1, 4);
    return b > UINT64_MAX - 63 ? UINT64_MAX : (b + 63) & ~(u64)63;
}

/* Inputs of recurrent layer l: E for the first, D*H above. */
static u64 layer_inputs(const nn_config *c, u64 l) {
    return l == 0 ? c->embed_dim : dirs_of(c) * c->hidden;
}

/* transformer.c's tensor table: embeddings, 12 tensors a block, the
 * final layer norm and the head. */
static u64 transformer_params(const nn_config *c) {
    u64 V = c->vocab_size, T = c->maxlen, E = c->embed_dim, F = c->ff_dim;
    u64 L = c->blocks < 1 ? 1 : c->blocks > NN_TFM_MAX_BLOCKS ? NN_TFM_MAX_BLOCKS : c->blocks;
    u64 block = add(mul(4, tensor(1, E)), add(add(tensor(E, mul(3, E)), tensor(1, mul(3, E))),
                                              add(tensor(E, E), tensor(1, E))));
    block = add(block, add(add(tensor(E, F), tensor(1, F)), add(tensor(F, E), tensor(1, E))));
    u64 n = add(tensor(V, E), tensor(T, E));
    return add(add(n, mul(L, block)), add(mul(3, tensor(1, E)), tensor(1, 1)));
}

/* transformer.c's activations for B rows: every block's saved activations
 * and one more set for their gradients (layers_attn.h nn_encoder_acts: 12
 * (B,T,E)-sized, the (B,NH,T,T) attention, two (B,T,F), four (B*T)), the
 * embedding, final layer norm and pooling with their gradients, scratch
 * per chunk, and the chunks' gradient buffers. */
static u64 transformer_activations(const nn_config *c, u64 B) {
    u64 T = c->maxlen, E = c->embed_dim, F = c->ff_dim, NH = c->heads ? c->heads : 1;
    u64 L = c->blocks < 1 ? 1 : c->blocks > NN_TFM_MAX_BLOCKS ? NN_TFM_MAX_BLOCKS : c->blocks;
    u64 N = mul(B, T), chunks = B < NN_TFM_CHUNKS ? B : NN_TFM_CHUNKS;
    u64 acts = add(add(mul3(N, E, 12), mul(N, 4)), add(mul3(B, NH, mul(T, T)), mul3(N, F, 2)));
    u64 b = floats(add(mul(add(L, 1), acts), add(mul3(N, E, 4), add(mul(N, 2), mul3(B, E, 2)))));
    u64 D = E / NH, wt = mul(E, F > 3 * E ? F : 3 * E), att = add(mul(D, T), mul(T, T));
    b = add(b, floats(mul(chunks, wt > att ? wt : att)));
    if (chunks > 1) b = add(b, floats(mul(chunks - 1, transformer_params(c))));
    b = add(b, add(mul(4, floats(B)), add(mul(B, 8), mul(N, 2)))); /* logit, dlogit, zs, dzs; order, lens; cids */
    return add(b, add(mul(T, 2), add(mul(N, 2), N)));               /* ids1, ids_batch, mask */
}

static u64 param_count(const nn_config *c) {
    u64 V = c->vocab_size, E = c->embed_dim, H = c->hidden;
    if (c->model == NN_MODEL_TRANSFORMER) return transformer_params(c);
    if (c->model == NN_MODEL_MLP) {
        u64 D = c->input_dim, K = c->classes;
        return add(add(tensor(D, H), tensor(1, H)), add(tensor(H, K), tensor(1, K)));
    }
    if (c->model == NN_MODEL_NGRAM) {
        u64 rows = add(V, c->bigrams);
        u64 O = nn_config_outputs(c); /* the head: 1 logit, or K (engine/model_head.c) */
        u64 n = add(tensor(rows, E), add(tensor(O, E), tensor(1, O)));
        if (c->bigrams) n = add(n, tensor(c->bigrams, 2));   /* bigram.ids */
        if (c->nb_weighting) n = add(n, tensor(1, rows));    /* nb.ratio */
        return n;
    }
    u64 n = tensor(V, E), O = nn_config_outputs(c);
    if (!is_recurrent(c))
        return add(n, add(add(tensor(H, E), tensor(1, H)), add(tensor(O, H), tensor(1, O))));
    u64 GH = mul(gates_of(c), H), D = dirs_of(c);
    for (u64 l = 0; l < layers_of(c); l++)
        for (u64 d = 0; d < D; d++)
            n = add(n, add(add(tensor(layer_inputs(c, l), GH), tensor(H, GH)),
                           tensor(gates_of(c) == 4 ? 1 : 2, GH)));
    return add(n, add(tensor(O, D * H), tensor(1, O)));
}

/* Bytes of everything model.c sizes by the batch B (activations, their
 * gradients, masks, sorted ids, scratch). */
static u64 activation_bytes(const nn_config *c, u64 B) {
    u64 T = c->maxlen, E = c->embed_dim, H = c->hidden;
    if (c->model == NN_MODEL_TRANSFORMER) return transformer_activations(c, B);
    if (c->model == NN_MODEL_MLP) {
        u64 D = c->input_dim, K = c->classes;
        return add(add(floats(mul(B, D)), mul(3, floats(mul(B, H)))),
                   add(mul(2, floats(mul(B, K))), floats(mul(K, H))));
    }
    if (c->model == NN_MODEL_NGRAM) {
        /* ngram.c's nn_ngram_create: pooled and dpooled, logit and dlogit,
         * the bigram index, each review's features (2T-1 at most), the
         * rows a batch touches, their marks and undo log, explain's scratch. */
        u64 N = c->bigrams, rows = add(c->vocab_size, N), fmax = T ? 2 * T - 1 : 1, slots = 1;
        while (N && slots < 2 * N) slots *= 2;
        u64 touch = mul(B, fmax) < rows ? mul(B, fmax) : rows;
        u64 O = nn_config_outputs(c);
        u64 b = add(mul(2, floats(mul(B, E))), mul(2, floats(mul(B, O))));
        b = add(b, add(mul(T, 2), add(mul(N ? N : 1, 4), mul(N ? 2 * slots : 1, 4))));
        b = add(b, add(mul3(B, fmax, 4), mul(add(B, 1), 4)));
        b = add(b, add(mul(touch, 4), mul(rows, 4)));
        b = add(b, add(floats(add(mul(touch, E), mul(O, add(E, 1)))), add(floats(T), mul(fmax, 4))));
        return b;
    }
    u64 O = nn_config_outputs(c);
    if (!is_recurrent(c))
        return add(add(mul(2, floats(mul(B, E))), mul(B, 8)),
                   add(add(mul(3, floats(mul(B, H))), mul(2, floats(mul(B, O)))), mul(T, 2)));
    u64 G = gates_of(c), GH = mul(G, H), D = dirs_of(c), L = layers_of(c), TB = mul(T, B);
    u64 DH = mul(D, H), Cmax = E > DH ? E : DH;
    u64 b = mul(4, floats(mul(B, O)));                    /* logit, dlogit, zs, dzs */
    b = add(b, add(mul(T, 2), mul(TB, 5)));               /* ids1, ids_batch, ids_sorted, mask */
    b = add(b, add(mul(B, 4), mul(add(add(B, T), 2), 4)));/* order, lens */
    b = add(b, floats(mul(TB, E)));                       /* seq */
    b = add(b, mul(2, floats(mul(B, DH))));               /* final, dfinal */
    b = add(b, floats(mul(add(TB, B), H)));               /* dhs */
    b = add(b, mul(c->dropout > 0 ? 3 : 2, floats(mul(TB, Cmax)))); /* dseq[2], dxdrop */
    u64 work = 0;
    for (u64 l = 0; l < L; l++) {
        u64 C = layer_inputs(c, l);
        u64 w = add(add(mul3(2, B, GH), mul(GH, add(H, C))), add(mul3(2, B, H), H));
        if (w > work) work = w;
        if (D == 2 && l + 1 < L) b = add(b, floats(mul3(TB, 2, H))); /* seq_out */
        u64 per = add(floats(mul(add(TB, B), H)), floats(mul(TB, GH)));  /* hs, gates */
        if (G == 4) per = add(per, add(floats(mul(add(TB, B), H)), floats(mul(TB, H)))); /* cs, tanhc */
        else per = add(per, floats(mul(TB, H)));                                           /* rech */
        if (c->dropout > 0) per = add(per, add(floats(mul(TB, C)), floats(mul(B, C))));   /* xdrop, xkeep */
        if (c->recurrent_dropout > 0) per = add(per, add(floats(mul(B, H)), floats(mul(TB, H)))); /* hkeep, hin */
        b = add(b, mul(D, per));
    }
    return add(b, floats(work));
}

/* The model alone for batch B: parameters, gradients, Adam moments (the
 * first at least the orthogonal initialisation's scratch, (GH,H) doubles),
 * activations. */
static void model_bytes(const nn_config *c, u64 B, nn_memory *m) {
    u64 n = param_count(c);
    m->nparams = n;
    m->parameters = floats(n);
    m->gradients = floats(n);
    u64 scratch = is_recurrent(c) ? mul3(2, mul(gates_of(c), c->hidden), c->hidden) : 0;
    m->optimizer = add(floats(n > scratch ? n : scratch), floats(n));
    m->activations = activation_bytes(c, B);
}

static u64 model_total(const nn_memory *m) {
    return add(add(m->parameters, m->gradients), add(m->optimizer, m->activations));
}

uint64_t nn_memory_estimate(const nn_config *c, const nn_data_size *data, nn_memory *out) {
    memset(out, 0, sizeof *out);
    u64 B = c->batch_size ? c->batch_size : 1;
    model_bytes(c, B, out);
    u64 n = out->nparams, T = c->maxlen, E = c->embed_dim, H = c->hidden, V = c->vocab_size;
    int mlp = c->model == NN_MODEL_MLP;
    /* Configure: the buffers are zeroed (memory growth, memset), the
     * weights drawn, each recurrent kernel orthogonalised. */
    double draws = (double)n, ortho = 0, normals = 0;
    if (is_recurrent(c)) {
        double GH = (double)gates_of(c) * (double)H, layers = (double)dirs_of(c) * (double)layers_of(c);
        /* Modified Gram-Schmidt on (GH, H): H^2/2 pairs, two passes of GH each. */
        ortho = layers * (double)H * (double)H * GH;
        normals = layers * (double)H * GH;
    }
    out->ortho_seconds = (ortho * NS_PER_ORTHO_MAC + normals * NS_PER_NORMAL) * 1e-9;
    if (data) {
        u64 val = c->val_size, rest = data->train > val ? data->train - val : 0;
        u64 ntrain = c->train_size && c->train_size < rest ? c->train_size : rest;
        u64 row = mlp ? c->input_dim : mul(T, 2);
        u64 rows = add(add(val, ntrain), data->test);
        out->previous = c->model == NN_MODEL_NGRAM ? 0 : floats(n); /* ngram: an undo log instead */
        out->best = c->patience > 0 && c->restore_best_weights ? add(mul(n, 4), 1) : 0;
        out->data = add(mul(rows, add(row, 8)), mul(add(data->train, ntrain), 4)); /* sets; perm, order */
        out->data = add(out->data, add(mul(B, add(row, 4)), mul(c->epochs, 16)));  /* batch; history */
        out->data = add(out->data, add(mul(ntrain / B + 1, 8), mlp ? 0 : mul(V, 1) + 4096)); /* batch log; stop words */
        if (c->model == NN_MODEL_NGRAM && c->bigrams) {
            /* Choosing the bigrams (ngram.c): a table of (key, count) pairs
             * that doubles when half full, old and new side by side while it
             * grows; at most one distinct pair per training token. */
            u64 pairs = mul(ntrain, T);
            if (data->train_tokens && data->train) {
                u64 mean = data->train_tokens / data->train + 1;
                if (mean < T) pairs = mul(ntrain, mean);
            }
            if (pairs > mul(V, V)) pairs = mul(V, V);
            u64 cap = 1u << 16;
            while (cap < UINT64_MAX / 4 && cap < mul(2, pairs)) cap *= 2;
            out->data = add(out->data, mul(cap, 24));
        }
        if (c->model == NN_MODEL_NGRAM) {
            /* Each training and validation review's features, kept
             * (ngram.h's cache): at most 2 len - 1 for len real tokens,
             * so 2 min((val + ntrain) T, tokens); their starts; the
             * batch's rows. */
            u64 len = mul(add(val, ntrain), T);
            if (data->train_tokens && data->train_tokens < len) len = data->train_tokens;
            out->data = add(out->data, add(mul(len, 8), add(mul(add(add(val, ntrain), 4), 4), mul(B, 4))));
        }
        if (c->model == NN_MODEL_NGRAM && c->nb_weighting && c->classes > 2) /* nb_ratios' counts (K, rows) */
            out->data = add(out->data, mul3(c->classes, add(V, c->bigrams), 4));
        if (!mlp) {
            /* The page's embedding history (nn_embed_history_create with
             * NN_EMBED_HISTORY_BUDGET): snapshots of the epochs, and a view
             * model with a small batch (embedding_stats.c). */
            u64 VE = mul(V, E), slot = add(add(VE, mul(V, 4)), mul(n > VE ? n - VE : 0, 4));
            if (slot <= NN_EMBED_HISTORY_BUDGET) {
                u64 cap = NN_EMBED_HISTORY_BUDGET / slot, kept = add(c->epochs, 1);
                if (cap > 100000) cap = 100000;
                nn_memory view;
                model_bytes(c, is_recurrent(c) ? 1 : B < 64 ? B : 64, &view);
                out->page = add(add(mul(kept < cap ? kept : cap, slot), model_total(&view)),
                                add(mul(V, 16), mul(cap, 24)));
            }
        }
        /* Padding: every id of every row written once (images: copied, 4
         * pixels for the cost of an id). */
        out->init_seconds = (double)mul(rows, mlp ? c->input_dim : T) * (mlp ? 0.25 : 1.0) *
                            NS_PER_PADDED_ID * 1e-9;
        /* One batch: min(B, training examples) rows. */
        double b = (double)(ntrain < B ? ntrain : B), macs;
        if (mlp) {
            macs = 3 * b * ((double)c->input_dim * (double)H + (double)H * c->classes);
            out->batch_seconds = b * (double)H * NS_PER_DENSE_UNIT * 1e-9;
        } else if (c->model == NN_MODEL_TRANSFORMER) {
            /* Forward and backward (about twice forward) of every position
             * (encoder.h nn_encoder_forward_flops counts 2 FLOPs a MAC). */
            macs = 3 * nn_encoder_forward_flops((uint32_t)b, c->maxlen, c->embed_dim, c->ff_dim,
                                                c->blocks) / 2;
        } else if (!is_recurrent(c)) {
            macs = 2 * b * (double)T * (double)E + 3 * b * (double)E * (double)H;
            if (c->model != NN_MODEL_NGRAM) out->batch_seconds = b * (double)H * NS_PER_DENSE_UNIT * 1e-9;
        } else {
            /* The rows of a step past a review's end are skipped, so a
             * batch costs its real tokens: at most the mean review length
             * (E[min(len, T)] <= min(E[len], T)), or T when unknown. */
            double GH = (double)gates_of(c) * (double)H, steps = (double)T;
            if (data->train_tokens && data->train) {
                double mean = (double)data->train_tokens / data->train;
                if (mean < steps) steps = mean;
            }
            double row_steps = (double)dirs_of(c) * (double)layers_of(c) * b * steps, weights = 0;
            macs = b * (double)T * (double)E;
            for (u64 l = 0; l < layers_of(c); l++) {
                double kernels = (double)dirs_of(c) * GH * ((double)layer_inputs(c, l) + (double)H);
                macs += 3 * b * steps * kernels;
                weights += 3 * steps * kernels * 4;
            }
            out->batch_seconds = (row_steps * (GH * NS_PER_GATE + NS_PER_ROW_STEP) +
                                  weights * NS_PER_WEIGHT_BYTE) * 1e-9;
        }
        out->batch_seconds += macs * NS_PER_BATCH_MAC * 1e-9;
    }
    out->total = add(add(model_total(out), add(out->previous, out->best)), add(out->data, out->page));
    out->init_seconds += out->ortho_seconds + draws * NS_PER_DRAW * 1e-9 +
                         (double)(out->total == UINT64_MAX ? 0 : out->total) * NS_PER_BYTE * 1e-9;
    return out->total;
}

nn_limits nn_memory_limits_page(void) {
    nn_limits l = {NN_MEMORY_BUDGET_32, 1.0, 2.0};
    return l;
}

nn_limits nn_memory_limits(void) {
    nn_limits native = {NN_MEMORY_BUDGET_64, 0, 0};
    return SIZE_MAX <= UINT32_MAX ? nn_memory_limits_page() : native;
}

/* "2.3 GB", "412 MB", "96 KB" (binary units, as the budgets are). */
static const char *bytes_text(char *buf, size_t n, u64 b) {
    if (b == UINT64_MAX) snprintf(buf, n, "more than 16 EB");
    else if (b >= (u64)1 << 30) snprintf(buf, n, "%.1f GB", (double)b / (double)((u64)1 << 30));
    else if (b >= (u64)1 << 20) snprintf(buf, n, "%.0f MB", (double)b / (double)((u64)1 << 20));
    else snprintf(buf, n, "%.0f KB", (double)b / 1024.0);
    return buf;
}

/* The settings a message may tell the user to lower. */
typedef enum { S_HIDDEN, S_VOCAB, S_BATCH, S_MAXLEN, S_EMBED } setting;
static const char *const SETTING_NAME[] = {"hidden", "vocab_size", "batch_size", "maxlen", "embed_dim"};
static uint32_t *setting_field(nn_config *c, setting s) {
    switch (s) {
    case S_HIDDEN: return &c->hidden;
    case S_VOCAB: return &c->vocab_size;
    case S_BATCH: return &c->batch_size;
    case S_MAXLEN: return &c->maxlen;
    default: return &c->embed_dim;
    }
}

typedef enum { LIMIT_BYTES, LIMIT_INIT, LIMIT_BATCH } limit;

/* Whether cfg passes the limit that failed and, so that a suggested value
 * is one that is accepted, every other limit as well. */
static int fits(const nn_config *c, const nn_data_size *data, const nn_limits *lim, limit what) {
    nn_memory m;
    nn_memory_estimate(c, data, &m);
    int init_ok = !data || lim->init_seconds <= 0 || m.init_seconds <= lim->init_seconds;
    int batch_ok = !data || lim->batch_seconds <= 0 || m.batch_seconds <= lim->batch_seconds;
    (void)what;
    return m.total <= lim->bytes && init_ok && batch_ok;
}

/* The largest value of setting s below its current one with which cfg
 * fits, or 0 when even the smallest does not. Each estimate is a few dozen
 * operations, so a bisection over the setting's range is instant. */
static uint32_t largest_fitting(const nn_config *cfg, const nn_data_size *data, const nn_limits *lim,
                                limit what, setting s) {
    nn_config c = *cfg;
    uint32_t *f = setting_field(&c, s);
    uint32_t lo = s == S_VOCAB ? 5 : 1, hi = *f;
    if (hi <= lo) return 0;
    *f = lo;
    if (!fits(&c, data, lim, what)) return 0;
    while (lo + 1 < hi) { /* fits at lo, not at hi */
        uint32_t mid = lo + (hi - lo) / 2;
        *f = mid;
        if (fits(&c, data, lim, what)) lo = mid;
        else hi = mid;
    }
    return lo;
}

/* The setting first, or when no value of it fits, the first of the others
 * (that apply to the model) that can; *best its largest fitting value, 0
 * when none can. */
static setting setting_that_fits(const nn_config *cfg, const nn_data_size *data, const nn_limits *lim,
                                 limit what, setting first, uint32_t *best) {
    static const setting OTHERS[] = {S_HIDDEN, S_VOCAB, S_BATCH, S_MAXLEN, S_EMBED};
    *best = largest_fitting(cfg, data, lim, what, first);
    for (size_t i = 0; !*best && i < sizeof OTHERS / sizeof OTHERS[0]; i++) {
        if (cfg->model == NN_MODEL_MLP && OTHERS[i] != S_HIDDEN && OTHERS[i] != S_BATCH) continue;
        uint32_t b = largest_fitting(cfg, data, lim, what, OTHERS[i]);
        if (b) {
            *best = b;
            return OTHERS[i];
        }
    }
    return first;
}

/* What to lower: the setting that governs the largest part. */
static setting memory_setting(const nn_config *c, const nn_memory *m) {
    u64 weights = add(add(m->parameters, m->gradients), add(m->optimizer, add(m->previous, m->best)));
    u64 emb = c->model == NN_MODEL_MLP ? 0 : mul3((u64)c->vocab_size, c->embed_dim, 4 * 5);
    if (m->data >= weights && m->data >= m->activations && m->data >= m->page) return S_MAXLEN;
    if (m->activations >= weights && m->activations >= m->page) return S_BATCH;
    if (emb * 2 > weights || (m->page > weights && c->model != NN_MODEL_MLP)) return S_VOCAB;
    return S_HIDDEN;
}

static const char *also_text(const nn_config *c, setting s) {
    int rec = is_recurrent(c);
    switch (s) {
    case S_HIDDEN: return rec ? " or layers" : "";
    case S_VOCAB: return " or embed_dim";
    case S_BATCH: return c->model == NN_MODEL_MLP ? " or hidden" : rec ? ", maxlen or hidden" : " or maxlen";
    case S_MAXLEN: return " (or val_size and train_size)";
    default: return "";
    }
}

int nn_memory_check(const nn_config *cfg, const nn_data_size *data, const nn_limits *lim,
                    nn_error *err) {
    nn_memory m;
    nn_memory_estimate(cfg, data, &m);
    char need[32], budget_text[32], weights[32], acts[32], rest[32], page[32], fix[96] = "";
    uint32_t best;
    if (m.total > lim->bytes) {
        setting s = setting_that_fits(cfg, data, lim, LIMIT_BYTES, memory_setting(cfg, &m), &best);
        if (best) snprintf(fix, sizeof fix, " (at most %s %u fits)", SETTING_NAME[s], best);
        u64 w = add(add(m.parameters, m.gradients), add(m.optimizer, add(m.previous, m.best)));
        return nn_fail(err, NN_ERR_NOMEM,
                       "this model needs %s (%llu parameters with their gradients and optimizer "
                       "state %s, activations for batch %u %s, data %s, embedding history %s), "
                       "over the %s budget: lower %s%s%s",
                       bytes_text(need, sizeof need, m.total), (unsigned long long)m.nparams,
                       bytes_text(weights, sizeof weights, w), cfg->batch_size,
                       bytes_text(acts, sizeof acts, m.activations),
                       bytes_text(rest, sizeof rest, m.data), bytes_text(page, sizeof page, m.page),
                       bytes_text(budget_text, sizeof budget_text, lim->bytes), SETTING_NAME[s],
                       also_text(cfg, s), fix);
    }
    if (!data) return NN_OK;
    if (lim->init_seconds > 0 && m.init_seconds > lim->init_seconds) {
        /* The orthogonal initialisation, or the memory to set up. */
        int ortho = m.ortho_seconds > m.init_seconds / 2;
        setting s = setting_that_fits(cfg, data, lim, LIMIT_INIT,
                                      ortho ? S_HIDDEN : memory_setting(cfg, &m), &best);
        if (best) snprintf(fix, sizeof fix, ": at most %s %u", SETTING_NAME[s], best);
        else snprintf(fix, sizeof fix, ": lower %s%s", SETTING_NAME[s], also_text(cfg, s));
        if (ortho)
            return nn_fail(err, NN_ERR_ARG,
                           "hidden %u makes the orthogonal initialisation of %llu recurrent "
                           "kernel(s) take ~%.1f s (configure must answer within %.0f s)%s%s",
                           cfg->hidden, (unsigned long long)(dirs_of(cfg) * layers_of(cfg)),
                           m.ortho_seconds, lim->init_seconds, fix,
                           best && s == S_HIDDEN && layers_of(cfg) > 1 ? ", or fewer layers" : "");
        return nn_fail(err, NN_ERR_ARG,
                       "setting up this model (%llu parameters, %s) would take ~%.1f s "
                       "(configure must answer within %.0f s)%s",
                       (unsigned long long)m.nparams, bytes_text(need, sizeof need, m.total),
                       m.init_seconds, lim->init_seconds, fix);
    }
    if (lim->batch_seconds > 0 && m.batch_seconds > lim->batch_seconds) {
        setting s = setting_that_fits(cfg, data, lim, LIMIT_BATCH, S_BATCH, &best);
        if (best) snprintf(fix, sizeof fix, ": at most %s %u at these settings", SETTING_NAME[s], best);
        else snprintf(fix, sizeof fix, ": lower %s", is_recurrent(cfg) ? "maxlen, hidden or layers" : "maxlen or hidden");
        return nn_fail(err, NN_ERR_ARG,
                       "one training batch of %u would take ~%.1f s (at most %.0f s, so the page "
                       "stays responsive)%s",
                       cfg->batch_size, m.batch_seconds, lim->batch_seconds, fix);
    }
    return NN_OK;
}
