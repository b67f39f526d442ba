/* labelled_shard.h: a text shard from the user's own labelled file.
 *
 * The user's "label<TAB>text" or "label,text" file (engine/labelled_text.h,
 * the classes reading: any labels, 2 to NN_MAX_TEXT_CLASSES classes) becomes
 * the same shard format the IMDB reviews use (datasets/README.md, version
 * 2), with the class names kept in it:
 *
 *   vocabulary   built from the "train" split's texts only, with the same
 *                tokenizer (nn_tokenize: non-ASCII words stay whole), ids
 *                sorted by count then bytes as for IMDB;
 *   "train"      every example not held out, in file order (the trainer
 *                shuffles with its seed and carves validation off it with
 *                val_size, as for IMDB);
 *   "test"       a seeded share of each class (test_share), or the examples
 *                of a second file whose labels must be classes of the first;
 *                absent when neither is asked for.
 *
 * Duplicate lines (the same label and text) are left out and counted; a
 * review keeps at most max_tokens ids (the rest cut, counted). review_id is
 * the example's line in its file, so a diagnosis can point back at it.
 * Deliberately not here: reading files (the CLI and the worker do), the
 * validation split (the trainer's val_size), training. */
#ifndef NN_LABELLED_SHARD_H
#define NN_LABELLED_SHARD_H

#include "labelled_text.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nn_labelled_shard_options {
    int format;            /* NN_LT_AUTO, NN_LT_TSV or NN_LT_CSV (both files) */
    uint32_t vocab_size;   /* ids including the 4 special ones, 5..65536; 0: 32768 */
    uint32_t max_tokens;   /* ids kept per text including <START>, 2..2048; 0: 2048 */
    float test_share;      /* 0..0.5: the share of each class held out as "test"
                            * (rounded, at least one example left to train);
                            * must be 0 when a test file is given */
    uint64_t seed;         /* which examples test_share holds out */
} nn_labelled_shard_options;

/* What was read and built, for the user. */
typedef struct nn_labelled_shard_report {
    nn_labelled_text text;       /* the file as read: problems, header, duplicates, classes */
    nn_labelled_text test_text;  /* the test file, when given (else empty) */
    uint32_t classes;            /* K */
    uint32_t train, test;        /* examples in each split */
    uint32_t train_count[NN_MAX_TEXT_CLASSES], test_count[NN_MAX_TEXT_CLASSES];
    uint32_t duplicates;         /* examples left out as repeats (both files) */
    uint32_t test_in_train;      /* test examples whose text is also a training text
                                  * (kept: reported, since they flatter the test score) */
    uint32_t cut;                /* texts cut to max_tokens ids */
    uint32_t V;                  /* vocabulary ids, specials included */
    uint32_t words;              /* distinct words of the training texts */
} nn_labelled_shard_report;

/* Builds the shard from buf[0..len) and, when test_buf is not NULL, a test
 * file test_buf[0..test_len). On NN_OK *out (malloc'd, free it) holds the
 * shard, checked the reader's way. Every refusal is NN_ERR_ARG with a
 * message that says what to fix (nn_labelled_text_check_training, and for a
 * test file: a label that is not a class of the first file); rep is filled
 * as far as reading got either way. Free rep with
 * nn_labelled_shard_report_free. */
int nn_labelled_shard_build(const char *buf, size_t len, const char *test_buf, size_t test_len,
                            const nn_labelled_shard_options *opt, uint8_t **out, size_t *out_len,
                            nn_labelled_shard_report *rep, nn_error *err);
void nn_labelled_shard_report_free(nn_labelled_shard_report *rep);

/* The class of s named name[0..len): the same name, or, in a two-class
 * shard, a binary word of the same side (neg and 0 are one class); -1
 * when none. */
int nn_labelled_shard_class_of(const nn_shard *s, const char *name, size_t len);

/* The default recipe for a user's shard: the "ngram" preset (a bag of word
 * and bigram embeddings with a linear head, NB-weighted; engine/ngram.h),
 * because it is the best recipe we have on long reviews (IMDB) and a bag of
 * n-grams is the standard strong baseline on short texts too (fastText),
 * trains in seconds and has no sequence length to tune. Adapted to the
 * shard: classes from it; validation 20% of "train" (Keras's
 * validation_split=0.2) and early stopping on validation loss (patience 2,
 * best weights restored: a small set overfits in a few epochs, and the
 * epoch count is then chosen on validation, never on test); vocab_size all
 * the shard's ids up to 32,768; maxlen the longest training text (at most
 * 1,024, the preset's), so short texts are not padded to 1,024 slots;
 * bigrams at most the distinct adjacent pairs of the training texts;
 * 20 epochs at most. NN_ERR_ARG when the shard has no "train" split or
 * fewer than 4 examples in it. */
int nn_labelled_shard_recipe(nn_config *c, const nn_shard *s, nn_error *err);

#ifdef __cplusplus
}
#endif
#endif
