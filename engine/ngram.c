/* ngram.c: the "ngram" model (engine/ngram.h): bigram features from token
 * ids, the mean-of-rows layer, the linear head, the lazy optimizer step and
 * the choice of the bigram vocabulary from the training reviews.
 *
 * Follows fastText (Joulin et al. 2017, "Bag of Tricks for Efficient Text
 * Classification", EACL): the average of the word and bigram embeddings of
 * a text, a linear classifier on top; as there, a bigram has its own row
 * (here from a vocabulary of the N most frequent training bigrams rather
 * than a hashed bucket, so no two bigrams share a row and the table stays
 * small). The optimizer step over the table is lazy Adam (TensorFlow
 * Addons' LazyAdam, PyTorch's SparseAdam): rows a batch does not touch keep
 * their weights and moments.
 *
 * Not here: the model's dispatch (model.c), batching and epochs (train.c).
 *
 * The preset's values (config.c, "ngram") were chosen on the 5,000
 * validation reviews, never the test set. The sweep (vocab_size 32768,
 * maxlen 1024, batch 32, Adam, the rest as listed; val_loss at its lowest
 * epoch, and val_accuracy there):
 *
 *   bigrams  NB  E   lr     batch  best epoch  val_loss  val_acc
 *   500000   no  16  0.001  32     10 (of 10)  0.2297    0.9112
 *   500000   no  8   0.005  32      4 (of 4)   0.2337    0.9108
 *   500000   yes 8   0.005  32      5 (of 6)   0.2048    0.9198
 *   500000   yes 8   0.01   32      3 (of 4)   0.2068    0.9214
 *   500000   yes 8   0.01   128     5 (of 5)   0.2047    0.9198
 *   500000   yes 8   0.01   64      4 (of 5)   0.2038    0.9216
 *   500000   yes 8   0.005  128     6 (of 6)   0.2230    0.9124
 *   500000   yes 16  0.005  32      3 (of 5)   0.2040    0.9198
 *   500000   yes 4   0.005  32      5 (of 5)   0.2131    0.9192
 *   500000   yes 8   0.02   128     3 (of 5)   0.2040    0.9206
 *   100000   yes 8   0.005  32      4 (of 5)   0.2141    0.9204
 *   200000   yes 8   0.005  32      5 (of 5)   0.2019    0.9236
 *   200000   no  8   0.005  32      4 (of 5)   0.2280    0.9132
 *   200000   yes 8   0.01   32      2 (of 4)   0.2031    0.9222
 *   200000   yes 8   0.02   128     3 (of 4)   0.2000    0.9226   <- the preset
 *   1000000  yes 8   0.005  32      4 (of 5)   0.2075    0.9226
 *   500000, maxlen 512: yes 8 0.005 32  5 (of 5) 0.2057  0.9212
 *
 * NB weighting is the largest gain (0.228 -> 0.202 at 200,000 bigrams);
 * after it, 200,000 bigrams and a large step (fewer, cheaper epochs) win.
 * Every model overfits after 3-5 epochs (training accuracy 0.99+), so the
 * preset stops early (patience 1) and keeps the best epoch's weights.
 */
#include "ngram.h"
#include "kernels.h"
#include "layers.h"
#include "model_head.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { T_EMB = 0, T_W = 1, T_B = 2 }; /* then "bigram.ids" and "nb.ratio" when present */

/* The bigram table and the NB ratios (NULL when the config has none). */
static float *bigram_ids(const nn_model *m) {
    return m->ngram->N ? m->params + m->tensor[m->ngram->t_bigrams].offset : NULL;
}
static const float *nb_ratio(const nn_model *m) {
    return m->cfg.nb_weighting ? m->params + m->tensor[m->ngram->t_nb].offset : NULL;
}

/* The table and the bigram index are far larger than the caches and are
 * read at random, so the loops ask for what they will need a few steps
 * ahead (a no-op where the compiler has no prefetch, as in wasm). */
#if defined(__GNUC__) && !defined(__wasm__)
#define PREFETCH(p) __builtin_prefetch(p)
#else
#define PREFETCH(p) ((void)(p))
#endif
enum { AHEAD = 16 };

static uint32_t hash_key(uint32_t k) {
    /* A multiplicative hash (Knuth's 2654435761), then the high bits mixed down. */
    k *= 2654435761u;
    return k ^ (k >> 15);
}

/* ------------------------------------------------------------- the layer */

static uint32_t lookup_bigram(const nn_ngram *ng, uint32_t key) {
    if (!ng->N) return UINT32_MAX;
    uint32_t mask = ng->nslots - 1;
    for (uint32_t s = hash_key(key) & mask;; s = (s + 1) & mask) {
        const uint32_t *slot = ng->slots + 2 * (size_t)s;
        if (slot[0] == key) return slot[1];
        if (slot[0] == 0) return UINT32_MAX;
    }
}

uint32_t nn_ngram_features(uint32_t *feat, uint32_t *pos, const uint16_t *ids, uint32_t T,
                           const nn_ngram *ng) {
    uint32_t n = 0, prev = NN_PAD, mask = ng->nslots - 1;
    /* Padding fills only the start or the end of a padded review: walk the
     * run [first, last) of the real tokens (a zero inside it is still
     * skipped below; only ids given by a caller can have one). */
    size_t first, last;
    nn_k_nonzero_span(ids, T, &first, &last);
    for (uint32_t t = (uint32_t)first, end = (uint32_t)last; t < end; t++) {
        uint32_t id = ids[t];
        if (ng->N && t + AHEAD < end && ids[t + AHEAD] != NN_PAD && ids[t + AHEAD - 1] != NN_PAD)
            PREFETCH(ng->slots + 2 * (size_t)(hash_key(nn_ngram_key(ids[t + AHEAD - 1], ids[t + AHEAD])) & mask));
        if (id == NN_PAD) {
            prev = NN_PAD;
            continue;
        }
        assert(id < ng->V);
        if (pos) pos[n] = t;
        feat[n++] = id;
        if (prev != NN_PAD) {
            uint32_t j = lookup_bigram(ng, nn_ngram_key(prev, id));
            if (j != UINT32_MAX) {
                if (pos) pos[n] = t;
                feat[n++] = ng->V + j;
            }
        }
        prev = id;
    }
    return n;
}

void nn_bag_mean_forward(float *out, const uint32_t *feat, const uint32_t *start, const float *table,
                         const float *weight, uint32_t B, uint32_t E) {
    for (uint32_t b = 0; b < B; b++) {
        float *o = out + (size_t)b * E;
        nn_k_zero(o, E);
        uint32_t s = start[b], e = start[b + 1];
        nn_k_rows_axpy(o, table, feat + s, weight, e - s, E); /* an axpy per row, in order */
        if (e > s) nn_k_scale(o, 1.0f / (float)(e - s), E);
    }
}

void nn_bag_mean_backward(float *dtable, const float *dout, const uint32_t *feat, const uint32_t *start,
                          const float *weight, uint32_t B, uint32_t E) {
    for (uint32_t b = 0; b < B; b++) {
        uint32_t s = start[b], e = start[b + 1];
        if (e == s) continue;
        float scale = 1.0f / (float)(e - s);
        nn_k_scatter_rows_axpy(dtable, dout + (size_t)b * E, scale, feat + s, weight, e - s, E);
    }
}

/* ---------------------------------------------------------- bigram index */

/* Rebuilds keys and slots from the "bigram.ids" tensor. */
static void build_index(nn_model *m) {
    nn_ngram *ng = m->ngram;
    if (ng->N) {
        const float *p = bigram_ids(m);
        memset(ng->slots, 0, (size_t)ng->nslots * 2 * sizeof *ng->slots);
        uint32_t mask = ng->nslots - 1;
        for (uint32_t j = 0; j < ng->N; j++) {
            float a = p[2 * j], b = p[2 * j + 1];
            /* Anything but two real ids in range marks an unused row. */
            int ok = a >= 1 && b >= 1 && a < (float)ng->V && b < (float)ng->V && a == floorf(a) &&
                     b == floorf(b);
            ng->keys[j] = ok ? nn_ngram_key((uint32_t)a, (uint32_t)b) : 0;
            if (!ok) continue;
            uint32_t s = hash_key(ng->keys[j]) & mask;
            while (ng->slots[2 * s] && ng->slots[2 * s] != ng->keys[j]) s = (s + 1) & mask;
            if (!ng->slots[2 * s]) { /* a duplicate pair keeps its first row */
                ng->slots[2 * s] = ng->keys[j];
                ng->slots[2 * s + 1] = j;
            }
        }
    }
    ng->index_ready = 1;
    ng->index_gen++;
}

void nn_ngram_reindex(nn_model *m) {
    nn_ngram *ng = m->ngram;
    if (ng->index_ready && ng->N) {
        const float *p = bigram_ids(m);
        for (uint32_t j = 0; j < ng->N && ng->index_ready; j++) {
            uint32_t k = ng->keys[j];
            if (k ? (p[2 * j] != (float)(k >> 16) || p[2 * j + 1] != (float)(k & 0xffff))
                  : (p[2 * j] >= 1 && p[2 * j + 1] >= 1))
                ng->index_ready = 0;
        }
    }
    if (!ng->index_ready) build_index(m);
}

/* ------------------------------------------------------------- the model */

void nn_ngram_point_views(nn_model *m) {
    float *p = m->params;
    m->emb = p + m->tensor[T_EMB].offset;
    m->w1 = m->b1 = NULL;
    m->w2 = p + m->tensor[T_W].offset;
    m->b2 = p + m->tensor[T_B].offset;
}

int nn_ngram_create(nn_model *m) {
    const nn_config *c = &m->cfg;
    uint32_t V = c->vocab_size, N = c->bigrams, E = c->embed_dim, B = c->batch_size, T = c->maxlen;
    uint32_t O = nn_config_outputs(c);
    nn_ngram *ng = calloc(1, sizeof *ng);
    if (!ng) return 0;
    m->ngram = ng;
    ng->V = V;
    ng->N = N;
    ng->E = E;
    ng->rows = V + N;
    ng->T = T;
    ng->Bmax = B;
    ng->fmax = 2 * T - 1;
    nn_model_add_tensor(m, "embedding", V + N, E);
    nn_model_add_tensor(m, "dense.w", O, E);
    nn_model_add_tensor(m, "dense.b", 1, O);
    if (N) {
        ng->t_bigrams = m->ntensors;
        nn_model_add_tensor(m, "bigram.ids", N, 2);
    }
    if (c->nb_weighting) {
        ng->t_nb = m->ntensors;
        nn_model_add_tensor(m, "nb.ratio", 1, V + N);
    }
    m->params = nn_alloc_floats(m->nparams);
    m->grads = nn_alloc_floats(m->nparams);
    m->m = nn_alloc_floats(m->nparams);
    m->v = nn_alloc_floats(m->nparams);
    m->pooled = nn_alloc_floats(nn_size_mul_sat(B, E));
    m->dpooled = nn_alloc_floats(nn_size_mul_sat(B, E));
    m->logit = nn_alloc_floats(nn_size_mul_sat(B, O));
    m->dlogit = nn_alloc_floats(nn_size_mul_sat(B, O));
    m->ids1 = nn_calloc_array(T, sizeof *m->ids1);
    for (ng->nslots = 1; N && ng->nslots < 2 * N; ng->nslots *= 2) {}
    ng->keys = nn_calloc_array(N ? N : 1, sizeof *ng->keys);
    ng->slots = nn_calloc_array(N ? nn_size_mul_sat(ng->nslots, 2) : 1, sizeof *ng->slots);
    ng->feat = nn_malloc_array(nn_size_mul_sat(B, ng->fmax), sizeof *ng->feat);
    ng->start = nn_calloc_array(nn_size_add_sat(B, 1), sizeof *ng->start);
    size_t touch_cap = nn_size_mul_sat(B, ng->fmax) < ng->rows ? nn_size_mul_sat(B, ng->fmax) : ng->rows;
    ng->touched = nn_malloc_array(touch_cap, sizeof *ng->touched);
    ng->mark = nn_calloc_array(ng->rows, sizeof *ng->mark);
    ng->stamp = 1;
    ng->undo_cap = nn_size_add_sat(nn_size_mul_sat(touch_cap, E), nn_size_mul_sat(O, nn_size_add_sat(E, 1)));
    ng->undo = nn_alloc_floats(ng->undo_cap);
    ng->share = nn_alloc_floats(T);
    ng->pos = nn_malloc_array(ng->fmax, sizeof *ng->pos);
    if (!m->params || !m->grads || !m->m || !m->v || !m->pooled || !m->dpooled || !m->logit ||
        !m->dlogit || !m->ids1 || !ng->keys || !ng->slots || !ng->feat || !ng->start ||
        !ng->touched || !ng->mark || !ng->undo || !ng->share || !ng->pos)
        return 0;
    nn_ngram_point_views(m);
    /* The index is built from "bigram.ids" by the first pass that needs it,
     * so a model whose parameters are then read from a checkpoint (or
     * copied in by a caller) indexes the bigrams it was given. */
    ng->index_ready = 0;
    return 1;
}

void nn_ngram_free(nn_model *m) {
    nn_ngram *ng = m->ngram;
    if (!ng) return;
    free(ng->keys);
    free(ng->slots);
    free(ng->feat);
    free(ng->start);
    free(ng->touched);
    free(ng->mark);
    free(ng->undo);
    free(ng->share);
    free(ng->pos);
    free(ng);
    m->ngram = NULL;
}

static void fill_uniform(float *p, size_t n, float limit, nn_rng *rng) {
    for (size_t i = 0; i < n; i++) p[i] = nn_rng_uniform(rng, -limit, limit);
}

void nn_ngram_init(nn_model *m, nn_rng *rng) {
    const nn_config *c = &m->cfg;
    nn_ngram *ng = m->ngram;
    /* Everything but the bigram table and the NB ratios (which come from
     * the data, and follow the head) starts afresh. */
    size_t keep_from = m->ntensors > 3 ? m->tensor[3].offset : m->nparams;
    memset(m->params, 0, keep_from * sizeof(float));
    fill_uniform(m->emb, (size_t)ng->rows * c->embed_dim, 0.05f, rng);
    uint32_t O = nn_config_outputs(c);
    fill_uniform(m->w2, (size_t)O * c->embed_dim, sqrtf(6.0f / (float)(c->embed_dim + O)), rng);
    memset(m->grads, 0, m->nparams * sizeof(float));
    memset(m->m, 0, m->nparams * sizeof(float));
    memset(m->v, 0, m->nparams * sizeof(float));
    ng->ntouched = 0;
    ng->undo_valid = 0;
    m->step = 0;
    m->prev_valid = 0;
    nn_rng_seed(&m->dropout_rng, c->seed ^ 0x9e3779b97f4a7c15ull);
}

/* The features of B padded reviews into ng->feat / ng->start. */
static void batch_features(nn_model *m, const uint16_t *ids, uint32_t B) {
    nn_ngram *ng = m->ngram;
    uint32_t T = m->cfg.maxlen, at = 0;
    if (!ng->index_ready) build_index(m);
    for (uint32_t b = 0; b < B; b++) {
        ng->start[b] = at;
        at += nn_ngram_features(ng->feat + at, NULL, ids + (size_t)b * T, T, ng);
    }
    ng->start[B] = at;
}

/* The pooled rows and the logits of the batch in ng->feat / ng->start. */
static void forward_features(nn_model *m, uint32_t B) {
    nn_ngram *ng = m->ngram;
    uint32_t E = m->cfg.embed_dim;
    nn_bag_mean_forward(m->pooled, ng->feat, ng->start, m->emb, nb_ratio(m), B, E);
    nn_dense_forward(m->logit, m->pooled, m->w2, m->b2, B, E, nn_config_outputs(&m->cfg));
}

/* The loss and the gradients after forward_features; marks the touched rows. */
static float backward_features(nn_model *m, const float *labels, uint32_t B, uint32_t *correct) {
    nn_ngram *ng = m->ngram;
    uint32_t E = m->cfg.embed_dim;
    float loss = nn_head_loss(m, labels, B, correct);
    float *g = m->grads;
    memset(m->dpooled, 0, (size_t)B * E * sizeof(float));
    nn_dense_backward(m->dpooled, g + m->tensor[T_W].offset, g + m->tensor[T_B].offset, m->dlogit,
                      m->pooled, m->w2, B, E, nn_config_outputs(&m->cfg));
    if (!m->cfg.trainable_embedding) return loss;
    nn_bag_mean_backward(g + m->tensor[T_EMB].offset, m->dpooled, ng->feat, ng->start, nb_ratio(m), B, E);
    for (uint32_t k = 0, n = ng->start[B]; k < n; k++) {
        uint32_t r = ng->feat[k];
        if (ng->mark[r] == ng->stamp) continue;
        ng->mark[r] = ng->stamp;
        ng->touched[ng->ntouched++] = r;
    }
    ng->touched_zeroed = 0; /* gradients were added since the last step */
    return loss;
}

void nn_ngram_forward(nn_model *m, const uint16_t *ids, uint32_t B) {
    assert(B <= m->Bmax);
    batch_features(m, ids, B);
    forward_features(m, B);
}

float nn_ngram_forward_backward(nn_model *m, const uint16_t *ids, const float *labels, uint32_t B,
                                uint32_t *correct) {
    nn_ngram_forward(m, ids, B);
    return backward_features(m, labels, B, correct);
}

/* ------------------------------------------------------- the feature cache */

void nn_ngram_cache_free(nn_ngram_cache *c) {
    free(c->start);
    free(c->feat);
    memset(c, 0, sizeof *c);
}

int nn_ngram_cache_build(nn_ngram_cache *c, nn_model *m, const uint16_t *ids, uint32_t n, uint32_t T) {
    nn_ngram *ng = m->ngram;
    memset(c, 0, sizeof *c);
    if (!ng->index_ready) build_index(m);
    /* Room for 2 len - 1 features of each review's span of len tokens
     * (nn_ngram_features), then given back down to what they have. */
    uint64_t cap = 0;
    for (uint32_t r = 0; r < n; r++) {
        size_t first, last;
        nn_k_nonzero_span(ids + (size_t)r * T, T, &first, &last);
        if (last > first) cap += 2 * (uint64_t)(last - first) - 1;
    }
    if (cap >= UINT32_MAX || cap > SIZE_MAX / sizeof *c->feat - 1) return 0;
    c->start = nn_malloc_array(nn_size_add_sat(n, 1), sizeof *c->start);
    c->feat = nn_malloc_array(cap, sizeof *c->feat);
    if (!c->start || !c->feat) {
        nn_ngram_cache_free(c);
        return 0;
    }
    uint32_t at = 0;
    for (uint32_t r = 0; r < n; r++) {
        c->start[r] = at;
        at += nn_ngram_features(c->feat + at, NULL, ids + (size_t)r * T, T, ng);
    }
    c->start[n] = at;
    uint32_t *fit = nn_realloc_array(c->feat, at, sizeof *c->feat);
    if (fit) c->feat = fit;
    c->n = n;
    c->gen = ng->index_gen;
    return 1;
}

void nn_ngram_forward_rows(nn_model *m, const nn_ngram_cache *c, const uint16_t *ids, const uint32_t *rows,
                           uint32_t first, uint32_t B) {
    nn_ngram *ng = m->ngram;
    uint32_t T = m->cfg.maxlen, at = 0;
    assert(B <= m->Bmax);
    if (!ng->index_ready) build_index(m);
    int cached = c->feat && c->gen == ng->index_gen;
    for (uint32_t b = 0; b < B; b++) {
        uint32_t r = rows ? rows[b] : first + b;
        ng->start[b] = at;
        if (cached) {
            assert(r < c->n);
            uint32_t s = c->start[r], k = c->start[r + 1] - s;
            memcpy(ng->feat + at, c->feat + s, (size_t)k * sizeof *ng->feat);
            at += k;
        } else {
            at += nn_ngram_features(ng->feat + at, NULL, ids + (size_t)r * T, T, ng);
        }
    }
    ng->start[B] = at;
    forward_features(m, B);
}

float nn_ngram_forward_backward_rows(nn_model *m, const nn_ngram_cache *c, const uint16_t *ids,
                                     const uint32_t *rows, const float *labels, uint32_t B,
                                     uint32_t *correct) {
    nn_ngram_forward_rows(m, c, ids, rows, 0, B);
    return backward_features(m, labels, B, correct);
}

void nn_ngram_zero_grad(nn_model *m) {
    nn_ngram *ng = m->ngram;
    uint32_t E = m->cfg.embed_dim;
    float *g = m->grads + m->tensor[T_EMB].offset;
    if (!ng->touched_zeroed) /* else the Adam step cleared them already */
        for (uint32_t i = 0; i < ng->ntouched; i++) nn_k_zero(g + (size_t)ng->touched[i] * E, E);
    ng->touched_zeroed = 0;
    uint32_t O = nn_config_outputs(&m->cfg);
    memset(m->grads + m->tensor[T_W].offset, 0, (size_t)O * E * sizeof(float));
    memset(m->grads + m->tensor[T_B].offset, 0, O * sizeof(float));
    ng->ntouched = 0;
    if (++ng->stamp == 0) { /* after 2^32 batches: start the marks again */
        memset(ng->mark, 0, (size_t)ng->rows * sizeof *ng->mark);
        ng->stamp = 1;
    }
}

/* One step of n floats at offset off, Adam or SGD as configured. */
static int step_span(nn_model *m, size_t off, size_t n, float lr_t) {
    const nn_config *c = &m->cfg;
    float *p = m->params + off;
    if (c->optimizer == NN_OPT_SGD) return nn_k_sgd(p, p, m->grads + off, n, c->lr);
    return nn_k_adam(p, p, m->grads + off, m->m + off, m->v + off, n, lr_t, c->beta1, c->beta2, c->eps);
}

int nn_ngram_update(nn_model *m) {
    const nn_config *c = &m->cfg;
    nn_ngram *ng = m->ngram;
    uint32_t E = c->embed_dim, O = nn_config_outputs(c);
    m->step++;
    /* Keras/TF Adam's bias corrections folded into the step size (as
     * nn_model_update), with the global step t for every row (LazyAdam). */
    double t = (double)m->step;
    float lr_t = (float)(c->lr * sqrt(1.0 - pow(c->beta2, t)) / (1.0 - pow(c->beta1, t)));
    size_t emb = m->tensor[T_EMB].offset, w = m->tensor[T_W].offset, bias = m->tensor[T_B].offset;
    /* The undo log: the head, then each touched row as it was. */
    float *u = ng->undo;
    memcpy(u, m->params + w, (size_t)O * E * sizeof *u);
    memcpy(u + (size_t)O * E, m->params + bias, O * sizeof *u);
    u += (size_t)O * (E + 1);
    int finite = step_span(m, w, (size_t)O * E, lr_t);
    finite &= step_span(m, bias, O, lr_t);
    if (c->optimizer != NN_OPT_SGD) { /* Adam, as step_span */
        /* The touched rows in one kernel call (undo copies included). */
        finite &= nn_k_adam_rows(m->params + emb, m->grads + emb, m->m + emb, m->v + emb, u, ng->touched,
                                 ng->ntouched, E, lr_t, c->beta1, c->beta2, c->eps);
        ng->touched_zeroed = 1;
    } else {
        for (uint32_t i = 0; i < ng->ntouched; i++) {
            if (i + AHEAD < ng->ntouched) {
                size_t ahead = emb + (size_t)ng->touched[i + AHEAD] * E;
                PREFETCH(m->params + ahead);
                PREFETCH(m->grads + ahead);
            }
            nn_k_copy(u + (size_t)i * E, m->params + emb + (size_t)ng->touched[i] * E, E);
            finite &= step_span(m, emb + (size_t)ng->touched[i] * E, E, lr_t);
        }
    }
    ng->nundo = ng->ntouched;
    ng->undo_valid = 1;
    m->prev_valid = 1;
    return finite;
}

int nn_ngram_undo_update(nn_model *m) {
    nn_ngram *ng = m->ngram;
    uint32_t E = m->cfg.embed_dim, O = nn_config_outputs(&m->cfg);
    if (!ng->undo_valid) return 0;
    const float *u = ng->undo;
    memcpy(m->params + m->tensor[T_W].offset, u, (size_t)O * E * sizeof *u);
    memcpy(m->params + m->tensor[T_B].offset, u + (size_t)O * E, O * sizeof *u);
    u += (size_t)O * (E + 1);
    size_t emb = m->tensor[T_EMB].offset;
    for (uint32_t i = 0; i < ng->nundo; i++)
        nn_k_copy(m->params + emb + (size_t)ng->touched[i] * E, u + (size_t)i * E, E);
    ng->undo_valid = 0;
    m->prev_valid = 0;
    return 1;
}

float nn_ngram_explain(nn_model *m, const uint32_t *ids, size_t n, uint32_t cls, float *contrib) {
    const nn_config *c = &m->cfg;
    nn_ngram *ng = m->ngram;
    uint32_t T = c->maxlen, E = c->embed_dim, O = nn_config_outputs(c);
    nn_pad_review_u32(m->ids1, ids, n, c);
    nn_ngram_forward(m, m->ids1, 1);
    float score = nn_head_prob(m, m->logit, cls);
    if (!contrib) return score;
    /* The head as one linear function u = w . pooled + bias of the pooled
     * features, and p0 = the score of a review with no features: with one
     * logit, the logit itself (class 0: its negation); with K, the logit
     * of cls minus the mean logit (softmax does not change when every logit
     * moves together), p0 = softmax(biases)[cls]. */
    float wk[1024], bias, p0;
    assert(E <= 1024);
    if (O == 1) {
        float sign = cls == 1 ? 1.0f : -1.0f;
        for (uint32_t e = 0; e < E; e++) wk[e] = sign * m->w2[e];
        bias = sign * m->b2[0];
        p0 = 1.0f / (1.0f + expf(-bias));
    } else {
        float mean_b = 0.0f;
        for (uint32_t e = 0; e < E; e++) {
            float mean = 0.0f;
            for (uint32_t k = 0; k < O; k++) mean += m->w2[(size_t)k * E + e];
            wk[e] = m->w2[(size_t)cls * E + e] - mean / (float)O;
        }
        for (uint32_t k = 0; k < O; k++) mean_b += m->b2[k];
        bias = m->b2[cls] - mean_b / (float)O;
        p0 = nn_head_prob(m, m->b2, cls);
    }
    /* share (T): each position's part of u - bias, from the features again
     * with their positions. A bigram's feature sits at its second word; its
     * first word is the position before (bigrams join adjacent tokens). */
    float *share = ng->share;
    uint32_t *pos = ng->pos;
    uint32_t nf = nn_ngram_features(ng->feat, pos, m->ids1, T, ng);
    float inv = nf ? 1.0f / (float)nf : 0.0f;
    const float *ratio = nb_ratio(m);
    memset(share, 0, T * sizeof *share);
    float d = 0.0f;
    for (uint32_t k = 0; k < nf; k++) {
        uint32_t r = ng->feat[k];
        float s = nn_k_dot(wk, m->emb + (size_t)r * E, E) * inv * (ratio ? ratio[r] : 1.0f);
        d += s;
        if (r < ng->V) {
            share[pos[k]] += s;
        } else {
            assert(pos[k] > 0);
            share[pos[k]] += 0.5f * s;
            share[pos[k] - 1] += 0.5f * s;
        }
    }
    /* One logit: d is z - bias, as the forward pass has it. */
    if (O == 1) d = (cls == 1 ? 1.0f : -1.0f) * (m->logit[0] - m->b2[0]);
    float scale = fabsf(d) > 1e-6f ? (score - p0) / d : p0 * (1.0f - p0);
    for (size_t i = 0; i < n; i++) {
        long at = nn_padded_position(i, n, c);
        contrib[i] = at < 0 ? 0.0f : share[at] * scale;
    }
    return score;
}

/* ------------------------------------------------- choosing the bigrams */

typedef struct pair_count { uint32_t key, count; } pair_count;

static int by_count_then_key(const void *a, const void *b) {
    const pair_count *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return x->key < y->key ? -1 : x->key > y->key;
}

/* a (n) sorted by key, ascending: a least-significant-digit radix sort,
 * two passes of 16 bits through tmp (n), count (65536) scratch. */
static void sort_by_key(pair_count *a, pair_count *tmp, uint32_t *count, uint32_t n) {
    for (int shift = 0; shift < 32; shift += 16) {
        pair_count *from = shift ? tmp : a, *to = shift ? a : tmp;
        memset(count, 0, (1u << 16) * sizeof *count);
        for (uint32_t i = 0; i < n; i++) count[(from[i].key >> shift) & 0xffff]++;
        for (uint32_t d = 0, sum = 0; d < (1u << 16); d++) {
            uint32_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (uint32_t i = 0; i < n; i++) to[count[(from[i].key >> shift) & 0xffff]++] = from[i];
    }
}

/* NBSVM's log-count ratios (Wang & Manning 2012, section 2.1) of every row:
 * with binarized features (does review i have feature f), alpha = 1,
 * p = alpha + sum over positive reviews, q = alpha + the same over negative
 * ones, r = log((p / |p|_1) / (q / |q|_1)). */
static int nb_ratios_classes(nn_model *m, const uint16_t *ids, const float *labels, uint32_t n,
                             uint32_t T, const nn_ngram_cache *cache, nn_error *err);

/* Review i's features: the cache's when there is one, else built into ng->feat. */
static const uint32_t *review_features(nn_ngram *ng, const nn_ngram_cache *cache, const uint16_t *ids,
                                       uint32_t i, uint32_t T, uint32_t *nf) {
    if (cache) {
        *nf = cache->start[i + 1] - cache->start[i];
        return cache->feat + cache->start[i];
    }
    *nf = nn_ngram_features(ng->feat, NULL, ids + (size_t)i * T, T, ng);
    return ng->feat;
}

static int nb_ratios(nn_model *m, const uint16_t *ids, const float *labels, uint32_t n, uint32_t T,
                     const nn_ngram_cache *cache, nn_error *err) {
    if (m->cfg.classes > 2) return nb_ratios_classes(m, ids, labels, n, T, cache, err);
    nn_ngram *ng = m->ngram;
    uint32_t rows = ng->rows;
    uint32_t *count = nn_calloc_array(nn_size_mul_sat(rows, 2), sizeof *count); /* (2, rows): negative, positive */
    if (!count) return nn_fail(err, NN_ERR_NOMEM, "out of memory counting features");
    for (uint32_t i = 0; i < n; i++) {
        uint32_t nf;
        const uint32_t *feat = review_features(ng, cache, ids, i, T, &nf);
        uint32_t *c = count + (labels[i] > 0.5f ? rows : 0);
        ng->stamp++;
        for (uint32_t k = 0; k < nf; k++) {
            uint32_t r = feat[k];
            if (ng->mark[r] == ng->stamp) continue;
            ng->mark[r] = ng->stamp;
            c[r]++;
        }
    }
    double pn = 0, qn = 0;
    for (uint32_t r = 0; r < rows; r++) {
        qn += 1.0 + count[r];
        pn += 1.0 + count[rows + r];
    }
    float *ratio = m->params + m->tensor[ng->t_nb].offset;
    for (uint32_t r = 0; r < rows; r++)
        ratio[r] = (float)log(((1.0 + count[rows + r]) / pn) / ((1.0 + count[r]) / qn));
    free(count);
    ng->stamp++;
    return NN_OK;
}

/* K classes: each class's one-vs-rest ratio as above (p from its reviews,
 * q from all the others), and each row keeps the ratio of largest
 * magnitude: how strongly the feature points to some class. (For K = 2
 * both classes give the same magnitude, so this would be the binary
 * ratio up to sign; two-class models keep nb_ratios' exact numbers.) */
static int nb_ratios_classes(nn_model *m, const uint16_t *ids, const float *labels, uint32_t n,
                             uint32_t T, const nn_ngram_cache *cache, nn_error *err) {
    nn_ngram *ng = m->ngram;
    uint32_t rows = ng->rows, K = m->cfg.classes;
    uint32_t *count = nn_calloc_array(nn_size_mul_sat(K, rows), sizeof *count); /* (K, rows) */
    double *total = nn_calloc_array(nn_size_mul_sat(K, 2), sizeof *total);      /* (K) |p|_1, then (K) sum of counts */
    if (!count || !total) {
        free(count);
        free(total);
        return nn_fail(err, NN_ERR_NOMEM, "out of memory counting features per class");
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t nf;
        const uint32_t *feat = review_features(ng, cache, ids, i, T, &nf);
        uint32_t y = (uint32_t)labels[i];
        assert(y < K);
        uint32_t *c = count + (size_t)y * rows;
        ng->stamp++;
        for (uint32_t k = 0; k < nf; k++) {
            uint32_t r = feat[k];
            if (ng->mark[r] == ng->stamp) continue;
            ng->mark[r] = ng->stamp;
            c[r]++;
        }
    }
    double all = 0;
    for (uint32_t k = 0; k < K; k++)
        for (uint32_t r = 0; r < rows; r++) total[k] += count[(size_t)k * rows + r];
    for (uint32_t k = 0; k < K; k++) all += total[k];
    float *ratio = m->params + m->tensor[ng->t_nb].offset;
    for (uint32_t r = 0; r < rows; r++) {
        double sum = 0, best = 0;
        for (uint32_t k = 0; k < K; k++) sum += count[(size_t)k * rows + r];
        for (uint32_t k = 0; k < K; k++) {
            double in = count[(size_t)k * rows + r], out = sum - in;
            double pn = rows + total[k], qn = rows + (all - total[k]);
            double x = log(((1.0 + in) / pn) / ((1.0 + out) / qn));
            if (fabs(x) > fabs(best)) best = x;
        }
        ratio[r] = (float)best;
    }
    free(count);
    free(total);
    ng->stamp++;
    return NN_OK;
}

static int choose_bigrams(nn_model *m, const uint16_t *ids, uint32_t n, uint32_t T, nn_error *err);

int nn_ngram_build_bigrams(nn_model *m, const uint16_t *ids, const float *labels, uint32_t n, uint32_t T,
                           nn_error *err) {
    return nn_ngram_build_bigrams_cached(m, ids, labels, n, T, NULL, err);
}

int nn_ngram_build_bigrams_cached(nn_model *m, const uint16_t *ids, const float *labels, uint32_t n,
                                  uint32_t T, nn_ngram_cache *cache, nn_error *err) {
    int rc = choose_bigrams(m, ids, n, T, err);
    if (!rc && cache && !nn_ngram_cache_build(cache, m, ids, n, T))
        rc = nn_fail(err, NN_ERR_NOMEM, "out of memory for the training reviews' n-gram features");
    if (!rc && m->cfg.nb_weighting) rc = nb_ratios(m, ids, labels, n, T, cache, err);
    return rc;
}

static int choose_bigrams(nn_model *m, const uint16_t *ids, uint32_t n, uint32_t T, nn_error *err) {
    nn_ngram *ng = m->ngram;
    uint32_t N = ng->N;
    if (!N) return NN_OK;
    /* Count every adjacent pair of real tokens in an open-addressing table
     * that doubles when half full. */
    uint32_t cap = 1u << 16, used = 0;
    pair_count *tab = nn_calloc_array(cap, sizeof *tab);
    if (!tab) return nn_fail(err, NN_ERR_NOMEM, "out of memory counting bigrams");
    for (size_t r = 0; r < n; r++) {
        const uint16_t *row = ids + r * T;
        for (uint32_t t = 1; t < T; t++) {
            if (t + AHEAD < T && row[t + AHEAD] != NN_PAD && row[t + AHEAD - 1] != NN_PAD)
                PREFETCH(tab + (hash_key(nn_ngram_key(row[t + AHEAD - 1], row[t + AHEAD])) & (cap - 1)));
            if (row[t] == NN_PAD || row[t - 1] == NN_PAD) continue;
            uint32_t key = nn_ngram_key(row[t - 1], row[t]), mask = cap - 1, s = hash_key(key) & mask;
            while (tab[s].key && tab[s].key != key) s = (s + 1) & mask;
            if (!tab[s].key) {
                tab[s].key = key;
                used++;
            }
            tab[s].count++;
            if (2 * used > cap) {
                uint32_t ncap = cap * 2;
                pair_count *nt = nn_calloc_array(ncap, sizeof *nt);
                if (!nt) {
                    free(tab);
                    return nn_fail(err, NN_ERR_NOMEM,
                                   "out of memory counting bigrams (%u distinct so far); choose "
                                   "fewer training reviews", used);
                }
                for (uint32_t i = 0; i < cap; i++) {
                    if (!tab[i].key) continue;
                    uint32_t q = hash_key(tab[i].key) & (ncap - 1);
                    while (nt[q].key) q = (q + 1) & (ncap - 1);
                    nt[q] = tab[i];
                }
                free(tab);
                tab = nt;
                cap = ncap;
            }
        }
    }
    /* Compact, then keep the N most frequent: all pairs above the count of
     * the N-th, and of those at that count, the smallest keys. */
    uint32_t d = 0;
    for (uint32_t i = 0; i < cap; i++)
        if (tab[i].key) tab[d++] = tab[i];
    uint32_t keep = d;
    if (d > N) {
        uint32_t hist_max = 1u << 16, *hist = calloc(hist_max + 1, sizeof *hist);
        if (!hist) {
            free(tab);
            return nn_fail(err, NN_ERR_NOMEM, "out of memory choosing bigrams");
        }
        for (uint32_t i = 0; i < d; i++) hist[tab[i].count < hist_max ? tab[i].count : hist_max]++;
        uint32_t c = hist_max, above = 0; /* pairs with count > c */
        while (above + hist[c] < N) above += hist[c--];
        free(hist);
        /* everything above c, then the smallest keys at c */
        uint32_t k = 0, nties = 0;
        pair_count *ties = nn_malloc_array(nn_size_mul_sat(d, 2), sizeof *ties);
        uint32_t *digits = malloc((1u << 16) * sizeof *digits);
        if (!ties || !digits) {
            free(ties);
            free(digits);
            free(tab);
            return nn_fail(err, NN_ERR_NOMEM, "out of memory choosing bigrams");
        }
        for (uint32_t i = 0; i < d; i++) {
            uint32_t cnt = tab[i].count < hist_max ? tab[i].count : hist_max;
            if (cnt > c) tab[k++] = tab[i];
            else if (cnt == c) ties[nties++] = tab[i];
        }
        sort_by_key(ties, ties + d, digits, nties);
        free(digits);
        for (uint32_t i = 0; k < N; i++) tab[k++] = ties[i];
        free(ties);
        keep = N;
    }
    qsort(tab, keep, sizeof *tab, by_count_then_key);
    float *p = bigram_ids(m);
    memset(p, 0, (size_t)N * 2 * sizeof *p);
    for (uint32_t j = 0; j < keep; j++) {
        p[2 * j] = (float)(tab[j].key >> 16);
        p[2 * j + 1] = (float)(tab[j].key & 0xffff);
    }
    free(tab);
    build_index(m);
    return NN_OK;
}
