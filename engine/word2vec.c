/* word2vec.c: skip-gram with negative sampling on unlabelled reviews, the
 * negative table, subsampling, nearest neighbours, and the vectors file.
 * See word2vec.h for the algorithm and how it differs from word2vec.c.
 *
 * The inner loop is one dot product and two axpys per (context, target)
 * pair, E floats each: the SIMD kernels of kernels.h. Deliberately not here:
 * files, threads (word2vec.c's Hogwild threads would make runs depend on
 * timing), or the model. */
#include "word2vec.h"
#include "kernels.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct nn_w2v {
    nn_config cfg;
    const nn_split *corpus;
    uint32_t V, E;
    float *in;           /* (V,E) input vectors: the word vectors */
    float *out;          /* (V,E) output vectors (word2vec.c's syn1neg) */
    float *neu;          /* (E) scratch */
    uint16_t *table;     /* (NN_W2V_TABLE_SIZE) the negative table */
    uint64_t *count;     /* (V) corpus occurrences */
    float *keep;         /* (V) subsampling keep probability */
    uint64_t words;      /* corpus words per pass */
    uint32_t *order;     /* (corpus->n) this pass's review order */
    uint16_t *sentence;  /* (longest review) the kept words of one review */
    uint32_t *targets;   /* (w2v_negative + 1) */
    nn_rng rng;
    uint32_t epoch;      /* 0-based pass in progress */
    uint32_t review;     /* reviews done in it */
    uint64_t done;       /* corpus words read, all passes */
    uint64_t pairs;      /* (context, centre) pairs trained */
    float lr;
};

/* ---------------------------------------------------------- building blocks */

void nn_w2v_unigram_table(uint16_t *table, uint32_t n, const uint64_t *count, uint32_t V, double power) {
    double total = 0;
    for (uint32_t w = 0; w < V; w++) total += count[w] ? pow((double)count[w], power) : 0.0;
    assert(total > 0 && V <= 65536);
    uint32_t w = 0;
    while (count[w] == 0) w++;
    double cum = pow((double)count[w], power) / total; /* upper end of w's interval */
    for (uint32_t a = 0; a < n; a++) {
        double x = (a + 0.5) / n;
        while (x >= cum && w + 1 < V) {
            w++;
            if (count[w]) cum += pow((double)count[w], power) / total;
        }
        /* Rounding can leave the last interval's end a hair below 1. */
        while (count[w] == 0) w--;
        table[a] = (uint16_t)w;
    }
}

double nn_w2v_keep_probability(uint64_t count, uint64_t total, double sample) {
    if (count == 0 || sample <= 0) return 1.0;
    double st = sample * (double)total;
    double p = (sqrt((double)count / st) + 1.0) * st / (double)count;
    return p < 1.0 ? p : 1.0;
}

void nn_sgns_step(float *v, float *out, float *neu, const uint32_t *targets, uint32_t K,
                  uint32_t E, float lr, float *loss) {
    double sum = 0;
    memset(neu, 0, E * sizeof *neu);
    for (uint32_t k = 0; k < K; k++) {
        float *u = out + (size_t)targets[k] * E;
        float f = nn_k_dot(v, u, E);
        /* The exact sigmoid from e = exp(-|f|), which never overflows. */
        float e = expf(-fabsf(f));
        float s = f >= 0 ? 1.0f / (1.0f + e) : e / (1.0f + e);
        float g = k == 0 ? lr * (1.0f - s) : -lr * s;
        if (loss) {
            /* -log sigmoid(+-f) = max(-+f, 0) + log(1 + e), in double: e is
             * in (0, 1], so log(1 + e) loses nothing that matters here. */
            double z = k == 0 ? f : -f;
            sum += (z < 0 ? -z : 0.0) + log(1.0 + (double)e);
        }
        nn_k_axpy(neu, g, u, E);
        nn_k_axpy(u, g, v, E);
    }
    nn_k_axpy(v, 1.0f, neu, E);
    if (loss) *loss = (float)sum;
}

/* --------------------------------------------------------------- training */

void nn_w2v_free(nn_w2v *w) {
    if (!w) return;
    free(w->in);
    free(w->out);
    free(w->neu);
    free(w->table);
    free(w->count);
    free(w->keep);
    free(w->order);
    free(w->sentence);
    free(w->targets);
    free(w);
}

int nn_w2v_create(nn_w2v **out, const nn_config *cfg, const nn_split *corpus, nn_error *err) {
    *out = NULL;
    int rc = nn_config_check(cfg, NULL, err);
    if (rc) return rc;
    if (!corpus || corpus->n == 0)
        return nn_fail(err, NN_ERR_ARG,
                       "word2vec needs unlabelled reviews: load data/imdb-unsup.shard "
                       "(scripts/setup.sh builds it)");
    uint32_t V = cfg->vocab_size, E = cfg->embed_dim;
    nn_w2v *w = calloc(1, sizeof *w);
    if (!w) return nn_fail(err, NN_ERR_NOMEM, "out of memory creating word2vec");
    w->cfg = *cfg;
    w->corpus = corpus;
    w->V = V;
    w->E = E;
    w->in = nn_alloc_floats(nn_size_mul_sat(V, E));
    w->out = nn_alloc_floats(nn_size_mul_sat(V, E));
    w->neu = nn_alloc_floats(E);
    w->table = malloc(NN_W2V_TABLE_SIZE * sizeof *w->table);
    w->count = nn_calloc_array(V, sizeof *w->count);
    w->keep = nn_malloc_array(V, sizeof *w->keep);
    w->order = nn_malloc_array(corpus->n, sizeof *w->order);
    w->targets = nn_malloc_array(nn_size_add_sat(cfg->w2v_negative, 1), sizeof *w->targets);
    uint32_t longest = 1;
    for (uint32_t r = 0; r < corpus->n; r++) {
        uint32_t len = corpus->offset[r + 1] - corpus->offset[r];
        if (len > longest) longest = len;
    }
    w->sentence = nn_malloc_array(longest, sizeof *w->sentence);
    if (!w->in || !w->out || !w->neu || !w->table || !w->count || !w->keep || !w->order ||
        !w->targets || !w->sentence) {
        nn_w2v_free(w);
        return nn_fail(err, NN_ERR_NOMEM,
                       "out of memory for word2vec with %u words of %u dimensions; try a "
                       "smaller vocab_size or embed_dim", V, E);
    }
    for (uint32_t r = 0; r < corpus->n; r++) {
        w->order[r] = r;
        for (uint32_t i = corpus->offset[r]; i < corpus->offset[r + 1]; i++) {
            uint16_t id = corpus->tokens[i];
            if (id >= NN_FIRST_WORD && id < V) w->count[id]++;
        }
    }
    for (uint32_t id = 0; id < V; id++) w->words += w->count[id];
    if (w->words == 0) {
        nn_w2v_free(w);
        return nn_fail(err, NN_ERR_ARG,
                       "the unlabelled reviews hold no word of the first %u ids: is it the "
                       "unsup shard built with this vocabulary? Rebuild both with scripts/setup.sh",
                       V);
    }
    for (uint32_t id = 0; id < V; id++)
        w->keep[id] = (float)nn_w2v_keep_probability(w->count[id], w->words, cfg->w2v_sample);
    nn_w2v_unigram_table(w->table, NN_W2V_TABLE_SIZE, w->count, V, 0.75);
    nn_rng_seed(&w->rng, cfg->seed);
    for (size_t i = 0; i < (size_t)V * E; i++)
        w->in[i] = nn_rng_uniform(&w->rng, -0.5f, 0.5f) / (float)E;
    w->lr = cfg->w2v_lr;
    *out = w;
    return NN_OK;
}

/* word2vec.c's linear decay, to a floor of 1e-4 of the starting rate. */
static float current_lr(const nn_w2v *w) {
    double total = (double)w->cfg.w2v_epochs * (double)w->words;
    double lr = w->cfg.w2v_lr * (1.0 - (double)w->done / (total + 1.0));
    double floor = w->cfg.w2v_lr * 1e-4;
    return (float)(lr > floor ? lr : floor);
}

/* One review: read (and subsample) its words, then every (context, centre)
 * pair within each centre word's reduced window. The loss is measured on
 * one pair in LOSS_EVERY (its logarithms cost as much as the step itself);
 * adds the sum to *loss and the pairs measured to *measured. */
#define LOSS_EVERY 8
static void train_review(nn_w2v *w, uint32_t r, double *loss, uint64_t *measured) {
    const nn_split *sp = w->corpus;
    uint32_t V = w->V, E = w->E, window = w->cfg.w2v_window, neg = w->cfg.w2v_negative;
    int subsample = w->cfg.w2v_sample > 0;
    w->lr = current_lr(w);
    uint32_t len = 0;
    for (uint32_t i = sp->offset[r]; i < sp->offset[r + 1]; i++) {
        uint16_t id = sp->tokens[i];
        if (id < NN_FIRST_WORD || id >= V) continue;
        w->done++;
        if (subsample && w->keep[id] < 1.0f && w->keep[id] < nn_rng_uniform(&w->rng, 0.0f, 1.0f)) continue;
        w->sentence[len++] = id;
    }
    const uint32_t shift = 32 - NN_W2V_TABLE_BITS;
    for (uint32_t pos = 0; pos < len; pos++) {
        uint32_t word = w->sentence[pos];
        uint32_t half = window - nn_rng_below(&w->rng, window);
        uint32_t lo = pos >= half ? pos - half : 0, hi = pos + half < len ? pos + half : len - 1;
        for (uint32_t c = lo; c <= hi; c++) {
            if (c == pos) continue;
            uint32_t K = 0;
            w->targets[K++] = word;
            for (uint32_t d = 0; d < neg; d++) {
                uint32_t t = w->table[nn_rng_u32(&w->rng) >> shift];
                if (t != word) w->targets[K++] = t;
            }
            float l, *lp = w->pairs % LOSS_EVERY == 0 ? &l : NULL;
            nn_sgns_step(w->in + (size_t)w->sentence[c] * E, w->out, w->neu, w->targets, K, E, w->lr, lp);
            if (lp) {
                *loss += l;
                (*measured)++;
            }
            w->pairs++;
        }
    }
}

int nn_w2v_run(nn_w2v *w, uint64_t max_tokens, nn_w2v_progress *p, nn_error *err) {
    const nn_config *c = &w->cfg;
    uint64_t start = w->done, measured = 0;
    double loss = 0;
    int rc = NN_OK;
    while (w->epoch < c->w2v_epochs && w->done - start < max_tokens) {
        /* A new order every pass, like the trainer's epochs. */
        if (w->review == 0) nn_rng_shuffle_u32(&w->rng, w->order, w->corpus->n);
        train_review(w, w->order[w->review], &loss, &measured);
        if (!isfinite(loss)) {
            rc = nn_fail(err, NN_ERR_DIVERGED,
                         "word2vec diverged (the loss is not finite) in pass %u; lower w2v_lr "
                         "(now %g) and train again", w->epoch + 1, (double)c->w2v_lr);
            break;
        }
        if (++w->review == w->corpus->n) {
            w->review = 0;
            w->epoch++;
        }
    }
    memset(p, 0, sizeof *p);
    p->tokens_done = w->done;
    p->tokens_total = (uint64_t)c->w2v_epochs * w->words;
    p->epochs = c->w2v_epochs;
    /* The pass the last review belonged to. */
    p->epoch = w->review > 0 ? w->epoch + 1 : (w->epoch > 0 ? w->epoch : 1);
    p->lr = w->lr;
    p->loss = measured ? (float)(loss / (double)measured) : NAN;
    p->loss_pairs = measured;
    p->pairs = w->pairs;
    p->finished = w->epoch >= c->w2v_epochs;
    return rc;
}

const float *nn_w2v_vectors(const nn_w2v *w, uint32_t *V, uint32_t *E) {
    if (V) *V = w->V;
    if (E) *E = w->E;
    return w->in;
}

const uint64_t *nn_w2v_counts(const nn_w2v *w) { return w->count; }

const nn_config *nn_w2v_config(const nn_w2v *w) { return &w->cfg; }

uint32_t nn_vectors_nearest(const float *vectors, uint32_t V, uint32_t E, uint32_t id,
                            uint32_t k, uint32_t *ids, float *sims) {
    assert(id < V);
    const float *q = vectors + (size_t)id * E;
    float qn = sqrtf(nn_k_dot(q, q, E));
    uint32_t found = 0;
    for (uint32_t j = NN_FIRST_WORD; j < V; j++) {
        if (j == id) continue;
        const float *x = vectors + (size_t)j * E;
        float xn = sqrtf(nn_k_dot(x, x, E));
        float s = qn > 0 && xn > 0 ? nn_k_dot(q, x, E) / (qn * xn) : 0.0f;
        if (found == k && !(s > sims[k - 1])) continue;
        uint32_t at = found < k ? found++ : k - 1;
        while (at > 0 && sims[at - 1] < s) {
            sims[at] = sims[at - 1];
            ids[at] = ids[at - 1];
            at--;
        }
        sims[at] = s;
        ids[at] = j;
    }
    return found;
}

/* ------------------------------------------------------------ vectors file */

#define VEC_HEADER 48
#define REGENERATE "write it again with build/imdb_word2vec (or the page's Pretrain)"

static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void wr32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

int nn_vectors_write(const float *vectors, uint32_t V, uint32_t E, uint32_t vocab_crc,
                     uint8_t **out, size_t *out_len, nn_error *err) {
    size_t payload = nn_size_mul_sat(nn_size_mul_sat(V, E), sizeof(float));
    uint8_t *b = nn_malloc_array(nn_size_add_sat(VEC_HEADER, payload), 1);
    if (!b) return nn_fail(err, NN_ERR_NOMEM, "out of memory writing %u vectors", V);
    memset(b, 0, VEC_HEADER);
    memcpy(b, NN_VECTORS_MAGIC, 8);
    wr32(b + 8, NN_VECTORS_VERSION);
    wr32(b + 12, VEC_HEADER);
    wr32(b + 16, V);
    wr32(b + 20, E);
    wr32(b + 24, vocab_crc);
    wr32(b + 28, NN_TOKENIZER_VERSION);
    wr32(b + 32, (uint32_t)payload);
    wr32(b + 36, (uint32_t)((uint64_t)payload >> 32));
    memcpy(b + VEC_HEADER, vectors, payload);
    wr32(b + 40, nn_crc32(0, b + VEC_HEADER, payload));
    wr32(b + 44, nn_crc32(0, b, 44));
    *out = b;
    *out_len = VEC_HEADER + payload;
    return NN_OK;
}

int nn_vectors_read(const uint8_t *buf, size_t len, const float **vectors, uint32_t *V,
                    uint32_t *E, uint32_t *vocab_crc, nn_error *err) {
    if (len < 8 || memcmp(buf, NN_VECTORS_MAGIC, 8) != 0) {
        if (len >= 6 && memcmp(buf, "NNVECS", 6) == 0)
            return nn_fail(err, NN_ERR_VERSION, "this vectors file is of another format version "
                           "than this engine reads (NNVECS01); " REGENERATE);
        return nn_fail(err, NN_ERR_FORMAT, "not a word-vectors file (no NNVECS01 magic); " REGENERATE);
    }
    if (len < VEC_HEADER)
        return nn_fail(err, NN_ERR_FORMAT, "the vectors file is truncated (%zu bytes, the header "
                       "alone is %d); " REGENERATE, len, VEC_HEADER);
    if (rd32(buf + 8) != NN_VECTORS_VERSION)
        return nn_fail(err, NN_ERR_VERSION, "the vectors file is version %u, this engine reads "
                       "version %d; " REGENERATE, rd32(buf + 8), NN_VECTORS_VERSION);
    if (rd32(buf + 44) != nn_crc32(0, buf, 44))
        return nn_fail(err, NN_ERR_CHECKSUM, "the vectors file's header checksum does not match: "
                       "the file is corrupt; " REGENERATE);
    if (rd32(buf + 12) != VEC_HEADER)
        return nn_fail(err, NN_ERR_FORMAT, "the vectors file's header size is %u, not %d; "
                       REGENERATE, rd32(buf + 12), VEC_HEADER);
    if (rd32(buf + 28) != NN_TOKENIZER_VERSION)
        return nn_fail(err, NN_ERR_VERSION, "the vectors were made with tokenizer version %u, "
                       "this engine has version %d; " REGENERATE, rd32(buf + 28), NN_TOKENIZER_VERSION);
    uint32_t v = rd32(buf + 16), e = rd32(buf + 20);
    uint64_t payload = rd32(buf + 32) | (uint64_t)rd32(buf + 36) << 32;
    if (v < NN_FIRST_WORD + 1 || v > 65536 || e < 1 || e > 1024)
        return nn_fail(err, NN_ERR_FORMAT, "the vectors file claims %u words of %u dimensions "
                       "(allowed: 5..65536 words, 1..1024 dimensions); " REGENERATE, v, e);
    if (payload != (uint64_t)v * e * sizeof(float) || payload != (uint64_t)(len - VEC_HEADER))
        return nn_fail(err, NN_ERR_FORMAT, "the vectors file is truncated or corrupt: %zu bytes "
                       "after the header, %llu expected for %u x %u floats; " REGENERATE,
                       len - VEC_HEADER, (unsigned long long)((uint64_t)v * e * sizeof(float)), v, e);
    if (rd32(buf + 40) != nn_crc32(0, buf + VEC_HEADER, (size_t)payload))
        return nn_fail(err, NN_ERR_CHECKSUM, "the vectors file's checksum does not match its "
                       "contents: the file is corrupt; " REGENERATE);
    *vectors = (const float *)(const void *)(buf + VEC_HEADER);
    *V = v;
    *E = e;
    *vocab_crc = rd32(buf + 24);
    return NN_OK;
}

int nn_w2v_check_config(const nn_config *w, const nn_config *cfg, nn_error *err) {
    if (w->vocab_size == cfg->vocab_size && w->embed_dim == cfg->embed_dim && w->seed == cfg->seed &&
        w->w2v_epochs == cfg->w2v_epochs && w->w2v_window == cfg->w2v_window &&
        w->w2v_negative == cfg->w2v_negative && w->w2v_sample == cfg->w2v_sample && w->w2v_lr == cfg->w2v_lr)
        return NN_OK;
    return nn_fail(err, NN_ERR_STATE,
                   "the word vectors were trained with other settings (vocab_size %u, embed_dim %u, seed "
                   "%.0f, w2v_window %u, ...) than this config's (%u, %u, %.0f, %u, ...): pretrain them again",
                   w->vocab_size, w->embed_dim, (double)w->seed, w->w2v_window, cfg->vocab_size, cfg->embed_dim,
                   (double)cfg->seed, cfg->w2v_window);
}

int nn_w2v_give(const nn_w2v *w, int finished, nn_trainer *t, const nn_config *cfg, nn_error *err) {
    if (!w || !finished)
        return nn_fail(err, NN_ERR_STATE,
                       "embedding_init is \"word2vec\" but no word vectors are trained yet: "
                       "pretrain them first, or set embedding_init to \"uniform\"");
    int rc = nn_w2v_check_config(nn_w2v_config(w), cfg, err);
    if (rc != NN_OK) return rc;
    uint32_t V, E;
    const float *vec = nn_w2v_vectors(w, &V, &E);
    return nn_trainer_set_embedding(t, vec, V, E, err);
}
