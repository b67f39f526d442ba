/* idx.h: the IDX files of (Fashion-)MNIST, gzip-compressed, for the native
 * tools (fashion_build_shard). The engine never reads them: it reads the
 * image shard they are turned into (engine/image_shard.c). */
#ifndef NN_IDX_H
#define NN_IDX_H
#include "nn.h"

/* An IDX array of unsigned bytes (type code 0x08): the big-endian magic
 * 0x00 0x00 0x08 ndims, ndims big-endian u32 sizes, then the values. */
typedef struct nn_idx {
    uint32_t ndims;         /* 1 (labels) or 3 (images) */
    uint32_t dims[3];
    const uint8_t *data;    /* (dims[0] * ... ) values, pointing into the buffer */
    size_t count;           /* number of values */
} nn_idx;

/* Parses an IDX file already decompressed in buf[0..len); want_dims is the
 * number of dimensions expected. Errors (NN_ERR_FORMAT) name `file`: a bad
 * magic, another type or dimension count, a zero size, a file shorter
 * (truncated) or longer than its sizes say. */
int nn_idx_parse(nn_idx *out, const uint8_t *buf, size_t len, uint32_t want_dims,
                 const char *file, nn_error *err);

/* Decompresses gzip data gz[0..gzlen) (one member) into a malloc'd *out of
 * *out_len bytes (at most max_out). A truncated stream, a corrupt one (bad
 * deflate data or CRC-32) or data after the end are NN_ERR_FORMAT naming
 * `file`; data that is not gzip at all too. */
int nn_gunzip(const uint8_t *gz, size_t gzlen, size_t max_out, uint8_t **out, size_t *out_len,
              const char *file, nn_error *err);

/* Reads path (gzip), decompresses and parses it: *buf must be freed after
 * use of *out. */
int nn_idx_read_gz(const char *path, uint32_t want_dims, nn_idx *out, uint8_t **buf, nn_error *err);
#endif
