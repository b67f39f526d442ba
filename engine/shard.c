/* shard.c: the binary shard format (see datasets/README.md, byte by byte).
 *
 * A shard is parsed in place: the nn_shard points into the caller's buffer, so
 * the page can fetch the file into wasm memory and use it without a copy. The
 * price is that the parser must distrust every byte: it checks the magic,
 * version and header size, both checksums, then every count and offset against
 * the bytes that remain (in 64-bit arithmetic, so nothing wraps on wasm32)
 * before it forms a pointer from it. Any input gives a status, never a crash.
 *
 * Deliberately not here: reading files (the CLI does that) and any knowledge
 * of IMDB beyond the split names in messages. Arrays are used in place, so the
 * host must be little-endian (x86, ARM and wasm are). */
#include "container.h"
#include "nn.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "shards are little-endian and are used in place: a big-endian host needs a copying reader"
#endif

/* Header layout, versions 1 and 2 (all little-endian). */
#define HEADER_BYTES 64
enum {
    H_MAGIC = 0,          /* 8 bytes "NNSHARD1" */
    H_VERSION = 8,        /* u32 NN_SHARD_VERSION */
    H_HEADER_SIZE = 12,   /* u32 64 */
    H_TOKENIZER = 16,     /* u32 NN_TOKENIZER_VERSION */
    H_MAX_TOKENS = 20,    /* u32 */
    H_V = 24,             /* u32, 0 when the shard has no vocabulary */
    H_VOCAB_CRC = 28,     /* u32 */
    H_NSPLITS = 32,       /* u32 */
    H_CLASSES = 36,       /* u32: version 2, 0 (two unnamed classes) or 2-50 named
                           * classes; version 1, reserved zero */
    H_PAYLOAD_LEN = 40,   /* u64 bytes after the header */
    H_PAYLOAD_CRC = 48,   /* u32 CRC-32 of the payload */
    H_RESERVED1 = 52,     /* 8 bytes zero */
    H_HEADER_CRC = 60     /* u32 CRC-32 of header bytes 0..59 */
};

#define REBUILD "rebuild it with scripts/setup.sh (or build/imdb_build_shard --source <aclImdb_v1.tar.gz> --out data)"

static const char *const special_words[NN_FIRST_WORD] = {"<PAD>", "<START>", "<UNK>", "<UNUSED>"};

/* ------------------------------------------------------------------ reading */

/* Every array is taken through the cursor (container.h), which checks it
 * against the bytes that remain. */
typedef nn_cursor cursor;
#define take nn_cursor_take

/* Checks offsets (n+1): start at 0, never decrease, each step at least
 * min_step (and at most max_step when max_step > 0), end at most limit when
 * limit is known. */
static int check_offsets(const uint32_t *off, uint32_t n, uint32_t min_step, uint32_t max_step,
                         const char *what, nn_error *err) {
    if (off[0] != 0)
        return nn_fail(err, NN_ERR_FORMAT, "shard is corrupt: %s offsets start at %u, not 0; "
                       REBUILD, what, off[0]);
    for (uint32_t i = 0; i < n; i++) {
        if (off[i + 1] < off[i] || off[i + 1] - off[i] < min_step ||
            (max_step && off[i + 1] - off[i] > max_step))
            return nn_fail(err, NN_ERR_FORMAT, "shard is corrupt: %s %u has offsets %u..%u "
                           "(length must be %u..%u); " REBUILD, what, i, off[i], off[i + 1],
                           min_step, max_step ? max_step : UINT32_MAX);
    }
    return NN_OK;
}

static int parse_vocab(nn_shard *s, cursor *c, uint32_t V, uint32_t vocab_crc, nn_error *err) {
    const void *p = NULL;
    size_t start = c->pos;
    int rc;
    if ((rc = take(c, V, 4, &p, "vocabulary counts", err))) return rc;
    s->vocab.count = p;
    if ((rc = take(c, (uint64_t)V + 1, 4, &p, "vocabulary offsets", err))) return rc;
    s->vocab.offset = p;
    if ((rc = check_offsets(s->vocab.offset, V, 0, 0, "vocabulary word", err))) return rc;
    if ((rc = take(c, s->vocab.offset[V], 1, &p, "vocabulary words", err))) return rc;
    s->vocab.bytes = p;
    uint32_t crc = nn_crc32(0, c->buf + start, c->pos - start);
    if (crc != vocab_crc)
        return nn_fail(err, NN_ERR_CHECKSUM, "shard vocabulary checksum is %08x but the header "
                       "says %08x: the file is corrupt; " REBUILD, crc, vocab_crc);
    s->vocab.V = V;
    for (uint32_t id = 0; id < NN_FIRST_WORD; id++) {
        size_t n;
        const char *w = nn_vocab_word(&s->vocab, id, &n);
        if (n != strlen(special_words[id]) || memcmp(w, special_words[id], n) != 0)
            return nn_fail(err, NN_ERR_FORMAT, "shard vocabulary id %u is \"%.*s\", not \"%s\": "
                           "not a vocabulary of this engine; " REBUILD, id,
                           (int)(n < 32 ? n : 32), w, special_words[id]);
    }
    return NN_OK;
}

/* Version 2's class names: offsets (K+1), then the bytes, pad4. Each name
 * 1-NN_SHARD_MAX_CLASS_NAME bytes without control bytes, all distinct. */
#define NN_SHARD_MAX_CLASS_NAME 64
static int parse_class_names(nn_shard *s, cursor *c, uint32_t K, nn_error *err) {
    const void *p = NULL;
    int rc;
    if ((rc = take(c, (uint64_t)K + 1, 4, &p, "class name offsets", err))) return rc;
    const uint32_t *off = p;
    if ((rc = check_offsets(off, K, 1, NN_SHARD_MAX_CLASS_NAME, "class name", err))) return rc;
    if ((rc = take(c, off[K], 1, &p, "class names", err))) return rc;
    const char *bytes = p;
    for (uint32_t k = 0; k < K; k++) {
        const char *name = bytes + off[k];
        uint32_t n = off[k + 1] - off[k];
        for (uint32_t i = 0; i < n; i++)
            if ((unsigned char)name[i] < 0x20 || name[i] == 0x7F)
                return nn_fail(err, NN_ERR_FORMAT, "shard is corrupt: class name %u has a control "
                               "byte; " REBUILD, k);
        for (uint32_t j = 0; j < k; j++)
            if (s->class_name_len[j] == n && !memcmp(s->class_name[j], name, n))
                return nn_fail(err, NN_ERR_FORMAT, "shard is corrupt: classes %u and %u have the "
                               "same name; " REBUILD, j, k);
        s->class_name[k] = name;
        s->class_name_len[k] = n;
    }
    return NN_OK;
}

static int parse_split(nn_shard *s, cursor *c, nn_split *sp, uint32_t V, nn_error *err) {
    const void *p = NULL;
    int rc;
    if ((rc = take(c, 16, 1, &p, "split name", err))) return rc;
    const char *name = p;
    size_t nlen = 0;
    while (nlen < 16 && name[nlen]) nlen++;
    int bad = nlen == 0 || nlen == 16;
    for (size_t i = 0; i < nlen; i++) bad |= name[i] <= ' ' || name[i] > '~';
    for (size_t i = nlen; i < 16; i++) bad |= name[i] != 0;
    if (bad)
        return nn_fail(err, NN_ERR_FORMAT, "shard is corrupt: split %u has no valid name "
                       "(1-15 printable characters, zero-padded); " REBUILD, s->nsplits);
    memcpy(sp->name, name, 16);
    for (uint32_t i = 0; i < s->nsplits; i++)
        if (strcmp(s->split[i].name, sp->name) == 0)
            return nn_fail(err, NN_ERR_FORMAT, "shard is corrupt: split \"%s\" appears twice; "
                           REBUILD, sp->name);
    if ((rc = take(c, 1, 4, &p, "split size", err))) return rc;
    uint32_t n = nn_rd32(p);
    if ((rc = take(c, n, 1, &p, "labels", err))) return rc;
    sp->label = p;
    if ((rc = take(c, n, 1, &p, "ratings", err))) return rc;
    sp->rating = p;
    if ((rc = take(c, n, 4, &p, "review ids", err))) return rc;
    sp->review_id = p;
    if ((rc = take(c, (uint64_t)n + 1, 4, &p, "review offsets", err))) return rc;
    sp->offset = p;
    if ((rc = check_offsets(sp->offset, n, 1, s->max_tokens, "review", err))) return rc;
    if ((rc = take(c, sp->offset[n], 2, &p, "tokens", err))) return rc;
    sp->tokens = p;
    sp->n = n;
    for (uint32_t i = 0; i < n; i++) {
        if (sp->label[i] >= s->classes && sp->label[i] != 255)
            return nn_fail(err, NN_ERR_FORMAT, "shard is corrupt: split \"%s\" review %u has "
                           "label %u (must be 0 to %u, or 255); " REBUILD, sp->name, i,
                           sp->label[i], s->classes - 1);
        if (sp->rating[i] > 10)
            return nn_fail(err, NN_ERR_FORMAT, "shard is corrupt: split \"%s\" review %u has "
                           "rating %u (must be 0-10); " REBUILD, sp->name, i, sp->rating[i]);
        if (sp->tokens[sp->offset[i]] != NN_START)
            return nn_fail(err, NN_ERR_FORMAT, "shard is corrupt: split \"%s\" review %u does "
                           "not start with <START>; " REBUILD, sp->name, i);
    }
    if (V > 0) {
        for (uint32_t t = 0; t < sp->offset[n]; t++)
            if (sp->tokens[t] >= V)
                return nn_fail(err, NN_ERR_FORMAT, "shard is corrupt: split \"%s\" token %u is "
                               "id %u but the vocabulary has %u ids; " REBUILD,
                               sp->name, t, sp->tokens[t], V);
    }
    return NN_OK;
}

/* Everything but the vocabulary index, so the writer can check its output. */
static int parse_shard(nn_shard *s, const uint8_t *buf, size_t len, nn_error *err) {
    memset(s, 0, sizeof *s);
    if (!buf) return nn_fail(err, NN_ERR_ARG, "no shard data (NULL buffer)");
    if ((uintptr_t)buf % 4)
        return nn_fail(err, NN_ERR_ARG, "shard buffer is not 4-byte aligned: load it into "
                       "memory from malloc or an ArrayBuffer");
    if (len >= 2 && buf[0] == 0x1f && buf[1] == 0x8b)
        return nn_fail(err, NN_ERR_FORMAT, "this is a gzip file, not a shard (the IMDB archive?): "
                       "convert it with build/imdb_build_shard --source <it> --out data and "
                       "load data/imdb.shard");
    if (len < 8 && memcmp(buf, NN_SHARD_MAGIC, len) == 0)
        return nn_fail(err, NN_ERR_FORMAT, "shard is truncated: only %zu bytes; " REBUILD, len);
    if (len < 8 || memcmp(buf, NN_SHARD_MAGIC, 8) != 0) {
        if (len >= 7 && memcmp(buf, NN_SHARD_MAGIC, 7) == 0)
            return nn_fail(err, NN_ERR_VERSION, "shard has magic \"NNSHARD%c\" from another "
                           "version of the engine (this one reads " NN_SHARD_MAGIC "); " REBUILD,
                           len >= 8 && buf[7] > ' ' && buf[7] <= '~' ? buf[7] : '?');
        return nn_fail(err, NN_ERR_FORMAT, "not a shard (%zu bytes, does not start with \""
                       NN_SHARD_MAGIC "\"): pass data/imdb.shard, or " REBUILD, len);
    }
    if (len < 16)
        return nn_fail(err, NN_ERR_FORMAT, "shard is truncated: %zu bytes, shorter than its "
                       "header; " REBUILD, len);
    uint32_t version = nn_rd32(buf + H_VERSION), header_size = nn_rd32(buf + H_HEADER_SIZE);
    if (version != 1 && version != NN_SHARD_VERSION)
        return nn_fail(err, NN_ERR_VERSION, "shard format version %u, but this engine reads "
                       "versions 1 and %d; %s", version, NN_SHARD_VERSION, REBUILD);
    if (header_size != HEADER_BYTES)
        return nn_fail(err, NN_ERR_FORMAT, "shard is corrupt: header size %u, expected %d for "
                       "version %d; " REBUILD, header_size, HEADER_BYTES, NN_SHARD_VERSION);
    if (len < HEADER_BYTES)
        return nn_fail(err, NN_ERR_FORMAT, "shard is truncated: %zu bytes, shorter than its "
                       "%d-byte header; " REBUILD, len, HEADER_BYTES);
    int rc = nn_container_check_header_crc(buf, "shard", REBUILD, err);
    if (rc) return rc;
    s->version = version;
    s->tokenizer_version = nn_rd32(buf + H_TOKENIZER);
    s->max_tokens = nn_rd32(buf + H_MAX_TOKENS);
    s->vocab_crc = nn_rd32(buf + H_VOCAB_CRC);
    uint32_t V = nn_rd32(buf + H_V), nsplits = nn_rd32(buf + H_NSPLITS);
    if (s->tokenizer_version != NN_TOKENIZER_VERSION)
        return nn_fail(err, NN_ERR_VERSION, "shard was tokenized with tokenizer version %u, but "
                       "this engine's tokenizer is version %d, so its ids would not match typed "
                       "text; " REBUILD, s->tokenizer_version, NN_TOKENIZER_VERSION);
    uint32_t classes = nn_rd32(buf + H_CLASSES);
    if ((version == 1 && classes) || nn_rd64(buf + H_RESERVED1))
        return nn_fail(err, NN_ERR_FORMAT, "shard header has non-zero reserved bytes: it was "
                       "written by something else; " REBUILD);
    if (classes == 1 || classes > NN_MAX_TEXT_CLASSES)
        return nn_fail(err, NN_ERR_FORMAT, "shard header says %u classes (must be 0, or 2-%d "
                       "named classes); " REBUILD, classes, NN_MAX_TEXT_CLASSES);
    if (s->max_tokens == 0)
        return nn_fail(err, NN_ERR_FORMAT, "shard header says max_tokens 0; " REBUILD);
    if (V != 0 && (V < NN_FIRST_WORD || V > 65536))
        return nn_fail(err, NN_ERR_FORMAT, "shard header says the vocabulary has %u ids "
                       "(must be 0, or %d-65536 for 16-bit ids); " REBUILD, V, NN_FIRST_WORD);
    if (nsplits > NN_SHARD_MAX_SPLITS)
        return nn_fail(err, NN_ERR_FORMAT, "shard header says %u splits (at most %d); " REBUILD,
                       nsplits, NN_SHARD_MAX_SPLITS);
    if ((rc = nn_container_check_payload(buf, len, "shard", REBUILD, err))) return rc;

    /* The checksums only prove the bytes are what the writer wrote; the
     * structure is still checked as if they were hostile. */
    cursor c = {buf, HEADER_BYTES, len, "shard", REBUILD};
    if (V > 0 && (rc = parse_vocab(s, &c, V, s->vocab_crc, err))) goto fail;
    s->classes = classes ? classes : 2;
    if (classes && (rc = parse_class_names(s, &c, classes, err))) goto fail;
    for (uint32_t i = 0; i < nsplits; i++) {
        if ((rc = parse_split(s, &c, &s->split[i], V, err))) goto fail;
        s->nsplits = i + 1;
    }
    if (c.pos != c.end) {
        rc = nn_fail(err, NN_ERR_FORMAT, "shard is corrupt: %zu bytes left over after the last "
                     "split; " REBUILD, c.end - c.pos);
        goto fail;
    }
    return NN_OK;
fail:
    memset(s, 0, sizeof *s);
    return rc;
}

int nn_shard_parse(nn_shard *s, const uint8_t *buf, size_t len, nn_error *err) {
    int rc = parse_shard(s, buf, len, err);
    if (rc) return rc;
    if ((rc = nn_vocab_index(&s->vocab, err))) {
        memset(s, 0, sizeof *s);
        return rc;
    }
    return NN_OK;
}

void nn_shard_free(nn_shard *s) {
    if (s) nn_vocab_free_index(&s->vocab);
}

const nn_split *nn_shard_find(const nn_shard *s, const char *name) {
    for (uint32_t i = 0; i < s->nsplits; i++)
        if (strncmp(s->split[i].name, name, sizeof s->split[i].name) == 0) return &s->split[i];
    return NULL;
}

/* ------------------------------------------------------------------ writing */

#define put nn_container_put

static uint64_t split_bytes(const nn_split *sp) {
    uint64_t n = sp->n;
    return 16 + 4 + 2 * nn_pad4(n) + 4 * n + 4 * (n + 1) + nn_pad4(2 * (uint64_t)sp->offset[n]);
}

int nn_shard_write(const nn_shard *s, uint8_t **out, size_t *out_len, nn_error *err) {
    *out = NULL;
    *out_len = 0;
    assert(s->nsplits <= NN_SHARD_MAX_SPLITS);
    const nn_vocab *v = &s->vocab;
    if (v->V > 65536)
        return nn_fail(err, NN_ERR_ARG, "cannot write a shard with %u vocabulary ids: tokens are "
                       "16-bit, so at most 65536", v->V);
    uint64_t payload = 0;
    if (v->V > 0) {
        assert(v->count && v->offset && v->bytes);
        payload += 4 * (uint64_t)v->V + 4 * ((uint64_t)v->V + 1) + nn_pad4(v->offset[v->V]);
    }
    uint32_t K = s->class_name[0] ? s->classes : 0, name_bytes = 0;
    if (!K && s->classes != 0 && s->classes != 2)
        return nn_fail(err, NN_ERR_ARG, "a shard of %u classes needs their names", s->classes);
    if (K > NN_MAX_TEXT_CLASSES)
        return nn_fail(err, NN_ERR_ARG, "%u classes; at most %d", K, NN_MAX_TEXT_CLASSES);
    for (uint32_t k = 0; k < K; k++) {
        if (!s->class_name[k] || s->class_name_len[k] == 0 ||
            s->class_name_len[k] > NN_SHARD_MAX_CLASS_NAME)
            return nn_fail(err, NN_ERR_ARG, "class %u has no name or a name over %d bytes", k,
                           NN_SHARD_MAX_CLASS_NAME);
        name_bytes += s->class_name_len[k];
    }
    if (K) payload += 4 * ((uint64_t)K + 1) + nn_pad4(name_bytes);
    for (uint32_t i = 0; i < s->nsplits; i++) {
        const nn_split *sp = &s->split[i];
        if (memchr(sp->name, 0, sizeof sp->name) == NULL)
            return nn_fail(err, NN_ERR_ARG, "split name is longer than 15 bytes");
        payload += split_bytes(sp);
    }
    uint64_t total = HEADER_BYTES + payload;
    if (total > SIZE_MAX)
        return nn_fail(err, NN_ERR_NOMEM, "shard of %llu bytes does not fit in memory",
                       (unsigned long long)total);
    uint8_t *buf = calloc(1, (size_t)total);
    if (!buf)
        return nn_fail(err, NN_ERR_NOMEM, "out of memory for a %llu-byte shard",
                       (unsigned long long)total);

    uint8_t *p = buf + HEADER_BYTES;
    uint32_t vocab_crc = s->vocab_crc;
    if (v->V > 0) {
        uint8_t *start = p;
        p = put(p, v->count, 4 * (uint64_t)v->V);
        p = put(p, v->offset, 4 * ((uint64_t)v->V + 1));
        p = put(p, v->bytes, v->offset[v->V]);
        vocab_crc = nn_crc32(0, start, (size_t)(p - start));
    }
    if (K) {
        uint32_t off = 0;
        for (uint32_t k = 0; k <= K; k++) {
            nn_wr32(p + 4 * k, off);
            if (k < K) off += s->class_name_len[k];
        }
        p += 4 * ((size_t)K + 1);
        uint8_t *names = p;
        for (uint32_t k = 0; k < K; k++) {
            memcpy(names, s->class_name[k], s->class_name_len[k]);
            names += s->class_name_len[k];
        }
        p += nn_pad4(name_bytes);
    }
    for (uint32_t i = 0; i < s->nsplits; i++) {
        const nn_split *sp = &s->split[i];
        uint8_t name[16] = {0};
        memcpy(name, sp->name, strlen(sp->name));
        p = put(p, name, 16);
        nn_wr32(p, sp->n);
        p += 4;
        p = put(p, sp->label, sp->n);
        p = put(p, sp->rating, sp->n);
        p = put(p, sp->review_id, 4 * (uint64_t)sp->n);
        p = put(p, sp->offset, 4 * ((uint64_t)sp->n + 1));
        p = put(p, sp->tokens, 2 * (uint64_t)sp->offset[sp->n]);
    }
    assert((uint64_t)(p - buf) == total);

    memcpy(buf + H_MAGIC, NN_SHARD_MAGIC, 8);
    /* A version-1 shard (no names) read and written again keeps its bytes. */
    nn_wr32(buf + H_VERSION, s->version == 1 && !K ? 1 : NN_SHARD_VERSION);
    nn_wr32(buf + H_HEADER_SIZE, HEADER_BYTES);
    nn_wr32(buf + H_TOKENIZER, NN_TOKENIZER_VERSION);
    nn_wr32(buf + H_MAX_TOKENS, s->max_tokens);
    nn_wr32(buf + H_V, v->V);
    nn_wr32(buf + H_VOCAB_CRC, vocab_crc);
    nn_wr32(buf + H_NSPLITS, s->nsplits);
    nn_wr32(buf + H_CLASSES, K);
    nn_container_seal(buf, payload);

    /* Never write a file the reader would refuse: check it the reader's way. */
    nn_shard check;
    nn_error why;
    if (parse_shard(&check, buf, (size_t)total, &why) != NN_OK) {
        free(buf);
        char *advice = strstr(why.msg, "; rebuild it"); /* meant for readers of a file */
        if (advice) *advice = 0;
        return nn_fail(err, NN_ERR_ARG, "refusing to write an invalid shard: %s", why.msg);
    }
    *out = buf;
    *out_len = (size_t)total;
    return NN_OK;
}
