/* pack_ids.c: imdb_pack_ids, the body of a transform-3 packed file (see
 * web/worker/packed.js): a text shard's token ids coded by
 * engine/packed_ids.c, everything else in the shard gzipped.
 *
 *   imdb_pack_ids SHARD BODY_OUT [--check]
 *
 * Body layout (little-endian), what follows the packed file's 32-byte header:
 *   u32 nseg, then nseg times {u32 kind (0 bytes, 1 ids), u32 bytes}: the
 *       shard cut into runs, in order (an ids run is a split's tokens);
 *   u32 gz_len, then gzip of all the "bytes" runs, concatenated;
 *   the ids of all "ids" runs, concatenated, in blocks of NN_IDS_BLOCK ids
 *       (the last one shorter), each u32 len then len bytes.
 * --check decodes the body again, compares, and prints the times (CPU
 * seconds of this process: encode_s, decode_s).
 * scripts/pack-shard.mjs writes the header (length and CRC-32 of the shard)
 * in front. Deliberately not here: the header, and any shard that is not a
 * text shard (nn_shard_parse must accept it). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "cli.h"
#include "packed_ids.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#define MAX_SEGS (2 * NN_SHARD_MAX_SPLITS + 1)

typedef struct {
    uint32_t kind, bytes;
} segment;

/* CPU time of this process: what the coder costs, less what other jobs on
 * a shared machine take from the wall clock. */
static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int gzip_bytes(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len, nn_error *err) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 9, Z_DEFLATED, 31, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return nn_fail(err, NN_ERR_NOMEM, "zlib could not start");
    size_t cap = deflateBound(&z, len) + 64;
    *out = malloc(cap);
    if (!*out) { deflateEnd(&z); return nn_fail(err, NN_ERR_NOMEM, "out of memory gzipping"); }
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    z.next_out = *out;
    z.avail_out = (uInt)cap;
    int zr = deflate(&z, Z_FINISH);
    *out_len = z.total_out;
    deflateEnd(&z);
    if (zr != Z_STREAM_END) return nn_fail(err, NN_ERR_NOMEM, "zlib failed gzipping (%d)", zr);
    return NN_OK;
}

int main(int argc, char **argv) {
    nn_error err = {0};
    int check = argc == 4 && strcmp(argv[3], "--check") == 0;
    if (argc != 3 && !check) {
        fprintf(stderr, "usage: imdb_pack_ids SHARD BODY_OUT [--check]\n");
        return 2;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    nn_shard s;
    if (nn_read_file(argv[1], &buf, &len, &err) || nn_shard_parse(&s, buf, len, &err)) {
        fprintf(stderr, "imdb_pack_ids: %s\n", err.msg);
        return 1;
    }
    if (len > UINT32_MAX) {
        fprintf(stderr, "imdb_pack_ids: %s is over 4 GB\n", argv[1]);
        return 1;
    }
    /* Runs: bytes before each split's tokens, the tokens, ..., the rest. */
    segment seg[MAX_SEGS];
    uint32_t nseg = 0, at = 0;
    size_t nids = 0;
    for (uint32_t k = 0; k < s.nsplits; k++) {
        const nn_split *sp = &s.split[k];
        uint32_t start = (uint32_t)((const uint8_t *)sp->tokens - buf), bytes = 2 * sp->offset[sp->n];
        if (bytes == 0) continue;
        if (start < at) { fprintf(stderr, "imdb_pack_ids: splits out of order\n"); return 1; }
        if (start > at) seg[nseg++] = (segment){0, start - at};
        seg[nseg++] = (segment){1, bytes};
        at = start + bytes;
        nids += bytes / 2;
        for (uint32_t t = 0; t < bytes / 2; t++)
            if (sp->tokens[t] >= NN_IDS_LIMIT) {
                fprintf(stderr, "imdb_pack_ids: %s holds id %u, above the coder's %u; pack it with "
                        "transform 2 (--transform bytes)\n", argv[1], sp->tokens[t], NN_IDS_LIMIT - 1);
                return 1;
            }
    }
    if (at < len) seg[nseg++] = (segment){0, (uint32_t)(len - at)};

    uint8_t *raw = malloc(len), *gz = NULL;
    uint16_t *ids = malloc(nids * 2 + 2);
    size_t nraw = 0, ni = 0, gz_len = 0;
    if (!raw || !ids) { fprintf(stderr, "imdb_pack_ids: out of memory\n"); return 1; }
    at = 0;
    for (uint32_t i = 0; i < nseg; i++) {
        if (seg[i].kind == 0) { memcpy(raw + nraw, buf + at, seg[i].bytes); nraw += seg[i].bytes; }
        else { memcpy(ids + ni, buf + at, seg[i].bytes); ni += seg[i].bytes / 2; }
        at += seg[i].bytes;
    }
    if (gzip_bytes(raw, nraw, &gz, &gz_len, &err)) { fprintf(stderr, "imdb_pack_ids: %s\n", err.msg); return 1; }

    size_t nblocks = (nids + NN_IDS_BLOCK - 1) / NN_IDS_BLOCK;
    size_t cap = 8 + 8 * (size_t)nseg + 4 + gz_len + nids * 2 + 4 * nblocks;
    uint8_t *body = malloc(cap), *block = malloc(nn_ids_block_bound(NN_IDS_BLOCK));
    nn_ids_model *m = nn_ids_model_create();
    if (!body || !block || !m) { fprintf(stderr, "imdb_pack_ids: out of memory\n"); return 1; }
    size_t o = 0;
    put32(body + o, nseg); o += 4;
    for (uint32_t i = 0; i < nseg; i++) { put32(body + o, seg[i].kind); put32(body + o + 4, seg[i].bytes); o += 8; }
    put32(body + o, (uint32_t)gz_len); o += 4;
    memcpy(body + o, gz, gz_len); o += gz_len;
    size_t ids_start = o;
    double t0 = now_s();
    for (size_t b = 0; b < nblocks; b++) {
        size_t n = nids - b * NN_IDS_BLOCK < NN_IDS_BLOCK ? nids - b * NN_IDS_BLOCK : NN_IDS_BLOCK, bl = 0;
        if (nn_ids_encode_block(m, ids + b * NN_IDS_BLOCK, n, block, &bl) != NN_IDS_OK) {
            fprintf(stderr, "imdb_pack_ids: the coder refused block %zu\n", b);
            return 1;
        }
        if (o + 4 + bl > cap) {
            cap = (o + 4 + bl) * 2;
            uint8_t *grown = realloc(body, cap);
            if (!grown) { fprintf(stderr, "imdb_pack_ids: out of memory\n"); return 1; }
            body = grown;
        }
        put32(body + o, (uint32_t)bl);
        memcpy(body + o + 4, block, bl);
        o += 4 + bl;
    }
    double enc_s = now_s() - t0;
    if (nn_write_file(argv[2], body, o, &err)) { fprintf(stderr, "imdb_pack_ids: %s\n", err.msg); return 1; }
    size_t ids_bytes = o - ids_start;
    printf("{\"bytes\": %zu, \"body_bytes\": %zu, \"segments\": %u, \"raw_bytes\": %zu, \"raw_gzip_bytes\": %zu, "
           "\"ids\": %zu, \"ids_bytes\": %zu, \"bits_per_id\": %.3f, \"encode_s\": %.2f, \"model_bytes\": %zu",
           len, o, nseg, nraw, gz_len, nids, ids_bytes, nids ? 8.0 * ids_bytes / nids : 0.0, enc_s,
           nn_ids_model_bytes());
    if (check) {
        nn_ids_model *d = nn_ids_model_create();
        uint16_t *back = malloc(nids * 2 + 2);
        if (!d || !back) { fprintf(stderr, "imdb_pack_ids: out of memory\n"); return 1; }
        t0 = now_s();
        size_t p = ids_start;
        for (size_t b = 0; b < nblocks; b++) {
            size_t n = nids - b * NN_IDS_BLOCK < NN_IDS_BLOCK ? nids - b * NN_IDS_BLOCK : NN_IDS_BLOCK;
            uint32_t bl = get32(body + p);
            if (nn_ids_decode_block(d, body + p + 4, bl, back + b * NN_IDS_BLOCK, n) != NN_IDS_OK) {
                fprintf(stderr, "\nimdb_pack_ids: FAIL block %zu does not decode\n", b);
                return 1;
            }
            p += 4 + bl;
        }
        double dec_s = now_s() - t0;
        if (memcmp(back, ids, nids * 2) != 0) { fprintf(stderr, "\nimdb_pack_ids: FAIL decoded ids differ\n"); return 1; }
        printf(", \"decode_s\": %.2f, \"check\": \"ok\"", dec_s);
        nn_ids_model_free(d);
        free(back);
    }
    printf("}\n");
    nn_ids_model_free(m);
    nn_shard_free(&s);
#ifdef NN_IDS_STATS
    extern double nn_ids_stat_bits[8];
    extern long nn_ids_stat_n[8];
    for (int k = 0; k < 7; k++)
        fprintf(stderr, "stage %d: ended %ld ids, %.0f bytes spent in it\n", k, nn_ids_stat_n[k], nn_ids_stat_bits[k] / 8);
#endif
    free(block); free(body); free(ids); free(raw); free(gz); free(buf);
    return 0;
}
