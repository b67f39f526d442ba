/* layers.c: the layers of the bag-of-embeddings model, the embedding and
 * dropout of the recurrent models, each a forward and a backward function
 * side by side (the recurrent layers themselves are in layers_rnn.c). Loops over rows live here; the inner loops
 * over features are the SIMD kernels of kernels.h. Not here: parameter
 * storage, initialisation and the optimizer (model.c). */
#include "layers.h"
#include "kernels.h"

#include <assert.h>
#include <math.h>
#include <string.h>

/* Padding (id 0) only ever fills the start or the end of a padded row, so
 * the real tokens are one run [*s, *e): gathering just that run and adding
 * the padding row once, times its count, saves the work of the padding
 * positions (about a third of them on IMDB at maxlen 256). */
static void real_run(const uint16_t *ids, uint32_t T, uint32_t *s, uint32_t *e) {
    size_t a, b;
    nn_k_nonzero_span(ids, T, &a, &b); /* NN_PAD is 0 */
    *s = (uint32_t)a;
    *e = (uint32_t)b;
}

/* Zeros inside the run: never in padded reviews, but ids are input. */
static uint32_t zeros_in(const uint16_t *ids, uint32_t s, uint32_t e) {
    uint32_t z = 0;
    for (uint32_t t = s; t < e; t++) z += ids[t] == NN_PAD;
    return z;
}

void nn_embedding_pool_forward(float *out, uint32_t *runs, const uint16_t *ids, const float *emb,
                               uint32_t B, uint32_t T, uint32_t E, int pooling) {
    for (uint32_t b = 0; b < B; b++) {
        const uint16_t *row = ids + (size_t)b * T;
        float *o = out + (size_t)b * E;
        uint32_t s, e;
        real_run(row, T, &s, &e);
        runs[2 * b] = s;
        runs[2 * b + 1] = e;
        nn_k_gather_sum(o, emb, row + s, e - s, E);
        if (pooling == NN_POOL_KERAS) {
            nn_k_axpy(o, (float)(T - (e - s)), emb, E);  /* the padding rows */
            nn_k_scale(o, 1.0f / (float)T, E);
        } else {
            uint32_t z = zeros_in(row, s, e);
            if (z) nn_k_axpy(o, -(float)z, emb, E);
            uint32_t n = e - s - z;
            nn_k_scale(o, 1.0f / (float)(n ? n : 1), E);
        }
    }
}

void nn_embedding_pool_backward(float *demb, const float *dout, const uint16_t *ids,
                                const uint32_t *runs, uint32_t B, uint32_t T, uint32_t E, int pooling) {
    for (uint32_t b = 0; b < B; b++) {
        const uint16_t *row = ids + (size_t)b * T;
        const float *g = dout + (size_t)b * E;
        uint32_t s = runs[2 * b], e = runs[2 * b + 1];
        if (pooling == NN_POOL_KERAS) {
            float scale = 1.0f / (float)T;
            nn_k_scatter_add(demb, g, scale, row + s, e - s, E);
            uint32_t npad = T - (e - s);
            if (npad) nn_k_axpy(demb, (float)npad * scale, g, E);
        } else {
            uint32_t z = zeros_in(row, s, e);
            uint32_t n = e - s - z;
            float scale = 1.0f / (float)(n ? n : 1);
            nn_k_scatter_add(demb, g, scale, row + s, e - s, E);
            if (z) nn_k_axpy(demb, -(float)z * scale, g, E); /* undo the zeros */
        }
    }
}

void nn_embedding_forward(float *out, const uint16_t *ids, const float *emb,
                          uint32_t B, uint32_t T, uint32_t E) {
    for (uint32_t t = 0; t < T; t++)
        for (uint32_t b = 0; b < B; b++)
            memcpy(out + ((size_t)t * B + b) * E, emb + (size_t)ids[(size_t)b * T + t] * E,
                   E * sizeof(float));
}

void nn_embedding_backward(float *demb, const float *dout, const uint16_t *ids,
                           uint32_t B, uint32_t T, uint32_t E) {
    for (uint32_t t = 0; t < T; t++)
        for (uint32_t b = 0; b < B; b++)
            nn_k_axpy(demb + (size_t)ids[(size_t)b * T + t] * E, 1.0f,
                      dout + ((size_t)t * B + b) * E, E);
}

void nn_dropout_mask(float *keep, size_t n, float rate, nn_rng *rng) {
    float scale = 1.0f / (1.0f - rate);
    for (size_t i = 0; i < n; i++) keep[i] = nn_rng_uniform(rng, 0.0f, 1.0f) >= rate ? scale : 0.0f;
}

void nn_dropout_forward(float *out, const float *x, const float *keep,
                        uint32_t T, uint32_t B, uint32_t C) {
    size_t BC = (size_t)B * C;
    for (uint32_t t = 0; t < T; t++)
        for (size_t i = 0; i < BC; i++) out[t * BC + i] = x[t * BC + i] * keep[i];
}

void nn_dropout_backward(float *dx, const float *dout, const float *keep,
                         uint32_t T, uint32_t B, uint32_t C) {
    size_t BC = (size_t)B * C;
    for (uint32_t t = 0; t < T; t++)
        for (size_t i = 0; i < BC; i++) dx[t * BC + i] += dout[t * BC + i] * keep[i];
}

void nn_dense_forward(float *out, const float *inp, const float *w, const float *b,
                      uint32_t B, uint32_t C, uint32_t OC) {
    nn_k_dense_forward(out, inp, w, b, B, C, OC);
}

void nn_dense_backward(float *dinp, float *dw, float *db, const float *dout,
                       const float *inp, const float *w, uint32_t B, uint32_t C, uint32_t OC) {
    nn_k_dense_backward(dinp, dw, db, dout, inp, w, B, C, OC);
}

void nn_linear_forward(float *out, const float *inp, const float *w, const float *b,
                       uint32_t B, uint32_t C, uint32_t OC) {
    for (uint32_t i = 0; i < B; i++) memcpy(out + (size_t)i * OC, b, OC * sizeof(float));
    nn_k_matmul_acc(out, inp, w, B, C, OC);
}

void nn_linear_backward(float *dinp, float *dw, float *db, float *wt, const float *dout,
                        const float *inp, const float *w, uint32_t B, uint32_t C, uint32_t OC) {
    nn_k_matmul_tn_acc(dw, inp, dout, C, B, OC);
    for (uint32_t i = 0; i < B; i++) nn_k_axpy(db, 1.0f, dout + (size_t)i * OC, OC);
    if (!dinp) return;
    /* dinp += dout (B,OC) . wt (OC,C): one transpose of w, then the same
     * blocked product as the forward pass. */
    for (uint32_t c = 0; c < C; c++)
        for (uint32_t o = 0; o < OC; o++) wt[(size_t)o * C + c] = w[(size_t)c * OC + o];
    nn_k_matmul_acc(dinp, dout, wt, B, OC, C);
}

void nn_relu_forward(float *out, const float *inp, size_t N) { nn_k_relu(out, inp, N); }

void nn_relu_backward(float *dinp, const float *dout, const float *out, size_t N) {
    nn_k_relu_backward(dinp, dout, out, N);
}

float nn_bce_forward_backward(float *dlogit, const float *logit, const float *label,
                              uint32_t B, uint32_t *correct) {
    assert(B > 0);
    uint32_t c = 0;
    float sum = nn_k_bce_logits(dlogit, logit, label, 1.0f / (float)B, B, &c);
    if (correct) *correct += c;
    return sum / (float)B;
}

void nn_softmax(float *p, const float *z, uint32_t K) {
    float mx = z[0];
    for (uint32_t k = 1; k < K; k++) mx = z[k] > mx ? z[k] : mx;
    float sum = 0.0f;
    for (uint32_t k = 0; k < K; k++) sum += p[k] = expf(z[k] - mx);
    for (uint32_t k = 0; k < K; k++) p[k] /= sum;
}

float nn_softmax_ce(float *dlogit, const float *logit, const float *label, float gscale,
                    uint32_t B, uint32_t K, uint32_t *correct) {
    double total = 0.0;
    uint32_t hits = 0;
    for (uint32_t b = 0; b < B; b++) {
        const float *z = logit + (size_t)b * K;
        uint32_t y = (uint32_t)label[b], best = 0;
        assert(y < K);
        for (uint32_t k = 1; k < K; k++) best = z[k] > z[best] ? k : best;
        float mx = z[best], sum = 0.0f;
        for (uint32_t k = 0; k < K; k++) sum += expf(z[k] - mx);
        /* mx is finite unless a logit is: then the loss is inf/NaN, which
         * the trainer's divergence guard reports. */
        total += (double)(logf(sum) + mx - z[y]);
        hits += best == y;
        if (dlogit) {
            float *d = dlogit + (size_t)b * K;
            for (uint32_t k = 0; k < K; k++) d[k] = expf(z[k] - mx) / sum * gscale;
            d[y] -= gscale;
        }
    }
    if (correct) *correct += hits;
    return (float)total;
}
