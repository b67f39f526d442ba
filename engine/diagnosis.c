/* diagnosis.c: scoring a set in slices, rating words, and the summary (see
 * diagnosis.h).
 *
 * Scoring is nn_model_forward over batches of m->Bmax rows, the same call
 * validation makes, and the probability is computed with the same sigmoid
 * as nn_model_explain, so a listed review's score is exactly what the review
 * box shows for it. Every metric is a call into metrics.c. Not here: which
 * weights the model holds, text output. */
#include "diagnosis.h"
#include "result_layouts.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static float sigmoidf(float z) { return 1.0f / (1.0f + expf(-z)); }

void nn_diagnosis_free(nn_diagnosis *d) {
    if (!d) return;
    free(d->label);
    free(d->logit);
    free(d->score);
    free(d->word_score);
    free(d->batch);
    free(d->enc);
    free(d->order);
    free(d->sort_scratch);
    free(d->roc_fpr);
    free(d->roc_tpr);
    free(d->roc_thr);
    free(d->pr_recall);
    free(d->pr_precision);
    free(d->pr_thr);
    free(d);
}

static int create(nn_diagnosis **out, const nn_model *m, uint32_t n, nn_error *err) {
    *out = NULL;
    /* Thresholds, ROC and PR curves, the 2 x 2 confusion matrix: all are
     * about one probability, P(positive). */
    if (nn_model_classes(m) != 2)
        return nn_fail(err, NN_ERR_ARG,
                       "the diagnosis reads one probability (two classes), but this model has %u "
                       "classes; its accuracy is in the training history (argmax per review)",
                       nn_model_classes(m));
    nn_diagnosis *d = calloc(1, sizeof *d);
    if (!d) return nn_fail(err, NN_ERR_NOMEM, "out of memory for the diagnosis");
    d->n = n;
    d->T = m->cfg.maxlen;
    d->empty_score = NAN;
    size_t N = n ? n : 1, N1 = nn_size_add_sat(n, 1);
    d->label = malloc(N);
    d->logit = nn_malloc_array(N, sizeof(float));
    d->score = nn_malloc_array(N, sizeof(float));
    d->batch = nn_malloc_array(nn_size_mul_sat(nn_size_add_sat(m->Bmax, 1), d->T), sizeof *d->batch); /* + the template row of explain */
    d->order = nn_malloc_array(N, sizeof(uint32_t));
    d->sort_scratch = nn_malloc_array(N, sizeof(uint32_t));
    float **curves[] = {&d->roc_fpr, &d->roc_tpr, &d->roc_thr, &d->pr_recall, &d->pr_precision,
                        &d->pr_thr};
    int ok = d->label && d->logit && d->score && d->batch && d->order && d->sort_scratch;
    for (size_t i = 0; i < sizeof curves / sizeof curves[0]; i++)
        ok &= (*curves[i] = nn_malloc_array(N1, sizeof(float))) != NULL;
    if (!ok) {
        nn_diagnosis_free(d);
        return nn_fail(err, NN_ERR_NOMEM, "out of memory for the diagnosis of %u reviews", n);
    }
    *out = d;
    return NN_OK;
}

int nn_diagnosis_create_padded(nn_diagnosis **out, const nn_model *m, const uint16_t *ids,
                               const float *label, uint32_t n, nn_error *err) {
    int rc = create(out, m, n, err);
    if (rc) return rc;
    nn_diagnosis *d = *out;
    d->ids = ids;
    for (uint32_t i = 0; i < n; i++) d->label[i] = label[i] > 0.5f;
    return NN_OK;
}

int nn_diagnosis_create_texts(nn_diagnosis **out, const nn_model *m, const nn_labelled_text *lt,
                              const nn_vocab *v, const nn_stopwords *s, nn_error *err) {
    *out = NULL;
    if (lt->n == 0)
        return nn_fail(err, NN_ERR_ARG, "the labelled text has no example to score; give lines "
                       "of label<TAB>text");
    int rc = create(out, m, lt->n, err);
    if (rc) return rc;
    nn_diagnosis *d = *out;
    d->texts = lt;
    d->vocab = v;
    d->stop = s;
    memcpy(d->label, lt->label, lt->n);
    return NN_OK;
}

int nn_diagnosis_want_words(nn_diagnosis *d, const nn_model *m, const nn_vocab *v,
                            const nn_stopwords *s, nn_error *err) {
    uint32_t V = m->cfg.vocab_size < v->V ? m->cfg.vocab_size : v->V;
    free(d->word_score);
    d->word_score = nn_malloc_array(V ? V : 1, sizeof(float));
    if (!d->word_score) {
        d->V = 0;
        return nn_fail(err, NN_ERR_NOMEM, "out of memory rating %u words", V);
    }
    for (uint32_t i = 0; i < V; i++) d->word_score[i] = NAN;
    d->V = V;
    d->vocab = v;
    d->stop = s;
    d->next_word = NN_FIRST_WORD;
    return NN_OK;
}

/* The padded ids of text example i into row. */
static void encode_example(nn_diagnosis *d, const nn_model *m, uint32_t i, uint16_t *row) {
    size_t len;
    const char *text = nn_labelled_text_example(d->texts, i, &len);
    uint32_t V = m->cfg.vocab_size;
    size_t n = nn_encode_text_stop(d->vocab, d->stop, text, len, V, d->enc, d->enc_cap);
    if (n > d->enc_cap) {
        uint32_t *enc = nn_realloc_array(d->enc, n, sizeof *enc);
        if (enc) {
            d->enc = enc;
            d->enc_cap = n;
            nn_encode_text_stop(d->vocab, d->stop, text, len, V, d->enc, d->enc_cap);
        } else {
            n = d->enc_cap; /* out of memory: score the start of the text (the cap keeps it) */
        }
    }
    nn_pad_review_u32(row, d->enc, n, &m->cfg);
}

/* One batch of examples starting at d->scored. */
static void score_batch(nn_diagnosis *d, nn_model *m) {
    uint32_t T = d->T, first = d->scored;
    uint32_t b = d->n - first < m->Bmax ? d->n - first : m->Bmax;
    const uint16_t *ids;
    if (d->ids) {
        ids = d->ids + (size_t)first * T;
    } else {
        for (uint32_t r = 0; r < b; r++) encode_example(d, m, first + r, d->batch + (size_t)r * T);
        ids = d->batch;
    }
    nn_model_forward(m, ids, b);
    for (uint32_t r = 0; r < b; r++) {
        d->logit[first + r] = m->logit[r];
        d->score[first + r] = sigmoidf(m->logit[r]);
    }
    d->scored += b;
}

/* One batch of single-word reviews (nn_word_scores_forward); the first
 * batch also scores the empty review (its row 0). */
static void rate_batch(nn_diagnosis *d, nn_model *m) {
    uint32_t word_of[1024], n = 0;
    float score[1024];
    uint32_t cap = m->Bmax < 1024 ? m->Bmax : 1024;
    int empty = isnan(d->empty_score);
    while (n + (uint32_t)empty < cap && d->next_word < d->V) {
        uint32_t id = d->next_word++;
        if (!nn_is_stopword(d->stop, id)) word_of[n++] = id;
    }
    if (n == 0 && !empty) return;
    nn_word_scores_forward(score, empty ? &d->empty_score : NULL, m, word_of, n, d->batch, cap);
    for (uint32_t i = 0; i < n; i++) d->word_score[word_of[i]] = score[i];
}

static int words_done(const nn_diagnosis *d) {
    return d->V == 0 || (d->next_word >= d->V && !isnan(d->empty_score));
}

int nn_diagnosis_step(nn_diagnosis *d, nn_model *m, uint32_t max_batches) {
    assert(m->cfg.maxlen == d->T);
    for (uint32_t k = 0; k < max_batches; k++) {
        if (d->scored < d->n) {
            score_batch(d, m);
            if (d->scored == d->n) break; /* a step never mixes reviews and words, so each can be timed */
        } else if (!words_done(d)) {
            rate_batch(d, m);
        } else {
            break;
        }
    }
    return d->scored >= d->n && words_done(d);
}

int nn_diagnosis_summarise(nn_diagnosis *d, uint32_t curve_points, uint32_t bins, nn_error *err) {
    assert(curve_points >= 2 && bins >= 1 && bins <= NN_CALIBRATION_MAX_BINS);
    d->summarised = 0;
    if (d->scored < d->n || !words_done(d))
        return nn_fail(err, NN_ERR_STATE, "the diagnosis has scored %u of %u reviews; step it to "
                       "the end first", d->scored, d->n);
    nn_error e = {0};
    if (nn_metrics_check(d->score, d->label, d->n, &e) != NN_OK)
        return nn_fail(err, NN_ERR_DIVERGED, "cannot diagnose this model: %s", e.msg);
    const float *s = d->score;
    const uint8_t *y = d->label;
    size_t N = d->n;
    d->positives = 0;
    for (size_t i = 0; i < N; i++) d->positives += y[i];
    d->negatives = (uint32_t)N - d->positives;
    nn_sort_scores_desc(d->order, d->sort_scratch, s, N);
    size_t K = nn_roc_curve(d->roc_fpr, d->roc_tpr, d->roc_thr, s, y, d->order, N);
    d->roc_len = (uint32_t)nn_curve_downsample(d->roc_fpr, d->roc_tpr, d->roc_thr, d->roc_fpr,
                                               d->roc_tpr, d->roc_thr, K, curve_points);
    K = nn_pr_curve(d->pr_recall, d->pr_precision, d->pr_thr, s, y, d->order, N);
    d->pr_len = (uint32_t)nn_curve_downsample(d->pr_recall, d->pr_precision, d->pr_thr,
                                              d->pr_recall, d->pr_precision, d->pr_thr, K,
                                              curve_points);
    d->auc = nn_roc_auc(s, y, d->order, N);
    d->ap = nn_average_precision(s, y, d->order, N);
    d->log_loss = nn_log_loss_logits(d->logit, y, N);
    d->bins = bins;
    d->ece = nn_calibration(d->cal_count, d->cal_mean, d->cal_frac, bins, s, y, N);
    /* The same bins as nn_calibration, split by the true class. */
    for (uint32_t k = 0; k < bins; k++) d->hist_pos[k] = d->hist_neg[k] = 0;
    for (size_t i = 0; i < N; i++) {
        double scaled = (double)s[i] * bins;
        uint32_t k = scaled <= 0.0 ? 0 : scaled >= bins ? bins - 1 : (uint32_t)scaled;
        if (y[i]) d->hist_pos[k]++;
        else d->hist_neg[k]++;
    }
    d->summarised = 1;
    return NN_OK;
}

nn_classification nn_diagnosis_at(const nn_diagnosis *d, float threshold, size_t k,
                                  uint32_t *false_pos, uint32_t *false_neg, uint32_t *uncertain,
                                  size_t n_found[3]) {
    nn_classification c =
        nn_classification_from_confusion(nn_confusion_at(d->score, d->label, d->scored, threshold));
    size_t a = false_pos ? nn_top_false_positives(false_pos, k, d->score, d->label, d->scored, threshold) : 0;
    size_t b = false_neg ? nn_top_false_negatives(false_neg, k, d->score, d->label, d->scored, threshold) : 0;
    size_t u = uncertain ? nn_most_uncertain(uncertain, k, d->score, d->scored, threshold) : 0;
    if (n_found) {
        n_found[0] = a;
        n_found[1] = b;
        n_found[2] = u;
    }
    return c;
}

float nn_diagnosis_polarity(const nn_diagnosis *d, uint32_t id) {
    if (id >= d->V) return NAN;
    return d->word_score[id] - d->empty_score;
}

size_t nn_diagnosis_top_words(const nn_diagnosis *d, uint32_t *ids, size_t k, int sign,
                              int by_count, uint32_t min_count) {
    size_t found = 0;
    float key_of[1024];
    if (k > 1024) k = 1024;
    if (k == 0) return 0;
    const uint32_t *count = d->vocab ? d->vocab->count : NULL;
    for (uint32_t id = NN_FIRST_WORD; id < d->V; id++) {
        float p = nn_diagnosis_polarity(d, id);
        if (isnan(p)) continue;
        uint32_t c = count ? count[id] : 0;
        if (c < min_count) continue;
        float key = (by_count ? p * (float)c : p) * (sign > 0 ? 1.0f : -1.0f);
        if (!(key > 0.0f)) continue; /* only words that push this way */
        if (found == k && !(key > key_of[found - 1])) continue;
        /* Insert, keeping keys descending and equal keys in id order. */
        size_t at = found < k ? found++ : k - 1;
        while (at > 0 && key_of[at - 1] < key) {
            key_of[at] = key_of[at - 1];
            ids[at] = ids[at - 1];
            at--;
        }
        key_of[at] = key;
        ids[at] = id;
    }
    return found;
}


float nn_diagnosis_explain(nn_diagnosis *d, nn_model *m, const uint32_t *ids, size_t n, float *contrib) {
    const nn_config *c = &m->cfg;
    uint32_t T = c->maxlen, rows = 0;
    uint16_t *review = d->batch + (size_t)m->Bmax * T; /* the last row: the review itself */
    uint16_t *copies = d->batch;                       /* rows 0..Bmax-1: occluded copies */
    nn_pad_review_u32(review, ids, n, c);
    nn_model_forward(m, review, 1);
    float logit = m->logit[0];
    size_t first = 0;
    for (size_t i = 0; i <= n; i++) {
        long pos = i < n ? nn_padded_position(i, n, c) : -1;
        if (i < n && pos < 0) contrib[i] = 0.0f;
        if (pos >= 0) {
            if (rows == 0) first = i;
            uint16_t *row = copies + (size_t)rows * T;
            memcpy(row, review, T * sizeof *row);
            row[pos] = NN_PAD;
            rows++;
        }
        if (rows == m->Bmax || (i == n && rows > 0)) {
            nn_model_forward(m, copies, rows);
            for (uint32_t k = 0, j = (uint32_t)first; k < rows; j++)
                if (nn_padded_position(j, n, c) >= 0) contrib[j] = logit - m->logit[k++];
            rows = 0;
        }
    }
    return logit;
}

int nn_diagnosis_model(nn_model **out, const nn_model *m, const float *params, nn_error *err) {
    int rc = nn_model_create(out, &m->cfg, err);
    if (rc != NN_OK) return rc;
    memcpy((*out)->params, params ? params : m->params, m->nparams * sizeof(float));
    nn_model_set_parallel(*out, &m->par);
    return NN_OK;
}

void nn_diagnosis_summary_floats(const nn_diagnosis *d, float *q) {
    uint32_t rated = 0;
    for (uint32_t id = NN_FIRST_WORD; id < d->V; id++) rated += !isnan(d->word_score[id]);
    q[NN_DIAGNOSE_SUMMARY_N] = (float)d->n;
    q[NN_DIAGNOSE_SUMMARY_POSITIVES] = (float)d->positives;
    q[NN_DIAGNOSE_SUMMARY_NEGATIVES] = (float)d->negatives;
    q[NN_DIAGNOSE_SUMMARY_AUC] = (float)d->auc;
    q[NN_DIAGNOSE_SUMMARY_AP] = (float)d->ap;
    q[NN_DIAGNOSE_SUMMARY_LOG_LOSS] = (float)d->log_loss;
    q[NN_DIAGNOSE_SUMMARY_ECE] = (float)d->ece;
    q[NN_DIAGNOSE_SUMMARY_ROC_LEN] = (float)d->roc_len;
    q[NN_DIAGNOSE_SUMMARY_PR_LEN] = (float)d->pr_len;
    q[NN_DIAGNOSE_SUMMARY_BINS] = (float)d->bins;
    q[NN_DIAGNOSE_SUMMARY_EMPTY_SCORE] = d->empty_score;
    q[NN_DIAGNOSE_SUMMARY_WORDS_RATED] = (float)rated;
}

size_t nn_diagnosis_curves_len(const nn_diagnosis *d) {
    return 3 * (size_t)d->roc_len + 3 * (size_t)d->pr_len + 5 * (size_t)d->bins;
}

void nn_diagnosis_curves_floats(const nn_diagnosis *d, float *c) {
    const float *parts[] = {d->roc_fpr, d->roc_tpr, d->roc_thr, d->pr_recall, d->pr_precision, d->pr_thr};
    for (int i = 0; i < 6; i++) {
        uint32_t len = i < 3 ? d->roc_len : d->pr_len;
        memcpy(c, parts[i], len * sizeof(float));
        c += len;
    }
    for (uint32_t k = 0; k < d->bins; k++) {
        c[k] = d->cal_mean[k];
        c[d->bins + k] = d->cal_frac[k];
        c[2 * d->bins + k] = (float)d->cal_count[k];
        c[3 * d->bins + k] = (float)d->hist_neg[k];
        c[4 * d->bins + k] = (float)d->hist_pos[k];
    }
}

void nn_diagnosis_at_floats(float *q, float threshold, const nn_classification *c, const size_t found[3]) {
    q[NN_DIAGNOSE_AT_THRESHOLD] = threshold;
    q[NN_DIAGNOSE_AT_TP] = (float)c->cm.tp;
    q[NN_DIAGNOSE_AT_FP] = (float)c->cm.fp;
    q[NN_DIAGNOSE_AT_TN] = (float)c->cm.tn;
    q[NN_DIAGNOSE_AT_FN] = (float)c->cm.fn;
    q[NN_DIAGNOSE_AT_ACCURACY] = (float)c->accuracy;
    q[NN_DIAGNOSE_AT_POS_PRECISION] = (float)c->positive.precision;
    q[NN_DIAGNOSE_AT_POS_RECALL] = (float)c->positive.recall;
    q[NN_DIAGNOSE_AT_POS_F1] = (float)c->positive.f1;
    q[NN_DIAGNOSE_AT_POS_SUPPORT] = (float)c->positive.support;
    q[NN_DIAGNOSE_AT_NEG_PRECISION] = (float)c->negative.precision;
    q[NN_DIAGNOSE_AT_NEG_RECALL] = (float)c->negative.recall;
    q[NN_DIAGNOSE_AT_NEG_F1] = (float)c->negative.f1;
    q[NN_DIAGNOSE_AT_NEG_SUPPORT] = (float)c->negative.support;
    q[NN_DIAGNOSE_AT_MACRO_PRECISION] = (float)c->macro_precision;
    q[NN_DIAGNOSE_AT_MACRO_RECALL] = (float)c->macro_recall;
    q[NN_DIAGNOSE_AT_MACRO_F1] = (float)c->macro_f1;
    q[NN_DIAGNOSE_AT_FOUND_FP] = (float)found[0];
    q[NN_DIAGNOSE_AT_FOUND_FN] = (float)found[1];
    q[NN_DIAGNOSE_AT_FOUND_UNCERTAIN] = (float)found[2];
}
