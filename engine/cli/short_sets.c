/* short_sets.c: the short-review sets (short_sets.h): first sentences read
 * from the archive, the cut test reviews scored, their metrics. */
#include "short_sets.h"
#include "archive.h"
#include "../metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_word_byte(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

static int is_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int is_line_break(const char *text, size_t n, size_t i) {
    return i + 3 <= n && text[i] == '<' && (text[i + 1] | 0x20) == 'b' && (text[i + 2] | 0x20) == 'r';
}

/* Whether the word that ends just before byte i is an initial or one of the
 * abbreviations a '.' does not end a sentence after. */
static int is_abbreviation(const char *text, size_t i) {
    static const char *const abbr[] = {"mr", "mrs", "ms", "dr", "st", "jr", "sr", "vs", "mt"};
    size_t start = i;
    while (start > 0 && is_word_byte((unsigned char)text[start - 1])) start--;
    size_t len = i - start;
    if (len == 1 && !(text[start] >= '0' && text[start] <= '9')) return 1;
    for (size_t k = 0; k < sizeof abbr / sizeof abbr[0]; k++) {
        if (strlen(abbr[k]) != len) continue;
        size_t j = 0;
        while (j < len && (text[start + j] | 0x20) == abbr[k][j]) j++;
        if (j == len) return 1;
    }
    return 0;
}

size_t nn_first_sentence_len(const char *text, size_t n) {
    int seen_word = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        if (is_word_byte(c)) {
            seen_word = 1;
            continue;
        }
        if (!seen_word) continue;
        if (c == '<' && is_line_break(text, n, i)) return i;
        if (c != '.' && c != '!' && c != '?') continue;
        size_t j = i;
        while (j < n && (text[j] == '.' || text[j] == '!' || text[j] == '?')) j++;
        int single_dot = j == i + 1 && c == '.';
        while (j < n && (text[j] == '"' || text[j] == '\'' || text[j] == ')' || text[j] == ']')) j++;
        if (j < n && !is_space((unsigned char)text[j]) && !is_line_break(text, n, j)) {
            i = j - 1;
            continue;
        }
        if (single_dot && is_abbreviation(text, i)) continue;
        return j;
    }
    return n;
}

typedef struct first_sentence {
    uint8_t label;
    uint32_t id, words, total;
} first_sentence;

typedef struct sentence_walk {
    first_sentence *rows;
    size_t n, cap;
    int oom;
} sentence_walk;

/* "test/pos/<id>_<rating>.txt" or "test/neg/...": label and id. */
static int parse_test_name(const char *path, uint8_t *label, uint32_t *id) {
    if (!strncmp(path, "test/pos/", 9)) *label = 1;
    else if (!strncmp(path, "test/neg/", 9)) *label = 0;
    else return 0;
    const char *p = path + 9;
    uint64_t a = 0;
    if (*p < '0' || *p > '9') return 0;
    while (*p >= '0' && *p <= '9' && a <= UINT32_MAX) a = a * 10 + (uint64_t)(*p++ - '0');
    if (*p != '_' || a > UINT32_MAX || strchr(p, '/') || !strstr(p, ".txt")) return 0;
    *id = (uint32_t)a;
    return 1;
}

static int want_test_review(const char *path, void *user) {
    (void)user;
    uint8_t label;
    uint32_t id;
    return parse_test_name(path, &label, &id);
}

static int on_test_review(const nn_archive_file *f, void *user, nn_error *err) {
    sentence_walk *w = user;
    first_sentence r;
    if (!parse_test_name(f->path, &r.label, &r.id)) return NN_OK;
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 1024;
        first_sentence *rows = nn_realloc_array(w->rows, cap, sizeof *rows);
        if (!rows) return nn_fail(err, NN_ERR_NOMEM, "out of memory after %zu test reviews", w->n);
        w->rows = rows;
        w->cap = cap;
    }
    const char *text = (const char *)f->data;
    /* nn_tokenize with no callback only counts. */
    r.words = (uint32_t)nn_tokenize(text, nn_first_sentence_len(text, f->len), NULL, NULL);
    r.total = (uint32_t)nn_tokenize(text, f->len, NULL, NULL);
    w->rows[w->n++] = r;
    return NN_OK;
}

/* The shard's order: negatives by id, then positives by id (datasets/README.md). */
static int by_label_id(const void *pa, const void *pb) {
    const first_sentence *a = pa, *b = pb;
    if (a->label != b->label) return a->label < b->label ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

int nn_first_sentence_words(const char *source, const nn_split *test, uint32_t *words, nn_error *err) {
    sentence_walk w = {0};
    int rc = nn_archive_read(source, want_test_review, on_test_review, &w, err);
    if (rc) goto done;
    qsort(w.rows, w.n, sizeof *w.rows, by_label_id);
    if (w.n != test->n) {
        rc = nn_fail(err, NN_ERR_FORMAT, "%s has %zu test reviews, the shard %u: build the shard from "
                     "this archive (imdb_build_shard --source ...)", source, w.n, test->n);
        goto done;
    }
    for (uint32_t i = 0; i < test->n; i++) {
        uint32_t stored = test->offset[i + 1] - test->offset[i] - 1;
        uint32_t total = w.rows[i].total;
        /* A stored review is its tokens, or their first max_tokens - 1 (1,024 at least). */
        if (w.rows[i].label != test->label[i] || !(stored == total || (stored < total && stored + 1 >= 1024))) {
            rc = nn_fail(err, NN_ERR_FORMAT, "test review %u (%s, id %u) has %u tokens in %s but %u in "
                         "the shard: build the shard from this archive (imdb_build_shard --source ...)",
                         i, w.rows[i].label ? "pos" : "neg", w.rows[i].id, total, source, stored);
            goto done;
        }
        words[i] = w.rows[i].words;
    }
done:
    free(w.rows);
    return rc;
}

int nn_short_logits(nn_model *m, const nn_split *sp, const nn_stopwords *stop, const uint32_t *cut,
                    uint32_t words, float *logit, double *mean_words, nn_error *err) {
    const nn_config *c = &m->cfg;
    uint32_t n = sp->n, T = c->maxlen, B = m->Bmax;
    uint16_t *kept = malloc(NN_SHARD_MAX_TOKENS * sizeof *kept);
    uint16_t *rows = nn_malloc_array(nn_size_mul_sat(B, T), sizeof *rows);
    double read = 0;
    int rc = NN_OK;
    if (!kept || !rows) {
        rc = nn_fail(err, NN_ERR_NOMEM, "out of memory for the short-review set");
        goto done;
    }
    for (uint32_t i = 0; i < n; i += B) {
        uint32_t b = n - i < B ? n - i : B;
        for (uint32_t k = 0; k < b; k++) {
            uint32_t r = i + k;
            const uint16_t *tok = sp->tokens + sp->offset[r];
            size_t len = sp->offset[r + 1] - sp->offset[r];
            if (cut && len > (size_t)cut[r] + 1) len = (size_t)cut[r] + 1; /* <START> and the sentence */
            if (stop) {
                len = nn_stopwords_filter(stop, kept, tok, len);
                tok = kept;
            }
            if (!cut && words && len > (size_t)words + 1) len = (size_t)words + 1;
            read += (double)(len - 1);
            nn_pad_review(rows + (size_t)k * T, tok, len, c);
        }
        nn_model_forward(m, rows, b);
        memcpy(logit + i, m->logit, b * sizeof *logit);
    }
    if (mean_words) *mean_words = n ? read / n : 0;
done:
    free(kept);
    free(rows);
    return rc;
}

int nn_short_metrics_of(nn_short_metrics *out, const float *logit, const nn_split *sp, double T,
                        nn_error *err) {
    uint32_t n = sp->n, correct = 0;
    if (!n) return nn_fail(err, NN_ERR_ARG, "no reviews to measure");
    float *score = nn_malloc_array(n, sizeof *score), *scaled = nn_malloc_array(n, sizeof *scaled);
    uint8_t *y = malloc(n);
    uint32_t *order = nn_malloc_array(n, sizeof *order), *scratch = nn_malloc_array(n, sizeof *scratch);
    int rc = NN_OK;
    if (!score || !scaled || !y || !order || !scratch) {
        rc = nn_fail(err, NN_ERR_NOMEM, "out of memory for the short-review metrics");
        goto done;
    }
    for (uint32_t i = 0; i < n; i++) {
        y[i] = sp->label[i] == 1;
        score[i] = 1.0f / (1.0f + expf(-logit[i]));
        scaled[i] = (float)(logit[i] / T);
        correct += (logit[i] > 0) == y[i];
    }
    nn_sort_scores_desc(order, scratch, score, n);
    out->accuracy = n ? (double)correct / n : NAN;
    out->auc = nn_roc_auc(score, y, order, n);
    out->log_loss = nn_log_loss_logits(logit, y, n);
    out->log_loss_t = nn_log_loss_logits(scaled, y, n);
done:
    free(score);
    free(scaled);
    free(y);
    free(order);
    free(scratch);
    return rc;
}

int nn_short_subset(nn_split *out, const nn_split *sp, const uint32_t *source, uint32_t n, nn_error *err) {
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", "subset");
    size_t total = 0;
    for (uint32_t i = 0; i < n; i++) total += sp->offset[source[i] + 1] - sp->offset[source[i]];
    uint8_t *label = malloc(n ? n : 1);
    uint32_t *offset = nn_malloc_array(nn_size_add_sat(n, 1), sizeof *offset);
    uint16_t *tokens = nn_malloc_array(total ? total : 1, sizeof *tokens);
    if (!label || !offset || !tokens) {
        free(label);
        free(offset);
        free(tokens);
        return nn_fail(err, NN_ERR_NOMEM, "out of memory copying %u reviews", n);
    }
    offset[0] = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t r = source[i], len = sp->offset[r + 1] - sp->offset[r];
        label[i] = sp->label[r];
        memcpy(tokens + offset[i], sp->tokens + sp->offset[r], len * sizeof *tokens);
        offset[i + 1] = offset[i] + len;
    }
    out->n = n;
    out->label = label;
    out->offset = offset;
    out->tokens = tokens;
    return NN_OK;
}

void nn_short_split_free(nn_split *s) {
    free((void *)s->label);
    free((void *)s->offset);
    free((void *)s->tokens);
    memset(s, 0, sizeof *s);
}
