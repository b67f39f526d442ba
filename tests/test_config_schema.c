/* test_config_schema.c: nn_config_schema_json() (nnw_config_schema, the
 * page's settings table) is the config table itself: every key of the
 * config, in the table's order, with its kind, its limits, the enum
 * choices, a one-line doc, and the default config's value.
 *
 * The keys and defaults are compared with nn_config_to_json of
 * nn_config_default (which walks the same table); the limits with what the
 * parser and nn_config_check accept: an integer's min and max are accepted,
 * one past either is refused. */
#include "check.h"
#include "json.h"
#include "nn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether {"key": value} over the defaults passes parsing and the check. */
static int accepted(const char *key, const char *value) {
    char json[256];
    snprintf(json, sizeof json, "{\"%s\": %s}", key, value);
    nn_config c;
    nn_config_default(&c);
    nn_error err = {0};
    return nn_config_from_json(&c, json, &err) == NN_OK && nn_config_check(&c, NULL, &err) == NN_OK;
}

static int has_choices(const cJSON *o, const char *const *want, int n) {
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "choices");
    if (cJSON_GetArraySize(c) != n) return 0;
    for (int i = 0; i < n; i++)
        if (strcmp(cJSON_GetArrayItem(c, i)->valuestring, want[i])) return 0;
    return 1;
}

int main(void) {
    char *text = nn_config_schema_json();
    cJSON *schema = text ? cJSON_Parse(text) : NULL;
    nn_config def;
    nn_config_default(&def);
    char *def_text = nn_config_to_json(&def);
    cJSON *defaults = cJSON_Parse(def_text);
    if (!check(cJSON_IsArray(schema) && cJSON_IsObject(defaults), "the schema is a JSON array"))
        return check_exit_code();

    int n = cJSON_GetArraySize(schema);
    check(n == cJSON_GetArraySize(defaults), "%d keys in the schema, %d in the default config", n,
          cJSON_GetArraySize(defaults));
    const cJSON *d = defaults->child;
    for (int i = 0; i < n; i++, d = d ? d->next : NULL) {
        const cJSON *o = cJSON_GetArrayItem(schema, i);
        const char *key = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "key"));
        const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "kind"));
        const char *range = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "range"));
        const char *doc = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "doc"));
        const cJSON *dv = cJSON_GetObjectItemCaseSensitive(o, "default");
        const cJSON *lo = cJSON_GetObjectItemCaseSensitive(o, "min"), *hi = cJSON_GetObjectItemCaseSensitive(o, "max");
        const cJSON *lo_open = cJSON_GetObjectItemCaseSensitive(o, "min_open");
        const cJSON *hi_open = cJSON_GetObjectItemCaseSensitive(o, "max_open");
        if (!check(key && kind && range && doc && d && !strcmp(key, d->string),
                   "key %d: \"%s\" in table order (the default config's key %s), with kind, range, doc", i,
                   key ? key : "?", d && d->string ? d->string : "?"))
            continue;
        check(dv && cJSON_Compare(dv, d, 1), "%s: the default is nn_config_default's", key);
        check(cJSON_IsNumber(lo) && cJSON_IsNumber(hi) && lo->valuedouble <= hi->valuedouble &&
                  cJSON_IsBool(lo_open) && cJSON_IsBool(hi_open) && doc[0] && range[0],
              "%s: min %g, max %g, open ends given, doc \"%s\"", key, lo ? lo->valuedouble : NAN,
              hi ? hi->valuedouble : NAN, doc);
        int is_enum = !strcmp(kind, "enum");
        check(is_enum == (cJSON_GetObjectItemCaseSensitive(o, "choices") != NULL),
              "%s: choices only for an enum (kind %s)", key, kind);
        if (!strcmp(kind, "int")) {
            double x = dv->valuedouble;
            check(cJSON_IsNumber(dv) && x == floor(x) && x >= lo->valuedouble && x <= hi->valuedouble,
                  "%s: int default %g within [%g, %g]", key, x, lo->valuedouble, hi->valuedouble);
            char v[64];
            int ok = 1;
            snprintf(v, sizeof v, "%.0f", lo->valuedouble);
            ok &= accepted(key, v);
            snprintf(v, sizeof v, "%.0f", hi->valuedouble + 1);
            ok &= hi->valuedouble >= 9e15 || !accepted(key, v);
            if (lo->valuedouble >= 1) {
                snprintf(v, sizeof v, "%.0f", lo->valuedouble - 1);
                ok &= !accepted(key, v);
            }
            check(ok, "%s: the parser and check accept min, refuse one past either end (max: unless beyond 2^53)", key);
        } else if (!strcmp(kind, "float")) {
            double x = dv->valuedouble;
            int in = cJSON_IsNumber(dv) && (lo_open->type == cJSON_True ? x > lo->valuedouble : x >= lo->valuedouble) &&
                     (hi_open->type == cJSON_True ? x < hi->valuedouble : x <= hi->valuedouble);
            char v[64];
            snprintf(v, sizeof v, "%.17g", hi->valuedouble * 2 + 1);
            check(in && !accepted(key, v), "%s: float default %g within its limits, %s refused", key, x, v);
        } else if (is_enum) {
            const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, "choices");
            int found = 0, all = 1;
            for (const cJSON *e = c->child; e; e = e->next) {
                found |= cJSON_IsString(dv) && !strcmp(e->valuestring, dv->valuestring);
                char v[64];
                snprintf(v, sizeof v, "\"%s\"", e->valuestring);
                all &= accepted(key, v);
            }
            check(found && all && cJSON_GetArraySize(c) == (int)hi->valuedouble + 1 && !accepted(key, "\"nope\""),
                  "%s: enum of %d choices, the default among them, each accepted, others refused", key,
                  cJSON_GetArraySize(c));
        } else if (!strcmp(kind, "bool")) {
            check(cJSON_IsBool(dv), "%s: bool default", key);
        } else {
            check(!strcmp(kind, "string") && cJSON_IsString(dv), "%s: string default \"%s\"", key,
                  cJSON_GetStringValue(dv));
        }
    }
    /* A few rows spelled out. */
    const char *padding[] = {"pre", "post"}, *models[] = {"bag", "lstm", "gru", "bilstm", "bigru", "mlp", "ngram", "transformer"};
    const char *monitors[] = {"val_loss", "val_accuracy"}, *optimizers[] = {"adam", "sgd"};
    const cJSON *o;
    o = cJSON_GetArrayItem(schema, 0);
    check(!strcmp(cJSON_GetObjectItem(o, "key")->valuestring, "vocab_size") &&
              cJSON_GetObjectItem(o, "min")->valuedouble == 5 && cJSON_GetObjectItem(o, "max")->valuedouble == 65536 &&
              cJSON_GetObjectItem(o, "default")->valuedouble == 10000 &&
              !strcmp(cJSON_GetObjectItem(o, "doc")->valuestring, "words kept; rarer ones become <UNK>"),
          "vocab_size: int 5..65536, default 10000, its doc");
    for (o = schema->child; o; o = o->next) {
        const char *key = cJSON_GetObjectItem(o, "key")->valuestring;
        if (!strcmp(key, "padding")) check(has_choices(o, padding, 2), "padding: choices pre, post");
        if (!strcmp(key, "model")) check(has_choices(o, models, 8), "model: the eight architectures");
        if (!strcmp(key, "monitor")) check(has_choices(o, monitors, 2), "monitor: val_loss, val_accuracy");
        if (!strcmp(key, "optimizer")) check(has_choices(o, optimizers, 2), "optimizer: adam, sgd");
        if (!strcmp(key, "lr"))
            check(cJSON_IsTrue(cJSON_GetObjectItem(o, "min_open")) && cJSON_IsFalse(cJSON_GetObjectItem(o, "max_open")),
                  "lr: (0, 10], open at 0");
        if (!strcmp(key, "restore_best_weights"))
            check(!strcmp(cJSON_GetObjectItem(o, "kind")->valuestring, "bool") &&
                      cJSON_IsFalse(cJSON_GetObjectItem(o, "default")),
                  "restore_best_weights: bool, default false");
    }
    cJSON_Delete(schema);
    cJSON_Delete(defaults);
    free(text);
    free(def_text);
    return check_exit_code();
}
