/* review_text.c: decoding stored reviews to text and explaining a review
 * word by word, for the page (review_text.h). */
#include "review_text.h"

#include "labelled_text.h"
#include "model_head.h"
#include "result_layouts.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void nn_review_text_free(nn_review_text *r) {
    free(r->text);
    free(r->rows);
    memset(r, 0, sizeof *r);
}

/* Appends n bytes to r->text; 0 when out of memory. */
static int text_add(nn_review_text *r, const char *str, size_t n) {
    if (r->len + n + 1 > r->text_cap) {
        size_t cap = r->text_cap ? r->text_cap : 256;
        while (cap < r->len + n + 1) cap *= 2;
        char *p = realloc(r->text, cap);
        if (!p) return 0;
        r->text = p;
        r->text_cap = cap;
    }
    memcpy(r->text + r->len, str, n);
    r->len += n;
    r->text[r->len] = 0;
    return 1;
}

/* Room for k + 1 rows (so the rows pointer is never NULL after a call). */
static int reserve_rows(nn_review_text *r, size_t k) {
    if (k + 1 <= r->rows_cap) return 1;
    float *rows = nn_realloc_array(r->rows, nn_size_mul_sat(nn_size_add_sat(k, 1), NN_EXPLAIN_ROW_LEN), sizeof *rows);
    if (!rows) return 0;
    r->rows = rows;
    r->rows_cap = k + 1;
    return 1;
}

static float sigmoid(float z) { return 1.0f / (1.0f + expf(-z)); }

/* Scores ids (n, <START> first) with m and writes each kept row's
 * contribution (rows with id >= 0, in order). */
static void explain_ids(nn_review_text *r, nn_model *m, nn_diagnosis *logits_of, const uint32_t *ids,
                        size_t n, float *contrib) {
    /* K classes: toward the top class (the diagnosis is two-class only). */
    r->cls = logits_of || nn_model_classes(m) == 2 ? 1 : nn_head_classify(m, ids, n, NULL);
    r->score = logits_of ? sigmoid(nn_diagnosis_explain(logits_of, m, ids, n, contrib))
                         : nn_model_explain_class(m, ids, n, r->cls, contrib);
    for (size_t i = 0, j = 1; i < r->k; i++) {
        float *row = r->rows + i * NN_EXPLAIN_ROW_LEN;
        if (row[NN_EXPLAIN_ROW_ID] >= 0) row[NN_EXPLAIN_ROW_CONTRIBUTION] = contrib[j++];
    }
}

void nn_review_mark_cut(float *rows, size_t k, size_t nids, const nn_config *cfg) {
    for (size_t i = 0, j = 1; i < k; i++) {
        float *row = rows + i * NN_EXPLAIN_ROW_LEN;
        if (row[NN_EXPLAIN_ROW_ID] < 0) continue; /* a stop word */
        if (nn_padded_position(j, nids, cfg) < 0) row[NN_EXPLAIN_ROW_ID] = -2.0f;
        j++;
    }
}

int nn_review_decode(nn_review_text *r, const nn_split *sp, uint32_t i, const nn_vocab *v, uint32_t V,
                     nn_error *err) {
    if (i >= sp->n)
        return nn_fail(err, NN_ERR_ARG, "review %u is out of range: split '%s' has %u reviews", i, sp->name,
                       sp->n);
    if (V > v->V) V = v->V;
    r->len = 0;
    int ok = text_add(r, "", 0);
    for (uint32_t j = sp->offset[i]; j < sp->offset[i + 1] && ok; j++) {
        uint32_t id = sp->tokens[j];
        if (id == NN_START || id == NN_PAD) continue;
        if (id >= V) id = NN_UNK;
        size_t len = 0;
        const char *w = nn_vocab_word(v, id, &len);
        if (r->len) ok &= text_add(r, " ", 1);
        ok &= text_add(r, w, len);
    }
    return ok ? NN_OK : nn_fail(err, NN_ERR_NOMEM, "out of memory decoding review %u", i);
}

/* Whether a token (lowercased by the tokenizer) is on the built-in English
 * stop-word list. */
static int is_english_stopword(const char *tok, size_t len) {
    for (const char *p = nn_stopwords_english(); *p;) {
        const char *end = strchr(p, ' ');
        size_t l = end ? (size_t)(end - p) : strlen(p);
        if (l == len && !memcmp(p, tok, len)) return 1;
        if (!end) break;
        p = end + 1;
    }
    return 0;
}

/* A word the model knows that carries meaning: nn_review_judgeable's rule. */
static int carries_meaning(uint32_t id, const char *tok, size_t len) {
    return id != NN_STOPPED && id >= NN_FIRST_WORD && !is_english_stopword(tok, len);
}

typedef struct judge_count {
    const nn_vocab *v;
    const nn_stopwords *stop;
    uint32_t num_words;
    size_t count;
} judge_count;

static void count_meaningful(const char *tok, size_t len, size_t start, size_t end, void *user) {
    (void)start;
    (void)end;
    judge_count *j = user;
    j->count += carries_meaning(nn_token_id(j->v, j->stop, tok, len, j->num_words), tok, len);
}

size_t nn_review_judgeable(const nn_vocab *v, const nn_stopwords *stop, const char *text, size_t n,
                           uint32_t num_words) {
    judge_count j = {v, stop, num_words, 0};
    nn_tokenize_spans(text, n, count_meaningful, &j);
    return j.count;
}

/* One pass of the tokenizer: each token's span and the id the model reads
 * for it (nn_token_id: -1 for a removed stop word), and the ids themselves. */
typedef struct span_rows {
    const nn_vocab *v;
    const nn_stopwords *stop;
    uint32_t num_words;
    float *rows;     /* (cap, NN_EXPLAIN_ROW_LEN) */
    uint32_t *ids;   /* (cap) the kept tokens' ids */
    size_t cap, k, nids;
    uint32_t judgeable;
} span_rows;

static void collect_span(const char *tok, size_t len, size_t start, size_t end, void *user) {
    span_rows *s = user;
    uint32_t id = nn_token_id(s->v, s->stop, tok, len, s->num_words);
    if (s->k < s->cap) {
        /* float holds integers exactly up to 2^24: texts up to 16 MB. */
        float *row = s->rows + s->k * NN_EXPLAIN_ROW_LEN;
        row[NN_EXPLAIN_ROW_START] = (float)start;
        row[NN_EXPLAIN_ROW_END] = (float)end;
        row[NN_EXPLAIN_ROW_CONTRIBUTION] = 0.0f;
        row[NN_EXPLAIN_ROW_ID] = id == NN_STOPPED ? -1.0f : (float)id;
        if (id != NN_STOPPED) s->ids[s->nids++] = id;
        s->judgeable += carries_meaning(id, tok, len);
    }
    s->k++;
}

int nn_review_explain_text(nn_review_text *r, nn_model *m, nn_diagnosis *logits_of, const nn_vocab *v,
                           const nn_stopwords *stop, const char *text, size_t n, int mark_cut, nn_error *err) {
    if (n > (1u << 24)) {
        nn_fail(err, NN_ERR_ARG, "text too long to explain (%zu bytes; at most 16 MB)", n);
        return -1;
    }
    size_t k = nn_tokenize_spans(text, n, NULL, NULL);
    uint32_t *ids = nn_malloc_array(nn_size_add_sat(k, 1), sizeof *ids);
    float *contrib = nn_malloc_array(nn_size_add_sat(k, 1), sizeof *contrib);
    if (!ids || !contrib || !reserve_rows(r, k)) {
        free(ids);
        free(contrib);
        nn_fail(err, NN_ERR_NOMEM, "out of memory explaining a text of %zu bytes", n);
        return -1;
    }
    span_rows s = {v, stop, m->cfg.vocab_size, r->rows, ids + 1, k, 0, 0, 0};
    ids[0] = NN_START;
    nn_tokenize_spans(text, n, collect_span, &s);
    r->k = k;
    r->judgeable = s.judgeable;
    explain_ids(r, m, logits_of, ids, s.nids + 1, contrib);
    if (mark_cut) nn_review_mark_cut(r->rows, k, s.nids + 1, &m->cfg);
    free(ids);
    free(contrib);
    return (int)k;
}

int nn_review_explain_stored(nn_review_text *r, nn_model *m, nn_diagnosis *logits_of, const nn_split *sp,
                             uint32_t i, const nn_vocab *v, const nn_stopwords *stop, nn_error *err) {
    if (i >= sp->n) {
        nn_fail(err, NN_ERR_ARG, "review %u is out of range: split '%s' has %u reviews", i, sp->name, sp->n);
        return -1;
    }
    uint32_t V = m->cfg.vocab_size < v->V ? m->cfg.vocab_size : v->V;
    uint32_t len = sp->offset[i + 1] - sp->offset[i];
    uint32_t *ids = nn_malloc_array(nn_size_add_sat(len, 1), sizeof *ids);
    float *contrib = nn_malloc_array(nn_size_add_sat(len, 1), sizeof *contrib);
    r->len = 0;
    int ok = ids && contrib && reserve_rows(r, len) && text_add(r, "", 0);
    size_t k = 0, nids = 0;
    uint32_t judgeable = 0;
    if (ok) ids[nids++] = NN_START;
    for (uint32_t j = sp->offset[i]; ok && j < sp->offset[i + 1]; j++) {
        uint32_t id = sp->tokens[j];
        if (id == NN_START || id == NN_PAD) continue;
        int stopped = nn_is_stopword(stop, id);
        if (id >= V) id = NN_UNK;
        size_t wlen = 0;
        const char *w = nn_vocab_word(v, id, &wlen);
        if (r->len) ok &= text_add(r, " ", 1);
        float *row = r->rows + NN_EXPLAIN_ROW_LEN * k++;
        row[NN_EXPLAIN_ROW_START] = (float)r->len;
        if (nn_utf8_invalid_at((const unsigned char *)w, wlen) < wlen)
            ok &= text_add(r, "\xEF\xBF\xBD", 3); /* U+FFFD, as the page would show it */
        else
            ok &= text_add(r, w, wlen);
        row[NN_EXPLAIN_ROW_END] = (float)r->len;
        row[NN_EXPLAIN_ROW_CONTRIBUTION] = 0.0f;
        row[NN_EXPLAIN_ROW_ID] = stopped ? -1.0f : (float)id;
        if (!stopped) ids[nids++] = id;
        judgeable += !stopped && carries_meaning(id, w, wlen);
    }
    if (ok) {
        r->k = k;
        r->judgeable = judgeable;
        explain_ids(r, m, logits_of, ids, nids, contrib);
        nn_review_mark_cut(r->rows, k, nids, &m->cfg);
    }
    free(ids);
    free(contrib);
    if (!ok) {
        nn_fail(err, NN_ERR_NOMEM, "out of memory decoding review %u", i);
        return -1;
    }
    return (int)k;
}
