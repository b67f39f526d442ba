/* model_parts.c: what every kind of model is built from, below the models
 * themselves: the zeroed float buffers, the table of named tensors carved
 * out of the one parameter buffer, and Keras's padding rule (where each id
 * of a review lands, or that it is cut). model.c and ngram.c both build on
 * it, so neither has to call the other back for it. Not here: any model's
 * maths (layers*.c, model.c, ngram.c). */
#include "nn.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

void *nn_alloc_floats(size_t n) {
    /* Cache-line aligned (so a 16-float embedding row is one 64-byte line,
     * not two: the gathers and scatters touch half as many) and padded to
     * whole lines; calloc semantics. NULL when the size overflows size_t
     * (32 bits in wasm32): nn_memory_check refuses such configs first. */
    size_t bytes;
    if (!nn_size_mul(n ? n : 1, sizeof(float), &bytes) || bytes > PTRDIFF_MAX - 63) return NULL;
    bytes = (bytes + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

void nn_model_add_tensor(nn_model *m, const char *name, uint32_t rows, uint32_t cols) {
    assert(m->ntensors < NN_MAX_TENSORS);
    nn_tensor *t = &m->tensor[m->ntensors++];
    memset(t, 0, sizeof *t);
    strncpy(t->name, name, sizeof t->name - 1);
    t->rows = rows;
    t->cols = cols;
    t->offset = m->nparams;
    /* Keep every tensor 16-byte aligned inside the buffer. The sum
     * saturates (then the buffers cannot be allocated) rather than wrap in
     * a 32-bit size_t; nn_memory_check refuses such configs first. */
    uint64_t n = m->nparams + ((((uint64_t)rows * cols) + 3) & ~(uint64_t)3);
    m->nparams = n > SIZE_MAX / sizeof(double) ? SIZE_MAX / sizeof(double) : (size_t)n;
}

/* Keras pad_sequences: 'pre' truncation keeps the last T ids, 'post' the
 * first T; 'pre' padding puts zeros before the ids, 'post' after. */
#define PAD_REVIEW_BODY                                                       \
    uint32_t T = cfg->maxlen, V = cfg->vocab_size;                            \
    size_t keep = n < T ? n : T;                                              \
    size_t from = (n > T && cfg->truncating == NN_PAD_PRE) ? n - T : 0;       \
    size_t at = cfg->padding == NN_PAD_PRE ? T - keep : 0;                    \
    memset(out, 0, (size_t)T * sizeof *out);                                  \
    for (size_t i = 0; i < keep; i++) {                                       \
        uint32_t id = ids[from + i];                                          \
        out[at + i] = (uint16_t)(id < V ? id : NN_UNK);                       \
    }

void nn_pad_review(uint16_t *out, const uint16_t *ids, size_t n, const nn_config *cfg) {
    PAD_REVIEW_BODY
}

void nn_pad_review_u32(uint16_t *out, const uint32_t *ids, size_t n, const nn_config *cfg) {
    PAD_REVIEW_BODY
}

/* Where id i of an n-id review lands after padding, or -1 when cut. */
long nn_padded_position(size_t i, size_t n, const nn_config *cfg) {
    size_t T = cfg->maxlen;
    size_t keep = n < T ? n : T;
    size_t from = (n > T && cfg->truncating == NN_PAD_PRE) ? n - T : 0;
    size_t at = cfg->padding == NN_PAD_PRE ? T - keep : 0;
    if (i < from || i >= from + keep) return -1;
    return (long)(at + i - from);
}
