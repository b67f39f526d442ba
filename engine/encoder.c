/* encoder.c: the Transformer encoder classifier of encoder.h: its parameter
 * buffer, initialisation, the forward and backward pass through
 * layers_attn.c's layers, and an Adam step. Not here: config keys, the
 * trainer, checkpoints (model.c, train.c, checkpoint.c once integrated). */
#include "encoder.h"
#include "kernels.h"
#include "layers.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static size_t weights_carve(nn_encoder_weights *w, float *buf, const nn_encoder *enc) {
    float *q = buf;
    w->wte = q; q += (size_t)enc->V * enc->E;
    w->wpe = q; q += (size_t)enc->T * enc->E;
    for (uint32_t l = 0; l < enc->L; l++) q += nn_encoder_block_carve(&w->blocks[l], q, enc->E, enc->F);
    w->lnf_w = q; q += enc->E;
    w->lnf_b = q; q += enc->E;
    w->head_w = q; q += enc->E;
    w->head_b = q; q += 1;
    return (size_t)(q - buf);
}

static void fill_uniform(float *p, size_t n, float sd, nn_rng *rng) {
    float a = sd * sqrtf(3.0f);
    for (size_t i = 0; i < n; i++) p[i] = nn_rng_uniform(rng, -a, a);
}

static void fill(float *p, size_t n, float x) {
    for (size_t i = 0; i < n; i++) p[i] = x;
}

int nn_encoder_init(nn_encoder *enc, uint32_t V, uint32_t T, uint32_t E, uint32_t NH, uint32_t F,
                    uint32_t L, uint32_t Bmax, float dropout, float init_sd, uint64_t seed) {
    assert(L >= 1 && L <= NN_ENCODER_MAX_LAYERS && NH >= 1 && E % NH == 0);
    memset(enc, 0, sizeof *enc);
    enc->V = V; enc->T = T; enc->E = E; enc->NH = NH; enc->F = F; enc->L = L; enc->Bmax = Bmax;
    enc->dropout = dropout;
    /* Sizes saturate instead of wrapping (wasm32: 32-bit size_t), so an
     * overflowing one fails to allocate. */
    enc->nparams = nn_size_add_sat(nn_size_add_sat(nn_size_mul_sat((size_t)V + T, E),
                                                   nn_size_mul_sat(L, nn_encoder_block_floats(E, F))),
                                   3 * (size_t)E + 1);
    size_t P = enc->nparams, N = nn_size_mul_sat(Bmax, T);
    size_t per_block = nn_encoder_acts_floats(Bmax, T, E, NH, F);
    size_t work = nn_encoder_block_work_floats(T, E, NH, F);
    size_t nacts = nn_size_add_sat(nn_size_add_sat(nn_size_mul_sat(per_block, (size_t)L + 1),
                                                   nn_size_mul_sat(N, (size_t)E * 4 + 2)),
                                   nn_size_add_sat(nn_size_mul_sat(Bmax, (size_t)E * 2 + 2), work));
    enc->params = nn_calloc_array(nn_size_mul_sat(P, 4), sizeof(float));
    enc->acts_buf = nn_calloc_array(nacts, sizeof(float));
    enc->mask = nn_calloc_array(N, 1);
    if (!enc->params || !enc->acts_buf || !enc->mask) {
        nn_encoder_free(enc);
        return -1;
    }
    enc->grads = enc->params + P;
    enc->m = enc->grads + P;
    enc->v = enc->m + P;
    size_t used = weights_carve(&enc->w, enc->params, enc);
    assert(used == P);
    weights_carve(&enc->g, enc->grads, enc);
    float *q = enc->acts_buf;
    for (uint32_t l = 0; l < L; l++) q += nn_encoder_acts_carve(&enc->acts[l], q, Bmax, T, E, NH, F);
    q += nn_encoder_acts_carve(&enc->dacts, q, Bmax, T, E, NH, F);
    enc->emb = q; q += N * E;
    enc->demb = q; q += N * E;
    enc->lnf = q; q += N * E;
    enc->dlnf = q; q += N * E;
    enc->lnf_mean = q; q += N;
    enc->lnf_rstd = q; q += N;
    enc->pooled = q; q += (size_t)Bmax * E;
    enc->dpooled = q; q += (size_t)Bmax * E;
    enc->logits = q; q += Bmax;
    enc->dlogits = q; q += Bmax;
    enc->work = q; q += work;
    assert((size_t)(q - enc->acts_buf) == nacts);

    nn_rng rng;
    nn_rng_seed(&rng, seed);
    const float sd = init_sd, sd_res = sd / sqrtf(2.0f * (float)L);
    fill_uniform(enc->w.wte, (size_t)V * E, sd, &rng);
    fill_uniform(enc->w.wpe, (size_t)T * E, sd, &rng);
    for (uint32_t l = 0; l < L; l++) {
        nn_encoder_block *b = &enc->w.blocks[l];
        fill(b->ln1_w, E, 1.0f);
        fill(b->ln2_w, E, 1.0f);
        fill_uniform(b->qkv_w, (size_t)E * 3 * E, sd, &rng);
        fill_uniform(b->proj_w, (size_t)E * E, sd_res, &rng);
        fill_uniform(b->fc_w, (size_t)E * F, sd, &rng);
        fill_uniform(b->fc2_w, (size_t)F * E, sd_res, &rng);
    }
    fill(enc->w.lnf_w, E, 1.0f);
    fill_uniform(enc->w.head_w, E, sd, &rng);
    return 0;
}

void nn_encoder_free(nn_encoder *enc) {
    free(enc->params);
    free(enc->acts_buf);
    free(enc->mask);
    memset(enc, 0, sizeof *enc);
}

float nn_encoder_forward_backward(nn_encoder *enc, const uint16_t *ids, const float *labels,
                                  uint32_t B, nn_rng *rng, int grads, uint32_t *correct) {
    assert(B <= enc->Bmax);
    const uint32_t T = enc->T, E = enc->E, NH = enc->NH, F = enc->F, L = enc->L, N = B * T;
    const size_t NE = (size_t)N * E;
    const float drop = rng ? enc->dropout : 0.0f;
    for (size_t i = 0; i < N; i++) enc->mask[i] = ids[i] != NN_PAD;
    nn_tokpos_embedding_forward(enc->emb, ids, enc->w.wte, enc->w.wpe, B, T, E);
    const float *x = enc->emb;
    for (uint32_t l = 0; l < L; l++) {
        nn_encoder_block_forward(&enc->acts[l], enc->work, x, enc->mask, &enc->w.blocks[l], drop, rng,
                                 B, T, E, NH, F);
        x = enc->acts[l].out;
    }
    nn_layernorm_forward(enc->lnf, enc->lnf_mean, enc->lnf_rstd, x, enc->w.lnf_w, enc->w.lnf_b, N, E);
    nn_masked_mean_forward(enc->pooled, enc->lnf, enc->mask, B, T, E);
    nn_dense_forward(enc->logits, enc->pooled, enc->w.head_w, enc->w.head_b, B, E, 1);
    if (!labels) return 0.0f;
    float loss = nn_bce_forward_backward(grads ? enc->dlogits : NULL, enc->logits, labels, B, correct);
    if (!grads) return loss;

    memset(enc->grads, 0, enc->nparams * sizeof(float));
    memset(enc->dpooled, 0, (size_t)B * E * sizeof(float));
    nn_dense_backward(enc->dpooled, enc->g.head_w, enc->g.head_b, enc->dlogits, enc->pooled,
                      enc->w.head_w, B, E, 1);
    memset(enc->dlnf, 0, NE * sizeof(float));
    nn_masked_mean_backward(enc->dlnf, enc->dpooled, enc->mask, B, T, E);
    /* The gradient of the last block's output goes into dacts.out; each
     * block's backward adds its input's gradient into demb, which then
     * becomes the next (lower) block's dacts.out. */
    float *dx = enc->dacts.out;
    memset(dx, 0, NE * sizeof(float));
    nn_layernorm_backward(dx, enc->g.lnf_w, enc->g.lnf_b, enc->dlnf, x, enc->w.lnf_w, enc->lnf_mean,
                          enc->lnf_rstd, N, E);
    for (uint32_t l = L; l-- > 0;) {
        const float *xin = l ? enc->acts[l - 1].out : enc->emb;
        memset(enc->demb, 0, NE * sizeof(float));
        nn_encoder_block_backward(enc->demb, &enc->g.blocks[l], &enc->dacts, enc->work, xin,
                                  &enc->acts[l], enc->mask, &enc->w.blocks[l], drop, B, T, E, NH, F);
        memcpy(enc->dacts.out, enc->demb, NE * sizeof(float));
    }
    nn_tokpos_embedding_backward(enc->g.wte, enc->g.wpe, enc->demb, ids, B, T, E);
    return loss;
}

void nn_encoder_adam(nn_encoder *enc, float lr, float b1, float b2, float eps) {
    enc->step++;
    double t = (double)enc->step;
    float lr_t = (float)(lr * sqrt(1.0 - pow(b2, t)) / (1.0 - pow(b1, t)));
    nn_k_adam(enc->params, enc->params, enc->grads, enc->m, enc->v, enc->nparams, lr_t, b1, b2, eps);
}

void nn_encoder_adamw(nn_encoder *enc, float lr, float b1, float b2, float eps, float wd) {
    if (wd > 0.0f) {
        const float keep = 1.0f - lr * wd;
        const uint32_t E = enc->E, F = enc->F;
        nn_k_scale(enc->w.wte, keep, (size_t)enc->V * E);
        nn_k_scale(enc->w.wpe, keep, (size_t)enc->T * E);
        for (uint32_t l = 0; l < enc->L; l++) {
            nn_encoder_block *b = &enc->w.blocks[l];
            nn_k_scale(b->qkv_w, keep, (size_t)E * 3 * E);
            nn_k_scale(b->proj_w, keep, (size_t)E * E);
            nn_k_scale(b->fc_w, keep, (size_t)E * F);
            nn_k_scale(b->fc2_w, keep, (size_t)F * E);
        }
        nn_k_scale(enc->w.head_w, keep, E);
    }
    nn_encoder_adam(enc, lr, b1, b2, eps);
}

float nn_lr_warmup_linear(uint64_t t, uint64_t warmup, uint64_t total, float peak) {
    if (t < warmup) return (float)((double)peak * (double)t / (double)warmup);
    if (t >= total) return 0.0f;
    uint64_t span = total - warmup;
    return (float)((double)peak * (double)(total - t) / (double)(span ? span : 1));
}

/* Multiply-adds, counted as 2 FLOPs each, per forward pass over B*T rows
 * (every position; attention over T keys): per block the q,k,v projection
 * 3E^2, the output projection E^2, the feed-forward 2EF per row, and the
 * scores and the weighted sum 2*T*E per row; plus the head (negligible). */
double nn_encoder_forward_flops(uint32_t B, uint32_t T, uint32_t E, uint32_t F, uint32_t L) {
    double rows = (double)B * T;
    double per_row = 4.0 * E * E + 2.0 * E * F + 2.0 * (double)T * E;
    return 2.0 * rows * per_row * L;
}
