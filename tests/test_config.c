/* test_config.c: the recipe's defaults, every JSON key, every way a config
 * can be wrong (and that the message names the key and the value), the
 * to_json -> from_json round trip, and the tutorial presets. */
#include "check.h"
#include "nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int config_equal(const nn_config *a, const nn_config *b) {
    return a->vocab_size == b->vocab_size && a->maxlen == b->maxlen &&
           a->padding == b->padding && a->truncating == b->truncating &&
           a->embed_dim == b->embed_dim && a->hidden == b->hidden &&
           a->pooling == b->pooling && a->optimizer == b->optimizer &&
           memcmp(&a->lr, &b->lr, sizeof a->lr) == 0 &&
           memcmp(&a->beta1, &b->beta1, sizeof a->beta1) == 0 &&
           memcmp(&a->beta2, &b->beta2, sizeof a->beta2) == 0 &&
           memcmp(&a->eps, &b->eps, sizeof a->eps) == 0 && a->batch_size == b->batch_size &&
           a->epochs == b->epochs && a->val_size == b->val_size &&
           a->train_size == b->train_size && a->seed == b->seed && a->model == b->model &&
           a->layers == b->layers && memcmp(&a->dropout, &b->dropout, sizeof a->dropout) == 0 &&
           memcmp(&a->recurrent_dropout, &b->recurrent_dropout, sizeof a->recurrent_dropout) == 0 &&
           a->patience == b->patience && a->monitor == b->monitor &&
           memcmp(&a->min_delta, &b->min_delta, sizeof a->min_delta) == 0 &&
           a->restore_best_weights == b->restore_best_weights &&
           strcmp(a->stopwords, b->stopwords) == 0 &&
           a->embedding_init == b->embedding_init && a->trainable_embedding == b->trainable_embedding &&
           a->w2v_epochs == b->w2v_epochs && a->w2v_window == b->w2v_window &&
           a->w2v_negative == b->w2v_negative &&
           memcmp(&a->w2v_sample, &b->w2v_sample, sizeof a->w2v_sample) == 0 &&
           memcmp(&a->w2v_lr, &b->w2v_lr, sizeof a->w2v_lr) == 0;
}

static void defaults_are_the_keras_tutorial_recipe(void) {
    nn_config c;
    memset(&c, 0xAB, sizeof c);
    nn_config_default(&c);
    check(c.vocab_size == 10000, "default vocab_size=%u", c.vocab_size);
    check(c.maxlen == 256, "default maxlen=%u", c.maxlen);
    check(c.padding == NN_PAD_POST, "default padding is post");
    check(c.truncating == NN_PAD_PRE, "default truncating is pre (Keras's default)");
    check(c.embed_dim == 16, "default embed_dim=%u", c.embed_dim);
    check(c.hidden == 16, "default hidden=%u", c.hidden);
    check(c.pooling == NN_POOL_KERAS, "default pooling is keras");
    check(c.optimizer == NN_OPT_ADAM, "default optimizer is adam");
    check(c.lr == 0.001f, "default lr=%g", c.lr);
    check(c.beta1 == 0.9f && c.beta2 == 0.999f, "default betas %g %g", c.beta1, c.beta2);
    check(c.eps == 1e-7f, "default eps=%g", c.eps);
    check(c.batch_size == 512, "default batch_size=%u", c.batch_size);
    check(c.epochs == 40, "default epochs=%u", c.epochs);
    check(c.val_size == 10000, "default val_size=%u", c.val_size);
    check(c.train_size == 0, "default train_size=%u (the rest)", c.train_size);
    check(c.seed == 1, "default seed=%llu", (unsigned long long)c.seed);
    check(c.model == NN_MODEL_BAG && c.layers == 1 && c.dropout == 0.0f && c.recurrent_dropout == 0.0f,
          "default model is bag, 1 layer, no dropout");
    check(c.patience == 0 && c.monitor == NN_MONITOR_VAL_LOSS && c.min_delta == 0.0f &&
              c.restore_best_weights == 0,
          "default has no early stopping (patience 0, val_loss, min_delta 0, no restore)");
    nn_error err = {0};
    check(nn_config_check(&c, NULL, &err) == NN_OK, "defaults pass nn_config_check %s", err.msg);
    char *json = nn_config_to_json(&c);
    check(json && strstr(json, "\"padding\":\"post\"") && strstr(json, "\"truncating\":\"pre\"") &&
              strstr(json, "\"pooling\":\"keras\"") && strstr(json, "\"optimizer\":\"adam\"") &&
              strstr(json, "\"lr\":0.001,") && strstr(json, "\"seed\":1,"),
          "defaults to_json writes enums as strings and lr as 0.001: %s", json ? json : "(null)");
    free(json);
}

/* One key set from JSON changes that field, and only that field. */
static void each_key_overrides_its_field(void) {
    nn_config def;
    nn_config_default(&def);
    struct key_case {
        const char *json;
        nn_config want;
    } kc[40];
    int n = 0;
#define ADD(js, field, value)          \
    do {                               \
        kc[n].json = js;               \
        kc[n].want = def;              \
        kc[n].want.field = value;      \
        n++;                           \
    } while (0)
    ADD("{\"vocab_size\": 20000}", vocab_size, 20000);
    ADD("{\"maxlen\": 2048}", maxlen, 2048);
    ADD("{\"padding\": \"pre\"}", padding, NN_PAD_PRE);
    ADD("{\"truncating\": \"post\"}", truncating, NN_PAD_POST);
    ADD("{\"embed_dim\": 1024}", embed_dim, 1024);
    ADD("{\"hidden\": 4096}", hidden, 4096);
    ADD("{\"pooling\": \"masked\"}", pooling, NN_POOL_MASKED);
    ADD("{\"optimizer\": \"sgd\"}", optimizer, NN_OPT_SGD);
    ADD("{\"lr\": 0.05}", lr, 0.05f);
    ADD("{\"beta1\": 0}", beta1, 0.0f);
    ADD("{\"beta2\": 0.99}", beta2, 0.99f);
    ADD("{\"eps\": 1e-8}", eps, 1e-8f);
    ADD("{\"batch_size\": 65536}", batch_size, 65536);
    ADD("{\"epochs\": 1}", epochs, 1);
    ADD("{\"val_size\": 0}", val_size, 0);
    ADD("{\"train_size\": 4294967295}", train_size, 4294967295u);
    ADD("{\"seed\": 9007199254740991}", seed, 9007199254740991ull);
    ADD("{\"model\": \"lstm\"}", model, NN_MODEL_LSTM);
    ADD("{\"model\": \"gru\"}", model, NN_MODEL_GRU);
    ADD("{\"model\": \"bilstm\"}", model, NN_MODEL_BILSTM);
    ADD("{\"model\": \"bigru\"}", model, NN_MODEL_BIGRU);
    ADD("{\"layers\": 4}", layers, 4);
    ADD("{\"dropout\": 0.5}", dropout, 0.5f);
    ADD("{\"recurrent_dropout\": 0.25}", recurrent_dropout, 0.25f);
    ADD("{\"patience\": 3}", patience, 3);
    ADD("{\"monitor\": \"val_accuracy\"}", monitor, NN_MONITOR_VAL_ACC);
    ADD("{\"min_delta\": 0.001}", min_delta, 0.001f);
    ADD("{\"restore_best_weights\": true}", restore_best_weights, 1);
    ADD("{\"embedding_init\": \"word2vec\"}", embedding_init, NN_EMB_WORD2VEC);
    ADD("{\"trainable_embedding\": false}", trainable_embedding, 0);
    ADD("{\"w2v_epochs\": 5}", w2v_epochs, 5);
    ADD("{\"w2v_window\": 10}", w2v_window, 10);
    ADD("{\"w2v_negative\": 15}", w2v_negative, 15);
    ADD("{\"w2v_sample\": 0}", w2v_sample, 0.0f);
    ADD("{\"w2v_lr\": 0.05}", w2v_lr, 0.05f);
#undef ADD
    for (int i = 0; i < n; i++) {
        nn_config c = def;
        nn_error err = {0};
        int rc = nn_config_from_json(&c, kc[i].json, &err);
        check(rc == NN_OK && config_equal(&c, &kc[i].want), "from_json %s sets exactly that key %s",
              kc[i].json, err.msg);
    }
    /* Several keys at once, with whitespace and newlines. */
    nn_config c = def;
    nn_error err = {0};
    int rc = nn_config_from_json(&c, "{\n  \"epochs\": 3,\n  \"hidden\": 8, \"lr\": 1e-2 }\n", &err);
    check(rc == NN_OK && c.epochs == 3 && c.hidden == 8 && c.lr == 0.01f && c.maxlen == 256,
          "from_json sets several keys and keeps the others %s", err.msg);
    c = def;
    rc = nn_config_from_json(&c, "{}", &err);
    check(rc == NN_OK && config_equal(&c, &def), "from_json {} changes nothing");
}

static void expect_error(const char *json, const char *must1, const char *must2) {
    nn_config def, c;
    nn_config_default(&def);
    c = def;
    nn_error err = {0};
    int rc = nn_config_from_json(&c, json, &err);
    int named = (!must1 || strstr(err.msg, must1)) && (!must2 || strstr(err.msg, must2));
    check(rc == NN_ERR_ARG && err.code == NN_ERR_ARG && named && config_equal(&c, &def),
          "from_json %s fails naming %s%s%s, config untouched: %s", json, must1 ? must1 : "",
          must2 ? " and " : "", must2 ? must2 : "", err.msg);
}

static void unknown_keys_are_named_with_the_valid_ones(void) {
    expect_error("{\"learning_rate\": 0.01}", "\"learning_rate\"", "lr");
    expect_error("{\"epochs\": 2, \"Epochs\": 3}", "\"Epochs\"", "epochs");
    expect_error("{\"maxlen\": 100, \"dropuot\": 0.5}", "dropuot", "vocab_size");
    nn_error err = {0};
    nn_config c;
    nn_config_default(&c);
    nn_config_from_json(&c, "{\"x\":1}", &err);
    const char *keys[] = {"vocab_size", "maxlen", "padding", "truncating", "model", "embed_dim",
                          "hidden", "layers", "dropout", "recurrent_dropout", "pooling",
                          "optimizer", "lr", "beta1", "beta2", "eps", "batch_size", "epochs",
                          "patience", "monitor", "min_delta", "restore_best_weights",
                          "val_size", "train_size", "seed", "stopwords", "embedding_init",
                          "trainable_embedding", "w2v_epochs", "w2v_window", "w2v_negative",
                          "w2v_sample", "w2v_lr"};
    int all = 1;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) all &= strstr(err.msg, keys[i]) != NULL;
    check(all, "unknown key message lists every valid key: %s", err.msg);
}

static void wrong_types_are_named(void) {
    expect_error("{\"maxlen\": \"256\"}", "\"maxlen\"", "a string");
    expect_error("{\"lr\": \"0.01\"}", "\"lr\"", "number");
    expect_error("{\"seed\": true}", "\"seed\"", "a boolean");
    expect_error("{\"epochs\": null}", "\"epochs\"", "null");
    expect_error("{\"hidden\": [16]}", "\"hidden\"", "an array");
    expect_error("{\"batch_size\": {\"n\": 1}}", "\"batch_size\"", "an object");
    expect_error("{\"padding\": 1}", "\"padding\"", "\"pre\" or \"post\"");
    expect_error("{\"pooling\": true}", "\"pooling\"", "\"keras\" or \"masked\"");
    expect_error("{\"optimizer\": null}", "\"optimizer\"", "\"adam\" or \"sgd\"");
    expect_error("{\"model\": 1}", "\"model\"", "\"ngram\" or \"transformer\"");
    expect_error("{\"restore_best_weights\": \"true\"}", "\"restore_best_weights\"", "true or false");
    expect_error("{\"restore_best_weights\": 1}", "\"restore_best_weights\"", "a number");
    expect_error("{\"embedding_init\": \"glove\"}", "\"embedding_init\"", "\"word2vec\"");
    expect_error("{\"trainable_embedding\": \"no\"}", "\"trainable_embedding\"", "true or false");
    expect_error("{\"w2v_window\": 0}", "\"w2v_window\"", "1..50");
    expect_error("{\"w2v_lr\": 0}", "\"w2v_lr\"", "greater than 0");
    expect_error("{\"w2v_sample\": 2}", "\"w2v_sample\"", "0..1");
}

static void out_of_range_values_are_named_with_the_range(void) {
    expect_error("{\"vocab_size\": 4}", "\"vocab_size\" is 4", "5..65536");
    expect_error("{\"vocab_size\": 65537}", "65537", "5..65536");
    expect_error("{\"vocab_size\": -1}", "-1", "5..65536");
    expect_error("{\"maxlen\": 0}", "\"maxlen\" is 0", "1..2048");
    expect_error("{\"maxlen\": 2049}", "2049", "1..2048");
    expect_error("{\"maxlen\": 2.5}", "2.5", "whole number");
    expect_error("{\"embed_dim\": 0}", "\"embed_dim\"", "1..1024");
    expect_error("{\"embed_dim\": 1025}", "1025", "1..1024");
    expect_error("{\"hidden\": 0}", "\"hidden\"", "1..4096");
    expect_error("{\"hidden\": 4097}", "4097", "1..4096");
    expect_error("{\"lr\": 0}", "\"lr\" is 0", "greater than 0");
    expect_error("{\"lr\": -0.1}", "-0.1", "greater than 0");
    expect_error("{\"lr\": 11}", "11", "at most 10");
    expect_error("{\"lr\": 1e-50}", "1e-50", "greater than 0"); /* 0 as a float */
    expect_error("{\"lr\": 1e999}", "\"lr\"", "at most 10");    /* cJSON reads inf */
    expect_error("{\"beta1\": 1}", "\"beta1\" is 1", "below 1");
    expect_error("{\"beta1\": -0.5}", "-0.5", "at least 0");
    expect_error("{\"beta2\": 1.5}", "1.5", "below 1");
    expect_error("{\"eps\": 0}", "\"eps\" is 0", "greater than 0");
    expect_error("{\"eps\": -1e-7}", "\"eps\"", "greater than 0");
    expect_error("{\"batch_size\": 0}", "\"batch_size\" is 0", "1..65536");
    expect_error("{\"batch_size\": 65537}", "65537", "1..65536");
    expect_error("{\"epochs\": 0}", "\"epochs\" is 0", "1..10000");
    expect_error("{\"epochs\": 10001}", "10001", "1..10000");
    expect_error("{\"val_size\": 4294967296}", "4294967296", "0..4294967295");
    expect_error("{\"train_size\": -3}", "-3", "0..4294967295");
    expect_error("{\"seed\": -1}", "\"seed\" is -1", "9007199254740991");
    expect_error("{\"seed\": 9007199254740992}", "9007199254740992", "2^53-1");
    expect_error("{\"seed\": 1.5}", "1.5", "whole number");
    expect_error("{\"padding\": \"middle\"}", "\"middle\"", "\"pre\" or \"post\"");
    expect_error("{\"truncating\": \"PRE\"}", "\"PRE\"", "\"pre\" or \"post\"");
    expect_error("{\"pooling\": \"max\"}", "\"max\"", "\"keras\" or \"masked\"");
    expect_error("{\"optimizer\": \"rmsprop\"}", "\"rmsprop\"", "\"adam\" or \"sgd\"");
    expect_error("{\"model\": \"rnn\"}", "\"rnn\"", "\"bag\", \"lstm\", \"gru\"");
    expect_error("{\"layers\": 0}", "\"layers\" is 0", "1..4");
    expect_error("{\"layers\": 5}", "5", "1..4");
    expect_error("{\"dropout\": 1}", "\"dropout\" is 1", "below 1");
    expect_error("{\"dropout\": -0.1}", "\"dropout\"", "at least 0");
    expect_error("{\"recurrent_dropout\": 1.5}", "\"recurrent_dropout\"", "below 1");
    expect_error("{\"patience\": 10001}", "\"patience\"", "0..10000");
    expect_error("{\"monitor\": \"accuracy\"}", "\"accuracy\"", "\"val_loss\" or \"val_accuracy\"");
    expect_error("{\"min_delta\": -0.01}", "\"min_delta\"", "at least 0");
    /* A good key before a bad one is not applied either. */
    expect_error("{\"epochs\": 5, \"maxlen\": 0}", "\"maxlen\"", "1..2048");
}

static void invalid_json_reports_the_position(void) {
    expect_error("{\"epochs\": 5,}", "line 1, column", "byte");
    expect_error("{\n  \"epochs\": 5\n  \"hidden\": 8\n}", "line 3", "column");
    expect_error("{\"epochs\": }", "not valid JSON", "byte 11");
    expect_error("{", "not valid JSON", NULL);
    expect_error("", "empty", NULL);
    expect_error("   ", "not valid JSON", NULL);
    expect_error("{\"epochs\": 5} trailing", "not valid JSON", "byte 14");
    expect_error("[1, 2]", "must be an object", "an array");
    expect_error("40", "must be an object", "a number");
    expect_error("\"epochs\"", "must be an object", NULL);
    nn_config c;
    nn_config_default(&c);
    check(nn_config_from_json(&c, NULL, NULL) == NN_ERR_ARG, "from_json NULL fails with NULL err");
    check(nn_config_from_json(&c, "{\"x\":1}", NULL) == NN_ERR_ARG,
          "from_json with a NULL nn_error still returns the code");
}

static void to_json_then_from_json_gives_the_same_config(void) {
    nn_config def;
    nn_config_default(&def);
    nn_rng rng;
    nn_rng_seed(&rng, 42);
    int all = 1;
    char first_bad[1200] = "";
    for (int i = 0; i < 200; i++) {
        nn_config c = def;
        c.vocab_size = 5 + nn_rng_below(&rng, 65532);
        c.maxlen = 1 + nn_rng_below(&rng, NN_SHARD_MAX_TOKENS);
        c.padding = (int)nn_rng_below(&rng, 2);
        c.truncating = (int)nn_rng_below(&rng, 2);
        c.embed_dim = 1 + nn_rng_below(&rng, 1024);
        c.hidden = 1 + nn_rng_below(&rng, 4096);
        c.pooling = (int)nn_rng_below(&rng, 2);
        c.optimizer = (int)nn_rng_below(&rng, 2);
        /* Arbitrary float bit patterns in range, not just short decimals. */
        c.lr = nn_rng_uniform(&rng, 1e-6f, 10.0f);
        c.beta1 = nn_rng_uniform(&rng, 0.0f, 1.0f);
        c.beta2 = nn_rng_uniform(&rng, 0.0f, 1.0f);
        c.eps = i == 0 ? 1.4e-45f /* the smallest denormal */ : nn_rng_uniform(&rng, 1e-12f, 1.0f);
        c.batch_size = 1 + nn_rng_below(&rng, 65536);
        c.epochs = 1 + nn_rng_below(&rng, 10000);
        c.val_size = nn_rng_u32(&rng);
        c.train_size = nn_rng_u32(&rng);
        c.seed = i == 1 ? 9007199254740991ull : ((uint64_t)nn_rng_u32(&rng) << 21) ^ nn_rng_u32(&rng);
        c.model = (int)nn_rng_below(&rng, 6);
        c.input_dim = 1 + nn_rng_below(&rng, NN_IMAGE_MAX_PIXELS);
        c.classes = 2 + nn_rng_below(&rng, c.model == NN_MODEL_MLP ? NN_IMAGE_MAX_CLASSES - 1 : NN_MAX_TEXT_CLASSES - 1);
        c.layers = 1 + nn_rng_below(&rng, NN_MAX_LAYERS);
        c.dropout = nn_rng_uniform(&rng, 0.0f, 1.0f);
        c.recurrent_dropout = nn_rng_uniform(&rng, 0.0f, 1.0f);
        c.patience = nn_rng_below(&rng, 10001);
        c.monitor = (int)nn_rng_below(&rng, 2);
        c.min_delta = nn_rng_uniform(&rng, 0.0f, 0.1f);
        c.restore_best_weights = (int)nn_rng_below(&rng, 2);
        static const char *const stop[] = {"", "@english", "@english -not -no", "the, a\nan \"q\""};
        snprintf(c.stopwords, sizeof c.stopwords, "%s", stop[nn_rng_below(&rng, 4)]);
        c.embedding_init = (int)nn_rng_below(&rng, 2);
        c.trainable_embedding = (int)nn_rng_below(&rng, 2);
        c.w2v_epochs = 1 + nn_rng_below(&rng, 100);
        c.w2v_window = 1 + nn_rng_below(&rng, 50);
        c.w2v_negative = 1 + nn_rng_below(&rng, 50);
        c.w2v_sample = nn_rng_uniform(&rng, 0.0f, 1.0f);
        c.w2v_lr = nn_rng_uniform(&rng, 1e-6f, 10.0f);
        if (c.val_size == 0) c.val_size = 1; /* patience needs a validation set */
        nn_error err = {0};
        char *json = nn_config_to_json(&c);
        nn_config back = def;
        int rc = json ? nn_config_from_json(&back, json, &err) : -1;
        if (rc != NN_OK || !config_equal(&c, &back) || nn_config_check(&c, NULL, &err) != NN_OK) {
            if (all)
                snprintf(first_bad, sizeof first_bad, "%s %s", json ? json : "(null)", err.msg);
            all = 0;
        }
        free(json);
    }
    check(all, "200 random configs round-trip to_json -> from_json bit for bit %s", first_bad);

    nn_config c = def;
    char *json = nn_config_to_json(&c);
    check(json && strcmp(json,
                         "{\"vocab_size\":10000,\"maxlen\":256,\"padding\":\"post\","
                         "\"truncating\":\"pre\",\"stopwords\":\"\",\"model\":\"bag\",\"input_dim\":784,\"classes\":2,\"embed_dim\":16,\"hidden\":16,"
                         "\"layers\":1,\"dropout\":0,\"recurrent_dropout\":0,"
                         "\"pooling\":\"keras\",\"optimizer\":\"adam\",\"lr\":0.001,"
                         "\"beta1\":0.9,\"beta2\":0.999,\"eps\":1e-07,\"batch_size\":512,"
                         "\"epochs\":40,\"patience\":0,\"monitor\":\"val_loss\",\"min_delta\":0,"
                         "\"restore_best_weights\":false,"
                         "\"embedding_init\":\"uniform\",\"trainable_embedding\":true,"
                         "\"w2v_epochs\":1,\"w2v_window\":5,\"w2v_negative\":5,"
                         "\"w2v_sample\":0.001,\"w2v_lr\":0.025,"
                         "\"val_size\":10000,\"train_size\":0,\"seed\":1,"
                         "\"bigrams\":0,\"nb_weighting\":false,"
                         "\"heads\":2,\"blocks\":1,\"ff_dim\":64,\"warmup_steps\":0,\"weight_decay\":0.01,\"alibi\":false,"
                         "\"positions\":\"uniform\",\"mlm_lr\":0.001,\"mlm_warmup_steps\":200}") == 0,
          "default to_json is exactly the documented object: %s", json ? json : "(null)");
    free(json);
}

static void check_catches_bad_structs(void) {
    nn_config def;
    nn_config_default(&def);
    nn_error err = {0};
    nn_config c = def;
    c.padding = 2;
    check(nn_config_check(&c, NULL, &err) == NN_ERR_ARG && strstr(err.msg, "\"padding\""),
          "check rejects padding=2: %s", err.msg);
    c = def;
    c.lr = NAN;
    check(nn_config_check(&c, NULL, &err) == NN_ERR_ARG && strstr(err.msg, "\"lr\""),
          "check rejects lr=NaN: %s", err.msg);
    c = def;
    c.eps = INFINITY;
    check(nn_config_check(&c, NULL, &err) == NN_ERR_ARG && strstr(err.msg, "\"eps\""),
          "check rejects eps=inf: %s", err.msg);
    c = def;
    c.seed = 1ull << 60;
    check(nn_config_check(&c, NULL, &err) == NN_ERR_ARG && strstr(err.msg, "\"seed\""),
          "check rejects a seed JSON cannot hold: %s", err.msg);
    c = def;
    c.model = 8;
    check(nn_config_check(&c, NULL, &err) == NN_ERR_ARG && strstr(err.msg, "\"model\""),
          "check rejects model=8: %s", err.msg);
    c = def;
    c.model = NN_MODEL_TRANSFORMER;
    c.classes = 3;
    check(nn_config_check(&c, NULL, &err) == NN_ERR_ARG && strstr(err.msg, "classes"),
          "check rejects a transformer of 3 classes (sigmoid head only, for now): %s", err.msg);
    c.classes = 2;
    c.embed_dim = 30;
    c.heads = 4;
    check(nn_config_check(&c, NULL, &err) == NN_ERR_ARG && strstr(err.msg, "heads"),
          "check rejects a transformer whose heads do not divide embed_dim: %s", err.msg);
    c = def;
    c.classes = 1;
    check(nn_config_check(&c, NULL, &err) == NN_ERR_ARG && strstr(err.msg, "\"classes\""),
          "check rejects classes=1: %s", err.msg);
    c = def;
    c.classes = NN_MAX_TEXT_CLASSES;
    check(nn_config_check(&c, NULL, &err) == NN_OK, "check accepts a bag of %d classes: %s",
          NN_MAX_TEXT_CLASSES, err.msg);
    c.classes = NN_MAX_TEXT_CLASSES + 1;
    check(nn_config_check(&c, NULL, &err) == NN_ERR_ARG && strstr(err.msg, "\"classes\"") &&
              strstr(err.msg, "50"),
          "check rejects a text model of %d classes: %s", NN_MAX_TEXT_CLASSES + 1, err.msg);
    c.model = NN_MODEL_MLP;
    c.classes = NN_IMAGE_MAX_CLASSES;
    check(nn_config_check(&c, NULL, &err) == NN_OK, "check accepts an mlp of %d classes: %s",
          NN_IMAGE_MAX_CLASSES, err.msg);
    c = def;
    check(c.classes == 2, "the default config has 2 classes (IMDB's), got %u", c.classes);
    c = def;
    c.restore_best_weights = 2;
    check(nn_config_check(&c, NULL, &err) == NN_ERR_ARG && strstr(err.msg, "\"restore_best_weights\""),
          "check rejects restore_best_weights=2: %s", err.msg);
    c = def;
    c.patience = 2;
    c.val_size = 0;
    check(nn_config_check(&c, NULL, &err) == NN_ERR_ARG && strstr(err.msg, "patience") &&
              strstr(err.msg, "val_size"),
          "check rejects early stopping without a validation set: %s", err.msg);
    c = def;
    c.vocab_size = 70000;
    check(nn_config_check(&c, NULL, &err) == NN_ERR_ARG && strstr(err.msg, "70000"),
          "check rejects vocab_size=70000: %s", err.msg);
}

static void check_against_a_shard(void) {
    nn_shard s;
    memset(&s, 0, sizeof s);
    s.version = NN_SHARD_VERSION;
    s.max_tokens = NN_SHARD_MAX_TOKENS;
    s.vocab.V = 8000;
    s.nsplits = 2;
    strcpy(s.split[0].name, "test");
    s.split[0].n = 25000;
    strcpy(s.split[1].name, "train");
    s.split[1].n = 25000;
    nn_config def;
    nn_config_default(&def);
    nn_error err = {0};
    nn_config c = def;

    int rc = nn_config_check(&c, &s, &err);
    check(rc == NN_ERR_ARG && strstr(err.msg, "the shard has 8000 ids") &&
              strstr(err.msg, "--vocab-size") && strstr(err.msg, "at most 8000"),
          "check rejects vocab_size above the shard's V: %s", err.msg);
    c.vocab_size = 8000;
    rc = nn_config_check(&c, &s, &err);
    check(rc == NN_OK, "check accepts vocab_size == the shard's V %s", rc ? err.msg : "");
    s.vocab.V = 0;
    c.vocab_size = 65536;
    rc = nn_config_check(&c, &s, &err);
    check(rc == NN_OK, "a shard without a vocabulary does not limit vocab_size %s", rc ? err.msg : "");
    s.vocab.V = 10000;
    c = def;

    /* classes: the shard's (0 in a hand-made struct counts as 2). */
    c.classes = 4;
    rc = nn_config_check(&c, &s, &err);
    check(rc == NN_ERR_ARG && strstr(err.msg, "classes is 4") && strstr(err.msg, "set classes to 2"),
          "check rejects a 4-class bag on a 2-class shard: %s", err.msg);
    s.classes = 4;
    for (int model = NN_MODEL_BAG; model <= NN_MODEL_NGRAM; model++) {
        if (model == NN_MODEL_MLP) continue;
        c.model = model;
        rc = nn_config_check(&c, &s, &err);
        check(rc == NN_OK, "check accepts a 4-class text model %d on a 4-class shard %s", model,
              rc ? err.msg : "");
    }
    c = def;
    rc = nn_config_check(&c, &s, &err);
    check(rc == NN_ERR_ARG && strstr(err.msg, "classes is 2") && strstr(err.msg, "set classes to 4"),
          "check rejects the default 2 classes on a 4-class shard: %s", err.msg);
    s.classes = 2;
    c = def;

    c.val_size = 25000;
    rc = nn_config_check(&c, &s, &err);
    check(rc == NN_ERR_ARG && strstr(err.msg, "val_size") && strstr(err.msg, "at most 24999"),
          "check rejects val_size leaving no training reviews: %s", err.msg);
    c.val_size = 24999;
    rc = nn_config_check(&c, &s, &err);
    check(rc == NN_OK, "check accepts val_size = n-1 %s", rc ? err.msg : "");
    c.val_size = 4294967295u;
    rc = nn_config_check(&c, &s, &err);
    check(rc == NN_ERR_ARG, "check rejects val_size=2^32-1 without overflow: %s", err.msg);

    c = def;
    c.train_size = 15001;
    rc = nn_config_check(&c, &s, &err);
    check(rc == NN_ERR_ARG && strstr(err.msg, "train_size") && strstr(err.msg, "at most 15000"),
          "check rejects val_size + train_size above the split: %s", err.msg);
    c.train_size = 15000;
    rc = nn_config_check(&c, &s, &err);
    check(rc == NN_OK, "check accepts val_size + train_size == n %s", rc ? err.msg : "");
    c.train_size = 4294967295u; /* 10000 + this wraps to 9999 in 32 bits */
    rc = nn_config_check(&c, &s, &err);
    check(rc == NN_ERR_ARG, "check rejects huge val_size + train_size without overflow: %s", err.msg);

    c = def;
    s.max_tokens = 200;
    rc = nn_config_check(&c, &s, &err);
    check(rc == NN_ERR_ARG && strstr(err.msg, "maxlen is 256") && strstr(err.msg, "at most 200"),
          "check rejects maxlen above the shard's max_tokens: %s", err.msg);
    s.max_tokens = NN_SHARD_MAX_TOKENS;

    strcpy(s.split[1].name, "unsup");
    rc = nn_config_check(&c, &s, &err);
    check(rc == NN_ERR_ARG && strstr(err.msg, "no \"train\" split"),
          "check rejects a shard without a train split: %s", err.msg);
    strcpy(s.split[1].name, "train");
    rc = nn_config_check(&c, &s, &err);
    check(rc == NN_OK, "defaults pass against a full IMDB-sized shard %s", rc ? err.msg : "");
}

static void presets_are_the_tutorial_recipes(void) {
    nn_config def, c;
    nn_config_default(&def);
    memset(&c, 0xAB, sizeof c);
    check(nn_config_preset(&c, "tutorial-bag") == NN_OK && config_equal(&c, &def),
          "preset tutorial-bag is the defaults");
    const char *names[] = {"tutorial-lstm", "tutorial-gru", "tutorial-bilstm"};
    const int models[] = {NN_MODEL_LSTM, NN_MODEL_GRU, NN_MODEL_BILSTM};
    for (int i = 0; i < 3; i++) {
        memset(&c, 0xAB, sizeof c);
        nn_error err = {0};
        int rc = nn_config_preset(&c, names[i]);
        check(rc == NN_OK && c.model == models[i] && c.vocab_size == 10000 && c.embed_dim == 32 &&
                  c.hidden == 32 && c.layers == 1 && c.maxlen == 250 && c.padding == NN_PAD_PRE &&
                  c.truncating == NN_PAD_PRE && c.batch_size == 128 && c.optimizer == NN_OPT_ADAM &&
                  c.lr == 0.001f && c.val_size == 5000 && c.epochs == 10 && c.dropout == 0.0f &&
                  c.patience == 2 && c.monitor == NN_MONITOR_VAL_LOSS &&
                  c.restore_best_weights == 1 && nn_config_check(&c, NULL, &err) == NN_OK,
              "preset %s: Embedding(10000,32), 32 units, maxlen 250 pre/pre, batch 128, Adam 0.001, "
              "5000 validation, 10 epochs, early stopping on val_loss with patience 2 restoring "
              "the best weights %s", names[i], err.msg);
    }
    memset(&c, 0xAB, sizeof c);
    nn_config want;
    nn_config_preset(&want, "tutorial-lstm");
    want.train_size = 1000;
    want.patience = 0;
    want.embedding_init = NN_EMB_WORD2VEC;
    want.w2v_window = 20;
    want.w2v_sample = 1e-4f;
    check(nn_config_preset(&c, "tutorial-pretrained") == NN_OK && config_equal(&c, &want) &&
              c.trainable_embedding == 1 && c.w2v_negative == 5 && c.w2v_epochs == 1,
          "preset tutorial-pretrained: tutorial-lstm on 1000 labelled reviews without early "
          "stopping, embedding from word2vec (window 20, sample 1e-4), fine-tuned");
    c = def;
    check(nn_config_preset(&c, "tutorial-nope") == NN_ERR_ARG && config_equal(&c, &def) &&
              nn_config_preset(&c, NULL) == NN_ERR_ARG,
          "an unknown preset is NN_ERR_ARG and leaves the config alone");
    uint32_t n = 0;
    while (nn_config_preset_name(n)) n++;
    check(n == 9 && !strcmp(nn_config_preset_name(1), "tutorial-lstm") &&
              !strcmp(nn_config_preset_name(4), "tutorial-pretrained") &&
              !strcmp(nn_config_preset_name(5), "tutorial-mlp") &&
              !strcmp(nn_config_preset_name(6), "ngram") &&
              !strcmp(nn_config_preset_name(7), "tutorial-transformer") &&
              !strcmp(nn_config_preset_name(8), "transformer-pretrained"),
          "preset names listed: %u", n);
    c = def;
    nn_config tt = def;
    nn_config_preset(&tt, "tutorial-transformer");
    check(nn_config_preset(&c, "transformer-pretrained") == NN_OK && c.model == NN_MODEL_TRANSFORMER &&
              c.embed_dim == 64 && c.heads == 4 && c.blocks == tt.blocks && c.ff_dim == 128 && c.alibi &&
              c.positions == NN_POS_SINUSOID && c.mlm_lr == 0.003f && c.mlm_warmup_steps == 500 &&
              c.lr == tt.lr && c.warmup_steps == tt.warmup_steps && c.epochs == 2 &&
              c.maxlen == tt.maxlen && c.vocab_size == tt.vocab_size && c.patience >= 1 &&
              c.monitor == NN_MONITOR_VAL_LOSS && c.restore_best_weights && nn_config_check(&c, NULL, NULL) == NN_OK,
          "preset transformer-pretrained: width 64, 4 heads, feed-forward 128, ALiBi, sinusoid positions, "
          "pretraining at 0.003 over 500 warm-up steps, fine-tuning at tutorial-transformer's rate over 2 epochs, "
          "early stopping on validation loss restoring the best epoch, a valid config");
    check(tt.mlm_lr == tt.lr && tt.mlm_warmup_steps == tt.warmup_steps && tt.positions == NN_POS_UNIFORM && !tt.alibi,
          "preset tutorial-transformer pretrains at its own lr and warm-up (as before mlm_lr), uniform positions");
    c = def;
    check(nn_config_preset(&c, "tutorial-transformer") == NN_OK && c.model == NN_MODEL_TRANSFORMER &&
              c.classes == 2 && c.embed_dim % c.heads == 0 && c.val_size == 5000 && c.patience >= 1 &&
              c.monitor == NN_MONITOR_VAL_LOSS && c.restore_best_weights &&
              nn_config_check(&c, NULL, NULL) == NN_OK,
          "preset tutorial-transformer: a transformer of 2 classes, early stopping on validation "
          "loss restoring the best epoch, a valid config");
    c = def;
    check(nn_config_preset(&c, "tutorial-mlp") == NN_OK && c.model == NN_MODEL_MLP && c.hidden == 512 &&
              c.input_dim == 784 && c.classes == 10 && c.batch_size == 64 && c.epochs == 10 &&
              c.optimizer == NN_OPT_ADAM && c.lr == 0.001f && c.val_size == 10000,
          "preset tutorial-mlp: Dense(512, relu) -> Dense(10) softmax, batch 64, 10 epochs, Adam "
          "0.001, 10000 validation images");
}

int main(void) {
    defaults_are_the_keras_tutorial_recipe();
    presets_are_the_tutorial_recipes();
    each_key_overrides_its_field();
    unknown_keys_are_named_with_the_valid_ones();
    wrong_types_are_named();
    out_of_range_values_are_named_with_the_range();
    invalid_json_reports_the_position();
    to_json_then_from_json_gives_the_same_config();
    check_catches_bad_structs();
    check_against_a_shard();
    return check_exit_code();
}
