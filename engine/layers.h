/* layers.h: layers as pairs of functions, forward and backward side by side.
 *
 * Outputs first, then gradients (d prefix), then inputs, then sizes.
 * Backward passes ADD into gradient buffers (+=); the model zeroes them once
 * per step. Shapes use the letters of nn.h. No allocation, no state. */
#ifndef NN_LAYERS_H
#define NN_LAYERS_H
#include "nn.h"

/* Embedding lookup fused with average pooling over the sequence.
 * out (B,E) = sum over t of emb[ids[b,t]] / T            (NN_POOL_KERAS: Keras
 *             GlobalAveragePooling1D without a mask: padding counts)
 *           = sum over t with ids != 0 of emb[ids] / n  (NN_POOL_MASKED; n >= 1)
 * ids (B,T), emb (V,E). */
void nn_embedding_pool_forward(float *out, const uint16_t *ids, const float *emb,
                               uint32_t B, uint32_t T, uint32_t E, int pooling);
void nn_embedding_pool_backward(float *demb, const float *dout, const uint16_t *ids,
                                uint32_t B, uint32_t T, uint32_t E, int pooling);

/* out (B,OC) = inp (B,C) . w^T + b;  w (OC,C), b (OC). */
void nn_dense_forward(float *out, const float *inp, const float *w, const float *b,
                      uint32_t B, uint32_t C, uint32_t OC);
/* dinp (B,C) may be NULL (first layer). */
void nn_dense_backward(float *dinp, float *dw, float *db, const float *dout,
                       const float *inp, const float *w, uint32_t B, uint32_t C, uint32_t OC);

/* out (N) = max(inp, 0), in place allowed; backward uses the output. */
void nn_relu_forward(float *out, const float *inp, size_t N);
void nn_relu_backward(float *dinp, const float *dout, const float *out, size_t N);

/* Mean binary cross-entropy of sigmoid(logit) against label, from logits.
 * dlogit (B) = d(mean loss)/d(logit) (NULL: forward only). */
float nn_bce_forward_backward(float *dlogit, const float *logit, const float *label,
                              uint32_t B, uint32_t *correct);
#endif
