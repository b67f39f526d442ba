/* tokenizer.c: the tokenizer and the vocabulary hash index.
 *
 * One pass over the bytes with a 256-entry table, a fixed-size buffer on the
 * stack for the lowercased token and no allocation, because this runs on every
 * keystroke in the page as well as over the whole IMDB archive natively. The
 * rules are the ones documented in nn.h (NN_TOKENIZER_VERSION); changing any
 * of them changes the ids and therefore needs a new tokenizer version.
 *
 * This file is deliberately not a general Unicode tokenizer: bytes >= 0x80 are
 * word bytes whatever they encode, so it never needs to decode UTF-8. */
#include "nn.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* token_byte[c]: 0 if c separates tokens, otherwise c lowercased.
 * Word bytes are [A-Za-z0-9'] and every byte >= 0x80. */
static const unsigned char token_byte[256] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x27, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f,
    0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f,
    0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f,
    0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f,
    0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
    0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf,
    0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf,
    0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf,
    0xe0, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xeb, 0xec, 0xed, 0xee, 0xef,
    0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff,
};

/* Length of the line break "<br>", "<br/>" or "<br />" (any case) starting at
 * p[0] == '<', or 1 when it is some other '<'. Only the "br" matters: every
 * other byte of the tag separates tokens anyway. */
static size_t line_break_length(const unsigned char *p, size_t n) {
    if (n < 4 || (p[1] | 0x20) != 'b' || (p[2] | 0x20) != 'r') return 1;
    if (p[3] == '>') return 4;
    if (n >= 5 && p[3] == '/' && p[4] == '>') return 5;
    if (n >= 6 && p[3] == ' ' && p[4] == '/' && p[5] == '>') return 6;
    return 1;
}

size_t nn_tokenize_spans(const char *text, size_t len, nn_span_fn emit, void *user) {
    const unsigned char *p = (const unsigned char *)text;
    char word[NN_MAX_TOKEN_BYTES];
    size_t i = 0, ntokens = 0;
    while (i < len) {
        if (!token_byte[p[i]]) {
            i += p[i] == '<' ? line_break_length(p + i, len - i) : 1;
            continue;
        }
        size_t start = i, end;
        while (i < len && token_byte[p[i]]) i++;
        end = i;
        while (start < end && p[start] == '\'') start++;
        while (end > start && p[end - 1] == '\'') end--;
        if (start == end) continue; /* only apostrophes */
        size_t n = end - start;
        if (n > NN_MAX_TOKEN_BYTES) {
            /* Cut before the UTF-8 sequence that would straddle the limit
             * (a lead byte is at most 3 bytes before the cut); invalid UTF-8
             * is simply cut at the limit. */
            size_t k = NN_MAX_TOKEN_BYTES;
            while (k > NN_MAX_TOKEN_BYTES - 3 && (p[start + k] & 0xC0) == 0x80) k--;
            n = (p[start + k] & 0xC0) == 0x80 ? NN_MAX_TOKEN_BYTES : k;
            while (p[start + n - 1] == '\'') n--; /* p[start] is not '\'' */
        }
        ntokens++;
        if (emit) {
            for (size_t k = 0; k < n; k++) word[k] = (char)token_byte[p[start + k]];
            emit(word, n, start, start + n, user);
        }
    }
    return ntokens;
}

typedef struct plain_emit { nn_token_fn emit; void *user; } plain_emit;

static void drop_span(const char *tok, size_t len, size_t start, size_t end, void *user) {
    (void)start;
    (void)end;
    plain_emit *pe = user;
    pe->emit(tok, len, pe->user);
}

size_t nn_tokenize(const char *text, size_t len, nn_token_fn emit, void *user) {
    plain_emit pe = {emit, user};
    return nn_tokenize_spans(text, len, emit ? drop_span : NULL, &pe);
}

/* ---------------------------------------------------------------- vocabulary */

/* FNV-1a, 32 bits (Fowler, Noll, Vo): simple, fast on short words and the same
 * natively and in wasm. */
static uint32_t fnv1a(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

int nn_vocab_index(nn_vocab *v, nn_error *err) {
    v->slots = NULL;
    v->nslots = 0;
    if (v->V == 0) return NN_OK; /* every lookup is NN_UNK */
    if (v->V > (1u << 30))
        return nn_fail(err, NN_ERR_ARG, "vocabulary of %u words is too large to index "
                       "(at most %u)", v->V, 1u << 30);
    uint32_t nslots = 16;
    while (nslots < 2 * v->V) nslots *= 2;
    uint32_t *slots = nn_calloc_array(nslots, sizeof *slots);
    if (!slots) return nn_fail(err, NN_ERR_NOMEM, "out of memory indexing %u words", v->V);
    uint32_t mask = nslots - 1;
    for (uint32_t id = 0; id < v->V; id++) {
        if (v->offset[id + 1] < v->offset[id]) {
            free(slots);
            return nn_fail(err, NN_ERR_FORMAT, "vocabulary word %u has a negative length "
                           "(offsets not increasing): the file is corrupt, rebuild it", id);
        }
        const char *w = v->bytes + v->offset[id];
        size_t n = v->offset[id + 1] - v->offset[id];
        uint32_t h = fnv1a(w, n) & mask;
        while (slots[h]) {
            uint32_t other = slots[h] - 1;
            if (v->offset[other + 1] - v->offset[other] == n &&
                memcmp(v->bytes + v->offset[other], w, n) == 0) {
                free(slots);
                return nn_fail(err, NN_ERR_FORMAT, "vocabulary has the word \"%.*s\" twice "
                               "(ids %u and %u): the file is corrupt, rebuild it",
                               (int)(n < 64 ? n : 64), w, other, id);
            }
            h = (h + 1) & mask;
        }
        slots[h] = id + 1;
    }
    v->slots = slots;
    v->nslots = nslots;
    return NN_OK;
}

void nn_vocab_free_index(nn_vocab *v) {
    free(v->slots);
    v->slots = NULL;
    v->nslots = 0;
}

uint32_t nn_vocab_lookup(const nn_vocab *v, const char *word, size_t len) {
    assert(v->V == 0 || v->slots); /* call nn_vocab_index first */
    if (v->nslots == 0) return NN_UNK;
    uint32_t mask = v->nslots - 1;
    uint32_t h = fnv1a(word, len) & mask;
    /* At most half the slots are used, so an empty slot ends every probe. */
    for (uint32_t s; (s = v->slots[h]) != 0; h = (h + 1) & mask) {
        uint32_t id = s - 1;
        if (v->offset[id + 1] - v->offset[id] == len &&
            memcmp(v->bytes + v->offset[id], word, len) == 0)
            return id;
    }
    return NN_UNK;
}

const char *nn_vocab_word(const nn_vocab *v, uint32_t id, size_t *len) {
    assert(id < v->V);
    if (len) *len = v->offset[id + 1] - v->offset[id];
    return v->bytes + v->offset[id];
}

typedef struct encode_state {
    const nn_vocab *v;
    uint32_t num_words;
    uint32_t *ids;
    size_t cap, n;
    const char *text;
    size_t len;
} encode_state;

/* The literal "[MASK]" (any case) is the masked-language model's [MASK],
 * id NN_UNUSED: the token "mask" right between '[' and ']'. */
static int is_mask_literal(const encode_state *e, const char *tok, size_t len, size_t start, size_t end) {
    return len == 4 && !memcmp(tok, "mask", 4) && end - start == 4 && start > 0 && end < e->len &&
           e->text[start - 1] == '[' && e->text[end] == ']';
}

static void encode_token(const char *tok, size_t len, size_t start, size_t end, void *user) {
    encode_state *e = user;
    if (e->n < e->cap) {
        uint32_t id = is_mask_literal(e, tok, len, start, end) ? NN_UNUSED : nn_vocab_lookup(e->v, tok, len);
        if (e->num_words && id >= e->num_words) id = NN_UNK;
        e->ids[e->n] = id;
    }
    e->n++;
}

size_t nn_encode_text(const nn_vocab *v, const char *text, size_t len,
                      uint32_t num_words, uint32_t *ids, size_t cap) {
    encode_state e = {v, num_words, ids, cap, 0, text, len};
    if (cap > 0) ids[0] = NN_START;
    e.n = 1;
    nn_tokenize_spans(text, len, encode_token, &e);
    return e.n;
}
