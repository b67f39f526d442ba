/* test_labelled_text.c: the "bring your own labelled text" reader. Hand-made
 * TSV and CSV files, each kind of malformed line with its line number and
 * reason, a naive reference on random TSV, and every truncation and
 * thousands of corruptions of a tricky file, checking invariants (every line
 * accounted for, texts inside the buffer, valid UTF-8, labels 0/1) on copies
 * of exactly the input's size, so a sanitizer build sees any overread. */
#include "check.h"
#include "labelled_text.h"

#include <stdlib.h>
#include <string.h>

static int parse(nn_labelled_text *lt, const char *s, size_t len, int format, nn_error *err) {
    char *copy = malloc(len ? len : 1);
    memcpy(copy, s, len);
    int rc = nn_labelled_text_parse(lt, copy, len, format, err);
    free(copy);
    return rc;
}

static int text_is(const nn_labelled_text *lt, uint32_t i, const char *want) {
    size_t len;
    const char *t = nn_labelled_text_example(lt, i, &len);
    return len == strlen(want) && !memcmp(t, want, len);
}

#define PARSE(lt, lit, fmt) parse(lt, lit, sizeof(lit) - 1, fmt, &err)

static void good_files(void) {
    nn_labelled_text lt;
    nn_error err = {0};
    int rc = PARSE(&lt, "1\tGreat film\n0\tAwful\nneg\tBad\npos\tGood one\n", NN_LT_AUTO);
    check(rc == NN_OK && lt.format == NN_LT_TSV && lt.n == 4 && lt.malformed == 0 && lt.lines == 4 &&
              lt.label[0] == 1 && lt.label[1] == 0 && lt.label[2] == 0 && lt.label[3] == 1 &&
              lt.line[0] == 1 && lt.line[3] == 4 && text_is(&lt, 0, "Great film") &&
              text_is(&lt, 3, "Good one"),
          "TSV: 4 examples, labels 1 0 neg pos, texts and lines %s", err.msg);
    nn_labelled_text_free(&lt);

    rc = PARSE(&lt, "\xEF\xBB\xBF" "1\tGreat\r\n0\tBad\r\n", NN_LT_AUTO);
    check(rc == NN_OK && lt.n == 2 && text_is(&lt, 0, "Great") && text_is(&lt, 1, "Bad") && lt.lines == 2,
          "a byte-order mark and CRLF line ends are dropped");
    nn_labelled_text_free(&lt);

    rc = PARSE(&lt, "label\ttext\n1\tgood\n\n   \n0\tbad", NN_LT_AUTO);
    check(rc == NN_OK && lt.header == 1 && lt.n == 2 && lt.blank == 2 && lt.line[0] == 2 &&
              lt.line[1] == 5 && lt.lines == 5 && text_is(&lt, 1, "bad") && lt.malformed == 0,
          "a header line, blank lines (counted) and no final newline");
    nn_labelled_text_free(&lt);

    rc = PARSE(&lt, "\n\nSentiment\tReview\n1\tx\n", NN_LT_TSV);
    check(rc == NN_OK && lt.header == 1 && lt.n == 1 && lt.blank == 2, "the header may follow blank lines");
    nn_labelled_text_free(&lt);

    rc = PARSE(&lt, "1\ta\tb\n Positive \tc\nNEGATIVE\td\nPOS\tcaf\xc3\xa9 \xf0\x9f\x8e\xac\n", NN_LT_TSV);
    check(rc == NN_OK && lt.n == 4 && text_is(&lt, 0, "a\tb") && lt.label[1] == 1 && lt.label[2] == 0 &&
              lt.label[3] == 1 && text_is(&lt, 3, "caf\xc3\xa9 \xf0\x9f\x8e\xac"),
          "tabs inside the text, labels in any case with spaces, UTF-8 text");
    nn_labelled_text_free(&lt);

    rc = PARSE(&lt, "1,Great film, really\n0,\"Bad, \"\"very\"\" bad\"\n\"1\",\"multi\nline text\"\n0,  plain\n",
               NN_LT_AUTO);
    check(rc == NN_OK && lt.format == NN_LT_CSV && lt.n == 4 && lt.malformed == 0 &&
              text_is(&lt, 0, "Great film, really") && text_is(&lt, 1, "Bad, \"very\" bad") &&
              text_is(&lt, 2, "multi\nline text") && text_is(&lt, 3, "  plain") && lt.line[2] == 3 &&
              lt.line[3] == 5 && lt.lines == 5,
          "CSV: unquoted text keeps its commas, quoted text unescapes \"\" and spans lines %s", err.msg);
    nn_labelled_text_free(&lt);

    rc = PARSE(&lt, "label,text\r\n1,\"good\"  \r\n0,bad\r\n", NN_LT_AUTO);
    check(rc == NN_OK && lt.format == NN_LT_CSV && lt.header && lt.n == 2 && text_is(&lt, 0, "good") &&
              text_is(&lt, 1, "bad"),
          "CSV with a header, CRLF and spaces after a closing quote");
    nn_labelled_text_free(&lt);

    rc = PARSE(&lt, "1\tone, two\n", NN_LT_AUTO);
    check(rc == NN_OK && lt.format == NN_LT_TSV && lt.n == 1 && text_is(&lt, 0, "one, two"),
          "a first line with a tab is TSV even with commas");
    nn_labelled_text_free(&lt);

    rc = PARSE(&lt, "", NN_LT_AUTO);
    check(rc == NN_OK && lt.n == 0 && lt.lines == 0 && lt.malformed == 0, "empty input: nothing, no problem");
    nn_labelled_text_free(&lt);
}

/* The reasons of lt's problems must contain want[i] at line[i], in order. */
static int problems_are(const nn_labelled_text *lt, uint32_t n, const uint32_t *line,
                        const char *const *want) {
    if (lt->malformed != n || lt->nproblems != n) return 0;
    for (uint32_t i = 0; i < n; i++)
        if (lt->problem[i].line != line[i] || !strstr(lt->problem[i].reason, want[i])) return 0;
    return 1;
}

static void malformed_lines_are_reported(void) {
    nn_labelled_text lt;
    nn_error err = {0};
    static const char tsv[] = "1\tgood\n1 no tab here\nmaybe\tok\n0\t   \n1\tcaf\xe9\n0\tab\0cd\n0\tfine\n";
    int rc = parse(&lt, tsv, sizeof tsv - 1, NN_LT_TSV, &err);
    uint32_t lines[] = {2, 3, 4, 5, 6};
    const char *const why[] = {"no tab", "\"maybe\" is not 0, 1, neg or pos", "no text",
                               "not valid UTF-8 (byte 4", "NUL byte"};
    check(rc == NN_OK && lt.n == 2 && lt.line[0] == 1 && lt.line[1] == 7 && problems_are(&lt, 5, lines, why),
          "TSV: no tab, a bad label, no text, invalid UTF-8 and a NUL are each reported at their line");
    for (uint32_t i = 0; i < lt.nproblems; i++)
        printf("# info line %u: %s\n", lt.problem[i].line, lt.problem[i].reason);
    check(text_is(&lt, 1, "fine") && lt.offset[1] <= lt.offset[2], "the texts of bad lines are not kept");
    nn_labelled_text_free(&lt);

    rc = PARSE(&lt, "1,\"a\"b\n0,ok\n1 no comma\n\"1,never closed\n0,x\n", NN_LT_CSV);
    uint32_t lines2[] = {1, 3, 4};
    const char *const why2[] = {"after the closing quote", "no comma", "never closed"};
    check(rc == NN_OK && lt.n == 1 && text_is(&lt, 0, "ok") && problems_are(&lt, 3, lines2, why2),
          "CSV: text after a closing quote, no comma, an unclosed quoted label");
    nn_labelled_text_free(&lt);

    rc = PARSE(&lt, "1,fine\n0,\"cut short here\n1,the rest is inside the quote\n", NN_LT_CSV);
    uint32_t lines3[] = {2};
    const char *const why3[] = {"opened on line 2 is never closed"};
    check(rc == NN_OK && lt.n == 1 && problems_are(&lt, 1, lines3, why3),
          "CSV cut inside a quoted text reports where the quote opened: %s",
          lt.nproblems ? lt.problem[0].reason : "");
    nn_labelled_text_free(&lt);

    /* 150 bad lines: all counted, the first 100 kept. */
    char *many = malloc(150 * 8 + 1);
    size_t at = 0;
    for (int i = 0; i < 150; i++) at += (size_t)sprintf(many + at, "x\tbad\n");
    rc = parse(&lt, many, at, NN_LT_TSV, &err);
    check(rc == NN_OK && lt.malformed == 150 && lt.nproblems == NN_LT_MAX_REPORTED &&
              lt.problem[99].line == 100 && lt.n == 0,
          "150 malformed lines are all counted, the first %u kept", NN_LT_MAX_REPORTED);
    nn_labelled_text_free(&lt);
    free(many);

    /* Too many examples. */
    size_t big_n = NN_LT_MAX_EXAMPLES + 1;
    char *big = malloc(big_n * 4 + 1);
    for (size_t i = 0; i < big_n; i++) memcpy(big + 4 * i, "1\tx\n", 4);
    rc = parse(&lt, big, big_n * 4, NN_LT_TSV, &err);
    check(rc == NN_ERR_ARG && lt.n == 0 && lt.text == NULL && strstr(err.msg, "50000"),
          "more than %u examples is refused: %s", NN_LT_MAX_EXAMPLES, err.msg);
    rc = parse(&lt, big, (big_n - 1) * 4, NN_LT_TSV, &err);
    check(rc == NN_OK && lt.n == NN_LT_MAX_EXAMPLES, "exactly %u examples are read", NN_LT_MAX_EXAMPLES);
    nn_labelled_text_free(&lt);
    free(big);
    rc = nn_labelled_text_parse(&lt, "", 0, 7, &err);
    check(rc == NN_ERR_ARG, "an unknown format is refused: %s", err.msg);
}

/* ------------------------------------------------------------ invariants */

static int valid_utf8(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t need = c < 0x80 ? 0 : c >= 0xC2 && c <= 0xDF ? 1 : c >= 0xE0 && c <= 0xEF ? 2
                    : c >= 0xF0 && c <= 0xF4 ? 3 : 9;
        if (need == 9 || i + need >= n) return 0;
        for (size_t k = 1; k <= need; k++)
            if ((s[i + k] & 0xC0) != 0x80) return 0;
        i += need + 1;
    }
    return 1;
}

/* What must hold for any input; tsv_exact: one record per physical line. */
static int invariants(const nn_labelled_text *lt, int tsv_exact, char *why, size_t cap) {
    uint32_t accounted = lt->n + lt->malformed + lt->blank + (uint32_t)lt->header;
    if (tsv_exact && accounted != lt->lines) {
        snprintf(why, cap, "%u records for %u lines", accounted, lt->lines);
        return 0;
    }
    if (accounted > lt->lines) {
        snprintf(why, cap, "%u records for only %u lines", accounted, lt->lines);
        return 0;
    }
    if (lt->nproblems > NN_LT_MAX_REPORTED || lt->nproblems > lt->malformed) {
        snprintf(why, cap, "%u problems kept of %u", lt->nproblems, lt->malformed);
        return 0;
    }
    for (uint32_t i = 0; i < lt->nproblems; i++)
        if (lt->problem[i].line < 1 || lt->problem[i].line > lt->lines ||
            (i && lt->problem[i].line < lt->problem[i - 1].line) || !lt->problem[i].reason[0]) {
            snprintf(why, cap, "problem %u at line %u", i, lt->problem[i].line);
            return 0;
        }
    if (lt->offset[0] != 0) {
        snprintf(why, cap, "offset[0]=%u", lt->offset[0]);
        return 0;
    }
    for (uint32_t i = 0; i < lt->n; i++) {
        size_t len;
        const char *t = nn_labelled_text_example(lt, i, &len);
        if (lt->offset[i + 1] < lt->offset[i] || lt->label[i] > 1 || lt->line[i] < 1 ||
            lt->line[i] > lt->lines || (i && lt->line[i] <= lt->line[i - 1]) ||
            !valid_utf8((const unsigned char *)t, len) || memchr(t, 0, len)) {
            snprintf(why, cap, "example %u (line %u)", i, lt->line[i]);
            return 0;
        }
    }
    return 1;
}

static const char TRICKY_CSV[] =
    "\xEF\xBB\xBF" "label,text\r\n"
    "1,\"A \"\"quoted\"\" word, and a comma\"\r\n"
    "0,plain, with comma\n"
    "\n"
    "pos,\"spans\nthree\nlines\"\n"
    "bad,label\n"
    "neg,caf\xc3\xa9 \xf0\x9f\x8e\xac\n"
    "1,\"unterminated at the end";

static const char TRICKY_TSV[] =
    "label\ttext\n"
    "1\tGreat\tfilm\r\n"
    "0\t\"quotes\" are text here\n"
    "  \n"
    "x\tbad label\n"
    "neg\tcaf\xc3\xa9 \xf0\x9f\x8e\xac\n"
    "1 no tab\n"
    "1\tlast line without newline";

static void truncations_and_corruptions(void) {
    nn_error err = {0};
    const char *docs[] = {TRICKY_CSV, TRICKY_TSV};
    size_t lens[] = {sizeof TRICKY_CSV - 1, sizeof TRICKY_TSV - 1};
    int formats[] = {NN_LT_CSV, NN_LT_TSV};
    for (int d = 0; d < 2; d++) {
        nn_labelled_text lt;
        int rc = parse(&lt, docs[d], lens[d], formats[d], &err);
        check(rc == NN_OK && lt.n == 4 && lt.malformed == 2 && lt.header,
              "the tricky %s file: %u examples, %u malformed", d ? "TSV" : "CSV", lt.n, lt.malformed);
        nn_labelled_text_free(&lt);
        int all = 1;
        char why[128] = "";
        size_t bad_at = 0;
        for (size_t cut = 0; cut <= lens[d] && all; cut++) {
            for (int f = 0; f < 3 && all; f++) {
                rc = parse(&lt, docs[d], cut, f, &err);
                if (rc != NN_OK || !invariants(&lt, f == NN_LT_TSV || (f == NN_LT_AUTO && lt.format == NN_LT_TSV), why, sizeof why)) {
                    all = 0;
                    bad_at = cut;
                }
                nn_labelled_text_free(&lt);
            }
        }
        check(all, "%s cut at each of its %zu lengths, read as auto/TSV/CSV: invariants hold %s %s",
              d ? "TSV" : "CSV", lens[d] + 1, all ? "" : "first bad cut", all ? "" : why);
        if (!all) printf("# info bad cut %zu\n", bad_at);

        nn_rng r;
        nn_rng_seed(&r, 11 + (uint64_t)d);
        static const char nasty[] = {'"', '\t', '\n', '\r', ',', '\0', (char)0xFF, (char)0xC3, 'x'};
        all = 1;
        int trials = 3000;
        for (int t = 0; t < trials && all; t++) {
            size_t n = lens[d];
            char *buf = malloc(n + 8);
            memcpy(buf, docs[d], n);
            uint32_t edits = 1 + nn_rng_below(&r, 4);
            for (uint32_t e = 0; e < edits; e++) {
                size_t at = nn_rng_below(&r, (uint32_t)n);
                uint32_t kind = nn_rng_below(&r, 3);
                if (kind == 0) buf[at] ^= (char)(1u << nn_rng_below(&r, 8));
                else if (kind == 1) buf[at] = nasty[nn_rng_below(&r, sizeof nasty)];
                else if (n + 1 < lens[d] + 8) {
                    memmove(buf + at + 1, buf + at, n - at);
                    buf[at] = nasty[nn_rng_below(&r, sizeof nasty)];
                    n++;
                }
            }
            int f = (int)nn_rng_below(&r, 3);
            nn_labelled_text lt2;
            rc = parse(&lt2, buf, n, f, &err);
            if (rc != NN_OK || !invariants(&lt2, f == NN_LT_TSV || (f == NN_LT_AUTO && lt2.format == NN_LT_TSV), why, sizeof why))
                all = 0;
            nn_labelled_text_free(&lt2);
            free(buf);
        }
        check(all, "%d random corruptions of the %s file (bit flips, quotes, tabs, newlines, NUL, "
              "0xFF, insertions): invariants hold %s", trials, d ? "TSV" : "CSV", all ? "" : why);
    }
}

/* A naive TSV reader: split on '\n', drop '\r', split at the first tab. */
static void reference_tsv(void) {
    nn_rng r;
    nn_rng_seed(&r, 5);
    static const char *const labels[] = {"0", "1", "neg", "pos", "Negative", " POSITIVE ", "2", "", "no"};
    static const char *const words[] = {"good", "bad", "a b", "caf\xc3\xa9", "x\ty", ",", "\"q\"", " "};
    int same = 1;
    nn_error err = {0};
    for (int t = 0; t < 300 && same; t++) {
        char buf[4096];
        size_t at = 0;
        uint32_t lines = nn_rng_below(&r, 12);
        int want_label[16], want_ok[16];
        char want_text[16][256];
        for (uint32_t i = 0; i < lines; i++) {
            const char *lab = labels[nn_rng_below(&r, 9)];
            int tab = nn_rng_below(&r, 8) != 0;
            char text[256] = "";
            size_t tl = 0;
            uint32_t nw = nn_rng_below(&r, 4);
            for (uint32_t k = 0; k < nw; k++)
                tl += (size_t)snprintf(text + tl, sizeof text - tl, "%s%s", k ? " " : "", words[nn_rng_below(&r, 8)]);
            at += (size_t)snprintf(buf + at, sizeof buf - at, "%s%s%s%s\n", lab, tab ? "\t" : " ", text,
                                   nn_rng_below(&r, 4) ? "" : "\r");
            /* What the rules say this line is. */
            int l = -1;
            char trimmed[32];
            size_t a = 0, b = strlen(lab);
            while (a < b && lab[a] == ' ') a++;
            while (b > a && lab[b - 1] == ' ') b--;
            snprintf(trimmed, sizeof trimmed, "%.*s", (int)(b - a), lab + a);
            for (char *p = trimmed; *p; p++)
                if (*p >= 'A' && *p <= 'Z') *p = (char)(*p + 32);
            if (!strcmp(trimmed, "0") || !strcmp(trimmed, "neg") || !strcmp(trimmed, "negative")) l = 0;
            if (!strcmp(trimmed, "1") || !strcmp(trimmed, "pos") || !strcmp(trimmed, "positive")) l = 1;
            int nonblank = 0;
            for (size_t k = 0; k < tl; k++) nonblank |= text[k] != ' ' && text[k] != '\t';
            int blank_line = !tab && lab[0] == 0 && !nonblank; /* "" + " " + "" */
            blank_line |= strspn(lab, " ") == strlen(lab) && !tab && strspn(text, " \t") == tl;
            want_ok[i] = tab && l >= 0 && nonblank;
            want_label[i] = l;
            snprintf(want_text[i], sizeof want_text[i], "%s", text);
            if (blank_line) want_ok[i] = -1;
        }
        nn_labelled_text lt;
        int rc = parse(&lt, buf, at, NN_LT_TSV, &err);
        uint32_t k = 0;
        for (uint32_t i = 0; i < lines && same; i++) {
            if (want_ok[i] != 1) continue;
            if (k >= lt.n || lt.line[k] != i + 1 || lt.label[k] != want_label[i] || !text_is(&lt, k, want_text[i]))
                same = 0;
            k++;
        }
        if (rc != NN_OK || k != lt.n) same = 0;
        nn_labelled_text_free(&lt);
    }
    check(same, "300 random TSV files read as the naive reference reads them");
}

int main(void) {
    good_files();
    malformed_lines_are_reported();
    truncations_and_corruptions();
    reference_tsv();
    return check_exit_code();
}
