/* stopwords.h: the stop-word filter, a preprocessing option.
 *
 * Stop words are frequent words thought to carry little meaning ("the",
 * "of", "and"). With a stop list, every review loses those words before it is
 * padded for training (engine/train.c) and every typed or uploaded text
 * loses them before it is scored, through the same functions here, so the
 * model never sees them and native and browser runs remove exactly the same
 * ids. Whether removing them helps is for the user to find out: the built-in
 * English list (NLTK's) also holds "not", "no", "nor" and "don't", which
 * carry a lot of sentiment.
 *
 * The setting (nn_config.stopwords, at most NN_STOPWORDS_SPEC_MAX - 1
 * bytes) is a list of items separated by spaces, commas or newlines, read
 * left to right:
 *   @english   adds the built-in English list (nn_stopwords_english());
 *   word       adds the word (as the tokenizer sees it: "Don't" is "don't";
 *              an item such as "e.g." adds each of its tokens);
 *   +word      the same;
 *   -word      removes a word added earlier ("@english -not -no -nor").
 * "" is no filter. Words outside the vocabulary are accepted and never
 * match (such a word is <UNK>, and <UNK> is never removed).
 *
 * Filtering works on vocabulary ids of the shard (before vocab_size turns
 * rare ids into <UNK>), so a stop word is removed whether or not the model's
 * vocabulary keeps it. Deliberately not here: stemming, case or accent
 * folding beyond the tokenizer's, per-language lists.
 */
#ifndef NN_STOPWORDS_H
#define NN_STOPWORDS_H

#include "nn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nn_stopwords {
    uint32_t V;      /* ids the bitmap covers: the vocabulary's V */
    uint8_t *bits;   /* ((V+7)/8) bit id is set when id is a stop word; NULL: no filter */
    uint32_t nwords; /* words in the expanded list */
    uint32_t nids;   /* of them, words the vocabulary has */
} nn_stopwords;

/* The built-in English list, NLTK's (Bird, Klein and Loper, "Natural
 * Language Processing with Python"), 179 words separated by spaces. */
const char *nn_stopwords_english(void);

/* NN_OK, or NN_ERR_ARG naming the item that is wrong (an unknown @list, an
 * item without a word, a spec of NN_STOPWORDS_SPEC_MAX bytes or more). */
int nn_stopwords_check(const char *spec, nn_error *err);

/* The words spec stands for, in order, each once, separated by single
 * spaces, as a malloc'd string (*out; "" for an empty spec); *nwords gets
 * their number (may be NULL). */
int nn_stopwords_expand(const char *spec, char **out, uint32_t *nwords, nn_error *err);

/* Builds the filter of spec against vocabulary v (whose index is built).
 * An empty spec gives a filter that removes nothing (bits NULL). Free with
 * nn_stopwords_free. */
int nn_stopwords_build(nn_stopwords *s, const char *spec, const nn_vocab *v, nn_error *err);
void nn_stopwords_free(nn_stopwords *s);

/* 1 when id is a stop word of s (s may be NULL: no filter). */
static inline int nn_is_stopword(const nn_stopwords *s, uint32_t id) {
    return s && s->bits && id < s->V && ((s->bits[id >> 3] >> (id & 7)) & 1);
}

/* Copies ids (n) to out without the stop words; returns how many were kept.
 * out may be ids (in place). */
size_t nn_stopwords_filter(const nn_stopwords *s, uint16_t *out, const uint16_t *ids, size_t n);

/* The id a token of the tokenizer gets: NN_STOPPED when it is a stop word of
 * s, else its vocabulary id, NN_UNK when v lacks it or (num_words > 0) when
 * its id is >= num_words: nn_encode_text's rule with the filter first. */
#define NN_STOPPED UINT32_MAX
uint32_t nn_token_id(const nn_vocab *v, const nn_stopwords *s, const char *tok, size_t len,
                     uint32_t num_words);

/* nn_encode_text without the stop words of s: NN_START, then the id of each
 * token that is not a stop word. Writes at most cap ids; returns the number
 * the whole text has. s may be NULL (then it is nn_encode_text). */
size_t nn_encode_text_stop(const nn_vocab *v, const nn_stopwords *s, const char *text, size_t len,
                           uint32_t num_words, uint32_t *ids, size_t cap);


#ifdef __cplusplus
}
#endif
#endif
