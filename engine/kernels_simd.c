/* kernels_simd.c: the SIMD kernels of kernels.h, in wasm SIMD128 intrinsics.
 *
 * The same source is compiled by Emscripten with -msimd128 and natively
 * through SIMDe, which maps every wasm_* intrinsic onto SSE/NEON (or plain C),
 * so ctest checks the very code the page runs. Deliberately not here: FMA,
 * relaxed-simd, or anything whose rounding differs between the two targets.
 * Natively that also needs the compiler not to contract a*b+c into an FMA:
 * GCC's default under -std=c11, and the pragma below for clang.
 * Every kernel evaluates its expressions in the reference's order, so all of
 * them agree with kernels_ref.c bit for bit except:
 *   - dot and the bce loss sum, whose summation order differs (four
 *     accumulators / four lanes); the difference is rounding only;
 *   - bce_logits, which has its own exp and log1p (below). Measured on
 *     every float a in [0, 104] (beyond it exp(-a) rounds to 0), natively
 *     against glibc and in wasm against musl, with identical results:
 *       exp(-a)          max error 1 ulp (relative 1.2e-7),
 *       log1p(exp(-a))   max error 2 ulp (relative 2.4e-7),
 *       sigmoid          max error 2 ulp (relative 1.8e-7),
 *     denormal results included (they are computed, not flushed to zero).
 *     libm's own log1pf(expf(-a)) is also 2 ulp from the correctly rounded
 *     value, so the SIMD loss term is as good as the reference's.
 *
 * Nothing needs alignment (wasm_v128_load/store are unaligned-safe) and a
 * tail of 1-3 floats goes through a 4-float buffer on the stack, so no kernel
 * reads or writes past n.
 */
#include "kernels.h"

#include <math.h>
#include <string.h>

#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#else
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/wasm/simd128.h>
#endif

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* Native-only paths, where 128-bit vectors are the limit: with AVX, Adam
 * (its division and square root per weight; the recipe's 160k weights take
 * 40 us a step instead of 76) and the embedding's gather and scatter (bound
 * by loads and stores: a 16-float row is two 256-bit loads instead of four
 * 128-bit ones) work on 8 floats per instruction. The same IEEE operations,
 * each correctly rounded, in the same order per element, so the same bits
 * as the v128 code, which wasm runs and which takes the tails. */
#if defined(__AVX__) && !defined(__wasm__)
#include <immintrin.h>
#define NN_NATIVE_AVX 1
#endif

/* ------------------------------------------------------------------ helpers */

/* The first k (0..3) floats of p in the low lanes, zeros above. */
static inline v128_t load_partial(const float *p, size_t k) {
    float buf[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    memcpy(buf, p, k * sizeof(float));
    return wasm_v128_load(buf);
}

/* Writes only the low k (0..3) lanes of v to p. */
static inline void store_partial(float *p, v128_t v, size_t k) {
    float buf[4];
    wasm_v128_store(buf, v);
    memcpy(p, buf, k * sizeof(float));
}

/* All-ones in the lanes below k, zeros above. */
static inline v128_t lanes_below(size_t k) {
    return wasm_i32x4_lt(wasm_i32x4_make(0, 1, 2, 3), wasm_i32x4_splat((int32_t)k));
}

static inline float sum_lanes(v128_t v) {
    return (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1)) +
           (wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
}

/* For helpers that must be specialised at a call with constant sizes. */
#if defined(__GNUC__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ALWAYS_INLINE inline
#endif

#define F4(x) wasm_f32x4_splat(x)
#define LD(p) wasm_v128_load(p)
#define ST(p, v) wasm_v128_store((p), (v))
#define ADD wasm_f32x4_add
#define SUB wasm_f32x4_sub
#define MUL wasm_f32x4_mul

/* -------------------------------------------------------- gather / scatter
 *
 * The embedding's inner loops: E is usually 16 or 32. A block of 32, 16 or 4
 * columns stays in registers for all T tokens (8, 4 or 1 v128 accumulators),
 * so each token costs only its row's loads. Each column still sums its tokens
 * in order t = 0, 1, ..., exactly like the reference. Columns past the last
 * multiple of 4 are summed one by one, so a row is never read past its end. */

static void gather_cols32(float *out, const float *table, const uint16_t *ids, size_t T, size_t E) {
    v128_t a0 = F4(0.0f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    for (size_t t = 0; t < T; t++) {
        const float *r = table + (size_t)ids[t] * E;
        a0 = ADD(a0, LD(r + 0));  a1 = ADD(a1, LD(r + 4));
        a2 = ADD(a2, LD(r + 8));  a3 = ADD(a3, LD(r + 12));
        a4 = ADD(a4, LD(r + 16)); a5 = ADD(a5, LD(r + 20));
        a6 = ADD(a6, LD(r + 24)); a7 = ADD(a7, LD(r + 28));
    }
    ST(out + 0, a0);  ST(out + 4, a1);  ST(out + 8, a2);  ST(out + 12, a3);
    ST(out + 16, a4); ST(out + 20, a5); ST(out + 24, a6); ST(out + 28, a7);
}

/* Two tokens per iteration: both rows' loads are in flight together, while
 * each accumulator still adds row t before row t+1. */
#ifdef NN_NATIVE_AVX
static void gather_cols16(float *out, const float *table, const uint16_t *ids, size_t T, size_t E) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0;
    size_t t = 0;
    for (; t + 2 <= T; t += 2) {
        const float *r = table + (size_t)ids[t] * E;
        const float *s = table + (size_t)ids[t + 1] * E;
        __m256 r0 = _mm256_loadu_ps(r), r1 = _mm256_loadu_ps(r + 8);
        __m256 s0 = _mm256_loadu_ps(s), s1 = _mm256_loadu_ps(s + 8);
        a0 = _mm256_add_ps(_mm256_add_ps(a0, r0), s0);
        a1 = _mm256_add_ps(_mm256_add_ps(a1, r1), s1);
    }
    if (t < T) {
        const float *r = table + (size_t)ids[t] * E;
        a0 = _mm256_add_ps(a0, _mm256_loadu_ps(r));
        a1 = _mm256_add_ps(a1, _mm256_loadu_ps(r + 8));
    }
    _mm256_storeu_ps(out, a0);
    _mm256_storeu_ps(out + 8, a1);
}
#else
static void gather_cols16(float *out, const float *table, const uint16_t *ids, size_t T, size_t E) {
    v128_t a0 = F4(0.0f), a1 = a0, a2 = a0, a3 = a0;
    size_t t = 0;
    for (; t + 2 <= T; t += 2) {
        const float *r = table + (size_t)ids[t] * E;
        const float *s = table + (size_t)ids[t + 1] * E;
        v128_t r0 = LD(r), r1 = LD(r + 4), r2 = LD(r + 8), r3 = LD(r + 12);
        v128_t s0 = LD(s), s1 = LD(s + 4), s2 = LD(s + 8), s3 = LD(s + 12);
        a0 = ADD(ADD(a0, r0), s0); a1 = ADD(ADD(a1, r1), s1);
        a2 = ADD(ADD(a2, r2), s2); a3 = ADD(ADD(a3, r3), s3);
    }
    if (t < T) {
        const float *r = table + (size_t)ids[t] * E;
        a0 = ADD(a0, LD(r)); a1 = ADD(a1, LD(r + 4));
        a2 = ADD(a2, LD(r + 8)); a3 = ADD(a3, LD(r + 12));
    }
    ST(out, a0); ST(out + 4, a1); ST(out + 8, a2); ST(out + 12, a3);
}
#endif

static void gather_cols4(float *out, const float *table, const uint16_t *ids, size_t T, size_t E) {
    v128_t a = F4(0.0f);
    for (size_t t = 0; t < T; t++) a = ADD(a, LD(table + (size_t)ids[t] * E));
    ST(out, a);
}

void nn_k_gather_sum(float *out, const float *table, const uint16_t *ids, size_t T, size_t E) {
    size_t E4 = E & ~(size_t)3, c = 0;
    for (; c + 32 <= E4; c += 32) gather_cols32(out + c, table + c, ids, T, E);
    for (; c + 16 <= E4; c += 16) gather_cols16(out + c, table + c, ids, T, E);
    for (; c + 4 <= E4; c += 4) gather_cols4(out + c, table + c, ids, T, E);
    for (; c < E; c++) {
        float sum = 0.0f;
        for (size_t t = 0; t < T; t++) sum += table[(size_t)ids[t] * E + c];
        out[c] = sum;
    }
}

/* scatter_add: scale * row is computed once and kept in registers; tokens are
 * applied one at a time (load, add, store), so a repeated id sees the update
 * of its earlier occurrence, as in the reference. */

static void scatter_cols32(float *table, const float *row, float scale, const uint16_t *ids, size_t T, size_t E) {
    v128_t s = F4(scale);
    v128_t d0 = MUL(s, LD(row + 0)),  d1 = MUL(s, LD(row + 4));
    v128_t d2 = MUL(s, LD(row + 8)),  d3 = MUL(s, LD(row + 12));
    v128_t d4 = MUL(s, LD(row + 16)), d5 = MUL(s, LD(row + 20));
    v128_t d6 = MUL(s, LD(row + 24)), d7 = MUL(s, LD(row + 28));
    for (size_t t = 0; t < T; t++) {
        float *r = table + (size_t)ids[t] * E;
        ST(r + 0, ADD(LD(r + 0), d0));   ST(r + 4, ADD(LD(r + 4), d1));
        ST(r + 8, ADD(LD(r + 8), d2));   ST(r + 12, ADD(LD(r + 12), d3));
        ST(r + 16, ADD(LD(r + 16), d4)); ST(r + 20, ADD(LD(r + 20), d5));
        ST(r + 24, ADD(LD(r + 24), d6)); ST(r + 28, ADD(LD(r + 28), d7));
    }
}

#ifdef NN_NATIVE_AVX
static void scatter_cols16(float *table, const float *row, float scale, const uint16_t *ids, size_t T, size_t E) {
    __m256 s = _mm256_set1_ps(scale);
    __m256 d0 = _mm256_mul_ps(s, _mm256_loadu_ps(row)), d1 = _mm256_mul_ps(s, _mm256_loadu_ps(row + 8));
    for (size_t t = 0; t < T; t++) {
        float *r = table + (size_t)ids[t] * E;
        _mm256_storeu_ps(r, _mm256_add_ps(_mm256_loadu_ps(r), d0));
        _mm256_storeu_ps(r + 8, _mm256_add_ps(_mm256_loadu_ps(r + 8), d1));
    }
}
#else
static void scatter_cols16(float *table, const float *row, float scale, const uint16_t *ids, size_t T, size_t E) {
    v128_t s = F4(scale);
    v128_t d0 = MUL(s, LD(row + 0)), d1 = MUL(s, LD(row + 4));
    v128_t d2 = MUL(s, LD(row + 8)), d3 = MUL(s, LD(row + 12));
    for (size_t t = 0; t < T; t++) {
        float *r = table + (size_t)ids[t] * E;
        ST(r + 0, ADD(LD(r + 0), d0)); ST(r + 4, ADD(LD(r + 4), d1));
        ST(r + 8, ADD(LD(r + 8), d2)); ST(r + 12, ADD(LD(r + 12), d3));
    }
}
#endif

static void scatter_cols4(float *table, const float *row, float scale, const uint16_t *ids, size_t T, size_t E) {
    v128_t d = MUL(F4(scale), LD(row));
    for (size_t t = 0; t < T; t++) {
        float *r = table + (size_t)ids[t] * E;
        ST(r, ADD(LD(r), d));
    }
}

void nn_k_scatter_add(float *table, const float *row, float scale, const uint16_t *ids, size_t T, size_t E) {
    size_t E4 = E & ~(size_t)3, c = 0;
    for (; c + 32 <= E4; c += 32) scatter_cols32(table + c, row + c, scale, ids, T, E);
    for (; c + 16 <= E4; c += 16) scatter_cols16(table + c, row + c, scale, ids, T, E);
    for (; c + 4 <= E4; c += 4) scatter_cols4(table + c, row + c, scale, ids, T, E);
    for (; c < E; c++) {
        float d = scale * row[c];
        for (size_t t = 0; t < T; t++) table[(size_t)ids[t] * E + c] += d;
    }
}

/* ------------------------------------------------------------ padding span */

/* 32 ids at a time while they are all padding, then eight, then one by one
 * (a short review's tail of padding is a hundred ids or more). */
static inline int all_zero32(const uint16_t *p) {
    return !wasm_v128_any_true(wasm_v128_or(wasm_v128_or(wasm_v128_load(p), wasm_v128_load(p + 8)),
                                            wasm_v128_or(wasm_v128_load(p + 16), wasm_v128_load(p + 24))));
}

void nn_k_nonzero_span(const uint16_t *ids, size_t n, size_t *start, size_t *end) {
    size_t a = 0, b = n;
    while (a + 32 <= n && all_zero32(ids + a)) a += 32;
    while (a + 8 <= n && !wasm_v128_any_true(wasm_v128_load(ids + a))) a += 8;
    while (a < n && ids[a] == 0) a++;
    if (a == n) {
        *start = *end = n;
        return;
    }
    while (b >= a + 32 && all_zero32(ids + b - 32)) b -= 32;
    while (b >= a + 8 && !wasm_v128_any_true(wasm_v128_load(ids + b - 8))) b -= 8;
    while (ids[b - 1] == 0) b--; /* stops at a + 1 at the latest: ids[a] != 0 */
    *start = a;
    *end = b;
}

/* ------------------------------------------------------------ dense forward
 *
 * Four outputs per vector: lane j of every accumulator belongs to output
 * o + j, and the accumulators s0..s3 of step l hold, lane by lane, exactly
 * the partial sums nn_k_dot keeps in lane l of its own s0..s3. Every
 * product, every addition and their order are nn_k_dot's (the tail's zero
 * lanes add +0 as its load_partial does), so each output equals
 * b[o] + nn_k_dot(x_i, w_o, C) bit for bit, at a quarter of the calls and
 * without the horizontal sums. w's four rows are transposed once into wt on
 * the stack and reused by all B rows. */
enum { DENSE_CMAX = 1024 };

/* Lane l of nn_k_dot's (s0 + s1) + (s2 + s3) for a row x of C = a multiple
 * of 16 inputs: no blocks of 4, no tail. */
static ALWAYS_INLINE v128_t dense_lane16(const float *x, const float *wt, size_t C, size_t l) {
    v128_t s0 = F4(0.0f), s1 = s0, s2 = s0, s3 = s0;
    for (size_t k = l; k < C; k += 16) {
        s0 = ADD(s0, MUL(F4(x[k]), LD(wt + k * 4)));
        s1 = ADD(s1, MUL(F4(x[k + 4]), LD(wt + (k + 4) * 4)));
        s2 = ADD(s2, MUL(F4(x[k + 8]), LD(wt + (k + 8) * 4)));
        s3 = ADD(s3, MUL(F4(x[k + 12]), LD(wt + (k + 12) * 4)));
    }
    return ADD(ADD(s0, s1), ADD(s2, s3));
}

/* dense_forward4's sums for C a multiple of 16, the lanes unrolled; called
 * with the constant 16 only (the bag model's E and H), so the loops vanish
 * (other sizes take the general loop below: one copy less in the wasm
 * module, which has a size budget). */
static ALWAYS_INLINE void dense_forward4_blocks16(float *out, size_t ldo, const float *x, const float *wt,
                                           const float *bias, size_t B, size_t C, size_t nw) {
    v128_t vb = LD(bias);
    for (size_t i = 0; i < B; i++) {
        const float *xi = x + i * C;
        v128_t y = ADD(vb, ADD(ADD(dense_lane16(xi, wt, C, 0), dense_lane16(xi, wt, C, 1)),
                               ADD(dense_lane16(xi, wt, C, 2), dense_lane16(xi, wt, C, 3))));
        if (nw == 4) ST(out + i * ldo, y);
        else store_partial(out + i * ldo, y, nw);
    }
}

static void dense_forward4(float *out, size_t ldo, const float *x, const float *wt, const float *bias,
                           size_t B, size_t C, size_t nw) {
    size_t k16 = C & ~(size_t)15, k4 = C & ~(size_t)3;
    if (C == 16) {
        dense_forward4_blocks16(out, ldo, x, wt, bias, B, 16, nw);
        return;
    }
    for (size_t i = 0; i < B; i++) {
        const float *xi = x + i * C;
        v128_t sl[4];
        /* Lane l of nn_k_dot's four accumulators, one lane at a time (so
         * only four are live): s0..s3 over the blocks of 16, then s0 over
         * the blocks of 4, then s1 over the tail. */
        for (size_t l = 0; l < 4; l++) {
            v128_t s0 = F4(0.0f), s1 = s0, s2 = s0, s3 = s0;
            for (size_t k = l; k < k16; k += 16) {
                s0 = ADD(s0, MUL(F4(xi[k]), LD(wt + k * 4)));
                s1 = ADD(s1, MUL(F4(xi[k + 4]), LD(wt + (k + 4) * 4)));
                s2 = ADD(s2, MUL(F4(xi[k + 8]), LD(wt + (k + 8) * 4)));
                s3 = ADD(s3, MUL(F4(xi[k + 12]), LD(wt + (k + 12) * 4)));
            }
            for (size_t k = k16 + l; k < k4; k += 4) s0 = ADD(s0, MUL(F4(xi[k]), LD(wt + k * 4)));
            if (k4 < C) s1 = ADD(s1, k4 + l < C ? MUL(F4(xi[k4 + l]), LD(wt + (k4 + l) * 4)) : F4(0.0f));
            sl[l] = ADD(ADD(s0, s1), ADD(s2, s3));
        }
        v128_t y = ADD(LD(bias), ADD(ADD(sl[0], sl[1]), ADD(sl[2], sl[3])));
        if (nw == 4) ST(out + i * ldo, y);
        else store_partial(out + i * ldo, y, nw);
    }
}

void nn_k_dense_forward(float *out, const float *x, const float *w, const float *b,
                        size_t B, size_t C, size_t OC) {
    if (OC < 4 || C > DENSE_CMAX) { /* one output, or a huge row: plain dots */
        for (size_t i = 0; i < B; i++)
            for (size_t o = 0; o < OC; o++) out[i * OC + o] = b[o] + nn_k_dot(x + i * C, w + o * C, C);
        return;
    }
    float wt[DENSE_CMAX * 4], bias[4];
    for (size_t o = 0; o < OC; o += 4) {
        size_t nw = OC - o < 4 ? OC - o : 4;
        for (size_t k = 0; k < C; k++)
            for (size_t j = 0; j < 4; j++) wt[k * 4 + j] = j < nw ? w[(o + j) * C + k] : 0.0f;
        for (size_t j = 0; j < 4; j++) bias[j] = j < nw ? b[o + j] : 0.0f;
        dense_forward4(out + o, OC, x, wt, bias, B, C, nw);
    }
}

/* ------------------------------------------------------------- elementwise */

static ALWAYS_INLINE void axpy_inline(float *y, float a, const float *x, size_t n) {
    v128_t va = F4(a);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) ST(y + i, ADD(LD(y + i), MUL(va, LD(x + i))));
    if (i < n) {
        size_t k = n - i;
        store_partial(y + i, ADD(load_partial(y + i, k), MUL(va, load_partial(x + i, k))), k);
    }
}

void nn_k_axpy(float *y, float a, const float *x, size_t n) { axpy_inline(y, a, x, n); }

/* The n-gram model's rows (kernels.h). The table is far larger than the
 * caches and read at random: natively the rows a few steps ahead are
 * prefetched (wasm has no prefetch). Each column still adds its rows in
 * order k = 0, 1, ..., so the sums are nn_k_axpy's. */
#if defined(__GNUC__) && !defined(__wasm__)
#define PREFETCH(p) __builtin_prefetch(p)
#else
#define PREFETCH(p) ((void)(p))
#endif
enum { ROWS_AHEAD = 16 };

void nn_k_rows_axpy(float *out, const float *table, const uint32_t *feat, const float *weight,
                    size_t n, size_t E) {
    size_t c = 0;
    for (; c + 8 <= E; c += 8) { /* eight columns in two registers for all n rows */
        v128_t a0 = LD(out + c), a1 = LD(out + c + 4);
        for (size_t k = 0; k < n; k++) {
            if (k + ROWS_AHEAD < n) {
                PREFETCH(table + (size_t)feat[k + ROWS_AHEAD] * E + c);
                if (weight) PREFETCH(weight + feat[k + ROWS_AHEAD]);
            }
            const float *r = table + (size_t)feat[k] * E + c;
            v128_t w = F4(weight ? weight[feat[k]] : 1.0f);
            a0 = ADD(a0, MUL(w, LD(r)));
            a1 = ADD(a1, MUL(w, LD(r + 4)));
        }
        ST(out + c, a0);
        ST(out + c + 4, a1);
    }
    for (; c + 4 <= E; c += 4) {
        v128_t a0 = LD(out + c);
        for (size_t k = 0; k < n; k++)
            a0 = ADD(a0, MUL(F4(weight ? weight[feat[k]] : 1.0f), LD(table + (size_t)feat[k] * E + c)));
        ST(out + c, a0);
    }
    for (; c < E; c++) {
        float a = out[c];
        for (size_t k = 0; k < n; k++) a += (weight ? weight[feat[k]] : 1.0f) * table[(size_t)feat[k] * E + c];
        out[c] = a;
    }
}

void nn_k_scatter_rows_axpy(float *table, const float *row, float scale, const uint32_t *feat,
                            const float *weight, size_t n, size_t E) {
    for (size_t k = 0; k < n; k++) {
        if (k + ROWS_AHEAD < n) PREFETCH(table + (size_t)feat[k + ROWS_AHEAD] * E);
        axpy_inline(table + (size_t)feat[k] * E, weight ? scale * weight[feat[k]] : scale, row, E);
    }
}

/* No loop over single floats (a compiler turns one back into memcpy). */
void nn_k_copy(float *dst, const float *src, size_t n) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) ST(dst + i, LD(src + i));
    switch (n - i) {
    case 3: dst[i + 2] = src[i + 2]; /* fall through */
    case 2: dst[i + 1] = src[i + 1]; /* fall through */
    case 1: dst[i] = src[i]; /* fall through */
    default: break;
    }
}

void nn_k_zero(float *p, size_t n) {
    v128_t z = F4(0.0f);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) ST(p + i, z);
    switch (n - i) {
    case 3: p[i + 2] = 0.0f; /* fall through */
    case 2: p[i + 1] = 0.0f; /* fall through */
    case 1: p[i] = 0.0f; /* fall through */
    default: break;
    }
}

/* ----------------------------------------------------------- dense backward
 *
 * The reference's loops with its axpys inlined: for the bag model's 16x16
 * layer they were calls of 16 floats each, millions per run. Called with the
 * constant 16 there, so the axpys become straight-line code. */
static ALWAYS_INLINE void dense_backward_rows(float *dinp, float *dw, float *db, const float *dout,
                                              const float *inp, const float *w, size_t B, size_t C,
                                              size_t OC) {
    for (size_t i = 0; i < B; i++) {
        const float *x = inp + i * C, *g = dout + i * OC;
        for (size_t o = 0; o < OC; o++) {
            float go = g[o];
            if (go == 0.0f) continue;
            db[o] += go;
            axpy_inline(dw + o * C, go, x, C);
            if (dinp) axpy_inline(dinp + i * C, go, w + o * C, C);
        }
    }
}

void nn_k_dense_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                         const float *w, size_t B, size_t C, size_t OC) {
    if (C == 16) dense_backward_rows(dinp, dw, db, dout, inp, w, B, 16, OC);
    else dense_backward_rows(dinp, dw, db, dout, inp, w, B, C, OC);
}

void nn_k_scale(float *y, float a, size_t n) {
    v128_t va = F4(a);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) ST(y + i, MUL(LD(y + i), va));
    if (i < n) store_partial(y + i, MUL(load_partial(y + i, n - i), va), n - i);
}

float nn_k_dot(const float *a, const float *b, size_t n) {
    v128_t s0 = F4(0.0f), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = ADD(s0, MUL(LD(a + i), LD(b + i)));
        s1 = ADD(s1, MUL(LD(a + i + 4), LD(b + i + 4)));
        s2 = ADD(s2, MUL(LD(a + i + 8), LD(b + i + 8)));
        s3 = ADD(s3, MUL(LD(a + i + 12), LD(b + i + 12)));
    }
    for (; i + 4 <= n; i += 4) s0 = ADD(s0, MUL(LD(a + i), LD(b + i)));
    if (i < n) s1 = ADD(s1, MUL(load_partial(a + i, n - i), load_partial(b + i, n - i)));
    return sum_lanes(ADD(ADD(s0, s1), ADD(s2, s3)));
}

/* f32x4.max: NaN passes through and -0 becomes +0, as in the reference. */
void nn_k_relu(float *out, const float *inp, size_t n) {
    v128_t zero = F4(0.0f);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) ST(out + i, wasm_f32x4_max(LD(inp + i), zero));
    if (i < n) store_partial(out + i, wasm_f32x4_max(load_partial(inp + i, n - i), zero), n - i);
}

/* A select, not "dinp + (dout & mask)", so untouched lanes keep their bits
 * (a -0.0 stays -0.0) exactly as the reference leaves them. */
static inline v128_t relu_backward4(v128_t dinp, v128_t dout, v128_t out) {
    return wasm_v128_bitselect(ADD(dinp, dout), dinp, wasm_f32x4_gt(out, F4(0.0f)));
}

void nn_k_relu_backward(float *dinp, const float *dout, const float *out, size_t n) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) ST(dinp + i, relu_backward4(LD(dinp + i), LD(dout + i), LD(out + i)));
    if (i < n) {
        size_t k = n - i;
        store_partial(dinp + i, relu_backward4(load_partial(dinp + i, k), load_partial(dout + i, k),
                                               load_partial(out + i, k)), k);
    }
}

/* --------------------------------------------------------------------- bce */

/* exp(x) for x <= 0, or NaN. Cephes expf (Moshier): x = n*ln2 + r with
 * |r| <= ln2/2, ln2 split in two so n*C1 is exact, then a degree-5
 * polynomial for exp(r). n is found by the 1.5*2^23 rounding trick (plain
 * IEEE adds, so identical on every target). 2^n is applied as 2^(n/2) *
 * 2^(n-n/2) so that results below FLT_MIN round correctly to denormals
 * instead of flushing to zero; below -104 exp(x) rounds to 0 anyway.
 * pmax(x, -104) is "x < -104 ? -104 : x", which lets a NaN through. */
static inline v128_t exp_nonpositive(v128_t x) {
    const v128_t magic = F4(12582912.0f); /* 1.5 * 2^23 */
    x = wasm_f32x4_pmax(x, F4(-104.0f));
    v128_t t = ADD(MUL(x, F4(1.44269504088896341f)), magic);
    v128_t fn = SUB(t, magic);                       /* nearest integer to x/ln2 */
    v128_t n = wasm_i32x4_sub(t, magic);             /* the same, as an int32 */
    v128_t r = SUB(x, MUL(fn, F4(0.693359375f)));
    r = SUB(r, MUL(fn, F4(-2.12194440e-4f)));
    v128_t p = F4(1.9875691500e-4f);
    p = ADD(MUL(p, r), F4(1.3981999507e-3f));
    p = ADD(MUL(p, r), F4(8.3334519073e-3f));
    p = ADD(MUL(p, r), F4(4.1665795894e-2f));
    p = ADD(MUL(p, r), F4(1.6666665459e-1f));
    p = ADD(MUL(p, r), F4(5.0000001201e-1f));
    v128_t y = ADD(ADD(MUL(p, MUL(r, r)), r), F4(1.0f));
    v128_t n1 = wasm_i32x4_shr(n, 1), n2 = wasm_i32x4_sub(n, n1);
    v128_t bias = wasm_i32x4_splat(127);
    y = MUL(y, wasm_i32x4_shl(wasm_i32x4_add(n1, bias), 23));
    return MUL(y, wasm_i32x4_shl(wasm_i32x4_add(n2, bias), 23));
}

/* log(1 + e) for e in [0, 1], or NaN. u = 1 + e is split as 2^k * m with
 * m in [sqrt(1/2), sqrt(2)], log(m) from Cephes logf's degree-8 polynomial,
 * and the rounding error c of 1 + e (exact: Fast2Sum) restored as c/u, the
 * fdlibm log1p correction, so tiny e gives log1p(e) = e. */
static inline v128_t log1p_unit(v128_t e) {
    v128_t one = F4(1.0f);
    v128_t u = ADD(e, one);
    v128_t c = SUB(e, SUB(u, one));
    v128_t big = wasm_f32x4_gt(u, F4(1.41421356f));
    v128_t f = SUB(wasm_v128_bitselect(MUL(u, F4(0.5f)), u, big), one);
    v128_t k = wasm_v128_and(big, one); /* 1.0f where u was halved, else 0.0f */
    v128_t z = MUL(f, f);
    v128_t p = F4(7.0376836292e-2f);
    p = ADD(MUL(p, f), F4(-1.1514610310e-1f));
    p = ADD(MUL(p, f), F4(1.1676998740e-1f));
    p = ADD(MUL(p, f), F4(-1.2420140846e-1f));
    p = ADD(MUL(p, f), F4(1.4249322787e-1f));
    p = ADD(MUL(p, f), F4(-1.6668057665e-1f));
    p = ADD(MUL(p, f), F4(2.0000714765e-1f));
    p = ADD(MUL(p, f), F4(-2.4999993993e-1f));
    p = ADD(MUL(p, f), F4(3.3333331174e-1f));
    v128_t y = MUL(MUL(p, f), z);
    y = ADD(y, MUL(k, F4(-2.12194440e-4f)));
    y = SUB(y, MUL(z, F4(0.5f)));
    y = ADD(y, wasm_f32x4_div(c, u));
    return ADD(ADD(f, y), MUL(k, F4(0.693359375f)));
}

/* One vector of bce_logits, the reference's expressions in its order. */
static inline v128_t bce4(v128_t *dlogit, v128_t *hit, v128_t z, v128_t y, v128_t gscale) {
    v128_t zero = F4(0.0f), one = F4(1.0f);
    v128_t e = exp_nonpositive(wasm_f32x4_neg(wasm_f32x4_abs(z)));
    v128_t z_pos = wasm_f32x4_gt(z, zero);
    v128_t relu_z = wasm_v128_and(z, z_pos);
    v128_t loss = ADD(SUB(relu_z, MUL(z, y)), log1p_unit(e));
    v128_t num = wasm_v128_bitselect(one, e, wasm_f32x4_ge(z, zero));
    *dlogit = MUL(SUB(wasm_f32x4_div(num, ADD(one, e)), y), gscale);
    *hit = wasm_i32x4_eq(z_pos, wasm_f32x4_gt(y, F4(0.5f)));
    return loss;
}

float nn_k_bce_logits(float *dlogit, const float *logit, const float *label, float gscale,
                      size_t n, uint32_t *correct) {
    v128_t vg = F4(gscale), sum = F4(0.0f), hits = wasm_i32x4_splat(0), d, hit;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        sum = ADD(sum, bce4(&d, &hit, LD(logit + i), LD(label + i), vg));
        hits = wasm_i32x4_sub(hits, hit); /* a hit lane is -1 */
        if (dlogit) ST(dlogit + i, d);
    }
    if (i < n) {
        size_t k = n - i;
        v128_t live = lanes_below(k);
        v128_t loss = bce4(&d, &hit, load_partial(logit + i, k), load_partial(label + i, k), vg);
        sum = ADD(sum, wasm_v128_and(loss, live));
        hits = wasm_i32x4_sub(hits, wasm_v128_and(hit, live));
        if (dlogit) store_partial(dlogit + i, d, k);
    }
    if (correct) {
        *correct += (uint32_t)(wasm_i32x4_extract_lane(hits, 0) + wasm_i32x4_extract_lane(hits, 1) +
                               wasm_i32x4_extract_lane(hits, 2) + wasm_i32x4_extract_lane(hits, 3));
    }
    return sum_lanes(sum);
}

/* -------------------------------------------------------------- optimizers */

/* An infinity or a NaN has all exponent bits set: per lane, whether
 * (bits & exponent) == exponent. Integer compares, so no float exception or
 * rounding question arises. */
static inline v128_t nonfinite4(v128_t x) {
    const v128_t expo = wasm_i32x4_splat(0x7f800000);
    return wasm_i32x4_eq(wasm_v128_and(x, expo), expo);
}

static inline v128_t adam4(v128_t p, v128_t *m, v128_t *v, v128_t g, v128_t lr_t, v128_t b1,
                           v128_t b2, v128_t one_minus_b1, v128_t one_minus_b2, v128_t eps) {
    *m = ADD(MUL(b1, *m), MUL(one_minus_b1, g));
    *v = ADD(MUL(b2, *v), MUL(one_minus_b2, MUL(g, g)));
    return SUB(p, wasm_f32x4_div(MUL(lr_t, *m), ADD(wasm_f32x4_sqrt(*v), eps)));
}

/* The new weights' finiteness is gathered on the way (an OR of
 * nonfinite4), so the trainer's check costs no second pass over them. */
static ALWAYS_INLINE int adam_span(float *out, const float *p, const float *g, float *m, float *v, size_t n,
                                   float lr_t, float b1, float b2, float eps) {
    v128_t vlr = F4(lr_t), vb1 = F4(b1), vb2 = F4(b2), veps = F4(eps);
    v128_t omb1 = F4(1.0f - b1), omb2 = F4(1.0f - b2), bad = wasm_i32x4_splat(0);
    size_t i = 0;
#ifdef NN_NATIVE_AVX
    {
        __m256 lr8 = _mm256_set1_ps(lr_t), b18 = _mm256_set1_ps(b1), b28 = _mm256_set1_ps(b2);
        __m256 eps8 = _mm256_set1_ps(eps), omb18 = _mm256_set1_ps(1.0f - b1);
        __m256 omb28 = _mm256_set1_ps(1.0f - b2);
        __m256i expo = _mm256_set1_epi32(0x7f800000), bad8 = _mm256_setzero_si256();
        for (; i + 8 <= n; i += 8) {
            __m256 g8 = _mm256_loadu_ps(g + i);
            __m256 m8 = _mm256_add_ps(_mm256_mul_ps(b18, _mm256_loadu_ps(m + i)), _mm256_mul_ps(omb18, g8));
            __m256 v8 = _mm256_add_ps(_mm256_mul_ps(b28, _mm256_loadu_ps(v + i)),
                                      _mm256_mul_ps(omb28, _mm256_mul_ps(g8, g8)));
            __m256 p8 = _mm256_sub_ps(_mm256_loadu_ps(p + i),
                                      _mm256_div_ps(_mm256_mul_ps(lr8, m8),
                                                    _mm256_add_ps(_mm256_sqrt_ps(v8), eps8)));
            __m256i e = _mm256_and_si256(_mm256_castps_si256(p8), expo);
            bad8 = _mm256_or_si256(bad8, _mm256_cmpeq_epi32(e, expo));
            _mm256_storeu_ps(out + i, p8);
            _mm256_storeu_ps(m + i, m8);
            _mm256_storeu_ps(v + i, v8);
        }
        if (!_mm256_testz_si256(bad8, bad8)) bad = wasm_i32x4_splat(-1);
    }
#endif
    for (; i + 4 <= n; i += 4) {
        v128_t vm = LD(m + i), vv = LD(v + i);
        v128_t vp = adam4(LD(p + i), &vm, &vv, LD(g + i), vlr, vb1, vb2, omb1, omb2, veps);
        bad = wasm_v128_or(bad, nonfinite4(vp));
        ST(out + i, vp); ST(m + i, vm); ST(v + i, vv);
    }
    if (i < n) {
        size_t k = n - i;
        v128_t vm = load_partial(m + i, k), vv = load_partial(v + i, k);
        v128_t vp = adam4(load_partial(p + i, k), &vm, &vv, load_partial(g + i, k), vlr, vb1, vb2,
                          omb1, omb2, veps);
        bad = wasm_v128_or(bad, wasm_v128_and(nonfinite4(vp), lanes_below(k)));
        store_partial(out + i, vp, k); store_partial(m + i, vm, k); store_partial(v + i, vv, k);
    }
    return !wasm_v128_any_true(bad);
}

int nn_k_adam(float *out, const float *p, const float *g, float *m, float *v, size_t n,
              float lr_t, float b1, float b2, float eps) {
    return adam_span(out, p, g, m, v, n, lr_t, b1, b2, eps);
}

/* nn_k_adam per row, without a call (and its constants) per 8-float row;
 * natively the rows a few steps ahead are prefetched (the n-gram table is
 * read at random). */
int nn_k_adam_rows(float *p, float *g, float *m, float *v, float *undo, const uint32_t *rows,
                   size_t nrows, size_t E, float lr_t, float b1, float b2, float eps) {
    int finite = 1;
    for (size_t k = 0; k < nrows; k++) {
        if (k + ROWS_AHEAD < nrows) {
            size_t ahead = (size_t)rows[k + ROWS_AHEAD] * E;
            PREFETCH(p + ahead);
            PREFETCH(g + ahead);
            PREFETCH(m + ahead);
            PREFETCH(v + ahead);
        }
        size_t at = (size_t)rows[k] * E;
        nn_k_copy(undo + k * E, p + at, E);
        finite &= adam_span(p + at, p + at, g + at, m + at, v + at, E, lr_t, b1, b2, eps);
        nn_k_zero(g + at, E);
    }
    return finite;
}

int nn_k_sgd(float *out, const float *p, const float *g, size_t n, float lr) {
    v128_t vlr = F4(lr), bad = wasm_i32x4_splat(0);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        v128_t vp = SUB(LD(p + i), MUL(vlr, LD(g + i)));
        bad = wasm_v128_or(bad, nonfinite4(vp));
        ST(out + i, vp);
    }
    if (i < n) {
        size_t k = n - i;
        v128_t vp = SUB(load_partial(p + i, k), MUL(vlr, load_partial(g + i, k)));
        bad = wasm_v128_or(bad, wasm_v128_and(nonfinite4(vp), lanes_below(k)));
        store_partial(out + i, vp, k);
    }
    return !wasm_v128_any_true(bad);
}

/* nonfinite4 (above) ORed together over four vectors at a time. */
int nn_k_all_finite(const float *x, size_t n) {
    v128_t b0 = wasm_i32x4_splat(0), b1 = b0, b2 = b0, b3 = b0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        b0 = wasm_v128_or(b0, nonfinite4(LD(x + i)));
        b1 = wasm_v128_or(b1, nonfinite4(LD(x + i + 4)));
        b2 = wasm_v128_or(b2, nonfinite4(LD(x + i + 8)));
        b3 = wasm_v128_or(b3, nonfinite4(LD(x + i + 12)));
    }
    for (; i + 4 <= n; i += 4) b0 = wasm_v128_or(b0, nonfinite4(LD(x + i)));
    if (i < n) b0 = wasm_v128_or(b0, nonfinite4(load_partial(x + i, n - i))); /* zeros are finite */
    return !wasm_v128_any_true(wasm_v128_or(wasm_v128_or(b0, b1), wasm_v128_or(b2, b3)));
}

/* ----------------------------------------------------------- matrix products
 *
 * One kernel body for out (M,N) += A . b where row m of A, column k, is
 * a[m*sam + k*sak]: sam = K, sak = 1 for a (M,K) (matmul_acc), and sam = 1,
 * sak = M for a (K,M) read transposed (matmul_tn_acc). A block of 4 rows by
 * 8 columns (8 v128 accumulators) stays in registers while k runs; every
 * accumulator starts from out and adds its products in k order, exactly like
 * the reference. Edge blocks: 1 row, 4 columns, and 1-3 columns through
 * load_partial/store_partial, so nothing is read or written past a row. */

#define MM_ROWS(X) X(0) X(1) X(2) X(3)

static inline void mm_4x8(float *o, size_t ldo, const float *a, size_t sam, size_t sak,
                          const float *b, size_t ldb, size_t K) {
#define DECL(r) v128_t c##r##0 = LD(o + r * ldo), c##r##1 = LD(o + r * ldo + 4);
    MM_ROWS(DECL)
#undef DECL
    for (size_t k = 0; k < K; k++) {
        const float *bk = b + k * ldb, *ak = a + k * sak;
        v128_t b0 = LD(bk), b1 = LD(bk + 4);
#define STEP(r)                                 \
    {                                           \
        v128_t ar = F4(ak[r * sam]);            \
        c##r##0 = ADD(c##r##0, MUL(ar, b0));    \
        c##r##1 = ADD(c##r##1, MUL(ar, b1));    \
    }
        MM_ROWS(STEP)
#undef STEP
    }
#define STORE(r) ST(o + r * ldo, c##r##0); ST(o + r * ldo + 4, c##r##1);
    MM_ROWS(STORE)
#undef STORE
}

/* 4 rows by w columns, w = 1..4 (w < 4 through the partial loads). */
static inline void mm_4xw(float *o, size_t ldo, const float *a, size_t sam, size_t sak,
                          const float *b, size_t ldb, size_t K, size_t w) {
    v128_t c0, c1, c2, c3;
    if (w == 4) {
        c0 = LD(o); c1 = LD(o + ldo); c2 = LD(o + 2 * ldo); c3 = LD(o + 3 * ldo);
        for (size_t k = 0; k < K; k++) {
            const float *ak = a + k * sak;
            v128_t bk = LD(b + k * ldb);
            c0 = ADD(c0, MUL(F4(ak[0]), bk));
            c1 = ADD(c1, MUL(F4(ak[sam]), bk));
            c2 = ADD(c2, MUL(F4(ak[2 * sam]), bk));
            c3 = ADD(c3, MUL(F4(ak[3 * sam]), bk));
        }
        ST(o, c0); ST(o + ldo, c1); ST(o + 2 * ldo, c2); ST(o + 3 * ldo, c3);
        return;
    }
    c0 = load_partial(o, w); c1 = load_partial(o + ldo, w);
    c2 = load_partial(o + 2 * ldo, w); c3 = load_partial(o + 3 * ldo, w);
    for (size_t k = 0; k < K; k++) {
        const float *ak = a + k * sak;
        v128_t bk = load_partial(b + k * ldb, w);
        c0 = ADD(c0, MUL(F4(ak[0]), bk));
        c1 = ADD(c1, MUL(F4(ak[sam]), bk));
        c2 = ADD(c2, MUL(F4(ak[2 * sam]), bk));
        c3 = ADD(c3, MUL(F4(ak[3 * sam]), bk));
    }
    store_partial(o, c0, w); store_partial(o + ldo, c1, w);
    store_partial(o + 2 * ldo, c2, w); store_partial(o + 3 * ldo, c3, w);
}

/* One row by w columns, w = 1..4. */
static inline void mm_1xw(float *o, const float *a, size_t sak, const float *b, size_t ldb,
                          size_t K, size_t w) {
    if (w == 4) {
        v128_t c = LD(o);
        for (size_t k = 0; k < K; k++) c = ADD(c, MUL(F4(a[k * sak]), LD(b + k * ldb)));
        ST(o, c);
        return;
    }
    v128_t c = load_partial(o, w);
    for (size_t k = 0; k < K; k++) c = ADD(c, MUL(F4(a[k * sak]), load_partial(b + k * ldb, w)));
    store_partial(o, c, w);
}

static void matmul_strided(float *out, size_t ldo, const float *a, size_t sam, size_t sak,
                           const float *b, size_t ldb, size_t M, size_t K, size_t N) {
    size_t m = 0;
    for (; m + 4 <= M; m += 4) {
        float *o = out + m * ldo;
        const float *am = a + m * sam;
        size_t n = 0;
        for (; n + 8 <= N; n += 8) mm_4x8(o + n, ldo, am, sam, sak, b + n, ldb, K);
        for (; n < N; n += 4) mm_4xw(o + n, ldo, am, sam, sak, b + n, ldb, K, N - n < 4 ? N - n : 4);
    }
    for (; m < M; m++) {
        for (size_t n = 0; n < N; n += 4)
            mm_1xw(out + m * ldo + n, a + m * sam, sak, b + n, ldb, K, N - n < 4 ? N - n : 4);
    }
}

void nn_k_matmul_acc(float *out, const float *a, const float *b, size_t M, size_t K, size_t N) {
    matmul_strided(out, N, a, K, 1, b, N, M, K, N);
}

/* K is long here (all T*B rows of a batch): taken in slices of 256 rows so
 * the slices of a and b stay in cache while every block of out passes over
 * them. Each slice continues the accumulation where the last one stopped, so
 * the order of the sums is still k ascending. */
void nn_k_matmul_tn_acc_ld(float *out, size_t ldo, const float *a, size_t lda, const float *b,
                           size_t ldb, size_t M, size_t K, size_t N) {
    const size_t SLICE = 256;
    for (size_t k0 = 0; k0 < K; k0 += SLICE) {
        size_t k = K - k0 < SLICE ? K - k0 : SLICE;
        matmul_strided(out, ldo, a + k0 * lda, 1, lda, b + k0 * ldb, ldb, M, k, N);
    }
}

void nn_k_matmul_tn_acc(float *out, const float *a, const float *b, size_t M, size_t K, size_t N) {
    nn_k_matmul_tn_acc_ld(out, N, a, M, b, N, M, K, N);
}

/* ----------------------------------------------------------- sigmoid, tanh */

static inline v128_t sigmoid4(v128_t x) {
    v128_t one = F4(1.0f);
    v128_t e = exp_nonpositive(wasm_f32x4_neg(wasm_f32x4_abs(x)));
    v128_t num = wasm_v128_bitselect(one, e, wasm_f32x4_ge(x, F4(0.0f)));
    return wasm_f32x4_div(num, ADD(one, e));
}

/* Cephes tanhf (Moshier): below |x| = 0.625 an odd polynomial,
 * |x| + |x|*x^2*P(x^2); above it (1 - e)/(1 + e) with e = exp(-2|x|), which
 * then is at most 0.29, so 1 - e loses nothing. The sign of x is put back
 * last, so tanh(-0) = -0 and a NaN stays a NaN. */
static inline v128_t tanh4(v128_t x) {
    v128_t one = F4(1.0f), sign = wasm_i32x4_splat((int32_t)0x80000000u);
    v128_t ax = wasm_f32x4_abs(x);
    v128_t z = MUL(ax, ax);
    v128_t p = F4(-5.70498872745e-3f);
    p = ADD(MUL(p, z), F4(2.06390887954e-2f));
    p = ADD(MUL(p, z), F4(-5.37397155531e-2f));
    p = ADD(MUL(p, z), F4(1.33314422036e-1f));
    p = ADD(MUL(p, z), F4(-3.33332819422e-1f));
    v128_t small = ADD(MUL(MUL(p, z), ax), ax);
    v128_t e = exp_nonpositive(MUL(ax, F4(-2.0f)));
    v128_t big = wasm_f32x4_div(SUB(one, e), ADD(one, e));
    v128_t r = wasm_v128_bitselect(small, big, wasm_f32x4_lt(ax, F4(0.625f)));
    return wasm_v128_or(r, wasm_v128_and(x, sign));
}

void nn_k_sigmoid(float *out, const float *inp, size_t n) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) ST(out + i, sigmoid4(LD(inp + i)));
    if (i < n) store_partial(out + i, sigmoid4(load_partial(inp + i, n - i)), n - i);
}

void nn_k_tanh(float *out, const float *inp, size_t n) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) ST(out + i, tanh4(LD(inp + i)));
    if (i < n) store_partial(out + i, tanh4(load_partial(inp + i, n - i)), n - i);
}

/* ------------------------------------------- the Transformer encoder's kernels */

void nn_k_matmul_acc_ld(float *out, size_t ldo, const float *a, size_t lda, const float *b,
                        size_t ldb, size_t M, size_t K, size_t N) {
    matmul_strided(out, ldo, a, lda, 1, b, ldb, M, K, N);
}

static inline float max_lanes(v128_t v) {
    float a = wasm_f32x4_extract_lane(v, 0), b = wasm_f32x4_extract_lane(v, 1);
    float c = wasm_f32x4_extract_lane(v, 2), d = wasm_f32x4_extract_lane(v, 3);
    a = a > b ? a : b;
    c = c > d ? c : d;
    return a > c ? a : c;
}

/* Three passes over the row (max, exp and sum, scale); scale*z is
 * recomputed in each pass rather than stored, with the same rounding. */
void nn_k_softmax_scaled(float *p, const float *z, float scale, size_t n) {
    if (n == 0) return;
    v128_t sc = F4(scale), ninf = F4(-INFINITY);
    v128_t mx4 = ninf;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) mx4 = wasm_f32x4_max(mx4, MUL(sc, LD(z + i)));
    float mx = max_lanes(mx4);
    for (; i < n; i++) {
        float s = scale * z[i];
        mx = s > mx ? s : mx;
    }
    v128_t m4 = F4(mx), zero = F4(0.0f);
    v128_t s0 = zero, s1 = zero;
    i = 0;
    for (; i + 8 <= n; i += 8) {
        v128_t a = MUL(sc, LD(z + i)), b = MUL(sc, LD(z + i + 4));
        v128_t ea = wasm_v128_andnot(exp_nonpositive(SUB(a, m4)), wasm_f32x4_eq(a, ninf));
        v128_t eb = wasm_v128_andnot(exp_nonpositive(SUB(b, m4)), wasm_f32x4_eq(b, ninf));
        ST(p + i, ea);
        ST(p + i + 4, eb);
        s0 = ADD(s0, ea);
        s1 = ADD(s1, eb);
    }
    for (; i < n; i += 4) {
        size_t k = n - i < 4 ? n - i : 4;
        v128_t a = MUL(sc, load_partial(z + i, k));
        v128_t keep = wasm_v128_andnot(lanes_below(k), wasm_f32x4_eq(a, ninf));
        v128_t ea = wasm_v128_and(exp_nonpositive(SUB(a, m4)), keep);
        store_partial(p + i, ea, k);
        s0 = ADD(s0, ea);
    }
    float inv = 1.0f / sum_lanes(ADD(s0, s1));
    nn_k_scale(p, inv, n);
}

void nn_k_layernorm(float *out, float *mean, float *rstd, const float *x, const float *w,
                    const float *b, size_t n, float eps) {
    v128_t zero = F4(0.0f), a0 = zero, a1 = zero;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        a0 = ADD(a0, LD(x + i));
        a1 = ADD(a1, LD(x + i + 4));
    }
    for (; i < n; i += 4) a0 = ADD(a0, load_partial(x + i, n - i < 4 ? n - i : 4));
    float m = sum_lanes(ADD(a0, a1)) / (float)n;
    v128_t m4 = F4(m);
    a0 = zero;
    a1 = zero;
    for (i = 0; i + 8 <= n; i += 8) {
        v128_t d0 = SUB(LD(x + i), m4), d1 = SUB(LD(x + i + 4), m4);
        a0 = ADD(a0, MUL(d0, d0));
        a1 = ADD(a1, MUL(d1, d1));
    }
    for (; i < n; i += 4) {
        size_t k = n - i < 4 ? n - i : 4;
        v128_t d = wasm_v128_and(SUB(load_partial(x + i, k), m4), lanes_below(k));
        a0 = ADD(a0, MUL(d, d));
    }
    float r = 1.0f / sqrtf(sum_lanes(ADD(a0, a1)) / (float)n + eps);
    v128_t r4 = F4(r);
    for (i = 0; i + 4 <= n; i += 4)
        ST(out + i, ADD(MUL(MUL(SUB(LD(x + i), m4), r4), LD(w + i)), LD(b + i)));
    for (; i < n; i++) out[i] = ((x[i] - m) * r) * w[i] + b[i];
    *mean = m;
    *rstd = r;
}

#define GELU_C 0.7978845608028654f /* sqrt(2/pi) */
#define GELU_K 0.044715f

static inline v128_t gelu_tanh4(v128_t x, v128_t x2) {
    return tanh4(MUL(F4(GELU_C), ADD(x, MUL(F4(GELU_K), MUL(x2, x)))));
}

static inline v128_t gelu4(v128_t x) {
    v128_t t = tanh4(MUL(F4(GELU_C), ADD(x, MUL(F4(GELU_K), MUL(MUL(x, x), x)))));
    return MUL(MUL(F4(0.5f), x), ADD(F4(1.0f), t));
}

void nn_k_gelu(float *out, const float *inp, size_t n) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) ST(out + i, gelu4(LD(inp + i)));
    if (i < n) store_partial(out + i, gelu4(load_partial(inp + i, n - i)), n - i);
}

static inline v128_t gelu_backward4(v128_t dinp, v128_t dout, v128_t x) {
    v128_t half = F4(0.5f), one = F4(1.0f), x2 = MUL(x, x);
    v128_t t = gelu_tanh4(x, x2);
    v128_t d = ADD(MUL(half, ADD(one, t)),
                   MUL(MUL(MUL(half, x), SUB(one, MUL(t, t))),
                       MUL(F4(GELU_C), ADD(one, MUL(F4(3.0f * GELU_K), x2)))));
    return ADD(dinp, MUL(dout, d));
}

void nn_k_gelu_backward(float *dinp, const float *dout, const float *inp, size_t n) {
    size_t i = 0;
    for (; i + 4 <= n; i += 4) ST(dinp + i, gelu_backward4(LD(dinp + i), LD(dout + i), LD(inp + i)));
    if (i < n) {
        size_t k = n - i;
        store_partial(dinp + i,
                      gelu_backward4(load_partial(dinp + i, k), load_partial(dout + i, k),
                                     load_partial(inp + i, k)), k);
    }
}
