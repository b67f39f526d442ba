/* test_kernels.c: every SIMD kernel of kernels.h against its scalar reference.
 *
 * Sizes that break SIMD code (0, 1, 3, 4, 5, 7, 8, 15, 16, 17, 64, 1000),
 * pointers offset by 0-3 floats so loads are unaligned, and after every
 * buffer one canary float (a NaN with a recognisable payload): a kernel that
 * writes past its output changes it, and one that reads past an input gets a
 * NaN into its result. Tolerances:
 *   exact (bit for bit)  gather_sum, scatter_add, rows_axpy, scatter_rows_axpy, copy, zero, adam_rows, dense_backward, axpy, scale, relu, nonzero_span,
 *                        relu_backward, adam, sgd (in place and into another
 *                        buffer, with their finiteness flag), bce's correct count: the
 *                        SIMD kernels evaluate the reference's expressions
 *                        in the reference's order, without FMA;
 *   1e-5 * sum|terms|    dot and the bce loss sum (the summation order differs);
 *   exact                dense_forward against b + nn_k_dot (SIMD), and
 *                        1e-5 * sum|terms| against its reference;
 *   4 ulp                bce's own exp/log1p against libm, per element;
 *   1e-6 * |gscale|      bce's gradient (sigmoid - y), per element;
 *   exact                matmul_acc and matmul_tn_acc (every output adds its
 *                        products in k order, as the reference does);
 *   4 ulp                sigmoid and tanh against libm's expf/tanhf.
 * The same file runs natively (SIMDe) and as wasm under node.
 */
#include "check.h"
#include "kernels.h"
#include "nn.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

static const size_t SIZES[] = {0, 1, 3, 4, 5, 7, 8, 15, 16, 17, 64, 1000};
#define NSIZES (sizeof SIZES / sizeof SIZES[0])
#define NOFFSETS 4

static const uint32_t CANARY_BITS = 0x7fc0ca7au; /* a quiet NaN, payload "ca7a" */

static nn_rng rng;

/* ------------------------------------------------------------------ buffers */

/* n floats starting off floats into a fresh allocation, then the canary. */
typedef struct {
    float *base, *p;
    size_t n;
} fbuf;

static fbuf fbuf_make(size_t n, size_t off) {
    fbuf b;
    b.base = malloc((off + n + 1) * sizeof(float));
    if (!b.base) {
        printf("FAIL out of memory\n");
        exit(1);
    }
    b.p = b.base + off;
    b.n = n;
    memcpy(b.p + n, &CANARY_BITS, sizeof CANARY_BITS);
    return b;
}

static fbuf fbuf_random(size_t n, size_t off, float lo, float hi) {
    fbuf b = fbuf_make(n, off);
    for (size_t i = 0; i < n; i++) b.p[i] = nn_rng_uniform(&rng, lo, hi);
    return b;
}

static fbuf fbuf_copy(fbuf src, size_t off) {
    fbuf b = fbuf_make(src.n, off);
    memcpy(b.p, src.p, src.n * sizeof(float));
    return b;
}

static int canary_ok(fbuf b) {
    uint32_t bits;
    memcpy(&bits, b.p + b.n, sizeof bits);
    return bits == CANARY_BITS;
}

static void fbuf_free(fbuf b) { free(b.base); }

static int same_bits(fbuf a, fbuf b) {
    return a.n == b.n && memcmp(a.p, b.p, a.n * sizeof(float)) == 0;
}

static double max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > m || d != d) m = d;
    }
    return m;
}

/* Distance in representable floats between two non-negative floats. */
static uint32_t ulp_distance(float a, float b) {
    uint32_t ua, ub;
    memcpy(&ua, &a, sizeof ua);
    memcpy(&ub, &b, sizeof ub);
    return ua > ub ? ua - ub : ub - ua;
}

/* An offset for a second pointer that differs from the first's. */
static size_t other_off(size_t off) { return (off + 1) % NOFFSETS; }

/* ------------------------------------------------------ elementwise kernels */

static void test_axpy(void) {
    for (size_t s = 0; s < NSIZES; s++) {
        for (size_t off = 0; off < NOFFSETS; off++) {
            size_t n = SIZES[s];
            float a = nn_rng_uniform(&rng, -2.0f, 2.0f);
            fbuf x = fbuf_random(n, other_off(off), -1.0f, 1.0f);
            fbuf yr = fbuf_random(n, off, -1.0f, 1.0f), ys = fbuf_copy(yr, off);
            nn_k_axpy_ref(yr.p, a, x.p, n);
            nn_k_axpy(ys.p, a, x.p, n);
            check(same_bits(yr, ys) && canary_ok(ys), "axpy n=%zu off=%zu maxdiff=%g%s", n, off,
                  max_abs_diff(yr.p, ys.p, n), canary_ok(ys) ? "" : " canary overwritten");
            fbuf_free(x); fbuf_free(yr); fbuf_free(ys);
        }
    }
}

static void test_scale(void) {
    for (size_t s = 0; s < NSIZES; s++) {
        for (size_t off = 0; off < NOFFSETS; off++) {
            size_t n = SIZES[s];
            float a = nn_rng_uniform(&rng, -2.0f, 2.0f);
            fbuf yr = fbuf_random(n, off, -1.0f, 1.0f), ys = fbuf_copy(yr, off);
            nn_k_scale_ref(yr.p, a, n);
            nn_k_scale(ys.p, a, n);
            check(same_bits(yr, ys) && canary_ok(ys), "scale n=%zu off=%zu maxdiff=%g%s", n, off,
                  max_abs_diff(yr.p, ys.p, n), canary_ok(ys) ? "" : " canary overwritten");
            fbuf_free(yr); fbuf_free(ys);
        }
    }
}

static void test_dot(void) {
    for (size_t s = 0; s < NSIZES; s++) {
        for (size_t off = 0; off < NOFFSETS; off++) {
            size_t n = SIZES[s];
            fbuf a = fbuf_random(n, off, -1.0f, 1.0f), b = fbuf_random(n, other_off(off), -1.0f, 1.0f);
            float ref = nn_k_dot_ref(a.p, b.p, n), simd = nn_k_dot(a.p, b.p, n);
            double magnitude = 0.0;
            for (size_t i = 0; i < n; i++) magnitude += fabs((double)a.p[i] * b.p[i]);
            double diff = fabs((double)ref - simd);
            check(diff <= 1e-5 * magnitude, "dot n=%zu off=%zu maxdiff=%g (tolerance %g)", n, off,
                  diff, 1e-5 * magnitude);
            fbuf_free(a); fbuf_free(b);
        }
    }
}

/* Padded rows of every length 0..40 and 250..260, padding before, after,
 * both or neither (and zeros inside the run), at every start offset 0..7:
 * the SIMD span is the reference's. */
static void test_nonzero_span(void) {
    uint16_t buf[300];
    int same = 1;
    size_t cases = 0;
    for (size_t n = 0; n <= 260; n++) {
        if (n > 40 && n < 250) continue;
        for (size_t off = 0; off < 8; off++) {
            for (int shape = 0; shape < 6; shape++) {
                uint16_t *ids = buf + off;
                size_t lead = shape == 1 || shape == 3 ? n / 3 : 0;
                size_t tail = shape == 2 || shape == 3 ? n / 4 : 0;
                for (size_t i = 0; i < n; i++) ids[i] = (uint16_t)(1 + nn_rng_below(&rng, 9000));
                for (size_t i = 0; i < lead; i++) ids[i] = 0;
                for (size_t i = 0; i < tail; i++) ids[n - 1 - i] = 0;
                if (shape == 4) memset(ids, 0, n * sizeof *ids);           /* all padding */
                if (shape == 5 && n > 2) ids[n / 2] = 0, ids[0] = 0;       /* a zero inside */
                size_t sr, er, ss, es;
                nn_k_nonzero_span_ref(ids, n, &sr, &er);
                nn_k_nonzero_span(ids, n, &ss, &es);
                same &= sr == ss && er == es;
                cases++;
            }
        }
    }
    check(same, "nonzero_span equals the reference on %zu padded rows (lengths 0-40, 250-260, offsets 0-7)", cases);
}

/* The dense forward kernel against b + nn_k_dot (bit for bit: the layers'
 * results must not change) and against the reference (rounding only). */
static void test_dense_forward(void) {
    static const size_t BS[] = {1, 3, 5}, OCS[] = {1, 3, 4, 5, 8, 16, 17};
    static const size_t CS[] = {0, 1, 3, 4, 5, 7, 8, 15, 16, 17, 32, 48, 64, 1000, 1100};
    for (size_t ib = 0; ib < sizeof BS / sizeof BS[0]; ib++) {
        for (size_t ic = 0; ic < sizeof CS / sizeof CS[0]; ic++) {
            size_t B = BS[ib], C = CS[ic];
            int same = 1, canaries = 1;
            double worst = 0.0;
            for (size_t io = 0; io < sizeof OCS / sizeof OCS[0]; io++) {
                size_t OC = OCS[io], off = (ib + ic + io) % NOFFSETS;
                fbuf x = fbuf_random(B * C, off, -1.0f, 1.0f), w = fbuf_random(OC * C, other_off(off), -1.0f, 1.0f);
                fbuf b = fbuf_random(OC, other_off(off + 1), -1.0f, 1.0f);
                fbuf outs = fbuf_make(B * OC, off), outd = fbuf_make(B * OC, off), outr = fbuf_make(B * OC, off);
                nn_k_dense_forward(outs.p, x.p, w.p, b.p, B, C, OC);
                nn_k_dense_forward_ref(outr.p, x.p, w.p, b.p, B, C, OC);
                for (size_t i = 0; i < B; i++)
                    for (size_t o = 0; o < OC; o++) outd.p[i * OC + o] = b.p[o] + nn_k_dot(x.p + i * C, w.p + o * C, C);
                same &= same_bits(outd, outs);
                canaries &= canary_ok(outs);
                for (size_t i = 0; i < B; i++)
                    for (size_t o = 0; o < OC; o++) {
                        double mag = fabs(b.p[o]);
                        for (size_t k = 0; k < C; k++) mag += fabs((double)x.p[i * C + k] * w.p[o * C + k]);
                        double d = fabs((double)outr.p[i * OC + o] - outs.p[i * OC + o]) / (mag > 0 ? mag : 1);
                        if (d > worst) worst = d;
                    }
                fbuf_free(x); fbuf_free(w); fbuf_free(b); fbuf_free(outs); fbuf_free(outd); fbuf_free(outr);
            }
            check(same && canaries && worst <= 1e-5,
                  "dense_forward B=%zu C=%zu OC=1..17: bit for bit b + dot%s, relative diff to reference %g",
                  B, C, canaries ? "" : " (canary overwritten)", worst);
        }
    }
}

/* dense_backward against its reference, bit for bit: dout with zeros (and a
 * -0) among its values, as after a ReLU, with and without dinp, adding into
 * random gradients (so += is checked, not =). */
static void test_dense_backward(void) {
    static const size_t BS[] = {1, 3, 5}, OCS[] = {1, 3, 4, 16, 17};
    static const size_t CS[] = {1, 3, 4, 5, 8, 15, 16, 17, 64};
    for (size_t ib = 0; ib < sizeof BS / sizeof BS[0]; ib++) {
        for (size_t ic = 0; ic < sizeof CS / sizeof CS[0]; ic++) {
            for (size_t io = 0; io < sizeof OCS / sizeof OCS[0]; io++) {
                size_t B = BS[ib], C = CS[ic], OC = OCS[io], off = (ib + ic + io) % NOFFSETS;
                fbuf x = fbuf_random(B * C, off, -1.0f, 1.0f), w = fbuf_random(OC * C, other_off(off), -1.0f, 1.0f);
                fbuf g = fbuf_random(B * OC, other_off(off + 1), -1.0f, 1.0f);
                for (size_t k = 0; k < B * OC; k += 3) g.p[k] = k % 2 ? -0.0f : 0.0f;
                fbuf dxr = fbuf_random(B * C, off, -1.0f, 1.0f), dxs = fbuf_copy(dxr, off);
                fbuf dwr = fbuf_random(OC * C, other_off(off), -1.0f, 1.0f), dws = fbuf_copy(dwr, other_off(off));
                fbuf dbr = fbuf_random(OC, off, -1.0f, 1.0f), dbs = fbuf_copy(dbr, off);
                for (int with_dinp = 0; with_dinp < 2; with_dinp++) {
                    nn_k_dense_backward_ref(with_dinp ? dxr.p : NULL, dwr.p, dbr.p, g.p, x.p, w.p, B, C, OC);
                    nn_k_dense_backward(with_dinp ? dxs.p : NULL, dws.p, dbs.p, g.p, x.p, w.p, B, C, OC);
                }
                int canaries = canary_ok(dxs) && canary_ok(dws) && canary_ok(dbs);
                check(same_bits(dxr, dxs) && same_bits(dwr, dws) && same_bits(dbr, dbs) && canaries,
                      "dense_backward B=%zu C=%zu OC=%zu (without, then with dinp) maxdiff=%g%s", B, C, OC,
                      fmax(max_abs_diff(dxr.p, dxs.p, B * C), max_abs_diff(dwr.p, dws.p, OC * C)),
                      canaries ? "" : " canary overwritten");
                fbuf_free(x); fbuf_free(w); fbuf_free(g); fbuf_free(dxr); fbuf_free(dxs);
                fbuf_free(dwr); fbuf_free(dws); fbuf_free(dbr); fbuf_free(dbs);
            }
        }
    }
}

/* Inputs with exact zeros and negative zeros among them, where relu and its
 * backward pass make their decisions. */
static fbuf relu_input(size_t n, size_t off) {
    fbuf b = fbuf_random(n, off, -1.0f, 1.0f);
    for (size_t i = 0; i < n; i++) {
        if (i % 5 == 2) b.p[i] = 0.0f;
        if (i % 7 == 3) b.p[i] = -0.0f;
    }
    return b;
}

static void test_relu(void) {
    for (size_t s = 0; s < NSIZES; s++) {
        for (size_t off = 0; off < NOFFSETS; off++) {
            size_t n = SIZES[s];
            fbuf inp = relu_input(n, other_off(off));
            fbuf outr = fbuf_make(n, off), outs = fbuf_make(n, off);
            nn_k_relu_ref(outr.p, inp.p, n);
            nn_k_relu(outs.p, inp.p, n);
            check(same_bits(outr, outs) && canary_ok(outs), "relu n=%zu off=%zu maxdiff=%g%s", n, off,
                  max_abs_diff(outr.p, outs.p, n), canary_ok(outs) ? "" : " canary overwritten");
            fbuf_free(inp); fbuf_free(outr); fbuf_free(outs);
        }
    }
    float inp[5] = {NAN, -1.0f, 2.0f, NAN, 0.5f}, outr[5], outs[5];
    nn_k_relu_ref(outr, inp, 5);
    nn_k_relu(outs, inp, 5);
    check(isnan(outr[0]) && isnan(outr[3]) && isnan(outs[0]) && isnan(outs[3]) && outs[1] == 0.0f &&
              outs[2] == 2.0f && outs[4] == 0.5f,
          "relu lets a NaN through instead of hiding it as 0 (ref %g %g, simd %g %g)", outr[0], outr[3],
          outs[0], outs[3]);
}

static void test_relu_backward(void) {
    for (size_t s = 0; s < NSIZES; s++) {
        for (size_t off = 0; off < NOFFSETS; off++) {
            size_t n = SIZES[s];
            fbuf out = relu_input(n, off), dout = fbuf_random(n, other_off(off), -1.0f, 1.0f);
            fbuf dr = relu_input(n, other_off(off + 1)), ds = fbuf_copy(dr, other_off(off + 1));
            nn_k_relu_backward_ref(dr.p, dout.p, out.p, n);
            nn_k_relu_backward(ds.p, dout.p, out.p, n);
            check(same_bits(dr, ds) && canary_ok(ds), "relu_backward n=%zu off=%zu maxdiff=%g%s", n, off,
                  max_abs_diff(dr.p, ds.p, n), canary_ok(ds) ? "" : " canary overwritten");
            fbuf_free(out); fbuf_free(dout); fbuf_free(dr); fbuf_free(ds);
        }
    }
}

/* In place (out == p) and into another buffer (p must stay as it was), both
 * against the reference; then the finiteness flag: p[i] = 3e38 stepped by
 * 0.5 * 3e38 overflows, at every position in turn. */
static void test_sgd(void) {
    for (size_t s = 0; s < NSIZES; s++) {
        for (size_t off = 0; off < NOFFSETS; off++) {
            size_t n = SIZES[s];
            float lr = nn_rng_uniform(&rng, 0.001f, 0.5f);
            fbuf g = fbuf_random(n, other_off(off), -1.0f, 1.0f);
            fbuf pr = fbuf_random(n, off, -1.0f, 1.0f), ps = fbuf_copy(pr, off), p0 = fbuf_copy(pr, off);
            fbuf out = fbuf_make(n, other_off(off + 1));
            int fr = nn_k_sgd_ref(pr.p, pr.p, g.p, n, lr);
            int fs = nn_k_sgd(ps.p, ps.p, g.p, n, lr);
            int fo = nn_k_sgd(out.p, p0.p, g.p, n, lr);
            fbuf p0c = fbuf_copy(p0, off);
            check(same_bits(pr, ps) && same_bits(pr, out) && canary_ok(ps) && canary_ok(out) &&
                  fr == 1 && fs == 1 && fo == 1,
                  "sgd n=%zu off=%zu in place and into another buffer, maxdiff=%g, finite %d %d %d%s",
                  n, off, max_abs_diff(pr.p, ps.p, n), fr, fs, fo,
                  canary_ok(ps) && canary_ok(out) ? "" : " canary overwritten");
            int ok = 1;
            for (size_t i = 0; i < n && ok; i++) {
                float keep_p = p0.p[i], keep_g = g.p[i];
                p0.p[i] = 3e38f;
                g.p[i] = -3e38f;
                ok = nn_k_sgd(out.p, p0.p, g.p, n, 0.5f) == 0 && nn_k_sgd_ref(out.p, p0.p, g.p, n, 0.5f) == 0 &&
                     isinf(out.p[i]);
                p0.p[i] = keep_p;
                g.p[i] = keep_g;
            }
            check(ok && same_bits(p0, p0c), "sgd n=%zu off=%zu reports an overflowing weight at every position "
                  "and leaves p alone when writing elsewhere", n, off);
            fbuf_free(g); fbuf_free(pr); fbuf_free(ps); fbuf_free(p0); fbuf_free(p0c); fbuf_free(out);
        }
    }
}

/* A finite buffer, then one infinity, -infinity or NaN at every position in
 * turn (the tail included); the canary after the buffer is a NaN, so a kernel
 * reading past n would report it. */
static void test_all_finite(void) {
    static const float BAD[] = {INFINITY, -INFINITY, NAN};
    for (size_t s = 0; s < NSIZES; s++) {
        for (size_t off = 0; off < NOFFSETS; off++) {
            size_t n = SIZES[s];
            fbuf b = fbuf_random(n, off, -1e38f, 1e38f);
            int ok = nn_k_all_finite(b.p, n) == 1 && nn_k_all_finite_ref(b.p, n) == 1;
            for (size_t i = 0; i < n && ok; i++) {
                float keep = b.p[i];
                for (size_t k = 0; k < 3 && ok; k++) {
                    b.p[i] = BAD[k];
                    ok = nn_k_all_finite(b.p, n) == 0 && nn_k_all_finite_ref(b.p, n) == 0;
                }
                b.p[i] = keep;
            }
            check(ok, "all_finite n=%zu off=%zu (each position infinite or NaN in turn)", n, off);
            fbuf_free(b);
        }
    }
}

/* Three steps from a random state, so m and v are read back as well as
 * written: in place, and ping-ponging between two buffers as the trainer's
 * double-buffered weights do; all three agree bit for bit. Then the
 * finiteness flag: a NaN gradient, and a step overflowing -FLT_MAX, at every
 * position in turn. */
static void test_adam(void) {
    const float b1 = 0.9f, b2 = 0.999f, eps = 1e-7f;
    for (size_t s = 0; s < NSIZES; s++) {
        for (size_t off = 0; off < NOFFSETS; off++) {
            size_t n = SIZES[s];
            fbuf pr = fbuf_random(n, off, -1.0f, 1.0f), ps = fbuf_copy(pr, off);
            fbuf pa = fbuf_copy(pr, other_off(off)), pb = fbuf_make(n, other_off(off + 2));
            fbuf mr = fbuf_random(n, other_off(off), -0.1f, 0.1f), ms = fbuf_copy(mr, other_off(off));
            fbuf vr = fbuf_random(n, other_off(off + 1), 0.0f, 0.01f), vs = fbuf_copy(vr, other_off(off + 1));
            fbuf mp = fbuf_copy(mr, off), vp = fbuf_copy(vr, off);
            for (size_t i = 0; i < n; i += 9) vr.p[i] = vs.p[i] = vp.p[i] = 0.0f; /* sqrt(0) + eps */
            int flags = 1;
            for (int step = 1; step <= 3; step++) {
                fbuf g = fbuf_random(n, other_off(off + 2), -1.0f, 1.0f);
                float lr_t = 1e-3f * sqrtf(1.0f - powf(b2, (float)step)) / (1.0f - powf(b1, (float)step));
                flags &= nn_k_adam_ref(pr.p, pr.p, g.p, mr.p, vr.p, n, lr_t, b1, b2, eps);
                flags &= nn_k_adam(ps.p, ps.p, g.p, ms.p, vs.p, n, lr_t, b1, b2, eps);
                /* from pa into pb, then back: after 3 steps the newest is in pb */
                fbuf from = step % 2 ? pa : pb, to = step % 2 ? pb : pa;
                flags &= nn_k_adam(to.p, from.p, g.p, mp.p, vp.p, n, lr_t, b1, b2, eps);
                fbuf_free(g);
            }
            int canaries = canary_ok(ps) && canary_ok(ms) && canary_ok(vs) && canary_ok(pa) &&
                           canary_ok(pb) && canary_ok(mp) && canary_ok(vp);
            double diff = fmax(max_abs_diff(pr.p, ps.p, n),
                               fmax(max_abs_diff(mr.p, ms.p, n), max_abs_diff(vr.p, vs.p, n)));
            check(same_bits(pr, ps) && same_bits(mr, ms) && same_bits(vr, vs) && same_bits(pr, pb) &&
                  same_bits(mr, mp) && same_bits(vr, vp) && flags == 1 && canaries,
                  "adam n=%zu off=%zu steps=3 in place and double-buffered, maxdiff=%g (p, m, v), "
                  "all finite %d%s", n, off, diff, flags, canaries ? "" : " canary overwritten");
            int ok = 1;
            fbuf g = fbuf_random(n, other_off(off + 2), -1.0f, 1.0f);
            for (size_t i = 0; i < n && ok; i++) {
                float keep_g = g.p[i], keep_p = pb.p[i];
                g.p[i] = NAN;
                ok = nn_k_adam(pa.p, pb.p, g.p, ms.p, vs.p, n, 1e-3f, b1, b2, eps) == 0 &&
                     nn_k_adam_ref(pa.p, pb.p, g.p, mr.p, vr.p, n, 1e-3f, b1, b2, eps) == 0;
                g.p[i] = 1.0f;
                pb.p[i] = -FLT_MAX;
                ms.p[i] = mr.p[i] = 0.1f;
                vs.p[i] = vr.p[i] = 1e-4f;
                ok = ok && nn_k_adam(pa.p, pb.p, g.p, ms.p, vs.p, n, 1e38f, b1, b2, eps) == 0 && isinf(pa.p[i]) &&
                     nn_k_adam_ref(pa.p, pb.p, g.p, mr.p, vr.p, n, 1e38f, b1, b2, eps) == 0;
                /* the NaN gradient left NaN moments: start them afresh */
                for (size_t j = 0; j < n; j++) ms.p[j] = mr.p[j] = vs.p[j] = vr.p[j] = 0.0f;
                g.p[i] = keep_g;
                pb.p[i] = keep_p;
            }
            check(ok, "adam n=%zu off=%zu reports a NaN or an overflowing weight at every position", n, off);
            fbuf_free(g);
            fbuf_free(pr); fbuf_free(ps); fbuf_free(mr); fbuf_free(ms); fbuf_free(vr); fbuf_free(vs);
            fbuf_free(pa); fbuf_free(pb); fbuf_free(mp); fbuf_free(vp);
        }
    }
}

/* ---------------------------------------------------------- gather/scatter */

static const size_t GATHER_E[] = {1, 3, 4, 5, 8, 16, 17, 32, 64};
static const size_t GATHER_T[] = {1, 3, 17, 256};
#define GATHER_V 300

/* Ids with many repeats, an adjacent repeat, and the table's last row (whose
 * end is the table's canary). */
static void make_ids(uint16_t *ids, size_t T) {
    uint32_t range = T > 4 ? (uint32_t)T / 2 : GATHER_V;
    for (size_t t = 0; t < T; t++) ids[t] = (uint16_t)nn_rng_below(&rng, range);
    if (T >= 2) ids[1] = ids[0];
    ids[T - 1] = GATHER_V - 1;
}

static void test_gather_scatter(void) {
    uint16_t ids[256];
    for (size_t ie = 0; ie < sizeof GATHER_E / sizeof GATHER_E[0]; ie++) {
        for (size_t it = 0; it < sizeof GATHER_T / sizeof GATHER_T[0]; it++) {
            for (size_t off = 0; off < NOFFSETS; off++) {
                size_t E = GATHER_E[ie], T = GATHER_T[it];
                make_ids(ids, T);
                fbuf table = fbuf_random(GATHER_V * E, off, -1.0f, 1.0f);
                fbuf outr = fbuf_make(E, other_off(off)), outs = fbuf_make(E, other_off(off));
                for (size_t e = 0; e < E; e++) outs.p[e] = 99.0f; /* the kernel must overwrite, not add */
                nn_k_gather_sum_ref(outr.p, table.p, ids, T, E);
                nn_k_gather_sum(outs.p, table.p, ids, T, E);
                check(same_bits(outr, outs) && canary_ok(outs), "gather_sum E=%zu T=%zu off=%zu maxdiff=%g%s",
                      E, T, off, max_abs_diff(outr.p, outs.p, E), canary_ok(outs) ? "" : " canary overwritten");

                float scale = nn_rng_uniform(&rng, -1.0f, 1.0f);
                fbuf row = fbuf_random(E, other_off(off + 1), -1.0f, 1.0f);
                fbuf tabs = fbuf_copy(table, off);
                nn_k_scatter_add_ref(table.p, row.p, scale, ids, T, E);
                nn_k_scatter_add(tabs.p, row.p, scale, ids, T, E);
                check(same_bits(table, tabs) && canary_ok(tabs), "scatter_add E=%zu T=%zu off=%zu maxdiff=%g%s",
                      E, T, off, max_abs_diff(table.p, tabs.p, GATHER_V * E),
                      canary_ok(tabs) ? "" : " canary overwritten");
                fbuf_free(table); fbuf_free(tabs); fbuf_free(outr); fbuf_free(outs); fbuf_free(row);
            }
        }
    }
}

/* The n-gram model's row kernels: rows_axpy and scatter_rows_axpy against
 * an axpy per row (with and without per-row weights; feats repeat, so a
 * row updated twice sees its first update), copy and zero against memcpy
 * and memset. */
static void test_rows(void) {
    uint32_t feat[256];
    for (size_t ie = 0; ie < sizeof GATHER_E / sizeof GATHER_E[0]; ie++) {
        for (size_t it = 0; it < sizeof GATHER_T / sizeof GATHER_T[0]; it++) {
            for (size_t off = 0; off < NOFFSETS; off++) {
                size_t E = GATHER_E[ie], n = GATHER_T[it];
                for (size_t k = 0; k < n; k++) feat[k] = nn_rng_below(&rng, n > 4 ? (uint32_t)n / 2 : GATHER_V);
                if (n >= 2) feat[1] = feat[0];
                if (n) feat[n - 1] = GATHER_V - 1;
                fbuf table = fbuf_random(GATHER_V * E, off, -1.0f, 1.0f);
                fbuf weight = fbuf_random(GATHER_V, other_off(off + 2), 0.0f, 3.0f);
                for (int w = 0; w < 2; w++) {
                    const float *wp = w ? weight.p : NULL;
                    fbuf outr = fbuf_random(E, other_off(off), -1.0f, 1.0f), outs = fbuf_copy(outr, other_off(off));
                    nn_k_rows_axpy_ref(outr.p, table.p, feat, wp, n, E);
                    nn_k_rows_axpy(outs.p, table.p, feat, wp, n, E);
                    check(same_bits(outr, outs) && canary_ok(outs), "rows_axpy E=%zu n=%zu off=%zu weights=%d maxdiff=%g%s",
                          E, n, off, w, max_abs_diff(outr.p, outs.p, E), canary_ok(outs) ? "" : " canary overwritten");
                    float scale = nn_rng_uniform(&rng, -1.0f, 1.0f);
                    fbuf row = fbuf_random(E, other_off(off + 1), -1.0f, 1.0f);
                    fbuf tabr = fbuf_copy(table, off), tabs = fbuf_copy(table, off);
                    nn_k_scatter_rows_axpy_ref(tabr.p, row.p, scale, feat, wp, n, E);
                    nn_k_scatter_rows_axpy(tabs.p, row.p, scale, feat, wp, n, E);
                    check(same_bits(tabr, tabs) && canary_ok(tabs), "scatter_rows_axpy E=%zu n=%zu off=%zu weights=%d maxdiff=%g%s",
                          E, n, off, w, max_abs_diff(tabr.p, tabs.p, GATHER_V * E), canary_ok(tabs) ? "" : " canary overwritten");
                    fbuf_free(outr); fbuf_free(outs); fbuf_free(row); fbuf_free(tabr); fbuf_free(tabs);
                }
                fbuf_free(table); fbuf_free(weight);
            }
        }
    }
    /* adam_rows: rows in a random order (one twice), against nn_k_adam_ref per row. */
    for (size_t ie = 0; ie < sizeof GATHER_E / sizeof GATHER_E[0]; ie++) {
        for (size_t it = 0; it < sizeof GATHER_T / sizeof GATHER_T[0]; it++) {
            size_t E = GATHER_E[ie], n = GATHER_T[it];
            for (size_t k = 0; k < n; k++) feat[k] = nn_rng_below(&rng, GATHER_V);
            if (n >= 3) feat[2] = feat[0];
            fbuf pr = fbuf_random(GATHER_V * E, 0, -1.0f, 1.0f), ps = fbuf_copy(pr, 1);
            fbuf gr = fbuf_random(GATHER_V * E, 2, -1.0f, 1.0f), gs = fbuf_copy(gr, 1);
            fbuf mr = fbuf_random(GATHER_V * E, 3, -0.1f, 0.1f), ms = fbuf_copy(mr, 0);
            fbuf vr = fbuf_random(GATHER_V * E, 1, 0.0f, 0.1f), vs = fbuf_copy(vr, 2);
            fbuf ur = fbuf_make(n * E, 0), us = fbuf_make(n * E, 3);
            int fr = nn_k_adam_rows_ref(pr.p, gr.p, mr.p, vr.p, ur.p, feat, n, E, 0.01f, 0.9f, 0.999f, 1e-7f);
            int fs = nn_k_adam_rows(ps.p, gs.p, ms.p, vs.p, us.p, feat, n, E, 0.01f, 0.9f, 0.999f, 1e-7f);
            int zeroed = 1; /* the rows' gradients are cleared */
            for (size_t k = 0; k < n; k++)
                for (size_t e = 0; e < E; e++) zeroed &= gs.p[(size_t)feat[k] * E + e] == 0.0f;
            check(fr == fs && same_bits(pr, ps) && same_bits(mr, ms) && same_bits(vr, vs) && same_bits(ur, us) &&
                  same_bits(gr, gs) && zeroed && canary_ok(ps) && canary_ok(ms) && canary_ok(vs) && canary_ok(us) &&
                  canary_ok(gs),
                  "adam_rows E=%zu rows=%zu finite %d/%d maxdiff=%g", E, n, fr, fs, max_abs_diff(pr.p, ps.p, GATHER_V * E));
            fbuf_free(pr); fbuf_free(ps); fbuf_free(gr); fbuf_free(gs); fbuf_free(mr); fbuf_free(ms);
            fbuf_free(vr); fbuf_free(vs); fbuf_free(ur); fbuf_free(us);
        }
    }
    for (size_t s = 0; s < NSIZES; s++) {
        for (size_t off = 0; off < NOFFSETS; off++) {
            size_t n = SIZES[s];
            fbuf src = fbuf_random(n, other_off(off), -1.0f, 1.0f);
            fbuf dst = fbuf_random(n, off, -1.0f, 1.0f), zr = fbuf_copy(dst, off), zs = fbuf_copy(dst, off);
            nn_k_copy(dst.p, src.p, n);
            check(n == 0 || (memcmp(dst.p, src.p, n * sizeof(float)) == 0 && canary_ok(dst)), "copy n=%zu off=%zu", n, off);
            nn_k_zero_ref(zr.p, n);
            nn_k_zero(zs.p, n);
            check(same_bits(zr, zs) && canary_ok(zs), "zero n=%zu off=%zu%s", n, off, canary_ok(zs) ? "" : " canary overwritten");
            nn_k_copy_ref(zr.p, src.p, n);
            check(n == 0 || memcmp(zr.p, src.p, n * sizeof(float)) == 0, "copy_ref n=%zu off=%zu", n, off);
            fbuf_free(src); fbuf_free(dst); fbuf_free(zr); fbuf_free(zs);
        }
    }
}

/* --------------------------------------------------------------------- bce */

/* The loss terms in double: the tolerance scale of a float sum. */
static double bce_magnitude(const float *z, const float *y, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++) {
        double zi = z[i], yi = y[i];
        m += fabs(fmax(zi, 0.0) - zi * yi + log1p(exp(-fabs(zi))));
    }
    return m;
}

static void test_bce_sizes(void) {
    for (size_t s = 0; s < NSIZES; s++) {
        for (size_t off = 0; off < NOFFSETS; off++) {
            size_t n = SIZES[s];
            float gscale = n ? 1.0f / (float)n : 1.0f;
            fbuf z = fbuf_random(n, off, -20.0f, 20.0f), y = fbuf_make(n, other_off(off));
            for (size_t i = 0; i < n; i++) y.p[i] = (float)nn_rng_below(&rng, 2);
            for (size_t i = 0; i < n; i += 11) y.p[i] = nn_rng_uniform(&rng, 0.0f, 1.0f); /* soft labels */
            fbuf dr = fbuf_make(n, other_off(off + 1)), ds = fbuf_make(n, other_off(off + 1));
            uint32_t cr = 7, cs = 7, cnull = 7;
            float lr = nn_k_bce_logits_ref(dr.p, z.p, y.p, gscale, n, &cr);
            float ls = nn_k_bce_logits(ds.p, z.p, y.p, gscale, n, &cs);
            float lnull = nn_k_bce_logits(NULL, z.p, y.p, gscale, n, &cnull);
            double tol = 1e-5 * bce_magnitude(z.p, y.p, n) + 1e-6 * (double)n;
            double ldiff = fabs((double)lr - ls), gdiff = max_abs_diff(dr.p, ds.p, n);
            check(ldiff <= tol && gdiff <= 1e-6 * gscale && cr == cs && lnull == ls && cnull == cs &&
                      canary_ok(ds),
                  "bce n=%zu off=%zu loss maxdiff=%g (tolerance %g) grad maxdiff=%g correct simd %u ref %u%s", n, off,
                  ldiff, tol, gdiff, (unsigned)(cs - 7), (unsigned)(cr - 7),
                  canary_ok(ds) ? "" : " canary overwritten");
            fbuf_free(z); fbuf_free(y); fbuf_free(dr); fbuf_free(ds);
        }
    }
}

/* The SIMD exp and log1p against libm, one logit at a time: with y = (z > 0)
 * the loss is exactly log1p(exp(-|z|)), and with y = 0, gscale = 1 the
 * gradient is exactly sigmoid(z). */
static void test_bce_accuracy(void) {
    uint32_t worst_sp = 0, worst_sig = 0;
    double rel_sp = 0.0, rel_sig = 0.0;
    float worst_sp_z = 0.0f, worst_sig_z = 0.0f;
    size_t count = 0;
    for (int pass = 0; pass < 2; pass++) {
        /* pass 0: a grid over [-110, 110]; pass 1: every 257th float in [-1, 1] */
        int64_t steps = pass == 0 ? 440000 : 1065353216 / 257;
        for (int64_t k = -steps; k <= steps; k++) {
            float z;
            if (pass == 0) {
                z = (float)k * 2.5e-4f;
            } else {
                uint32_t bits = (uint32_t)(k < 0 ? -k : k) * 257u;
                memcpy(&z, &bits, sizeof z);
                if (k < 0) z = -z;
            }
            float y = z > 0.0f ? 1.0f : 0.0f, zero = 0.0f;
            float sp_ref = nn_k_bce_logits_ref(NULL, &z, &y, 1.0f, 1, NULL);
            float sp = nn_k_bce_logits(NULL, &z, &y, 1.0f, 1, NULL);
            float sig_ref, sig;
            nn_k_bce_logits_ref(&sig_ref, &z, &zero, 1.0f, 1, NULL);
            nn_k_bce_logits(&sig, &z, &zero, 1.0f, 1, NULL);
            uint32_t u_sp = ulp_distance(sp, sp_ref), u_sig = ulp_distance(sig, sig_ref);
            if (u_sp > worst_sp) worst_sp = u_sp, worst_sp_z = z;
            if (u_sig > worst_sig) worst_sig = u_sig, worst_sig_z = z;
            if (sp_ref >= FLT_MIN) rel_sp = fmax(rel_sp, fabs(((double)sp - sp_ref) / sp_ref));
            if (sig_ref >= FLT_MIN) rel_sig = fmax(rel_sig, fabs(((double)sig - sig_ref) / sig_ref));
            count++;
        }
    }
    check(worst_sp <= 4, "bce log1p(exp(-|z|)) vs libm over %zu logits: max %u ulp at z=%g, relative %.2g",
          count, (unsigned)worst_sp, worst_sp_z, rel_sp);
    check(worst_sig <= 4, "bce sigmoid(z) vs libm over %zu logits: max %u ulp at z=%g, relative %.2g", count,
          (unsigned)worst_sig, worst_sig_z, rel_sig);
}

typedef float (*bce_fn)(float *, const float *, const float *, float, size_t, uint32_t *);

/* Extreme logits give finite losses and the exact limits of the gradient. */
static void test_bce_extremes(void) {
    static const float Z[] = {1e30f, -1e30f, 1e4f, -1e4f, 0.0f, -0.0f, 88.0f, -88.0f, 104.0f, -104.0f, 1e-30f};
    static const char *NAMES[] = {"ref", "simd"};
    bce_fn fns[] = {nn_k_bce_logits_ref, nn_k_bce_logits};
    const float gscale = 0.5f;
    for (int f = 0; f < 2; f++) {
        for (size_t i = 0; i < sizeof Z / sizeof Z[0]; i++) {
            for (int label = 0; label <= 1; label++) {
                float z = Z[i], y = (float)label, d;
                uint32_t correct = 0;
                float loss = fns[f](&d, &z, &y, gscale, 1, &correct);
                double zd = z;
                double want_loss = fmax(zd, 0.0) - zd * y + log1p(exp(-fabs(zd)));
                double want_d = (1.0 / (1.0 + exp(-zd)) - y) * gscale;
                double loss_err = fabs(loss - want_loss) / (1.0 + fabs(want_loss));
                double d_err = fabs(d - want_d);
                uint32_t want_correct = (z > 0.0f) == (y > 0.5f);
                check(isfinite(loss) && loss_err <= 1e-6 && d_err <= 1e-6 && correct == want_correct,
                      "bce %s z=%g y=%d loss=%g (want %g) dlogit=%g (want %g) maxdiff=%g", NAMES[f], z, label,
                      loss, want_loss, d, want_d, fmax(loss_err, d_err));
            }
        }
        /* The whole table at once, through the vector path and the tail. */
        float z[2 * sizeof Z / sizeof Z[0]], y[2 * sizeof Z / sizeof Z[0]];
        size_t n = 0;
        for (size_t i = 0; i < sizeof Z / sizeof Z[0]; i++) {
            for (int label = 0; label <= 1; label++) z[n] = Z[i], y[n++] = (float)label;
        }
        float loss = fns[f](NULL, z, y, gscale, n, NULL);
        check(isfinite(loss) && loss > 0.0f, "bce %s all extreme logits together n=%zu loss=%g is finite",
              NAMES[f], n, loss);
    }
}

/* A NaN logit or label must give a NaN loss and a NaN gradient in its place,
 * and leave the other gradients alone. */
static void test_bce_nan(void) {
    static const char *NAMES[] = {"ref", "simd"};
    bce_fn fns[] = {nn_k_bce_logits_ref, nn_k_bce_logits};
    for (int f = 0; f < 2; f++) {
        for (int in_label = 0; in_label <= 1; in_label++) {
            for (size_t at = 0; at < 7; at += 5) { /* in the vector body, and in the tail */
                float z[7] = {1.0f, -2.0f, 0.5f, 3.0f, -1.0f, 0.0f, 2.0f};
                float y[7] = {1.0f, 0.0f, 1.0f, 0.0f, 0.0f, 1.0f, 1.0f}, d[7];
                if (in_label) y[at] = NAN; else z[at] = NAN;
                float loss = fns[f](d, z, y, 1.0f, 7, NULL);
                int others_finite = 1;
                for (size_t i = 0; i < 7; i++) {
                    if (i != at && !isfinite(d[i])) others_finite = 0;
                }
                check(isnan(loss) && isnan(d[at]) && others_finite,
                      "bce %s NaN %s at %zu gives loss=%g dlogit=%g, other gradients finite", NAMES[f],
                      in_label ? "label" : "logit", at, loss, d[at]);
            }
        }
    }
}

static void test_bce_correct(void) {
    const float z[5] = {2.0f, -2.0f, 0.0f, 3.0f, -0.5f}, y[5] = {1.0f, 0.0f, 0.0f, 0.0f, 0.6f};
    uint32_t cr = 5, cs = 5;
    nn_k_bce_logits_ref(NULL, z, y, 1.0f, 5, &cr);
    nn_k_bce_logits(NULL, z, y, 1.0f, 5, &cs);
    check(cr == 8 && cs == 8, "bce adds its 3 correct predictions to *correct: ref %u simd %u (want 8)",
          (unsigned)cr, (unsigned)cs);
}

/* ------------------------------------------------------- matrix products */

static const size_t MM_SIZES[] = {1, 3, 4, 5, 7, 8, 15, 16, 17, 64};
#define MM_NSIZES (sizeof MM_SIZES / sizeof MM_SIZES[0])
/* 600 crosses matmul_tn_acc's 256-row slices twice. */
static const size_t MM_K[] = {1, 4, 17, 600};

typedef void (*matmul_fn)(float *, const float *, const float *, size_t, size_t, size_t);

/* For every (M, N): K in MM_K, each with its own unaligned starts; out starts
 * random (the kernels accumulate) and ends in a canary. */
static void test_matmul(const char *name, matmul_fn simd, matmul_fn ref) {
    for (size_t im = 0; im < MM_NSIZES; im++) {
        for (size_t in = 0; in < MM_NSIZES; in++) {
            size_t M = MM_SIZES[im], N = MM_SIZES[in];
            int same = 1, canaries = 1;
            double diff = 0.0;
            for (size_t ik = 0; ik < sizeof MM_K / sizeof MM_K[0]; ik++) {
                size_t K = MM_K[ik], off = (im + in + ik) % NOFFSETS;
                fbuf a = fbuf_random(M * K, other_off(off), -1.0f, 1.0f);
                fbuf b = fbuf_random(K * N, other_off(off + 1), -1.0f, 1.0f);
                fbuf outr = fbuf_random(M * N, off, -1.0f, 1.0f), outs = fbuf_copy(outr, off);
                ref(outr.p, a.p, b.p, M, K, N);
                simd(outs.p, a.p, b.p, M, K, N);
                same &= same_bits(outr, outs);
                canaries &= canary_ok(outs);
                diff = fmax(diff, max_abs_diff(outr.p, outs.p, M * N));
                fbuf_free(a); fbuf_free(b); fbuf_free(outr); fbuf_free(outs);
            }
            check(same && canaries, "%s M=%zu N=%zu K=1,4,17,600 maxdiff=%g%s", name, M, N, diff,
                  canaries ? "" : " canary overwritten");
        }
    }
}

/* matmul_tn_acc_ld on blocks: the output cut into two blocks of columns and
 * two blocks of rows, each computed on its own through the strides, equals
 * the reference on the whole matrix bit for bit (what a thread's share of a
 * weight gradient relies on). */
static void test_matmul_tn_blocks(void) {
    static const size_t MS[] = {1, 5, 32}, NS[] = {3, 17, 128}, KS[] = {1, 7, 300};
    for (size_t im = 0; im < 3; im++)
        for (size_t in = 0; in < 3; in++)
            for (size_t ik = 0; ik < 3; ik++) {
                size_t M = MS[im], N = NS[in], K = KS[ik], mc = M / 2, nc = (N / 3) | 1;
                fbuf a = fbuf_random(K * M, 1, -1.0f, 1.0f), b = fbuf_random(K * N, 2, -1.0f, 1.0f);
                fbuf outr = fbuf_random(M * N, 3, -1.0f, 1.0f), outs = fbuf_copy(outr, 0);
                nn_k_matmul_tn_acc_ref(outr.p, a.p, b.p, M, K, N);
                size_t rows[3] = {0, mc, M}, cols[3] = {0, nc, N};
                for (int ri = 0; ri < 2; ri++)
                    for (int ci = 0; ci < 2; ci++)
                        nn_k_matmul_tn_acc_ld(outs.p + rows[ri] * N + cols[ci], N, a.p + rows[ri], M,
                                              b.p + cols[ci], N, rows[ri + 1] - rows[ri], K,
                                              cols[ci + 1] - cols[ci]);
                check(same_bits(outr, outs) && canary_ok(outs),
                      "matmul_tn_acc_ld in 2x2 blocks M=%zu N=%zu K=%zu equals the reference", M, N, K);
                fbuf_free(a); fbuf_free(b); fbuf_free(outr); fbuf_free(outs);
            }
}

/* ------------------------------------------------------------ sigmoid, tanh */

/* Distance in representable floats, across zero too (-0 and +0 are 1 apart). */
static uint32_t ulp_signed(float a, float b) {
    int32_t ia, ib;
    memcpy(&ia, &a, sizeof ia);
    memcpy(&ib, &b, sizeof ib);
    int64_t oa = ia < 0 ? -(int64_t)(ia & 0x7fffffff) - 1 : ia;
    int64_t ob = ib < 0 ? -(int64_t)(ib & 0x7fffffff) - 1 : ib;
    int64_t d = oa > ob ? oa - ob : ob - oa;
    return d > 0xffffffff ? 0xffffffffu : (uint32_t)d;
}

typedef void (*unary_fn)(float *, const float *, size_t);

static void test_activation(const char *name, unary_fn simd, unary_fn ref, float lo, float hi) {
    for (size_t s = 0; s < NSIZES; s++) {
        for (size_t off = 0; off < NOFFSETS; off++) {
            size_t n = SIZES[s];
            fbuf inp = fbuf_random(n, other_off(off), lo, hi);
            fbuf outr = fbuf_make(n, off), outs = fbuf_make(n, off);
            ref(outr.p, inp.p, n);
            simd(outs.p, inp.p, n);
            uint32_t worst = 0;
            for (size_t i = 0; i < n; i++) {
                uint32_t u = ulp_signed(outr.p[i], outs.p[i]);
                if (u > worst) worst = u;
            }
            check(worst <= 4 && canary_ok(outs), "%s n=%zu off=%zu max %u ulp%s", name, n, off,
                  (unsigned)worst, canary_ok(outs) ? "" : " canary overwritten");
            /* in place */
            fbuf inplace = fbuf_copy(inp, other_off(off));
            simd(inplace.p, inplace.p, n);
            check(same_bits(inplace, outs) && canary_ok(inplace), "%s in place n=%zu off=%zu", name, n, off);
            fbuf_free(inp); fbuf_free(outr); fbuf_free(outs); fbuf_free(inplace);
        }
    }
    /* Accuracy over a fine grid on [-30, 30] and every 257th float in [-1, 1]. */
    uint32_t worst = 0;
    float worst_x = 0.0f;
    size_t count = 0;
    for (int pass = 0; pass < 2; pass++) {
        int64_t steps = pass == 0 ? 120000 : 1065353216 / 257;
        for (int64_t k = -steps; k <= steps; k++) {
            float x;
            if (pass == 0) {
                x = (float)k * 2.5e-4f;
            } else {
                uint32_t bits = (uint32_t)(k < 0 ? -k : k) * 257u;
                memcpy(&x, &bits, sizeof x);
                if (k < 0) x = -x;
            }
            float r, v;
            ref(&r, &x, 1);
            simd(&v, &x, 1);
            uint32_t u = ulp_signed(r, v);
            if (u > worst) worst = u, worst_x = x;
            count++;
        }
    }
    check(worst <= 4, "%s vs libm over %zu inputs: max %u ulp at x=%g", name, count, (unsigned)worst, worst_x);
    /* Special values, through the vector body and the tail. */
    float sp[9] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1e30f, -1e30f, 88.0f, -1e-30f}, outr[9], outs[9];
    ref(outr, sp, 9);
    simd(outs, sp, 9);
    int ok = isnan(outs[0]);
    for (int i = 1; i < 9; i++) ok &= ulp_signed(outr[i], outs[i]) <= 1;
    check(ok, "%s special values: NaN -> %g, inf -> %g, -inf -> %g, 0 -> %g, -0 -> %g, 1e30 -> %g, -1e30 -> %g",
          name, outs[0], outs[1], outs[2], outs[3], outs[4], outs[5], outs[6]);
}

int main(void) {
    nn_rng_seed(&rng, 20240601);
    test_matmul("matmul_acc", nn_k_matmul_acc, nn_k_matmul_acc_ref);
    test_matmul("matmul_tn_acc", nn_k_matmul_tn_acc, nn_k_matmul_tn_acc_ref);
    test_matmul_tn_blocks();
    test_activation("sigmoid", nn_k_sigmoid, nn_k_sigmoid_ref, -20.0f, 20.0f);
    test_activation("tanh", nn_k_tanh, nn_k_tanh_ref, -5.0f, 5.0f);
    test_axpy();
    test_scale();
    test_dot();
    test_dense_forward();
    test_dense_backward();
    test_nonzero_span();
    test_relu();
    test_relu_backward();
    test_sgd();
    test_all_finite();
    test_adam();
    test_gather_scatter();
    test_rows();
    test_bce_sizes();
    test_bce_extremes();
    test_bce_nan();
    test_bce_correct();
    test_bce_accuracy();
    return check_exit_code();
}
