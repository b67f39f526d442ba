/* idx.c: see idx.h. The IDX format is Yann LeCun's (the MNIST page,
 * "FILE FORMATS FOR THE MNIST DATABASE"); Fashion-MNIST uses it unchanged. */
#include "idx.h"
#include "fileio.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

int nn_idx_parse(nn_idx *out, const uint8_t *buf, size_t len, uint32_t want_dims,
                 const char *file, nn_error *err) {
    memset(out, 0, sizeof *out);
    if (want_dims < 1 || want_dims > 3) return nn_fail(err, NN_ERR_ARG, "IDX: want_dims %u", want_dims);
    if (len < 4)
        return nn_fail(err, NN_ERR_FORMAT, "%s is truncated: %zu bytes, shorter than the IDX magic "
                       "number; reinstall the dataset (apt-get install --reinstall "
                       "dataset-fashion-mnist)", file, len);
    if (buf[0] != 0 || buf[1] != 0)
        return nn_fail(err, NN_ERR_FORMAT, "%s is not an IDX file: it starts with %02x %02x %02x "
                       "%02x, not 00 00 08 %02x", file, buf[0], buf[1], buf[2], buf[3], want_dims);
    if (buf[2] != 0x08)
        return nn_fail(err, NN_ERR_FORMAT, "%s holds IDX type 0x%02x, not unsigned bytes (0x08)",
                       file, buf[2]);
    if (buf[3] != want_dims)
        return nn_fail(err, NN_ERR_FORMAT, "%s has %u dimensions, expected %u (%s)", file, buf[3],
                       want_dims, want_dims == 1 ? "a labels file" : "an images file");
    size_t head = 4 + 4 * (size_t)want_dims;
    if (len < head)
        return nn_fail(err, NN_ERR_FORMAT, "%s is truncated: %zu bytes, shorter than its "
                       "%zu-byte IDX header", file, len, head);
    uint64_t count = 1;
    for (uint32_t d = 0; d < want_dims; d++) {
        out->dims[d] = be32(buf + 4 + 4 * d);
        if (out->dims[d] == 0)
            return nn_fail(err, NN_ERR_FORMAT, "%s says dimension %u has size 0", file, d);
        count *= out->dims[d]; /* three u32 sizes: at most 2^96, but checked each step */
        if (count > (uint64_t)1 << 40)
            return nn_fail(err, NN_ERR_FORMAT, "%s says it holds more than 2^40 values: corrupt",
                           file);
    }
    if (len - head < count)
        return nn_fail(err, NN_ERR_FORMAT, "%s is truncated: its header says %llu values but only "
                       "%zu bytes follow; reinstall the dataset", file, (unsigned long long)count,
                       len - head);
    if (len - head > count)
        return nn_fail(err, NN_ERR_FORMAT, "%s has %llu bytes after its %llu values: corrupt or "
                       "not an IDX file", file, (unsigned long long)(len - head - count),
                       (unsigned long long)count);
    out->ndims = want_dims;
    out->data = buf + head;
    out->count = (size_t)count;
    return NN_OK;
}

int nn_gunzip(const uint8_t *gz, size_t gzlen, size_t max_out, uint8_t **out, size_t *out_len,
              const char *file, nn_error *err) {
    *out = NULL;
    *out_len = 0;
    if (gzlen < 2 || gz[0] != 0x1f || gz[1] != 0x8b)
        return nn_fail(err, NN_ERR_FORMAT, "%s is not a gzip file (it does not start with 1f 8b)",
                       file);
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
        return nn_fail(err, NN_ERR_NOMEM, "out of memory starting zlib for %s", file);
    size_t cap = nn_size_add_sat(nn_size_mul_sat(gzlen, 4), 1024), n = 0;
    if (cap > max_out) cap = max_out ? max_out : 1;
    uint8_t *buf = malloc(cap);
    int rc = NN_OK, zr = Z_OK;
    z.next_in = (Bytef *)(uintptr_t)gz;
    while (rc == NN_OK && zr != Z_STREAM_END) {
        if (n == cap) {
            size_t more = nn_size_mul_sat(cap, 2) > max_out ? max_out : cap * 2;
            uint8_t *grown = more > cap ? realloc(buf, more) : NULL;
            if (!grown) {
                rc = more > cap ? nn_fail(err, NN_ERR_NOMEM, "out of memory decompressing %s", file)
                                : nn_fail(err, NN_ERR_FORMAT, "%s decompresses to more than %zu "
                                          "bytes: not a Fashion-MNIST file", file, max_out);
                break;
            }
            buf = grown;
            cap = more;
        }
        if (!buf) {
            rc = nn_fail(err, NN_ERR_NOMEM, "out of memory decompressing %s", file);
            break;
        }
        /* zlib counts in uInt: feed at most 1 GB of either side per call. */
        size_t in_left = gzlen - (size_t)((const uint8_t *)z.next_in - gz);
        z.avail_in = (uInt)(in_left < (1u << 30) ? in_left : (1u << 30));
        z.next_out = buf + n;
        z.avail_out = (uInt)(cap - n < (1u << 30) ? cap - n : (1u << 30));
        uInt before = z.avail_out;
        zr = inflate(&z, Z_NO_FLUSH);
        n += before - z.avail_out;
        if (zr == Z_DATA_ERROR)
            rc = nn_fail(err, NN_ERR_FORMAT, "%s is corrupt: %s; reinstall the dataset "
                         "(apt-get install --reinstall dataset-fashion-mnist)", file,
                         z.msg ? z.msg : "bad compressed data");
        else if (zr == Z_MEM_ERROR)
            rc = nn_fail(err, NN_ERR_NOMEM, "out of memory decompressing %s", file);
        else if (zr == Z_BUF_ERROR && z.avail_in == 0 && z.avail_out > 0)
            rc = nn_fail(err, NN_ERR_FORMAT, "%s is truncated: the gzip stream ends after %zu of "
                         "its bytes without its end marker; reinstall the dataset", file, gzlen);
        else if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
            rc = nn_fail(err, NN_ERR_FORMAT, "%s: zlib error %d", file, zr);
    }
    if (rc == NN_OK && z.avail_in != 0)
        rc = nn_fail(err, NN_ERR_FORMAT, "%s has %u bytes after the end of its gzip data: "
                     "corrupt (or several files joined)", file, z.avail_in);
    inflateEnd(&z);
    if (rc != NN_OK) {
        free(buf);
        return rc;
    }
    *out = buf;
    *out_len = n;
    return NN_OK;
}

int nn_idx_read_gz(const char *path, uint32_t want_dims, nn_idx *out, uint8_t **buf, nn_error *err) {
    uint8_t *gz = NULL;
    size_t gzlen = 0;
    *buf = NULL;
    int rc = nn_read_file(path, &gz, &gzlen, err);
    if (rc) return rc;
    size_t len = 0;
    rc = nn_gunzip(gz, gzlen, (size_t)1 << 31, buf, &len, path, err);
    free(gz);
    if (rc) return rc;
    rc = nn_idx_parse(out, *buf, len, want_dims, path, err);
    if (rc) {
        free(*buf);
        *buf = NULL;
    }
    return rc;
}
