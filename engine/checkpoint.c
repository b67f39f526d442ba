/* checkpoint.c: a trained model as one buffer, and back.
 *
 * Layout (integers little-endian, everything 4-byte aligned):
 *
 *   offset  size  field
 *        0     8  magic "NNCKPT01" (NN_CKPT_MAGIC)
 *        8     4  u32 version (NN_CKPT_VERSION)
 *       12     4  u32 json_len: bytes of JSON, padded with spaces to a multiple of 4
 *       16     8  u64 blob_len: bytes of parameters, nparams * 4
 *       24     4  u32 CRC-32 (nn_crc32) of the JSON (padding included) and the blob
 *       28     4  u32 reserved, 0
 *       32        the JSON document (unformatted, then the padding spaces)
 *  32+json_len    the blob: model->params as float32, nparams of them
 *
 * The file ends exactly there. The JSON document:
 *
 *   {"format": "imdb-playground-checkpoint", "version": 2 (as the header's),
 *    "config": {...nn_config_to_json, every key present...},
 *    "tensors": [{"name": "embedding", "rows": V, "cols": E, "offset": 0}, ...],
 *    "nparams": N, "step": optimizer steps taken, "vocab_crc": the shard's,
 *    "vocab": [words of ids 0 .. vocab_size-1, specials included; none for
 *              model "mlp", which reads images],
 *    "history": [{"loss": .., "acc": .., "val_loss": .., "val_acc": ..}, ...],
 *    "class_names": [K names, encoded as vocabulary words] (version 3, only
 *              when the model was trained on a labelled-text shard)}
 *
 * Vocabulary words are byte strings (the tokenizer keeps invalid UTF-8 from
 * user text). A word that is valid UTF-8 without NUL bytes is a JSON string;
 * any other word is an object {"hex": "<its bytes as lowercase hex>"}. So the
 * JSON is always valid UTF-8 that any parser (JSON.parse, Python) reads, and
 * every word round-trips byte for byte. Floats in the JSON are written as the
 * shortest decimal that reads back as the same float32; NaN (and infinity)
 * in the history is null and reads back as NaN.
 *
 * Not saved, deliberately: the gradients, the activations and the Adam
 * moments. A loaded checkpoint predicts exactly as the saved model did, but
 * training it further restarts Adam: fresh (zero) moments and step 0, so the
 * bias correction matches the moments (restoring the step with zero moments
 * would make the first updates several times too large). "step" in the JSON
 * records how long the model had trained. Not here either: file
 * I/O (the native tools and the page read and write the bytes).
 *
 * Version 3 (NN_CKPT_VERSION) added the optional "class_names": a model
 * of the user's labelled file names its classes, so a downloaded model
 * scores text on its own. Version 2 added nothing to the layout: its config's
 * "classes" is the K of a text model (K == 2 the one sigmoid output, more
 * K softmax outputs; the tensors' shapes follow). Version 1 files are
 * still read: their text models are two-class whatever "classes" says (it
 * was an "mlp"-only key then, 10 by default), so they load as K = 2.
 *
 * The reader trusts nothing: it checks the magic, the version, every size
 * against the buffer (without overflow), the CRC, the JSON, the config and
 * that the tensor table is the one nn_model_create makes for that config.
 */
#include "nn.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define HEADER_BYTES 32
#define FORMAT_NAME "imdb-playground-checkpoint"
#define JSON_INT_MAX 9007199254740992.0 /* 2^53: integers above are not exact */

static const char *const FIX = "save the checkpoint again (imdb_train --checkpoint FILE)";

/* ----------------------------------------------------- little-endian bytes */

static void put_u32(uint8_t *p, uint32_t x) {
    p[0] = (uint8_t)x;
    p[1] = (uint8_t)(x >> 8);
    p[2] = (uint8_t)(x >> 16);
    p[3] = (uint8_t)(x >> 24);
}

static void put_u64(uint8_t *p, uint64_t x) {
    put_u32(p, (uint32_t)x);
    put_u32(p + 4, (uint32_t)(x >> 32));
}

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p) { return get_u32(p) | (uint64_t)get_u32(p + 4) << 32; }

/* ------------------------------------------------------------- JSON values */


static int utf8_valid_no_nul(const uint8_t *s, size_t n) {
    /* RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF. */
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c == 0) return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        uint32_t cp, min;
        if (c >= 0xC2 && c <= 0xDF) k = 1, cp = c & 0x1F, min = 0x80;
        else if (c >= 0xE0 && c <= 0xEF) k = 2, cp = c & 0x0F, min = 0x800;
        else if (c >= 0xF0 && c <= 0xF4) k = 3, cp = c & 0x07, min = 0x10000;
        else return 0;
        if (n - i <= k) return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += k + 1;
    }
    return 1;
}

/* A word as a cJSON value: a string, or {"hex": ...} (see the file header). */
static cJSON *word_to_json(const char *w, size_t n) {
    char *s = nn_malloc_array(nn_size_add_sat(nn_size_mul_sat(n, 2), 1), 1);
    if (!s) return NULL;
    cJSON *x = NULL;
    if (utf8_valid_no_nul((const uint8_t *)w, n)) {
        memcpy(s, w, n);
        s[n] = 0;
        x = cJSON_CreateString(s);
    } else {
        static const char digits[] = "0123456789abcdef";
        for (size_t i = 0; i < n; i++) {
            s[2 * i] = digits[(uint8_t)w[i] >> 4];
            s[2 * i + 1] = digits[(uint8_t)w[i] & 15];
        }
        s[2 * n] = 0;
        x = cJSON_CreateObject();
        if (x && !cJSON_AddStringToObject(x, "hex", s)) {
            cJSON_Delete(x);
            x = NULL;
        }
    }
    free(s);
    return x;
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The bytes of a vocabulary entry: *out points into the cJSON tree (string)
 * or, for hex, is decoded into dst (when dst != NULL; *n is set either way).
 * Returns 0 for a malformed entry. */
static int word_from_json(const cJSON *x, const char **str, char *dst, size_t *n) {
    if (cJSON_IsString(x)) {
        *str = x->valuestring;
        *n = strlen(x->valuestring);
        if (dst) memcpy(dst, x->valuestring, *n);
        return *n > 0;
    }
    const cJSON *hex = cJSON_IsObject(x) ? cJSON_GetObjectItemCaseSensitive(x, "hex") : NULL;
    if (!cJSON_IsString(hex)) return 0;
    const char *h = hex->valuestring;
    size_t len = strlen(h);
    if (len == 0 || len % 2) return 0;
    for (size_t i = 0; i < len; i += 2) {
        int a = hex_value(h[i]), b = hex_value(h[i + 1]);
        if (a < 0 || b < 0) return 0;
        if (dst) dst[i / 2] = (char)(a << 4 | b);
    }
    *str = NULL;
    *n = len / 2;
    return 1;
}

/* A whole number in [0, max] stored under key, or 0 (not found, not a number,
 * not whole, out of range). */
static int get_whole(const cJSON *obj, const char *key, double max, double *out) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(x)) return 0;
    double d = x->valuedouble;
    if (!(d >= 0 && d <= max) || d != floor(d)) return 0;
    *out = d;
    return 1;
}

/* A history value: a number, or null for NaN. */
static int get_metric(const cJSON *obj, const char *key, float *out) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (cJSON_IsNull(x)) {
        *out = NAN;
        return 1;
    }
    if (!cJSON_IsNumber(x)) return 0;
    *out = (float)x->valuedouble;
    return 1;
}

static cJSON *metric_json(float f) {
    return isfinite(f) ? cJSON_CreateNumber(nn_json_float(f)) : cJSON_CreateNull();
}

/* ------------------------------------------------------------------ write */

/* The vocabulary words a model's checkpoint holds: none for images. */
static uint32_t words_of(const nn_config *c) { return c->model == NN_MODEL_MLP ? 0 : c->vocab_size; }

static cJSON *checkpoint_json(const nn_model *m, const nn_vocab *vocab, uint32_t vocab_crc,
                              const nn_epoch_log *hist, uint32_t nhist, const nn_shard *names) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    int ok = cJSON_AddStringToObject(root, "format", FORMAT_NAME) != NULL;
    ok = ok && cJSON_AddNumberToObject(root, "version", NN_CKPT_VERSION);
    char *cfg = nn_config_to_json(&m->cfg);
    ok = ok && cfg && cJSON_AddRawToObject(root, "config", cfg);
    free(cfg);

    cJSON *tensors = ok ? cJSON_AddArrayToObject(root, "tensors") : NULL;
    ok = tensors != NULL;
    for (uint32_t i = 0; ok && i < m->ntensors; i++) {
        const nn_tensor *t = &m->tensor[i];
        cJSON *x = cJSON_CreateObject();
        ok = x && cJSON_AddItemToArray(tensors, x);
        if (!ok) {
            cJSON_Delete(x);
            break;
        }
        char name[sizeof t->name + 1];
        memcpy(name, t->name, sizeof t->name);
        name[sizeof t->name] = 0;
        ok = cJSON_AddStringToObject(x, "name", name) && cJSON_AddNumberToObject(x, "rows", t->rows) &&
             cJSON_AddNumberToObject(x, "cols", t->cols) &&
             cJSON_AddNumberToObject(x, "offset", (double)t->offset);
    }
    ok = ok && cJSON_AddNumberToObject(root, "nparams", (double)m->nparams);
    ok = ok && cJSON_AddNumberToObject(root, "step", (double)m->step);
    ok = ok && cJSON_AddNumberToObject(root, "vocab_crc", vocab_crc);

    cJSON *words = ok ? cJSON_AddArrayToObject(root, "vocab") : NULL;
    ok = words != NULL;
    for (uint32_t id = 0; ok && id < words_of(&m->cfg); id++) {
        const char *w = vocab->bytes + vocab->offset[id];
        size_t n = vocab->offset[id + 1] - vocab->offset[id];
        cJSON *x = word_to_json(w, n);
        ok = x && cJSON_AddItemToArray(words, x);
        if (!ok) cJSON_Delete(x);
    }

    cJSON *history = ok ? cJSON_AddArrayToObject(root, "history") : NULL;
    ok = history != NULL;
    for (uint32_t i = 0; ok && i < nhist; i++) {
        cJSON *x = cJSON_CreateObject();
        ok = x && cJSON_AddItemToArray(history, x);
        if (!ok) {
            cJSON_Delete(x);
            break;
        }
        const float v[4] = {hist[i].loss, hist[i].acc, hist[i].val_loss, hist[i].val_acc};
        static const char *const keys[4] = {"loss", "acc", "val_loss", "val_acc"};
        for (int k = 0; ok && k < 4; k++) {
            cJSON *y = metric_json(v[k]);
            ok = y && cJSON_AddItemToObject(x, keys[k], y);
            if (!ok) cJSON_Delete(y);
        }
    }
    if (ok && names) {
        cJSON *list = cJSON_AddArrayToObject(root, "class_names");
        ok = list != NULL;
        for (uint32_t k = 0; ok && k < names->classes; k++) {
            cJSON *x = word_to_json(names->class_name[k], names->class_name_len[k]);
            ok = x && cJSON_AddItemToArray(list, x);
            if (!ok) cJSON_Delete(x);
        }
    }
    if (!ok) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

int nn_checkpoint_write(const nn_model *m, const nn_vocab *vocab, uint32_t vocab_crc,
                        const nn_epoch_log *hist, uint32_t nhist,
                        uint8_t **out, size_t *out_len, nn_error *err) {
    return nn_checkpoint_write_named(m, vocab, vocab_crc, hist, nhist, NULL, out, out_len, err);
}

int nn_checkpoint_write_named(const nn_model *m, const nn_vocab *vocab, uint32_t vocab_crc,
                              const nn_epoch_log *hist, uint32_t nhist, const nn_shard *names,
                              uint8_t **out, size_t *out_len, nn_error *err) {
    assert(m && out && out_len && (hist || nhist == 0));
    if (names && (!names->class_name[0] || m->cfg.model == NN_MODEL_MLP)) names = NULL; /* unnamed: none kept */
    if (names && names->classes != nn_model_classes(m))
        return nn_fail(err, NN_ERR_ARG,
                       "cannot save a checkpoint: the shard names %u classes but the model has %u; "
                       "train on that shard",
                       names->classes, nn_model_classes(m));
    *out = NULL;
    *out_len = 0;
    uint32_t V = words_of(&m->cfg);
    if (V > 0 && (!vocab || vocab->V < V))
        return nn_fail(err, NN_ERR_ARG,
                       "cannot save a checkpoint: the model uses %u vocabulary ids but the "
                       "vocabulary has %u words; train from a shard that includes its "
                       "vocabulary (imdb_build_shard writes one)",
                       V, vocab ? vocab->V : 0);
    for (uint32_t id = 0; id < V; id++)
        if (vocab->offset[id + 1] <= vocab->offset[id])
            return nn_fail(err, NN_ERR_ARG,
                           "cannot save a checkpoint: vocabulary word %u is empty or its "
                           "offsets decrease; rebuild the shard",
                           id);

    cJSON *root = checkpoint_json(m, vocab, vocab_crc, hist, nhist, names);
    char *json = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!json) return nn_fail(err, NN_ERR_NOMEM, "out of memory writing the checkpoint");

    size_t json_bytes = strlen(json);
    size_t json_len = (json_bytes + 3) & ~(size_t)3;
    if (json_len > NN_CKPT_JSON_MAX || m->nparams > (SIZE_MAX - HEADER_BYTES - json_len) / 4) {
        free(json);
        return nn_fail(err, NN_ERR_ARG,
                       "the checkpoint would be too large (%zu bytes of JSON, %zu parameters); "
                       "use a smaller vocabulary or model",
                       json_bytes, m->nparams);
    }
    size_t blob_len = m->nparams * sizeof(float); /* cannot wrap: checked just above */
    size_t total = HEADER_BYTES + json_len + blob_len;
    uint8_t *buf = malloc(total);
    if (!buf) {
        free(json);
        return nn_fail(err, NN_ERR_NOMEM,
                       "out of memory for a checkpoint of %zu bytes; close other programs or "
                       "use a smaller model",
                       total);
    }
    memcpy(buf, NN_CKPT_MAGIC, 8);
    put_u32(buf + 8, NN_CKPT_VERSION);
    put_u32(buf + 12, (uint32_t)json_len);
    put_u64(buf + 16, (uint64_t)blob_len);
    put_u32(buf + 28, 0);
    uint8_t *p = buf + HEADER_BYTES;
    memcpy(p, json, json_bytes);
    memset(p + json_bytes, ' ', json_len - json_bytes);
    free(json);
    p += json_len;
    for (size_t i = 0; i < m->nparams; i++) {
        uint32_t bits;
        memcpy(&bits, &m->params[i], 4);
        put_u32(p + 4 * i, bits);
    }
    put_u32(buf + 24, nn_crc32(0, buf + HEADER_BYTES, json_len + blob_len));
    *out = buf;
    *out_len = total;
    return NN_OK;
}

/* ------------------------------------------------------------------- read */

void nn_checkpoint_free(nn_checkpoint *c) {
    if (!c) return;
    nn_model_free(c->model);
    nn_vocab_free_index(&c->vocab);
    free((void *)c->vocab.count);
    free((void *)c->vocab.offset);
    free((void *)c->vocab.bytes);
    free(c->hist);
    for (uint32_t k = 0; k < c->nclass_names; k++) free(c->class_name[k]);
    memset(c, 0, sizeof *c);
}

/* Config keys that came after the first checkpoints. A file without one
 * was written before it existed, and its default says what that model was:
 * trained on every word ("stopwords" ""), without the distance penalty
 * ("alibi" false), from a uniform position table ("positions"); the
 * pretraining rate and warm-up ("mlm_lr", "mlm_warmup_steps") do not change
 * what a model computes. */
static int added_later(const char *key) {
    static const char *const LATER[] = {"stopwords", "alibi", "positions", "mlm_lr", "mlm_warmup_steps"};
    for (size_t i = 0; i < sizeof LATER / sizeof LATER[0]; i++)
        if (!strcmp(key, LATER[i])) return 1;
    return 0;
}

/* The config object: every key must be there (a missing key must not quietly
 * become today's default) and nn_config_from_json must accept it. */
static int read_config(nn_config *cfg, const cJSON *obj, uint32_t version, nn_error *err) {
    if (!cJSON_IsObject(obj))
        return nn_fail(err, NN_ERR_FORMAT, "the checkpoint has no \"config\" object; %s", FIX);
    nn_config def;
    nn_config_default(&def);
    char *keys_json = nn_config_to_json(&def);
    cJSON *keys = keys_json ? cJSON_Parse(keys_json) : NULL;
    free(keys_json);
    char *text = cJSON_PrintUnformatted(obj);
    if (!keys || !text) {
        cJSON_Delete(keys);
        free(text);
        return nn_fail(err, NN_ERR_NOMEM, "out of memory reading the checkpoint's config");
    }
    int rc = NN_OK;
    for (const cJSON *k = keys->child; k && rc == NN_OK; k = k->next)
        if (!cJSON_GetObjectItemCaseSensitive(obj, k->string) && !added_later(k->string))
            rc = nn_fail(err, NN_ERR_FORMAT,
                         "the checkpoint's config has no \"%s\"; it was not written by this "
                         "engine or was edited: %s",
                         k->string, FIX);
    cJSON_Delete(keys);
    if (rc == NN_OK) {
        nn_error e = {0};
        *cfg = def;
        int rc_json = nn_config_from_json(cfg, text, &e);
        /* Version 1: every text model had the one sigmoid output, whatever
         * its "classes" said (then an "mlp"-only key, 10 by default). */
        if (!rc_json && version == 1 && cfg->model != NN_MODEL_MLP) cfg->classes = 2;
        if (rc_json || nn_config_check(cfg, NULL, &e))
            rc = nn_fail(err, NN_ERR_FORMAT, "the checkpoint's config is not valid (%s); %s",
                         e.msg, FIX);
    }
    free(text);
    return rc;
}

/* The tensor table in the file must be the one nn_model_create made for the
 * config: same names, shapes and offsets. */
static int check_tensors(const nn_model *m, const cJSON *arr, double nparams, nn_error *err) {
    static const char *const DIFFERENT =
        "this checkpoint was made for a different model";
    if (!cJSON_IsArray(arr))
        return nn_fail(err, NN_ERR_FORMAT, "the checkpoint has no \"tensors\" array; %s", FIX);
    int n = cJSON_GetArraySize(arr);
    if (n < 0 || (uint32_t)n != m->ntensors)
        return nn_fail(err, NN_ERR_FORMAT,
                       "%s: it has %d tensors, this engine makes %u for its config; re-train "
                       "and save it with this engine",
                       DIFFERENT, n, m->ntensors);
    uint32_t i = 0;
    for (const cJSON *x = arr->child; x; x = x->next, i++) {
        const nn_tensor *t = &m->tensor[i];
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(x, "name");
        double rows, cols, offset;
        if (!cJSON_IsString(name) || !get_whole(x, "rows", JSON_INT_MAX, &rows) ||
            !get_whole(x, "cols", JSON_INT_MAX, &cols) ||
            !get_whole(x, "offset", JSON_INT_MAX, &offset))
            return nn_fail(err, NN_ERR_FORMAT,
                           "tensor %u of the checkpoint lacks a name, rows, cols or offset; %s",
                           i, FIX);
        if (strncmp(name->valuestring, t->name, sizeof t->name) != 0 ||
            strlen(name->valuestring) >= sizeof t->name || rows != t->rows || cols != t->cols ||
            offset != (double)t->offset)
            return nn_fail(err, NN_ERR_FORMAT,
                           "%s: its tensor %u is \"%.15s\" (%.0f x %.0f at %.0f), this engine "
                           "makes \"%s\" (%u x %u at %zu) for its config; re-train and save it "
                           "with this engine",
                           DIFFERENT, i, name->valuestring, rows, cols, offset, t->name, t->rows,
                           t->cols, t->offset);
    }
    if (nparams != (double)m->nparams)
        return nn_fail(err, NN_ERR_FORMAT,
                       "%s: it has %.0f parameters, this engine makes %zu for its config; "
                       "re-train and save it with this engine",
                       DIFFERENT, nparams, m->nparams);
    return NN_OK;
}

/* The owned vocabulary of exactly V words. */
static int read_vocab(nn_vocab *v, const cJSON *arr, uint32_t V, nn_error *err) {
    if (!cJSON_IsArray(arr))
        return nn_fail(err, NN_ERR_FORMAT, "the checkpoint has no \"vocab\" array; %s", FIX);
    int n = cJSON_GetArraySize(arr);
    if (n < 0 || (uint32_t)n != V)
        return nn_fail(err, NN_ERR_FORMAT,
                       "the checkpoint has %d vocabulary words but its config says vocab_size "
                       "%u; %s",
                       n, V, FIX);
    /* First pass: sizes (and validity) of every word. */
    size_t total = 0;
    uint32_t id = 0;
    for (const cJSON *x = arr->child; x; x = x->next, id++) {
        const char *s;
        size_t len;
        if (!word_from_json(x, &s, NULL, &len))
            return nn_fail(err, NN_ERR_FORMAT,
                           "vocabulary word %u of the checkpoint is empty or not a string or "
                           "{\"hex\": ...}; %s",
                           id, FIX);
        total += len;
        if (total > UINT32_MAX)
            return nn_fail(err, NN_ERR_FORMAT, "the checkpoint's vocabulary is too large; %s", FIX);
    }
    uint32_t *count = nn_calloc_array(V ? (size_t)V : 1, sizeof *count);
    uint32_t *offset = nn_malloc_array(nn_size_add_sat(V, 1), sizeof *offset);
    char *bytes = malloc(total ? total : 1);
    v->count = count;
    v->offset = offset;
    v->bytes = bytes;
    if (!count || !offset || !bytes)
        return nn_fail(err, NN_ERR_NOMEM, "out of memory for the checkpoint's vocabulary");
    /* Second pass: copy the bytes. */
    size_t at = 0;
    id = 0;
    for (const cJSON *x = arr->child; x; x = x->next, id++) {
        const char *s;
        size_t len;
        word_from_json(x, &s, bytes + at, &len);
        offset[id] = (uint32_t)at;
        at += len;
    }
    offset[V] = (uint32_t)at;
    v->V = V;
    nn_error e = {0};
    int rc = nn_vocab_index(v, &e);
    if (rc == NN_ERR_NOMEM) return nn_fail(err, rc, "%s", e.msg);
    if (rc)
        return nn_fail(err, NN_ERR_FORMAT, "the checkpoint's vocabulary is not valid (%s); %s",
                       e.msg, FIX);
    return NN_OK;
}

static int read_history(nn_checkpoint *c, const cJSON *arr, nn_error *err) {
    if (!cJSON_IsArray(arr))
        return nn_fail(err, NN_ERR_FORMAT, "the checkpoint has no \"history\" array; %s", FIX);
    int n = cJSON_GetArraySize(arr);
    if (n <= 0) return NN_OK;
    c->hist = nn_calloc_array((size_t)n, sizeof *c->hist);
    if (!c->hist) return nn_fail(err, NN_ERR_NOMEM, "out of memory for the training history");
    uint32_t i = 0;
    for (const cJSON *x = arr->child; x; x = x->next, i++) {
        nn_epoch_log *h = &c->hist[i];
        if (!cJSON_IsObject(x) || !get_metric(x, "loss", &h->loss) ||
            !get_metric(x, "acc", &h->acc) || !get_metric(x, "val_loss", &h->val_loss) ||
            !get_metric(x, "val_acc", &h->val_acc))
            return nn_fail(err, NN_ERR_FORMAT,
                           "epoch %u of the checkpoint's history lacks loss, acc, val_loss or "
                           "val_acc; %s",
                           i + 1, FIX);
    }
    c->nhist = i;
    return NN_OK;
}

/* Version 3's optional "class_names": exactly K names (the model's
 * classes), each 1-64 bytes (a labelled file's label: NN_LT_MAX_LABEL_BYTES)
 * without NUL bytes. */
static int read_class_names(nn_checkpoint *c, const cJSON *arr, uint32_t version, nn_error *err) {
    if (!arr) return NN_OK;
    uint32_t K = nn_model_classes(c->model);
    if (version < 3 || !cJSON_IsArray(arr) || (uint32_t)cJSON_GetArraySize(arr) != K || c->model->cfg.model == NN_MODEL_MLP)
        return nn_fail(err, NN_ERR_FORMAT,
                       "the checkpoint's \"class_names\" is not a list of its %u classes' names; %s", K, FIX);
    const cJSON *x;
    cJSON_ArrayForEach(x, arr) {
        const char *str;
        size_t n;
        char buf[65];
        if (!word_from_json(x, &str, NULL, &n) || n == 0 || n > 64 || !word_from_json(x, &str, buf, &n) ||
            memchr(buf, 0, n))
            return nn_fail(err, NN_ERR_FORMAT,
                           "class name %u of the checkpoint is empty, longer than 64 bytes or has a NUL "
                           "byte; %s",
                           c->nclass_names, FIX);
        char *name = malloc(n + 1);
        if (!name) return nn_fail(err, NN_ERR_NOMEM, "out of memory for the checkpoint's class names");
        memcpy(name, buf, n);
        name[n] = 0;
        c->class_name[c->nclass_names++] = name;
    }
    return NN_OK;
}

/* The JSON's format, version and config, and its parameter count against
 * the config and the blob, all before anything is allocated for the model
 * (nn_checkpoint_read, and nn_checkpoint_read_head from a file's first
 * bytes). header_version is the header's (1 or NN_CKPT_VERSION). */
static int read_head(nn_config *cfg, double *nparams_out, uint32_t *vocab_crc_out,
                     const cJSON *root, uint32_t header_version, uint64_t blob_len, nn_error *err) {
    const cJSON *format = cJSON_GetObjectItemCaseSensitive(root, "format");
    if (!cJSON_IsObject(root) || !cJSON_IsString(format) ||
        strcmp(format->valuestring, FORMAT_NAME) != 0)
        return nn_fail(err, NN_ERR_FORMAT,
                       "the checkpoint's JSON does not say \"format\": \"" FORMAT_NAME "\"; %s",
                       FIX);
    double version;
    if (!get_whole(root, "version", JSON_INT_MAX, &version) || version != header_version)
        return nn_fail(err, NN_ERR_FORMAT,
                       "the checkpoint's JSON version is not %u like its header; %s",
                       header_version, FIX);
    int rc = read_config(cfg, cJSON_GetObjectItemCaseSensitive(root, "config"), header_version, err);
    if (rc) return rc;

    double nparams, step, vocab_crc;
    if (!get_whole(root, "nparams", JSON_INT_MAX, &nparams))
        return nn_fail(err, NN_ERR_FORMAT, "the checkpoint has no valid \"nparams\"; %s", FIX);
    if (nparams * 4 != (double)blob_len)
        return nn_fail(err, NN_ERR_FORMAT,
                       "the checkpoint's JSON says %.0f parameters but its blob holds %llu "
                       "bytes; %s",
                       nparams, (unsigned long long)blob_len, FIX);
    if (!get_whole(root, "step", JSON_INT_MAX, &step))
        return nn_fail(err, NN_ERR_FORMAT, "the checkpoint has no valid \"step\"; %s", FIX);
    (void)step; /* informational: Adam restarts with its moments (see top) */
    if (!get_whole(root, "vocab_crc", UINT32_MAX, &vocab_crc))
        return nn_fail(err, NN_ERR_FORMAT, "the checkpoint has no valid \"vocab_crc\"; %s", FIX);

    /* Before allocating a model for the config, a cheap bound: its embedding
     * and first dense kernel alone (the MLP: both kernels) must fit in the
     * parameters the file has. */
    double needed = cfg->model == NN_MODEL_MLP
                        ? (double)cfg->input_dim * cfg->hidden + (double)cfg->hidden * cfg->classes
                        : (double)cfg->vocab_size * cfg->embed_dim +
                              (cfg->model == NN_MODEL_NGRAM ? 0 : (double)cfg->hidden * cfg->embed_dim);
    if (needed > nparams)
        return nn_fail(err, NN_ERR_FORMAT,
                       "this checkpoint was made for a different model: its config needs more "
                       "than the %.0f parameters it holds; re-train and save it with this engine",
                       nparams);
    /* Exactly: the parameters its config makes (counted in 64 bits, before
     * anything is allocated) are the ones the file holds, so a small file
     * cannot claim a config of gigabytes. */
    nn_memory est;
    nn_memory_estimate(cfg, NULL, &est);
    if ((double)est.nparams != nparams)
        return nn_fail(err, NN_ERR_FORMAT,
                       "this checkpoint was made for a different model: its config makes %llu "
                       "parameters but it holds %.0f; re-train and save it with this engine",
                       (unsigned long long)est.nparams, nparams);
    *nparams_out = nparams;
    *vocab_crc_out = (uint32_t)vocab_crc;
    return NN_OK;
}

/* Everything after the header checks, with the JSON parsed. */
static int read_document(nn_checkpoint *c, const cJSON *root, uint32_t header_version,
                         const uint8_t *blob, uint64_t blob_len, nn_error *err) {
    nn_config cfg;
    double nparams;
    uint32_t vocab_crc;
    int rc = read_head(&cfg, &nparams, &vocab_crc, root, header_version, blob_len, err);
    if (rc) return rc;
    /* A loaded model scores one review at a time: its activations are sized
     * for a batch of 1, so a small file cannot make the reader allocate
     * gigabytes of activations for the batch size it claims. The config keeps
     * the batch size it trained with. */
    nn_config one = cfg;
    one.batch_size = 1;
    rc = nn_model_create(&c->model, &one, err);
    if (rc) return rc;
    c->model->cfg.batch_size = cfg.batch_size;
    rc = check_tensors(c->model, cJSON_GetObjectItemCaseSensitive(root, "tensors"), nparams, err);
    if (rc) return rc;
    nn_model *m = c->model;
    for (size_t i = 0; i < m->nparams; i++) {
        uint32_t bits = get_u32(blob + 4 * i);
        memcpy(&m->params[i], &bits, 4);
    }
    m->step = 0; /* Adam restarts with its moments (see top) */
    c->vocab_crc = vocab_crc;

    rc = read_vocab(&c->vocab, cJSON_GetObjectItemCaseSensitive(root, "vocab"), words_of(&cfg), err);
    if (rc) return rc;
    rc = read_class_names(c, cJSON_GetObjectItemCaseSensitive(root, "class_names"), header_version, err);
    if (rc) return rc;
    return read_history(c, cJSON_GetObjectItemCaseSensitive(root, "history"), err);
}

/* The 32-byte header at buf (n bytes of the file there, len in all): magic,
 * version, and its sizes against len; the JSON's and blob's lengths. */
static int check_header(const uint8_t *buf, size_t n, uint64_t len, uint32_t *version_out,
                        uint64_t *json_len_out, uint64_t *blob_len_out, nn_error *err) {
    if (!buf || len < HEADER_BYTES)
        return nn_fail(err, NN_ERR_FORMAT,
                       "the checkpoint is %llu bytes, shorter than its %d-byte header: the file "
                       "is truncated or empty; %s",
                       buf ? (unsigned long long)len : 0ULL, HEADER_BYTES, FIX);
    if (n < HEADER_BYTES)
        return nn_fail(err, NN_ERR_ARG, "pass at least the checkpoint's first %d bytes (its header)",
                       HEADER_BYTES);
    if (memcmp(buf, NN_CKPT_MAGIC, 8) != 0) {
        if (memcmp(buf, NN_SHARD_MAGIC, 8) == 0)
            return nn_fail(err, NN_ERR_FORMAT,
                           "this is a dataset shard, not a checkpoint; pass the file that "
                           "imdb_train --checkpoint wrote");
        return nn_fail(err, NN_ERR_FORMAT,
                       "this is not a checkpoint (it does not start with \"" NN_CKPT_MAGIC
                       "\"); pass the file that imdb_train --checkpoint wrote");
    }
    uint32_t version = get_u32(buf + 8);
    if (version != NN_CKPT_VERSION && version != 1 && version != 2) /* 1: text models of two classes only; 2: no class names */
        return nn_fail(err, NN_ERR_VERSION,
                       "this checkpoint has format version %u, but this engine reads version "
                       "%d; %s",
                       version, NN_CKPT_VERSION,
                       version < NN_CKPT_VERSION
                           ? "it is older than the engine: re-train and save it again"
                           : "it is newer than the engine: update the engine, or re-train "
                             "and save it with this one");
    uint64_t json_len = get_u32(buf + 12);
    uint64_t blob_len = get_u64(buf + 16);
    uint64_t body = len - HEADER_BYTES;
    if (json_len > body || blob_len > body - json_len)
        return nn_fail(err, NN_ERR_FORMAT,
                       "the checkpoint is truncated: its header promises %llu bytes of JSON and "
                       "%llu of parameters, but only %llu bytes follow; copy the whole file "
                       "again or %s",
                       (unsigned long long)json_len, (unsigned long long)blob_len,
                       (unsigned long long)body, FIX);
    if (json_len + blob_len != body)
        return nn_fail(err, NN_ERR_FORMAT,
                       "the checkpoint has %llu bytes after its end (header: %llu bytes of JSON, "
                       "%llu of parameters); it is corrupted: %s",
                       (unsigned long long)(body - json_len - blob_len),
                       (unsigned long long)json_len, (unsigned long long)blob_len, FIX);
    if (json_len == 0 || json_len % 4 || blob_len % 4 || get_u32(buf + 28) != 0)
        return nn_fail(err, NN_ERR_FORMAT,
                       "the checkpoint's header is corrupted (JSON length %llu, blob length "
                       "%llu, reserved %u); %s",
                       (unsigned long long)json_len, (unsigned long long)blob_len,
                       get_u32(buf + 28), FIX);
    if (json_len > NN_CKPT_JSON_MAX)
        return nn_fail(err, NN_ERR_FORMAT,
                       "the checkpoint's JSON is %llu bytes, over the %d MB a checkpoint may "
                       "hold (its config, vocabulary and history take far less); %s",
                       (unsigned long long)json_len, NN_CKPT_JSON_MAX >> 20, FIX);
    *version_out = version;
    *json_len_out = json_len;
    *blob_len_out = blob_len;
    return NN_OK;
}

/* The JSON at json (json_len bytes, padding included), parsed into *out;
 * NN_ERR_FORMAT when it does not parse or has bytes after the document. */
static int parse_json(cJSON **out, const char *json, uint64_t json_len, nn_error *err) {
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, (size_t)json_len, &end, 0);
    *out = NULL;
    if (!root) {
        size_t pos = end && end >= json ? (size_t)(end - json) : 0;
        return nn_fail(err, NN_ERR_FORMAT,
                       "the checkpoint's JSON does not parse (error near byte %zu of it); %s", pos,
                       FIX);
    }
    /* After the document only the padding spaces may follow. */
    size_t at = end && end >= json ? (size_t)(end - json) : 0;
    while (at < json_len && (json[at] == ' ' || json[at] == '\n' || json[at] == '\t' ||
                             json[at] == '\r'))
        at++;
    if (at != json_len) {
        cJSON_Delete(root);
        return nn_fail(err, NN_ERR_FORMAT,
                       "the checkpoint's JSON has extra bytes after the document (at byte %zu); %s",
                       at, FIX);
    }
    *out = root;
    return NN_OK;
}

int nn_checkpoint_read_head(nn_checkpoint_head *h, const uint8_t *buf, size_t n, uint64_t len,
                            nn_error *err) {
    memset(h, 0, sizeof *h);
    uint64_t json_len, blob_len;
    uint32_t version;
    int rc = check_header(buf, n, len, &version, &json_len, &blob_len, err);
    if (rc) return rc;
    h->json_len = (uint32_t)json_len;
    if (n - HEADER_BYTES < json_len) return NN_OK; /* the header alone */
    cJSON *root;
    if ((rc = parse_json(&root, (const char *)buf + HEADER_BYTES, json_len, err))) return rc;
    double nparams;
    rc = read_head(&h->cfg, &nparams, &h->vocab_crc, root, version, blob_len, err);
    cJSON_Delete(root);
    if (rc == NN_OK) h->has_config = 1;
    return rc;
}

int nn_checkpoint_read(nn_checkpoint *c, const uint8_t *buf, size_t len, nn_error *err) {
    assert(c);
    memset(c, 0, sizeof *c);
    uint64_t json_len, blob_len;
    uint32_t version;
    int rc = check_header(buf, len, len, &version, &json_len, &blob_len, err);
    if (rc) return rc;
    uint32_t crc = get_u32(buf + 24);
    uint32_t actual = nn_crc32(0, buf + HEADER_BYTES, (size_t)(json_len + blob_len));
    if (actual != crc)
        return nn_fail(err, NN_ERR_CHECKSUM,
                       "the checkpoint is corrupted: its CRC-32 is %08x but its contents give "
                       "%08x; copy the file again or %s",
                       crc, actual, FIX);

    cJSON *root;
    if ((rc = parse_json(&root, (const char *)buf + HEADER_BYTES, json_len, err))) return rc;
    rc = read_document(c, root, version, buf + HEADER_BYTES + json_len, blob_len, err);
    cJSON_Delete(root);
    if (rc) nn_checkpoint_free(c);
    return rc;
}
