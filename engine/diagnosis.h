/* diagnosis.h: scores every review of a set with a model and summarises the
 * scores with the metrics of metrics.h, for the page's diagnosis panel and
 * imdb_diagnose.
 *
 * A set is either a trainer's padded set ("val" or "test", nn_trainer_set)
 * or labelled texts a user brought (labelled_text.h), encoded batch by batch
 * the way the review box encodes text (stop words removed). Scoring runs in
 * slices (nn_diagnosis_step), like nn_trainer_eval_step, so a worker stays
 * responsive while a recurrent model scores thousands of reviews. Optionally
 * each word of the model's vocabulary is rated too: its score when it is
 * the only word of a review, against the score of a review with no word.
 *
 * After scoring, nn_diagnosis_summarise computes the threshold-free results
 * once (ROC and precision-recall curves, AUC, AP, log loss, reliability
 * bins and a score histogram per true class); nn_diagnosis_at gives the
 * confusion matrix, P/R/F1 and the reviews behind them at any threshold in
 * O(N), which is what the page's threshold slider calls.
 *
 * Not here: which weights are used (the caller passes the model; for an
 * earlier epoch's weights, nn_diagnosis_model), any file I/O, text output.
 */
#ifndef NN_DIAGNOSIS_H
#define NN_DIAGNOSIS_H

#include "labelled_text.h"
#include "metrics.h"
#include "nn.h"
#include "stopwords.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nn_diagnosis {
    /* the set (N examples) */
    uint32_t n;
    uint32_t T;                    /* the model's maxlen */
    const uint16_t *ids;           /* (N,T) padded ids, or NULL when texts are encoded */
    const nn_labelled_text *texts; /* encoded batch by batch when ids is NULL */
    const nn_vocab *vocab;         /* for texts and words */
    const nn_stopwords *stop;      /* for texts and words; may be NULL */
    uint8_t *label;                /* (N) 0 or 1 */
    float *logit;                  /* (N) */
    float *score;                  /* (N) sigmoid(logit): the probability of "positive" */
    uint32_t scored;               /* examples scored so far */
    /* word ratings (nn_diagnosis_want_words) */
    uint32_t V;                    /* ids rated: NN_FIRST_WORD .. V-1 (the model's vocab_size); 0 = none */
    float *word_score;             /* (V) score of <START> word alone; NaN: not rated (special ids, stop words) */
    float empty_score;             /* score of <START> alone */
    uint32_t next_word;            /* next id to rate */
    /* scratch */
    uint16_t *batch;               /* (Bmax,T) */
    uint32_t *enc;                 /* one encoded text */
    size_t enc_cap;
    uint32_t *order, *sort_scratch;/* (N) */
    /* the summary (nn_diagnosis_summarise) */
    int summarised;
    uint32_t positives, negatives;
    double auc, ap, log_loss, ece;  /* NaN where undefined (one class only) */
    uint32_t roc_len, pr_len;       /* curve points kept */
    float *roc_fpr, *roc_tpr, *roc_thr;        /* (N+1) */
    float *pr_recall, *pr_precision, *pr_thr;  /* (N+1) */
    uint32_t bins;
    uint32_t cal_count[NN_CALIBRATION_MAX_BINS];
    float cal_mean[NN_CALIBRATION_MAX_BINS], cal_frac[NN_CALIBRATION_MAX_BINS];
    uint32_t hist_pos[NN_CALIBRATION_MAX_BINS], hist_neg[NN_CALIBRATION_MAX_BINS];
} nn_diagnosis;

/* A diagnosis of a padded set: ids (n,T) with T = m->cfg.maxlen, labels
 * (n) 0 or 1 as floats (nn_trainer_set's). ids and label must outlive d. */
int nn_diagnosis_create_padded(nn_diagnosis **out, const nn_model *m, const uint16_t *ids,
                               const float *label, uint32_t n, nn_error *err);
/* A diagnosis of labelled texts, encoded with vocabulary v and the filter s
 * (may be NULL) as the model's config says (vocab_size, maxlen, padding).
 * lt, v and s must outlive d. NN_ERR_ARG when lt has no example. */
int nn_diagnosis_create_texts(nn_diagnosis **out, const nn_model *m, const nn_labelled_text *lt,
                              const nn_vocab *v, const nn_stopwords *s, nn_error *err);
void nn_diagnosis_free(nn_diagnosis *d);

/* Also rate every word id NN_FIRST_WORD .. vocab_size-1 of v that is not a
 * stop word of s (may be NULL). v and s must outlive d. */
int nn_diagnosis_want_words(nn_diagnosis *d, const nn_model *m, const nn_vocab *v,
                            const nn_stopwords *s, nn_error *err);

/* Scores up to max_batches batches of m->Bmax rows (examples first, then
 * words; a call that finishes the examples stops there, so the two can be
 * timed apart); returns 1 when everything is scored. m must be the model d was
 * created for, with the weights to diagnose; the results do not depend on
 * how the work is sliced. */
int nn_diagnosis_step(nn_diagnosis *d, nn_model *m, uint32_t max_batches);

/* After the last step: sorts the scores, computes the curves (then keeps at
 * most curve_points of each, nn_curve_downsample, curve_points >= 2), AUC,
 * AP, log loss (from the logits, exact), `bins` reliability bins (1..
 * NN_CALIBRATION_MAX_BINS) and the per-class score histogram over the same
 * bins. NN_ERR_DIVERGED when a score is NaN (a diverged model); NN_ERR_STATE
 * before scoring is done. */
int nn_diagnosis_summarise(nn_diagnosis *d, uint32_t curve_points, uint32_t bins, nn_error *err);

/* At threshold (predicted positive iff score > threshold): the confusion
 * matrix and scores, and up to k indices each of the most confident false
 * positives, the most confident false negatives and the reviews closest to
 * the threshold (each array (k), may be NULL; n_found[3] gets how many). */
nn_classification nn_diagnosis_at(const nn_diagnosis *d, float threshold, size_t k,
                                  uint32_t *false_pos, uint32_t *false_neg, uint32_t *uncertain,
                                  size_t n_found[3]);

/* A word's polarity: its score alone minus the score of the empty review
 * (NaN when it was not rated). */
float nn_diagnosis_polarity(const nn_diagnosis *d, uint32_t id);

/* The words that push most towards one class: up to k ids, sign > 0 the
 * most positive first, sign < 0 the most negative first, ranked by polarity
 * times training count (by_count, the word's total push over the training
 * reviews) or by polarity alone; words seen fewer than min_count times in
 * training are left out. Equal keys keep ascending id order (more frequent
 * first). Returns how many ids it wrote. */
size_t nn_diagnosis_top_words(const nn_diagnosis *d, uint32_t *ids, size_t k, int sign,
                              int by_count, uint32_t min_count);

/* Occlusion in logit units, for the reviews the diagnosis lists: contrib[i]
 * = logit(review) - logit(review with ids[i] replaced by <PAD>), 0 for ids
 * cut by maxlen (ids, n and the padding as nn_model_explain's). The model's
 * probabilities saturate on the most confidently wrong reviews (0.9999 and
 * 0.99999 are the same float difference away from 1), where nn_model_explain's
 * differences of probabilities vanish; differences of logits do not.
 * Batches of occluded copies go through nn_model_forward in d->batch.
 * Returns the review's logit. */
float nn_diagnosis_explain(nn_diagnosis *d, nn_model *m, const uint32_t *ids, size_t n, float *contrib);

/* The finished summary as the floats of layout "diagnose_summary"
 * (result_layouts.h: n, positives, ..., words_rated), NaN where undefined. */
void nn_diagnosis_summary_floats(const nn_diagnosis *d, float *out);
/* The summarised curves as one float array of nn_diagnosis_curves_len(d):
 * ROC fpr, tpr, threshold (roc_len each), PR recall, precision, threshold
 * (pr_len each), then per bin: mean probability, fraction positive, count,
 * negatives, positives (bins each). */
size_t nn_diagnosis_curves_len(const nn_diagnosis *d);
void nn_diagnosis_curves_floats(const nn_diagnosis *d, float *out);
/* One threshold's results (nn_diagnosis_at's c and found) as the floats of
 * layout "diagnose_at". */
void nn_diagnosis_at_floats(float *out, float threshold, const nn_classification *c, const size_t found[3]);

/* A model of m's config holding a copy of params (nparams floats; m's own
 * weights when NULL) and m's threads: the weights a diagnosis scores with
 * (e.g. an earlier epoch's) while m trains on. Free with nn_model_free. */
int nn_diagnosis_model(nn_model **out, const nn_model *m, const float *params, nn_error *err);

#ifdef __cplusplus
}
#endif
#endif
