/* layers_attn.h: the layers of a Transformer encoder (Vaswani et al. 2017;
 * BERT, Devlin et al. 2019), forward and backward side by side, in the order
 * of layers.h: outputs, gradients (d prefix), inputs, sizes. Backward passes
 * ADD into gradient buffers. No allocation, no state.
 *
 * Sizes (nn.h's letters, plus): B batch, T tokens, E width (d_model), NH
 * heads, D = E/NH the width of a head, F the feed-forward width (4E in BERT),
 * N = B*T rows. Activations are row-major (B,T,E), as in llm.c.
 * The mask (B,T) is 1 at a real token, 0 at padding; padding only fills the
 * ends of a row (the engine's 'pre' or 'post'), and a zero inside the run of
 * real tokens is masked too.
 *
 * The block is pre-LN (Xiong et al. 2020, "On Layer Normalization in the
 * Transformer Architecture"; GPT-2's order): x1 = x + Drop(Attn(LN1(x))),
 * x2 = x1 + Drop(W2 GELU(W1 LN2(x1))), which trains without a learning-rate
 * warm-up; the encoder adds a final LN before pooling.
 *
 * Not here: parameters, initialisation, the optimizer (engine/encoder.c),
 * attention-probability dropout (only the residual branches drop out). */
#ifndef NN_LAYERS_ATTN_H
#define NN_LAYERS_ATTN_H
#include "nn.h"

/* out (B,T,E) = wte[ids[b,t]] (V,E) + wpe[t] (T,E): token and learned
 * position embeddings (BERT without segment embeddings). Padding rows are
 * looked up too; the mask keeps them out of attention and pooling. */
void nn_tokpos_embedding_forward(float *out, const uint16_t *ids, const float *wte, const float *wpe,
                                 uint32_t B, uint32_t T, uint32_t E);
/* dwte[ids[b,t]] += dout[b,t], dwpe[t] += dout[b,t] (dwpe may be NULL) */
void nn_tokpos_embedding_backward(float *dwte, float *dwpe, const float *dout, const uint16_t *ids,
                                  uint32_t B, uint32_t T, uint32_t E);

/* Layer norm over the last axis of N rows: out (N,E), mean (N), rstd (N)
 * saved for backward; inp (N,E), w (E), b (E); eps 1e-5 (PyTorch's default). */
#define NN_LAYERNORM_EPS 1e-5f
void nn_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                          const float *b, uint32_t N, uint32_t E);
/* llm.c's layernorm_backward: with n = (x-mean)*rstd and g = dout*w,
 * dinp += (g - mean(g) - n*mean(g*n)) * rstd; dw += dout*n; db += dout. */
void nn_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                           const float *w, const float *mean, const float *rstd, uint32_t N, uint32_t E);

/* GELU (tanh approximation, kernels.h) over n floats; backward uses the input. */
void nn_gelu_forward(float *out, const float *inp, size_t n);
void nn_gelu_backward(float *dinp, const float *dout, const float *inp, size_t n);

/* out (n) = a + b; backward: da += dout, db += dout. */
void nn_residual_forward(float *out, const float *a, const float *b, size_t n);
void nn_residual_backward(float *da, float *db, const float *dout, size_t n);

/* Multi-head scaled dot-product self-attention with the padding mask.
 * qkv (B,T,3E): each row is q (E), k (E), v (E), head h owning columns
 * h*D..h*D+D-1 of each. For a row b with real run [s,e) (L = e-s tokens),
 * queries and keys t in [s,e) only: att[b,h,i,j] = softmax_j(q_i.k_j/sqrt(D))
 * over keys j with mask 1 (masked keys get exactly 0), out[b,i,h] =
 * sum_j att[b,h,i,j] v_j. Rows outside the run get out = 0 and an att row of
 * zeros, so the work is L^2 per head, not T^2 (ragged lengths cost what they
 * hold). att (B,NH,T,T) holds the probabilities (the attention view reads
 * them); out (B,T,E). work: nn_attention_work_floats(T, E, NH).
 * alibi (NH) or NULL: ALiBi's linear distance penalty (Press et al. 2022,
 * symmetric for an encoder): head h's score of key j for query i is
 * q_i.k_j/sqrt(D) - alibi[h] * |i - j|. A constant added to the scores,
 * so the backward pass is unchanged. */
size_t nn_attention_work_floats(uint32_t T, uint32_t E, uint32_t NH);
void nn_attention_forward(float *out, float *att, float *work, const float *qkv, const uint8_t *mask,
                          uint32_t B, uint32_t T, uint32_t E, uint32_t NH, const float *alibi);
/* ALiBi's slopes for NH heads, 2^-(1 + 3h) for head h (1/2, 1/16, 1/128,
 * ...): the first head looks at its neighbours (a token 4 away costs 2 in
 * the score), the later ones ever wider. */
void nn_alibi_slopes(float *slopes, uint32_t NH);
/* dqkv (B,T,3E) += from dout (B,T,E), given forward's att. */
void nn_attention_backward(float *dqkv, float *work, const float *dout, const float *qkv,
                           const float *att, const uint8_t *mask,
                           uint32_t B, uint32_t T, uint32_t E, uint32_t NH);

/* Masked mean pooling: out (B,E) = mean of x[b,t] (B,T,E) over t with
 * mask 1 (zeros for a row without real tokens). Chosen over a [CLS] token:
 * every real token gets a gradient straight from the loss, which a small
 * encoder trained from scratch on 20,000 reviews needs (a [CLS] row learns
 * only through attention); it works unchanged with 'pre' and 'post' padding
 * and truncation (a first-token [CLS] is cut off by 'pre' truncating); and
 * it is the pooling the bag model's `masked` option already uses, so the
 * two compare like for like. */
void nn_masked_mean_forward(float *out, const float *x, const uint8_t *mask,
                            uint32_t B, uint32_t T, uint32_t E);
void nn_masked_mean_backward(float *dx, const float *dout, const uint8_t *mask,
                             uint32_t B, uint32_t T, uint32_t E);

/* ------------------------------------------------------ one encoder block */

/* A block's parameters, one after another in this order in one buffer
 * (nn_encoder_block_floats(E,F) floats); gradients mirror it. The dense
 * layers use Keras's kernel layout (nn_linear_*: w (C,OC)). */
typedef struct {
    float *ln1_w, *ln1_b;  /* (E), (E) */
    float *qkv_w, *qkv_b;  /* (E,3E), (3E) */
    float *proj_w, *proj_b; /* (E,E), (E) */
    float *ln2_w, *ln2_b;  /* (E), (E) */
    float *fc_w, *fc_b;    /* (E,F), (F) */
    float *fc2_w, *fc2_b;  /* (F,E), (E) */
    const float *alibi;    /* (NH) ALiBi's slopes (nn_alibi_slopes), or NULL; not a parameter */
} nn_encoder_block;
size_t nn_encoder_block_floats(uint32_t E, uint32_t F);
/* Points p's fields into buf; returns the floats used. */
size_t nn_encoder_block_carve(nn_encoder_block *p, float *buf, uint32_t E, uint32_t F);

/* A block's saved activations, one after another in this order
 * (nn_encoder_acts_floats(B,T,E,NH,F) floats). The same struct, pointed at a
 * second buffer, holds their gradients in the backward pass (there att,
 * the means, rstds and dropout masks are unused). */
typedef struct {
    float *ln1;             /* (B,T,E) */
    float *ln1_mean, *ln1_rstd; /* (B*T) */
    float *qkv;             /* (B,T,3E) */
    float *att;             /* (B,NH,T,T) */
    float *atty;            /* (B,T,E) attention output, before the projection */
    float *attproj;         /* (B,T,E) projection, after dropout */
    float *keep1;           /* (B,T,E) dropout mask of the attention branch */
    float *x1;              /* (B,T,E) */
    float *ln2;             /* (B,T,E) */
    float *ln2_mean, *ln2_rstd; /* (B*T) */
    float *fch;             /* (B,T,F) */
    float *fch_gelu;        /* (B,T,F) */
    float *fcproj;          /* (B,T,E) after dropout */
    float *keep2;           /* (B,T,E) dropout mask of the feed-forward branch */
    float *out;             /* (B,T,E) x2 */
} nn_encoder_acts;
size_t nn_encoder_acts_floats(uint32_t B, uint32_t T, uint32_t E, uint32_t NH, uint32_t F);
size_t nn_encoder_acts_carve(nn_encoder_acts *a, float *buf, uint32_t B, uint32_t T, uint32_t E,
                             uint32_t NH, uint32_t F);
/* Scratch floats for forward and backward: attention's work and a
 * transposed weight for nn_linear_backward. */
size_t nn_encoder_block_work_floats(uint32_t T, uint32_t E, uint32_t NH, uint32_t F);

/* a->out (B,T,E) from x (B,T,E). dropout > 0 with rng draws fresh masks
 * (inverted dropout, nn_dropout_mask); rng NULL or dropout 0 is inference. */
void nn_encoder_block_forward(nn_encoder_acts *a, float *work, const float *x, const uint8_t *mask,
                              const nn_encoder_block *p, float dropout, nn_rng *rng,
                              uint32_t B, uint32_t T, uint32_t E, uint32_t NH, uint32_t F);
/* The same with dropout > 0 and rng NULL applying the masks already in
 * a->keep1 and a->keep2 (drawn by the caller: the transformer draws a whole
 * batch's before its chunks of rows run on threads); with rng, drawing them
 * here as nn_encoder_block_forward does. dropout 0: inference. */
void nn_encoder_block_forward_drawn(nn_encoder_acts *a, float *work, const float *x, const uint8_t *mask,
                                    const nn_encoder_block *p, float dropout, nn_rng *rng,
                                    uint32_t B, uint32_t T, uint32_t E, uint32_t NH, uint32_t F);
/* da->out (B,T,E) holds the gradient of the block's output on entry; the
 * other fields of da are scratch (overwritten). Adds into dx (B,T,E) (may
 * be NULL) and dp. dropout as given to forward (masks read from a). */
void nn_encoder_block_backward(float *dx, nn_encoder_block *dp, nn_encoder_acts *da, float *work,
                               const float *x, const nn_encoder_acts *a, const uint8_t *mask,
                               const nn_encoder_block *p, float dropout,
                               uint32_t B, uint32_t T, uint32_t E, uint32_t NH, uint32_t F);
#endif
