/* ngram.h: the "ngram" model, a bag of unigram and bigram embeddings in the
 * spirit of fastText (Joulin et al. 2017, "Bag of Tricks for Efficient Text
 * Classification"), inside the engine's nn_model.
 *
 * A review's features are its real tokens' ids (unigrams, rows 0..V-1 of
 * the table) and, for each two adjacent real tokens (a, b) whose pair is
 * one of the N bigrams the model knows, the row V + j of that bigram j.
 * The features' rows are averaged (over the features the review has: no
 * padding, no unknown bigram), then a linear head gives the logit:
 *
 *   ids (B,T) -> features -> mean of rows of table (V+N,E) -> pooled (B,E)
 *             -> Dense(1) logit (B) -> sigmoid
 *   (K >= 3 classes: Dense(K) logits (B,K) -> softmax; engine/model_head.h)
 *
 * The N bigrams are the N most frequent adjacent pairs of the TRAINING
 * reviews (ties by the smaller key a*65536+b), chosen by the trainer
 * (nn_ngram_build_bigrams); they are stored as the parameter tensor
 * "bigram.ids" (N,2), the ids as floats (exact below 2^24), so a checkpoint
 * carries them with the weights and a loaded model scores text on its own.
 * That tensor is never trained. A row whose pair is (0,0) is unused.
 * Likewise "nb.ratio" (1,V+N), with cfg.nb_weighting: each row's NBSVM
 * log-count ratio, a fixed weight of that feature in the mean.
 *
 * The table is large (V+N rows) and a batch touches few rows, so the
 * optimizer is lazy: only the rows the batch touched are updated (Adam's
 * moments of the other rows do not decay), as TensorFlow Addons' LazyAdam
 * and PyTorch's SparseAdam do; the bias correction uses the global step.
 * The small head takes the ordinary (dense) step. Instead of a second copy
 * of the parameters (nn_model_keep_previous), an update keeps the old
 * values of the rows it changes, so nn_model_undo_update still works.
 *
 * Deliberately not here: the trainer (train.c calls nn_ngram_build_bigrams
 * once its training set is padded), the config keys (config.c).
 */
#ifndef NN_NGRAM_H
#define NN_NGRAM_H

#include "nn.h"

/* The model's own state beside its parameters. Features of review b are
 * feat[start[b] .. start[b+1]). */
typedef struct nn_ngram {
    uint32_t V, N, E, rows;  /* rows = V + N */
    uint32_t T, Bmax;
    uint32_t t_bigrams, t_nb;  /* indices of the tensors "bigram.ids", "nb.ratio" (when present) */
    uint32_t fmax;           /* features one review can have: 2T - 1 */
    /* the bigram index (open addressing, linear probing) */
    uint32_t *keys;          /* (N) a*65536+b of bigram j, 0 for an unused row */
    uint32_t *slots;         /* (nslots,2) key and j, key 0 when empty (one cache line per probe) */
    uint32_t nslots;         /* a power of two, at least 2N */
    int index_ready;         /* keys/slots match the "bigram.ids" tensor */
    uint32_t index_gen;      /* counts the index's rebuilds (a feature cache names the one it used) */
    /* the batch */
    uint32_t *feat;          /* (Bmax*fmax) row ids */
    uint32_t *start;         /* (Bmax+1) */
    /* rows touched since the last zero_grad, for the lazy update */
    uint32_t *touched;       /* (ntouched) */
    uint32_t ntouched;
    int touched_zeroed;      /* the last update zeroed the touched rows' gradients */
    uint32_t *mark;          /* (rows) == stamp when touched */
    uint32_t stamp;
    /* the undo log of the last update */
    float *undo;             /* (O*(E+1) + ntouched*E): the head, then old rows */
    size_t undo_cap;         /* floats */
    uint32_t nundo;          /* rows in the log */
    int undo_valid;
    /* explain's scratch */
    float *share;            /* (T) each position's share of the logit */
    uint32_t *pos;           /* (fmax) the position of each feature */
} nn_ngram;

/* The key of a bigram (a, b): both ids are real tokens (1..65535). */
static inline uint32_t nn_ngram_key(uint32_t a, uint32_t b) { return (a << 16) | b; }

/* ------------------------------------------------------------- the layer */

/* Features of one padded review ids (T): for each real (non-<PAD>) token in
 * order, its unigram id, then, if the token before it was real too, the
 * row V + j of bigram (previous, this) when j is a known bigram. Writes at
 * most 2T-1 row ids to feat; returns how many. pos (may be NULL) gets, for
 * each feature, the position in ids of its (last) token. */
uint32_t nn_ngram_features(uint32_t *feat, uint32_t *pos, const uint16_t *ids, uint32_t T,
                           const nn_ngram *ng);

/* Mean of table rows: out (B,E) row b = mean of weight[feat[k]] *
 * table[feat[k]] for k in [start[b], start[b+1]) (zeros when a review has
 * no features); weight (rows) NULL means 1. */
void nn_bag_mean_forward(float *out, const uint32_t *feat, const uint32_t *start, const float *table,
                         const float *weight, uint32_t B, uint32_t E);
/* dtable += weight[row] * dout[b] / count_b at each of review b's rows. */
void nn_bag_mean_backward(float *dtable, const float *dout, const uint32_t *feat, const uint32_t *start,
                          const float *weight, uint32_t B, uint32_t E);

/* ------------------------------------------------ the model (model.c calls) */

/* Adds the tensors ("embedding" (V+N,E), "dense.w" (O,E), "dense.b" (1,O),
 * "bigram.ids" (N,2) when N > 0), allocates the parameters and the state. */
int nn_ngram_create(nn_model *m);
void nn_ngram_free(nn_model *m);
void nn_ngram_point_views(nn_model *m);
/* Embedding uniform +-0.05 (Keras's Embedding), head Glorot uniform, bias 0;
 * the bigram table is kept (init never forgets the chosen bigrams). */
void nn_ngram_init(nn_model *m, nn_rng *rng);
void nn_ngram_forward(nn_model *m, const uint16_t *ids, uint32_t B);
float nn_ngram_forward_backward(nn_model *m, const uint16_t *ids, const float *labels, uint32_t B,
                                uint32_t *correct);
void nn_ngram_zero_grad(nn_model *m);
int nn_ngram_update(nn_model *m);
int nn_ngram_undo_update(nn_model *m);
/* Score and per-token contributions of an encoded review (see
 * nn_model_explain): contributions are the logit's linear shares, a
 * unigram's to its word, a bigram's half to each of its two words, scaled
 * so they add up to score - sigmoid(bias) (the score of a review with no
 * features): contrib[i] = share_i * (p - p0) / (z - b), or share_i *
 * p0 (1 - p0) when z - b is within 1e-6 of 0. Toward class cls: the score
 * is P(cls); with K classes z is the logit of cls minus the mean logit
 * (nn_model_explain_class). */
float nn_ngram_explain(nn_model *m, const uint32_t *ids, size_t n, uint32_t cls, float *contrib);

/* The bigram index is built from "bigram.ids" by the first pass that needs
 * it (so a model read from a checkpoint indexes what it read) and then
 * kept: a caller that writes a DIFFERENT bigram table into the parameters
 * of a model that has already run calls this (O(N): it compares the table
 * with the index and rebuilds the index when they differ). Copying in the
 * weights of a model trained with the same config on the same shard needs
 * nothing: its bigrams are the same. */
void nn_ngram_reindex(nn_model *m);

/* The trainer's step: the N most frequent adjacent pairs of real tokens in
 * the padded training reviews ids (n,T), written to "bigram.ids" (most
 * frequent first, ties by the smaller key), and the index built; with
 * cfg.nb_weighting, the NB log-count ratio of every row from labels (n)
 * into "nb.ratio" (NBSVM, Wang & Manning 2012): each feature's row is
 * scaled by it in the mean, so words that tell the classes apart weigh
 * more from the start, as NBSVM's scaled features do. */
int nn_ngram_build_bigrams(nn_model *m, const uint16_t *ids, const float *labels, uint32_t n, uint32_t T,
                           nn_error *err);

/* ------------------------------------------------------- the feature cache
 * The trainer's training reviews do not change, nor (while it trains) the
 * bigram index, so each review's features are built once and reused every
 * epoch: review r's are feat[start[r] .. start[r+1]). A batch of cached
 * reviews gives the same features in the same order as its padded ids
 * would, so the sums, and every figure after them, are bit for bit the
 * same. The cache names the index it was built with (index_gen): after a
 * rebuild of the index (nn_ngram_reindex with different bigrams) it is not
 * used and the features are built from the ids again. The budget counts
 * at most 2 len - 1 features for a review of len real tokens (budget.c). */
typedef struct nn_ngram_cache {
    uint32_t n;
    uint32_t gen;            /* ng->index_gen when built */
    uint32_t *start;         /* (n+1) */
    uint32_t *feat;          /* (start[n]) */
} nn_ngram_cache;

/* Builds the features of the padded reviews ids (n,T) (the index first
 * when it is not ready). Returns 0 when out of memory (c is then empty). */
int nn_ngram_cache_build(nn_ngram_cache *c, nn_model *m, const uint16_t *ids, uint32_t n, uint32_t T);
void nn_ngram_cache_free(nn_ngram_cache *c);
/* nn_ngram_build_bigrams, and the cache of the same reviews built (into
 * cache, when not NULL) once the bigrams are chosen, the NB ratios then
 * counted from it (the same features, so the same ratios). */
int nn_ngram_build_bigrams_cached(nn_model *m, const uint16_t *ids, const float *labels, uint32_t n,
                                  uint32_t T, nn_ngram_cache *cache, nn_error *err);
/* nn_ngram_forward of the reviews rows (B) of the set the cache was built
 * from (rows NULL: first .. first+B-1), whose padded ids are ids (n,T)
 * (read only when the cache is stale). */
void nn_ngram_forward_rows(nn_model *m, const nn_ngram_cache *c, const uint16_t *ids, const uint32_t *rows,
                           uint32_t first, uint32_t B);
/* nn_ngram_forward_backward of the reviews rows (B) of the set the cache
 * was built from, whose padded ids are ids (n,T) (used when the cache is
 * stale); labels (B) are the batch's, in the order of rows. */
float nn_ngram_forward_backward_rows(nn_model *m, const nn_ngram_cache *c, const uint16_t *ids,
                                     const uint32_t *rows, const float *labels, uint32_t B,
                                     uint32_t *correct);

#endif
