/* build_labelled.c: imdb_build_shard --labelled, the user's own labelled file
 * to DIR/labelled.shard and DIR/labelled.manifest.json.
 *
 *   imdb_build_shard --labelled FILE --out DIR [--test FILE | --test-share F]
 *                    [--seed N] [--vocab-size N] [--max-tokens N]
 *                    [--format auto|tsv|csv] [--quiet]
 *
 * The file's size is checked before it is read; everything else is the
 * engine's (engine/labelled_shard.h), so the page builds the same bytes.
 * Prints what was read: the classes and their counts, the lines skipped and
 * why (with line numbers), duplicates and cut texts. The manifest names
 * files relative to DIR and records no time, so a build is reproducible. */
#define _POSIX_C_SOURCE 200809L
#include "build_labelled.h"
#include "fileio.h"
#include "../labelled_shard.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define SHARD_NAME "labelled.shard"
#define MANIFEST_NAME "labelled.manifest.json"

static void usage(FILE *f) {
    fprintf(f,
            "usage: imdb_build_shard --labelled FILE --out DIR [--test FILE | --test-share F]\n"
            "                        [--seed N] [--vocab-size N] [--max-tokens N]\n"
            "                        [--format auto|tsv|csv] [--quiet]\n"
            "  --labelled    label<TAB>text or label,text lines, UTF-8; any labels, 2-%d classes\n"
            "  --out         folder for " SHARD_NAME " and " MANIFEST_NAME "\n"
            "  --test        a second file of the same classes: the \"test\" split\n"
            "  --test-share  or hold out this share of each class as \"test\" (0-0.5, default 0)\n"
            "  --seed        which examples --test-share holds out (default 1)\n"
            "  --vocab-size  ids including the 4 specials, 5-65536 (default 32768)\n"
            "  --max-tokens  ids kept per text including <START>, 2-%d (default %d)\n",
            NN_MAX_TEXT_CLASSES, NN_SHARD_MAX_TOKENS, NN_SHARD_MAX_TOKENS);
}

/* Reads path after checking its size (a 100 MB file is refused unread). */
static int read_checked(const char *path, uint8_t **buf, size_t *len, nn_error *err) {
    struct stat st;
    if (stat(path, &st) != 0)
        return nn_fail(err, NN_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return nn_fail(err, NN_ERR_IO, "%s is not a file", path);
    int rc = nn_labelled_text_check_size((uint64_t)st.st_size, err);
    if (rc) return rc;
    return nn_read_file(path, buf, len, err);
}

static void print_report(const char *what, const nn_labelled_text *lt) {
    printf("%s: %u lines, %u examples%s", what, lt->lines, lt->n, lt->header ? ", a header line skipped" : "");
    if (lt->blank) printf(", %u blank lines", lt->blank);
    printf("\n");
    for (uint32_t i = 0; i < lt->nproblems; i++)
        printf("  skipped line %u: %s\n", lt->problem[i].line, lt->problem[i].reason);
    if (lt->malformed > lt->nproblems)
        printf("  ... and %u more lines skipped\n", lt->malformed - lt->nproblems);
    if (lt->duplicates)
        printf("  %u duplicate lines left out (the first: line %u)\n", lt->duplicates,
               lt->first_duplicate_line);
    if (lt->truncated)
        printf("  %u texts cut to %u bytes (the first: line %u)\n", lt->truncated,
               NN_LT_MAX_TEXT_BYTES, lt->first_truncated_line);
}

static cJSON *text_json(const char *file, const nn_labelled_text *lt, const uint8_t *buf, size_t len) {
    cJSON *o = cJSON_CreateObject();
    char sha[65];
    nn_sha256_hex(buf, len, sha);
    cJSON_AddStringToObject(o, "file", file);
    cJSON_AddNumberToObject(o, "bytes", (double)len);
    cJSON_AddStringToObject(o, "sha256", sha);
    cJSON_AddStringToObject(o, "format", lt->format == NN_LT_CSV ? "csv" : "tsv");
    cJSON_AddNumberToObject(o, "lines", lt->lines);
    cJSON_AddNumberToObject(o, "examples", lt->n);
    cJSON_AddBoolToObject(o, "header", lt->header);
    cJSON_AddNumberToObject(o, "blank", lt->blank);
    cJSON_AddNumberToObject(o, "malformed", lt->malformed);
    cJSON *probs = cJSON_AddArrayToObject(o, "problems");
    for (uint32_t i = 0; i < lt->nproblems; i++) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddNumberToObject(p, "line", lt->problem[i].line);
        cJSON_AddStringToObject(p, "reason", lt->problem[i].reason);
        cJSON_AddItemToArray(probs, p);
    }
    cJSON_AddNumberToObject(o, "duplicates", lt->duplicates);
    cJSON_AddNumberToObject(o, "truncated", lt->truncated);
    return o;
}

/* The last path component, for the manifest (paths in it are relative). */
static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

int nn_cli_build_labelled(int argc, char **argv) {
    const char *file = NULL, *test_file = NULL, *out_dir = NULL;
    nn_labelled_shard_options opt = {NN_LT_AUTO, 0, 0, 0.0f, 1};
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (!strcmp(a, "--quiet")) {
            quiet = 1;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!val) {
            fprintf(stderr, "imdb_build_shard: %s needs a value\n", a);
            usage(stderr);
            return 2;
        }
        i++;
        errno = 0;
        if (!strcmp(a, "--labelled")) file = val;
        else if (!strcmp(a, "--test")) test_file = val;
        else if (!strcmp(a, "--out")) out_dir = val;
        else if (!strcmp(a, "--test-share")) opt.test_share = strtof(val, &end);
        else if (!strcmp(a, "--seed")) opt.seed = strtoull(val, &end, 10);
        else if (!strcmp(a, "--vocab-size")) opt.vocab_size = (uint32_t)strtoul(val, &end, 10);
        else if (!strcmp(a, "--max-tokens")) opt.max_tokens = (uint32_t)strtoul(val, &end, 10);
        else if (!strcmp(a, "--format")) {
            if (!strcmp(val, "auto")) opt.format = NN_LT_AUTO;
            else if (!strcmp(val, "tsv")) opt.format = NN_LT_TSV;
            else if (!strcmp(val, "csv")) opt.format = NN_LT_CSV;
            else {
                fprintf(stderr, "imdb_build_shard: --format is auto, tsv or csv\n");
                return 2;
            }
        } else {
            fprintf(stderr, "imdb_build_shard: unknown argument %s\n", a);
            usage(stderr);
            return 2;
        }
        if (end && (*end || errno || end == val)) {
            fprintf(stderr, "imdb_build_shard: %s needs a number, got %s\n", a, val);
            return 2;
        }
    }
    if (!file || !out_dir) {
        fprintf(stderr, "imdb_build_shard: --labelled FILE and --out DIR are required\n");
        usage(stderr);
        return 2;
    }
    nn_error err = {0};
    uint8_t *buf = NULL, *test_buf = NULL, *shard = NULL;
    size_t len = 0, test_len = 0, shard_len = 0;
    char *json = NULL;
    nn_labelled_shard_report rep;
    memset(&rep, 0, sizeof rep);
    struct timespec t0, t1;
    int rc = read_checked(file, &buf, &len, &err);
    if (!rc && test_file) rc = read_checked(test_file, &test_buf, &test_len, &err);
    if (rc) goto done;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = nn_labelled_shard_build((const char *)buf, len, (const char *)test_buf, test_len, &opt,
                                 &shard, &shard_len, &rep, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (!quiet || rc) {
        print_report(file, &rep.text);
        if (test_file && rep.test_text.lines) print_report(test_file, &rep.test_text);
    }
    if (rc) goto done;
    {
        struct stat st;
        if (mkdir(out_dir, 0777) != 0 && errno != EEXIST) {
            rc = nn_fail(&err, NN_ERR_IO, "cannot create folder %s: %s", out_dir, strerror(errno));
            goto done;
        }
        if (stat(out_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            rc = nn_fail(&err, NN_ERR_IO, "%s is not a folder", out_dir);
            goto done;
        }
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", out_dir, SHARD_NAME);
    if ((rc = nn_write_file(path, shard, shard_len, &err))) goto done;

    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "kind", "labelled text");
    cJSON *sh = cJSON_AddObjectToObject(m, "shard");
    cJSON_AddStringToObject(sh, "file", SHARD_NAME);
    cJSON_AddNumberToObject(sh, "bytes", (double)shard_len);
    cJSON_AddNumberToObject(sh, "crc32", nn_crc32(0, shard, shard_len));
    cJSON_AddNumberToObject(sh, "vocab_size", rep.V);
    cJSON_AddNumberToObject(sh, "words", rep.words);
    cJSON_AddNumberToObject(sh, "max_tokens", opt.max_tokens ? opt.max_tokens : NN_SHARD_MAX_TOKENS);
    cJSON_AddNumberToObject(sh, "cut", rep.cut);
    cJSON_AddNumberToObject(sh, "train", rep.train);
    cJSON_AddNumberToObject(sh, "test", rep.test);
    cJSON_AddNumberToObject(sh, "test_in_train", rep.test_in_train);
    char share[32];
    snprintf(share, sizeof share, "%g", (double)opt.test_share);
    cJSON_AddRawToObject(sh, "test_share", share);
    cJSON_AddNumberToObject(sh, "seed", (double)opt.seed);
    cJSON *classes = cJSON_AddArrayToObject(m, "classes");
    for (uint32_t c = 0; c < rep.classes; c++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", rep.text.class_name[c]);
        cJSON_AddNumberToObject(o, "train", rep.train_count[c]);
        cJSON_AddNumberToObject(o, "test", rep.test_count[c]);
        cJSON_AddItemToArray(classes, o);
    }
    cJSON_AddItemToObject(m, "source", text_json(base_name(file), &rep.text, buf, len));
    if (test_file) cJSON_AddItemToObject(m, "test_source", text_json(base_name(test_file), &rep.test_text, test_buf, test_len));
    json = cJSON_Print(m);
    cJSON_Delete(m);
    if (!json) {
        rc = nn_fail(&err, NN_ERR_NOMEM, "out of memory writing the manifest");
        goto done;
    }
    size_t jlen = strlen(json);
    char *jnl = nn_realloc_array(json, nn_size_add_sat(jlen, 2), 1);
    if (!jnl) {
        rc = nn_fail(&err, NN_ERR_NOMEM, "out of memory writing the manifest");
        goto done;
    }
    json = jnl;
    json[jlen] = '\n';
    json[jlen + 1] = 0;
    snprintf(path, sizeof path, "%s/%s", out_dir, MANIFEST_NAME);
    if ((rc = nn_write_file(path, json, jlen + 1, &err))) goto done;
    if (!quiet) {
        printf("train:");
        for (uint32_t c = 0; c < rep.classes; c++) printf(" %s %u", rep.text.class_name[c], rep.train_count[c]);
        printf("\n");
    }
    if (rep.test && !quiet) {
        printf("test:");
        for (uint32_t c = 0; c < rep.classes; c++) printf(" %s %u", rep.text.class_name[c], rep.test_count[c]);
        printf("\n");
        if (rep.test_in_train)
            printf("  %u test texts are also training texts: they flatter the test score\n", rep.test_in_train);
    }
    printf("imdb_build_shard: %s/%s (%u classes, V %u, train %u, test %u, %.2f MB) built in %.0f ms\n",
           out_dir, SHARD_NAME, rep.classes, rep.V, rep.train, rep.test, shard_len / 1e6,
           1e3 * (double)(t1.tv_sec - t0.tv_sec) + 1e-6 * (double)(t1.tv_nsec - t0.tv_nsec));
done:
    if (rc) fprintf(stderr, "imdb_build_shard: %s\n", err.msg);
    nn_labelled_shard_report_free(&rep);
    free(buf);
    free(test_buf);
    free(shard);
    free(json);
    return rc ? 1 : 0;
}
