/* synthetic.h: a tiny in-memory shard of made-up reviews for learning tests.
 * Word ids 4..4+K-1 lean positive, the next K lean negative, the rest are
 * neutral filler; each review mixes filler with a few words of its class
 * (and, with probability `noise`, one word of the other class).
 * synthetic_make_classes makes C classes the same way (review i has class
 * i % C; class c's words are block C-1-c of K ids, its noise words those of
 * class c+1 mod C); with C = 2 it is exactly synthetic_make. */
#ifndef SYNTHETIC_H
#define SYNTHETIC_H
#include "nn.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct synthetic {
    nn_shard shard;
    uint32_t counts[64], offsets[65];
    char bytes[64 * 8];
    uint8_t *labels[2], *ratings[2];
    uint32_t *ids[2], *offs[2];
    uint16_t *tokens[2];
} synthetic;

static void synthetic_split(synthetic *s, int k, const char *name, uint32_t n, uint64_t seed, uint32_t C) {
    nn_rng r;
    nn_rng_seed(&r, seed);
    enum { K = 6, V = 64, MAXLEN = 30 };
    if (C < 2 || 4 + C * K >= V) abort(); /* at most 9 classes of K words */
    s->labels[k] = malloc(n);
    s->ratings[k] = malloc(n);
    s->ids[k] = malloc(n * sizeof(uint32_t));
    s->offs[k] = malloc((n + 1) * sizeof(uint32_t));
    s->tokens[k] = malloc((size_t)n * MAXLEN * sizeof(uint16_t));
    uint32_t at = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t label = i % C;
        s->labels[k][i] = (uint8_t)label;
        s->ratings[k][i] = C == 2 ? (label ? 8 : 2) : (uint8_t)(label + 1);
        s->ids[k][i] = i;
        s->offs[k][i] = at;
        uint32_t len = 10 + nn_rng_below(&r, MAXLEN - 10);
        s->tokens[k][at++] = NN_START;
        for (uint32_t t = 1; t < len; t++) {
            uint32_t u = nn_rng_below(&r, 10), id;
            if (u < 4) id = 4 + (C - 1 - label) * K + nn_rng_below(&r, K);                /* class word */
            else if (u < 5) id = 4 + (C - 1 - (label + 1) % C) * K + nn_rng_below(&r, K); /* noise */
            else id = 4 + C * K + nn_rng_below(&r, V - 4 - C * K);                        /* filler */
            s->tokens[k][at++] = (uint16_t)id;
        }
    }
    s->offs[k][n] = at;
    nn_split *sp = &s->shard.split[k];
    snprintf(sp->name, sizeof sp->name, "%s", name);
    sp->n = n;
    sp->label = s->labels[k];
    sp->rating = s->ratings[k];
    sp->review_id = s->ids[k];
    sp->offset = s->offs[k];
    sp->tokens = s->tokens[k];
}

static void synthetic_make_classes(synthetic *s, uint32_t ntrain, uint32_t ntest, uint32_t C) {
    memset(s, 0, sizeof *s);
    uint32_t at = 0;
    for (uint32_t i = 0; i < 64; i++) {
        s->offsets[i] = at;
        at += (uint32_t)sprintf(s->bytes + at, "w%u", i);
        s->counts[i] = i < 4 ? 0 : 1000 - i;
    }
    s->offsets[64] = at;
    s->shard.version = NN_SHARD_VERSION;
    s->shard.tokenizer_version = NN_TOKENIZER_VERSION;
    s->shard.max_tokens = NN_SHARD_MAX_TOKENS;
    s->shard.vocab.V = 64;
    s->shard.vocab.count = s->counts;
    s->shard.vocab.offset = s->offsets;
    s->shard.vocab.bytes = s->bytes;
    s->shard.classes = C;
    s->shard.nsplits = 2;
    synthetic_split(s, 0, "train", ntrain, 7, C);
    synthetic_split(s, 1, "test", ntest, 8, C);
}

static void synthetic_make(synthetic *s, uint32_t ntrain, uint32_t ntest) {
    synthetic_make_classes(s, ntrain, ntest, 2);
}

static void synthetic_free(synthetic *s) {
    for (int k = 0; k < 2; k++) {
        free(s->labels[k]);
        free(s->ratings[k]);
        free(s->ids[k]);
        free(s->offs[k]);
        free(s->tokens[k]);
    }
}
#endif
