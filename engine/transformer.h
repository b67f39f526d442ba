/* transformer.h: the model kind "transformer" of nn_model (model.c
 * dispatches to it), a Transformer encoder classifier built from
 * layers_attn.h's layers:
 *   ids (B,T) -> token + learned position embedding (B,T,E) -> cfg.blocks
 *   pre-LN blocks (NH = cfg.heads heads, feed-forward F = cfg.ff_dim, GELU,
 *   residual dropout cfg.dropout) -> final layer norm -> masked mean over
 *   the real tokens (B,E) -> Dense(1) logit -> sigmoid, binary cross-entropy.
 * Masked mean, not a [CLS] token: see nn_masked_mean_forward (layers_attn.h).
 * Its parameters are nn_model's one buffer, carved by the tensor table
 * ("wte", "wpe", "b1.qkv_w", ..., "lnf_w", "head_w", "head_b"), so the
 * trainer's double buffering, best-weights copy and checkpoints work as for
 * the other models. The optimizer is AdamW (decoupled weight decay on the
 * weight matrices and embeddings, not on biases and layer norms, as BERT)
 * with a linear warm-up over cfg.warmup_steps and a linear decay to 0 at
 * the last step (nn_lr_warmup_linear, encoder.h).
 *
 * Padding: the rows of a batch are sorted by length and cut into chunks of
 * like length; each chunk runs on the window of positions holding its
 * rows' tokens, so padding beyond it costs nothing (attention already
 * costs each row its own length squared).
 *
 * Threads: a batch is cut into a fixed number of chunks of rows that does
 * not depend on the threads (NN_TFM_CHUNKS, fewer for a small batch). Each
 * chunk runs the forward and backward pass of its rows alone, adding its
 * parameter gradients into a buffer of its own; the buffers are then summed
 * in chunk order, split by parameter ranges. Threads take the chunks
 * longest rows first (transformer.c, chunk_task), so a run ends on short
 * ones and a thread seldom waits long for another's last chunk; which
 * thread runs a chunk never changes what it computes. Dropout masks are drawn for
 * the whole batch before the chunks start. So a seed gives the same bits
 * with any number of threads (tests/test_transformer.c checks 1, 2 and 3).
 *
 * Not here: the layers' maths (layers_attn.c), batching and epochs
 * (train.c). */
#ifndef NN_TRANSFORMER_H
#define NN_TRANSFORMER_H
#include "nn.h"

typedef struct nn_transformer nn_transformer;

#define NN_TFM_CHUNKS 8

/* The initial weights' spread (encoder.h says why 0.1, not BERT's 0.02). */
#define NN_TFM_INIT_SD 0.1f

/* Tensors and buffers for m->cfg (m->Bmax rows); 1, or 0 when out of memory. */
int nn_transformer_create(nn_model *m);
void nn_transformer_free(nn_model *m);
/* Embeddings and kernels uniform with standard deviation NN_TFM_INIT_SD
 * (the residual projections' divided by sqrt(2 blocks), GPT-2), layer norms
 * 1 and 0, biases 0; resets the optimizer. */
void nn_transformer_init(nn_model *m, nn_rng *rng);
/* Overwrites the position table wpe (T,E) with Vaswani et al. 2017's
 * sinusoids (section 3.5: column 2i sin(t / 10000^(2i/E)), 2i+1 its cos),
 * times NN_TFM_INIT_SD * sqrt(2) so its spread is the uniform init's. A
 * start for pretraining: a shift of position is then a rotation of each
 * pair of columns, so attention to neighbours is one linear map away,
 * where random rows must first be learned into an order. Still learned. */
void nn_transformer_sinusoid_positions(nn_model *m);
/* Logits of ids (B,T) into m->logit (no dropout). */
void nn_transformer_forward(nn_model *m, const uint16_t *ids, uint32_t B);
/* Training pass: dropout on, mean BCE returned, gradients added to m->grads. */
float nn_transformer_forward_backward(nn_model *m, const uint16_t *ids, const float *labels, uint32_t B,
                                      uint32_t *correct);
/* One AdamW step at the schedule's rate (m->step already counting it) over
 * the parameters from float `from` on (a frozen embedding: nn_model_update),
 * written into out (m->params, or the other buffer of a double-buffered
 * model; the caller swaps). Returns 1 when every new weight is finite. */
int nn_transformer_update(nn_model *m, float *out, size_t from);
/* The schedule: warm-up over `warmup` steps to peak_lr, then a linear
 * decay to 0 at step `total` (0: no decay after the warm-up). A new model
 * has cfg lr and warmup_steps and no decay; the trainer sets its total
 * (epochs x batches per epoch), pretraining (mlm.h) all three from
 * cfg mlm_lr and mlm_warmup_steps. */
void nn_transformer_set_schedule(nn_model *m, uint64_t total, float peak_lr, uint64_t warmup);
/* The attention probabilities of block l in the last forward pass of ONE
 * review (B 1, for the attention view): (NH,W,W) over the window of
 * positions [*start, *start + *W) that holds its tokens; NULL for l out of
 * range. */
const float *nn_transformer_attention(const nn_model *m, uint32_t l, uint32_t *start, uint32_t *W);

/* A head on every token instead of the pooled classifier (the masked-
 * language model of mlm.h). nn_transformer_tokens runs the encoder over
 * ids (B,T) chunk by chunk as above, and on each chunk's thread, once the
 * final layer norm is done, calls head with that chunk's rows; training,
 * the head writes the gradient of its loss into dlnf (zeroed) and may add
 * into grads (the chunk's own gradient buffer: a tied output embedding's
 * gradient goes there), then the encoder's backward pass runs from dlnf
 * (dropout on) and the chunks' gradients are summed into m->grads in chunk
 * order, as nn_transformer_forward_backward does: the same bits for any
 * thread count. The classifier head is neither used nor changed. */
typedef struct nn_tfm_rows {
    uint32_t chunk;       /* 0 .. NN_TFM_CHUNKS-1: which scratch the head may use */
    uint32_t rows;        /* rows in the chunk */
    uint32_t start, W;    /* the window of positions [start, start + W) it holds */
    const uint32_t *row;  /* (rows) the batch row of each chunk row */
    const float *lnf;     /* (rows,W,E) the final layer norm's output */
    float *dlnf;          /* (rows,W,E) zeroed, for the gradient; NULL when not training */
    float *grads;         /* (nparams) the chunk's gradients; NULL when not training */
} nn_tfm_rows;
typedef void (*nn_tfm_token_head)(void *ctx, const nn_tfm_rows *rows);
void nn_transformer_tokens(nn_model *m, const uint16_t *ids, uint32_t B, int train, nn_tfm_token_head head,
                           void *ctx);
#endif
