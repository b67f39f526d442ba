/* attention_view.h: what the page's attention view shows of a typed review
 * (issue 14): the review scored by a "transformer" model, then every
 * block's attention probabilities over the window of positions that holds
 * its tokens, and which word of the text each position is.
 *
 * The probabilities are nn_transformer_attention's, copied right after the
 * one-review forward pass that made them: (L, NH, W, W), block by block,
 * head by head, row i (the query, the word that looks) summing to 1 over
 * columns j (the words looked at). The window holds the review's real
 * tokens only (<START> and its words, after stop words and the maxlen cut),
 * so padding is never in it: it gets no attention at all (the padding mask).
 * Token rows (layout attention_token_row, result_layouts.h): the byte span
 * [start, end) of the word in the text (-1, -1 for <START>) and the id the
 * model read at that position (<UNK> as 2).
 *
 * Used by the wasm boundary (nnw_attention*) and testable natively. Not
 * here: the attention itself (layers_attn.c, transformer.c), the drawing
 * (web/views/attention.js). */
#ifndef NN_ATTENTION_VIEW_H
#define NN_ATTENTION_VIEW_H

#include "nn.h"
#include "stopwords.h"

typedef struct nn_attention_view {
    float *att;       /* (L, NH, W, W) */
    float *tokens;    /* (W, NN_ATTENTION_TOKEN_ROW_LEN) */
    size_t att_cap, tokens_cap;
    uint32_t L, NH, W;
    uint32_t start;   /* the window's first padded position */
    float score;      /* the review's P(positive) */
} nn_attention_view;

void nn_attention_view_free(nn_attention_view *v);

/* Scores text[0..n) with m (model "transformer"), tokenized as the model
 * reads it (stop words of stop removed), and fills v. Returns W, or -1 with
 * the message in err (NN_ERR_STATE for another model kind, NN_ERR_NOMEM). */
int nn_attention_view_text(nn_attention_view *v, nn_model *m, const nn_vocab *voc, const nn_stopwords *stop,
                           const char *text, size_t n, nn_error *err);

#endif
