/* kernels_ref.c: the scalar references of the kernels in kernels.h.
 *
 * These loops define what every kernel means; kernels_simd.c is tested
 * against them. They are deliberately the plainest correct code: no
 * unrolling, no intrinsics, float arithmetic only (no double), one rounding
 * per written operation. Where the SIMD kernel evaluates an expression in the
 * same order (everything but dot and the loss sum), the two agree bit for bit.
 *
 * Not contracted into fused multiply-adds: the build uses -std=c11 (GCC then
 * defaults to -ffp-contract=off) and clang is told so below, because an FMA
 * would round differently from the wasm SIMD kernel, which has none.
 */
#include "kernels.h"

#include <string.h>

#include <math.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

void nn_k_gather_sum_ref(float *out, const float *table, const uint16_t *ids, size_t T, size_t E) {
    for (size_t e = 0; e < E; e++) out[e] = 0.0f;
    for (size_t t = 0; t < T; t++) {
        const float *row = table + (size_t)ids[t] * E;
        for (size_t e = 0; e < E; e++) out[e] += row[e];
    }
}

void nn_k_scatter_add_ref(float *table, const float *row, float scale, const uint16_t *ids, size_t T, size_t E) {
    for (size_t t = 0; t < T; t++) {
        float *dst = table + (size_t)ids[t] * E;
        for (size_t e = 0; e < E; e++) dst[e] += scale * row[e];
    }
}

void nn_k_nonzero_span_ref(const uint16_t *ids, size_t n, size_t *start, size_t *end) {
    size_t a = 0, b = n;
    while (a < n && ids[a] == 0) a++;
    while (b > a && ids[b - 1] == 0) b--;
    *start = a;
    *end = a == n ? n : b;
}

void nn_k_dense_forward_ref(float *out, const float *x, const float *w, const float *b,
                            size_t B, size_t C, size_t OC) {
    for (size_t i = 0; i < B; i++)
        for (size_t o = 0; o < OC; o++) out[i * OC + o] = b[o] + nn_k_dot_ref(x + i * C, w + o * C, C);
}

void nn_k_axpy_ref(float *y, float a, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] += a * x[i];
}

void nn_k_rows_axpy_ref(float *out, const float *table, const uint32_t *feat, const float *weight,
                        size_t n, size_t E) {
    for (size_t k = 0; k < n; k++)
        nn_k_axpy_ref(out, weight ? weight[feat[k]] : 1.0f, table + (size_t)feat[k] * E, E);
}

void nn_k_scatter_rows_axpy_ref(float *table, const float *row, float scale, const uint32_t *feat,
                                const float *weight, size_t n, size_t E) {
    for (size_t k = 0; k < n; k++)
        nn_k_axpy_ref(table + (size_t)feat[k] * E, weight ? scale * weight[feat[k]] : scale, row, E);
}

void nn_k_copy_ref(float *dst, const float *src, size_t n) {
    if (n) memcpy(dst, src, n * sizeof *dst);
}

void nn_k_zero_ref(float *p, size_t n) {
    if (n) memset(p, 0, n * sizeof *p);
}

void nn_k_scale_ref(float *y, float a, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] *= a;
}

float nn_k_dot_ref(const float *a, const float *b, size_t n) {
    float sum = 0.0f;
    for (size_t i = 0; i < n; i++) sum += a[i] * b[i];
    return sum;
}

/* relu is IEEE 754-2019 maximum(x, 0), which is wasm's f32x4.max: a NaN
 * passes through (a diverged layer must not be hidden by the activation) and
 * -0 becomes +0. Written this way, not as "x < 0 ? 0 : x", because clang 14
 * (Emscripten 3.1.6) vectorises that select into f32x4.max although the two
 * differ at -0, so the reference would not mean the same natively and in wasm. */
void nn_k_relu_ref(float *out, const float *inp, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = x > 0.0f || x != x ? x : 0.0f;
    }
}

void nn_k_relu_backward_ref(float *dinp, const float *dout, const float *out, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (out[i] > 0.0f) dinp[i] += dout[i];
    }
}

/* With e = exp(-|z|), which never overflows:
 *   loss    = (max(z,0) - z*y) + log1p(e)       (TensorFlow's stable form)
 *   sigmoid = z >= 0 ? 1/(1+e) : e/(1+e)
 * max(z,0) is written "z > 0 ? z : 0"; a NaN z or y still gives a NaN loss
 * through z*y. The SIMD kernel evaluates the same expressions in the same
 * order, with its own exp and log1p; only those and the summation order of
 * the loss differ. */
float nn_k_bce_logits_ref(float *dlogit, const float *logit, const float *label, float gscale,
                          size_t n, uint32_t *correct) {
    float sum = 0.0f;
    uint32_t hits = 0;
    for (size_t i = 0; i < n; i++) {
        float z = logit[i], y = label[i];
        float e = expf(-fabsf(z));
        float relu_z = z > 0.0f ? z : 0.0f;
        sum += (relu_z - z * y) + log1pf(e);
        if (dlogit) {
            float sigmoid = z >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
            dlogit[i] = (sigmoid - y) * gscale;
        }
        if ((z > 0.0f) == (y > 0.5f)) hits++;
    }
    if (correct) *correct += hits;
    return sum;
}

void nn_k_dense_backward_ref(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                             const float *w, size_t B, size_t C, size_t OC) {
    for (size_t i = 0; i < B; i++) {
        const float *x = inp + i * C, *g = dout + i * OC;
        for (size_t o = 0; o < OC; o++) {
            if (g[o] == 0.0f) continue;
            db[o] += g[o];
            nn_k_axpy_ref(dw + o * C, g[o], x, C);
            if (dinp) nn_k_axpy_ref(dinp + i * C, g[o], w + o * C, C);
        }
    }
}

int nn_k_adam_ref(float *out, const float *p, const float *g, float *m, float *v, size_t n,
                  float lr_t, float b1, float b2, float eps) {
    float one_minus_b1 = 1.0f - b1, one_minus_b2 = 1.0f - b2;
    int finite = 1;
    for (size_t i = 0; i < n; i++) {
        float gi = g[i];
        m[i] = b1 * m[i] + one_minus_b1 * gi;
        v[i] = b2 * v[i] + one_minus_b2 * (gi * gi);
        out[i] = p[i] - (lr_t * m[i]) / (sqrtf(v[i]) + eps);
        if (!isfinite(out[i])) finite = 0;
    }
    return finite;
}

int nn_k_adam_rows_ref(float *p, float *g, float *m, float *v, float *undo, const uint32_t *rows,
                       size_t nrows, size_t E, float lr_t, float b1, float b2, float eps) {
    int finite = 1;
    for (size_t k = 0; k < nrows; k++) {
        size_t at = (size_t)rows[k] * E;
        nn_k_copy_ref(undo + k * E, p + at, E);
        finite &= nn_k_adam_ref(p + at, p + at, g + at, m + at, v + at, E, lr_t, b1, b2, eps);
        nn_k_zero_ref(g + at, E);
    }
    return finite;
}

int nn_k_sgd_ref(float *out, const float *p, const float *g, size_t n, float lr) {
    int finite = 1;
    for (size_t i = 0; i < n; i++) {
        out[i] = p[i] - lr * g[i];
        if (!isfinite(out[i])) finite = 0;
    }
    return finite;
}

int nn_k_all_finite_ref(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* The plainest order: every out[m,n] starts from itself and adds the K
 * products a[m,k]*b[k,n] one by one, k ascending. */
void nn_k_matmul_acc_ref(float *out, const float *a, const float *b, size_t M, size_t K, size_t N) {
    for (size_t m = 0; m < M; m++) {
        for (size_t n = 0; n < N; n++) {
            float acc = out[m * N + n];
            for (size_t k = 0; k < K; k++) acc += a[m * K + k] * b[k * N + n];
            out[m * N + n] = acc;
        }
    }
}

void nn_k_matmul_tn_acc_ref(float *out, const float *a, const float *b, size_t M, size_t K, size_t N) {
    for (size_t m = 0; m < M; m++) {
        for (size_t n = 0; n < N; n++) {
            float acc = out[m * N + n];
            for (size_t k = 0; k < K; k++) acc += a[k * M + m] * b[k * N + n];
            out[m * N + n] = acc;
        }
    }
}

void nn_k_sigmoid_ref(float *out, const float *inp, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float e = expf(-fabsf(x));
        out[i] = x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
    }
}

void nn_k_tanh_ref(float *out, const float *inp, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = tanhf(inp[i]);
}

/* ------------------------------------------- the Transformer encoder's kernels */

void nn_k_matmul_acc_ld_ref(float *out, size_t ldo, const float *a, size_t lda, const float *b,
                            size_t ldb, size_t M, size_t K, size_t N) {
    for (size_t m = 0; m < M; m++) {
        for (size_t n = 0; n < N; n++) {
            float acc = out[m * ldo + n];
            for (size_t k = 0; k < K; k++) acc += a[m * lda + k] * b[k * ldb + n];
            out[m * ldo + n] = acc;
        }
    }
}

void nn_k_softmax_scaled_ref(float *p, const float *z, float scale, size_t n) {
    if (n == 0) return;
    float mx = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        float s = scale * z[i];
        mx = s > mx ? s : mx;
    }
    float sum = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float s = scale * z[i];
        p[i] = s == -INFINITY ? 0.0f : expf(s - mx);
        sum += p[i];
    }
    float inv = 1.0f / sum;
    for (size_t i = 0; i < n; i++) p[i] *= inv;
}

void nn_k_layernorm_ref(float *out, float *mean, float *rstd, const float *x, const float *w,
                        const float *b, size_t n, float eps) {
    float sum = 0.0f;
    for (size_t i = 0; i < n; i++) sum += x[i];
    float m = sum / (float)n;
    float var = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float d = x[i] - m;
        var += d * d;
    }
    float r = 1.0f / sqrtf(var / (float)n + eps);
    for (size_t i = 0; i < n; i++) out[i] = ((x[i] - m) * r) * w[i] + b[i];
    *mean = m;
    *rstd = r;
}

#define GELU_C 0.7978845608028654f /* sqrt(2/pi) */
#define GELU_K 0.044715f

void nn_k_gelu_ref(float *out, const float *inp, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float t = tanhf(GELU_C * (x + GELU_K * (x * x * x)));
        out[i] = (0.5f * x) * (1.0f + t);
    }
}

void nn_k_gelu_backward_ref(float *dinp, const float *dout, const float *inp, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float x = inp[i], x2 = x * x;
        float t = tanhf(GELU_C * (x + GELU_K * (x2 * x)));
        float d = 0.5f * (1.0f + t) + ((0.5f * x) * (1.0f - t * t)) * (GELU_C * (1.0f + (3.0f * GELU_K) * x2));
        dinp[i] += dout[i] * d;
    }
}
