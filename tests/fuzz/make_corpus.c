/* make_corpus.c: writes the fuzzers' seed corpora.
 *
 *   fuzz_make_corpus <dir>     creates <dir>/{tokenizer,shard,checkpoint,config,labelled_text,image_shard,packed_ids}/seed-*
 *
 * The shards, checkpoints and configs are made with the engine's own writers
 * (nn_shard_write, nn_checkpoint_write, nn_config_to_json), so every seed is
 * a valid file the fuzzer mutates from. The texts are sentences written for
 * this file (no IMDB review text). scripts/fuzz.sh runs this before fuzzing;
 * the folder is under build-fuzz/, which git ignores.
 *
 * Not a test: it checks only that the writers succeed. */
#define _POSIX_C_SOURCE 200809L
#include "fuzz_common.h"
#include "packed_ids.h"

#include <errno.h>
#include <math.h>
#include <sys/stat.h>

static const char *out_dir;
static int failures;

static void make_dir(const char *path) {
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
}

static void write_seed(const char *kind, const char *name, const void *data, size_t len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/seed-%s", out_dir, kind, name);
    FILE *f = fopen(path, "wb");
    if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static void write_text_seed(const char *kind, const char *name, const char *text) {
    write_seed(kind, name, text, strlen(text));
}

/* ---------------------------------------------------------------- texts */

static void tokenizer_seeds(void) {
    static const char *const texts[] = {
        "A quiet film about two lighthouse keepers. I didn't expect to laugh, but I did!",
        "Dull.<br /><br />Far too long, and the ending made no sense at all.",
        "NOT bad<BR>not GOOD either<br/>just... fine? 7/10",
        "'quoted' words, it's, rock'n'roll, ''', '', and trailing' apostrophes'",
        "Caf\xc3\xa9 scenes, a na\xc3\xafve hero, \xf0\x9f\x98\x80\xf0\x9f\x98\x80 and r\xc3\xa9sum\xc3\xa9s.",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa long word",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xc3\xa9\xc3\xa9 cut inside UTF-8",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'''' cut at quotes",
        "broken \xff\xfe bytes \xc3 and \xe2\x82 sequences <b>bold</b> <br / > <",
        "the the the good good bad a x 1990s",
    };
    char name[16];
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        snprintf(name, sizeof name, "text%zu", i);
        write_text_seed("tokenizer", name, texts[i]);
    }
    static const char with_nul[] = "before\0after <br />\0";
    write_seed("tokenizer", "nul", with_nul, sizeof with_nul - 1);
}

/* Labelled text (the first byte picks the format: 0 auto, 1 TSV, 2 CSV),
 * and stop-word lists. */
static void labelled_text_seeds(void) {
    static const char *const texts[] = {
        "\x01pos\tA quiet film about two lighthouse keepers.\nneg\tDull.\n0\tFar too long\r\n1\tFine\n",
        "\x02label,text\n1,\"A \"\"quoted\"\" word, and a comma\"\n0,plain, with comma\n\"1\",\"spans\ntwo lines\"\n",
        "\x00\xef\xbb\xbf" "maybe\tbad label\nno tab here\n1\t\n1\tcaf\xc3\xa9\n\n",
        "\x02" "1,\"never closed\n0,x\n",
        "@english -not -no +film the, a\nan",
    };
    char name[16];
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        snprintf(name, sizeof name, "text%zu", i);
        write_seed("labelled_text", name, texts[i], strlen(texts[i] + 1) + 1);
    }
}

/* --------------------------------------------------------------- shards */

static void shard_seed(const char *name, const nn_shard *s) {
    uint8_t *buf = NULL;
    size_t len = 0;
    nn_error err = {0};
    if (nn_shard_write(s, &buf, &len, &err) != NN_OK) {
        fprintf(stderr, "make_corpus: shard %s: %s\n", name, err.msg);
        failures++;
        return;
    }
    write_seed("shard", name, buf, len);
    free(buf);
}

static void set_split(nn_split *sp, const char *name, uint32_t n, const uint8_t *label,
                      const uint8_t *rating, const uint32_t *id, const uint32_t *offset,
                      const uint16_t *tokens) {
    memset(sp, 0, sizeof *sp);
    strcpy(sp->name, name);
    sp->n = n, sp->label = label, sp->rating = rating, sp->review_id = id;
    sp->offset = offset, sp->tokens = tokens;
}

static void shard_seeds(const fuzz_vocab *fv) {
    static const uint8_t train_label[] = {1, 0, 1, 0}, train_rating[] = {9, 2, 7, 4};
    static const uint32_t train_id[] = {11, 12, 13, 14}, train_offset[] = {0, 5, 8, 12, 14};
    static const uint16_t train_tokens[] = {1, 4, 6, 5, 7, 1, 9, 8, 1, 13, 7, 10, 1, 2};
    static const uint8_t test_label[] = {0, 1}, test_rating[] = {1, 10};
    static const uint32_t test_id[] = {0, 1}, test_offset[] = {0, 3, 6};
    static const uint16_t test_tokens[] = {1, 8, 19, 1, 7, 18};
    static const uint8_t unsup_label[] = {255, 255}, unsup_rating[] = {0, 0};
    static const uint32_t unsup_id[] = {5, 6}, unsup_offset[] = {0, 2, 5};
    static const uint16_t unsup_tokens[] = {1, 60000, 1, 2, 3};
    static const uint32_t empty_offset[] = {0};

    nn_shard s;
    memset(&s, 0, sizeof s);
    s.max_tokens = 16;
    s.vocab = fv->v;
    s.nsplits = 2;
    set_split(&s.split[0], "train", 4, train_label, train_rating, train_id, train_offset, train_tokens);
    set_split(&s.split[1], "test", 2, test_label, test_rating, test_id, test_offset, test_tokens);
    shard_seed("vocab-train-test", &s);

    s.nsplits = 0;
    shard_seed("vocab-only", &s);

    memset(&s, 0, sizeof s);
    s.vocab_crc = 0x12345678u;
    s.nsplits = 3;
    set_split(&s.split[0], "train", 3, train_label, train_rating, train_id, train_offset, train_tokens);
    set_split(&s.split[1], "unsup", 2, unsup_label, unsup_rating, unsup_id, unsup_offset, unsup_tokens);
    set_split(&s.split[2], "empty", 0, NULL, NULL, NULL, empty_offset, NULL);
    s.max_tokens = 5;
    shard_seed("novocab-train-unsup-empty", &s);
}

/* ---------------------------------------------------------- checkpoints */

static void checkpoint_seed(const char *name, const nn_config *cfg, const fuzz_vocab *fv,
                            const nn_epoch_log *hist, uint32_t nhist) {
    nn_model *m = NULL;
    nn_error err = {0};
    if (nn_model_create(&m, cfg, &err) != NN_OK) {
        fprintf(stderr, "make_corpus: checkpoint %s: %s\n", name, err.msg);
        failures++;
        return;
    }
    nn_rng rng;
    nn_rng_seed(&rng, cfg->seed);
    nn_model_init(m, &rng);
    m->b2[0] = 0.25f; /* a non-zero bias, so a score is not exactly 0.5 */
    m->step = 40;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (nn_checkpoint_write(m, &fv->v, 0xC0FFEEu, hist, nhist, &buf, &len, &err) != NN_OK) {
        fprintf(stderr, "make_corpus: checkpoint %s: %s\n", name, err.msg);
        failures++;
    } else {
        write_seed("checkpoint", name, buf, len);
    }
    free(buf);
    nn_model_free(m);
}

static nn_config tiny_config(void) {
    nn_config c;
    nn_config_default(&c);
    c.vocab_size = FUZZ_NWORDS;
    c.maxlen = 8;
    c.embed_dim = 3;
    c.hidden = 2;
    c.batch_size = 4;
    c.epochs = 2;
    c.val_size = 1;
    c.seed = 5;
    return c;
}

static void checkpoint_seeds(const fuzz_vocab *fv) {
    const nn_epoch_log hist[2] = {{0.69f, 0.5f, 0.68f, 0.55f}, {0.5f, 0.75f, NAN, NAN}};
    nn_config c = tiny_config();
    checkpoint_seed("keras-adam-history", &c, fv, hist, 2);
    c.pooling = NN_POOL_MASKED;
    c.optimizer = NN_OPT_SGD;
    c.padding = NN_PAD_PRE;
    c.truncating = NN_PAD_POST;
    c.maxlen = 3;
    checkpoint_seed("masked-sgd-pre", &c, fv, NULL, 0);
    c = tiny_config();
    c.vocab_size = 6; /* only the first six words are saved */
    c.embed_dim = 1;
    c.hidden = 1;
    checkpoint_seed("six-words", &c, fv, hist, 1);
    /* The recurrent models: their tensor tables differ from the bag's. */
    c = tiny_config();
    c.model = NN_MODEL_LSTM;
    c.padding = NN_PAD_PRE;
    checkpoint_seed("lstm", &c, fv, hist, 2);
    c = tiny_config();
    c.model = NN_MODEL_BIGRU;
    c.layers = 2;
    c.dropout = 0.25f;
    c.recurrent_dropout = 0.125f;
    c.patience = 2;
    c.monitor = NN_MONITOR_VAL_ACC;
    c.restore_best_weights = 1;
    checkpoint_seed("bigru-2-layers", &c, fv, hist, 1);
    /* The image model: no vocabulary, its own tensors. */
    c = tiny_config();
    c.model = NN_MODEL_MLP;
    c.input_dim = 6;
    c.classes = 3;
    c.hidden = 4;
    checkpoint_seed("mlp", &c, fv, hist, 2);
}

/* --------------------------------------------------------- image shards */

static void image_shard_seeds(void) {
    static char names[3 * NN_IMAGE_CLASS_NAME_BYTES];
    static const uint8_t train_label[4] = {0, 1, 2, 1}, test_label[2] = {2, 0};
    static uint8_t train_px[4 * 6], test_px[2 * 6];
    memset(names, 0, sizeof names);
    strcpy(names, "zero");
    strcpy(names + NN_IMAGE_CLASS_NAME_BYTES, "one");
    strcpy(names + 2 * NN_IMAGE_CLASS_NAME_BYTES, "two");
    for (int i = 0; i < 24; i++) train_px[i] = (uint8_t)(i * 11);
    for (int i = 0; i < 12; i++) test_px[i] = (uint8_t)(250 - i * 20);
    nn_image_shard s;
    memset(&s, 0, sizeof s);
    s.height = 2, s.width = 3, s.channels = 1, s.classes = 3, s.class_names = names;
    s.nsplits = 2;
    strcpy(s.split[0].name, "train");
    s.split[0].n = 4, s.split[0].label = train_label, s.split[0].pixels = train_px;
    strcpy(s.split[1].name, "test");
    s.split[1].n = 2, s.split[1].label = test_label, s.split[1].pixels = test_px;
    for (int k = 0; k < 2; k++) {
        uint8_t *buf = NULL;
        size_t len = 0;
        nn_error err = {0};
        if (k == 1) s.nsplits = 0;
        if (nn_image_shard_write(&s, &buf, &len, &err) != NN_OK) {
            fprintf(stderr, "make_corpus: image shard: %s\n", err.msg);
            failures++;
            continue;
        }
        write_seed("image_shard", k ? "no-splits" : "train-test", buf, len);
        free(buf);
    }
}

/* ------------------------------------------------------------ packed ids */

/* Blocks coded by the real encoder (made-up sentences' ids), each behind the
 * two bytes that give fuzz_packed_ids its number of ids. */
static void packed_ids_seeds(void) {
    static const uint16_t sentence[] = {1, 4, 12, 6, 8, 3, 1, 9, 40, 6, 77, 3, 1, 4, 12, 6, 32767, 3, 0, 2};
    uint16_t ids[400];
    for (size_t i = 0; i < 400; i++) ids[i] = sentence[(i * 7 + i / 20) % 20];
    for (size_t n = 1; n <= 400; n *= 20) {
        nn_ids_model *m = nn_ids_model_create();
        uint8_t *buf = malloc(2 + nn_ids_block_bound(n));
        size_t len = 0;
        if (!m || !buf || nn_ids_encode_block(m, ids, n, buf + 2, &len) != NN_IDS_OK) {
            fprintf(stderr, "make_corpus: packed ids: the encoder failed\n");
            failures++;
        } else {
            buf[0] = (uint8_t)(n & 0xff);
            buf[1] = (uint8_t)(n >> 8);
            char name[32];
            snprintf(name, sizeof name, "block-%zu", n);
            write_seed("packed_ids", name, buf, 2 + len);
        }
        free(buf);
        nn_ids_model_free(m);
    }
}

/* --------------------------------------------------------------- configs */

static void config_seeds(void) {
    nn_config c;
    nn_config_default(&c);
    char *json = nn_config_to_json(&c);
    if (json) write_text_seed("config", "default", json);
    free(json);
    c = tiny_config();
    c.pooling = NN_POOL_MASKED;
    c.optimizer = NN_OPT_SGD;
    c.lr = 0.05f;
    c.seed = 9007199254740991ull;
    json = nn_config_to_json(&c);
    if (json) write_text_seed("config", "tiny", json);
    free(json);
    for (uint32_t i = 0; nn_config_preset_name(i); i++) {
        nn_config_default(&c);
        if (nn_config_preset(&c, nn_config_preset_name(i)) != NN_OK) continue;
        json = nn_config_to_json(&c);
        char name[64];
        snprintf(name, sizeof name, "preset-%s", nn_config_preset_name(i));
        if (json) write_text_seed("config", name, json);
        free(json);
    }
    write_text_seed("config", "empty-object", "{}");
    write_text_seed("config", "epochs", "{\"epochs\": 10}");
    write_text_seed("config", "enums", "{\"padding\": \"pre\", \"truncating\": \"post\", "
                                       "\"pooling\": \"masked\", \"optimizer\": \"sgd\"}");
    write_text_seed("config", "numbers", "{\n  \"lr\": 1e-3,\n  \"beta2\": 0.9999,\n  \"eps\": 1E-8,\n"
                                         "  \"seed\": 123456789012345,\n  \"train_size\": 0\n}");
    write_text_seed("config", "bad-key", "{\"epoch\": 3}");
    /* A raw struct: the harness also reads its first bytes as an nn_config. */
    nn_config_default(&c);
    write_seed("config", "struct-default", &c, sizeof c);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
        return 2;
    }
    out_dir = argv[1];
    make_dir(out_dir);
    static const char *const kinds[] = {"tokenizer", "shard", "checkpoint", "config", "labelled_text",
                                        "image_shard", "packed_ids"};
    for (int i = 0; i < 7; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", out_dir, kinds[i]);
        make_dir(path);
    }
    fuzz_vocab fv;
    fuzz_vocab_fill(&fv);
    nn_error err = {0};
    if (nn_vocab_index(&fv.v, &err) != NN_OK) {
        fprintf(stderr, "make_corpus: %s\n", err.msg);
        return 1;
    }
    tokenizer_seeds();
    shard_seeds(&fv);
    checkpoint_seeds(&fv);
    config_seeds();
    labelled_text_seeds();
    image_shard_seeds();
    packed_ids_seeds();
    nn_vocab_free_index(&fv.v);
    if (failures) fprintf(stderr, "make_corpus: %d seeds could not be written\n", failures);
    return failures ? 1 : 0;
}
