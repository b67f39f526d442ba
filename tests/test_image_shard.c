/* test_image_shard.c: the image shard format and Fashion-MNIST's IDX files.
 * A small image shard built in code round-trips; every truncation and every
 * single bit flip is rejected without a crash, and so are hostile headers and
 * payloads with their checksums recomputed (so the structural checks run);
 * the IDX parser and the gunzip step reject bad magic, wrong dimensions,
 * truncated, corrupted and overlong input, naming the file; and
 * fashion_build_shard, given as argv[1] (or $FASHION_BUILD_SHARD), builds a
 * shard from synthetic IDX files the test writes, and refuses a truncated one.
 * All images here are made by the test; none comes from the dataset. */
#define _XOPEN_SOURCE 700
#include "check.h"
#include "fileio.h"
#include "idx.h"
#include "nn.h"

#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

enum { H = 3, W = 2, D = H * W, K = 3 };

static char names[K * NN_IMAGE_CLASS_NAME_BYTES];
static const uint8_t train_label[5] = {0, 1, 2, 1, 0};
static const uint8_t test_label[2] = {2, 0};
static uint8_t train_px[5 * D], test_px[2 * D];

static void small_shard(nn_image_shard *s) {
    memset(names, 0, sizeof names);
    strcpy(names, "zero");
    strcpy(names + NN_IMAGE_CLASS_NAME_BYTES, "one/uno");
    strcpy(names + 2 * NN_IMAGE_CLASS_NAME_BYTES, "two two");
    for (int i = 0; i < 5 * D; i++) train_px[i] = (uint8_t)(i * 37 + 1);
    for (int i = 0; i < 2 * D; i++) test_px[i] = (uint8_t)(255 - i);
    memset(s, 0, sizeof *s);
    s->height = H, s->width = W, s->channels = 1, s->classes = K, s->class_names = names;
    s->nsplits = 2;
    strcpy(s->split[0].name, "train");
    s->split[0].n = 5, s->split[0].label = train_label, s->split[0].pixels = train_px;
    strcpy(s->split[1].name, "test");
    s->split[1].n = 2, s->split[1].label = test_label, s->split[1].pixels = test_px;
}

static void wr32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
/* Recomputes payload length, payload CRC and header CRC of buf[0..len). */
static void fix_crcs(uint8_t *buf, size_t len) {
    wr32(buf + 40, (uint32_t)(len - 64));
    wr32(buf + 44, 0);
    wr32(buf + 48, nn_crc32(0, buf + 64, len - 64));
    wr32(buf + 60, nn_crc32(0, buf, 60));
}

/* Parses a copy (malloc-aligned, exact size for sanitizers). */
static int parse_copy(const uint8_t *src, size_t len, nn_error *err) {
    uint8_t *b = malloc(len ? len : 1);
    memcpy(b, src, len);
    nn_image_shard s;
    int rc = nn_image_shard_parse(&s, b, len, err);
    if (rc == NN_OK) {
        /* touch everything the reader may touch */
        unsigned sum = 0;
        for (uint32_t i = 0; i < s.nsplits; i++)
            for (size_t j = 0; j < (size_t)s.split[i].n * nn_image_shard_pixels(&s); j++) sum += s.split[i].pixels[j];
        (void)sum;
    }
    free(b);
    return rc;
}

static void test_round_trip(uint8_t **out, size_t *out_len) {
    nn_image_shard s, r;
    small_shard(&s);
    nn_error err = {0};
    int rc = nn_image_shard_write(&s, out, out_len, &err);
    check(rc == NN_OK, "image_shard write (%s)", err.msg);
    rc = nn_image_shard_parse(&r, *out, *out_len, &err);
    check(rc == NN_OK, "image_shard parse (%s)", err.msg);
    if (rc) return;
    check(r.height == H && r.width == W && r.channels == 1 && r.classes == K && r.nsplits == 2,
          "image_shard header round-trips");
    const nn_image_split *tr = nn_image_shard_find(&r, "train"), *te = nn_image_shard_find(&r, "test");
    check(tr && te && tr->n == 5 && te->n == 2 && !memcmp(tr->label, train_label, 5) &&
              !memcmp(tr->pixels, train_px, sizeof train_px) && !memcmp(te->pixels, test_px, sizeof test_px) &&
              !memcmp(te->label, test_label, 2),
          "image_shard splits round-trip");
    check(!strcmp(nn_image_class_name(&r, 1), "one/uno") && nn_image_class_name(&r, 3) == NULL,
          "image_shard class names");
    check(nn_image_shard_find(&r, "val") == NULL, "image_shard find of a missing split");
    uint8_t *again;
    size_t again_len;
    rc = nn_image_shard_write(&r, &again, &again_len, &err);
    check(rc == NN_OK && again_len == *out_len && !memcmp(again, *out, again_len),
          "image_shard rewriting the parsed shard gives the same bytes");
    if (rc == NN_OK) free(again);
}

static void test_damage(const uint8_t *good, size_t len) {
    nn_error err;
    int bad = 0;
    for (size_t n = 0; n < len; n++) bad += parse_copy(good, n, &err) == NN_OK;
    check(bad == 0, "image_shard every truncation (%zu) rejected (accepted: %d)", len, bad);
    check(parse_copy(good, len - 7, &err) == NN_ERR_FORMAT && strstr(err.msg, "truncated"),
          "image_shard truncation says truncated: %s", err.msg);
    uint8_t *b = malloc(len + 8);
    bad = 0;
    for (size_t i = 0; i < len * 8; i++) {
        memcpy(b, good, len);
        b[i / 8] ^= (uint8_t)(1u << (i % 8));
        if (parse_copy(b, len, &err) == NN_OK) bad++;
    }
    check(bad == 0, "image_shard every one of %zu bit flips rejected (accepted: %d)", len * 8, bad);
    memcpy(b, good, len);
    memset(b + len, 0, 4);
    check(parse_copy(b, len + 4, &err) == NN_ERR_FORMAT && strstr(err.msg, "after its end"),
          "image_shard trailing bytes rejected: %s", err.msg);

    /* hostile structure behind valid checksums */
    struct { size_t at; uint32_t value; const char *want; } cases[] = {
        {8, 2, "version"},            /* version */
        {16, 0, "images are"},        /* height 0 */
        {20, 5000, "images are"},     /* width too big */
        {24, 9, "images are"},        /* channels */
        {28, 1, "classes"},           /* 1 class */
        {28, 300, "classes"},         /* too many */
        {32, 9, "splits"},            /* nsplits */
        {36, 1, "reserved"},          /* reserved */
        {64, 0, "class 0"},           /* empty class name */
        {64 + 3 * 32 + 16, 1000, "truncated"},   /* train n huge */
        {64 + 3 * 32 + 16, 4, "corrupt"},        /* train n smaller: the rest misread */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        memcpy(b, good, len);
        wr32(b + cases[c].at, cases[c].value);
        fix_crcs(b, len);
        int rc = parse_copy(b, len, &err);
        check(rc != NN_OK && strstr(err.msg, cases[c].want), "image_shard hostile field at %zu = %u: %s",
              cases[c].at, cases[c].value, err.msg);
    }
    /* a label out of range */
    memcpy(b, good, len);
    b[64 + 3 * 32 + 20] = K;
    fix_crcs(b, len);
    check(parse_copy(b, len, &err) == NN_ERR_FORMAT && strstr(err.msg, "label 3"),
          "image_shard label >= classes rejected: %s", err.msg);
    /* a duplicate split name */
    memcpy(b, good, len);
    size_t second = 64 + 3 * 32 + 16 + 4 + 8 + 32; /* train: name, n, labels pad4, 30 px pad4 */
    memcpy(b + second, "train", 5);
    fix_crcs(b, len);
    check(parse_copy(b, len, &err) == NN_ERR_FORMAT && strstr(err.msg, "twice"),
          "image_shard duplicate split rejected: %s", err.msg);
    /* non-zero padding after the labels */
    memcpy(b, good, len);
    b[64 + 3 * 32 + 20 + 6] = 1;
    fix_crcs(b, len);
    check(parse_copy(b, len, &err) == NN_ERR_FORMAT && strstr(err.msg, "padding"),
          "image_shard non-zero padding rejected: %s", err.msg);
    /* other files */
    memcpy(b, good, len);
    memcpy(b, NN_SHARD_MAGIC, 8);
    check(parse_copy(b, len, &err) == NN_ERR_FORMAT && strstr(err.msg, "text shard"),
          "image_shard a text shard is named: %s", err.msg);
    memcpy(b, "NNIMAGE2", 8);
    check(parse_copy(b, len, &err) == NN_ERR_VERSION, "image_shard another magic version: %s", err.msg);
    b[0] = 0x1f, b[1] = 0x8b;
    check(parse_copy(b, len, &err) == NN_ERR_FORMAT && strstr(err.msg, "gzip"),
          "image_shard a gzip file is named: %s", err.msg);
    free(b);
}

/* ------------------------------------------------------------------ IDX */

static size_t make_idx(uint8_t *out, uint32_t ndims, const uint32_t *dims, const uint8_t *data) {
    out[0] = out[1] = 0, out[2] = 8, out[3] = (uint8_t)ndims;
    size_t count = 1;
    for (uint32_t d = 0; d < ndims; d++) {
        out[4 + 4 * d] = (uint8_t)(dims[d] >> 24), out[5 + 4 * d] = (uint8_t)(dims[d] >> 16);
        out[6 + 4 * d] = (uint8_t)(dims[d] >> 8), out[7 + 4 * d] = (uint8_t)dims[d];
        count *= dims[d];
    }
    memcpy(out + 4 + 4 * ndims, data, count);
    return 4 + 4 * ndims + count;
}

static size_t gzip_bytes(uint8_t *out, size_t cap, const uint8_t *in, size_t n) {
    z_stream z;
    memset(&z, 0, sizeof z);
    deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    z.next_in = (Bytef *)(uintptr_t)in, z.avail_in = (uInt)n;
    z.next_out = out, z.avail_out = (uInt)cap;
    int zr = deflate(&z, Z_FINISH);
    size_t got = cap - z.avail_out;
    deflateEnd(&z);
    return zr == Z_STREAM_END ? got : 0;
}

static void test_idx(void) {
    uint8_t px[2 * 3 * 4], file[64], gz[256];
    for (size_t i = 0; i < sizeof px; i++) px[i] = (uint8_t)i;
    uint32_t dims[3] = {2, 3, 4};
    size_t len = make_idx(file, 3, dims, px);
    nn_idx x;
    nn_error err;
    check(nn_idx_parse(&x, file, len, 3, "x.idx", &err) == NN_OK && x.count == 24 && x.dims[2] == 4 &&
              !memcmp(x.data, px, 24), "idx parse images");
    int bad = 0;
    for (size_t n = 0; n < len; n++) bad += nn_idx_parse(&x, file, n, 3, "x.idx", &err) == NN_OK;
    check(bad == 0 && strstr(err.msg, "x.idx") && strstr(err.msg, "truncated"),
          "idx every truncation rejected, naming the file: %s", err.msg);
    check(nn_idx_parse(&x, file, len, 1, "x.idx", &err) == NN_ERR_FORMAT && strstr(err.msg, "dimensions"),
          "idx wrong dimension count: %s", err.msg);
    file[2] = 0x0d;
    check(nn_idx_parse(&x, file, len, 3, "x.idx", &err) == NN_ERR_FORMAT && strstr(err.msg, "type"),
          "idx wrong type: %s", err.msg);
    file[2] = 8, file[0] = 'P';
    check(nn_idx_parse(&x, file, len, 3, "x.idx", &err) == NN_ERR_FORMAT && strstr(err.msg, "not an IDX"),
          "idx bad magic: %s", err.msg);
    file[0] = 0;
    file[7] = 0;
    check(nn_idx_parse(&x, file, len, 3, "x.idx", &err) == NN_ERR_FORMAT && strstr(err.msg, "size 0"),
          "idx zero size: %s", err.msg);
    file[7] = 2;
    file[len] = 0;
    check(nn_idx_parse(&x, file, len + 1, 3, "x.idx", &err) == NN_ERR_FORMAT && strstr(err.msg, "after"),
          "idx trailing bytes: %s", err.msg);
    file[4] = 0xff;
    check(nn_idx_parse(&x, file, len, 3, "x.idx", &err) == NN_ERR_FORMAT, "idx huge size: %s", err.msg);
    file[4] = 0;

    size_t glen = gzip_bytes(gz, sizeof gz, file, len);
    uint8_t *out;
    size_t out_len;
    check(glen > 0 && nn_gunzip(gz, glen, 1 << 20, &out, &out_len, "x.gz", &err) == NN_OK &&
              out_len == len && !memcmp(out, file, len), "gunzip round trip");
    if (glen && out_len == len) free(out);
    bad = 0;
    for (size_t n = 0; n < glen; n++) {
        if (nn_gunzip(gz, n, 1 << 20, &out, &out_len, "x.gz", &err) == NN_OK) {
            bad++;
            free(out);
        }
    }
    check(bad == 0, "gunzip every truncation rejected (last: %s)", err.msg);
    check(nn_gunzip(gz, glen - 3, 1 << 20, &out, &out_len, "x.gz", &err) == NN_ERR_FORMAT &&
              strstr(err.msg, "x.gz"), "gunzip truncation names the file: %s", err.msg);
    gz[glen - 6] ^= 0x40; /* the CRC-32 in the trailer */
    check(nn_gunzip(gz, glen, 1 << 20, &out, &out_len, "x.gz", &err) == NN_ERR_FORMAT &&
              strstr(err.msg, "corrupt"), "gunzip bad CRC rejected: %s", err.msg);
    gz[glen - 6] ^= 0x40;
    gz[glen] = 0x1f;
    check(nn_gunzip(gz, glen + 1, 1 << 20, &out, &out_len, "x.gz", &err) == NN_ERR_FORMAT &&
              strstr(err.msg, "after the end"), "gunzip trailing data rejected: %s", err.msg);
    check(nn_gunzip(gz, glen, 10, &out, &out_len, "x.gz", &err) != NN_OK, "gunzip output cap: %s", err.msg);
    check(nn_gunzip(file, len, 1 << 20, &out, &out_len, "x.gz", &err) == NN_ERR_FORMAT &&
              strstr(err.msg, "not a gzip"), "gunzip of plain data: %s", err.msg);
}

/* ---------------------------------------------------- the real tool */

static int write_gz_idx(const char *dir, const char *name, uint32_t ndims, const uint32_t *dims,
                        const uint8_t *data, size_t cut) {
    static uint8_t file[1 << 16], gz[1 << 17];
    size_t len = make_idx(file, ndims, dims, data);
    size_t glen = gzip_bytes(gz, sizeof gz, file, len);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    nn_error err;
    return glen > cut && nn_write_file(path, gz, glen - cut, &err) == NN_OK;
}

static void test_tool(const char *tool) {
    if (!tool) {
        check(0, "fashion_build_shard tool not given (argv[1] or $FASHION_BUILD_SHARD)");
        return;
    }
    char dir[] = "/tmp/nn-fashion-XXXXXX";
    if (!check(mkdtemp(dir) != NULL, "tool temp dir")) return;
    enum { NTR = 7, NTE = 3, S = 5 };
    static uint8_t tr[NTR * S * S], te[NTE * S * S], trl[NTR], tel[NTE];
    for (size_t i = 0; i < sizeof tr; i++) tr[i] = (uint8_t)(i * 13);
    for (size_t i = 0; i < sizeof te; i++) te[i] = (uint8_t)(i * 7 + 3);
    for (int i = 0; i < NTR; i++) trl[i] = (uint8_t)(i % 10);
    for (int i = 0; i < NTE; i++) tel[i] = (uint8_t)(9 - i);
    uint32_t dtr[3] = {NTR, S, S}, dte[3] = {NTE, S, S}, ltr[1] = {NTR}, lte[1] = {NTE};
    int ok = write_gz_idx(dir, "train-images-idx3-ubyte.gz", 3, dtr, tr, 0) &&
             write_gz_idx(dir, "train-labels-idx1-ubyte.gz", 1, ltr, trl, 0) &&
             write_gz_idx(dir, "t10k-images-idx3-ubyte.gz", 3, dte, te, 0) &&
             write_gz_idx(dir, "t10k-labels-idx1-ubyte.gz", 1, lte, tel, 0);
    check(ok, "tool fixture IDX files written");
    char cmd[2048], out[600];
    snprintf(out, sizeof out, "%s/f.shard", dir);
    snprintf(cmd, sizeof cmd, "%s --source %s --out %s --quiet", tool, dir, out);
    check(system(cmd) == 0, "fashion_build_shard on synthetic IDX files");
    uint8_t *buf = NULL;
    size_t len = 0;
    nn_error err;
    nn_image_shard s;
    if (check(nn_read_file(out, &buf, &len, &err) == NN_OK && nn_image_shard_parse(&s, buf, len, &err) == NN_OK,
              "tool output parses (%s)", err.msg)) {
        const nn_image_split *a = nn_image_shard_find(&s, "train"), *b = nn_image_shard_find(&s, "test");
        check(s.height == S && s.width == S && s.classes == 10 && a && b && a->n == NTR && b->n == NTE &&
                  !memcmp(a->pixels, tr, sizeof tr) && !memcmp(b->pixels, te, sizeof te) &&
                  !memcmp(a->label, trl, NTR) && !memcmp(b->label, tel, NTE) &&
                  !strcmp(nn_image_class_name(&s, 9), "Ankle boot"),
              "tool output holds the fixture's images, labels and class names");
    }
    free(buf);
    /* a truncated file: non-zero exit, the file named */
    write_gz_idx(dir, "t10k-images-idx3-ubyte.gz", 3, dte, te, 9);
    snprintf(cmd, sizeof cmd, "%s --source %s --out %s.bad 2>%s/err.txt", tool, dir, out, dir);
    int st = system(cmd);
    char errpath[600];
    snprintf(errpath, sizeof errpath, "%s/err.txt", dir);
    uint8_t *msg = NULL;
    nn_read_file(errpath, &msg, &len, &err);
    check(st != 0 && msg && strstr((char *)msg, "t10k-images-idx3-ubyte.gz") && strstr((char *)msg, "truncated"),
          "tool refuses a truncated file, naming it: %s", msg ? (char *)msg : "(no output)");
    free(msg);
    /* counts that do not match */
    write_gz_idx(dir, "t10k-images-idx3-ubyte.gz", 3, dte, te, 0);
    lte[0] = NTE - 1;
    write_gz_idx(dir, "t10k-labels-idx1-ubyte.gz", 1, lte, tel, 0);
    check(system(cmd) != 0, "tool refuses images and labels of different counts");
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) printf("note: could not remove %s\n", dir);
}

int main(int argc, char **argv) {
    uint8_t *good = NULL;
    size_t len = 0;
    test_round_trip(&good, &len);
    if (good) test_damage(good, len);
    free(good);
    test_idx();
    test_tool(argc > 1 ? argv[1] : getenv("FASHION_BUILD_SHARD"));
    return check_exit_code();
}
