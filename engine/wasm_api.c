/* wasm_api.c: the engine's one WebAssembly boundary.
 *
 * The exports web/worker/worker.js calls, exactly those listed in web/PROTOCOL.md,
 * all prefixed nnw_. Only numbers and pointers cross: text goes in as UTF-8
 * bytes the worker writes into memory it got from nnw_alloc, and comes out as
 * a NUL-terminated string or a float array owned by the session, valid until
 * the next call on that session. Float arrays have the named layouts of
 * engine/result_layouts.h; JSON answers (engine/answers.c) are small.
 *
 * Exports and marshalling only: the state and what it does live in the
 * engine's session (engine/session.h), which native tests drive too. This is
 * the only file that includes <emscripten.h>; there are no C globals but the
 * two static JSON strings of nnw_layouts and nnw_config_schema.
 */
#include "answers.h"
#include "labelled_shard.h" /* nnw_labelled_shard_recipe */
#include "metrics.h"        /* nnw_one_vs_rest */
#include "session.h"
#include "session_mlm.h"

#include <emscripten.h>
#ifdef NNW_THREADS
#include "threads.h" /* the two-thread build, engine-mt.js (CMakeLists.txt) */
#endif

#include <stdlib.h>
#include <string.h>

#define NNW_VERSION "nnw 1"
#define NNW_STR(x) #x
#define NNW_XSTR(x) NNW_STR(x)

typedef nn_session nnw_session;

/* ------------------------------------------------------------- session */

static double now_ms(void) { return emscripten_get_now(); }

EMSCRIPTEN_KEEPALIVE nnw_session *nnw_session_create(void) {
    nnw_session *s = nn_session_create();
    if (!s) return NULL;
    s->clock_ms = now_ms;
#ifdef NNW_THREADS
    s->owner = nn_threads_create(NNW_THREADS); /* NULL (one thread) if they cannot start */
    s->par = nn_threads_parallel(s->owner);
#endif
    return s;
}

/* Threads working for the session's models: 1, or NNW_THREADS in engine-mt. */
EMSCRIPTEN_KEEPALIVE uint32_t nnw_threads(nnw_session *s) {
#ifdef NNW_THREADS
    return s->owner ? NNW_THREADS : 1;
#else
    (void)s;
    return 1;
#endif
}

EMSCRIPTEN_KEEPALIVE void nnw_session_free(nnw_session *s) {
#ifdef NNW_THREADS
    void *pool = s ? s->owner : NULL;
    nn_session_free(s); /* its models first: they hold the threads */
    nn_threads_free(pool);
#else
    nn_session_free(s);
#endif
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

/* The config table (engine/config.c FIELDS) as JSON, for the page's
 * settings (nn_config_schema_json). Static, like nnw_layouts. */
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

EMSCRIPTEN_KEEPALIVE int nnw_load_shard(nnw_session *s, uint8_t *p, size_t n) { return nn_session_load_shard(s, p, n); }

/* The static site's test reviews, a shard of their own that arrives after
 * the rest (session.h, nn_session_expect_test): expect n of them (right
 * after nnw_load_shard), attach them when downloaded (p owned, as for
 * nnw_load_shard), and whether they are still to come (1) or not (0). */
EMSCRIPTEN_KEEPALIVE int nnw_expect_test(nnw_session *s, uint32_t n) { return nn_session_expect_test(s, n); }
EMSCRIPTEN_KEEPALIVE int nnw_attach_test(nnw_session *s, uint8_t *p, size_t n) { return nn_session_attach_test(s, p, n); }
EMSCRIPTEN_KEEPALIVE int nnw_test_pending(nnw_session *s) { return nn_session_test_pending(s); }

EMSCRIPTEN_KEEPALIVE const char *nnw_shard_info(nnw_session *s) {
    return nn_session_need_shard(s) == NN_OK ? nn_session_answer(s, nn_shard_info_json(&s->shard)) : NULL;
}

/* -------------------------------------------------------- image shard
 *
 * The second kind of dataset: an image shard (engine/image_shard.c,
 * datasets/README.md), e.g. data/fashion.shard, for model "mlp". A session
 * holds one dataset: loading either kind drops the other and its trainer.
 * nnw_configure, nnw_train, nnw_progress, nnw_evaluate*, nnw_batch_log,
 * nnw_history and nnw_params then work as for text. */

EMSCRIPTEN_KEEPALIVE int nnw_load_image_shard(nnw_session *s, uint8_t *p, size_t n) {
    return nn_session_load_image_shard(s, p, n);
}

/* {"height", "width", "channels", "classes", "class_names": [..], "version",
 *  "splits": {"train": n, "test": n}} */
EMSCRIPTEN_KEEPALIVE const char *nnw_image_info(nnw_session *s) {
    if (!s->has_images) {
        nn_fail(&s->err, NN_ERR_STATE, "no image shard is loaded: load fashion.shard first");
        return NULL;
    }
    return nn_session_answer(s, nn_image_info_json(&s->images));
}

EMSCRIPTEN_KEEPALIVE const uint8_t *nnw_image(nnw_session *s, const char *split, uint32_t i) {
    const nn_image_split *sp = nn_session_image_split(s, split, i);
    return sp ? sp->pixels + (size_t)i * nn_image_shard_pixels(&s->images) : NULL;
}

/* The label of image i, or -1 (message in nnw_error). */
EMSCRIPTEN_KEEPALIVE int nnw_image_label(nnw_session *s, const char *split, uint32_t i) {
    const nn_image_split *sp = nn_session_image_split(s, split, i);
    return sp ? sp->label[i] : -1;
}

/* The model's class probabilities for one image of D pixels (0-255) at p
 * (the caller's memory, e.g. from nnw_alloc, or nnw_image): returns the most
 * likely class, or -1 on error; the K probabilities are in
 * nnw_predict_probs(s) until the next call. Allowed while training. */
EMSCRIPTEN_KEEPALIVE int nnw_predict_image(nnw_session *s, const uint8_t *p) {
    if (nn_session_need_image_trainer(s) != NN_OK || nn_session_check_pixels(s, p, 1) != NN_OK) return -1;
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
    if (nn_session_need_image_trainer(s) != NN_OK || nn_session_check_pixels(s, p, n) != NN_OK) return -1;
    if (n && !classes) {
        nn_fail(&s->err, NN_ERR_ARG, "no room for the classes: pass n uint32s from nnw_alloc");
        return -1;
    }
    nn_model_predict_images(nn_trainer_model(s->trainer), p, n, classes);
    return (int)n;
}

/* -------------------------------------------------------------- config */

EMSCRIPTEN_KEEPALIVE int nnw_configure(nnw_session *s, const char *json) { return nn_session_configure(s, json); }

EMSCRIPTEN_KEEPALIVE const char *nnw_config(nnw_session *s) {
    if (nn_session_need_trainer(s) != NN_OK) return NULL;
    return nn_session_answer(s, nn_config_to_json(&nn_trainer_model(s->trainer)->cfg));
}

/* ------------------------------------------------------------ training */

EMSCRIPTEN_KEEPALIVE int nnw_train(nnw_session *s, uint32_t max_batches) { return nn_session_train(s, max_batches); }

EMSCRIPTEN_KEEPALIVE float *nnw_progress(nnw_session *s) { return s->progress; }

/* (loss, acc) of the last finished nnw_evaluate / nnw_evaluate_step. */
EMSCRIPTEN_KEEPALIVE float *nnw_eval_result(nnw_session *s) { return s->eval_result; }

EMSCRIPTEN_KEEPALIVE int nnw_evaluate(nnw_session *s, const char *split) { return nn_session_evaluate(s, split); }

EMSCRIPTEN_KEEPALIVE int nnw_evaluate_begin(nnw_session *s, const char *split) {
    return nn_session_evaluate_begin(s, split);
}

EMSCRIPTEN_KEEPALIVE int nnw_evaluate_step(nnw_session *s, uint32_t max_batches) {
    return nn_session_evaluate_step(s, max_batches);
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
    const nn_epoch_log *h = nn_session_history(s, &n);
    return nn_session_answer(s, nn_history_json(h, n));
}

/* ---------------------------------------------------------- prediction */

EMSCRIPTEN_KEEPALIVE float nnw_score(nnw_session *s, const char *text, size_t n) {
    if (nn_session_need_text_trainer(s) != NN_OK) return -1.0f;
    return nn_model_score_text(nn_trainer_model(s->trainer), &s->shard.vocab,
                               nn_trainer_stopwords(s->trainer), text, n);
}

/* K, the classes of the configured model (2 for the sigmoid text models),
 * or 0 without one. */
EMSCRIPTEN_KEEPALIVE uint32_t nnw_model_classes(nnw_session *s) {
    return s->trainer ? nn_model_classes(nn_trainer_model(s->trainer)) : 0;
}

/* A K-class text model: the class probabilities of text (K of them, class
 * order) into nnw_predict_probs(s); returns the top class, or -1 with the
 * message set. K == 2: {1 - p, p}, p what nnw_score gives. */
EMSCRIPTEN_KEEPALIVE int nnw_score_classes(nnw_session *s, const char *text, size_t n) {
    if (nn_session_need_text_trainer(s) != NN_OK) return -1;
    return (int)nn_model_score_text_classes(nn_trainer_model(s->trainer), &s->shard.vocab,
                                            nn_trainer_stopwords(s->trainer), text, n, s->probs);
}

/* One class against the rest for each of a K-class model's classes
 * (metrics.h nn_one_vs_rest_class), from scores the worker gathered: prob
 * (n,K) and label (n), the caller's memory (nnw_alloc). Writes K rows of
 * layout one_vs_rest_row into rows and each class's ROC curve, `points`
 * false-positive rates then `points` true-positive rates (roc_len of them
 * used), into curves (K * 2 * points floats); both the caller's. Returns 0,
 * or -1 with the message. */
EMSCRIPTEN_KEEPALIVE int nnw_one_vs_rest(nnw_session *s, const float *prob, const uint8_t *label, uint32_t n,
                                         uint32_t K, uint32_t points, float *rows, float *curves) {
    if (K < 2 || K > NN_MAX_TEXT_CLASSES || points < 2 || points > 10000 || !rows || !curves ||
        (n && (!prob || !label))) {
        nn_fail(&s->err, NN_ERR_ARG, "one vs rest: K %u (2-%d), points %u (2-10000), and the arrays",
                K, NN_MAX_TEXT_CLASSES, points);
        return -1;
    }
    for (uint32_t c = 0; c < K; c++) {
        nn_one_vs_rest o;
        float *fpr = curves + (size_t)c * 2 * points, *tpr = fpr + points;
        if (nn_one_vs_rest_class(&o, fpr, tpr, points, prob, label, n, K, c) != NN_OK) {
            nn_fail(&s->err, NN_ERR_NOMEM, "out of memory ranking %u texts for one vs rest", n);
            return -1;
        }
        float *r = rows + (size_t)c * NN_ONE_VS_REST_ROW_LEN;
        r[NN_ONE_VS_REST_ROW_AUC] = (float)o.auc;
        r[NN_ONE_VS_REST_ROW_AP] = (float)o.ap;
        r[NN_ONE_VS_REST_ROW_POSITIVES] = (float)o.positives;
        r[NN_ONE_VS_REST_ROW_ROC_LEN] = (float)o.roc_len;
    }
    return 0;
}

/* Scores text and fills k rows (layout explain_row), one per token, in the
 * order of the text; returns k, or -1 with the message set. */
EMSCRIPTEN_KEEPALIVE int nnw_explain(nnw_session *s, const char *text, size_t n) {
    if (nn_session_need_text_trainer(s) != NN_OK) return -1;
    return nn_review_explain_text(&s->review, nn_trainer_model(s->trainer), NULL, &s->shard.vocab,
                                  nn_trainer_stopwords(s->trainer), text, n, 0, &s->err);
}

EMSCRIPTEN_KEEPALIVE float *nnw_explain_data(nnw_session *s) { return s->review.rows; }
EMSCRIPTEN_KEEPALIVE float nnw_explain_score(nnw_session *s) { return s->review.score; }
/* The attention view (engine/attention_view.h): scores text with a
 * "transformer" model and keeps every block's attention probabilities over
 * the window of its W positions; returns W, or -1 with the message set.
 * nnw_attention_data: (blocks, heads, W, W) floats; nnw_attention_tokens:
 * W rows (layout attention_token_row). */
EMSCRIPTEN_KEEPALIVE int nnw_attention(nnw_session *s, const char *text, size_t n) {
    if (nn_session_need_text_trainer(s) != NN_OK) return -1;
    return nn_attention_view_text(&s->attention, nn_trainer_model(s->trainer), &s->shard.vocab,
                                  nn_trainer_stopwords(s->trainer), text, n, &s->err);
}
EMSCRIPTEN_KEEPALIVE float *nnw_attention_data(nnw_session *s) { return s->attention.att; }
EMSCRIPTEN_KEEPALIVE float *nnw_attention_tokens(nnw_session *s) { return s->attention.tokens; }
EMSCRIPTEN_KEEPALIVE uint32_t nnw_attention_blocks(nnw_session *s) { return s->attention.L; }
EMSCRIPTEN_KEEPALIVE uint32_t nnw_attention_heads(nnw_session *s) { return s->attention.NH; }
EMSCRIPTEN_KEEPALIVE float nnw_attention_score(nnw_session *s) { return s->attention.score; }

/* The last explained text's words that carry meaning (nn_review_judgeable):
 * 0 means the model cannot judge it. */
EMSCRIPTEN_KEEPALIVE uint32_t nnw_explain_judgeable(nnw_session *s) { return s->review.judgeable; }

/* The review box's temperatures (engine/temperature.h), fitted on the
 * validation reviews in slices: begin (0, or -1 with the message), step (1
 * done, 0 more), the fitted values (0 before a fit), clear (after the
 * weights were replaced), and a score divided by the one that suits a text
 * of `words` words read. */
EMSCRIPTEN_KEEPALIVE int nnw_temperature_begin(nnw_session *s) {
    if (nn_session_need_text_trainer(s) != NN_OK) return -1;
    return nn_temperature_begin(&s->temp, s->trainer, &s->shard, &s->err) == NN_OK ? 0 : -1;
}
EMSCRIPTEN_KEEPALIVE int nnw_temperature_step(nnw_session *s, uint32_t max_batches) {
    if (nn_session_need_text_trainer(s) != NN_OK) return -1;
    return nn_temperature_step(&s->temp, s->trainer, &s->shard, max_batches);
}
EMSCRIPTEN_KEEPALIVE float nnw_temperature(nnw_session *s) { return s->temp.T; }
EMSCRIPTEN_KEEPALIVE float nnw_temperature_short(nnw_session *s) { return s->temp.T_short; }
EMSCRIPTEN_KEEPALIVE void nnw_temperature_clear(nnw_session *s) { nn_temperature_free(&s->temp); }
EMSCRIPTEN_KEEPALIVE float nnw_temperature_for(nnw_session *s, uint32_t words) {
    return nn_temperature_for(&s->temp, words);
}
EMSCRIPTEN_KEEPALIVE int nnw_temperature_is_short(nnw_session *s, uint32_t words) {
    (void)s;
    return nn_temperature_is_short(words);
}
EMSCRIPTEN_KEEPALIVE float nnw_calibrate(nnw_session *s, float score, uint32_t words) {
    return nn_temperature_apply(&s->temp, score, words);
}

/* nn_review_judgeable of text with the model's vocabulary and stop words, or -1. */
EMSCRIPTEN_KEEPALIVE int nnw_judgeable(nnw_session *s, const char *text, size_t n) {
    if (nn_session_need_text_trainer(s) != NN_OK) return -1;
    return (int)nn_review_judgeable(&s->shard.vocab, nn_trainer_stopwords(s->trainer), text, n,
                                    nn_trainer_model(s->trainer)->cfg.vocab_size);
}
/* The class the last nnw_explain's score and contributions are about: 1
 * (positive) for two classes, the top class for K. */
EMSCRIPTEN_KEEPALIVE uint32_t nnw_explain_class(nnw_session *s) { return s->review.cls; }

/* Review i of a split, decoded like the Keras tutorial's decode_review
 * (nn_review_decode): words joined by spaces, <UNK> for ids the model's
 * vocabulary lacks, <START> left out. */
EMSCRIPTEN_KEEPALIVE const char *nnw_review(nnw_session *s, const char *split, uint32_t i) {
    if (nn_session_need_shard(s) != NN_OK) return NULL;
    const nn_split *sp = nn_shard_find(&s->shard, split);
    if (!sp) {
        nn_fail(&s->err, NN_ERR_ARG, "the shard has no split '%.32s'", split);
        return NULL;
    }
    uint32_t V = s->trainer ? nn_trainer_model(s->trainer)->cfg.vocab_size : s->shard.vocab.V;
    if (nn_review_decode(&s->review, sp, i, &s->shard.vocab, V, &s->err) != NN_OK) return NULL;
    return nn_session_answer(s, nn_review_json(sp, i, s->review.text, s->review.len));
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

EMSCRIPTEN_KEEPALIVE uint8_t *nnw_checkpoint_export(nnw_session *s) { return nn_session_checkpoint_export(s); }

EMSCRIPTEN_KEEPALIVE size_t nnw_checkpoint_len(nnw_session *s) { return s->ckpt ? s->ckpt_len : 0; }

EMSCRIPTEN_KEEPALIVE int nnw_checkpoint_import(nnw_session *s, uint8_t *p, size_t n) {
    return nn_session_checkpoint_import(s, p, n);
}

/* The first n bytes of a checkpoint file of len bytes (its 32-byte header,
 * then header and JSON): refused as nnw_checkpoint_import would refuse the
 * whole file, before the worker copies it in. */
EMSCRIPTEN_KEEPALIVE int nnw_checkpoint_check(nnw_session *s, const uint8_t *p, size_t n, size_t len) {
    return nn_session_checkpoint_check(s, p, n, len);
}

/* ------------------------------------------------------------ embeddings
 *
 * What the model learned about words: an embedding snapshot at the end of
 * every epoch (engine/embedding_stats.c), recorded by a trainer epoch hook,
 * and the computations the page shows on them. Bulk answers are floats in
 * one session-owned buffer, nnw_embed_data(s), valid until the next call. */

EMSCRIPTEN_KEEPALIVE float *nnw_embed_data(nnw_session *s) { return s->embed_out; }

/* {"epochs": [stored], "recorded", "bytes_per_snapshot", "snapshot_bytes",
 *  "other_bytes", "budget", "last_ms", "vocab_size", "embed_dim",
 *  "rare_below", "frequent_from", "error"} */
EMSCRIPTEN_KEEPALIVE const char *nnw_embed_info(nnw_session *s) {
    if (nn_session_need_trainer(s) != NN_OK) return NULL;
    return nn_session_answer(s, nn_embed_info_json(s->embed, &nn_trainer_model(s->trainer)->cfg,
                                                NN_SESSION_EMBED_BUDGET,
                                                s->embed_ms, s->embed_rare_below, s->embed_frequent_from,
                                                s->embed_err.msg));
}

EMSCRIPTEN_KEEPALIVE int nnw_embed_groups(nnw_session *s, uint32_t rare_below, uint32_t frequent_from) {
    return nn_session_embed_groups(s, rare_below, frequent_from);
}

/* Statistics of every recorded epoch: returns k (-1 on error); data holds k
 * rows of layout embed_stats_row. */
EMSCRIPTEN_KEEPALIVE int nnw_embed_stats(nnw_session *s) {
    if (nn_session_need_embed(s) != NN_OK) return -1;
    uint32_t k = 0;
    nn_embed_history_stats(s->embed, &k);
    float *o = nn_session_embed_out(s, (size_t)k * NN_EMBED_STATS_ROW_LEN + 1);
    return o ? nn_embed_history_stats_rows(s->embed, o) : -1;
}

/* The map of the n most frequent words on the axes of basis_epoch, for every
 * stored epoch (or, with basis_only, that epoch alone): returns k epochs
 * (-1 on error); data holds epochs (k), xy (k,n,2), effect (k,n), counts
 * (n), then the variance along the two axes and the total variance at the
 * basis epoch (3). */
EMSCRIPTEN_KEEPALIVE int nnw_embed_map(nnw_session *s, uint32_t basis_epoch, uint32_t n, int basis_only) {
    if (nn_session_need_embed(s) != NN_OK) return -1;
    uint32_t k = 0;
    nn_embed_history_epochs(s->embed, &k);
    if (basis_only) k = 1;
    int fits = n > 0 && n <= nn_trainer_model(s->trainer)->cfg.vocab_size - NN_FIRST_WORD; /* else the engine says so */
    float *o = fits ? nn_session_embed_out(s, (size_t)k + (size_t)k * n * 3 + n + 3) : NULL;
    return o || !fits ? nn_embed_history_map_floats(s->embed, basis_epoch, n, basis_only, o, &s->err) : -1;
}

/* The k nearest words of word id at a stored epoch by cosine similarity:
 * returns how many (-1 on error); data holds rows of layout neighbours_row. */
EMSCRIPTEN_KEEPALIVE int nnw_embed_neighbours(nnw_session *s, uint32_t epoch, uint32_t id, uint32_t k) {
    if (nn_session_need_embed(s) != NN_OK) return -1;
    float *o = nn_session_embed_out(s, NN_NEIGHBOURS_ROW_LEN * (size_t)k + 1);
    return o ? nn_embed_history_neighbour_rows(s->embed, epoch, id, k, o, &s->err) : -1;
}

/* The k words whose effect changed most from epoch `from` to `to` (only
 * words seen fewer than count_below times when count_below > 0): returns
 * how many (-1 on error); data holds rows of layout embed_changes_row. */
EMSCRIPTEN_KEEPALIVE int nnw_embed_changes(nnw_session *s, uint32_t from, uint32_t to, uint32_t count_below,
                                           uint32_t k) {
    if (nn_session_need_embed(s) != NN_OK) return -1;
    float *o = nn_session_embed_out(s, NN_EMBED_CHANGES_ROW_LEN * (size_t)k + 1);
    return o ? nn_embed_history_change_rows(s->embed, from, to, count_below, k, o, &s->err) : -1;
}

/* Every word's training count and effect at a stored epoch: returns
 * n = V - 4 (the words after the special ids; -1 on error); data holds the
 * empty review's score (1), counts (n), effects (n). */
EMSCRIPTEN_KEEPALIVE int nnw_embed_effects(nnw_session *s, uint32_t epoch) {
    if (nn_session_need_embed(s) != NN_OK) return -1;
    uint32_t V = nn_trainer_model(s->trainer)->cfg.vocab_size;
    float *o = nn_session_embed_out(s, 1 + 2 * (size_t)(V - NN_FIRST_WORD));
    return o ? nn_embed_history_word_effects(s->embed, epoch, o, &s->err) : -1;
}

/* The embedding (V,E) at a stored epoch, as the snapshot holds it
 * (dequantised), for the Embedding Projector export; NULL on error. */
EMSCRIPTEN_KEEPALIVE const float *nnw_embed_vectors(nnw_session *s, uint32_t epoch) {
    if (nn_session_need_embed(s) != NN_OK) return NULL;
    nn_model *view = nn_embed_history_view(s->embed, epoch);
    if (!view) nn_fail(&s->err, NN_ERR_ARG, "epoch %u has no snapshot", epoch);
    return view ? view->emb : NULL;
}

EMSCRIPTEN_KEEPALIVE int nnw_word_id(nnw_session *s, const char *text, size_t n) {
    return nn_session_word_id(s, text, n);
}

/* The word of an id, NUL-terminated. */
EMSCRIPTEN_KEEPALIVE const char *nnw_word(nnw_session *s, uint32_t id) {
    if (nn_session_need_shard(s) != NN_OK) return NULL;
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
    return nn_session_answer(s, word);
}

/* ------------------------------------------------- the comparison run
 *
 * "What would have happened without early stopping": a second trainer with
 * the run's config and patience 0, trained in slices after the run, then
 * evaluated on the test set (nn_run). Same seed, so its epochs up to the
 * stop are the run's own. nnw_full_progress(s): layout "full_progress". */

EMSCRIPTEN_KEEPALIVE int nnw_full_start(nnw_session *s) { return nn_session_full_start(s); }

EMSCRIPTEN_KEEPALIVE int nnw_full_train(nnw_session *s, uint32_t max_batches) {
    return nn_session_full_train(s, max_batches);
}

EMSCRIPTEN_KEEPALIVE float *nnw_full_progress(nnw_session *s) { return s->full_progress; }

EMSCRIPTEN_KEEPALIVE const char *nnw_full_history(nnw_session *s) {
    if (!s->full.trainer) {
        nn_fail(&s->err, NN_ERR_STATE, "no comparison run: call nnw_full_start first");
        return NULL;
    }
    uint32_t n = 0;
    const nn_epoch_log *h = nn_trainer_history(s->full.trainer, &n);
    return nn_session_answer(s, nn_history_json(h, n));
}

EMSCRIPTEN_KEEPALIVE void nnw_full_free(nnw_session *s) { nn_run_free(&s->full); }

/* ----------------------------------------------------------- diagnosis */

EMSCRIPTEN_KEEPALIVE int nnw_diagnose_begin(nnw_session *s, const char *split, const float *params, int words) {
    return nn_session_diagnose_begin(s, split, params, words);
}

EMSCRIPTEN_KEEPALIVE int nnw_diagnose_step(nnw_session *s, uint32_t max_batches) {
    return nn_session_diagnose_step(s, max_batches);
}

/* Reviews in the diagnosed set, and how many are scored so far (the rest
 * of the work is rating words). */
EMSCRIPTEN_KEEPALIVE uint32_t nnw_diagnose_size(nnw_session *s) { return s->diag ? s->diag->n : 0; }
EMSCRIPTEN_KEEPALIVE uint32_t nnw_diagnose_scored(nnw_session *s) { return s->diag ? s->diag->scored : 0; }

EMSCRIPTEN_KEEPALIVE int nnw_diagnose_finish(nnw_session *s) { return nn_session_diagnose_finish(s); }

/* Layout "diagnose_summary" of the finished diagnosis (NaN where undefined). */
EMSCRIPTEN_KEEPALIVE float *nnw_diagnose_summary(nnw_session *s) {
    return nn_session_need_diagnosis(s, 1) == NN_OK ? s->diag_summary : NULL;
}

/* The curves (nn_diagnosis_curves_floats' order). */
EMSCRIPTEN_KEEPALIVE float *nnw_diagnose_curves(nnw_session *s) {
    return nn_session_need_diagnosis(s, 1) == NN_OK ? s->diag_curves : NULL;
}

/* The scores (n) of the diagnosed reviews, in set order. */
EMSCRIPTEN_KEEPALIVE float *nnw_diagnose_scores(nnw_session *s) {
    return nn_session_need_diagnosis(s, 1) == NN_OK ? s->diag->score : NULL;
}

EMSCRIPTEN_KEEPALIVE int nnw_diagnose_threshold(nnw_session *s, float threshold, uint32_t k) {
    return nn_session_diagnose_threshold(s, threshold, k);
}

EMSCRIPTEN_KEEPALIVE float *nnw_diagnose_at(nnw_session *s) { return s->diag_at; }
EMSCRIPTEN_KEEPALIVE uint32_t *nnw_diagnose_examples(nnw_session *s) { return s->diag_examples; }

EMSCRIPTEN_KEEPALIVE const char *nnw_diagnose_example(nnw_session *s, uint32_t i) {
    return nn_session_diagnose_example(s, i);
}

/* The k words that push most towards positive (sign 1) or negative (-1),
 * ranked by polarity times training count (by_count 1) or by polarity,
 * leaving out words seen fewer than min_count times in training:
 * [{"word", "id", "polarity", "count"}, ...]. */
EMSCRIPTEN_KEEPALIVE const char *nnw_diagnose_words(nnw_session *s, uint32_t k, int sign, int by_count,
                                                    uint32_t min_count) {
    if (nn_session_need_diagnosis(s, 1) != NN_OK) return NULL;
    if (s->diag->V == 0) {
        nn_fail(&s->err, NN_ERR_STATE, "this diagnosis did not rate the words: diagnose with words");
        return NULL;
    }
    uint32_t ids[1024];
    size_t n = nn_diagnosis_top_words(s->diag, ids, k > 1024 ? 1024 : k, sign, by_count, min_count);
    return nn_session_answer(s, nn_diagnose_words_json(s->diag, &s->shard.vocab, ids, n));
}

/* ------------------------------------------------------ labelled text */

EMSCRIPTEN_KEEPALIVE int nnw_labelled_text(nnw_session *s, const char *bytes, size_t n, int format) {
    return nn_session_labelled_text(s, bytes, n, format);
}

/* {"examples", "positives", "negatives", "format" ("tsv"/"csv"), "lines",
 * "blank", "header", "malformed", "problems": [{"line", "reason"}, ...]}
 * (problems: the first 100 malformed lines). */
/* The user's labelled file (and a test file: test_n 0 for none) built into
 * a shard that replaces the session's dataset, as nnw_load_shard does
 * (engine/labelled_shard.h); bytes stay the caller's. nnw_labelled_shard_info
 * says what was read, also after a refusal; nnw_shard_bytes/len give the
 * built shard's bytes for the page to keep (IndexedDB). */
EMSCRIPTEN_KEEPALIVE int nnw_build_labelled_shard(nnw_session *s, const char *bytes, size_t n, const char *test,
                                                  size_t test_n, int format, float test_share, uint32_t seed) {
    return nn_session_build_labelled_shard(s, bytes, n, test_n ? test : NULL, test_n, format, test_share, seed);
}

/* The default recipe for a user's shard (nn_labelled_shard_recipe: the
 * ngram preset fitted to the loaded shard's classes, size and longest text)
 * as config JSON, or NULL with the message set (no shard, under 4 texts). */
EMSCRIPTEN_KEEPALIVE const char *nnw_labelled_shard_recipe(nnw_session *s) {
    if (nn_session_need_shard(s) != NN_OK) return NULL;
    nn_config c;
    if (nn_labelled_shard_recipe(&c, &s->shard, &s->err) != NN_OK) return NULL;
    return nn_session_answer(s, nn_config_to_json(&c));
}

EMSCRIPTEN_KEEPALIVE const char *nnw_labelled_shard_info(nnw_session *s) {
    if (!s->labelled_report) {
        nn_fail(&s->err, NN_ERR_STATE, "no labelled file was built: call nnw_build_labelled_shard first");
        return NULL;
    }
    return s->labelled_report;
}

EMSCRIPTEN_KEEPALIVE const uint8_t *nnw_shard_bytes(nnw_session *s) {
    return nn_session_need_shard(s) == NN_OK ? s->shard_buf : NULL;
}

EMSCRIPTEN_KEEPALIVE uint32_t nnw_shard_len(nnw_session *s) { return s->has_shard ? (uint32_t)s->shard_len : 0; }

EMSCRIPTEN_KEEPALIVE const char *nnw_labelled_text_info(nnw_session *s) {
    return nn_session_answer(s, nn_labelled_text_info_json(&s->texts));
}

/* ---------------------------------------------------------- stop words */

/* {"words": "w1 w2 ...", "count": n, "english": the built-in list}: the
 * words a stop-word setting stands for (engine/stopwords.h), or NULL with
 * the message when the setting is not valid. */
EMSCRIPTEN_KEEPALIVE const char *nnw_stopwords(nnw_session *s, const char *spec) {
    char *words = NULL;
    uint32_t n = 0;
    if (nn_stopwords_expand(spec, &words, &n, &s->err) != NN_OK) return NULL;
    const char *answer = nn_session_answer(s, nn_stopwords_json(words, n));
    free(words);
    return answer;
}

/* ------------------------------------------------------------- presets */

/* [{"name", "config"}, ...]: every preset of nn_config_preset, for the
 * page's model menu (so the recipes live in C only). */
EMSCRIPTEN_KEEPALIVE const char *nnw_presets(nnw_session *s) { return nn_session_answer(s, nn_presets_json()); }

/* --------------------------------------------------------- pretraining
 *
 * word2vec on the unlabelled reviews (engine/word2vec.h): load the unsup
 * shard (its ids use the loaded shard's vocabulary), then begin and step
 * like training; a config with embedding_init "word2vec" then starts from
 * the vectors. */

EMSCRIPTEN_KEEPALIVE int nnw_load_corpus(nnw_session *s, uint8_t *p, size_t n) {
    return nn_session_load_corpus(s, p, n);
}

/* Reviews in the loaded unsup shard (0 when none is loaded). */
EMSCRIPTEN_KEEPALIVE uint32_t nnw_corpus_reviews(nnw_session *s) {
    const nn_split *sp = s->has_corpus ? nn_shard_find(&s->corpus, "unsup") : NULL;
    return sp ? sp->n : 0;
}

EMSCRIPTEN_KEEPALIVE int nnw_pretrain_begin(nnw_session *s, const char *json) {
    return nn_session_pretrain_begin(s, json);
}

EMSCRIPTEN_KEEPALIVE int nnw_pretrain_step(nnw_session *s, uint32_t max_tokens) {
    return nn_session_pretrain_step(s, max_tokens);
}

EMSCRIPTEN_KEEPALIVE float *nnw_pretrain_progress(nnw_session *s) { return s->w2v_progress; }

/* ------------------------------------ masked-language-model pretraining
 *
 * The Transformer encoder pretrained as a masked-language model (engine/
 * mlm.h, session_mlm.h) on the shard's "train" reviews and the corpus's
 * "unsup" reviews (load both first), sliced like word2vec: begin, step
 * whole batches (progress: layout "mlm_progress"); stopping is not
 * stepping any more (the encoder so far stays usable). Fill in the blank
 * from the encoder as it is; export it as a checkpoint file, or import
 * one instead of pretraining; give it to a configured transformer
 * (preset transformer-pretrained) before that trains. */

EMSCRIPTEN_KEEPALIVE int nnw_mlm_begin(nnw_session *s, const char *json, uint32_t passes, uint32_t per_pass) {
    return nn_session_mlm_begin(s, json, passes, per_pass);
}

EMSCRIPTEN_KEEPALIVE int nnw_mlm_step(nnw_session *s, uint32_t max_batches) {
    return nn_session_mlm_step(s, max_batches);
}

EMSCRIPTEN_KEEPALIVE float *nnw_mlm_progress(nnw_session *s) { return nn_session_mlm_progress(s); }

/* JSON [{"word", "p"}, ...]: the k likeliest words at the text's first [MASK]. */
EMSCRIPTEN_KEEPALIVE const char *nnw_mlm_fill(nnw_session *s, const char *text, size_t n, uint32_t k) {
    return nn_session_mlm_fill(s, text, n, k);
}

/* The encoder as a checkpoint file (NULL: see nnw_error); its length: nnw_mlm_export_len. */
EMSCRIPTEN_KEEPALIVE uint8_t *nnw_mlm_export(nnw_session *s) { return nn_session_mlm_export(s); }
EMSCRIPTEN_KEEPALIVE size_t nnw_mlm_export_len(nnw_session *s) { return nn_session_mlm_export_len(s); }

EMSCRIPTEN_KEEPALIVE int nnw_mlm_import(nnw_session *s, uint8_t *p, size_t n) {
    return nn_session_mlm_import(s, p, n);
}

EMSCRIPTEN_KEEPALIVE int nnw_mlm_give(nnw_session *s) { return nn_session_mlm_give(s); }

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
    return nn_session_answer(s, nn_nearest_json(&s->shard.vocab, ids, sims, found));
}
