/* answers.c: the wasm boundary's small JSON answers (answers.h).
 *
 * Adding to a cJSON tree fails only when memory runs out: the builders
 * collect that in `ok` (every helper takes a NULL parent and does nothing)
 * and return NULL. */
#include "answers.h"
#include "labelled_shard.h"

#include "json.h"
#include "stopwords.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Adds item to object `to` under key, or to array `to` when key is NULL.
 * Returns item, or NULL (item freed) when either is missing or memory ran
 * out. */
static cJSON *json_add(cJSON *to, const char *key, cJSON *item) {
    cJSON_bool added = to && item && (key ? cJSON_AddItemToObject(to, key, item) : cJSON_AddItemToArray(to, item));
    if (added) return item;
    cJSON_Delete(item);
    return NULL;
}

/* A float as JSON: the shortest decimal that reads back as the same float
 * (nn_json_float); NaN and infinities (no validation set, a diverged run)
 * become null, since JSON has no spelling for them. */
static int add_float(cJSON *to, const char *key, float x) {
    return json_add(to, key, isfinite(x) ? cJSON_CreateNumber(nn_json_float(x)) : cJSON_CreateNull()) != NULL;
}

/* A whole number (every count here is below 2^53, exact in a double). */
static int add_number(cJSON *to, const char *key, double x) { return json_add(to, key, cJSON_CreateNumber(x)) != NULL; }

/* A string of n bytes, copied (cJSON wants it NUL-terminated; a NUL byte
 * inside would end it, and none of the strings here can hold one: the
 * tokenizer never makes one and labelled text refuses them). Bytes >= 0x80
 * pass through; the worker decodes UTF-8 (invalid sequences become U+FFFD). */
static int add_string(cJSON *to, const char *key, const char *str, size_t n) {
    char *z = nn_malloc_array(nn_size_add_sat(n, 1), 1);
    if (!z) return 0;
    memcpy(z, str, n);
    z[n] = 0;
    int ok = json_add(to, key, cJSON_CreateString(z)) != NULL;
    free(z);
    return ok;
}

/* A vocabulary word; one that is not valid UTF-8 as U+FFFD. */
static int add_word(cJSON *to, const char *key, const nn_vocab *v, uint32_t id) {
    size_t len;
    const char *w = nn_vocab_word(v, id, &len);
    if (nn_utf8_invalid_at((const unsigned char *)w, len) < len) return add_string(to, key, "\xEF\xBF\xBD", 3);
    return add_string(to, key, w, len);
}

/* Prints root and frees it. */
static char *print(cJSON *root, int ok) {
    char *text = ok && root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return text;
}

char *nn_shard_info_json(const nn_shard *sh) {
    cJSON *o = cJSON_CreateObject();
    int ok = add_number(o, "vocab_size", sh->vocab.V);
    ok &= add_number(o, "vocab_crc", sh->vocab_crc);
    ok &= add_number(o, "tokenizer_version", sh->tokenizer_version);
    ok &= add_number(o, "max_tokens", sh->max_tokens);
    ok &= add_number(o, "version", sh->version);
    ok &= add_number(o, "classes", sh->classes);
    cJSON *names = json_add(o, "class_names", sh->class_name[0] ? cJSON_CreateArray() : cJSON_CreateNull());
    ok &= names != NULL;
    for (uint32_t k = 0; sh->class_name[0] && k < sh->classes; k++)
        ok &= add_string(names, NULL, sh->class_name[k], sh->class_name_len[k]);
    cJSON *splits = json_add(o, "splits", cJSON_CreateObject());
    ok &= splits != NULL;
    for (uint32_t i = 0; i < sh->nsplits; i++) {
        char name[sizeof sh->split[i].name + 1]; /* NUL-terminated even if the shard's is not */
        memcpy(name, sh->split[i].name, sizeof sh->split[i].name);
        name[sizeof sh->split[i].name] = 0;
        ok &= add_number(splits, name, sh->split[i].n);
    }
    if (sh->test_pending) ok &= add_number(o, "test_pending", sh->test_pending); /* still downloading */
    return print(o, ok);
}

char *nn_image_info_json(const nn_image_shard *im) {
    cJSON *o = cJSON_CreateObject();
    int ok = add_number(o, "height", im->height);
    ok &= add_number(o, "width", im->width);
    ok &= add_number(o, "channels", im->channels);
    ok &= add_number(o, "classes", im->classes);
    ok &= add_number(o, "version", im->version);
    cJSON *names = json_add(o, "class_names", cJSON_CreateArray());
    ok &= names != NULL;
    for (uint32_t k = 0; k < im->classes; k++) {
        const char *name = nn_image_class_name(im, k);
        ok &= add_string(names, NULL, name, strlen(name));
    }
    cJSON *splits = json_add(o, "splits", cJSON_CreateObject());
    ok &= splits != NULL;
    for (uint32_t i = 0; i < im->nsplits; i++) ok &= add_number(splits, im->split[i].name, im->split[i].n);
    return print(o, ok);
}

char *nn_history_json(const nn_epoch_log *h, uint32_t n) {
    cJSON *a = cJSON_CreateArray();
    int ok = a != NULL;
    for (uint32_t i = 0; i < n; i++) {
        cJSON *e = json_add(a, NULL, cJSON_CreateObject());
        ok &= add_float(e, "loss", h[i].loss);
        ok &= add_float(e, "acc", h[i].acc);
        ok &= add_float(e, "val_loss", h[i].val_loss);
        ok &= add_float(e, "val_acc", h[i].val_acc);
    }
    return print(a, ok);
}

char *nn_review_json(const nn_split *sp, uint32_t i, const char *text, size_t len) {
    cJSON *o = cJSON_CreateObject();
    int ok = add_string(o, "text", text, len);
    ok &= add_number(o, "label", sp->label[i]);
    ok &= add_number(o, "rating", sp->rating[i]);
    ok &= add_number(o, "review_id", sp->review_id[i]);
    ok &= add_number(o, "tokens", sp->offset[i + 1] - sp->offset[i]);
    return print(o, ok);
}

char *nn_labelled_text_info_json(const nn_labelled_text *lt) {
    uint32_t pos = 0;
    for (uint32_t i = 0; i < lt->n; i++) pos += lt->label[i];
    cJSON *o = cJSON_CreateObject();
    int ok = add_number(o, "examples", lt->n);
    ok &= add_number(o, "positives", pos);
    ok &= add_number(o, "negatives", lt->n - pos);
    ok &= add_string(o, "format", lt->format == NN_LT_CSV ? "csv" : "tsv", 3);
    ok &= add_number(o, "lines", lt->lines);
    ok &= add_number(o, "blank", lt->blank);
    ok &= json_add(o, "header", cJSON_CreateBool(lt->header)) != NULL;
    ok &= add_number(o, "malformed", lt->malformed);
    cJSON *problems = json_add(o, "problems", cJSON_CreateArray());
    ok &= problems != NULL;
    for (uint32_t i = 0; i < lt->nproblems; i++) {
        cJSON *e = json_add(problems, NULL, cJSON_CreateObject());
        ok &= add_number(e, "line", lt->problem[i].line);
        ok &= add_string(e, "reason", lt->problem[i].reason, strlen(lt->problem[i].reason));
    }
    return print(o, ok);
}

/* The labelled text's info as a cJSON object (NULL: out of memory). */
static cJSON *labelled_text_object(const nn_labelled_text *lt) {
    char *text = nn_labelled_text_info_json(lt);
    cJSON *o = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (o && lt->classes > 2) { /* counts of 0/1 labels mean nothing here */
        cJSON_DeleteItemFromObject(o, "positives");
        cJSON_DeleteItemFromObject(o, "negatives");
    }
    if (o) {
        json_add(o, "truncated", cJSON_CreateNumber(lt->truncated));
        json_add(o, "duplicates", cJSON_CreateNumber(lt->duplicates));
        json_add(o, "first_duplicate_line", cJSON_CreateNumber(lt->first_duplicate_line));
    }
    return o;
}

char *nn_labelled_shard_report_json(const nn_labelled_shard_report *r, const char *error) {
    cJSON *o = cJSON_CreateObject();
    int ok = json_add(o, "ok", cJSON_CreateBool(error == NULL)) != NULL;
    ok &= json_add(o, "error", error ? cJSON_CreateString(error) : cJSON_CreateNull()) != NULL;
    cJSON *classes = json_add(o, "classes", cJSON_CreateArray());
    ok &= classes != NULL;
    for (uint32_t k = 0; k < r->classes; k++) {
        cJSON *e = json_add(classes, NULL, cJSON_CreateObject());
        ok &= add_string(e, "name", r->text.class_name[k], strlen(r->text.class_name[k]));
        ok &= add_number(e, "train", r->train_count[k]);
        ok &= add_number(e, "test", r->test_count[k]);
    }
    ok &= add_number(o, "train", r->train);
    ok &= add_number(o, "test", r->test);
    ok &= add_number(o, "vocab_size", r->V);
    ok &= add_number(o, "words", r->words);
    ok &= add_number(o, "duplicates", r->duplicates);
    ok &= add_number(o, "test_in_train", r->test_in_train);
    ok &= add_number(o, "cut", r->cut);
    cJSON *file = labelled_text_object(&r->text);
    ok &= file && json_add(o, "file", file) != NULL;
    cJSON *test = r->test_text.lines ? labelled_text_object(&r->test_text) : cJSON_CreateNull();
    ok &= test && json_add(o, "test_file", test) != NULL;
    return print(o, ok);
}

char *nn_stopwords_json(const char *words, uint32_t count) {
    cJSON *o = cJSON_CreateObject();
    int ok = add_string(o, "words", words, strlen(words));
    ok &= add_number(o, "count", count);
    ok &= add_string(o, "english", nn_stopwords_english(), strlen(nn_stopwords_english()));
    return print(o, ok);
}

char *nn_presets_json(void) {
    cJSON *a = cJSON_CreateArray();
    int ok = a != NULL;
    for (uint32_t i = 0; nn_config_preset_name(i); i++) {
        const char *name = nn_config_preset_name(i);
        nn_config c;
        nn_config_preset(&c, name);
        char *json = nn_config_to_json(&c); /* already JSON: added as it is */
        cJSON *e = json_add(a, NULL, cJSON_CreateObject());
        ok &= add_string(e, "name", name, strlen(name));
        ok &= json && json_add(e, "config", cJSON_CreateRaw(json)) != NULL;
        free(json);
    }
    return print(a, ok);
}

char *nn_diagnose_words_json(const nn_diagnosis *d, const nn_vocab *v, const uint32_t *ids, size_t n) {
    cJSON *a = cJSON_CreateArray();
    int ok = a != NULL;
    for (size_t i = 0; i < n; i++) {
        cJSON *e = json_add(a, NULL, cJSON_CreateObject());
        ok &= add_word(e, "word", v, ids[i]);
        ok &= add_number(e, "id", ids[i]);
        ok &= add_float(e, "polarity", nn_diagnosis_polarity(d, ids[i]));
        ok &= add_number(e, "count", v->count[ids[i]]);
    }
    return print(a, ok);
}

char *nn_nearest_json(const nn_vocab *v, const uint32_t *ids, const float *sims, uint32_t n) {
    cJSON *a = cJSON_CreateArray();
    int ok = a != NULL;
    for (uint32_t i = 0; i < n; i++) {
        size_t len;
        const char *w = nn_vocab_word(v, ids[i], &len);
        cJSON *e = json_add(a, NULL, cJSON_CreateObject());
        ok &= add_string(e, "word", w, len);
        ok &= add_float(e, "sim", sims[i]);
    }
    return print(a, ok);
}

char *nn_diagnose_example_json(const nn_diagnosis *d, uint32_t i, const char *split, const uint32_t *line,
                               uint32_t source, int rows, const char *text, size_t len) {
    cJSON *o = cJSON_CreateObject();
    int ok = add_number(o, "index", i);
    ok &= add_number(o, "label", d->label[i]);
    ok &= add_float(o, "score", d->score[i]);
    ok &= add_string(o, "split", split, strlen(split));
    if (line) ok &= add_number(o, "line", *line);
    else ok &= add_number(o, "source", source);
    ok &= add_number(o, "rows", rows);
    ok &= add_string(o, "text", text, len);
    return print(o, ok);
}

char *nn_embed_info_json(const nn_embed_history *h, const nn_config *c, size_t budget, double last_ms,
                         uint32_t rare_below, uint32_t frequent_from, const char *error) {
    cJSON *o = cJSON_CreateObject();
    cJSON *epochs = json_add(o, "epochs", cJSON_CreateArray());
    int ok = epochs != NULL;
    uint32_t n = 0, nst = 0;
    if (h) {
        const uint32_t *ep = nn_embed_history_epochs(h, &n);
        for (uint32_t i = 0; i < n; i++) ok &= add_number(epochs, NULL, ep[i]);
        nn_embed_history_stats(h, &nst);
    }
    ok &= add_number(o, "recorded", nst);
    ok &= add_number(o, "bytes_per_snapshot", h ? (double)nn_embed_history_bytes_per_snapshot(h) : 0);
    ok &= add_number(o, "snapshot_bytes", h ? (double)nn_embed_history_snapshot_bytes(h) : 0);
    ok &= add_number(o, "other_bytes", h ? (double)nn_embed_history_other_bytes(h) : 0);
    ok &= add_number(o, "budget", (double)budget);
    ok &= add_float(o, "last_ms", (float)last_ms);
    ok &= add_number(o, "vocab_size", c->vocab_size);
    ok &= add_number(o, "embed_dim", c->embed_dim);
    ok &= add_number(o, "rare_below", rare_below);
    ok &= add_number(o, "frequent_from", frequent_from);
    if (error[0]) ok &= add_string(o, "error", error, strlen(error));
    else ok &= json_add(o, "error", cJSON_CreateNull()) != NULL;
    return print(o, ok);
}
