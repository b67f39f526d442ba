/* image_shard.c: the image shard format (datasets/README.md, "Image shard
 * format"), the sibling of the text shard in shard.c with the same header
 * discipline: magic, version, header size, payload length, CRC-32 of the
 * payload and of the header.
 *
 * Parsed in place like the text shard: nn_image_shard points into the
 * caller's buffer (the page fetches the file into wasm memory). Every count
 * is checked against the bytes that remain, in 64-bit arithmetic, before a
 * pointer is formed from it; any input gives a status, never a crash.
 *
 * Deliberately not here: the IDX files of (Fashion-)MNIST (the native tool
 * engine/cli/fashion_build_shard.c reads them) and any text. */
#include "nn.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Header layout, version 1 (all little-endian). */
#define HEADER_BYTES 64
enum {
    H_MAGIC = 0,        /* 8 bytes "NNIMAGE1" */
    H_VERSION = 8,      /* u32 NN_IMAGE_VERSION */
    H_HEADER_SIZE = 12, /* u32 64 */
    H_HEIGHT = 16,      /* u32 */
    H_WIDTH = 20,       /* u32 */
    H_CHANNELS = 24,    /* u32 */
    H_CLASSES = 28,     /* u32 */
    H_NSPLITS = 32,     /* u32 */
    H_RESERVED0 = 36,   /* u32 zero */
    H_PAYLOAD_LEN = 40, /* u64 bytes after the header */
    H_PAYLOAD_CRC = 48, /* u32 CRC-32 of the payload */
    H_RESERVED1 = 52,   /* 8 bytes zero */
    H_HEADER_CRC = 60   /* u32 CRC-32 of header bytes 0..59 */
};

#define REBUILD "rebuild it with scripts/setup.sh (or build/fashion_build_shard --out data/fashion.shard)"

static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}
static void wr64(uint8_t *p, uint64_t v) { wr32(p, (uint32_t)v), wr32(p + 4, (uint32_t)(v >> 32)); }
static uint64_t pad4(uint64_t n) { return (n + 3) & ~(uint64_t)3; }

uint32_t nn_image_shard_pixels(const nn_image_shard *s) {
    return s->height * s->width * s->channels;
}

/* ------------------------------------------------------------------ reading */

typedef struct cursor {
    const uint8_t *buf;
    size_t pos, end;
} cursor;

/* Takes bytes (then its zero padding to a multiple of 4) if they remain. */
static int take(cursor *c, uint64_t bytes, const uint8_t **out, const char *what, nn_error *err) {
    uint64_t padded = pad4(bytes), left = c->end - c->pos;
    if (padded > left)
        return nn_fail(err, NN_ERR_FORMAT, "image shard is truncated or corrupt: %s needs %llu "
                       "bytes at offset %llu but only %llu remain; " REBUILD, what,
                       (unsigned long long)padded, (unsigned long long)c->pos,
                       (unsigned long long)left);
    const uint8_t *p = c->buf + c->pos;
    for (uint64_t i = bytes; i < padded; i++)
        if (p[i])
            return nn_fail(err, NN_ERR_FORMAT, "image shard is corrupt: non-zero padding after "
                           "%s at offset %llu; " REBUILD, what, (unsigned long long)(c->pos + i));
    *out = p;
    c->pos += (size_t)padded;
    return NN_OK;
}

/* A fixed-size name field: 1..size-1 printable ASCII bytes, then NULs. */
static int valid_name(const uint8_t *p, size_t size) {
    size_t n = 0;
    while (n < size && p[n]) n++;
    if (n == 0 || n == size) return 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] < ' ' || p[i] > '~') return 0;
    for (size_t i = n; i < size; i++)
        if (p[i]) return 0;
    return 1;
}

static int parse_split(nn_image_shard *s, cursor *c, nn_image_split *sp, nn_error *err) {
    const uint8_t *p = NULL;
    int rc;
    if ((rc = take(c, 16, &p, "split name", err))) return rc;
    if (!valid_name(p, 16))
        return nn_fail(err, NN_ERR_FORMAT, "image shard is corrupt: split %u has no valid name "
                       "(1-15 printable characters, zero-padded); " REBUILD, s->nsplits);
    memcpy(sp->name, p, 16);
    for (uint32_t i = 0; i < s->nsplits; i++)
        if (strcmp(s->split[i].name, sp->name) == 0)
            return nn_fail(err, NN_ERR_FORMAT, "image shard is corrupt: split \"%s\" appears "
                           "twice; " REBUILD, sp->name);
    if ((rc = take(c, 4, &p, "split size", err))) return rc;
    uint32_t n = rd32(p);
    if ((rc = take(c, n, &sp->label, "labels", err))) return rc;
    /* n < 2^32 and pixels <= 2^24, so the product fits in 64 bits. */
    if ((rc = take(c, (uint64_t)n * nn_image_shard_pixels(s), &sp->pixels, "pixels", err))) return rc;
    sp->n = n;
    for (uint32_t i = 0; i < n; i++)
        if (sp->label[i] >= s->classes)
            return nn_fail(err, NN_ERR_FORMAT, "image shard is corrupt: split \"%s\" image %u has "
                           "label %u but there are %u classes; " REBUILD, sp->name, i,
                           sp->label[i], s->classes);
    return NN_OK;
}

static int parse_image_shard(nn_image_shard *s, const uint8_t *buf, size_t len, nn_error *err) {
    memset(s, 0, sizeof *s);
    if (!buf) return nn_fail(err, NN_ERR_ARG, "no image shard data (NULL buffer)");
    if ((uintptr_t)buf % 4)
        return nn_fail(err, NN_ERR_ARG, "image shard buffer is not 4-byte aligned: load it "
                       "into memory from malloc or an ArrayBuffer");
    if (len >= 2 && buf[0] == 0x1f && buf[1] == 0x8b)
        return nn_fail(err, NN_ERR_FORMAT, "this is a gzip file (an IDX file of Fashion-MNIST?), "
                       "not an image shard: convert the four IDX files with "
                       "build/fashion_build_shard and load data/fashion.shard");
    if (len >= 8 && memcmp(buf, NN_SHARD_MAGIC, 8) == 0)
        return nn_fail(err, NN_ERR_FORMAT, "this is a text shard (" NN_SHARD_MAGIC ", IMDB "
                       "reviews), not an image shard; load data/fashion.shard");
    if (len < 8 && memcmp(buf, NN_IMAGE_MAGIC, len) == 0)
        return nn_fail(err, NN_ERR_FORMAT, "image shard is truncated: only %zu bytes; " REBUILD, len);
    if (len < 8 || memcmp(buf, NN_IMAGE_MAGIC, 8) != 0) {
        if (len >= 7 && memcmp(buf, NN_IMAGE_MAGIC, 7) == 0)
            return nn_fail(err, NN_ERR_VERSION, "image shard has magic \"NNIMAGE%c\" from another "
                           "version of the engine (this one reads " NN_IMAGE_MAGIC "); " REBUILD,
                           buf[7] > ' ' && buf[7] <= '~' ? buf[7] : '?');
        return nn_fail(err, NN_ERR_FORMAT, "not an image shard (%zu bytes, does not start with \""
                       NN_IMAGE_MAGIC "\"): pass data/fashion.shard, or " REBUILD, len);
    }
    if (len < 16)
        return nn_fail(err, NN_ERR_FORMAT, "image shard is truncated: %zu bytes, shorter than "
                       "its header; " REBUILD, len);
    uint32_t version = rd32(buf + H_VERSION), header_size = rd32(buf + H_HEADER_SIZE);
    if (version != NN_IMAGE_VERSION)
        return nn_fail(err, NN_ERR_VERSION, "image shard format version %u, but this engine reads "
                       "version %d; " REBUILD, version, NN_IMAGE_VERSION);
    if (header_size != HEADER_BYTES)
        return nn_fail(err, NN_ERR_FORMAT, "image shard is corrupt: header size %u, expected %d; "
                       REBUILD, header_size, HEADER_BYTES);
    if (len < HEADER_BYTES)
        return nn_fail(err, NN_ERR_FORMAT, "image shard is truncated: %zu bytes, shorter than its "
                       "%d-byte header; " REBUILD, len, HEADER_BYTES);
    uint32_t hcrc = nn_crc32(0, buf, H_HEADER_CRC);
    if (hcrc != rd32(buf + H_HEADER_CRC))
        return nn_fail(err, NN_ERR_CHECKSUM, "image shard header checksum is %08x but the header "
                       "says %08x: the file is corrupt; " REBUILD, hcrc, rd32(buf + H_HEADER_CRC));
    if (rd32(buf + H_RESERVED0) || rd64(buf + H_RESERVED1))
        return nn_fail(err, NN_ERR_FORMAT, "image shard header has non-zero reserved bytes: it "
                       "was written by something else; " REBUILD);
    s->version = version;
    s->height = rd32(buf + H_HEIGHT);
    s->width = rd32(buf + H_WIDTH);
    s->channels = rd32(buf + H_CHANNELS);
    s->classes = rd32(buf + H_CLASSES);
    uint32_t nsplits = rd32(buf + H_NSPLITS);
    if (s->height < 1 || s->height > 4096 || s->width < 1 || s->width > 4096 || s->channels < 1 ||
        s->channels > 4 || (uint64_t)s->height * s->width * s->channels > NN_IMAGE_MAX_PIXELS) {
        int rc = nn_fail(err, NN_ERR_FORMAT, "image shard header says images are %u x %u x %u "
                         "(each side 1-4096, 1-4 channels, at most %d values); " REBUILD,
                         s->height, s->width, s->channels, NN_IMAGE_MAX_PIXELS);
        memset(s, 0, sizeof *s);
        return rc;
    }
    if (s->classes < 2 || s->classes > NN_IMAGE_MAX_CLASSES) {
        int rc = nn_fail(err, NN_ERR_FORMAT, "image shard header says %u classes (must be "
                         "2-%d); " REBUILD, s->classes, NN_IMAGE_MAX_CLASSES);
        memset(s, 0, sizeof *s);
        return rc;
    }
    if (nsplits > NN_SHARD_MAX_SPLITS) {
        memset(s, 0, sizeof *s);
        return nn_fail(err, NN_ERR_FORMAT, "image shard header says %u splits (at most %d); "
                       REBUILD, nsplits, NN_SHARD_MAX_SPLITS);
    }
    uint64_t payload = rd64(buf + H_PAYLOAD_LEN), have = len - HEADER_BYTES;
    int rc;
    if (payload > have) {
        rc = nn_fail(err, NN_ERR_FORMAT, "image shard is truncated: %llu bytes of data after the "
                     "header, but it should have %llu (an interrupted download or copy?); "
                     REBUILD, (unsigned long long)have, (unsigned long long)payload);
        goto fail;
    }
    if (payload < have) {
        rc = nn_fail(err, NN_ERR_FORMAT, "image shard has %llu unexpected bytes after its end "
                     "(two files joined?); " REBUILD, (unsigned long long)(have - payload));
        goto fail;
    }
    uint32_t pcrc = nn_crc32(0, buf + HEADER_BYTES, (size_t)payload);
    if (pcrc != rd32(buf + H_PAYLOAD_CRC)) {
        rc = nn_fail(err, NN_ERR_CHECKSUM, "image shard data checksum is %08x but the header says "
                     "%08x: the file is corrupt; " REBUILD, pcrc, rd32(buf + H_PAYLOAD_CRC));
        goto fail;
    }
    /* The checksums only prove the bytes are what the writer wrote; the
     * structure is still checked as if they were hostile. */
    cursor c = {buf, HEADER_BYTES, len};
    const uint8_t *names = NULL;
    if ((rc = take(&c, (uint64_t)s->classes * NN_IMAGE_CLASS_NAME_BYTES, &names, "class names", err)))
        goto fail;
    for (uint32_t k = 0; k < s->classes; k++)
        if (!valid_name(names + (size_t)k * NN_IMAGE_CLASS_NAME_BYTES, NN_IMAGE_CLASS_NAME_BYTES)) {
            rc = nn_fail(err, NN_ERR_FORMAT, "image shard is corrupt: class %u has no valid name "
                         "(1-%d printable characters, zero-padded); " REBUILD, k,
                         NN_IMAGE_CLASS_NAME_BYTES - 1);
            goto fail;
        }
    s->class_names = (const char *)names;
    for (uint32_t i = 0; i < nsplits; i++) {
        if ((rc = parse_split(s, &c, &s->split[i], err))) goto fail;
        s->nsplits = i + 1;
    }
    if (c.pos != c.end) {
        rc = nn_fail(err, NN_ERR_FORMAT, "image shard is corrupt: %zu bytes left over after the "
                     "last split; " REBUILD, c.end - c.pos);
        goto fail;
    }
    return NN_OK;
fail:
    memset(s, 0, sizeof *s);
    return rc;
}

int nn_image_shard_parse(nn_image_shard *s, const uint8_t *buf, size_t len, nn_error *err) {
    return parse_image_shard(s, buf, len, err);
}

const nn_image_split *nn_image_shard_find(const nn_image_shard *s, const char *name) {
    for (uint32_t i = 0; i < s->nsplits; i++)
        if (strncmp(s->split[i].name, name, sizeof s->split[i].name) == 0) return &s->split[i];
    return NULL;
}

const char *nn_image_class_name(const nn_image_shard *s, uint32_t k) {
    return k < s->classes && s->class_names ? s->class_names + (size_t)k * NN_IMAGE_CLASS_NAME_BYTES
                                            : NULL;
}

/* ------------------------------------------------------------------ writing */

static uint8_t *put(uint8_t *p, const void *data, uint64_t bytes) {
    if (bytes) memcpy(p, data, (size_t)bytes);
    return p + pad4(bytes); /* the buffer is zeroed, so padding is zero */
}

int nn_image_shard_write(const nn_image_shard *s, uint8_t **out, size_t *out_len, nn_error *err) {
    *out = NULL;
    *out_len = 0;
    assert(s->nsplits <= NN_SHARD_MAX_SPLITS);
    uint64_t D = (uint64_t)s->height * s->width * s->channels;
    uint64_t payload = pad4((uint64_t)s->classes * NN_IMAGE_CLASS_NAME_BYTES);
    for (uint32_t i = 0; i < s->nsplits; i++) {
        const nn_image_split *sp = &s->split[i];
        if (memchr(sp->name, 0, sizeof sp->name) == NULL)
            return nn_fail(err, NN_ERR_ARG, "split name is longer than 15 bytes");
        payload += 16 + 4 + pad4(sp->n) + pad4(sp->n * D);
    }
    uint64_t total = HEADER_BYTES + payload;
    if (total > SIZE_MAX || D > NN_IMAGE_MAX_PIXELS)
        return nn_fail(err, NN_ERR_NOMEM, "image shard of %llu bytes does not fit in memory",
                       (unsigned long long)total);
    uint8_t *buf = calloc(1, (size_t)total);
    if (!buf)
        return nn_fail(err, NN_ERR_NOMEM, "out of memory for a %llu-byte image shard",
                       (unsigned long long)total);
    uint8_t *p = buf + HEADER_BYTES;
    if (s->classes) {
        assert(s->class_names);
        p = put(p, s->class_names, (uint64_t)s->classes * NN_IMAGE_CLASS_NAME_BYTES);
    }
    for (uint32_t i = 0; i < s->nsplits; i++) {
        const nn_image_split *sp = &s->split[i];
        uint8_t name[16] = {0};
        memcpy(name, sp->name, strlen(sp->name));
        p = put(p, name, 16);
        wr32(p, sp->n);
        p += 4;
        p = put(p, sp->label, sp->n);
        p = put(p, sp->pixels, sp->n * D);
    }
    assert((uint64_t)(p - buf) == total);
    memcpy(buf + H_MAGIC, NN_IMAGE_MAGIC, 8);
    wr32(buf + H_VERSION, NN_IMAGE_VERSION);
    wr32(buf + H_HEADER_SIZE, HEADER_BYTES);
    wr32(buf + H_HEIGHT, s->height);
    wr32(buf + H_WIDTH, s->width);
    wr32(buf + H_CHANNELS, s->channels);
    wr32(buf + H_CLASSES, s->classes);
    wr32(buf + H_NSPLITS, s->nsplits);
    wr64(buf + H_PAYLOAD_LEN, payload);
    wr32(buf + H_PAYLOAD_CRC, nn_crc32(0, buf + HEADER_BYTES, (size_t)payload));
    wr32(buf + H_HEADER_CRC, nn_crc32(0, buf, H_HEADER_CRC));

    /* Never write a file the reader would refuse: check it the reader's way. */
    nn_image_shard check;
    nn_error why;
    if (parse_image_shard(&check, buf, (size_t)total, &why) != NN_OK) {
        free(buf);
        char *advice = strstr(why.msg, "; rebuild it");
        if (advice) *advice = 0;
        return nn_fail(err, NN_ERR_ARG, "refusing to write an invalid image shard: %s", why.msg);
    }
    *out = buf;
    *out_len = (size_t)total;
    return NN_OK;
}
