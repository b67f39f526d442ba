/* test_attention.c: the Transformer encoder's kernels, layers and model.
 *
 * 1. Kernels against their scalar references (kernels_ref.c) over sizes
 *    1, 3, 4, 5, 7, 8, 15, 16, 17, 64, 1000 with starts offset by 0-3 floats
 *    and a NaN canary after every output (as test_kernels.c does):
 *      matmul_acc_ld       exact (the products are added in k order)
 *      softmax_scaled      4e-6 relative per element (own exp, lane sums);
 *                          masked (-inf) entries exactly 0
 *      layernorm           1e-5 * (1 + |out|) (four-lane sums)
 *      gelu, its backward  tanh within 4 ulp of tanhf, so 2e-6 * (1+|x|^3)
 * 2. Every backward pass against central finite differences (h = 1e-6) of
 *    a double-precision re-implementation of the forward pass, L = sum G*out
 *    with a fixed random G, as test_layers_gradcheck.c does: layer norm,
 *    GELU, attention with ragged lengths under 'pre' and 'post' padding, a
 *    masked hole inside a run and a row of padding only, one whole encoder
 *    block (with dropout, its masks fixed), and the whole classifier (two
 *    blocks, final layer norm, masked mean, dense head, cross-entropy).
 *    AdamW's decoupled decay (exact, on the weights only) and the warm-up
 *    and linear-decay schedule at its corners.
 * 3. Learning: whether the first and the last real token of a sequence of
 *    ragged length (3..12, 'post' padded, 6 symbols) are the same, which
 *    needs attention: a 2-block encoder (E 32, 2 heads, weights of sd 0.1)
 *    trained by Adam 0.003 on fresh batches of 32 for 1200 steps reaches
 *    1.000 on 1024 held-out sequences (0.94 after 800 steps; with BERT's
 *    sd 0.02 it stays near chance that long). A mean-pooled bag of the same
 *    embeddings (Dense(16, ReLU) head, 1500 steps) gets 0.58: it only sees
 *    that a token occurs twice, not where. */
#include "check.h"
#include "gradcheck.h"
#include "encoder.h"
#include "kernels.h"
#include "layers.h"
#include "layers_attn.h"
#include "nn.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

static nn_rng rng;
static double rnd(void) { return nn_rng_uniform(&rng, -1.0f, 1.0f); }

/* ============================================================ 1. kernels */

static const size_t SIZES[] = {1, 3, 4, 5, 7, 8, 15, 16, 17, 64, 1000};
#define NSIZES (sizeof SIZES / sizeof SIZES[0])
static const uint32_t CANARY_BITS = 0x7fc0ca7au;

static float *buf_make(size_t n, size_t off, float lo, float hi, float **base) {
    *base = malloc((off + n + 1) * sizeof(float));
    if (!*base) {
        printf("FAIL out of memory\n");
        exit(1);
    }
    float *p = *base + off;
    for (size_t i = 0; i < n; i++) p[i] = nn_rng_uniform(&rng, lo, hi);
    memcpy(p + n, &CANARY_BITS, sizeof CANARY_BITS);
    return p;
}

static int canary_ok(const float *p, size_t n) {
    uint32_t bits;
    memcpy(&bits, p + n, sizeof bits);
    return bits == CANARY_BITS;
}

static void test_matmul_ld(void) {
    static const size_t dims[] = {1, 3, 4, 5, 8, 9, 17};
    int all = 1, canaries = 1;
    size_t cases = 0;
    for (size_t im = 0; im < 7; im++)
        for (size_t ik = 0; ik < 7; ik++)
            for (size_t in = 0; in < 7; in++) {
                size_t M = dims[im], K = dims[ik], N = dims[in], off = (im + ik + in) % 4;
                size_t ldo = N + 3, lda = K + 2, ldb = N + 5;
                float *bo, *ba, *bb, *br;
                float *a = buf_make(M * lda, off, -1, 1, &ba), *b = buf_make(K * ldb, off, -1, 1, &bb);
                float *o = buf_make(M * ldo, off, -1, 1, &bo), *r = buf_make(M * ldo, 0, 0, 0, &br);
                memcpy(r, o, M * ldo * sizeof(float));
                nn_k_matmul_acc_ld(o, ldo, a, lda, b, ldb, M, K, N);
                nn_k_matmul_acc_ld_ref(r, ldo, a, lda, b, ldb, M, K, N);
                all &= memcmp(o, r, M * ldo * sizeof(float)) == 0;
                canaries &= canary_ok(o, M * ldo);
                cases++;
                free(bo); free(ba); free(bb); free(br);
            }
    check(all && canaries, "matmul_acc_ld %zu shapes (M,K,N in 1..17, strided rows, offset starts) "
          "bit for bit%s", cases, canaries ? "" : " canary overwritten");
}

static void test_softmax(void) {
    for (size_t s = 0; s < NSIZES; s++)
        for (size_t off = 0; off < 4; off++) {
            size_t n = SIZES[s];
            float *bz, *bp, *br;
            float *z = buf_make(n, off, -8, 8, &bz), *p = buf_make(n, (off + 1) % 4, 0, 0, &bp);
            float *r = buf_make(n, 0, 0, 0, &br);
            /* mask every third entry (a padded key), never the first */
            for (size_t i = 1; i < n; i += 3) z[i] = -INFINITY;
            nn_k_softmax_scaled(p, z, 0.7f, n);
            nn_k_softmax_scaled_ref(r, z, 0.7f, n);
            double worst = 0, sum = 0;
            int zeros = 1;
            for (size_t i = 0; i < n; i++) {
                double d = fabs((double)p[i] - r[i]) / (r[i] + 1e-30);
                if (!(d <= worst)) worst = d;
                sum += p[i];
                if (z[i] == -INFINITY) zeros &= p[i] == 0.0f;
            }
            check(worst <= 4e-6 && zeros && fabs(sum - 1) < 1e-5 && canary_ok(p, n),
                  "softmax_scaled n=%zu off=%zu max rel %.1e, masked exactly 0: %d, sum-1 %.1e%s", n, off,
                  worst, zeros, sum - 1, canary_ok(p, n) ? "" : " canary overwritten");
            free(bz); free(bp); free(br);
        }
    /* stability: logits of 1e4 and -1e4 need the max subtracted */
    float z[5] = {1e4f, 1e4f - 1.0f, -1e4f, 0.0f, 1e4f}, p[5];
    nn_k_softmax_scaled(p, z, 1.0f, 5);
    check(fabsf(p[0] - p[4]) == 0 && fabsf(p[0] - 0.422318f) < 1e-5f && p[2] == 0.0f,
          "softmax_scaled large logits stay finite: p = %g %g %g %g %g", p[0], p[1], p[2], p[3], p[4]);
}

static void test_layernorm_kernel(void) {
    for (size_t s = 0; s < NSIZES; s++)
        for (size_t off = 0; off < 4; off++) {
            size_t n = SIZES[s];
            float *bx, *bw, *bb, *bo, *br;
            float *x = buf_make(n, off, -3, 5, &bx), *w = buf_make(n, (off + 2) % 4, 0.5f, 1.5f, &bw);
            float *b = buf_make(n, (off + 3) % 4, -1, 1, &bb), *o = buf_make(n, (off + 1) % 4, 0, 0, &bo);
            float *r = buf_make(n, 0, 0, 0, &br);
            float m1, s1, m2, s2;
            nn_k_layernorm(o, &m1, &s1, x, w, b, n, NN_LAYERNORM_EPS);
            nn_k_layernorm_ref(r, &m2, &s2, x, w, b, n, NN_LAYERNORM_EPS);
            double worst = 0;
            for (size_t i = 0; i < n; i++) {
                double d = fabs((double)o[i] - r[i]) / (1 + fabs(r[i]));
                if (!(d <= worst)) worst = d;
            }
            int stats = fabsf(m1 - m2) <= 1e-5f * (1 + fabsf(m2)) && fabsf(s1 - s2) <= 1e-5f * s2;
            check(worst <= 1e-5 && stats && canary_ok(o, n), "layernorm n=%zu off=%zu maxdiff %.1e mean/rstd %s%s",
                  n, off, worst, stats ? "agree" : "DIFFER", canary_ok(o, n) ? "" : " canary overwritten");
            free(bx); free(bw); free(bb); free(bo); free(br);
        }
}

static void test_gelu_kernels(void) {
    for (size_t s = 0; s < NSIZES; s++)
        for (size_t off = 0; off < 4; off++) {
            size_t n = SIZES[s];
            float *bx, *bo, *br, *bg, *bd, *be;
            float *x = buf_make(n, off, -6, 6, &bx), *o = buf_make(n, (off + 1) % 4, 0, 0, &bo);
            float *r = buf_make(n, 0, 0, 0, &br), *g = buf_make(n, (off + 2) % 4, -1, 1, &bg);
            float *d = buf_make(n, (off + 3) % 4, -1, 1, &bd), *e = buf_make(n, 0, 0, 0, &be);
            memcpy(e, d, n * sizeof(float));
            nn_k_gelu(o, x, n);
            nn_k_gelu_ref(r, x, n);
            nn_k_gelu_backward(d, g, x, n);
            nn_k_gelu_backward_ref(e, g, x, n);
            double wf = 0, wb = 0;
            for (size_t i = 0; i < n; i++) {
                double ax = fabs(x[i]), tol = 2e-6 * (1 + ax * ax * ax);
                double df = fabs((double)o[i] - r[i]) / tol, db = fabs((double)d[i] - e[i]) / (tol + 1e-7 * fabs(e[i]));
                if (!(df <= wf)) wf = df;
                if (!(db <= wb)) wb = db;
            }
            check(wf <= 1 && canary_ok(o, n), "gelu n=%zu off=%zu worst/tolerance %.2f%s", n, off, wf,
                  canary_ok(o, n) ? "" : " canary overwritten");
            check(wb <= 1 && canary_ok(d, n), "gelu_backward n=%zu off=%zu worst/tolerance %.2f%s", n, off, wb,
                  canary_ok(d, n) ? "" : " canary overwritten");
            free(bx); free(bo); free(br); free(bg); free(bd); free(be);
        }
    float sp[4] = {NAN, 0.0f, 1e30f, -1e30f}, out[4];
    nn_k_gelu(out, sp, 4);
    check(isnan(out[0]) && out[1] == 0.0f && out[2] == 1e30f && out[3] == 0.0f,
          "gelu special values: NaN -> %g, 0 -> %g, 1e30 -> %g, -1e30 -> %g", out[0], out[1], out[2], out[3]);
}

/* ================================================ 2. double references */


static void ln_ref(double *out, const double *x, const double *w, const double *b, int N, int E) {
    for (int r = 0; r < N; r++) {
        const double *xr = x + r * E;
        double m = 0, v = 0;
        for (int i = 0; i < E; i++) m += xr[i];
        m /= E;
        for (int i = 0; i < E; i++) v += (xr[i] - m) * (xr[i] - m);
        double s = 1 / sqrt(v / E + NN_LAYERNORM_EPS);
        for (int i = 0; i < E; i++) out[r * E + i] = (xr[i] - m) * s * w[i] + b[i];
    }
}

static double gelu1(double x) { return 0.5 * x * (1 + tanh(sqrt(2 / 3.14159265358979323846) * (x + 0.044715 * x * x * x))); }

static void linear_ref(double *out, const double *x, const double *w, const double *b, int N, int C, int OC) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            double s = b[o];
            for (int c = 0; c < C; c++) s += x[n * C + c] * w[c * OC + o];
            out[n * OC + o] = s;
        }
}

/* ALiBi's slopes for attn_ref (NH of them), or NULL: no distance penalty. */
static const float *ref_alibi;

static void attn_ref(double *out, const double *qkv, const uint8_t *mask, int B, int T, int E, int NH) {
    int D = E / NH;
    memset(out, 0, sizeof(double) * B * T * E);
    for (int b = 0; b < B; b++) {
        int s = 0, e = T;
        while (s < T && !mask[b * T + s]) s++;
        while (e > s && !mask[b * T + e - 1]) e--;
        for (int h = 0; h < NH; h++)
            for (int i = s; i < e; i++) {
                double sc[64], mx = -1e300, sum = 0;
                const double *q = qkv + (b * T + i) * 3 * E + h * D;
                for (int j = s; j < e; j++) {
                    if (!mask[b * T + j]) continue;
                    const double *k = qkv + (b * T + j) * 3 * E + E + h * D;
                    double d = 0;
                    for (int c = 0; c < D; c++) d += q[c] * k[c];
                    sc[j] = d / sqrt(D) - (ref_alibi ? ref_alibi[h] * abs(i - j) : 0.0);
                    if (sc[j] > mx) mx = sc[j];
                }
                for (int j = s; j < e; j++)
                    if (mask[b * T + j]) sum += sc[j] = exp(sc[j] - mx);
                for (int j = s; j < e; j++) {
                    if (!mask[b * T + j]) continue;
                    const double *v = qkv + (b * T + j) * 3 * E + 2 * E + h * D;
                    for (int c = 0; c < D; c++) out[(b * T + i) * E + h * D + c] += sc[j] / sum * v[c];
                }
            }
    }
}

/* A block's parameters in double, carved in nn_encoder_block_carve's order. */
typedef struct {
    double *ln1_w, *ln1_b, *qkv_w, *qkv_b, *proj_w, *proj_b, *ln2_w, *ln2_b, *fc_w, *fc_b, *fc2_w, *fc2_b;
} block_d;

static size_t block_d_carve(block_d *p, double *q0, int E, int F) {
    double *q = q0;
#define TAKE(f, n) (p->f = q, q += (n))
    TAKE(ln1_w, E); TAKE(ln1_b, E); TAKE(qkv_w, E * 3 * E); TAKE(qkv_b, 3 * E);
    TAKE(proj_w, E * E); TAKE(proj_b, E); TAKE(ln2_w, E); TAKE(ln2_b, E);
    TAKE(fc_w, E * F); TAKE(fc_b, F); TAKE(fc2_w, F * E); TAKE(fc2_b, E);
#undef TAKE
    return (size_t)(q - q0);
}

enum { MAXN = 64, MAXE = 16, MAXF = 32 };

/* keep1, keep2 (N*E) the dropout masks, or NULL */
static void block_ref(double *out, const double *x, const uint8_t *mask, const block_d *p,
                      const float *keep1, const float *keep2, int B, int T, int E, int NH, int F) {
    int N = B * T;
    static double ln[MAXN * MAXE], qkv[MAXN * 3 * MAXE], y[MAXN * MAXE], pr[MAXN * MAXE], x1[MAXN * MAXE],
        h1[MAXN * MAXF], pr2[MAXN * MAXE];
    ln_ref(ln, x, p->ln1_w, p->ln1_b, N, E);
    linear_ref(qkv, ln, p->qkv_w, p->qkv_b, N, E, 3 * E);
    attn_ref(y, qkv, mask, B, T, E, NH);
    linear_ref(pr, y, p->proj_w, p->proj_b, N, E, E);
    for (int i = 0; i < N * E; i++) x1[i] = x[i] + pr[i] * (keep1 ? keep1[i] : 1);
    ln_ref(ln, x1, p->ln2_w, p->ln2_b, N, E);
    linear_ref(h1, ln, p->fc_w, p->fc_b, N, E, F);
    for (int i = 0; i < N * F; i++) h1[i] = gelu1(h1[i]);
    linear_ref(pr2, h1, p->fc2_w, p->fc2_b, N, F, E);
    for (int i = 0; i < N * E; i++) out[i] = x1[i] + pr2[i] * (keep2 ? keep2[i] : 1);
}

/* Fills mask (B,T) with ragged runs: row 0 'post' padded, row 1 'pre', row
 * 2 a hole inside its run, row 3 (if any) padding only. */
static void ragged_mask(uint8_t *mask, int B, int T) {
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            int m;
            if (b == 0) m = t < T - 2;
            else if (b == 1) m = t >= 3;
            else if (b == 2) m = t >= 1 && t != 2 && t < T - 1;
            else m = 0;
            mask[b * T + t] = (uint8_t)m;
        }
}

static void to_double(double *d, const float *f, size_t n) {
    for (size_t i = 0; i < n; i++) d[i] = f[i];
}

static double dot_gd(const float *G, const double *out, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += G[i] * out[i];
    return s;
}

/* ---- layer norm ---- */
static void check_layernorm(void) {
    enum { N = 5, E = 7 };
    float x[N * E], w[E], b[E], G[N * E], out[N * E], mean[N], rstd[N];
    float dx[N * E] = {0}, dw[E] = {0}, db[E] = {0};
    double xd[N * E], wd[E], bd[E], od[N * E], fx[N * E], fw[E], fb[E];
    for (int i = 0; i < N * E; i++) x[i] = (float)(rnd() * 2 + (i % 3));
    for (int i = 0; i < E; i++) w[i] = (float)(1 + 0.5 * rnd()), b[i] = (float)rnd();
    for (int i = 0; i < N * E; i++) G[i] = (float)rnd();
    for (int i = 0; i < N * E; i++) dx[i] = 0.25f; /* backward must add, not overwrite */
    nn_layernorm_forward(out, mean, rstd, x, w, b, N, E);
    nn_layernorm_backward(dx, dw, db, G, x, w, mean, rstd, N, E);
    for (int i = 0; i < N * E; i++) dx[i] -= 0.25f;
    to_double(xd, x, N * E); to_double(wd, w, E); to_double(bd, b, E);
    ln_ref(od, xd, wd, bd, N, E);
    double fwd = 0;
    for (int i = 0; i < N * E; i++) fwd = fmax(fwd, fabs(out[i] - od[i]));
    const double h = 1e-6;
    double *sets[3] = {xd, wd, bd}, *fds[3] = {fx, fw, fb};
    int sizes[3] = {N * E, E, E};
    for (int s = 0; s < 3; s++)
        for (int i = 0; i < sizes[s]; i++) {
            double save = sets[s][i], lp, lm;
            sets[s][i] = save + h; ln_ref(od, xd, wd, bd, N, E); lp = dot_gd(G, od, N * E);
            sets[s][i] = save - h; ln_ref(od, xd, wd, bd, N, E); lm = dot_gd(G, od, N * E);
            sets[s][i] = save;
            fds[s][i] = (lp - lm) / (2 * h);
        }
    double ex = maxrel(dx, fx, N * E), ew = maxrel(dw, fw, E), eb = maxrel(db, fb, E);
    check(fwd < 1e-5 && ex < 1e-3 && ew < 1e-4 && eb < 1e-4,
          "layernorm_backward forward_maxdiff=%.1e dX maxrel=%.1e dW maxrel=%.1e dB maxrel=%.1e", fwd, ex, ew, eb);
}

/* ---- GELU ---- */
static void check_gelu(void) {
    enum { N = 41 };
    float x[N], G[N], out[N], dx[N] = {0};
    double fd[N];
    for (int i = 0; i < N; i++) x[i] = (float)(-5 + 0.25 * i + 0.1 * rnd()), G[i] = (float)rnd();
    nn_gelu_forward(out, x, N);
    nn_gelu_backward(dx, G, x, N);
    double fwd = 0;
    const double h = 1e-6;
    for (int i = 0; i < N; i++) {
        fwd = fmax(fwd, fabs(out[i] - gelu1(x[i])));
        fd[i] = G[i] * (gelu1((double)x[i] + h) - gelu1((double)x[i] - h)) / (2 * h);
    }
    /* 1e-3: where GELU saturates (x near -5) 1 + t and 1 - t*t cancel in
     * float, leaving absolute errors of a few 1e-7 on a derivative near 0. */
    double e = maxrel(dx, fd, N);
    check(fwd < 1e-5 && e < 1e-3, "gelu_backward on [-5, 5] forward_maxdiff=%.1e dX maxrel=%.1e", fwd, e);
}

/* ---- attention ---- */
static void check_attention(int NH, int alibi) {
    enum { B = 4, T = 7, E = 8 };
    float slopes[8];
    nn_alibi_slopes(slopes, (uint32_t)NH);
    ref_alibi = alibi ? slopes : NULL;
    uint8_t mask[B * T];
    float qkv[B * T * 3 * E], G[B * T * E], out[B * T * E], att[B * 4 * T * T], dqkv[B * T * 3 * E] = {0};
    float work[64 + T * T + 64];
    double qd[B * T * 3 * E], od[B * T * E], fd[B * T * 3 * E];
    ragged_mask(mask, B, T);
    for (int i = 0; i < B * T * 3 * E; i++) qkv[i] = (float)(1.5 * rnd());
    for (int i = 0; i < B * T * E; i++) G[i] = (float)rnd();
    if (nn_attention_work_floats(T, E, NH) > sizeof work / sizeof work[0]) abort();
    nn_attention_forward(out, att, work, qkv, mask, B, T, E, NH, ref_alibi);
    nn_attention_backward(dqkv, work, G, qkv, att, mask, B, T, E, NH);
    to_double(qd, qkv, B * T * 3 * E);
    attn_ref(od, qd, mask, B, T, E, NH);
    double fwd = 0;
    for (int i = 0; i < B * T * E; i++) fwd = fmax(fwd, fabs(out[i] - od[i]));
    /* rows of attention sum to 1 over real keys, and masked keys get 0 */
    int rows_ok = 1;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int i = 0; i < T; i++) {
                const float *a = att + (((size_t)b * NH + h) * T + i) * T;
                double s = 0;
                int run = 0;
                for (int j = 0; j < T; j++) {
                    s += a[j];
                    if (!mask[b * T + j] && a[j] != 0.0f) rows_ok = 0;
                }
                for (int j = 0; j < T; j++) run |= mask[b * T + j];
                int s0 = 0, e0 = T;
                while (s0 < T && !mask[b * T + s0]) s0++;
                while (e0 > s0 && !mask[b * T + e0 - 1]) e0--;
                int inside = i >= s0 && i < e0;
                if (inside && fabs(s - 1) > 1e-5) rows_ok = 0;
                if (!inside && s != 0) rows_ok = 0;
                (void)run;
            }
    const double h = 1e-6;
    for (int i = 0; i < B * T * 3 * E; i++) {
        double save = qd[i], lp, lm;
        qd[i] = save + h; attn_ref(od, qd, mask, B, T, E, NH); lp = dot_gd(G, od, B * T * E);
        qd[i] = save - h; attn_ref(od, qd, mask, B, T, E, NH); lm = dot_gd(G, od, B * T * E);
        qd[i] = save;
        fd[i] = (lp - lm) / (2 * h);
    }
    double e = maxrel(dqkv, fd, B * T * 3 * E);
    /* padded rows (the all-padding row 3) get no gradient at all */
    int pad_zero = 1;
    for (int i = 3 * T * 3 * E; i < B * T * 3 * E; i++) pad_zero &= dqkv[i] == 0.0f;
    check(fwd < 1e-5 && rows_ok && pad_zero && e < 1e-4,
          "attention_backward NH=%d%s ragged ('post', 'pre', a hole, all padding) forward_maxdiff=%.1e "
          "rows sum to 1, masked keys 0: %s; dQKV maxrel=%.1e", NH, alibi ? " with ALiBi" : "", fwd,
          rows_ok ? "yes" : "NO", e);
    ref_alibi = NULL;
}

/* ---- one encoder block ---- */
static void check_block(float dropout) {
    enum { B = 3, T = 6, E = 8, NH = 2, F = 16, N = B * T };
    size_t P = nn_encoder_block_floats(E, F), A = nn_encoder_acts_floats(B, T, E, NH, F);
    size_t W = nn_encoder_block_work_floats(T, E, NH, F);
    float *pf = calloc(P, sizeof(float)), *gf = calloc(P, sizeof(float)), *af = calloc(A, sizeof(float));
    float *daf = calloc(A, sizeof(float)), *work = calloc(W, sizeof(float));
    double *pd = calloc(P, sizeof(double)), *fdp = calloc(P, sizeof(double));
    nn_encoder_block p, g;
    nn_encoder_acts a, da;
    block_d pdd;
    nn_encoder_block_carve(&p, pf, E, F);
    nn_encoder_block_carve(&g, gf, E, F);
    nn_encoder_acts_carve(&a, af, B, T, E, NH, F);
    nn_encoder_acts_carve(&da, daf, B, T, E, NH, F);
    block_d_carve(&pdd, pd, E, F);
    for (size_t i = 0; i < P; i++) pf[i] = (float)(0.4 * rnd());
    for (int i = 0; i < E; i++) p.ln1_w[i] = (float)(1 + 0.3 * rnd()), p.ln2_w[i] = (float)(1 + 0.3 * rnd());
    uint8_t mask[N];
    ragged_mask(mask, B, T);
    float x[N * E], G[N * E], dx[N * E] = {0};
    double xd[N * E], od[N * E], fdx[N * E];
    for (int i = 0; i < N * E; i++) x[i] = (float)rnd(), G[i] = (float)rnd();
    nn_rng drng;
    nn_rng_seed(&drng, 7);
    nn_encoder_block_forward(&a, work, x, mask, &p, dropout, dropout > 0 ? &drng : NULL, B, T, E, NH, F);
    memcpy(da.out, G, sizeof G);
    nn_encoder_block_backward(dx, &g, &da, work, x, &a, mask, &p, dropout, B, T, E, NH, F);
    const float *k1 = dropout > 0 ? a.keep1 : NULL, *k2 = dropout > 0 ? a.keep2 : NULL;
    to_double(pd, pf, P);
    to_double(xd, x, N * E);
    block_ref(od, xd, mask, &pdd, k1, k2, B, T, E, NH, F);
    double fwd = 0;
    for (int i = 0; i < N * E; i++) fwd = fmax(fwd, fabs(a.out[i] - od[i]));
    const double h = 1e-6;
    for (size_t i = 0; i < P + N * E; i++) {
        double *v = i < P ? pd + i : xd + (i - P);
        double save = *v, lp, lm;
        *v = save + h; block_ref(od, xd, mask, &pdd, k1, k2, B, T, E, NH, F); lp = dot_gd(G, od, N * E);
        *v = save - h; block_ref(od, xd, mask, &pdd, k1, k2, B, T, E, NH, F); lm = dot_gd(G, od, N * E);
        *v = save;
        *(i < P ? &fdp[i] : &fdx[i - P]) = (lp - lm) / (2 * h);
    }
    double ep = maxrel(gf, fdp, P), ex = maxrel(dx, fdx, N * E);
    check(fwd < 1e-5 && ep < 1e-3 && ex < 1e-3,
          "encoder_block_backward (pre-LN, %zu parameters, dropout %.1f, ragged mask) forward_maxdiff=%.1e "
          "dParams maxrel=%.1e dX maxrel=%.1e", P, dropout, fwd, ep, ex);
    free(pf); free(gf); free(af); free(daf); free(work); free(pd); free(fdp);
}

/* ---- the whole classifier: embeddings, 2 blocks, final LN, masked mean, head, BCE ---- */
static double classifier_ref(const nn_encoder *enc, const double *pd, const uint16_t *ids, const float *y, int B) {
    int T = enc->T, E = enc->E, NH = enc->NH, F = enc->F, L = enc->L, N = B * T;
    const double *wte = pd, *wpe = pd + enc->V * E;
    const double *q = wpe + T * E;
    static double x[MAXN * MAXE], x2[MAXN * MAXE];
    uint8_t mask[MAXN];
    for (int i = 0; i < N; i++) mask[i] = ids[i] != 0;
    for (int r = 0; r < N; r++)
        for (int e = 0; e < E; e++) x[r * E + e] = wte[ids[r] * E + e] + wpe[(r % T) * E + e];
    for (int l = 0; l < L; l++) {
        block_d bd;
        q += block_d_carve(&bd, (double *)q, E, F);
        block_ref(x2, x, mask, &bd, NULL, NULL, B, T, E, NH, F);
        memcpy(x, x2, sizeof(double) * N * E);
    }
    const double *lw = q, *lb = q + E, *hw = q + 2 * E, *hb = q + 3 * E;
    ln_ref(x2, x, lw, lb, N, E);
    double loss = 0;
    for (int b = 0; b < B; b++) {
        double z = hb[0];
        int n = 0;
        for (int t = 0; t < T; t++) n += mask[b * T + t];
        for (int e = 0; e < E; e++) {
            double s = 0;
            for (int t = 0; t < T; t++)
                if (mask[b * T + t]) s += x2[(b * T + t) * E + e];
            z += hw[e] * (n ? s / n : 0);
        }
        loss += fmax(z, 0) - z * y[b] + log1p(exp(-fabs(z)));
    }
    return loss / B;
}

static void check_classifier(void) {
    enum { V = 9, T = 6, E = 8, NH = 2, F = 16, L = 2, B = 4 };
    nn_encoder enc;
    if (nn_encoder_init(&enc, V, T, E, NH, F, L, B, 0.1f, 0.02f, 3) != 0) {
        check(0, "encoder_init out of memory");
        return;
    }
    for (size_t i = 0; i < enc.nparams; i++) enc.params[i] = (float)(0.4 * rnd());
    for (uint32_t l = 0; l < L; l++)
        for (int i = 0; i < E; i++)
            enc.w.blocks[l].ln1_w[i] = (float)(1 + 0.3 * rnd()), enc.w.blocks[l].ln2_w[i] = (float)(1 + 0.3 * rnd());
    for (int i = 0; i < E; i++) enc.w.lnf_w[i] = (float)(1 + 0.3 * rnd());
    uint16_t ids[B * T];
    uint8_t mask[B * T];
    ragged_mask(mask, B, T);
    mask[3 * T + 2] = 1; /* row 3: one real token */
    for (int i = 0; i < B * T; i++) ids[i] = mask[i] ? (uint16_t)(1 + nn_rng_below(&rng, V - 1)) : 0;
    float y[B] = {1, 0, 1, 0};
    float loss = nn_encoder_forward_backward(&enc, ids, y, B, NULL, 1, NULL);
    size_t P = enc.nparams;
    double *pd = malloc(P * sizeof(double)), *fd = malloc(P * sizeof(double));
    to_double(pd, enc.params, P);
    double lref = classifier_ref(&enc, pd, ids, y, B);
    const double h = 1e-6;
    for (size_t i = 0; i < P; i++) {
        double save = pd[i], lp, lm;
        pd[i] = save + h; lp = classifier_ref(&enc, pd, ids, y, B);
        pd[i] = save - h; lm = classifier_ref(&enc, pd, ids, y, B);
        pd[i] = save;
        fd[i] = (lp - lm) / (2 * h);
    }
    double e = maxrel(enc.grads, fd, P);
    /* the padding id's row of wte gets no gradient (padding is masked) */
    int pad_row = 1;
    for (int i = 0; i < E; i++) pad_row &= fabs(fd[i]) < 1e-9;
    check(fabs(loss - lref) < 1e-5 && e < 2e-3 && pad_row,
          "encoder classifier (2 blocks, masked mean, BCE; %zu parameters) loss %.6f vs double %.6f, "
          "dParams maxrel=%.1e", P, loss, lref, e);
    free(pd); free(fd);
    nn_encoder_free(&enc);
}

/* ---- AdamW and the warm-up schedule ---- */
static void check_adamw(void) {
    nn_encoder enc;
    if (nn_encoder_init(&enc, 9, 6, 8, 2, 16, 2, 2, 0.0f, 0.1f, 4) != 0) {
        check(0, "encoder_init out of memory");
        return;
    }
    for (size_t i = 0; i < enc.nparams; i++) enc.params[i] = (float)rnd(); /* biases and LNs too */
    float *before = malloc(enc.nparams * sizeof(float));
    memcpy(before, enc.params, enc.nparams * sizeof(float));
    memset(enc.grads, 0, enc.nparams * sizeof(float)); /* Adam then moves nothing */
    const float lr = 0.01f, wd = 0.1f, keep = 1.0f - lr * wd;
    nn_encoder_adamw(&enc, lr, 0.9f, 0.999f, 1e-7f, wd);
    /* decayed: wte, wpe, each block's four weight matrices, the head's weights */
    int decayed_ok = 1, kept_ok = 1;
    size_t ndecayed = 0;
    for (size_t i = 0; i < enc.nparams; i++) {
        const float *p = enc.params + i;
        int decayed = p < enc.w.wte + (size_t)enc.V * enc.E + (size_t)enc.T * enc.E ||
                      (p >= enc.w.head_w && p < enc.w.head_w + enc.E);
        for (uint32_t l = 0; l < enc.L; l++) {
            const nn_encoder_block *b = &enc.w.blocks[l];
            decayed |= (p >= b->qkv_w && p < b->qkv_w + 3 * enc.E * enc.E) ||
                       (p >= b->proj_w && p < b->proj_w + enc.E * enc.E) ||
                       (p >= b->fc_w && p < b->fc_w + enc.E * enc.F) ||
                       (p >= b->fc2_w && p < b->fc2_w + enc.F * enc.E);
        }
        ndecayed += decayed;
        if (decayed) decayed_ok &= *p == before[i] * keep;
        else kept_ok &= *p == before[i];
    }
    check(decayed_ok && kept_ok, "adamw: zero gradients, %zu weights decayed by exactly 1 - lr*wd, "
          "the other %zu (biases, layer norms) unchanged", ndecayed, enc.nparams - ndecayed);
    float s0 = nn_lr_warmup_linear(0, 10, 100, 1.0f), s5 = nn_lr_warmup_linear(5, 10, 100, 1.0f);
    float s10 = nn_lr_warmup_linear(10, 10, 100, 1.0f), s55 = nn_lr_warmup_linear(55, 10, 100, 1.0f);
    float s100 = nn_lr_warmup_linear(100, 10, 100, 1.0f), s200 = nn_lr_warmup_linear(200, 10, 100, 1.0f);
    check(s0 == 0.0f && s5 == 0.5f && s10 == 1.0f && s55 == 0.5f && s100 == 0.0f && s200 == 0.0f,
          "lr_warmup_linear (warm-up 10 of 100): t=0 %g, 5 %g, 10 %g, 55 %g, 100 %g, 200 %g", s0, s5, s10,
          s55, s100, s200);
    free(before);
    nn_encoder_free(&enc);
}

/* ===================================================== 3. learning */

/* Sequences of 3..T real tokens from K symbols ('post' padded, the real run
 * [0, len)); label 1 when the first and the last real token are the same,
 * made so half the time. */
enum { LT = 12, LK = 6, LV = LK + NN_FIRST_WORD };
static void make_batch(uint16_t *ids, float *y, int B, nn_rng *r) {
    for (int b = 0; b < B; b++) {
        int len = 3 + (int)nn_rng_below(r, LT - 2);
        uint16_t *row = ids + b * LT;
        for (int t = 0; t < LT; t++) row[t] = t < len ? (uint16_t)(NN_FIRST_WORD + nn_rng_below(r, LK)) : 0;
        int same = nn_rng_below(r, 2);
        if (same) row[len - 1] = row[0];
        else while (row[len - 1] == row[0]) row[len - 1] = (uint16_t)(NN_FIRST_WORD + nn_rng_below(r, LK));
        y[b] = (float)same;
    }
}

/* The baseline: masked mean of token embeddings (no positions) -> Dense(16,
 * ReLU) -> Dense(1), trained the same way. */
static double train_bag(const uint16_t *tids, const float *ty, int NT) {
    enum { E = 32, H = 16, B = 32 };
    size_t P = LV * E + H * E + H + H + 1;
    float *p = calloc(4 * P, sizeof(float)), *g = p + P, *m = g + P, *v = m + P;
    float *emb = p, *w1 = emb + LV * E, *b1 = w1 + H * E, *w2 = b1 + H, *b2 = w2 + H;
    float *gemb = g, *gw1 = gemb + LV * E, *gb1 = gw1 + H * E, *gw2 = gb1 + H, *gb2 = gw2 + H;
    nn_rng r;
    nn_rng_seed(&r, 11);
    for (size_t i = 0; i < LV * E + H * E; i++) p[i] = nn_rng_uniform(&r, -0.1f, 0.1f);
    for (int i = 0; i < H; i++) w2[i] = nn_rng_uniform(&r, -0.1f, 0.1f);
    uint16_t ids[B * LT];
    float y[B], pooled[B * E], hid[B * H], logit[B], dlogit[B], dhid[B * H], dpooled[B * E], dx[B * LT * E];
    static float x[B * LT * E];
    uint8_t mask[B * LT];
    for (int step = 0; step < 1500; step++) {
        make_batch(ids, y, B, &r);
        for (int i = 0; i < B * LT; i++) mask[i] = ids[i] != 0;
        for (int i = 0; i < B * LT; i++) memcpy(x + i * E, emb + ids[i] * E, sizeof(float) * E);
        nn_masked_mean_forward(pooled, x, mask, B, LT, E);
        nn_dense_forward(hid, pooled, w1, b1, B, E, H);
        nn_relu_forward(hid, hid, B * H);
        nn_dense_forward(logit, hid, w2, b2, B, H, 1);
        nn_bce_forward_backward(dlogit, logit, y, B, NULL);
        memset(g, 0, P * sizeof(float));
        memset(dhid, 0, sizeof dhid);
        memset(dpooled, 0, sizeof dpooled);
        memset(dx, 0, sizeof dx);
        nn_dense_backward(dhid, gw2, gb2, dlogit, hid, w2, B, H, 1);
        float dh2[B * H] = {0};
        nn_relu_backward(dh2, dhid, hid, B * H);
        nn_dense_backward(dpooled, gw1, gb1, dh2, pooled, w1, B, E, H);
        nn_masked_mean_backward(dx, dpooled, mask, B, LT, E);
        nn_tokpos_embedding_backward(gemb, NULL, dx, ids, B, LT, E);
        double t = step + 1;
        float lr_t = (float)(3e-3 * sqrt(1 - pow(0.999, t)) / (1 - pow(0.9, t)));
        nn_k_adam(p, p, g, m, v, P, lr_t, 0.9f, 0.999f, 1e-7f);
    }
    /* accuracy on the held-out set */
    uint32_t hits = 0;
    for (int i0 = 0; i0 < NT; i0 += B) {
        const uint16_t *bid = tids + i0 * LT;
        for (int i = 0; i < B * LT; i++) mask[i] = bid[i] != 0;
        for (int i = 0; i < B * LT; i++) memcpy(x + i * E, emb + bid[i] * E, sizeof(float) * E);
        nn_masked_mean_forward(pooled, x, mask, B, LT, E);
        nn_dense_forward(hid, pooled, w1, b1, B, E, H);
        nn_relu_forward(hid, hid, B * H);
        nn_dense_forward(logit, hid, w2, b2, B, H, 1);
        nn_bce_forward_backward(NULL, logit, ty + i0, B, &hits);
    }
    free(p);
    return (double)hits / NT;
}

static void check_learning(void) {
    enum { NT = 1024, B = 32 };
    static uint16_t tids[NT * LT];
    static float ty[NT];
    nn_rng data;
    nn_rng_seed(&data, 2024);
    make_batch(tids, ty, NT, &data);
    nn_encoder enc;
    /* 2 blocks, E 32, 2 heads, F 64, no dropout, weights of sd 0.1 */
    if (nn_encoder_init(&enc, LV, LT, 32, 2, 64, 2, B, 0.0f, 0.1f, 5) != 0) {
        check(0, "encoder_init out of memory");
        return;
    }
    nn_rng r, drop;
    nn_rng_seed(&r, 77);
    nn_rng_seed(&drop, 78);
    uint16_t ids[B * LT];
    float y[B];
    const int steps = 1200;
    const float lr = 3e-3f;
    double last_loss = 0;
    for (int step = 0; step < steps; step++) {
        make_batch(ids, y, B, &r);
        float loss = nn_encoder_forward_backward(&enc, ids, y, B, &drop, 1, NULL);
        nn_encoder_adam(&enc, lr, 0.9f, 0.999f, 1e-7f);
        last_loss = 0.95 * last_loss + 0.05 * loss;
    }
    uint32_t hits = 0;
    for (int i0 = 0; i0 < NT; i0 += B) nn_encoder_forward_backward(&enc, tids + i0 * LT, ty + i0, B, NULL, 0, &hits);
    double acc = (double)hits / NT, bag = train_bag(tids, ty, NT);
    check(acc >= 0.9, "encoder (2 blocks, E 32) learns first token == last token over ragged lengths 3..%d: "
          "held-out accuracy %.3f on %d after %d steps of Adam %g (smoothed loss %.3f; >= 0.9 needed)",
          LT, acc, NT, steps, lr, last_loss);
    check(bag <= 0.75, "a mean-pooled bag of the same embeddings cannot: held-out accuracy %.3f (<= 0.75 needed)", bag);
    nn_encoder_free(&enc);
}

int main(void) {
    nn_rng_seed(&rng, 20261207);
    test_matmul_ld();
    test_softmax();
    test_layernorm_kernel();
    test_gelu_kernels();
    check_layernorm();
    check_gelu();
    for (int alibi = 0; alibi <= 1; alibi++) {
        check_attention(1, alibi);
        check_attention(2, alibi);
        check_attention(4, alibi);
    }
    {
        float s[4];
        nn_alibi_slopes(s, 4);
        check(s[0] == 0.5f && s[1] == 0.0625f && s[2] == 0.0078125f && s[3] == 0.0009765625f,
              "ALiBi slopes 2^-(1+3h): %g %g %g %g", s[0], s[1], s[2], s[3]);
    }
    check_block(0.0f);
    check_block(0.3f);
    check_classifier();
    check_adamw();
    check_learning();
    return check_exit_code();
}
