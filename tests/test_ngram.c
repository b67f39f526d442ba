/* test_ngram.c: the "ngram" model (engine/ngram.h).
 *
 * The bigram vocabulary and the features of a review against a hand-worked
 * example; the NB ratios against their formula; the mean-of-rows layer and
 * the whole model's gradients against central finite differences of a
 * double-precision re-implementation; the lazy update touches only the
 * batch's rows and undoes exactly; explain's shares (a bigram's half to
 * each word) add up as documented; the model learns the synthetic task end
 * to end (with and without NB weighting, the same history twice); a
 * checkpoint keeps the bigram table, so a loaded model scores text alike;
 * the feature cache gives the ids' features and results bit for bit. */
#include "check.h"
#include "gradcheck.h"
#include "ngram.h"
#include "nn.h"
#include "synthetic.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static nn_rng rng;
static double rnd(void) { return nn_rng_uniform(&rng, -1.0f, 1.0f); }


static nn_model *small_model_k(uint32_t V, uint32_t N, uint32_t E, uint32_t T, uint32_t B, int nb, uint32_t K) {
    nn_config c;
    nn_config_default(&c);
    c.classes = K;
    c.model = NN_MODEL_NGRAM;
    c.vocab_size = V;
    c.bigrams = N;
    c.embed_dim = E;
    c.maxlen = T;
    c.batch_size = B;
    c.nb_weighting = nb;
    nn_model *m = NULL;
    nn_error err = {0};
    if (!check(nn_model_create(&m, &c, &err) == NN_OK, "create ngram model V=%u N=%u E=%u %s", V, N, E,
               err.msg))
        exit(1);
    nn_rng r;
    nn_rng_seed(&r, 3);
    nn_model_init(m, &r);
    return m;
}

static nn_model *small_model(uint32_t V, uint32_t N, uint32_t E, uint32_t T, uint32_t B, int nb) {
    return small_model_k(V, N, E, T, B, nb, 2);
}

/* The hand-worked example. Three padded reviews (T 8, 'post' padding):
 *   [1 5 6 7 5 6 . .]  pairs (1,5) (5,6) (6,7) (7,5) (5,6)
 *   [1 5 6 9 . . . .]  pairs (1,5) (5,6) (6,9)
 *   [1 9 5 6 7 . . .]  pairs (1,9) (9,5) (5,6) (6,7)
 * counts: (5,6) 4; (1,5) 2, (6,7) 2; (7,5) (6,9) (1,9) (9,5) 1 each.
 * N 3 keeps (5,6), (1,5), (6,7) in that order (count, then the smaller key
 * 1*65536+5 < 6*65536+7); N 2 keeps (5,6) and, of the tie at 2, (1,5). */
static const uint16_t EXAMPLE[3 * 8] = {1, 5, 6, 7, 5, 6, 0, 0, 1, 5, 6, 9, 0, 0, 0, 0, 1, 9, 5, 6, 7, 0, 0, 0};
static const float EXAMPLE_LABELS[3] = {1, 1, 0};

static void check_features(void) {
    enum { V = 20, T = 8 };
    nn_model *m = small_model(V, 3, 2, T, 4, 0);
    nn_error err = {0};
    check(nn_ngram_build_bigrams(m, EXAMPLE, EXAMPLE_LABELS, 3, T, &err) == NN_OK, "build bigrams %s", err.msg);
    const float *ids = m->params + m->tensor[3].offset;
    const float want[6] = {5, 6, 1, 5, 6, 7};
    check(!strcmp(m->tensor[3].name, "bigram.ids") && !memcmp(ids, want, sizeof want),
          "bigram table of the example: (%g,%g) (%g,%g) (%g,%g), want (5,6) (1,5) (6,7)", ids[0], ids[1],
          ids[2], ids[3], ids[4], ids[5]);
    /* [1 5 6 7]: 1; 5, bigram (1,5) = row V+1; 6, (5,6) = V+0; 7, (6,7) = V+2 */
    uint16_t r1[T] = {1, 5, 6, 7, 0, 0, 0, 0};
    uint32_t feat[2 * T], pos[2 * T];
    uint32_t n = nn_ngram_features(feat, pos, r1, T, m->ngram);
    const uint32_t wf[7] = {1, 5, V + 1, 6, V + 0, 7, V + 2}, wp[7] = {0, 1, 1, 2, 2, 3, 3};
    check(n == 7 && !memcmp(feat, wf, sizeof wf) && !memcmp(pos, wp, sizeof wp),
          "features of [1 5 6 7]: %u features, want 1 5 21 6 20 7 22 at 0 1 1 2 2 3 3", n);
    /* unknown pairs give no feature; padding inside ('pre' padding, a hole) breaks pairs */
    uint16_t r2[T] = {0, 0, 1, 9, 5, 0, 6, 7};
    n = nn_ngram_features(feat, pos, r2, T, m->ngram);
    const uint32_t wf2[6] = {1, 9, 5, 6, 7, V + 2}, wp2[6] = {2, 3, 4, 6, 7, 7};
    check(n == 6 && !memcmp(feat, wf2, sizeof wf2) && !memcmp(pos, wp2, sizeof wp2),
          "features of [. . 1 9 5 . 6 7]: %u features, want 1 9 5 6 7 22 (no (1,9), (9,5), (5,6) across the hole)",
          n);
    uint16_t empty[T] = {0};
    check(nn_ngram_features(feat, pos, empty, T, m->ngram) == 0, "an all-padding review has no features");
    /* a caller that writes another table: (9,5) in row 0 counts after reindex */
    float *tab = m->params + m->tensor[3].offset;
    tab[0] = 9;
    tab[1] = 5;
    uint16_t r3[T] = {1, 9, 5, 0, 0, 0, 0, 0};
    uint32_t before = nn_ngram_features(feat, NULL, r3, T, m->ngram);
    nn_ngram_reindex(m);
    uint32_t after = nn_ngram_features(feat, NULL, r3, T, m->ngram);
    check(before == 3 && after == 4 && feat[3] == V + 0,
          "reindex picks up a bigram table written into the parameters (%u then %u features)", before, after);
    nn_model_free(m);

    m = small_model(V, 2, 2, T, 4, 0);
    nn_ngram_build_bigrams(m, EXAMPLE, EXAMPLE_LABELS, 3, T, &err);
    ids = m->params + m->tensor[3].offset;
    check(ids[0] == 5 && ids[1] == 6 && ids[2] == 1 && ids[3] == 5,
          "N 2: the tie at count 2 goes to the smaller key: (%g,%g) (%g,%g)", ids[0], ids[1], ids[2], ids[3]);
    nn_model_free(m);

    /* more rows than pairs: the rest stay unused (0,0) and match nothing */
    m = small_model(V, 10, 2, T, 4, 1);
    nn_ngram_build_bigrams(m, EXAMPLE, EXAMPLE_LABELS, 3, T, &err);
    ids = m->params + m->tensor[3].offset;
    check(ids[14] == 0 && ids[15] == 0 && ids[12] != 0, "N 10 > 7 distinct pairs: rows 7..9 unused");
    /* NB ratios, by hand: 3 reviews, 2 positive. Unigram 7 is in reviews 0
     * (pos) and 2 (neg): p = 1 + 1, q = 1 + 1. Row sums over all V+N rows
     * with alpha 1: |p|_1 = 30 + (feature presences in positive reviews),
     * |q|_1 likewise; computed here from the features themselves. */
    const float *r = m->params + m->tensor[4].offset;
    double pc[30] = {0}, qc[30] = {0};
    for (int i = 0; i < 3; i++) {
        uint32_t seen[30] = {0};
        uint32_t k = nn_ngram_features(feat, NULL, EXAMPLE + i * T, T, m->ngram);
        for (uint32_t j = 0; j < k; j++) seen[feat[j]] = 1;
        for (int f = 0; f < 30; f++) (EXAMPLE_LABELS[i] > 0.5f ? pc : qc)[f] += seen[f];
    }
    double ps = 0, qs = 0;
    for (int f = 0; f < 30; f++) {
        ps += 1 + pc[f];
        qs += 1 + qc[f];
    }
    double worst = 0;
    for (int f = 0; f < 30; f++) {
        double want_r = log(((1 + pc[f]) / ps) / ((1 + qc[f]) / qs));
        if (fabs(r[f] - want_r) > worst) worst = fabs(r[f] - want_r);
    }
    check(!strcmp(m->tensor[4].name, "nb.ratio") && worst < 1e-6 && pc[7] == 1 && qc[7] == 1 && pc[9] == 1,
          "NB log-count ratios match Wang & Manning's formula: maxdiff=%.2g", worst);
    nn_model_free(m);
}

/* The feature cache (ngram.h): each review's features as nn_ngram_features
 * gives them; a batch of cached rows (in any order, or a contiguous run)
 * gives the same logits, loss and gradients as the batch's padded ids; a
 * cache built before a reindex with other bigrams is not used. */
static void check_cache(void) {
    enum { V = 20, T = 8, E = 3 };
    nn_model *m = small_model(V, 3, E, T, 4, 1);
    nn_error err = {0};
    nn_ngram_build_bigrams(m, EXAMPLE, EXAMPLE_LABELS, 3, T, &err);
    nn_ngram_cache c;
    if (!check(nn_ngram_cache_build(&c, m, EXAMPLE, 3, T) && c.n == 3, "cache of the example built")) exit(1);
    uint32_t feat[2 * T];
    int same = c.start[0] == 0;
    for (uint32_t r = 0; r < 3; r++) {
        uint32_t n = nn_ngram_features(feat, NULL, EXAMPLE + r * T, T, m->ngram);
        same &= c.start[r + 1] - c.start[r] == n && !memcmp(c.feat + c.start[r], feat, n * sizeof *feat);
    }
    check(same && c.start[3] == 10 + 6 + 7, "cached features of the example equal nn_ngram_features (%u in all)",
          c.start[3]);
    /* rows 2, 0 against their ids copied into a batch */
    const uint32_t rows[2] = {2, 0};
    uint16_t batch[2 * T];
    memcpy(batch, EXAMPLE + 2 * T, sizeof batch / 2);
    memcpy(batch + T, EXAMPLE, sizeof batch / 2);
    const float labels[2] = {EXAMPLE_LABELS[2], EXAMPLE_LABELS[0]};
    size_t np = m->nparams;
    float *g = malloc(np * sizeof *g);
    float logit[2];
    uint32_t c1 = 0, c2 = 0;
    nn_model_zero_grad(m);
    float l1 = nn_ngram_forward_backward(m, batch, labels, 2, &c1);
    memcpy(g, m->grads, np * sizeof *g);
    memcpy(logit, m->logit, sizeof logit);
    nn_model_zero_grad(m);
    float l2 = nn_ngram_forward_backward_rows(m, &c, EXAMPLE, rows, labels, 2, &c2);
    check(l1 == l2 && c1 == c2 && !memcmp(logit, m->logit, sizeof logit) && !memcmp(g, m->grads, np * sizeof *g),
          "cached rows {2,0}: loss, logits and gradients bit for bit those of their ids (%.9g, %.9g)", (double)l1,
          (double)l2);
    nn_ngram_forward(m, EXAMPLE + T, 2);
    memcpy(logit, m->logit, sizeof logit);
    nn_ngram_forward_rows(m, &c, EXAMPLE, NULL, 1, 2);
    check(!memcmp(logit, m->logit, sizeof logit), "cached rows 1..2 (contiguous): the logits of their ids");
    /* another table, reindexed: the cache is stale, the ids are read */
    float *tab = m->params + m->tensor[3].offset;
    tab[0] = 9;
    tab[1] = 5;
    nn_ngram_reindex(m);
    nn_ngram_forward(m, EXAMPLE + 2 * T, 1);
    logit[0] = m->logit[0];
    nn_ngram_forward_rows(m, &c, EXAMPLE, NULL, 2, 1);
    check(c.gen != m->ngram->index_gen && logit[0] == m->logit[0],
          "after a reindex with other bigrams the cache is not used (the logit of review 2's ids)");
    free(g);
    nn_ngram_cache_free(&c);
    nn_model_free(m);
}

/* ---- gradients ---- */

/* The model's mean loss in double: features from ng, rows weighted; the
 * head w (O,E), bias (O): one logit and bce, or O = K logits and softmax
 * cross-entropy. */
static double model_loss_ref(const nn_model *m, const double *table, const double *w, const double *bias,
                             const uint16_t *x, const float *y, uint32_t B) {
    uint32_t T = m->cfg.maxlen, E = m->cfg.embed_dim, O = nn_config_outputs(&m->cfg);
    const float *ratio = m->cfg.nb_weighting ? m->params + m->tensor[m->ntensors - 1].offset : NULL;
    uint32_t feat[64];
    double sum = 0;
    for (uint32_t b = 0; b < B; b++) {
        uint32_t n = nn_ngram_features(feat, NULL, x + (size_t)b * T, T, m->ngram);
        double z[8] = {0}, pooled[8];
        for (uint32_t e = 0; e < E; e++) {
            double p = 0;
            for (uint32_t k = 0; k < n; k++) p += (ratio ? ratio[feat[k]] : 1.0) * table[feat[k] * E + e];
            pooled[e] = n ? p / n : 0;
        }
        for (uint32_t o = 0; o < O; o++) {
            z[o] = bias[o];
            for (uint32_t e = 0; e < E; e++) z[o] += w[o * E + e] * pooled[e];
        }
        if (O == 1) {
            sum += fmax(z[0], 0) - z[0] * y[b] + log1p(exp(-fabs(z[0])));
        } else {
            double mx = z[0], se = 0;
            for (uint32_t o = 1; o < O; o++) mx = fmax(mx, z[o]);
            for (uint32_t o = 0; o < O; o++) se += exp(z[o] - mx);
            sum += log(se) + mx - z[(uint32_t)y[b]];
        }
    }
    return sum / B;
}

static void check_layer_grad(void) {
    enum { R = 9, E = 5, B = 3 };
    const uint32_t feat[] = {1, 4, 4, 8, 0, 2, 2, 2, 7}, start[B + 1] = {0, 4, 4, 9}; /* review 1 empty */
    float table[R * E], weight[R], G[B * E], out[B * E], dtable[R * E] = {0};
    double fd[R * E];
    for (int i = 0; i < R * E; i++) table[i] = (float)rnd();
    for (int i = 0; i < R; i++) weight[i] = (float)rnd() * 2;
    for (int i = 0; i < B * E; i++) G[i] = (float)rnd();
    for (int with = 0; with < 2; with++) {
        const float *wt = with ? weight : NULL;
        memset(dtable, 0, sizeof dtable);
        nn_bag_mean_forward(out, feat, start, table, wt, B, E);
        nn_bag_mean_backward(dtable, G, feat, start, wt, B, E);
        for (int i = 0; i < R * E; i++) {
            double L[2];
            for (int s = 0; s < 2; s++) {
                double h = s ? -1e-3 : 1e-3, sum = 0;
                for (int b = 0; b < B; b++)
                    for (int e = 0; e < E; e++) {
                        double p = 0;
                        uint32_t n = start[b + 1] - start[b];
                        for (uint32_t k = start[b]; k < start[b + 1]; k++) {
                            double v = table[feat[k] * E + e] + ((int)feat[k] * E + e == i ? h : 0);
                            p += (wt ? wt[feat[k]] : 1.0) * v;
                        }
                        sum += G[b * E + e] * (n ? p / n : 0);
                    }
                L[s] = sum;
            }
            fd[i] = (L[0] - L[1]) / 2e-3;
        }
        double d = maxrel(dtable, fd, R * E);
        check(d < 1e-3, "bag_mean_backward %s dtable maxrel=%.2g", with ? "weighted" : "unweighted", d);
        check(out[1 * E] == 0 && out[1 * E + E - 1] == 0, "bag_mean_forward: a review without features pools to 0");
    }
}

static void check_model_grad(int nb, uint32_t K) {
    enum { V = 20, T = 8, E = 3, B = 3, OMAX = 5 };
    nn_model *m = small_model_k(V, 3, E, T, B, nb, K);
    uint32_t O = nn_config_outputs(&m->cfg);
    assert(O <= OMAX);
    nn_error err = {0};
    const float example_labels[3] = {1, 1, 0}, example_labels_k[3] = {2, 1, 0};
    nn_ngram_build_bigrams(m, EXAMPLE, K == 2 ? example_labels : example_labels_k, 3, T, &err);
    /* a bigger head than init's, so the gradients are not tiny */
    for (uint32_t e = 0; e < O * E; e++) m->w2[e] = (float)rnd() * 2;
    for (uint32_t o = 0; o < O; o++) m->b2[o] = 0.3f - 0.2f * (float)o;
    for (size_t i = 0; i < (size_t)(V + 3) * E; i++) m->emb[i] = (float)rnd();
    const uint16_t x[B * T] = {1, 5, 6, 7, 5, 6, 0, 0, 1, 9, 5, 6, 0, 0, 0, 0, 0, 0, 0, 1, 5, 6, 7, 7};
    const float y2[B] = {1, 0, 1}, yk[B] = {2, 0, (float)(K - 1)};
    const float *y = K == 2 ? y2 : yk;
    nn_model_zero_grad(m);
    nn_model_forward_backward(m, x, y, B, NULL);
    size_t rows = (size_t)(V + 3) * E;
    double *table = malloc(rows * sizeof *table), *fd = malloc(rows * sizeof *fd), w[OMAX * E], fdw[OMAX * E];
    double bias[OMAX], fdb[OMAX], h = 1e-4;
    for (size_t i = 0; i < rows; i++) table[i] = m->emb[i];
    for (uint32_t e = 0; e < O * E; e++) w[e] = m->w2[e];
    for (uint32_t o = 0; o < O; o++) bias[o] = m->b2[o];
    for (size_t i = 0; i < rows; i++) {
        double v = table[i];
        table[i] = v + h;
        double a = model_loss_ref(m, table, w, bias, x, y, B);
        table[i] = v - h;
        double b = model_loss_ref(m, table, w, bias, x, y, B);
        table[i] = v;
        fd[i] = (a - b) / (2 * h);
    }
    for (uint32_t e = 0; e < O * E; e++) {
        double v = w[e];
        w[e] = v + h;
        double a = model_loss_ref(m, table, w, bias, x, y, B);
        w[e] = v - h;
        double b = model_loss_ref(m, table, w, bias, x, y, B);
        w[e] = v;
        fdw[e] = (a - b) / (2 * h);
    }
    for (uint32_t o = 0; o < O; o++) {
        double v = bias[o];
        bias[o] = v + h;
        double a = model_loss_ref(m, table, w, bias, x, y, B);
        bias[o] = v - h;
        double b = model_loss_ref(m, table, w, bias, x, y, B);
        bias[o] = v;
        fdb[o] = (a - b) / (2 * h);
    }
    const float *g = m->grads;
    double de = maxrel(g + m->tensor[0].offset, fd, rows), dw = maxrel(g + m->tensor[1].offset, fdw, O * E);
    double db = maxrel(g + m->tensor[2].offset, fdb, O);
    check(de < 1e-3 && dw < 1e-3 && db < 1e-3,
          "ngram model%s K=%u forward_backward: embedding maxrel=%.2g dense.w %.2g dense.b %.2g",
          nb ? " (NB-weighted)" : "", K, de, dw, db);

    /* The lazy step changes only the rows the batch touched (and the head),
     * and undo puts back exactly the weights from before it. */
    size_t n = m->nparams;
    float *before = malloc(n * sizeof *before);
    memcpy(before, m->params, n * sizeof *before);
    check(nn_model_update(m) == 1, "lazy update: finite");
    int untouched_same = 1, touched_moved = 0;
    uint32_t used[V + 3] = {0};
    uint32_t feat[2 * T];
    for (uint32_t b = 0; b < B; b++) {
        uint32_t k = nn_ngram_features(feat, NULL, x + b * T, T, m->ngram);
        for (uint32_t j = 0; j < k; j++) used[feat[j]] = 1;
    }
    for (uint32_t r = 0; r < V + 3; r++)
        for (uint32_t e = 0; e < E; e++) {
            float a = before[r * E + e], b = m->emb[r * E + e];
            if (!used[r] && a != b) untouched_same = 0;
            if (used[r] && a != b) touched_moved = 1;
        }
    check(untouched_same && touched_moved, "lazy update: only the batch's rows move");
    check(nn_model_undo_update(m) == 1 && !memcmp(before, m->params, n * sizeof *before),
          "undo after a lazy update restores every weight bit for bit");
    check(nn_model_undo_update(m) == 0, "a second undo has nothing to undo");
    free(before);
    free(table);
    free(fd);
    nn_model_free(m);
}

/* ---- explain ---- */

static void check_explain(void) {
    enum { V = 20, T = 8, E = 3 };
    nn_model *m = small_model(V, 3, E, T, 1, 0);
    nn_error err = {0};
    nn_ngram_build_bigrams(m, EXAMPLE, EXAMPLE_LABELS, 3, T, &err);
    for (uint32_t e = 0; e < E; e++) m->w2[e] = (float)rnd();
    m->b2[0] = -0.2f;
    for (size_t i = 0; i < (size_t)(V + 3) * E; i++) m->emb[i] = (float)rnd();
    /* [START 5 6 9]: features 1, 5, (1,5)=V+1, 6, (5,6)=V+0, 9 */
    const uint32_t ids[4] = {1, 5, 6, 9};
    float contrib[4];
    float p = nn_model_explain(m, ids, 4, contrib);
    double s[V + 3];
    for (uint32_t r = 0; r < V + 3; r++) {
        s[r] = 0;
        for (uint32_t e = 0; e < E; e++) s[r] += (double)m->w2[e] * m->emb[r * E + e];
        s[r] /= 6;
    }
    double share[4] = {s[1] + s[V + 1] / 2, s[5] + s[V + 1] / 2 + s[V] / 2, s[6] + s[V] / 2, s[9]};
    double z = m->b2[0] + share[0] + share[1] + share[2] + share[3];
    double pz = 1 / (1 + exp(-z)), p0 = 1 / (1 + exp(-(double)m->b2[0]));
    double worst = fabs(p - pz), sum = 0;
    for (int i = 0; i < 4; i++) {
        double want = share[i] * (pz - p0) / (z - m->b2[0]);
        if (fabs(contrib[i] - want) > worst) worst = fabs(contrib[i] - want);
        sum += contrib[i];
    }
    check(worst < 1e-5, "explain: a bigram's share goes half to each word, scaled to the score; maxdiff=%.2g",
          worst);
    check(fabs(sum - (pz - p0)) < 1e-5, "explain: contributions add up to score - sigmoid(bias) (%.6f vs %.6f)",
          sum, pz - p0);
    nn_model_free(m);
}

/* ---- learning, determinism, checkpoint ---- */

static synthetic data;

static nn_trainer *train(const nn_config *c, nn_epoch_log *hist, uint32_t *n, float *test_acc) {
    nn_trainer *t;
    nn_error err = {0};
    if (!check(nn_trainer_create(&t, c, &data.shard, &err) == NN_OK, "trainer_create %s", err.msg)) exit(1);
    nn_progress p;
    do {
        if (nn_trainer_run(t, 7, &p, &err)) {
            check(0, "trainer_run %s", err.msg);
            exit(1);
        }
    } while (!p.finished);
    const nn_epoch_log *h = nn_trainer_history(t, n);
    memcpy(hist, h, *n * sizeof *h);
    float loss;
    nn_trainer_evaluate(t, "test", &loss, test_acc, &err);
    return t;
}

static void check_learning(void) {
    synthetic_make(&data, 600, 400);
    nn_error verr = {0};
    check(nn_vocab_index(&data.shard.vocab, &verr) == NN_OK, "vocabulary index %s", verr.msg);
    for (int nb = 0; nb < 2; nb++) {
        nn_config c;
        nn_config_preset(&c, "ngram");
        c.vocab_size = 64;
        c.maxlen = 30;
        c.bigrams = 200;
        c.embed_dim = 8;
        c.batch_size = 16;
        c.lr = 0.01f;
        c.epochs = 8;
        c.val_size = 100;
        c.patience = 0;
        c.nb_weighting = nb;
        nn_epoch_log h1[8], h2[8];
        uint32_t n1, n2;
        float acc1, acc2;
        nn_trainer *t1 = train(&c, h1, &n1, &acc1);
        nn_trainer *t2 = train(&c, h2, &n2, &acc2);
        check(acc1 > 0.9f && h1[n1 - 1].loss < h1[0].loss,
              "ngram%s learns the synthetic task: test accuracy %.3f, loss %.3f -> %.3f", nb ? " (NB)" : "",
              acc1, h1[0].loss, h1[n1 - 1].loss);
        check(n1 == n2 && !memcmp(h1, h2, n1 * sizeof *h1) && acc1 == acc2,
              "ngram%s: the same seed gives the same history", nb ? " (NB)" : "");
        if (nb) {
            /* a checkpoint keeps the bigram table and ratios: the loaded
             * model scores text exactly as the trained one */
            nn_model *m = nn_trainer_model(t1);
            uint8_t *buf;
            size_t len;
            nn_error err = {0};
            nn_checkpoint ck;
            int ok = nn_checkpoint_write(m, &data.shard.vocab, 0, h1, n1, &buf, &len, &err) == NN_OK &&
                     nn_checkpoint_read(&ck, buf, len, &err) == NN_OK;
            check(ok, "ngram checkpoint round trip %s", err.msg);
            if (ok) {
                /* a batch forward first (no explain before it): the loaded
                 * model indexes the bigrams it read, not an empty table */
                uint16_t row[30];
                const uint16_t review[6] = {NN_START, 4, 5, 4, 5, 6};
                nn_pad_review(row, review, 6, &c);
                nn_model_forward(m, row, 1);
                float want = m->logit[0];
                nn_model_forward(ck.model, row, 1);
                check(ck.model->logit[0] == want, "a loaded ngram model's first forward pass uses its bigrams "
                      "(logit %.6f, trained %.6f)", ck.model->logit[0], want);
                const char *text = "w4 w5 w4 w20 w30 w11 w12 w5 w6";
                float a = nn_model_score_text(m, &data.shard.vocab, NULL, text, strlen(text));
                float b = nn_model_score_text(ck.model, &ck.vocab, NULL, text, strlen(text));
                int same = ck.model->nparams == m->nparams &&
                           !memcmp(ck.model->params, m->params, m->nparams * sizeof(float));
                check(same && a == b && a > 0.5f,
                      "the loaded ngram model has the same weights and bigrams and scores text alike (%.6f, %.6f)",
                      a, b);
                nn_checkpoint_free(&ck);
            }
            free(buf);
        }
        nn_trainer_free(t1);
        nn_trainer_free(t2);
    }
    nn_vocab_free_index(&data.shard.vocab);
    synthetic_free(&data);
}

int main(void) {
    nn_rng_seed(&rng, 42);
    check_features();
    check_cache();
    check_layer_grad();
    check_model_grad(0, 2);
    check_model_grad(1, 2);
    check_model_grad(0, 4); /* K-class heads */
    check_model_grad(1, 5);
    check_explain();
    check_learning();
    return check_exit_code();
}
