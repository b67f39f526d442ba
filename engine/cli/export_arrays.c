/* export_arrays.c: imdb_export_arrays, the trainer's padded data as NumPy
 * files, so another framework (the benchmark's PyTorch and TensorFlow.js
 * peers) trains on exactly the reviews, split, shuffle and padding ours does
 * (nn_trainer_set: the padded sets as the model reads them).
 *
 *   imdb_export_arrays --shard data/imdb.shard --out DIR [--preset NAME] [--<key> VALUE ...]
 *
 * Writes DIR/{train,val,test}_x.npy (uint16, (n,T) token ids, 0 = padding)
 * and DIR/{train,val,test}_y.npy (float32, (n) labels 0/1), in NumPy's .npy
 * format version 1.0 (little-endian, C order), and DIR/config.json (the
 * config in force). Deliberately not a training tool: it trains nothing. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One .npy file: the 10-byte preamble, a header padded with spaces to a
 * multiple of 64 bytes (ending in '\n'), then the raw array. */
static int write_npy(const char *dir, const char *name, const char *descr, const void *data,
                     size_t elem, uint32_t rows, uint32_t cols, nn_error *err) {
    char header[128], path[4096];
    int h = cols ? snprintf(header, sizeof header,
                            "{'descr': '%s', 'fortran_order': False, 'shape': (%u, %u), }", descr, rows, cols)
                 : snprintf(header, sizeof header,
                            "{'descr': '%s', 'fortran_order': False, 'shape': (%u,), }", descr, rows);
    size_t hlen = ((10 + (size_t)h + 1 + 63) / 64) * 64 - 10; /* header + '\n', padded */
    size_t bytes = nn_size_mul_sat(nn_size_mul_sat(rows, cols ? cols : 1), elem);
    uint8_t *buf = nn_malloc_array(nn_size_add_sat(10 + hlen, bytes), 1);
    if (!buf) return nn_fail(err, NN_ERR_NOMEM, "out of memory writing %s", name);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (uint8_t)(hlen & 0xff);
    buf[9] = (uint8_t)(hlen >> 8);
    memset(buf + 10, ' ', hlen);
    memcpy(buf + 10, header, (size_t)h);
    buf[10 + hlen - 1] = '\n';
    memcpy(buf + 10 + hlen, data, bytes); /* x86 and wasm are little-endian, as '<' says */
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int rc = nn_write_file(path, buf, 10 + hlen + bytes, err);
    free(buf);
    return rc;
}

int main(int argc, char **argv) {
    const char *shard_path = NULL, *out = NULL;
    nn_error err = {0};
    nn_config cfg;
    unsigned char *used = nn_cli_start(&cfg, argc, argv, "imdb_export_arrays");
    for (int i = 1; i < argc; i++) {
        if (used[i]) continue;
        if (i + 1 < argc && !strcmp(argv[i], "--shard")) shard_path = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--out")) out = argv[++i];
        else {
            fprintf(stderr, "usage: imdb_export_arrays --shard FILE --out DIR [--preset NAME] [--<config key> VALUE ...]\n");
            return 2;
        }
    }
    if (!shard_path || !out) {
        fprintf(stderr, "imdb_export_arrays: --shard FILE and --out DIR are required "
                        "(scripts/setup.sh builds data/imdb.shard)\n");
        return 2;
    }
    nn_shard shard;
    uint8_t *buf;
    nn_trainer *t = NULL;
    if (nn_cli_load_shard(shard_path, &shard, &buf, &err) || nn_trainer_create(&t, &cfg, &shard, &err)) {
        fprintf(stderr, "imdb_export_arrays: %s\n", err.msg);
        return 1;
    }
    const char *splits[3] = {"train", "val", "test"};
    for (int k = 0; k < 3; k++) {
        const float *labels;
        uint32_t n;
        char xname[32], yname[32];
        snprintf(xname, sizeof xname, "%s_x.npy", splits[k]);
        snprintf(yname, sizeof yname, "%s_y.npy", splits[k]);
        const uint16_t *ids = nn_trainer_set(t, splits[k], &n, &labels, NULL);
        if (!ids) {
            fprintf(stderr, "imdb_export_arrays: the shard has no %s set\n", splits[k]);
            return 1;
        }
        if (write_npy(out, xname, "<u2", ids, sizeof *ids, n, cfg.maxlen, &err) ||
            write_npy(out, yname, "<f4", labels, sizeof *labels, n, 0, &err)) {
            fprintf(stderr, "imdb_export_arrays: %s\n", err.msg);
            return 1;
        }
        printf("imdb_export_arrays: %s: %u reviews of %u ids\n", splits[k], n, cfg.maxlen);
    }
    char *cj = nn_config_to_json(&cfg), path[4096];
    snprintf(path, sizeof path, "%s/config.json", out);
    if (!cj || nn_write_file(path, cj, strlen(cj), &err)) {
        fprintf(stderr, "imdb_export_arrays: %s\n", cj ? err.msg : "out of memory");
        return 1;
    }
    free(cj);
    nn_trainer_free(t);
    nn_shard_free(&shard);
    free(buf);
    free(used);
    return 0;
}
