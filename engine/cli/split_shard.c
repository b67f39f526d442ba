/* split_shard.c: imdb_split_shard, a text shard cut in two for the static
 * site (scripts/build-site.sh), so the page can train before the test
 * reviews arrive:
 *
 *   imdb_split_shard SHARD MAIN_OUT TEST_OUT
 *
 * MAIN_OUT: the vocabulary, the class names and every split but "test";
 * TEST_OUT: the "test" split alone, no vocabulary (V = 0), recording the
 * first file's vocab_crc, as imdb-unsup.shard does (datasets/README.md).
 * The page loads the first, trains, and attaches the second when it has
 * arrived (nnw_attach_test). Both are written by nn_shard_write, which
 * checks its output the reader's way. Prints {"main": {...}, "test": {...}}
 * with each file's bytes and reviews on stdout.
 * Deliberately not here: packing (scripts/pack-shard.mjs), image shards. */
#include "cli.h"
#include "fileio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void) {
    fprintf(stderr, "usage: imdb_split_shard SHARD MAIN_OUT TEST_OUT\n"
                    "  writes the shard without its \"test\" split to MAIN_OUT and that split\n"
                    "  alone (no vocabulary, the same vocab_crc) to TEST_OUT\n");
    return 2;
}

static int fail(const nn_error *err) {
    fprintf(stderr, "imdb_split_shard: %s\n", err->msg);
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 4) return usage();
    nn_error err;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (nn_read_file(argv[1], &buf, &len, &err) != NN_OK) return fail(&err);
    nn_shard sh;
    if (nn_shard_parse(&sh, buf, len, &err) != NN_OK) {
        free(buf);
        return fail(&err);
    }
    const nn_split *test = nn_shard_find(&sh, "test");
    if (!test) {
        nn_fail(&err, NN_ERR_ARG, "%s has no \"test\" split to cut off", argv[1]);
        nn_shard_free(&sh);
        free(buf);
        return fail(&err);
    }
    /* The main file: the same shard less its test split (same version, so
     * a version-1 shard stays version 1). */
    nn_shard main_sh = sh, test_sh = sh;
    main_sh.nsplits = 0;
    for (uint32_t i = 0; i < sh.nsplits; i++)
        if (&sh.split[i] != test) main_sh.split[main_sh.nsplits++] = sh.split[i];
    /* The test file: no vocabulary; the writer records vocab_crc as given. */
    memset(&test_sh.vocab, 0, sizeof test_sh.vocab);
    test_sh.nsplits = 1;
    test_sh.split[0] = *test;
    uint8_t *main_out = NULL, *test_out = NULL;
    size_t main_len = 0, test_len = 0;
    int rc = nn_shard_write(&main_sh, &main_out, &main_len, &err);
    if (rc == NN_OK) rc = nn_shard_write(&test_sh, &test_out, &test_len, &err);
    if (rc == NN_OK) rc = nn_write_file(argv[2], main_out, main_len, &err);
    if (rc == NN_OK) rc = nn_write_file(argv[3], test_out, test_len, &err);
    if (rc == NN_OK) {
        uint32_t train = 0;
        for (uint32_t i = 0; i < main_sh.nsplits; i++) train += main_sh.split[i].n;
        printf("{\"main\": {\"bytes\": %zu, \"reviews\": %u}, \"test\": {\"bytes\": %zu, \"reviews\": %u, "
               "\"vocab_crc\": %u}}\n", main_len, train, test_len, test->n, sh.vocab_crc);
    }
    free(main_out);
    free(test_out);
    nn_shard_free(&sh);
    free(buf);
    return rc == NN_OK ? 0 : fail(&err);
}
