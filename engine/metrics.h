/* metrics.h: binary-classification metrics for the "diagnosis" view.
 *
 * Given N scored reviews (score = the model's probability that a review is
 * positive, in [0,1]; label 0 negative, 1 positive), this computes the
 * confusion matrix and the per-class and macro precision/recall/F1 at a
 * threshold, the ROC curve and its AUC, the precision-recall curve and average
 * precision, log loss, reliability bins with the expected calibration error,
 * and the indices of the most confidently wrong and the most uncertain
 * reviews.
 *
 * What it deliberately is not: no file I/O, no state, no allocation. Outputs go
 * into arrays the caller owns; the one scratch buffer (the sort's) is the
 * caller's too, so the page can keep every buffer in the wasm heap and view it
 * as (ptr, len).
 *
 * Sizes, in the shape comments:
 *   N  examples (scored reviews)
 *   K  points of a curve, or bins of a reliability diagram
 * A curve of N examples has at most N+1 points (one per distinct score, plus
 * the start point), so its output arrays need N+1 entries.
 *
 * Inputs: scores must not be NaN and labels must be 0 or 1; breaking that is a
 * programmer error and stops at an assert. Data that comes from a user or a
 * file (a diverged checkpoint, unlabelled reviews) should go through
 * nn_metrics_check first, which reports it as a status code instead.
 *
 * Rates whose denominator is zero: the confusion-matrix metrics follow
 * scikit-learn's zero_division=0 (0/0 gives 0); curves, AUC and AP are
 * undefined for a set with only one class and give NaN, as they do in
 * scikit-learn (which also warns). Each function says which applies.
 *
 * Complexity: nn_sort_scores_desc is O(N log N); everything else is O(N)
 * (O(N K) for the top-k functions), so the whole diagnosis of 10,000 reviews
 * takes about a millisecond.
 */
#ifndef NN_METRICS_H
#define NN_METRICS_H

#include "nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* NN_OK, or NN_ERR_ARG naming the first example whose label is not 0/1 (such
 * as 255, an unlabelled review) or whose score is NaN or outside [0,1].
 * score (N), label (N). */
int nn_metrics_check(const float *score, const uint8_t *label, size_t N, nn_error *err);

/* ------------------------------------------------ threshold-based metrics */

typedef struct nn_confusion {
    uint32_t tp, fp, tn, fn;
} nn_confusion;

/* Predicted positive iff score > threshold: at 0.5 this is Keras's
 * binary_accuracy and the trainer's accuracy (logit > 0). score (N), label (N). */
nn_confusion nn_confusion_at(const float *score, const uint8_t *label, size_t N,
                             float threshold);

/* Precision, recall and F1 with one of the labels as the positive class. */
typedef struct nn_class_scores {
    double precision;   /* tp / (tp + fp); 0 when nothing is predicted this class */
    double recall;      /* tp / (tp + fn); 0 when no example has this label */
    double f1;          /* 2tp / (2tp + fp + fn), i.e. 2PR/(P+R); 0 when tp=fp=fn=0 */
    uint32_t support;   /* examples with this label: tp + fn */
} nn_class_scores;

typedef struct nn_classification {
    nn_confusion cm;
    double accuracy;          /* (tp + tn) / N; NaN when N = 0 */
    nn_class_scores positive; /* label 1 is the positive class */
    nn_class_scores negative; /* label 0 is: tp<->tn and fp<->fn swap */
    /* Unweighted means of the two classes (scikit-learn's average="macro";
     * macro_f1 is the mean of the F1s, not the F1 of the mean P and R). */
    double macro_precision, macro_recall, macro_f1;
} nn_classification;

nn_classification nn_classification_from_confusion(nn_confusion cm);

/* ---------------------------------------------- multi-class (a K-class text
 * model, issue 17). Sizes: C classes, 2..NN_MAX_TEXT_CLASSES (called K in
 * nn.h; C here, where K counts curve points). Single-label: each example
 * has one true class and one predicted class (the model's argmax). */

/* confusion (C,C) = 0, then confusion[t*C + p] += 1 for each example of
 * true class t = label[i] predicted p = pred[i] (rows true, columns
 * predicted: scikit-learn's confusion_matrix). Labels and predictions
 * must be below C (an assert). label (N), pred (N). */
void nn_confusion_multiclass(uint32_t *confusion, const uint8_t *label, const uint8_t *pred, size_t N,
                             uint32_t C);

typedef struct nn_multiclass {
    uint32_t classes;   /* C */
    uint64_t n;         /* examples: the sum of the matrix */
    double accuracy;    /* trace / n; NaN when n = 0 */
    nn_class_scores cls[NN_MAX_TEXT_CLASSES]; /* (C) class c against the rest, zero_division 0 */
    /* scikit-learn's average="macro": the unweighted mean over the classes
     * that occur as a label or a prediction (its default labels=None);
     * macro_f1 is the mean of the F1s. NaN when n = 0. */
    double macro_precision, macro_recall, macro_f1;
    uint32_t macro_classes;   /* classes the macro averages are over */
    /* average="micro": from the summed tp, fp, fn; with one label per
     * example every one of them equals the accuracy. */
    double micro_precision, micro_recall, micro_f1;
    double weighted_f1; /* average="weighted": F1s weighted by support */
} nn_multiclass;

/* Everything above from a (C,C) confusion matrix. With C = 2 the classes'
 * scores are nn_classification_from_confusion's (negative = class 0,
 * positive = class 1), and so are the macro averages when both classes
 * occur. */
nn_multiclass nn_multiclass_from_confusion(const uint32_t *confusion, uint32_t C);

/* ------------------------------------------------------------------- sort */

/* order (N) = 0..N-1 sorted by descending score; equal scores keep ascending
 * index order (stable). A merge sort: O(N log N), scratch (N) is the caller's.
 * This order is the input of the ROC and precision-recall functions. */
void nn_sort_scores_desc(uint32_t *order, uint32_t *scratch, const float *score, size_t N);

/* --------------------------------------------------------------- ROC curve
 *
 * One point per distinct score s (taken as a threshold, predicted positive
 * iff score >= s, scikit-learn's roc_curve convention), in order of
 * decreasing threshold, after a start point (fpr 0, tpr 0, threshold
 * +INFINITY). Tied scores therefore form one step, the diagonal of a tie
 * block, and the last point is (1, 1). No points are dropped
 * (scikit-learn's drop_intermediate=False).
 *   fpr (K) = fp / negatives, tpr (K) = tp / positives;
 *   a rate whose class is absent is NaN at every point.
 * fpr, tpr, threshold: (N+1) outputs; order (N) from nn_sort_scores_desc.
 * Returns K, the number of points written (distinct scores + 1). */
size_t nn_roc_curve(float *fpr, float *tpr, float *threshold,
                    const float *score, const uint8_t *label, const uint32_t *order, size_t N);

/* Area under the ROC curve, exactly: the trapezoid rule over the tie steps,
 * computed in integer counts, which is the Mann-Whitney U / (positives *
 * negatives) with each tied positive-negative pair counted as 1/2.
 * NaN when either class is absent. */
double nn_roc_auc(const float *score, const uint8_t *label, const uint32_t *order, size_t N);

/* ------------------------------------------------- precision-recall curve
 *
 * The same thresholds and order as nn_roc_curve: a start point (recall 0,
 * precision 1, threshold +INFINITY: scikit-learn's precision_recall_curve
 * appends the same (1, 0) point), then one point per distinct score with
 * recall = tp / positives and precision = tp / (tp + fp), so recall is
 * non-decreasing along the arrays. With no positives, recall is NaN.
 * recall, precision, threshold: (N+1) outputs. Returns K. */
size_t nn_pr_curve(float *recall, float *precision, float *threshold,
                   const float *score, const uint8_t *label, const uint32_t *order, size_t N);

/* Average precision, scikit-learn's definition (average_precision_score):
 * AP = sum over thresholds of (R_n - R_(n-1)) * P_n, ties as one step; the
 * same as the mean, over positives, of the precision at that positive's
 * score. No interpolation. NaN with no positives; 1 with no negatives. */
double nn_average_precision(const float *score, const uint8_t *label, const uint32_t *order,
                            size_t N);

/* Keeps at most K points of a curve for plotting: always the first and the
 * last, and in between points spread evenly along the curve's length in the
 * (x, y) plane (falling back to evenly spaced indices if that length is 0 or
 * not finite). The kept points are a subsequence, so a monotone curve stays
 * monotone. x, y, t (n) in; x_out, y_out, t_out (min(n, K)) out; t and t_out
 * may be NULL; the outputs may be the inputs (in place). K >= 2.
 * Returns the number of points kept. */
size_t nn_curve_downsample(float *x_out, float *y_out, float *t_out,
                           const float *x, const float *y, const float *t,
                           size_t n, size_t K);

/* ---------------------------------------------------------- one vs rest */

/* A K-class model judged one class at a time: class cls's probability is
 * the score and "the label is cls" the positive, so the binary curves above
 * apply (scikit-learn's roc_auc_score(multi_class="ovr") per class, and its
 * macro average is the mean over the classes where both sides occur). */
typedef struct nn_one_vs_rest {
    double auc;          /* NaN when no example, or every one, is of the class */
    double ap;           /* NaN when no example is of the class (1 when every one is) */
    uint32_t positives;  /* examples of the class */
    uint32_t roc_len;    /* ROC points kept in fpr/tpr */
} nn_one_vs_rest;

/* prob (N,K) row-major, label (N) class ids (>= K: not counted as the class,
 * so an unlabelled example is a negative; pass labelled examples only).
 * fpr, tpr: room for `points` (>= 2) floats each, the ROC curve downsampled
 * (nn_curve_downsample). Returns NN_OK, or NN_ERR_NOMEM with *out zeroed
 * when its scratch (about 26 bytes an example) cannot be had. */
int nn_one_vs_rest_class(nn_one_vs_rest *out, float *fpr, float *tpr, uint32_t points,
                         const float *prob, const uint8_t *label, size_t N, uint32_t K,
                         uint32_t cls);

/* ---------------------------------------------------------------- log loss */

/* Mean binary cross-entropy of probabilities, each clipped to [1e-7, 1-1e-7]
 * first as Keras does (keras.ops.binary_crossentropy, epsilon 1e-7), computed
 * in double. NaN when N = 0. prob (N), label (N). */
double nn_log_loss(const float *prob, const uint8_t *label, size_t N);

/* The same from logits (before the sigmoid), without clipping, in the
 * stable form max(z,0) - z*y + log1p(exp(-|z|)) (TensorFlow's
 * sigmoid_cross_entropy_with_logits). NaN when N = 0. logit (N), label (N). */
double nn_log_loss_logits(const float *logit, const uint8_t *label, size_t N);

/* Temperature scaling (Guo et al. 2017, "On Calibration of Modern Neural
 * Networks", section 4.2): the T > 0 that minimises the mean log loss of
 * sigmoid(logit / T) over N labelled examples. Fit it on validation
 * reviews, never the test set; T > 1 softens overconfident scores, and the
 * predicted class (the sign of the logit) never changes. The loss is convex
 * in 1/T, so Newton's method on 1/T (halving a step that does not lower the
 * loss) converges in a few steps. Returns 1 when N = 0 or every logit is 0,
 * and keeps 1/T within [1e-3, 1e3]. logit (N), label (N, 0 or 1). */
double nn_fit_temperature(const float *logit, const uint8_t *label, size_t N);

/* ------------------------------------------------------------- calibration */

#define NN_CALIBRATION_MAX_BINS 100

/* Reliability diagram: K equal-width bins (1 <= K <= NN_CALIBRATION_MAX_BINS,
 * which bounds the per-bin sums kept on the stack), bin k holding the probabilities in
 * [k/K, (k+1)/K) (the last bin includes 1; values outside [0,1] go to the end
 * bins). count (K) examples per bin; mean_prob (K) their mean probability;
 * frac_pos (K) the fraction of them labelled 1; both NaN for an empty bin.
 * Returns the expected calibration error (Guo et al. 2017, "On Calibration of
 * Modern Neural Networks"): sum over non-empty bins of
 * count/N * |frac_pos - mean_prob|, in double; NaN when N = 0. */
double nn_calibration(uint32_t *count, float *mean_prob, float *frac_pos, uint32_t K,
                      const float *prob, const uint8_t *label, size_t N);

/* -------------------------------------------------------------- examples
 *
 * Each writes up to k indices into idx (k) and returns how many it wrote
 * (fewer than k when there are fewer such examples). Equal keys keep
 * ascending index order. */

/* False positives at the threshold (label 0, score > threshold), highest
 * score first: the most confidently wrong negatives. */
size_t nn_top_false_positives(uint32_t *idx, size_t k, const float *score, const uint8_t *label,
                              size_t N, float threshold);
/* False negatives at the threshold (label 1, score <= threshold), lowest
 * score first: the most confidently wrong positives. */
size_t nn_top_false_negatives(uint32_t *idx, size_t k, const float *score, const uint8_t *label,
                              size_t N, float threshold);
/* All examples, closest to the threshold (|score - threshold| smallest) first:
 * the ones the model is least sure about. */
size_t nn_most_uncertain(uint32_t *idx, size_t k, const float *score, size_t N, float threshold);

#ifdef __cplusplus
}
#endif
#endif
