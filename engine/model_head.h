/* model_head.h: the text models' output head over cfg.classes K, shared by
 * model.c and ngram.c (engine/model_head.c). With K == 2 it is one logit,
 * a sigmoid and binary cross-entropy, the calls the tutorials' recipes have
 * always made, so their histories stay the same bit for bit; with K >= 3 it
 * is K logits, softmax and softmax cross-entropy by log-sum-exp (the MLP's
 * nn_softmax_ce). Not here: the layers below the head (model.c, ngram.c). */
#ifndef NN_MODEL_HEAD_H
#define NN_MODEL_HEAD_H

#include "nn.h"

/* The loss of m->logit (B,O) against labels (B), its gradient into
 * m->dlogit (B,O) (d of the MEAN loss), the rows right added to *correct
 * (may be NULL); returns the mean loss. */
float nn_head_loss(nn_model *m, const float *labels, uint32_t B, uint32_t *correct);
/* P(cls) from one row of logits z (O). */
float nn_head_prob(const nn_model *m, const float *z, uint32_t cls);
/* The encoded review ids (n, <START> first) scored: the class
 * probabilities into probs (K; may be NULL); returns the top class (K == 2:
 * 1 when P(positive) > 0.5; else the largest logit's, the first on ties). */
uint32_t nn_head_classify(nn_model *m, const uint32_t *ids, size_t n, float *probs);

#endif
