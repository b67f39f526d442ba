/* mlm_bench.c: what the masked-language model's full-softmax head costs,
 * one thread, on real reviews: CPU seconds of the training pass of the
 * same batches (tutorial-transformer's model, maxlen 200) as the pooled
 * classifier (nn_model_forward_backward) and as the masked-language model
 * (nn_mlm_forward_backward: the encoder plus the tied head over 10,000
 * words), and the head's share. A benchmark: asserts nothing.
 *
 *   build/mlm_bench --shard data/imdb.shard [--batches 20] [--<key> VALUE ...]
 *
 * Measured (2026-12-07, load average 10-11, under nice -n 10): 159 real
 * tokens and 23.8 masked a review; classifier pass 1.57 ms CPU a review,
 * MLM pass 6.26 ms, of which the head 4.69 ms (75%); a pass over 75,000
 * reviews 470 s CPU. */
#define _POSIX_C_SOURCE 199309L
#include "cli.h"
#include "mlm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    nn_config cfg;
    nn_error err = {0};
    unsigned char *used = nn_cli_start(&cfg, argc, argv, "mlm_bench");
    nn_config_preset(&cfg, "tutorial-transformer");
    memset(used, 0, (size_t)argc);
    if (nn_cli_config(&cfg, argc, argv, used, &err)) return fprintf(stderr, "mlm_bench: %s\n", err.msg), 2;
    const char *path = NULL;
    int batches = 20;
    for (int i = 1; i < argc; i++) {
        if (used[i]) continue;
        if (i + 1 < argc && !strcmp(argv[i], "--shard")) path = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--batches")) batches = atoi(argv[++i]);
        else return fprintf(stderr, "usage: mlm_bench --shard data/imdb.shard [--batches N] [--<key> VALUE ...]\n"), 2;
    }
    nn_shard shard;
    uint8_t *buf;
    nn_model *m;
    nn_mlm *mm;
    if (!path || nn_cli_load_shard(path, &shard, &buf, &err) || nn_model_create(&m, &cfg, &err) ||
        nn_mlm_create(&mm, m, &err))
        return fprintf(stderr, "mlm_bench: %s\n", path ? err.msg : "--shard is required"), 1;
    nn_rng r;
    nn_rng_seed(&r, 1);
    nn_model_init(m, &r);
    const nn_split *tr = nn_shard_find(&shard, "train");
    const uint32_t B = cfg.batch_size, T = cfg.maxlen;
    uint16_t *ids = malloc((size_t)B * T * 2), *in = malloc((size_t)B * T * 2), *tg = malloc((size_t)B * T * 2);
    float *y = malloc(B * sizeof *y);
    double cls = 0, mlm = 0;
    uint64_t tokens = 0, targets = 0;
    for (int k = 0; k < batches; k++) {
        for (uint32_t b = 0; b < B; b++) {
            uint32_t i = nn_rng_below(&r, tr->n);
            nn_pad_review(ids + (size_t)b * T, tr->tokens + tr->offset[i], tr->offset[i + 1] - tr->offset[i], &cfg);
            y[b] = tr->label[i];
            for (uint32_t t = 0; t < T; t++) tokens += ids[(size_t)b * T + t] != 0;
        }
        targets += nn_mlm_mask(in, tg, ids, B, T, cfg.vocab_size, &r);
        uint32_t c = 0;
        nn_model_zero_grad(m);
        double t0 = cpu_s();
        nn_model_forward_backward(m, ids, y, B, &c);
        double t1 = cpu_s();
        nn_model_zero_grad(m);
        nn_mlm_forward_backward(mm, in, tg, B, 1, NULL, NULL);
        double t2 = cpu_s();
        cls += t1 - t0;
        mlm += t2 - t1;
    }
    double reviews = (double)batches * B;
    printf("%d batches of %u reviews (%.0f real tokens and %.1f masked a review), one thread:\n"
           "  classifier training pass: %.2f ms CPU a review\n"
           "  MLM training pass:        %.2f ms CPU a review (the head over %u words: %.2f ms, %.0f%%)\n"
           "  a pass over 75,000 reviews: MLM %.0f s CPU (classifier pass %.0f s)\n",
           batches, B, tokens / reviews, targets / reviews, 1e3 * cls / reviews, 1e3 * mlm / reviews, cfg.vocab_size,
           1e3 * (mlm - cls) / reviews, 100 * (mlm - cls) / mlm, 75000 * mlm / reviews, 75000 * cls / reviews);
    nn_mlm_free(mm);
    nn_model_free(m);
    nn_shard_free(&shard);
    free(buf);
    free(ids);
    free(in);
    free(tg);
    free(y);
    free(used);
    return 0;
}
