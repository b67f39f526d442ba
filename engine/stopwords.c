/* stopwords.c: the stop-word setting, its expansion, the id filter and the
 * filtered text encoder (see stopwords.h for the rules).
 *
 * The filter is a bitmap over the vocabulary's ids, so removing stop words
 * from a review is one table lookup per id, the same natively and in wasm.
 * Not here: where the filter is applied (the trainer pads with it, the wasm
 * boundary and imdb_predict score with it). */
#include "stopwords.h"

#include <stdlib.h>
#include <string.h>

static const char ENGLISH[] =
    "i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself "
    "yourselves he him his himself she she's her hers herself it it's its itself they them their "
    "theirs themselves what which who whom this that that'll these those am is are was were be "
    "been being have has had having do does did doing a an the and but if or because as until "
    "while of at by for with about against between into through during before after above below "
    "to from up down in out on off over under again further then once here there when where why "
    "how all any both each few more most other some such no nor not only own same so than too "
    "very s t can will just don don't should should've now d ll m o re ve y ain aren aren't "
    "couldn couldn't didn didn't doesn doesn't hadn hadn't hasn hasn't haven haven't isn isn't ma "
    "mightn mightn't mustn mustn't needn needn't shan shan't shouldn shouldn't wasn wasn't weren "
    "weren't won won't wouldn wouldn't";

const char *nn_stopwords_english(void) { return ENGLISH; }

/* ----------------------------------------------------------- the word list */

/* The expanded list: words in order of first addition, each once; a removed
 * word keeps its slot (marked) so adding it again restores its place. */
typedef struct word_list {
    char (*word)[NN_MAX_TOKEN_BYTES];
    uint8_t *len;
    uint8_t *gone;
    size_t n, cap;
    int nomem;
} word_list;

static long find_word(const word_list *l, const char *w, size_t len) {
    for (size_t i = 0; i < l->n; i++)
        if (l->len[i] == len && memcmp(l->word[i], w, len) == 0) return (long)i;
    return -1;
}

typedef struct list_edit {
    word_list *list;
    int remove;
} list_edit;

static void edit_token(const char *tok, size_t len, void *user) {
    list_edit *e = user;
    word_list *l = e->list;
    if (l->nomem) return;
    long at = find_word(l, tok, len);
    if (e->remove) {
        if (at >= 0) l->gone[at] = 1;
        return;
    }
    if (at >= 0) {
        l->gone[at] = 0;
        return;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        char(*word)[NN_MAX_TOKEN_BYTES] = nn_realloc_array(l->word, cap, sizeof *word);
        if (word) l->word = word;
        uint8_t *lens = realloc(l->len, cap);
        if (lens) l->len = lens;
        uint8_t *gone = realloc(l->gone, cap);
        if (gone) l->gone = gone;
        if (!word || !lens || !gone) {
            l->nomem = 1;
            return;
        }
        l->cap = cap;
    }
    memcpy(l->word[l->n], tok, len);
    l->len[l->n] = (uint8_t)len;
    l->gone[l->n] = 0;
    l->n++;
}

static void free_list(word_list *l) {
    free(l->word);
    free(l->len);
    free(l->gone);
    memset(l, 0, sizeof *l);
}

static int is_delimiter(char c) {
    return c == ' ' || c == ',' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int equals_ignoring_case(const char *a, size_t n, const char *lit) {
    size_t m = strlen(lit);
    if (n != m) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = a[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
        if (c != lit[i]) return 0;
    }
    return 1;
}

static void count_token(const char *tok, size_t len, void *user) {
    (void)tok;
    (void)len;
    (*(size_t *)user)++;
}

/* Walks the items of spec; with list != NULL also applies them to it. */
static int walk_spec(const char *spec, word_list *list, nn_error *err) {
    if (!spec) return NN_OK;
    size_t total = strlen(spec);
    if (total >= NN_STOPWORDS_SPEC_MAX)
        return nn_fail(err, NN_ERR_ARG,
                       "the stop-word list is %zu bytes, more than the %d allowed; shorten it "
                       "(\"@english\" stands for the whole built-in list, \"-word\" takes a word out)",
                       total, NN_STOPWORDS_SPEC_MAX - 1);
    size_t i = 0;
    while (i < total) {
        while (i < total && is_delimiter(spec[i])) i++;
        if (i == total) break;
        size_t start = i;
        while (i < total && !is_delimiter(spec[i])) i++;
        const char *item = spec + start;
        size_t n = i - start;
        int shown = n > 40 ? 40 : (int)n;
        if (item[0] == '@') {
            if (!equals_ignoring_case(item, n, "@english"))
                return nn_fail(err, NN_ERR_ARG,
                               "unknown stop-word list \"%.*s\"; the built-in list is \"@english\"",
                               shown, item);
            if (list) {
                list_edit e = {list, 0};
                nn_tokenize(ENGLISH, sizeof ENGLISH - 1, edit_token, &e);
            }
            continue;
        }
        int remove = item[0] == '-';
        const char *word = item + (item[0] == '-' || item[0] == '+');
        size_t wlen = n - (size_t)(word - item);
        size_t tokens = 0;
        nn_tokenize(word, wlen, count_token, &tokens);
        if (tokens == 0)
            return nn_fail(err, NN_ERR_ARG,
                           "stop-word item \"%.*s\" holds no word (words are letters, digits and "
                           "apostrophes); remove it from the list",
                           shown, item);
        if (list) {
            list_edit e = {list, remove};
            nn_tokenize(word, wlen, edit_token, &e);
        }
    }
    if (list && list->nomem)
        return nn_fail(err, NN_ERR_NOMEM, "out of memory reading the stop-word list");
    return NN_OK;
}

int nn_stopwords_check(const char *spec, nn_error *err) { return walk_spec(spec, NULL, err); }

int nn_stopwords_expand(const char *spec, char **out, uint32_t *nwords, nn_error *err) {
    *out = NULL;
    if (nwords) *nwords = 0;
    word_list l = {0};
    int rc = walk_spec(spec, &l, err);
    if (rc) {
        free_list(&l);
        return rc;
    }
    size_t bytes = 1;
    uint32_t kept = 0;
    for (size_t i = 0; i < l.n; i++)
        if (!l.gone[i]) bytes += l.len[i] + 1u, kept++;
    char *s = malloc(bytes);
    if (!s) {
        free_list(&l);
        return nn_fail(err, NN_ERR_NOMEM, "out of memory expanding the stop-word list");
    }
    size_t at = 0;
    for (size_t i = 0; i < l.n; i++) {
        if (l.gone[i]) continue;
        if (at) s[at++] = ' ';
        memcpy(s + at, l.word[i], l.len[i]);
        at += l.len[i];
    }
    s[at] = 0;
    free_list(&l);
    *out = s;
    if (nwords) *nwords = kept;
    return NN_OK;
}

/* --------------------------------------------------------------- filter */

int nn_stopwords_build(nn_stopwords *s, const char *spec, const nn_vocab *v, nn_error *err) {
    memset(s, 0, sizeof *s);
    word_list l = {0};
    int rc = walk_spec(spec, &l, err);
    if (rc) {
        free_list(&l);
        return rc;
    }
    uint32_t kept = 0;
    for (size_t i = 0; i < l.n; i++) kept += !l.gone[i];
    if (kept == 0) {
        free_list(&l);
        return NN_OK;
    }
    s->V = v->V;
    s->bits = calloc((size_t)(((uint64_t)v->V + 7) / 8 + 1), 1); /* no wrap: at most 2^29 + 1 */
    if (!s->bits) {
        free_list(&l);
        return nn_fail(err, NN_ERR_NOMEM, "out of memory building the stop-word filter");
    }
    for (size_t i = 0; i < l.n; i++) {
        if (l.gone[i]) continue;
        s->nwords++;
        uint32_t id = nn_vocab_lookup(v, l.word[i], l.len[i]);
        if (id < NN_FIRST_WORD) continue; /* not in the vocabulary: <UNK> stays */
        if (!((s->bits[id >> 3] >> (id & 7)) & 1)) s->nids++;
        s->bits[id >> 3] |= (uint8_t)(1u << (id & 7));
    }
    free_list(&l);
    return NN_OK;
}

void nn_stopwords_free(nn_stopwords *s) {
    if (!s) return;
    free(s->bits);
    memset(s, 0, sizeof *s);
}

size_t nn_stopwords_filter(const nn_stopwords *s, uint16_t *out, const uint16_t *ids, size_t n) {
    if (!s || !s->bits) {
        if (out != ids) memmove(out, ids, n * sizeof *ids);
        return n;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!nn_is_stopword(s, ids[i])) out[k++] = ids[i];
    return k;
}

uint32_t nn_token_id(const nn_vocab *v, const nn_stopwords *s, const char *tok, size_t len,
                     uint32_t num_words) {
    uint32_t id = nn_vocab_lookup(v, tok, len);
    if (nn_is_stopword(s, id)) return NN_STOPPED;
    if (num_words && id >= num_words) id = NN_UNK;
    return id;
}

typedef struct encode_stop {
    const nn_vocab *v;
    const nn_stopwords *s;
    uint32_t num_words;
    uint32_t *ids;
    size_t cap, n;
} encode_stop;

static void encode_stop_token(const char *tok, size_t len, void *user) {
    encode_stop *e = user;
    uint32_t id = nn_token_id(e->v, e->s, tok, len, e->num_words);
    if (id == NN_STOPPED) return;
    if (e->n < e->cap) e->ids[e->n] = id;
    e->n++;
}

size_t nn_encode_text_stop(const nn_vocab *v, const nn_stopwords *s, const char *text, size_t len,
                           uint32_t num_words, uint32_t *ids, size_t cap) {
    encode_stop e = {v, s, num_words, ids, cap, 1};
    if (cap > 0) ids[0] = NN_START;
    nn_tokenize(text, len, encode_stop_token, &e);
    return e.n;
}
