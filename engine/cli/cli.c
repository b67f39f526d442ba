/* cli.c: see cli.h. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double nn_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static const char *const config_keys[] = {
    "vocab_size", "maxlen", "padding", "truncating", "model", "embed_dim", "hidden", "layers",
    "dropout", "recurrent_dropout", "pooling", "optimizer", "lr", "beta1", "beta2", "eps",
    "batch_size", "epochs", "patience", "monitor", "min_delta", "restore_best_weights",
    "embedding_init", "trainable_embedding", "w2v_epochs", "w2v_window", "w2v_negative",
    "w2v_sample", "w2v_lr", "val_size", "train_size", "seed", "stopwords", "bigrams", "nb_weighting",
    "heads", "blocks", "ff_dim", "warmup_steps", "weight_decay", "alibi",
    "positions", "mlm_lr", "mlm_warmup_steps", NULL};

static int is_config_key(const char *k) {
    for (int i = 0; config_keys[i]; i++)
        if (!strcmp(config_keys[i], k)) return 1;
    return 0;
}

int nn_cli_config(nn_config *cfg, int argc, char **argv, unsigned char *used, nn_error *err) {
    /* A preset first, so --config and flags refine it. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--preset") != 0) continue;
        if (i + 1 >= argc) return nn_fail(err, NN_ERR_ARG, "--preset needs a name");
        if (nn_config_preset(cfg, argv[i + 1]) != NN_OK) {
            char names[256] = "";
            for (uint32_t k = 0; nn_config_preset_name(k); k++) {
                size_t n = strlen(names);
                snprintf(names + n, sizeof names - n, "%s%s", k ? ", " : "", nn_config_preset_name(k));
            }
            return nn_fail(err, NN_ERR_ARG, "unknown preset \"%.64s\"; presets are: %s", argv[i + 1],
                           names);
        }
        used[i] = used[i + 1] = 1;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") != 0) continue;
        if (i + 1 >= argc) return nn_fail(err, NN_ERR_ARG, "--config needs a JSON file");
        uint8_t *text;
        size_t len;
        int rc = nn_read_file(argv[i + 1], &text, &len, err);
        if (rc) return rc;
        rc = nn_config_from_json(cfg, (const char *)text, err);
        free(text);
        if (rc) return rc;
        used[i] = used[i + 1] = 1;
    }
    cJSON *obj = cJSON_CreateObject();
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) != 0) continue;
        const char *key = argv[i] + 2;
        char norm[64];
        snprintf(norm, sizeof norm, "%s", key);
        for (char *p = norm; *p; p++)
            if (*p == '-') *p = '_';
        if (!is_config_key(norm)) continue;
        if (i + 1 >= argc) {
            cJSON_Delete(obj);
            return nn_fail(err, NN_ERR_ARG, "--%s needs a value", key);
        }
        const char *val = argv[i + 1];
        /* A JSON number goes in as its own digits (cJSON would print a big
         * seed with 15 significant digits); anything else as a string. */
        char *end;
        strtod(val, &end);
        if ((*val && *end == 0 && strspn(val, "0123456789+-.eE") == strlen(val)) ||
            !strcmp(val, "true") || !strcmp(val, "false"))
            cJSON_AddItemToObject(obj, norm, cJSON_CreateRaw(val));
        else
            cJSON_AddItemToObject(obj, norm, cJSON_CreateString(val));
        used[i] = used[i + 1] = 1;
        i++;
    }
    char *json = cJSON_PrintUnformatted(obj);
    cJSON_Delete(obj);
    if (!json) return nn_fail(err, NN_ERR_NOMEM, "out of memory");
    int rc = nn_config_from_json(cfg, json, err);
    free(json);
    return rc;
}

unsigned char *nn_cli_start(nn_config *cfg, int argc, char **argv, const char *tool) {
    nn_error err = {0};
    nn_config_default(cfg);
    unsigned char *used = calloc((size_t)argc + 1, 1);
    if (!used) nn_fail(&err, NN_ERR_NOMEM, "out of memory");
    if (!used || nn_cli_config(cfg, argc, argv, used, &err)) {
        fprintf(stderr, "%s: %s\n", tool, err.msg);
        exit(2);
    }
    return used;
}

int nn_cli_load_shard(const char *path, nn_shard *shard, uint8_t **buf, nn_error *err) {
    size_t len;
    int rc = nn_read_file(path, buf, &len, err);
    if (rc) {
        size_t n = strlen(err->msg);
        snprintf(err->msg + n, sizeof err->msg - n,
                 "\nbuild the shard first: scripts/setup.sh (or imdb_build_shard)");
        return rc;
    }
    rc = nn_shard_parse(shard, *buf, len, err);
    if (rc) {
        free(*buf);
        *buf = NULL;
    }
    return rc;
}

int nn_cli_load_any_shard(const char *path, nn_shard *shard, nn_image_shard *images, int *is_images,
                          uint8_t **buf, nn_error *err) {
    size_t len;
    *is_images = 0;
    int rc = nn_read_file(path, buf, &len, err);
    if (rc) {
        size_t n = strlen(err->msg);
        snprintf(err->msg + n, sizeof err->msg - n,
                 "\nbuild the shard first: scripts/setup.sh (or imdb_build_shard, fashion_build_shard)");
        return rc;
    }
    *is_images = len >= 8 && memcmp(*buf, NN_IMAGE_MAGIC, 8) == 0;
    rc = *is_images ? nn_image_shard_parse(images, *buf, len, err) : nn_shard_parse(shard, *buf, len, err);
    if (rc) {
        free(*buf);
        *buf = NULL;
    }
    return rc;
}
