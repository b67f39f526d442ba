/* test_labelled_shard.c: the user's labelled file -> shard -> model.
 * Hand-written files for every bad case of issue 17 (empty, one class, a
 * class with one example, a binary file, bytes that are not UTF-8 with
 * their line, a file too large refused before it is read, a header line,
 * duplicates counted, over-long texts cut and counted, too many labels);
 * labels as any strings (UTF-8, byte order, the binary reading kept for
 * neg/pos); the shard read back with its class names; the seeded test
 * share and a second file as test; and a two-class model trained end to
 * end with the default recipe on a small corpus written here. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "labelled_shard.h"
#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static nn_labelled_shard_options defaults(void) {
    nn_labelled_shard_options o = {NN_LT_AUTO, 0, 0, 0.0f, 1};
    return o;
}

/* Builds from a string literal (copied to a buffer of exactly its size). */
static int build(const char *text, size_t len, const nn_labelled_shard_options *o, uint8_t **out,
                 size_t *out_len, nn_labelled_shard_report *rep, nn_error *err) {
    char *copy = malloc(len ? len : 1);
    memcpy(copy, text, len);
    int rc = nn_labelled_shard_build(copy, len, NULL, 0, o, out, out_len, rep, err);
    free(copy);
    return rc;
}
#define BUILD(lit, o, rep) build(lit, sizeof(lit) - 1, o, &shard, &shard_len, rep, &err)

static void refused(const char *name, const char *text, size_t len, const char *want) {
    nn_labelled_shard_options o = defaults();
    nn_labelled_shard_report rep;
    uint8_t *shard = NULL;
    size_t shard_len = 0;
    nn_error err = {0};
    int rc = build(text, len, &o, &shard, &shard_len, &rep, &err);
    check(rc == NN_ERR_ARG && shard == NULL && strstr(err.msg, want), "refuses %s: %s", name, err.msg);
    nn_labelled_shard_report_free(&rep);
    free(shard);
}
#define REFUSED(name, lit, want) refused(name, lit, sizeof(lit) - 1, want)

static void bad_files(void) {
    REFUSED("an empty file", "", "empty");
    REFUSED("a file of blank lines", "\n  \n\r\n", "empty");
    REFUSED("one class only", "spam\tbuy now\nspam\tcheap pills\nspam\twin money\n", "two classes");
    REFUSED("a class with one example",
            "ham\tsee you at lunch\nham\tthe report is attached\nspam\twin money\n", "only one example (line 3)");
    REFUSED("a binary file (NUL byte, its line)", "a\tone\nb\ttwo\na\tth\0ree\nb\tfour\n", "line 3 has a NUL byte");
    REFUSED("a file that is not UTF-8 at all (Latin-1)", "a\tcaf\xe9\nb\tna\xefve\n", "line 1");
    REFUSED("more than 50 labels",
            "a\tx\nb\tx\nc\tx\nd\tx\ne\tx\nf\tx\ng\tx\nh\tx\ni\tx\nj\tx\nk\tx\nl\tx\nm\tx\nn\tx\n"
            "o\tx\np\tx\nq\tx\nr\tx\ns\tx\nt\tx\nu\tx\nv\tx\nw\tx\nx\tx\ny\tx\nz\tx\nA\tx\nB\tx\n"
            "C\tx\nD\tx\nE\tx\nF\tx\nG\tx\nH\tx\nI\tx\nJ\tx\nK\tx\nL\tx\nM\tx\nN\tx\nO\tx\nP\tx\n"
            "Q\tx\nR\tx\nS\tx\nT\tx\nU\tx\nV\tx\nW\tx\nX\tx\nY\tx\nZ\tx\n",
            "more than 50 different labels");
    REFUSED("the text in the label column", "the whole review is in the first column here and it "
            "goes on for a long while\tx\nand this one as well, for it is the same file with more "
            "words than a label has\ty\n", "is the text in the first column?");
    REFUSED("a class whose second example is a duplicate", "a\tsame\na\tsame\nb\tone\nb\ttwo\n",
            "\"a\" has only one example (line 1)");

    nn_error err = {0};
    check(nn_labelled_text_check_size(100u << 20, &err) == NN_ERR_ARG && strstr(err.msg, "100.0 MB"),
          "a 100 MB file is refused by its size: %s", err.msg);
    check(nn_labelled_text_check_size(1u << 20, &err) == NN_OK, "a 1 MB file is not");

    /* Lines that are skipped, with their line and reason, do not stop the build. */
    nn_labelled_shard_options o = defaults();
    nn_labelled_shard_report rep;
    uint8_t *shard = NULL;
    size_t shard_len = 0;
    int rc = BUILD("Label\tText\n"
                   "a\tone two\n"
                   "b\tthree\n"
                   "a\tfour \xff five\n"
                   "no tab here\n"
                   "b\tthree\n"
                   "a\tone two\n"
                   "a\tsix\n"
                   "b\tseven\n",
                   &o, &rep);
    const nn_labelled_text *lt = &rep.text;
    check(rc == NN_OK && lt->header == 1 && lt->classes == 2, "a header line (\"Label\\tText\") is skipped, not a class %s", err.msg);
    check(lt->malformed == 2 && lt->nproblems == 2 && lt->problem[0].line == 4 &&
              strstr(lt->problem[0].reason, "UTF-8") && lt->problem[1].line == 5,
          "bytes that are not UTF-8 skip their line (4: %s) and the rest builds",
          lt->nproblems ? lt->problem[0].reason : "-");
    check(lt->duplicates == 2 && lt->first_duplicate_line == 6 && rep.duplicates == 2 && rep.train == 4,
          "duplicates counted (%u, first line %u) and left out (train %u)", lt->duplicates,
          lt->first_duplicate_line, rep.train);
    nn_labelled_shard_report_free(&rep);
    free(shard);

    /* A header recognised by its text column only. */
    rc = BUILD("topic,sentence\nx,a b\ny,c d\nx,e f\ny,g h\n", &o, &rep);
    check(rc == NN_OK && rep.text.header && rep.text.format == NN_LT_CSV && rep.classes == 2,
          "a CSV header \"topic,sentence\" is skipped by its text column");
    nn_labelled_shard_report_free(&rep);
    free(shard);

    /* Over-long texts: cut to NN_LT_MAX_TEXT_BYTES at a character
     * boundary (counted), then to max_tokens ids (counted). */
    size_t big = NN_LT_MAX_TEXT_BYTES + 100;
    char *text = malloc(big + 64);
    size_t n = 0;
    n += (size_t)sprintf(text + n, "a\t");
    while (n < big) n += (size_t)sprintf(text + n, "\xc3\xa9t\xc3\xa9 ");
    n += (size_t)sprintf(text + n, "\na\tshort\nb\tshort too\nb\tand a third\n");
    o.max_tokens = 4;
    rc = build(text, n, &o, &shard, &shard_len, &rep, &err);
    size_t cut_len = 0;
    if (rc == NN_OK) nn_labelled_text_example(&rep.text, 0, &cut_len);
    check(rc == NN_OK && rep.text.truncated == 1 && rep.text.first_truncated_line == 1 &&
              cut_len <= NN_LT_MAX_TEXT_BYTES && cut_len >= NN_LT_MAX_TEXT_BYTES - 3 &&
              nn_utf8_invalid_at((const unsigned char *)rep.text.text, cut_len) == cut_len,
          "a %zu-byte text is cut to %zu bytes, whole characters, counted", big, cut_len);
    check(rc == NN_OK && rep.cut == 1, "texts over max_tokens 4 ids are cut and counted (%u)", rep.cut);
    nn_labelled_shard_report_free(&rep);
    free(shard);
    free(text);
}

static int name_is(const nn_shard *s, uint32_t k, const char *want) {
    return s->class_name_len[k] == strlen(want) && !memcmp(s->class_name[k], want, strlen(want));
}

static void labels_and_splits(void) {
    nn_labelled_shard_options o = defaults();
    nn_labelled_shard_report rep;
    uint8_t *shard = NULL, *again = NULL;
    size_t shard_len = 0, again_len = 0;
    nn_error err = {0};
    nn_shard s;

    /* Any strings, UTF-8 included; ids in the byte order of the names. */
    int rc = BUILD("\xc3\xa9t\xc3\xa9\tsoleil et plage au caf\xc3\xa9\n"
                   "Winter\tsnow and ice\n"
                   "autumn\tleaves fall\n"
                   "\xc3\xa9t\xc3\xa9\tchaleur au caf\xc3\xa9\n"
                   "Winter\tcold wind\n"
                   "autumn\train and leaves\n",
                   &o, &rep);
    rc = rc ? rc : nn_shard_parse(&s, shard, shard_len, &err);
    check(rc == NN_OK && s.classes == 3 && name_is(&s, 0, "Winter") && name_is(&s, 1, "autumn") &&
              name_is(&s, 2, "\xc3\xa9t\xc3\xa9") && s.split[0].label[0] == 2 && s.split[0].label[1] == 0,
          "3 classes named as written, in byte order (Winter autumn \xc3\xa9t\xc3\xa9) %s", err.msg);
    check(rc == NN_OK && nn_vocab_lookup(&s.vocab, "caf\xc3\xa9", 5) >= NN_FIRST_WORD &&
              s.split[0].review_id[3] == 4,
          "a non-ASCII word stays whole in the vocabulary; review_id is the line");
    if (rc == NN_OK) nn_shard_free(&s);
    nn_labelled_shard_report_free(&rep);
    /* The same lines in another order give the same class ids. */
    static const char reordered[] = "autumn\tleaves fall\nWinter\tsnow and ice\n\xc3\xa9t\xc3\xa9\tchaleur\n"
                                    "autumn\train\nWinter\tcold\n\xc3\xa9t\xc3\xa9\tsoleil\n";
    rc = build(reordered, sizeof reordered - 1, &o, &again, &again_len, &rep, &err);
    check(rc == NN_OK && !strcmp(rep.text.class_name[0], "Winter") && rep.text.label[0] == 1,
          "class ids do not depend on the order of the lines");
    nn_labelled_shard_report_free(&rep);
    free(again);
    free(shard);

    /* neg/pos, 0/1 mixed: the binary reading (class 0 negative). */
    rc = BUILD("pos\tgreat\n0\tawful\nNEG\tdull\n1\tlovely\n", &o, &rep);
    check(rc == NN_OK && rep.classes == 2 && !strcmp(rep.text.class_name[0], "0") &&
              !strcmp(rep.text.class_name[1], "pos") && rep.text.label[0] == 1 && rep.text.label[2] == 0,
          "neg/pos/0/1 labels keep the binary reading (class 0 \"%s\", 1 \"%s\")",
          rep.text.class_name[0], rep.text.class_name[1]);
    nn_labelled_shard_report_free(&rep);
    free(shard);

    /* A seeded test share: per class, the same with the same seed. */
    char file[4096];
    size_t n = 0;
    for (int i = 0; i < 40; i++)
        n += (size_t)sprintf(file + n, "%s\tline %d words %c\n", i % 4 ? "many" : "few", i, 'a' + i % 26);
    o.test_share = 0.2f;
    rc = build(file, n, &o, &shard, &shard_len, &rep, &err);
    nn_labelled_shard_report_free(&rep);
    int rc2 = build(file, n, &o, &again, &again_len, &rep, &err);
    check(rc == NN_OK && rc2 == NN_OK && shard_len == again_len && !memcmp(shard, again, shard_len),
          "the same file and seed build the same bytes");
    nn_labelled_shard_report_free(&rep);
    free(again);
    rc = nn_shard_parse(&s, shard, shard_len, &err);
    const nn_split *test = rc ? NULL : nn_shard_find(&s, "test");
    uint32_t few = 0;
    for (uint32_t i = 0; test && i < test->n; i++) few += test->label[i] == 0;
    check(test && test->n == 8 && few == 2 && nn_shard_find(&s, "train")->n == 32,
          "a 0.2 test share holds out a fifth of each class (test %u, few %u)", test ? test->n : 0, few);
    if (rc == NN_OK) nn_shard_free(&s);
    free(shard);
    o.seed = 2;
    rc = build(file, n, &o, &shard, &shard_len, &rep, &err);
    rc = rc ? rc : nn_shard_parse(&s, shard, shard_len, &err);
    test = rc ? NULL : nn_shard_find(&s, "test");
    check(test && test->n == 8, "another seed holds as many lines out");
    if (rc == NN_OK) nn_shard_free(&s);
    nn_labelled_shard_report_free(&rep);
    free(shard);

    /* A second file as the test set. */
    o = defaults();
    static const char train_file[] = "a\tx y\nb\tz w\na\ty y\nb\tw w\n";
    static const char test_ok[] = "b\tz\na\tx\n", test_bad[] = "a\tx\nc\tz\n", test_seen[] = "b\tz w\na\tx\n";
    rc = nn_labelled_shard_build(train_file, sizeof train_file - 1, test_ok, sizeof test_ok - 1, &o,
                                 &shard, &shard_len, &rep, &err);
    rc = rc ? rc : nn_shard_parse(&s, shard, shard_len, &err);
    test = rc ? NULL : nn_shard_find(&s, "test");
    check(test && test->n == 2 && test->label[0] == 1 && test->label[1] == 0 && rep.test_count[0] == 1 &&
              rep.test_in_train == 0,
          "a second file becomes \"test\", its labels mapped to the first file's classes %s", err.msg);
    if (rc == NN_OK) nn_shard_free(&s);
    nn_labelled_shard_report_free(&rep);
    free(shard);
    shard = NULL;
    rc = nn_labelled_shard_build(train_file, sizeof train_file - 1, test_seen, sizeof test_seen - 1, &o,
                                 &shard, &shard_len, &rep, &err);
    check(rc == NN_OK && rep.test_in_train == 1 && rep.test == 2,
          "a test text that is also a training text is kept and counted (%u)", rep.test_in_train);
    nn_labelled_shard_report_free(&rep);
    free(shard);
    shard = NULL;
    rc = nn_labelled_shard_build(train_file, sizeof train_file - 1, test_bad, sizeof test_bad - 1, &o,
                                 &shard, &shard_len, &rep, &err);
    check(rc == NN_ERR_ARG && strstr(err.msg, "\"c\" (line 2) is not a class"),
          "a test label the training file lacks is refused: %s", err.msg);
    nn_labelled_shard_report_free(&rep);
    free(shard);
}

/* The tool refuses a 100 MB file before reading it (a sparse file: no disk
 * is used) and builds a small one into DIR/labelled.shard + manifest. */
static void build_tool(const char *tool) {
    if (!tool) {
        check(0, "IMDB_BUILD_SHARD is not set (CMakeLists.txt sets it for this test)");
        return;
    }
    char dir[] = "/tmp/nn_labelled_XXXXXX";
    if (!mkdtemp(dir)) {
        check(0, "mkdtemp");
        return;
    }
    char path[512], cmd[2048];
    snprintf(path, sizeof path, "%s/big.tsv", dir);
    FILE *f = fopen(path, "wb");
    int made = f && fseek(f, (100L << 20) - 1, SEEK_SET) == 0 && fputc('\n', f) != EOF;
    if (f) fclose(f);
    snprintf(cmd, sizeof cmd, "%s --labelled %s --out %s/out > %s/log 2>&1", tool, path, dir, dir);
    int rc = made ? system(cmd) : -1;
    snprintf(path, sizeof path, "%s/log", dir);
    char log[1024] = {0};
    f = fopen(path, "rb");
    if (f) {
        size_t got = fread(log, 1, sizeof log - 1, f);
        log[got] = 0;
        fclose(f);
    }
    check(made && rc != 0 && strstr(log, "100.0 MB"), "imdb_build_shard --labelled refuses a 100 MB file: %s", log);
    snprintf(path, sizeof path, "%s/big.tsv", dir);
    unlink(path);

    snprintf(path, sizeof path, "%s/small.csv", dir);
    f = fopen(path, "wb");
    if (f) {
        fputs("label,text\nspam,\"Win money, now\"\nham,lunch at noon?\nspam,cheap pills\nham,the minutes\n", f);
        fclose(f);
    }
    snprintf(cmd, sizeof cmd, "%s --labelled %s --out %s/out --quiet > %s/log 2>&1", tool, path, dir, dir);
    rc = system(cmd);
    struct stat st;
    char shard_path[512], manifest[512];
    snprintf(shard_path, sizeof shard_path, "%s/out/labelled.shard", dir);
    snprintf(manifest, sizeof manifest, "%s/out/labelled.manifest.json", dir);
    check(rc == 0 && stat(shard_path, &st) == 0 && stat(manifest, &st) == 0,
          "imdb_build_shard --labelled small.csv --out DIR writes labelled.shard and labelled.manifest.json");
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) check(0, "rm %s", dir);
}

/* A two-class corpus written here: sentences about a dish or a trip,
 * praise or complaint, 4 templates x 8 subjects x 8 opinion words per side. */
static size_t write_corpus(char *out) {
    static const char *const subject[] = {"the soup", "our guide", "the hotel", "this bread", "the train",
                                          "the pasta", "the museum", "that caf\xc3\xa9"};
    static const char *const good[] = {"wonderful", "lovely", "excellent", "superb", "delightful",
                                       "great", "charming", "perfect"};
    static const char *const bad[] = {"awful", "dreadful", "terrible", "poor", "disappointing",
                                      "horrible", "dull", "broken"};
    static const char *const tmpl[] = {"%s was %s", "honestly %s seemed %s to us", "we found %s %s",
                                       "%s felt %s from start to end"};
    size_t n = 0;
    for (int t = 0; t < 4; t++)
        for (int s = 0; s < 8; s++)
            for (int w = 0; w < 8; w++)
                for (int side = 0; side < 2; side++) {
                    n += (size_t)sprintf(out + n, "%s\t", side ? "praise" : "complaint");
                    n += (size_t)sprintf(out + n, tmpl[t], subject[s], side ? good[w] : bad[w]);
                    out[n++] = '\n';
                }
    return n;
}

static void two_class_end_to_end(void) {
    char *file = malloc(1 << 20);
    size_t n = write_corpus(file);
    nn_labelled_shard_options o = defaults();
    o.test_share = 0.2f;
    nn_labelled_shard_report rep;
    uint8_t *shard = NULL;
    size_t shard_len = 0;
    nn_error err = {0};
    nn_shard s;
    int rc = nn_labelled_shard_build(file, n, NULL, 0, &o, &shard, &shard_len, &rep, &err);
    rc = rc ? rc : nn_shard_parse(&s, shard, shard_len, &err);
    if (!check(rc == NN_OK && s.classes == 2, "end to end: the 512-line corpus builds a 2-class shard %s", err.msg)) {
        free(file);
        return;
    }
    nn_config cfg;
    rc = nn_labelled_shard_recipe(&cfg, &s, &err);
    check(rc == NN_OK && cfg.model == NN_MODEL_NGRAM && cfg.classes == 2 && cfg.patience == 2 &&
              cfg.val_size == (uint32_t)(0.2 * rep.train + 0.5) && cfg.maxlen <= 16,
          "the default recipe: ngram, 2 classes, val_size %u of %u, maxlen %u", cfg.val_size, rep.train, cfg.maxlen);
    cfg.seed = 1;
    nn_trainer *t = NULL;
    rc = rc ? rc : nn_trainer_create(&t, &cfg, &s, &err);
    nn_progress p = {0};
    while (!rc && !p.finished) rc = nn_trainer_run(t, 1000, &p, &err);
    float loss = 0, acc = 0;
    if (!rc) rc = nn_trainer_evaluate(t, "test", &loss, &acc, &err);
    uint32_t epochs = 0;
    const nn_epoch_log *h = t ? nn_trainer_history(t, &epochs) : NULL;
    check(rc == NN_OK && acc >= 0.95f && epochs >= 2 && h[0].val_loss > h[epochs - 1].val_loss - 1e-6f,
          "end to end: trained %u epochs, test accuracy %.3f (>= 0.95) on %u held-out lines %s", epochs, acc,
          rep.test, err.msg);
    if (!rc) {
        nn_model *m = nn_trainer_model(t);
        const char *good = "the hotel was lovely", *poor = "the hotel was dreadful";
        float pg = nn_model_score_text(m, &s.vocab, nn_trainer_stopwords(t), good, strlen(good));
        float pb = nn_model_score_text(m, &s.vocab, nn_trainer_stopwords(t), poor, strlen(poor));
        check(pg > 0.5f && pb < 0.5f, "end to end: typed \"%s\" scores %.3f for \"%s\", \"%s\" %.3f", good, pg,
              s.class_name[1] ? "praise" : "?", poor, pb);
    }
    nn_trainer_free(t);
    nn_shard_free(&s);
    nn_labelled_shard_report_free(&rep);
    free(shard);
    free(file);
}

/* What the page's worker calls: the session builds the shard, loads it and
 * keeps the report, also after a refusal. */
static void session_builds(void) {
    nn_session *s = nn_session_create();
    static const char file[] = "x\tone two\ny\tthree four\nx\tfive\ny\tsix\nz\tseven\nz\teight\nbad\n";
    int rc = nn_session_build_labelled_shard(s, file, sizeof file - 1, NULL, 0, NN_LT_AUTO, 0.0f, 1);
    check(rc == NN_OK && s->has_shard && s->shard.classes == 3 && s->shard_len > 64 && s->labelled_report &&
              strstr(s->labelled_report, "\"ok\":true") && strstr(s->labelled_report, "\"line\":7"),
          "session: the file becomes the dataset (3 classes, %zu bytes), the report lists line 7", s->shard_len);
    rc = nn_session_build_labelled_shard(s, "x\ta\n", 4, NULL, 0, NN_LT_AUTO, 0.0f, 1);
    check(rc == NN_ERR_ARG && s->labelled_report && strstr(s->labelled_report, "\"ok\":false") &&
              strstr(s->labelled_report, "two classes") && s->has_shard,
          "session: a refused file keeps the dataset, and the report says why");
    nn_session_free(s);
}

int main(void) {
    session_builds();
    bad_files();
    labels_and_splits();
    build_tool(getenv("IMDB_BUILD_SHARD"));
    two_class_end_to_end();
    return check_exit_code();
}
