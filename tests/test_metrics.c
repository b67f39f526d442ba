/* test_metrics.c: the diagnosis metrics of metrics.h.
 *
 * Hand-computed cases for the confusion matrix and its ratios (the 0/0 cases
 * included), log loss, calibration bins, downsampling and the top-k lists;
 * scikit-learn's documented roc_curve / precision_recall_curve example; and
 * brute-force references on random data with many ties (scores rounded to
 * one decimal) over several seeds and sizes:
 *   AUC   = 2U / (2 P N) with U counted over all positive-negative pairs,
 *           ties 1/2: computed in integers, so the match must be exact;
 *   ROC   every point recounted from its threshold;
 *   AP    the mean over positives of the precision at that positive's score;
 *   sort  against qsort with (score descending, index ascending).
 * The time of one whole diagnosis of 10,000 reviews is printed as "# info",
 * never checked.
 */
#include "check.h"
#include "metrics.h"
#include "nn.h"

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

static nn_rng rng;

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        printf("FAIL out of memory\n");
        exit(1);
    }
    return p;
}

static int near(double a, double b, double tol) { return fabs(a - b) <= tol; }

/* N random examples; positives with probability p_pos; scores uniform in
 * [0,1] shifted up for positives, then rounded to `decimals` decimals so that
 * ties are common. */
static void random_set(float *score, uint8_t *label, size_t N, float p_pos, int decimals) {
    float scale = powf(10.0f, (float)decimals);
    for (size_t i = 0; i < N; i++) {
        label[i] = nn_rng_uniform(&rng, 0.0f, 1.0f) < p_pos;
        float s = nn_rng_uniform(&rng, 0.0f, 1.0f) * 0.7f + (label[i] ? 0.3f : 0.0f);
        score[i] = roundf(s * scale) / scale;
    }
}

/* ------------------------------------------------------------- references */

static double brute_auc(const float *score, const uint8_t *label, size_t N) {
    uint64_t twice_u = 0, pos = 0, neg = 0;
    for (size_t i = 0; i < N; i++) {
        if (label[i]) pos++;
        else neg++;
    }
    if (!pos || !neg) return NAN;
    for (size_t i = 0; i < N; i++) {
        if (!label[i]) continue;
        for (size_t j = 0; j < N; j++) {
            if (label[j]) continue;
            twice_u += score[i] > score[j] ? 2 : score[i] == score[j] ? 1 : 0;
        }
    }
    return (double)twice_u / (2.0 * (double)pos * (double)neg);
}

static double brute_ap(const float *score, const uint8_t *label, size_t N) {
    double sum = 0.0;
    size_t pos = 0;
    for (size_t i = 0; i < N; i++) {
        if (!label[i]) continue;
        pos++;
        size_t above = 0, tp = 0;
        for (size_t j = 0; j < N; j++) {
            if (score[j] >= score[i]) {
                above++;
                tp += label[j];
            }
        }
        sum += (double)tp / (double)above;
    }
    return pos ? sum / (double)pos : NAN;
}

static size_t count_distinct(const float *score, size_t N) {
    size_t d = 0;
    for (size_t i = 0; i < N; i++) {
        size_t j = 0;
        while (j < i && score[j] != score[i]) j++;
        d += j == i;
    }
    return d;
}

static const float *qsort_scores;
static int desc_then_index(const void *a, const void *b) {
    uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
    float si = qsort_scores[i], sj = qsort_scores[j];
    if (si != sj) return si > sj ? -1 : 1;
    return i < j ? -1 : i > j ? 1 : 0;
}

/* ------------------------------------------------------------------ tests */

static void test_confusion_by_hand(void) {
    /* index:               0    1    2    3    4    5    6    7 */
    const float score[] = {0.9f, 0.8f, 0.6f, 0.4f, 0.3f, 0.2f, 0.5f, 0.5f};
    const uint8_t label[] = {1, 0, 1, 1, 0, 0, 1, 0};
    /* > 0.5: 0 TP, 1 FP, 2 TP; the rest (0.5 included) negative: 3 FN, 6 FN,
     * 4 5 7 TN. */
    nn_confusion cm = nn_confusion_at(score, label, 8, 0.5f);
    check(cm.tp == 2 && cm.fp == 1 && cm.tn == 3 && cm.fn == 2,
          "confusion at 0.5 counts a score of exactly 0.5 as negative tp=%u fp=%u tn=%u fn=%u",
          cm.tp, cm.fp, cm.tn, cm.fn);
    nn_classification r = nn_classification_from_confusion(cm);
    const double tol = 1e-15;
    check(near(r.accuracy, 5.0 / 8, tol), "accuracy is 5/8 got=%.17g", r.accuracy);
    check(near(r.positive.precision, 2.0 / 3, tol) && near(r.positive.recall, 0.5, tol) &&
              near(r.positive.f1, 4.0 / 7, tol) && r.positive.support == 4,
          "positive class P=2/3 R=1/2 F1=4/7 got P=%.6f R=%.6f F1=%.6f support=%u",
          r.positive.precision, r.positive.recall, r.positive.f1, r.positive.support);
    check(near(r.negative.precision, 3.0 / 5, tol) && near(r.negative.recall, 3.0 / 4, tol) &&
              near(r.negative.f1, 2.0 / 3, tol) && r.negative.support == 4,
          "negative class P=3/5 R=3/4 F1=2/3 got P=%.6f R=%.6f F1=%.6f support=%u",
          r.negative.precision, r.negative.recall, r.negative.f1, r.negative.support);
    check(near(r.macro_precision, 19.0 / 30, tol) && near(r.macro_recall, 5.0 / 8, tol) &&
              near(r.macro_f1, 13.0 / 21, tol),
          "macro P=19/30 R=5/8 F1=13/21 (mean of the F1s) got %.6f %.6f %.6f",
          r.macro_precision, r.macro_recall, r.macro_f1);

    /* > 0.3: 0 2 3 6 TP, 1 7 FP; 4 (exactly 0.3) and 5 TN. */
    cm = nn_confusion_at(score, label, 8, 0.3f);
    check(cm.tp == 4 && cm.fp == 2 && cm.tn == 2 && cm.fn == 0,
          "confusion at 0.3 tp=%u fp=%u tn=%u fn=%u", cm.tp, cm.fp, cm.tn, cm.fn);

    /* Nothing predicted positive: precision 0/0 -> 0, F1 0. */
    cm = nn_confusion_at(score, label, 8, 1.0f);
    r = nn_classification_from_confusion(cm);
    check(cm.tp == 0 && cm.fp == 0 && r.positive.precision == 0.0 && r.positive.recall == 0.0 &&
              r.positive.f1 == 0.0 && r.negative.recall == 1.0 && r.negative.precision == 0.5,
          "nothing predicted positive: precision 0/0 is 0, F1 0 got P=%g R=%g F1=%g",
          r.positive.precision, r.positive.recall, r.positive.f1);

    /* No positive labels: recall 0/0 -> 0. */
    nn_confusion no_pos = {0, 1, 3, 0};
    r = nn_classification_from_confusion(no_pos);
    check(r.positive.recall == 0.0 && r.positive.precision == 0.0 && r.positive.f1 == 0.0 &&
              r.positive.support == 0 && near(r.negative.recall, 0.75, tol) &&
              r.negative.precision == 1.0 && near(r.accuracy, 0.75, tol),
          "no positive labels: recall 0/0 is 0 got R=%g", r.positive.recall);

    /* Only correct positives: the negative class is all 0/0 -> 0. */
    nn_confusion only_pos = {5, 0, 0, 0};
    r = nn_classification_from_confusion(only_pos);
    check(r.positive.f1 == 1.0 && r.negative.precision == 0.0 && r.negative.recall == 0.0 &&
              r.negative.f1 == 0.0 && r.macro_f1 == 0.5 && r.accuracy == 1.0,
          "only true positives: negative class P=R=F1=0, macro F1 1/2 got %g", r.macro_f1);

    nn_confusion empty = {0, 0, 0, 0};
    r = nn_classification_from_confusion(empty);
    check(isnan(r.accuracy) && r.macro_precision == 0.0 && r.macro_recall == 0.0 &&
              r.macro_f1 == 0.0,
          "no examples: accuracy NaN, everything else 0 got acc=%g", r.accuracy);
}

static void test_check_inputs(void) {
    float score[] = {0.1f, 0.9f, 1.0f, 0.0f};
    uint8_t label[] = {0, 1, 1, 0};
    nn_error err = {0};
    check(nn_metrics_check(score, label, 4, &err) == NN_OK, "check accepts 0/1 labels and [0,1] scores");
    label[2] = 255;
    int rc = nn_metrics_check(score, label, 4, &err);
    check(rc == NN_ERR_ARG && strstr(err.msg, "example 2") && strstr(err.msg, "255"),
          "check rejects an unlabelled review by index msg=\"%s\"", err.msg);
    label[2] = 1;
    score[1] = NAN;
    rc = nn_metrics_check(score, label, 4, &err);
    check(rc == NN_ERR_ARG && strstr(err.msg, "example 1"), "check rejects a NaN score msg=\"%s\"", err.msg);
    score[1] = 1.5f;
    rc = nn_metrics_check(score, label, 4, &err);
    check(rc == NN_ERR_ARG && strstr(err.msg, "example 1"), "check rejects a score above 1 msg=\"%s\"", err.msg);
    check(nn_metrics_check(NULL, NULL, 0, &err) == NN_OK, "check accepts an empty set");
}

static void test_sort(void) {
    static const size_t sizes[] = {0, 1, 2, 3, 31, 32, 33, 63, 64, 65, 100, 1000, 10007};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t N = sizes[si];
        float *score = xmalloc(N * sizeof *score);
        uint8_t *label = xmalloc(N);
        uint32_t *order = xmalloc((N + 1) * sizeof *order), *scratch = xmalloc(N * sizeof *scratch);
        uint32_t *ref = xmalloc(N * sizeof *ref);
        random_set(score, label, N, 0.5f, 1);
        /* half the sizes also get long already-sorted and reversed stretches */
        if (si % 2 && N > 10)
            for (size_t i = 0; i < N / 2; i++) score[i] = (float)(N - i) / (float)N;
        order[N] = 0xdeadbeefu; /* canary */
        nn_sort_scores_desc(order, scratch, score, N);
        for (size_t i = 0; i < N; i++) ref[i] = (uint32_t)i;
        qsort_scores = score;
        qsort(ref, N, sizeof *ref, desc_then_index);
        check(memcmp(order, ref, N * sizeof *ref) == 0 && order[N] == 0xdeadbeefu,
              "sort equals qsort by (score desc, index asc), so it is stable N=%zu", N);
        free(score), free(label), free(order), free(scratch), free(ref);
    }
}

static void test_sklearn_example(void) {
    /* The example in scikit-learn's roc_curve, precision_recall_curve,
     * roc_auc_score and average_precision_score documentation. */
    const float score[] = {0.1f, 0.4f, 0.35f, 0.8f};
    const uint8_t label[] = {0, 0, 1, 1};
    uint32_t order[4], scratch[4];
    float x[5], y[5], t[5];
    nn_sort_scores_desc(order, scratch, score, 4);
    size_t K = nn_roc_curve(x, y, t, score, label, order, 4);
    const float fpr[] = {0, 0, 0.5f, 0.5f, 1}, tpr[] = {0, 0.5f, 0.5f, 1, 1};
    const float thr[] = {INFINITY, 0.8f, 0.4f, 0.35f, 0.1f};
    check(K == 5 && !memcmp(x, fpr, sizeof fpr) && !memcmp(y, tpr, sizeof tpr) &&
              !memcmp(t, thr, sizeof thr),
          "roc curve matches scikit-learn's example K=%zu", K);
    double auc = nn_roc_auc(score, label, order, 4);
    check(auc == 0.75, "roc auc of scikit-learn's example is 0.75 got=%.17g", auc);
    K = nn_pr_curve(x, y, t, score, label, order, 4);
    /* scikit-learn, reversed to decreasing thresholds:
     * precision [1, 1, 0.5, 2/3, 0.5], recall [0, 0.5, 0.5, 1, 1] */
    const float rec[] = {0, 0.5f, 0.5f, 1, 1}, prec[] = {1, 1, 0.5f, (float)(2.0 / 3), 0.5f};
    check(K == 5 && !memcmp(x, rec, sizeof rec) && !memcmp(y, prec, sizeof prec) &&
              !memcmp(t, thr, sizeof thr),
          "precision-recall curve matches scikit-learn's example K=%zu", K);
    double ap = nn_average_precision(score, label, order, 4);
    check(near(ap, 0.5 * 1 + 0.5 * (2.0 / 3), 1e-15),
          "average precision of scikit-learn's example is 0.8333 got=%.17g", ap);
}

static void test_roc_auc_ap_random(void) {
    static const size_t sizes[] = {1, 2, 3, 5, 10, 37, 100, 1000, 3000};
    static const float p_pos[] = {0.5f, 0.1f, 0.9f};
    int auc_exact = 1, curves_ok = 1, ap_ok = 1, runs = 0;
    double worst_ap = 0, worst_trapezoid = 0;
    for (uint64_t seed = 1; seed <= 5; seed++) {
        nn_rng_seed(&rng, seed);
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            for (size_t pi = 0; pi < 3; pi++) {
                size_t N = sizes[si];
                float *score = xmalloc(N * sizeof *score);
                uint8_t *label = xmalloc(N);
                uint32_t *order = xmalloc(N * sizeof *order), *scratch = xmalloc(N * sizeof *scratch);
                float *fpr = xmalloc((N + 1) * sizeof(float)), *tpr = xmalloc((N + 1) * sizeof(float));
                float *thr = xmalloc((N + 1) * sizeof(float));
                random_set(score, label, N, p_pos[pi], 1);
                nn_sort_scores_desc(order, scratch, score, N);
                size_t pos = 0;
                for (size_t i = 0; i < N; i++) pos += label[i];
                size_t neg = N - pos;
                runs++;

                double auc = nn_roc_auc(score, label, order, N), ref = brute_auc(score, label, N);
                int same = (isnan(auc) && isnan(ref)) || auc == ref;
                if (!same) {
                    auc_exact = 0;
                    check(0, "auc seed=%llu N=%zu P=%zu got=%.17g brute=%.17g",
                          (unsigned long long)seed, N, pos, auc, ref);
                }

                size_t K = nn_roc_curve(fpr, tpr, thr, score, label, order, N);
                int ok = K == count_distinct(score, N) + 1 && thr[0] == INFINITY;
                for (size_t k = 1; ok && k < K; k++) {
                    /* recount the point from its threshold */
                    size_t tp = 0, fp = 0;
                    for (size_t i = 0; i < N; i++)
                        if (score[i] >= thr[k]) {
                            if (label[i]) tp++;
                            else fp++;
                        }
                    float want_fpr = neg ? (float)((double)fp / neg) : NAN;
                    float want_tpr = pos ? (float)((double)tp / pos) : NAN;
                    ok = thr[k] < thr[k - 1] &&
                         (neg ? fpr[k] == want_fpr && fpr[k] >= fpr[k - 1] : isnan(fpr[k])) &&
                         (pos ? tpr[k] == want_tpr && tpr[k] >= tpr[k - 1] : isnan(tpr[k]));
                }
                if (pos && neg) {
                    ok = ok && fpr[0] == 0 && tpr[0] == 0 && fpr[K - 1] == 1 && tpr[K - 1] == 1;
                    double area = 0;
                    for (size_t k = 1; k < K; k++)
                        area += (fpr[k] - fpr[k - 1]) * 0.5 * ((double)tpr[k] + tpr[k - 1]);
                    if (fabs(area - auc) > worst_trapezoid) worst_trapezoid = fabs(area - auc);
                }
                if (!ok) {
                    curves_ok = 0;
                    check(0, "roc points seed=%llu N=%zu P=%zu K=%zu", (unsigned long long)seed, N, pos, K);
                }

                double ap = nn_average_precision(score, label, order, N);
                double ap_ref = brute_ap(score, label, N);
                K = nn_pr_curve(fpr, tpr, thr, score, label, order, N); /* recall, precision */
                ok = (isnan(ap) && isnan(ap_ref)) || near(ap, ap_ref, 1e-12);
                if (!isnan(ap_ref) && fabs(ap - ap_ref) > worst_ap) worst_ap = fabs(ap - ap_ref);
                ok = ok && K == count_distinct(score, N) + 1 && tpr[0] == 1.0f;
                for (size_t k = 1; ok && k < K; k++) {
                    size_t tp = 0, above = 0;
                    for (size_t i = 0; i < N; i++)
                        if (score[i] >= thr[k]) above++, tp += label[i];
                    ok = tpr[k] == (float)((double)tp / above) &&
                         (pos ? fpr[k] >= fpr[k - 1] : isnan(fpr[k]));
                }
                if (pos) ok = ok && fpr[K - 1] == 1.0f;
                if (!ok) {
                    ap_ok = 0;
                    check(0, "ap/pr seed=%llu N=%zu P=%zu got=%.17g brute=%.17g",
                          (unsigned long long)seed, N, pos, ap, ap_ref);
                }
                free(score), free(label), free(order), free(scratch), free(fpr), free(tpr), free(thr);
            }
        }
    }
    check(auc_exact, "auc equals the brute-force pairwise Mann-Whitney count exactly, ties 1/2 "
          "(%d sets, scores rounded to 0.1, seeds 1-5, N 1..3000)", runs);
    check(curves_ok, "roc points: distinct scores + 1, each recounted from its threshold, "
          "monotone, from (0,0) to (1,1)");
    check(worst_trapezoid < 1e-6, "trapezoid area of the float roc curve matches auc maxdiff=%.2g",
          worst_trapezoid);
    check(ap_ok, "average precision equals the mean precision at each positive maxdiff=%.2g; "
          "pr curve recounted point by point", worst_ap);
}

static void test_auc_edge_cases(void) {
    uint32_t order[8], scratch[8];
    float fpr[9], tpr[9], thr[9];
    /* One positive among many, with a tie at its score: rank 2 of 7 negatives
     * above it, one tied -> U = 4 + 0.5. */
    const float score[] = {0.9f, 0.8f, 0.7f, 0.7f, 0.6f, 0.5f, 0.4f, 0.3f};
    const uint8_t one_pos[] = {0, 0, 1, 0, 0, 0, 0, 0};
    nn_sort_scores_desc(order, scratch, score, 8);
    double auc = nn_roc_auc(score, one_pos, order, 8);
    check(auc == 4.5 / 7, "auc with one positive tied with a negative is 4.5/7 got=%.17g", auc);
    double ap = nn_average_precision(score, one_pos, order, 8);
    check(ap == 0.25, "ap with one positive at rank 3-4 (tie) is 1/4 got=%.17g", ap);

    const uint8_t all_neg[8] = {0}, all_pos[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    auc = nn_roc_auc(score, all_neg, order, 8);
    check(isnan(auc), "auc with only negatives is NaN got=%g", auc);
    auc = nn_roc_auc(score, all_pos, order, 8);
    check(isnan(auc), "auc with only positives is NaN got=%g", auc);
    size_t K = nn_roc_curve(fpr, tpr, thr, score, all_pos, order, 8);
    check(K == 8 && isnan(fpr[0]) && isnan(fpr[K - 1]) && tpr[0] == 0 && tpr[K - 1] == 1,
          "roc with only positives: fpr NaN, tpr still 0..1 K=%zu", K);
    ap = nn_average_precision(score, all_neg, order, 8);
    check(isnan(ap), "ap with no positives is NaN got=%g", ap);
    ap = nn_average_precision(score, all_pos, order, 8);
    check(ap == 1.0, "ap with no negatives is 1 got=%g", ap);

    const float one_score[] = {0.7f};
    const uint8_t one_label[] = {1};
    nn_sort_scores_desc(order, scratch, one_score, 1);
    auc = nn_roc_auc(one_score, one_label, order, 1);
    K = nn_roc_curve(fpr, tpr, thr, one_score, one_label, order, 1);
    check(isnan(auc) && K == 2 && thr[1] == 0.7f, "n=1: auc NaN, roc has 2 points K=%zu", K);
    auc = nn_roc_auc(NULL, NULL, NULL, 0);
    K = nn_roc_curve(fpr, tpr, thr, NULL, NULL, NULL, 0);
    check(isnan(auc) && K == 1 && isnan(nn_average_precision(NULL, NULL, NULL, 0)),
          "n=0: auc and ap NaN, roc is the start point only K=%zu", K);

    const float same[] = {0.5f, 0.5f, 0.5f, 0.5f};
    const uint8_t mixed[] = {1, 0, 0, 1};
    nn_sort_scores_desc(order, scratch, same, 4);
    auc = nn_roc_auc(same, mixed, order, 4);
    K = nn_roc_curve(fpr, tpr, thr, same, mixed, order, 4);
    check(auc == 0.5 && K == 2, "all scores tied: one diagonal step, auc 1/2 got=%g K=%zu", auc, K);
    const float sep[] = {0.9f, 0.1f, 0.2f, 0.8f};
    nn_sort_scores_desc(order, scratch, sep, 4);
    check(nn_roc_auc(sep, mixed, order, 4) == 1.0, "perfectly separated: auc 1");
    const uint8_t flipped[] = {0, 1, 1, 0};
    check(nn_roc_auc(sep, flipped, order, 4) == 0.0, "perfectly inverted: auc 0");
}

static void test_log_loss(void) {
    const float prob[] = {0.8f, 0.3f, 0.0f, 1.0f};
    const uint8_t label[] = {1, 0, 1, 1};
    /* -ln 0.8 - ln 0.7 - ln 1e-7 (0 clipped) - ln(1 - 1e-7) (1 clipped) */
    double want = (-log((double)0.8f) - log(1.0 - (double)0.3f) + 16.118095650958319 + 1.00000005e-7) / 4;
    double got = nn_log_loss(prob, label, 4);
    check(near(got, want, 1e-9), "log loss clips 0 and 1 at 1e-7 like Keras got=%.12f want=%.12f (~4.17451)",
          got, want);
    check(near(nn_log_loss(prob, label, 2), 0.5 * (0.22314354 + 0.35667493), 1e-7),
          "log loss of 0.8 (label 1) and 0.3 (label 0) is (ln 1.25 + ln 1/0.7)/2");
    check(isnan(nn_log_loss(NULL, NULL, 0)), "log loss of no examples is NaN");

    const float logit[] = {2.0f, -1.0f, 0.0f, 100.0f, -100.0f, 30.0f};
    const uint8_t ll[] = {1, 0, 1, 0, 0, 1};
    double worst = 0;
    for (int i = 0; i < 3; i++) {
        float p = (float)(1.0 / (1.0 + exp(-(double)logit[i])));
        double a = nn_log_loss_logits(logit + i, ll + i, 1), b = nn_log_loss(&p, ll + i, 1);
        if (fabs(a - b) > worst) worst = fabs(a - b);
    }
    check(worst < 1e-6, "log loss from logits matches log loss of sigmoid(logit) maxdiff=%.2g", worst);
    double big = nn_log_loss_logits(logit + 3, ll + 3, 1);
    double tiny = nn_log_loss_logits(logit + 4, ll + 4, 1);
    double sure = nn_log_loss_logits(logit + 5, ll + 5, 1);
    check(big == 100.0 && tiny > 0 && tiny < 1e-40 && sure > 0 && sure < 1e-12,
          "log loss from logits is stable and unclipped: z=100 y=0 -> %g, z=-100 y=0 -> %g, z=30 y=1 -> %g",
          big, tiny, sure);
}

static void test_calibration(void) {
    /* bins of 0.25: [0,.25) 0.1 0.2 0.0 | [.25,.5) 0.3 | [.5,.75) 0.6 0.7 0.5 | [.75,1] 0.9 1.0 */
    const float prob[] = {0.1f, 0.2f, 0.3f, 0.6f, 0.7f, 0.9f, 1.0f, 0.0f, 0.5f};
    const uint8_t label[] = {0, 1, 1, 1, 0, 1, 1, 0, 1};
    uint32_t count[10];
    float mean[10], frac[10];
    double ece = nn_calibration(count, mean, frac, 4, prob, label, 9);
    check(count[0] == 3 && count[1] == 1 && count[2] == 3 && count[3] == 2,
          "calibration counts, 0.5 in bin [.5,.75), 1.0 in the last bin: %u %u %u %u",
          count[0], count[1], count[2], count[3]);
    const float want_mean[] = {0.1f, 0.3f, 0.6f, 0.95f}, want_frac[] = {1.0f / 3, 1.0f, 2.0f / 3, 1.0f};
    int ok = 1;
    for (int k = 0; k < 4; k++) ok = ok && near(mean[k], want_mean[k], 1e-6) && near(frac[k], want_frac[k], 1e-6);
    check(ok, "calibration mean probability 0.1 0.3 0.6 0.95 and fraction positive 1/3 1 2/3 1 "
          "got %.4f %.4f %.4f %.4f / %.4f %.4f %.4f %.4f",
          mean[0], mean[1], mean[2], mean[3], frac[0], frac[1], frac[2], frac[3]);
    /* (3|1/3-0.1| + 1|1-0.3| + 3|2/3-0.6| + 2|1-0.95|) / 9 = (0.7+0.7+0.2+0.1)/9 */
    check(near(ece, 1.7 / 9, 1e-7), "expected calibration error is 1.7/9 got=%.9f", ece);

    /* Bin edges are exact: 0.7f and 0.9f lie just below 0.7 and 0.9, so they
     * fall in [0.6,0.7) and [0.8,0.9), and only 1.0 is in the last bin. */
    ece = nn_calibration(count, mean, frac, 10, prob, label, 9);
    uint32_t total = 0;
    for (int k = 0; k < 10; k++) total += count[k];
    check(total == 9 && count[4] == 0 && isnan(mean[4]) && isnan(frac[4]) && count[6] == 2 &&
              count[7] == 0 && count[8] == 1 && count[9] == 1 && ece >= 0,
          "calibration with 10 bins: empty bins are NaN, counts add up to N, 0.7f is in [0.6,0.7) "
          "counts %u %u %u %u %u %u %u %u %u %u", count[0], count[1], count[2], count[3], count[4],
          count[5], count[6], count[7], count[8], count[9]);
    const float perfect[] = {0.25f, 0.25f, 0.25f, 0.25f, 0.75f, 0.75f, 0.75f, 0.75f};
    const uint8_t perfect_label[] = {0, 0, 0, 1, 1, 1, 1, 0};
    ece = nn_calibration(count, mean, frac, 2, perfect, perfect_label, 8);
    check(ece == 0.0, "a perfectly calibrated set has ece 0 got=%g", ece);
    ece = nn_calibration(count, mean, frac, 2, NULL, NULL, 0);
    check(isnan(ece) && count[0] == 0 && isnan(mean[1]), "calibration of no examples: ece NaN, bins empty");
}

static int is_subsequence(const float *x, const float *y, const float *t, size_t n,
                          const float *xs, const float *ys, const float *ts, size_t m) {
    size_t i = 0;
    for (size_t j = 0; j < m; j++) {
        while (i < n && !(x[i] == xs[j] && y[i] == ys[j] && (!t || t[i] == ts[j]))) i++;
        if (i == n) return 0;
        i++;
    }
    return 1;
}

static void test_downsample(void) {
    /* A straight line of 17 points 1/8 apart: 5 points are every 4th. */
    float x[17], y[17], xo[17], yo[17];
    for (int i = 0; i < 17; i++) x[i] = i / 8.0f, y[i] = 0.5f;
    size_t m = nn_curve_downsample(xo, yo, NULL, x, y, NULL, 17, 5);
    check(m == 5 && xo[0] == 0 && xo[1] == 0.5f && xo[2] == 1 && xo[3] == 1.5f && xo[4] == 2,
          "downsampling a straight line keeps evenly spaced points m=%zu", m);

    nn_rng_seed(&rng, 42);
    size_t N = 10000;
    float *score = xmalloc(N * sizeof *score);
    uint8_t *label = xmalloc(N);
    uint32_t *order = xmalloc(N * sizeof *order), *scratch = xmalloc(N * sizeof *scratch);
    float *fpr = xmalloc((N + 1) * sizeof(float)), *tpr = xmalloc((N + 1) * sizeof(float));
    float *thr = xmalloc((N + 1) * sizeof(float));
    float *a = xmalloc((N + 1) * sizeof(float)), *b = xmalloc((N + 1) * sizeof(float));
    float *c = xmalloc((N + 1) * sizeof(float));
    random_set(score, label, N, 0.5f, 3);
    nn_sort_scores_desc(order, scratch, score, N);
    size_t K = nn_roc_curve(fpr, tpr, thr, score, label, order, N);
    static const size_t targets[] = {2, 3, 10, 50, 200};
    for (size_t ti = 0; ti < sizeof targets / sizeof targets[0]; ti++) {
        size_t want = targets[ti];
        m = nn_curve_downsample(a, b, c, fpr, tpr, thr, K, want);
        int mono = 1;
        for (size_t k = 1; k < m; k++) mono = mono && a[k] >= a[k - 1] && b[k] >= b[k - 1] && c[k] < c[k - 1];
        check(m <= want && m >= (want < 10 ? want : want / 2) && a[0] == 0 && b[0] == 0 &&
                  c[0] == INFINITY && a[m - 1] == 1 && b[m - 1] == 1 && mono &&
                  is_subsequence(fpr, tpr, thr, K, a, b, c, m),
              "downsampling a %zu-point roc curve to at most %zu keeps the ends and stays monotone m=%zu",
              K, want, m);
    }
    /* in place gives the same points */
    m = nn_curve_downsample(a, b, c, fpr, tpr, thr, K, 50);
    size_t m2 = nn_curve_downsample(fpr, tpr, thr, fpr, tpr, thr, K, 50);
    check(m2 == m && !memcmp(fpr, a, m * sizeof(float)) && !memcmp(tpr, b, m * sizeof(float)) &&
              !memcmp(thr, c, m * sizeof(float)),
          "downsampling in place gives the same points m=%zu", m2);
    m = nn_curve_downsample(a, b, NULL, x, y, NULL, 17, 17);
    check(m == 17 && !memcmp(a, x, sizeof x), "downsampling to at least n points copies the curve");

    /* A curve of NaN x (no negatives) falls back to evenly spaced indices. */
    for (size_t i = 0; i < N; i++) label[i] = 1;
    K = nn_roc_curve(fpr, tpr, thr, score, label, order, N);
    m = nn_curve_downsample(a, b, c, fpr, tpr, thr, K, 20);
    check(m == 20 && isnan(a[0]) && b[0] == 0 && b[m - 1] == 1 && c[m - 1] == thr[K - 1],
          "downsampling a curve with NaN rates still keeps both ends m=%zu", m);
    free(score), free(label), free(order), free(scratch), free(fpr), free(tpr), free(thr);
    free(a), free(b), free(c);
}

static void test_top_k(void) {
    /* index:                0      1     2      3     4     5      6       7      8 */
    const float score[] = {0.95f, 0.6f, 0.95f, 0.1f, 0.5f, 0.02f, 0.625f, 0.375f, 0.1f};
    const uint8_t label[] = {0, 0, 0, 1, 1, 1, 1, 0, 1};
    /* FP (label 0, > 0.5): 0, 2 (tied at 0.95), 1. FN (label 1, <= 0.5):
     * 5 (0.02), 3 and 8 (tied at 0.1), 4 (0.5). Distance to 0.5: 4 (0),
     * 1 (0.1), then 6 and 7 (0.125 each, exact in binary). */
    uint32_t idx[9];
    size_t m = nn_top_false_positives(idx, 2, score, label, 9, 0.5f);
    check(m == 2 && idx[0] == 0 && idx[1] == 2, "top 2 false positives are 0 then 2 (tie by index)");
    m = nn_top_false_positives(idx, 5, score, label, 9, 0.5f);
    check(m == 3 && idx[0] == 0 && idx[1] == 2 && idx[2] == 1,
          "asking for 5 false positives returns the 3 there are m=%zu", m);
    m = nn_top_false_negatives(idx, 3, score, label, 9, 0.5f);
    check(m == 3 && idx[0] == 5 && idx[1] == 3 && idx[2] == 8, "top 3 false negatives are 5, 3, 8");
    m = nn_top_false_negatives(idx, 9, score, label, 9, 0.5f);
    check(m == 4 && idx[3] == 4, "a score of exactly the threshold is a false negative m=%zu", m);
    m = nn_most_uncertain(idx, 4, score, 9, 0.5f);
    check(m == 4 && idx[0] == 4 && idx[1] == 1 && idx[2] == 6 && idx[3] == 7,
          "most uncertain are 4, 1, then 6 and 7 (tied, by index) got %u %u %u %u",
          idx[0], idx[1], idx[2], idx[3]);
    m = nn_most_uncertain(idx, 0, score, 9, 0.5f);
    check(m == 0, "k=0 returns nothing");
}

static double seconds_now(void) { return (double)clock() / CLOCKS_PER_SEC; }

static void time_diagnosis(void) {
    enum { N = 10000, REPS = 50, BINS = 10, POINTS = 200, TOPK = 20 };
    nn_rng_seed(&rng, 7);
    float *score = xmalloc(N * sizeof *score);
    uint8_t *label = xmalloc(N);
    uint32_t *order = xmalloc(N * sizeof *order), *scratch = xmalloc(N * sizeof *scratch);
    float *x = xmalloc((N + 1) * sizeof(float)), *y = xmalloc((N + 1) * sizeof(float));
    float *t = xmalloc((N + 1) * sizeof(float));
    for (size_t i = 0; i < N; i++) { /* full float precision: few ties, the most points */
        label[i] = nn_rng_below(&rng, 2);
        score[i] = nn_rng_uniform(&rng, 0.0f, 1.0f) * 0.6f + (label[i] ? 0.4f : 0.0f);
    }
    uint32_t count[BINS], idx[TOPK];
    float mean[BINS], frac[BINS];
    double sink = 0;
    double start = seconds_now();
    for (int r = 0; r < REPS; r++) {
        nn_sort_scores_desc(order, scratch, score, N);
        size_t K = nn_roc_curve(x, y, t, score, label, order, N);
        sink += (double)nn_curve_downsample(x, y, t, x, y, t, K, POINTS);
        sink += nn_roc_auc(score, label, order, N);
        K = nn_pr_curve(x, y, t, score, label, order, N);
        sink += (double)nn_curve_downsample(x, y, t, x, y, t, K, POINTS);
        sink += nn_average_precision(score, label, order, N);
        nn_classification c = nn_classification_from_confusion(nn_confusion_at(score, label, N, 0.5f));
        sink += c.macro_f1 + nn_log_loss(score, label, N);
        sink += nn_calibration(count, mean, frac, BINS, score, label, N);
        sink += (double)nn_top_false_positives(idx, TOPK, score, label, N, 0.5f);
        sink += (double)nn_top_false_negatives(idx, TOPK, score, label, N, 0.5f);
        sink += (double)nn_most_uncertain(idx, TOPK, score, N, 0.5f);
    }
    double ms = (seconds_now() - start) * 1000.0 / REPS;
    printf("# info whole diagnosis of %d reviews (sort, roc+auc, pr+ap, 2 downsamples, confusion, "
           "log loss, %d calibration bins, 3 top-%d lists): %.3f ms, mean of %d runs (sink %.3g)\n",
           N, BINS, TOPK, ms, REPS, sink);
    start = seconds_now();
    for (int r = 0; r < REPS; r++) nn_sort_scores_desc(order, scratch, score, N);
    printf("# info of which the sort: %.3f ms\n", (seconds_now() - start) * 1000.0 / REPS);
    free(score), free(label), free(order), free(scratch), free(x), free(y), free(t);
}

/* Multi-class: scikit-learn's documented example (f1_score: y_true
 * [0,1,2,0,1,2], y_pred [0,2,1,0,0,1] give macro F1 0.2667, micro 0.3333,
 * weighted 0.2667; precision_score macro 0.2222), a class that never
 * occurs, C = 2 against the binary metrics, and random matrices. */
static void test_multiclass(void) {
    static const uint8_t y[] = {0, 1, 2, 0, 1, 2}, p[] = {0, 2, 1, 0, 0, 1};
    uint32_t cm[16];
    nn_confusion_multiclass(cm, y, p, 6, 3);
    check(cm[0] == 2 && cm[1] == 0 && cm[3] == 1 && cm[5] == 1 && cm[7] == 2 && cm[4] == 0 && cm[8] == 0,
          "multiclass confusion: rows true, columns predicted");
    nn_multiclass m = nn_multiclass_from_confusion(cm, 3);
    check(fabs(m.macro_f1 - 0.26666667) < 1e-6 && fabs(m.micro_f1 - 1.0 / 3) < 1e-12 &&
              fabs(m.weighted_f1 - 0.26666667) < 1e-6 && fabs(m.macro_precision - 0.22222222) < 1e-6 &&
              fabs(m.macro_recall - 1.0 / 3) < 1e-12 && m.macro_classes == 3 && m.n == 6,
          "multiclass = scikit-learn's example: macro F1 %.4f P %.4f R %.4f, micro %.4f, weighted %.4f",
          m.macro_f1, m.macro_precision, m.macro_recall, m.micro_f1, m.weighted_f1);
    check(m.cls[0].precision == 2.0 / 3 && m.cls[0].recall == 1 && m.cls[1].f1 == 0 && m.cls[0].support == 2,
          "multiclass per class: class 0 P 2/3 R 1, class 1 F1 0");
    nn_confusion_multiclass(cm, y, p, 6, 4); /* class 3: no label, no prediction */
    nn_multiclass m4 = nn_multiclass_from_confusion(cm, 4);
    check(m4.macro_classes == 3 && m4.macro_f1 == m.macro_f1 && m4.accuracy == m.accuracy,
          "multiclass: a class that never occurs is left out of the macro average (as scikit-learn)");
    uint32_t zero[9] = {0};
    nn_multiclass e = nn_multiclass_from_confusion(zero, 3);
    check(isnan(e.accuracy) && isnan(e.macro_f1) && isnan(e.micro_f1), "multiclass: no examples gives NaN");

    double worst = 0;
    for (int trial = 0; trial < 200; trial++) {
        uint32_t C = 2 + nn_rng_below(&rng, 7), N = nn_rng_below(&rng, 300);
        uint8_t lab[300], pred[300];
        for (uint32_t i = 0; i < N; i++) {
            lab[i] = (uint8_t)nn_rng_below(&rng, C);
            pred[i] = nn_rng_below(&rng, 3) ? lab[i] : (uint8_t)nn_rng_below(&rng, C);
        }
        uint32_t big[81];
        nn_confusion_multiclass(big, lab, pred, N, C);
        nn_multiclass r = nn_multiclass_from_confusion(big, C);
        uint32_t correct = 0;
        for (uint32_t i = 0; i < N; i++) correct += lab[i] == pred[i];
        if (N) worst = fmax(worst, fabs(r.micro_f1 - (double)correct / N));
        if (C == 2 && N) {
            nn_confusion b = {big[3], big[1], big[0], big[2]};
            nn_classification bc = nn_classification_from_confusion(b);
            if (big[0] + big[1] && big[2] + big[3] && big[0] + big[2] && big[1] + big[3])
                worst = fmax(worst, fabs(bc.macro_f1 - r.macro_f1) + fabs(bc.positive.f1 - r.cls[1].f1) +
                                        fabs(bc.negative.precision - r.cls[0].precision));
        }
    }
    check(worst < 1e-12, "multiclass on 200 random sets: micro F1 = accuracy, C = 2 = the binary metrics "
          "(max diff %.2g)", worst);
}

/* One class against the rest, worked by hand: 5 examples, 4 classes (the
 * last absent). Class 0: positives 0.7, 0.4 against negatives 0.5, 0.3,
 * 0.2: U = 3 + 2, AUC 5/6; ranked 0.7 (P) 0.5 (N) 0.4 (P): AP (1 + 2/3)/2.
 * Class 1: positives 0.6, 0.3 against 0.4, 0.3, 0.2: U = 3 + 1 + 1/2, AUC
 * 0.75; 0.6 (P), 0.4 (N), then the tie at 0.3 (one each): AP 1/2 * 1 + 1/2 *
 * 2/4 = 0.75. Class 2: its one positive above everything: 1 and 1. */
static void test_one_vs_rest(void) {
    const float prob[5 * 4] = {
        0.7f, 0.2f, 0.1f, 0.0f, /* label 0 */
        0.3f, 0.6f, 0.1f, 0.0f, /* label 1 */
        0.2f, 0.3f, 0.5f, 0.0f, /* label 2 */
        0.4f, 0.4f, 0.2f, 0.0f, /* label 0 */
        0.5f, 0.3f, 0.2f, 0.0f, /* label 1 */
    };
    const uint8_t label[5] = {0, 1, 2, 0, 1};
    const double auc[4] = {5.0 / 6, 0.75, 1.0, NAN}, ap[4] = {5.0 / 6, 0.75, 1.0, NAN};
    const uint32_t positives[4] = {2, 2, 1, 0};
    float fpr[8], tpr[8];
    for (uint32_t c = 0; c < 4; c++) {
        nn_one_vs_rest r;
        int rc = nn_one_vs_rest_class(&r, fpr, tpr, 8, prob, label, 5, 4, c);
        int same = c < 3 ? near(r.auc, auc[c], 1e-12) && near(r.ap, ap[c], 1e-12)
                         : isnan(r.auc) && isnan(r.ap);
        check(rc == NN_OK && same && r.positives == positives[c],
              "one vs rest, class %u: auc %.6f ap %.6f positives %u (want %.6f %.6f %u)", c, r.auc, r.ap,
              r.positives, auc[c], ap[c], positives[c]);
    }
    /* Class 0's whole ROC: (0,0) (0,1/2) (1/3,1/2) (1/3,1) (2/3,1) (1,1). */
    nn_one_vs_rest r;
    nn_one_vs_rest_class(&r, fpr, tpr, 8, prob, label, 5, 4, 0);
    const float want_fpr[6] = {0, 0, 1.0f / 3, 1.0f / 3, 2.0f / 3, 1}, want_tpr[6] = {0, 0.5f, 0.5f, 1, 1, 1};
    int curve = r.roc_len == 6;
    for (uint32_t i = 0; curve && i < 6; i++) curve = near(fpr[i], want_fpr[i], 1e-6) && near(tpr[i], want_tpr[i], 1e-6);
    check(curve, "one vs rest, class 0: the ROC curve's 6 points (kept %u)", r.roc_len);
    nn_one_vs_rest_class(&r, fpr, tpr, 3, prob, label, 5, 4, 0);
    check(r.roc_len == 3 && fpr[0] == 0 && tpr[0] == 0 && fpr[2] == 1 && tpr[2] == 1,
          "one vs rest, 3 points kept: the first and the last among them (kept %u)", r.roc_len);
    /* The same AUC as the binary function on the derived scores. */
    float score[5];
    uint8_t pos[5];
    uint32_t order[5], scratch[5];
    for (int i = 0; i < 5; i++) score[i] = prob[i * 4 + 1], pos[i] = label[i] == 1;
    nn_sort_scores_desc(order, scratch, score, 5);
    nn_one_vs_rest_class(&r, fpr, tpr, 8, prob, label, 5, 4, 1);
    check(r.auc == nn_roc_auc(score, pos, order, 5) && r.ap == nn_average_precision(score, pos, order, 5),
          "one vs rest is the binary AUC and AP of the class's probabilities");
}

int main(void) {
    nn_rng_seed(&rng, 1);
    test_multiclass();
    test_confusion_by_hand();
    test_check_inputs();
    test_sort();
    test_sklearn_example();
    test_roc_auc_ap_random();
    test_auc_edge_cases();
    test_one_vs_rest();
    test_log_loss();
    test_calibration();
    test_downsample();
    test_top_k();
    time_diagnosis();
    return check_exit_code();
}
