/* review_text.h: a review as the page shows it, one row per word.
 *
 * A stored review (ids in a shard split) is decoded back to text like the
 * Keras tutorial's decode_review: its words joined by spaces, <UNK> for ids
 * the model's vocabulary lacks, <START> and padding left out. A review (typed
 * or decoded) is explained as rows of NN_EXPLAIN_ROW_LEN floats
 * (result_layouts.h): the word's byte span [start, end) in the text, its
 * contribution to the score, and the id the model read for it (-1: a stop
 * word the model never sees; -2: cut by maxlen, nn_review_mark_cut).
 *
 * Used by the wasm boundary (nnw_review, nnw_explain, nnw_diagnose_example)
 * and testable natively (tests/test_review_text.c). Not here: tokenizing
 * rules (tokenizer.c), the padding rule (model.c, nn_padded_position),
 * the contributions themselves (nn_model_explain, nn_diagnosis_explain).
 */
#ifndef NN_REVIEW_TEXT_H
#define NN_REVIEW_TEXT_H

#include "diagnosis.h"
#include "nn.h"
#include "stopwords.h"

typedef struct nn_review_text {
    char *text;          /* the decoded review, NUL-terminated (nn_review_decode*) */
    size_t len, text_cap;
    float *rows;         /* (k, NN_EXPLAIN_ROW_LEN); room for k + 1 rows */
    size_t k, rows_cap;
    float score;         /* the explained review's probability of class cls */
    uint32_t cls;        /* 1 (positive) for two classes; K classes: the top class,
                          * which the score and the contributions are about */
    uint32_t judgeable;  /* the explained review's words that carry meaning (nn_review_judgeable) */
} nn_review_text;

void nn_review_text_free(nn_review_text *r);

/* Review i of split sp decoded into r->text with the words of v, ids >= V
 * as <UNK> (V: the model's vocab_size, at most v->V). Refuses (NN_ERR_ARG)
 * an i outside the split. */
int nn_review_decode(nn_review_text *r, const nn_split *sp, uint32_t i, const nn_vocab *v, uint32_t V,
                     nn_error *err);

/* text[0..n) tokenized as the model reads it (stop words of stop removed),
 * scored by m and explained: r->k rows, r->score. Contributions are
 * differences of probabilities (nn_model_explain), or of logits when
 * logits_of is given (nn_diagnosis_explain, which does not vanish on
 * saturated scores). With mark_cut, words beyond maxlen get id -2. Returns
 * k, or -1 with the message in err. */
int nn_review_explain_text(nn_review_text *r, nn_model *m, nn_diagnosis *logits_of, const nn_vocab *v,
                           const nn_stopwords *stop, const char *text, size_t n, int mark_cut, nn_error *err);

/* Review i of split sp decoded (as nn_review_decode with the model's
 * vocabulary, a word that is not valid UTF-8 shown as one U+FFFD so the
 * spans index the text the page shows), stop words included as rows with id
 * -1, scored and explained like nn_review_explain_text with mark_cut.
 * Returns k, or -1 with the message in err. */
int nn_review_explain_stored(nn_review_text *r, nn_model *m, nn_diagnosis *logits_of, const nn_split *sp,
                             uint32_t i, const nn_vocab *v, const nn_stopwords *stop, nn_error *err);

/* Whether the model can judge text[0..n) at all (issue 13): the number of
 * its words that are in the model's vocabulary (an id from NN_FIRST_WORD up
 * to num_words, so not <UNK>) and outside the stop words, both the model's
 * (stop, may be NULL) and the built-in English list (nn_stopwords_english():
 * "the", "of", "and" tell nothing about a review even when the model reads
 * them). 0: the score says only what the model thinks of an empty review,
 * and the page says it cannot judge the text. nn_review_explain_text and
 * nn_review_explain_stored set r->judgeable the same way. */
size_t nn_review_judgeable(const nn_vocab *v, const nn_stopwords *stop, const char *text, size_t n,
                           uint32_t num_words);

/* Marks with id -2 the rows (k) of words the model does not read once the
 * review's nids ids (<START> included; stop-word rows, id < 0, are not ids)
 * are truncated to cfg.maxlen: model.c's padding rule (nn_padded_position). */
void nn_review_mark_cut(float *rows, size_t k, size_t nids, const nn_config *cfg);

#endif
