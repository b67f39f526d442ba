/* encoder_imdb.c: the Transformer encoder (engine/encoder.h) trained on the
 * IMDB shard natively, one thread, before it is a model kind of its own:
 * the first real-data figures for choosing its dimensions.
 *
 *   build/encoder_imdb --shard data/imdb.shard [--embed_dim 32] [--layers 1]
 *       [--heads 2] [--maxlen 256] [--epochs 2] [--lr 0.001] [--batch_size 32]
 *       [--dropout 0.1] [--vocab_size 10000] [--padding post] [--wd 0.01]
 *       [--warmup 0.1] [--init-sd 0.02] [--test]
 *
 * Config keys as imdb_train takes them (only those above are used); the
 * shuffled training split's first val_size reviews (5,000 unless given)
 * validate, the rest train. AdamW with BERT's linear warm-up (a --warmup
 * fraction of all steps) and decay. Prints each epoch's training and
 * validation loss and accuracy and its wall and CPU seconds; --test also
 * scores the 25,000 test reviews at the end. A benchmark: asserts nothing.
 *
 * Measured (2026-12-07, seed 1, maxlen 256 'post', batch 32, lr 0.001, wd
 * 0.01, warm-up 0.1, dropout 0.1, one thread on the shared 2-core machine
 * under load 8-13):
 *   E 32, 1 block, 2 heads, 2 epochs: val_acc 0.870, 0.878; test 0.8626;
 *     56 s CPU per epoch (80-106 s wall)
 *   E 32, 1 block, 3 epochs: val_acc 0.863, 0.876, 0.878 (val_loss lowest
 *     at epoch 2); test after epoch 3 0.8575; 53-58 s CPU per epoch
 *   E 32, 2 blocks, 2 epochs: val_acc 0.861, 0.870; test 0.8538; 96-101 s
 *     CPU per epoch. */
#define _POSIX_C_SOURCE 199309L
#include "cli.h"
#include "encoder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ids (n,T) padded the config's way, labels (n), for the reviews idx (n). */
static void pad_set(uint16_t *ids, float *y, const nn_split *s, const uint32_t *idx, uint32_t n,
                    const nn_config *cfg) {
    for (uint32_t i = 0; i < n; i++) {
        uint32_t r = idx[i];
        nn_pad_review(ids + (size_t)i * cfg->maxlen, s->tokens + s->offset[r], s->offset[r + 1] - s->offset[r], cfg);
        y[i] = (float)s->label[r];
    }
}

static void evaluate(nn_encoder *enc, const uint16_t *ids, const float *y, uint32_t n, uint32_t B,
                     double *loss, double *acc) {
    uint32_t hits = 0;
    double sum = 0;
    for (uint32_t i = 0; i < n; i += B) {
        uint32_t b = n - i < B ? n - i : B;
        sum += (double)nn_encoder_forward_backward(enc, ids + (size_t)i * enc->T, y + i, b, NULL, 0, &hits) * b;
    }
    *loss = sum / n;
    *acc = (double)hits / n;
}

int main(int argc, char **argv) {
    nn_config cfg;
    unsigned char *used = nn_cli_start(&cfg, argc, argv, "encoder_imdb");
    const char *shard_path = NULL;
    uint32_t heads = 2;
    float wd = 0.01f, warmup = 0.1f, init_sd = 0.02f;
    int test = 0;
    /* this tool's own defaults where the flag was not given */
    int given_embed = 0, given_layers = 0, given_batch = 0, given_epochs = 0, given_val = 0, given_lr = 0,
        given_dropout = 0;
    for (int i = 1; i < argc; i++) {
        given_embed |= !strcmp(argv[i], "--embed_dim");
        given_layers |= !strcmp(argv[i], "--layers");
        given_batch |= !strcmp(argv[i], "--batch_size");
        given_epochs |= !strcmp(argv[i], "--epochs");
        given_val |= !strcmp(argv[i], "--val_size");
        given_lr |= !strcmp(argv[i], "--lr");
        given_dropout |= !strcmp(argv[i], "--dropout");
        if (used[i]) continue;
        if (!strcmp(argv[i], "--shard") && i + 1 < argc) shard_path = argv[++i];
        else if (!strcmp(argv[i], "--heads") && i + 1 < argc) heads = (uint32_t)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--wd") && i + 1 < argc) wd = (float)atof(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) warmup = (float)atof(argv[++i]);
        else if (!strcmp(argv[i], "--init-sd") && i + 1 < argc) init_sd = (float)atof(argv[++i]);
        else if (!strcmp(argv[i], "--test")) test = 1;
        else {
            fprintf(stderr, "encoder_imdb: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    free(used);
    if (!given_embed) cfg.embed_dim = 32;
    if (!given_layers) cfg.layers = 1;
    if (!given_batch) cfg.batch_size = 32;
    if (!given_epochs) cfg.epochs = 2;
    if (!given_val) cfg.val_size = 5000;
    if (!given_lr) cfg.lr = 1e-3f;
    if (!given_dropout) cfg.dropout = 0.1f;
    if (!shard_path || cfg.embed_dim % heads || cfg.layers < 1 || cfg.layers > NN_ENCODER_MAX_LAYERS) {
        fprintf(stderr, "usage: encoder_imdb --shard data/imdb.shard [config keys] [--heads N] ...\n"
                        "(embed_dim a multiple of heads, layers 1..%d)\n", NN_ENCODER_MAX_LAYERS);
        return 2;
    }
    nn_shard shard;
    uint8_t *buf;
    nn_error err;
    if (nn_cli_load_shard(shard_path, &shard, &buf, &err) != 0) {
        fprintf(stderr, "encoder_imdb: %s\n", err.msg);
        return 1;
    }
    const nn_split *train = nn_shard_find(&shard, "train"), *testsplit = nn_shard_find(&shard, "test");
    if (!train || !testsplit || cfg.val_size >= train->n) {
        fprintf(stderr, "encoder_imdb: the shard needs train and test splits, and val_size < train\n");
        return 1;
    }
    const uint32_t T = cfg.maxlen, B = cfg.batch_size, E = cfg.embed_dim;
    uint32_t n = train->n, nval = cfg.val_size, ntrain = n - nval;
    uint32_t *idx = malloc(n * sizeof *idx), *tidx = malloc(testsplit->n * sizeof *tidx);
    uint16_t *ids = malloc((size_t)n * T * sizeof *ids);
    float *y = malloc(n * sizeof *y);
    for (uint32_t i = 0; i < n; i++) idx[i] = i;
    nn_rng rng;
    nn_rng_seed(&rng, cfg.seed);
    nn_rng_shuffle_u32(&rng, idx, n);
    pad_set(ids, y, train, idx, n, &cfg); /* rows 0..nval-1 validate */
    nn_encoder enc;
    if (nn_encoder_init(&enc, cfg.vocab_size, T, E, heads, 4 * E, cfg.layers, B, cfg.dropout, init_sd,
                        cfg.seed) != 0) {
        fprintf(stderr, "encoder_imdb: out of memory\n");
        return 1;
    }
    printf("encoder_imdb: V %u, T %u, E %u, heads %u, F %u, layers %u, dropout %g; %zu parameters; "
           "batch %u, AdamW lr %g wd %g, warm-up %g of %u epochs; %u train, %u validate\n",
           cfg.vocab_size, T, E, heads, 4 * E, cfg.layers, cfg.dropout, enc.nparams, B, cfg.lr, wd, warmup,
           cfg.epochs, ntrain, nval);
    uint32_t *order = malloc(ntrain * sizeof *order);
    uint16_t *bids = malloc((size_t)B * T * sizeof *bids);
    float *by = malloc(B * sizeof *by);
    uint64_t steps_per_epoch = (ntrain + B - 1) / B, total = steps_per_epoch * cfg.epochs;
    uint64_t wsteps = (uint64_t)(warmup * (double)total), t = 0;
    nn_rng drop;
    nn_rng_seed(&drop, cfg.seed + 1);
    for (uint32_t ep = 1; ep <= cfg.epochs; ep++) {
        double w0 = nn_now_ms(), c0 = cpu_s(), lsum = 0;
        uint32_t hits = 0;
        for (uint32_t i = 0; i < ntrain; i++) order[i] = nval + i;
        nn_rng_shuffle_u32(&rng, order, ntrain);
        for (uint32_t i = 0; i < ntrain; i += B) {
            uint32_t b = ntrain - i < B ? ntrain - i : B;
            for (uint32_t k = 0; k < b; k++) {
                memcpy(bids + (size_t)k * T, ids + (size_t)order[i + k] * T, T * sizeof *bids);
                by[k] = y[order[i + k]];
            }
            lsum += (double)nn_encoder_forward_backward(&enc, bids, by, b, &drop, 1, &hits) * b;
            nn_encoder_adamw(&enc, nn_lr_warmup_linear(t++, wsteps, total, cfg.lr), 0.9f, 0.999f, 1e-7f, wd);
        }
        double vloss, vacc;
        evaluate(&enc, ids, y, nval, B, &vloss, &vacc);
        printf("epoch %u: loss %.4f acc %.4f val_loss %.4f val_acc %.4f  %.1f s wall, %.1f s CPU\n", ep,
               lsum / ntrain, (double)hits / ntrain, vloss, vacc, (nn_now_ms() - w0) / 1e3, cpu_s() - c0);
        fflush(stdout);
    }
    if (test) {
        for (uint32_t i = 0; i < testsplit->n; i++) tidx[i] = i;
        uint16_t *tids = malloc((size_t)testsplit->n * T * sizeof *tids);
        float *ty = malloc(testsplit->n * sizeof *ty);
        pad_set(tids, ty, testsplit, tidx, testsplit->n, &cfg);
        double tloss, tacc;
        evaluate(&enc, tids, ty, testsplit->n, B, &tloss, &tacc);
        printf("test: loss %.4f acc %.4f\n", tloss, tacc);
        free(tids); free(ty);
    }
    nn_encoder_free(&enc);
    free(idx); free(tidx); free(ids); free(y); free(order); free(bids); free(by);
    nn_shard_free(&shard);
    free(buf);
    return 0;
}
