/* model_head.c: the text models' output head over K = cfg.classes
 * (engine/model_head.h): the loss and its gradient, the class
 * probabilities, and scoring a text per class. K == 2 keeps the one
 * sigmoid logit (the tutorials' binary cross-entropy, bit for bit); K >= 3
 * gives K logits and softmax cross-entropy, computed stably by log-sum-exp
 * (Keras sparse_categorical_crossentropy from logits, as the MLP's).
 *
 * Not here: the layers below the head and the occlusion that explains a
 * score (model.c, ngram.c). */
#include "model_head.h"
#include "layers.h"
#include "stopwords.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

uint32_t nn_config_outputs(const nn_config *c) {
    if (c->model == NN_MODEL_MLP) return c->classes;
    return c->classes > 2 ? c->classes : 1;
}

uint32_t nn_model_classes(const nn_model *m) {
    return m->cfg.model == NN_MODEL_MLP || m->cfg.classes > 2 ? m->cfg.classes : 2;
}

float nn_head_loss(nn_model *m, const float *labels, uint32_t B, uint32_t *correct) {
    uint32_t O = nn_config_outputs(&m->cfg);
    assert(B > 0);
    if (O == 1) return nn_bce_forward_backward(m->dlogit, m->logit, labels, B, correct);
    float sum = nn_softmax_ce(m->dlogit, m->logit, labels, 1.0f / (float)B, B, O, correct);
    return sum / (float)B;
}

float nn_head_prob(const nn_model *m, const float *z, uint32_t cls) {
    uint32_t O = nn_config_outputs(&m->cfg);
    if (O == 1) {
        float p = 1.0f / (1.0f + expf(-z[0]));
        return cls == 1 ? p : 1.0f - p;
    }
    assert(cls < O && O <= NN_MAX_TEXT_CLASSES);
    float p[NN_MAX_TEXT_CLASSES];
    nn_softmax(p, z, O);
    return p[cls];
}

/* The encoded text (ids from the caller's small buffer, or a malloc'd one
 * for a long paste: 'pre' truncation needs its last ids); *n its length. */
static uint32_t *encode(const nn_model *m, const nn_vocab *v, const struct nn_stopwords *stop,
                        const char *text, size_t len, uint32_t *small, size_t cap, size_t *n) {
    *n = nn_encode_text_stop(v, stop, text, len, m->cfg.vocab_size, small, cap);
    if (*n <= cap) return small;
    uint32_t *ids = nn_malloc_array(*n, sizeof *ids);
    if (!ids) {
        *n = cap;
        return small;
    }
    nn_encode_text_stop(v, stop, text, len, m->cfg.vocab_size, ids, *n);
    return ids;
}

float nn_model_score_text(nn_model *m, const nn_vocab *v, const struct nn_stopwords *stop,
                          const char *text, size_t len) {
    if (m->cfg.model == NN_MODEL_MLP) return NAN;
    uint32_t small[4096];
    size_t n;
    uint32_t *ids = encode(m, v, stop, text, len, small, 4096, &n);
    float score = nn_model_explain(m, ids, n, NULL);
    if (ids != small) free(ids);
    return score;
}

uint32_t nn_head_classify(nn_model *m, const uint32_t *ids, size_t n, float *probs) {
    uint32_t K = nn_model_classes(m), best = 0;
    if (K == 2) {
        float p = nn_model_explain(m, ids, n, NULL);
        if (probs) probs[0] = 1.0f - p, probs[1] = p;
        return p > 0.5f ? 1 : 0;
    }
    float local[NN_MAX_TEXT_CLASSES];
    nn_model_explain_class(m, ids, n, 0, NULL); /* one forward pass: row 0 of m->logit */
    nn_softmax(probs ? probs : local, m->logit, K);
    for (uint32_t k = 1; k < K; k++) best = m->logit[k] > m->logit[best] ? k : best;
    return best;
}

uint32_t nn_model_score_text_classes(nn_model *m, const nn_vocab *v, const struct nn_stopwords *stop,
                                     const char *text, size_t len, float *probs) {
    uint32_t K = nn_model_classes(m);
    if (m->cfg.model == NN_MODEL_MLP) {
        for (uint32_t k = 0; k < K; k++) probs[k] = NAN;
        return 0;
    }
    if (K == 2) { /* exactly nn_model_score_text's number */
        float p = nn_model_score_text(m, v, stop, text, len);
        probs[0] = 1.0f - p;
        probs[1] = p;
        return p > 0.5f ? 1 : 0;
    }
    uint32_t small[4096];
    size_t n;
    uint32_t *ids = encode(m, v, stop, text, len, small, 4096, &n);
    uint32_t best = nn_head_classify(m, ids, n, probs);
    if (ids != small) free(ids);
    return best;
}
