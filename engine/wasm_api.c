/* wasm_api.c: the engine's one WebAssembly boundary.
 *
 * The exports web/worker.js calls, exactly those listed in web/PROTOCOL.md,
 * all prefixed nnw_. Only numbers and pointers cross: text goes in as UTF-8
 * bytes the worker writes into memory it got from nnw_alloc, and comes out as
 * a NUL-terminated string or a float array owned by the session, valid until
 * the next call on that session. JSON is used only for small answers (info,
 * config, history, one review), never for bulk arrays, and is written by
 * cJSON (engine/json.h), never by hand.
 *
 * All state lives in one nnw_session; there are no C globals. This is the
 * only file that includes <emscripten.h>. It is deliberately not a second
 * engine: every computation is a call into nn.h.
 */
#include "answers.h"
#include "diagnosis.h"
#include "nn.h"
#include "result_layouts.h"
#include "review_text.h"
#include "stopwords.h"
#include "word2vec.h"

#include <emscripten.h>
#ifdef NNW_THREADS
#include "threads.h" /* the two-thread build, engine-mt.js (CMakeLists.txt) */
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NNW_VERSION "nnw 1"
#define NNW_STR(x) #x
#define NNW_XSTR(x) NNW_STR(x)


typedef struct nnw_session {
    nn_error err;             /* the last failure, read with nnw_error */
    uint8_t *shard_buf;       /* the shard's bytes; nn_shard (or images) points into them */
    nn_shard shard;
    int has_shard;            /* a text shard is loaded (nnw_load_shard) */
    nn_image_shard images;
    int has_images;           /* an image shard is loaded instead (nnw_load_image_shard) */
    float probs[NN_IMAGE_MAX_CLASSES]; /* nnw_predict_image's answer */
    nn_trainer *trainer;      /* NULL until nnw_configure/nnw_checkpoint_import */
    nn_epoch_log *imported;   /* history of an imported checkpoint */
    uint32_t nimported;
    float progress[NN_PROGRESS_LEN];
    float eval_result[NN_EVAL_RESULT_LEN]; /* the last nnw_evaluate* (loss, acc) */
    char *text;               /* the last string answer (JSON or message) */
    nn_review_text review;    /* the last decoded/explained review (nnw_review, nnw_explain*) */
    uint8_t *ckpt;            /* the last exported checkpoint */
    size_t ckpt_len;
    nn_eval eval;             /* a sliced evaluation (nnw_evaluate_begin/step) */
    int eval_active;
    /* What the model learned about words (nnw_embed_*, nnw_full_*). */
    nn_embed_history *embed;  /* the trainer's per-epoch snapshots; NULL if none */
    nn_error embed_err;       /* why there are none, or why recording stopped */
    uint32_t embed_rare_below, embed_frequent_from;
    double embed_ms;          /* time the last recording took */
    float *embed_out;         /* the last bulk answer (nnw_embed_data) */
    size_t embed_out_cap;     /* floats allocated */
    nn_run full;              /* the comparison run without early stopping (trainer NULL: none) */
    float full_progress[NN_FULL_PROGRESS_LEN];
    /* the diagnosis (nnw_diagnose_*), of the trainer's model */
    nn_diagnosis *diag;
    int diag_split;           /* DIAG_VAL, DIAG_TEST or DIAG_TEXT */
    nn_model *diag_model;     /* the weights it diagnoses (nn_diagnosis_model) */
    float diag_summary[NN_DIAGNOSE_SUMMARY_LEN];
    float *diag_curves;       /* see nnw_diagnose_curves */
    float diag_at[NN_DIAGNOSE_AT_LEN];
    uint32_t *diag_examples;  /* (3 k) */
    uint32_t diag_k;
    nn_labelled_text texts;   /* the last labelled text (nnw_labelled_text) */
    struct nn_threads *pool;  /* NNW_THREADS builds: threads lent to every model */
    nn_parallel par;
    /* word2vec (section "pretraining" below) */
    uint8_t *corpus_buf;      /* the unsup shard's bytes; corpus points into them */
    nn_shard corpus;
    int has_corpus;
    nn_w2v *w2v;              /* the word vectors being trained, or trained */
    int w2v_finished;
    float w2v_progress[NN_PRETRAIN_PROGRESS_LEN];
} nnw_session;

static void embed_start(nnw_session *s);
enum { DIAG_VAL, DIAG_TEST, DIAG_TEXT };
static void drop_diagnosis(nnw_session *s);

/* --------------------------------------------------------- JSON answers
 *
 * The small answers are built by engine/answers.c; the session keeps the
 * last one until the next call. */

/* Makes text (malloc'd, or NULL: out of memory) the session's current
 * string answer. */
static const char *session_string(nnw_session *s, char *text) {
    free(s->text);
    s->text = text;
    if (!text) nn_fail(&s->err, NN_ERR_NOMEM, "out of memory while building an answer");
    return text;
}

/* ------------------------------------------------------------- helpers */

static int need_shard(nnw_session *s) {
    if (s->has_shard) return NN_OK;
    return nn_fail(&s->err, NN_ERR_STATE, "no shard is loaded: load imdb.shard first");
}

static int need_trainer(nnw_session *s) {
    if (s->trainer) return NN_OK;
    return nn_fail(&s->err, NN_ERR_STATE,
                   "no model yet: configure one (or import a checkpoint) first");
}

/* For what only a text model does (scoring text, words, diagnosis). */
static int need_text_trainer(nnw_session *s) {
    int rc = need_trainer(s);
    if (rc == NN_OK && s->has_images)
        return nn_fail(&s->err, NN_ERR_STATE, "the model reads images, not text: this request "
                       "is for a text model (load a text shard and configure one)");
    return rc;
}

static int need_image_trainer(nnw_session *s) {
    int rc = need_trainer(s);
    if (rc == NN_OK && !s->has_images)
        return nn_fail(&s->err, NN_ERR_STATE, "the model reads text, not images: load an image "
                       "shard (nnw_load_image_shard) and configure an \"mlp\" first");
    return rc;
}

static void drop_trainer(nnw_session *s) {
    drop_diagnosis(s); /* it reads the trainer's sets and model */
    nn_embed_history_free(s->embed);
    s->embed = NULL;
    nn_run_free(&s->full);
    nn_trainer_free(s->trainer);
    s->trainer = NULL;
    s->eval_active = 0; /* its set belonged to that trainer */
    free(s->imported);
    s->imported = NULL;
    s->nimported = 0;
    for (int i = 0; i < NN_PROGRESS_LEN; i++) s->progress[i] = 0;
}

static void drop_corpus(nnw_session *s);

static void drop_shard(nnw_session *s) {
    drop_trainer(s);  /* the trainer's matrices were built from this shard */
    drop_corpus(s);   /* its ids (and the vectors) belong to this vocabulary */
    if (s->has_shard) nn_shard_free(&s->shard);
    memset(&s->shard, 0, sizeof s->shard);
    s->has_shard = 0;
    memset(&s->images, 0, sizeof s->images);
    s->has_images = 0;
    free(s->shard_buf);
    s->shard_buf = NULL;
}

/* The trainer's history, or, before it has trained an epoch, the history of
 * the checkpoint it was imported from. */
static const nn_epoch_log *session_history(nnw_session *s, uint32_t *n) {
    *n = 0;
    if (!s->trainer) return NULL;
    const nn_epoch_log *h = nn_trainer_history(s->trainer, n);
    if (*n == 0 && s->nimported) {
        *n = s->nimported;
        return s->imported;
    }
    return h;
}

/* ------------------------------------------------------------- session */

EMSCRIPTEN_KEEPALIVE nnw_session *nnw_session_create(void) {
    nnw_session *s = calloc(1, sizeof(nnw_session));
#ifdef NNW_THREADS
    if (s) {
        s->pool = nn_threads_create(NNW_THREADS); /* NULL (one thread) if they cannot start */
        s->par = nn_threads_parallel(s->pool);
    }
#endif
    return s;
}

/* Threads working for the session's models: 1, or NNW_THREADS in engine-mt. */
EMSCRIPTEN_KEEPALIVE uint32_t nnw_threads(nnw_session *s) {
#ifdef NNW_THREADS
    return s->pool ? NNW_THREADS : 1;
#else
    (void)s;
    return 1;
#endif
}

/* Lends the session's threads (if any) to a new trainer's model. */
static void lend_threads(nnw_session *s, nn_trainer *t) { nn_model_set_parallel(nn_trainer_model(t), &s->par); }

EMSCRIPTEN_KEEPALIVE void nnw_session_free(nnw_session *s) {
    if (!s) return;
    drop_shard(s);
    drop_corpus(s);
    nn_labelled_text_free(&s->texts);
    free(s->text);
    nn_review_text_free(&s->review);
    free(s->ckpt);
    free(s->embed_out);
#ifdef NNW_THREADS
    nn_threads_free(s->pool);
#endif
    free(s);
}

EMSCRIPTEN_KEEPALIVE void *nnw_alloc(size_t n) { return malloc(n ? n : 1); }
EMSCRIPTEN_KEEPALIVE void nnw_free(void *p) { free(p); }

EMSCRIPTEN_KEEPALIVE const char *nnw_error(nnw_session *s) { return s->err.msg; }

/* A test hook, not an engine feature: executes a trap (wasm `unreachable`),
 * the way a bug or an out-of-bounds access would end, so the tests can check
 * that the page notices a dead engine, restarts it and carries on. The
 * worker calls it only for its debug-only `debugTrap` request. */
EMSCRIPTEN_KEEPALIVE void nnw_debug_trap(void) { __builtin_trap(); }

/* Every result array's slot names (engine/result_layouts.h) as JSON. The
 * string is static: valid for the module's lifetime (no session). */
EMSCRIPTEN_KEEPALIVE const char *nnw_layouts(void) {
    static char *json;
    if (!json) json = nn_result_layouts_json();
    return json;
}

/* The config table (engine/config.c FIELDS) as JSON: one object per key
 * with kind, limits, choices, default and doc, for the page's settings.
 * Static, like nnw_layouts. */
EMSCRIPTEN_KEEPALIVE const char *nnw_config_schema(void) {
    static char *json;
    if (!json) json = nn_config_schema_json();
    return json;
}

/* The boundary's version and the formats it reads, for the worker's init. */
EMSCRIPTEN_KEEPALIVE const char *nnw_version(void) {
    return NNW_VERSION "; shard v" NNW_XSTR(NN_SHARD_VERSION) "; checkpoint v" NNW_XSTR(NN_CKPT_VERSION)
           "; tokenizer v" NNW_XSTR(NN_TOKENIZER_VERSION) "; image shard v" NNW_XSTR(NN_IMAGE_VERSION);
}

/* --------------------------------------------------------------- shard */

/* Takes ownership of p (from nnw_alloc) even on failure: the worker never
 * has to remember to free it. Replaces any previous shard and trainer. */
EMSCRIPTEN_KEEPALIVE int nnw_load_shard(nnw_session *s, uint8_t *p, size_t n) {
    drop_shard(s);
    s->shard_buf = p;
    int rc = nn_shard_parse(&s->shard, p, n, &s->err);
    if (rc != NN_OK) {
        drop_shard(s);
        return rc;
    }
    s->has_shard = 1;
    return NN_OK;
}

EMSCRIPTEN_KEEPALIVE const char *nnw_shard_info(nnw_session *s) {
    return need_shard(s) == NN_OK ? session_string(s, nn_shard_info_json(&s->shard)) : NULL;
}

/* -------------------------------------------------------- image shard
 *
 * The second kind of dataset: an image shard (engine/image_shard.c,
 * datasets/README.md), e.g. data/fashion.shard, for model "mlp". A session
 * holds one dataset: loading either kind drops the other and its trainer.
 * nnw_configure, nnw_train, nnw_progress, nnw_evaluate*, nnw_batch_log,
 * nnw_history and nnw_params then work as for text. */

/* Takes ownership of p (from nnw_alloc) even on failure, like nnw_load_shard. */
EMSCRIPTEN_KEEPALIVE int nnw_load_image_shard(nnw_session *s, uint8_t *p, size_t n) {
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

/* {"height", "width", "channels", "classes", "class_names": [..], "version",
 *  "splits": {"train": n, "test": n}} */
EMSCRIPTEN_KEEPALIVE const char *nnw_image_info(nnw_session *s) {
    if (!s->has_images) {
        nn_fail(&s->err, NN_ERR_STATE, "no image shard is loaded: load fashion.shard first");
        return NULL;
    }
    return session_string(s, nn_image_info_json(&s->images));
}

/* Image i of split "train"/"test": a pointer to its D pixels (0-255,
 * row-major) inside the shard, valid while the shard is loaded; its label
 * via nnw_image_label. NULL for a bad split or index. */
static const nn_image_split *image_split(nnw_session *s, const char *split, uint32_t i) {
    if (!s->has_images) {
        nn_fail(&s->err, NN_ERR_STATE, "no image shard is loaded: load fashion.shard first");
        return NULL;
    }
    const nn_image_split *sp = nn_image_shard_find(&s->images, split);
    if (!sp) nn_fail(&s->err, NN_ERR_ARG, "the image shard has no split \"%.32s\"", split);
    else if (i >= sp->n) nn_fail(&s->err, NN_ERR_ARG, "image %u is out of range (%u images)", i, sp->n);
    return sp && i < sp->n ? sp : NULL;
}

EMSCRIPTEN_KEEPALIVE const uint8_t *nnw_image(nnw_session *s, const char *split, uint32_t i) {
    const nn_image_split *sp = image_split(s, split, i);
    return sp ? sp->pixels + (size_t)i * nn_image_shard_pixels(&s->images) : NULL;
}

/* The label of image i, or -1 (message in nnw_error). */
EMSCRIPTEN_KEEPALIVE int nnw_image_label(nnw_session *s, const char *split, uint32_t i) {
    const nn_image_split *sp = image_split(s, split, i);
    return sp ? sp->label[i] : -1;
}

/* The model's class probabilities for one image of D pixels (0-255) at p
 * (the caller's memory, e.g. from nnw_alloc, or nnw_image): returns the most
 * likely class, or -1 on error; the K probabilities are in
 * nnw_predict_probs(s) until the next call. Allowed while training. */
/* Refuses n images at p that start inside a loaded split's pixels but not
 * at an image boundary, or run past its end. Memory of the caller's own
 * (nnw_alloc) cannot be checked here beyond p != NULL. */
static int check_pixels(nnw_session *s, const uint8_t *p, uint32_t n) {
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

EMSCRIPTEN_KEEPALIVE int nnw_predict_image(nnw_session *s, const uint8_t *p) {
    if (need_image_trainer(s) != NN_OK || check_pixels(s, p, 1) != NN_OK) return -1;
    return (int)nn_model_predict_image(nn_trainer_model(s->trainer), p, s->probs);
}

EMSCRIPTEN_KEEPALIVE const float *nnw_predict_probs(nnw_session *s) { return s->probs; }

/* The most likely class of each of n images of D pixels at p (consecutive,
 * e.g. nnw_image(s, split, i) for images i..i+n-1 of a split) into
 * classes (n, the caller's memory), batch_size images per forward pass as
 * evaluation does: the classes nnw_predict_image gives one by one, several
 * times faster (the confusion matrix). Returns n, or -1 (message in
 * nnw_error). Allowed while training. */
EMSCRIPTEN_KEEPALIVE int nnw_predict_images(nnw_session *s, const uint8_t *p, uint32_t n, uint32_t *classes) {
    if (need_image_trainer(s) != NN_OK || check_pixels(s, p, n) != NN_OK) return -1;
    if (n && !classes) {
        nn_fail(&s->err, NN_ERR_ARG, "no room for the classes: pass n uint32s from nnw_alloc");
        return -1;
    }
    nn_model_predict_images(nn_trainer_model(s->trainer), p, n, classes);
    return (int)n;
}

/* -------------------------------------------------------------- config */

/* Creates the trainer (and a freshly initialised model) from a config JSON
 * whose keys override the tutorial defaults. With embedding_init "word2vec"
 * the embedding starts from the session's word vectors (nnw_pretrain_*),
 * which must have been trained with the same settings. */
EMSCRIPTEN_KEEPALIVE int nnw_configure(nnw_session *s, const char *json) {
    int rc = s->has_images ? NN_OK : need_shard(s);
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
    if (cfg.embedding_init == NN_EMB_WORD2VEC && (rc = nn_w2v_give(s->w2v, s->w2v_finished, t, &cfg, &s->err)) != NN_OK) {
        nn_trainer_free(t);
        return rc;
    }
    drop_trainer(s);
    s->trainer = t;
    s->progress[NN_PROGRESS_TRAIN_SIZE] = (float)nn_trainer_count(t, "train");
    embed_start(s);
    return NN_OK;
}

EMSCRIPTEN_KEEPALIVE const char *nnw_config(nnw_session *s) {
    if (need_trainer(s) != NN_OK) return NULL;
    return session_string(s, nn_config_to_json(&nn_trainer_model(s->trainer)->cfg));
}

/* ------------------------------------------------------------ training */

EMSCRIPTEN_KEEPALIVE int nnw_train(nnw_session *s, uint32_t max_batches) {
    int rc = need_trainer(s);
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

EMSCRIPTEN_KEEPALIVE float *nnw_progress(nnw_session *s) { return s->progress; }

/* (loss, acc) of the last finished nnw_evaluate / nnw_evaluate_step. */
EMSCRIPTEN_KEEPALIVE float *nnw_eval_result(nnw_session *s) { return s->eval_result; }

EMSCRIPTEN_KEEPALIVE int nnw_evaluate(nnw_session *s, const char *split) {
    int rc = need_trainer(s);
    if (rc != NN_OK) return rc;
    if (strcmp(split, "val") != 0 && strcmp(split, "test") != 0)
        return nn_fail(&s->err, NN_ERR_ARG, "cannot evaluate split '%.32s': use \"val\" or \"test\"", split);
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
EMSCRIPTEN_KEEPALIVE int nnw_evaluate_begin(nnw_session *s, const char *split) {
    int rc = need_trainer(s);
    if (rc != NN_OK) return rc;
    s->eval_active = 0;
    rc = nn_trainer_eval_begin(s->trainer, split, &s->eval, &s->err);
    if (rc != NN_OK) return rc;
    s->eval_active = 1;
    return NN_OK;
}

EMSCRIPTEN_KEEPALIVE int nnw_evaluate_step(nnw_session *s, uint32_t max_batches) {
    if (!s->trainer || !s->eval_active)
        return -nn_fail(&s->err, NN_ERR_STATE, "no evaluation in progress: call nnw_evaluate_begin first");
    if (!nn_trainer_eval_step(s->trainer, &s->eval, max_batches)) return 0;
    nn_trainer_eval_result(&s->eval, &s->eval_result[NN_EVAL_RESULT_LOSS], &s->eval_result[NN_EVAL_RESULT_ACC]);
    s->eval_active = 0;
    return 1;
}

/* This epoch's per-batch (loss, accuracy) pairs so far: a float array of
 * 2 * nnw_batch_log_len(s) values, valid until the next nnw_train. */
EMSCRIPTEN_KEEPALIVE const float *nnw_batch_log(nnw_session *s) {
    uint32_t n;
    return s->trainer ? &nn_trainer_batch_log(s->trainer, &n)->loss : NULL;
}

EMSCRIPTEN_KEEPALIVE uint32_t nnw_batch_log_len(nnw_session *s) {
    uint32_t n = 0;
    if (s->trainer) nn_trainer_batch_log(s->trainer, &n);
    return n;
}


EMSCRIPTEN_KEEPALIVE const char *nnw_history(nnw_session *s) {
    uint32_t n = 0;
    const nn_epoch_log *h = session_history(s, &n);
    return session_string(s, nn_history_json(h, n));
}

/* ---------------------------------------------------------- prediction */

EMSCRIPTEN_KEEPALIVE float nnw_score(nnw_session *s, const char *text, size_t n) {
    if (need_text_trainer(s) != NN_OK) return -1.0f;
    return nn_model_score_text_stop(nn_trainer_model(s->trainer), &s->shard.vocab,
                                    nn_trainer_stopwords(s->trainer), text, n);
}

/* Scores text and fills k rows (layout explain_row), one per token, in the
 * order of the text; returns k, or -1 with the message set. */
EMSCRIPTEN_KEEPALIVE int nnw_explain(nnw_session *s, const char *text, size_t n) {
    if (need_text_trainer(s) != NN_OK) return -1;
    return nn_review_explain_text(&s->review, nn_trainer_model(s->trainer), NULL, &s->shard.vocab,
                                  nn_trainer_stopwords(s->trainer), text, n, 0, &s->err);
}

EMSCRIPTEN_KEEPALIVE float *nnw_explain_data(nnw_session *s) { return s->review.rows; }
EMSCRIPTEN_KEEPALIVE float nnw_explain_score(nnw_session *s) { return s->review.score; }

/* Review i of a split, decoded like the Keras tutorial's decode_review
 * (nn_review_decode): words joined by spaces, <UNK> for ids the model's
 * vocabulary lacks, <START> left out. */
EMSCRIPTEN_KEEPALIVE const char *nnw_review(nnw_session *s, const char *split, uint32_t i) {
    if (need_shard(s) != NN_OK) return NULL;
    const nn_split *sp = nn_shard_find(&s->shard, split);
    if (!sp) {
        nn_fail(&s->err, NN_ERR_ARG, "the shard has no split '%.32s'", split);
        return NULL;
    }
    uint32_t V = s->trainer ? nn_trainer_model(s->trainer)->cfg.vocab_size : s->shard.vocab.V;
    if (nn_review_decode(&s->review, sp, i, &s->shard.vocab, V, &s->err) != NN_OK) return NULL;
    return session_string(s, nn_review_json(sp, i, s->review.text, s->review.len));
}

/* ------------------------------------------------------------- weights */

/* The current buffer: the trainer double-buffers the weights, so this
 * pointer changes with every training step. */
EMSCRIPTEN_KEEPALIVE float *nnw_params(nnw_session *s) {
    return s->trainer ? nn_trainer_model(s->trainer)->params : NULL;
}

EMSCRIPTEN_KEEPALIVE size_t nnw_params_len(nnw_session *s) {
    return s->trainer ? nn_trainer_model(s->trainer)->nparams : 0;
}

/* Serialises the model, the shard's vocabulary and the history; the bytes
 * stay owned by the session until the next export (or nnw_session_free). */
EMSCRIPTEN_KEEPALIVE uint8_t *nnw_checkpoint_export(nnw_session *s) {
    if (need_trainer(s) != NN_OK) return NULL;
    uint32_t nhist = 0;
    const nn_epoch_log *hist = session_history(s, &nhist);
    uint8_t *out = NULL;
    size_t len = 0;
    /* An image model keeps no words (vocab_crc 0). */
    if (nn_checkpoint_write(nn_trainer_model(s->trainer), s->has_images ? NULL : &s->shard.vocab,
                            s->has_images ? 0 : s->shard.vocab_crc, hist, nhist, &out, &len,
                            &s->err) != NN_OK)
        return NULL;
    free(s->ckpt);
    s->ckpt = out;
    s->ckpt_len = len;
    return out;
}

EMSCRIPTEN_KEEPALIVE size_t nnw_checkpoint_len(nnw_session *s) { return s->ckpt ? s->ckpt_len : 0; }

/* Replaces the trainer with one built from the checkpoint's config against
 * the loaded shard, carrying the checkpoint's weights. Takes ownership of p
 * (from nnw_alloc), like nnw_load_shard. */
EMSCRIPTEN_KEEPALIVE int nnw_checkpoint_import(nnw_session *s, uint8_t *p, size_t n) {
    int rc = s->has_images ? NN_OK : need_shard(s);
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
    rc = nn_trainer_from_checkpoint(&t, &ck, s->has_images ? NULL : &s->shard, s->has_images ? &s->images : NULL,
                                    &s->err);
    if (rc != NN_OK) goto done;
    lend_threads(s, t);
    if (ck.nhist && !(hist = malloc(ck.nhist * sizeof *hist))) {
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

/* ------------------------------------------------------------ embeddings
 *
 * What the model learned about words: an embedding snapshot at the end of
 * every epoch (engine/embedding_stats.c), recorded by a trainer epoch hook,
 * and the computations the page shows on them. Bulk answers are floats in
 * one session-owned buffer, nnw_embed_data(s), valid until the next call. */

#define NNW_EMBED_BUDGET ((size_t)64 << 20) /* bytes of snapshots per run */

/* Records the epoch that just ended; the trainer's best epoch so far (the
 * one the curves mark) is never dropped for the budget. */
static void embed_on_epoch(void *user, const nn_model *m, uint32_t epoch) {
    nnw_session *s = user;
    if (!s->embed) return;
    double t0 = emscripten_get_now();
    uint32_t keep = nn_trainer_best_epoch(s->trainer);
    if (nn_embed_history_record(s->embed, m, epoch, keep, &s->embed_err) != NN_OK) {
        /* Out of memory: keep what is recorded, record no more. */
        nn_trainer_set_epoch_hook(s->trainer, NULL, NULL);
    }
    s->embed_ms = emscripten_get_now() - t0;
}

/* A fresh history for the trainer just created (nnw_configure, import). */
static void embed_start(nnw_session *s) {
    if (!s->embed_rare_below) s->embed_rare_below = 20;
    if (!s->embed_frequent_from) s->embed_frequent_from = 1000;
    s->embed_err.code = NN_OK;
    s->embed_err.msg[0] = 0;
    s->embed_ms = 0;
    nn_model *m = nn_trainer_model(s->trainer);
    uint32_t *counts = malloc((size_t)m->cfg.vocab_size * sizeof *counts);
    if (!counts) {
        nn_fail(&s->embed_err, NN_ERR_NOMEM, "out of memory counting the training words");
        return;
    }
    nn_trainer_count_tokens(s->trainer, "train", counts);
    if (nn_embed_history_create(&s->embed, m, counts, NNW_EMBED_BUDGET, s->embed_rare_below,
                                s->embed_frequent_from, &s->embed_err) == NN_OK)
        nn_trainer_set_epoch_hook(s->trainer, embed_on_epoch, s);
    free(counts);
}

static int need_embed(nnw_session *s) {
    int rc = need_trainer(s);
    if (rc != NN_OK) return rc;
    if (s->embed) return NN_OK;
    return nn_fail(&s->err, NN_ERR_STATE, "no embedding snapshots: %s",
                   s->embed_err.msg[0] ? s->embed_err.msg : "train the model first");
}

/* The session's bulk answer buffer, at least n floats (NULL: out of memory,
 * with the message set). */
static float *embed_out(nnw_session *s, size_t n) {
    if (n > s->embed_out_cap) {
        float *p = realloc(s->embed_out, n * sizeof *p);
        if (!p) {
            nn_fail(&s->err, NN_ERR_NOMEM, "out of memory for an answer of %zu numbers", n);
            return NULL;
        }
        s->embed_out = p;
        s->embed_out_cap = n;
    }
    return s->embed_out;
}

EMSCRIPTEN_KEEPALIVE float *nnw_embed_data(nnw_session *s) { return s->embed_out; }

/* {"epochs": [stored], "recorded", "bytes_per_snapshot", "snapshot_bytes",
 *  "other_bytes", "budget", "last_ms", "vocab_size", "embed_dim",
 *  "rare_below", "frequent_from", "error"} */
EMSCRIPTEN_KEEPALIVE const char *nnw_embed_info(nnw_session *s) {
    if (need_trainer(s) != NN_OK) return NULL;
    return session_string(s, nn_embed_info_json(s->embed, &nn_trainer_model(s->trainer)->cfg, NNW_EMBED_BUDGET,
                                                s->embed_ms, s->embed_rare_below, s->embed_frequent_from,
                                                s->embed_err.msg));
}

/* Sets the groups of the statistics: rare = seen 1..rare_below-1 times in
 * the training reviews, frequent = at least frequent_from times. */
EMSCRIPTEN_KEEPALIVE int nnw_embed_groups(nnw_session *s, uint32_t rare_below, uint32_t frequent_from) {
    if (rare_below < 1 || frequent_from < 1)
        return nn_fail(&s->err, NN_ERR_ARG, "the word groups need thresholds of at least 1");
    s->embed_rare_below = rare_below;
    s->embed_frequent_from = frequent_from;
    if (s->embed) nn_embed_history_set_groups(s->embed, rare_below, frequent_from);
    return NN_OK;
}

/* Statistics of every recorded epoch: returns k (-1 on error); data holds k
 * rows of layout embed_stats_row. */
EMSCRIPTEN_KEEPALIVE int nnw_embed_stats(nnw_session *s) {
    if (need_embed(s) != NN_OK) return -1;
    uint32_t k = 0;
    nn_embed_history_stats(s->embed, &k);
    float *o = embed_out(s, (size_t)k * NN_EMBED_STATS_ROW_LEN + 1);
    return o ? nn_embed_history_stats_rows(s->embed, o) : -1;
}

/* The map of the n most frequent words on the axes of basis_epoch, for every
 * stored epoch (or, with basis_only, that epoch alone): returns k epochs
 * (-1 on error); data holds epochs (k), xy (k,n,2), effect (k,n), counts
 * (n), then the variance along the two axes and the total variance at the
 * basis epoch (3). */
EMSCRIPTEN_KEEPALIVE int nnw_embed_map(nnw_session *s, uint32_t basis_epoch, uint32_t n, int basis_only) {
    if (need_embed(s) != NN_OK) return -1;
    uint32_t k = 0;
    nn_embed_history_epochs(s->embed, &k);
    if (basis_only) k = 1;
    int fits = n > 0 && n <= nn_trainer_model(s->trainer)->cfg.vocab_size - NN_FIRST_WORD; /* else the engine says so */
    float *o = fits ? embed_out(s, (size_t)k + (size_t)k * n * 3 + n + 3) : NULL;
    return o || !fits ? nn_embed_history_map_floats(s->embed, basis_epoch, n, basis_only, o, &s->err) : -1;
}

/* The k nearest words of word id at a stored epoch by cosine similarity:
 * returns how many (-1 on error); data holds rows of layout neighbours_row. */
EMSCRIPTEN_KEEPALIVE int nnw_embed_neighbours(nnw_session *s, uint32_t epoch, uint32_t id, uint32_t k) {
    if (need_embed(s) != NN_OK) return -1;
    float *o = embed_out(s, NN_NEIGHBOURS_ROW_LEN * (size_t)k + 1);
    return o ? nn_embed_history_neighbour_rows(s->embed, epoch, id, k, o, &s->err) : -1;
}

/* The k words whose effect changed most from epoch `from` to `to` (only
 * words seen fewer than count_below times when count_below > 0): returns
 * how many (-1 on error); data holds rows of layout embed_changes_row. */
EMSCRIPTEN_KEEPALIVE int nnw_embed_changes(nnw_session *s, uint32_t from, uint32_t to, uint32_t count_below, uint32_t k) {
    if (need_embed(s) != NN_OK) return -1;
    float *o = embed_out(s, NN_EMBED_CHANGES_ROW_LEN * (size_t)k + 1);
    return o ? nn_embed_history_change_rows(s->embed, from, to, count_below, k, o, &s->err) : -1;
}

/* Every word's training count and effect at a stored epoch: returns
 * n = V - 4 (the words after the special ids; -1 on error); data holds the
 * empty review's score (1), counts (n), effects (n). */
EMSCRIPTEN_KEEPALIVE int nnw_embed_effects(nnw_session *s, uint32_t epoch) {
    if (need_embed(s) != NN_OK) return -1;
    uint32_t V = nn_trainer_model(s->trainer)->cfg.vocab_size;
    float *o = embed_out(s, 1 + 2 * (size_t)(V - NN_FIRST_WORD));
    return o ? nn_embed_history_word_effects(s->embed, epoch, o, &s->err) : -1;
}

/* The embedding (V,E) at a stored epoch, as the snapshot holds it
 * (dequantised), for the Embedding Projector export; NULL on error. */
EMSCRIPTEN_KEEPALIVE const float *nnw_embed_vectors(nnw_session *s, uint32_t epoch) {
    if (need_embed(s) != NN_OK) return NULL;
    nn_model *view = nn_embed_history_view(s->embed, epoch);
    if (!view) nn_fail(&s->err, NN_ERR_ARG, "epoch %u has no snapshot", epoch);
    return view ? view->emb : NULL;
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
EMSCRIPTEN_KEEPALIVE int nnw_word_id(nnw_session *s, const char *text, size_t n) {
    if (need_shard(s) != NN_OK) return -1;
    first_token f = {{0}, 0, 0};
    nn_tokenize(text, n, take_first, &f);
    if (!f.found) return -1;
    if (f.found > 1) return -3;
    uint32_t id = nn_vocab_lookup(&s->shard.vocab, f.word, f.len);
    uint32_t V = s->trainer ? nn_trainer_model(s->trainer)->cfg.vocab_size : s->shard.vocab.V;
    return id == NN_UNK || id >= V ? -2 : (int)id;
}

/* The word of an id, NUL-terminated. */
EMSCRIPTEN_KEEPALIVE const char *nnw_word(nnw_session *s, uint32_t id) {
    if (need_shard(s) != NN_OK) return NULL;
    if (id >= s->shard.vocab.V) {
        nn_fail(&s->err, NN_ERR_ARG, "word id %u is out of range (%u words)", id, s->shard.vocab.V);
        return NULL;
    }
    size_t len = 0;
    const char *w = nn_vocab_word(&s->shard.vocab, id, &len);
    char *word = malloc(len + 1);
    if (word) {
        memcpy(word, w, len);
        word[len] = 0;
    }
    return session_string(s, word);
}

/* ------------------------------------------------- the comparison run
 *
 * "What would have happened without early stopping": a second trainer with
 * the run's config and patience 0, trained in slices after the run, then
 * evaluated on the test set (nn_run). Same seed, so its epochs up to the
 * stop are the run's own. nnw_full_progress(s): layout "full_progress". */

EMSCRIPTEN_KEEPALIVE int nnw_full_start(nnw_session *s) {
    int rc = need_text_trainer(s);
    if (rc != NN_OK) return rc;
    nn_run_free(&s->full);
    memset(s->full_progress, 0, sizeof s->full_progress);
    nn_config cfg = nn_trainer_model(s->trainer)->cfg;
    cfg.patience = 0;
    nn_trainer *t = NULL;
    if ((rc = nn_trainer_create(&t, &cfg, &s->shard, &s->err)) != NN_OK) return rc;
    lend_threads(s, t);
    /* A pretrained run's twin starts from the same word vectors. */
    if (cfg.embedding_init == NN_EMB_WORD2VEC && (rc = nn_w2v_give(s->w2v, s->w2v_finished, t, &cfg, &s->err))) {
        nn_trainer_free(t);
        return rc;
    }
    nn_run_init(&s->full, t);
    return NN_OK;
}

EMSCRIPTEN_KEEPALIVE int nnw_full_train(nnw_session *s, uint32_t max_batches) {
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

EMSCRIPTEN_KEEPALIVE float *nnw_full_progress(nnw_session *s) { return s->full_progress; }

EMSCRIPTEN_KEEPALIVE const char *nnw_full_history(nnw_session *s) {
    if (!s->full.trainer) {
        nn_fail(&s->err, NN_ERR_STATE, "no comparison run: call nnw_full_start first");
        return NULL;
    }
    uint32_t n = 0;
    const nn_epoch_log *h = nn_trainer_history(s->full.trainer, &n);
    return session_string(s, nn_history_json(h, n));
}

EMSCRIPTEN_KEEPALIVE void nnw_full_free(nnw_session *s) { nn_run_free(&s->full); }

/* ----------------------------------------------------------- diagnosis */

#define DIAG_CURVE_POINTS 256 /* points kept of each curve for the charts */
#define DIAG_BINS 10          /* reliability bins and histogram bars */

static void drop_diagnosis(nnw_session *s) {
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

static int need_diagnosis(nnw_session *s, int summarised) {
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
EMSCRIPTEN_KEEPALIVE int nnw_diagnose_begin(nnw_session *s, const char *split, const float *params,
                                            int words) {
    int rc = need_text_trainer(s);
    if (rc != NN_OK) return rc;
    drop_diagnosis(s);
    int text = !strcmp(split, "text");
    if (!text && strcmp(split, "val") && strcmp(split, "test"))
        return nn_fail(&s->err, NN_ERR_ARG, "cannot diagnose '%.32s': use \"val\", \"test\" or \"text\"", split);
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
    s->diag_split = text ? DIAG_TEXT : split[0] == 'v' ? DIAG_VAL : DIAG_TEST;
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
EMSCRIPTEN_KEEPALIVE int nnw_diagnose_step(nnw_session *s, uint32_t max_batches) {
    if (need_diagnosis(s, 0) != NN_OK) return -NN_ERR_STATE;
    return nn_diagnosis_step(s->diag, s->diag_model, max_batches ? max_batches : 1);
}

/* Reviews in the diagnosed set, and how many are scored so far (the rest
 * of the work is rating words). */
EMSCRIPTEN_KEEPALIVE uint32_t nnw_diagnose_size(nnw_session *s) { return s->diag ? s->diag->n : 0; }
EMSCRIPTEN_KEEPALIVE uint32_t nnw_diagnose_scored(nnw_session *s) { return s->diag ? s->diag->scored : 0; }

/* After the last step: the summary (curves of at most DIAG_CURVE_POINTS
 * points, AUC, AP, log loss, DIAG_BINS bins). NN_ERR_DIVERGED for NaN
 * scores. */
EMSCRIPTEN_KEEPALIVE int nnw_diagnose_finish(nnw_session *s) {
    int rc = need_diagnosis(s, 0);
    if (rc != NN_OK) return rc;
    nn_diagnosis *d = s->diag;
    if (d->summarised) return NN_OK;
    rc = nn_diagnosis_summarise(d, DIAG_CURVE_POINTS, DIAG_BINS, &s->err);
    if (rc != NN_OK) return rc;
    nn_diagnosis_summary_floats(d, s->diag_summary);
    free(s->diag_curves);
    s->diag_curves = malloc(nn_diagnosis_curves_len(d) * sizeof(float) + 1);
    if (!s->diag_curves) {
        d->summarised = 0;
        return nn_fail(&s->err, NN_ERR_NOMEM, "out of memory for the curves");
    }
    nn_diagnosis_curves_floats(d, s->diag_curves);
    return NN_OK;
}

/* Layout "diagnose_summary" of the finished diagnosis (NaN where undefined). */
EMSCRIPTEN_KEEPALIVE float *nnw_diagnose_summary(nnw_session *s) {
    return need_diagnosis(s, 1) == NN_OK ? s->diag_summary : NULL;
}

/* The curves (nn_diagnosis_curves_floats' order). */
EMSCRIPTEN_KEEPALIVE float *nnw_diagnose_curves(nnw_session *s) {
    return need_diagnosis(s, 1) == NN_OK ? s->diag_curves : NULL;
}

/* The scores (n) of the diagnosed reviews, in set order. */
EMSCRIPTEN_KEEPALIVE float *nnw_diagnose_scores(nnw_session *s) {
    return need_diagnosis(s, 1) == NN_OK ? s->diag->score : NULL;
}

/* At threshold: fills nnw_diagnose_at(s) (layout "diagnose_at") and
 * nnw_diagnose_examples(s) with the indices of the false positives, false
 * negatives and uncertain reviews found (k each, in that order). */
EMSCRIPTEN_KEEPALIVE int nnw_diagnose_threshold(nnw_session *s, float threshold, uint32_t k) {
    int rc = need_diagnosis(s, 1);
    if (rc != NN_OK) return rc;
    if (!(threshold >= 0.0f && threshold <= 1.0f) || k > 1000)
        return nn_fail(&s->err, NN_ERR_ARG, "threshold %g must be in [0, 1] and k %u at most 1000",
                       (double)threshold, k);
    if (k > s->diag_k || !s->diag_examples) {
        uint32_t *e = realloc(s->diag_examples, 3 * (size_t)(k ? k : 1) * sizeof *e);
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

EMSCRIPTEN_KEEPALIVE float *nnw_diagnose_at(nnw_session *s) { return s->diag_at; }
EMSCRIPTEN_KEEPALIVE uint32_t *nnw_diagnose_examples(nnw_session *s) { return s->diag_examples; }

/* Review i of the diagnosed set, explained with the diagnosed weights in
 * logit units (nn_review_explain_stored / nn_review_explain_text):
 * {"index", "label", "score", "split", "source" (the review's index in the
 * shard split named by "split"; a labelled text has "line" instead), "rows",
 * "text"}, and the rows in nnw_explain_data (stop words id -1, words beyond
 * maxlen id -2). */
EMSCRIPTEN_KEEPALIVE const char *nnw_diagnose_example(nnw_session *s, uint32_t i) {
    if (need_diagnosis(s, 1) != NN_OK) return NULL;
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
    if (s->diag_split == DIAG_TEXT) {
        text = nn_labelled_text_example(&s->texts, i, &len);
        k = nn_review_explain_text(r, s->diag_model, d, &s->shard.vocab, stop, text, len, 1, &s->err);
    } else {
        uint32_t n;
        const uint32_t *src;
        nn_trainer_set(s->trainer, s->diag_split == DIAG_VAL ? "val" : "test", &n, NULL, &src);
        source = src[i];
        split_name = s->diag_split == DIAG_VAL ? "train" : "test";
        k = nn_review_explain_stored(r, s->diag_model, d, nn_shard_find(&s->shard, split_name), source,
                                     &s->shard.vocab, stop, &s->err);
        text = r->text;
        len = r->len;
    }
    if (k < 0) return NULL;
    const uint32_t *line = s->diag_split == DIAG_TEXT ? &s->texts.line[i] : NULL;
    return session_string(s, nn_diagnose_example_json(d, i, split_name, line, source, k, text, len));
}

/* The k words that push most towards positive (sign 1) or negative (-1),
 * ranked by polarity times training count (by_count 1) or by polarity,
 * leaving out words seen fewer than min_count times in training:
 * [{"word", "id", "polarity", "count"}, ...]. */
EMSCRIPTEN_KEEPALIVE const char *nnw_diagnose_words(nnw_session *s, uint32_t k, int sign, int by_count,
                                                    uint32_t min_count) {
    if (need_diagnosis(s, 1) != NN_OK) return NULL;
    if (s->diag->V == 0) {
        nn_fail(&s->err, NN_ERR_STATE, "this diagnosis did not rate the words: diagnose with words");
        return NULL;
    }
    uint32_t ids[1024];
    size_t n = nn_diagnosis_top_words(s->diag, ids, k > 1024 ? 1024 : k, sign, by_count, min_count);
    return session_string(s, nn_diagnose_words_json(s->diag, &s->shard.vocab, ids, n));
}

/* ------------------------------------------------------ labelled text */

/* Reads label<TAB>text (or CSV) lines from bytes (n; the caller keeps
 * them) in format (0 auto, 1 TSV, 2 CSV) and keeps the examples for
 * nnw_diagnose_begin(s, "text", ...). Malformed lines are not an error: they
 * are listed by nnw_labelled_text_info. */
EMSCRIPTEN_KEEPALIVE int nnw_labelled_text(nnw_session *s, const char *bytes, size_t n, int format) {
    if (s->diag && s->diag_split == DIAG_TEXT) drop_diagnosis(s);
    nn_labelled_text_free(&s->texts);
    return nn_labelled_text_parse(&s->texts, bytes, n, format, &s->err);
}

/* {"examples", "positives", "negatives", "format" ("tsv"/"csv"), "lines",
 * "blank", "header", "malformed", "problems": [{"line", "reason"}, ...]}
 * (problems: the first 100 malformed lines). */
EMSCRIPTEN_KEEPALIVE const char *nnw_labelled_text_info(nnw_session *s) {
    return session_string(s, nn_labelled_text_info_json(&s->texts));
}

/* ---------------------------------------------------------- stop words */

/* {"words": "w1 w2 ...", "count": n, "english": the built-in list}: the
 * words a stop-word setting stands for (engine/stopwords.h), or NULL with
 * the message when the setting is not valid. */
EMSCRIPTEN_KEEPALIVE const char *nnw_stopwords(nnw_session *s, const char *spec) {
    char *words = NULL;
    uint32_t n = 0;
    if (nn_stopwords_expand(spec, &words, &n, &s->err) != NN_OK) return NULL;
    const char *answer = session_string(s, nn_stopwords_json(words, n));
    free(words);
    return answer;
}

/* ------------------------------------------------------------- presets */

/* [{"name", "config"}, ...]: every preset of nn_config_preset, for the
 * page's model menu (so the recipes live in C only). */
EMSCRIPTEN_KEEPALIVE const char *nnw_presets(nnw_session *s) { return session_string(s, nn_presets_json()); }

/* --------------------------------------------------------- pretraining
 *
 * word2vec on the unlabelled reviews (engine/word2vec.h): load the unsup
 * shard (its ids use the loaded shard's vocabulary), then begin and step
 * like training; a config with embedding_init "word2vec" then starts from
 * the vectors. */

static void drop_corpus(nnw_session *s) {
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
EMSCRIPTEN_KEEPALIVE int nnw_load_corpus(nnw_session *s, uint8_t *p, size_t n) {
    int rc = need_shard(s);
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

/* Reviews in the loaded unsup shard (0 when none is loaded). */
EMSCRIPTEN_KEEPALIVE uint32_t nnw_corpus_reviews(nnw_session *s) {
    const nn_split *sp = s->has_corpus ? nn_shard_find(&s->corpus, "unsup") : NULL;
    return sp ? sp->n : 0;
}

/* Starts word2vec with a config JSON over the defaults (vocab_size,
 * embed_dim, seed and the w2v_* keys are used); replaces earlier vectors. */
EMSCRIPTEN_KEEPALIVE int nnw_pretrain_begin(nnw_session *s, const char *json) {
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
EMSCRIPTEN_KEEPALIVE int nnw_pretrain_step(nnw_session *s, uint32_t max_tokens) {
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

EMSCRIPTEN_KEEPALIVE float *nnw_pretrain_progress(nnw_session *s) { return s->w2v_progress; }

/* The k nearest words (cosine) of a word in the session's vectors, as JSON
 * [{"word", "sim"}, ...]; [] for a word outside them. */
EMSCRIPTEN_KEEPALIVE const char *nnw_pretrain_nearest(nnw_session *s, const char *word, size_t n,
                                                      uint32_t k) {
    if (!s->w2v) {
        nn_fail(&s->err, NN_ERR_STATE, "no word vectors yet: pretrain them first");
        return NULL;
    }
    uint32_t V, E, ids[32];
    float sims[32];
    const float *vec = nn_w2v_vectors(s->w2v, &V, &E);
    uint32_t id = nn_vocab_lookup(&s->shard.vocab, word, n);
    uint32_t found = 0;
    if (k > 32) k = 32;
    if (id >= NN_FIRST_WORD && id < V) found = nn_vectors_nearest(vec, V, E, id, k, ids, sims);
    return session_string(s, nn_nearest_json(&s->shard.vocab, ids, sims, found));
}
