/* mlm.h: masked-language-model pretraining of the Transformer encoder
 * (BERT, Devlin et al. 2019, section 3.1 "Task #1: Masked LM"), on a model
 * of kind "transformer" (transformer.h), through nn_transformer_tokens.
 *
 * Masking (nn_mlm_mask): of each review's real tokens (every id but
 * NN_PAD and NN_START; NN_UNK is a word like the others), round(15%) (at
 * least 1, BERT's create_pretraining_data.py) positions are chosen at
 * random; each is replaced by NN_MASK (id 3, the shard's reserved id) with
 * probability 0.8, by a random word id in [NN_FIRST_WORD, V) with 0.1, and
 * kept with 0.1; the original id is the target. Drawn from one generator in
 * the calling thread, row by row, before the chunks run: the same bits for
 * any thread count.
 *
 * The head: the final layer norm's output h (E) at a target position gives
 * logits h . wte^T over the whole vocabulary, the token embedding tied as
 * the output matrix (BERT ties them; no extra parameters, so the encoder's
 * checkpoint is all a fine-tuning run and fill-in-the-blank need), softmax,
 * cross-entropy against the original id, averaged over the batch's targets.
 * No output bias and no extra transform layer (BERT has both): the final
 * layer norm's bias dotted with wte can carry the words' frequencies.
 *
 * Full softmax, not sampled: a target costs E x V multiply-adds forward and
 * twice that backward (V 10,000, E 32: about 1 M), against about 10 M for
 * the whole encoder of a 170-token review forward and backward; a review
 * has about 25 targets, so the head costs about 2.5 encoders. It is done as
 * three blocked matrix products over groups of NN_MLM_GROUP targets.
 * Measured (tests/bench/mlm_bench.c, one thread, tutorial-transformer's
 * model, 23.8 targets a review): the MLM training pass 6.26 ms of CPU a
 * review, the classifier's 1.57 ms, so the head is 75% of pretraining; a
 * pass over the 75,000 reviews is 470 s of CPU (about 4 min on two free
 * cores; the README has what this loaded machine gave).
 * A sampled softmax (Jean et al. 2015) would cut the head to a few per cent
 * of that, but its gradient is biased without the log-Q correction, its
 * loss and accuracy are not the full softmax's (the figures the page
 * shows), and fill-in-the-blank needs the full distribution anyway; the
 * full one is exact and simple, and within the 5-minute pass on two cores
 * by its CPU time. A sampled head is the way to a pass 3-4 times faster.
 *
 * Not here: reading shards and the pass over reviews (the CLI's
 * imdb_pretrain and the page's slicer drive nn_mlm_train_batch), files
 * (an encoder is a checkpoint of its nn_model). */
#ifndef NN_MLM_H
#define NN_MLM_H
#include "nn.h"
#include "transformer.h"

/* The [MASK] token: the shard's reserved id (nn.h's NN_UNUSED). */
#define NN_MASK NN_UNUSED
/* Targets are processed in groups of this many (the head's scratch). */
#define NN_MLM_GROUP 32
/* BERT's masking rates, in per cent. */
#define NN_MLM_MASK_PERCENT 15

typedef struct nn_mlm nn_mlm;

/* Scratch for masking and the head of a transformer model m (m->Bmax rows,
 * m->cfg.maxlen tokens); m must outlive it. */
int nn_mlm_create(nn_mlm **out, nn_model *m, nn_error *err);
void nn_mlm_free(nn_mlm *mm);

/* Masks ids (B,T) (padded rows, ids < V) into input (B,T) and target (B,T)
 * (the original id at a chosen position, 0 elsewhere); returns the number
 * of targets. */
uint32_t nn_mlm_mask(uint16_t *input, uint16_t *target, const uint16_t *ids, uint32_t B, uint32_t T,
                     uint32_t V, nn_rng *rng);

/* The head's forward (and, train, backward) over the targets of input and
 * target (B,T): returns the mean cross-entropy over the targets (0 when
 * none), adds the targets predicted right (arg max) to *correct and their
 * number to *count (either may be NULL). Training adds the gradient into
 * m->grads (the caller zeroes them) with dropout on. */
float nn_mlm_forward_backward(nn_mlm *mm, const uint16_t *input, const uint16_t *target, uint32_t B,
                              int train, uint32_t *correct, uint32_t *count);

/* One training step on ids (B,T): masks them with rng, zeroes the
 * gradients, forward and backward, one optimizer step (nn_model_update:
 * AdamW with the model's schedule). Returns the mean loss, NaN when a
 * weight became infinite or NaN (lower lr). */
float nn_mlm_train_batch(nn_mlm *mm, const uint16_t *ids, uint32_t B, nn_rng *rng, uint32_t *correct,
                         uint32_t *count);

/* Fill in the blank: the probabilities (V) of every word at the first
 * NN_MASK of ids (one row of T, padded); NULL when it has none. Valid
 * until the next call. */
const float *nn_mlm_fill(nn_mlm *mm, const uint16_t *ids);
/* The k most likely ids of probs (V) (words only: ids >= NN_FIRST_WORD),
 * most likely first, into ids[k], p[k]; returns how many (at most k). */
uint32_t nn_mlm_top(const float *probs, uint32_t V, uint32_t k, uint32_t *ids, float *p);

/* Fill in the blank from text: encodes it with v (nn_encode_text: the
 * literal "[MASK]" is NN_MASK), pads it as the model's reviews, and gives
 * the k most likely words (ids >= NN_FIRST_WORD) at its first [MASK],
 * most likely first, into ids and p; *n gets how many. NN_ERR_ARG when the
 * text has no [MASK] (or truncation to maxlen cut it). */
int nn_mlm_fill_text(nn_mlm *mm, const nn_vocab *v, const char *text, size_t len, uint32_t k, uint32_t *ids,
                     float *p, uint32_t *n, nn_error *err);

/* ------------------------------------------- pretraining over a corpus
 *
 * A run of `passes` passes over the reviews of up to NN_MLM_MAX_SPLITS
 * splits (the shard's "train" and the unlabelled "unsup": never "test"),
 * each pass in a new seeded order, taking its first per_pass reviews (0:
 * all; a budget below a whole pass), batch_size at a time, padded to maxlen
 * as the trainer pads. A fresh model of cfg (a transformer) initialised
 * from cfg.seed; AdamW at cfg.lr with cfg.warmup_steps of warm-up and a
 * linear decay to 0 at the last batch. Driven in slices (nn_mlm_run_step),
 * always whole batches, so how it is sliced changes nothing; the splits
 * must stay alive while the run is. */
#define NN_MLM_MAX_SPLITS 4
typedef struct nn_mlm_run nn_mlm_run;
typedef struct nn_mlm_progress {
    uint64_t reviews_done, reviews_total; /* over all passes */
    uint32_t pass, passes;                /* 1-based pass of the last batch */
    float loss, acc;    /* mean loss and masked-token accuracy of this call's targets; NaN when none */
    uint64_t targets;   /* this call's masked tokens */
    float lr;           /* the rate of the last step */
    int finished;
} nn_mlm_progress;
int nn_mlm_run_create(nn_mlm_run **out, const nn_config *cfg, const nn_split *const *splits, uint32_t nsplits,
                      uint32_t passes, uint64_t per_pass, nn_error *err);
void nn_mlm_run_free(nn_mlm_run *r);
/* Trains up to max_batches batches (at least one unless finished).
 * NN_ERR_DIVERGED when the loss or a weight became NaN or infinite. */
int nn_mlm_run_step(nn_mlm_run *r, uint32_t max_batches, nn_mlm_progress *p, nn_error *err);
nn_model *nn_mlm_run_model(nn_mlm_run *r);
nn_mlm *nn_mlm_run_mlm(nn_mlm_run *r);

/* Starts a transformer dst (a fine-tuning run: "transformer-pretrained")
 * from a pretrained encoder src: every tensor but the classifier head
 * (head_w, head_b), which keeps dst's initialisation. The two must have
 * the same vocab_size, embed_dim, heads, blocks and ff_dim; the position
 * table copies the first min(maxlen) rows (an encoder pretrained on
 * shorter reviews leaves dst's later positions as initialised).
 * NN_ERR_ARG, naming the difference, otherwise. */
int nn_mlm_init_encoder(nn_model *dst, const nn_model *src, nn_error *err);
#endif
