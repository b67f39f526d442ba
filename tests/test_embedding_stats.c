/* test_embedding_stats.c: the embedding history and what the page computes
 * on it (engine/embedding_stats.c), each against a simple reference:
 * quantisation error bounds; word scores against nn_model_explain on
 * one-word reviews; eigen-decompositions and PCA against cases with known
 * answers; nearest neighbours and largest changes against brute force;
 * statistics against a hand-worked table; the history's budget, views and
 * map; and, end to end, a bag model trained on the synthetic task whose map
 * and neighbours must separate its positive and negative words. */
#include "nn.h"
#include "result_layouts.h"
#include "check.h"
#include "synthetic.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static float frand(nn_rng *r) { return nn_rng_uniform(r, -1.0f, 1.0f); }

/* ------------------------------------------------------------- quantise */

static void test_quantize(void) {
    nn_rng r;
    nn_rng_seed(&r, 1);
    enum { V = 9, E = 13 };
    float x[V * E], y[V * E], scale[V];
    int8_t q[V * E];
    for (int i = 0; i < V * E; i++) x[i] = frand(&r) * (1 + i % 5) * 3.0f;
    for (int e = 0; e < E; e++) x[2 * E + e] = 0.0f;         /* a zero row */
    x[5 * E + 3] = NAN;                                      /* a broken row */
    x[7 * E + 0] = 1e30f;                                    /* a huge value */
    nn_quantize_rows_i8(q, scale, x, V, E);
    nn_dequantize_rows_i8(y, q, scale, V, E);
    double worst = 0;
    int bounded = 1, peak = 1;
    for (int v = 0; v < V; v++) {
        if (v == 5) continue;
        int hit127 = 0;
        for (int e = 0; e < E; e++) {
            double err = fabs((double)x[v * E + e] - y[v * E + e]);
            double bound = scale[v] * 0.5 * (1 + 1e-5) + 1e-30;
            if (err > bound) bounded = 0;
            if (scale[v] > 0 && err / scale[v] > worst) worst = err / scale[v];
            if (abs(q[v * E + e]) == 127) hit127 = 1;
        }
        if (v != 2 && !hit127) peak = 0;
    }
    check(bounded, "quantize error <= scale/2 in every row (worst %.4f scale)", worst);
    check(peak, "quantize each row's largest |value| maps to +-127");
    check(scale[2] == 0.0f && y[2 * E] == 0.0f && y[2 * E + E - 1] == 0.0f, "quantize a zero row stays zero");
    check(isnan(scale[5]) && isnan(y[5 * E]), "quantize a row with NaN dequantises to NaN");
}

/* ---------------------------------------------------------- word scores */

/* A small model whose weights are large enough that words matter. */
static nn_model *small_model(int model, int pooling, int padding, uint32_t T, uint32_t B, uint64_t seed) {
    nn_config c;
    nn_config_default(&c);
    c.model = model;
    c.vocab_size = 40;
    c.embed_dim = 6;
    c.hidden = 5;
    c.maxlen = T;
    c.batch_size = B;
    c.pooling = pooling;
    c.padding = padding;
    c.val_size = 0;
    nn_model *m = NULL;
    nn_error err;
    if (nn_model_create(&m, &c, &err)) {
        printf("FAIL model_create %s\n", err.msg);
        exit(1);
    }
    nn_rng r;
    nn_rng_seed(&r, seed);
    nn_model_init(m, &r);
    for (size_t i = 0; i < m->nparams; i++) m->params[i] += frand(&r) * 0.8f;
    return m;
}

static void test_word_scores(void) {
    const char *pool_name[2] = {"keras", "masked"}, *pad_name[2] = {"pre", "post"};
    uint32_t ids[60];
    float fast[60];
    for (uint32_t i = 0; i < 60; i++) ids[i] = i; /* 40..59 are beyond V: <UNK> */
    for (int pooling = 0; pooling < 2; pooling++)
        for (int padding = 0; padding < 2; padding++)
            for (uint32_t T = 1; T <= 7; T += 3) {
                nn_model *m = small_model(NN_MODEL_BAG, pooling, padding, T, 7, 3 + T);
                float base = -1;
                nn_word_scores(fast, &base, m, ids, 60);
                uint32_t one[2] = {NN_START, 0};
                double worst = fabs(base - nn_model_explain(m, one, 1, NULL));
                double spread = 0;
                for (uint32_t i = 0; i < 60; i++) {
                    one[1] = ids[i];
                    float ref = nn_model_explain(m, one, 2, NULL);
                    if (fabs(fast[i] - ref) > worst) worst = fabs(fast[i] - ref);
                    if (fabs(fast[i] - base) > spread) spread = fabs(fast[i] - base);
                }
                check(worst < 2e-6 && (T < 2 || spread > 1e-3),
                      "word_scores bag %s pooling, %s padding, T=%u: 60 words (7 per batch) match "
                      "one-word reviews maxdiff=%.1e (words move the score up to %.3f)",
                      pool_name[pooling], pad_name[padding], T, worst, spread);
                nn_model_free(m);
            }
    /* The forward path (every model; the diagnosis's): bit-identical to
     * explain however many reviews go through one forward call. */
    uint16_t rows[7 * 7];
    for (int pooling = 0; pooling < 2; pooling++)
        for (uint32_t cap = 1; cap <= 7; cap += 3) {
            nn_model *m = small_model(NN_MODEL_BAG, pooling, NN_PAD_POST, 7, 7, 11 + cap);
            float base = -1;
            for (uint32_t i = 0; i < 60; i++) fast[i] = -1;
            nn_word_scores_forward(fast, &base, m, ids, 13, rows, cap);     /* base in the first call */
            nn_word_scores_forward(fast + 13, NULL, m, ids + 13, 47, rows, cap); /* then slices without */
            uint32_t one[2] = {NN_START, 0};
            int exact = base == nn_model_explain(m, one, 1, NULL);
            for (uint32_t i = 0; i < 60; i++) {
                one[1] = ids[i];
                exact &= fast[i] == nn_model_explain(m, one, 2, NULL);
            }
            check(exact, "word_scores_forward bag %s pooling, %u reviews per forward: the 60 scores and "
                  "the base are explain's, bit for bit", pool_name[pooling], cap);
            nn_model_free(m);
        }
    nn_model *m = small_model(NN_MODEL_GRU, 0, NN_PAD_PRE, 5, 3, 9);
    float base;
    nn_word_scores(fast, &base, m, ids, 45);
    uint32_t one[2] = {NN_START, 0};
    int exact = base == nn_model_explain(m, one, 1, NULL);
    for (uint32_t i = 0; i < 45; i++) {
        one[1] = ids[i];
        exact &= fast[i] == nn_model_explain(m, one, 2, NULL);
    }
    check(exact, "word_scores gru (3 reviews per forward) scores the 45 one-word reviews exactly like explain");
    nn_model_free(m);
}

/* ---------------------------------------------------------------- eigen */

/* Q (n,n) orthogonal from a product of Householder reflections of seeded
 * random vectors; A = Q^T diag(d) Q has eigenvectors the rows of Q. */
static void random_orthogonal(double *Q, uint32_t n, uint64_t seed) {
    nn_rng r;
    nn_rng_seed(&r, seed);
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < n; j++) Q[i * n + j] = i == j;
    double *u = malloc(n * sizeof *u);
    for (int h = 0; h < 3; h++) {
        double norm = 0;
        for (uint32_t i = 0; i < n; i++) {
            u[i] = frand(&r);
            norm += u[i] * u[i];
        }
        for (uint32_t i = 0; i < n; i++) u[i] /= sqrt(norm);
        for (uint32_t row = 0; row < n; row++) { /* Q <- Q (I - 2uu^T) */
            double d = 0;
            for (uint32_t i = 0; i < n; i++) d += Q[row * n + i] * u[i];
            for (uint32_t i = 0; i < n; i++) Q[row * n + i] -= 2 * d * u[i];
        }
    }
    free(u);
}

static void build_symmetric(double *A, const double *Q, const double *d, uint32_t n) {
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < n; j++) {
            double s = 0;
            for (uint32_t k = 0; k < n; k++) s += Q[k * n + i] * d[k] * Q[k * n + j];
            A[i * n + j] = s;
        }
}

/* Largest |eigenvalue error| and 1 - |<v, expected>| over the first k pairs. */
static void eigen_errors(const double *evals, const double *evecs, const double *Q, const double *d,
                         uint32_t n, uint32_t k, double *val_err, double *vec_err) {
    *val_err = *vec_err = 0;
    for (uint32_t i = 0; i < k; i++) {
        double dot = 0;
        for (uint32_t j = 0; j < n; j++) dot += evecs[i * n + j] * Q[i * n + j];
        if (fabs(evals[i] - d[i]) > *val_err) *val_err = fabs(evals[i] - d[i]);
        if (1 - fabs(dot) > *vec_err) *vec_err = 1 - fabs(dot);
    }
}

static void test_eigen(void) {
    double A[4] = {2, 1, 1, 2}, evals[2], evecs[4];
    nn_sym_eigen_jacobi(evals, evecs, A, 2);
    double r = sqrt(0.5);
    check(fabs(evals[0] - 3) < 1e-12 && fabs(evals[1] - 1) < 1e-12 &&
              fabs(fabs(evecs[0]) - r) < 1e-12 && fabs(evecs[0] - evecs[1]) < 1e-12 &&
              fabs(evecs[2] + evecs[3]) < 1e-12,
          "jacobi [[2,1],[1,2]] has eigenvalues 3, 1 along (1,1) and (1,-1)");

    for (uint32_t n = 3; n <= 40; n += 37) {
        double *Q = malloc(n * n * sizeof *Q), *M = malloc(n * n * sizeof *M);
        double *vals = malloc(n * sizeof *vals), *vecs = malloc(n * n * sizeof *vecs);
        double *d = malloc(n * sizeof *d);
        for (uint32_t i = 0; i < n; i++) d[i] = 9.0 / (1 + i); /* 9, 4.5, 3, ... */
        random_orthogonal(Q, n, 11 + n);
        build_symmetric(M, Q, d, n);
        nn_sym_eigen_jacobi(vals, vecs, M, n);
        double ve, de;
        eigen_errors(vals, vecs, Q, d, n, n, &ve, &de);
        check(ve < 1e-10 && de < 1e-10, "jacobi n=%u recovers all known eigenpairs (value err %.1e, vector err %.1e)", n, ve, de);
        build_symmetric(M, Q, d, n);
        nn_sym_eigen_power(vals, vecs, M, n, 2, 5000);
        eigen_errors(vals, vecs, Q, d, n, 2, &ve, &de);
        check(ve < 1e-8 && de < 1e-8, "power n=%u recovers the two largest eigenpairs (value err %.1e, vector err %.1e)", n, ve, de);
        free(Q);
        free(M);
        free(vals);
        free(vecs);
        free(d);
    }
    double Z[9] = {0}, zv[3], zvec[9];
    nn_sym_eigen_power(zv, zvec, Z, 3, 2, 100);
    double n0 = 0, n1 = 0, dot = 0;
    for (int i = 0; i < 3; i++) {
        n0 += zvec[i] * zvec[i];
        n1 += zvec[3 + i] * zvec[3 + i];
        dot += zvec[i] * zvec[3 + i];
    }
    check(zv[0] == 0 && zv[1] == 0 && fabs(n0 - 1) < 1e-12 && fabs(n1 - 1) < 1e-12 && fabs(dot) < 1e-12,
          "power on a zero matrix gives eigenvalues 0 and orthonormal vectors");
}

/* ------------------------------------------------------------------ PCA */

/* Six points +-3 r1, +-2 r2, +-1 r3 around a mean: the population
 * covariance has eigenvalues 3, 4/3, 1/3 along r1, r2, r3. */
static void test_pca(uint32_t E) {
    double Q[3 * 3];
    random_orthogonal(Q, 3, 5);
    float X[6 * 80], mean[80], comp[2 * 80], var[2];
    const double len[3] = {3, 2, 1}, shift[3] = {1, -2, 0.5};
    memset(X, 0, sizeof X);
    for (int p = 0; p < 6; p++)
        for (uint32_t e = 0; e < 3; e++)
            X[p * E + e] = (float)(shift[e] + (p % 2 ? -1 : 1) * len[p / 2] * Q[(p / 2) * 3 + e]);
    double *work = malloc(nn_pca_work_doubles(E) * sizeof *work);
    nn_pca(mean, comp, var, X, 6, E, 2, work);
    double merr = 0, cerr = 0;
    for (uint32_t e = 0; e < E; e++) merr = fmax(merr, fabs(mean[e] - (e < 3 ? shift[e] : 0)));
    for (int k = 0; k < 2; k++) {
        double dot = 0;
        uint32_t big = 0;
        for (uint32_t e = 0; e < 3; e++) {
            dot += comp[k * E + e] * Q[k * 3 + e];
            if (fabsf(comp[k * E + e]) > fabsf(comp[k * E + big])) big = e;
        }
        cerr = fmax(cerr, 1 - fabs(dot));
        if (comp[k * E + big] < 0) cerr = 1; /* the sign convention */
    }
    check(fabs(var[0] - 3) < 1e-5 && fabs(var[1] - 4.0 / 3) < 1e-5 && merr < 1e-6 && cerr < 1e-6,
          "pca E=%u (%s) of six points along known axes: variances %.5f %.5f (3, 1.33333), "
          "axes err %.1e, mean err %.1e",
          E, E <= 64 ? "jacobi" : "power", var[0], var[1], cerr, merr);
    float proj[12];
    nn_pca_project(proj, X, mean, comp, 6, E, 2);
    double perr = 0;
    for (int p = 0; p < 6; p++) {
        double want0 = p / 2 == 0 ? (p % 2 ? -3 : 3) : 0, want1 = p / 2 == 1 ? (p % 2 ? -2 : 2) : 0;
        double s0 = 0, s1 = 0; /* the sign the components chose */
        for (uint32_t e = 0; e < 3; e++) {
            s0 += comp[e] * Q[e];
            s1 += comp[E + e] * Q[3 + e];
        }
        perr = fmax(perr, fabs(proj[2 * p] - (s0 > 0 ? 1 : -1) * want0));
        perr = fmax(perr, fabs(proj[2 * p + 1] - (s1 > 0 ? 1 : -1) * want1));
    }
    check(perr < 1e-5, "pca_project E=%u puts the points at their known coordinates (err %.1e)", E, perr);
    free(work);
}

/* ------------------------------------------------- neighbours, changes */

typedef struct scored { uint32_t id; double score; } scored;
static int by_score(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static void test_neighbours(void) {
    enum { V = 300, E = 7 };
    nn_rng r;
    nn_rng_seed(&r, 21);
    float *emb = malloc(V * E * sizeof *emb);
    for (int i = 0; i < V * E; i++) emb[i] = frand(&r);
    for (int e = 0; e < E; e++) {
        emb[17 * E + e] = 0.0f;            /* a zero row */
        emb[40 * E + e] = 2.5f * emb[9 * E + e]; /* a scaled copy of row 9 */
        emb[41 * E + e] = emb[40 * E + e]; /* a tie with it */
    }
    scored all[V];
    int same = 1;
    for (uint32_t query = 5; query < 12; query += 4) {
        uint32_t n = 0;
        for (uint32_t v = 4; v < V; v++) {
            if (v == query) continue;
            double dot = 0, na = 0, nb = 0;
            for (int e = 0; e < E; e++) {
                dot += (double)emb[query * E + e] * emb[v * E + e];
                na += (double)emb[query * E + e] * emb[query * E + e];
                nb += (double)emb[v * E + e] * emb[v * E + e];
            }
            all[n].id = v;
            all[n++].score = nb > 0 ? (float)(dot / sqrt(na * nb)) : 0.0f;
        }
        qsort(all, n, sizeof *all, by_score);
        uint32_t ids[10];
        float sims[10];
        uint32_t k = nn_nearest_cosine(ids, sims, emb, V, E, query, 4, 10);
        same &= k == 10;
        for (uint32_t i = 0; i < k; i++) same &= ids[i] == all[i].id && fabs(sims[i] - all[i].score) < 1e-6;
        if (query == 9) same &= ids[0] == 40 && ids[1] == 41 && fabsf(sims[0] - 1.0f) < 1e-6f;
    }
    check(same, "nearest_cosine matches a brute-force sort (a scaled copy first, ties by id, zero row allowed)");
    uint32_t ids[10];
    float sims[10];
    check(nn_nearest_cosine(ids, sims, emb, 8, E, 5, 4, 10) == 3, "nearest_cosine returns fewer when the range is small");
    free(emb);
}

static void test_changes(void) {
    enum { V = 500 };
    nn_rng r;
    nn_rng_seed(&r, 33);
    float a[V], b[V];
    uint32_t counts[V];
    for (int v = 0; v < V; v++) {
        a[v] = frand(&r);
        b[v] = frand(&r);
        counts[v] = nn_rng_below(&r, 40);
    }
    a[100] = NAN;
    counts[101] = 0;
    a[101] = -5, b[101] = 5; /* never seen: must not appear */
    a[102] = -4, b[102] = 4;
    counts[102] = 3;
    for (uint32_t below = 0; below <= 20; below += 20) {
        scored all[V];
        uint32_t n = 0;
        for (uint32_t v = 4; v < V; v++) {
            if (counts[v] == 0 || (below && counts[v] >= below) || isnan(a[v]) || isnan(b[v])) continue;
            all[n].id = v;
            all[n++].score = fabsf(b[v] - a[v]);
        }
        qsort(all, n, sizeof *all, by_score);
        uint32_t ids[25];
        uint32_t k = nn_top_changes(ids, a, b, counts, V, 4, below, 25);
        int same = k == 25 && ids[0] == 102;
        for (uint32_t i = 0; i < k; i++) same &= ids[i] == all[i].id;
        check(same, "top_changes (count_below %u) matches a brute-force sort, skips NaN and unseen words", below);
    }
}

/* ------------------------------------------------------------ statistics */

static void test_stats(void) {
    /* ids 4..8; id 4 unseen, 5 seen 3 times, 6 ten times, 7 and 8 a thousand. */
    const uint32_t counts[9] = {0, 25000, 7, 0, 0, 3, 10, 1000, 1200};
    const float emb[9 * 2] = {9, 9, 9, 9, 9, 9, 9, 9, 100, 100, 3, 4, 1, 0, 0, 2, 6, 8};
    const float effect[9] = {0, 0, 0, 0, 50, -0.2f, 0.1f, 0.3f, -0.4f};
    nn_embed_stats s;
    nn_embed_stats_compute(&s, emb, effect, counts, 9, 2, 5, 1000);
    check(s.rare_words == 1 && s.frequent_words == 2 && fabsf(s.rare_norm - 5.0f) < 1e-6f &&
              fabsf(s.frequent_norm - 6.0f) < 1e-6f && fabsf(s.rare_share - 0.2f) < 1e-6f,
          "stats by hand: rare norm %.3f (5), frequent norm %.3f ((2+10)/2 = 6), rare share %.3f "
          "(0.2/(0.2+0.1+0.3+0.4) = 0.2), unseen and special ids ignored",
          s.rare_norm, s.frequent_norm, s.rare_share);
    nn_embed_stats_compute(&s, emb, effect, counts, 9, 2, 1, 5000);
    check(s.rare_words == 0 && isnan(s.rare_norm) && isnan(s.frequent_norm) && s.rare_share == 0.0f,
          "stats with empty groups give NaN means and a zero share");
}

/* -------------------------------------------------------------- history */

static void test_history(void) {
    nn_model *m = small_model(NN_MODEL_BAG, NN_POOL_KERAS, NN_PAD_POST, 6, 8, 77);
    uint32_t V = m->cfg.vocab_size, E = m->cfg.embed_dim;
    uint32_t counts[40];
    for (uint32_t v = 0; v < V; v++) counts[v] = v < 4 ? 0 : v % 9;
    nn_embed_history *h = NULL;
    nn_error err;
    size_t per = (size_t)V * E + V * 4 + (m->nparams - (size_t)V * E) * 4;
    int rc = nn_embed_history_create(&h, m, counts, 4 * per + per / 2, 5, 7, &err);
    check(rc == NN_OK, "history create (budget for 4 snapshots): %s", rc ? err.msg : "ok");
    if (rc) return;
    check(nn_embed_history_bytes_per_snapshot(h) == per, "history a snapshot takes %zu bytes (V*E int8 + V scales + the other parameters)", per);
    nn_rng r;
    nn_rng_seed(&r, 99);
    float *at5 = malloc(m->nparams * sizeof *at5);
    for (uint32_t epoch = 1; epoch <= 12; epoch++) {
        for (size_t i = 0; i < m->nparams; i++) m->params[i] += frand(&r) * 0.1f;
        if (epoch == 5) memcpy(at5, m->params, m->nparams * sizeof *at5);
        rc |= nn_embed_history_record(h, m, epoch, 5, &err);
    }
    uint32_t n, ns;
    const uint32_t *epochs = nn_embed_history_epochs(h, &n);
    const nn_embed_stats *st = nn_embed_history_stats(h, &ns);
    int has1 = 0, has5 = 0, has12 = 0;
    for (uint32_t i = 0; i < n; i++) {
        has1 |= epochs[i] == 1;
        has5 |= epochs[i] == 5;
        has12 |= epochs[i] == 12;
    }
    check(rc == NN_OK && n == 4 && has1 && has5 && has12 && ns == 12 && st[11].epoch == 12,
          "history keeps 4 of 12 epochs within its budget (%u %u %u %u): the first, the protected "
          "best (5) and the newest; statistics for all 12",
          epochs[0], epochs[1], epochs[2], epochs[3]);
    check(nn_embed_history_snapshot_bytes(h) == 4 * per, "history snapshot bytes %zu", nn_embed_history_snapshot_bytes(h));
    check(nn_embed_history_record(h, m, 12, 5, &err) == NN_ERR_STATE, "history refuses an epoch recorded before: %s", err.msg);

    nn_model *view = nn_embed_history_view(h, 5);
    double worst = 0, rest = 0;
    for (uint32_t v = 0; v < V; v++) {
        float maxabs = 0;
        for (uint32_t e = 0; e < E; e++) maxabs = fmaxf(maxabs, fabsf(at5[v * E + e]));
        for (uint32_t e = 0; e < E; e++)
            worst = fmax(worst, fabs(view->emb[v * E + e] - at5[v * E + e]) / (maxabs / 127 / 2));
    }
    for (size_t i = (size_t)V * E; i < m->nparams; i++) rest = fmax(rest, fabs(view->params[i] - at5[i]));
    check(view && worst <= 1.0001 && rest == 0.0,
          "history view of epoch 5: embedding within half a quantisation step (%.3f of it), other parameters exact", worst);
    check(nn_embed_history_view(h, 3) == NULL, "history view of a dropped epoch is NULL");

    /* The statistics of epoch 5 are those of its view. */
    uint32_t ids[36];
    float eff[40] = {0}, base;
    for (uint32_t i = 0; i < 36; i++) ids[i] = 4 + i;
    nn_embed_history_effects(h, 5, ids, 36, eff + 4, &base, &err);
    nn_embed_stats ref;
    view = nn_embed_history_view(h, 5);
    nn_embed_stats_compute(&ref, view->emb, eff, counts, V, E, 5, 7);
    const nn_embed_stats *s5 = &st[4];
    check(s5->epoch == 5 && s5->rare_norm == ref.rare_norm && s5->rare_share == ref.rare_share &&
              s5->frequent_norm == ref.frequent_norm && s5->base_score == base,
          "history statistics of epoch 5 are those of its snapshot");
    nn_embed_history_set_groups(h, 3, 8);
    st = nn_embed_history_stats(h, &ns);
    view = nn_embed_history_view(h, 5);
    nn_embed_stats_compute(&ref, view->emb, eff, counts, V, E, 3, 8);
    check(st[4].rare_norm == ref.rare_norm && st[4].frequent_norm == ref.frequent_norm &&
              isnan(st[2].rare_norm) && st[2].epoch == 3,
          "history set_groups recomputes stored epochs; dropped ones become NaN");

    /* The map at its basis epoch is the PCA projection of that epoch. */
    uint32_t N = 20;
    float *xy = malloc((size_t)n * N * 2 * sizeof *xy), *effect = malloc((size_t)n * N * sizeof *effect);
    float var[2], total;
    rc = nn_embed_history_map(h, 5, N, 0, xy, effect, var, &total, &err);
    view = nn_embed_history_view(h, 5);
    float mean[6], comp[12], rv[2], proj[40];
    double *work = malloc(nn_pca_work_doubles(E) * sizeof *work);
    nn_pca(mean, comp, rv, view->emb + 4 * E, N, E, 2, work);
    nn_pca_project(proj, view->emb + 4 * E, mean, comp, N, E, 2);
    uint32_t k5 = 0;
    while (epochs[k5] != 5) k5++;
    double xerr = 0, yerr = 0, corr = 0, eerr = 0;
    for (uint32_t i = 0; i < N; i++) {
        xerr = fmax(xerr, fabs(fabs(xy[(k5 * N + i) * 2]) - fabs(proj[2 * i])));
        yerr = fmax(yerr, fabs(xy[(k5 * N + i) * 2 + 1] - proj[2 * i + 1]));
        corr += xy[(k5 * N + i) * 2] * effect[k5 * N + i];
        eerr = fmax(eerr, fabs(effect[k5 * N + i] - eff[4 + i]));
    }
    check(rc == NN_OK && xerr < 1e-5 && yerr < 1e-5 && corr >= 0 && eerr < 1e-7 &&
              fabsf(var[0] - rv[0]) < 1e-6f && total >= var[0] + var[1] - 1e-5f,
          "history map at its basis is that epoch's PCA (x err %.1e, y err %.1e), positive words "
          "to the right (corr %.3f), effects as computed alone",
          xerr, yerr, corr);
    int moved = 0;
    for (uint32_t i = 0; i < N * 2; i++) moved |= xy[i] != xy[(n - 1) * N * 2 + i];
    check(moved, "history map points move between the first and last stored epoch");
    check(nn_embed_history_map(h, 4, N, 0, xy, effect, var, &total, &err) == NN_ERR_ARG,
          "history map refuses a basis epoch without a snapshot: %s", err.msg);
    free(work);
    free(xy);
    free(effect);
    free(at5);
    nn_embed_history_free(h);

    check(nn_embed_history_create(&h, m, counts, per - 1, 5, 7, &err) == NN_ERR_NOMEM && h == NULL,
          "history refuses a budget smaller than one snapshot: %s", err.msg);
    nn_model_free(m);
}

/* ------------------------------------------------------------ end to end */

typedef struct hook_state {
    nn_embed_history *h;
    uint32_t calls;
    int rc;
} hook_state;

static void on_epoch(void *user, const nn_model *m, uint32_t epoch) {
    hook_state *s = user;
    nn_error err;
    s->calls++;
    s->rc |= nn_embed_history_record(s->h, m, epoch, 0, &err);
}

/* The page's answers (nn_embed_history_*_rows, _floats) hold exactly what
 * the calls they pack give, in the result layouts' slots. */
static void test_answers(nn_embed_history *h, const float *xy, const float *effect, const float var[2], float total,
                         const uint32_t *near_ids, const float *near_sims) {
    nn_error err;
    uint32_t ns, n;
    const nn_embed_stats *st = nn_embed_history_stats(h, &ns);
    const uint32_t *ep = nn_embed_history_epochs(h, &n);
    float rows[64 * NN_EMBED_STATS_ROW_LEN];
    int k = nn_embed_history_stats_rows(h, rows);
    int ok = k == (int)ns;
    for (int i = 0; ok && i < k; i++) {
        const float *r = rows + i * NN_EMBED_STATS_ROW_LEN;
        ok &= r[NN_EMBED_STATS_ROW_EPOCH] == (float)st[i].epoch && r[NN_EMBED_STATS_ROW_STORED] == 1.0f &&
              r[NN_EMBED_STATS_ROW_FREQUENT_NORM] == st[i].frequent_norm &&
              r[NN_EMBED_STATS_ROW_FREQUENT_WORDS] == (float)st[i].frequent_words;
    }
    check(ok, "answers: %d stats rows of the recorded epochs", k);
    float nb[5 * NN_NEIGHBOURS_ROW_LEN];
    k = nn_embed_history_neighbour_rows(h, 12, 4, 5, nb, &err);
    ok = k == 5;
    for (int i = 0; ok && i < 5; i++)
        ok &= nb[i * NN_NEIGHBOURS_ROW_LEN + NN_NEIGHBOURS_ROW_ID] == (float)near_ids[i] &&
              nb[i * NN_NEIGHBOURS_ROW_LEN + NN_NEIGHBOURS_ROW_SIMILARITY] == near_sims[i];
    check(ok, "answers: neighbour rows are nn_nearest_cosine's");
    check(nn_embed_history_neighbour_rows(h, 12, 60, 5, nb, &err) == -1 && nn_embed_history_neighbour_rows(h, 99, 4, 5, nb, &err) == -1,
          "answers: a word outside the model, an epoch without a snapshot refused");
    uint32_t N = 56;
    float *map = malloc(((size_t)n + (size_t)n * N * 3 + N + 3) * sizeof *map);
    k = nn_embed_history_map_floats(h, 12, N, 0, map, &err);
    const float *mv = map + n + (size_t)n * N * 3 + N;
    check(k == (int)n && map[0] == (float)ep[0] && !memcmp(map + n, xy, (size_t)n * N * 2 * sizeof *xy) &&
              !memcmp(map + n + (size_t)n * N * 2, effect, (size_t)n * N * sizeof *effect) && mv[0] == var[0] &&
              mv[1] == var[1] && mv[2] == total && map[n + (size_t)n * N * 3] == (float)nn_embed_history_counts(h)[4],
          "answers: the packed map is nn_embed_history_map's, with the counts");
    check(nn_embed_history_map_floats(h, 12, 0, 0, map, &err) == -1 && nn_embed_history_map_floats(h, 12, 57, 0, map, &err) == -1,
          "answers: 0 or more than V - 4 map words refused: %s", err.msg);
    free(map);
    float eff[1 + 2 * 56], one;
    uint32_t id4 = 4;
    k = nn_embed_history_word_effects(h, 12, eff, &err);
    nn_embed_history_effects(h, 12, &id4, 1, &one, NULL, &err);
    check(k == 56 && eff[1] == (float)nn_embed_history_counts(h)[4] && eff[1 + 56] == one,
          "answers: word effects: counts then effects of ids 4..59");
    float ch[3 * NN_EMBED_CHANGES_ROW_LEN];
    k = nn_embed_history_change_rows(h, 1, 12, 0, 3, ch, &err);
    ok = k == 3;
    for (int i = 0; ok && i < 3; i++) {
        uint32_t id = (uint32_t)ch[i * NN_EMBED_CHANGES_ROW_LEN + NN_EMBED_CHANGES_ROW_ID];
        float a, b;
        nn_embed_history_effects(h, 1, &id, 1, &a, NULL, &err);
        nn_embed_history_effects(h, 12, &id, 1, &b, NULL, &err);
        ok &= ch[i * NN_EMBED_CHANGES_ROW_LEN + NN_EMBED_CHANGES_ROW_EFFECT_FROM] == a &&
              ch[i * NN_EMBED_CHANGES_ROW_LEN + NN_EMBED_CHANGES_ROW_EFFECT_TO] == b &&
              ch[i * NN_EMBED_CHANGES_ROW_LEN + NN_EMBED_CHANGES_ROW_COUNT] == (float)nn_embed_history_counts(h)[id];
    }
    check(ok, "answers: change rows hold each word's count and effects at both epochs");
}

static void test_trained(void) {
    synthetic data;
    synthetic_make(&data, 1000, 200);
    nn_config c;
    nn_config_default(&c);
    c.vocab_size = 60; /* ids 60..63 of the synthetic shard become <UNK> */
    c.maxlen = 40;
    c.embed_dim = 8;
    c.hidden = 8;
    c.batch_size = 50;
    c.epochs = 12;
    c.lr = 0.02f;
    c.val_size = 200;
    nn_trainer *t = NULL;
    nn_error err;
    if (nn_trainer_create(&t, &c, &data.shard, &err)) {
        check(0, "trainer_create %s", err.msg);
        return;
    }
    uint32_t train[60], val[60], ref[60] = {0};
    nn_trainer_count_tokens(t, "train", train);
    nn_trainer_count_tokens(t, "val", val);
    const nn_split *sp = nn_shard_find(&data.shard, "train");
    for (uint32_t i = 0; i < sp->offset[sp->n]; i++) ref[sp->tokens[i] < 60 ? sp->tokens[i] : NN_UNK]++;
    int same = 1;
    for (uint32_t v = 0; v < 60; v++) same &= train[v] + val[v] == ref[v];
    check(same && train[NN_START] == 800 && train[NN_PAD] == 0,
          "trainer_count_tokens: train + val counts are the shard's (ids >= V as <UNK>, no padding)");

    nn_embed_history *h = NULL;
    int rc = nn_embed_history_create(&h, nn_trainer_model(t), train, 1 << 20, 150, 400, &err);
    hook_state hs = {h, 0, rc};
    nn_trainer_set_epoch_hook(t, on_epoch, &hs);
    nn_progress p;
    do rc |= nn_trainer_run(t, 7, &p, &err);
    while (!rc && !p.finished);
    uint32_t n;
    nn_embed_history_epochs(h, &n);
    check(rc == NN_OK && hs.rc == NN_OK && hs.calls == 12 && n == 12, "hook: called once per epoch, 12 snapshots");

    /* Positive words are 4..9, negative 10..15 (synthetic.h). */
    nn_model *view = nn_embed_history_view(h, 12);
    uint32_t ids[5];
    float sims[5];
    nn_nearest_cosine(ids, sims, view->emb, 60, 8, 4, NN_FIRST_WORD, 5);
    int positive = 0;
    for (int i = 0; i < 5; i++) positive += ids[i] >= 4 && ids[i] <= 9;
    check(positive == 5, "trained: the 5 nearest words of a positive word are the other positive words (%u %u %u %u %u)",
          ids[0], ids[1], ids[2], ids[3], ids[4]);
    uint32_t N = 56;
    float *xy = malloc((size_t)n * N * 2 * sizeof *xy), *effect = malloc((size_t)n * N * sizeof *effect);
    float var[2], total;
    rc = nn_embed_history_map(h, 12, N, 0, xy, effect, var, &total, &err);
    const float *last = xy + (size_t)(n - 1) * N * 2;
    const float *first = xy;
    int sides = 1;
    double spread_last = 0, spread_first = 0;
    for (uint32_t i = 0; i < 12; i++) {
        int pos = i < 6; /* map word i is id 4 + i */
        sides &= pos ? last[2 * i] > 0 : last[2 * i] < 0;
        sides &= pos ? effect[(n - 1) * N + i] > 0 : effect[(n - 1) * N + i] < 0;
        spread_last += fabs(last[2 * i]);
        spread_first += fabs(first[2 * i]);
    }
    check(rc == NN_OK && sides && var[0] / total > 0.5,
          "trained: positive words to the right of the map, negative to the left, with effects of "
          "their sign; the first axis explains %.0f%%",
          100 * var[0] / total);
    check(spread_last > 3 * spread_first, "trained: the class words spread out over training (%.3f -> %.3f)",
          spread_first, spread_last);
    uint32_t ns;
    const nn_embed_stats *st = nn_embed_history_stats(h, &ns);
    check(ns == 12 && st[11].frequent_norm > st[0].frequent_norm && st[0].frequent_words > 0,
          "trained: frequent words' mean norm grows (%.3f -> %.3f)", st[0].frequent_norm, st[11].frequent_norm);
    test_answers(h, xy, effect, var, total, ids, sims);
    free(xy);
    free(effect);
    nn_embed_history_free(h);
    nn_trainer_free(t);
    synthetic_free(&data);
}

int main(void) {
    test_quantize();
    test_word_scores();
    test_eigen();
    test_pca(3);
    test_pca(70);
    test_neighbours();
    test_changes();
    test_stats();
    test_history();
    test_trained();
    return check_exit_code();
}
