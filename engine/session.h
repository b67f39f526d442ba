/* session.h: what the page holds of the engine, as one object.
 *
 * A session holds one dataset (a text shard, or an image shard), the trainer
 * made from it and everything derived from that trainer (the imported
 * history, the embedding snapshots, the comparison run, a diagnosis), the
 * labelled text the user brought, and word2vec on the unlabelled reviews.
 * Its functions keep those consistent: loading a dataset drops the trainer
 * and what hangs off it, a new trainer drops the old one's diagnosis and
 * comparison run, and so on. It also owns the arrays the wasm boundary hands
 * out (progress and results, in the layouts of result_layouts.h) and the
 * last string answer.
 *
 * engine/wasm_api.c marshals every nnw_ export to one of these; native
 * tests drive a session directly (tests/test_session.c). Functions that
 * can fail return a status (or -1, or NULL) with the message in s->err.
 * Not here: file I/O, clocks and threads (the caller lends them: par,
 * clock_ms), JSON text (answers.h).
 */
#ifndef NN_SESSION_H
#define NN_SESSION_H

#include "attention_view.h"
#include "diagnosis.h"
#include "labelled_text.h"
#include "nn.h"
#include "result_layouts.h"
#include "review_text.h"
#include "temperature.h"
#include "word2vec.h"

#define NN_SESSION_EMBED_BUDGET ((size_t)64 << 20) /* bytes of embedding snapshots per run */
#define NN_SESSION_DIAG_POINTS 256 /* points kept of each diagnosis curve for the charts */
#define NN_SESSION_DIAG_BINS 10    /* reliability bins and histogram bars */
enum { NN_DIAG_VAL, NN_DIAG_TEST, NN_DIAG_TEXT };

typedef struct nn_session {
    nn_error err;             /* the last failure */
    uint8_t *shard_buf;       /* the shard's bytes; nn_shard (or images) points into them */
    size_t shard_len;         /* their length (nnw_shard_bytes: the page keeps a built shard) */
    nn_shard shard;
    int has_shard;            /* a text shard is loaded (nnw_load_shard) */
    uint8_t *test_buf;        /* the bytes of a test split attached later (nn_session_attach_test);
                               * shard.split[] points into them */
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
    nn_temperature temp;      /* the review box's temperatures (nnw_temperature_*), of the trainer's model */
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
    float *start_params;      /* the trainer's weights before its first step when they came from a
                               * pretrained encoder (nnw_mlm_give): the comparison run starts from
                               * them too (NULL: none; freed with the trainer) */
    float full_progress[NN_FULL_PROGRESS_LEN];
    /* the diagnosis (nnw_diagnose_*), of the trainer's model */
    nn_diagnosis *diag;
    int diag_split;           /* NN_DIAG_VAL, NN_DIAG_TEST or NN_DIAG_TEXT */
    nn_model *diag_model;     /* the weights it diagnoses (nn_diagnosis_model) */
    float diag_summary[NN_DIAGNOSE_SUMMARY_LEN];
    float *diag_curves;       /* see nnw_diagnose_curves */
    float diag_at[NN_DIAGNOSE_AT_LEN];
    uint32_t *diag_examples;  /* (3 k) */
    uint32_t diag_k;
    nn_labelled_text texts;   /* the last labelled text (nnw_labelled_text) */
    char *labelled_report;    /* JSON: what the last nnw_build_labelled_shard read (NULL: none) */
    nn_attention_view attention; /* the last typed review's attention (nnw_attention*) */
    nn_parallel par;          /* threads lent to every model the session makes (none: zero) */
    void *owner;              /* the caller's (the wasm boundary keeps its thread pool here) */
    double (*clock_ms)(void); /* times the embedding recordings; NULL: not timed */
    /* word2vec (section "pretraining" below) */
    uint8_t *corpus_buf;      /* the unsup shard's bytes; corpus points into them */
    nn_shard corpus;
    int has_corpus;
    nn_w2v *w2v;              /* the word vectors being trained, or trained */
    int w2v_finished;
    float w2v_progress[NN_PRETRAIN_PROGRESS_LEN];
    struct nn_session_mlm *mlm; /* masked-language-model pretraining (session_mlm.h), or NULL */
} nn_session;

nn_session *nn_session_create(void);
void nn_session_free(nn_session *s);
/* Makes text (malloc'd, or NULL: out of memory) the session's current
 * string answer (valid until the next); NULL sets NN_ERR_NOMEM. */
const char *nn_session_answer(nn_session *s, char *text);
/* NN_OK, or NN_ERR_STATE saying what to do first. */
int nn_session_need_shard(nn_session *s);
int nn_session_need_trainer(nn_session *s);
int nn_session_need_text_trainer(nn_session *s);
int nn_session_need_image_trainer(nn_session *s);
int nn_session_need_embed(nn_session *s);
int nn_session_need_diagnosis(nn_session *s, int summarised);

/* Data. Each load takes ownership of p (malloc'd) even on failure and
 * replaces the dataset, the trainer and what hangs off them. */
int nn_session_load_shard(nn_session *s, uint8_t *p, size_t n);
int nn_session_load_image_shard(nn_session *s, uint8_t *p, size_t n);
/* The static site sends the test reviews as a shard of their own (a "test"
 * split, no vocabulary, the loaded shard's vocab_crc) after the rest, so the
 * page can train before they arrive. expect_test says n test reviews are to
 * come to a loaded shard without a "test" split: trainers made from then on
 * count them in their budget and wait for them (nn_trainer_attach_test).
 * attach_test takes ownership of p (even on failure), checks it against the
 * loaded shard (vocabulary, classes, ids, the count expected) and adds its
 * split to the shard and to the trainers waiting for it (the model's and the
 * comparison run's). test_pending: 1 while they are still to come. */
int nn_session_expect_test(nn_session *s, uint32_t n);
int nn_session_attach_test(nn_session *s, uint8_t *p, size_t n);
int nn_session_test_pending(const nn_session *s);
/* Split `split` of the image shard when image i is in it, else NULL (message set). */
const nn_image_split *nn_session_image_split(nn_session *s, const char *split, uint32_t i);
/* Refuses n images at p that start inside a loaded split's pixels but not
 * at an image's start, or run past its end (other memory: only p != NULL). */
int nn_session_check_pixels(nn_session *s, const uint8_t *p, uint32_t n);

/* Training: a new trainer from a config JSON over the defaults (with
 * embedding_init "word2vec", the session's finished vectors of the same
 * settings); slices of training (progress in s->progress); evaluation (the
 * result in s->eval_result), whole or in slices (step: 1 done, 0 more,
 * -status). */
int nn_session_configure(nn_session *s, const char *json);
int nn_session_train(nn_session *s, uint32_t max_batches);
int nn_session_evaluate(nn_session *s, const char *split);
int nn_session_evaluate_begin(nn_session *s, const char *split);
int nn_session_evaluate_step(nn_session *s, uint32_t max_batches);
/* The trainer's history, or before its first epoch the imported checkpoint's. */
const nn_epoch_log *nn_session_history(nn_session *s, uint32_t *n);
/* The checkpoint bytes (the session's until the next export; length in
 * s->ckpt_len), or NULL. */
uint8_t *nn_session_checkpoint_export(nn_session *s);
/* A trainer from checkpoint bytes p (ownership taken) against the loaded data. */
int nn_session_checkpoint_import(nn_session *s, uint8_t *p, size_t n);
/* A checkpoint file of len bytes checked from its first n at p (the header
 * alone, or the header and its JSON): NN_OK when what is given would be
 * imported, as far as it tells (nn_checkpoint_read_head, then
 * nn_trainer_checkpoint_fits with the loaded data: the trainer's budget).
 * The worker calls it before copying the whole file in. */
int nn_session_checkpoint_check(nn_session *s, const uint8_t *p, size_t n, size_t len);

/* Embedding snapshots: the word groups, and the bulk answer buffer (at least
 * n floats; NULL: out of memory, message set). */
int nn_session_embed_groups(nn_session *s, uint32_t rare_below, uint32_t frequent_from);
float *nn_session_embed_out(nn_session *s, size_t n);
/* The id of the one word in text (tokenized like reviews): an id the model
 * has, -1 no word, -2 not in the model's vocabulary, -3 several words. */
int nn_session_word_id(nn_session *s, const char *text, size_t n);

/* The comparison run without early stopping (nn_run; progress in
 * s->full_progress, layout full_progress). */
int nn_session_full_start(nn_session *s);
int nn_session_full_train(nn_session *s, uint32_t max_batches);

/* The diagnosis of "val", "test" or "text" with the weights at params (or
 * the model's; copied into a model of its own), stepped in slices (1 done, 0
 * more, -status), summarised, recounted at a threshold; one example
 * explained as JSON (the rows in s->review). */
int nn_session_diagnose_begin(nn_session *s, const char *split, const float *params, int words);
int nn_session_diagnose_step(nn_session *s, uint32_t max_batches);
int nn_session_diagnose_finish(nn_session *s);
int nn_session_diagnose_threshold(nn_session *s, float threshold, uint32_t k);
const char *nn_session_diagnose_example(nn_session *s, uint32_t i);
/* Labelled text (bytes kept by the caller) for diagnose "text". */
int nn_session_labelled_text(nn_session *s, const char *bytes, size_t n, int format);
/* The user's labelled file (and test file, test may be NULL; bytes kept by
 * the caller) built into a shard (engine/labelled_shard.h) that replaces
 * the dataset, as nn_session_load_shard does. What was read, as JSON, in
 * s->labelled_report either way (a refusal lists the lines too). */
int nn_session_build_labelled_shard(nn_session *s, const char *bytes, size_t n, const char *test,
                                    size_t test_n, int format, float test_share, uint32_t seed);

/* word2vec: the unlabelled reviews (p owned; vocabulary of the loaded
 * shard), a start from a config JSON, slices (progress in s->w2v_progress). */
int nn_session_load_corpus(nn_session *s, uint8_t *p, size_t n);
int nn_session_pretrain_begin(nn_session *s, const char *json);
int nn_session_pretrain_step(nn_session *s, uint32_t max_tokens);

#endif
