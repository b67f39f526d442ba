/* matmul_bench.c: the dense products of the tutorial-mlp preset, timed.
 *
 *   build/matmul_bench [--repeat N]
 *
 * nn_k_matmul_acc (the forward pass, out (64,512) += x (64,784) . w
 * (784,512)) and nn_k_matmul_tn_acc (the weight gradient, dw (784,512) +=
 * x^T . dout (64,512)), the two products that dominate an epoch of the MLP,
 * and their scalar references, on synthetic data. Prints the best time of N
 * rounds of 20 calls and GFLOP/s (2 flops per multiply-add). A benchmark:
 * prints figures, asserts nothing. */
#include "kernels.h"
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*matmul_fn)(float *, const float *, const float *, size_t, size_t, size_t);

static double best_ms(matmul_fn f, float *out, const float *a, const float *b, size_t M, size_t K,
                      size_t N, int repeat, int calls) {
    double best = 1e30;
    for (int r = 0; r < repeat; r++) {
        double t0 = nn_now_ms();
        for (int c = 0; c < calls; c++) f(out, a, b, M, K, N);
        double ms = (nn_now_ms() - t0) / calls;
        if (ms < best) best = ms;
    }
    return best;
}

int main(int argc, char **argv) {
    int repeat = 7;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--repeat N]\n", argv[0]);
            return 2;
        }
    }
    if (repeat < 1) repeat = 1;
    const size_t B = 64, D = 784, H = 512;
    float *x = malloc(B * D * sizeof *x), *w = malloc(D * H * sizeof *w);
    float *out = calloc(B * H, sizeof *out), *g = malloc(B * H * sizeof *g), *dw = calloc(D * H, sizeof *dw);
    if (!x || !w || !out || !g || !dw) return 1;
    for (size_t i = 0; i < B * D; i++) x[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < D * H; i++) w[i] = (float)(i % 5) * 0.01f;
    for (size_t i = 0; i < B * H; i++) g[i] = (float)(i % 3) * 0.01f;
    double gflop = 2.0 * B * D * H / 1e9;
    struct { const char *name; matmul_fn f; float *o; const float *a, *b; size_t M, K, N; int calls; } runs[] = {
        {"matmul_acc     out(64,512) += x(64,784) . w(784,512)", nn_k_matmul_acc, out, x, w, B, D, H, 20},
        {"matmul_tn_acc  dw(784,512) += x^T . dout(64,512)   ", nn_k_matmul_tn_acc, dw, x, g, D, B, H, 20},
        {"matmul_acc_ref (scalar reference)                  ", nn_k_matmul_acc_ref, out, x, w, B, D, H, 2},
        {"matmul_tn_acc_ref (scalar reference)               ", nn_k_matmul_tn_acc_ref, dw, x, g, D, B, H, 2},
    };
    printf("matmul_bench: the tutorial-mlp preset's dense products, best of %d\n", repeat);
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        double ms = best_ms(runs[i].f, runs[i].o, runs[i].a, runs[i].b, runs[i].M, runs[i].K, runs[i].N,
                            repeat, runs[i].calls);
        printf("%s %8.3f ms  %6.1f GFLOP/s\n", runs[i].name, ms, gflop / ms * 1e3);
    }
    free(x), free(w), free(out), free(g), free(dw);
    return 0;
}
