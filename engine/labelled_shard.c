/* labelled_shard.c: the user's labelled file -> a text shard (the rules are
 * in labelled_shard.h).
 *
 * Two passes over the training texts: the first counts each word (a hash
 * table of the words' bytes), the sort makes the vocabulary, the second
 * encodes every text with it (nn_encode_text, the very function that
 * encodes typed text, so the ids agree). Not here: reading files,
 * training. */
#include "labelled_shard.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_VOCAB_SIZE 32768

/* ------------------------------------------------------------ word counts */

typedef struct word_counts {
    char *bytes;
    size_t nbytes, bytes_cap;
    uint32_t *offset;     /* (n+1) */
    uint32_t *count;      /* (n) */
    uint32_t n, cap;
    uint32_t *slots;      /* word + 1, or 0 */
    uint32_t nslots;
    int oom;
} word_counts;

static uint32_t fnv1a(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static int rehash(word_counts *w, uint32_t nslots) {
    uint32_t *slots = nn_calloc_array(nslots, sizeof *slots);
    if (!slots) return 0;
    for (uint32_t i = 0; i < w->n; i++) {
        uint32_t h = fnv1a(w->bytes + w->offset[i], w->offset[i + 1] - w->offset[i]) & (nslots - 1);
        while (slots[h]) h = (h + 1) & (nslots - 1);
        slots[h] = i + 1;
    }
    free(w->slots);
    w->slots = slots;
    w->nslots = nslots;
    return 1;
}

static void count_word(const char *tok, size_t len, void *user) {
    word_counts *w = user;
    if (w->oom) return;
    if (2 * (uint64_t)(w->n + 1) > w->nslots && !rehash(w, w->nslots ? 2 * w->nslots : 1024)) {
        w->oom = 1;
        return;
    }
    uint32_t h = fnv1a(tok, len) & (w->nslots - 1);
    for (; w->slots[h]; h = (h + 1) & (w->nslots - 1)) {
        uint32_t i = w->slots[h] - 1;
        if (w->offset[i + 1] - w->offset[i] == len && !memcmp(w->bytes + w->offset[i], tok, len)) {
            w->count[i]++;
            return;
        }
    }
    if (w->n + 1 >= w->cap) {
        uint32_t cap = w->cap ? 2 * w->cap : 1024;
        uint32_t *off = nn_realloc_array(w->offset, nn_size_add_sat(cap, 1), sizeof *off);
        if (off) w->offset = off;
        uint32_t *cnt = nn_realloc_array(w->count, cap, sizeof *cnt);
        if (cnt) w->count = cnt;
        if (!off || !cnt) {
            w->oom = 1;
            return;
        }
        if (w->n == 0) w->offset[0] = 0;
        w->cap = cap;
    }
    if (w->nbytes + len > w->bytes_cap) {
        size_t cap = w->bytes_cap ? w->bytes_cap : 1 << 16;
        while (cap < w->nbytes + len) cap *= 2;
        char *b = realloc(w->bytes, cap);
        if (!b) {
            w->oom = 1;
            return;
        }
        w->bytes = b;
        w->bytes_cap = cap;
    }
    memcpy(w->bytes + w->nbytes, tok, len);
    w->nbytes += len;
    w->count[w->n] = 1;
    w->offset[++w->n] = (uint32_t)w->nbytes;
    w->slots[h] = w->n;
}

static void word_counts_free(word_counts *w) {
    free(w->bytes);
    free(w->offset);
    free(w->count);
    free(w->slots);
}

static const word_counts *sorting; /* qsort has no user pointer; one build at a time */

/* Count descending, then the bytes (a prefix first): datasets/README.md. */
static int by_count_then_bytes(const void *pa, const void *pb) {
    uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
    const word_counts *w = sorting;
    if (w->count[a] != w->count[b]) return w->count[a] > w->count[b] ? -1 : 1;
    uint32_t la = w->offset[a + 1] - w->offset[a], lb = w->offset[b + 1] - w->offset[b];
    int c = memcmp(w->bytes + w->offset[a], w->bytes + w->offset[b], la < lb ? la : lb);
    if (c) return c;
    return la < lb ? -1 : la > lb;
}

/* The vocabulary arrays (count, offset, bytes) of the V-4 most frequent words. */
static int make_vocab(const word_counts *w, uint32_t vocab_size, uint32_t **count, uint32_t **offset,
                      char **bytes, uint32_t *V) {
    uint32_t *order = nn_malloc_array(nn_size_add_sat(w->n, 1), sizeof *order);
    if (!order) return 0;
    for (uint32_t i = 0; i < w->n; i++) order[i] = i;
    sorting = w;
    qsort(order, w->n, sizeof *order, by_count_then_bytes);
    uint32_t keep = w->n < vocab_size - NN_FIRST_WORD ? w->n : vocab_size - NN_FIRST_WORD;
    static const char *const special[NN_FIRST_WORD] = {"<PAD>", "<START>", "<UNK>", "<UNUSED>"};
    size_t nbytes = 0;
    for (uint32_t k = 0; k < NN_FIRST_WORD; k++) nbytes += strlen(special[k]);
    for (uint32_t k = 0; k < keep; k++) nbytes += w->offset[order[k] + 1] - w->offset[order[k]];
    *V = NN_FIRST_WORD + keep;
    *count = nn_calloc_array(*V, sizeof **count);
    *offset = nn_malloc_array(nn_size_add_sat(*V, 1), sizeof **offset);
    *bytes = nn_malloc_array(nn_size_add_sat(nbytes, 1), 1);
    if (!*count || !*offset || !*bytes) {
        free(order);
        return 0;
    }
    uint32_t at = 0;
    (*offset)[0] = 0;
    for (uint32_t id = 0; id < *V; id++) {
        const char *s;
        uint32_t n;
        if (id < NN_FIRST_WORD) {
            s = special[id];
            n = (uint32_t)strlen(s);
        } else {
            uint32_t i = order[id - NN_FIRST_WORD];
            s = w->bytes + w->offset[i];
            n = w->offset[i + 1] - w->offset[i];
            (*count)[id] = w->count[i];
        }
        memcpy(*bytes + at, s, n);
        at += n;
        (*offset)[id + 1] = at;
    }
    free(order);
    return 1;
}

/* ------------------------------------------------------------------ splits */

typedef struct split_out {
    uint32_t n, cap;
    uint8_t *label, *rating;
    uint32_t *review_id, *offset;
    uint16_t *tokens;
    size_t ntokens, tokens_cap;
} split_out;

static int split_add(split_out *s, uint8_t label, uint32_t line, const uint32_t *ids, size_t n) {
    if (s->n + 1 >= s->cap) {
        uint32_t cap = s->cap ? 2 * s->cap : 256;
        uint8_t *l = realloc(s->label, cap), *r = realloc(s->rating, cap);
        if (l) s->label = l;
        if (r) s->rating = r;
        uint32_t *id = nn_realloc_array(s->review_id, cap, sizeof *id);
        if (id) s->review_id = id;
        uint32_t *off = nn_realloc_array(s->offset, nn_size_add_sat(cap, 1), sizeof *off);
        if (off) s->offset = off;
        if (!l || !r || !id || !off) return 0;
        if (s->n == 0) s->offset[0] = 0;
        s->cap = cap;
    }
    if (s->ntokens + n > s->tokens_cap) {
        size_t cap = s->tokens_cap ? s->tokens_cap : 1 << 14;
        while (cap < s->ntokens + n) cap *= 2;
        uint16_t *t = nn_realloc_array(s->tokens, cap, sizeof *t);
        if (!t) return 0;
        s->tokens = t;
        s->tokens_cap = cap;
    }
    for (size_t k = 0; k < n; k++) s->tokens[s->ntokens + k] = (uint16_t)ids[k];
    s->ntokens += n;
    s->label[s->n] = label;
    s->rating[s->n] = 0;
    s->review_id[s->n] = line;
    s->offset[++s->n] = (uint32_t)s->ntokens;
    return 1;
}

static void split_free(split_out *s) {
    free(s->label);
    free(s->rating);
    free(s->review_id);
    free(s->offset);
    free(s->tokens);
}

static void split_view(nn_split *dst, const char *name, const split_out *s) {
    static const uint32_t zero = 0;
    memset(dst, 0, sizeof *dst);
    strcpy(dst->name, name);
    dst->n = s->n;
    dst->label = s->label;
    dst->rating = s->rating;
    dst->review_id = s->review_id;
    dst->offset = s->n ? s->offset : &zero;
    dst->tokens = s->tokens;
}

/* ------------------------------------------------------------- the build */

static uint32_t text_hash(const char *t, size_t n) { return fnv1a(t, n); }

/* Test examples (held out of lt, or the test file's) whose text is the text
 * of a training example; 0 when out of memory (it is only a report). */
static uint32_t count_test_in_train(const nn_labelled_text *lt, const uint8_t *held,
                                    const nn_labelled_text *test) {
    uint32_t nslots = 16, found = 0;
    while (nslots < 2 * lt->n) nslots *= 2;
    uint32_t *slot = nn_calloc_array(nslots, sizeof *slot); /* training example + 1 */
    if (!slot) return 0;
    for (uint32_t i = 0; i < lt->n; i++) {
        if (held[i] || lt->duplicate[i]) continue;
        size_t n;
        const char *t = nn_labelled_text_example(lt, i, &n);
        uint32_t h = text_hash(t, n) & (nslots - 1);
        while (slot[h]) h = (h + 1) & (nslots - 1);
        slot[h] = i + 1;
    }
    const nn_labelled_text *src = test ? test : lt;
    for (uint32_t i = 0; i < src->n; i++) {
        if (src->duplicate[i] || (!test && !held[i])) continue;
        size_t n;
        const char *t = nn_labelled_text_example(src, i, &n);
        for (uint32_t h = text_hash(t, n) & (nslots - 1); slot[h]; h = (h + 1) & (nslots - 1)) {
            size_t m;
            const char *u = nn_labelled_text_example(lt, slot[h] - 1, &m);
            if (m == n && !memcmp(t, u, n)) {
                found++;
                break;
            }
        }
    }
    free(slot);
    return found;
}

void nn_labelled_shard_report_free(nn_labelled_shard_report *rep) {
    if (!rep) return;
    nn_labelled_text_free(&rep->text);
    nn_labelled_text_free(&rep->test_text);
    memset(rep, 0, sizeof *rep);
}

/* The test file's class c as a class of the training file, or -1: the same
 * name, or both binary words of the same side (neg and 0). */
static int map_test_class(const nn_labelled_text *train, const nn_labelled_text *test, uint32_t c) {
    const char *name = test->class_name[c];
    int side = nn_labelled_text_binary_label(name, strlen(name));
    for (uint32_t k = 0; k < train->classes; k++) {
        const char *t = train->class_name[k];
        if (!strcmp(t, name)) return (int)k;
        if (side >= 0 && train->classes == 2 && nn_labelled_text_binary_label(t, strlen(t)) == side)
            return (int)k;
    }
    return -1;
}

int nn_labelled_shard_build(const char *buf, size_t len, const char *test_buf, size_t test_len,
                            const nn_labelled_shard_options *opt, uint8_t **out, size_t *out_len,
                            nn_labelled_shard_report *rep, nn_error *err) {
    *out = NULL;
    *out_len = 0;
    memset(rep, 0, sizeof *rep);
    uint32_t vocab_size = opt->vocab_size ? opt->vocab_size : DEFAULT_VOCAB_SIZE;
    uint32_t max_tokens = opt->max_tokens ? opt->max_tokens : NN_SHARD_MAX_TOKENS;
    if (vocab_size < NN_FIRST_WORD + 1 || vocab_size > 65536)
        return nn_fail(err, NN_ERR_ARG, "vocab_size %u: must be 5-65536", vocab_size);
    if (max_tokens < 2 || max_tokens > NN_SHARD_MAX_TOKENS)
        return nn_fail(err, NN_ERR_ARG, "max_tokens %u: must be 2-%d", max_tokens, NN_SHARD_MAX_TOKENS);
    if (!(opt->test_share >= 0 && opt->test_share <= 0.5f))
        return nn_fail(err, NN_ERR_ARG, "test share %g: must be 0 to 0.5", (double)opt->test_share);
    if (test_buf && opt->test_share > 0)
        return nn_fail(err, NN_ERR_ARG, "a test file and a test share: choose one");

    int rc = nn_labelled_text_parse_classes(&rep->text, buf, len, opt->format, err);
    if (!rc) rc = nn_labelled_text_check_training(&rep->text, err);
    if (rc) return rc;
    const nn_labelled_text *lt = &rep->text;
    uint32_t K = lt->classes;
    rep->classes = K;
    int test_map[NN_MAX_TEXT_CLASSES];
    if (test_buf) {
        rc = nn_labelled_text_parse_classes(&rep->test_text, test_buf, test_len, opt->format, err);
        if (rc) return rc;
        const nn_labelled_text *tt = &rep->test_text;
        if (tt->nul_line)
            return nn_fail(err, NN_ERR_ARG, "the test file has a NUL byte on line %u: it is not a "
                           "text file", tt->nul_line);
        if (tt->n == 0)
            return nn_fail(err, NN_ERR_ARG, "the test file has no example%s%s",
                           tt->nproblems ? "; its first problem: " : " (it is empty)",
                           tt->nproblems ? tt->problem[0].reason : "");
        if (tt->too_many_classes)
            return nn_fail(err, NN_ERR_ARG, "the test file has more than %d labels", NN_MAX_TEXT_CLASSES);
        for (uint32_t c = 0; c < tt->classes; c++)
            if ((test_map[c] = map_test_class(lt, tt, c)) < 0)
                return nn_fail(err, NN_ERR_ARG, "the test file's label \"%s\" (line %u) is not a "
                               "class of the training file", tt->class_name[c], tt->class_line[c]);
    }

    /* Which examples are held out: a seeded share of each class. */
    uint8_t *held = nn_calloc_array(nn_size_add_sat(lt->n, 1), 1);
    uint32_t *members = nn_malloc_array(nn_size_add_sat(lt->n, 1), sizeof *members);
    word_counts words = {0};
    split_out train = {0}, test = {0};
    uint32_t *ids = nn_malloc_array(max_tokens, sizeof *ids);
    uint32_t *vcount = NULL, *voffset = NULL;
    char *vbytes = NULL;
    if (!held || !members || !ids) {
        rc = nn_fail(err, NN_ERR_NOMEM, "out of memory building the shard");
        goto done;
    }
    if (opt->test_share > 0) {
        nn_rng rng;
        nn_rng_seed(&rng, opt->seed);
        for (uint32_t c = 0; c < K; c++) {
            uint32_t m = 0;
            for (uint32_t i = 0; i < lt->n; i++)
                if (lt->label[i] == c && !lt->duplicate[i]) members[m++] = i;
            nn_rng_shuffle_u32(&rng, members, m);
            uint32_t take = (uint32_t)(opt->test_share * (float)m + 0.5f);
            if (take >= m) take = m - 1;
            for (uint32_t k = 0; k < take; k++) held[members[k]] = 1;
        }
    }

    /* The vocabulary: the training texts' words. */
    for (uint32_t i = 0; i < lt->n && !words.oom; i++) {
        if (held[i] || lt->duplicate[i]) continue;
        size_t n;
        const char *t = nn_labelled_text_example(lt, i, &n);
        nn_tokenize(t, n, count_word, &words);
    }
    uint32_t V = 0;
    if (words.oom || !make_vocab(&words, vocab_size, &vcount, &voffset, &vbytes, &V)) {
        rc = nn_fail(err, NN_ERR_NOMEM, "out of memory counting the words");
        goto done;
    }
    rep->words = words.n;
    rep->V = V;
    nn_vocab vocab = {V, vcount, voffset, vbytes, NULL, 0};
    if ((rc = nn_vocab_index(&vocab, err))) goto done;

    /* The splits, in file order. */
    for (int file = 0; file < 2; file++) {
        const nn_labelled_text *src = file ? &rep->test_text : lt;
        if (file && !test_buf) break;
        for (uint32_t i = 0; i < src->n; i++) {
            if (src->duplicate[i]) {
                rep->duplicates++;
                continue;
            }
            size_t n;
            const char *t = nn_labelled_text_example(src, i, &n);
            size_t all = nn_encode_text(&vocab, t, n, 0, ids, max_tokens);
            if (all > max_tokens) rep->cut++;
            size_t kept = all < max_tokens ? all : max_tokens;
            int to_test = file || held[i];
            uint8_t label = file ? (uint8_t)test_map[src->label[i]] : src->label[i];
            if (!split_add(to_test ? &test : &train, label, src->line[i], ids, kept)) {
                rc = nn_fail(err, NN_ERR_NOMEM, "out of memory building the shard");
                nn_vocab_free_index(&vocab);
                goto done;
            }
            (to_test ? rep->test_count : rep->train_count)[label]++;
        }
    }
    nn_vocab_free_index(&vocab);
    rep->train = train.n;
    rep->test_in_train = count_test_in_train(lt, held, test_buf ? &rep->test_text : NULL);
    rep->test = test.n;

    nn_shard s;
    memset(&s, 0, sizeof s);
    s.max_tokens = max_tokens;
    s.vocab = (nn_vocab){V, vcount, voffset, vbytes, NULL, 0};
    s.classes = K;
    for (uint32_t c = 0; c < K; c++) {
        s.class_name[c] = lt->class_name[c];
        s.class_name_len[c] = (uint32_t)strlen(lt->class_name[c]);
    }
    split_view(&s.split[s.nsplits++], "train", &train);
    if (test.n) split_view(&s.split[s.nsplits++], "test", &test);
    rc = nn_shard_write(&s, out, out_len, err);
done:
    free(held);
    free(members);
    free(ids);
    free(vcount);
    free(voffset);
    free(vbytes);
    word_counts_free(&words);
    split_free(&train);
    split_free(&test);
    return rc;
}

int nn_labelled_shard_recipe(nn_config *c, const nn_shard *s, nn_error *err) {
    const nn_split *train = nn_shard_find(s, "train");
    if (!train || train->n < 4)
        return nn_fail(err, NN_ERR_ARG, "the shard has %u training examples; a model needs at "
                       "least 4 (some validate)", train ? train->n : 0);
    nn_config_preset(c, "ngram");
    c->classes = s->classes;
    c->val_size = (uint32_t)(0.2 * train->n + 0.5);
    if (c->val_size < 1) c->val_size = 1;
    c->vocab_size = s->vocab.V < 32768 ? s->vocab.V : 32768;
    uint32_t longest = 1;
    for (uint32_t i = 0; i < train->n; i++)
        if (train->offset[i + 1] - train->offset[i] > longest) longest = train->offset[i + 1] - train->offset[i];
    c->maxlen = longest < 1024 ? longest : 1024;
    /* The bigram table: no more rows than the training texts have distinct
     * adjacent pairs (a 5,000-sentence file has tens of thousands, not the
     * preset's 200,000), so the model and its checkpoint stay small. */
    uint32_t nslots = 1024;
    while (nslots < 2 * train->offset[train->n] && nslots < (1u << 24)) nslots *= 2;
    uint32_t *set = nn_calloc_array(nslots, sizeof *set), pairs = 0;
    if (!set) return nn_fail(err, NN_ERR_NOMEM, "out of memory counting bigrams");
    for (uint32_t i = 0; i < train->n; i++)
        for (uint32_t k = train->offset[i] + 2; k < train->offset[i + 1] && pairs < nslots / 2; k++) {
            uint32_t key = (uint32_t)train->tokens[k - 1] * 65536u + train->tokens[k];
            uint32_t h = (key * 2654435761u) & (nslots - 1);
            while (set[h] && set[h] != key) h = (h + 1) & (nslots - 1);
            if (!set[h]) set[h] = key, pairs++;
        }
    free(set);
    if (pairs < c->bigrams) c->bigrams = pairs ? pairs : 1;
    c->epochs = 20;
    c->patience = 2;
    c->restore_best_weights = 1;
    return NN_OK;
}

int nn_labelled_shard_class_of(const nn_shard *s, const char *name, size_t len) {
    int side = nn_labelled_text_binary_label(name, len);
    for (uint32_t k = 0; k < s->classes && s->class_name[k]; k++) {
        const char *t = s->class_name[k];
        size_t n = s->class_name_len[k];
        if (n == len && !memcmp(t, name, len)) return (int)k;
        if (side >= 0 && s->classes == 2 && nn_labelled_text_binary_label(t, n) == side) return (int)k;
    }
    return -1;
}
