/* metrics.c: binary-classification metrics (see metrics.h for definitions).
 *
 * Everything is one or two passes over caller-owned arrays: the sort is the
 * only O(N log N) step, and ROC, AUC, the precision-recall curve and AP all
 * walk the same sorted order group of tied scores by group of tied scores.
 * Counts stay integers as long as possible (AUC is exact), sums are in
 * double, and curves are stored as float for the page to plot.
 * Not here: file I/O, allocation, any state between calls.
 */
#include "metrics.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int nn_metrics_check(const float *score, const uint8_t *label, size_t N, nn_error *err) {
    if (N > UINT32_MAX)
        return nn_fail(err, NN_ERR_ARG, "%zu examples: the metrics count in 32 bits, so "
                       "evaluate at most %u at a time", N, (unsigned)UINT32_MAX);
    for (size_t i = 0; i < N; i++) {
        if (label[i] > 1)
            return nn_fail(err, NN_ERR_ARG, "example %zu has label %u, but only 0 and 1 can be "
                           "scored: leave unlabelled reviews (255) out of the diagnosis", i,
                           (unsigned)label[i]);
        float s = score[i];
        if (!(s >= 0.0f && s <= 1.0f))
            return nn_fail(err, NN_ERR_ARG, "example %zu has score %g, not a probability in "
                           "[0,1]: the model has diverged; retrain it or load another "
                           "checkpoint", i, (double)s);
    }
    return NN_OK;
}

/* ------------------------------------------------ threshold-based metrics */

nn_confusion nn_confusion_at(const float *score, const uint8_t *label, size_t N,
                             float threshold) {
    assert(N <= UINT32_MAX);
    nn_confusion cm = {0, 0, 0, 0};
    for (size_t i = 0; i < N; i++) {
        assert(label[i] <= 1);
        int predicted = score[i] > threshold, actual = label[i];
        if (predicted) {
            if (actual) cm.tp++; else cm.fp++;
        } else {
            if (actual) cm.fn++; else cm.tn++;
        }
    }
    return cm;
}

/* 0/0 is 0 (scikit-learn's zero_division=0). */
static double ratio_or_zero(uint64_t num, uint64_t den) {
    return den ? (double)num / (double)den : 0.0;
}

static nn_class_scores class_scores(uint32_t tp, uint32_t fp, uint32_t fn) {
    nn_class_scores c;
    c.precision = ratio_or_zero(tp, (uint64_t)tp + fp);
    c.recall = ratio_or_zero(tp, (uint64_t)tp + fn);
    c.f1 = ratio_or_zero(2 * (uint64_t)tp, 2 * (uint64_t)tp + fp + fn);
    c.support = tp + fn;
    return c;
}

nn_classification nn_classification_from_confusion(nn_confusion cm) {
    nn_classification r;
    uint64_t n = (uint64_t)cm.tp + cm.fp + cm.tn + cm.fn;
    r.cm = cm;
    r.accuracy = n ? (double)((uint64_t)cm.tp + cm.tn) / (double)n : NAN;
    r.positive = class_scores(cm.tp, cm.fp, cm.fn);
    r.negative = class_scores(cm.tn, cm.fn, cm.fp);
    r.macro_precision = 0.5 * (r.positive.precision + r.negative.precision);
    r.macro_recall = 0.5 * (r.positive.recall + r.negative.recall);
    r.macro_f1 = 0.5 * (r.positive.f1 + r.negative.f1);
    return r;
}

/* ------------------------------------------------------------ multi-class */

void nn_confusion_multiclass(uint32_t *confusion, const uint8_t *label, const uint8_t *pred, size_t N,
                             uint32_t C) {
    assert(C >= 1 && C <= NN_MAX_TEXT_CLASSES);
    memset(confusion, 0, (size_t)C * C * sizeof *confusion);
    for (size_t i = 0; i < N; i++) {
        assert(label[i] < C && pred[i] < C);
        confusion[(size_t)label[i] * C + pred[i]]++;
    }
}

nn_multiclass nn_multiclass_from_confusion(const uint32_t *confusion, uint32_t C) {
    assert(C >= 1 && C <= NN_MAX_TEXT_CLASSES);
    nn_multiclass r;
    memset(&r, 0, sizeof r);
    r.classes = C;
    uint64_t trace = 0, support_sum = 0;
    uint64_t row[NN_MAX_TEXT_CLASSES] = {0}, col[NN_MAX_TEXT_CLASSES] = {0};
    for (uint32_t t = 0; t < C; t++)
        for (uint32_t p = 0; p < C; p++) {
            uint32_t v = confusion[(size_t)t * C + p];
            row[t] += v;
            col[p] += v;
            r.n += v;
            if (t == p) trace += v;
        }
    r.accuracy = r.n ? (double)trace / (double)r.n : NAN;
    double wf1 = 0;
    for (uint32_t c = 0; c < C; c++) {
        uint32_t tp = confusion[(size_t)c * C + c];
        r.cls[c] = class_scores(tp, (uint32_t)(col[c] - tp), (uint32_t)(row[c] - tp));
        if (!row[c] && !col[c]) continue; /* neither a label nor a prediction */
        r.macro_classes++;
        r.macro_precision += r.cls[c].precision;
        r.macro_recall += r.cls[c].recall;
        r.macro_f1 += r.cls[c].f1;
        wf1 += r.cls[c].f1 * (double)row[c];
        support_sum += row[c];
    }
    if (r.macro_classes) {
        r.macro_precision /= r.macro_classes;
        r.macro_recall /= r.macro_classes;
        r.macro_f1 /= r.macro_classes;
    } else {
        r.macro_precision = r.macro_recall = r.macro_f1 = NAN;
    }
    /* Summed over classes: tp = trace, fp = fn = n - trace. */
    r.micro_precision = r.micro_recall = r.micro_f1 = r.accuracy;
    r.weighted_f1 = support_sum ? wf1 / (double)support_sum : NAN;
    return r;
}

/* ------------------------------------------------------------------- sort */

/* Runs this short are insertion-sorted before merging. */
#define SORT_RUN 32

void nn_sort_scores_desc(uint32_t *order, uint32_t *scratch, const float *score, size_t N) {
    assert(N <= UINT32_MAX);
    for (size_t i = 0; i < N; i++) {
        assert(!isnan(score[i]));
        order[i] = (uint32_t)i;
    }
    /* Insertion sort each run; moving only past strictly smaller scores keeps
     * equal scores in index order. */
    for (size_t lo = 0; lo < N; lo += SORT_RUN) {
        size_t hi = lo + SORT_RUN < N ? lo + SORT_RUN : N;
        for (size_t i = lo + 1; i < hi; i++) {
            uint32_t cur = order[i];
            float s = score[cur];
            size_t j = i;
            while (j > lo && score[order[j - 1]] < s) {
                order[j] = order[j - 1];
                j--;
            }
            order[j] = cur;
        }
    }
    /* Bottom-up merges, ping-ponging between order and scratch. Ties take
     * the left run first, so the sort stays stable. */
    uint32_t *src = order, *dst = scratch;
    for (size_t width = SORT_RUN; width < N; width *= 2) {
        for (size_t lo = 0; lo < N; lo += 2 * width) {
            size_t mid = lo + width < N ? lo + width : N;
            size_t hi = mid + width < N ? mid + width : N;
            size_t i = lo, j = mid, k = lo;
            if (mid == hi || score[src[mid - 1]] >= score[src[mid]]) {
                memcpy(dst + lo, src + lo, (hi - lo) * sizeof *src); /* already in order */
                continue;
            }
            while (i < mid && j < hi) dst[k++] = score[src[j]] > score[src[i]] ? src[j++] : src[i++];
            while (i < mid) dst[k++] = src[i++];
            while (j < hi) dst[k++] = src[j++];
        }
        uint32_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != order) memcpy(order, src, N * sizeof *order);
}

/* --------------------------------------------------------------- curves */

static void count_classes(const uint8_t *label, size_t N, uint64_t *pos, uint64_t *neg) {
    uint64_t p = 0;
    for (size_t i = 0; i < N; i++) {
        assert(label[i] <= 1);
        p += label[i];
    }
    *pos = p;
    *neg = N - p;
}

/* Consumes the group of scores equal to score[order[*i]]: advances *i past it
 * and adds its positives and negatives to *tp and *fp. Returns the score. */
static float next_tie_group(const float *score, const uint8_t *label, const uint32_t *order,
                            size_t N, size_t *i, uint64_t *tp, uint64_t *fp) {
    float s = score[order[*i]];
    size_t j = *i;
    uint64_t p = 0;
    while (j < N && score[order[j]] == s) {
        assert(label[order[j]] <= 1);
        p += label[order[j]];
        j++;
    }
    *tp += p;
    *fp += (j - *i) - p;
    *i = j;
    return s;
}

/* count / total, NaN when the class is absent. */
static float rate(uint64_t count, uint64_t total) {
    return total ? (float)((double)count / (double)total) : NAN;
}

size_t nn_roc_curve(float *fpr, float *tpr, float *threshold,
                    const float *score, const uint8_t *label, const uint32_t *order, size_t N) {
    uint64_t pos, neg, tp = 0, fp = 0;
    count_classes(label, N, &pos, &neg);
    size_t K = 0, i = 0;
    fpr[K] = rate(0, neg);
    tpr[K] = rate(0, pos);
    threshold[K++] = INFINITY;
    while (i < N) {
        float s = next_tie_group(score, label, order, N, &i, &tp, &fp);
        fpr[K] = rate(fp, neg);
        tpr[K] = rate(tp, pos);
        threshold[K++] = s;
    }
    return K;
}

double nn_roc_auc(const float *score, const uint8_t *label, const uint32_t *order, size_t N) {
    uint64_t pos, neg, tp = 0, fp = 0;
    count_classes(label, N, &pos, &neg);
    if (!pos || !neg) return NAN;
    /* Each step adds a trapezoid of width dfp and mean height tp_before +
     * dtp/2; twice its area in pair units is an integer, so the sum is exact
     * and equals 2U of the Mann-Whitney test (ties count 1/2). */
    uint64_t twice_u = 0;
    size_t i = 0;
    while (i < N) {
        uint64_t tp_before = tp, fp_before = fp;
        next_tie_group(score, label, order, N, &i, &tp, &fp);
        twice_u += (fp - fp_before) * (tp_before + tp);
    }
    return (double)twice_u / (2.0 * (double)pos * (double)neg);
}

size_t nn_pr_curve(float *recall, float *precision, float *threshold,
                   const float *score, const uint8_t *label, const uint32_t *order, size_t N) {
    uint64_t pos, neg, tp = 0, fp = 0;
    count_classes(label, N, &pos, &neg);
    size_t K = 0, i = 0;
    recall[K] = rate(0, pos);
    precision[K] = 1.0f;
    threshold[K++] = INFINITY;
    while (i < N) {
        float s = next_tie_group(score, label, order, N, &i, &tp, &fp);
        recall[K] = rate(tp, pos);
        precision[K] = (float)((double)tp / (double)(tp + fp)); /* the group is never empty */
        threshold[K++] = s;
    }
    return K;
}

double nn_average_precision(const float *score, const uint8_t *label, const uint32_t *order,
                            size_t N) {
    uint64_t pos, neg, tp = 0, fp = 0;
    count_classes(label, N, &pos, &neg);
    if (!pos) return NAN;
    /* (R_n - R_(n-1)) P_n with R = tp/pos: the 1/pos comes out of the sum. */
    double sum = 0.0;
    size_t i = 0;
    while (i < N) {
        uint64_t tp_before = tp;
        next_tie_group(score, label, order, N, &i, &tp, &fp);
        if (tp > tp_before) sum += (double)(tp - tp_before) * ((double)tp / (double)(tp + fp));
    }
    return sum / (double)pos;
}

size_t nn_curve_downsample(float *x_out, float *y_out, float *t_out,
                           const float *x, const float *y, const float *t,
                           size_t n, size_t K) {
    assert(K >= 2);
    assert(!t_out == !t);
    if (n <= K) {
        if (x_out != x) memmove(x_out, x, n * sizeof *x);
        if (y_out != y) memmove(y_out, y, n * sizeof *y);
        if (t && t_out != t) memmove(t_out, t, n * sizeof *t);
        return n;
    }
    double total = 0.0;
    for (size_t i = 1; i < n; i++)
        total += hypot((double)x[i] - x[i - 1], (double)y[i] - y[i - 1]);
    size_t kept = 0;
#define KEEP(i)                               \
    do {                                      \
        x_out[kept] = x[i];                   \
        y_out[kept] = y[i];                   \
        if (t) t_out[kept] = t[i];            \
        kept++;                               \
    } while (0)
    /* Output slot kept <= i whenever point i is read, so writing in place
     * never overwrites a point still to be read; the previous point is kept
     * in locals for the same reason. */
    if (!(total > 0.0) || !isfinite(total)) {
        for (size_t j = 0; j < K; j++) {
            size_t i = (size_t)(((double)j * (double)(n - 1)) / (double)(K - 1) + 0.5);
            KEEP(i);
        }
        return kept;
    }
    /* Interior targets j = 1..K-2 at lengths j * total/(K-1): keep the first
     * point whose cumulative length reaches a target (one point even if a
     * long step passes several), so at most K-2 interior points. */
    double step = total / (double)(K - 1), along = 0.0;
    double px = x[0], py = y[0];
    size_t target = 1;
    KEEP(0);
    for (size_t i = 1; i + 1 < n && target <= K - 2; i++) {
        double cx = x[i], cy = y[i];
        along += hypot(cx - px, cy - py);
        px = cx;
        py = cy;
        if (along >= (double)target * step) {
            KEEP(i);
            while (target <= K - 2 && along >= (double)target * step) target++;
        }
    }
    KEEP(n - 1);
#undef KEEP
    return kept;
}

/* ---------------------------------------------------------- one vs rest */

int nn_one_vs_rest_class(nn_one_vs_rest *out, float *fpr, float *tpr, uint32_t points,
                         const float *prob, const uint8_t *label, size_t N, uint32_t K,
                         uint32_t cls) {
    assert(points >= 2 && cls < K && N < UINT32_MAX);
    memset(out, 0, sizeof *out);
    float *score = nn_malloc_array(N, sizeof *score);
    uint8_t *pos = nn_malloc_array(N, 1);
    uint32_t *order = nn_malloc_array(N, sizeof *order), *scratch = nn_malloc_array(N, sizeof *scratch);
    /* The whole curve before downsampling: N + 1 points at most. */
    float *x = nn_malloc_array(N + 1, sizeof *x), *y = nn_malloc_array(N + 1, sizeof *y);
    float *t = nn_malloc_array(N + 1, sizeof *t);
    int rc = NN_ERR_NOMEM;
    if (score && pos && order && scratch && x && y && t) {
        for (size_t i = 0; i < N; i++) {
            score[i] = prob[i * K + cls];
            pos[i] = label[i] == cls;
            out->positives += pos[i];
        }
        nn_sort_scores_desc(order, scratch, score, N);
        out->auc = nn_roc_auc(score, pos, order, N);
        out->ap = nn_average_precision(score, pos, order, N);
        size_t n = nn_roc_curve(x, y, t, score, pos, order, N);
        out->roc_len = (uint32_t)nn_curve_downsample(fpr, tpr, NULL, x, y, NULL, n, points);
        rc = NN_OK;
    }
    free(score);
    free(pos);
    free(order);
    free(scratch);
    free(x);
    free(y);
    free(t);
    return rc;
}

/* ---------------------------------------------------------------- log loss */

double nn_log_loss(const float *prob, const uint8_t *label, size_t N) {
    if (!N) return NAN;
    const double eps = 1e-7;
    double sum = 0.0;
    for (size_t i = 0; i < N; i++) {
        assert(label[i] <= 1);
        double p = prob[i];
        /* Comparisons rather than fmin/fmax, so a NaN stays NaN. */
        p = p < eps ? eps : p > 1.0 - eps ? 1.0 - eps : p;
        sum -= label[i] ? log(p) : log(1.0 - p);
    }
    return sum / (double)N;
}

double nn_log_loss_logits(const float *logit, const uint8_t *label, size_t N) {
    if (!N) return NAN;
    double sum = 0.0;
    for (size_t i = 0; i < N; i++) {
        assert(label[i] <= 1);
        double z = logit[i], y = label[i];
        sum += (z > 0.0 ? z : 0.0) - z * y + log1p(exp(-fabs(z)));
    }
    return sum / (double)N;
}

/* Mean log loss of sigmoid(a * logit), with its first and second
 * derivatives in a. */
static double scaled_log_loss(const float *logit, const uint8_t *label, size_t N, double a, double *d1,
                              double *d2) {
    double sum = 0.0, g = 0.0, h = 0.0;
    for (size_t i = 0; i < N; i++) {
        double z = logit[i], y = label[i], u = a * z;
        double p = u >= 0.0 ? 1.0 / (1.0 + exp(-u)) : exp(u) / (1.0 + exp(u));
        sum += (u > 0.0 ? u : 0.0) - u * y + log1p(exp(-fabs(u)));
        g += (p - y) * z;
        h += p * (1.0 - p) * z * z;
    }
    *d1 = g / (double)N;
    *d2 = h / (double)N;
    return sum / (double)N;
}

double nn_fit_temperature(const float *logit, const uint8_t *label, size_t N) {
    if (!N) return 1.0;
    for (size_t i = 0; i < N; i++) assert(label[i] <= 1 && !isnan(logit[i]));
    double a = 1.0, g, h;
    double loss = scaled_log_loss(logit, label, N, a, &g, &h);
    for (int iter = 0; iter < 50 && h > 0.0; iter++) {
        double step = g / h, next = a, next_loss = loss, ng = g, nh = h;
        for (int halve = 0; halve < 30; halve++) {
            next = a - step;
            if (next < 1e-3) next = 1e-3;
            if (next > 1e3) next = 1e3;
            next_loss = scaled_log_loss(logit, label, N, next, &ng, &nh);
            if (next_loss <= loss) break;
            step *= 0.5;
        }
        if (!(next_loss <= loss)) break;
        int done = fabs(next - a) <= 1e-9 * a;
        a = next;
        loss = next_loss;
        g = ng;
        h = nh;
        if (done) break;
    }
    return 1.0 / a;
}

/* ------------------------------------------------------------- calibration */

double nn_calibration(uint32_t *count, float *mean_prob, float *frac_pos, uint32_t K,
                      const float *prob, const uint8_t *label, size_t N) {
    assert(K >= 1 && K <= NN_CALIBRATION_MAX_BINS);
    assert(N <= UINT32_MAX);
    double sum_prob[NN_CALIBRATION_MAX_BINS];
    uint32_t positives[NN_CALIBRATION_MAX_BINS];
    for (uint32_t k = 0; k < K; k++) {
        count[k] = positives[k] = 0;
        sum_prob[k] = 0.0;
    }
    for (size_t i = 0; i < N; i++) {
        assert(label[i] <= 1);
        assert(!isnan(prob[i]));
        double p = prob[i], scaled = p * K;
        uint32_t k = scaled <= 0.0 ? 0 : scaled >= K ? K - 1 : (uint32_t)scaled;
        count[k]++;
        positives[k] += label[i];
        sum_prob[k] += p;
    }
    double ece = 0.0;
    for (uint32_t k = 0; k < K; k++) {
        if (!count[k]) {
            mean_prob[k] = frac_pos[k] = NAN;
            continue;
        }
        double mean = sum_prob[k] / count[k], frac = (double)positives[k] / count[k];
        mean_prob[k] = (float)mean;
        frac_pos[k] = (float)frac;
        ece += (double)count[k] * fabs(frac - mean);
    }
    return N ? ece / (double)N : NAN;
}

/* -------------------------------------------------------------- examples */

enum { RANK_FALSE_POSITIVE, RANK_FALSE_NEGATIVE, RANK_UNCERTAIN };

/* The ranking key of example i (larger ranks first). */
static double rank_key(int kind, const float *score, uint32_t i, float threshold) {
    double s = score[i];
    switch (kind) {
    case RANK_FALSE_POSITIVE: return s;
    case RANK_FALSE_NEGATIVE: return -s;
    default: return -fabs(s - (double)threshold);
    }
}

/* Keeps idx[0..k) as the k best seen so far, best first: an insertion into
 * a short sorted list, O(N k) worst case, no scratch. Only strictly larger
 * keys move ahead, so equal keys keep index order. */
static size_t top_k(uint32_t *idx, size_t k, int kind, const float *score, const uint8_t *label,
                    size_t N, float threshold) {
    assert(N <= UINT32_MAX);
    size_t m = 0;
    if (!k) return 0;
    for (size_t n = 0; n < N; n++) {
        uint32_t i = (uint32_t)n;
        assert(!isnan(score[i]));
        assert(!label || label[i] <= 1);
        if (kind == RANK_FALSE_POSITIVE && !(label[i] == 0 && score[i] > threshold)) continue;
        if (kind == RANK_FALSE_NEGATIVE && !(label[i] == 1 && score[i] <= threshold)) continue;
        double key = rank_key(kind, score, i, threshold);
        if (m == k && !(key > rank_key(kind, score, idx[m - 1], threshold))) continue;
        size_t j = m < k ? m++ : k - 1;
        while (j > 0 && rank_key(kind, score, idx[j - 1], threshold) < key) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = i;
    }
    return m;
}

size_t nn_top_false_positives(uint32_t *idx, size_t k, const float *score, const uint8_t *label,
                              size_t N, float threshold) {
    return top_k(idx, k, RANK_FALSE_POSITIVE, score, label, N, threshold);
}

size_t nn_top_false_negatives(uint32_t *idx, size_t k, const float *score, const uint8_t *label,
                              size_t N, float threshold) {
    return top_k(idx, k, RANK_FALSE_NEGATIVE, score, label, N, threshold);
}

size_t nn_most_uncertain(uint32_t *idx, size_t k, const float *score, size_t N, float threshold) {
    return top_k(idx, k, RANK_UNCERTAIN, score, NULL, N, threshold);
}
