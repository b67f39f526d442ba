/* word2vec.h: word vectors learned from unlabelled reviews, to initialise a
 * model's embedding (cfg.embedding_init "word2vec").
 *
 * Skip-gram with negative sampling (Mikolov et al. 2013, "Distributed
 * representations of words and phrases and their compositionality"), with
 * the semantics of the reference word2vec.c: each review is a sentence; ids
 * outside the words of the vocabulary prefix [NN_FIRST_WORD, vocab_size) are
 * dropped (word2vec's min_count); frequent words are subsampled with
 * threshold t (keep probability (sqrt(f/t) + 1) * t/f, f = count / total);
 * each centre word draws a reduced window b in 1..window; each (context,
 * centre) pair is one logistic regression of the context word's input
 * vector against the centre word's output vector and `negative` words drawn
 * from the unigram distribution raised to 3/4 (a table, as in word2vec.c);
 * plain SGD whose rate falls linearly from w2v_lr to w2v_lr * 1e-4 over all
 * w2v_epochs passes. The input vectors are the word vectors.
 *
 * Differences from word2vec.c, all deliberate: reviews are visited in a
 * seeded shuffled order each pass (IMDB ids group reviews of one movie); a
 * PCG32 generator; the exact sigmoid instead of a clipped table; the rate
 * is updated once per review instead of every 10,000 words.
 *
 * Like the trainer it runs in slices (nn_w2v_run), always whole reviews, so
 * the result does not depend on how the work was sliced; a seed fixes it.
 * Shapes use the letters of nn.h: V vocabulary ids, E vector width.
 * Not here: files (the CLI reads the corpus and writes vectors through
 * nn_vectors_write), and the model (nn_trainer_set_embedding copies vectors
 * into it). */
#ifndef NN_WORD2VEC_H
#define NN_WORD2VEC_H
#include "nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Entries of the negative-sampling table: a power of two, so an index is
 * the top bits of one random number. 2^20 entries of 16-bit ids (2 MB)
 * give every word its share to within one entry. */
#define NN_W2V_TABLE_BITS 20
#define NN_W2V_TABLE_SIZE (1u << NN_W2V_TABLE_BITS)

typedef struct nn_w2v nn_w2v;

typedef struct nn_w2v_progress {
    uint64_t tokens_done;  /* corpus words read, over all passes (before subsampling) */
    uint64_t tokens_total; /* w2v_epochs * the corpus words */
    uint32_t epoch;        /* 1-based pass the last review belonged to */
    uint32_t epochs;
    float lr;              /* the learning rate now */
    float loss;            /* mean nn_sgns_step loss per (context, centre) pair (its
                            * negatives included) in this call, measured on every
                            * 8th pair: NaN if none */
    uint64_t loss_pairs;   /* pairs that mean is over */
    uint64_t pairs;        /* (context, centre) pairs trained so far */
    int finished;
} nn_w2v_progress;

/* Counts the words of corpus (a split of reviews whose ids use the model's
 * vocabulary, e.g. "unsup"), builds the negative table and initialises the
 * vectors (input uniform in +-0.5/E, output zero, as word2vec.c) for a
 * cfg.vocab_size x cfg.embed_dim table, from cfg.seed and cfg.w2v_*. The
 * corpus must stay alive while w is used. */
int nn_w2v_create(nn_w2v **out, const nn_config *cfg, const nn_split *corpus, nn_error *err);
void nn_w2v_free(nn_w2v *w);
/* Trains on whole reviews until at least max_tokens corpus words were read
 * in this call (or the last pass ends). NN_ERR_DIVERGED if a vector became
 * NaN or infinite (lower w2v_lr). */
int nn_w2v_run(nn_w2v *w, uint64_t max_tokens, nn_w2v_progress *p, nn_error *err);
/* The word vectors (V,E) (the input vectors), valid while w lives. */
const float *nn_w2v_vectors(const nn_w2v *w, uint32_t *V, uint32_t *E);
/* The config the vectors are being trained with. */
const nn_config *nn_w2v_config(const nn_w2v *w);
/* Whether vectors trained with config w suit a model of config cfg: the
 * same vocab_size, embed_dim, seed and w2v_* settings (NN_ERR_STATE, naming
 * both, when not: pretrain again). */
int nn_w2v_check_config(const nn_config *w, const nn_config *cfg, nn_error *err);
/* Gives trainer t the vectors of w: NN_ERR_STATE when w is NULL or not
 * finished, or was trained with other settings (nn_w2v_check_config). */
int nn_w2v_give(const nn_w2v *w, int finished, nn_trainer *t, const nn_config *cfg, nn_error *err);
/* The number of times each id (V) occurs in the corpus (0 for ids dropped). */
const uint64_t *nn_w2v_counts(const nn_w2v *w);

/* The k ids (>= NN_FIRST_WORD) whose vectors have the highest cosine
 * similarity to vectors[id], best first, into ids and sims; returns how many
 * were found (fewer than k when V is small). For a sanity look at the
 * vectors ("excellent" -> "superb", ...). */
uint32_t nn_vectors_nearest(const float *vectors, uint32_t V, uint32_t E, uint32_t id,
                            uint32_t k, uint32_t *ids, float *sims);

/* ----------------------------------------------------- building blocks */

/* The negative-sampling table (word2vec.c InitUnigramTable): entry a holds
 * the id whose interval of the cumulative distribution p(w) ~ count[w]^power
 * contains (a + 0.5) / n, so every id gets within one entry of n * p(w) and
 * an id with count 0 none. count (V) must not be all zero. */
void nn_w2v_unigram_table(uint16_t *table, uint32_t n, const uint64_t *count, uint32_t V, double power);

/* word2vec.c's subsampling: the probability of keeping a word seen count
 * times among total corpus words, with threshold sample (> 0). */
double nn_w2v_keep_probability(uint64_t count, uint64_t total, double sample);

/* One skip-gram negative-sampling step, word2vec.c's inner loop. v (E) is
 * the input vector of the context word; targets[0] is the centre word
 * (label 1), targets[1..K-1] negatives (label 0); out (V,E) the output
 * vectors. With f_k = v . out[t_k] and g_k = lr * (label_k - sigmoid(f_k)):
 * out[t_k] += g_k * v, then v += sum over k of g_k * out[t_k] (each taken
 * before its own update): one SGD step on the loss
 *     -log sigmoid(f_0) - sum over k >= 1 of log sigmoid(-f_k),
 * whose value before the step goes to *loss unless loss is NULL (its
 * logarithms cost as much as the step). neu (E) is scratch. */
void nn_sgns_step(float *v, float *out, float *neu, const uint32_t *targets, uint32_t K,
                  uint32_t E, float lr, float *loss);

/* ------------------------------------------------------- vectors files
 *
 * A header (48 bytes: magic NN_VECTORS_MAGIC, version, header size, V, E,
 * vocab_crc of the vocabulary the ids belong to, tokenizer version, payload
 * bytes, payload CRC-32, header CRC-32) and the (V,E) float32 vectors. */
#define NN_VECTORS_MAGIC "NNVECS01"
#define NN_VECTORS_VERSION 1

int nn_vectors_write(const float *vectors, uint32_t V, uint32_t E, uint32_t vocab_crc,
                     uint8_t **out, size_t *out_len, nn_error *err);
/* Parses buf (which must stay alive and 4-byte aligned while *vectors is
 * used): *vectors points into it. */
int nn_vectors_read(const uint8_t *buf, size_t len, const float **vectors, uint32_t *V,
                    uint32_t *E, uint32_t *vocab_crc, nn_error *err);

#ifdef __cplusplus
}
#endif
#endif
