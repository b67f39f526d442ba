/* attention_bench.c: the Transformer encoder's kernels and a whole training
 * step, timed natively on one thread, to plan the encoder's dimensions.
 *
 *   build/attention_bench [--batch 32] [--maxlen 256] [--embed 64] [--heads 2]
 *                         [--layers 2] [--vocab 10000] [--ff 4xembed] [--repeat 3]
 *
 * Prints, for a batch of B rows of T tokens (every row full, the worst case;
 * then rows of ragged lengths uniform in [T/4, T], closer to IMDB at maxlen
 * 256), each layer's best time of N rounds with its GFLOP/s (2 flops per
 * multiply-add), then a training step (forward, backward, Adam) and an
 * evaluation forward pass of nn_encoder, and from them the time of an epoch
 * of 20,000 training and 5,000 validation reviews. Times are the process's
 * CPU time (best of N), which a machine busy with other work inflates less
 * than wall time; the wall time of the step is printed beside it. A
 * benchmark: prints figures, asserts nothing. */
#define _POSIX_C_SOURCE 199309L
#include "cli.h"
#include "encoder.h"
#include "kernels.h"
#include "layers.h"
#include "layers_attn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint32_t B = 32, T = 256, E = 64, NH = 2, L = 2, V = 10000, FF = 0; /* FF 0: 4 x E */
static int repeat = 3;

static double cpu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double last_wall_ms; /* the wall time of the best round */

#define TIME_BEST(best, stmt)                                     \
    do {                                                          \
        best = 1e30;                                              \
        for (int r_ = 0; r_ < repeat; r_++) {                     \
            double t0_ = cpu_ms(), w0_ = nn_now_ms();             \
            stmt;                                                 \
            double ms_ = cpu_ms() - t0_;                          \
            if (ms_ < best) best = ms_, last_wall_ms = nn_now_ms() - w0_; \
        }                                                         \
    } while (0)

static void line(const char *name, double ms, double flops) {
    if (flops > 0) printf("  %-46s %9.3f ms  %6.2f GFLOP/s\n", name, ms, flops / ms / 1e6);
    else printf("  %-46s %9.3f ms\n", name, ms);
}

static float *frand(size_t n, nn_rng *r) {
    float *p = malloc(n * sizeof(float));
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) p[i] = nn_rng_uniform(r, -1.0f, 1.0f);
    return p;
}

static void layers(int ragged, nn_rng *r) {
    const uint32_t F = FF ? FF : 4 * E, N = B * T;
    uint8_t *mask = malloc(N);
    double real = 0, sq = 0;
    for (uint32_t b = 0; b < B; b++) {
        uint32_t len = ragged ? T / 4 + nn_rng_below(r, T - T / 4 + 1) : T;
        for (uint32_t t = 0; t < T; t++) mask[b * T + t] = t < len;
        real += len;
        sq += (double)len * len;
    }
    printf("%s rows: %.0f real tokens of %u (mean length %.0f)\n", ragged ? "ragged" : "full", real,
           N, real / B);
    const uint32_t G = F > 3 * E ? F : 3 * E; /* the widest output: the feed-forward's or q, k, v's */
    float *x = frand((size_t)N * G, r), *w = frand((size_t)E * G, r), *bias = frand(G, r);
    float *out = frand((size_t)N * G, r), *dx = frand((size_t)N * G, r), *dw = frand((size_t)E * G, r);
    float *wt = frand((size_t)E * G, r), *qkv = frand((size_t)N * 3 * E, r), *dqkv = frand((size_t)N * 3 * E, r);
    float *att = frand((size_t)B * NH * T * T, r), *work = frand(nn_attention_work_floats(T, E, NH), r);
    float *mean = frand(N, r), *rstd = frand(N, r), *lw = frand(E, r);
    double ms, dense = 2.0 * N * E * 3 * E;
    TIME_BEST(ms, nn_linear_forward(out, x, w, bias, N, E, 3 * E));
    line("linear forward   (B*T,E)->(B*T,3E)", ms, dense);
    TIME_BEST(ms, nn_linear_backward(dx, dw, bias, wt, out, x, w, N, E, 3 * E));
    line("linear backward  (dW and dX)", ms, 2 * dense);
    TIME_BEST(ms, nn_linear_forward(out, x, w, bias, N, E, F));
    line("linear forward   (B*T,E)->(B*T,4E)", ms, 2.0 * N * E * F);
    double attf = 2.0 * 2.0 * sq * E; /* scores and weighted sum over real rows */
    TIME_BEST(ms, nn_attention_forward(out, att, work, qkv, mask, B, T, E, NH, NULL));
    line("attention forward (masked, ragged)", ms, attf);
    TIME_BEST(ms, nn_attention_backward(dqkv, work, out, qkv, att, mask, B, T, E, NH));
    line("attention backward", ms, 2 * attf);
    TIME_BEST(ms, for (uint32_t i = 0; i < B * NH * (ragged ? 1 : T) / (ragged ? 1 : 1); i++)
                      nn_k_softmax_scaled(att + (size_t)i * T, qkv + (size_t)(i % N) * 3 * E, 0.125f, T));
    line(ragged ? "softmax_scaled B*NH rows of T" : "softmax_scaled B*NH*T rows of T", ms, 0);
    TIME_BEST(ms, nn_layernorm_forward(out, mean, rstd, x, lw, lw, N, E));
    line("layernorm forward (B*T,E)", ms, 0);
    TIME_BEST(ms, nn_layernorm_backward(dx, dw, bias, out, x, lw, mean, rstd, N, E));
    line("layernorm backward", ms, 0);
    TIME_BEST(ms, nn_gelu_forward(out, x, (size_t)N * F));
    line("gelu forward (B*T,4E)", ms, 0);
    TIME_BEST(ms, nn_gelu_backward(dx, out, x, (size_t)N * F));
    line("gelu backward", ms, 0);
    free(mask); free(x); free(w); free(bias); free(out); free(dx); free(dw); free(wt); free(qkv); free(dqkv);
    free(att); free(work); free(mean); free(rstd); free(lw);
}

static void whole(int ragged, nn_rng *r) {
    const uint32_t F = FF ? FF : 4 * E;
    nn_encoder enc;
    if (nn_encoder_init(&enc, V, T, E, NH, F, L, B, 0.1f, 0.02f, 1) != 0) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    uint16_t *ids = malloc((size_t)B * T * sizeof(uint16_t));
    float *y = malloc(B * sizeof(float));
    double real = 0;
    for (uint32_t b = 0; b < B; b++) {
        uint32_t len = ragged ? T / 4 + nn_rng_below(r, T - T / 4 + 1) : T;
        for (uint32_t t = 0; t < T; t++) ids[b * T + t] = t < len ? (uint16_t)(4 + nn_rng_below(r, V - 4)) : 0;
        y[b] = (float)(b & 1);
        real += len;
    }
    nn_rng drop;
    nn_rng_seed(&drop, 2);
    double step, fwd;
    TIME_BEST(step, nn_encoder_forward_backward(&enc, ids, y, B, &drop, 1, NULL);
              nn_encoder_adam(&enc, 1e-3f, 0.9f, 0.999f, 1e-7f));
    TIME_BEST(fwd, nn_encoder_forward_backward(&enc, ids, y, B, NULL, 0, NULL));
    double flops = nn_encoder_forward_flops(B, T, E, F, L); /* every position, attention over T */
    double step_wall = last_wall_ms;
    printf("  %-46s %9.3f ms  %6.2f GFLOP/s (3x the forward's %.2f GFLOP; wall %.0f ms)\n",
           "training step (forward, backward, Adam)", step, 3 * flops / step / 1e6, flops / 1e9, step_wall);
    printf("  %-46s %9.3f ms  %6.2f GFLOP/s\n", "evaluation forward", fwd, flops / fwd / 1e6);
    if (ragged) printf("  (ragged: GFLOP/s against the full-row count, what the masked attention saves shows as a gain)\n");
    double steps = 20000.0 / B, evals = 5000.0 / B;
    double epoch = (steps * step + evals * fwd) / 1e3;
    printf("  epoch of 20,000 + 5,000 validation (%s rows, %zu parameters): %.1f s on one thread "
           "(%.0f GFLOP)\n", ragged ? "ragged" : "full", enc.nparams, epoch,
           (steps * 3 + evals) * flops / 1e9);
    (void)real;
    free(ids); free(y);
    nn_encoder_free(&enc);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        uint32_t *dst = NULL;
        if (!strcmp(argv[i], "--batch")) dst = &B;
        else if (!strcmp(argv[i], "--maxlen")) dst = &T;
        else if (!strcmp(argv[i], "--embed")) dst = &E;
        else if (!strcmp(argv[i], "--heads")) dst = &NH;
        else if (!strcmp(argv[i], "--layers")) dst = &L;
        else if (!strcmp(argv[i], "--vocab")) dst = &V;
        else if (!strcmp(argv[i], "--ff")) dst = &FF;
        if ((dst || !strcmp(argv[i], "--repeat")) && i + 1 < argc) {
            int v = atoi(argv[++i]);
            if (dst) *dst = (uint32_t)v;
            else repeat = v < 1 ? 1 : v;
            continue;
        }
        fprintf(stderr, "usage: %s [--batch B] [--maxlen T] [--embed E] [--heads NH] [--layers L] "
                        "[--vocab V] [--ff F (4 x embed)] [--repeat N]\n", argv[0]);
        return 2;
    }
    if (E % NH || L < 1 || L > NN_ENCODER_MAX_LAYERS || V > 65536) {
        fprintf(stderr, "embed must be a multiple of heads, layers 1..%d, vocab <= 65536\n", NN_ENCODER_MAX_LAYERS);
        return 2;
    }
    printf("attention_bench: B %u, T %u, E %u, heads %u, F %u, layers %u, vocab %u; best of %d, one thread\n",
           B, T, E, NH, FF ? FF : 4 * E, L, V, repeat);
    nn_rng r;
    nn_rng_seed(&r, 1);
    for (int ragged = 0; ragged < 2; ragged++) {
        layers(ragged, &r);
        whole(ragged, &r);
    }
    return 0;
}
