/* word2vec.c: imdb_word2vec, word vectors from the unlabelled reviews.
 *
 *   imdb_word2vec --shard data/imdb.shard --unsup data/imdb-unsup.shard
 *                 [--out vectors.nnvec] [--preset NAME] [--<key> VALUE ...]
 *                 [--neighbours WORD,WORD,...] [--quiet]
 *
 * Trains skip-gram with negative sampling (engine/word2vec.h) on the 50,000
 * unlabelled reviews with the config's vocab_size, embed_dim, seed and
 * w2v_* keys (so --preset tutorial-pretrained gives the vectors that preset
 * expects), prints one line per pass and the nearest words of a few probes
 * by cosine similarity, and writes the vectors file that
 * `imdb_train --embeddings FILE` reads. */
#include "cli.h"
#include "pretrain.h"
#include "word2vec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: imdb_word2vec --shard FILE --unsup FILE [--out FILE.nnvec] [--preset NAME]\n"
            "                     [--<key> VALUE ...] [--neighbours WORD,WORD,...] [--quiet]\n"
            "keys used: vocab_size embed_dim seed w2v_epochs w2v_window w2v_negative w2v_sample w2v_lr\n");
}

static void print_neighbours(const nn_shard *shard, const float *vec, uint32_t V, uint32_t E,
                             const char *list) {
    char word[128];
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        snprintf(word, sizeof word, "%.*s", (int)(n < sizeof word - 1 ? n : sizeof word - 1), p);
        p += n + (p[n] == ',');
        uint32_t id = nn_vocab_lookup(&shard->vocab, word, strlen(word));
        if (id < NN_FIRST_WORD || id >= V) {
            printf("nearest to %s: not among the first %u ids\n", word, V);
            continue;
        }
        uint32_t ids[8];
        float sims[8];
        uint32_t k = nn_vectors_nearest(vec, V, E, id, 8, ids, sims);
        printf("nearest to %s:", word);
        for (uint32_t i = 0; i < k; i++) {
            size_t len;
            const char *w = nn_vocab_word(&shard->vocab, ids[i], &len);
            printf(" %.*s (%.2f)", (int)len, w, (double)sims[i]);
        }
        printf("\n");
    }
}

int main(int argc, char **argv) {
    const char *shard_path = NULL, *unsup_path = NULL, *out_path = NULL;
    const char *probes = "excellent,awful,boring,funny,actress,8";
    int quiet = 0;
    nn_error err = {0};
    nn_config cfg;
    unsigned char *used = nn_cli_start(&cfg, argc, argv, "imdb_word2vec");
    for (int i = 1; i < argc; i++) {
        if (used[i]) continue;
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--quiet")) {
            quiet = 1;
        } else if (i + 1 < argc && !strcmp(a, "--shard")) {
            shard_path = argv[++i];
        } else if (i + 1 < argc && !strcmp(a, "--unsup")) {
            unsup_path = argv[++i];
        } else if (i + 1 < argc && !strcmp(a, "--out")) {
            out_path = argv[++i];
        } else if (i + 1 < argc && !strcmp(a, "--neighbours")) {
            probes = argv[++i];
        } else {
            fprintf(stderr, "imdb_word2vec: unknown argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!shard_path || !unsup_path) {
        fprintf(stderr, "imdb_word2vec: --shard and --unsup are required (scripts/setup.sh builds "
                        "data/imdb.shard and data/imdb-unsup.shard)\n");
        return 2;
    }
    nn_shard shard;
    uint8_t *buf;
    if (nn_cli_load_shard(shard_path, &shard, &buf, &err)) {
        fprintf(stderr, "imdb_word2vec: %s\n", err.msg);
        return 1;
    }
    if (cfg.vocab_size > shard.vocab.V) {
        fprintf(stderr, "imdb_word2vec: vocab_size is %u but the shard has %u ids; choose at most %u\n",
                cfg.vocab_size, shard.vocab.V, shard.vocab.V);
        return 1;
    }
    float *vec;
    if (nn_cli_pretrain(unsup_path, shard.vocab_crc, &cfg, quiet, &vec, &err)) {
        fprintf(stderr, "imdb_word2vec: %s\n", err.msg);
        return 1;
    }
    if (!quiet && *probes) print_neighbours(&shard, vec, cfg.vocab_size, cfg.embed_dim, probes);
    if (out_path) {
        uint8_t *file;
        size_t len;
        if (nn_vectors_write(vec, cfg.vocab_size, cfg.embed_dim, shard.vocab_crc, &file, &len, &err) ||
            nn_write_file(out_path, file, len, &err)) {
            fprintf(stderr, "imdb_word2vec: %s\n", err.msg);
            return 1;
        }
        free(file);
        if (!quiet) printf("vectors: %s (%zu bytes)\n", out_path, len);
    }
    free(vec);
    nn_shard_free(&shard);
    free(buf);
    free(used);
    return 0;
}
