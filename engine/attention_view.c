/* attention_view.c: a typed review's attention for the page (see
 * attention_view.h). */
#include "attention_view.h"

#include <stdlib.h>
#include <string.h>

#include "result_layouts.h"
#include "transformer.h"

void nn_attention_view_free(nn_attention_view *v) {
    free(v->att);
    free(v->tokens);
    memset(v, 0, sizeof *v);
}

/* The kept tokens (not stop words) of a text: their ids and byte spans. */
typedef struct {
    const nn_vocab *v;
    const nn_stopwords *stop;
    uint32_t num_words;
    uint32_t *ids;   /* (cap + 1): NN_START, then the kept tokens */
    size_t *spans;   /* (cap + 1, 2) */
    size_t n;        /* ids written, <START> included */
} kept_tokens;

static void collect(const char *tok, size_t len, size_t start, size_t end, void *user) {
    kept_tokens *k = user;
    uint32_t id = nn_token_id(k->v, k->stop, tok, len, k->num_words);
    if (id == NN_STOPPED) return;
    k->ids[k->n] = id;
    k->spans[2 * k->n] = start;
    k->spans[2 * k->n + 1] = end;
    k->n++;
}

static int reserve(float **p, size_t *cap, size_t n) {
    if (n <= *cap) return 1;
    float *q = nn_realloc_array(*p, n, sizeof *q);
    if (!q) return 0;
    *p = q;
    *cap = n;
    return 1;
}

int nn_attention_view_text(nn_attention_view *v, nn_model *m, const nn_vocab *voc, const nn_stopwords *stop,
                           const char *text, size_t n, nn_error *err) {
    const nn_config *c = &m->cfg;
    if (c->model != NN_MODEL_TRANSFORMER) {
        nn_fail(err, NN_ERR_STATE, "the attention view needs a model \"transformer\"; this one is another kind");
        return -1;
    }
    if (n > (1u << 24)) {
        nn_fail(err, NN_ERR_ARG, "text too long for the attention view (%zu bytes; at most 16 MB)", n);
        return -1;
    }
    size_t k = nn_tokenize_spans(text, n, NULL, NULL);
    kept_tokens kt = {voc, stop, c->vocab_size, nn_malloc_array(nn_size_add_sat(k, 1), sizeof *kt.ids),
                      nn_malloc_array(nn_size_mul_sat(nn_size_add_sat(k, 1), 2), sizeof *kt.spans), 0};
    if (!kt.ids || !kt.spans) goto nomem;
    kt.ids[0] = NN_START;
    kt.spans[0] = kt.spans[1] = 0;
    kt.n = 1;
    nn_tokenize_spans(text, n, collect, &kt);

    /* One forward pass of this one review: nn_transformer_attention reads it. */
    v->score = nn_model_explain(m, kt.ids, kt.n, NULL);
    uint32_t start = 0, W = 0;
    const uint32_t L = c->blocks, NH = c->heads;
    if (!nn_transformer_attention(m, 0, &start, &W)) {
        nn_fail(err, NN_ERR_STATE, "the model holds no attention to show");
        goto fail;
    }
    size_t per_block = (size_t)NH * W * W;
    if (!reserve(&v->att, &v->att_cap, per_block * L) ||
        !reserve(&v->tokens, &v->tokens_cap, (size_t)W * NN_ATTENTION_TOKEN_ROW_LEN))
        goto nomem;
    for (uint32_t l = 0; l < L; l++) {
        uint32_t s, w;
        const float *att = nn_transformer_attention(m, l, &s, &w);
        memcpy(v->att + per_block * l, att, per_block * sizeof *att);
    }
    /* Which text word each window position holds: the padding rule
     * (nn_padded_position) run forward over the kept ids. */
    for (uint32_t p = 0; p < W; p++) {
        float *row = v->tokens + (size_t)p * NN_ATTENTION_TOKEN_ROW_LEN;
        row[NN_ATTENTION_TOKEN_ROW_START] = -1.0f;
        row[NN_ATTENTION_TOKEN_ROW_END] = -1.0f;
        row[NN_ATTENTION_TOKEN_ROW_ID] = (float)m->ids1[start + p];
    }
    for (size_t i = 1; i < kt.n; i++) {
        long pos = nn_padded_position(i, kt.n, c);
        if (pos < (long)start || pos >= (long)(start + W)) continue;
        float *row = v->tokens + (size_t)(pos - start) * NN_ATTENTION_TOKEN_ROW_LEN;
        /* float holds integers exactly up to 2^24: texts up to 16 MB. */
        row[NN_ATTENTION_TOKEN_ROW_START] = (float)kt.spans[2 * i];
        row[NN_ATTENTION_TOKEN_ROW_END] = (float)kt.spans[2 * i + 1];
    }
    v->L = L;
    v->NH = NH;
    v->W = W;
    v->start = start;
    free(kt.ids);
    free(kt.spans);
    return (int)W;
nomem:
    nn_fail(err, NN_ERR_NOMEM, "out of memory for the attention of a text of %zu bytes", n);
fail:
    free(kt.ids);
    free(kt.spans);
    return -1;
}
