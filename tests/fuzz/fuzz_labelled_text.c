/* fuzz_labelled_text.c: libFuzzer target for the two readers of user text
 * the diagnosis added: nn_labelled_text_parse (engine/labelled_text.c) and
 * the stop-word list (nn_stopwords_expand, nn_stopwords_build;
 * engine/stopwords.c), on arbitrary bytes.
 *
 * The first byte chooses the format (auto, TSV, CSV: byte % 3) and the
 * reading (binary, or any labels: (byte / 3) % 2); the rest is the file.
 * Besides "no crash, no sanitizer report" it checks, for the labelled text:
 * every record is an example, a reported problem, a blank line or the
 * header, never more than there are lines (exactly one per line for TSV);
 * examples have labels 0/1, increasing line numbers within the input, texts
 * inside the text buffer that are valid UTF-8 without NUL; problems have a
 * line number and a reason, at most NN_LT_MAX_REPORTED of them kept. With
 * any labels: at most 50 classes with distinct names of 1-64 bytes of UTF-8,
 * every label below the class count, the counts adding up; and a file that
 * nn_labelled_text_check_training accepts builds a shard (engine/
 * labelled_shard.c) that parses with those classes. For the
 * stop-word list (the same bytes, up to the first NUL, as a setting): an
 * accepted list expands to words that expand again to themselves, and the
 * filter built from it against the fixed vocabulary removes only ids of
 * those words. */
#include "fuzz_common.h"
#include "labelled_shard.h"
#include "labelled_text.h"
#include "stopwords.h"

static void labelled_text_check(const uint8_t *data, size_t size) {
    if (size < 1) return;
    int format = data[0] % 3, any_labels = (data[0] / 3) % 2;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    nn_labelled_text lt;
    nn_error err = {0};
    int rc = (any_labels ? nn_labelled_text_parse_classes : nn_labelled_text_parse)(&lt, text, len, format, &err);
    if (rc != NN_OK) {
        FUZZ_REQUIRE(rc == NN_ERR_ARG || rc == NN_ERR_NOMEM, "parse returned %d: %s", rc, err.msg);
        FUZZ_REQUIRE(lt.n == 0 && lt.text == NULL, "a failed parse left %u examples", lt.n);
        return;
    }
    uint32_t records = lt.n + lt.malformed + lt.blank + (uint32_t)lt.header;
    FUZZ_REQUIRE(records <= lt.lines, "%u records in %u lines", records, lt.lines);
    if (lt.format == NN_LT_TSV) FUZZ_REQUIRE(records == lt.lines, "TSV: %u records in %u lines", records, lt.lines);
    FUZZ_REQUIRE(lt.nproblems <= NN_LT_MAX_REPORTED && lt.nproblems <= lt.malformed,
                 "%u problems kept of %u", lt.nproblems, lt.malformed);
    for (uint32_t i = 0; i < lt.nproblems; i++)
        FUZZ_REQUIRE(lt.problem[i].line >= 1 && lt.problem[i].line <= lt.lines && lt.problem[i].reason[0],
                     "problem %u at line %u of %u", i, lt.problem[i].line, lt.lines);
    FUZZ_REQUIRE(lt.offset[0] == 0, "offset[0] is %u", lt.offset[0]);
    for (uint32_t i = 0; i < lt.n; i++) {
        size_t n;
        const char *t = nn_labelled_text_example(&lt, i, &n);
        FUZZ_REQUIRE(lt.offset[i + 1] >= lt.offset[i] && lt.offset[i + 1] <= len, "example %u offsets", i);
        FUZZ_REQUIRE(any_labels ? lt.label[i] < lt.classes : lt.label[i] <= 1, "example %u has label %u", i,
                     lt.label[i]);
        FUZZ_REQUIRE(lt.line[i] >= 1 && lt.line[i] <= lt.lines && (i == 0 || lt.line[i] > lt.line[i - 1]),
                     "example %u at line %u", i, lt.line[i]);
        FUZZ_REQUIRE(nn_utf8_invalid_at((const unsigned char *)t, n) == n, "example %u is not UTF-8", i);
        FUZZ_REQUIRE(!memchr(t, 0, n), "example %u holds a NUL", i);
    }
    FUZZ_REQUIRE(lt.classes <= NN_MAX_TEXT_CLASSES && (lt.n == 0 || any_labels || lt.classes == 2),
                 "%u classes", lt.classes);
    uint32_t total = 0;
    for (uint32_t k = 0; any_labels && k < lt.classes; k++) {
        size_t n = strlen(lt.class_name[k]);
        total += lt.class_count[k];
        FUZZ_REQUIRE(n >= 1 && n <= NN_LT_MAX_LABEL_BYTES &&
                         nn_utf8_invalid_at((const unsigned char *)lt.class_name[k], n) == n,
                     "class %u is named \"%s\"", k, lt.class_name[k]);
        for (uint32_t j = 0; j < k; j++)
            FUZZ_REQUIRE(strcmp(lt.class_name[j], lt.class_name[k]), "classes %u and %u share a name", j, k);
    }
    FUZZ_REQUIRE(!any_labels || total == lt.n, "class counts add up to %u of %u", total, lt.n);
    if (any_labels && nn_labelled_text_check_training(&lt, &err) == NN_OK) {
        nn_labelled_shard_options opt = {format, 0, 0, 0.25f, 1};
        nn_labelled_shard_report rep;
        uint8_t *shard = NULL;
        size_t shard_len = 0;
        rc = nn_labelled_shard_build(text, len, NULL, 0, &opt, &shard, &shard_len, &rep, &err);
        FUZZ_REQUIRE(rc == NN_OK || rc == NN_ERR_NOMEM, "a file the checks accept does not build: %s", err.msg);
        nn_shard s;
        if (rc == NN_OK) {
            rc = nn_shard_parse(&s, shard, shard_len, &err);
            FUZZ_REQUIRE(rc == NN_OK && s.classes == lt.classes && rep.train + rep.test + rep.duplicates == lt.n,
                         "the built shard: %s (%u classes of %u)", err.msg, s.classes, lt.classes);
            nn_shard_free(&s);
        }
        free(shard);
        nn_labelled_shard_report_free(&rep);
    }
    nn_labelled_text_free(&lt);
}

static void stopwords_check(const uint8_t *data, size_t size) {
    static fuzz_vocab fv;
    static int ready;
    if (!ready) {
        fuzz_vocab_fill(&fv);
        nn_error e = {0};
        FUZZ_REQUIRE(nn_vocab_index(&fv.v, &e) == NN_OK, "the fixed vocabulary does not index: %s", e.msg);
        ready = 1;
    }
    char *spec = malloc(size + 1);
    memcpy(spec, data, size);
    spec[size] = 0;
    char *words = NULL, *again = NULL;
    uint32_t n = 0, m = 0;
    nn_error err = {0};
    int rc = nn_stopwords_expand(spec, &words, &n, &err);
    FUZZ_REQUIRE((rc == NN_OK) == (nn_stopwords_check(spec, NULL) == NN_OK), "check and expand disagree");
    if (rc == NN_OK) {
        int rc2 = nn_stopwords_expand(words, &again, &m, &err);
        FUZZ_REQUIRE(rc2 == NN_OK && m == n && !strcmp(words, again),
                     "\"%s\" expands again to \"%s\" (%u vs %u words)", words, again ? again : "", m, n);
        nn_stopwords s;
        FUZZ_REQUIRE(nn_stopwords_build(&s, spec, &fv.v, &err) == NN_OK, "build fails: %s", err.msg);
        FUZZ_REQUIRE(s.nwords == n && s.nids <= n, "filter of %u words, %u ids, for %u words", s.nwords, s.nids, n);
        for (uint32_t id = 0; id < FUZZ_NWORDS; id++) {
            if (!nn_is_stopword(&s, id)) continue;
            size_t wl;
            const char *w = nn_vocab_word(&fv.v, id, &wl);
            int listed = 0;
            for (const char *p = words; *p && !listed;) {
                const char *e = strchr(p, ' ');
                size_t pl = e ? (size_t)(e - p) : strlen(p);
                listed = pl == wl && !memcmp(p, w, wl);
                p = e ? e + 1 : p + pl;
            }
            FUZZ_REQUIRE(listed && id >= NN_FIRST_WORD, "id %u is removed but not listed", id);
        }
        nn_stopwords_free(&s);
    } else {
        FUZZ_REQUIRE(rc == NN_ERR_ARG && words == NULL && err.msg[0], "expand returned %d", rc);
    }
    free(words);
    free(again);
    free(spec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    labelled_text_check(data, size);
    stopwords_check(data, size);
    return 0;
}
