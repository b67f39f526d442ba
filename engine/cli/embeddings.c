/* embeddings.c: imdb_embeddings, what the model learned about words, in the
 * terminal, and what recording it costs (printed figures, never assertions).
 *
 *   imdb_embeddings --shard data/imdb.shard [--word excellent] [--rare-below 20]
 *                   [--frequent-from 1000] [--repeat N] [--<config key> VALUE ...]
 *
 * Trains the recipe recording an embedding snapshot at every epoch's end (the
 * page's worker does the same), then prints per epoch the validation loss and
 * the statistics; the memory the snapshots take; the nearest neighbours of
 * --word and the words whose effect changed most after the best validation
 * epoch. Timing: the run is trained again without recording (--repeat N
 * pairs, median reported) and the recording's own time is measured. */
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct recorder {
    nn_embed_history *h;
    double ms;       /* time spent recording */
    int rc;
    nn_error err;
} recorder;

static void on_epoch(void *user, const nn_model *m, uint32_t epoch) {
    recorder *r = user;
    double t0 = nn_now_ms();
    if (r->rc == NN_OK) r->rc = nn_embed_history_record(r->h, m, epoch, 0, &r->err);
    r->ms += nn_now_ms() - t0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void print_word(const nn_vocab *v, uint32_t id, int width) {
    size_t len = 0;
    const char *w = nn_vocab_word(v, id, &len);
    printf("%-*.*s", width, (int)len, w);
}

/* Trains the whole run; with rec, recording every epoch. Returns ms. */
static double train_run(nn_trainer **t, const nn_config *cfg, const nn_shard *shard, recorder *rec,
                        uint32_t rare_below, uint32_t frequent_from, nn_error *err) {
    nn_trainer_free(*t);
    *t = NULL;
    if (nn_trainer_create(t, cfg, shard, err)) return -1;
    if (rec) {
        uint32_t *counts = nn_malloc_array(cfg->vocab_size, sizeof *counts);
        nn_trainer_count_tokens(*t, "train", counts);
        nn_embed_history_free(rec->h);
        rec->h = NULL;
        rec->ms = 0;
        int rc = nn_embed_history_create(&rec->h, nn_trainer_model(*t), counts, (size_t)64 << 20,
                                         rare_below, frequent_from, err);
        free(counts);
        if (rc) return -1;
        nn_trainer_set_epoch_hook(*t, on_epoch, rec);
    }
    nn_progress p;
    double t0 = nn_now_ms();
    do {
        if (nn_trainer_run(*t, 1000000, &p, err)) return -1;
    } while (!p.finished);
    return nn_now_ms() - t0;
}

int main(int argc, char **argv) {
    const char *shard_path = NULL, *word = "excellent";
    uint32_t rare_below = 20, frequent_from = 1000;
    int repeat = 1;
    nn_error err = {0};
    nn_config cfg;
    unsigned char *used = nn_cli_start(&cfg, argc, argv, "imdb_embeddings");
    for (int i = 1; i < argc; i++) {
        if (used[i]) continue;
        if (i + 1 < argc && !strcmp(argv[i], "--shard")) shard_path = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--word")) word = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--rare-below")) rare_below = (uint32_t)atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--frequent-from")) frequent_from = (uint32_t)atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--repeat")) repeat = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: imdb_embeddings --shard FILE [--word W] [--rare-below N] "
                            "[--frequent-from N] [--repeat N] [--<config key> VALUE ...]\n");
            return 2;
        }
    }
    if (!shard_path || repeat < 1) {
        fprintf(stderr, "imdb_embeddings: --shard FILE is required (scripts/setup.sh builds data/imdb.shard)\n");
        return 2;
    }
    nn_shard shard;
    uint8_t *buf;
    if (nn_cli_load_shard(shard_path, &shard, &buf, &err)) {
        fprintf(stderr, "imdb_embeddings: %s\n", err.msg);
        return 1;
    }

    /* Alternate runs with and without recording, so drift on a shared
     * machine affects both alike. */
    recorder rec = {0};
    nn_trainer *t = NULL;
    double *with = nn_calloc_array((size_t)repeat, sizeof *with), *without = nn_calloc_array((size_t)repeat, sizeof *without);
    double *hook = nn_calloc_array((size_t)repeat, sizeof *hook);
    for (int r = 0; r < repeat; r++) {
        without[r] = train_run(&t, &cfg, &shard, NULL, rare_below, frequent_from, &err);
        if (without[r] >= 0) with[r] = train_run(&t, &cfg, &shard, &rec, rare_below, frequent_from, &err);
        if (without[r] < 0 || with[r] < 0 || rec.rc) {
            fprintf(stderr, "imdb_embeddings: %s\n", rec.rc ? rec.err.msg : err.msg);
            return 1;
        }
        hook[r] = rec.ms;
    }
    qsort(with, (size_t)repeat, sizeof *with, cmp_double);
    qsort(without, (size_t)repeat, sizeof *without, cmp_double);
    qsort(hook, (size_t)repeat, sizeof *hook, cmp_double);

    uint32_t nhist, nst, nep;
    const nn_epoch_log *hist = nn_trainer_history(t, &nhist);
    const nn_embed_stats *st = nn_embed_history_stats(rec.h, &nst);
    nn_embed_history_epochs(rec.h, &nep);
    uint32_t best = 0;
    for (uint32_t i = 0; i < nhist; i++)
        if (isfinite(hist[i].val_loss) && (best == 0 || hist[i].val_loss < hist[best - 1].val_loss)) best = i + 1;
    uint32_t last = nhist;

    printf("imdb_embeddings: native, one thread; V=%u E=%u, %u epochs; rare = seen 1..%u times in "
           "the training reviews, frequent = at least %u times\n",
           cfg.vocab_size, cfg.embed_dim, nhist, rare_below - 1, frequent_from);
    printf("%5s %9s %9s %11s %13s %11s %11s\n", "epoch", "val_loss", "val_acc", "rare_norm",
           "frequent_norm", "rare_share", "base_score");
    for (uint32_t i = 0; i < nst; i++)
        printf("%5u %9.4f %9.4f %11.4f %13.4f %11.4f %11.4f%s\n", st[i].epoch, hist[i].val_loss,
               hist[i].val_acc, st[i].rare_norm, st[i].frequent_norm, st[i].rare_share,
               st[i].base_score, st[i].epoch == best ? "  <- lowest val_loss" : "");
    printf("groups: %u rare words, %u frequent words (of %u ids)\n", st[0].rare_words,
           st[0].frequent_words, cfg.vocab_size);

    double mid_with = with[repeat / 2], mid_without = without[repeat / 2], mid_hook = hook[repeat / 2];
    printf("\n%-52s %10.1f ms (%.2f per epoch)\n", "training, no recording (median)", mid_without,
           mid_without / nhist);
    printf("%-52s %10.1f ms (%.2f per epoch)\n", "training, recording every epoch (median)", mid_with,
           mid_with / nhist);
    printf("%-52s %10.2f ms (%.3f per epoch, %.1f%% of the run)\n",
           "of which recording (snapshot + statistics)", mid_hook, mid_hook / nhist,
           100 * mid_hook / (mid_with - mid_hook));
    printf("%-52s %10zu bytes\n", "one snapshot (int8 rows + scales + the rest)",
           nn_embed_history_bytes_per_snapshot(rec.h));
    printf("%-52s %10zu bytes (%u snapshots)\n", "all snapshots", nn_embed_history_snapshot_bytes(rec.h), nep);
    printf("%-52s %10zu bytes\n", "view model and scratch", nn_embed_history_other_bytes(rec.h));
    printf("%-52s %10zu bytes\n", "float32 snapshots would take", (size_t)nep * (size_t)cfg.vocab_size *
           cfg.embed_dim * 4);

    uint32_t N = cfg.vocab_size - NN_FIRST_WORD < 1000 ? cfg.vocab_size - NN_FIRST_WORD : 1000;
    float *xy = nn_malloc_array(nn_size_mul_sat(nn_size_mul_sat(nep, N), 2), sizeof *xy),
          *effect = nn_malloc_array(nn_size_mul_sat(nep, N), sizeof *effect);
    float var[2], total;
    double m0 = nn_now_ms();
    if (nn_embed_history_map(rec.h, best ? best : last, N, 0, xy, effect, var, &total, &err)) {
        fprintf(stderr, "imdb_embeddings: %s\n", err.msg);
        return 1;
    }
    printf("%-52s %10.1f ms (%u words x %u epochs; axes explain %.0f%% + %.0f%%)\n",
           "the map, on demand", nn_now_ms() - m0, N, nep, 100 * var[0] / total, 100 * var[1] / total);

    uint32_t query = nn_vocab_lookup(&shard.vocab, word, strlen(word));
    if (query == NN_UNK || query >= cfg.vocab_size) {
        printf("\n'%s' is not in the model's vocabulary\n", word);
    } else {
        for (int k = 0; k < 2; k++) {
            uint32_t epoch = k == 0 ? (best ? best : last) : last;
            nn_model *view = nn_embed_history_view(rec.h, epoch);
            uint32_t ids[10];
            float sims[10];
            uint32_t n = nn_nearest_cosine(ids, sims, view->emb, cfg.vocab_size, cfg.embed_dim, query,
                                           NN_FIRST_WORD, 10);
            printf("\nnearest to '%s' at epoch %u:", word, epoch);
            for (uint32_t i = 0; i < n; i++) {
                printf(" ");
                print_word(&shard.vocab, ids[i], 0);
                printf(" (%.3f)", sims[i]);
            }
        }
        printf("\n");
    }

    if (best && best < last) {
        uint32_t V = cfg.vocab_size;
        uint32_t *ids = nn_malloc_array(V, sizeof *ids);
        float *before = nn_calloc_array(V, sizeof *before), *after = nn_calloc_array(V, sizeof *after);
        for (uint32_t v = 0; v < V; v++) ids[v] = v;
        nn_embed_history_effects(rec.h, best, ids + NN_FIRST_WORD, V - NN_FIRST_WORD, before + NN_FIRST_WORD, NULL, &err);
        nn_embed_history_effects(rec.h, last, ids + NN_FIRST_WORD, V - NN_FIRST_WORD, after + NN_FIRST_WORD, NULL, &err);
        const uint32_t *counts = nn_embed_history_counts(rec.h);
        for (int k = 0; k < 2; k++) {
            uint32_t top[15];
            uint32_t below = k == 0 ? 0 : rare_below;
            uint32_t n = nn_top_changes(top, before, after, counts, V, NN_FIRST_WORD, below, 15);
            printf("\neffect changed most from epoch %u to %u (%s):\n", best, last,
                   below ? "rare words only" : "all words");
            for (uint32_t i = 0; i < n; i++) {
                printf("  ");
                print_word(&shard.vocab, top[i], 16);
                printf(" seen %5u times  %+.4f -> %+.4f\n", counts[top[i]], before[top[i]], after[top[i]]);
            }
        }
        free(ids);
        free(before);
        free(after);
    }
    free(xy);
    free(effect);
    free(with);
    free(without);
    free(hook);
    nn_embed_history_free(rec.h);
    nn_trainer_free(t);
    nn_shard_free(&shard);
    free(buf);
    free(used);
    return 0;
}
