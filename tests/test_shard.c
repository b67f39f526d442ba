/* test_shard.c: the shard format. A small shard built in code round-trips;
 * every truncation, every single bit flip and a list of hostile headers and
 * payloads (with checksums recomputed, so the structural checks themselves
 * are exercised) are rejected without a crash; and imdb_build_shard, given as
 * argv[1] (or $IMDB_BUILD_SHARD), builds the same shard from a tiny fixture
 * folder and from .tar.gz archives of it. */
#define _XOPEN_SOURCE 700
#include "check.h"
#include "fileio.h"
#include "nn.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------ the test shards */

static const char vocab_bytes[] = "<PAD><START><UNK><UNUSED>goodbadmovieplot";
static const uint32_t vocab_offset[] = {0, 5, 12, 17, 25, 29, 32, 37, 41};
static const uint32_t vocab_count[] = {0, 0, 0, 0, 9, 7, 5, 3};

static const uint8_t train_label[] = {0, 1, 1};
static const uint8_t train_rating[] = {2, 8, 10};
static const uint32_t train_id[] = {5, 0, 3};
static const uint32_t train_offset[] = {0, 3, 5, 10};
static const uint16_t train_tokens[] = {1, 4, 6, 1, 5, 1, 7, 6, 2, 4};

static const uint8_t test_label[] = {0, 1};
static const uint8_t test_rating[] = {1, 7};
static const uint32_t test_id[] = {1, 2};
static const uint32_t test_offset[] = {0, 1, 4};
static const uint16_t test_tokens[] = {1, 1, 7, 7};

static const uint8_t unsup_label[] = {255, 255};
static const uint8_t unsup_rating[] = {0, 0};
static const uint32_t unsup_id[] = {0, 1};
static const uint32_t unsup_offset[] = {0, 2, 5};
static const uint16_t unsup_tokens[] = {1, 60000, 1, 2, 3};
static const uint32_t empty_offset[] = {0};

static void set_split(nn_split *s, const char *name, uint32_t n, const uint8_t *label,
                      const uint8_t *rating, const uint32_t *id, const uint32_t *offset,
                      const uint16_t *tokens) {
    memset(s, 0, sizeof *s);
    strcpy(s->name, name);
    s->n = n, s->label = label, s->rating = rating, s->review_id = id;
    s->offset = offset, s->tokens = tokens;
}

static void main_shard(nn_shard *s) {
    memset(s, 0, sizeof *s);
    s->max_tokens = 16;
    s->vocab = (nn_vocab){8, vocab_count, vocab_offset, vocab_bytes, NULL, 0};
    s->nsplits = 2;
    set_split(&s->split[0], "train", 3, train_label, train_rating, train_id, train_offset, train_tokens);
    set_split(&s->split[1], "test", 2, test_label, test_rating, test_id, test_offset, test_tokens);
}

static void unsup_shard(nn_shard *s, uint32_t vocab_crc) {
    memset(s, 0, sizeof *s);
    s->max_tokens = 16;
    s->vocab_crc = vocab_crc;
    s->nsplits = 2;
    set_split(&s->split[0], "unsup", 2, unsup_label, unsup_rating, unsup_id, unsup_offset, unsup_tokens);
    set_split(&s->split[1], "empty", 0, NULL, NULL, NULL, empty_offset, NULL);
}

/* A copy in a buffer of exactly len bytes, so that a read past the end is a
 * read past the allocation (which a sanitizer build reports); malloc's
 * alignment is more than the 4 bytes a shard needs. */
static uint8_t *copy_of(const uint8_t *buf, size_t len) {
    uint8_t *p = malloc(len ? len : 1);
    if (p && len) memcpy(p, buf, len);
    return p;
}

static int split_equal(const nn_split *a, const nn_split *b) {
    if (strcmp(a->name, b->name) || a->n != b->n) return 0;
    if (a->n && (memcmp(a->label, b->label, a->n) || memcmp(a->rating, b->rating, a->n) ||
                 memcmp(a->review_id, b->review_id, 4 * a->n)))
        return 0;
    if (memcmp(a->offset, b->offset, 4 * (a->n + 1))) return 0;
    return a->offset[a->n] == 0 || memcmp(a->tokens, b->tokens, 2 * a->offset[a->n]) == 0;
}

/* ------------------------------------------------------ resealing */

static void wr32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

/* Recomputes the vocabulary, payload and header checksums after a patch, so
 * that only the structural checks stand between the patch and the reader. */
static void reseal(uint8_t *buf, size_t len, size_t vocab_end) {
    if (vocab_end > 64) wr32(buf + 28, nn_crc32(0, buf + 64, vocab_end - 64));
    wr32(buf + 48, nn_crc32(0, buf + 64, len - 64));
    wr32(buf + 60, nn_crc32(0, buf, 60));
}

/* Parses buf with one or two u32 patched (at off, off2 if not 0; resealed)
 * and expects code and a message containing want_text. */
static void expect_patch2(const char *name, const uint8_t *orig, size_t len, size_t vocab_end,
                          size_t off, uint32_t value, size_t off2, uint32_t value2,
                          int want_code, const char *want_text) {
    uint8_t *b = copy_of(orig, len);
    wr32(b + off, value);
    if (off2) wr32(b + off2, value2);
    reseal(b, len, vocab_end);
    nn_shard s;
    nn_error err = {0};
    int rc = nn_shard_parse(&s, b, len, &err);
    check(rc == want_code && (!want_text || strstr(err.msg, want_text)) && s.nsplits == 0 &&
          s.vocab.slots == NULL, "parse rejects %s rc=%d: %s", name, rc, err.msg);
    if (rc == NN_OK) nn_shard_free(&s);
    free(b);
}

static void expect_patch(const char *name, const uint8_t *orig, size_t len, size_t vocab_end,
                         size_t off, uint32_t value, int want_code, const char *want_text) {
    expect_patch2(name, orig, len, vocab_end, off, value, 0, 0, want_code, want_text);
}

/* ------------------------------------------------------ the built tool */

static int write_text(const char *dir, const char *rel, const char *text) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    for (char *p = path + strlen(dir) + 1; *p; p++) { /* mkdir -p of the parents */
        if (*p != '/') continue;
        *p = 0;
        mkdir(path, 0777);
        *p = '/';
    }
    nn_error err;
    return nn_write_file(path, text, strlen(text), &err) == NN_OK;
}

typedef struct fixture_review {
    const char *path, *text;
} fixture_review;

/* Our own sentences. Ids deliberately out of order to check the canonical
 * order; the unsup name is over 100 bytes (a GNU 'L' / pax long name in a tar). */
static const fixture_review fixture[] = {
    {"train/pos/1_7.txt", "A good movie. The plot is good and the cast is good!"},
    {"train/pos/0_9.txt", "The best film of the year.<br /><br />I loved it; don't miss it."},
    {"train/neg/3_1.txt", "The plot is bad. The acting is bad. Bad, bad, BAD."},
    {"train/neg/0_2.txt", "A dull film and a waste of a good cast.<br>Skip it."},
    {"test/pos/0_10.txt", "A wonderful film, the best in years."},
    {"test/neg/0_3.txt", "Terrible; the worst plot I have seen."},
    {"train/unsup/1_0.txt", "Some film I saw on a plane, café au lait \xf0\x9f\x98\x80."},
    {"train/unsup/0000000000000000000000000000000000000000000000000000000000000000000000000000"
     "0000000000000000000000000000000000000000002_0.txt", "Another film."},
};
#define NFIXTURE (sizeof fixture / sizeof fixture[0])

static int run(const char *cmd) {
    int rc = system(cmd);
    return rc == -1 ? -1 : (rc & 0xff00) >> 8;
}

static int load(const char *path, uint8_t **buf, size_t *len, nn_shard *s, nn_error *err) {
    int rc = nn_read_file(path, buf, len, err);
    if (rc) return rc;
    return nn_shard_parse(s, *buf, *len, err);
}

static int files_equal(const char *a, const char *b) {
    uint8_t *x, *y;
    size_t nx, ny;
    nn_error err;
    if (nn_read_file(a, &x, &nx, &err)) return 0;
    if (nn_read_file(b, &y, &ny, &err)) { free(x); return 0; }
    int eq = nx == ny && memcmp(x, y, nx) == 0;
    free(x), free(y);
    return eq;
}

static int file_contains(const char *path, const char *text) {
    uint8_t *x;
    size_t n;
    nn_error err;
    if (nn_read_file(path, &x, &n, &err)) return 0;
    int found = strstr((const char *)x, text) != NULL;
    free(x);
    return found;
}

static void test_build_tool(const char *tool) {
    char tmp[] = "/tmp/nn_test_shard_XXXXXX", cmd[4096], a[1024], b[1024];
    if (!check(mkdtemp(tmp) != NULL, "tool temp dir")) return;
    int ok = 1;
    for (size_t i = 0; i < NFIXTURE; i++) {
        snprintf(a, sizeof a, "aclImdb/%s", fixture[i].path);
        ok &= write_text(tmp, a, fixture[i].text);
    }
    ok &= write_text(tmp, "aclImdb/README", "not a review");
    ok &= write_text(tmp, "aclImdb/train/pos/notes.txt", "not a review name");
    check(ok, "tool fixture written to %s", tmp);

    snprintf(cmd, sizeof cmd, "'%s' --source '%s' --out '%s/out' --quiet 2>'%s/err.txt' >/dev/null",
             tool, tmp, tmp, tmp);
    int rc = run(cmd);
    snprintf(a, sizeof a, "%s/err.txt", tmp);
    check(rc == 0, "tool builds from the fixture folder (exit %d)", rc);
    check(file_contains(a, "found 2 reviews in aclImdb/train/pos/") && file_contains(a, "notes.txt"),
          "tool warns about the small dataset and the odd file name");

    nn_shard s = {0}, u = {0};
    uint8_t *sbuf = NULL, *ubuf = NULL;
    size_t slen, ulen;
    nn_error err = {0};
    snprintf(a, sizeof a, "%s/out/imdb.shard", tmp);
    rc = load(a, &sbuf, &slen, &s, &err);
    if (check(rc == NN_OK, "tool main shard parses %s", err.msg)) {
        const nn_split *train = nn_shard_find(&s, "train"), *test = nn_shard_find(&s, "test");
        check(s.nsplits == 2 && train && test && train->n == 4 && test->n == 2,
              "tool main shard has train 4 and test 2");
        if (train && train->n == 4) {
            check(train->label[0] == 0 && train->label[1] == 0 && train->label[2] == 1 &&
                  train->label[3] == 1 && train->review_id[0] == 0 && train->review_id[1] == 3 &&
                  train->review_id[2] == 0 && train->review_id[3] == 1 && train->rating[1] == 1 &&
                  train->rating[3] == 7, "tool canonical order: negatives then positives by id");
            /* Every training word is in the vocabulary, so re-encoding the
             * text gives exactly the stored ids. */
            static const int order[] = {3, 2, 1, 0};
            int same = 1;
            for (int i = 0; i < 4; i++) {
                uint32_t ids[64];
                const char *t = fixture[order[i]].text;
                size_t n = nn_encode_text(&s.vocab, t, strlen(t), 0, ids, 64);
                same &= n == train->offset[i + 1] - train->offset[i];
                for (size_t k = 0; same && k < n; k++)
                    same &= ids[k] == train->tokens[train->offset[i] + k];
            }
            check(same, "tool stored ids equal nn_encode_text of the training texts");
        }
        size_t len;
        const char *w = nn_vocab_word(&s.vocab, NN_FIRST_WORD, &len);
        check(len == 3 && memcmp(w, "the", 3) == 0 && s.vocab.count[NN_FIRST_WORD] == 6,
              "tool most frequent word is \"the\" (6 times; got \"%.*s\" %u)", (int)len, w,
              s.vocab.count[NN_FIRST_WORD]);
        int sorted = 1;
        for (uint32_t id = NN_FIRST_WORD + 1; id < s.vocab.V; id++) {
            size_t la, lb;
            const char *wa = nn_vocab_word(&s.vocab, id - 1, &la), *wb = nn_vocab_word(&s.vocab, id, &lb);
            int c = memcmp(wa, wb, la < lb ? la : lb);
            sorted &= s.vocab.count[id - 1] > s.vocab.count[id] ||
                      (s.vocab.count[id - 1] == s.vocab.count[id] && (c < 0 || (c == 0 && la < lb)));
        }
        check(sorted, "tool vocabulary sorted by count then bytes (V=%u)", s.vocab.V);
        check(test && test->n == 2 && nn_vocab_lookup(&s.vocab, "terrible", 8) == NN_UNK &&
              test->tokens[test->offset[0] + 1] == NN_UNK,
              "tool test-only words are UNK (vocabulary from train only)");
    }
    snprintf(b, sizeof b, "%s/out/imdb-unsup.shard", tmp);
    rc = load(b, &ubuf, &ulen, &u, &err);
    const nn_split *un = rc == NN_OK ? nn_shard_find(&u, "unsup") : NULL;
    check(rc == NN_OK && u.vocab.V == 0 && u.vocab_crc == s.vocab_crc && un && un->n == 2 &&
          un->label[0] == 255 && un->review_id[1] == 2,
          "tool unsup shard: V=0, the main vocab_crc, 2 reviews incl. the long name %s", err.msg);

    snprintf(a, sizeof a, "%s/out/imdb.manifest.json", tmp);
    uint8_t *json;
    size_t jlen;
    if (check(nn_read_file(a, &json, &jlen, &err) == NN_OK, "tool manifest exists")) {
        cJSON *m = cJSON_Parse((const char *)json);
        cJSON *splits = cJSON_GetObjectItem(m, "splits");
        cJSON *train = cJSON_GetObjectItem(splits, "train");
        cJSON *src = cJSON_GetObjectItem(m, "source");
        cJSON *files = cJSON_GetObjectItem(m, "files");
        cJSON *f0 = cJSON_GetArrayItem(files, 0);
        check(m && cJSON_GetObjectItem(train, "n")->valuedouble == 4 &&
              cJSON_GetObjectItem(train, "positives")->valuedouble == 2 &&
              cJSON_GetObjectItem(m, "vocab_size")->valuedouble == s.vocab.V &&
              cJSON_GetObjectItem(m, "vocab_crc")->valuedouble == s.vocab_crc &&
              cJSON_IsNull(cJSON_GetObjectItem(src, "sha256")) &&
              cJSON_GetObjectItem(f0, "bytes")->valuedouble == slen &&
              cJSON_GetObjectItem(f0, "crc32")->valuedouble == nn_crc32(0, sbuf, slen),
              "tool manifest counts, vocab_crc and file crc match the shard");
        /* No absolute local path: file names only, the source by its name. */
        const char *tmp_base = strrchr(tmp, '/') ? strrchr(tmp, '/') + 1 : tmp;
        cJSON *src_name = cJSON_GetObjectItem(src, "name");
        int names_only = !strstr((const char *)json, tmp) && !cJSON_GetObjectItem(src, "path") &&
                         cJSON_IsString(src_name) && !strcmp(src_name->valuestring, tmp_base);
        cJSON *f;
        cJSON_ArrayForEach(f, files) names_only &= !strchr(cJSON_GetObjectItem(f, "name")->valuestring, '/');
        cJSON_ArrayForEach(f, splits) names_only &= !strchr(cJSON_GetObjectItem(f, "file")->valuestring, '/');
        check(names_only, "tool manifest names files and its source without a local path (source \"%s\")",
              cJSON_IsString(src_name) ? src_name->valuestring : "?");
        cJSON_Delete(m);
        free(json);
    }

    /* The same bytes again, from the folder, from aclImdb/ itself and from archives. */
    snprintf(cmd, sizeof cmd, "'%s' --source '%s/aclImdb' --out '%s/out2' --quiet >/dev/null 2>&1",
             tool, tmp, tmp);
    rc = run(cmd);
    snprintf(a, sizeof a, "%s/out/imdb.shard", tmp);
    snprintf(b, sizeof b, "%s/out2/imdb.shard", tmp);
    check(rc == 0 && files_equal(a, b), "tool reproducible: aclImdb/ itself gives identical bytes");
    static const char *const formats[] = {"gnu", "pax"};
    for (int f = 0; f < 2; f++) {
        snprintf(cmd, sizeof cmd, "cd '%s' && tar --format=%s -czf data.tar.gz aclImdb", tmp, formats[f]);
        if (run(cmd) != 0) {
            printf("skip tool from a %s tar.gz (no working tar command)\n", formats[f]);
            continue;
        }
        snprintf(cmd, sizeof cmd, "'%s' --source '%s/data.tar.gz' --out '%s/out3' --quiet >/dev/null 2>&1",
                 tool, tmp, tmp);
        rc = run(cmd);
        snprintf(b, sizeof b, "%s/out3/imdb.shard", tmp);
        char c[1024];
        snprintf(c, sizeof c, "%s/out/imdb-unsup.shard", tmp);
        snprintf(a, sizeof a, "%s/out3/imdb-unsup.shard", tmp);
        char m[1024];
        snprintf(m, sizeof m, "%s/out/imdb.shard", tmp);
        check(rc == 0 && files_equal(m, b) && files_equal(c, a),
              "tool %s tar.gz gives the same shards as the folder (exit %d)", formats[f], rc);
    }
    snprintf(b, sizeof b, "%s/out3/imdb.manifest.json", tmp);
    check(file_contains(b, "\"sha256\":\t\""), "tool manifest of an archive records its sha256");

    /* Failures: truncated archive, not aclImdb, missing source, bad flags. */
    snprintf(cmd, sizeof cmd, "cd '%s' && head -c $(( $(wc -c < data.tar.gz) / 2 )) data.tar.gz > cut.tar.gz"
             " && '%s' --source cut.tar.gz --out out4 --quiet 2>err4.txt >/dev/null", tmp, tool);
    rc = run(cmd);
    snprintf(a, sizeof a, "%s/err4.txt", tmp);
    check(rc != 0 && file_contains(a, "truncated"), "tool truncated archive fails with \"truncated\" (exit %d)", rc);
    snprintf(cmd, sizeof cmd, "cd '%s' && mkdir -p other && echo hi > other/x.txt && tar -czf other.tar.gz other"
             " && '%s' --source other.tar.gz --out out5 --quiet 2>err5.txt >/dev/null", tmp, tool);
    rc = run(cmd);
    snprintf(a, sizeof a, "%s/err5.txt", tmp);
    check(rc != 0 && file_contains(a, "aclImdb"), "tool non-aclImdb archive fails naming aclImdb (exit %d)", rc);
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' --source nowhere.tar.gz --out out6 2>err6.txt >/dev/null", tmp, tool);
    rc = run(cmd);
    snprintf(a, sizeof a, "%s/err6.txt", tmp);
    check(rc != 0 && file_contains(a, "cannot find nowhere.tar.gz"), "tool missing source fails clearly (exit %d)", rc);
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' --source aclImdb --out out7 --max-tokens 5 2>err7.txt >/dev/null", tmp, tool);
    rc = run(cmd);
    check(rc == 2, "tool rejects --max-tokens below 1024 (exit %d)", rc);
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' --source aclImdb --out out8 --vocab-size 6 --quiet >/dev/null 2>&1", tmp, tool);
    rc = run(cmd);
    nn_shard small = {0};
    uint8_t *small_buf = NULL;
    size_t small_len;
    snprintf(a, sizeof a, "%s/out8/imdb.shard", tmp);
    if (rc == 0) rc = load(a, &small_buf, &small_len, &small, &err);
    check(rc == 0 && small.vocab.V == 6, "tool --vocab-size 6 keeps 6 ids (V=%u)", small.vocab.V);
    nn_shard_free(&small), free(small_buf);

    nn_shard_free(&s), nn_shard_free(&u), free(sbuf), free(ubuf);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    run(cmd);
}

/* ------------------------------------------------------ main */

/* nn_crc32 (slicing-by-8) against a CRC computed one bit at a time, for
 * every length 0..70 at every start offset 0..7, whole and in two calls, and
 * the standard check value of "123456789". */
static void test_crc32(void) {
    uint8_t data[80];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 37 + 11);
    int same = 1;
    for (size_t off = 0; off < 8; off++)
        for (size_t n = 0; n + off <= 78 && n <= 70; n++) {
            uint32_t bitwise = ~0u;
            for (size_t i = 0; i < n; i++) {
                bitwise ^= data[off + i];
                for (int k = 0; k < 8; k++) bitwise = (bitwise & 1) ? 0xEDB88320u ^ (bitwise >> 1) : bitwise >> 1;
            }
            bitwise = ~bitwise;
            same &= nn_crc32(0, data + off, n) == bitwise;
            same &= nn_crc32(nn_crc32(0, data + off, n / 3), data + off + n / 3, n - n / 3) == bitwise;
        }
    check(same && nn_crc32(0, "123456789", 9) == 0xCBF43926u,
          "crc32 equals a bit-at-a-time CRC-32 (lengths 0-70, offsets 0-7, split calls) and CRC(\"123456789\") = cbf43926");
}

/* Version 2: three named classes (one name UTF-8), labels 0-2; written,
 * read back, then every truncation, and each lie about the names section,
 * resealed so only the structure check can catch it. */
static const uint8_t class_label[] = {2, 0, 1};
static void test_class_names(void) {
    static const char *const names[] = {"billing", "caf\xc3\xa9", "shipping"};
    nn_shard in, out;
    nn_error err = {0};
    main_shard(&in);
    in.split[0].label = class_label;
    in.nsplits = 1;
    in.classes = 3;
    for (uint32_t k = 0; k < 3; k++) in.class_name[k] = names[k], in.class_name_len[k] = (uint32_t)strlen(names[k]);
    uint8_t *buf;
    size_t len;
    int rc = nn_shard_write(&in, &buf, &len, &err);
    if (!check(rc == NN_OK, "class names: write a 3-class shard %s", err.msg)) return;
    rc = nn_shard_parse(&out, buf, len, &err);
    int same = rc == NN_OK && out.classes == 3 && out.version == 2;
    for (uint32_t k = 0; same && k < 3; k++)
        same = out.class_name_len[k] == strlen(names[k]) && !memcmp(out.class_name[k], names[k], strlen(names[k]));
    check(same && out.split[0].label[0] == 2, "class names: read back, version 2, 3 classes, names %s", err.msg);
    size_t names_off = (size_t)((const uint8_t *)out.class_name[0] - buf) - 4 * 4; /* the K+1 offsets */
    size_t vocab_end = names_off;
    if (rc == NN_OK) nn_shard_free(&out);

    /* Every truncation is refused (the copy is exactly n bytes long). */
    int all = 1;
    for (size_t n = 0; n < len; n++) {
        uint8_t *b = copy_of(buf, n);
        rc = nn_shard_parse(&out, b ? b : (uint8_t *)&n, n, &err);
        if (rc == NN_OK) all = 0, nn_shard_free(&out);
        free(b);
    }
    check(all, "class names: each of the %zu truncations is refused", len);

    expect_patch("classes 1", buf, len, vocab_end, 36, 1, NN_ERR_FORMAT, "classes");
    expect_patch("classes 51", buf, len, vocab_end, 36, 51, NN_ERR_FORMAT, "classes");
    expect_patch("classes 2 (fewer than the labels)", buf, len, vocab_end, 36, 2, NN_ERR_FORMAT, "");
    expect_patch("classes 4 (names run into the split)", buf, len, vocab_end, 36, 4, NN_ERR_FORMAT, "");
    expect_patch("version 1 with classes", buf, len, vocab_end, 8, 1, NN_ERR_FORMAT, "reserved");
    expect_patch("name offsets not from 0", buf, len, vocab_end, names_off, 1, NN_ERR_FORMAT, "class name");
    expect_patch("name offsets decreasing", buf, len, vocab_end, names_off + 8, 2, NN_ERR_FORMAT, "class name");
    expect_patch("an empty name", buf, len, vocab_end, names_off + 4, 0, NN_ERR_FORMAT, "class name");
    expect_patch("a name over 64 bytes", buf, len, vocab_end, names_off + 12, 100, NN_ERR_FORMAT, "");
    /* The names are "billing" (7 bytes) "café" (5) "shipping" (8): a tab
     * in the first, then the first two made one name. */
    {
        uint8_t *b = copy_of(buf, len);
        b[names_off + 16 + 1] = '\t';
        reseal(b, len, vocab_end);
        rc = nn_shard_parse(&out, b, len, &err);
        check(rc == NN_ERR_FORMAT && strstr(err.msg, "control"), "parse rejects a control byte in a name: %s", err.msg);
        memcpy(b + names_off + 16, "caf\xc3\xa9" "caf\xc3\xa9", 10); /* names 0 and 1 the same, 5 bytes each */
        wr32(b + names_off + 4, 5);
        wr32(b + names_off + 8, 10);
        reseal(b, len, vocab_end);
        rc = nn_shard_parse(&out, b, len, &err);
        check(rc == NN_ERR_FORMAT && strstr(err.msg, "same name"), "parse rejects two classes of one name: %s", err.msg);
        free(b);
    }
    {
        uint8_t *b = copy_of(buf, len);
        nn_shard g;
        nn_shard_parse(&g, buf, len, &err);
        b[(const uint8_t *)g.split[0].label - buf] = 3;
        nn_shard_free(&g);
        reseal(b, len, vocab_end);
        rc = nn_shard_parse(&out, b, len, &err);
        check(rc == NN_ERR_FORMAT && strstr(err.msg, "label 3"), "parse rejects label 3 of 3 classes: %s", err.msg);
        free(b);
    }
    free(buf);
    in.class_name[1] = NULL;
    in.class_name_len[1] = 0;
    rc = nn_shard_write(&in, &buf, &len, &err) == NN_OK ? (free(buf), NN_OK) : NN_ERR_ARG;
    check(rc == NN_ERR_ARG, "write refuses a class without a name: %s", err.msg);
    in.class_name[0] = NULL;
    rc = nn_shard_write(&in, &buf, &len, &err) == NN_OK ? (free(buf), NN_OK) : NN_ERR_ARG;
    check(rc == NN_ERR_ARG, "write refuses 3 classes without names: %s", err.msg);
}

int main(int argc, char **argv) {
    nn_shard in, out;
    nn_error err = {0};
    uint8_t *buf = NULL, *ubuf = NULL;
    size_t len = 0, ulen = 0;

    test_crc32();
    test_class_names();
    main_shard(&in);
    int rc = nn_shard_write(&in, &buf, &len, &err);
    if (!check(rc == NN_OK && len % 4 == 0, "write main shard %zu bytes %s", len, err.msg))
        return check_exit_code();
    uint8_t *again;
    size_t again_len;
    nn_shard_write(&in, &again, &again_len, &err);
    check(again_len == len && memcmp(again, buf, len) == 0, "write is deterministic");
    free(again);

    rc = nn_shard_parse(&out, buf, len, &err);
    if (!check(rc == NN_OK, "parse main shard %s", err.msg)) return check_exit_code();
    check(out.version == NN_SHARD_VERSION && out.tokenizer_version == NN_TOKENIZER_VERSION &&
          out.max_tokens == 16 && out.nsplits == 2, "parse main header fields");
    check(out.vocab.V == 8 && memcmp(out.vocab.count, vocab_count, sizeof vocab_count) == 0 &&
          memcmp(out.vocab.offset, vocab_offset, sizeof vocab_offset) == 0 &&
          memcmp(out.vocab.bytes, vocab_bytes, 41) == 0, "parse main vocabulary round-trips");
    size_t vocab_end = 64 + 4 * 8 + 4 * 9 + 44; /* 41 word bytes padded to 44 */
    check(out.vocab_crc == nn_crc32(0, buf + 64, vocab_end - 64),
          "parse vocab_crc is the CRC of the vocabulary section");
    check(nn_vocab_lookup(&out.vocab, "movie", 5) == 6 && nn_vocab_lookup(&out.vocab, "nope", 4) == NN_UNK,
          "parse builds the vocabulary index");
    check(split_equal(&out.split[0], &in.split[0]) && split_equal(&out.split[1], &in.split[1]),
          "parse main splits round-trip");
    check(nn_shard_find(&out, "test") == &out.split[1] && nn_shard_find(&out, "unsup") == NULL,
          "find by name");
    check((const uint8_t *)out.split[0].tokens > buf && (const uint8_t *)out.split[0].tokens < buf + len,
          "parse points into the caller's buffer");
    uint32_t vocab_crc = out.vocab_crc;
    nn_shard_free(&out);

    unsup_shard(&in, vocab_crc);
    rc = nn_shard_write(&in, &ubuf, &ulen, &err);
    check(rc == NN_OK, "write V=0 shard %zu bytes %s", ulen, err.msg);
    rc = nn_shard_parse(&out, ubuf, ulen, &err);
    check(rc == NN_OK && out.vocab.V == 0 && out.vocab_crc == vocab_crc && out.nsplits == 2 &&
          split_equal(&out.split[0], &in.split[0]) && out.split[1].n == 0 &&
          nn_vocab_lookup(&out.vocab, "good", 4) == NN_UNK,
          "parse V=0 shard keeps the vocab_crc it names and ids above V %s", err.msg);
    nn_shard_free(&out);

    /* Every truncated prefix fails cleanly (each in a buffer of exactly that size). */
    const struct { const char *name; const uint8_t *b; size_t n; } shards[] = {{"main", buf, len},
                                                                              {"unsup", ubuf, ulen}};
    for (int k = 0; k < 2; k++) {
        size_t accepted = 0, unclean = 0;
        for (size_t n = 0; n < shards[k].n; n++) {
            uint8_t *p = copy_of(shards[k].b, n);
            nn_error e = {0};
            rc = nn_shard_parse(&out, p, n, &e);
            accepted += rc == NN_OK;
            unclean += rc != NN_ERR_FORMAT || !e.msg[0] || out.nsplits || out.vocab.slots;
            if (rc == NN_OK) nn_shard_free(&out);
            free(p);
        }
        check(accepted == 0 && unclean == 0, "parse rejects all %zu truncated prefixes of %s "
              "(accepted=%zu unclean=%zu)", shards[k].n, shards[k].name, accepted, unclean);
    }
    /* A byte too many. */
    uint8_t *longer = malloc(len + 4);
    memcpy(longer, buf, len);
    memset(longer + len, 0, 4);
    rc = nn_shard_parse(&out, longer, len + 4, &err);
    check(rc == NN_ERR_FORMAT, "parse rejects trailing bytes: %s", err.msg);
    free(longer);

    /* Every single bit flip is rejected (the checksums cover the padding too). */
    for (int k = 0; k < 2; k++) {
        size_t n = shards[k].n, accepted = 0;
        uint8_t *p = copy_of(shards[k].b, n);
        for (size_t i = 0; i < n; i++)
            for (int bit = 0; bit < 8; bit++) {
                p[i] ^= (uint8_t)(1u << bit);
                rc = nn_shard_parse(&out, p, n, &err);
                if (rc == NN_OK) {
                    if (accepted++ == 0) printf("  accepted a flip of bit %d of byte %zu\n", bit, i);
                    nn_shard_free(&out);
                }
                p[i] ^= (uint8_t)(1u << bit);
            }
        check(accepted == 0, "parse rejects all %zu single bit flips of %s (accepted=%zu)",
              n * 8, shards[k].name, accepted);
        free(p);
    }

    /* Headers that lie. */
    {
        uint8_t *p = copy_of(buf, len);
        memcpy(p, "NNSHARD2", 8);
        rc = nn_shard_parse(&out, p, len, &err);
        check(rc == NN_ERR_VERSION && strstr(err.msg, "version"), "parse newer magic: %s", err.msg);
        memcpy(p, "PK\3\4xxxx", 8);
        rc = nn_shard_parse(&out, p, len, &err);
        check(rc == NN_ERR_FORMAT && strstr(err.msg, "not a shard") && strstr(err.msg, "rebuild"),
              "parse wrong magic says what to do: %s", err.msg);
        memcpy(p, "\x1f\x8b\x08\0\0\0\0\0", 8);
        rc = nn_shard_parse(&out, p, len, &err);
        check(rc == NN_ERR_FORMAT && strstr(err.msg, "gzip"), "parse gzip file: %s", err.msg);
        memcpy(p, buf, len);
        wr32(p + 8, 3); /* no reseal: the version is checked before the header checksum */
        rc = nn_shard_parse(&out, p, len, &err);
        check(rc == NN_ERR_VERSION && strstr(err.msg, "version 3") && strstr(err.msg, "rebuild"),
              "parse wrong version: %s", err.msg);
        memcpy(p, buf, len);
        rc = nn_shard_parse(&out, p + 2, len - 2, &err);
        check(rc == NN_ERR_ARG, "parse unaligned buffer: %s", err.msg);
        rc = nn_shard_parse(&out, NULL, 0, &err);
        check(rc == NN_ERR_ARG, "parse NULL buffer: %s", err.msg);
        free(p);
    }
    expect_patch("tokenizer version 2", buf, len, vocab_end, 16, 2, NN_ERR_VERSION, "tokenizer version");
    expect_patch("header size 128", buf, len, vocab_end, 12, 128, NN_ERR_FORMAT, "header size");
    expect_patch("payload 1000 bytes longer", buf, len, vocab_end, 40, (uint32_t)(len - 64 + 1000),
                 NN_ERR_FORMAT, "truncated");
    expect_patch("payload length 2^32+", buf, len, vocab_end, 44, 1, NN_ERR_FORMAT, "truncated");
    expect_patch("V 65536", buf, len, vocab_end, 24, 65536, NN_ERR_FORMAT, "vocabulary counts");
    expect_patch("V 2^32-1", buf, len, vocab_end, 24, UINT32_MAX, NN_ERR_FORMAT, "vocabulary has");
    expect_patch("V 3", buf, len, vocab_end, 24, 3, NN_ERR_FORMAT, "vocabulary has");
    expect_patch("4 splits", buf, len, vocab_end, 32, 4, NN_ERR_FORMAT, "truncated");
    expect_patch("5 splits", buf, len, vocab_end, 32, 5, NN_ERR_FORMAT, "splits");
    expect_patch("1 split (bytes left over)", buf, len, vocab_end, 32, 1, NN_ERR_FORMAT, "left over");
    expect_patch("max_tokens 2", buf, len, vocab_end, 20, 2, NN_ERR_FORMAT, "length must be 1..2");
    expect_patch("max_tokens 0", buf, len, vocab_end, 20, 0, NN_ERR_FORMAT, "max_tokens");
    expect_patch("reserved bytes", buf, len, vocab_end, 52, 1, NN_ERR_FORMAT, "reserved");
    expect_patch("wrong vocab_crc", buf, len, 0, 28, 1234, NN_ERR_CHECKSUM, "vocabulary checksum");
    {
        /* Payload fields, located through a parse of the good shard. */
        nn_shard g;
        nn_shard_parse(&g, buf, len, &err);
        size_t word_off = (size_t)((const uint8_t *)g.vocab.offset - buf);
        size_t n_off = (size_t)((const uint8_t *)g.split[0].label - buf) - 4;
        size_t label_off = (size_t)((const uint8_t *)g.split[0].label - buf);
        size_t rating_off = (size_t)((const uint8_t *)g.split[0].rating - buf);
        size_t roff = (size_t)((const uint8_t *)g.split[0].offset - buf);
        size_t tok_off = (size_t)((const uint8_t *)g.split[0].tokens - buf);
        size_t name_off = n_off - 16;
        size_t test_n_off = (size_t)((const uint8_t *)g.split[1].label - buf) - 4;
        size_t test_roff = (size_t)((const uint8_t *)g.split[1].offset - buf);
        nn_shard_free(&g);
        expect_patch("vocab offsets decreasing", buf, len, vocab_end, word_off + 4 * 5, 2,
                     NN_ERR_FORMAT, "vocabulary word");
        expect_patch("vocab word bytes beyond the buffer", buf, len, vocab_end, word_off + 4 * 8,
                     1000000, NN_ERR_FORMAT, "vocabulary words");
        expect_patch("special word renamed", buf, len, vocab_end, 64 + 4 * 8 + 4 * 9, 0x41505b3c,
                     NN_ERR_FORMAT, "<PAD>");
        expect_patch("duplicate word", buf, len, vocab_end, 64 + 4 * 8 + 4 * 9 + 37, 0x646f6f67,
                     NN_ERR_FORMAT, "twice"); /* "plot" -> "good" */
        expect_patch("split n 2^32-1", buf, len, vocab_end, n_off, UINT32_MAX, NN_ERR_FORMAT, "labels");
        expect_patch("split n 4 (past its arrays)", buf, len, vocab_end, n_off, 4, NN_ERR_FORMAT, NULL);
        expect_patch("test split n 1000", buf, len, vocab_end, test_n_off, 1000, NN_ERR_FORMAT, NULL);
        expect_patch("label 7", buf, len, vocab_end, label_off, 0x00010107, NN_ERR_FORMAT, "label 7");
        expect_patch("rating 11", buf, len, vocab_end, rating_off, 0x000a080b, NN_ERR_FORMAT, "rating 11");
        expect_patch("review offsets start at 1", buf, len, vocab_end, roff, 1, NN_ERR_FORMAT, "start at 1");
        expect_patch("review offsets decreasing", buf, len, vocab_end, roff + 8, 2, NN_ERR_FORMAT, "review 1");
        expect_patch("empty review", buf, len, vocab_end, roff + 8, 3, NN_ERR_FORMAT, "review 1");
        expect_patch("tokens beyond the buffer", buf, len, vocab_end, test_roff + 8, 17, NN_ERR_FORMAT, "tokens needs");
        expect_patch("token id >= V", buf, len, vocab_end, tok_off, 0x00080001, NN_ERR_FORMAT, "vocabulary has 8");
        expect_patch("review without START", buf, len, vocab_end, tok_off, 0x00040004, NN_ERR_FORMAT, "START");
        expect_patch("split name unterminated", buf, len, vocab_end, name_off + 12, 0x41414141,
                     NN_ERR_FORMAT, "name");
        expect_patch("split name empty", buf, len, vocab_end, name_off, 0, NN_ERR_FORMAT, "name");
        expect_patch2("split names equal", buf, len, vocab_end, test_n_off - 16, 0x69617274, /* "trai" */
                      test_n_off - 12, 0x6e /* "n" */, NN_ERR_FORMAT, "twice");
        expect_patch("padding not zero", buf, len, vocab_end, label_off, 0x01010100 | 0x01000000,
                     NN_ERR_FORMAT, "padding");
    }

    /* The writer refuses what the reader would refuse. */
    {
        main_shard(&in);
        static const uint16_t bad_tokens[] = {4, 4, 6, 1, 5, 1, 7, 6, 2, 4};
        in.split[0].tokens = bad_tokens;
        uint8_t *p;
        size_t n;
        rc = nn_shard_write(&in, &p, &n, &err);
        check(rc == NN_ERR_ARG && p == NULL && strstr(err.msg, "START") && !strstr(err.msg, "rebuild"),
              "write refuses a review without START: %s", err.msg);
        main_shard(&in);
        static const uint16_t big_tokens[] = {1, 4, 6, 1, 5, 1, 7, 6, 2, 9};
        in.split[0].tokens = big_tokens;
        rc = nn_shard_write(&in, &p, &n, &err);
        check(rc == NN_ERR_ARG && p == NULL, "write refuses an id >= V: %s", err.msg);
    }
    free(buf), free(ubuf);

    const char *tool = argc > 1 ? argv[1] : getenv("IMDB_BUILD_SHARD");
    char *abs_tool = tool && tool[0] ? realpath(tool, NULL) : NULL; /* the test cd's */
    if (tool && tool[0] && check(abs_tool != NULL, "tool found at %s", tool)) test_build_tool(abs_tool);
    free(abs_tool);
    if (!tool || !tool[0]) printf("skip tool tests: pass the imdb_build_shard path as argv[1] or $IMDB_BUILD_SHARD\n");
    return check_exit_code();
}
