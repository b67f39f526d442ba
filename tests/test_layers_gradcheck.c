/* test_layers_gradcheck.c: every backward pass against central finite
 * differences computed in double precision.
 *
 * For each layer, a scalar loss L = sum(G * forward(x)) with a fixed random
 * G; the float backward's gradient (given dout = G) is compared with
 * (L(x+h) - L(x-h)) / 2h where L is evaluated by a double-precision
 * re-implementation of the forward pass. Then the whole model's
 * nn_model_forward_backward is checked the same way. */
#include "check.h"
#include "layers.h"
#include "nn.h"

#include <math.h>
#include <string.h>

static nn_rng rng;
static double rnd(void) { return nn_rng_uniform(&rng, -1.0f, 1.0f); }

static double maxrel(const float *a, const double *b, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]) / (fabs(b[i]) + 1e-3);
        if (!(d <= worst)) worst = d; /* NaN counts as worst */
    }
    return worst;
}

/* ---- double-precision references of the forward passes ---- */

static void pool_ref(double *out, const uint16_t *ids, const double *emb, int B, int T, int E, int pooling) {
    for (int b = 0; b < B; b++) {
        int n = 0;
        for (int e = 0; e < E; e++) out[b * E + e] = 0;
        for (int t = 0; t < T; t++) {
            uint16_t id = ids[b * T + t];
            if (pooling == NN_POOL_MASKED && id == 0) continue;
            n++;
            for (int e = 0; e < E; e++) out[b * E + e] += emb[id * E + e];
        }
        double div = pooling == NN_POOL_KERAS ? T : (n ? n : 1);
        for (int e = 0; e < E; e++) out[b * E + e] /= div;
    }
}

static void dense_ref(double *out, const double *x, const double *w, const double *bias, int B, int C, int OC) {
    for (int b = 0; b < B; b++)
        for (int o = 0; o < OC; o++) {
            double s = bias[o];
            for (int c = 0; c < C; c++) s += x[b * C + c] * w[o * C + c];
            out[b * OC + o] = s;
        }
}

static double bce_ref(const double *z, const float *y, int B) {
    double s = 0;
    for (int i = 0; i < B; i++) s += fmax(z[i], 0) - z[i] * y[i] + log1p(exp(-fabs(z[i])));
    return s / B;
}

static void to_double(double *d, const float *f, size_t n) {
    for (size_t i = 0; i < n; i++) d[i] = f[i];
}

/* ---- embedding + pooling ---- */
static void check_pool(int pooling, int padding) {
    enum { B = 3, T = 9, E = 5, V = 7 };
    uint16_t ids[B * T];
    float emb[V * E], G[B * E], demb[V * E] = {0}, out[B * E];
    double embd[V * E], outd[B * E], fd[V * E];
    for (int b = 0; b < B; b++) {
        int len = 2 + b * 3; /* 2, 5, 8 real tokens */
        for (int t = 0; t < T; t++) {
            int real = padding == NN_PAD_POST ? t < len : t >= T - len;
            ids[b * T + t] = real ? (uint16_t)(1 + nn_rng_below(&rng, V - 1)) : 0;
        }
    }
    ids[2 * T + 4] = 0; /* a zero inside the real run: masked pooling must skip it */
    for (int i = 0; i < V * E; i++) emb[i] = (float)rnd();
    for (int i = 0; i < B * E; i++) G[i] = (float)rnd();
    nn_embedding_pool_forward(out, ids, emb, B, T, E, pooling);
    to_double(embd, emb, V * E);
    pool_ref(outd, ids, embd, B, T, E, pooling);
    double fwd = 0;
    for (int i = 0; i < B * E; i++) fwd = fmax(fwd, fabs(out[i] - outd[i]));
    nn_embedding_pool_backward(demb, G, ids, B, T, E, pooling);
    const double h = 1e-6;
    for (int i = 0; i < V * E; i++) {
        double save = embd[i], lp = 0, lm = 0;
        embd[i] = save + h;
        pool_ref(outd, ids, embd, B, T, E, pooling);
        for (int k = 0; k < B * E; k++) lp += G[k] * outd[k];
        embd[i] = save - h;
        pool_ref(outd, ids, embd, B, T, E, pooling);
        for (int k = 0; k < B * E; k++) lm += G[k] * outd[k];
        embd[i] = save;
        fd[i] = (lp - lm) / (2 * h);
    }
    double d = maxrel(demb, fd, V * E);
    check(fwd < 1e-5 && d < 1e-4, "embedding_pool_backward pooling=%s padding=%s forward_maxdiff=%.1e dEmb maxrel=%.1e",
          pooling == NN_POOL_KERAS ? "keras" : "masked", padding == NN_PAD_POST ? "post" : "pre", fwd, d);
}

/* ---- dense ---- */
static void check_dense(void) {
    enum { B = 4, C = 7, OC = 5 };
    float x[B * C], w[OC * C], b[OC], G[B * OC], out[B * OC];
    float dx[B * C] = {0}, dw[OC * C] = {0}, db[OC] = {0};
    double xd[B * C], wd[OC * C], bd[OC], outd[B * OC];
    for (int i = 0; i < B * C; i++) x[i] = (float)rnd();
    for (int i = 0; i < OC * C; i++) w[i] = (float)rnd();
    for (int i = 0; i < OC; i++) b[i] = (float)rnd();
    for (int i = 0; i < B * OC; i++) G[i] = (float)rnd();
    G[3] = 0.0f; /* an exact zero upstream gradient takes the skip path */
    nn_dense_forward(out, x, w, b, B, C, OC);
    nn_dense_backward(dx, dw, db, G, x, w, B, C, OC);
    to_double(xd, x, B * C);
    to_double(wd, w, OC * C);
    to_double(bd, b, OC);
    dense_ref(outd, xd, wd, bd, B, C, OC);
    double fwd = 0;
    for (int i = 0; i < B * OC; i++) fwd = fmax(fwd, fabs(out[i] - outd[i]));
    check(fwd < 1e-5, "dense_forward maxdiff=%.1e", fwd);
    struct { const char *name; double *p; float *grad; int n; } cases[3] = {
        {"dX", xd, dx, B * C}, {"dW", wd, dw, OC * C}, {"db", bd, db, OC}};
    for (int c = 0; c < 3; c++) {
        double fd[B * C > OC * C ? B * C : OC * C];
        const double h = 1e-6;
        for (int i = 0; i < cases[c].n; i++) {
            double save = cases[c].p[i], lp = 0, lm = 0;
            cases[c].p[i] = save + h;
            dense_ref(outd, xd, wd, bd, B, C, OC);
            for (int k = 0; k < B * OC; k++) lp += G[k] * outd[k];
            cases[c].p[i] = save - h;
            dense_ref(outd, xd, wd, bd, B, C, OC);
            for (int k = 0; k < B * OC; k++) lm += G[k] * outd[k];
            cases[c].p[i] = save;
            fd[i] = (lp - lm) / (2 * h);
        }
        double d = maxrel(cases[c].grad, fd, cases[c].n);
        check(d < 1e-4, "dense_backward %s maxrel=%.1e", cases[c].name, d);
    }
}

/* ---- relu ---- */
static void check_relu(void) {
    enum { N = 64 };
    float x[N], out[N], G[N], dx[N] = {0};
    double fd[N];
    for (int i = 0; i < N; i++) {
        x[i] = (float)rnd();
        if (fabsf(x[i]) < 0.01f) x[i] = 0.5f; /* keep away from the kink */
        G[i] = (float)rnd();
    }
    nn_relu_forward(out, x, N);
    nn_relu_backward(dx, G, out, N);
    for (int i = 0; i < N; i++) {
        const double h = 1e-6;
        double xp = x[i] + h, xm = x[i] - h;
        fd[i] = G[i] * (fmax(xp, 0) - fmax(xm, 0)) / (2 * h);
    }
    double d = maxrel(dx, fd, N);
    check(d < 1e-6, "relu_backward maxrel=%.1e", d);
}

/* ---- binary cross-entropy from logits ---- */
static void check_bce(void) {
    enum { B = 9 };
    float z[B] = {-30, -4, -1, -0.1f, 0, 0.2f, 1.5f, 6, 40}, y[B], dz[B];
    double zd[B], fd[B];
    for (int i = 0; i < B; i++) y[i] = (float)(i % 2);
    uint32_t correct = 0;
    float loss = nn_bce_forward_backward(dz, z, y, B, &correct);
    to_double(zd, z, B);
    double lref = bce_ref(zd, y, B);
    for (int i = 0; i < B; i++) {
        const double h = 1e-6;
        double save = zd[i];
        zd[i] = save + h;
        double lp = bce_ref(zd, y, B);
        zd[i] = save - h;
        double lm = bce_ref(zd, y, B);
        zd[i] = save;
        fd[i] = (lp - lm) / (2 * h);
    }
    double d = 0;
    for (int i = 0; i < B; i++) d = fmax(d, fabs(dz[i] - fd[i]));
    check(fabs(loss - lref) < 1e-5 * fabs(lref) + 1e-6, "bce_forward loss=%.6f ref=%.6f", loss, lref);
    check(d < 1e-6, "bce_backward dLogit maxdiff=%.1e", d);
}

/* ---- the whole model ---- */
static double model_loss_ref(const nn_model *m, const double *p, const uint16_t *ids, const float *y, int B) {
    const nn_config *c = &m->cfg;
    int T = c->maxlen, E = c->embed_dim, H = c->hidden;
    double pooled[8 * 16], hid[8 * 16], z[8];
    pool_ref(pooled, ids, p + m->tensor[0].offset, B, T, E, c->pooling);
    dense_ref(hid, pooled, p + m->tensor[1].offset, p + m->tensor[2].offset, B, E, H);
    for (int i = 0; i < B * H; i++) hid[i] = fmax(hid[i], 0);
    dense_ref(z, hid, p + m->tensor[3].offset, p + m->tensor[4].offset, B, H, 1);
    return bce_ref(z, y, B);
}

static void check_model(int pooling) {
    nn_config cfg;
    nn_config_default(&cfg);
    cfg.vocab_size = 11;
    cfg.maxlen = 6;
    cfg.embed_dim = 5;
    cfg.hidden = 4;
    cfg.batch_size = 8;
    cfg.pooling = pooling;
    nn_model *m;
    nn_error err;
    if (!check(nn_model_create(&m, &cfg, &err) == NN_OK, "model_create %s", err.msg)) return;
    nn_model_init(m, &rng);
    /* Larger weights than Keras's init so the ReLUs and the head matter. */
    for (size_t i = 0; i < m->nparams; i++) m->params[i] *= 10.0f;
    enum { B = 5 };
    uint16_t ids[B * 6] = {1, 4, 5, 6, 0, 0, 1, 7, 8, 9, 10, 4, 1, 2, 0, 0, 0, 0,
                           0, 0, 1, 5, 5, 5, 1, 3, 6, 9, 2, 0};
    float y[B] = {1, 0, 1, 0, 1};
    nn_model_zero_grad(m);
    uint32_t correct = 0;
    float loss = nn_model_forward_backward(m, ids, y, B, &correct);
    static double p[4096], fd[4096];
    to_double(p, m->params, m->nparams);
    double lref = model_loss_ref(m, p, ids, y, B);
    const double h = 1e-6;
    for (size_t i = 0; i < m->nparams; i++) {
        double save = p[i];
        p[i] = save + h;
        double lp = model_loss_ref(m, p, ids, y, B);
        p[i] = save - h;
        double lm = model_loss_ref(m, p, ids, y, B);
        p[i] = save;
        fd[i] = (lp - lm) / (2 * h);
    }
    double d = maxrel(m->grads, fd, m->nparams);
    for (uint32_t k = 0; k < m->ntensors && d > 2e-3; k++) {
        const nn_tensor *t = &m->tensor[k];
        printf("# %s maxrel=%.1e\n", t->name, maxrel(m->grads + t->offset, fd + t->offset, (size_t)t->rows * t->cols));
    }
    check(fabs(loss - lref) < 1e-5, "model_forward pooling=%s loss=%.6f ref=%.6f",
          pooling == NN_POOL_KERAS ? "keras" : "masked", loss, lref);
    check(d < 2e-3, "model_backward pooling=%s all %zu params maxrel=%.1e",
          pooling == NN_POOL_KERAS ? "keras" : "masked", m->nparams, d);
    nn_model_free(m);
}

int main(void) {
    nn_rng_seed(&rng, 42);
    check_pool(NN_POOL_KERAS, NN_PAD_POST);
    check_pool(NN_POOL_KERAS, NN_PAD_PRE);
    check_pool(NN_POOL_MASKED, NN_PAD_POST);
    check_pool(NN_POOL_MASKED, NN_PAD_PRE);
    check_dense();
    check_relu();
    check_bce();
    check_model(NN_POOL_KERAS);
    check_model(NN_POOL_MASKED);
    return check_exit_code();
}
