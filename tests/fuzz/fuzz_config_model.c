/* fuzz_config_model.c: libFuzzer target over whole configurations, from the
 * JSON text to a trainer that trains.
 *
 * The input is not JSON: its bytes choose, key by key over every key of the
 * config (KEYS below; the harness fails at once when nn_config_to_json names
 * a key KEYS lacks, so a new key cannot go unfuzzed), whether the key is
 * absent or has its range's minimum, maximum, a value just outside, a value
 * anywhere in range, a small or shard-sized value, a wrong JSON type, or
 * arbitrary bits (infinities included). This is how settings arrive from a
 * link: every key at once, the page's extremes (its limits are FIELDS'
 * ranges) and what lies just past them. The JSON is then
 *  1. parsed (nn_config_from_json): a refusal has a message;
 *  2. checked (nn_config_check): a refusal has a message; an accepted config
 *     prints JSON that reads back and prints the same again;
 *  3. the engine's memory and time budget (nn_memory_check, with this
 *     build's limits) accepts it or refuses with a message; when it refuses,
 *     the create function must refuse too, at once, before allocating;
 *     when it accepts and the config is small enough for fuzzing speed
 *     (fuzz_sized, below), it is made into a trainer on a tiny synthetic
 *     shard (text, or 6 x 6 images for "mlp"): nn_trainer_create succeeds
 *     or refuses with a message, and then one batch and the test evaluation
 *     run (fuzz_train_steps): no crash, no sanitizer report.
 *
 * embedding_init "word2vec" gets made-up vectors first (the page pretrains
 * them). Not covered: word2vec itself (fuzz-free tests/test_word2vec.c),
 * checkpoints (fuzz_checkpoint.c). */
#include "fuzz_common.h"

#include <cjson/cJSON.h>
#include <math.h>

enum { KIND_INT, KIND_FLOAT, KIND_ENUM, KIND_BOOL, KIND_STRING };

typedef struct key_range {
    const char *key;
    int kind;
    double min, max;      /* the config table's range (engine/config.c FIELDS) */
    double hint;          /* a value that fits the tiny shards (vocabulary 64, 6x6x1 images, 4 classes) */
    const char *choices[8];
} key_range;

static const key_range KEYS[] = {
    {"vocab_size", KIND_INT, 5, 65536, 64, {0}},
    {"maxlen", KIND_INT, 1, 2048, 8, {0}},
    {"padding", KIND_ENUM, 0, 0, 0, {"pre", "post"}},
    {"truncating", KIND_ENUM, 0, 0, 0, {"pre", "post"}},
    {"stopwords", KIND_STRING, 0, 0, 0, {0}},
    {"model", KIND_ENUM, 0, 0, 0, {"bag", "lstm", "gru", "bilstm", "bigru", "mlp", "ngram", "transformer"}},
    {"input_dim", KIND_INT, 1, 16777216, 36, {0}},
    {"classes", KIND_INT, 2, 256, 4, {0}},
    {"embed_dim", KIND_INT, 1, 1024, 4, {0}},
    {"hidden", KIND_INT, 1, 4096, 4, {0}},
    {"layers", KIND_INT, 1, 4, 2, {0}},
    {"dropout", KIND_FLOAT, 0, 1, 0.25, {0}},
    {"recurrent_dropout", KIND_FLOAT, 0, 1, 0.25, {0}},
    {"pooling", KIND_ENUM, 0, 0, 0, {"keras", "masked"}},
    {"optimizer", KIND_ENUM, 0, 0, 0, {"adam", "sgd"}},
    {"lr", KIND_FLOAT, 0, 10, 0.01, {0}},
    {"beta1", KIND_FLOAT, 0, 1, 0.9, {0}},
    {"beta2", KIND_FLOAT, 0, 1, 0.999, {0}},
    {"eps", KIND_FLOAT, 0, 1e30, 1e-7, {0}},
    {"batch_size", KIND_INT, 1, 65536, 8, {0}},
    {"epochs", KIND_INT, 1, 10000, 2, {0}},
    {"patience", KIND_INT, 0, 10000, 1, {0}},
    {"monitor", KIND_ENUM, 0, 0, 0, {"val_loss", "val_accuracy"}},
    {"min_delta", KIND_FLOAT, 0, 1e30, 0.001, {0}},
    {"restore_best_weights", KIND_BOOL, 0, 1, 1, {0}},
    {"embedding_init", KIND_ENUM, 0, 0, 0, {"uniform", "word2vec"}},
    {"trainable_embedding", KIND_BOOL, 0, 1, 1, {0}},
    {"w2v_epochs", KIND_INT, 1, 100, 1, {0}},
    {"w2v_window", KIND_INT, 1, 50, 2, {0}},
    {"w2v_negative", KIND_INT, 1, 50, 2, {0}},
    {"w2v_sample", KIND_FLOAT, 0, 1, 0.001, {0}},
    {"w2v_lr", KIND_FLOAT, 0, 10, 0.025, {0}},
    {"val_size", KIND_INT, 0, 4294967295.0, 8, {0}},
    {"train_size", KIND_INT, 0, 4294967295.0, 16, {0}},
    {"seed", KIND_INT, 0, 9007199254740991.0, 7, {0}},
    {"bigrams", KIND_INT, 0, 4000000, 16, {0}},
    {"nb_weighting", KIND_BOOL, 0, 1, 1, {0}},
    {"heads", KIND_INT, 1, 64, 2, {0}},
    {"blocks", KIND_INT, 1, 4, 1, {0}},
    {"ff_dim", KIND_INT, 1, 8192, 8, {0}},
    {"warmup_steps", KIND_INT, 0, 4294967295.0, 2, {0}},
    {"weight_decay", KIND_FLOAT, 0, 1, 0.01, {0}},
    {"alibi", KIND_BOOL, 0, 1, 1, {0}},
    {"positions", KIND_ENUM, 0, 0, 0, {"uniform", "sinusoid"}},
    {"mlm_lr", KIND_FLOAT, 0, 10, 0.003, {0}},
    {"mlm_warmup_steps", KIND_INT, 0, 4294967295.0, 2, {0}},
};
#define NKEYS (sizeof KEYS / sizeof KEYS[0])

static const char *const STOPWORD_SPECS[] = {
    "", "@english", "@english -not -no", "w4 w5, w6", "@klingon", "-", "+", "w4\nw70 -w4", "e.g. don't",
};

/* The input, read a byte or a word at a time; zeros once it runs out. */
typedef struct reader {
    const uint8_t *p;
    size_t n, at;
} reader;
static uint8_t rd8(reader *r) { return r->at < r->n ? r->p[r->at++] : 0; }
static uint32_t rd32(reader *r) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)rd8(r) << (8 * i);
    return v;
}
static uint64_t rd64(reader *r) { return rd32(r) | (uint64_t)rd32(r) << 32; }

/* One key's value, as JSON text into buf; 0 when the key stays absent. */
static int fuzz_value(reader *r, const key_range *k, char *buf, size_t cap) {
    uint8_t pick = rd8(r) % 12;
    if (pick < 3) return 0; /* absent: the default stays */
    if (pick == 9) {        /* a wrong JSON type */
        static const char *const WRONG[] = {"\"7\"", "true", "null", "[]", "{}", "\"\"", "-1", "1.5"};
        snprintf(buf, cap, "%s", WRONG[rd8(r) % 8]);
        return 1;
    }
    if (k->kind == KIND_ENUM) {
        uint32_t nchoices = 0;
        while (nchoices < 7 && k->choices[nchoices]) nchoices++;
        uint8_t c = rd8(r);
        if (pick == 10) snprintf(buf, cap, "\"%s \"", k->choices[c % nchoices]); /* near miss */
        else if (pick == 11) snprintf(buf, cap, "%u", c % (nchoices + 1));      /* a number */
        else snprintf(buf, cap, "\"%s\"", k->choices[c % nchoices]);
        return 1;
    }
    if (k->kind == KIND_STRING) {
        uint8_t c = rd8(r);
        uint32_t nspecs = (uint32_t)(sizeof STOPWORD_SPECS / sizeof STOPWORD_SPECS[0]);
        if (pick == 10) { /* a spec as long as the limit, and one byte over */
            size_t len = NN_STOPWORDS_SPEC_MAX - 1 + (c & 1);
            if (len + 3 > cap) len = cap - 3;
            buf[0] = '"';
            for (size_t i = 0; i < len; i++) buf[1 + i] = (i % 3 == 2) ? ' ' : (char)('a' + (i + c) % 26);
            buf[1 + len] = '"';
            buf[2 + len] = 0;
        } else {
            snprintf(buf, cap, "\"%s\"", STOPWORD_SPECS[c % nspecs]);
            for (char *q = buf + 1; *q; q++)
                if (*q == '\n') *q = ' '; /* JSON strings hold no raw newline */
        }
        return 1;
    }
    if (k->kind == KIND_BOOL) {
        snprintf(buf, cap, pick == 10 ? "1" : (rd8(r) & 1) ? "true" : "false");
        return 1;
    }
    double v;
    switch (pick) {
    case 3: v = k->min; break;
    case 4: v = k->max; break;
    case 5: v = (rd8(r) & 1) ? k->max + (k->kind == KIND_INT ? 1 : k->max * 1e-6 + 1e-30)
                             : k->min - (k->kind == KIND_INT ? 1 : 1e-30);
            break;
    case 6: { /* anywhere in range, log-uniform so small values come often */
        double u = rd32(r) / 4294967296.0;
        double lo = k->min > 0 ? k->min : (k->kind == KIND_INT ? 1 : 1e-9);
        v = (rd8(r) & 3) == 0 ? k->min : lo * pow(k->max / lo, u);
        break;
    }
    case 7: v = k->hint; break;
    case 8: v = k->kind == KIND_INT ? (double)(rd8(r) % 17) : (rd8(r) % 17) / 16.0; break;
    case 10: { /* arbitrary double bits; JSON has no NaN, and cJSON reads 1e999 as inf */
        uint64_t bits = rd64(r);
        memcpy(&v, &bits, sizeof v);
        if (isnan(v)) v = INFINITY;
        break;
    }
    default: v = k->kind == KIND_INT ? (double)rd64(r) : (double)(int32_t)rd32(r) / 1000.0; break;
    }
    if (k->kind == KIND_INT && pick != 10) v = floor(v);
    if (isinf(v)) snprintf(buf, cap, v > 0 ? "1e999" : "-1e999");
    else snprintf(buf, cap, k->kind == KIND_INT ? "%.17g" : "%.9g", v);
    return 1;
}

/* The JSON of one fuzzed configuration (malloc'd). */
static char *fuzz_json(reader *r) {
    size_t cap = 4096 + 2 * NN_STOPWORDS_SPEC_MAX, at = 0;
    char *json = malloc(cap);
    FUZZ_REQUIRE(json != NULL, "out of memory");
    json[at++] = '{';
    char value[2 * NN_STOPWORDS_SPEC_MAX + 64];
    for (size_t i = 0; i < NKEYS; i++) {
        if (!fuzz_value(r, &KEYS[i], value, sizeof value)) continue;
        at += (size_t)snprintf(json + at, cap - at, "%s\"%s\":%s", at > 1 ? "," : "", KEYS[i].key, value);
        FUZZ_REQUIRE(at < cap, "fuzzed JSON too long");
    }
    if (rd8(r) == 0xA5) at += (size_t)snprintf(json + at, cap - at, "%s\"no_such_key\":1", at > 1 ? "," : "");
    snprintf(json + at, cap - at, "}");
    return json;
}

/* KEYS holds every key the engine prints (checked once per process). */
static void keys_cover_the_config(void) {
    static int done;
    if (done) return;
    done = 1;
    nn_config c;
    nn_config_default(&c);
    char *json = nn_config_to_json(&c);
    cJSON *doc = json ? cJSON_Parse(json) : NULL;
    FUZZ_REQUIRE(doc != NULL, "the default config's JSON does not parse");
    const cJSON *item;
    cJSON_ArrayForEach(item, doc) {
        int found = 0;
        for (size_t i = 0; i < NKEYS; i++) found |= !strcmp(item->string, KEYS[i].key);
        FUZZ_REQUIRE(found, "config key \"%s\" is missing from fuzz_config_model.c's KEYS: add it", item->string);
    }
    cJSON_Delete(doc);
    free(json);
}

/* The fuzzing-speed bound. Every config the check accepts goes on to step
 * 3, where the engine's budget (engine/budget.c) decides first, before
 * anything is allocated:
 *  - over this build's budget (nn_memory_limits: 8 GB natively, the page's
 *    1 GB and time limits in a 32-bit build): nn_memory_check refuses with a
 *    message, and so must the create function, at once (it checks the same
 *    budget before its first allocation);
 *  - within it and within FUZZ_* below (the estimate's own figures for the
 *    tiny shards, so what is trained is small): created and trained;
 *  - within the budget but over FUZZ_*: counted and skipped, since a model
 *    of 100 MB trains a batch in a second, not in the tenth of a millisecond
 *    a fuzzer needs (tests/wasm/budget.test.mjs trains such configs).
 * A profile of the earlier bound (parameters up to 4 M floats, set-up up to
 * 50 M operations; 90-340 executions/s) put most of the time into zeroing
 * and page-faulting fresh buffers, drawing the initial weights of
 * vocab_size x embed_dim embeddings the 64-word shard never reads, and
 * O(H^3) orthogonal initialisations; these bounds keep every model kind,
 * both optimizers, dropout, word2vec, stop words and the ngram's bigram
 * table (1.5 MB at least) trainable. */
#define FUZZ_BYTES ((uint64_t)3 << 20)  /* trainer bytes, the page's embedding history aside */
#define FUZZ_INIT_SECONDS 2e-3          /* estimated configure (wasm), the memory's part aside */
#define FUZZ_BATCH_SECONDS 1e-3         /* estimated batch (wasm) */

static int fuzz_sized(const nn_memory *m) {
    uint64_t bytes = m->total - m->page;
    double init = m->ortho_seconds + (double)m->nparams * 8e-9; /* budget.c's NS_PER_DRAW */
    return m->total != UINT64_MAX && bytes <= FUZZ_BYTES && init <= FUZZ_INIT_SECONDS &&
           m->batch_seconds <= FUZZ_BATCH_SECONDS;
}

/* The tiny shards, made once (and kept: the process ends with them). */
#include "../synthetic.h"
static int shards_made;
static synthetic text_shard, text_shard4; /* 2 classes; 4 (the "classes" hint) */
enum { IMG = 6, IMG_D = IMG * IMG, IMG_K = 4, IMG_TRAIN = 40, IMG_TEST = 12 };
static uint8_t img_px[IMG_TRAIN + IMG_TEST][IMG_D], img_label[IMG_TRAIN + IMG_TEST];
static char img_names[IMG_K * NN_IMAGE_CLASS_NAME_BYTES];
static nn_image_shard image_shard;

static void make_shards(void) {
    if (shards_made) return;
    shards_made = 1;
    (void)synthetic_free;
    synthetic_make(&text_shard, 48, 12);
    synthetic_make_classes(&text_shard4, 48, 12, IMG_K);
    nn_error err = {0};
    FUZZ_REQUIRE(nn_vocab_index(&text_shard.shard.vocab, &err) == NN_OK, "vocabulary index: %s", err.msg);
    FUZZ_REQUIRE(nn_vocab_index(&text_shard4.shard.vocab, &err) == NN_OK, "vocabulary index: %s", err.msg);
    for (uint32_t i = 0; i < IMG_TRAIN + IMG_TEST; i++) {
        img_label[i] = (uint8_t)(i % IMG_K);
        for (uint32_t p = 0; p < IMG_D; p++) img_px[i][p] = (uint8_t)((p / IMG) % IMG_K == i % IMG_K ? 200 + p : p * 3);
    }
    for (int k = 0; k < IMG_K; k++) img_names[k * NN_IMAGE_CLASS_NAME_BYTES] = (char)('a' + k);
    image_shard.height = image_shard.width = IMG, image_shard.channels = 1, image_shard.classes = IMG_K;
    image_shard.class_names = img_names, image_shard.nsplits = 2;
    strcpy(image_shard.split[0].name, "train");
    image_shard.split[0].n = IMG_TRAIN, image_shard.split[0].label = img_label, image_shard.split[0].pixels = img_px[0];
    strcpy(image_shard.split[1].name, "test");
    image_shard.split[1].n = IMG_TEST, image_shard.split[1].label = img_label + IMG_TRAIN;
    image_shard.split[1].pixels = img_px[IMG_TRAIN];
}

/* How far inputs got: parsed, accepted by the check, given to the create
 * function (over the budget, or small enough), trainers created (and
 * trained). Read by tests/test_fuzz_regressions.c. */
static unsigned long config_model_reached[4];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    keys_cover_the_config();
    make_shards();
    reader r = {data, size, 0};
    char *json = fuzz_json(&r);
    nn_config c;
    nn_config_default(&c);
    nn_error err = {0};
    int rc = nn_config_from_json(&c, json, &err);
    if (rc != NN_OK) {
        FUZZ_REQUIRE(err.code == rc && err.msg[0], "from_json failure %d without a message for %s", rc, json);
        free(json);
        return 0;
    }
    config_model_reached[0]++;
    rc = nn_config_check(&c, NULL, &err);
    if (rc != NN_OK) {
        FUZZ_REQUIRE(err.code == rc && err.msg[0], "check failure %d without a message for %s", rc, json);
        free(json);
        return 0;
    }
    char *printed = nn_config_to_json(&c);
    FUZZ_REQUIRE(printed != NULL, "nn_config_to_json failed");
    nn_config back;
    nn_config_default(&back);
    FUZZ_REQUIRE(nn_config_from_json(&back, printed, &err) == NN_OK, "its own JSON %s is refused: %s", printed, err.msg);
    char *again = nn_config_to_json(&back);
    FUZZ_REQUIRE(again && !strcmp(printed, again), "JSON %s prints again as %s", printed, again);
    free(again);
    free(printed);

    config_model_reached[1]++;
    int mlp = c.model == NN_MODEL_MLP;
    nn_data_size sizes = {IMG_TRAIN, IMG_TEST, 0};
    if (!mlp) {
        const nn_split *train = nn_shard_find(&text_shard.shard, "train");
        const nn_split *test = nn_shard_find(&text_shard.shard, "test");
        sizes.train = train->n, sizes.test = test ? test->n : 0, sizes.train_tokens = train->offset[train->n];
    }
    nn_memory est;
    nn_memory_estimate(&c, &sizes, &est);
    nn_limits limits = nn_memory_limits();
    nn_error budget_err = {0};
    int budget_rc = nn_memory_check(&c, &sizes, &limits, &budget_err);
    FUZZ_REQUIRE(budget_rc == NN_OK || (budget_err.code == budget_rc && budget_err.msg[0]),
                 "the budget refuses %d without a message for %s", budget_rc, json);
    if (budget_rc != NN_OK || fuzz_sized(&est)) {
        config_model_reached[2]++;
        nn_trainer *t = NULL;
        memset(&err, 0, sizeof err);
        rc = mlp ? nn_trainer_create_images(&t, &c, &image_shard, &err)
                 : nn_trainer_create(&t, &c, c.classes == IMG_K ? &text_shard4.shard : &text_shard.shard, &err);
        if (budget_rc != NN_OK)
            FUZZ_REQUIRE(rc != NN_OK && t == NULL && err.code == rc && err.msg[0],
                         "the budget refuses (%s) but trainer_create gives %d for %s", budget_err.msg, rc, json);
        if (rc == NN_OK) {
            FUZZ_REQUIRE(t != NULL, "trainer_create succeeded without a trainer for %s", json);
            if (c.embedding_init == NN_EMB_WORD2VEC && !mlp) {
                /* The page pretrains vectors first; here, made-up ones of
                 * the shard's vocabulary (64 words). */
                uint32_t V = text_shard.shard.vocab.V, E = c.embed_dim;
                float *vectors = malloc((size_t)V * E * sizeof *vectors);
                FUZZ_REQUIRE(vectors != NULL, "out of memory");
                for (size_t i = 0; i < (size_t)V * E; i++) vectors[i] = (float)((i * 37) % 101) / 101.0f - 0.5f;
                rc = nn_trainer_set_embedding(t, vectors, V, E, &err);
                FUZZ_REQUIRE(rc == NN_OK, "set_embedding %ux%u: %s for %s", V, E, err.msg, json);
                free(vectors);
            }
            config_model_reached[3]++;
            fuzz_train_steps(t, 1);
        } else {
            FUZZ_REQUIRE(t == NULL && err.code == rc && err.msg[0],
                         "trainer_create failure %d without a message (or with a trainer) for %s", rc, json);
        }
    }
    free(json);
    return 0;
}
