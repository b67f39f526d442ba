/* model.c: the models (bag of embeddings; LSTM, GRU, stacked and
 * bidirectional): their parameter tables, Keras initialisation,
 * forward/backward over a batch, the optimizer step, and explaining one
 * review (occlusion, toward any class).
 *
 * All parameters live in one buffer carved by a table of named tensors; the
 * gradients and Adam moments mirror it. Not here: the layers' maths
 * (layers.c, layers_rnn.c), the output head's loss and class probabilities
 * and scoring a text (model_head.c), batching and epochs (train.c). */
#include "nn.h"
#include "kernels.h"
#include "layers.h"
#include "model_head.h"
#include "ngram.h"
#include "transformer.h"
#include "stopwords.h" /* nn_encode_text_stop: stopwords.c needs only the tokenizer */

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_recurrent(const nn_config *c) {
    return c->model != NN_MODEL_BAG && c->model != NN_MODEL_MLP && c->model != NN_MODEL_NGRAM &&
           c->model != NN_MODEL_TRANSFORMER;
}
static int is_transformer(const nn_config *c) { return c->model == NN_MODEL_TRANSFORMER; }
static int is_ngram(const nn_config *c) { return c->model == NN_MODEL_NGRAM; }
static int is_mlp(const nn_config *c) { return c->model == NN_MODEL_MLP; }

/* Points the views (emb, w1, ..., each recurrent layer's wx, wh, b) into
 * m->params; again after every swap of a double-buffered step. */
static void point_views(nn_model *m) {
    float *p = m->params;
    if (is_transformer(&m->cfg)) { /* the token embedding (wte); transformer.c carves the rest at every pass */
        m->emb = p + m->tensor[0].offset;
        return;
    }
    if (is_mlp(&m->cfg)) { /* no embedding */
        m->w1 = p + m->tensor[0].offset;
        m->b1 = p + m->tensor[1].offset;
        m->w2 = p + m->tensor[2].offset;
        m->b2 = p + m->tensor[3].offset;
        return;
    }
    m->emb = p + m->tensor[0].offset;
    if (!is_recurrent(&m->cfg)) {
        m->w1 = p + m->tensor[1].offset;
        m->b1 = p + m->tensor[2].offset;
        m->w2 = p + m->tensor[3].offset;
        m->b2 = p + m->tensor[4].offset;
        return;
    }
    for (uint32_t l = 0; l < m->nlayers; l++) {
        for (uint32_t d = 0; d < m->ndirs; d++) {
            nn_rnn_layer *r = &m->rnn[l][d];
            r->wx = p + m->tensor[r->tensor].offset;
            r->wh = p + m->tensor[r->tensor + 1].offset;
            r->b = p + m->tensor[r->tensor + 2].offset;
        }
    }
    m->w2 = p + m->tensor[m->ntensors - 2].offset;
    m->b2 = p + m->tensor[m->ntensors - 1].offset;
}

static int cell_of(const nn_config *c) {
    return c->model == NN_MODEL_GRU || c->model == NN_MODEL_BIGRU ? NN_CELL_GRU : NN_CELL_LSTM;
}
static uint32_t dirs_of(const nn_config *c) {
    return c->model == NN_MODEL_BILSTM || c->model == NN_MODEL_BIGRU ? 2 : 1;
}

/* The bag model's tensors and activations. */
static int create_bag(nn_model *m) {
    const nn_config *cfg = &m->cfg;
    uint32_t V = cfg->vocab_size, E = cfg->embed_dim, H = cfg->hidden, B = cfg->batch_size;
    uint32_t O = nn_config_outputs(cfg);
    nn_model_add_tensor(m, "embedding", V, E);
    nn_model_add_tensor(m, "dense1.w", H, E);
    nn_model_add_tensor(m, "dense1.b", 1, H);
    nn_model_add_tensor(m, "dense2.w", O, H);
    nn_model_add_tensor(m, "dense2.b", 1, O);
    m->params = nn_alloc_floats(m->nparams);
    m->grads = nn_alloc_floats(m->nparams);
    m->m = nn_alloc_floats(m->nparams);
    m->v = nn_alloc_floats(m->nparams);
    m->pooled = nn_alloc_floats(nn_size_mul_sat(B, E));
    m->runs = nn_calloc_array(nn_size_mul_sat(B, 2), sizeof *m->runs);
    m->hidden = nn_alloc_floats(nn_size_mul_sat(B, H));
    m->logit = nn_alloc_floats(nn_size_mul_sat(B, O));
    m->dpooled = nn_alloc_floats(nn_size_mul_sat(B, E));
    m->dhidden = nn_alloc_floats(nn_size_mul_sat(B, H));
    m->dhpre = nn_alloc_floats(nn_size_mul_sat(B, H));
    m->dlogit = nn_alloc_floats(nn_size_mul_sat(B, O));
    m->ids1 = nn_calloc_array(cfg->maxlen, sizeof *m->ids1);
    if (!m->params || !m->grads || !m->m || !m->v || !m->pooled || !m->runs || !m->hidden || !m->logit ||
        !m->dpooled || !m->dhidden || !m->dhpre || !m->dlogit || !m->ids1)
        return 0;
    point_views(m);
    return 1;
}

/* The MLP's tensors (Keras names: kernel (C,OC), bias) and activations. */
static int create_mlp(nn_model *m) {
    const nn_config *c = &m->cfg;
    uint32_t D = c->input_dim, H = c->hidden, K = c->classes, B = c->batch_size;
    nn_model_add_tensor(m, "dense1.w", D, H);
    nn_model_add_tensor(m, "dense1.b", 1, H);
    nn_model_add_tensor(m, "dense2.w", H, K);
    nn_model_add_tensor(m, "dense2.b", 1, K);
    m->params = nn_alloc_floats(m->nparams);
    m->grads = nn_alloc_floats(m->nparams);
    m->m = nn_alloc_floats(m->nparams);
    m->v = nn_alloc_floats(m->nparams);
    m->xin = nn_alloc_floats(nn_size_mul_sat(B, D));
    m->hidden = nn_alloc_floats(nn_size_mul_sat(B, H));
    m->dhidden = nn_alloc_floats(nn_size_mul_sat(B, H));
    m->dhpre = nn_alloc_floats(nn_size_mul_sat(B, H));
    m->logit = nn_alloc_floats(nn_size_mul_sat(B, K));
    m->dlogit = nn_alloc_floats(nn_size_mul_sat(B, K));
    m->w2t = nn_alloc_floats(nn_size_mul_sat(K, H));
    if (!m->params || !m->grads || !m->m || !m->v || !m->xin || !m->hidden || !m->dhidden ||
        !m->dhpre || !m->logit || !m->dlogit || !m->w2t)
        return 0;
    point_views(m);
    return 1;
}

/* A recurrent model's tensors (Keras names and shapes: kernel (C,GH),
 * recurrent_kernel (H,GH), bias) and activations. */
static int create_recurrent(nn_model *m) {
    const nn_config *c = &m->cfg;
    uint32_t V = c->vocab_size, E = c->embed_dim, H = c->hidden, B = c->batch_size, T = c->maxlen;
    uint32_t D = dirs_of(c), L = c->layers, cell = (uint32_t)cell_of(c), O = nn_config_outputs(c);
    size_t GH = nn_size_mul_sat(cell == NN_CELL_LSTM ? 4 : 3, H), TB = nn_size_mul_sat(T, B);
    size_t Cmax = E > nn_size_mul_sat(D, H) ? E : nn_size_mul_sat(D, H);
    const char *kind = cell == NN_CELL_LSTM ? "lstm" : "gru";
    m->nlayers = L;
    m->ndirs = D;
    nn_model_add_tensor(m, "embedding", V, E);
    for (uint32_t l = 0; l < L; l++) {
        for (uint32_t d = 0; d < D; d++) {
            nn_rnn_layer *r = &m->rnn[l][d];
            char name[16], dir[8];
            snprintf(dir, sizeof dir, "%s", D == 1 ? "" : d == 0 ? ".fwd" : ".bwd");
            r->cell = (int)cell;
            r->reverse = (int)d;
            r->C = l == 0 ? E : D * H;
            r->tensor = m->ntensors;
            snprintf(name, sizeof name, "%s%u%s.wx", kind, l + 1, dir);
            nn_model_add_tensor(m, name, r->C, (uint32_t)GH);
            snprintf(name, sizeof name, "%s%u%s.wh", kind, l + 1, dir);
            nn_model_add_tensor(m, name, H, (uint32_t)GH);
            snprintf(name, sizeof name, "%s%u%s.b", kind, l + 1, dir);
            nn_model_add_tensor(m, name, cell == NN_CELL_LSTM ? 1 : 2, (uint32_t)GH);
        }
    }
    nn_model_add_tensor(m, "dense.w", O, D * H);
    nn_model_add_tensor(m, "dense.b", 1, O);
    /* The first Adam moment is also the orthogonal initialisation's
     * scratch, (GH,H) doubles (nn_model_init): with a small embedding and a
     * large H that is more than nparams floats. */
    size_t ortho_floats = nn_size_mul_sat(nn_size_mul_sat(GH, H), 2);
    m->params = nn_alloc_floats(m->nparams);
    m->grads = nn_alloc_floats(m->nparams);
    m->m = nn_alloc_floats(m->nparams > ortho_floats ? m->nparams : ortho_floats);
    m->v = nn_alloc_floats(m->nparams);
    m->logit = nn_alloc_floats(nn_size_mul_sat(B, O));
    m->dlogit = nn_alloc_floats(nn_size_mul_sat(B, O));
    m->ids1 = nn_calloc_array(T, sizeof *m->ids1);
    m->ids_batch = nn_calloc_array(TB, sizeof *m->ids_batch);
    m->mask = nn_calloc_array(TB, 1);
    m->order = nn_calloc_array(B, sizeof *m->order);
    m->lens = nn_calloc_array(nn_size_add_sat(nn_size_add_sat(B, T), 2), sizeof *m->lens);
    m->ids_sorted = nn_calloc_array(TB, sizeof *m->ids_sorted);
    m->zs = nn_alloc_floats(nn_size_mul_sat(B, O));
    m->dzs = nn_alloc_floats(nn_size_mul_sat(B, O));
    m->seq = nn_alloc_floats(nn_size_mul_sat(TB, E));
    m->final = nn_alloc_floats(nn_size_mul_sat(nn_size_mul_sat(B, D), H));
    m->dfinal = nn_alloc_floats(nn_size_mul_sat(nn_size_mul_sat(B, D), H));
    m->dhs = nn_alloc_floats(nn_size_mul_sat(nn_size_add_sat(TB, B), H));
    m->dseq[0] = nn_alloc_floats(nn_size_mul_sat(TB, Cmax));
    m->dseq[1] = nn_alloc_floats(nn_size_mul_sat(TB, Cmax));
    m->dxdrop = c->dropout > 0 ? nn_alloc_floats(nn_size_mul_sat(TB, Cmax)) : NULL;
    size_t work = 0;
    for (uint32_t l = 0; l < L; l++) {
        size_t w = nn_rnn_work_floats((int)cell, T, B, l == 0 ? E : D * H, H);
        if (w > work) work = w;
    }
    m->work = nn_alloc_floats(work);
    int ok = m->params && m->grads && m->m && m->v && m->logit && m->dlogit && m->ids1 &&
             m->ids_batch && m->mask && m->order && m->lens && m->ids_sorted && m->zs && m->dzs && m->seq && m->final && m->dfinal && m->dhs && m->dseq[0] &&
             m->dseq[1] && (m->dxdrop || c->dropout == 0) && m->work;
    for (uint32_t l = 0; ok && l < L; l++) {
        if (D == 2 && l + 1 < L) ok &= (m->seq_out[l] = nn_alloc_floats(nn_size_mul_sat(nn_size_mul_sat(TB, 2), H))) != NULL;
        for (uint32_t d = 0; ok && d < D; d++) {
            nn_rnn_layer *r = &m->rnn[l][d];
            r->hs = nn_alloc_floats(nn_size_mul_sat(nn_size_add_sat(TB, B), H));
            r->cs = cell == NN_CELL_LSTM ? nn_alloc_floats(nn_size_mul_sat(nn_size_add_sat(TB, B), H)) : NULL;
            r->gates = nn_alloc_floats(nn_size_mul_sat(TB, GH));
            r->rech = cell == NN_CELL_GRU ? nn_alloc_floats(nn_size_mul_sat(TB, H)) : NULL;
            r->tanhc = cell == NN_CELL_LSTM ? nn_alloc_floats(nn_size_mul_sat(TB, H)) : NULL;
            ok &= r->hs && r->gates && (cell != NN_CELL_LSTM || (r->cs && r->tanhc)) &&
                  (cell != NN_CELL_GRU || r->rech);
            if (c->dropout > 0) {
                r->xdrop = nn_alloc_floats(nn_size_mul_sat(TB, r->C));
                r->xkeep = nn_alloc_floats(nn_size_mul_sat(B, r->C));
                ok &= r->xdrop && r->xkeep;
            }
            if (c->recurrent_dropout > 0) {
                r->hkeep = nn_alloc_floats(nn_size_mul_sat(B, H));
                r->hin = nn_alloc_floats(nn_size_mul_sat(TB, H));
                ok &= r->hkeep && r->hin;
            }
        }
    }
    if (!ok) return 0;
    point_views(m);
    return 1;
}

int nn_model_create(nn_model **out, const nn_config *cfg, nn_error *err) {
    *out = NULL;
    int rc = nn_config_check(cfg, NULL, err);
    if (rc) return rc;
    /* The whole model measured in 64 bits against the budget before any
     * allocation, so no size_t product below can wrap (engine/budget.c). */
    nn_memory est;
    nn_memory_estimate(cfg, NULL, &est);
    nn_limits limits = nn_memory_limits();
    if ((rc = nn_memory_check(cfg, NULL, &limits, err)) != NN_OK) return rc;
    nn_model *m = calloc(1, sizeof *m);
    if (!m) return nn_fail(err, NN_ERR_NOMEM, "out of memory creating the model");
    m->cfg = *cfg;
    m->Bmax = cfg->batch_size;
    if (is_ngram(cfg)) {
        if (!nn_ngram_create(m)) {
            size_t nparams = m->nparams;
            nn_model_free(m);
            return nn_fail(err, NN_ERR_NOMEM,
                           "out of memory for an ngram model of %zu parameters (4 copies: "
                           "weights, gradients, Adam's two moments); lower bigrams or embed_dim",
                           nparams);
        }
        *out = m;
        return NN_OK;
    }
    if (is_transformer(cfg) && !nn_transformer_create(m)) {
        size_t nparams = m->nparams;
        nn_model_free(m);
        return nn_fail(err, NN_ERR_NOMEM,
                       "out of memory for a transformer of %zu parameters and %.0f MB of "
                       "activations (batch %u, maxlen %u); try a smaller batch size, maxlen, "
                       "embed_dim, ff_dim or blocks",
                       nparams, (double)est.activations / 1e6, cfg->batch_size, cfg->maxlen);
    }
    if (!is_transformer(cfg) && !(is_mlp(cfg) ? create_mlp(m) : is_recurrent(cfg) ? create_recurrent(m) : create_bag(m))) {
        size_t nparams = m->nparams;
        nn_model_free(m);
        if (is_recurrent(cfg))
            return nn_fail(err, NN_ERR_NOMEM,
                           "out of memory for a model of %zu parameters and %.0f MB of "
                           "activations (batch %u, maxlen %u); try a smaller batch size, "
                           "maxlen, hidden or layers",
                           nparams, (double)est.activations / 1e6, cfg->batch_size, cfg->maxlen);
        return nn_fail(err, NN_ERR_NOMEM,
                       "out of memory for a model of %zu parameters and batch %u; "
                       "try a smaller vocabulary, embedding or batch size",
                       nparams, cfg->batch_size);
    }
    *out = m;
    return NN_OK;
}

void nn_model_free(nn_model *m) {
    if (!m) return;
    nn_ngram_free(m);
    nn_transformer_free(m);
    free(m->params);
    free(m->params_prev);
    free(m->grads);
    free(m->m);
    free(m->v);
    free(m->pooled);
    free(m->runs);
    free(m->hidden);
    free(m->logit);
    free(m->dpooled);
    free(m->dhidden);
    free(m->dhpre);
    free(m->dlogit);
    free(m->xin);
    free(m->w2t);
    free(m->ids1);
    free(m->ids_batch);
    free(m->mask);
    free(m->order);
    free(m->lens);
    free(m->ids_sorted);
    free(m->zs);
    free(m->dzs);
    free(m->seq);
    free(m->final);
    free(m->dfinal);
    free(m->dhs);
    free(m->dseq[0]);
    free(m->dseq[1]);
    free(m->dxdrop);
    free(m->work);
    for (uint32_t l = 0; l < NN_MAX_LAYERS; l++) {
        free(m->seq_out[l]);
        for (uint32_t d = 0; d < 2; d++) {
            nn_rnn_layer *r = &m->rnn[l][d];
            free(r->xdrop);
            free(r->xkeep);
            free(r->hkeep);
            free(r->hin);
            free(r->hs);
            free(r->cs);
            free(r->gates);
            free(r->tanhc);
            free(r->rech);
        }
    }
    free(m);
}

static void fill_uniform(float *p, size_t n, float limit, nn_rng *rng) {
    for (size_t i = 0; i < n; i++) p[i] = nn_rng_uniform(rng, -limit, limit);
}

/* A standard normal deviate (Marsaglia's polar method). */
static double normal(nn_rng *rng) {
    for (;;) {
        double u = 2.0 * nn_rng_uniform(rng, 0.0f, 1.0f) - 1.0;
        double v = 2.0 * nn_rng_uniform(rng, 0.0f, 1.0f) - 1.0;
        double s = u * u + v * v;
        if (s > 0.0 && s < 1.0) return u * sqrt(-2.0 * log(s) / s);
    }
}

/* Keras Orthogonal (Saxe et al. 2014) for w (rows, cols) with rows <= cols:
 * a (cols, rows) matrix of normal deviates, its QR decomposition with the
 * signs of diag(R) made positive (modified Gram-Schmidt gives exactly that
 * Q), transposed, so w has orthonormal rows. q (cols*rows doubles) is
 * scratch, holding the matrix column by column (q[j*cols + i]: row i,
 * column j) so each dot product and update runs over contiguous memory:
 * the same operations in the same order as row by row, so the same bits,
 * several times faster for large H. log() comes from libm, so in rare
 * last-bit cases natively and in wasm may differ; the matrix stays
 * orthogonal either way. */
static void fill_orthogonal(float *w, uint32_t rows, uint32_t cols, double *q, nn_rng *rng) {
    assert(rows <= cols);
    for (uint32_t i = 0; i < cols; i++) /* drawn row by row, as Keras fills (cols, rows) */
        for (uint32_t j = 0; j < rows; j++) q[(size_t)j * cols + i] = normal(rng);
    for (uint32_t j = 0; j < rows; j++) {
        double *qj = q + (size_t)j * cols;
        for (uint32_t k = 0; k < j; k++) {
            const double *qk = q + (size_t)k * cols;
            double dot = 0;
            for (uint32_t i = 0; i < cols; i++) dot += qk[i] * qj[i];
            for (uint32_t i = 0; i < cols; i++) qj[i] -= dot * qk[i];
        }
        double norm = 0;
        for (uint32_t i = 0; i < cols; i++) norm += qj[i] * qj[i];
        norm = sqrt(norm);
        for (uint32_t i = 0; i < cols; i++) qj[i] /= norm;
    }
    for (uint32_t r = 0; r < rows; r++)
        for (uint32_t i = 0; i < cols; i++) w[(size_t)r * cols + i] = (float)q[(size_t)r * cols + i];
}

/* The recurrent layers in Keras's order (each layer's kernel, recurrent
 * kernel, bias; a Bidirectional's forward layer first), then the head. */
static void init_recurrent(nn_model *m, nn_rng *rng) {
    const nn_config *c = &m->cfg;
    uint32_t H = c->hidden;
    /* Orthogonal needs (GH, H) doubles of scratch: the first Adam moment
     * is allocated at least that large (create_recurrent) and is zeroed
     * below anyway. */
    double *q = (double *)(void *)m->m;
    for (uint32_t l = 0; l < m->nlayers; l++) {
        for (uint32_t d = 0; d < m->ndirs; d++) {
            nn_rnn_layer *r = &m->rnn[l][d];
            uint32_t GH = (r->cell == NN_CELL_LSTM ? 4 : 3) * H;
            fill_uniform(r->wx, (size_t)r->C * GH, sqrtf(6.0f / (float)(r->C + GH)), rng);
            fill_orthogonal(r->wh, H, GH, q, rng);
            /* unit_forget_bias: the forget gate starts open (Jozefowicz et al. 2015). */
            if (r->cell == NN_CELL_LSTM)
                for (uint32_t j = 0; j < H; j++) r->b[H + j] = 1.0f;
        }
    }
    uint32_t DH = m->ndirs * H, O = nn_config_outputs(c);
    fill_uniform(m->w2, (size_t)O * DH, sqrtf(6.0f / (float)(DH + O)), rng);
}

void nn_model_init(nn_model *m, nn_rng *rng) {
    const nn_config *c = &m->cfg;
    if (is_ngram(c)) {
        nn_ngram_init(m, rng);
        return;
    }
    memset(m->params, 0, m->nparams * sizeof(float));
    /* Keras: Embedding uses uniform(-0.05, 0.05); Dense uses Glorot uniform,
     * limit sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010); biases 0. */
    if (is_mlp(c)) { /* no embedding; Keras kernels (C,OC), fan_in C, fan_out OC */
        fill_uniform(m->w1, (size_t)c->input_dim * c->hidden,
                     sqrtf(6.0f / (float)(c->input_dim + c->hidden)), rng);
        fill_uniform(m->w2, (size_t)c->hidden * c->classes,
                     sqrtf(6.0f / (float)(c->hidden + c->classes)), rng);
    } else if (is_transformer(c)) {
        nn_transformer_init(m, rng);
    } else if (is_recurrent(c)) {
        fill_uniform(m->emb, (size_t)c->vocab_size * c->embed_dim, 0.05f, rng);
        init_recurrent(m, rng);
    } else {
        fill_uniform(m->emb, (size_t)c->vocab_size * c->embed_dim, 0.05f, rng);
        fill_uniform(m->w1, (size_t)c->hidden * c->embed_dim,
                     sqrtf(6.0f / (float)(c->embed_dim + c->hidden)), rng);
        uint32_t O = nn_config_outputs(c);
        fill_uniform(m->w2, (size_t)O * c->hidden, sqrtf(6.0f / (float)(c->hidden + O)), rng);
    }
    memset(m->grads, 0, m->nparams * sizeof(float));
    memset(m->m, 0, m->nparams * sizeof(float));
    memset(m->v, 0, m->nparams * sizeof(float));
    m->step = 0;
    m->prev_valid = 0;
    /* Its own stream, so dropout never shifts the trainer's shuffles. */
    nn_rng_seed(&m->dropout_rng, c->seed ^ 0x9e3779b97f4a7c15ull);
}

/* ------------------------------------------------- recurrent forward/backward */

/* The inputs of layer l (T,B,C) in time order. */
static const float *layer_input(const nn_model *m, uint32_t l, uint32_t B) {
    if (l == 0) return m->seq;
    if (m->ndirs == 2) return m->seq_out[l - 1];
    return m->rnn[l - 1][0].hs + (size_t)B * m->cfg.hidden; /* outputs of a forward layer */
}

/* m->order: the rows by number of real tokens, longest first, ties in batch
 * order (a stable counting sort); m->ids_sorted and m->mask in that order. */
static void sort_by_length(nn_model *m, const uint16_t *ids, uint32_t B) {
    uint32_t T = m->cfg.maxlen, *len = m->lens, *count = m->lens + B;
    memset(count, 0, ((size_t)T + 2) * sizeof *count);
    for (uint32_t b = 0; b < B; b++) {
        uint32_t n = 0;
        for (uint32_t t = 0; t < T; t++) n += ids[(size_t)b * T + t] != NN_PAD;
        len[b] = n;
        count[T - n + 1]++; /* bucket T - n: longest first */
    }
    for (uint32_t k = 1; k <= T + 1; k++) count[k] += count[k - 1];
    for (uint32_t b = 0; b < B; b++) m->order[count[T - len[b]]++] = b;
    for (uint32_t i = 0; i < B; i++) {
        const uint16_t *src = ids + (size_t)m->order[i] * T;
        memcpy(m->ids_sorted + (size_t)i * T, src, T * sizeof *src);
        for (uint32_t t = 0; t < T; t++) m->mask[(size_t)i * T + t] = src[t] != NN_PAD;
    }
}

static void recurrent_forward(nn_model *m, const uint16_t *ids_in, uint32_t B, int training) {
    const nn_config *c = &m->cfg;
    uint32_t T = c->maxlen, E = c->embed_dim, H = c->hidden, D = m->ndirs;
    size_t BH = (size_t)B * H;
    sort_by_length(m, ids_in, B);
    const uint16_t *ids = m->ids_sorted;
    nn_embedding_forward(m->seq, ids, m->emb, B, T, E);
    for (uint32_t l = 0; l < m->nlayers; l++) {
        const float *inp = layer_input(m, l, B);
        for (uint32_t d = 0; d < D; d++) {
            nn_rnn_layer *r = &m->rnn[l][d];
            const float *x = inp, *hkeep = NULL;
            if (training && c->dropout > 0) {
                nn_dropout_mask(r->xkeep, (size_t)B * r->C, c->dropout, &m->dropout_rng);
                nn_dropout_forward(r->xdrop, inp, r->xkeep, T, B, r->C);
                x = r->xdrop;
            }
            if (training && c->recurrent_dropout > 0) {
                nn_dropout_mask(r->hkeep, BH, c->recurrent_dropout, &m->dropout_rng);
                hkeep = r->hkeep;
            }
            r->xin = x;
            if (r->cell == NN_CELL_LSTM)
                nn_lstm_forward(r->hs, r->cs, r->gates, r->tanhc, r->hin, m->work, x, m->mask, hkeep, r->wx,
                                r->wh, r->b, T, B, r->C, H, r->reverse, &m->par);
            else
                nn_gru_forward(r->hs, r->gates, r->rech, r->hin, m->work, x, m->mask, hkeep, r->wx,
                               r->wh, r->b, T, B, r->C, H, r->reverse, &m->par);
        }
        if (D == 2 && l + 1 < m->nlayers) {
            /* Bidirectional(return_sequences=True): [forward, backward] per step. */
            const float *fw = m->rnn[l][0].hs + BH, *bw = m->rnn[l][1].hs;
            for (size_t row = 0; row < (size_t)T * B; row++) {
                memcpy(m->seq_out[l] + row * 2 * H, fw + row * H, H * sizeof(float));
                memcpy(m->seq_out[l] + row * 2 * H + H, bw + row * H, H * sizeof(float));
            }
        }
    }
    /* The final states: hs[T] forward, hs[0] backward, concatenated. */
    uint32_t top = m->nlayers - 1;
    for (uint32_t d = 0; d < D; d++) {
        const float *fin = m->rnn[top][d].hs + (d == 0 ? (size_t)T * BH : 0);
        for (uint32_t b = 0; b < B; b++)
            memcpy(m->final + ((size_t)b * D + d) * H, fin + (size_t)b * H, H * sizeof(float));
    }
    uint32_t O = nn_config_outputs(c);
    nn_dense_forward(m->zs, m->final, m->w2, m->b2, B, D * H, O);
    for (uint32_t i = 0; i < B; i++)
        memcpy(m->logit + (size_t)m->order[i] * O, m->zs + (size_t)i * O, O * sizeof(float));
}

/* After recurrent_forward of the same batch (its order and ids). */
static void recurrent_backward(nn_model *m, uint32_t B) {
    const uint16_t *ids = m->ids_sorted;
    const nn_config *c = &m->cfg;
    uint32_t T = c->maxlen, E = c->embed_dim, H = c->hidden, D = m->ndirs;
    size_t BH = (size_t)B * H, TB = (size_t)T * B;
    float *g = m->grads;
    memset(m->dfinal, 0, (size_t)B * D * H * sizeof(float));
    uint32_t O = nn_config_outputs(c);
    for (uint32_t i = 0; i < B; i++)
        memcpy(m->dzs + (size_t)i * O, m->dlogit + (size_t)m->order[i] * O, O * sizeof(float));
    nn_dense_backward(m->dfinal, g + m->tensor[m->ntensors - 2].offset,
                      g + m->tensor[m->ntensors - 1].offset, m->dzs, m->final, m->w2, B, D * H, O);
    float *dout = NULL; /* (T,B,D*H) gradient of layer l's output sequence */
    for (uint32_t l = m->nlayers; l-- > 0;) {
        uint32_t C = m->rnn[l][0].C;
        float *dinp = m->dseq[l % 2]; /* gradient of layer l's inputs */
        memset(dinp, 0, TB * C * sizeof(float));
        for (uint32_t d = 0; d < D; d++) {
            nn_rnn_layer *r = &m->rnn[l][d];
            memset(m->dhs, 0, (TB + B) * H * sizeof(float));
            if (l + 1 == m->nlayers) {
                float *dfin = m->dhs + (d == 0 ? (size_t)T * BH : 0);
                for (uint32_t b = 0; b < B; b++)
                    memcpy(dfin + (size_t)b * H, m->dfinal + ((size_t)b * D + d) * H, H * sizeof(float));
            } else {
                float *douts = m->dhs + (d == 0 ? BH : 0); /* outputs in time order */
                for (size_t row = 0; row < TB; row++)
                    memcpy(douts + row * H, dout + (row * D + d) * H, H * sizeof(float));
            }
            float *dx = dinp;
            if (r->xdrop && r->xin == r->xdrop) {
                dx = m->dxdrop;
                memset(dx, 0, TB * C * sizeof(float));
            }
            const float *hkeep = r->hkeep && c->recurrent_dropout > 0 ? r->hkeep : NULL;
            float *dwx = g + m->tensor[r->tensor].offset, *dwh = g + m->tensor[r->tensor + 1].offset;
            float *db = g + m->tensor[r->tensor + 2].offset;
            if (r->cell == NN_CELL_LSTM)
                nn_lstm_backward(dx, dwx, dwh, db, m->dhs, m->work, r->hs, r->cs, r->gates, r->tanhc,
                                 r->hin, r->xin, m->mask, hkeep, r->wx, r->wh, T, B, C, H, r->reverse, &m->par);
            else
                nn_gru_backward(dx, dwx, dwh, db, m->dhs, m->work, r->hs, r->gates, r->rech, r->hin,
                                r->xin, m->mask, hkeep, r->wx, r->wh, T, B, C, H, r->reverse, &m->par);
            if (dx != dinp) nn_dropout_backward(dinp, dx, r->xkeep, T, B, C);
        }
        dout = dinp;
    }
    if (c->trainable_embedding) nn_embedding_backward(g + m->tensor[0].offset, dout, ids, B, T, E);
}

/* ------------------------------------------------------------- the MLP */

/* pixels (B,D) -> xin = pixels / 255 -> hidden (B,H) -> logit (B,K). */
static void mlp_forward(nn_model *m, const uint8_t *pixels, uint32_t B) {
    const nn_config *c = &m->cfg;
    uint32_t D = c->input_dim, H = c->hidden, K = c->classes;
    for (size_t i = 0, n = (size_t)B * D; i < n; i++) m->xin[i] = (float)pixels[i] / 255.0f;
    nn_linear_forward(m->hidden, m->xin, m->w1, m->b1, B, D, H);
    nn_relu_forward(m->hidden, m->hidden, (size_t)B * H);
    nn_linear_forward(m->logit, m->hidden, m->w2, m->b2, B, H, K);
}

/* After mlp_forward and the loss's m->dlogit (B,K). */
static void mlp_backward(nn_model *m, uint32_t B) {
    const nn_config *c = &m->cfg;
    uint32_t D = c->input_dim, H = c->hidden, K = c->classes;
    float *g = m->grads;
    memset(m->dhidden, 0, (size_t)B * H * sizeof(float));
    memset(m->dhpre, 0, (size_t)B * H * sizeof(float));
    nn_linear_backward(m->dhidden, g + m->tensor[2].offset, g + m->tensor[3].offset, m->w2t,
                       m->dlogit, m->hidden, m->w2, B, H, K);
    nn_relu_backward(m->dhpre, m->dhidden, m->hidden, (size_t)B * H);
    nn_linear_backward(NULL, g + m->tensor[0].offset, g + m->tensor[1].offset, NULL, m->dhpre,
                       m->xin, m->w1, B, D, H);
}

uint32_t nn_model_predict_image(nn_model *m, const uint8_t *pixels, float *probs) {
    assert(is_mlp(&m->cfg));
    uint32_t K = m->cfg.classes, best = 0;
    mlp_forward(m, pixels, 1);
    nn_softmax(probs, m->logit, K);
    for (uint32_t k = 1; k < K; k++) best = m->logit[k] > m->logit[best] ? k : best;
    return best;
}

void nn_model_predict_images(nn_model *m, const uint8_t *pixels, uint32_t n, uint32_t *classes) {
    assert(is_mlp(&m->cfg));
    uint32_t D = m->cfg.input_dim, K = m->cfg.classes;
    for (uint32_t i = 0; i < n; i += m->Bmax) {
        uint32_t B = n - i < m->Bmax ? n - i : m->Bmax;
        mlp_forward(m, pixels + (size_t)i * D, B);
        for (uint32_t b = 0; b < B; b++) {
            const float *logit = m->logit + (size_t)b * K;
            uint32_t best = 0;
            for (uint32_t k = 1; k < K; k++) best = logit[k] > logit[best] ? k : best;
            classes[i + b] = best;
        }
    }
}

float nn_model_loss_sum(const nn_model *m, const float *labels, uint32_t B, uint32_t *correct) {
    uint32_t O = nn_config_outputs(&m->cfg);
    if (O > 1) return nn_softmax_ce(NULL, m->logit, labels, 1.0f, B, O, correct);
    return nn_k_bce_logits(NULL, m->logit, labels, 1.0f, B, correct);
}

void nn_model_forward(nn_model *m, const void *x, uint32_t B) {
    const nn_config *c = &m->cfg;
    const uint16_t *ids = x;
    assert(B <= m->Bmax);
    if (is_mlp(c)) {
        mlp_forward(m, x, B);
        return;
    }
    if (is_recurrent(c)) {
        recurrent_forward(m, ids, B, 0);
        return;
    }
    if (is_ngram(c)) {
        nn_ngram_forward(m, ids, B);
        return;
    }
    if (is_transformer(c)) {
        nn_transformer_forward(m, ids, B);
        return;
    }
    nn_embedding_pool_forward(m->pooled, m->runs, ids, m->emb, B, c->maxlen, c->embed_dim, c->pooling);
    nn_dense_forward(m->hidden, m->pooled, m->w1, m->b1, B, c->embed_dim, c->hidden);
    nn_relu_forward(m->hidden, m->hidden, (size_t)B * c->hidden);
    nn_dense_forward(m->logit, m->hidden, m->w2, m->b2, B, c->hidden, nn_config_outputs(c));
}

float nn_model_forward_backward(nn_model *m, const void *x, const float *labels,
                                uint32_t B, uint32_t *correct) {
    const nn_config *c = &m->cfg;
    const uint16_t *ids = x;
    uint32_t E = c->embed_dim, H = c->hidden;
    assert(B <= m->Bmax);
    if (is_mlp(c)) {
        assert(B > 0);
        mlp_forward(m, x, B);
        uint32_t hits = 0;
        float sum = nn_softmax_ce(m->dlogit, m->logit, labels, 1.0f / (float)B, B, c->classes, &hits);
        if (correct) *correct += hits;
        mlp_backward(m, B);
        return sum / (float)B;
    }
    if (is_ngram(c)) return nn_ngram_forward_backward(m, ids, labels, B, correct);
    if (is_transformer(c)) return nn_transformer_forward_backward(m, ids, labels, B, correct);
    if (is_recurrent(c)) {
        recurrent_forward(m, ids, B, 1);
        float loss = nn_head_loss(m, labels, B, correct);
        recurrent_backward(m, B);
        return loss;
    }
    nn_model_forward(m, ids, B);
    float loss = nn_head_loss(m, labels, B, correct);
    float *g = m->grads;
    memset(m->dhidden, 0, (size_t)B * H * sizeof(float));
    memset(m->dhpre, 0, (size_t)B * H * sizeof(float));
    memset(m->dpooled, 0, (size_t)B * E * sizeof(float));
    nn_dense_backward(m->dhidden, g + m->tensor[3].offset, g + m->tensor[4].offset, m->dlogit,
                      m->hidden, m->w2, B, H, nn_config_outputs(c));
    nn_relu_backward(m->dhpre, m->dhidden, m->hidden, (size_t)B * H);
    nn_dense_backward(m->dpooled, g + m->tensor[1].offset, g + m->tensor[2].offset, m->dhpre,
                      m->pooled, m->w1, B, E, H);
    if (c->trainable_embedding)
        nn_embedding_pool_backward(g + m->tensor[0].offset, m->dpooled, ids, m->runs, B, c->maxlen, E,
                                   c->pooling);
    return loss;
}

void nn_model_set_parallel(nn_model *m, const nn_parallel *p) {
    if (p) m->par = *p;
    else memset(&m->par, 0, sizeof m->par);
}

void nn_model_zero_grad(nn_model *m) {
    if (is_ngram(&m->cfg)) nn_ngram_zero_grad(m); /* only the rows the batch touched */
    else memset(m->grads, 0, m->nparams * sizeof(float));
}

int nn_model_keep_previous(nn_model *m, nn_error *err) {
    if (m->params_prev || is_ngram(&m->cfg)) return NN_OK; /* ngram: an undo log instead */
    m->params_prev = nn_alloc_floats(m->nparams);
    if (!m->params_prev)
        return nn_fail(err, NN_ERR_NOMEM, "out of memory for a second copy of the %zu parameters",
                       m->nparams);
    m->prev_valid = 0;
    return NN_OK;
}

int nn_model_undo_update(nn_model *m) {
    if (is_ngram(&m->cfg)) return nn_ngram_undo_update(m);
    if (!m->params_prev || !m->prev_valid) return 0;
    float *p = m->params;
    m->params = m->params_prev;
    m->params_prev = p;
    m->prev_valid = 0;
    point_views(m);
    return 1;
}

int nn_model_update(nn_model *m) {
    const nn_config *c = &m->cfg;
    if (is_ngram(c)) return nn_ngram_update(m); /* lazy: the touched rows and the head */
    m->step++;
    /* A frozen embedding (Keras trainable=False) is the first tensor: the
     * step starts after it, and its moments stay zero. */
    size_t from = c->trainable_embedding || is_mlp(c) ? 0 : m->tensor[1].offset, n = m->nparams - from;
    /* Double-buffered: the step reads params and writes the other buffer,
     * which then becomes params; the frozen part is copied over. */
    float *out = m->params_prev ? m->params_prev : m->params;
    if (out != m->params && from) memcpy(out, m->params, from * sizeof *out);
    int finite;
    if (is_transformer(c)) {
        finite = nn_transformer_update(m, out, from); /* AdamW, warm-up and decay */
    } else if (c->optimizer == NN_OPT_SGD) {
        finite = nn_k_sgd(out + from, m->params + from, m->grads + from, n, c->lr);
    } else {
        /* Keras/TF Adam: the bias corrections fold into the step size. */
        double t = (double)m->step;
        double lr_t = c->lr * sqrt(1.0 - pow(c->beta2, t)) / (1.0 - pow(c->beta1, t));
        finite = nn_k_adam(out + from, m->params + from, m->grads + from, m->m + from, m->v + from, n,
                           (float)lr_t, c->beta1, c->beta2, c->eps);
    }
    if (from) finite = finite && nn_k_all_finite(out, from);
    if (out != m->params) {
        m->params_prev = m->params;
        m->params = out;
        m->prev_valid = 1;
        point_views(m);
    }
    return finite;
}

/* The head of the model on one pooled vector: dense, ReLU, dense, into
 * logits (O). */
static void head_logits(const nn_model *m, const float *pooled, float *hidden, float *logits) {
    const nn_config *c = &m->cfg;
    nn_dense_forward(hidden, pooled, m->w1, m->b1, 1, c->embed_dim, c->hidden);
    nn_relu_forward(hidden, hidden, c->hidden);
    nn_dense_forward(logits, hidden, m->w2, m->b2, 1, c->hidden, nn_config_outputs(c));
}

/* Occlusion for the recurrent models: no shortcut, a forward pass per token,
 * Bmax occluded copies of the review per batch. */
static void explain_recurrent(nn_model *m, size_t n, uint32_t cls, float score, float *contrib) {
    const nn_config *c = &m->cfg;
    uint32_t T = c->maxlen, O = nn_config_outputs(c), rows = 0;
    size_t first = 0; /* the id the first row of the batch occludes */
    for (size_t i = 0; i <= n; i++) {
        long pos = i < n ? nn_padded_position(i, n, c) : -1;
        if (i < n && pos < 0) contrib[i] = 0.0f;
        if (pos >= 0) {
            if (rows == 0) first = i;
            uint16_t *row = m->ids_batch + (size_t)rows * T;
            memcpy(row, m->ids1, T * sizeof *row);
            row[pos] = NN_PAD;
            rows++;
        }
        if (rows == m->Bmax || (i == n && rows > 0)) {
            nn_model_forward(m, m->ids_batch, rows);
            for (uint32_t k = 0, j = (uint32_t)first; k < rows; j++)
                if (nn_padded_position(j, n, c) >= 0)
                    contrib[j] = score - nn_head_prob(m, m->logit + (size_t)O * k++, cls);
            rows = 0;
        }
    }
}

float nn_model_explain(nn_model *m, const uint32_t *ids, size_t n, float *contrib) {
    return nn_model_explain_class(m, ids, n, 1, contrib);
}

float nn_model_explain_class(nn_model *m, const uint32_t *ids, size_t n, uint32_t cls, float *contrib) {
    const nn_config *c = &m->cfg;
    if (is_mlp(c)) { /* reads images: no text to score */
        if (contrib) memset(contrib, 0, n * sizeof *contrib);
        return NAN;
    }
    assert(cls < nn_model_classes(m));
    if (is_ngram(c)) return nn_ngram_explain(m, ids, n, cls, contrib);
    uint32_t T = c->maxlen, E = c->embed_dim;
    nn_pad_review_u32(m->ids1, ids, n, c);
    nn_model_forward(m, m->ids1, 1);
    float score = nn_head_prob(m, m->logit, cls);
    if (!contrib) return score;
    if (is_recurrent(c) || is_transformer(c)) {
        explain_recurrent(m, n, cls, score, contrib);
        return score;
    }
    /* Occlusion is exact and cheap for this model: replacing one token by
     * <PAD> changes the pooled vector by a closed form, so each word costs
     * one head evaluation (O(E*H)) instead of a full forward (O(T*E)). */
    uint32_t s, e, real = 0;
    for (s = 0; s < T; s++) real += m->ids1[s] != NN_PAD;
    float pooled[1024], hidden[4096], sum[1024], logits[NN_MAX_TEXT_CLASSES];
    assert(E <= 1024 && c->hidden <= 4096);
    for (e = 0; e < E; e++) sum[e] = m->pooled[e] * (c->pooling == NN_POOL_KERAS ? (float)T : (float)(real ? real : 1));
    for (size_t i = 0; i < n; i++) {
        long pos = nn_padded_position(i, n, c);
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
        head_logits(m, pooled, hidden, logits);
        contrib[i] = score - nn_head_prob(m, logits, cls);
    }
    return score;
}
