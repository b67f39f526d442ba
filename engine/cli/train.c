/* train.c: imdb_train, the native trainer.
 *
 *   imdb_train --shard data/imdb.shard [--preset NAME] [--config recipe.json]
 *              [--<key> <value> ...] [--history history.json]
 *              [--checkpoint model.ckpt] [--quiet] [--threads N]
 *              [--embeddings vectors.nnvec | --unsup data/imdb-unsup.shard]
 *              [--init encoder.ckpt]
 *
 * --preset NAME starts from a tutorial's recipe (tutorial-bag, tutorial-lstm,
 * tutorial-gru, tutorial-bilstm, tutorial-mlp); --config and flags are
 * applied after it. --shard takes a text shard (data/imdb.shard) or an image
 * shard (data/fashion.shard, for model "mlp": --preset tutorial-mlp); the
 * file's magic tells which.
 * A labelled-text shard (imdb_build_shard --labelled) without --preset or
 * --config trains the default recipe for a user's shard
 * (nn_labelled_shard_recipe: "ngram", early stopping on validation), the
 * flags applied after it; its classes always come from the shard.
 * Every nn_config field is a flag (--epochs 10, --lr 0.01, --model gru,
 * --restore-best-weights true).
 * With embedding_init "word2vec" the embedding starts from word vectors:
 * read from --embeddings (written by imdb_word2vec) or trained first on
 * --unsup with the config's w2v_* keys.
 * --init FILE starts a transformer from the encoder of a checkpoint
 * (imdb_pretrain's, or any transformer's): every weight but the classifier
 * head (nn_mlm_init_encoder). The preset transformer-pretrained needs it.
 * Prints one Keras-like line per epoch (with a live progress bar when stdout
 * is a terminal), then the test loss and accuracy. The history file holds
 * only what the seed determines (no timings), so two runs can be compared
 * byte for byte. */
#include "cli.h"
#include "threads.h"
#include "pretrain.h"
#include "short_sets.h"
#include "../labelled_shard.h"
#include "../metrics.h"
#include "../mlm.h"
#include "../stopwords.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: imdb_train --shard FILE [--preset NAME] [--config FILE.json] [--<key> VALUE ...]\n"
            "                  [--history OUT.json] [--checkpoint OUT.ckpt] [--quiet] [--threads N]\n"
            "                  [--short N] (also test on each test review's first N tokens)\n"
            "                  [--first-sentence aclImdb_v1.tar.gz|FOLDER] (and on its first sentence)\n"
            "--threads N lends N threads to the recurrent and transformer models (same results, faster)\n"
            "                  [--embeddings FILE.nnvec | --unsup data/imdb-unsup.shard]\n"
            "                  [--init ENCODER.ckpt] (a transformer from imdb_pretrain's encoder)\n"
            "presets: tutorial-bag (the defaults) tutorial-lstm tutorial-gru tutorial-bilstm ngram\n"
            "         tutorial-pretrained tutorial-transformer transformer-pretrained\n"
            "         tutorial-mlp (images: --shard data/fashion.shard)\n"
            "keys: vocab_size maxlen padding truncating model input_dim classes embed_dim hidden\n"
            "      layers dropout\n"
            "      recurrent_dropout pooling optimizer lr beta1 beta2 eps batch_size epochs\n"
            "      patience monitor min_delta restore_best_weights embedding_init\n"
            "      trainable_embedding w2v_epochs w2v_window w2v_negative w2v_sample w2v_lr\n"
            "      val_size train_size seed bigrams nb_weighting\n"
            "      heads blocks ff_dim warmup_steps weight_decay alibi positions (transformer)\n"
            "      mlm_lr mlm_warmup_steps (transformer: imdb_pretrain's rate and warm-up)\n"
            "defaults: the Keras text-classification tutorial recipe (40 epochs).\n");
}

static cJSON *json_number_or_null(double x) {
    return isfinite(x) ? cJSON_CreateNumber(x) : cJSON_CreateNull();
}

static int write_history(const char *path, const nn_config *cfg, const nn_epoch_log *h,
                         uint32_t n, float test_loss, float test_acc, nn_error *err) {
    cJSON *root = cJSON_CreateObject();
    char *cj = nn_config_to_json(cfg);
    cJSON_AddItemToObject(root, "config", cJSON_Parse(cj));
    free(cj);
    const char *names[4] = {"loss", "accuracy", "val_loss", "val_accuracy"};
    cJSON *hist = cJSON_AddObjectToObject(root, "history");
    for (int k = 0; k < 4; k++) {
        cJSON *arr = cJSON_AddArrayToObject(hist, names[k]);
        for (uint32_t i = 0; i < n; i++) {
            float v = k == 0 ? h[i].loss : k == 1 ? h[i].acc : k == 2 ? h[i].val_loss : h[i].val_acc;
            cJSON_AddItemToArray(arr, json_number_or_null(v));
        }
    }
    cJSON *test = cJSON_AddObjectToObject(root, "test");
    cJSON_AddItemToObject(test, "loss", json_number_or_null(test_loss));
    cJSON_AddItemToObject(test, "accuracy", json_number_or_null(test_acc));
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    int rc = nn_write_file(path, text, strlen(text), err);
    free(text);
    return rc;
}

/* Logits of the padded "val" reviews, batch by batch. */
static int val_logits(nn_trainer *t, float **logit, uint8_t **y, uint32_t *n, nn_error *err) {
    nn_model *m = nn_trainer_model(t);
    const float *label;
    const uint32_t *source;
    const uint16_t *x = nn_trainer_set(t, "val", n, &label, &source);
    if (!x || !*n) return nn_fail(err, NN_ERR_ARG, "a temperature is fitted on validation reviews: val_size is 0");
    *logit = nn_malloc_array(*n, sizeof **logit);
    *y = malloc(*n);
    if (!*logit || !*y) return nn_fail(err, NN_ERR_NOMEM, "out of memory for the validation logits");
    uint32_t T = m->cfg.maxlen, B = m->Bmax;
    for (uint32_t i = 0; i < *n; i += B) {
        uint32_t b = *n - i < B ? *n - i : B;
        nn_model_forward(m, x + (size_t)i * T, b);
        memcpy(*logit + i, m->logit, b * sizeof **logit);
        for (uint32_t k = 0; k < b; k++) (*y)[i + k] = label[i + k] == 1.0f;
    }
    return NN_OK;
}

/* The log loss of logit (n) against sp's labels after dividing by T. */
static double loss_at(const float *logit, const nn_split *sp, double T, nn_error *err) {
    nn_short_metrics sm;
    return nn_short_metrics_of(&sm, logit, sp, T, err) ? NAN : sm.log_loss_t;
}

static void print_short(const char *what, const nn_short_metrics *s, double words, double T, double T_short,
                        double loss_short) {
    printf("%s: loss: %.4f - accuracy: %.4f - auc: %.4f - loss at T=%.3f: %.4f - loss at short T=%.3f: %.4f - "
           "mean tokens: %.1f\n", what, s->log_loss, s->accuracy, s->auc, T, s->log_loss_t, T_short, loss_short,
           words);
}

/* The short-review sets (issue 13): every test review cut to its first
 * `words` tokens after <START> (stop words removed first, as the trainer
 * does) and, with a source, to its first sentence (short_sets.h), keeping
 * its label; the whole test set beside them. Loss, accuracy and ROC AUC,
 * and the loss after a temperature fitted on the validation reviews. */
static int short_report(nn_trainer *t, const nn_shard *shard, uint32_t words, const char *sentences,
                        nn_error *err) {
    const nn_split *test = nn_shard_find(shard, "test");
    nn_model *m = nn_trainer_model(t);
    if (!test || !test->n) return nn_fail(err, NN_ERR_ARG, "--short needs a shard with a \"test\" split");
    if (nn_model_classes(nn_trainer_model(t)) != 2) /* its AUC ranks P(positive) */
        return nn_fail(err, NN_ERR_ARG, "--short reports the AUC of a two-class model; this one has %u classes",
                       nn_model_classes(nn_trainer_model(t)));
    const struct nn_stopwords *stop = nn_trainer_stopwords(t);
    float *vlogit = NULL, *logit = nn_malloc_array(test->n, sizeof *logit);
    uint8_t *vy = NULL;
    uint32_t *cut = sentences ? nn_malloc_array(test->n, sizeof *cut) : NULL, nv = 0;
    double mean_words;
    nn_short_metrics sm;
    int rc = !logit || (sentences && !cut) ? nn_fail(err, NN_ERR_NOMEM, "out of memory for the short sets") : 0;
    if (!rc) rc = val_logits(t, &vlogit, &vy, &nv, err);
    if (rc) goto done;
    double T = nn_fit_temperature(vlogit, vy, nv);
    double vbefore = nn_log_loss_logits(vlogit, vy, nv);
    for (uint32_t i = 0; i < nv; i++) vlogit[i] = (float)(vlogit[i] / T);
    printf("temperature fitted on %u validation reviews: T=%.3f (val loss %.4f -> %.4f)\n", nv, T, vbefore,
           nn_log_loss_logits(vlogit, vy, nv));
    /* A second temperature, fitted on the validation reviews cut to their
     * first `words` (default 20) tokens: short text's own. */
    uint32_t short_words = words ? words : 20;
    {
        uint32_t nval;
        const float *vlabel;
        const uint32_t *source;
        nn_split val;
        nn_trainer_set(t, "val", &nval, &vlabel, &source);
        if ((rc = nn_short_subset(&val, nn_shard_find(shard, "train"), source, nval, err))) goto done;
        rc = nn_short_logits(m, &val, stop, NULL, short_words, vlogit, NULL, err);
        for (uint32_t i = 0; !rc && i < nval; i++) vy[i] = val.label[i] == 1;
        nn_short_split_free(&val);
        if (rc) goto done;
    }
    double T_short = nn_fit_temperature(vlogit, vy, nv);
    printf("temperature fitted on the %u validation reviews cut to %u tokens: T=%.3f\n", nv, short_words, T_short);
    if ((rc = nn_short_logits(m, test, stop, NULL, 0, logit, &mean_words, err)) ||
        (rc = nn_short_metrics_of(&sm, logit, test, T, err)))
        goto done;
    print_short("full test", &sm, mean_words, T, T_short, loss_at(logit, test, T_short, err));
    if (words) {
        char what[64];
        snprintf(what, sizeof what, "short test (first %u tokens)", words);
        if ((rc = nn_short_logits(m, test, stop, NULL, words, logit, &mean_words, err)) ||
            (rc = nn_short_metrics_of(&sm, logit, test, T, err)))
            goto done;
        print_short(what, &sm, mean_words, T, T_short, loss_at(logit, test, T_short, err));
    }
    if (sentences) {
        if ((rc = nn_first_sentence_words(sentences, test, cut, err)) ||
            (rc = nn_short_logits(m, test, stop, cut, 0, logit, &mean_words, err)) ||
            (rc = nn_short_metrics_of(&sm, logit, test, T, err)))
            goto done;
        print_short("short test (first sentence)", &sm, mean_words, T, T_short, loss_at(logit, test, T_short, err));
    }
done:
    free(logit);
    free(vlogit);
    free(vy);
    free(cut);
    return rc;
}

/* --init: the encoder of checkpoint path into m (all but the head). */
static int init_encoder(nn_model *m, const char *path, uint32_t vocab_crc, int quiet, nn_error *err) {
    uint8_t *buf;
    size_t len;
    nn_checkpoint ck;
    int rc = nn_read_file(path, &buf, &len, err);
    if (rc) return rc;
    rc = nn_checkpoint_read(&ck, buf, len, err);
    free(buf);
    if (rc) return rc;
    if (ck.vocab_crc != vocab_crc)
        rc = nn_fail(err, NN_ERR_ARG, "%s was pretrained with another vocabulary (crc %08x) than the shard's "
                     "(crc %08x): pretrain again with build/imdb_pretrain", path, ck.vocab_crc, vocab_crc);
    if (!rc) rc = nn_mlm_init_encoder(m, ck.model, err);
    if (!rc && !quiet)
        printf("Encoder: every weight but the classifier head from %s (maxlen %u, width %u, %u blocks)\n", path,
               ck.model->cfg.maxlen, ck.model->cfg.embed_dim, ck.model->cfg.blocks);
    nn_checkpoint_free(&ck);
    return rc;
}

static void progress_bar(const nn_progress *p, uint32_t epochs, double ms) {
    int width = 30, done = (int)((double)p->batch / p->batches * width);
    printf("\rEpoch %u/%u [", p->epoch, epochs);
    for (int i = 0; i < width; i++) putchar(i < done ? '=' : i == done ? '>' : '.');
    printf("] %u/%u - %.0fms - loss: %.4f ", p->batch, p->batches, ms, p->batch_loss);
    fflush(stdout);
}

int main(int argc, char **argv) {
    const char *shard_path = NULL, *history_path = NULL, *ckpt_path = NULL;
    const char *vectors_path = NULL, *unsup_path = NULL, *sentences_path = NULL, *init_path = NULL;
    int quiet = 0, rc_vectors = 0;
    long threads = 1, short_words = 0;
    nn_error err = {0};
    nn_config cfg;
    unsigned char *used = nn_cli_start(&cfg, argc, argv, "imdb_train");
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
        } else if (i + 1 < argc && !strcmp(a, "--history")) {
            history_path = argv[++i];
        } else if (i + 1 < argc && !strcmp(a, "--checkpoint")) {
            ckpt_path = argv[++i];
        } else if (i + 1 < argc && !strcmp(a, "--threads")) {
            threads = strtol(argv[++i], NULL, 10);
            if (threads < 1 || threads > 64) {
                fprintf(stderr, "imdb_train: --threads must be 1 to 64\n");
                return 2;
            }
        } else if (i + 1 < argc && !strcmp(a, "--short")) {
            short_words = strtol(argv[++i], NULL, 10);
            if (short_words < 1 || short_words > NN_SHARD_MAX_TOKENS) {
                fprintf(stderr, "imdb_train: --short must be 1 to %d tokens\n", NN_SHARD_MAX_TOKENS);
                return 2;
            }
        } else if (i + 1 < argc && !strcmp(a, "--first-sentence")) {
            sentences_path = argv[++i];
        } else if (i + 1 < argc && !strcmp(a, "--embeddings")) {
            vectors_path = argv[++i];
        } else if (i + 1 < argc && !strcmp(a, "--unsup")) {
            unsup_path = argv[++i];
        } else if (i + 1 < argc && !strcmp(a, "--init")) {
            init_path = argv[++i];
        } else {
            fprintf(stderr, "imdb_train: unknown argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!shard_path) {
        fprintf(stderr, "imdb_train: --shard FILE is required (scripts/setup.sh builds data/imdb.shard)\n");
        return 2;
    }
    nn_shard shard;
    nn_image_shard images;
    uint8_t *buf;
    int is_images = 0;
    memset(&shard, 0, sizeof shard);
    if (nn_cli_load_any_shard(shard_path, &shard, &images, &is_images, &buf, &err)) {
        fprintf(stderr, "imdb_train: %s\n", err.msg);
        return 1;
    }
    if (!is_images && shard.class_name[0]) { /* the user's own labelled text */
        int chosen = 0;
        for (int i = 1; i < argc; i++) chosen |= !strcmp(argv[i], "--preset") || !strcmp(argv[i], "--config");
        if (!chosen) {
            unsigned char *again = calloc((size_t)argc + 1, 1);
            if (!again || nn_labelled_shard_recipe(&cfg, &shard, &err) ||
                nn_cli_config(&cfg, argc, argv, again, &err)) {
                fprintf(stderr, "imdb_train: %s\n", err.msg);
                return 1;
            }
            free(again);
        }
        cfg.classes = shard.classes;
        if (!quiet) {
            printf("Classes:");
            for (uint32_t k = 0; k < shard.classes; k++)
                printf(" %u=%.*s", k, (int)shard.class_name_len[k], shard.class_name[k]);
            printf("\n%s\n", chosen ? "Recipe: as given" : "Recipe: the default for a labelled shard (ngram, "
                   "validation 20%, early stopping on val_loss)");
        }
    }
    nn_trainer *t;
    double t0 = nn_now_ms();
    if (is_images ? nn_trainer_create_images(&t, &cfg, &images, &err)
                  : nn_trainer_create(&t, &cfg, &shard, &err)) {
        fprintf(stderr, "imdb_train: %s\n", err.msg);
        return 1;
    }
    nn_threads *pool = nn_threads_create((uint32_t)threads);
    nn_parallel par = nn_threads_parallel(pool);
    nn_model_set_parallel(nn_trainer_model(t), &par);
    if (cfg.embedding_init == NN_EMB_WORD2VEC) {
        float *vec = NULL;
        uint32_t V = cfg.vocab_size, E = cfg.embed_dim;
        if (vectors_path) rc_vectors = nn_cli_load_vectors(vectors_path, shard.vocab_crc, &vec, &V, &E, &err);
        else if (unsup_path) rc_vectors = nn_cli_pretrain(unsup_path, shard.vocab_crc, &cfg, quiet, &vec, &err);
        else rc_vectors = nn_fail(&err, NN_ERR_ARG, "embedding_init is \"word2vec\": pass --embeddings "
                                  "FILE (from imdb_word2vec) or --unsup data/imdb-unsup.shard to train them");
        if (!rc_vectors) rc_vectors = nn_trainer_set_embedding(t, vec, V, E, &err);
        free(vec);
        if (rc_vectors) {
            fprintf(stderr, "imdb_train: %s\n", err.msg);
            return 1;
        }
        if (!quiet)
            printf("Embedding: %u x %u word vectors from %s, %s\n", V, E,
                   vectors_path ? vectors_path : unsup_path,
                   cfg.trainable_embedding ? "fine-tuned" : "frozen");
    } else if (vectors_path || unsup_path) {
        fprintf(stderr, "imdb_train: --embeddings and --unsup need --embedding-init word2vec (or "
                        "--preset tutorial-pretrained)\n");
        return 2;
    }
    int wants_init = 0;
    for (int i = 1; i + 1 < argc; i++)
        wants_init |= !strcmp(argv[i], "--preset") && !strcmp(argv[i + 1], "transformer-pretrained");
    if (wants_init && !init_path) {
        fprintf(stderr, "imdb_train: preset transformer-pretrained starts from a pretrained encoder: pass --init "
                        "encoder.ckpt (build/imdb_pretrain writes one)\n");
        return 2;
    }
    if (init_path && init_encoder(nn_trainer_model(t), init_path, shard.vocab_crc, quiet, &err)) {
        fprintf(stderr, "imdb_train: %s\n", err.msg);
        return 1;
    }
    int tty = isatty(1) && !quiet;
    if (!quiet)
        printf("Train on %u %s, validate on %u, test on %u (prepared in %.0f ms)\n",
               nn_trainer_count(t, "train"), is_images ? "images" : "reviews", nn_trainer_count(t, "val"),
               nn_trainer_count(t, "test"), nn_now_ms() - t0);
    double start = nn_now_ms(), epoch_start = start;
    nn_progress p;
    int rc = NN_OK;
    for (;;) {
        rc = nn_trainer_run(t, tty ? 1 : 1000000, &p, &err);
        if (rc || (p.finished && !p.epoch_done)) break;
        if (tty && !p.epoch_done) progress_bar(&p, cfg.epochs, nn_now_ms() - epoch_start);
        if (p.epoch_done) {
            uint32_t n;
            const nn_epoch_log *h = nn_trainer_history(t, &n);
            double now = nn_now_ms();
            if (!quiet)
                printf("%sEpoch %u/%u - %u/%u - %.0fms - loss: %.4f - accuracy: %.4f - "
                       "val_loss: %.4f - val_accuracy: %.4f\n",
                       tty ? "\r\033[K" : "", p.epoch, cfg.epochs, p.batches, p.batches,
                       now - epoch_start, h[n - 1].loss, h[n - 1].acc, h[n - 1].val_loss,
                       h[n - 1].val_acc);
            fflush(stdout);
            epoch_start = now;
            if (p.stopped_early && !quiet)
                printf("Early stopping: %s did not improve for %u epochs; best epoch %u%s\n",
                       cfg.monitor == NN_MONITOR_VAL_ACC ? "val_accuracy" : "val_loss",
                       cfg.patience, p.best_epoch,
                       cfg.restore_best_weights ? ", its weights restored" : "");
            if (p.finished) break;
        }
    }
    if (rc) {
        fprintf(stderr, "\nimdb_train: %s\n", err.msg);
        return 1;
    }
    double train_ms = nn_now_ms() - start;
    float test_loss = NAN, test_acc = NAN;
    if (nn_trainer_count(t, "test")) nn_trainer_evaluate(t, "test", &test_loss, &test_acc, &err);
    uint32_t n;
    const nn_epoch_log *h = nn_trainer_history(t, &n);
    if (!quiet) {
        printf("Trained %u epochs in %.0f ms (%.1f ms per epoch, validation included)\n", n, train_ms,
               train_ms / (n ? n : 1));
        if (nn_trainer_count(t, "test"))
            printf("test loss: %.4f - test accuracy: %.4f\n", test_loss, test_acc);
        else
            printf("no test set: the shard has no 'test' split (imdb_build_shard --labelled ... "
                   "--test-share 0.2, or --test FILE)\n");
    }
    if ((short_words || sentences_path) && !is_images &&
        short_report(t, &shard, (uint32_t)short_words, sentences_path, &err)) {
        fprintf(stderr, "imdb_train: %s\n", err.msg);
        return 1;
    }
    if (history_path && write_history(history_path, &cfg, h, n, test_loss, test_acc, &err)) {
        fprintf(stderr, "imdb_train: %s\n", err.msg);
        return 1;
    }
    if (ckpt_path) {
        uint8_t *ck;
        size_t cklen;
        /* A labelled-text shard's class names go into the file (checkpoint version 3). */
        if (nn_checkpoint_write_named(nn_trainer_model(t), is_images ? NULL : &shard.vocab,
                                      is_images ? 0 : shard.vocab_crc, h, n, is_images ? NULL : &shard, &ck,
                                      &cklen, &err) ||
            nn_write_file(ckpt_path, ck, cklen, &err)) {
            fprintf(stderr, "imdb_train: %s\n", err.msg);
            return 1;
        }
        free(ck);
        if (!quiet) printf("checkpoint: %s (%zu bytes)\n", ckpt_path, cklen);
    }
    nn_trainer_free(t);
    nn_threads_free(pool);
    nn_shard_free(&shard);
    free(buf);
    free(used);
    return 0;
}
