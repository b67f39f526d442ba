/* test_packed_ids.c: the token-id coder of engine/packed_ids.c.
 * - made-up sentences, random ids (0 and 32,767 included), one id and no id
 *   at all round-trip exactly, over several blocks (the model carries over);
 * - made-up sentences take fewer bits than random ids (the model learns);
 * - the encoder refuses an id of 32,768 and a block over NN_IDS_BLOCK;
 * - a block cut at every byte, and every single bit flipped, is refused or
 *   decodes to other ids (what the packed file's CRC-32 then catches), never
 *   reading or writing out of bounds (run it under ASan:
 *   scripts/test-sanitizers.sh) and never crashing.
 * No review text: the sentences are written here. */
#include "check.h"
#include "nn.h"
#include "packed_ids.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint32_t rng_state = 2463534242u;
static uint32_t next_rand(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* Ids of made-up sentences from a small grammar: 1 (<START>) then words. */
static size_t sentences(uint16_t *ids, size_t n) {
    static const uint16_t subject[] = {4, 9, 17, 230, 5120};
    static const uint16_t verb[] = {12, 40, 41, 300, 7000};
    static const uint16_t object[] = {8, 13, 77, 1999, 32767, 31000};
    size_t k = 0;
    while (k + 8 <= n) {
        ids[k++] = 1;
        ids[k++] = subject[next_rand() % 5];
        ids[k++] = verb[next_rand() % 5];
        ids[k++] = 6; /* "the" */
        ids[k++] = object[next_rand() % 6];
        if (next_rand() % 3 == 0) ids[k++] = (uint16_t)(next_rand() % 32768);
        ids[k++] = 3; /* "." */
    }
    while (k < n) ids[k++] = 2;
    return n;
}

/* Encodes ids in blocks of `block`, decodes them with a fresh model; returns
 * the coded bytes, or 0 with a FAIL line when anything differs. */
static size_t round_trip(const char *what, const uint16_t *ids, size_t n, size_t block) {
    nn_ids_model *enc = nn_ids_model_create(), *dec = nn_ids_model_create();
    uint8_t *buf = malloc(nn_ids_block_bound(block));
    uint16_t *back = malloc((block + 1) * 2);
    size_t total = 0;
    int ok = enc && dec && buf && back;
    for (size_t at = 0; ok && (at < n || (n == 0 && at == 0)); at += block) {
        size_t m = n - at < block ? n - at : block, len = 0;
        back[m] = 0xBEEF; /* a canary past the block */
        ok = nn_ids_encode_block(enc, ids + at, m, buf, &len) == NN_IDS_OK && len <= nn_ids_block_bound(m) &&
             nn_ids_decode_block(dec, buf, len, back, m) == NN_IDS_OK &&
             memcmp(back, ids + at, m * 2) == 0 && back[m] == 0xBEEF;
        total += len;
        if (n == 0) break;
    }
    check(ok, "packed_ids %s: %zu ids in blocks of %zu round-trip (%zu bytes, %.2f bits per id)", what, n, block,
          total, n ? 8.0 * total / n : 0.0);
    nn_ids_model_free(enc);
    nn_ids_model_free(dec);
    free(buf);
    free(back);
    return ok ? total : 0;
}

/* Decodes every damaged copy of one coded block (cut at every byte; each bit
 * flipped), each with a fresh model; counts how each ends. The canary after
 * the output and ASan catch any write or read out of bounds. */
static void damaged(const uint16_t *ids, size_t n) {
    nn_ids_model *m = nn_ids_model_create();
    size_t len = 0;
    uint8_t *good = malloc(nn_ids_block_bound(n));
    uint16_t *back = malloc((n + 1) * 2);
    if (!m || !good || !back || nn_ids_encode_block(m, ids, n, good, &len) != NN_IDS_OK) {
        check(0, "packed_ids damaged: setting up");
        return;
    }
    int refused = 0, other = 0, same = 0, canary = 1;
    for (size_t cut = 0; cut < len; cut++) {
        nn_ids_model_reset(m);
        uint8_t *part = malloc(cut ? cut : 1); /* exactly cut bytes, so ASan sees a read past them */
        memcpy(part, good, cut);
        back[n] = 0xBEEF;
        int rc = nn_ids_decode_block(m, part, cut, back, n);
        canary &= back[n] == 0xBEEF;
        if (rc != NN_IDS_OK) refused++;
        else if (memcmp(back, ids, n * 2)) other++;
        else same++;
        free(part);
    }
    check(same == 0 && canary, "packed_ids a block cut at each of its %zu bytes: %d refused, %d decoded to other ids, "
          "%d to the same ids (must be 0), canary intact", len, refused, other, same);
    refused = other = same = 0;
    uint8_t *flipped = malloc(len);
    for (size_t bit = 0; bit < 8 * len; bit++) {
        nn_ids_model_reset(m);
        memcpy(flipped, good, len);
        flipped[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        back[n] = 0xBEEF;
        int rc = nn_ids_decode_block(m, flipped, len, back, n);
        canary &= back[n] == 0xBEEF;
        for (size_t i = 0; rc == NN_IDS_OK && i < n; i++) canary &= back[i] < NN_IDS_LIMIT;
        if (rc != NN_IDS_OK) refused++;
        else if (memcmp(back, ids, n * 2)) other++;
        else same++;
    }
    /* A flip in the last flush bytes may leave the ids as they were (the
     * coder needs only part of the final range): the CRC-32 of the packed
     * file is what proves the bytes; here what matters is no crash. */
    check(canary && refused + other > 0, "packed_ids each of a block's %zu bits flipped: %d refused, %d decoded to other ids, "
          "%d to the same ids; every id below 32,768, canary intact", 8 * len, refused, other, same);
    free(flipped);
    free(good);
    free(back);
    nn_ids_model_free(m);
}

int main(void) {
    enum { N = 200000 };
    uint16_t *ids = malloc(N * sizeof *ids);
    if (!ids) return 1;

    sentences(ids, N);
    size_t sentence_bytes = round_trip("made-up sentences", ids, N, NN_IDS_BLOCK);
    round_trip("made-up sentences, small blocks", ids, 5000, 333);

    uint16_t *random_ids = malloc(N * sizeof *random_ids);
    for (size_t i = 0; i < N; i++) random_ids[i] = (uint16_t)(next_rand() % 32768);
    random_ids[0] = 0;
    random_ids[1] = 32767;
    random_ids[N / 2] = 32767;
    size_t random_bytes = round_trip("random ids", random_ids, N, NN_IDS_BLOCK);
    check(sentence_bytes > 0 && random_bytes > 0 && sentence_bytes * 3 < random_bytes,
          "packed_ids the model learns: made-up sentences take %zu bytes, random ids %zu (at least 3x)",
          sentence_bytes, random_bytes);
    check(random_bytes <= (size_t)N * 2 * 105 / 100,
          "packed_ids random ids cost at most 5%% over their 15 bits: %zu bytes for %d ids", random_bytes, N);

    uint16_t one = 32767, zero = 0;
    round_trip("one id (32767)", &one, 1, NN_IDS_BLOCK);
    round_trip("one id (0)", &zero, 1, NN_IDS_BLOCK);
    round_trip("no ids", ids, 0, NN_IDS_BLOCK);
    /* The same id again and again (counts that saturate and halve). */
    uint16_t *same = malloc(N * sizeof *same);
    for (size_t i = 0; i < N; i++) same[i] = 7;
    round_trip("one id repeated", same, N, NN_IDS_BLOCK);
    for (size_t i = 0; i < N; i++) same[i] = (uint16_t)(i % 3000); /* long lists of successors */
    round_trip("a cycle of 3000 ids", same, N, NN_IDS_BLOCK);
    /* A frequent id (5) followed by 2,100 others in turn: its list fills
     * (2,048 successors) and ranks reach the longest bit length. */
    for (size_t i = 0; i < N; i++) same[i] = i % 2 ? (uint16_t)(100 + (i / 2) % 2100) : 5;
    round_trip("id 5 followed by 2,100 others in turn", same, N, NN_IDS_BLOCK);

    nn_ids_model *m = nn_ids_model_create();
    uint8_t *buf = malloc(nn_ids_block_bound(NN_IDS_BLOCK + 1));
    size_t len = 99;
    uint16_t bad[3] = {5, 32768, 6};
    check(nn_ids_encode_block(m, bad, 3, buf, &len) == NN_IDS_BAD_ARG && len == 0,
          "packed_ids the encoder refuses id 32768");
    check(nn_ids_encode_block(m, ids, NN_IDS_BLOCK + 1, buf, &len) == NN_IDS_BAD_ARG,
          "packed_ids the encoder refuses a block of NN_IDS_BLOCK + 1 ids");
    check(nn_ids_decode_block(m, buf, 0, same, NN_IDS_BLOCK + 1) == NN_IDS_BAD_ARG,
          "packed_ids the decoder refuses a block of NN_IDS_BLOCK + 1 ids");
    uint8_t trailing[64] = {0};
    check(nn_ids_decode_block(m, trailing, sizeof trailing, same, 0) == NN_IDS_CORRUPT,
          "packed_ids 64 bytes that should hold no ids are refused");
    nn_ids_model_free(m);
    free(buf);

    damaged(ids, 600);
    damaged(random_ids, 150);

    free(same);
    free(random_ids);
    free(ids);
    return check_exit_code();
}
