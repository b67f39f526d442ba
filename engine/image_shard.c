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
#include "container.h"
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

uint32_t nn_image_shard_pixels(const nn_image_shard *s) {
    return s->height * s->width * s->channels;
}

/* ------------------------------------------------------------------ reading */

/* Every array is taken through the cursor (container.h), which checks it
 * against the bytes that remain. */
static int take(nn_cursor *c, uint64_t bytes, const uint8_t **out, const char *what, nn_error *err) {
    const void *p = NULL;
    int rc = nn_cursor_take(c, bytes, 1, &p, what, err);
    *out = p;
    return rc;
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

static int parse_split(nn_image_shard *s, nn_cursor *c, nn_image_split *sp, nn_error *err) {
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
    uint32_t n = nn_rd32(p);
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
    uint32_t version = nn_rd32(buf + H_VERSION), header_size = nn_rd32(buf + H_HEADER_SIZE);
    if (version != NN_IMAGE_VERSION)
        return nn_fail(err, NN_ERR_VERSION, "image shard format version %u, but this engine reads "
                       "version %d; " REBUILD, version, NN_IMAGE_VERSION);
    if (header_size != HEADER_BYTES)
        return nn_fail(err, NN_ERR_FORMAT, "image shard is corrupt: header size %u, expected %d; "
                       REBUILD, header_size, HEADER_BYTES);
    if (len < HEADER_BYTES)
        return nn_fail(err, NN_ERR_FORMAT, "image shard is truncated: %zu bytes, shorter than its "
                       "%d-byte header; " REBUILD, len, HEADER_BYTES);
    int rc = nn_container_check_header_crc(buf, "image shard", REBUILD, err);
    if (rc) return rc;
    if (nn_rd32(buf + H_RESERVED0) || nn_rd64(buf + H_RESERVED1))
        return nn_fail(err, NN_ERR_FORMAT, "image shard header has non-zero reserved bytes: it "
                       "was written by something else; " REBUILD);
    s->version = version;
    s->height = nn_rd32(buf + H_HEIGHT);
    s->width = nn_rd32(buf + H_WIDTH);
    s->channels = nn_rd32(buf + H_CHANNELS);
    s->classes = nn_rd32(buf + H_CLASSES);
    uint32_t nsplits = nn_rd32(buf + H_NSPLITS);
    if (s->height < 1 || s->height > 4096 || s->width < 1 || s->width > 4096 || s->channels < 1 ||
        s->channels > 4 || (uint64_t)s->height * s->width * s->channels > NN_IMAGE_MAX_PIXELS) {
        rc = nn_fail(err, NN_ERR_FORMAT, "image shard header says images are %u x %u x %u "
                     "(each side 1-4096, 1-4 channels, at most %d values); " REBUILD,
                     s->height, s->width, s->channels, NN_IMAGE_MAX_PIXELS);
        goto fail;
    }
    if (s->classes < 2 || s->classes > NN_IMAGE_MAX_CLASSES) {
        rc = nn_fail(err, NN_ERR_FORMAT, "image shard header says %u classes (must be "
                     "2-%d); " REBUILD, s->classes, NN_IMAGE_MAX_CLASSES);
        goto fail;
    }
    if (nsplits > NN_SHARD_MAX_SPLITS) {
        rc = nn_fail(err, NN_ERR_FORMAT, "image shard header says %u splits (at most %d); "
                     REBUILD, nsplits, NN_SHARD_MAX_SPLITS);
        goto fail;
    }
    if ((rc = nn_container_check_payload(buf, len, "image shard", REBUILD, err))) goto fail;
    /* The checksums only prove the bytes are what the writer wrote; the
     * structure is still checked as if they were hostile. */
    nn_cursor c = {buf, HEADER_BYTES, len, "image shard", REBUILD};
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

#define put nn_container_put

int nn_image_shard_write(const nn_image_shard *s, uint8_t **out, size_t *out_len, nn_error *err) {
    *out = NULL;
    *out_len = 0;
    assert(s->nsplits <= NN_SHARD_MAX_SPLITS);
    uint64_t D = (uint64_t)s->height * s->width * s->channels;
    uint64_t payload = nn_pad4((uint64_t)s->classes * NN_IMAGE_CLASS_NAME_BYTES);
    for (uint32_t i = 0; i < s->nsplits; i++) {
        const nn_image_split *sp = &s->split[i];
        if (memchr(sp->name, 0, sizeof sp->name) == NULL)
            return nn_fail(err, NN_ERR_ARG, "split name is longer than 15 bytes");
        payload += 16 + 4 + nn_pad4(sp->n) + nn_pad4(sp->n * D);
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
        nn_wr32(p, sp->n);
        p += 4;
        p = put(p, sp->label, sp->n);
        p = put(p, sp->pixels, sp->n * D);
    }
    assert((uint64_t)(p - buf) == total);
    memcpy(buf + H_MAGIC, NN_IMAGE_MAGIC, 8);
    nn_wr32(buf + H_VERSION, NN_IMAGE_VERSION);
    nn_wr32(buf + H_HEADER_SIZE, HEADER_BYTES);
    nn_wr32(buf + H_HEIGHT, s->height);
    nn_wr32(buf + H_WIDTH, s->width);
    nn_wr32(buf + H_CHANNELS, s->channels);
    nn_wr32(buf + H_CLASSES, s->classes);
    nn_wr32(buf + H_NSPLITS, s->nsplits);
    nn_container_seal(buf, payload);

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
