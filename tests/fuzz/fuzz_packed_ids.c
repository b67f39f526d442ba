/* fuzz_packed_ids.c: libFuzzer target for the token-id coder
 * (engine/packed_ids.c, transform 3 of the site's packed files).
 *
 * Each input is used twice, each time with a fresh model (three models made
 * once and reset per input: creating 22 MB three times an input made the
 * fuzzer ten times slower):
 * - as a coded block: byte 0 and 1 give the number of ids to decode
 *   (0..NN_IDS_BLOCK), the rest is the block. The decoder must return a
 *   status, write only its n ids (a canary follows them) and give ids below
 *   NN_IDS_LIMIT; ASan checks every read stays inside the input;
 * - as ids: the bytes as 15-bit ids, coded in blocks of up to 700 (so the
 *   model carries over), decoded again and compared.
 *
 * Not covered: the container around the blocks (web/worker/packed.js, whose
 * tests are tests/scripts/packed.test.mjs). */
#include "fuzz_common.h"
#include "packed_ids.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    size_t n = ((size_t)data[0] | (size_t)data[1] << 8) % 4097;
    static nn_ids_model *m, *enc, *dec;
    if (!m) {
        m = nn_ids_model_create();
        enc = nn_ids_model_create();
        dec = nn_ids_model_create();
        FUZZ_REQUIRE(m && enc && dec, "out of memory");
    }
    nn_ids_model_reset(m);
    uint16_t *out = malloc((n + 1) * sizeof *out);
    FUZZ_REQUIRE(out, "out of memory");
    out[n] = 0xBEEF;
    /* An exact-size copy, so ASan sees a read one byte past the block. */
    uint8_t *block = malloc(size - 2 ? size - 2 : 1);
    memcpy(block, data + 2, size - 2);
    int rc = nn_ids_decode_block(m, block, size - 2, out, n);
    FUZZ_REQUIRE(rc == NN_IDS_OK || rc == NN_IDS_CORRUPT, "decode returned %d", rc);
    FUZZ_REQUIRE(out[n] == 0xBEEF, "the decoder wrote past its %zu ids", n);
    for (size_t i = 0; rc == NN_IDS_OK && i < n; i++) FUZZ_REQUIRE(out[i] < NN_IDS_LIMIT, "id %u", out[i]);
    free(block);
    free(out);

    /* Round trip of the bytes as ids. */
    size_t nid = size / 2;
    uint16_t *ids = malloc((nid + 1) * sizeof *ids), *back = malloc((nid + 1) * sizeof *back);
    uint8_t *coded = malloc(nn_ids_block_bound(700));
    nn_ids_model_reset(enc);
    nn_ids_model_reset(dec);
    FUZZ_REQUIRE(ids && back && coded, "out of memory");
    for (size_t i = 0; i < nid; i++) ids[i] = (uint16_t)((data[2 * i] | data[2 * i + 1] << 8) & 0x7fff);
    for (size_t at = 0; at < nid; at += 700) {
        size_t k = nid - at < 700 ? nid - at : 700, len = 0;
        FUZZ_REQUIRE(nn_ids_encode_block(enc, ids + at, k, coded, &len) == NN_IDS_OK, "encode refused");
        FUZZ_REQUIRE(len <= nn_ids_block_bound(k), "block of %zu bytes over its bound", len);
        FUZZ_REQUIRE(nn_ids_decode_block(dec, coded, len, back + at, k) == NN_IDS_OK, "decode of a good block failed");
        FUZZ_REQUIRE(memcmp(back + at, ids + at, k * 2) == 0, "decoded ids differ at block %zu", at / 700);
    }
    free(coded);
    free(back);
    free(ids);
    return 0;
}
