/* short_sets.h: the short-review sets (issue 13), natively. Every IMDB test
 * review cut to its first N tokens, or to its first sentence, keeping its
 * label; a model's logits on them, and a temperature fitted on validation.
 *
 * The shard keeps no punctuation, so where the first sentence ends is read
 * from the archive's raw text at run time (the archive or its extracted
 * folder, engine/cli/archive.h); only a token count per review is kept, and
 * nothing built from the archive is written anywhere.
 *
 * Not here: the metrics themselves (engine/metrics.h), the model. */
#ifndef NN_SHORT_SETS_H
#define NN_SHORT_SETS_H
#include "nn.h"
#include "../stopwords.h"

/* Bytes of text[0..n) up to the end of its first sentence: the first run of
 * '.', '!' or '?' (with the closing quotes or brackets right after it) that is
 * followed by white space, "<br" or the end, or the first HTML line break
 * "<br", whichever comes first, once the sentence holds a token. A '.' after
 * a single letter (an initial: "J. Smith") or after Mr, Mrs, Ms, Dr, St, Jr,
 * Sr, Vs or Mt does not end it. n when no boundary is found. */
size_t nn_first_sentence_len(const char *text, size_t n);

/* For each review of the shard's test split, how many tokens its first
 * sentence has (nn_first_sentence_len, tokenized by nn_tokenize), read from
 * source (aclImdb_v1.tar.gz or the extracted folder). words (test->n).
 * Checks that the archive's test reviews are the shard's (the same number,
 * and each the same number of tokens as stored); NN_ERR_FORMAT says to
 * rebuild the shard when they are not. */
int nn_first_sentence_words(const char *source, const nn_split *test, uint32_t *words, nn_error *err);

/* logit (sp->n): m's logits for every review of sp cut to its first
 * cut[i] tokens after <START> (cut NULL: to `words` tokens each; both NULL
 * and 0 words: whole). With stop words, cut[i] counts the raw tokens (the
 * sentence is cut, then its stop words go), while `words` counts the kept
 * ones (the stop words go first, as imdb_train --short always did).
 * *mean_words (if not NULL): the mean number of ids read per review after
 * <START>, before maxlen. NN_ERR_NOMEM only. */
int nn_short_logits(nn_model *m, const nn_split *sp, const nn_stopwords *stop, const uint32_t *cut,
                    uint32_t words, float *logit, double *mean_words, nn_error *err);

/* out: the reviews source[0..n) of split sp copied into a split of their
 * own (the validation reviews, from nn_trainer_set's source indices), so
 * they can be cut like the test set. Free with nn_short_split_free. */
int nn_short_subset(nn_split *out, const nn_split *sp, const uint32_t *source, uint32_t n, nn_error *err);
void nn_short_split_free(nn_split *s);

typedef struct nn_short_metrics {
    double accuracy, auc, log_loss; /* the model's own scores */
    double log_loss_t;              /* the same logits divided by a temperature */
} nn_short_metrics;

/* Accuracy (logit > 0), ROC AUC and log loss of logit (n) against sp's
 * labels, and the log loss after dividing by temperature T. NN_ERR_NOMEM only. */
int nn_short_metrics_of(nn_short_metrics *out, const float *logit, const nn_split *sp, double T,
                        nn_error *err);
#endif
