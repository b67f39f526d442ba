/* mlm_pretrain.c: imdb_pretrain, masked-language-model pretraining of the
 * Transformer encoder (engine/mlm.h) on the unlabelled reviews and the
 * training reviews (never the test reviews), saved as a checkpoint that
 * imdb_train --init reads (preset transformer-pretrained) and
 * imdb_predict --fill answers from.
 *
 *   imdb_pretrain --shard data/imdb.shard --unsup data/imdb-unsup.shard --out encoder.ckpt
 *                 [--preset transformer-pretrained] [--<key> VALUE ...] [--passes N]
 *                 [--reviews N] [--threads N] [--save-passes] [--quiet]
 *
 * The recipe is transformer-pretrained's unless --preset or --config
 * names another: its dimensions, maxlen, batch_size, weight_decay,
 * dropout, alibi, positions and seed, and pretraining's own rate and
 * warm-up, mlm_lr and mlm_warmup_steps. Here --lr and --warmup_steps mean
 * those two (this tool only pretrains), so "--lr 0.003" sets mlm_lr.
 * --passes N passes over the corpus (default 1); --reviews N takes only
 * the first N reviews of each pass's shuffled order (a budget below one
 * pass). --save-passes also writes the encoder as it is at the end of each
 * pass but the last to OUT.passK (K = 1, 2, ...: mid-schedule, the rate
 * not yet decayed to 0), so a long run can be fine-tuned from before it
 * ends. Prints a line every twentieth of the run: reviews done,
 * masked-token loss and accuracy since the last line (each batch is
 * masked afresh and, within the first pass, never seen before, so these
 * are held-out figures), rate, wall and CPU time and the time left. */
#include "cli.h"
#include "threads.h"
#include "../mlm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *f) {
    fprintf(f, "usage: imdb_pretrain --shard data/imdb.shard --unsup data/imdb-unsup.shard --out encoder.ckpt\n"
               "                     [--preset transformer-pretrained] [--<key> VALUE ...] [--passes N]\n"
               "                     [--reviews N (per pass)] [--threads N] [--save-passes] [--quiet]\n"
               "--lr and --warmup_steps here are pretraining's: the keys mlm_lr and mlm_warmup_steps\n");
}

/* Writes the run's model as an encoder checkpoint to path; 0 on success. */
static int save_encoder(nn_mlm_run *run, const nn_shard *shard, const char *path, size_t *len, nn_error *err) {
    uint8_t *ck;
    size_t cklen;
    if (nn_checkpoint_write(nn_mlm_run_model(run), &shard->vocab, shard->vocab_crc, NULL, 0, &ck, &cklen, err))
        return 1;
    int rc = nn_write_file(path, ck, cklen, err);
    free(ck);
    if (rc) return 1;
    if (len) *len = cklen;
    return 0;
}

static double cpu_s(void) { return (double)clock() / CLOCKS_PER_SEC; }

int main(int argc, char **argv) {
    const char *shard_path = NULL, *unsup_path = NULL, *out_path = NULL;
    long threads = 1, passes = 1;
    unsigned long long reviews = 0;
    int quiet = 0, preset = 0, save_passes = 0;
    nn_error err = {0};
    nn_config cfg;
    for (int i = 1; i < argc; i++) {
        preset |= !strcmp(argv[i], "--preset") || !strcmp(argv[i], "--config");
        /* This tool's rate is pretraining's (argv's strings are writable;
         * the new names are static). */
        if (!strcmp(argv[i], "--lr")) argv[i] = (char *)"--mlm_lr";
        else if (!strcmp(argv[i], "--warmup_steps")) argv[i] = (char *)"--mlm_warmup_steps";
    }
    unsigned char *used = nn_cli_start(&cfg, argc, argv, "imdb_pretrain");
    if (!preset) { /* the pretrained recipe unless one is given, then the flags again */
        nn_config_preset(&cfg, "transformer-pretrained");
        memset(used, 0, (size_t)argc);
        if (nn_cli_config(&cfg, argc, argv, used, &err)) {
            fprintf(stderr, "imdb_pretrain: %s\n", err.msg);
            return 2;
        }
    }
    for (int i = 1; i < argc; i++) {
        if (used[i]) continue;
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--quiet")) {
            quiet = 1;
        } else if (!strcmp(a, "--save-passes")) {
            save_passes = 1;
        } else if (i + 1 < argc && !strcmp(a, "--shard")) {
            shard_path = argv[++i];
        } else if (i + 1 < argc && !strcmp(a, "--unsup")) {
            unsup_path = argv[++i];
        } else if (i + 1 < argc && !strcmp(a, "--out")) {
            out_path = argv[++i];
        } else if (i + 1 < argc && !strcmp(a, "--passes")) {
            passes = strtol(argv[++i], NULL, 10);
        } else if (i + 1 < argc && !strcmp(a, "--reviews")) {
            reviews = strtoull(argv[++i], NULL, 10);
        } else if (i + 1 < argc && !strcmp(a, "--threads")) {
            threads = strtol(argv[++i], NULL, 10);
        } else {
            fprintf(stderr, "imdb_pretrain: unknown argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!shard_path || !out_path || threads < 1 || threads > 64 || passes < 1 || passes > 1000) {
        fprintf(stderr, "imdb_pretrain: --shard and --out are required; --threads 1..64, --passes 1..1000\n");
        usage(stderr);
        return 2;
    }
    nn_shard shard, unsup;
    uint8_t *buf = NULL, *ubuf = NULL;
    memset(&unsup, 0, sizeof unsup);
    if (nn_cli_load_shard(shard_path, &shard, &buf, &err) ||
        (unsup_path && nn_cli_load_shard(unsup_path, &unsup, &ubuf, &err))) {
        fprintf(stderr, "imdb_pretrain: %s\n", err.msg);
        return 1;
    }
    const nn_split *splits[2];
    uint32_t n = 0;
    if ((splits[n] = nn_shard_find(&shard, "train"))) n++;
    if (unsup_path) {
        if (unsup.vocab_crc != shard.vocab_crc) {
            fprintf(stderr, "imdb_pretrain: %s uses another vocabulary than %s: rebuild both with scripts/setup.sh\n",
                    unsup_path, shard_path);
            return 1;
        }
        if (!(splits[n] = nn_shard_find(&unsup, "unsup"))) {
            fprintf(stderr, "imdb_pretrain: %s has no \"unsup\" split (scripts/setup.sh builds it)\n", unsup_path);
            return 1;
        }
        n++;
    }
    nn_mlm_run *run;
    if (nn_mlm_run_create(&run, &cfg, splits, n, (uint32_t)passes, reviews, &err)) {
        fprintf(stderr, "imdb_pretrain: %s\n", err.msg);
        return 1;
    }
    nn_threads *pool = nn_threads_create((uint32_t)threads);
    nn_parallel par = nn_threads_parallel(pool);
    nn_model_set_parallel(nn_mlm_run_model(run), &par);
    nn_mlm_progress p = {0};
    double t0 = nn_now_ms(), c0 = cpu_s(), loss = 0;
    uint64_t targets = 0, next = 0, right = 0;
    if (!quiet)
        printf("MLM pretraining: %u reviews (%s%s), %ld pass%s of %llu, maxlen %u, width %u, %u heads, %u blocks, "
               "batch %u, lr %g (%u warm-up steps), %s positions%s, %ld threads\n",
               splits[0]->n + (n > 1 ? splits[1]->n : 0), splits[0]->name, n > 1 ? " + unsup" : "", passes,
               passes > 1 ? "es" : "",
               reviews ? reviews : (unsigned long long)(splits[0]->n + (n > 1 ? splits[1]->n : 0)), cfg.maxlen,
               cfg.embed_dim, cfg.heads, cfg.blocks, cfg.batch_size, cfg.mlm_lr, cfg.mlm_warmup_steps,
               cfg.positions == NN_POS_SINUSOID ? "sinusoid" : "uniform",
               cfg.alibi ? ", ALiBi" : "", threads);
    do {
        if (nn_mlm_run_step(run, 1, &p, &err)) {
            fprintf(stderr, "imdb_pretrain: %s\n", err.msg);
            return 1;
        }
        loss += (double)p.loss * p.targets;
        right += (uint64_t)lroundf(p.acc * p.targets);
        targets += p.targets;
        if (!next) next = p.reviews_total / 20 ? p.reviews_total / 20 : 1;
        if (p.reviews_done >= next || p.finished) {
            double s = (nn_now_ms() - t0) / 1000;
            if (!quiet)
                printf("pass %u/%u - %llu/%llu reviews - loss: %.4f - masked accuracy: %.4f - lr: %.5f - "
                       "%.0f s wall, %.0f s CPU - %.0f reviews/s - about %.0f s left\n",
                       p.pass, p.passes, (unsigned long long)p.reviews_done, (unsigned long long)p.reviews_total,
                       targets ? loss / targets : NAN, targets ? (double)right / targets : NAN, p.lr, s,
                       cpu_s() - c0, p.reviews_done / s, s / p.reviews_done * (p.reviews_total - p.reviews_done));
            fflush(stdout);
            loss = 0;
            targets = right = 0;
            next += p.reviews_total / 20 ? p.reviews_total / 20 : 1;
        }
        uint64_t per_pass = p.reviews_total / p.passes;
        if (save_passes && !p.finished && p.reviews_done % per_pass == 0) {
            char path[4096];
            snprintf(path, sizeof path, "%s.pass%llu", out_path, (unsigned long long)(p.reviews_done / per_pass));
            if (save_encoder(run, &shard, path, NULL, &err)) {
                fprintf(stderr, "imdb_pretrain: %s\n", err.msg);
                return 1;
            }
            if (!quiet) printf("saved the encoder after pass %llu: %s\n",
                               (unsigned long long)(p.reviews_done / per_pass), path);
        }
    } while (!p.finished);
    double wall = (nn_now_ms() - t0) / 1000, cpu = cpu_s() - c0;
    size_t cklen = 0;
    if (save_encoder(run, &shard, out_path, &cklen, &err)) {
        fprintf(stderr, "imdb_pretrain: %s\n", err.msg);
        return 1;
    }
    if (!quiet)
        printf("pretrained on %llu reviews in %.1f s wall, %.1f s CPU (%.0f reviews/s); encoder: %s (%zu bytes)\n",
               (unsigned long long)p.reviews_total, wall, cpu, p.reviews_total / wall, out_path, cklen);
    nn_mlm_run_free(run);
    nn_threads_free(pool);
    nn_shard_free(&shard);
    nn_shard_free(&unsup);
    free(buf);
    free(ubuf);
    free(used);
    return 0;
}
