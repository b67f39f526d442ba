/* test_tokenizer.c: the tokenizer rules of nn.h one by one, a comparison with
 * a deliberately naive reference on random tricky strings, 10 MB inputs, and
 * the vocabulary index and nn_encode_text. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "nn.h"

#include <stdint.h>
#include <string.h>
#include <time.h>

/* Tokens joined by '|' (the tokenizer never emits '|'). */
typedef struct joined {
    char s[4096];
    size_t n;
    size_t count;
} joined;

static void join_token(const char *tok, size_t len, void *user) {
    joined *j = user;
    if (j->count++ && j->n < sizeof j->s - 1) j->s[j->n++] = '|';
    for (size_t i = 0; i < len && j->n < sizeof j->s - 1; i++) j->s[j->n++] = tok[i];
    j->s[j->n] = 0;
}

static const char *tokens_of(const char *text, size_t len) {
    static joined j;
    memset(&j, 0, sizeof j);
    size_t n = nn_tokenize(text, len, join_token, &j);
    if (n != j.count) return "<count mismatch>";
    return j.s;
}

static void expect(const char *name, const char *text, size_t len, const char *want) {
    const char *got = tokens_of(text, len);
    check(strcmp(got, want) == 0, "tokenize %s got=\"%s\" want=\"%s\"", name, got, want);
}
#define EXPECT(name, lit, want) expect(name, lit, sizeof(lit) - 1, want)

/* ------------------------------------------------- a naive reference */

static int ref_word_byte(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '\'' || c >= 0x80;
}

/* Blanks out line breaks first, then splits, strips and cuts: the rules of
 * nn.h applied literally, one after the other. */
static void ref_tokenize(const char *text, size_t len, joined *out) {
    static unsigned char t[4096];
    memset(out, 0, sizeof *out);
    memcpy(t, text, len);
    static const char *const tags[] = {"<br />", "<br/>", "<br>"};
    for (size_t i = 0; i < len; i++) {
        if (t[i] != '<') continue;
        for (int k = 0; k < 3; k++) {
            size_t n = strlen(tags[k]), m;
            if (i + n > len) continue;
            for (m = 0; m < n; m++) {
                unsigned char c = t[i + m];
                if (c >= 'A' && c <= 'Z') c += 32;
                if (c != (unsigned char)tags[k][m]) break;
            }
            if (m == n) {
                memset(t + i, ' ', n);
                break;
            }
        }
    }
    size_t i = 0;
    while (i < len) {
        if (!ref_word_byte(t[i])) { i++; continue; }
        size_t s = i;
        while (i < len && ref_word_byte(t[i])) i++;
        size_t e = i;
        while (s < e && t[s] == '\'') s++;
        while (e > s && t[e - 1] == '\'') e--;
        if (s == e) continue;
        if (e - s > NN_MAX_TOKEN_BYTES) {
            size_t cut = NN_MAX_TOKEN_BYTES;
            for (size_t back = 0; back <= 3; back++) /* the sequence's lead byte, if close */
                if ((t[s + NN_MAX_TOKEN_BYTES - back] & 0xC0) != 0x80) {
                    cut = NN_MAX_TOKEN_BYTES - back;
                    break;
                }
            e = s + cut;
            while (t[e - 1] == '\'') e--;
        }
        char low[NN_MAX_TOKEN_BYTES];
        for (size_t k = s; k < e; k++) low[k - s] = (char)(t[k] >= 'A' && t[k] <= 'Z' ? t[k] + 32 : t[k]);
        join_token(low, e - s, out);
    }
}

/* ------------------------------------------------- invariants on big inputs */

typedef struct stats {
    size_t count, bad, longest;
} stats;

static void check_token(const char *tok, size_t len, void *user) {
    stats *s = user;
    s->count++;
    if (len > s->longest) s->longest = len;
    int bad = len == 0 || len > NN_MAX_TOKEN_BYTES || tok[0] == '\'' || tok[len - 1] == '\'';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)tok[i];
        bad |= !ref_word_byte(c) || (c >= 'A' && c <= 'Z');
    }
    s->bad += bad;
}

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Tokenizes a big buffer; timing is printed, never asserted. */
static stats tokenize_big(const char *name, const char *buf, size_t len) {
    stats s = {0};
    double t0 = seconds();
    size_t n = nn_tokenize(buf, len, check_token, &s);
    double dt = seconds() - t0;
    check(n == s.count && s.bad == 0, "tokenize %s %zu MB tokens=%zu malformed=%zu (%.0f MB/s)",
          name, len >> 20, s.count, s.bad, (double)len / 1e6 / (dt > 0 ? dt : 1e-9));
    return s;
}

/* Spans: each token's bytes, lowercased, are exactly the token. */
typedef struct span_check { const char *text; int bad, n; size_t last_end; } span_check;

static void check_span(const char *tok, size_t len, size_t start, size_t end, void *user) {
    span_check *sc = user;
    sc->n++;
    if (end - start != len || start < sc->last_end) sc->bad++;
    for (size_t i = 0; i < len && !sc->bad; i++) {
        char c = sc->text[start + i];
        if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
        if (c != tok[i]) sc->bad++;
    }
    sc->last_end = end;
}

static void check_spans(void) {
    const char *text = "  'Quoted' CAF\xc3\x89 caf\xc3\xa9<br />Don't!! ''' x\xff\xfey \xf0\x9f\x8e\xac\xf0\x9f\x8e\xac end''";
    span_check sc = {text, 0, 0, 0};
    size_t n = nn_tokenize_spans(text, strlen(text), check_span, &sc);
    check(sc.bad == 0 && (size_t)sc.n == n && n == 7,
          "tokenize_spans cover exactly each token's bytes (%zu tokens, %d bad)", n, sc.bad);
    size_t n2 = nn_tokenize(text, strlen(text), NULL, NULL);
    check(n2 == n, "tokenize_spans and tokenize agree on the count (%zu vs %zu)", n, n2);
}

int main(void) {
    check_spans();
    /* --- the rules, one at a time */
    EXPECT("punctuation", "Hello, World! It's 10/10 -- (really).", "hello|world|it's|10|10|really");
    EXPECT("lowercase", "ABC xYz", "abc|xyz");
    EXPECT("digits", "1980s 2nd", "1980s|2nd");
    EXPECT("br_space_slash", "one<br />two", "one|two");
    EXPECT("br_slash", "one<br/>two", "one|two");
    EXPECT("br_plain", "one<br>two", "one|two");
    EXPECT("br_upper", "one<BR />two<Br/>three<bR>four", "one|two|three|four");
    EXPECT("br_twice", "end.<br /><br />Start", "end|start");
    EXPECT("br_unclosed_at_end", "x<br", "x|br");
    EXPECT("br_two_spaces_not_a_break", "a<br  />b", "a|br|b");
    EXPECT("br_other_tag", "<brown> <b>bold</b>", "brown|b|bold|b");
    EXPECT("br_after_lt", "a<<br>b", "a|b");
    EXPECT("apostrophe_inside_kept", "don't", "don't");
    EXPECT("apostrophe_quoted_stripped", "'quoted'", "quoted");
    EXPECT("apostrophe_only_dropped", "'' ' '''", "");
    EXPECT("apostrophe_mixed", "rock 'n' roll, the students' 'tis", "rock|n|roll|the|students|tis");
    EXPECT("apostrophe_double_inside", "o''clock", "o''clock");
    EXPECT("utf8_cafe", "Café", "caf\xc3\xa9");
    EXPECT("utf8_upper_not_folded", "CAFÉ", "caf\xc3\x89");
    EXPECT("utf8_emoji", "great 😀!", "great|\xf0\x9f\x98\x80");
    EXPECT("utf8_emoji_glued", "great😀movie", "great\xf0\x9f\x98\x80movie");
    EXPECT("utf8_mixed", "naïve Ünïcode, Ελληνικά", "na\xc3\xafve|\xc3\x9cn\xc3\xaf" "code|\xce\x95\xce\xbb\xce\xbb\xce\xb7\xce\xbd\xce\xb9\xce\xba\xce\xac");
    EXPECT("utf8_em_dash_joins", "good—bad", "good\xe2\x80\x94" "bad");
    EXPECT("invalid_utf8_kept", "\xff\xfe abc \x80", "\xff\xfe|abc|\x80");
    EXPECT("nul_separates", "abc\0def\0", "abc|def");
    EXPECT("control_bytes_separate", "a\tb\nc\rd\x01" "e\x7f" "f", "a|b|c|d|e|f");
    EXPECT("empty", "", "");
    EXPECT("only_separators", " \t.,;<>/", "");
    check(nn_tokenize(NULL, 0, join_token, NULL) == 0, "tokenize null_empty_input returns 0");
    check(nn_tokenize("a b c", 5, NULL, NULL) == 3, "tokenize null_callback still counts");

    /* --- cutting long tokens at NN_MAX_TOKEN_BYTES */
    {
        char buf[512], want[512];
        memset(buf, 'A', 100);
        memset(want, 'a', 64);
        want[64] = 0;
        expect("cut_ascii_100", buf, 100, want);
        memset(buf, 'a', 63);
        memcpy(buf + 63, "\xc3\xa9zz", 4); /* é would straddle byte 64 */
        memcpy(want, buf, 63);
        want[63] = 0;
        expect("cut_before_straddling_utf8", buf, 67, want);
        memset(buf, 'a', 61);
        memcpy(buf + 61, "\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 8); /* emoji at 61..64 */
        memcpy(want, buf, 61);
        want[61] = 0;
        expect("cut_before_straddling_emoji", buf, 69, want);
        memset(buf, 0x80, 100); /* continuation bytes only: invalid, cut at the limit */
        memset(want, 0x80, 64);
        want[64] = 0;
        expect("cut_invalid_utf8_at_limit", buf, 100, want);
        memset(buf, 'a', 60);
        memset(buf + 60, '\'', 10);
        memcpy(buf + 70, "bc", 2);
        memcpy(want, buf, 60);
        want[60] = 0;
        expect("cut_strips_trailing_apostrophes", buf, 72, want);
        memset(buf, '\'', 3);
        memset(buf + 3, 'b', 80);
        memset(want, 'b', 64);
        want[64] = 0;
        expect("cut_after_leading_apostrophes", buf, 83, want);
    }

    /* --- the same answers as the naive reference on random tricky strings */
    {
        static const char alphabet[] = "<bBrR/ >'aZ0\0\xc3\xa9\xff.-";
        nn_rng rng;
        nn_rng_seed(&rng, 7);
        int mismatches = 0;
        char text[400];
        joined ref;
        for (int trial = 0; trial < 20000; trial++) {
            size_t len = nn_rng_below(&rng, trial % 10 == 0 ? 300 : 24);
            uint32_t few = 2 + nn_rng_below(&rng, sizeof alphabet - 2); /* skewed alphabets give long runs */
            for (size_t i = 0; i < len; i++) text[i] = alphabet[nn_rng_below(&rng, few)];
            ref_tokenize(text, len, &ref);
            const char *got = tokens_of(text, len);
            if (strcmp(got, ref.s) != 0 && mismatches++ == 0)
                printf("  first mismatch: len=%zu got=\"%s\" ref=\"%s\"\n", len, got, ref.s);
        }
        check(mismatches == 0, "tokenize matches_reference 20000 random strings mismatches=%d",
              mismatches);
    }

    /* --- 10 MB inputs: no crash, linear time */
    {
        size_t len = 10u << 20;
        char *buf = malloc(len);
        if (!check(buf != NULL, "tokenize big_alloc")) return check_exit_code();
        nn_rng rng;
        nn_rng_seed(&rng, 1);
        for (size_t i = 0; i < len; i += 4) {
            uint32_t r = nn_rng_u32(&rng);
            memcpy(buf + i, &r, 4);
        }
        tokenize_big("random_bytes", buf, len);
        for (size_t i = 0; i < len; i++) buf[i] = "ab'c D<br />"[i % 12];
        tokenize_big("text_with_breaks", buf, len);
        memset(buf, 'x', len);
        stats s = tokenize_big("single_token", buf, len);
        check(s.count == 1 && s.longest == NN_MAX_TOKEN_BYTES,
              "tokenize single_token is one token of %d bytes (count=%zu longest=%zu)",
              NN_MAX_TOKEN_BYTES, s.count, s.longest);
        memset(buf, '\'', len);
        s = tokenize_big("only_apostrophes", buf, len);
        check(s.count == 0, "tokenize only_apostrophes gives no token (count=%zu)", s.count);
        memset(buf, 0xe9, len);
        tokenize_big("only_high_bytes", buf, len);
        for (size_t i = 0; i < len; i++) buf[i] = "<br"[i % 3];
        s = tokenize_big("unclosed_breaks", buf, len);
        check(s.count == len / 3, "tokenize unclosed_breaks gives one token per '<br' (%zu)", s.count);
        free(buf);
    }

    /* --- vocabulary: index, lookup, word, encode */
    {
        static const char words[] = "<PAD><START><UNK><UNUSED>themoviegoodbaddon'tcaf\xc3\xa9";
        uint32_t offset[] = {0, 5, 12, 17, 25, 28, 33, 37, 40, 45, 50};
        uint32_t count[] = {0, 0, 0, 0, 50, 40, 30, 20, 10, 5};
        nn_vocab v = {10, count, offset, words, NULL, 0};
        nn_error err = {0};
        check(nn_vocab_index(&v, &err) == NN_OK, "vocab index %s", err.msg);
        check(v.nslots >= 2 * v.V && (v.nslots & (v.nslots - 1)) == 0,
              "vocab nslots=%u is a power of two >= 2V", v.nslots);
        static const char *const w[] = {"the", "movie", "good", "bad", "don't", "caf\xc3\xa9"};
        int ok = 1;
        for (uint32_t i = 0; i < 6; i++) ok &= nn_vocab_lookup(&v, w[i], strlen(w[i])) == 4 + i;
        check(ok, "vocab lookup finds every word");
        check(nn_vocab_lookup(&v, "<START>", 7) == NN_START, "vocab lookup special <START>");
        check(nn_vocab_lookup(&v, "unknown", 7) == NN_UNK, "vocab lookup unknown is UNK");
        check(nn_vocab_lookup(&v, "", 0) == NN_UNK, "vocab lookup empty is UNK");
        check(nn_vocab_lookup(&v, "th", 2) == NN_UNK, "vocab lookup prefix is UNK");
        size_t len;
        const char *word = nn_vocab_word(&v, 8, &len);
        check(len == 5 && memcmp(word, "don't", 5) == 0, "vocab word 8 is don't");

        uint32_t ids[16];
        const char *text = "The movie was GOOD, don't ask.";
        size_t n = nn_encode_text(&v, text, strlen(text), 0, ids, 16);
        uint32_t want[] = {NN_START, 4, 5, NN_UNK, 6, 8, NN_UNK};
        check(n == 7 && memcmp(ids, want, sizeof want) == 0, "encode full vocabulary n=%zu", n);
        n = nn_encode_text(&v, text, strlen(text), 6, ids, 16);
        uint32_t want6[] = {NN_START, 4, 5, NN_UNK, NN_UNK, NN_UNK, NN_UNK};
        check(n == 7 && memcmp(ids, want6, sizeof want6) == 0, "encode num_words=6 maps ids>=6 to UNK");
        ids[2] = 12345;
        n = nn_encode_text(&v, text, strlen(text), 0, ids, 2);
        check(n == 7 && ids[0] == NN_START && ids[1] == 4 && ids[2] == 12345,
              "encode cap=2 returns the full count %zu and writes only 2 ids", n);
        ids[0] = 12345;
        n = nn_encode_text(&v, text, strlen(text), 0, ids, 0);
        check(n == 7 && ids[0] == 12345, "encode cap=0 writes nothing");
        n = nn_encode_text(&v, "", 0, 0, ids, 16);
        check(n == 1 && ids[0] == NN_START, "encode empty text is just START");
        nn_vocab_free_index(&v);
        check(v.slots == NULL && v.nslots == 0, "vocab free_index clears");

        uint32_t dup_offset[] = {0, 5, 12, 17, 25, 28, 31};
        static const char dup_words[] = "<PAD><START><UNK><UNUSED>thethe";
        nn_vocab d = {6, count, dup_offset, dup_words, NULL, 0};
        int rc = nn_vocab_index(&d, &err);
        check(rc == NN_ERR_FORMAT && strstr(err.msg, "twice") && d.slots == NULL,
              "vocab duplicate word is a format error: %s", err.msg);

        nn_vocab empty = {0};
        check(nn_vocab_index(&empty, &err) == NN_OK && nn_vocab_lookup(&empty, "the", 3) == NN_UNK,
              "vocab V=0 looks everything up as UNK");
        n = nn_encode_text(&empty, "a b", 3, 0, ids, 16);
        check(n == 3 && ids[1] == NN_UNK && ids[2] == NN_UNK, "encode with V=0 gives UNK ids");
    }

    /* --- a large vocabulary: every one of 60000 words found (probing) */
    {
        uint32_t V = 60000;
        uint32_t *offset = malloc((V + 1) * sizeof *offset), *count = calloc(V, sizeof *count);
        char *bytes = malloc((size_t)V * 8);
        uint32_t at = 0;
        offset[0] = 0;
        for (uint32_t i = 0; i < V; i++) {
            at += (uint32_t)sprintf(bytes + at, "w%u", i);
            offset[i + 1] = at;
        }
        nn_vocab v = {V, count, offset, bytes, NULL, 0};
        nn_error err = {0};
        int rc = nn_vocab_index(&v, &err);
        uint32_t wrong = 0;
        char word[16];
        for (uint32_t i = 0; rc == NN_OK && i < V; i++) {
            int len = sprintf(word, "w%u", i);
            wrong += nn_vocab_lookup(&v, word, (size_t)len) != i;
            len = sprintf(word, "x%u", i);
            wrong += nn_vocab_lookup(&v, word, (size_t)len) != NN_UNK;
        }
        check(rc == NN_OK && wrong == 0, "vocab 60000 words all found, misses=%u (%s)", wrong, err.msg);
        nn_vocab_free_index(&v);
        free(offset), free(count), free(bytes);
    }
    return check_exit_code();
}
