/* session.c: the session's state and rules (session.h). Moved out of the
 * wasm boundary so that it is an engine object native tests can drive. */
#include "session.h"
#include "session_mlm.h"

#include "answers.h"
#include "labelled_shard.h"
#include "stopwords.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void drop_diagnosis(nn_session *s);
static void drop_corpus(nn_session *s);
static void embed_start(nn_session *s);

/* Makes text (malloc'd, or NULL: out of memory) the session's current
 * string answer. */
const char *nn_session_answer(nn_session *s, char *text) {
    free(s->text);
    s->text = text;
    if (!text) nn_fail(&s->err, NN_ERR_NOMEM, "out of memory while building an answer");
    return text;
}

int nn_session_need_shard(nn_session *s) {
    if (s->has_shard) return NN_OK;
    return nn_fail(&s->err, NN_ERR_STATE, "no shard is loaded: load imdb.shard first");
}

int nn_session_need_trainer(nn_session *s) {
    if (s->trainer) return NN_OK;
    return nn_fail(&s->err, NN_ERR_STATE,
                   "no model yet: configure one (or import a checkpoint) first");
}

/* For what only a text model does (scoring text, words, diagnosis). */
int nn_session_need_text_trainer(nn_session *s) {
    int rc = nn_session_need_trainer(s);
    if (rc == NN_OK && s->has_images)
        return nn_fail(&s->err, NN_ERR_STATE, "the model reads images, not text: this request "
                       "is for a text model (load a text shard and configure one)");
    return rc;
}

int nn_session_need_image_trainer(nn_session *s) {
    int rc = nn_session_need_trainer(s);
    if (rc == NN_OK && !s->has_images)
        return nn_fail(&s->err, NN_ERR_STATE, "the model reads text, not images: load an image "
                       "shard (nnw_load_image_shard) and configure an \"mlp\" first");
    return rc;
}

static void drop_trainer(nn_session *s) {
    drop_diagnosis(s); /* it reads the trainer's sets and model */
    nn_embed_history_free(s->embed);
    s->embed = NULL;
    nn_run_free(&s->full);
    free(s->start_params);
    s->start_params = NULL;
    nn_trainer_free(s->trainer);
    s->trainer = NULL;
    s->eval_active = 0; /* its set belonged to that trainer */
    nn_temperature_free(&s->temp); /* fitted to that trainer's model */
    free(s->imported);
    s->imported = NULL;
    s->nimported = 0;
    for (int i = 0; i < NN_PROGRESS_LEN; i++) s->progress[i] = 0;
}

static void drop_shard(nn_session *s) {
    drop_trainer(s);  /* the trainer's matrices were built from this shard */
    drop_corpus(s);   /* its ids (and the vectors) belong to this vocabulary */
    if (s->has_shard) nn_shard_free(&s->shard);
    memset(&s->shard, 0, sizeof s->shard);
    s->has_shard = 0;
    memset(&s->images, 0, sizeof s->images);
    s->has_images = 0;
    free(s->shard_buf);
    s->shard_buf = NULL;
    s->shard_len = 0;
    free(s->test_buf); /* after the shard: its test split pointed into it */
    s->test_buf = NULL;
}

/* The trainer's history, or, before it has trained an epoch, the history of
 * the checkpoint it was imported from. */
const nn_epoch_log *nn_session_history(nn_session *s, uint32_t *n) {
    *n = 0;
    if (!s->trainer) return NULL;
    const nn_epoch_log *h = nn_trainer_history(s->trainer, n);
    if (*n == 0 && s->nimported) {
        *n = s->nimported;
        return s->imported;
    }
    return h;
}

/* Lends the session's threads (if any) to a new trainer's model. */
static void lend_threads(nn_session *s, nn_trainer *t) { nn_model_set_parallel(nn_trainer_model(t), &s->par); }

nn_session *nn_session_create(void) { return calloc(1, sizeof(nn_session)); }

void nn_session_free(nn_session *s) {
    if (!s) return;
    drop_shard(s);
    drop_corpus(s);
    nn_labelled_text_free(&s->texts);
    free(s->text);
    nn_review_text_free(&s->review);
    nn_attention_view_free(&s->attention);
    free(s->ckpt);
    free(s->embed_out);
    free(s->labelled_report);
    free(s);
}

/* Takes ownership of p (from nnw_alloc) even on failure: the worker never
 * has to remember to free it. Replaces any previous shard and trainer. */
int nn_session_load_shard(nn_session *s, uint8_t *p, size_t n) {
    drop_shard(s);
    s->shard_buf = p;
    s->shard_len = n;
    int rc = nn_shard_parse(&s->shard, p, n, &s->err);
    if (rc != NN_OK) {
        drop_shard(s);
        return rc;
    }
    s->has_shard = 1;
    return NN_OK;
}

int nn_session_expect_test(nn_session *s, uint32_t n) {
    int rc = nn_session_need_shard(s);
    if (rc != NN_OK) return rc;
    if (nn_shard_find(&s->shard, "test"))
        return nn_fail(&s->err, NN_ERR_STATE, "the loaded shard has its test split already");
    if (n == 0) return nn_fail(&s->err, NN_ERR_ARG, "expect at least one test review");
    s->shard.test_pending = n;
    return NN_OK;
}

int nn_session_test_pending(const nn_session *s) {
    return (s->has_shard && s->shard.test_pending) || (s->trainer && nn_trainer_test_pending(s->trainer));
}

/* NN_OK, or why "test" cannot be read yet. */
static int need_test(nn_session *s) {
    if (!nn_session_test_pending(s)) return NN_OK;
    return nn_fail(&s->err, NN_ERR_STATE, "the test reviews are still downloading: wait for them "
                   "(the page shows their progress), then try again");
}

/* Takes ownership of p (from nnw_alloc) even on failure. */
int nn_session_attach_test(nn_session *s, uint8_t *p, size_t n) {
    int rc = nn_session_need_shard(s);
    if (rc == NN_OK && !s->shard.test_pending)
        rc = nn_fail(&s->err, NN_ERR_STATE, "no test split is expected for the loaded shard "
                     "(nnw_expect_test first)");
    nn_shard t;
    memset(&t, 0, sizeof t);
    if (rc == NN_OK) rc = nn_shard_parse(&t, p, n, &s->err);
    if (rc != NN_OK) {
        free(p);
        return rc;
    }
    const nn_split *sp = nn_shard_find(&t, "test");
    const nn_shard *m = &s->shard;
    if (!sp || t.nsplits != 1)
        rc = nn_fail(&s->err, NN_ERR_FORMAT, "the test file should hold one split, \"test\", and "
                     "holds %u%s; rebuild the site with scripts/build-site.sh", t.nsplits,
                     sp ? "" : " without \"test\"");
    else if (t.vocab_crc != m->vocab_crc)
        rc = nn_fail(&s->err, NN_ERR_FORMAT, "the test reviews use another vocabulary (crc %08x) than "
                     "the loaded shard's (crc %08x): the two files are from different builds; "
                     "rebuild the site with scripts/build-site.sh", t.vocab_crc, m->vocab_crc);
    else if (t.tokenizer_version != m->tokenizer_version || t.classes != m->classes)
        rc = nn_fail(&s->err, NN_ERR_FORMAT, "the test reviews were built another way (tokenizer %u, "
                     "%u classes) than the loaded shard (tokenizer %u, %u classes); rebuild the site "
                     "with scripts/build-site.sh", t.tokenizer_version, t.classes,
                     m->tokenizer_version, m->classes);
    else if (sp->n != m->test_pending)
        rc = nn_fail(&s->err, NN_ERR_FORMAT, "the test file has %u reviews, but %u were expected: "
                     "it is stale; rebuild the site with scripts/build-site.sh", sp->n, m->test_pending);
    else if (m->nsplits >= NN_SHARD_MAX_SPLITS)
        rc = nn_fail(&s->err, NN_ERR_STATE, "the loaded shard has no room for another split");
    /* Without a vocabulary of its own the parser could not check the ids. */
    for (uint32_t i = 0; rc == NN_OK && i < sp->offset[sp->n]; i++)
        if (sp->tokens[i] >= m->vocab.V)
            rc = nn_fail(&s->err, NN_ERR_FORMAT, "the test file is corrupt: token %u is id %u but "
                         "the vocabulary has %u ids; rebuild the site with scripts/build-site.sh",
                         i, sp->tokens[i], m->vocab.V);
    if (rc == NN_OK && s->trainer && nn_trainer_test_pending(s->trainer))
        rc = nn_trainer_attach_test(s->trainer, sp, &s->err);
    if (rc != NN_OK) {
        nn_shard_free(&t);
        free(p);
        return rc;
    }
    /* The comparison run (if any) waits for it too; out of memory there
     * ends that run alone (its next step says so). */
    if (s->full.trainer && nn_trainer_test_pending(s->full.trainer) &&
        nn_trainer_attach_test(s->full.trainer, sp, &s->err) != NN_OK)
        nn_run_free(&s->full);
    s->shard.split[s->shard.nsplits++] = *sp; /* points into p, kept as test_buf */
    s->shard.test_pending = 0;
    nn_shard_free(&t);
    free(s->test_buf);
    s->test_buf = p;
    return NN_OK;
}

/* Takes ownership of p (from nnw_alloc) even on failure, like nnw_load_shard. */
int nn_session_load_image_shard(nn_session *s, uint8_t *p, size_t n) {
    drop_shard(s);
    s->shard_buf = p;
    int rc = nn_image_shard_parse(&s->images, p, n, &s->err);
    if (rc != NN_OK) {
        drop_shard(s);
        return rc;
    }
    s->has_images = 1;
    return NN_OK;
}

/* Image i of split "train"/"test": a pointer to its D pixels (0-255,
 * row-major) inside the shard, valid while the shard is loaded; its label
 * via nnw_image_label. NULL for a bad split or index. */
const nn_image_split *nn_session_image_split(nn_session *s, const char *split, uint32_t i) {
    if (!s->has_images) {
        nn_fail(&s->err, NN_ERR_STATE, "no image shard is loaded: load fashion.shard first");
        return NULL;
    }
    const nn_image_split *sp = nn_image_shard_find(&s->images, split);
    if (!sp) nn_fail(&s->err, NN_ERR_ARG, "the image shard has no split \"%.32s\"", split);
    else if (i >= sp->n) nn_fail(&s->err, NN_ERR_ARG, "image %u is out of range (%u images)", i, sp->n);
    return sp && i < sp->n ? sp : NULL;
}

/* Refuses n images at p that start inside a loaded split's pixels but not
 * at an image boundary, or run past its end. Memory of the caller's own
 * (nnw_alloc) cannot be checked here beyond p != NULL. */
int nn_session_check_pixels(nn_session *s, const uint8_t *p, uint32_t n) {
    if (!p) return nn_fail(&s->err, NN_ERR_ARG, "no pixels: pass nnw_image(...) or memory from nnw_alloc");
    size_t D = nn_image_shard_pixels(&s->images);
    for (uint32_t k = 0; k < s->images.nsplits; k++) {
        const nn_image_split *sp = &s->images.split[k];
        const uint8_t *end = sp->pixels + (size_t)sp->n * D;
        if (p < sp->pixels || p >= end) continue;
        size_t at = (size_t)(p - sp->pixels);
        if (at % D || n > sp->n - at / D)
            return nn_fail(&s->err, NN_ERR_ARG, "%u images from image %zu%s of split \"%s\" are out of range "
                           "(%u images)", n, at / D, at % D ? " (not at an image's start)" : "", sp->name, sp->n);
    }
    return NN_OK;
}

/* Creates the trainer (and a freshly initialised model) from a config JSON
 * whose keys override the tutorial defaults. With embedding_init "word2vec"
 * the embedding starts from the session's word vectors (nnw_pretrain_*),
 * which must have been trained with the same settings. */
int nn_session_configure(nn_session *s, const char *json) {
    int rc = s->has_images ? NN_OK : nn_session_need_shard(s);
    if (rc != NN_OK) return rc;
    nn_config cfg;
    nn_config_default(&cfg);
    if ((rc = nn_config_from_json(&cfg, json, &s->err)) != NN_OK) return rc;
    if (s->has_images) {
        /* Images: no embedding, so no word vectors and no snapshots. */
        nn_trainer *t = NULL;
        if ((rc = nn_trainer_create_images(&t, &cfg, &s->images, &s->err)) != NN_OK) return rc;
        drop_trainer(s);
        s->trainer = t;
        s->progress[NN_PROGRESS_TRAIN_SIZE] = (float)nn_trainer_count(t, "train");
        nn_fail(&s->embed_err, NN_ERR_STATE, "an image model has no embedding");
        return NN_OK;
    }
    if ((rc = nn_config_check(&cfg, &s->shard, &s->err)) != NN_OK) return rc;
    nn_trainer *t = NULL;
    if ((rc = nn_trainer_create(&t, &cfg, &s->shard, &s->err)) != NN_OK) return rc;
    lend_threads(s, t);
    if (cfg.embedding_init == NN_EMB_WORD2VEC &&
        (rc = nn_w2v_give(s->w2v, s->w2v_finished, t, &cfg, &s->err)) != NN_OK) {
        nn_trainer_free(t);
        return rc;
    }
    drop_trainer(s);
    s->trainer = t;
    s->progress[NN_PROGRESS_TRAIN_SIZE] = (float)nn_trainer_count(t, "train");
    embed_start(s);
    return NN_OK;
}

int nn_session_train(nn_session *s, uint32_t max_batches) {
    int rc = nn_session_need_trainer(s);
    if (rc != NN_OK) return rc;
    nn_progress p;
    memset(&p, 0, sizeof p);
    rc = nn_trainer_run(s->trainer, max_batches, &p, &s->err);
    float *q = s->progress;
    q[NN_PROGRESS_EPOCH] = (float)p.epoch;
    q[NN_PROGRESS_BATCH] = (float)p.batch;
    q[NN_PROGRESS_BATCHES] = (float)p.batches;
    q[NN_PROGRESS_BATCH_LOSS] = p.batch_loss;
    q[NN_PROGRESS_BATCH_ACC] = p.batch_acc;
    q[NN_PROGRESS_EPOCH_DONE] = (float)p.epoch_done;
    q[NN_PROGRESS_FINISHED] = (float)p.finished;
    q[NN_PROGRESS_STOPPED_EARLY] = (float)p.stopped_early;
    q[NN_PROGRESS_BEST_EPOCH] = (float)p.best_epoch;
    q[NN_PROGRESS_RESTORED_BEST] = (float)p.restored_best;
    if (p.epoch_done) {
        uint32_t n = 0;
        const nn_epoch_log *h = nn_trainer_history(s->trainer, &n);
        if (n > 0) {
            q[NN_PROGRESS_LOSS] = h[n - 1].loss;
            q[NN_PROGRESS_ACC] = h[n - 1].acc;
            q[NN_PROGRESS_VAL_LOSS] = h[n - 1].val_loss;
            q[NN_PROGRESS_VAL_ACC] = h[n - 1].val_acc;
        }
    }
    q[NN_PROGRESS_TRAIN_SIZE] = (float)nn_trainer_count(s->trainer, "train");
    return rc;
}

int nn_session_evaluate(nn_session *s, const char *split) {
    int rc = nn_session_need_trainer(s);
    if (rc != NN_OK) return rc;
    if (strcmp(split, "val") != 0 && strcmp(split, "test") != 0)
        return nn_fail(&s->err, NN_ERR_ARG, "cannot evaluate split '%.32s': use \"val\" or \"test\"", split);
    if (!strcmp(split, "test") && (rc = need_test(s)) != NN_OK) return rc;
    float loss = NAN, acc = NAN;
    rc = nn_trainer_evaluate(s->trainer, split, &loss, &acc, &s->err);
    if (rc != NN_OK) return rc;
    s->eval_result[NN_EVAL_RESULT_LOSS] = loss;
    s->eval_result[NN_EVAL_RESULT_ACC] = acc;
    return NN_OK;
}

/* The same evaluation in slices, so the worker stays responsive while a
 * recurrent model evaluates 25,000 reviews: begin, then step until it
 * returns 1 (0: more to do, <0: -status); the result is in nnw_eval_result(s). */
int nn_session_evaluate_begin(nn_session *s, const char *split) {
    int rc = nn_session_need_trainer(s);
    if (rc != NN_OK) return rc;
    s->eval_active = 0;
    if (!strcmp(split, "test") && (rc = need_test(s)) != NN_OK) return rc;
    rc = nn_trainer_eval_begin(s->trainer, split, &s->eval, &s->err);
    if (rc != NN_OK) return rc;
    s->eval_active = 1;
    return NN_OK;
}

int nn_session_evaluate_step(nn_session *s, uint32_t max_batches) {
    if (!s->trainer || !s->eval_active)
        return -nn_fail(&s->err, NN_ERR_STATE, "no evaluation in progress: call nnw_evaluate_begin first");
    if (!nn_trainer_eval_step(s->trainer, &s->eval, max_batches)) return 0;
    nn_trainer_eval_result(&s->eval, &s->eval_result[NN_EVAL_RESULT_LOSS], &s->eval_result[NN_EVAL_RESULT_ACC]);
    s->eval_active = 0;
    return 1;
}

/* Serialises the model, the shard's vocabulary and the history; the bytes
 * stay owned by the session until the next export (or nn_session_free). */
uint8_t *nn_session_checkpoint_export(nn_session *s) {
    if (nn_session_need_trainer(s) != NN_OK) return NULL;
    uint32_t nhist = 0;
    const nn_epoch_log *hist = nn_session_history(s, &nhist);
    uint8_t *out = NULL;
    size_t len = 0;
    /* An image model keeps no words (vocab_crc 0); a model of a labelled-text
     * shard keeps its class names. */
    const nn_model *m = nn_trainer_model(s->trainer);
    const nn_shard *names = !s->has_images && s->shard.class_name[0] && s->shard.classes == nn_model_classes(m)
                                ? &s->shard : NULL;
    if (nn_checkpoint_write_named(m, s->has_images ? NULL : &s->shard.vocab, s->has_images ? 0 : s->shard.vocab_crc,
                                  hist, nhist, names, &out, &len, &s->err) != NN_OK)
        return NULL;
    free(s->ckpt);
    s->ckpt = out;
    s->ckpt_len = len;
    return out;
}

/* Replaces the trainer with one built from the checkpoint's config against
 * the loaded shard, carrying the checkpoint's weights. Takes ownership of p
 * (from nnw_alloc), like nnw_load_shard. */
int nn_session_checkpoint_check(nn_session *s, const uint8_t *p, size_t n, size_t len) {
    int rc = s->has_images ? NN_OK : nn_session_need_shard(s);
    if (rc != NN_OK) return rc;
    nn_checkpoint_head head;
    if ((rc = nn_checkpoint_read_head(&head, p, n, len, &s->err)) != NN_OK || !head.has_config) return rc;
    return nn_trainer_checkpoint_fits(&head, s->has_images ? NULL : &s->shard,
                                      s->has_images ? &s->images : NULL, &s->err);
}

int nn_session_checkpoint_import(nn_session *s, uint8_t *p, size_t n) {
    /* The head first: a config over the budget is refused before the
     * reader allocates its model. */
    int rc = nn_session_checkpoint_check(s, p, n, n);
    if (rc != NN_OK) {
        free(p);
        return rc;
    }
    nn_checkpoint ck;
    memset(&ck, 0, sizeof ck);
    rc = nn_checkpoint_read(&ck, p, n, &s->err);
    free(p);
    if (rc != NN_OK) return rc;

    nn_trainer *t = NULL;
    nn_epoch_log *hist = NULL;
    /* A model that names its classes names the shard's, in the shard's order. */
    for (uint32_t k = 0; !s->has_images && k < ck.nclass_names && s->shard.class_name[0]; k++)
        if (k >= s->shard.classes || strlen(ck.class_name[k]) != s->shard.class_name_len[k] ||
            memcmp(ck.class_name[k], s->shard.class_name[k], s->shard.class_name_len[k]) != 0) {
            rc = nn_fail(&s->err, NN_ERR_ARG,
                         "this model's classes are not the loaded shard's (its class %u is \"%.64s\"): "
                         "load the labelled file it was trained on",
                         k, ck.class_name[k]);
            goto done;
        }
    rc = nn_trainer_from_checkpoint(&t, &ck, s->has_images ? NULL : &s->shard, s->has_images ? &s->images : NULL,
                                    &s->err);
    if (rc != NN_OK) goto done;
    lend_threads(s, t);
    if (ck.nhist && !(hist = nn_malloc_array(ck.nhist, sizeof *hist))) {
        rc = nn_fail(&s->err, NN_ERR_NOMEM, "out of memory importing the checkpoint");
        goto done;
    }
    if (ck.nhist) memcpy(hist, ck.hist, ck.nhist * sizeof *hist);
    nn_model *m = nn_trainer_model(t);
    drop_trainer(s);
    s->trainer = t;
    t = NULL;
    s->imported = hist;
    s->nimported = hist ? ck.nhist : 0;
    hist = NULL;
    s->progress[NN_PROGRESS_TRAIN_SIZE] = (float)nn_trainer_count(s->trainer, "train");
    if (s->has_images) goto done; /* no embedding to snapshot */
    embed_start(s);
    if (s->embed) /* the imported weights, as the state after its last epoch */
        nn_embed_history_record(s->embed, m, s->nimported ? s->nimported : 1, 0, &s->embed_err);
done:
    nn_trainer_free(t);
    free(hist);
    nn_checkpoint_free(&ck);
    return rc;
}

/* Records the epoch that just ended; the trainer's best epoch so far (the
 * one the curves mark) is never dropped for the budget. */
static void embed_on_epoch(void *user, const nn_model *m, uint32_t epoch) {
    nn_session *s = user;
    if (!s->embed) return;
    double t0 = (s->clock_ms ? s->clock_ms() : 0);
    uint32_t keep = nn_trainer_best_epoch(s->trainer);
    if (nn_embed_history_record(s->embed, m, epoch, keep, &s->embed_err) != NN_OK) {
        /* Out of memory: keep what is recorded, record no more. */
        nn_trainer_set_epoch_hook(s->trainer, NULL, NULL);
    }
    s->embed_ms = (s->clock_ms ? s->clock_ms() : 0) - t0;
}

/* A fresh history for the trainer just created (nnw_configure, import). */
static void embed_start(nn_session *s) {
    if (!s->embed_rare_below) s->embed_rare_below = 20;
    if (!s->embed_frequent_from) s->embed_frequent_from = 1000;
    s->embed_err.code = NN_OK;
    s->embed_err.msg[0] = 0;
    s->embed_ms = 0;
    nn_model *m = nn_trainer_model(s->trainer);
    uint32_t *counts = nn_malloc_array(m->cfg.vocab_size, sizeof *counts);
    if (!counts) {
        nn_fail(&s->embed_err, NN_ERR_NOMEM, "out of memory counting the training words");
        return;
    }
    nn_trainer_count_tokens(s->trainer, "train", counts);
    if (nn_embed_history_create(&s->embed, m, counts, NN_SESSION_EMBED_BUDGET, s->embed_rare_below,
                                s->embed_frequent_from, &s->embed_err) == NN_OK)
        nn_trainer_set_epoch_hook(s->trainer, embed_on_epoch, s);
    free(counts);
}

int nn_session_need_embed(nn_session *s) {
    int rc = nn_session_need_trainer(s);
    if (rc != NN_OK) return rc;
    if (s->embed) return NN_OK;
    return nn_fail(&s->err, NN_ERR_STATE, "no embedding snapshots: %s",
                   s->embed_err.msg[0] ? s->embed_err.msg : "train the model first");
}

/* The session's bulk answer buffer, at least n floats (NULL: out of memory,
 * with the message set). */
float *nn_session_embed_out(nn_session *s, size_t n) {
    if (n > s->embed_out_cap) {
        float *p = nn_realloc_array(s->embed_out, n, sizeof *p);
        if (!p) {
            nn_fail(&s->err, NN_ERR_NOMEM, "out of memory for an answer of %zu numbers", n);
            return NULL;
        }
        s->embed_out = p;
        s->embed_out_cap = n;
    }
    return s->embed_out;
}

/* Sets the groups of the statistics: rare = seen 1..rare_below-1 times in
 * the training reviews, frequent = at least frequent_from times. */
int nn_session_embed_groups(nn_session *s, uint32_t rare_below, uint32_t frequent_from) {
    if (rare_below < 1 || frequent_from < 1)
        return nn_fail(&s->err, NN_ERR_ARG, "the word groups need thresholds of at least 1");
    s->embed_rare_below = rare_below;
    s->embed_frequent_from = frequent_from;
    if (s->embed) nn_embed_history_set_groups(s->embed, rare_below, frequent_from);
    return NN_OK;
}

/* Collects the first token of a text. */
typedef struct first_token { char word[NN_MAX_TOKEN_BYTES]; size_t len; int found; } first_token;
static void take_first(const char *tok, size_t len, void *user) {
    first_token *f = user;
    if (f->found++) return;
    f->len = len < sizeof f->word ? len : sizeof f->word;
    memcpy(f->word, tok, f->len);
}

/* The id of the word text[0..n) (tokenized like reviews, so "Excellent!"
 * is "excellent"): an id the model has, -1 when the text has no word, -2
 * when the model's vocabulary lacks it, -3 when it holds several words. */
int nn_session_word_id(nn_session *s, const char *text, size_t n) {
    if (nn_session_need_shard(s) != NN_OK) return -1;
    first_token f = {{0}, 0, 0};
    nn_tokenize(text, n, take_first, &f);
    if (!f.found) return -1;
    if (f.found > 1) return -3;
    uint32_t id = nn_vocab_lookup(&s->shard.vocab, f.word, f.len);
    uint32_t V = s->trainer ? nn_trainer_model(s->trainer)->cfg.vocab_size : s->shard.vocab.V;
    return id == NN_UNK || id >= V ? -2 : (int)id;
}

int nn_session_full_start(nn_session *s) {
    int rc = nn_session_need_text_trainer(s);
    if (rc != NN_OK) return rc;
    nn_run_free(&s->full);
    memset(s->full_progress, 0, sizeof s->full_progress);
    nn_config cfg = nn_trainer_model(s->trainer)->cfg;
    cfg.patience = 0;
    nn_trainer *t = NULL;
    if ((rc = nn_trainer_create(&t, &cfg, &s->shard, &s->err)) != NN_OK) return rc;
    lend_threads(s, t);
    /* A pretrained run's twin starts from the same word vectors, or from the
     * same weights the encoder gave the run (kept then: the encoder may have
     * trained on or been replaced since). */
    if (cfg.embedding_init == NN_EMB_WORD2VEC && (rc = nn_w2v_give(s->w2v, s->w2v_finished, t, &cfg, &s->err))) {
        nn_trainer_free(t);
        return rc;
    }
    if (s->start_params) {
        nn_model *m = nn_trainer_model(t);
        assert(m->nparams == nn_trainer_model(s->trainer)->nparams);
        memcpy(m->params, s->start_params, m->nparams * sizeof *m->params);
    }
    nn_run_init(&s->full, t);
    return NN_OK;
}

int nn_session_full_train(nn_session *s, uint32_t max_batches) {
    if (!s->full.trainer) return nn_fail(&s->err, NN_ERR_STATE, "no comparison run: call nnw_full_start first");
    int rc = nn_run_step(&s->full, max_batches, &s->err);
    const nn_run_progress *p = &s->full.p;
    float *q = s->full_progress;
    q[NN_FULL_PROGRESS_EPOCH] = (float)p->epoch;
    q[NN_FULL_PROGRESS_BATCH] = (float)p->batch;
    q[NN_FULL_PROGRESS_BATCHES] = (float)p->batches;
    q[NN_FULL_PROGRESS_EPOCH_DONE] = (float)p->epoch_done;
    q[NN_FULL_PROGRESS_FINISHED] = (float)p->finished;
    q[NN_FULL_PROGRESS_LOSS] = p->loss;
    q[NN_FULL_PROGRESS_ACC] = p->acc;
    q[NN_FULL_PROGRESS_VAL_LOSS] = p->val_loss;
    q[NN_FULL_PROGRESS_VAL_ACC] = p->val_acc;
    q[NN_FULL_PROGRESS_TEST_DONE] = (float)p->test_done;
    q[NN_FULL_PROGRESS_TEST_LOSS] = p->test_loss;
    q[NN_FULL_PROGRESS_TEST_ACC] = p->test_acc;
    return rc;
}

static void drop_diagnosis(nn_session *s) {
    nn_diagnosis_free(s->diag);
    s->diag = NULL;
    nn_model_free(s->diag_model);
    s->diag_model = NULL;
    free(s->diag_curves);
    free(s->diag_examples);
    s->diag_curves = NULL;
    s->diag_examples = NULL;
    s->diag_k = 0;
}

int nn_session_need_diagnosis(nn_session *s, int summarised) {
    if (s->diag && s->trainer && (!summarised || s->diag->summarised)) return NN_OK;
    return nn_fail(&s->err, NN_ERR_STATE,
                   s->diag ? "the diagnosis is not finished: step it to the end first"
                           : "no diagnosis (or the model was replaced since): diagnose again");
}

/* Starts a diagnosis of split ("val", "test", or "text": the last labelled
 * text) with the weights at params (nparams floats, copied now into a model
 * of its own, so training goes on untouched), or the model's current
 * weights when params is 0; words: also rate every word. Replaces any
 * previous diagnosis. */
int nn_session_diagnose_begin(nn_session *s, const char *split, const float *params,
                                            int words) {
    int rc = nn_session_need_text_trainer(s);
    if (rc != NN_OK) return rc;
    drop_diagnosis(s);
    int text = !strcmp(split, "text");
    if (!text && strcmp(split, "val") && strcmp(split, "test"))
        return nn_fail(&s->err, NN_ERR_ARG, "cannot diagnose '%.32s': use \"val\", \"test\" or \"text\"", split);
    if (!strcmp(split, "test") && (rc = need_test(s)) != NN_OK) return rc;
    uint32_t n = 0;
    const float *label = NULL;
    const uint16_t *ids = text ? NULL : nn_trainer_set(s->trainer, split, &n, &label, NULL);
    if (!text && n == 0)
        return nn_fail(&s->err, NN_ERR_ARG, "the %s set is empty%s", split,
                       split[0] == 'v' ? ": set val_size above 0 to diagnose validation reviews" : "");
    if ((rc = nn_diagnosis_model(&s->diag_model, nn_trainer_model(s->trainer), params, &s->err)) != NN_OK)
        return rc;
    nn_model *m = s->diag_model;
    const nn_stopwords *stop = nn_trainer_stopwords(s->trainer);
    s->diag_split = text ? NN_DIAG_TEXT : split[0] == 'v' ? NN_DIAG_VAL : NN_DIAG_TEST;
    if (text) {
        rc = nn_diagnosis_create_texts(&s->diag, m, &s->texts, &s->shard.vocab, stop, &s->err);
        if (rc == NN_ERR_ARG && s->texts.n == 0)
            rc = nn_fail(&s->err, NN_ERR_ARG, "no labelled text to diagnose: paste or upload lines "
                         "of label<TAB>text first%s", s->texts.malformed ? " (every line was malformed)" : "");
    } else {
        rc = nn_diagnosis_create_padded(&s->diag, m, ids, label, n, &s->err);
    }
    if (rc == NN_OK && words) rc = nn_diagnosis_want_words(s->diag, m, &s->shard.vocab, stop, &s->err);
    if (rc != NN_OK) drop_diagnosis(s);
    return rc;
}

/* Up to max_batches batches (the reviews first, then the words; a step
 * that finishes the reviews stops there): 1 when everything is scored, 0
 * when there is more, negative -status on error. */
int nn_session_diagnose_step(nn_session *s, uint32_t max_batches) {
    if (nn_session_need_diagnosis(s, 0) != NN_OK) return -NN_ERR_STATE;
    return nn_diagnosis_step(s->diag, s->diag_model, max_batches ? max_batches : 1);
}

/* After the last step: the summary (curves of at most NN_SESSION_DIAG_POINTS
 * points, AUC, AP, log loss, NN_SESSION_DIAG_BINS bins). NN_ERR_DIVERGED for NaN
 * scores. */
int nn_session_diagnose_finish(nn_session *s) {
    int rc = nn_session_need_diagnosis(s, 0);
    if (rc != NN_OK) return rc;
    nn_diagnosis *d = s->diag;
    if (d->summarised) return NN_OK;
    rc = nn_diagnosis_summarise(d, NN_SESSION_DIAG_POINTS, NN_SESSION_DIAG_BINS, &s->err);
    if (rc != NN_OK) return rc;
    nn_diagnosis_summary_floats(d, s->diag_summary);
    free(s->diag_curves);
    s->diag_curves = nn_malloc_array(nn_diagnosis_curves_len(d), sizeof(float));
    if (!s->diag_curves) {
        d->summarised = 0;
        return nn_fail(&s->err, NN_ERR_NOMEM, "out of memory for the curves");
    }
    nn_diagnosis_curves_floats(d, s->diag_curves);
    return NN_OK;
}

/* At threshold: fills nnw_diagnose_at(s) (layout "diagnose_at") and
 * nnw_diagnose_examples(s) with the indices of the false positives, false
 * negatives and uncertain reviews found (k each, in that order). */
int nn_session_diagnose_threshold(nn_session *s, float threshold, uint32_t k) {
    int rc = nn_session_need_diagnosis(s, 1);
    if (rc != NN_OK) return rc;
    if (!(threshold >= 0.0f && threshold <= 1.0f) || k > 1000)
        return nn_fail(&s->err, NN_ERR_ARG, "threshold %g must be in [0, 1] and k %u at most 1000",
                       (double)threshold, k);
    if (k > s->diag_k || !s->diag_examples) {
        uint32_t *e = nn_realloc_array(s->diag_examples, 3 * (size_t)(k ? k : 1), sizeof *e);
        if (!e) return nn_fail(&s->err, NN_ERR_NOMEM, "out of memory listing reviews");
        s->diag_examples = e;
    }
    s->diag_k = k;
    size_t found[3];
    uint32_t *e = s->diag_examples;
    nn_classification c = nn_diagnosis_at(s->diag, threshold, k, e, e + k, e + 2 * k, found);
    nn_diagnosis_at_floats(s->diag_at, threshold, &c, found);
    return NN_OK;
}

/* Review i of the diagnosed set, explained with the diagnosed weights in
 * logit units (nn_review_explain_stored / nn_review_explain_text):
 * {"index", "label", "score", "split", "source" (the review's index in the
 * shard split named by "split"; a labelled text has "line" instead), "rows",
 * "text"}, and the rows in nnw_explain_data (stop words id -1, words beyond
 * maxlen id -2). */
const char *nn_session_diagnose_example(nn_session *s, uint32_t i) {
    if (nn_session_need_diagnosis(s, 1) != NN_OK) return NULL;
    nn_diagnosis *d = s->diag;
    if (i >= d->n) {
        nn_fail(&s->err, NN_ERR_ARG, "review %u is out of range: the diagnosis has %u", i, d->n);
        return NULL;
    }
    const nn_stopwords *stop = nn_trainer_stopwords(s->trainer);
    nn_review_text *r = &s->review;
    const char *text, *split_name = "text";
    size_t len;
    uint32_t source = i;
    int k;
    if (s->diag_split == NN_DIAG_TEXT) {
        text = nn_labelled_text_example(&s->texts, i, &len);
        k = nn_review_explain_text(r, s->diag_model, d, &s->shard.vocab, stop, text, len, 1, &s->err);
    } else {
        uint32_t n;
        const uint32_t *src;
        nn_trainer_set(s->trainer, s->diag_split == NN_DIAG_VAL ? "val" : "test", &n, NULL, &src);
        source = src[i];
        split_name = s->diag_split == NN_DIAG_VAL ? "train" : "test";
        k = nn_review_explain_stored(r, s->diag_model, d, nn_shard_find(&s->shard, split_name), source,
                                     &s->shard.vocab, stop, &s->err);
        text = r->text;
        len = r->len;
    }
    if (k < 0) return NULL;
    const uint32_t *line = s->diag_split == NN_DIAG_TEXT ? &s->texts.line[i] : NULL;
    return nn_session_answer(s, nn_diagnose_example_json(d, i, split_name, line, source, k, text, len));
}

/* Reads label<TAB>text (or CSV) lines from bytes (n; the caller keeps
 * them) in format (0 auto, 1 TSV, 2 CSV) and keeps the examples for
 * nnw_diagnose_begin(s, "text", ...). Malformed lines are not an error: they
 * are listed by nnw_labelled_text_info. */
int nn_session_labelled_text(nn_session *s, const char *bytes, size_t n, int format) {
    if (s->diag && s->diag_split == NN_DIAG_TEXT) drop_diagnosis(s);
    nn_labelled_text_free(&s->texts);
    return nn_labelled_text_parse(&s->texts, bytes, n, format, &s->err);
}

int nn_session_build_labelled_shard(nn_session *s, const char *bytes, size_t n, const char *test,
                                    size_t test_n, int format, float test_share, uint32_t seed) {
    nn_labelled_shard_options opt = {format, 0, 0, test_share, seed};
    nn_labelled_shard_report rep;
    uint8_t *shard = NULL;
    size_t len = 0;
    int rc = nn_labelled_shard_build(bytes, n, test, test_n, &opt, &shard, &len, &rep, &s->err);
    free(s->labelled_report);
    s->labelled_report = nn_labelled_shard_report_json(&rep, rc == NN_OK ? NULL : s->err.msg);
    nn_labelled_shard_report_free(&rep);
    if (rc) return rc;
    if (!s->labelled_report) {
        free(shard);
        return nn_fail(&s->err, NN_ERR_NOMEM, "out of memory describing the labelled file");
    }
    return nn_session_load_shard(s, shard, len); /* takes the shard's bytes */
}

static void drop_corpus(nn_session *s) {
    nn_session_mlm_drop(s); /* pretrained on the corpus, in the shard's vocabulary */
    nn_w2v_free(s->w2v);
    s->w2v = NULL;
    s->w2v_finished = 0;
    if (s->has_corpus) nn_shard_free(&s->corpus);
    memset(&s->corpus, 0, sizeof s->corpus);
    s->has_corpus = 0;
    free(s->corpus_buf);
    s->corpus_buf = NULL;
}

/* Takes ownership of p (from nnw_alloc) even on failure, like
 * nnw_load_shard. The main shard must be loaded first. */
int nn_session_load_corpus(nn_session *s, uint8_t *p, size_t n) {
    int rc = nn_session_need_shard(s);
    drop_corpus(s);
    s->corpus_buf = p;
    if (rc != NN_OK) {
        drop_corpus(s);
        return rc;
    }
    if ((rc = nn_shard_parse(&s->corpus, p, n, &s->err)) != NN_OK) {
        drop_corpus(s);
        return rc;
    }
    s->has_corpus = 1;
    if (!nn_shard_find(&s->corpus, "unsup")) {
        drop_corpus(s);
        return nn_fail(&s->err, NN_ERR_FORMAT,
                       "this shard has no \"unsup\" split: load imdb-unsup.shard (scripts/setup.sh "
                       "builds it)");
    }
    if (s->corpus.vocab_crc != s->shard.vocab_crc) {
        uint32_t crc = s->corpus.vocab_crc;
        drop_corpus(s);
        return nn_fail(&s->err, NN_ERR_FORMAT,
                       "the unlabelled reviews use another vocabulary (crc %08x) than the loaded "
                       "shard (crc %08x): rebuild both with scripts/setup.sh",
                       crc, s->shard.vocab_crc);
    }
    return NN_OK;
}

/* Starts word2vec with a config JSON over the defaults (vocab_size,
 * embed_dim, seed and the w2v_* keys are used); replaces earlier vectors. */
int nn_session_pretrain_begin(nn_session *s, const char *json) {
    if (!s->has_corpus)
        return nn_fail(&s->err, NN_ERR_STATE, "no unlabelled reviews are loaded: load "
                       "imdb-unsup.shard first");
    nn_config cfg;
    nn_config_default(&cfg);
    int rc = nn_config_from_json(&cfg, json, &s->err);
    if (rc == NN_OK) rc = nn_config_check(&cfg, NULL, &s->err);
    if (rc != NN_OK) return rc;
    if (cfg.vocab_size > s->shard.vocab.V)
        return nn_fail(&s->err, NN_ERR_ARG, "vocab_size is %u but the shard has %u ids; choose at most %u",
                       cfg.vocab_size, s->shard.vocab.V, s->shard.vocab.V);
    nn_w2v_free(s->w2v);
    s->w2v = NULL;
    s->w2v_finished = 0;
    for (int i = 0; i < NN_PRETRAIN_PROGRESS_LEN; i++) s->w2v_progress[i] = 0;
    return nn_w2v_create(&s->w2v, &cfg, nn_shard_find(&s->corpus, "unsup"), &s->err);
}

/* Trains whole reviews until at least max_tokens words were read; the
 * progress is in nnw_pretrain_progress(s). */
int nn_session_pretrain_step(nn_session *s, uint32_t max_tokens) {
    if (!s->w2v) return nn_fail(&s->err, NN_ERR_STATE, "no pretraining in progress: call nnw_pretrain_begin");
    nn_w2v_progress p;
    int rc = nn_w2v_run(s->w2v, max_tokens, &p, &s->err);
    float *q = s->w2v_progress;
    q[NN_PRETRAIN_PROGRESS_FRACTION] = p.tokens_total ? (float)((double)p.tokens_done / (double)p.tokens_total) : 0.0f;
    q[NN_PRETRAIN_PROGRESS_TOKENS] = (float)p.tokens_done;
    q[NN_PRETRAIN_PROGRESS_TOKENS_TOTAL] = (float)p.tokens_total;
    q[NN_PRETRAIN_PROGRESS_EPOCH] = (float)p.epoch;
    q[NN_PRETRAIN_PROGRESS_EPOCHS] = (float)p.epochs;
    q[NN_PRETRAIN_PROGRESS_LR] = p.lr;
    q[NN_PRETRAIN_PROGRESS_LOSS] = p.loss;
    q[NN_PRETRAIN_PROGRESS_FINISHED] = (float)p.finished;
    q[NN_PRETRAIN_PROGRESS_PAIRS] = (float)p.pairs;
    s->w2v_finished = p.finished && rc == NN_OK;
    return rc;
}
