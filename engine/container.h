/* container.h: what the engine's two binary dataset formats share (the text
 * shard, shard.c, and the image shard, image_shard.c; datasets/README.md):
 * little-endian fields, the 64-byte header's payload length and CRC-32s at
 * the same offsets, zero padding to 4 bytes, and a read cursor that checks
 * every array against the bytes that remain before a pointer is formed.
 * Internal to the engine, not part of nn.h. */
#ifndef NN_CONTAINER_H
#define NN_CONTAINER_H
#include "nn.h"

/* Header fields both formats keep at the same offsets. */
enum {
    NN_CONTAINER_HEADER = 64,       /* header bytes */
    NN_CONTAINER_PAYLOAD_LEN = 40,  /* u64 bytes after the header */
    NN_CONTAINER_PAYLOAD_CRC = 48,  /* u32 CRC-32 of the payload */
    NN_CONTAINER_HEADER_CRC = 60    /* u32 CRC-32 of header bytes 0..59 */
};

static inline uint32_t nn_rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t nn_rd64(const uint8_t *p) { return nn_rd32(p) | (uint64_t)nn_rd32(p + 4) << 32; }
static inline void nn_wr32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}
static inline void nn_wr64(uint8_t *p, uint64_t v) { nn_wr32(p, (uint32_t)v), nn_wr32(p + 4, (uint32_t)(v >> 32)); }
static inline uint64_t nn_pad4(uint64_t n) { return (n + 3) & ~(uint64_t)3; }

/* A read position in a payload. kind ("shard", "image shard") starts every
 * message; rebuild ends it ("rebuild it with ..."). */
typedef struct nn_cursor {
    const uint8_t *buf;
    size_t pos, end;
    const char *kind, *rebuild;
} nn_cursor;

/* Takes an array of count elements of size bytes (count < 2^33, size <= 16,
 * so no overflow) and its zero padding to a multiple of 4, if that many
 * bytes remain: NN_ERR_FORMAT naming `what` otherwise, or for non-zero
 * padding. */
int nn_cursor_take(nn_cursor *c, uint64_t count, uint32_t size, const void **out, const char *what,
                   nn_error *err);

/* The header checksum, then the payload length against the len bytes of the
 * file (shorter: truncated; longer: bytes after the end), then the payload
 * checksum. */
int nn_container_check_header_crc(const uint8_t *buf, const char *kind, const char *rebuild, nn_error *err);
int nn_container_check_payload(const uint8_t *buf, size_t len, const char *kind, const char *rebuild,
                               nn_error *err);

/* Writes the payload length and both CRC-32s of a header whose other fields
 * are filled (the payload follows it in buf). */
void nn_container_seal(uint8_t *buf, uint64_t payload);

/* Copies bytes to p and returns p moved past them and their padding (the
 * buffer is zeroed, so the padding is zero). */
uint8_t *nn_container_put(uint8_t *p, const void *data, uint64_t bytes);
#endif
