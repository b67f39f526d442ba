/* test_checkpoint.c: a checkpoint round-trips bit for bit (parameters,
 * config, vocabulary with invalid UTF-8 and emoji words, history with NaN),
 * scores text exactly as the original model, and every damaged file (every
 * truncated prefix, bit flips everywhere, wrong magic or version, a tensor
 * table or config of another model) fails cleanly with a status code. */
#include "check.h"
#include "nn.h"

#include "synthetic.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HEADER 32

/* ------------------------------------------------------------ a fake vocab */

static const char *const WORDS[] = {
    "<PAD>", "<START>", "<UNK>", "<UNUSED>", "the", "movie", "great", "bad",
    "caf\xc3\xa9",            /* café */
    "\xf0\x9f\x98\x80",       /* 😀 */
    "ab\xff\xfe" "cd",        /* not UTF-8 */
    "it's",
};
#define NWORDS 12

typedef struct fake_vocab {
    nn_vocab v;
    uint32_t count[NWORDS];
    uint32_t offset[NWORDS + 1];
    char bytes[256];
} fake_vocab;

static void fake_vocab_build(fake_vocab *f) {
    memset(f, 0, sizeof *f);
    uint32_t at = 0;
    for (uint32_t i = 0; i < NWORDS; i++) {
        size_t n = strlen(WORDS[i]);
        f->offset[i] = at;
        memcpy(f->bytes + at, WORDS[i], n);
        at += (uint32_t)n;
        f->count[i] = i < NN_FIRST_WORD ? 0 : 1000 - i;
    }
    f->offset[NWORDS] = at;
    f->v.V = NWORDS;
    f->v.count = f->count;
    f->v.offset = f->offset;
    f->v.bytes = f->bytes;
    nn_error err = {0};
    int rc = nn_vocab_index(&f->v, &err);
    check(rc == NN_OK, "fake vocabulary of %d words indexes %s", NWORDS, err.msg);
}

static nn_config small_config(void) {
    nn_config c;
    nn_config_default(&c);
    c.vocab_size = NWORDS;
    c.maxlen = 8;
    c.embed_dim = 5;
    c.hidden = 3;
    c.batch_size = 4;
    c.epochs = 3;
    c.val_size = 2;
    c.seed = 7;
    return c;
}

/* ------------------------------------------------ rebuilding a checkpoint */

static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t x) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(x >> (8 * i));
}

/* The JSON document of a checkpoint, parsed. */
static cJSON *ckpt_json(const uint8_t *buf) {
    return cJSON_ParseWithLength((const char *)buf + HEADER, rd32(buf + 12));
}

/* A new checkpoint with the JSON replaced (and a correct CRC), so the reader
 * gets past the checksum and must judge the content. */
static uint8_t *repack(const uint8_t *buf, size_t len, const cJSON *doc, size_t *out_len) {
    char *json = cJSON_PrintUnformatted(doc);
    size_t jn = strlen(json), jpad = (jn + 3) & ~(size_t)3;
    size_t old_json = rd32(buf + 12), blob = len - HEADER - old_json;
    *out_len = HEADER + jpad + blob;
    uint8_t *out = malloc(*out_len);
    memcpy(out, buf, HEADER);
    memcpy(out + HEADER, json, jn);
    memset(out + HEADER + jn, ' ', jpad - jn);
    memcpy(out + HEADER + jpad, buf + HEADER + old_json, blob);
    wr32(out + 12, (uint32_t)jpad);
    wr32(out + 24, nn_crc32(0, out + HEADER, jpad + blob));
    free(json);
    return out;
}

/* Reads a copy of exactly len bytes (so a sanitizer sees any overread). */
static int read_copy(nn_checkpoint *c, const uint8_t *buf, size_t len, nn_error *err) {
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, buf, len);
    int rc = nn_checkpoint_read(c, copy, len, err);
    free(copy);
    return rc;
}

static int bits_equal(float a, float b) { return memcmp(&a, &b, sizeof a) == 0; }

static int config_equal(const nn_config *a, const nn_config *b) {
    char *ja = nn_config_to_json(a), *jb = nn_config_to_json(b);
    int eq = ja && jb && strcmp(ja, jb) == 0 && a->seed == b->seed && bits_equal(a->lr, b->lr) &&
             bits_equal(a->eps, b->eps) && bits_equal(a->beta1, b->beta1) &&
             bits_equal(a->beta2, b->beta2);
    free(ja);
    free(jb);
    return eq;
}

/* ------------------------------------------------------------------ tests */

static nn_epoch_log HIST[3] = {
    {0.6931472f, 0.5f, 0.69f, 0.51f},
    {0.41234567f, 0.8125f, NAN, NAN}, /* an epoch without validation */
    {1e-30f, 1.0f, 3.4028235e38f, 0.0f},
};

static void round_trip(const nn_model *m, const fake_vocab *fv, const uint8_t *buf, size_t len) {
    nn_checkpoint c;
    nn_error err = {0};
    int rc = nn_checkpoint_read(&c, buf, len, &err);
    if (!check(rc == NN_OK && c.model, "a written checkpoint reads back %s", err.msg)) return;
    const nn_model *l = c.model;
    check(l->nparams == m->nparams &&
              memcmp(l->params, m->params, m->nparams * sizeof(float)) == 0,
          "round trip gives bit-identical params (%zu floats)", m->nparams);
    check(config_equal(&l->cfg, &m->cfg), "round trip gives the same config");
    check(l->Bmax == 1, "a loaded model's activations are for one review (Bmax=%u, batch_size=%u): "
          "a small file cannot claim gigabytes of activations", l->Bmax, l->cfg.batch_size);
    check(l->step == 0, "round trip restarts Adam at step 0 (saved step %llu; moments are not saved)", (unsigned long long)m->step);
    check(c.vocab_crc == 0xDEADBEEFu, "round trip keeps vocab_crc=%08x", c.vocab_crc);
    check(c.vocab.V == NWORDS, "loaded vocabulary has %u words", c.vocab.V);
    int words_ok = 1, lookup_ok = 1;
    for (uint32_t id = 0; id < NWORDS && c.vocab.V == NWORDS; id++) {
        size_t n;
        const char *w = nn_vocab_word(&c.vocab, id, &n);
        words_ok &= n == strlen(WORDS[id]) && memcmp(w, WORDS[id], n) == 0;
        lookup_ok &= nn_vocab_lookup(&c.vocab, WORDS[id], strlen(WORDS[id])) == id;
    }
    check(words_ok, "every word (incl. invalid UTF-8 and emoji) round-trips byte for byte");
    check(lookup_ok, "nn_vocab_lookup finds every word of the loaded vocabulary at its id");
    check(nn_vocab_lookup(&c.vocab, "cafe", 4) == NN_UNK, "an unknown word looks up as <UNK>");
    check(nn_vocab_lookup(&c.vocab, "ab\xff\xfe" "cd", 6) == 10 &&
              nn_vocab_lookup(&c.vocab, "\xf0\x9f\x98\x80", 4) == 9,
          "the invalid-UTF-8 word and the emoji have their ids");

    int hist_ok = c.nhist == 3 && c.hist;
    for (uint32_t i = 0; hist_ok && i < 3; i++) {
        const float a[4] = {HIST[i].loss, HIST[i].acc, HIST[i].val_loss, HIST[i].val_acc};
        const float b[4] = {c.hist[i].loss, c.hist[i].acc, c.hist[i].val_loss, c.hist[i].val_acc};
        for (int k = 0; k < 4; k++) hist_ok &= isnan(a[k]) ? isnan(b[k]) : bits_equal(a[k], b[k]);
    }
    check(hist_ok, "history round-trips bit for bit, NaN as NaN (%u epochs)", c.nhist);

    /* The loaded model scores text exactly as the original. */
    static const char *const texts[] = {
        "The movie was great, great, GREAT!", "bad bad movie", "caf\xc3\xa9 \xf0\x9f\x98\x80",
        "ab\xff\xfe" "cd it's the", "", "words nobody has seen before at all, many of them"};
    int same = 1;
    float worst = 0;
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        float a = nn_model_score_text((nn_model *)m, &fv->v, NULL, texts[i], strlen(texts[i]));
        float b = nn_model_score_text(c.model, &c.vocab, NULL, texts[i], strlen(texts[i]));
        same &= bits_equal(a, b);
        if (fabsf(a - b) > worst) worst = fabsf(a - b);
    }
    check(same, "loaded model scores 6 texts bit-identically to the original (max diff %g)", worst);
    nn_checkpoint_free(&c);
    check(c.model == NULL && c.hist == NULL && c.vocab.V == 0, "nn_checkpoint_free clears the struct");
    nn_checkpoint_free(&c); /* twice is harmless */
}

static void expect_fail(const uint8_t *buf, size_t len, int code, const char *must,
                        const char *what) {
    nn_checkpoint c;
    nn_error err = {0};
    int rc = read_copy(&c, buf, len, &err);
    check(rc == code && err.code == code && c.model == NULL && (!must || strstr(err.msg, must)),
          "%s is rejected (code %d, want %d): %s", what, rc, code, err.msg);
    if (rc == NN_OK) nn_checkpoint_free(&c);
}

static void damaged_files_fail_cleanly(const uint8_t *buf, size_t len) {
    /* Every truncated prefix. */
    int all = 1;
    size_t first_bad = 0;
    for (size_t n = 0; n < len; n++) {
        nn_checkpoint c;
        nn_error err = {0};
        int rc = read_copy(&c, buf, n, &err);
        if (rc == NN_OK || c.model || err.code != rc || !err.msg[0]) {
            if (all) first_bad = n;
            all = 0;
            if (rc == NN_OK) nn_checkpoint_free(&c);
        }
    }
    check(all, "all %zu truncated prefixes fail with a message (first bad: %zu)", len, first_bad);
    nn_checkpoint c;
    nn_error err = {0};
    check(nn_checkpoint_read(&c, NULL, 0, &err) == NN_ERR_FORMAT, "a NULL buffer fails: %s", err.msg);

    /* A flipped bit anywhere: in the header a size or field check catches
     * it, everywhere else the CRC. */
    uint8_t *copy = malloc(len);
    int flips_ok = 1, by_crc = 0;
    size_t bad_at = 0;
    for (size_t i = 0; i < len; i++) {
        memcpy(copy, buf, len);
        copy[i] ^= (uint8_t)(1u << (i % 8));
        int rc = nn_checkpoint_read(&c, copy, len, &err);
        if (rc == NN_OK || c.model) {
            if (flips_ok) bad_at = i;
            flips_ok = 0;
            if (rc == NN_OK) nn_checkpoint_free(&c);
        }
        by_crc += rc == NN_ERR_CHECKSUM;
    }
    check(flips_ok, "a bit flip at each of %zu positions fails (%d by CRC; first bad: %zu)", len,
          by_crc, bad_at);
    check(by_crc >= (int)(len - HEADER), "every flip after the header fails the CRC (%d)", by_crc);

    memcpy(copy, buf, len);
    copy[0] = 'X';
    expect_fail(copy, len, NN_ERR_FORMAT, "NNCKPT01", "wrong magic");
    memcpy(copy, NN_SHARD_MAGIC, 8);
    expect_fail(copy, len, NN_ERR_FORMAT, "shard", "a shard's magic");
    memcpy(copy, buf, len);
    wr32(copy + 8, NN_CKPT_VERSION + 1);
    expect_fail(copy, len, NN_ERR_VERSION, "version 4", "a newer version");
    wr32(copy + 8, 0);
    expect_fail(copy, len, NN_ERR_VERSION, "version 0", "version 0");
    memcpy(copy, buf, len);
    wr32(copy + 8, 0);
    expect_fail(copy, len, NN_ERR_VERSION, "older", "an older version 0");
    memcpy(copy, buf, len);
    wr32(copy + 12, 0xFFFFFFFFu);
    expect_fail(copy, len, NN_ERR_FORMAT, "truncated", "a huge JSON length");
    memcpy(copy, buf, len);
    memset(copy + 16, 0xFF, 8);
    expect_fail(copy, len, NN_ERR_FORMAT, "truncated", "a blob length of 2^64-1");
    memcpy(copy, buf, len);
    wr32(copy + 28, 1);
    expect_fail(copy, len, NN_ERR_FORMAT, "reserved", "a non-zero reserved field");
    free(copy);

    uint8_t *longer = malloc(len + 4);
    memcpy(longer, buf, len);
    memset(longer + len, 0, 4);
    expect_fail(longer, len + 4, NN_ERR_FORMAT, "after its end", "trailing bytes");
    free(longer);
}

typedef void (*edit_fn)(cJSON *doc);

static void edit_nothing(cJSON *doc) { (void)doc; }
static void edit_tensor_rows(cJSON *doc) {
    cJSON *t = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "tensors"), 1);
    cJSON_SetNumberValue(cJSON_GetObjectItem(t, "rows"), 4);
}
static void edit_tensor_name(cJSON *doc) {
    cJSON *t = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "tensors"), 0);
    cJSON_ReplaceItemInObject(t, "name", cJSON_CreateString("embeddings"));
}
static void edit_tensor_offset(cJSON *doc) {
    cJSON *t = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "tensors"), 2);
    cJSON *o = cJSON_GetObjectItem(t, "offset");
    cJSON_SetNumberValue(o, o->valuedouble + 1);
}
static void edit_drop_tensor(cJSON *doc) {
    cJSON_DeleteItemFromArray(cJSON_GetObjectItem(doc, "tensors"), 4);
}
static void edit_config_hidden(cJSON *doc) {
    /* A config for another model with the same number of parameters would
     * still differ in its table; here hidden 3 -> 2 changes the shapes. */
    cJSON_SetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "config"), "hidden"), 2);
}
static void edit_config_vocab(cJSON *doc) {
    cJSON_SetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "config"), "vocab_size"), 11);
}
static void edit_config_huge(cJSON *doc) {
    cJSON *cfg = cJSON_GetObjectItem(doc, "config");
    cJSON_SetNumberValue(cJSON_GetObjectItem(cfg, "vocab_size"), 65536);
    cJSON_SetNumberValue(cJSON_GetObjectItem(cfg, "embed_dim"), 1024);
}
static void edit_config_missing_key(cJSON *doc) {
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(doc, "config"), "pooling");
}
static void edit_config_bad_value(cJSON *doc) {
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(doc, "config"), "pooling",
                              cJSON_CreateString("max"));
}
static void edit_nparams(cJSON *doc) { cJSON_SetNumberValue(cJSON_GetObjectItem(doc, "nparams"), 1); }
static void edit_format(cJSON *doc) {
    cJSON_ReplaceItemInObject(doc, "format", cJSON_CreateString("something-else"));
}
static void edit_drop_word(cJSON *doc) { cJSON_DeleteItemFromArray(cJSON_GetObjectItem(doc, "vocab"), 5); }
static void edit_duplicate_word(cJSON *doc) {
    cJSON_ReplaceItemInArray(cJSON_GetObjectItem(doc, "vocab"), 5, cJSON_CreateString("the"));
}
static void edit_empty_word(cJSON *doc) {
    cJSON_ReplaceItemInArray(cJSON_GetObjectItem(doc, "vocab"), 5, cJSON_CreateString(""));
}
static void edit_bad_hex(cJSON *doc) {
    cJSON *w = cJSON_CreateObject();
    cJSON_AddStringToObject(w, "hex", "6g");
    cJSON_ReplaceItemInArray(cJSON_GetObjectItem(doc, "vocab"), 5, w);
}
static void edit_word_number(cJSON *doc) {
    cJSON_ReplaceItemInArray(cJSON_GetObjectItem(doc, "vocab"), 5, cJSON_CreateNumber(5));
}
static void edit_history(cJSON *doc) {
    cJSON_DeleteItemFromObject(cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "history"), 1), "acc");
}
static void edit_step(cJSON *doc) { cJSON_SetNumberValue(cJSON_GetObjectItem(doc, "step"), -1); }
static void edit_not_object(cJSON *doc) {
    cJSON_DeleteItemFromObject(doc, "format");
    cJSON_DeleteItemFromObject(doc, "tensors");
}

static void edited_documents_are_judged(const uint8_t *buf, size_t len) {
    static const struct {
        edit_fn edit;
        int code;
        const char *must, *what;
    } cases[] = {
        {edit_tensor_rows, NN_ERR_FORMAT, "different model", "a tensor table with other shapes"},
        {edit_tensor_name, NN_ERR_FORMAT, "different model", "a tensor table with another name"},
        {edit_tensor_offset, NN_ERR_FORMAT, "different model", "a tensor table with another offset"},
        {edit_drop_tensor, NN_ERR_FORMAT, "different model", "a tensor table missing a tensor"},
        {edit_config_hidden, NN_ERR_FORMAT, "different model", "a config for another model (hidden 2)"},
        {edit_config_vocab, NN_ERR_FORMAT, "different model", "a config for another model (vocab 11)"},
        {edit_config_huge, NN_ERR_FORMAT, "different model", "a config far larger than the blob"},
        {edit_config_missing_key, NN_ERR_FORMAT, "\"pooling\"", "a config without pooling"},
        {edit_config_bad_value, NN_ERR_FORMAT, "\"max\"", "a config with pooling \"max\""},
        {edit_nparams, NN_ERR_FORMAT, "parameters", "an nparams that disagrees with the blob"},
        {edit_format, NN_ERR_FORMAT, "format", "another format name"},
        {edit_drop_word, NN_ERR_FORMAT, "vocabulary words", "a vocabulary one word short"},
        {edit_duplicate_word, NN_ERR_FORMAT, "twice", "a vocabulary with a word twice"},
        {edit_empty_word, NN_ERR_FORMAT, "word 5", "a vocabulary with an empty word"},
        {edit_bad_hex, NN_ERR_FORMAT, "word 5", "a vocabulary with bad hex"},
        {edit_word_number, NN_ERR_FORMAT, "word 5", "a vocabulary with a number for a word"},
        {edit_history, NN_ERR_FORMAT, "epoch 2", "a history epoch without acc"},
        {edit_step, NN_ERR_FORMAT, "step", "a negative step"},
        {edit_not_object, NN_ERR_FORMAT, "format", "a document without format and tensors"},
    };
    /* The unedited repack must load, or the rejections below prove nothing. */
    cJSON *doc = ckpt_json(buf);
    size_t n;
    edit_nothing(doc);
    uint8_t *same = repack(buf, len, doc, &n);
    nn_checkpoint c;
    nn_error err = {0};
    int rc = nn_checkpoint_read(&c, same, n, &err);
    check(rc == NN_OK, "a repacked, unedited checkpoint loads %s", err.msg);
    nn_checkpoint_free(&c);
    free(same);
    cJSON_Delete(doc);

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        doc = ckpt_json(buf);
        cases[i].edit(doc);
        uint8_t *edited = repack(buf, len, doc, &n);
        expect_fail(edited, n, cases[i].code, cases[i].must, cases[i].what);
        free(edited);
        cJSON_Delete(doc);
    }

    /* Not JSON at all, with a valid CRC. */
    uint8_t *bad = malloc(len);
    memcpy(bad, buf, len);
    bad[HEADER] = '[';
    wr32(bad + 24, nn_crc32(0, bad + HEADER, len - HEADER));
    expect_fail(bad, len, NN_ERR_FORMAT, "JSON", "a JSON document that does not parse");
    free(bad);
}

/* Random damage to the JSON with the CRC made right again: the reader must
 * judge the content and never crash (run under a sanitizer to see it). */
static void mutated_json_never_crashes(const uint8_t *buf, size_t len) {
    uint32_t json_len = rd32(buf + 12);
    uint8_t *copy = malloc(len);
    nn_rng rng;
    nn_rng_seed(&rng, 99);
    static const char pool[] = "{}[]\",:0123456789.-+eE truefalsnul\\u\xff\x80";
    int clean = 1, loaded = 0;
    const int runs = 3000;
    for (int r = 0; r < runs; r++) {
        memcpy(copy, buf, len);
        int edits = 1 + (int)nn_rng_below(&rng, 4);
        for (int e = 0; e < edits; e++) {
            size_t at = HEADER + nn_rng_below(&rng, json_len);
            copy[at] = (uint8_t)(nn_rng_below(&rng, 2) ? (uint8_t)pool[nn_rng_below(&rng, sizeof pool - 1)]
                                                       : nn_rng_u32(&rng));
        }
        wr32(copy + 24, nn_crc32(0, copy + HEADER, len - HEADER));
        nn_checkpoint c;
        nn_error err = {0};
        int rc = nn_checkpoint_read(&c, copy, len, &err);
        if (rc == NN_OK) {
            loaded++;
            clean &= c.model != NULL && c.vocab.V == c.model->cfg.vocab_size;
            nn_checkpoint_free(&c);
        } else {
            clean &= c.model == NULL && err.code == rc && err.msg[0] != 0;
        }
    }
    free(copy);
    check(clean, "%d random JSON mutations with a fixed CRC load or fail cleanly (%d loaded)", runs,
          loaded);
}

static void the_json_is_readable_by_others(const uint8_t *buf) {
    cJSON *doc = ckpt_json(buf);
    const cJSON *vocab = cJSON_GetObjectItem(doc, "vocab");
    const cJSON *w10 = cJSON_GetArrayItem(vocab, 10), *w9 = cJSON_GetArrayItem(vocab, 9);
    const cJSON *hex = cJSON_GetObjectItem(w10, "hex");
    check(cJSON_IsString(hex) && strcmp(hex->valuestring, "6162fffe6364") == 0,
          "the invalid-UTF-8 word is stored as {\"hex\": \"6162fffe6364\"}");
    check(cJSON_IsString(w9) && strcmp(w9->valuestring, "\xf0\x9f\x98\x80") == 0,
          "the emoji word is stored as a plain JSON string");
    const cJSON *h1 = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "history"), 1);
    check(cJSON_IsNull(cJSON_GetObjectItem(h1, "val_loss")), "a NaN in the history is stored as null");
    const cJSON *cfg = cJSON_GetObjectItem(doc, "config");
    check(cJSON_IsString(cJSON_GetObjectItem(cfg, "pooling")) &&
              cJSON_GetObjectItem(cfg, "lr")->valuedouble == 0.001,
          "the config is embedded with enums as strings and lr 0.001");
    const char *f = cJSON_GetStringValue(cJSON_GetObjectItem(doc, "format"));
    check(f && strcmp(f, "imdb-playground-checkpoint") == 0, "format names the file");
    cJSON_Delete(doc);
    uint32_t json_len = rd32(buf + 12);
    check(json_len % 4 == 0 && memcmp(buf, NN_CKPT_MAGIC, 8) == 0 && rd32(buf + 8) == NN_CKPT_VERSION,
          "header: magic, version, JSON length %u a multiple of 4", json_len);
}

/* The image model: no vocabulary, its own tensor table, the same blob. */
static void mlp_round_trip(void) {
    nn_config cfg;
    nn_config_preset(&cfg, "tutorial-mlp");
    cfg.input_dim = 12, cfg.classes = 3, cfg.hidden = 5, cfg.batch_size = 4;
    nn_model *m = NULL;
    nn_error err = {0};
    if (!check(nn_model_create(&m, &cfg, &err) == NN_OK, "mlp model_create %s", err.msg)) return;
    nn_rng rng;
    nn_rng_seed(&rng, 9);
    nn_model_init(m, &rng);
    for (size_t i = 0; i < m->nparams; i++)
        if (m->params[i] == 0.0f) m->params[i] = nn_rng_uniform(&rng, -1.0f, 1.0f);
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = nn_checkpoint_write(m, NULL, 0, HIST, 3, &buf, &len, &err);
    nn_checkpoint c;
    int rc2 = rc ? rc : read_copy(&c, buf, len, &err);
    if (check(rc == NN_OK && rc2 == NN_OK, "an mlp checkpoint (no vocabulary) writes and reads: %s", err.msg)) {
        uint8_t px[12] = {0, 20, 40, 60, 80, 100, 120, 140, 160, 180, 200, 255};
        float pa[3], pb[3];
        uint32_t ka = nn_model_predict_image(m, px, pa), kb = nn_model_predict_image(c.model, px, pb);
        check(c.vocab.V == 0 && c.model->cfg.model == NN_MODEL_MLP && c.model->nparams == m->nparams &&
                  !memcmp(c.model->params, m->params, m->nparams * sizeof(float)) && ka == kb &&
                  !memcmp(pa, pb, sizeof pa) && c.nhist == 3 && isnan(nn_model_score_text(c.model, &c.vocab, NULL, "good", 4)),
              "mlp checkpoint round-trips: same weights, same prediction, empty vocabulary, text scores NaN");
        nn_checkpoint_free(&c);
        /* Every truncation fails cleanly. */
        int bad = 0;
        for (size_t n = 0; n < len; n += 7) bad += read_copy(&c, buf, n, &err) == NN_OK;
        check(bad == 0, "mlp checkpoint truncations rejected (accepted: %d)", bad);
    }
    free(buf);
    nn_model_free(m);
}

/* A checkpoint's JSON document with one edit, repacked, read. */
static int read_edited(const uint8_t *buf, size_t len, const char *key, double value, uint32_t version,
                       nn_checkpoint *c, nn_error *err) {
    cJSON *doc = ckpt_json(buf);
    cJSON_SetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "config"), key), value);
    cJSON_SetNumberValue(cJSON_GetObjectItem(doc, "version"), version);
    size_t n;
    uint8_t *edited = repack(buf, len, doc, &n);
    wr32(edited + 8, version);
    wr32(edited + 24, nn_crc32(0, edited + HEADER, n - HEADER));
    int rc = read_copy(c, edited, n, err);
    free(edited);
    cJSON_Delete(doc);
    return rc;
}

/* K classes: the config's "classes" is the text model's K (version 2);
 * a version 1 file's text model is two-class whatever "classes" says. */
static void classes_round_trip(const fake_vocab *fv) {
    nn_config cfg = small_config();
    for (int model = NN_MODEL_BAG; model <= NN_MODEL_NGRAM; model++) {
        if (model == NN_MODEL_MLP || model == NN_MODEL_BILSTM) continue;
        for (uint32_t K = 2; K <= 5; K += 3) {
            cfg.model = model;
            cfg.classes = K;
            nn_model *m = NULL;
            nn_error err = {0};
            if (!check(nn_model_create(&m, &cfg, &err) == NN_OK, "model %d K=%u create %s", model, K, err.msg))
                continue;
            nn_rng rng;
            nn_rng_seed(&rng, 11);
            nn_model_init(m, &rng);
            for (size_t i = 0; i < m->nparams; i++)
                if (m->params[i] == 0.0f && (model != NN_MODEL_NGRAM || i < m->tensor[3].offset))
                    m->params[i] = nn_rng_uniform(&rng, -1.0f, 1.0f);
            uint8_t *buf = NULL;
            size_t len = 0;
            int rc = nn_checkpoint_write(m, &fv->v, 5, HIST, 3, &buf, &len, &err);
            nn_checkpoint c;
            int rc2 = rc ? rc : read_copy(&c, buf, len, &err);
            if (!check(rc == NN_OK && rc2 == NN_OK, "model %d K=%u checkpoint writes and reads: %s", model, K,
                       err.msg)) {
                free(buf);
                nn_model_free(m);
                continue;
            }
            static const char TEXT[] = "the film was good and bad";
            float pa[5], pb[5];
            uint32_t ka = nn_model_score_text_classes(m, &fv->v, NULL, TEXT, sizeof TEXT - 1, pa);
            uint32_t kb = nn_model_score_text_classes(c.model, &c.vocab, NULL, TEXT, sizeof TEXT - 1, pb);
            check(nn_model_classes(c.model) == K && c.model->nparams == m->nparams && ka == kb &&
                      !memcmp(pa, pb, K * sizeof *pa),
                  "model %d K=%u round-trips: K, weights, class %u and its probabilities", model, K, ka);
            nn_checkpoint_free(&c);
            /* Edited: another K than the blob's shapes; a K no text model has. */
            rc = read_edited(buf, len, "classes", K == 2 ? 3 : 2, NN_CKPT_VERSION, &c, &err);
            check(rc == NN_ERR_FORMAT && strstr(err.msg, "different model"),
                  "model %d K=%u saved with classes edited is refused: %s", model, K, err.msg);
            if (rc == NN_OK) nn_checkpoint_free(&c);
            rc = read_edited(buf, len, "classes", NN_MAX_TEXT_CLASSES + 1, NN_CKPT_VERSION, &c, &err);
            check(rc == NN_ERR_FORMAT && strstr(err.msg, "classes"),
                  "model %d K=%u saved with classes 51 is refused: %s", model, K, err.msg);
            if (rc == NN_OK) nn_checkpoint_free(&c);
            /* Version 1: two-class text models, "classes" 10 (the old default). */
            rc = read_edited(buf, len, "classes", 10, 1, &c, &err);
            if (K == 2) {
                float pc[2];
                uint32_t kc = rc ? 9 : nn_model_score_text_classes(c.model, &c.vocab, NULL, TEXT, sizeof TEXT - 1, pc);
                check(rc == NN_OK && nn_model_classes(c.model) == 2 && c.model->cfg.classes == 2 && kc == ka &&
                          !memcmp(pa, pc, sizeof pc),
                      "model %d: a version 1 checkpoint with classes 10 loads as K = 2, same scores %s", model,
                      rc ? err.msg : "");
            } else {
                check(rc == NN_ERR_FORMAT && strstr(err.msg, "different model"),
                      "model %d K=%u relabelled version 1 is refused (its shapes are K-wide): %s", model, K,
                      err.msg);
            }
            if (rc == NN_OK) nn_checkpoint_free(&c);
            /* A header version 1 with a JSON version 3, and version 4. */
            uint8_t *copy = malloc(len);
            memcpy(copy, buf, len);
            wr32(copy + 8, 1);
            expect_fail(copy, len, NN_ERR_FORMAT, "version", "a header version 1 over a JSON version 3");
            wr32(copy + 8, NN_CKPT_VERSION + 1);
            expect_fail(copy, len, NN_ERR_VERSION, "newer", "a checkpoint of version 4");
            free(copy);
            /* Every truncation fails cleanly. */
            int bad = 0;
            for (size_t n = 0; n < len; n += 5) bad += read_copy(&c, buf, n, &err) == NN_OK;
            check(bad == 0, "model %d K=%u checkpoint truncations rejected (accepted: %d)", model, K, bad);
            free(buf);
            nn_model_free(m);
        }
    }
}

/* A file's head (header, then header and JSON) is judged before the whole
 * file is read (nn_checkpoint_read_head, what the page's worker checks
 * before it copies a model file into wasm memory), and the trainer it would
 * build is judged from the head's config (nn_trainer_checkpoint_fits). */
static void heads_are_judged_before_the_file(const nn_model *m, const uint8_t *buf, size_t len) {
    nn_checkpoint_head h;
    nn_error err = {0};
    uint32_t json_len = rd32(buf + 12);
    int rc = nn_checkpoint_read_head(&h, buf, HEADER, len, &err);
    check(rc == NN_OK && !h.has_config && h.json_len == json_len,
          "the 32-byte header alone passes and gives the JSON's length (%u) %s", h.json_len, err.msg);
    rc = nn_checkpoint_read_head(&h, buf, HEADER + json_len, len, &err);
    check(rc == NN_OK && h.has_config && config_equal(&h.cfg, &m->cfg) && h.vocab_crc == 0xDEADBEEFu,
          "header and JSON give the config and vocab_crc %s", err.msg);
    rc = nn_checkpoint_read_head(&h, buf, 16, len, &err);
    check(rc == NN_ERR_ARG && err.msg[0], "16 bytes are not a head: %s", err.msg);
    rc = nn_checkpoint_read_head(&h, buf, HEADER, len + 4, &err);
    check(rc == NN_ERR_FORMAT && strstr(err.msg, "after its end"), "a file longer than its header says: %s", err.msg);
    rc = nn_checkpoint_read_head(&h, buf, HEADER, len - 4, &err);
    check(rc == NN_ERR_FORMAT && strstr(err.msg, "truncated"), "a file shorter than its header says: %s", err.msg);
    uint8_t head[HEADER];
    memcpy(head, buf, HEADER);
    uint64_t big = (uint64_t)NN_CKPT_JSON_MAX + 4;
    wr32(head + 12, (uint32_t)big);
    rc = nn_checkpoint_read_head(&h, head, HEADER, HEADER + big + (len - HEADER - json_len), &err);
    check(rc == NN_ERR_FORMAT && strstr(err.msg, "over the 64 MB"), "a JSON over 64 MB is refused from the header: %s", err.msg);
    /* The head's config, against a shard. */
    synthetic syn;
    synthetic_make(&syn, 48, 12);
    (void)synthetic_free;
    nn_checkpoint_head fit = {0};
    fit.has_config = 1, fit.cfg = small_config(), fit.vocab_crc = syn.shard.vocab_crc;
    memset(&err, 0, sizeof err);
    rc = nn_trainer_checkpoint_fits(&fit, &syn.shard, NULL, &err);
    check(rc == NN_OK, "a small model's head fits the synthetic shard %s", err.msg);
    fit.vocab_crc ^= 1;
    rc = nn_trainer_checkpoint_fits(&fit, &syn.shard, NULL, &err);
    check(rc == NN_ERR_ARG && strstr(err.msg, "another vocabulary"), "another vocabulary is refused: %s", err.msg);
    fit.vocab_crc ^= 1;
    nn_config_from_json(&fit.cfg, "{\"model\":\"bilstm\",\"layers\":4,\"hidden\":4096,\"embed_dim\":1024,"
                                  "\"maxlen\":2048,\"batch_size\":65536}", &err);
    rc = nn_trainer_checkpoint_fits(&fit, &syn.shard, NULL, &err);
    check(rc == NN_ERR_NOMEM && strstr(err.msg, "this model needs"), "a trainer over the budget is refused from the head: %s", err.msg);
    fit.cfg = small_config();
    fit.cfg.model = NN_MODEL_MLP;
    rc = nn_trainer_checkpoint_fits(&fit, &syn.shard, NULL, &err);
    check(rc == NN_ERR_ARG && strstr(err.msg, "image model"), "an image model without images is refused: %s", err.msg);
    synthetic_free(&syn);
}

/* A named checkpoint's document with "class_names" replaced by names (a
 * JSON array text, or NULL to drop it) and the version set, repacked, read. */
static int read_names_edited(const uint8_t *buf, size_t len, const char *names, uint32_t version,
                             nn_checkpoint *c, nn_error *err) {
    cJSON *doc = ckpt_json(buf);
    cJSON_DeleteItemFromObject(doc, "class_names");
    if (names) cJSON_AddItemToObject(doc, "class_names", cJSON_Parse(names));
    cJSON_SetNumberValue(cJSON_GetObjectItem(doc, "version"), version);
    size_t n;
    uint8_t *edited = repack(buf, len, doc, &n);
    wr32(edited + 8, version);
    wr32(edited + 24, nn_crc32(0, edited + HEADER, n - HEADER));
    int rc = read_copy(c, edited, n, err);
    free(edited);
    cJSON_Delete(doc);
    return rc;
}

/* Version 3: a model of a labelled-text shard keeps its class names. */
static void class_names_round_trip(const fake_vocab *fv) {
    nn_config cfg = small_config();
    cfg.classes = 3;
    nn_model *m = NULL;
    nn_error err = {0};
    if (!check(nn_model_create(&m, &cfg, &err) == NN_OK, "3-class model create %s", err.msg)) return;
    nn_rng rng;
    nn_rng_seed(&rng, 5);
    nn_model_init(m, &rng);
    nn_shard names;
    memset(&names, 0, sizeof names);
    static const char *const NAME[3] = {"sports", "cuisine fran\xc3\xa7" "aise", "weather"};
    names.classes = 3;
    for (int k = 0; k < 3; k++) names.class_name[k] = NAME[k], names.class_name_len[k] = (uint32_t)strlen(NAME[k]);
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = nn_checkpoint_write_named(m, &fv->v, 5, HIST, 3, &names, &buf, &len, &err);
    nn_checkpoint c;
    int rc2 = rc ? rc : read_copy(&c, buf, len, &err);
    if (!check(rc == NN_OK && rc2 == NN_OK, "a named 3-class checkpoint writes and reads: %s", err.msg)) {
        free(buf);
        nn_model_free(m);
        return;
    }
    check(c.nclass_names == 3 && !strcmp(c.class_name[0], NAME[0]) && !strcmp(c.class_name[1], NAME[1]) &&
              !strcmp(c.class_name[2], NAME[2]) && c.class_name[3] == NULL,
          "its class names come back byte for byte (UTF-8 included)");
    nn_checkpoint_free(&c);

    /* Unnamed writes keep none; a shard of another K is refused. */
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    rc = nn_checkpoint_write(m, &fv->v, 5, HIST, 3, &plain, &plain_len, &err);
    rc2 = rc ? rc : read_copy(&c, plain, plain_len, &err);
    check(rc == NN_OK && rc2 == NN_OK && c.nclass_names == 0 && c.class_name[0] == NULL,
          "an unnamed checkpoint has no class names %s", err.msg);
    if (rc2 == NN_OK) nn_checkpoint_free(&c);
    names.classes = 4;
    names.class_name[3] = "other", names.class_name_len[3] = 5;
    uint8_t *bad = NULL;
    size_t bad_len = 0;
    rc = nn_checkpoint_write_named(m, &fv->v, 5, HIST, 3, &names, &bad, &bad_len, &err);
    check(rc == NN_ERR_ARG && bad == NULL && strstr(err.msg, "4 classes"), "names of 4 classes for a 3-class model are refused: %s", err.msg);
    free(bad);

    /* Version 2 files still load (without names); a version 2 claiming names is refused. */
    rc = read_names_edited(plain, plain_len, NULL, 2, &c, &err);
    check(rc == NN_OK && c.nclass_names == 0 && nn_model_classes(c.model) == 3, "a version 2 checkpoint still loads: %s", rc ? err.msg : "");
    if (rc == NN_OK) nn_checkpoint_free(&c);
    rc = read_names_edited(buf, len, "[\"a\",\"b\",\"c\"]", 2, &c, &err);
    check(rc == NN_ERR_FORMAT && strstr(err.msg, "class_names"), "class names in a version 2 file are refused: %s", err.msg);
    if (rc == NN_OK) nn_checkpoint_free(&c);

    /* Lies about the names. */
    static const char *const LIES[][2] = {
        {"[\"a\",\"b\"]", "two names for three classes"},
        {"[\"a\",\"b\",\"c\",\"d\"]", "four names for three classes"},
        {"{\"a\":1}", "an object, not a list"},
        {"[\"a\",2,\"c\"]", "a number for a name"},
        {"[\"a\",\"\",\"c\"]", "an empty name"},
        {"[\"a\",{\"hex\":\"6100\"},\"c\"]", "a name with a NUL byte"},
        {"[\"a\",{\"hex\":\"6\"},\"c\"]", "a half hex byte"},
        {"[\"a\",\"0123456789012345678901234567890123456789012345678901234567890123456789\",\"c\"]", "a 70-byte name"},
        {"7", "a number"},
    };
    for (size_t i = 0; i < sizeof LIES / sizeof LIES[0]; i++) {
        rc = read_names_edited(buf, len, LIES[i][0], NN_CKPT_VERSION, &c, &err);
        check(rc == NN_ERR_FORMAT, "class names: %s is refused: %s", LIES[i][1], err.msg);
        if (rc == NN_OK) nn_checkpoint_free(&c);
    }
    rc = read_names_edited(buf, len, "[\"a\",{\"hex\":\"62\"},\"c\"]", NN_CKPT_VERSION, &c, &err);
    check(rc == NN_OK && c.nclass_names == 3 && !strcmp(c.class_name[1], "b"), "a hex-coded name reads: %s", rc ? err.msg : "");
    if (rc == NN_OK) nn_checkpoint_free(&c);

    /* Every truncation and every bit flip after the header fails cleanly. */
    int accepted = 0;
    for (size_t n = 0; n < len; n += 3) accepted += read_copy(&c, buf, n, &err) == NN_OK;
    uint8_t *copy = malloc(len);
    for (size_t i = HEADER; i < len; i += 7) {
        memcpy(copy, buf, len);
        copy[i] ^= 0x10;
        if (read_copy(&c, copy, len, &err) == NN_OK) accepted++, nn_checkpoint_free(&c);
    }
    free(copy);
    check(accepted == 0, "named checkpoint: truncations and bit flips rejected (accepted: %d)", accepted);
    free(plain);
    free(buf);
    nn_model_free(m);
}

int main(void) {
    mlp_round_trip();
    fake_vocab fv;
    fake_vocab_build(&fv);
    nn_config cfg = small_config();
    nn_error err = {0};
    nn_model *m = NULL;
    int rc = nn_model_create(&m, &cfg, &err);
    if (!check(rc == NN_OK, "create a small model %s", err.msg)) return check_exit_code();
    nn_rng rng;
    nn_rng_seed(&rng, 7);
    nn_model_init(m, &rng);
    /* Make the biases non-zero and one parameter special, so every float of
     * the blob is checked. */
    for (size_t i = 0; i < m->nparams; i++)
        if (m->params[i] == 0.0f) m->params[i] = nn_rng_uniform(&rng, -1.0f, 1.0f);
    m->params[0] = -0.0f;
    m->step = 123456789012ull;

    uint8_t *buf = NULL;
    size_t len = 0;
    rc = nn_checkpoint_write(m, &fv.v, 0xDEADBEEFu, HIST, 3, &buf, &len, &err);
    classes_round_trip(&fv);
    class_names_round_trip(&fv);
    if (check(rc == NN_OK && buf && len > HEADER, "write a checkpoint: %zu bytes %s", len, err.msg)) {
        round_trip(m, &fv, buf, len);
        heads_are_judged_before_the_file(m, buf, len);
        the_json_is_readable_by_others(buf);
        damaged_files_fail_cleanly(buf, len);
        edited_documents_are_judged(buf, len);
        mutated_json_never_crashes(buf, len);
        free(buf);
    }

    /* No history at all. */
    rc = nn_checkpoint_write(m, &fv.v, 1, NULL, 0, &buf, &len, &err);
    nn_checkpoint c;
    int rc2 = rc ? rc : nn_checkpoint_read(&c, buf, len, &err);
    check(rc == NN_OK && rc2 == NN_OK && c.nhist == 0 && c.hist == NULL,
          "a checkpoint without history round-trips %s", err.msg);
    if (rc2 == NN_OK) nn_checkpoint_free(&c);
    free(buf);

    /* A vocabulary smaller than the model's vocab_size cannot be saved. */
    nn_vocab small = fv.v;
    small.V = 8;
    buf = NULL;
    rc = nn_checkpoint_write(m, &small, 1, NULL, 0, &buf, &len, &err);
    check(rc == NN_ERR_ARG && buf == NULL && strstr(err.msg, "12 vocabulary ids"),
          "writing with a vocabulary smaller than vocab_size fails: %s", err.msg);
    rc = nn_checkpoint_write(m, NULL, 1, NULL, 0, &buf, &len, &err);
    check(rc == NN_ERR_ARG && buf == NULL, "writing without a vocabulary fails: %s", err.msg);

    nn_model_free(m);

    /* Recurrent models: the same file format, their own tensor tables. */
    const char *recurrent[] = {"{\"model\":\"lstm\"}", "{\"model\":\"bigru\",\"layers\":2}"};
    for (int k = 0; k < 2; k++) {
        nn_config rc_cfg = small_config();
        nn_config_from_json(&rc_cfg, recurrent[k], &err);
        rc = nn_model_create(&m, &rc_cfg, &err);
        if (!check(rc == NN_OK, "create a small %s model %s", recurrent[k], rc ? err.msg : "")) continue;
        nn_model_init(m, &rng);
        buf = NULL;
        rc = nn_checkpoint_write(m, &fv.v, 0xDEADBEEFu, HIST, 3, &buf, &len, &err);
        if (check(rc == NN_OK, "write a %s checkpoint: %zu bytes, %u tensors %s", recurrent[k], len,
                  m->ntensors, rc ? err.msg : "")) {
            round_trip(m, &fv, buf, len);
            /* Claiming another architecture in the config is caught by the tensor table. */
            cJSON *doc = ckpt_json(buf);
            cJSON *config = cJSON_GetObjectItem(doc, "config");
            cJSON_ReplaceItemInObject(config, "model", cJSON_CreateString(k == 0 ? "gru" : "bilstm"));
            size_t elen;
            uint8_t *edited = repack(buf, len, doc, &elen);
            nn_checkpoint c2;
            rc2 = read_copy(&c2, edited, elen, &err);
            check(rc2 == NN_ERR_FORMAT && strstr(err.msg, "different model"),
                  "a %s checkpoint whose config claims another model is rejected: %s", recurrent[k], err.msg);
            if (rc2 == NN_OK) nn_checkpoint_free(&c2);
            free(edited);
            cJSON_Delete(doc);
            free(buf);
        }
        nn_model_free(m);
    }
    nn_vocab_free_index(&fv.v);
    return check_exit_code();
}
