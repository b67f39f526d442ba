/* model.c: the bag-of-embeddings model: its parameter table, Keras
 * initialisation, forward/backward over a batch, the optimizer step, and
 * scoring and explaining one review.
 *
 * All parameters live in one buffer carved by a table of named tensors; the
 * gradients and Adam moments mirror it. Not here: the layers' maths
 * (layers.c), batching and epochs (train.c). */
#include "nn.h"
#include "kernels.h"
#include "layers.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void *alloc_floats(size_t n) {
    /* 16-byte aligned and padded to whole vectors; calloc semantics. */
    size_t bytes = ((n ? n : 1) * sizeof(float) + 15) & ~(size_t)15;
    void *p = aligned_alloc(16, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

static void add_tensor(nn_model *m, const char *name, uint32_t rows, uint32_t cols) {
    assert(m->ntensors < NN_MAX_TENSORS);
    nn_tensor *t = &m->tensor[m->ntensors++];
    memset(t, 0, sizeof *t);
    strncpy(t->name, name, sizeof t->name - 1);
    t->rows = rows;
    t->cols = cols;
    t->offset = m->nparams;
    /* Keep every tensor 16-byte aligned inside the buffer. */
    m->nparams += ((size_t)rows * cols + 3) & ~(size_t)3;
}

int nn_model_create(nn_model **out, const nn_config *cfg, nn_error *err) {
    *out = NULL;
    int rc = nn_config_check(cfg, NULL, err);
    if (rc) return rc;
    nn_model *m = calloc(1, sizeof *m);
    if (!m) return nn_fail(err, NN_ERR_NOMEM, "out of memory creating the model");
    m->cfg = *cfg;
    uint32_t V = cfg->vocab_size, E = cfg->embed_dim, H = cfg->hidden, B = cfg->batch_size;
    add_tensor(m, "embedding", V, E);
    add_tensor(m, "dense1.w", H, E);
    add_tensor(m, "dense1.b", 1, H);
    add_tensor(m, "dense2.w", 1, H);
    add_tensor(m, "dense2.b", 1, 1);
    m->params = alloc_floats(m->nparams);
    m->grads = alloc_floats(m->nparams);
    m->m = alloc_floats(m->nparams);
    m->v = alloc_floats(m->nparams);
    m->Bmax = B;
    m->pooled = alloc_floats((size_t)B * E);
    m->hidden = alloc_floats((size_t)B * H);
    m->logit = alloc_floats(B);
    m->dpooled = alloc_floats((size_t)B * E);
    m->dhidden = alloc_floats((size_t)B * H);
    m->dhpre = alloc_floats((size_t)B * H);
    m->dlogit = alloc_floats(B);
    m->ids1 = calloc(cfg->maxlen, sizeof *m->ids1);
    if (!m->params || !m->grads || !m->m || !m->v || !m->pooled || !m->hidden || !m->logit ||
        !m->dpooled || !m->dhidden || !m->dhpre || !m->dlogit || !m->ids1) {
        size_t nparams = m->nparams;
        nn_model_free(m);
        return nn_fail(err, NN_ERR_NOMEM,
                       "out of memory for a model of %zu parameters and batch %u; "
                       "try a smaller vocabulary, embedding or batch size",
                       nparams, B);
    }
    m->emb = m->params + m->tensor[0].offset;
    m->w1 = m->params + m->tensor[1].offset;
    m->b1 = m->params + m->tensor[2].offset;
    m->w2 = m->params + m->tensor[3].offset;
    m->b2 = m->params + m->tensor[4].offset;
    *out = m;
    return NN_OK;
}

void nn_model_free(nn_model *m) {
    if (!m) return;
    free(m->params);
    free(m->grads);
    free(m->m);
    free(m->v);
    free(m->pooled);
    free(m->hidden);
    free(m->logit);
    free(m->dpooled);
    free(m->dhidden);
    free(m->dhpre);
    free(m->dlogit);
    free(m->ids1);
    free(m);
}

static void fill_uniform(float *p, size_t n, float limit, nn_rng *rng) {
    for (size_t i = 0; i < n; i++) p[i] = nn_rng_uniform(rng, -limit, limit);
}

void nn_model_init(nn_model *m, nn_rng *rng) {
    const nn_config *c = &m->cfg;
    memset(m->params, 0, m->nparams * sizeof(float));
    /* Keras: Embedding uses uniform(-0.05, 0.05); Dense uses Glorot uniform,
     * limit sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010); biases 0. */
    fill_uniform(m->emb, (size_t)c->vocab_size * c->embed_dim, 0.05f, rng);
    fill_uniform(m->w1, (size_t)c->hidden * c->embed_dim,
                 sqrtf(6.0f / (float)(c->embed_dim + c->hidden)), rng);
    fill_uniform(m->w2, c->hidden, sqrtf(6.0f / (float)(c->hidden + 1)), rng);
    memset(m->grads, 0, m->nparams * sizeof(float));
    memset(m->m, 0, m->nparams * sizeof(float));
    memset(m->v, 0, m->nparams * sizeof(float));
    m->step = 0;
}

void nn_model_forward(nn_model *m, const uint16_t *ids, uint32_t B) {
    const nn_config *c = &m->cfg;
    assert(B <= m->Bmax);
    nn_embedding_pool_forward(m->pooled, ids, m->emb, B, c->maxlen, c->embed_dim, c->pooling);
    nn_dense_forward(m->hidden, m->pooled, m->w1, m->b1, B, c->embed_dim, c->hidden);
    nn_relu_forward(m->hidden, m->hidden, (size_t)B * c->hidden);
    nn_dense_forward(m->logit, m->hidden, m->w2, m->b2, B, c->hidden, 1);
}

float nn_model_forward_backward(nn_model *m, const uint16_t *ids, const float *labels,
                                uint32_t B, uint32_t *correct) {
    const nn_config *c = &m->cfg;
    uint32_t E = c->embed_dim, H = c->hidden;
    nn_model_forward(m, ids, B);
    float loss = nn_bce_forward_backward(m->dlogit, m->logit, labels, B, correct);
    float *g = m->grads;
    memset(m->dhidden, 0, (size_t)B * H * sizeof(float));
    memset(m->dhpre, 0, (size_t)B * H * sizeof(float));
    memset(m->dpooled, 0, (size_t)B * E * sizeof(float));
    nn_dense_backward(m->dhidden, g + m->tensor[3].offset, g + m->tensor[4].offset, m->dlogit,
                      m->hidden, m->w2, B, H, 1);
    nn_relu_backward(m->dhpre, m->dhidden, m->hidden, (size_t)B * H);
    nn_dense_backward(m->dpooled, g + m->tensor[1].offset, g + m->tensor[2].offset, m->dhpre,
                      m->pooled, m->w1, B, E, H);
    nn_embedding_pool_backward(g + m->tensor[0].offset, m->dpooled, ids, B, c->maxlen, E,
                               c->pooling);
    return loss;
}

void nn_model_zero_grad(nn_model *m) { memset(m->grads, 0, m->nparams * sizeof(float)); }

void nn_model_update(nn_model *m) {
    const nn_config *c = &m->cfg;
    m->step++;
    if (c->optimizer == NN_OPT_SGD) {
        nn_k_sgd(m->params, m->grads, m->nparams, c->lr);
        return;
    }
    /* Keras/TF Adam: the bias corrections fold into the step size. */
    double t = (double)m->step;
    double lr_t = c->lr * sqrt(1.0 - pow(c->beta2, t)) / (1.0 - pow(c->beta1, t));
    nn_k_adam(m->params, m->grads, m->m, m->v, m->nparams, (float)lr_t, c->beta1, c->beta2,
              c->eps);
}

/* Keras pad_sequences: 'pre' truncation keeps the last T ids, 'post' the
 * first T; 'pre' padding puts zeros before the ids, 'post' after. */
#define PAD_REVIEW_BODY                                                       \
    uint32_t T = cfg->maxlen, V = cfg->vocab_size;                            \
    size_t keep = n < T ? n : T;                                              \
    size_t from = (n > T && cfg->truncating == NN_PAD_PRE) ? n - T : 0;       \
    size_t at = cfg->padding == NN_PAD_PRE ? T - keep : 0;                    \
    memset(out, 0, (size_t)T * sizeof *out);                                  \
    for (size_t i = 0; i < keep; i++) {                                       \
        uint32_t id = ids[from + i];                                          \
        out[at + i] = (uint16_t)(id < V ? id : NN_UNK);                       \
    }

void nn_pad_review(uint16_t *out, const uint16_t *ids, size_t n, const nn_config *cfg) {
    PAD_REVIEW_BODY
}

void nn_pad_review_u32(uint16_t *out, const uint32_t *ids, size_t n, const nn_config *cfg) {
    PAD_REVIEW_BODY
}

/* Where id i of an n-id review lands after padding, or -1 when cut. */
static long padded_position(size_t i, size_t n, const nn_config *cfg) {
    size_t T = cfg->maxlen;
    size_t keep = n < T ? n : T;
    size_t from = (n > T && cfg->truncating == NN_PAD_PRE) ? n - T : 0;
    size_t at = cfg->padding == NN_PAD_PRE ? T - keep : 0;
    if (i < from || i >= from + keep) return -1;
    return (long)(at + i - from);
}

static float sigmoidf(float z) { return 1.0f / (1.0f + expf(-z)); }

/* The head of the model on one pooled vector: dense, ReLU, dense. */
static float head_logit(const nn_model *m, const float *pooled, float *hidden) {
    const nn_config *c = &m->cfg;
    nn_dense_forward(hidden, pooled, m->w1, m->b1, 1, c->embed_dim, c->hidden);
    nn_relu_forward(hidden, hidden, c->hidden);
    float logit;
    nn_dense_forward(&logit, hidden, m->w2, m->b2, 1, c->hidden, 1);
    return logit;
}

float nn_model_explain(nn_model *m, const uint32_t *ids, size_t n, float *contrib) {
    const nn_config *c = &m->cfg;
    uint32_t T = c->maxlen, E = c->embed_dim;
    nn_pad_review_u32(m->ids1, ids, n, c);
    nn_model_forward(m, m->ids1, 1);
    float score = sigmoidf(m->logit[0]);
    if (!contrib) return score;
    /* Occlusion is exact and cheap for this model: replacing one token by
     * <PAD> changes the pooled vector by a closed form, so each word costs
     * one head evaluation (O(E*H)) instead of a full forward (O(T*E)). */
    uint32_t s, e, real = 0;
    for (s = 0; s < T; s++) real += m->ids1[s] != NN_PAD;
    float pooled[1024], hidden[4096], sum[1024];
    assert(E <= 1024 && c->hidden <= 4096);
    for (e = 0; e < E; e++) sum[e] = m->pooled[e] * (c->pooling == NN_POOL_KERAS ? (float)T : (float)(real ? real : 1));
    for (size_t i = 0; i < n; i++) {
        long pos = padded_position(i, n, c);
        if (pos < 0) {
            contrib[i] = 0.0f;
            continue;
        }
        uint32_t id = m->ids1[pos];
        const float *row = m->emb + (size_t)id * E;
        if (c->pooling == NN_POOL_KERAS) {
            for (e = 0; e < E; e++) pooled[e] = (sum[e] - row[e] + m->emb[e]) / (float)T;
        } else {
            uint32_t k = real > 1 ? real - 1 : 1;
            for (e = 0; e < E; e++) pooled[e] = real > 1 ? (sum[e] - row[e]) / (float)k : 0.0f;
        }
        contrib[i] = score - sigmoidf(head_logit(m, pooled, hidden));
    }
    return score;
}

float nn_model_score_text(nn_model *m, const nn_vocab *v, const char *text, size_t len) {
    uint32_t small[4096];
    size_t n = nn_encode_text(v, text, len, m->cfg.vocab_size, small, 4096);
    if (n <= 4096) return nn_model_explain(m, small, n, NULL);
    /* A long paste: 'pre' truncation needs its last ids, so encode it all. */
    uint32_t *ids = malloc(n * sizeof *ids);
    if (!ids) return nn_model_explain(m, small, 4096, NULL);
    nn_encode_text(v, text, len, m->cfg.vocab_size, ids, n);
    float score = nn_model_explain(m, ids, n, NULL);
    free(ids);
    return score;
}
