/* pretrain.c: see pretrain.h. */
#include "pretrain.h"
#include "cli.h"
#include "word2vec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int nn_cli_pretrain(const char *unsup_path, uint32_t vocab_crc, const nn_config *cfg, int quiet,
                    float **vectors, nn_error *err) {
    nn_shard unsup;
    uint8_t *buf = NULL;
    nn_w2v *w = NULL;
    *vectors = NULL;
    int rc = nn_cli_load_shard(unsup_path, &unsup, &buf, err);
    if (rc) return rc;
    const nn_split *corpus = nn_shard_find(&unsup, "unsup");
    if (!corpus) {
        rc = nn_fail(err, NN_ERR_FORMAT, "%s has no \"unsup\" split: pass data/imdb-unsup.shard "
                     "(scripts/setup.sh builds it)", unsup_path);
        goto done;
    }
    if (unsup.vocab_crc != vocab_crc) {
        rc = nn_fail(err, NN_ERR_ARG, "%s uses another vocabulary (crc %08x) than the main shard "
                     "(crc %08x): rebuild both with scripts/setup.sh", unsup_path, unsup.vocab_crc,
                     vocab_crc);
        goto done;
    }
    if ((rc = nn_w2v_create(&w, cfg, corpus, err))) goto done;
    double t0 = nn_now_ms(), pass_start = t0, pass_loss = 0;
    uint64_t pass_pairs = 0;
    nn_w2v_progress p;
    uint32_t pass = 1;
    do {
        /* About a tenth of a pass per call; one line per pass. */
        if ((rc = nn_w2v_run(w, 1000000, &p, err))) goto done;
        if (p.loss_pairs) {
            pass_loss += (double)p.loss * (double)p.loss_pairs;
            pass_pairs += p.loss_pairs;
        }
        uint64_t per_pass = p.tokens_total / p.epochs;
        if (p.finished || p.tokens_done >= (uint64_t)pass * per_pass) {
            double now = nn_now_ms();
            if (!quiet)
                printf("word2vec pass %u/%u - %.0fms - %.2fM words/s - loss: %.4f - lr: %.5f\n", pass,
                       p.epochs, now - pass_start, per_pass / ((now - pass_start) * 1e3),
                       pass_pairs ? pass_loss / (double)pass_pairs : 0.0, p.lr);
            fflush(stdout);
            pass_start = now;
            pass_loss = 0;
            pass_pairs = 0;
            pass++;
        }
    } while (!p.finished);
    if (!quiet)
        printf("word2vec: %u x %u vectors from %llu words (%llu pairs) in %.1f s\n", cfg->vocab_size,
               cfg->embed_dim, (unsigned long long)(p.tokens_total / p.epochs),
               (unsigned long long)p.pairs, (nn_now_ms() - t0) / 1000);
    size_t n = nn_size_mul_sat(cfg->vocab_size, cfg->embed_dim);
    *vectors = nn_malloc_array(n, sizeof **vectors);
    if (!*vectors) {
        rc = nn_fail(err, NN_ERR_NOMEM, "out of memory copying the word vectors");
        goto done;
    }
    memcpy(*vectors, nn_w2v_vectors(w, NULL, NULL), n * sizeof **vectors);
done:
    nn_w2v_free(w);
    nn_shard_free(&unsup);
    free(buf);
    return rc;
}

int nn_cli_load_vectors(const char *path, uint32_t vocab_crc, float **vectors, uint32_t *V,
                        uint32_t *E, nn_error *err) {
    uint8_t *buf;
    size_t len;
    const float *vec;
    uint32_t crc;
    *vectors = NULL;
    int rc = nn_read_file(path, &buf, &len, err);
    if (rc) return rc;
    rc = nn_vectors_read(buf, len, &vec, V, E, &crc, err);
    if (!rc && crc != vocab_crc)
        rc = nn_fail(err, NN_ERR_ARG, "%s was trained with another vocabulary (crc %08x) than the "
                     "shard's (crc %08x); train the vectors again with build/imdb_word2vec",
                     path, crc, vocab_crc);
    if (!rc) {
        *vectors = nn_malloc_array(nn_size_mul_sat(*V, *E), sizeof **vectors);
        if (!*vectors) rc = nn_fail(err, NN_ERR_NOMEM, "out of memory reading %s", path);
        else memcpy(*vectors, vec, (size_t)*V * *E * sizeof **vectors);
    }
    free(buf);
    return rc;
}
