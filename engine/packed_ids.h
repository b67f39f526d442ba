/* packed_ids.h: a compressor of token ids (16-bit words below 32,768) that
 * predicts each id from the two before it: the coder behind transform 3 of
 * the site's packed files (web/worker/packed.js, scripts/pack-shard.mjs).
 *
 * The ids are coded in blocks of up to NN_IDS_BLOCK ids. The model (what
 * followed which words so far) carries over from block to block, the
 * arithmetic coder restarts in each, so a block decodes as soon as its bytes
 * have arrived and a reader checks each block's length before it trusts it.
 * Encoder and decoder must see the same blocks in the same order, starting
 * from a fresh model.
 *
 * All arithmetic is integer: the native encoder and the wasm decoder agree
 * bit for bit. The model holds nn_ids_model_bytes() (22 MB) and allocates
 * nothing after it is created.
 *
 * Deliberately not here: the packed file's header, CRC-32 and the parts of a
 * shard that are not token ids (packed_file in scripts/pack-shard.mjs and
 * web/worker/packed.js put those together); any knowledge of what an id
 * means. */
#ifndef NN_PACKED_IDS_H
#define NN_PACKED_IDS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NN_IDS_LIMIT 32768u  /* ids must be below this */
#define NN_IDS_BLOCK 65536u  /* ids per block, at most */

/* Status codes (the encoder's only failures are a bad id, the caller's to
 * avoid, and a block over its bound, which no input is known to give). */
enum {
    NN_IDS_OK = 0,
    NN_IDS_CORRUPT = 1,   /* the block's bytes do not decode to n ids exactly */
    NN_IDS_BAD_ARG = 2,   /* n above NN_IDS_BLOCK, or an id >= NN_IDS_LIMIT given to the encoder */
    NN_IDS_TOO_BIG = 3    /* the encoder's block would pass nn_ids_block_bound(n): nothing valid written */
};

typedef struct nn_ids_model nn_ids_model;

/* A fresh model (NULL if out of memory); free with nn_ids_model_free. */
nn_ids_model *nn_ids_model_create(void);
void nn_ids_model_free(nn_ids_model *m);
/* Makes m fresh again (cheaper than freeing and creating one). */
void nn_ids_model_reset(nn_ids_model *m);
/* Bytes a model holds (for budgets). */
size_t nn_ids_model_bytes(void);

/* The most bytes a block of n ids can take: a buffer of this size never
 * overflows. */
size_t nn_ids_block_bound(size_t n);

/* Encodes ids[0..n) (n <= NN_IDS_BLOCK, each < NN_IDS_LIMIT) into out, which
 * holds nn_ids_block_bound(n) bytes (never written past); *out_len is what
 * it wrote. Returns NN_IDS_OK, NN_IDS_BAD_ARG (nothing coded, the model
 * unchanged) or NN_IDS_TOO_BIG (the model has learnt the block: start
 * again from a fresh one). */
int nn_ids_encode_block(nn_ids_model *m, const uint16_t *ids, size_t n, uint8_t *out, size_t *out_len);

/* Decodes one block of n ids from in[0..len) into out[0..n). Never reads or
 * writes outside those ranges, whatever the bytes. Returns NN_IDS_OK, or
 * NN_IDS_CORRUPT when the bytes run out early or are not all used (the
 * model is then unusable: start again from a fresh one). */
int nn_ids_decode_block(nn_ids_model *m, const uint8_t *in, size_t len, uint16_t *out, size_t n);

#ifdef __cplusplus
}
#endif
#endif
