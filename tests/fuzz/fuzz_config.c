/* fuzz_config.c: libFuzzer target for nn_config_from_json, nn_config_check
 * and nn_config_to_json (engine/config.c).
 *
 * Two properties per input:
 *  1. The input as JSON text (up to its first NUL): when nn_config_from_json
 *     refuses it, the config is left exactly as it was and the error has a
 *     message; when it accepts it, nn_config_to_json of the result re-parses
 *     (over a different starting config) to the same config and prints the
 *     same JSON again. nn_config_check may still refuse it: from_json checks
 *     each value's range, only check applies the rules between fields (such
 *     as early stopping needing a validation set).
 *  2. The first sizeof(nn_config) bytes as a raw struct, i.e. any field
 *     values at all, NaN and out-of-range enums included: when
 *     nn_config_check accepts the struct, its JSON re-parses to the same
 *     values.
 * Fields are compared one by one (floats with ==, so -0 and 0 count as the
 * same: cJSON writes -0 as 0, and training is the same) and, for every field
 * including those added later, through the JSON printed again.
 *
 * Not covered: nn_config_check against a shard (fuzz_shard.c does that). */
#include "fuzz_common.h"

static int config_equal(const nn_config *a, const nn_config *b) {
    return a->vocab_size == b->vocab_size && a->maxlen == b->maxlen && a->padding == b->padding &&
           a->truncating == b->truncating && a->embed_dim == b->embed_dim && a->hidden == b->hidden &&
           a->pooling == b->pooling && a->optimizer == b->optimizer && a->lr == b->lr &&
           a->beta1 == b->beta1 && a->beta2 == b->beta2 && a->eps == b->eps &&
           a->batch_size == b->batch_size && a->epochs == b->epochs && a->val_size == b->val_size &&
           a->train_size == b->train_size && a->seed == b->seed && a->model == b->model &&
           a->layers == b->layers && a->dropout == b->dropout &&
           a->recurrent_dropout == b->recurrent_dropout && a->patience == b->patience &&
           a->monitor == b->monitor && a->min_delta == b->min_delta &&
           a->restore_best_weights == b->restore_best_weights;
}

/* A config unlike the default in every field, to start a re-parse from. */
static void config_other(nn_config *c) {
    nn_config_default(c);
    c->vocab_size = 77, c->maxlen = 3, c->padding = NN_PAD_PRE, c->truncating = NN_PAD_POST;
    c->embed_dim = 5, c->hidden = 6, c->pooling = NN_POOL_MASKED, c->optimizer = NN_OPT_SGD;
    c->lr = 0.5f, c->beta1 = 0.25f, c->beta2 = 0.125f, c->eps = 2.0f, c->batch_size = 9;
    c->epochs = 11, c->val_size = 13, c->train_size = 17, c->seed = 19;
    c->model = NN_MODEL_GRU, c->layers = 3, c->dropout = 0.5f, c->recurrent_dropout = 0.75f;
    c->patience = 23, c->monitor = NN_MONITOR_VAL_ACC, c->min_delta = 0.5f;
    c->restore_best_weights = 1;
}

/* c passed the checks: its JSON must read back as c and print the same. */
static void config_round_trip(const nn_config *c) {
    char *json = nn_config_to_json(c);
    FUZZ_REQUIRE(json != NULL, "nn_config_to_json failed");
    nn_config back;
    config_other(&back);
    nn_error err = {0};
    int rc = nn_config_from_json(&back, json, &err);
    FUZZ_REQUIRE(rc == NN_OK, "the config's own JSON %s is refused: %s", json, err.msg);
    FUZZ_REQUIRE(config_equal(c, &back), "JSON %s reads back as another config", json);
    char *again = nn_config_to_json(&back);
    FUZZ_REQUIRE(again && strcmp(json, again) == 0, "JSON %s prints again as %s", json, again);
    free(again);
    free(json);
}

static void config_from_text(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    FUZZ_REQUIRE(text != NULL, "out of memory");
    memcpy(text, data, size);
    text[size] = 0;
    nn_config c, before;
    nn_config_default(&c);
    before = c;
    nn_error err = {0};
    int rc = nn_config_from_json(&c, text, &err);
    if (rc != NN_OK) {
        FUZZ_REQUIRE(memcmp(&c, &before, sizeof c) == 0, "a refused JSON changed the config");
        FUZZ_REQUIRE(err.code == rc && err.msg[0], "failure %d without a message", rc);
    } else {
        rc = nn_config_check(&c, NULL, &err);
        FUZZ_REQUIRE(rc == NN_OK || (err.code == rc && err.msg[0]), "check failure %d without a message", rc);
        config_round_trip(&c);
    }
    free(text);
}

static void config_from_struct(const uint8_t *data, size_t size) {
    if (size < sizeof(nn_config)) return;
    nn_config raw;
    memcpy(&raw, data, sizeof raw);
    nn_error err = {0};
    int ok = nn_config_check(&raw, NULL, &err) == NN_OK;
    char *json = nn_config_to_json(&raw);
    FUZZ_REQUIRE(json != NULL, "nn_config_to_json failed");
    nn_config back;
    config_other(&back);
    int rc = nn_config_from_json(&back, json, &err);
    if (ok) {
        FUZZ_REQUIRE(rc == NN_OK, "check accepts the config but its JSON %s is refused: %s", json, err.msg);
        FUZZ_REQUIRE(config_equal(&raw, &back), "JSON %s reads back as another config", json);
        char *again = nn_config_to_json(&back);
        FUZZ_REQUIRE(again && strcmp(json, again) == 0, "JSON %s prints again as %s", json, again);
        free(again);
    }
    free(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    config_from_text(data, size);
    config_from_struct(data, size);
    return 0;
}
