/* encoder.h: a Transformer encoder classifier made of layers_attn.h's layers,
 * with its one parameter buffer (gradients and Adam moments mirror it):
 *   ids (B,T) -> token + position embedding (B,T,E) -> L pre-LN blocks ->
 *   final layer norm -> masked mean over real tokens (B,E) -> Dense(1) logit
 *   -> binary cross-entropy.
 * This is the engine half of issue 14 on its own: the model kind
 * `transformer` in model.c/config.c will own one of these; until then the
 * tests and the benchmark drive it directly. Not here: threads, config
 * keys, checkpoints. */
#ifndef NN_ENCODER_H
#define NN_ENCODER_H
#include "layers_attn.h"

#define NN_ENCODER_MAX_LAYERS 8

/* Named pointers into one buffer: the parameters, or their gradients. */
typedef struct {
    float *wte;     /* (V,E) */
    float *wpe;     /* (T,E) */
    nn_encoder_block blocks[NN_ENCODER_MAX_LAYERS];
    float *lnf_w, *lnf_b; /* (E), (E) */
    float *head_w;  /* (1,E) nn_dense layout */
    float *head_b;  /* (1) */
} nn_encoder_weights;

typedef struct {
    uint32_t V, T, E, NH, F, L, Bmax;
    float dropout;
    size_t nparams;
    float *params, *grads, *m, *v; /* (nparams) each */
    nn_encoder_weights w, g;
    /* activations for Bmax rows */
    float *acts_buf;
    nn_encoder_acts acts[NN_ENCODER_MAX_LAYERS], dacts;
    float *emb, *demb;           /* (B,T,E) */
    float *lnf, *lnf_mean, *lnf_rstd, *dlnf; /* (B,T,E), (B*T), (B*T), (B,T,E) */
    float *pooled, *dpooled;     /* (B,E) */
    float *logits, *dlogits;     /* (B) */
    float *work;
    uint8_t *mask;               /* (B,T) */
    uint64_t step;
} nn_encoder;

/* Returns 0, or -1 when out of memory (then nothing is left allocated).
 * Weights: uniform with standard deviation init_sd (+-init_sd*sqrt(3)),
 * the residual projections' scaled by 1/sqrt(2L) (GPT-2), layer norms 1 and
 * 0, biases 0. BERT and GPT-2 use 0.02; a tiny encoder trained from scratch
 * learns much sooner from 0.1 (the learning test: 0.02 stalls near chance
 * for 800 steps, 0.1 reaches 0.96-1.0), since the attention scores start
 * as products of two such weights. */
int nn_encoder_init(nn_encoder *enc, uint32_t V, uint32_t T, uint32_t E, uint32_t NH, uint32_t F,
                    uint32_t L, uint32_t Bmax, float dropout, float init_sd, uint64_t seed);
void nn_encoder_free(nn_encoder *enc);

/* Forward over ids (B,T) (B <= Bmax; id 0 is padding), writing enc->logits;
 * with labels (B) (0/1) returns the mean BCE and adds the hits to *correct
 * (may be NULL); with grads != 0 also zeroes and fills enc->grads. rng
 * non-NULL turns dropout on (training). */
float nn_encoder_forward_backward(nn_encoder *enc, const uint16_t *ids, const float *labels,
                                  uint32_t B, nn_rng *rng, int grads, uint32_t *correct);

/* One Adam step (kernels.h nn_k_adam, TF/Keras form) over every parameter. */
void nn_encoder_adam(nn_encoder *enc, float lr, float b1, float b2, float eps);

/* One AdamW step (Loshchilov & Hutter 2019, decoupled weight decay, as
 * PyTorch's AdamW applies it): first p *= 1 - lr*wd on the weight matrices
 * and the embeddings, not on biases and layer norms (BERT's exclusions),
 * then nn_encoder_adam with lr. wd 0 is nn_encoder_adam exactly. */
void nn_encoder_adamw(nn_encoder *enc, float lr, float b1, float b2, float eps, float wd);

/* BERT's schedule (Devlin et al. 2019, A.2), in the form of Hugging Face's
 * get_linear_schedule_with_warmup: at step t (0-based, the steps taken
 * before this one) of total, peak * t/warmup while t < warmup, then
 * peak * max(0, (total - t) / (total - warmup)). */
float nn_lr_warmup_linear(uint64_t t, uint64_t warmup, uint64_t total, float peak);

/* Multiply-adds of one forward pass over B rows of T real tokens (backward
 * is about twice as many): the dense layers 12*E^2... written out in
 * encoder.c; the benchmark divides measured time by it. */
double nn_encoder_forward_flops(uint32_t B, uint32_t T, uint32_t E, uint32_t F, uint32_t L);
#endif
