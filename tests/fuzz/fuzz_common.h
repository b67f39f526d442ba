/* fuzz_common.h: what the libFuzzer targets in tests/fuzz/ share.
 *
 * FUZZ_REQUIRE states an invariant: when it does not hold, the input is
 * printed as a failure and the process aborts, which libFuzzer records as a
 * crash (and tests/test_fuzz_regressions.c as a failed replay). Also here:
 * a small fixed vocabulary, and the checksum repairs that let mutated shards
 * and checkpoints get past their CRC-32 checks into the structure parsers.
 *
 * Not here: anything that reads files; the harnesses get bytes from
 * libFuzzer, or from the regression test's arrays. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H
#include "nn.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_REQUIRE(cond, ...)                                                       \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "FAIL fuzz invariant %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                             \
            fprintf(stderr, "\n");                                                    \
            abort();                                                                  \
        }                                                                             \
    } while (0)

static inline uint32_t fuzz_rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t fuzz_rd64(const uint8_t *p) {
    return fuzz_rd32(p) | (uint64_t)fuzz_rd32(p + 4) << 32;
}
static inline void fuzz_wr32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void fuzz_wr64(uint8_t *p, uint64_t v) {
    fuzz_wr32(p, (uint32_t)v);
    fuzz_wr32(p + 4, (uint32_t)(v >> 32));
}

/* ------------------------------------------------------ a small vocabulary */

/* Specials, plain words, an apostrophe word, UTF-8 words, a word of exactly
 * NN_MAX_TOKEN_BYTES bytes and a word that is not UTF-8. */
static const char *const FUZZ_WORDS[] = {
    "<PAD>", "<START>", "<UNK>", "<UNUSED>", "the", "a", "film", "good", "bad", "not",
    "don't", "it's", "caf\xc3\xa9", "na\xc3\xafve", "\xf0\x9f\x98\x80", "br", "1990s", "x",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 64 bytes */
    "ab\xff\xfe\x63\x64", /* "ab", two non-UTF-8 bytes, "cd" */
};
#define FUZZ_NWORDS ((uint32_t)(sizeof FUZZ_WORDS / sizeof FUZZ_WORDS[0]))

typedef struct fuzz_vocab {
    nn_vocab v;
    uint32_t count[FUZZ_NWORDS];
    uint32_t offset[FUZZ_NWORDS + 1];
    char bytes[512];
} fuzz_vocab;

/* Fills f (not indexed: call nn_vocab_index when lookups are needed). */
static inline void fuzz_vocab_fill(fuzz_vocab *f) {
    memset(f, 0, sizeof *f);
    uint32_t at = 0;
    for (uint32_t i = 0; i < FUZZ_NWORDS; i++) {
        size_t n = strlen(FUZZ_WORDS[i]);
        f->offset[i] = at;
        memcpy(f->bytes + at, FUZZ_WORDS[i], n);
        at += (uint32_t)n;
        f->count[i] = i < NN_FIRST_WORD ? 0 : 1000 - i;
    }
    f->offset[FUZZ_NWORDS] = at;
    f->v.V = FUZZ_NWORDS;
    f->v.count = f->count;
    f->v.offset = f->offset;
    f->v.bytes = f->bytes;
}

/* ------------------------------------------------------ checksum repairs
 *
 * Without these, almost every mutation would stop at a CRC mismatch and the
 * fuzzer would never reach the parsers behind it. Each harness parses the
 * input as it is AND a repaired copy, so both paths stay covered. The
 * offsets are those of the formats documented in engine/shard.c and
 * engine/checkpoint.c. */

static inline uint64_t fuzz_pad4(uint64_t n) { return (n + 3) & ~(uint64_t)3; }

/* A shard: payload length = the bytes after the 64-byte header; the
 * vocabulary CRC when its extent can be worked out; payload and header CRC. */
static inline void fuzz_fix_shard(uint8_t *buf, size_t len) {
    if (len < 64) return;
    uint64_t payload = len - 64;
    fuzz_wr64(buf + 40, payload);
    uint32_t V = fuzz_rd32(buf + 24);
    if (V >= NN_FIRST_WORD && V <= 65536) {
        uint64_t counts = 4 * (uint64_t)V, offsets = 4 * ((uint64_t)V + 1);
        if (counts + offsets <= payload) {
            uint32_t nbytes = fuzz_rd32(buf + 64 + counts + 4 * (uint64_t)V);
            uint64_t vocab = counts + offsets + fuzz_pad4(nbytes);
            if (vocab <= payload) fuzz_wr32(buf + 28, nn_crc32(0, buf + 64, (size_t)vocab));
        }
    }
    fuzz_wr32(buf + 48, nn_crc32(0, buf + 64, (size_t)payload));
    fuzz_wr32(buf + 60, nn_crc32(0, buf, 60));
}

/* A checkpoint: blob length = the bytes after the JSON; the CRC. */
static inline void fuzz_fix_checkpoint(uint8_t *buf, size_t len) {
    if (len < 32) return;
    uint64_t body = len - 32, json_len = fuzz_rd32(buf + 12);
    if (json_len > body) return;
    fuzz_wr64(buf + 16, body - json_len);
    fuzz_wr32(buf + 24, nn_crc32(0, buf + 32, (size_t)body));
}

/* steps training batches and the test evaluation on a trainer made from
 * fuzzed input: running must succeed or report divergence, never crash.
 * Frees t. fuzz_train_briefly: two batches. */
static inline void fuzz_train_steps(nn_trainer *t, uint32_t steps) {
    nn_error err = {0};
    nn_progress p;
    int rc = nn_trainer_run(t, steps, &p, &err);
    FUZZ_REQUIRE(rc == NN_OK || rc == NN_ERR_DIVERGED, "trainer_run: %d %s", rc, err.msg);
    float loss, acc;
    if (nn_trainer_count(t, "test") > 0) nn_trainer_evaluate(t, "test", &loss, &acc, &err);
    nn_trainer_free(t);
}
static inline void fuzz_train_briefly(nn_trainer *t) { fuzz_train_steps(t, 2); }

/* A malloc'd copy of data (so the copy is exactly len bytes for ASan, and
 * malloc-aligned); NULL only when out of memory. */
static inline uint8_t *fuzz_copy(const uint8_t *data, size_t len) {
    uint8_t *p = malloc(len ? len : 1);
    if (p && len) memcpy(p, data, len);
    return p;
}
#endif
