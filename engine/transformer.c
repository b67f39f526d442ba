/* transformer.c: the model kind "transformer" (transformer.h): its tensor
 * table, initialisation, the forward and backward pass in chunks of rows
 * (threads), and the AdamW step with warm-up and linear decay. Not here:
 * the layers (layers_attn.c), the standalone encoder of the first
 * benchmarks (encoder.c), batching and epochs (train.c). */
#include "transformer.h"
#include "encoder.h"
#include "kernels.h"
#include "layers.h"
#include "layers_attn.h"

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tensors per block, in nn_encoder_block's field order. */
#define BLOCK_TENSORS 12

typedef struct {
    float *wte;     /* (V,E) */
    float *wpe;     /* (T,E) */
    nn_encoder_block blocks[NN_TFM_MAX_BLOCKS];
    float *lnf_w, *lnf_b; /* (E), (E) */
    float *head_w;  /* (1,E) nn_dense layout */
    float *head_b;  /* (1) */
} tfm_weights;

struct nn_transformer {
    uint32_t T, E, NH, F, L;
    float alibi[64];            /* (NH) ALiBi's slopes when cfg.alibi (heads is at most 64) */
    uint64_t total_steps;       /* 0: no decay */
    float peak_lr;              /* the schedule's peak rate and warm-up (cfg lr and warmup_steps, */
    uint64_t warmup;            /* or pretraining's: nn_transformer_set_schedule) */
    float *acts_buf;
    nn_encoder_acts acts[NN_TFM_MAX_BLOCKS], dacts; /* (Bmax rows) each */
    float *emb, *demb, *lnf, *dlnf;   /* (B,T,E) */
    float *lnf_mean, *lnf_rstd;       /* (B*T) */
    float *pooled, *dpooled;          /* (B,E) */
    size_t work_floats;
    float *work;                      /* (NN_TFM_CHUNKS, work_floats) */
    float *chunk_grads;               /* (chunks - 1, nparams): chunk 0 adds into m->grads */
    uint32_t max_chunks;
    uint8_t *mask;                    /* (B,T) 1 at a real token, chunk by chunk (below) */
    /* The rows of a batch sorted by their real length, so a chunk holds
     * rows of like length, and each chunk runs on the window of positions
     * [win_start, win_start + win_T) that holds all its rows' tokens: its
     * activations are (rows, win_T, E), its ids cids. Padding outside the
     * window costs nothing (inside it is masked as before). */
    uint32_t *order;                  /* (B) sorted position k holds row order[k] */
    uint32_t *lens;                   /* (B) real tokens of each row; scratch */
    uint16_t *cids;                   /* (B,T) the chunks' windows of ids */
    float *zs, *dzs;                  /* (B) logits and their gradients in sorted order */
    uint32_t win_start[NN_TFM_CHUNKS], win_T[NN_TFM_CHUNKS];
};

/* Chunks of a batch of B rows: fixed by B alone, never by the threads. */
static uint32_t chunks_of(uint32_t B, uint32_t max_chunks) { return B < max_chunks ? B : max_chunks; }
static uint32_t chunk_start(uint32_t c, uint32_t B, uint32_t n) { return (uint32_t)((uint64_t)c * B / n); }

/* Named pointers into base (params or grads) from the tensor table. */
static void carve(tfm_weights *w, const nn_model *m, float *base) {
    const nn_tensor *t = m->tensor;
    uint32_t L = m->tfm->L;
    w->wte = base + t[0].offset;
    w->wpe = base + t[1].offset;
    for (uint32_t l = 0; l < L; l++) {
        nn_encoder_block *b = &w->blocks[l];
        float **f[BLOCK_TENSORS] = {&b->ln1_w, &b->ln1_b, &b->qkv_w, &b->qkv_b, &b->proj_w, &b->proj_b,
                                    &b->ln2_w, &b->ln2_b, &b->fc_w,  &b->fc_b,  &b->fc2_w, &b->fc2_b};
        for (uint32_t i = 0; i < BLOCK_TENSORS; i++) *f[i] = base + t[2 + BLOCK_TENSORS * l + i].offset;
        b->alibi = m->cfg.alibi ? m->tfm->alibi : NULL;
    }
    uint32_t k = 2 + BLOCK_TENSORS * L;
    w->lnf_w = base + t[k].offset;
    w->lnf_b = base + t[k + 1].offset;
    w->head_w = base + t[k + 2].offset;
    w->head_b = base + t[k + 3].offset;
}

static void add_tensors(nn_model *m) {
    const nn_config *c = &m->cfg;
    uint32_t V = c->vocab_size, T = c->maxlen, E = c->embed_dim, F = c->ff_dim;
    nn_model_add_tensor(m, "wte", V, E);
    nn_model_add_tensor(m, "wpe", T, E);
    for (uint32_t l = 0; l < c->blocks; l++) {
        static const char *const names[BLOCK_TENSORS] = {"ln1_w", "ln1_b", "qkv_w", "qkv_b",
                                                         "proj_w", "proj_b", "ln2_w", "ln2_b",
                                                         "fc_w", "fc_b", "fc2_w", "fc2_b"};
        const uint32_t rows[BLOCK_TENSORS] = {1, 1, E, 1, E, 1, 1, 1, E, 1, F, 1};
        const uint32_t cols[BLOCK_TENSORS] = {E, E, 3 * E, 3 * E, E, E, E, E, F, F, E, E};
        for (uint32_t i = 0; i < BLOCK_TENSORS; i++) {
            char name[16];
            snprintf(name, sizeof name, "b%u.%s", l + 1, names[i]);
            nn_model_add_tensor(m, name, rows[i], cols[i]);
        }
    }
    nn_model_add_tensor(m, "lnf_w", 1, E);
    nn_model_add_tensor(m, "lnf_b", 1, E);
    nn_model_add_tensor(m, "head_w", 1, E);
    nn_model_add_tensor(m, "head_b", 1, 1);
}

int nn_transformer_create(nn_model *m) {
    const nn_config *c = &m->cfg;
    assert(c->blocks >= 1 && c->blocks <= NN_TFM_MAX_BLOCKS && c->embed_dim % c->heads == 0);
    nn_transformer *tf = calloc(1, sizeof *tf);
    if (!tf) return 0;
    m->tfm = tf;
    tf->T = c->maxlen;
    tf->E = c->embed_dim;
    tf->NH = c->heads;
    tf->F = c->ff_dim;
    tf->L = c->blocks;
    assert(c->heads <= sizeof tf->alibi / sizeof tf->alibi[0]);
    nn_alibi_slopes(tf->alibi, c->heads);
    tf->peak_lr = c->lr;
    tf->warmup = c->warmup_steps;
    add_tensors(m);
    uint32_t B = m->Bmax, T = tf->T, E = tf->E, NH = tf->NH, F = tf->F, L = tf->L;
    size_t N = nn_size_mul_sat(B, T), per_block = nn_encoder_acts_floats(B, T, E, NH, F);
    tf->max_chunks = chunks_of(B, NN_TFM_CHUNKS);
    tf->work_floats = nn_encoder_block_work_floats(T, E, NH, F);
    /* Saturating (wasm32's 32-bit size_t): a size that overflows fails to
     * allocate; the budget (64-bit) refuses such configs first. */
    size_t nacts = nn_size_add_sat(nn_size_add_sat(nn_size_mul_sat(per_block, (size_t)L + 1),
                                                    nn_size_mul_sat(N, (size_t)E * 4 + 2)),
                                   nn_size_mul_sat(B, (size_t)E * 2));
    m->params = nn_alloc_floats(m->nparams);
    m->grads = nn_alloc_floats(m->nparams);
    m->m = nn_alloc_floats(m->nparams);
    m->v = nn_alloc_floats(m->nparams);
    m->logit = nn_alloc_floats(B);
    m->dlogit = nn_alloc_floats(B);
    m->ids1 = nn_calloc_array(T, sizeof *m->ids1);
    m->ids_batch = nn_calloc_array(N, sizeof *m->ids_batch);
    tf->acts_buf = nn_alloc_floats(nacts);
    tf->work = nn_alloc_floats(nn_size_mul_sat(tf->work_floats, tf->max_chunks));
    tf->chunk_grads = tf->max_chunks > 1 ? nn_alloc_floats(nn_size_mul_sat(m->nparams, tf->max_chunks - 1)) : NULL;
    tf->mask = nn_calloc_array(N, 1);
    tf->order = nn_calloc_array(B, sizeof *tf->order);
    tf->lens = nn_calloc_array(B, sizeof *tf->lens);
    tf->cids = nn_calloc_array(N, sizeof *tf->cids);
    tf->zs = nn_alloc_floats(B);
    tf->dzs = nn_alloc_floats(B);
    if (!tf->order || !tf->lens || !tf->cids || !tf->zs || !tf->dzs) return 0;
    m->emb = m->params; /* wte, tensor 0 (model.c's point_views keeps it after every swap) */
    if (!m->params || !m->grads || !m->m || !m->v || !m->logit || !m->dlogit || !m->ids1 ||
        !m->ids_batch || !tf->acts_buf || !tf->work || (tf->max_chunks > 1 && !tf->chunk_grads) ||
        !tf->mask)
        return 0;
    float *q = tf->acts_buf;
    for (uint32_t l = 0; l < L; l++) q += nn_encoder_acts_carve(&tf->acts[l], q, B, T, E, NH, F);
    q += nn_encoder_acts_carve(&tf->dacts, q, B, T, E, NH, F);
    tf->emb = q; q += N * E;
    tf->demb = q; q += N * E;
    tf->lnf = q; q += N * E;
    tf->dlnf = q; q += N * E;
    tf->lnf_mean = q; q += N;
    tf->lnf_rstd = q; q += N;
    tf->pooled = q; q += (size_t)B * E;
    tf->dpooled = q; q += (size_t)B * E;
    assert((size_t)(q - tf->acts_buf) == nacts);
    return 1;
}

void nn_transformer_free(nn_model *m) {
    nn_transformer *tf = m->tfm;
    if (!tf) return;
    free(tf->acts_buf);
    free(tf->work);
    free(tf->chunk_grads);
    free(tf->mask);
    free(tf->order);
    free(tf->lens);
    free(tf->cids);
    free(tf->zs);
    free(tf->dzs);
    free(tf);
    m->tfm = NULL;
}

static void fill_uniform_sd(float *p, size_t n, float sd, nn_rng *rng) {
    float a = sd * sqrtf(3.0f);
    for (size_t i = 0; i < n; i++) p[i] = nn_rng_uniform(rng, -a, a);
}

static void fill(float *p, size_t n, float x) {
    for (size_t i = 0; i < n; i++) p[i] = x;
}

void nn_transformer_init(nn_model *m, nn_rng *rng) {
    const nn_transformer *tf = m->tfm;
    uint32_t V = m->cfg.vocab_size, T = tf->T, E = tf->E, F = tf->F, L = tf->L;
    tfm_weights w;
    carve(&w, m, m->params);
    const float sd = NN_TFM_INIT_SD, sd_res = sd / sqrtf(2.0f * (float)L);
    fill_uniform_sd(w.wte, (size_t)V * E, sd, rng);
    fill_uniform_sd(w.wpe, (size_t)T * E, sd, rng);
    for (uint32_t l = 0; l < L; l++) {
        nn_encoder_block *b = &w.blocks[l];
        fill(b->ln1_w, E, 1.0f);
        fill(b->ln2_w, E, 1.0f);
        fill_uniform_sd(b->qkv_w, (size_t)E * 3 * E, sd, rng);
        fill_uniform_sd(b->proj_w, (size_t)E * E, sd_res, rng);
        fill_uniform_sd(b->fc_w, (size_t)E * F, sd, rng);
        fill_uniform_sd(b->fc2_w, (size_t)F * E, sd_res, rng);
    }
    fill(w.lnf_w, E, 1.0f);
    fill_uniform_sd(w.head_w, E, sd, rng);
    /* Over the uniform table, so the other weights draw the same numbers. */
    if (m->cfg.positions == NN_POS_SINUSOID) nn_transformer_sinusoid_positions(m);
}

void nn_transformer_sinusoid_positions(nn_model *m) {
    const nn_transformer *tf = m->tfm;
    const uint32_t T = tf->T, E = tf->E;
    tfm_weights w;
    carve(&w, m, m->params);
    const double s = NN_TFM_INIT_SD * sqrt(2.0);
    for (uint32_t t = 0; t < T; t++)
        for (uint32_t e = 0; e < E; e++) {
            double angle = t / pow(10000.0, (double)(e & ~1u) / E);
            w.wpe[(size_t)t * E + e] = (float)(s * ((e & 1) ? cos(angle) : sin(angle)));
        }
}

/* a's fields from row b0 on (a sub-batch starting at sequence b0). */
static void acts_from(nn_encoder_acts *s, const nn_encoder_acts *a, size_t b0, const nn_transformer *tf) {
    size_t r = b0 * tf->T, E = tf->E, F = tf->F;
    s->ln1 = a->ln1 + r * E;
    s->ln1_mean = a->ln1_mean + r;
    s->ln1_rstd = a->ln1_rstd + r;
    s->qkv = a->qkv + r * 3 * E;
    s->att = a->att + b0 * tf->NH * tf->T * tf->T;
    s->atty = a->atty + r * E;
    s->attproj = a->attproj + r * E;
    s->keep1 = a->keep1 + r * E;
    s->x1 = a->x1 + r * E;
    s->ln2 = a->ln2 + r * E;
    s->ln2_mean = a->ln2_mean + r;
    s->ln2_rstd = a->ln2_rstd + r;
    s->fch = a->fch + r * F;
    s->fch_gelu = a->fch_gelu + r * F;
    s->fcproj = a->fcproj + r * E;
    s->keep2 = a->keep2 + r * E;
    s->out = a->out + r * E;
}

/* Forward of chunk c, sorted rows [b0,b1) on its window: logits into
 * tf->zs[b0..b1). Activations of the chunk start where row b0's would
 * for the full T (so chunks never overlap), laid out (rows, win_T, ...). */
static void forward_rows(nn_model *m, uint32_t c, uint32_t b0, uint32_t b1, float drop, float *work,
                         int pool) {
    nn_transformer *tf = m->tfm;
    const uint32_t T = tf->win_T[c], E = tf->E, NH = tf->NH, F = tf->F, Bc = b1 - b0;
    const size_t r = (size_t)b0 * tf->T;
    tfm_weights w;
    carve(&w, m, m->params);
    const uint8_t *mask = tf->mask + r;
    float *emb = tf->emb + r * E;
    nn_tokpos_embedding_forward(emb, tf->cids + r, w.wte, w.wpe + (size_t)tf->win_start[c] * E, Bc, T, E);
    const float *x = emb;
    for (uint32_t l = 0; l < tf->L; l++) {
        nn_encoder_acts a;
        acts_from(&a, &tf->acts[l], b0, tf);
        nn_encoder_block_forward_drawn(&a, work, x, mask, &w.blocks[l], drop, NULL, Bc, T, E, NH, F);
        x = a.out;
    }
    nn_layernorm_forward(tf->lnf + r * E, tf->lnf_mean + r, tf->lnf_rstd + r, x, w.lnf_w, w.lnf_b, Bc * T, E);
    if (!pool) return; /* a token head (nn_transformer_tokens) reads tf->lnf */
    nn_masked_mean_forward(tf->pooled + (size_t)b0 * E, tf->lnf + r * E, mask, Bc, T, E);
    nn_dense_forward(tf->zs + b0, tf->pooled + (size_t)b0 * E, w.head_w, w.head_b, Bc, E, 1);
}

static void backward_from_lnf(nn_model *m, uint32_t c, uint32_t b0, uint32_t b1, float drop, float *work,
                              float *g);

/* Backward of rows [b0,b1) (after forward_rows of them and the loss's
 * m->dlogit), adding the parameter gradients into g (nparams). */
static void backward_rows(nn_model *m, uint32_t c, uint32_t b0, uint32_t b1, float drop, float *work,
                          float *g) {
    nn_transformer *tf = m->tfm;
    const uint32_t T = tf->win_T[c], E = tf->E, Bc = b1 - b0;
    const size_t r = (size_t)b0 * tf->T, NE = (size_t)Bc * T * E;
    tfm_weights w, d;
    carve(&w, m, m->params);
    carve(&d, m, g);
    const uint8_t *mask = tf->mask + r;
    float *dpooled = tf->dpooled + (size_t)b0 * E, *dlnf = tf->dlnf + r * E;
    memset(dpooled, 0, (size_t)Bc * E * sizeof(float));
    nn_dense_backward(dpooled, d.head_w, d.head_b, tf->dzs + b0, tf->pooled + (size_t)b0 * E, w.head_w, Bc, E, 1);
    memset(dlnf, 0, NE * sizeof(float));
    nn_masked_mean_backward(dlnf, dpooled, mask, Bc, T, E);
    backward_from_lnf(m, c, b0, b1, drop, work, g);
}

/* The encoder's backward pass of rows [b0,b1) from the gradient of the
 * final layer norm's output in tf->dlnf (the pooling's, or a token head's),
 * adding the parameter gradients into g. */
static void backward_from_lnf(nn_model *m, uint32_t c, uint32_t b0, uint32_t b1, float drop, float *work,
                              float *g) {
    nn_transformer *tf = m->tfm;
    const uint32_t T = tf->win_T[c], E = tf->E, NH = tf->NH, F = tf->F, L = tf->L, Bc = b1 - b0;
    const size_t r = (size_t)b0 * tf->T, NE = (size_t)Bc * T * E;
    tfm_weights w, d;
    carve(&w, m, m->params);
    carve(&d, m, g);
    const uint8_t *mask = tf->mask + r;
    float *dlnf = tf->dlnf + r * E, *demb = tf->demb + r * E;
    nn_encoder_acts a[NN_TFM_MAX_BLOCKS], da;
    for (uint32_t l = 0; l < L; l++) acts_from(&a[l], &tf->acts[l], b0, tf);
    acts_from(&da, &tf->dacts, b0, tf);
    /* The gradient of the last block's output in da.out; each block adds
     * its input's gradient into demb, the next (lower) block's da.out. */
    memset(da.out, 0, NE * sizeof(float));
    nn_layernorm_backward(da.out, d.lnf_w, d.lnf_b, dlnf, a[L - 1].out, w.lnf_w, tf->lnf_mean + r,
                          tf->lnf_rstd + r, Bc * T, E);
    for (uint32_t l = L; l-- > 0;) {
        const float *xin = l ? a[l - 1].out : tf->emb + r * E;
        memset(demb, 0, NE * sizeof(float));
        nn_encoder_block_backward(demb, &d.blocks[l], &da, work, xin, &a[l], mask, &w.blocks[l], drop, Bc, T, E,
                                  NH, F);
        if (l) memcpy(da.out, demb, NE * sizeof(float));
    }
    nn_tokpos_embedding_backward(d.wte, d.wpe + (size_t)tf->win_start[c] * E, demb, tf->cids + r, Bc, T, E);
}

enum { PHASE_FORWARD, PHASE_BACKWARD, PHASE_REDUCE, PHASE_TOKENS };

typedef struct {
    nn_model *m;
    const uint16_t *ids;
    uint32_t B, chunks;
    float drop;
    int phase;
    nn_tfm_token_head head; /* PHASE_TOKENS: the head, its context, and whether to train */
    void *head_ctx;
    int train;
} tfm_job;

/* PHASE_TOKENS of chunk c: the encoder up to the final layer norm, the
 * token head on it, and (training) the backward pass from its gradient. */
static void token_rows(nn_model *m, const tfm_job *j, uint32_t c, uint32_t b0, uint32_t b1, float *work,
                       float *g) {
    nn_transformer *tf = m->tfm;
    const size_t r = (size_t)b0 * tf->T, E = tf->E;
    forward_rows(m, c, b0, b1, j->drop, work, 0);
    nn_tfm_rows rows = {c, b1 - b0, tf->win_start[c], tf->win_T[c], tf->order + b0, tf->lnf + r * E,
                        j->train ? tf->dlnf + r * E : NULL, j->train ? g : NULL};
    if (j->train) memset(rows.dlnf, 0, (size_t)rows.rows * rows.W * E * sizeof(float));
    j->head(j->head_ctx, &rows);
    if (j->train) backward_from_lnf(m, c, b0, b1, j->drop, work, g);
}

static void chunk_task(void *arg, uint32_t part, uint32_t parts) {
    tfm_job *j = arg;
    nn_model *m = j->m;
    nn_transformer *tf = m->tfm;
    if (j->phase == PHASE_REDUCE) { /* m->grads += chunk 1, chunk 2, ... in that order */
        size_t lo = (size_t)((uint64_t)part * m->nparams / parts);
        size_t hi = (size_t)((uint64_t)(part + 1) * m->nparams / parts);
        for (uint32_t c = 1; c < j->chunks; c++)
            nn_k_axpy(m->grads + lo, 1.0f, tf->chunk_grads + (c - 1) * m->nparams + lo, hi - lo);
        return;
    }
    /* Threads take parts in order and the chunks go from the shortest rows
     * to the longest, so part 0 is the last chunk: the longest start first
     * and a run ends on short ones, where a thread that finished waits
     * less for another's last chunk. Chunk c computes the same whichever
     * part, and thread, carries it. */
    uint32_t c = parts - 1 - part;
    uint32_t b0 = chunk_start(c, j->B, parts), b1 = chunk_start(c + 1, j->B, parts);
    float *work = tf->work + c * tf->work_floats;
    if (j->phase == PHASE_FORWARD) {
        forward_rows(m, c, b0, b1, j->drop, work, 1);
        return;
    }
    float *g = c == 0 ? m->grads : tf->chunk_grads + (c - 1) * m->nparams;
    if (c && (j->phase == PHASE_BACKWARD || j->train)) memset(g, 0, m->nparams * sizeof(float));
    if (j->phase == PHASE_TOKENS) token_rows(m, j, c, b0, b1, work, g);
    else backward_rows(m, c, b0, b1, j->drop, work, g);
}

static void run_parts(nn_model *m, tfm_job *j, uint32_t parts) {
    if (m->par.run && m->par.parts > 1 && parts > 1) {
        m->par.run(m->par.ctx, chunk_task, j, parts);
        return;
    }
    for (uint32_t i = 0; i < parts; i++) chunk_task(j, i, parts);
}

/* [*s, *e): first to last real token of a row of T ids; 0, 0 when none. */
static void real_run(const uint16_t *row, uint32_t T, uint32_t *s, uint32_t *e) {
    uint32_t a = 0, b = T;
    while (a < T && row[a] == NN_PAD) a++;
    while (b > a && row[b - 1] == NN_PAD) b--;
    *s = a == T ? 0 : a;
    *e = a == T ? 0 : b;
}

/* Sorts the rows by length (ties by row: a stable insertion sort, B is a
 * batch), cuts them into the chunks, and copies each chunk's window of ids
 * and mask. */
static void make_chunks(nn_transformer *tf, const uint16_t *ids, uint32_t B, uint32_t chunks) {
    const uint32_t T = tf->T;
    for (uint32_t b = 0; b < B; b++) {
        uint32_t s, e;
        real_run(ids + (size_t)b * T, T, &s, &e);
        tf->lens[b] = e - s;
        uint32_t k = b;
        while (k > 0 && tf->lens[tf->order[k - 1]] > tf->lens[b]) {
            tf->order[k] = tf->order[k - 1];
            k--;
        }
        tf->order[k] = b;
    }
    for (uint32_t c = 0; c < chunks; c++) {
        uint32_t b0 = chunk_start(c, B, chunks), b1 = chunk_start(c + 1, B, chunks), lo = T, hi = 0;
        for (uint32_t k = b0; k < b1; k++) {
            uint32_t s, e;
            real_run(ids + (size_t)tf->order[k] * T, T, &s, &e);
            if (e > s) {
                lo = s < lo ? s : lo;
                hi = e > hi ? e : hi;
            }
        }
        if (hi <= lo) lo = 0, hi = 1; /* no real token in the chunk: one masked position */
        uint32_t W = hi - lo;
        tf->win_start[c] = lo;
        tf->win_T[c] = W;
        for (uint32_t k = b0; k < b1; k++) {
            const uint16_t *src = ids + (size_t)tf->order[k] * T + lo;
            uint16_t *dst = tf->cids + (size_t)b0 * T + (size_t)(k - b0) * W;
            uint8_t *mk = tf->mask + (size_t)b0 * T + (size_t)(k - b0) * W;
            memcpy(dst, src, W * sizeof *dst);
            for (uint32_t t = 0; t < W; t++) mk[t] = dst[t] != NN_PAD;
        }
    }
}

/* Chunks, (training) dropout masks, the chunks' forward, the logits back
 * in the batch's order. The dropout masks are drawn for every row of each
 * chunk's window, chunk after chunk, in the calling thread. */
static void prepare(nn_model *m, tfm_job *j) {
    nn_transformer *tf = m->tfm;
    make_chunks(tf, j->ids, j->B, j->chunks);
    if (j->drop > 0.0f)
        for (uint32_t c = 0; c < j->chunks; c++) {
            uint32_t b0 = chunk_start(c, j->B, j->chunks), b1 = chunk_start(c + 1, j->B, j->chunks);
            size_t at = (size_t)b0 * tf->T * tf->E, n = (size_t)(b1 - b0) * tf->win_T[c] * tf->E;
            for (uint32_t l = 0; l < tf->L; l++) {
                nn_dropout_mask(tf->acts[l].keep1 + at, n, j->drop, &m->dropout_rng);
                nn_dropout_mask(tf->acts[l].keep2 + at, n, j->drop, &m->dropout_rng);
            }
        }
}

static void forward(nn_model *m, tfm_job *j) {
    nn_transformer *tf = m->tfm;
    prepare(m, j);
    j->phase = PHASE_FORWARD;
    run_parts(m, j, j->chunks);
    for (uint32_t k = 0; k < j->B; k++) m->logit[tf->order[k]] = tf->zs[k];
}

void nn_transformer_forward(nn_model *m, const uint16_t *ids, uint32_t B) {
    assert(B <= m->Bmax);
    if (B == 0) return;
    tfm_job j = {m, ids, B, chunks_of(B, m->tfm->max_chunks), 0.0f, PHASE_FORWARD, NULL, NULL, 0};
    forward(m, &j);
}

float nn_transformer_forward_backward(nn_model *m, const uint16_t *ids, const float *labels, uint32_t B,
                                      uint32_t *correct) {
    assert(B > 0 && B <= m->Bmax);
    tfm_job j = {m, ids, B, chunks_of(B, m->tfm->max_chunks), m->cfg.dropout, PHASE_FORWARD, NULL, NULL, 0};
    forward(m, &j);
    float loss = nn_bce_forward_backward(m->dlogit, m->logit, labels, B, correct);
    for (uint32_t k = 0; k < B; k++) m->tfm->dzs[k] = m->dlogit[m->tfm->order[k]];
    j.phase = PHASE_BACKWARD;
    run_parts(m, &j, j.chunks);
    if (j.chunks > 1) {
        j.phase = PHASE_REDUCE;
        run_parts(m, &j, 8);
    }
    return loss;
}

void nn_transformer_tokens(nn_model *m, const uint16_t *ids, uint32_t B, int train, nn_tfm_token_head head,
                           void *ctx) {
    assert(B <= m->Bmax && head);
    if (B == 0) return;
    uint32_t chunks = chunks_of(B, m->tfm->max_chunks);
    tfm_job j = {m, ids, B, chunks, train ? m->cfg.dropout : 0.0f, PHASE_TOKENS, head, ctx, train};
    prepare(m, &j);
    j.phase = PHASE_TOKENS;
    run_parts(m, &j, chunks);
    if (train && chunks > 1) {
        j.phase = PHASE_REDUCE;
        run_parts(m, &j, 8);
    }
}

void nn_transformer_set_schedule(nn_model *m, uint64_t total, float peak_lr, uint64_t warmup) {
    m->tfm->total_steps = total;
    m->tfm->peak_lr = peak_lr;
    m->tfm->warmup = warmup;
}

const float *nn_transformer_attention(const nn_model *m, uint32_t l, uint32_t *start, uint32_t *T) {
    if (!m->tfm || l >= m->tfm->L) return NULL;
    *start = m->tfm->win_start[0];
    *T = m->tfm->win_T[0];
    return m->tfm->acts[l].att;
}

int nn_transformer_update(nn_model *m, float *out, size_t from) {
    const nn_config *c = &m->cfg;
    const nn_transformer *tf = m->tfm;
    uint64_t total = tf->total_steps ? tf->total_steps : UINT64_MAX;
    /* m->step already counts this step; the schedule reads the steps before it. */
    float lr = nn_lr_warmup_linear(m->step - 1, tf->warmup, total, tf->peak_lr);
    /* Adam in Keras/TF's form, as nn_model_update (the bias corrections in
     * the step size), then AdamW's decay of the weights from before the
     * step: p - lr*wd*p, as PyTorch's AdamW applies it. */
    double t = (double)m->step;
    float lr_t = (float)(lr * sqrt(1.0 - pow(c->beta2, t)) / (1.0 - pow(c->beta1, t)));
    size_t n = m->nparams - from;
    int finite = nn_k_adam(out + from, m->params + from, m->grads + from, m->m + from, m->v + from, n, lr_t,
                           c->beta1, c->beta2, c->eps);
    float decay = lr * c->weight_decay;
    if (decay > 0.0f) {
        uint32_t k = 2 + BLOCK_TENSORS * tf->L;
        for (uint32_t i = 0; i < m->ntensors; i++) {
            uint32_t in_block = i >= 2 && i < k ? (i - 2) % BLOCK_TENSORS : 0;
            int decayed = i < 2 || i == k + 2 || (i >= 2 && i < k && (in_block == 2 || in_block == 4 ||
                                                                    in_block == 8 || in_block == 10));
            const nn_tensor *tn = &m->tensor[i];
            if (!decayed || tn->offset < from) continue;
            nn_k_axpy(out + tn->offset, -decay, m->params + tn->offset, (size_t)tn->rows * tn->cols);
        }
    }
    return finite;
}
