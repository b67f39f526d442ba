/* bench.c: imdb_bench, timings of the tutorial recipe (printed figures only,
 * never assertions: the machines are shared and noisy).
 *
 *   imdb_bench --shard data/imdb.shard [--preset NAME] [--<key> <value> ...] [--repeat N]
 *              [--json] [--threads N]
 *
 * Prints: preparation time; per epoch the training time and the validation
 * time; the whole run; tokens per second; the time to score and to explain
 * a 250-word review. With --repeat N the whole run is repeated and the best
 * and median are reported, in wall-clock time and in CPU time (which moves
 * less on a shared machine). The peak resident memory of the process
 * (getrusage's ru_maxrss) comes last. --json prints the same figures as one
 * JSON object instead (what scripts/bench.sh reads). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "cli.h"
#include "threads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* CPU time of the whole process (all its threads), in ms: on a shared
 * machine it moves much less than the wall clock when other jobs take
 * turns on the cores. */
static double cpu_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    const char *shard_path = NULL;
    int repeat = 1, json = 0;
    long threads = 1;
    nn_error err = {0};
    nn_config cfg;
    unsigned char *used = nn_cli_start(&cfg, argc, argv, "imdb_bench");
    for (int i = 1; i < argc; i++) {
        if (used[i]) continue;
        if (i + 1 < argc && !strcmp(argv[i], "--shard")) shard_path = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--repeat")) repeat = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json")) json = 1;
        else if (i + 1 < argc && !strcmp(argv[i], "--threads")) threads = strtol(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: imdb_bench --shard FILE [--preset NAME] [--repeat N] [--json] [--threads N] [--<config key> VALUE ...]\n");
            return 2;
        }
    }
    if (threads < 1 || threads > 64) {
        fprintf(stderr, "imdb_bench: --threads must be 1 to 64\n");
        return 2;
    }
    if (!shard_path || repeat < 1) {
        fprintf(stderr, "imdb_bench: --shard FILE is required (scripts/setup.sh builds data/imdb.shard)\n");
        return 2;
    }
    nn_shard shard;
    uint8_t *buf;
    if (nn_cli_load_shard(shard_path, &shard, &buf, &err)) {
        fprintf(stderr, "imdb_bench: %s\n", err.msg);
        return 1;
    }
    /* Threads lent to the recurrent layers (the bag model does not use them). */
    nn_threads *pool = nn_threads_create((uint32_t)threads);
    nn_parallel par = nn_threads_parallel(pool);
    uint32_t nthreads = pool ? (uint32_t)threads : 1;
    double *runs = nn_calloc_array((size_t)repeat, sizeof *runs);
    double *cpu_runs = nn_calloc_array((size_t)repeat, sizeof *cpu_runs);
    double train_ms = 0, val_ms = 0, prep_ms = 0;
    float test_acc = 0, test_loss = 0;
    nn_trainer *t = NULL;
    uint32_t epochs = cfg.epochs; /* epochs trained: fewer when early stopping ends the run */
    for (int r = 0; r < repeat; r++) {
        if (t) nn_trainer_free(t);
        double t0 = nn_now_ms();
        if (nn_trainer_create(&t, &cfg, &shard, &err)) {
            fprintf(stderr, "imdb_bench: %s\n", err.msg);
            return 1;
        }
        prep_ms = nn_now_ms() - t0;
        nn_model_set_parallel(nn_trainer_model(t), &par);
        nn_progress p;
        double start = nn_now_ms(), cpu_start = cpu_now_ms();
        do {
            if (nn_trainer_run(t, 1000000, &p, &err)) {
                fprintf(stderr, "imdb_bench: %s\n", err.msg);
                return 1;
            }
        } while (!p.finished);
        epochs = p.epoch;
        runs[r] = nn_now_ms() - start;
        cpu_runs[r] = cpu_now_ms() - cpu_start;
    }
    /* The validation pass at each epoch's end is this same evaluation. */
    float vl, va;
    double v0 = nn_now_ms();
    for (int i = 0; i < 5; i++) nn_trainer_evaluate(t, "val", &vl, &va, &err);
    val_ms = (nn_now_ms() - v0) / 5 * epochs;
    nn_trainer_evaluate(t, "test", &test_loss, &test_acc, &err);
    qsort(runs, (size_t)repeat, sizeof *runs, cmp_double);
    qsort(cpu_runs, (size_t)repeat, sizeof *cpu_runs, cmp_double);
    double cpu_total = cpu_runs[repeat / 2];
    double total = runs[repeat / 2];
    train_ms = total - val_ms;
    uint32_t ntrain = nn_trainer_count(t, "train"), nval = nn_trainer_count(t, "val");
    double tokens = (double)(ntrain + nval) * cfg.maxlen * epochs;

    /* Scoring one typed review of 250 words. */
    const char *words[] = {"this", "movie", "was", "not", "bad", "at", "all", "the", "acting",
                           "great", "and", "plot", "boring", "but", "i", "loved", "it"};
    char review[4096] = "";
    size_t len = 0;
    for (int i = 0; i < 250; i++)
        len += (size_t)snprintf(review + len, sizeof review - len, "%s ", words[(i * 7) % 17]);
    nn_model *m = nn_trainer_model(t);
    /* Up to 2000 repetitions or one second, whichever comes first (a
     * recurrent model's explain is a few full batches). */
    int reps = 0;
    double s0 = nn_now_ms();
    volatile float sink = 0;
    do sink += nn_model_score_text(m, &shard.vocab, NULL, review, len);
    while (++reps < 2000 && nn_now_ms() - s0 < 1000);
    double score_ms = (nn_now_ms() - s0) / reps;
    uint32_t ids[1024];
    float contrib[1024];
    size_t nids = nn_encode_text(&shard.vocab, review, len, cfg.vocab_size, ids, 1024);
    reps = 0;
    s0 = nn_now_ms();
    do sink += nn_model_explain(m, ids, nids, contrib);
    while (++reps < 2000 && nn_now_ms() - s0 < 1000);
    double explain_ms = (nn_now_ms() - s0) / reps;

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double peak_mb = (double)ru.ru_maxrss / 1024.0; /* Linux: kilobytes */
    char *cj = nn_config_to_json(&cfg);
    char model[16] = "?";
    if (cj && strstr(cj, "\"model\":\"")) sscanf(strstr(cj, "\"model\":\"") + 9, "%15[a-z]", model);
    double reviews_per_s = (double)(ntrain + nval) * epochs / total * 1e3;
    if (json) {
        printf("{\"runtime\":\"native\",\"threads\":%u,\"model\":\"%s\",\"epochs\":%u,\"train\":%u,\"val\":%u,"
               "\"repeat\":%d,\"prepare_ms\":%.3f,\"train_ms_per_epoch\":%.4f,\"val_ms_per_epoch\":%.4f,"
               "\"epoch_ms\":%.4f,\"total_ms\":%.3f,\"best_total_ms\":%.3f,\"cpu_total_ms\":%.3f,\"reviews_per_s\":%.1f,"
               "\"score_ms\":%.6f,\"explain_ms\":%.6f,\"test_acc\":%.4f,\"peak_mb\":%.1f,\"config\":%s}\n",
               nthreads, model, epochs, ntrain, nval, repeat, prep_ms, train_ms / epochs,
               val_ms / epochs, total / epochs, total, runs[0], cpu_total, reviews_per_s, score_ms,
               explain_ms, test_acc, peak_mb, cj ? cj : "null");
    } else {
        printf("imdb_bench: native, %u thread(s); model %s x%u, V=%u T=%u E=%u H=%u B=%u, %u train + %u validation reviews, %u epochs\n",
               nthreads, model, cfg.layers, cfg.vocab_size, cfg.maxlen, cfg.embed_dim, cfg.hidden, cfg.batch_size, ntrain, nval, epochs);
        printf("%-44s %10.1f ms\n", "prepare (pad train/val/test)", prep_ms);
        printf("%-44s %10.2f ms\n", "train, per epoch", train_ms / epochs);
        printf("%-44s %10.2f ms\n", "validation, per epoch", val_ms / epochs);
        printf("%-44s %10.2f ms\n", "train + validation, per epoch", total / epochs);
        printf("%-44s %10.1f ms  (best %.1f of %d)\n", "whole run (all epochs, validation included)", total, runs[0], repeat);
        printf("%-44s %10.1f ms  (best %.1f)\n", "the same in CPU time (process, median)", cpu_total, cpu_runs[0]);
        printf("%-44s %10.2f M/s\n", "padded tokens per second (train + val)", tokens / total / 1e3);
        printf("%-44s %10.0f /s\n", "reviews per second (train + validation)", reviews_per_s);
        printf("%-44s %10.4f ms\n", "score one 250-word review", score_ms);
        printf("%-44s %10.4f ms\n", "explain one 250-word review (occlusion)", explain_ms);
        printf("%-44s %10.4f\n", "test accuracy (sanity)", test_acc);
        printf("%-44s %10.1f MB\n", "peak memory (maxrss, shard included)", peak_mb);
    }
    free(cj);
    nn_trainer_free(t);
    nn_threads_free(pool);
    nn_shard_free(&shard);
    free(buf);
    free(runs);
    free(cpu_runs);
    free(used);
    return 0;
}
