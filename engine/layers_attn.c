/* layers_attn.c: the Transformer encoder's layers (layers_attn.h), each a
 * forward and a backward function side by side, and one pre-LN encoder block
 * made of them. Loops over rows, heads and sequences live here; the inner
 * loops are kernels (kernels.h): the dense layers are layers.c's nn_linear_*
 * (nn_k_matmul_acc / nn_k_matmul_tn_acc), attention multiplies strided
 * sub-matrices with nn_k_matmul_acc_ld and nn_k_matmul_tn_acc_ld, and
 * softmax, layer norm and GELU have kernels of their own. Not here: the
 * parameter buffer, initialisation, the optimizer (encoder.c). */
#include "layers_attn.h"
#include "kernels.h"
#include "layers.h"

#include <assert.h>
#include <math.h>
#include <string.h>

/* ------------------------------------------------------------ embeddings */

void nn_tokpos_embedding_forward(float *out, const uint16_t *ids, const float *wte, const float *wpe,
                                 uint32_t B, uint32_t T, uint32_t E) {
    for (uint32_t b = 0; b < B; b++)
        for (uint32_t t = 0; t < T; t++) {
            float *o = out + ((size_t)b * T + t) * E;
            memcpy(o, wpe + (size_t)t * E, E * sizeof(float));
            nn_k_axpy(o, 1.0f, wte + (size_t)ids[(size_t)b * T + t] * E, E);
        }
}

void nn_tokpos_embedding_backward(float *dwte, float *dwpe, const float *dout, const uint16_t *ids,
                                  uint32_t B, uint32_t T, uint32_t E) {
    for (uint32_t b = 0; b < B; b++)
        for (uint32_t t = 0; t < T; t++) {
            const float *g = dout + ((size_t)b * T + t) * E;
            nn_k_axpy(dwte + (size_t)ids[(size_t)b * T + t] * E, 1.0f, g, E);
            if (dwpe) nn_k_axpy(dwpe + (size_t)t * E, 1.0f, g, E);
        }
}

/* ------------------------------------------------------------ layer norm */

void nn_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                          const float *b, uint32_t N, uint32_t E) {
    for (uint32_t r = 0; r < N; r++)
        nn_k_layernorm(out + (size_t)r * E, mean + r, rstd + r, inp + (size_t)r * E, w, b, E,
                       NN_LAYERNORM_EPS);
}

void nn_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                           const float *w, const float *mean, const float *rstd, uint32_t N, uint32_t E) {
    for (uint32_t r = 0; r < N; r++) {
        const float *x = inp + (size_t)r * E, *g = dout + (size_t)r * E;
        float *dx = dinp + (size_t)r * E;
        float m = mean[r], s = rstd[r];
        float gmean = 0.0f, gnmean = 0.0f;
        for (uint32_t i = 0; i < E; i++) {
            float n = (x[i] - m) * s, gw = w[i] * g[i];
            gmean += gw;
            gnmean += gw * n;
        }
        gmean /= (float)E;
        gnmean /= (float)E;
        for (uint32_t i = 0; i < E; i++) {
            float n = (x[i] - m) * s, gw = w[i] * g[i];
            db[i] += g[i];
            dw[i] += n * g[i];
            dx[i] += (gw - gmean - n * gnmean) * s;
        }
    }
}

/* ------------------------------------------------------ GELU, residual */

void nn_gelu_forward(float *out, const float *inp, size_t n) { nn_k_gelu(out, inp, n); }

void nn_gelu_backward(float *dinp, const float *dout, const float *inp, size_t n) {
    nn_k_gelu_backward(dinp, dout, inp, n);
}

void nn_residual_forward(float *out, const float *a, const float *b, size_t n) {
    if (out != a) memcpy(out, a, n * sizeof(float));
    nn_k_axpy(out, 1.0f, b, n);
}

void nn_residual_backward(float *da, float *db, const float *dout, size_t n) {
    nn_k_axpy(da, 1.0f, dout, n);
    nn_k_axpy(db, 1.0f, dout, n);
}

/* ------------------------------------------------------------- attention */

/* [*s, *e): first to last real token of a row; both 0 when there is none. */
static void mask_run(const uint8_t *mask, uint32_t T, uint32_t *s, uint32_t *e) {
    uint32_t a = 0, b = T;
    while (a < T && !mask[a]) a++;
    while (b > a && !mask[b - 1]) b--;
    *s = a == T ? 0 : a;
    *e = a == T ? 0 : b;
}

size_t nn_attention_work_floats(uint32_t T, uint32_t E, uint32_t NH) {
    size_t D = E / NH;
    return D * T + (size_t)T * T;
}

void nn_alibi_slopes(float *slopes, uint32_t NH) {
    for (uint32_t h = 0; h < NH; h++) slopes[h] = ldexpf(1.0f, -(int)(1 + 3 * (h < 40 ? h : 40)));
}

void nn_attention_forward(float *out, float *att, float *work, const float *qkv, const uint8_t *mask,
                          uint32_t B, uint32_t T, uint32_t E, uint32_t NH, const float *alibi) {
    assert(NH > 0 && E % NH == 0);
    const size_t D = E / NH, E3 = 3 * (size_t)E;
    const float scale = 1.0f / sqrtf((float)D);
    memset(out, 0, (size_t)B * T * E * sizeof(float));
    float *kt = work, *S = work + D * T; /* kt (D,L), S (L,L) */
    for (uint32_t b = 0; b < B; b++) {
        const uint8_t *mrow = mask + (size_t)b * T;
        uint32_t s, e;
        mask_run(mrow, T, &s, &e);
        size_t L = e - s, real = 0;
        for (size_t j = s; j < e; j++) real += mrow[j] != 0;
        /* att of row b: zero outside the run's (L,L) square, which the
         * softmax below fills whole. */
        for (uint32_t h = 0; h < NH; h++) {
            float *Ab = att + ((size_t)b * NH + h) * T * T;
            for (size_t i = 0; i < T; i++) {
                if (i < s || i >= e) {
                    memset(Ab + i * T, 0, T * sizeof(float));
                } else {
                    memset(Ab + i * T, 0, s * sizeof(float));
                    memset(Ab + i * T + e, 0, (T - e) * sizeof(float));
                }
            }
        }
        if (L == 0) continue;
        for (uint32_t h = 0; h < NH; h++) {
            const float *q = qkv + ((size_t)b * T + s) * E3 + h * D, *k = q + E, *v = q + 2 * (size_t)E;
            float *A = att + ((size_t)b * NH + h) * T * T + (size_t)s * T + s; /* (L,L), rows T apart */
            for (size_t j = 0; j < L; j++)
                for (size_t d = 0; d < D; d++) kt[d * L + j] = k[j * E3 + d];
            memset(S, 0, L * L * sizeof(float));
            nn_k_matmul_acc_ld(S, L, q, E3, kt, L, L, D, L);
            /* The softmax scales row by `scale`: the penalty goes in unscaled. */
            const float pen = alibi ? alibi[h] / scale : 0.0f;
            for (size_t i = 0; i < L; i++) {
                float *row = S + i * L;
                if (alibi)
                    for (size_t j = 0; j < L; j++) row[j] -= pen * (float)(j > i ? j - i : i - j);
                if (real < L) /* a masked position inside the run (rare) */
                    for (size_t j = 0; j < L; j++)
                        if (!mrow[s + j]) row[j] = -INFINITY;
                nn_k_softmax_scaled(A + i * T, row, scale, L);
            }
            nn_k_matmul_acc_ld(out + ((size_t)b * T + s) * E + h * D, E, A, T, v, E3, L, L, D);
        }
    }
}

void nn_attention_backward(float *dqkv, float *work, const float *dout, const float *qkv,
                           const float *att, const uint8_t *mask,
                           uint32_t B, uint32_t T, uint32_t E, uint32_t NH) {
    const size_t D = E / NH, E3 = 3 * (size_t)E;
    const float scale = 1.0f / sqrtf((float)D);
    float *vt = work, *dS = work + D * T; /* vt (D,L), dP then dS (L,L) */
    for (uint32_t b = 0; b < B; b++) {
        uint32_t s, e;
        mask_run(mask + (size_t)b * T, T, &s, &e);
        size_t L = e - s;
        if (L == 0) continue;
        for (uint32_t h = 0; h < NH; h++) {
            size_t row0 = (size_t)b * T + s;
            const float *q = qkv + row0 * E3 + h * D, *k = q + E, *v = q + 2 * (size_t)E;
            float *dq = dqkv + row0 * E3 + h * D, *dk = dq + E, *dv = dq + 2 * (size_t)E;
            const float *dO = dout + row0 * E + h * D; /* (L,D), rows E apart */
            const float *P = att + ((size_t)b * NH + h) * T * T + (size_t)s * T + s;
            for (size_t j = 0; j < L; j++)
                for (size_t d = 0; d < D; d++) vt[d * L + j] = v[j * E3 + d];
            memset(dS, 0, L * L * sizeof(float));
            nn_k_matmul_acc_ld(dS, L, dO, E, vt, L, L, D, L);            /* dP = dO . V^T */
            nn_k_matmul_tn_acc_ld(dv, E3, P, T, dO, E, L, L, D);          /* dV += P^T . dO */
            for (size_t i = 0; i < L; i++) {                              /* softmax backward */
                const float *p = P + i * T;
                float *g = dS + i * L;
                float dot = nn_k_dot(p, g, L);
                for (size_t j = 0; j < L; j++) g[j] = p[j] * (g[j] - dot) * scale;
            }
            nn_k_matmul_acc_ld(dq, E3, dS, L, k, E3, L, L, D);            /* dQ += dS . K */
            nn_k_matmul_tn_acc_ld(dk, E3, dS, L, q, E3, L, L, D);         /* dK += dS^T . Q */
        }
    }
}

/* ---------------------------------------------------- masked mean pooling */

void nn_masked_mean_forward(float *out, const float *x, const uint8_t *mask,
                            uint32_t B, uint32_t T, uint32_t E) {
    for (uint32_t b = 0; b < B; b++) {
        float *o = out + (size_t)b * E;
        uint32_t n = 0;
        memset(o, 0, E * sizeof(float));
        for (uint32_t t = 0; t < T; t++)
            if (mask[(size_t)b * T + t]) {
                nn_k_axpy(o, 1.0f, x + ((size_t)b * T + t) * E, E);
                n++;
            }
        if (n) nn_k_scale(o, 1.0f / (float)n, E);
    }
}

void nn_masked_mean_backward(float *dx, const float *dout, const uint8_t *mask,
                             uint32_t B, uint32_t T, uint32_t E) {
    for (uint32_t b = 0; b < B; b++) {
        uint32_t n = 0;
        for (uint32_t t = 0; t < T; t++) n += mask[(size_t)b * T + t] != 0;
        if (!n) continue;
        float scale = 1.0f / (float)n;
        for (uint32_t t = 0; t < T; t++)
            if (mask[(size_t)b * T + t])
                nn_k_axpy(dx + ((size_t)b * T + t) * E, scale, dout + (size_t)b * E, E);
    }
}

/* ------------------------------------------------------ one encoder block */

/* The sizes below saturate at SIZE_MAX instead of wrapping (wasm32's size_t
 * is 32 bits), so an allocation of one fails rather than comes out short;
 * the memory budget (budget.c, 64-bit) refuses such configs before. */
#define MUL nn_size_mul_sat
#define ADD nn_size_add_sat

size_t nn_encoder_block_floats(uint32_t E, uint32_t F) {
    size_t e2 = MUL(E, E), ef = MUL(E, F);
    /* ln1 2E, qkv 3E^2 + 3E, proj E^2 + E, ln2 2E, fc EF + F, fc2 FE + E */
    return ADD(ADD(ADD(MUL(e2, 4), MUL(ef, 2)), MUL(E, 9)), F);
}

size_t nn_encoder_block_carve(nn_encoder_block *p, float *buf, uint32_t E, uint32_t F) {
    float *q = buf;
#define TAKE(field, n) (p->field = q, q += (n))
    TAKE(ln1_w, E); TAKE(ln1_b, E);
    TAKE(qkv_w, (size_t)E * 3 * E); TAKE(qkv_b, 3 * (size_t)E);
    TAKE(proj_w, (size_t)E * E); TAKE(proj_b, E);
    TAKE(ln2_w, E); TAKE(ln2_b, E);
    TAKE(fc_w, (size_t)E * F); TAKE(fc_b, F);
    TAKE(fc2_w, (size_t)F * E); TAKE(fc2_b, E);
#undef TAKE
    p->alibi = NULL;
    assert((size_t)(q - buf) == nn_encoder_block_floats(E, F));
    return (size_t)(q - buf);
}

size_t nn_encoder_acts_carve(nn_encoder_acts *a, float *buf, uint32_t B, uint32_t T, uint32_t E,
                             uint32_t NH, uint32_t F) {
    size_t N = (size_t)B * T;
    float *q = buf;
#define TAKE(field, n) (a->field = q, q += (n))
    TAKE(ln1, N * E); TAKE(ln1_mean, N); TAKE(ln1_rstd, N);
    TAKE(qkv, N * 3 * E);
    TAKE(att, (size_t)B * NH * T * T);
    TAKE(atty, N * E); TAKE(attproj, N * E); TAKE(keep1, N * E); TAKE(x1, N * E);
    TAKE(ln2, N * E); TAKE(ln2_mean, N); TAKE(ln2_rstd, N);
    TAKE(fch, N * F); TAKE(fch_gelu, N * F);
    TAKE(fcproj, N * E); TAKE(keep2, N * E); TAKE(out, N * E);
#undef TAKE
    return (size_t)(q - buf);
}

size_t nn_encoder_acts_floats(uint32_t B, uint32_t T, uint32_t E, uint32_t NH, uint32_t F) {
    size_t N = MUL(B, T);
    size_t ne = MUL(N, E), att = MUL(MUL(MUL(B, NH), T), T);
    /* 9NE + 4N + 3NE + B NH T^2 + 2NF */
    return ADD(ADD(ADD(MUL(ne, 12), MUL(N, 4)), att), MUL(MUL(N, F), 2));
}

size_t nn_encoder_block_work_floats(uint32_t T, uint32_t E, uint32_t NH, uint32_t F) {
    size_t att = nn_attention_work_floats(T, E, NH);
    size_t wt = MUL(E, F > 3 * (size_t)E ? F : MUL(E, 3));
    return att > wt ? att : wt;
}
#undef MUL
#undef ADD

/* Inverted dropout in place over n floats with a fresh mask, or nothing. */
static int dropout_on(float dropout, const nn_rng *rng) { return dropout > 0.0f && rng; }

void nn_encoder_block_forward(nn_encoder_acts *a, float *work, const float *x, const uint8_t *mask,
                              const nn_encoder_block *p, float dropout, nn_rng *rng,
                              uint32_t B, uint32_t T, uint32_t E, uint32_t NH, uint32_t F) {
    nn_encoder_block_forward_drawn(a, work, x, mask, p, dropout_on(dropout, rng) ? dropout : 0.0f, rng,
                                   B, T, E, NH, F);
}

void nn_encoder_block_forward_drawn(nn_encoder_acts *a, float *work, const float *x, const uint8_t *mask,
                                    const nn_encoder_block *p, float dropout, nn_rng *rng,
                                    uint32_t B, uint32_t T, uint32_t E, uint32_t NH, uint32_t F) {
    uint32_t N = B * T;
    size_t NE = (size_t)N * E;
    nn_layernorm_forward(a->ln1, a->ln1_mean, a->ln1_rstd, x, p->ln1_w, p->ln1_b, N, E);
    nn_linear_forward(a->qkv, a->ln1, p->qkv_w, p->qkv_b, N, E, 3 * E);
    nn_attention_forward(a->atty, a->att, work, a->qkv, mask, B, T, E, NH, p->alibi);
    nn_linear_forward(a->attproj, a->atty, p->proj_w, p->proj_b, N, E, E);
    if (dropout > 0.0f) {
        if (rng) nn_dropout_mask(a->keep1, NE, dropout, rng);
        nn_dropout_forward(a->attproj, a->attproj, a->keep1, 1, 1, (uint32_t)NE);
    }
    nn_residual_forward(a->x1, x, a->attproj, NE);
    nn_layernorm_forward(a->ln2, a->ln2_mean, a->ln2_rstd, a->x1, p->ln2_w, p->ln2_b, N, E);
    nn_linear_forward(a->fch, a->ln2, p->fc_w, p->fc_b, N, E, F);
    nn_gelu_forward(a->fch_gelu, a->fch, (size_t)N * F);
    nn_linear_forward(a->fcproj, a->fch_gelu, p->fc2_w, p->fc2_b, N, F, E);
    if (dropout > 0.0f) {
        if (rng) nn_dropout_mask(a->keep2, NE, dropout, rng);
        nn_dropout_forward(a->fcproj, a->fcproj, a->keep2, 1, 1, (uint32_t)NE);
    }
    nn_residual_forward(a->out, a->x1, a->fcproj, NE);
}

void nn_encoder_block_backward(float *dx, nn_encoder_block *dp, nn_encoder_acts *da, float *work,
                               const float *x, const nn_encoder_acts *a, const uint8_t *mask,
                               const nn_encoder_block *p, float dropout,
                               uint32_t B, uint32_t T, uint32_t E, uint32_t NH, uint32_t F) {
    assert(dx);
    uint32_t N = B * T;
    size_t NE = (size_t)N * E, NF = (size_t)N * F;
    int drop = dropout > 0.0f;
    /* out = x1 + drop(fcproj) */
    memcpy(da->x1, da->out, NE * sizeof(float));
    memset(da->fcproj, 0, NE * sizeof(float));
    if (drop) nn_dropout_backward(da->fcproj, da->out, a->keep2, 1, 1, (uint32_t)NE);
    else memcpy(da->fcproj, da->out, NE * sizeof(float));
    memset(da->fch_gelu, 0, NF * sizeof(float));
    nn_linear_backward(da->fch_gelu, dp->fc2_w, dp->fc2_b, work, da->fcproj, a->fch_gelu, p->fc2_w, N, F, E);
    memset(da->fch, 0, NF * sizeof(float));
    nn_gelu_backward(da->fch, da->fch_gelu, a->fch, NF);
    memset(da->ln2, 0, NE * sizeof(float));
    nn_linear_backward(da->ln2, dp->fc_w, dp->fc_b, work, da->fch, a->ln2, p->fc_w, N, E, F);
    nn_layernorm_backward(da->x1, dp->ln2_w, dp->ln2_b, da->ln2, a->x1, p->ln2_w, a->ln2_mean,
                          a->ln2_rstd, N, E);
    /* x1 = x + drop(attproj) */
    nn_k_axpy(dx, 1.0f, da->x1, NE);
    memset(da->attproj, 0, NE * sizeof(float));
    if (drop) nn_dropout_backward(da->attproj, da->x1, a->keep1, 1, 1, (uint32_t)NE);
    else memcpy(da->attproj, da->x1, NE * sizeof(float));
    memset(da->atty, 0, NE * sizeof(float));
    nn_linear_backward(da->atty, dp->proj_w, dp->proj_b, work, da->attproj, a->atty, p->proj_w, N, E, E);
    memset(da->qkv, 0, NE * 3 * sizeof(float));
    nn_attention_backward(da->qkv, work, da->atty, a->qkv, a->att, mask, B, T, E, NH);
    memset(da->ln1, 0, NE * sizeof(float));
    nn_linear_backward(da->ln1, dp->qkv_w, dp->qkv_b, work, da->qkv, a->ln1, p->qkv_w, N, E, 3 * E);
    nn_layernorm_backward(dx, dp->ln1_w, dp->ln1_b, da->ln1, x, p->ln1_w, a->ln1_mean, a->ln1_rstd, N, E);
}
