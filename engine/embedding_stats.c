/* embedding_stats.c: what the model learned about words, epoch by epoch.
 *
 * The embedding history of a run (a compact snapshot of the model at the end
 * of every epoch: embedding rows as int8 with one scale per row, the other
 * parameters exactly, kept within a byte budget), and what the page shows on
 * it: word scores (a review of just that word), PCA of the most frequent
 * words' vectors (covariance, then Jacobi, or power iteration for wide
 * embeddings), cosine nearest neighbours, the rare-versus-frequent statistics
 * and the words whose effect changed most between two epochs.
 *
 * Not here: training (train.c calls nothing in this file; the caller records
 * snapshots from an epoch hook), the page, the worker, files. */
#include "nn.h"
#include "result_layouts.h"
#include "kernels.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ quantising */

/* restrict (here only: the header's prototype is compatible) spares the
 * per-row aliasing checks of the vectorised loops, which at E = 16 cost more
 * than the loops. */
void nn_quantize_rows_i8(int8_t *restrict q, float *restrict scale, const float *restrict x, uint32_t V,
                         uint32_t E) {
    for (uint32_t v = 0; v < V; v++) {
        const float *row = x + (size_t)v * E;
        int8_t *out = q + (size_t)v * E;
        /* The largest |value| as the largest bit pattern without the sign
         * (IEEE order is integer order for non-negative floats): a
         * branch-free integer max, and NaN or infinity shows up as a
         * pattern >= that of infinity. This runs over the whole table at
         * every epoch's end. */
        uint32_t top = 0;
        for (uint32_t e = 0; e < E; e++) {
            uint32_t bits;
            memcpy(&bits, &row[e], sizeof bits);
            bits &= 0x7fffffffu;
            top = bits > top ? bits : top;
        }
        if (top >= 0x7f800000u) {
            scale[v] = NAN;
            memset(out, 0, E);
            continue;
        }
        float maxabs;
        memcpy(&maxabs, &top, sizeof maxabs);
        scale[v] = maxabs / 127.0f;
        float inv = maxabs > 0.0f ? 127.0f / maxabs : 0.0f;
        for (uint32_t e = 0; e < E; e++) {
            /* Round to nearest without a float-to-int conversion (a libm
             * call natively, a range check per element in wasm without
             * non-trapping conversions): adding 1.5 * 2^23 leaves the
             * rounded value in the low mantissa bits, offset by 2^22.
             * |row * inv| <= 127 (up to rounding), far inside that range. */
            float f = row[e] * inv + 12582912.0f;
            uint32_t bits;
            memcpy(&bits, &f, sizeof bits);
            int32_t k = (int32_t)(bits & 0x7fffff) - 0x400000;
            out[e] = (int8_t)(k > 127 ? 127 : k < -127 ? -127 : k);
        }
    }
}

void nn_dequantize_rows_i8(float *restrict x, const int8_t *restrict q, const float *restrict scale,
                           uint32_t V, uint32_t E) {
    for (uint32_t v = 0; v < V; v++)
        for (uint32_t e = 0; e < E; e++)
            x[(size_t)v * E + e] = (float)q[(size_t)v * E + e] * scale[v];
}

/* ----------------------------------------------------------- word scores */

static float sigmoidf(float z) { return 1.0f / (1.0f + expf(-z)); }

/* z (B) += max(c + k * a (B), 0) * w: one hidden unit's share of the logits
 * of B words (restrict: no aliasing checks, so it vectorises). */
static void relu_dot_rows(float *restrict z, const float *restrict a, float c, float k, float w, uint32_t B) {
    for (uint32_t b = 0; b < B; b++) {
        float pre = c + k * a[b];
        z[b] += (pre > 0.0f ? pre : 0.0f) * w;
    }
}

void nn_word_scores_forward(float *out, float *base, nn_model *m, const uint32_t *ids, uint32_t n,
                            uint16_t *rows, uint32_t cap) {
    uint32_t T = m->cfg.maxlen, one[2] = {NN_START, 0}, i = 0;
    if (cap > m->Bmax) cap = m->Bmax;
    assert(cap >= 1);
    int want_base = base != NULL;
    while (i < n || want_base) {
        uint32_t r = 0, first = i, base_row = UINT32_MAX;
        if (want_base) { /* the first batch's row 0: the empty review */
            nn_pad_review_u32(rows, one, 1, &m->cfg);
            base_row = r++;
        }
        for (; r < cap && i < n; r++, i++) {
            one[1] = ids[i];
            nn_pad_review_u32(rows + (size_t)r * T, one, 2, &m->cfg);
        }
        nn_model_forward(m, rows, r);
        for (uint32_t k = 0, j = first; k < r; k++) {
            if (k == base_row) {
                *base = sigmoidf(m->logit[k]);
                want_base = 0;
            } else {
                out[j++] = sigmoidf(m->logit[k]);
            }
        }
    }
}

void nn_word_scores(float *out, float *base, nn_model *m, const uint32_t *ids, uint32_t n) {
    const nn_config *c = &m->cfg;
    uint32_t V = c->vocab_size, E = c->embed_dim, H = c->hidden, T = c->maxlen;
    enum { WB = 64 }; /* words per block */
    float *work = NULL;
    if (c->model == NN_MODEL_BAG && T >= 2)
        work = nn_malloc_array(nn_size_add_sat(nn_size_mul_sat(nn_size_add_sat(E, H), WB), nn_size_add_sat(WB, H)), sizeof *work);
    if (!work) { /* a recurrent model, maxlen 1, or no memory: the forward pass, batched when
                  * the model has a batch of scratch rows (recurrent models do) */
        if (m->ids_batch) nn_word_scores_forward(out, base, m, ids, n, m->ids_batch, m->Bmax);
        else nn_word_scores_forward(out, base, m, ids, n, m->ids1, 1);
        return;
    }
    uint32_t start[1] = {NN_START};
    float base_score = nn_model_explain(m, start, 1, NULL);
    if (base) *base = base_score;
    /* The bag model: [<START>, w] differs from [<START>] by one position
     * that holds w instead of <PAD> (either padding side), so its pooled
     * vector is a * pooled0 + g * e_PAD + k * e_w (Keras pooling: 1, -1/T,
     * 1/T; masked: 1/2, 0, 1/2 as <START> and w are the real tokens), and
     * the first layer's input is cst + k * (W1 . e_w) with cst computed
     * once. W1 . e_w is computed WB words at a time with the words along
     * the SIMD lanes (xt holds the block transposed), so every axpy is WB
     * long whatever E and H are. */
    float a = 0.5f, g = 0.0f, k = 0.5f;
    if (c->pooling == NN_POOL_KERAS) a = 1.0f, g = -1.0f / (float)T, k = 1.0f / (float)T;
    float *xt = work, *acc = xt + (size_t)E * WB, *z = acc + (size_t)H * WB, *cst = z + WB;
    const float *pad = m->emb + (size_t)NN_PAD * E;
    for (uint32_t h = 0; h < H; h++) {
        const float *row = m->w1 + (size_t)h * E;
        double s = m->b1[h];
        for (uint32_t e = 0; e < E; e++) /* m->pooled row 0: the empty review's */
            s += (double)row[e] * (a * m->pooled[e] + g * pad[e]);
        cst[h] = (float)s;
    }
    for (uint32_t i0 = 0; i0 < n; i0 += WB) {
        uint32_t B = n - i0 < WB ? n - i0 : WB;
        for (uint32_t b = 0; b < B; b++) {
            uint32_t id = ids[i0 + b] < V ? ids[i0 + b] : NN_UNK;
            const float *x = m->emb + (size_t)id * E;
            for (uint32_t e = 0; e < E; e++) xt[(size_t)e * WB + b] = x[e];
        }
        for (uint32_t b = 0; b < B; b++) z[b] = m->b2[0];
        for (uint32_t h = 0; h < H; h++) {
            float *ah = acc + (size_t)h * WB;
            memset(ah, 0, B * sizeof *ah);
            for (uint32_t e = 0; e < E; e++) nn_k_axpy(ah, m->w1[(size_t)h * E + e], xt + (size_t)e * WB, B);
            relu_dot_rows(z, ah, cst[h], k, m->w2[h], B);
        }
        for (uint32_t b = 0; b < B; b++)
            out[i0 + b] = ids[i0 + b] == NN_PAD ? base_score : sigmoidf(z[b]); /* [<START>, <PAD>] is the empty review */
    }
    free(work);
}

/* ---------------------------------------------------------------- eigen */

static void sort_eigen(double *evals, double *evecs, uint32_t k, uint32_t n) {
    /* Selection sort by decreasing eigenvalue: k is small. */
    for (uint32_t i = 0; i < k; i++) {
        uint32_t best = i;
        for (uint32_t j = i + 1; j < k; j++)
            if (evals[j] > evals[best]) best = j;
        if (best == i) continue;
        double t = evals[i];
        evals[i] = evals[best];
        evals[best] = t;
        for (uint32_t e = 0; e < n; e++) {
            t = evecs[(size_t)i * n + e];
            evecs[(size_t)i * n + e] = evecs[(size_t)best * n + e];
            evecs[(size_t)best * n + e] = t;
        }
    }
}

void nn_sym_eigen_jacobi(double *evals, double *evecs, double *A, uint32_t n) {
    /* W accumulates the rotations; its columns become the eigenvectors. It
     * lives in evecs and is transposed into rows at the end. */
    double *W = evecs;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < n; j++) W[(size_t)i * n + j] = i == j;
    double total = 0.0;
    for (size_t i = 0; i < (size_t)n * n; i++) total += A[i] * A[i];
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0.0;
        for (uint32_t p = 0; p < n; p++)
            for (uint32_t q = p + 1; q < n; q++) off += A[(size_t)p * n + q] * A[(size_t)p * n + q];
        if (off <= 1e-30 * total || off == 0.0) break;
        for (uint32_t p = 0; p < n; p++) {
            for (uint32_t q = p + 1; q < n; q++) {
                double apq = A[(size_t)p * n + q];
                if (apq == 0.0) continue;
                /* The rotation in the (p,q) plane that zeroes A[p][q]:
                 * t = tan(angle) is the smaller root of t^2 + 2 theta t - 1. */
                double theta = (A[(size_t)q * n + q] - A[(size_t)p * n + p]) / (2.0 * apq);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1.0));
                double cs = 1.0 / sqrt(t * t + 1.0), sn = t * cs;
                for (uint32_t k = 0; k < n; k++) { /* A <- A P (columns p, q) */
                    double akp = A[(size_t)k * n + p], akq = A[(size_t)k * n + q];
                    A[(size_t)k * n + p] = cs * akp - sn * akq;
                    A[(size_t)k * n + q] = sn * akp + cs * akq;
                }
                for (uint32_t k = 0; k < n; k++) { /* A <- P^T A (rows p, q) */
                    double apk = A[(size_t)p * n + k], aqk = A[(size_t)q * n + k];
                    A[(size_t)p * n + k] = cs * apk - sn * aqk;
                    A[(size_t)q * n + k] = sn * apk + cs * aqk;
                }
                for (uint32_t k = 0; k < n; k++) { /* W <- W P */
                    double wkp = W[(size_t)k * n + p], wkq = W[(size_t)k * n + q];
                    W[(size_t)k * n + p] = cs * wkp - sn * wkq;
                    W[(size_t)k * n + q] = sn * wkp + cs * wkq;
                }
            }
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        evals[i] = A[(size_t)i * n + i];
        for (uint32_t j = i + 1; j < n; j++) { /* columns to rows */
            double t = W[(size_t)i * n + j];
            W[(size_t)i * n + j] = W[(size_t)j * n + i];
            W[(size_t)j * n + i] = t;
        }
    }
    sort_eigen(evals, evecs, n, n);
}

void nn_sym_eigen_power(double *evals, double *evecs, double *A, uint32_t n, uint32_t k, uint32_t iters) {
    double *w = nn_malloc_array(n, sizeof *w);
    assert(w);
    for (uint32_t j = 0; j < k; j++) {
        double *v = evecs + (size_t)j * n;
        /* A fixed start that no eigenvector of a real embedding is likely
         * to be orthogonal to. */
        for (uint32_t i = 0; i < n; i++) v[i] = 1.0 + 0.5 * sin(1.0 + 7.0 * i + j);
        double lambda = 0.0;
        for (uint32_t it = 0; it <= iters; it++) {
            for (uint32_t r = 0; r < j; r++) { /* keep v orthogonal to the vectors found */
                const double *u = evecs + (size_t)r * n;
                double d = 0.0;
                for (uint32_t i = 0; i < n; i++) d += u[i] * v[i];
                for (uint32_t i = 0; i < n; i++) v[i] -= d * u[i];
            }
            double norm = 0.0;
            for (uint32_t i = 0; i < n; i++) norm += v[i] * v[i];
            norm = sqrt(norm);
            if (norm == 0.0) { /* A is zero on what is left: any unit vector will do */
                for (uint32_t i = 0; i < n; i++) v[i] = i == j;
                lambda = 0.0;
                break;
            }
            for (uint32_t i = 0; i < n; i++) v[i] /= norm;
            if (it == iters) break;
            for (uint32_t i = 0; i < n; i++) {
                double s = 0.0;
                for (uint32_t l = 0; l < n; l++) s += A[(size_t)i * n + l] * v[l];
                w[i] = s;
            }
            double next = 0.0, change = 0.0;
            for (uint32_t i = 0; i < n; i++) next += v[i] * w[i]; /* Rayleigh quotient */
            for (uint32_t i = 0; i < n; i++) change += (w[i] - next * v[i]) * (w[i] - next * v[i]);
            lambda = next;
            memcpy(v, w, (size_t)n * sizeof *v);
            /* Stop when v is (numerically) an eigenvector: ||Av - lambda v|| tiny. */
            if (change <= 1e-24 * (next * next + 1e-300)) {
                it = iters - 1;
            }
        }
        evals[j] = lambda;
    }
    free(w);
}

/* ------------------------------------------------------------------ PCA */

size_t nn_pca_work_doubles(uint32_t E) { return nn_size_mul_sat(nn_size_add_sat(nn_size_mul_sat(E, E), E), 2); }

void nn_pca(float *mean, float *components, float *variance, const float *X, uint32_t N,
            uint32_t E, uint32_t K, double *work) {
    assert(K <= E);
    double *C = work, *evecs = work + (size_t)E * E, *evals = evecs + (size_t)E * E, *mu = evals + E;
    for (uint32_t e = 0; e < E; e++) mu[e] = 0.0;
    for (uint32_t i = 0; i < N; i++)
        for (uint32_t e = 0; e < E; e++) mu[e] += X[(size_t)i * E + e];
    for (uint32_t e = 0; e < E; e++) mu[e] = N ? mu[e] / N : 0.0;
    memset(C, 0, (size_t)E * E * sizeof *C);
    for (uint32_t i = 0; i < N; i++) {
        const float *x = X + (size_t)i * E;
        for (uint32_t a = 0; a < E; a++) {
            double da = x[a] - mu[a];
            for (uint32_t b = a; b < E; b++) C[(size_t)a * E + b] += da * (x[b] - mu[b]);
        }
    }
    for (uint32_t a = 0; a < E; a++)
        for (uint32_t b = a; b < E; b++) {
            C[(size_t)a * E + b] = N ? C[(size_t)a * E + b] / N : 0.0;
            C[(size_t)b * E + a] = C[(size_t)a * E + b];
        }
    if (E <= 64) nn_sym_eigen_jacobi(evals, evecs, C, E);
    else nn_sym_eigen_power(evals, evecs, C, E, K, 2000);
    for (uint32_t k = 0; k < K; k++) {
        const double *v = evecs + (size_t)k * E;
        uint32_t big = 0;
        for (uint32_t e = 1; e < E; e++)
            if (fabs(v[e]) > fabs(v[big])) big = e;
        double sign = v[big] < 0 ? -1.0 : 1.0;
        for (uint32_t e = 0; e < E; e++) components[(size_t)k * E + e] = (float)(sign * v[e]);
        variance[k] = (float)(evals[k] > 0 ? evals[k] : 0.0);
    }
    for (uint32_t e = 0; e < E; e++) mean[e] = (float)mu[e];
}

void nn_pca_project(float *out, const float *X, const float *mean, const float *components,
                    uint32_t N, uint32_t E, uint32_t K) {
    for (uint32_t i = 0; i < N; i++)
        for (uint32_t k = 0; k < K; k++) {
            double s = 0.0;
            for (uint32_t e = 0; e < E; e++)
                s += ((double)X[(size_t)i * E + e] - mean[e]) * components[(size_t)k * E + e];
            out[(size_t)i * K + k] = (float)s;
        }
}

/* ------------------------------------------------- neighbours, changes */

/* Inserts (id, score) into the top list ids/scores of length *len <= k,
 * kept by decreasing score, ties by smaller id (ids arrive increasing, so a
 * tie never displaces an earlier entry). */
static void top_insert(uint32_t *ids, float *scores, uint32_t *len, uint32_t k, uint32_t id, float score) {
    if (k == 0) return;
    if (*len == k && !(score > scores[k - 1])) return;
    uint32_t i = *len < k ? (*len)++ : k - 1;
    while (i > 0 && score > scores[i - 1]) {
        ids[i] = ids[i - 1];
        scores[i] = scores[i - 1];
        i--;
    }
    ids[i] = id;
    scores[i] = score;
}

uint32_t nn_nearest_cosine(uint32_t *ids, float *sims, const float *emb, uint32_t V, uint32_t E,
                           uint32_t query, uint32_t first, uint32_t k) {
    assert(query < V);
    const float *a = emb + (size_t)query * E;
    double na = 0.0;
    for (uint32_t e = 0; e < E; e++) na += (double)a[e] * a[e];
    uint32_t len = 0;
    for (uint32_t v = first; v < V; v++) {
        if (v == query) continue;
        const float *b = emb + (size_t)v * E;
        double dot = 0.0, nb = 0.0;
        for (uint32_t e = 0; e < E; e++) {
            dot += (double)a[e] * b[e];
            nb += (double)b[e] * b[e];
        }
        float sim = na > 0.0 && nb > 0.0 ? (float)(dot / sqrt(na * nb)) : 0.0f;
        if (isnan(sim)) continue;
        top_insert(ids, sims, &len, k, v, sim);
    }
    return len;
}

uint32_t nn_top_changes(uint32_t *ids, const float *before, const float *after,
                        const uint32_t *counts, uint32_t V, uint32_t first,
                        uint32_t count_below, uint32_t k) {
    float change[64];
    float *scores = k <= 64 ? change : nn_malloc_array(k, sizeof *scores);
    if (!scores) return 0;
    uint32_t len = 0;
    for (uint32_t v = first; v < V; v++) {
        if (counts[v] == 0 || (count_below > 0 && counts[v] >= count_below)) continue;
        float d = fabsf(after[v] - before[v]);
        if (isnan(d)) continue;
        top_insert(ids, scores, &len, k, v, d);
    }
    if (scores != change) free(scores);
    return len;
}

/* ----------------------------------------------------------- statistics */

void nn_embed_stats_compute(nn_embed_stats *s, const float *emb, const float *effect,
                            const uint32_t *counts, uint32_t V, uint32_t E,
                            uint32_t rare_below, uint32_t frequent_from) {
    double rare_norm = 0.0, frequent_norm = 0.0, rare_abs = 0.0, all_abs = 0.0;
    uint32_t rare = 0, frequent = 0;
    for (uint32_t v = NN_FIRST_WORD; v < V; v++) {
        if (counts[v] == 0) continue;
        double n2 = 0.0;
        for (uint32_t e = 0; e < E; e++) n2 += (double)emb[(size_t)v * E + e] * emb[(size_t)v * E + e];
        double d = fabs((double)effect[v]);
        all_abs += d;
        if (counts[v] < rare_below) {
            rare++;
            rare_norm += sqrt(n2);
            rare_abs += d;
        }
        if (counts[v] >= frequent_from) {
            frequent++;
            frequent_norm += sqrt(n2);
        }
    }
    s->rare_words = rare;
    s->frequent_words = frequent;
    s->rare_norm = rare ? (float)(rare_norm / rare) : NAN;
    s->frequent_norm = frequent ? (float)(frequent_norm / frequent) : NAN;
    s->rare_share = all_abs > 0.0 ? (float)(rare_abs / all_abs) : NAN;
}

/* -------------------------------------------------------------- history */

typedef struct embed_slot {
    uint32_t epoch;
    int8_t *q;      /* (V,E) */
    float *scale;   /* (V) */
    float *rest;    /* (nrest) the parameters outside the embedding */
} embed_slot;

struct nn_embed_history {
    uint32_t V, E;
    size_t emb_offset;   /* the embedding's offset in the parameter buffer */
    size_t nparams, nrest;
    size_t slot_bytes;
    uint32_t cap;        /* snapshots the budget allows */
    uint32_t n;          /* snapshots held, by increasing epoch */
    embed_slot *slot;    /* (cap) */
    uint32_t *epochs;    /* (cap) the epochs of slot[0..n) */
    nn_model *view;      /* a model to load snapshots into */
    uint32_t view_epoch; /* the epoch loaded into view; 0 none */
    uint32_t *counts;    /* (V) */
    uint32_t *word_ids;  /* (V) NN_FIRST_WORD.. V-1, then scratch */
    float *scores;       /* (V) scratch */
    float *effect;       /* (V) scratch */
    uint32_t rare_below, frequent_from;
    nn_embed_stats *stats;
    uint32_t nstats, stats_cap;
};

static void free_slot(embed_slot *s) {
    free(s->q);
    free(s->scale);
    free(s->rest);
    memset(s, 0, sizeof *s);
}

void nn_embed_history_free(nn_embed_history *h) {
    if (!h) return;
    for (uint32_t i = 0; i < h->cap; i++) free_slot(&h->slot[i]);
    free(h->slot);
    free(h->epochs);
    nn_model_free(h->view);
    free(h->counts);
    free(h->word_ids);
    free(h->scores);
    free(h->effect);
    free(h->stats);
    free(h);
}

int nn_embed_history_create(nn_embed_history **out, const nn_model *m, const uint32_t *counts,
                            size_t budget_bytes, uint32_t rare_below, uint32_t frequent_from,
                            nn_error *err) {
    *out = NULL;
    const nn_config *c = &m->cfg;
    uint32_t V = c->vocab_size, E = c->embed_dim;
    /* A word's effect is the score of the review of it alone: one
     * probability, P(positive). */
    if (nn_model_classes(m) != 2)
        return nn_fail(err, NN_ERR_ARG,
                       "the word map colours words by one probability (two classes), but this model "
                       "has %u classes: no embedding snapshots for it yet", nn_model_classes(m));
    size_t emb_offset = (size_t)(m->emb - m->params);
    size_t nrest = m->nparams - (size_t)V * E;
    size_t slot_bytes = (size_t)V * E + (size_t)V * sizeof(float) + nrest * sizeof(float);
    if (slot_bytes > budget_bytes)
        return nn_fail(err, NN_ERR_NOMEM,
                       "one embedding snapshot needs %.1f MB, more than the %.1f MB allowed for "
                       "them; the map needs a smaller vocabulary or embedding",
                       slot_bytes / 1e6, budget_bytes / 1e6);
    nn_embed_history *h = calloc(1, sizeof *h);
    if (!h) return nn_fail(err, NN_ERR_NOMEM, "out of memory for the embedding history");
    h->V = V;
    h->E = E;
    h->emb_offset = emb_offset;
    h->nparams = m->nparams;
    h->nrest = nrest;
    h->slot_bytes = slot_bytes;
    size_t cap = budget_bytes / slot_bytes;
    h->cap = cap > 100000 ? 100000 : (uint32_t)cap;
    h->rare_below = rare_below;
    h->frequent_from = frequent_from;
    h->slot = nn_calloc_array(h->cap, sizeof *h->slot);
    h->epochs = nn_calloc_array(h->cap, sizeof *h->epochs);
    h->counts = nn_malloc_array(V, sizeof *h->counts);
    h->word_ids = nn_malloc_array(V, sizeof *h->word_ids);
    h->scores = nn_malloc_array(V, sizeof *h->scores);
    h->effect = nn_malloc_array(V, sizeof *h->effect);
    /* The view only scores: the bag model batches its closed form by Bmax,
     * a recurrent model's forward path (nn_word_scores_forward) takes one
     * review at a time, so the view keeps a batch of 1 and stays small. */
    nn_config vc = *c;
    vc.batch_size = c->model == NN_MODEL_BAG ? (c->batch_size < 64 ? c->batch_size : 64) : 1;
    int rc = NN_OK;
    if (!h->slot || !h->epochs || !h->counts || !h->word_ids || !h->scores || !h->effect) {
        rc = nn_fail(err, NN_ERR_NOMEM, "out of memory for the embedding history");
        goto fail;
    }
    if ((rc = nn_model_create(&h->view, &vc, err)) != NN_OK) goto fail;
    assert(h->view->nparams == m->nparams);
    memcpy(h->counts, counts, (size_t)V * sizeof *h->counts);
    for (uint32_t v = 0; v < V; v++) h->word_ids[v] = v;
    *out = h;
    return NN_OK;
fail:
    nn_embed_history_free(h);
    return rc;
}

/* Which stored snapshot to drop so that epoch `incoming` fits. */
static uint32_t pick_victim(const nn_embed_history *h, uint32_t incoming, uint32_t keep_epoch) {
    uint32_t best = h->n - 1;
    uint32_t best_gap = UINT32_MAX;
    for (uint32_t i = 1; i < h->n; i++) {
        if (h->epochs[i] == keep_epoch) continue;
        uint32_t right = i + 1 < h->n ? h->epochs[i + 1] : incoming;
        uint32_t gap = right - h->epochs[i - 1];
        if (gap < best_gap) {
            best_gap = gap;
            best = i;
        }
    }
    return best;
}

static void load_slot(nn_embed_history *h, const embed_slot *s) {
    nn_model *m = h->view;
    float *p = m->params;
    size_t emb_len = (size_t)h->V * h->E;
    memcpy(p, s->rest, h->emb_offset * sizeof *p);
    memcpy(p + h->emb_offset + emb_len, s->rest + h->emb_offset,
           (h->nparams - h->emb_offset - emb_len) * sizeof *p);
    nn_dequantize_rows_i8(p + h->emb_offset, s->q, s->scale, h->V, h->E);
    h->view_epoch = s->epoch;
}

static int find_slot(const nn_embed_history *h, uint32_t epoch) {
    for (uint32_t i = 0; i < h->n; i++)
        if (h->epochs[i] == epoch) return (int)i;
    return -1;
}

nn_model *nn_embed_history_view(nn_embed_history *h, uint32_t epoch) {
    int i = find_slot(h, epoch);
    if (i < 0) return NULL;
    if (h->view_epoch != epoch) load_slot(h, &h->slot[i]);
    return h->view;
}

/* The statistics of the epoch loaded in the view. */
static void view_stats(nn_embed_history *h, nn_embed_stats *s) {
    uint32_t n = h->V > NN_FIRST_WORD ? h->V - NN_FIRST_WORD : 0;
    float base = NAN;
    memset(h->effect, 0, (size_t)h->V * sizeof *h->effect);
    nn_word_scores(h->scores, &base, h->view, h->word_ids + NN_FIRST_WORD, n);
    for (uint32_t i = 0; i < n; i++) h->effect[NN_FIRST_WORD + i] = h->scores[i] - base;
    nn_embed_stats_compute(s, h->view->emb, h->effect, h->counts, h->V, h->E, h->rare_below,
                           h->frequent_from);
    s->epoch = h->view_epoch;
    s->base_score = base;
}

int nn_embed_history_record(nn_embed_history *h, const nn_model *m, uint32_t epoch,
                            uint32_t keep_epoch, nn_error *err) {
    assert(m->nparams == h->nparams && m->cfg.vocab_size == h->V && m->cfg.embed_dim == h->E);
    if (h->n > 0 && epoch <= h->epochs[h->n - 1])
        return nn_fail(err, NN_ERR_STATE, "epoch %u is already recorded (the last is %u)", epoch,
                       h->epochs[h->n - 1]);
    if (h->nstats == h->stats_cap) {
        uint32_t cap = h->stats_cap ? 2 * h->stats_cap : 64;
        nn_embed_stats *st = nn_realloc_array(h->stats, cap, sizeof *st);
        if (!st) return nn_fail(err, NN_ERR_NOMEM, "out of memory for the embedding statistics");
        h->stats = st;
        h->stats_cap = cap;
    }
    embed_slot s;
    if (h->n == h->cap) {
        /* Full: drop one snapshot and reuse its memory. */
        uint32_t i = pick_victim(h, epoch, keep_epoch);
        s = h->slot[i];
        memmove(&h->slot[i], &h->slot[i + 1], (h->n - i - 1) * sizeof *h->slot);
        memmove(&h->epochs[i], &h->epochs[i + 1], (h->n - i - 1) * sizeof *h->epochs);
        h->n--;
        if (h->view_epoch == s.epoch) h->view_epoch = 0;
    } else {
        s.q = nn_malloc_array(nn_size_mul_sat(h->V, h->E), 1);
        s.scale = nn_malloc_array(h->V, sizeof *s.scale);
        s.rest = nn_malloc_array(h->nrest, sizeof *s.rest);
        if (!s.q || !s.scale || !s.rest) {
            free_slot(&s);
            return nn_fail(err, NN_ERR_NOMEM,
                           "out of memory for the snapshot of epoch %u (%.1f MB each)", epoch,
                           h->slot_bytes / 1e6);
        }
    }
    s.epoch = epoch;
    size_t emb_len = (size_t)h->V * h->E;
    nn_quantize_rows_i8(s.q, s.scale, m->params + h->emb_offset, h->V, h->E);
    memcpy(s.rest, m->params, h->emb_offset * sizeof *s.rest);
    memcpy(s.rest + h->emb_offset, m->params + h->emb_offset + emb_len,
           (h->nparams - h->emb_offset - emb_len) * sizeof *s.rest);
    h->slot[h->n] = s;
    h->epochs[h->n] = epoch;
    h->n++;
    load_slot(h, &h->slot[h->n - 1]);
    view_stats(h, &h->stats[h->nstats++]);
    return NN_OK;
}

void nn_embed_history_set_groups(nn_embed_history *h, uint32_t rare_below, uint32_t frequent_from) {
    if (h->rare_below == rare_below && h->frequent_from == frequent_from) return;
    h->rare_below = rare_below;
    h->frequent_from = frequent_from;
    for (uint32_t k = 0; k < h->nstats; k++) {
        nn_embed_stats *s = &h->stats[k];
        if (!nn_embed_history_view(h, s->epoch)) {
            uint32_t epoch = s->epoch;
            float base = s->base_score;
            memset(s, 0, sizeof *s);
            s->epoch = epoch;
            s->base_score = base;
            s->rare_norm = s->frequent_norm = s->rare_share = NAN;
            continue;
        }
        view_stats(h, s);
    }
}

const nn_embed_stats *nn_embed_history_stats(const nn_embed_history *h, uint32_t *n) {
    *n = h->nstats;
    return h->stats;
}

const uint32_t *nn_embed_history_epochs(const nn_embed_history *h, uint32_t *n) {
    *n = h->n;
    return h->epochs;
}

const uint32_t *nn_embed_history_counts(const nn_embed_history *h) { return h->counts; }

size_t nn_embed_history_snapshot_bytes(const nn_embed_history *h) { return h->n * h->slot_bytes; }
size_t nn_embed_history_bytes_per_snapshot(const nn_embed_history *h) { return h->slot_bytes; }

size_t nn_embed_history_other_bytes(const nn_embed_history *h) {
    /* The view model's parameter, gradient and Adam buffers, and the
     * history's own arrays (activations of the small view batch not counted). */
    return 4 * h->nparams * sizeof(float) + (size_t)h->V * 4 * 4 +
           h->cap * (sizeof(embed_slot) + sizeof(uint32_t)) + h->stats_cap * sizeof(nn_embed_stats);
}

int nn_embed_history_effects(nn_embed_history *h, uint32_t epoch, const uint32_t *ids, uint32_t n,
                             float *effect, float *base, nn_error *err) {
    nn_model *view = nn_embed_history_view(h, epoch);
    if (!view) return nn_fail(err, NN_ERR_ARG, "epoch %u has no snapshot", epoch);
    float b = NAN;
    nn_word_scores(effect, &b, view, ids, n);
    for (uint32_t i = 0; i < n; i++) effect[i] -= b;
    if (base) *base = b;
    return NN_OK;
}

int nn_embed_history_map(nn_embed_history *h, uint32_t basis_epoch, uint32_t N, int basis_only,
                         float *xy, float *effect, float *variance, float *total, nn_error *err) {
    uint32_t V = h->V, E = h->E;
    if (N == 0 || N > V - NN_FIRST_WORD)
        return nn_fail(err, NN_ERR_ARG, "the map can show 1 to %u words, not %u", V - NN_FIRST_WORD, N);
    if (find_slot(h, basis_epoch) < 0)
        return nn_fail(err, NN_ERR_ARG, "epoch %u has no snapshot to take the map's axes from",
                       basis_epoch);
    float *mean = nn_malloc_array(E, sizeof *mean);
    float *comp = nn_malloc_array(nn_size_mul_sat(E, 2), sizeof *comp);
    float *proj = nn_malloc_array(nn_size_mul_sat(N, 2), sizeof *proj);
    double *work = nn_malloc_array(nn_pca_work_doubles(E), sizeof *work);
    if (!mean || !comp || !proj || !work) {
        free(mean);
        free(comp);
        free(proj);
        free(work);
        return nn_fail(err, NN_ERR_NOMEM, "out of memory computing the map of %u words", N);
    }
    const uint32_t *ids = h->word_ids + NN_FIRST_WORD;
    nn_model *view = nn_embed_history_view(h, basis_epoch);
    const float *rows = view->emb + (size_t)NN_FIRST_WORD * E;
    float var[2] = {0, 0};
    uint32_t K = E >= 2 ? 2 : 1;
    nn_pca(mean, comp, var, rows, N, E, K, work);
    if (K == 1)
        for (uint32_t e = 0; e < E; e++) comp[E + e] = 0.0f; /* E = 1: a line */
    double tot = 0.0;
    for (uint32_t i = 0; i < N; i++)
        for (uint32_t e = 0; e < E; e++) {
            double d = rows[(size_t)i * E + e] - mean[e];
            tot += d * d;
        }
    /* Positive words to the right: flip the first axis if the effects of
     * the basis epoch correlate negatively with it. */
    nn_embed_history_effects(h, basis_epoch, ids, N, h->scores, NULL, NULL);
    nn_pca_project(proj, rows, mean, comp, N, E, 2);
    double corr = 0.0;
    for (uint32_t i = 0; i < N; i++) corr += (double)proj[2 * i] * h->scores[i];
    if (corr < 0)
        for (uint32_t e = 0; e < E; e++) comp[e] = -comp[e];
    for (uint32_t k = 0, out = 0; k < h->n; k++) {
        uint32_t epoch = h->epochs[k];
        if (basis_only && epoch != basis_epoch) continue;
        nn_embed_history_effects(h, epoch, ids, N, effect + (size_t)out * N, NULL, NULL);
        nn_pca_project(xy + (size_t)out * N * 2, h->view->emb + (size_t)NN_FIRST_WORD * E, mean, comp,
                       N, E, 2);
        out++;
    }
    variance[0] = var[0];
    variance[1] = var[1];
    *total = (float)(N ? tot / N : 0.0);
    free(mean);
    free(comp);
    free(proj);
    free(work);
    return NN_OK;
}

/* ------------------------------------------------- the page's answers */

int nn_embed_history_stats_rows(const nn_embed_history *h, float *out) {
    for (uint32_t i = 0, j = 0; i < h->nstats; i++) {
        const nn_embed_stats *st = &h->stats[i];
        while (j < h->n && h->epochs[j] < st->epoch) j++;
        float *r = out + (size_t)i * NN_EMBED_STATS_ROW_LEN;
        r[NN_EMBED_STATS_ROW_EPOCH] = (float)st->epoch;
        r[NN_EMBED_STATS_ROW_STORED] = j < h->n && h->epochs[j] == st->epoch;
        r[NN_EMBED_STATS_ROW_RARE_NORM] = st->rare_norm;
        r[NN_EMBED_STATS_ROW_FREQUENT_NORM] = st->frequent_norm;
        r[NN_EMBED_STATS_ROW_RARE_SHARE] = st->rare_share;
        r[NN_EMBED_STATS_ROW_BASE_SCORE] = st->base_score;
        r[NN_EMBED_STATS_ROW_RARE_WORDS] = (float)st->rare_words;
        r[NN_EMBED_STATS_ROW_FREQUENT_WORDS] = (float)st->frequent_words;
    }
    return (int)h->nstats;
}

int nn_embed_history_neighbour_rows(nn_embed_history *h, uint32_t epoch, uint32_t id, uint32_t k, float *out,
                                    nn_error *err) {
    if (id < NN_FIRST_WORD || id >= h->V) {
        nn_fail(err, NN_ERR_ARG, "word id %u is not one of the model's %u words", id, h->V);
        return -1;
    }
    nn_model *view = nn_embed_history_view(h, epoch);
    if (!view) {
        nn_fail(err, NN_ERR_ARG, "epoch %u has no snapshot", epoch);
        return -1;
    }
    uint32_t *ids = nn_malloc_array(k ? k : 1, sizeof *ids);
    float *sims = nn_malloc_array(k ? k : 1, sizeof *sims);
    if (!ids || !sims) {
        free(ids);
        free(sims);
        nn_fail(err, NN_ERR_NOMEM, "out of memory finding neighbours");
        return -1;
    }
    uint32_t m = nn_nearest_cosine(ids, sims, view->emb, h->V, h->E, id, NN_FIRST_WORD, k);
    for (uint32_t i = 0; i < m; i++) {
        out[NN_NEIGHBOURS_ROW_LEN * i + NN_NEIGHBOURS_ROW_ID] = (float)ids[i];
        out[NN_NEIGHBOURS_ROW_LEN * i + NN_NEIGHBOURS_ROW_SIMILARITY] = sims[i];
    }
    free(ids);
    free(sims);
    return (int)m;
}

int nn_embed_history_change_rows(nn_embed_history *h, uint32_t from, uint32_t to, uint32_t count_below,
                                 uint32_t k, float *out, nn_error *err) {
    uint32_t V = h->V, n = V - NN_FIRST_WORD;
    uint32_t *ids = nn_malloc_array(V, sizeof *ids), *top = nn_malloc_array(k ? k : 1, sizeof *top);
    float *before = nn_calloc_array(V, sizeof *before), *after = nn_calloc_array(V, sizeof *after);
    int result = -1;
    if (!ids || !top || !before || !after) {
        nn_fail(err, NN_ERR_NOMEM, "out of memory comparing epochs");
        goto done;
    }
    for (uint32_t i = 0; i < n; i++) ids[i] = NN_FIRST_WORD + i;
    if (nn_embed_history_effects(h, from, ids, n, before + NN_FIRST_WORD, NULL, err) != NN_OK ||
        nn_embed_history_effects(h, to, ids, n, after + NN_FIRST_WORD, NULL, err) != NN_OK)
        goto done;
    uint32_t m = nn_top_changes(top, before, after, h->counts, V, NN_FIRST_WORD, count_below, k);
    for (uint32_t i = 0; i < m; i++) {
        float *r = out + (size_t)i * NN_EMBED_CHANGES_ROW_LEN;
        r[NN_EMBED_CHANGES_ROW_ID] = (float)top[i];
        r[NN_EMBED_CHANGES_ROW_COUNT] = (float)h->counts[top[i]];
        r[NN_EMBED_CHANGES_ROW_EFFECT_FROM] = before[top[i]];
        r[NN_EMBED_CHANGES_ROW_EFFECT_TO] = after[top[i]];
    }
    result = (int)m;
done:
    free(ids);
    free(top);
    free(before);
    free(after);
    return result;
}

int nn_embed_history_word_effects(nn_embed_history *h, uint32_t epoch, float *out, nn_error *err) {
    uint32_t n = h->V - NN_FIRST_WORD;
    uint32_t *ids = nn_calloc_array(nn_size_add_sat(n, 1), sizeof *ids);
    if (!ids) {
        nn_fail(err, NN_ERR_NOMEM, "out of memory scoring the words");
        return -1;
    }
    for (uint32_t i = 0; i < n; i++) ids[i] = NN_FIRST_WORD + i;
    int rc = nn_embed_history_effects(h, epoch, ids, n, out + 1 + n, out, err);
    free(ids);
    if (rc != NN_OK) return -1;
    for (uint32_t i = 0; i < n; i++) out[1 + i] = (float)h->counts[NN_FIRST_WORD + i];
    return (int)n;
}

int nn_embed_history_map_floats(nn_embed_history *h, uint32_t basis_epoch, uint32_t n, int basis_only,
                                float *out, nn_error *err) {
    if (n == 0 || n > h->V - NN_FIRST_WORD) {
        nn_fail(err, NN_ERR_ARG, "the map can show 1 to %u words, not %u", h->V - NN_FIRST_WORD, n);
        return -1;
    }
    uint32_t k = basis_only ? 1 : h->n;
    for (uint32_t i = 0; i < k; i++) out[i] = (float)(basis_only ? basis_epoch : h->epochs[i]);
    float *xy = out + k, *effect = xy + (size_t)k * n * 2, *counts = effect + (size_t)k * n;
    float *var = counts + n;
    if (nn_embed_history_map(h, basis_epoch, n, basis_only, xy, effect, var, var + 2, err) != NN_OK) return -1;
    for (uint32_t i = 0; i < n; i++) counts[i] = (float)h->counts[NN_FIRST_WORD + i];
    return (int)k;
}
