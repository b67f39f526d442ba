/* fuzz_tokenizer.c: libFuzzer target for nn_tokenize_spans, nn_tokenize and
 * nn_encode_text (engine/tokenizer.c) on arbitrary bytes.
 *
 * Besides "no crash, no sanitizer report" it checks the tokenizer's promises
 * from nn.h on every input: spans are increasing and disjoint and lie within
 * the text; a token is 1..NN_MAX_TOKEN_BYTES bytes, equal to its source
 * bytes lowercased (ASCII only), made of word bytes, and neither starts nor
 * ends with an apostrophe; nn_tokenize sees the same tokens; nn_encode_text
 * writes <START> and then exactly the ids the vocabulary gives those tokens
 * (a "mask" token right between '[' and ']' gives [MASK], NN_UNUSED),
 * never more than cap of them, and returns the full count. The last two
 * bytes of the input also choose cap and num_words.
 *
 * Not covered: the vocabulary index with hostile words (fuzz_shard.c and
 * fuzz_checkpoint.c build indexes from file contents). */
#include "fuzz_common.h"

static nn_vocab tokenizer_vocab;

static void tokenizer_vocab_once(void) {
    static fuzz_vocab fv;
    static int ready;
    if (ready) return;
    fuzz_vocab_fill(&fv);
    nn_error err = {0};
    int rc = nn_vocab_index(&fv.v, &err);
    FUZZ_REQUIRE(rc == NN_OK, "the fixed vocabulary does not index: %s", err.msg);
    tokenizer_vocab = fv.v;
    ready = 1;
}

static int tokenizer_word_byte(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '\'' || c >= 0x80;
}

static unsigned char tokenizer_lower(unsigned char c) {
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* What the span callback saw; tokens are compared against nn_tokenize's. */
typedef struct tokenizer_seen {
    const uint8_t *text;
    size_t len;
    size_t count, prev_end;
    uint32_t *ids;          /* (cap) the id the vocabulary gives each token */
    size_t cap;
    uint32_t num_words;
    uint64_t hash;          /* FNV-1a over every token and its length */
} tokenizer_seen;

static uint64_t tokenizer_hash(uint64_t h, const char *tok, size_t len) {
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)tok[i]) * 1099511628211ull;
    return (h ^ len) * 1099511628211ull;
}

static void tokenizer_on_span(const char *tok, size_t len, size_t start, size_t end, void *user) {
    tokenizer_seen *s = user;
    FUZZ_REQUIRE(start >= s->prev_end, "span %zu starts at %zu, before the previous end %zu",
                 s->count, start, s->prev_end);
    FUZZ_REQUIRE(start < end && end <= s->len, "span %zu is [%zu, %zu) in a text of %zu bytes",
                 s->count, start, end, s->len);
    FUZZ_REQUIRE(len == end - start, "span %zu is [%zu, %zu) but its token has %zu bytes",
                 s->count, start, end, len);
    FUZZ_REQUIRE(len <= NN_MAX_TOKEN_BYTES, "token %zu has %zu bytes", s->count, len);
    for (size_t k = 0; k < len; k++) {
        unsigned char src = s->text[start + k], got = (unsigned char)tok[k];
        FUZZ_REQUIRE(got == tokenizer_lower(src), "token %zu byte %zu is 0x%02x, source 0x%02x",
                     s->count, k, got, src);
        FUZZ_REQUIRE(tokenizer_word_byte(got), "token %zu byte %zu is 0x%02x, a separator",
                     s->count, k, got);
    }
    FUZZ_REQUIRE(tok[0] != '\'' && tok[len - 1] != '\'',
                 "token %zu starts or ends with an apostrophe", s->count);
    if (s->count + 1 < s->cap) {
        uint32_t id = nn_vocab_lookup(&tokenizer_vocab, tok, len);
        if (id != NN_UNK) {
            size_t wlen;
            const char *w = nn_vocab_word(&tokenizer_vocab, id, &wlen);
            FUZZ_REQUIRE(wlen == len && memcmp(w, tok, len) == 0, "lookup gave id %u for another word", id);
        } else {
            for (uint32_t i = 0; i < tokenizer_vocab.V; i++) {
                size_t wlen;
                const char *w = nn_vocab_word(&tokenizer_vocab, i, &wlen);
                FUZZ_REQUIRE(i == NN_UNK || wlen != len || memcmp(w, tok, len) != 0,
                             "lookup missed word id %u", i);
            }
        }
        /* The literal "[MASK]" (any case: tokens are lowercased) is the
         * masked-language model's id NN_UNUSED, whatever the vocabulary. */
        if (len == 4 && !memcmp(tok, "mask", 4) && start > 0 && end < s->len &&
            s->text[start - 1] == '[' && s->text[end] == ']')
            id = NN_UNUSED;
        if (s->num_words && id >= s->num_words) id = NN_UNK;
        s->ids[s->count + 1] = id;
    }
    s->hash = tokenizer_hash(s->hash, tok, len);
    s->prev_end = end;
    s->count++;
}

typedef struct tokenizer_plain { size_t count; uint64_t hash; } tokenizer_plain;

static void tokenizer_on_token(const char *tok, size_t len, void *user) {
    tokenizer_plain *p = user;
    p->hash = tokenizer_hash(p->hash, tok, len);
    p->count++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tokenizer_vocab_once();
    const char *text = (const char *)data;
    size_t cap = size ? data[size - 1] % 12 : 3;
    uint32_t num_words = size > 1 ? data[size - 2] % (tokenizer_vocab.V + 1) : 0;

    uint32_t expect[12] = {0};
    tokenizer_seen seen = {data, size, 0, 0, expect, cap, num_words, 14695981039346656037ull};
    size_t n = nn_tokenize_spans(text, size, tokenizer_on_span, &seen);
    FUZZ_REQUIRE(n == seen.count, "nn_tokenize_spans returned %zu but emitted %zu tokens", n, seen.count);
    FUZZ_REQUIRE(nn_tokenize_spans(text, size, NULL, NULL) == n, "counting without a callback differs");

    tokenizer_plain plain = {0, 14695981039346656037ull};
    FUZZ_REQUIRE(nn_tokenize(text, size, tokenizer_on_token, &plain) == n, "nn_tokenize count differs");
    FUZZ_REQUIRE(plain.count == n && plain.hash == seen.hash, "nn_tokenize emits other tokens");
    FUZZ_REQUIRE(nn_tokenize(text, size, NULL, NULL) == n, "nn_tokenize without a callback differs");

    /* Exactly cap ids: ASan reports any write past them. */
    uint32_t *ids = malloc((cap ? cap : 1) * sizeof *ids);
    FUZZ_REQUIRE(ids != NULL, "out of memory");
    size_t total = nn_encode_text(&tokenizer_vocab, text, size, num_words, cap ? ids : NULL, cap);
    FUZZ_REQUIRE(total == n + 1, "nn_encode_text counted %zu ids for %zu tokens", total, n);
    if (cap > 0) {
        expect[0] = NN_START;
        for (size_t i = 0; i < cap && i < total; i++)
            FUZZ_REQUIRE(ids[i] == expect[i], "nn_encode_text id %zu is %u, expected %u", i, ids[i], expect[i]);
    }
    free(ids);
    return 0;
}
