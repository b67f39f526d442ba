/* fuzz_image_shard.c: libFuzzer target for nn_image_shard_parse
 * (engine/image_shard.c).
 *
 * Each input is parsed twice: as it is, and as a copy whose payload length
 * and CRC-32s are repaired (fuzz_fix_image_shard), so mutations reach the
 * structure checks behind the checksums. When a parse succeeds, everything a
 * reader may then touch is touched: every class name (NUL-terminated within
 * its field), every split's labels (below the class count) and pixels, and
 * nn_image_shard_find by name; nn_image_shard_write must give back the very
 * same bytes; and a tiny MLP trainer is created on the shard and run for
 * two batches when the shard has a "train" split.
 *
 * Not covered: fashion_build_shard's IDX and gzip reading
 * (engine/cli/idx.c; tests/test_image_shard.c checks it). */
#include "fuzz_common.h"

static void fuzz_fix_image_shard(uint8_t *buf, size_t len) {
    if (len < 64) return;
    fuzz_wr64(buf + 40, len - 64);
    fuzz_wr32(buf + 48, nn_crc32(0, buf + 64, len - 64));
    fuzz_wr32(buf + 60, nn_crc32(0, buf, 60));
}

static void image_train_briefly(const nn_image_shard *s) {
    const nn_image_split *train = nn_image_shard_find(s, "train");
    if (!train) return;
    nn_config cfg;
    nn_config_default(&cfg);
    cfg.model = NN_MODEL_MLP;
    cfg.input_dim = nn_image_shard_pixels(s);
    cfg.classes = s->classes;
    cfg.hidden = 3;
    cfg.batch_size = 3;
    cfg.epochs = 2;
    cfg.val_size = train->n > 1 ? 1 : 0;
    if (cfg.input_dim > 4096) return; /* keep each input fast */
    nn_error err = {0};
    nn_trainer *t = NULL;
    int rc = nn_trainer_create_images(&t, &cfg, s, &err);
    if (rc != NN_OK) {
        FUZZ_REQUIRE(t == NULL && err.msg[0], "trainer_create_images failed badly: %d %s", rc, err.msg);
        return;
    }
    fuzz_train_briefly(t);
}

static void image_check_one(const uint8_t *buf, size_t len) {
    nn_image_shard s;
    nn_error err = {0};
    int rc = nn_image_shard_parse(&s, buf, len, &err);
    if (rc != NN_OK) {
        FUZZ_REQUIRE(err.code == rc && err.msg[0], "failure %d without a message", rc);
        return;
    }
    FUZZ_REQUIRE(s.nsplits <= NN_SHARD_MAX_SPLITS && s.classes >= 2 &&
                 s.classes <= NN_IMAGE_MAX_CLASSES, "nsplits %u classes %u", s.nsplits, s.classes);
    for (uint32_t k = 0; k < s.classes; k++) {
        const char *name = nn_image_class_name(&s, k);
        FUZZ_REQUIRE(name && memchr(name, 0, NN_IMAGE_CLASS_NAME_BYTES) && name[0], "class %u name", k);
    }
    uint64_t sum = 0, D = nn_image_shard_pixels(&s);
    for (uint32_t i = 0; i < s.nsplits; i++) {
        const nn_image_split *sp = &s.split[i];
        FUZZ_REQUIRE(nn_image_shard_find(&s, sp->name) == sp, "find(\"%s\")", sp->name);
        for (uint32_t j = 0; j < sp->n; j++) {
            FUZZ_REQUIRE(sp->label[j] < s.classes, "label %u of %u classes", sp->label[j], s.classes);
            sum += sp->label[j];
        }
        for (uint64_t j = 0; j < sp->n * D; j++) sum += sp->pixels[j];
    }
    (void)sum;
    uint8_t *again = NULL;
    size_t again_len = 0;
    rc = nn_image_shard_write(&s, &again, &again_len, &err);
    FUZZ_REQUIRE(rc == NN_OK, "a parsed image shard does not write back: %s", err.msg);
    FUZZ_REQUIRE(again_len == len && memcmp(again, buf, len) == 0,
                 "writing the parsed image shard gives other bytes (%zu, was %zu)", again_len, len);
    free(again);
    image_train_briefly(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *buf = fuzz_copy(data, size);
    FUZZ_REQUIRE(buf != NULL, "out of memory");
    image_check_one(buf, size);
    if (size >= 64) {
        fuzz_fix_image_shard(buf, size);
        image_check_one(buf, size);
    }
    free(buf);
    return 0;
}
