/* test_diagnosis.c: scoring a set for the diagnosis and rating words, on the
 * synthetic task. Slicing never changes a score; the confusion matrix at 0.5
 * is the trainer's own accuracy; AUC equals a brute-force pairwise count on
 * the real scores; the summary is consistent; a word's rating is exactly
 * nn_model_explain of the review made of that word; the words found are the
 * synthetic task's class words; stop words are not rated; labelled texts
 * score exactly as the padded reviews they spell; a diverged model is
 * refused. For the bag model and an LSTM. */
#include "check.h"
#include "diagnosis.h"
#include "nn.h"
#include "synthetic.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static synthetic data;

static nn_config small_config(int model) {
    nn_config c;
    nn_config_default(&c);
    c.vocab_size = 64;
    c.maxlen = 24;
    c.embed_dim = 8;
    c.hidden = 8;
    c.batch_size = 32;
    c.epochs = model == NN_MODEL_BAG ? 30 : 6;
    c.val_size = 200;
    c.lr = model == NN_MODEL_BAG ? 0.01f : 0.02f;
    c.seed = 3;
    c.model = model;
    if (model != NN_MODEL_BAG) c.padding = NN_PAD_PRE;
    return c;
}

static nn_trainer *trained(const nn_config *cfg) {
    nn_trainer *t = NULL;
    nn_error err = {0};
    if (nn_trainer_create(&t, cfg, &data.shard, &err)) {
        check(0, "trainer_create %s", err.msg);
        return NULL;
    }
    nn_progress p;
    do {
        if (nn_trainer_run(t, 1000, &p, &err)) {
            check(0, "trainer_run %s", err.msg);
            nn_trainer_free(t);
            return NULL;
        }
    } while (!p.finished);
    return t;
}

static nn_diagnosis *diagnose(nn_trainer *t, const char *split, uint32_t slice, int words) {
    nn_model *m = nn_trainer_model(t);
    uint32_t n;
    const float *label;
    const uint16_t *ids = nn_trainer_set(t, split, &n, &label, NULL);
    nn_diagnosis *d = NULL;
    nn_error err = {0};
    int rc = nn_diagnosis_create_padded(&d, m, ids, label, n, &err);
    if (!rc && words) rc = nn_diagnosis_want_words(d, m, &data.shard.vocab, nn_trainer_stopwords(t), &err);
    if (rc) {
        check(0, "diagnosis_create %s", err.msg);
        nn_diagnosis_free(d);
        return NULL;
    }
    uint32_t calls = 0;
    while (!nn_diagnosis_step(d, m, slice)) calls++;
    if (nn_diagnosis_summarise(d, 50, 10, &err)) check(0, "summarise %s", err.msg);
    return d;
}

static double brute_auc(const float *s, const uint8_t *y, uint32_t n) {
    double wins = 0;
    uint64_t pos = 0, neg = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!y[i]) continue;
        pos++;
        for (uint32_t j = 0; j < n; j++)
            if (!y[j]) wins += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
    }
    for (uint32_t j = 0; j < n; j++) neg += !y[j];
    return wins / ((double)pos * (double)neg);
}

static void scores_and_metrics(const char *name, nn_trainer *t) {
    nn_model *m = nn_trainer_model(t);
    nn_diagnosis *a = diagnose(t, "val", 1000, 1), *b = diagnose(t, "val", 1, 1);
    if (!a || !b) return;
    check(a->n == 200 && a->scored == 200 && !memcmp(a->score, b->score, a->n * sizeof *a->score) &&
              !memcmp(a->logit, b->logit, a->n * sizeof *a->logit) &&
              !memcmp(a->word_score, b->word_score, a->V * sizeof *a->word_score) &&
              a->empty_score == b->empty_score,
          "%s: one batch per step gives bit-identical scores and word ratings", name);

    float loss, acc;
    nn_error err = {0};
    nn_trainer_evaluate(t, "val", &loss, &acc, &err);
    size_t found[3];
    uint32_t fp[5], fn[5], unc[5];
    nn_classification c = nn_diagnosis_at(a, 0.5f, 5, fp, fn, unc, found);
    uint32_t total = c.cm.tp + c.cm.fp + c.cm.tn + c.cm.fn;
    check(total == 200 && (float)(c.cm.tp + c.cm.tn) / 200.0f == acc,
          "%s: the confusion matrix at 0.5 sums to 200 and its accuracy %.4f is the trainer's %.4f",
          name, c.accuracy, acc);
    check(fabs(a->log_loss - loss) < 1e-5 * (1 + loss), "%s: log loss %.6f = the trainer's %.6f", name,
          a->log_loss, loss);
    check(c.cm.tp + c.cm.fn == a->positives && a->positives + a->negatives == 200 &&
              c.positive.support == a->positives,
          "%s: %u positives, %u negatives", name, a->positives, a->negatives);
    double ref = brute_auc(a->score, a->label, a->n);
    check(a->auc == ref && a->auc > 0.9, "%s: AUC %.6f equals the brute-force pairwise count %.6f", name,
          a->auc, ref);
    int ok = found[0] == (c.cm.fp < 5 ? c.cm.fp : 5) && found[1] == (c.cm.fn < 5 ? c.cm.fn : 5) && found[2] == 5;
    for (size_t i = 0; i < found[0]; i++)
        ok &= a->label[fp[i]] == 0 && a->score[fp[i]] > 0.5f && (!i || a->score[fp[i]] <= a->score[fp[i - 1]]);
    for (size_t i = 0; i < found[1]; i++)
        ok &= a->label[fn[i]] == 1 && a->score[fn[i]] <= 0.5f && (!i || a->score[fn[i]] >= a->score[fn[i - 1]]);
    check(ok, "%s: %zu false positives (highest first), %zu false negatives (lowest first), %zu uncertain",
          name, found[0], found[1], found[2]);
    c = nn_diagnosis_at(a, 0.0f, 0, NULL, NULL, NULL, NULL);
    check(c.cm.tn + c.cm.fn == 0 || a->score[0] == 0.0f, "%s: at threshold 0 everything is positive", name);
    c = nn_diagnosis_at(a, 1.0f, 0, NULL, NULL, NULL, NULL);
    check(c.cm.tp + c.cm.fp == 0, "%s: at threshold 1 nothing is positive", name);

    uint32_t cal = 0, hp = 0, hn = 0;
    for (uint32_t k = 0; k < a->bins; k++) cal += a->cal_count[k], hp += a->hist_pos[k], hn += a->hist_neg[k];
    check(a->roc_len >= 2 && a->roc_len <= 50 && a->roc_fpr[0] == 0 && a->roc_tpr[0] == 0 &&
              a->roc_fpr[a->roc_len - 1] == 1 && a->roc_tpr[a->roc_len - 1] == 1 && a->pr_len >= 2 &&
              a->pr_len <= 50 && a->pr_recall[a->pr_len - 1] == 1 && cal == 200 && hp == a->positives &&
              hn == a->negatives && a->ap > 0.9 && a->ece >= 0 && a->ece < 0.5,
          "%s: curves from (0,0) to (1,1) in <= 50 points, AP %.4f, ECE %.4f, bins hold every review",
          name, a->ap, a->ece);

    /* A word's rating is the score of the review made of it alone. */
    int exact = 1, rated = 0;
    uint32_t empty[1] = {NN_START};
    float e = nn_model_explain(m, empty, 1, NULL);
    exact &= e == a->empty_score;
    for (uint32_t id = NN_FIRST_WORD; id < a->V; id++) {
        uint32_t ids[2] = {NN_START, id};
        float s = nn_model_explain(m, ids, 2, NULL);
        exact &= s == a->word_score[id];
        exact &= nn_diagnosis_polarity(a, id) == s - e;
        rated++;
    }
    check(exact && rated == 60, "%s: all %d word ratings are nn_model_explain of <START> word", name, rated);
    /* Synthetic ids 4..9 are positive words, 10..15 negative ones. */
    uint32_t top[6];
    size_t k = nn_diagnosis_top_words(a, top, 6, +1, 1, 0);
    int class_words = k == 6;
    for (size_t i = 0; i < k; i++) class_words &= top[i] >= 4 && top[i] <= 9;
    check(class_words, "%s: the 6 words pushing most towards positive are the positive words (%u %u %u ...)",
          name, top[0], top[1], top[2]);
    k = nn_diagnosis_top_words(a, top, 6, -1, 0, 0);
    int negative_words = 0;
    for (size_t i = 0; i < k; i++) negative_words += top[i] >= 10 && top[i] <= 15;
    check(k == 6 && negative_words >= 5 && top[0] >= 10 && top[0] <= 15,
          "%s: by polarity alone, the most negative words are the negative ones (%u %u %u %u %u %u)",
          name, top[0], top[1], top[2], top[3], top[4], top[5]);
    int sorted = 1;
    uint32_t many[40];
    k = nn_diagnosis_top_words(a, many, 40, +1, 1, 0);
    for (size_t i = 1; i < k; i++) {
        float p0 = nn_diagnosis_polarity(a, many[i - 1]) * data.shard.vocab.count[many[i - 1]];
        float p1 = nn_diagnosis_polarity(a, many[i]) * data.shard.vocab.count[many[i]];
        sorted &= p1 <= p0 && p1 > 0;
    }
    k = nn_diagnosis_top_words(a, many, 40, +1, 1, 1000);
    check(sorted && k == 0, "%s: the ranking is by polarity x count, positive only; min_count filters", name);
    many[0] = 12345;
    check(nn_diagnosis_top_words(a, many + 1, 0, -1, 1, 0) == 0 && many[0] == 12345,
          "%s: k = 0 writes nothing", name);
    nn_diagnosis_free(a);
    nn_diagnosis_free(b);
}

/* The val reviews as labelled text: their words joined by spaces. */
static void labelled_texts_score_like_the_padded_reviews(nn_trainer *t, const char *name) {
    nn_model *m = nn_trainer_model(t);
    uint32_t n;
    const float *label;
    const uint32_t *source;
    nn_trainer_set(t, "val", &n, &label, &source);
    const nn_split *train = nn_shard_find(&data.shard, "train");
    size_t cap = (size_t)n * 200 + 1, at = 0;
    char *doc = malloc(cap);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t r = source[i];
        at += (size_t)snprintf(doc + at, cap - at, "%s\t", train->label[r] ? "pos" : "neg");
        for (uint32_t j = train->offset[r] + 1; j < train->offset[r + 1]; j++) {
            size_t len;
            const char *w = nn_vocab_word(&data.shard.vocab, train->tokens[j], &len);
            at += (size_t)snprintf(doc + at, cap - at, "%.*s%s", (int)len, w,
                                   j + 1 < train->offset[r + 1] ? " " : "\n");
        }
    }
    nn_labelled_text lt;
    nn_error err = {0};
    int rc = nn_labelled_text_parse(&lt, doc, at, NN_LT_AUTO, &err);
    free(doc);
    nn_diagnosis *d = NULL, *p = diagnose(t, "val", 1000, 0);
    if (!rc) rc = nn_diagnosis_create_texts(&d, m, &lt, &data.shard.vocab, nn_trainer_stopwords(t), &err);
    check(rc == NN_OK && lt.n == n, "%s: %u val reviews read back as labelled text %s", name, lt.n, err.msg);
    if (rc == NN_OK && p) {
        while (!nn_diagnosis_step(d, m, 3)) {}
        rc = nn_diagnosis_summarise(d, 50, 10, &err);
        check(rc == NN_OK && !memcmp(d->score, p->score, n * sizeof *d->score) &&
                  !memcmp(d->label, p->label, n) && d->auc == p->auc,
              "%s: the texts score bit for bit as the padded reviews (AUC %.4f)", name, d->auc);
    }
    nn_diagnosis_free(d);
    nn_diagnosis_free(p);
    nn_labelled_text empty;
    nn_labelled_text_parse(&empty, "x\ty\n", 4, NN_LT_AUTO, &err);
    rc = nn_diagnosis_create_texts(&d, m, &empty, &data.shard.vocab, NULL, &err);
    check(rc == NN_ERR_ARG && d == NULL, "%s: labelled text without an example is refused: %s", name, err.msg);
    nn_labelled_text_free(&empty);
    nn_labelled_text_free(&lt);
}

/* nn_diagnosis_explain: each contribution is the logit of the review minus
 * the logit of the review with that id replaced by <PAD>, exactly. */
static void explain_in_logits(nn_trainer *t, const char *name) {
    nn_model *m = nn_trainer_model(t);
    nn_diagnosis *d = diagnose(t, "val", 1000, 0);
    if (!d) return;
    const nn_config *c = &m->cfg;
    uint32_t T = c->maxlen;
    int exact = 1, cut_zero = 1, same_sign = 1;
    uint16_t *row = malloc(T * sizeof *row);
    for (uint32_t len = 1; len <= T + 6; len += 5) { /* shorter and longer than maxlen */
        uint32_t ids[64];
        float contrib[64], pc[64];
        ids[0] = NN_START;
        for (uint32_t i = 1; i < len; i++) ids[i] = 4 + (i * 7) % 60;
        float logit = nn_diagnosis_explain(d, m, ids, len, contrib);
        float score = nn_model_explain(m, ids, len, pc);
        exact &= fabsf(1.0f / (1.0f + expf(-logit)) - score) < 1e-6f;
        for (uint32_t i = 0; i < len; i++) {
            size_t keep = len < T ? len : T;
            size_t from = (len > T && c->truncating == NN_PAD_PRE) ? len - T : 0;
            if (i < from || i >= from + keep) {
                cut_zero &= contrib[i] == 0.0f;
                continue;
            }
            uint32_t copy[64];
            memcpy(copy, ids, len * sizeof *copy);
            nn_pad_review_u32(row, copy, len, c);
            row[(c->padding == NN_PAD_PRE ? T - keep : 0) + i - from] = NN_PAD;
            nn_model_forward(m, row, 1);
            exact &= contrib[i] == logit - m->logit[0];
            same_sign &= (contrib[i] > 0) == (pc[i] > 0) || fabsf(pc[i]) < 1e-6f;
        }
    }
    free(row);
    check(exact, "%s: logit contributions are exactly logit(review) - logit(review without the word)", name);
    check(cut_zero, "%s: ids cut by maxlen contribute 0", name);
    check(same_sign, "%s: and have the sign of nn_model_explain's", name);
    nn_diagnosis_free(d);
}

static void stop_words_are_not_rated(void) {
    nn_config cfg = small_config(NN_MODEL_BAG);
    cfg.epochs = 10;
    snprintf(cfg.stopwords, sizeof cfg.stopwords, "w4 w10");
    nn_trainer *t = trained(&cfg);
    if (!t) return;
    nn_diagnosis *d = diagnose(t, "val", 1000, 1);
    uint32_t top[20];
    size_t k = nn_diagnosis_top_words(d, top, 20, +1, 1, 0);
    size_t k2 = nn_diagnosis_top_words(d, top + 10, 10, -1, 1, 0);
    int absent = 1;
    for (size_t i = 0; i < k; i++) absent &= top[i] != 4 && top[i] != 10;
    for (size_t i = 0; i < k2; i++) absent &= top[10 + i] != 4 && top[10 + i] != 10;
    check(d && isnan(d->word_score[4]) && isnan(d->word_score[10]) && !isnan(d->word_score[5]) && absent,
          "stop words w4 and w10 are not rated and never listed");
    labelled_texts_score_like_the_padded_reviews(t, "bag with stop words");
    nn_diagnosis_free(d);
    nn_trainer_free(t);
}

static void refusals(void) {
    nn_config cfg = small_config(NN_MODEL_BAG);
    cfg.epochs = 1;
    nn_trainer *t = trained(&cfg);
    if (!t) return;
    nn_model *m = nn_trainer_model(t);
    uint32_t n;
    const float *label;
    const uint16_t *ids = nn_trainer_set(t, "test", &n, &label, NULL);
    nn_diagnosis *d = NULL;
    nn_error err = {0};
    nn_diagnosis_create_padded(&d, m, ids, label, n, &err);
    nn_diagnosis_step(d, m, 1);
    int rc = nn_diagnosis_summarise(d, 50, 10, &err);
    check(rc == NN_ERR_STATE && strstr(err.msg, "step"), "summarise before the last step: %s", err.msg);
    while (!nn_diagnosis_step(d, m, 1)) {}
    check(d->scored == 400 && nn_diagnosis_summarise(d, 50, 10, &err) == NN_OK, "the test set: 400 reviews");
    nn_diagnosis_free(d);
    for (size_t i = 0; i < m->nparams; i++) m->params[i] = NAN;
    nn_diagnosis *e = NULL;
    nn_diagnosis_create_padded(&e, m, ids, label, n, &err);
    while (!nn_diagnosis_step(e, m, 100)) {}
    rc = nn_diagnosis_summarise(e, 50, 10, &err);
    check(rc == NN_ERR_DIVERGED && strstr(err.msg, "diverged"), "a diverged model is refused: %s", err.msg);
    nn_diagnosis_free(e);
    nn_trainer_free(t);
}

int main(void) {
    synthetic_make(&data, 1000, 400);
    nn_error err = {0};
    check(nn_vocab_index(&data.shard.vocab, &err) == NN_OK, "synthetic vocabulary indexes");
    const struct { const char *name; int model; } models[] = {{"bag", NN_MODEL_BAG}, {"lstm", NN_MODEL_LSTM},
                                                              {"bigru", NN_MODEL_BIGRU}};
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        nn_config cfg = small_config(models[i].model);
        nn_trainer *t = trained(&cfg);
        if (!t) continue;
        scores_and_metrics(models[i].name, t);
        labelled_texts_score_like_the_padded_reviews(t, models[i].name);
        explain_in_logits(t, models[i].name);
        nn_trainer_free(t);
    }
    stop_words_are_not_rated();
    refusals();
    nn_vocab_free_index(&data.shard.vocab);
    synthetic_free(&data);
    return check_exit_code();
}
