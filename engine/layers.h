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
 * ids (B,T), emb (V,E). runs (B,2): forward writes each review's run of
 * real tokens [start, end) (padding only fills the ends of a row), and
 * backward, given the same ids, reads them instead of finding them again. */
void nn_embedding_pool_forward(float *out, uint32_t *runs, const uint16_t *ids, const float *emb,
                               uint32_t B, uint32_t T, uint32_t E, int pooling);
void nn_embedding_pool_backward(float *demb, const float *dout, const uint16_t *ids,
                                const uint32_t *runs, uint32_t B, uint32_t T, uint32_t E, int pooling);

/* out (B,OC) = inp (B,C) . w^T + b;  w (OC,C), b (OC). */
void nn_dense_forward(float *out, const float *inp, const float *w, const float *b,
                      uint32_t B, uint32_t C, uint32_t OC);
/* dinp (B,C) may be NULL (first layer). */
void nn_dense_backward(float *dinp, float *dw, float *db, const float *dout,
                       const float *inp, const float *w, uint32_t B, uint32_t C, uint32_t OC);

/* The same dense layer with Keras's kernel layout, for wide layers (the
 * MLP): out (B,OC) = b (OC) + inp (B,C) . w (C,OC), through the blocked
 * matrix product nn_k_matmul_acc. Backward adds dw (C,OC) += inp^T . dout,
 * db (OC) += the column sums of dout, and dinp (B,C) += dout . w^T (dinp
 * may be NULL: the first layer); wt (OC,C) is scratch for w transposed. */
void nn_linear_forward(float *out, const float *inp, const float *w, const float *b,
                       uint32_t B, uint32_t C, uint32_t OC);
void nn_linear_backward(float *dinp, float *dw, float *db, float *wt, const float *dout,
                        const float *inp, const float *w, uint32_t B, uint32_t C, uint32_t OC);

/* out (N) = max(inp, 0), in place allowed; backward uses the output. */
void nn_relu_forward(float *out, const float *inp, size_t N);
void nn_relu_backward(float *dinp, const float *dout, const float *out, size_t N);

/* Embedding lookup into a time-major sequence (the recurrent models' input):
 * out (T,B,E): row (t,b) = emb[ids[b,t]]; ids (B,T), emb (V,E). Padding ids
 * are looked up too: the recurrent layers skip them through their mask. */
void nn_embedding_forward(float *out, const uint16_t *ids, const float *emb,
                          uint32_t B, uint32_t T, uint32_t E);
/* demb[ids[b,t]] += dout (t,b), every position. */
void nn_embedding_backward(float *demb, const float *dout, const uint16_t *ids,
                           uint32_t B, uint32_t T, uint32_t E);

/* Inverted dropout with one mask per sequence (Keras LSTM/GRU `dropout` and
 * `recurrent_dropout`: the mask is drawn once per batch and reused at every
 * step). keep (n): each entry 0 with probability rate, else 1/(1-rate)
 * (Keras: kept where uniform >= rate). */
void nn_dropout_mask(float *keep, size_t n, float rate, nn_rng *rng);
/* out (T,B,C) = x (T,B,C) * keep (B,C) */
void nn_dropout_forward(float *out, const float *x, const float *keep,
                        uint32_t T, uint32_t B, uint32_t C);
/* dx (T,B,C) += dout (T,B,C) * keep (B,C) */
void nn_dropout_backward(float *dx, const float *dout, const float *keep,
                         uint32_t T, uint32_t B, uint32_t C);

/* ------------------------------------------------------- recurrent layers
 *
 * LSTM and GRU over a time-major batch, with Keras semantics (tf.keras /
 * Keras 3 LSTMCell and GRUCell, sigmoid recurrent activation):
 *   LSTM: z = x.wx + h'.wh + b, gate blocks i, f, c, o of H columns each;
 *         i, f, o = sigmoid; g = tanh; c = f*c_prev + i*g; h = o*tanh(c).
 *   GRU (reset_after=True): zx = x.wx + b[0], zh = h'.wh + b[1], blocks z, r, h;
 *         z = sigmoid(zx_z + zh_z), r = sigmoid(zx_r + zh_r),
 *         hh = tanh(zx_h + r*zh_h), h = z*h_prev + (1-z)*hh.
 * where h' = h_prev * hkeep (recurrent dropout) or h_prev.
 *
 * x (T,B,C) inputs, wx (C,GH), wh (H,GH) with GH = 4H (LSTM) or 3H (GRU);
 * b (4H) for LSTM, (2,3H) for GRU (input bias, then recurrent bias).
 * mask (B,T): 1 for a real token, 0 for padding. At a padded step the state
 * carries over unchanged (Keras mask_zero), so 'pre' and 'post' padding give
 * the same final state, and nothing flows back through that step's gates.
 * Any mask is right; a batch sorted longest review first is fastest, since
 * the rows after the last real token of a step cost only a copy.
 * hkeep (B,H) recurrent-dropout mask, or NULL.
 *
 * States: hs (T+1,B,H) and cs (T+1,B,H, LSTM only). reverse = 0 reads
 * t = 0..T-1: hs[0] is the zero initial state and hs[t+1] the state after
 * token t, so the final state is hs[T]. reverse = 1 (the backward half of a
 * Keras Bidirectional) reads t = T-1..0: hs[T] is the initial state, hs[t]
 * the state after token t, and the final state is hs[0]. Either way the
 * outputs in time order (return_sequences) are one contiguous (T,B,H) block:
 * hs + B*H (forward) or hs (reverse).
 * Saved for backward: gates (T,B,GH) after their activations (GRU: z, r, hh);
 * tanhc (T,B,H) the LSTM's tanh(c) after token t; rech (T,B,H) the GRU's
 * zh_h; hin (T,B,H) h' when hkeep != NULL. Rows of a step that carry their
 * state over are not written.
 * work: nn_rnn_work_floats(...) floats of scratch.
 * par: threads lent by the caller (nn.h), or NULL; results do not depend on
 * it. Backward overwrites gates (and the GRU's rech) with the gates'
 * gradients: a forward pass must come before each backward pass. */
enum { NN_CELL_LSTM = 0, NN_CELL_GRU = 1 };
size_t nn_rnn_work_floats(int cell, uint32_t T, uint32_t B, uint32_t C, uint32_t H);

void nn_lstm_forward(float *hs, float *cs, float *gates, float *tanhc, float *hin, float *work,
                     const float *x, const uint8_t *mask, const float *hkeep,
                     const float *wx, const float *wh, const float *b,
                     uint32_t T, uint32_t B, uint32_t C, uint32_t H, int reverse,
                     const nn_parallel *par);
/* dhs (T+1,B,H): on entry the gradient of the loss with respect to the
 * states (the final state's block, and for return_sequences every output's);
 * used as scratch, so destroyed. Adds into dx (T,B,C), dwx, dwh, db. */
void nn_lstm_backward(float *dx, float *dwx, float *dwh, float *db, float *dhs, float *work,
                      const float *hs, const float *cs, float *gates, const float *tanhc,
                      const float *hin, const float *x, const uint8_t *mask, const float *hkeep,
                      const float *wx, const float *wh,
                      uint32_t T, uint32_t B, uint32_t C, uint32_t H, int reverse,
                      const nn_parallel *par);

void nn_gru_forward(float *hs, float *gates, float *rech, float *hin, float *work,
                    const float *x, const uint8_t *mask, const float *hkeep,
                    const float *wx, const float *wh, const float *b,
                    uint32_t T, uint32_t B, uint32_t C, uint32_t H, int reverse,
                    const nn_parallel *par);
void nn_gru_backward(float *dx, float *dwx, float *dwh, float *db, float *dhs, float *work,
                     const float *hs, float *gates, float *rech, const float *hin,
                     const float *x, const uint8_t *mask, const float *hkeep,
                     const float *wx, const float *wh,
                     uint32_t T, uint32_t B, uint32_t C, uint32_t H, int reverse,
                     const nn_parallel *par);

/* Mean binary cross-entropy of sigmoid(logit) against label, from logits.
 * dlogit (B) = d(mean loss)/d(logit) (NULL: forward only). */
float nn_bce_forward_backward(float *dlogit, const float *logit, const float *label,
                              uint32_t B, uint32_t *correct);

/* Softmax cross-entropy (Keras sparse_categorical_crossentropy on the
 * logits of Dense(K) + softmax) of logit (B,K) against class labels (B)
 * (whole numbers 0..K-1 stored as floats), computed stably by log-sum-exp:
 * loss_b = log(sum_k exp(z_k - max z)) + max z - z_label. Returns the SUM
 * over the B rows; writes dlogit (B,K) = (softmax(z) - onehot) * gscale
 * unless dlogit is NULL; adds to *correct the rows whose largest logit (the
 * first, on ties) is the label's. */
float nn_softmax_ce(float *dlogit, const float *logit, const float *label, float gscale,
                    uint32_t B, uint32_t K, uint32_t *correct);
/* softmax of one row z (K) into p (K), stably. */
void nn_softmax(float *p, const float *z, uint32_t K);
#endif
