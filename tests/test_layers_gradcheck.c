/* test_layers_gradcheck.c: every backward pass against central finite
 * differences computed in double precision.
 *
 * For each layer, a scalar loss L = sum(G * forward(x)) with a fixed random
 * G; the float backward's gradient (given dout = G) is compared with
 * (L(x+h) - L(x-h)) / 2h where L is evaluated by a double-precision
 * re-implementation of the forward pass. Then the whole model's
 * nn_model_forward_backward is checked the same way, for every architecture.
 * The recurrent layers are checked through time with padding: 'pre' and
 * 'post', a hole inside a review, and a review that is all padding; with and
 * without recurrent dropout (a fixed mask); forward and reversed. Softmax
 * cross-entropy (with a logit of 80, which only log-sum-exp survives), the
 * dense layer in Keras's kernel layout and the whole MLP are checked too. */
#include "check.h"
#include "gradcheck.h"
#include "layers.h"
#include "nn.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static nn_rng rng;
static double rnd(void) { return nn_rng_uniform(&rng, -1.0f, 1.0f); }


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
    uint32_t runs[2 * B]; /* forward finds each review's run, backward reuses it */
    nn_embedding_pool_forward(out, runs, ids, emb, B, T, E, pooling);
    to_double(embd, emb, V * E);
    pool_ref(outd, ids, embd, B, T, E, pooling);
    double fwd = 0;
    for (int i = 0; i < B * E; i++) fwd = fmax(fwd, fabs(out[i] - outd[i]));
    nn_embedding_pool_backward(demb, G, ids, runs, B, T, E, pooling);
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


/* ---- recurrent layers: double references ---- */

static double sig(double z) { return 1.0 / (1.0 + exp(-z)); }

/* The same state indexing as the layers (layers.h): hs (T+1,B,H). */
static void rnn_ref(int cell, double *hs, double *cs, const double *x, const uint8_t *mask,
                    const float *hkeep, const double *wx, const double *wh, const double *b,
                    int T, int B, int C, int H, int reverse) {
    int G = (cell == NN_CELL_LSTM ? 4 : 3) * H, BH = B * H;
    double z[64], zh[64];
    int init = reverse ? T : 0;
    for (int i = 0; i < BH; i++) {
        hs[init * BH + i] = 0;
        if (cs) cs[init * BH + i] = 0;
    }
    for (int s = 0; s < T; s++) {
        int t = reverse ? T - 1 - s : s, p = reverse ? t + 1 : t, q = reverse ? t : t + 1;
        for (int bb = 0; bb < B; bb++) {
            const double *hp = hs + p * BH + bb * H;
            double *hn = hs + q * BH + bb * H;
            if (!mask[bb * T + t]) {
                for (int j = 0; j < H; j++) {
                    hn[j] = hp[j];
                    if (cs) cs[q * BH + bb * H + j] = cs[p * BH + bb * H + j];
                }
                continue;
            }
            for (int n = 0; n < G; n++) {
                double a = b[n], r = cell == NN_CELL_GRU ? b[G + n] : 0;
                for (int c = 0; c < C; c++) a += x[(t * B + bb) * C + c] * wx[c * G + n];
                for (int j = 0; j < H; j++) r += hp[j] * (hkeep ? hkeep[bb * H + j] : 1.0) * wh[j * G + n];
                z[n] = a;
                zh[n] = r;
            }
            for (int j = 0; j < H; j++) {
                if (cell == NN_CELL_LSTM) {
                    double zz[4];
                    for (int k = 0; k < 4; k++) zz[k] = z[k * H + j] + zh[k * H + j];
                    double c = sig(zz[1]) * cs[p * BH + bb * H + j] + sig(zz[0]) * tanh(zz[2]);
                    cs[q * BH + bb * H + j] = c;
                    hn[j] = sig(zz[3]) * tanh(c);
                } else {
                    double u = sig(z[j] + zh[j]), r = sig(z[H + j] + zh[H + j]);
                    double hh = tanh(z[2 * H + j] + r * zh[2 * H + j]);
                    hn[j] = u * hp[j] + (1 - u) * hh;
                }
            }
        }
    }
}

/* mask (B,T) for B = 4 reviews of T = 5: a full one, 3 real tokens, none
 * (all padding), and 3 with a hole of padding between them; 'pre' puts the
 * padding first, 'post' last. */
static void make_mask(uint8_t *mask, int T, int padding) {
    int len[4] = {5, 3, 0, 4};
    for (int bb = 0; bb < 4; bb++)
        for (int t = 0; t < T; t++)
            mask[bb * T + t] = padding == NN_PAD_POST ? t < len[bb] : t >= T - len[bb];
    mask[3 * T + (padding == NN_PAD_POST ? 1 : 2)] = 0; /* the hole */
}

/* L = sum(Gf * final state) + sum(Gs * outputs in time order). */
static double rnn_loss(int cell, const double *x, const uint8_t *mask, const float *hkeep,
                       const double *wx, const double *wh, const double *b, const float *Gf,
                       const float *Gs, int T, int B, int C, int H, int reverse) {
    static double hs[64 * 64], cs[64 * 64];
    rnn_ref(cell, hs, cs, x, mask, hkeep, wx, wh, b, T, B, C, H, reverse);
    int BH = B * H;
    const double *fin = hs + (reverse ? 0 : T * BH), *outs = hs + (reverse ? 0 : BH);
    double L = 0;
    for (int i = 0; i < BH; i++) L += Gf[i] * fin[i];
    for (int i = 0; i < T * BH; i++) L += Gs[i] * outs[i];
    return L;
}

static void check_rnn(int cell, int reverse, int padding, int rdrop) {
    enum { T = 5, B = 4, C = 3, H = 3, GMAX = 4 * H };
    int G = (cell == NN_CELL_LSTM ? 4 : 3) * H, nb = cell == NN_CELL_LSTM ? G : 2 * G;
    uint8_t mask[B * T];
    make_mask(mask, T, padding);
    float x[T * B * C], wx[C * GMAX], wh[H * GMAX], b[2 * GMAX], hkeep[B * H], Gf[B * H], Gs[T * B * H];
    float hs[(T + 1) * B * H], cs[(T + 1) * B * H], gates[T * B * GMAX], rech[T * B * H], hin[T * B * H];
    float tanhc[T * B * H];
    float dx[T * B * C] = {0}, dwx[C * GMAX] = {0}, dwh[H * GMAX] = {0}, db[2 * GMAX] = {0};
    float dhs[(T + 1) * B * H];
    size_t nwork = nn_rnn_work_floats(cell, T, B, C, H);
    float *work = calloc(nwork, sizeof(float));
    for (int i = 0; i < T * B * C; i++) x[i] = (float)rnd();
    for (int i = 0; i < C * G; i++) wx[i] = (float)rnd();
    for (int i = 0; i < H * G; i++) wh[i] = (float)rnd();
    for (int i = 0; i < nb; i++) b[i] = (float)(0.5 * rnd());
    for (int i = 0; i < B * H; i++) hkeep[i] = (i % 3 == 1) ? 0.0f : 1.5f; /* a fixed mask, rate 1/3 */
    for (int i = 0; i < B * H; i++) Gf[i] = (float)rnd();
    for (int i = 0; i < T * B * H; i++) Gs[i] = (float)rnd();
    const float *hk = rdrop ? hkeep : NULL;
    if (cell == NN_CELL_LSTM)
        nn_lstm_forward(hs, cs, gates, tanhc, hin, work, x, mask, hk, wx, wh, b, T, B, C, H, reverse, NULL);
    else
        nn_gru_forward(hs, gates, rech, hin, work, x, mask, hk, wx, wh, b, T, B, C, H, reverse, NULL);
    /* The forward pass against the double reference. */
    double xd[T * B * C], wxd[C * GMAX], whd[H * GMAX], bd[2 * GMAX];
    static double hsd[(T + 1) * B * H], csd[(T + 1) * B * H];
    to_double(xd, x, T * B * C);
    to_double(wxd, wx, C * G);
    to_double(whd, wh, H * G);
    to_double(bd, b, nb);
    rnn_ref(cell, hsd, csd, xd, mask, hk, wxd, whd, bd, T, B, C, H, reverse);
    double fwd = 0;
    for (int i = 0; i < (T + 1) * B * H; i++) fwd = fmax(fwd, fabs(hs[i] - hsd[i]));
    /* Backward with the gradient of L. */
    memset(dhs, 0, sizeof dhs);
    float *douts = dhs + (reverse ? 0 : B * H), *dfin = dhs + (reverse ? 0 : T * B * H);
    for (int i = 0; i < T * B * H; i++) douts[i] += Gs[i];
    for (int i = 0; i < B * H; i++) dfin[i] += Gf[i];
    if (cell == NN_CELL_LSTM)
        nn_lstm_backward(dx, dwx, dwh, db, dhs, work, hs, cs, gates, tanhc, hin, x, mask, hk, wx, wh, T, B, C, H, reverse, NULL);
    else
        nn_gru_backward(dx, dwx, dwh, db, dhs, work, hs, gates, rech, hin, x, mask, hk, wx, wh, T, B, C, H, reverse, NULL);
    struct { const char *name; double *p; float *grad; int n; } cases[4] = {
        {"dX", xd, dx, T * B * C}, {"dWx", wxd, dwx, C * G}, {"dWh", whd, dwh, H * G}, {"db", bd, db, nb}};
    const char *name = cell == NN_CELL_LSTM ? "lstm" : "gru";
    for (int k = 0; k < 4; k++) {
        double fd[T * B * C > 2 * GMAX * H ? T * B * C : 2 * GMAX * H];
        const double h = 1e-6;
        for (int i = 0; i < cases[k].n; i++) {
            double save = cases[k].p[i];
            cases[k].p[i] = save + h;
            double lp = rnn_loss(cell, xd, mask, hk, wxd, whd, bd, Gf, Gs, T, B, C, H, reverse);
            cases[k].p[i] = save - h;
            double lm = rnn_loss(cell, xd, mask, hk, wxd, whd, bd, Gf, Gs, T, B, C, H, reverse);
            cases[k].p[i] = save;
            fd[i] = (lp - lm) / (2 * h);
        }
        double d = maxrel(cases[k].grad, fd, cases[k].n);
        check(fwd < 1e-5 && d < 1e-3, "%s_backward %s padding=%s%s %s forward_maxdiff=%.1e maxrel=%.1e", name,
              reverse ? "reverse" : "forward", padding == NN_PAD_POST ? "post" : "pre",
              rdrop ? " recurrent_dropout(fixed mask)" : "", cases[k].name, fwd, d);
    }
    /* The review that is all padding: zero state, no gradient into its inputs. */
    double pad_state = 0, pad_grad = 0;
    const float *fin = hs + (reverse ? 0 : T * B * H);
    for (int j = 0; j < H; j++) pad_state = fmax(pad_state, fabs(fin[2 * H + j]));
    for (int t = 0; t < T; t++)
        for (int c = 0; c < C; c++) pad_grad = fmax(pad_grad, fabs(dx[(t * B + 2) * C + c]));
    check(pad_state == 0 && pad_grad == 0, "%s %s a review of all padding keeps the zero state (%g) and gets no gradient (%g)",
          name, reverse ? "reverse" : "forward", pad_state, pad_grad);
    free(work);
}

/* The same tokens padded 'pre' and 'post' give bit-identical final states,
 * in either direction, and the same weight gradients up to rounding. */
static void check_pre_equals_post(int cell, int reverse) {
    enum { T = 7, B = 3, C = 4, H = 5, GMAX = 4 * H };
    int G = (cell == NN_CELL_LSTM ? 4 : 3) * H;
    int len[B] = {7, 4, 1};
    float tok[B][T][C], wx[C * GMAX], wh[H * GMAX], b[2 * GMAX];
    float x[2][T * B * C], hs[2][(T + 1) * B * H], cs[(T + 1) * B * H], gates[T * B * GMAX], rech[T * B * H];
    float tanhc[T * B * H];
    float dwx[2][C * GMAX], dwh[2][H * GMAX], db[2][2 * GMAX], dx[T * B * C], dhs[(T + 1) * B * H];
    uint8_t mask[2][B * T];
    float *work = calloc(nn_rnn_work_floats(cell, T, B, C, H), sizeof(float));
    for (int bb = 0; bb < B; bb++)
        for (int t = 0; t < T; t++)
            for (int c = 0; c < C; c++) tok[bb][t][c] = (float)rnd();
    for (int i = 0; i < C * G; i++) wx[i] = (float)rnd();
    for (int i = 0; i < H * G; i++) wh[i] = (float)rnd();
    for (int i = 0; i < 2 * G; i++) b[i] = (float)rnd();
    memset(dwx, 0, sizeof dwx);
    memset(dwh, 0, sizeof dwh);
    memset(db, 0, sizeof db);
    for (int v = 0; v < 2; v++) { /* v = 0 'pre', v = 1 'post' */
        for (int bb = 0; bb < B; bb++)
            for (int t = 0; t < T; t++) {
                int k = v == 0 ? t - (T - len[bb]) : t; /* which real token sits at t */
                int real = k >= 0 && k < len[bb];
                mask[v][bb * T + t] = (uint8_t)real;
                for (int c = 0; c < C; c++) x[v][(t * B + bb) * C + c] = real ? tok[bb][k][c] : (float)rnd();
            }
        if (cell == NN_CELL_LSTM)
            nn_lstm_forward(hs[v], cs, gates, tanhc, NULL, work, x[v], mask[v], NULL, wx, wh, b, T, B, C, H, reverse, NULL);
        else
            nn_gru_forward(hs[v], gates, rech, NULL, work, x[v], mask[v], NULL, wx, wh, b, T, B, C, H, reverse, NULL);
        memset(dhs, 0, sizeof dhs);
        for (int i = 0; i < B * H; i++) dhs[(reverse ? 0 : T * B * H) + i] = 1.0f;
        memset(dx, 0, sizeof dx);
        if (cell == NN_CELL_LSTM)
            nn_lstm_backward(dx, dwx[v], dwh[v], db[v], dhs, work, hs[v], cs, gates, tanhc, NULL, x[v], mask[v], NULL, wx, wh, T, B, C, H, reverse, NULL);
        else
            nn_gru_backward(dx, dwx[v], dwh[v], db[v], dhs, work, hs[v], gates, rech, NULL, x[v], mask[v], NULL, wx, wh, T, B, C, H, reverse, NULL);
    }
    size_t fin = reverse ? 0 : (size_t)T * B * H;
    int same = memcmp(hs[0] + fin, hs[1] + fin, B * H * sizeof(float)) == 0;
    double d = 0;
    for (int i = 0; i < H * G; i++) d = fmax(d, fabs(dwh[0][i] - dwh[1][i]));
    for (int i = 0; i < C * G; i++) d = fmax(d, fabs(dwx[0][i] - dwx[1][i]));
    check(same && d < 1e-5, "%s %s 'pre' and 'post' padding: identical final states, weight gradients maxdiff=%.1e",
          cell == NN_CELL_LSTM ? "lstm" : "gru", reverse ? "reverse" : "forward", d);
    free(work);
}

/* ---- dropout with a fixed mask ---- */
static void check_dropout(void) {
    enum { T = 3, B = 2, C = 5 };
    float x[T * B * C], out[T * B * C], keep[B * C], G[T * B * C], dx[T * B * C] = {0};
    nn_rng r;
    nn_rng_seed(&r, 9);
    nn_dropout_mask(keep, B * C, 0.4f, &r);
    int zeros = 0, scaled = 0;
    for (int i = 0; i < B * C; i++) {
        zeros += keep[i] == 0.0f;
        scaled += keep[i] == 1.0f / 0.6f;
    }
    for (int i = 0; i < T * B * C; i++) x[i] = (float)rnd(), G[i] = (float)rnd();
    nn_dropout_forward(out, x, keep, T, B, C);
    nn_dropout_backward(dx, G, keep, T, B, C);
    double fwd = 0, d = 0;
    for (int t = 0; t < T; t++)
        for (int i = 0; i < B * C; i++) {
            int k = t * B * C + i;
            fwd = fmax(fwd, fabs(out[k] - (double)x[k] * keep[i]));
            /* L = sum G*out is linear in x: its finite difference is exact. */
            const double h = 1e-3;
            double fd = G[k] * (((double)x[k] + h) * keep[i] - ((double)x[k] - h) * keep[i]) / (2 * h);
            d = fmax(d, fabs(dx[k] - fd));
        }
    check(zeros + scaled == B * C && zeros > 0 && scaled > 0 && fwd < 1e-6 && d < 1e-5,
          "dropout fixed mask (same at every step): %d dropped, %d kept x1/(1-rate); forward_maxdiff=%.1e dX maxdiff=%.1e",
          zeros, scaled, fwd, d);
}

/* ---- the whole model ---- */
static double softmax_ce_ref(const double *z, const float *y, int B, int K);

/* The text models' head loss: one logit and bce (K == 2), or K logits
 * and softmax cross-entropy (engine/model_head.c). */
static double head_loss_ref(const nn_model *m, const double *z, const float *y, int B) {
    uint32_t O = nn_config_outputs(&m->cfg);
    return O == 1 ? bce_ref(z, y, B) : softmax_ce_ref(z, y, B, (int)O);
}

/* Labels for B reviews: 0/1 for two classes, else ragged over 0..K-1. */
static void labels_for(float *y, int B, uint32_t K) {
    static const float two[] = {1, 0, 1, 0, 1}, many[] = {4, 0, 2, 1, 3};
    for (int b = 0; b < B; b++) y[b] = K == 2 ? two[b % 5] : (float)((uint32_t)many[b % 5] % K);
}

static double model_loss_ref(const nn_model *m, const double *p, const uint16_t *ids, const float *y, int B) {
    const nn_config *c = &m->cfg;
    int T = c->maxlen, E = c->embed_dim, H = c->hidden, O = (int)nn_config_outputs(c);
    double pooled[8 * 16], hid[8 * 16], z[8 * NN_MAX_TEXT_CLASSES];
    pool_ref(pooled, ids, p + m->tensor[0].offset, B, T, E, c->pooling);
    dense_ref(hid, pooled, p + m->tensor[1].offset, p + m->tensor[2].offset, B, E, H);
    for (int i = 0; i < B * H; i++) hid[i] = fmax(hid[i], 0);
    dense_ref(z, hid, p + m->tensor[3].offset, p + m->tensor[4].offset, B, H, O);
    return head_loss_ref(m, z, y, B);
}

static void check_model(int pooling, uint32_t K) {
    nn_config cfg;
    nn_config_default(&cfg);
    cfg.vocab_size = 11;
    cfg.maxlen = 6;
    cfg.embed_dim = 5;
    cfg.hidden = 4;
    cfg.batch_size = 8;
    cfg.pooling = pooling;
    cfg.classes = K;
    nn_model *m;
    nn_error err = {0};
    if (!check(nn_model_create(&m, &cfg, &err) == NN_OK, "model_create %s", err.msg)) return;
    nn_model_init(m, &rng);
    /* Larger weights than Keras's init so the ReLUs and the head matter. */
    for (size_t i = 0; i < m->nparams; i++) m->params[i] *= 10.0f;
    enum { B = 5 };
    uint16_t ids[B * 6] = {1, 4, 5, 6, 0, 0, 1, 7, 8, 9, 10, 4, 1, 2, 0, 0, 0, 0,
                           0, 0, 1, 5, 5, 5, 1, 3, 6, 9, 2, 0};
    float y[B];
    labels_for(y, B, K);
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
    check(fabs(loss - lref) < 1e-5, "model_forward pooling=%s K=%u loss=%.6f ref=%.6f",
          pooling == NN_POOL_KERAS ? "keras" : "masked", K, loss, lref);
    check(d < 2e-3, "model_backward pooling=%s K=%u all %zu params maxrel=%.1e",
          pooling == NN_POOL_KERAS ? "keras" : "masked", K, m->nparams, d);
    nn_model_free(m);
}


/* The whole recurrent model in double: embedding, every layer and direction
 * (dropout masks as the float forward drew them: for its rows sorted by
 * length, m->order), final states, dense, bce. */
static double recurrent_loss_ref(const nn_model *m, const double *p, const uint16_t *ids, const float *y,
                                 int B, int training) {
    const nn_config *c = &m->cfg;
    int T = c->maxlen, E = c->embed_dim, H = c->hidden, D = m->ndirs, BH = B * H;
    static double seq[4096], xin[4096], xd[4096], hs[2][4096], cs[4096], fin[256], z[16 * NN_MAX_TEXT_CLASSES];
    static float hk[256];
    uint8_t mask[256];
    uint32_t inv[64]; /* review b is row inv[b] of the model's activations */
    for (int i = 0; i < B; i++) inv[m->order[i]] = (uint32_t)i;
    for (int i = 0; i < B * T; i++) mask[i] = ids[i] != 0;
    const double *emb = p + m->tensor[0].offset;
    for (int t = 0; t < T; t++)
        for (int bb = 0; bb < B; bb++)
            for (int e = 0; e < E; e++) seq[(t * B + bb) * E + e] = emb[ids[bb * T + t] * E + e];
    memcpy(xin, seq, sizeof(double) * T * B * E);
    for (uint32_t l = 0; l < m->nlayers; l++) {
        int C = m->rnn[l][0].C;
        for (int d = 0; d < D; d++) {
            const nn_rnn_layer *r = &m->rnn[l][d];
            for (int t = 0; t < T; t++)
                for (int bb = 0; bb < B; bb++)
                    for (int k = 0; k < C; k++)
                        xd[(t * B + bb) * C + k] = xin[(t * B + bb) * C + k] *
                                                   (training && r->xkeep ? r->xkeep[inv[bb] * C + k] : 1.0);
            if (training && r->hkeep)
                for (int bb = 0; bb < B; bb++)
                    for (int j = 0; j < H; j++) hk[bb * H + j] = r->hkeep[inv[bb] * H + j];
            const double *wx = p + m->tensor[r->tensor].offset, *wh = p + m->tensor[r->tensor + 1].offset;
            const double *bias = p + m->tensor[r->tensor + 2].offset;
            rnn_ref(r->cell, hs[d], cs, xd, mask, training && r->hkeep ? hk : NULL, wx, wh, bias, T, B, C, H, r->reverse);
        }
        if (l + 1 < m->nlayers) { /* the next layer's inputs: outputs in time order, concatenated */
            for (int t = 0; t < T; t++)
                for (int bb = 0; bb < B; bb++)
                    for (int d = 0; d < D; d++)
                        for (int j = 0; j < H; j++)
                            xin[((t * B + bb) * D + d) * H + j] = hs[d][(d == 0 ? (t + 1) : t) * BH + bb * H + j];
        }
    }
    for (int bb = 0; bb < B; bb++)
        for (int d = 0; d < D; d++)
            for (int j = 0; j < H; j++) fin[(bb * D + d) * H + j] = hs[d][(d == 0 ? T : 0) * BH + bb * H + j];
    dense_ref(z, fin, p + m->tensor[m->ntensors - 2].offset, p + m->tensor[m->ntensors - 1].offset, B, D * H,
              (int)nn_config_outputs(c));
    return head_loss_ref(m, z, y, B);
}

static void check_recurrent_model(const char *model, uint32_t layers, float dropout, float rdrop, int padding,
                                  uint32_t K) {
    nn_config cfg;
    nn_config_default(&cfg);
    nn_error err = {0};
    nn_config_from_json(&cfg, model, &err);
    cfg.vocab_size = 11;
    cfg.maxlen = 6;
    cfg.embed_dim = 4;
    cfg.hidden = 3;
    cfg.batch_size = 8;
    cfg.layers = layers;
    cfg.dropout = dropout;
    cfg.recurrent_dropout = rdrop;
    cfg.padding = padding;
    cfg.classes = K;
    nn_model *m;
    if (nn_model_create(&m, &cfg, &err) != NN_OK) {
        check(0, "model_create %s %s", model, err.msg);
        return;
    }
    nn_model_init(m, &rng);
    /* Larger weights than Keras's init so every gate matters. */
    for (size_t i = 0; i < m->nparams; i++) m->params[i] *= 3.0f;
    enum { B = 5, T = 6 };
    /* Reviews as the trainer pads them: 'post' real tokens first; 'pre' last;
     * one review is all padding. */
    const uint16_t real[B][T] = {{1, 4, 5, 6, 0, 0}, {1, 7, 8, 9, 10, 4}, {1, 2, 0, 0, 0, 0}, {0}, {1, 3, 6, 9, 2, 0}};
    uint16_t ids[B * T];
    for (int bb = 0; bb < B; bb++) {
        int n = 0;
        while (n < T && real[bb][n]) n++;
        for (int t = 0; t < T; t++) {
            int k = padding == NN_PAD_POST ? t : t - (T - n);
            ids[bb * T + t] = k >= 0 && k < n ? real[bb][k] : 0;
        }
    }
    float y[B];
    labels_for(y, B, K);
    nn_model_zero_grad(m);
    uint32_t correct = 0;
    float loss = nn_model_forward_backward(m, ids, y, B, &correct);
    static double p[8192], fd[8192];
    assert(m->nparams <= 8192);
    to_double(p, m->params, m->nparams);
    double lref = recurrent_loss_ref(m, p, ids, y, B, 1);
    const double h = 1e-6;
    for (size_t i = 0; i < m->nparams; i++) {
        double save = p[i];
        p[i] = save + h;
        double lp = recurrent_loss_ref(m, p, ids, y, B, 1);
        p[i] = save - h;
        double lm = recurrent_loss_ref(m, p, ids, y, B, 1);
        p[i] = save;
        fd[i] = (lp - lm) / (2 * h);
    }
    double d = maxrel(m->grads, fd, m->nparams);
    for (uint32_t k = 0; k < m->ntensors && d > 2e-3; k++) {
        const nn_tensor *t = &m->tensor[k];
        printf("# %s maxrel=%.1e\n", t->name, maxrel(m->grads + t->offset, fd + t->offset, (size_t)t->rows * t->cols));
    }
    /* Evaluation: no dropout. */
    nn_model_forward(m, ids, B);
    double leval = recurrent_loss_ref(m, p, ids, y, B, 0);
    float le = nn_model_loss_sum(m, y, B, NULL) / (float)B;
    double zmax = fabs(le - leval);
    char desc[160];
    snprintf(desc, sizeof desc, "%s layers=%u dropout=%g recurrent_dropout=%g padding=%s K=%u", model, layers,
             dropout, rdrop, padding == NN_PAD_POST ? "post" : "pre", K);
    check(fabs(loss - lref) < 1e-5 && zmax < 1e-5, "model_forward %s loss=%.6f ref=%.6f eval_loss=%.6f ref=%.6f",
          desc, loss, lref, le, leval);
    check(d < 2e-3, "model_backward %s all %zu params maxrel=%.1e", desc, m->nparams, d);
    nn_model_free(m);
}

/* ---- softmax cross-entropy, and the dense layer in Keras's layout ---- */

static double softmax_ce_ref(const double *z, const float *y, int B, int K) {
    double s = 0;
    for (int b = 0; b < B; b++) {
        double mx = z[b * K], sum = 0;
        for (int k = 1; k < K; k++) mx = fmax(mx, z[b * K + k]);
        for (int k = 0; k < K; k++) sum += exp(z[b * K + k] - mx);
        s += log(sum) + mx - z[b * K + (int)y[b]];
    }
    return s / B;
}

static void check_softmax_ce(void) {
    enum { B = 5, K = 4 };
    float z[B * K], dz[B * K], y[B] = {0, 3, 1, 2, 3};
    double zd[B * K], fd[B * K];
    for (int i = 0; i < B * K; i++) z[i] = (float)(3 * rnd());
    z[4 * K + 1] = 80.0f;  /* exp(80) overflows float: only log-sum-exp survives it */
    z[4 * K + 2] = -80.0f;
    uint32_t correct = 0;
    float loss = nn_softmax_ce(dz, z, y, 1.0f / B, B, K, &correct) / B;
    to_double(zd, z, B * K);
    double lref = softmax_ce_ref(zd, y, B, K);
    const double h = 1e-5;
    for (int i = 0; i < B * K; i++) {
        double save = zd[i];
        zd[i] = save + h;
        double lp = softmax_ce_ref(zd, y, B, K);
        zd[i] = save - h;
        double lm = softmax_ce_ref(zd, y, B, K);
        zd[i] = save;
        fd[i] = (lp - lm) / (2 * h);
    }
    uint32_t want = 0;
    for (int b = 0; b < B; b++) {
        int best = 0;
        for (int k = 1; k < K; k++) best = z[b * K + k] > z[b * K + best] ? k : best;
        want += best == (int)y[b];
    }
    check(isfinite(loss) && fabs(loss - lref) < 1e-5 * (1 + fabs(lref)) && correct == want,
          "softmax_ce forward loss=%.6f ref=%.6f correct=%u/%u (a logit of 80 included)", loss, lref,
          correct, want);
    double d = maxrel(dz, fd, B * K);
    check(d < 1e-3, "softmax_ce backward dlogit maxrel=%.1e", d);
    float p[K];
    nn_softmax(p, z + 4 * K, K);
    check(isfinite(p[0]) && fabs(p[1] - 1.0) < 1e-6 && p[2] == 0.0f, "softmax of a row with logit 80 is finite");
}

static void linear_ref(double *out, const double *x, const double *w, const double *bias, int B, int C, int OC) {
    for (int b = 0; b < B; b++)
        for (int o = 0; o < OC; o++) {
            double s = bias[o];
            for (int c = 0; c < C; c++) s += x[b * C + c] * w[c * OC + o];
            out[b * OC + o] = s;
        }
}

static double linear_loss(const double *x, const double *w, const double *bias, const float *G, int B, int C, int OC) {
    double out[64], s = 0;
    linear_ref(out, x, w, bias, B, C, OC);
    for (int i = 0; i < B * OC; i++) s += G[i] * out[i];
    return s;
}

static void check_linear(void) {
    enum { B = 5, C = 7, OC = 9 }; /* sizes off the SIMD blocks (4 x 8) */
    float x[B * C], w[C * OC], b[OC], G[B * OC], out[B * OC], wt[OC * C];
    float dx[B * C] = {0}, dw[C * OC] = {0}, db[OC] = {0};
    double xd[B * C], wd[C * OC], bd[OC], outd[B * OC], fdx[B * C], fdw[C * OC], fdb[OC];
    for (int i = 0; i < B * C; i++) x[i] = (float)rnd();
    for (int i = 0; i < C * OC; i++) w[i] = (float)rnd();
    for (int i = 0; i < OC; i++) b[i] = (float)rnd();
    for (int i = 0; i < B * OC; i++) G[i] = (float)rnd();
    nn_linear_forward(out, x, w, b, B, C, OC);
    to_double(xd, x, B * C), to_double(wd, w, C * OC), to_double(bd, b, OC);
    linear_ref(outd, xd, wd, bd, B, C, OC);
    check(maxrel(out, outd, B * OC) < 1e-5, "linear_forward maxrel=%.1e", maxrel(out, outd, B * OC));
    nn_linear_backward(dx, dw, db, wt, G, x, w, B, C, OC);
    const double h = 1e-5;
    double *sets[3] = {xd, wd, bd}, *fds[3] = {fdx, fdw, fdb};
    int sizes[3] = {B * C, C * OC, OC};
    for (int s = 0; s < 3; s++)
        for (int i = 0; i < sizes[s]; i++) {
            double save = sets[s][i];
            sets[s][i] = save + h;
            double lp = linear_loss(xd, wd, bd, G, B, C, OC);
            sets[s][i] = save - h;
            double lm = linear_loss(xd, wd, bd, G, B, C, OC);
            sets[s][i] = save;
            fds[s][i] = (lp - lm) / (2 * h);
        }
    check(maxrel(dx, fdx, B * C) < 1e-4 && maxrel(dw, fdw, C * OC) < 1e-4 && maxrel(db, fdb, OC) < 1e-4,
          "linear_backward dX maxrel=%.1e dW maxrel=%.1e db maxrel=%.1e", maxrel(dx, fdx, B * C),
          maxrel(dw, fdw, C * OC), maxrel(db, fdb, OC));
}

/* ---- the whole MLP: pixels / 255 -> Dense(H) ReLU -> Dense(K) -> softmax CE ---- */

static double mlp_loss_ref(const nn_model *m, const double *p, const uint8_t *px, const float *y, int B) {
    const nn_config *c = &m->cfg;
    int D = (int)c->input_dim, H = (int)c->hidden, K = (int)c->classes;
    double x[6 * 13], hid[6 * 9], z[6 * 5];
    assert(B * D <= 6 * 13 && B * H <= 6 * 9 && B * K <= 6 * 5);
    for (int i = 0; i < B * D; i++) x[i] = px[i] / 255.0;
    linear_ref(hid, x, p + m->tensor[0].offset, p + m->tensor[1].offset, B, D, H);
    for (int i = 0; i < B * H; i++) hid[i] = fmax(hid[i], 0);
    linear_ref(z, hid, p + m->tensor[2].offset, p + m->tensor[3].offset, B, H, K);
    return softmax_ce_ref(z, y, B, K);
}

static void check_mlp_model(void) {
    enum { B = 6, D = 13, H = 9, K = 5 };
    nn_config cfg;
    nn_config_default(&cfg);
    cfg.model = NN_MODEL_MLP;
    cfg.input_dim = D, cfg.hidden = H, cfg.classes = K, cfg.batch_size = B;
    nn_model *m;
    nn_error err;
    if (!check(nn_model_create(&m, &cfg, &err) == NN_OK, "mlp model_create (%s)", err.msg)) return;
    nn_rng init;
    nn_rng_seed(&init, 3);
    nn_model_init(m, &init);
    /* Keras init: Glorot-uniform kernels within their limits, zero biases. */
    float lim1 = sqrtf(6.0f / (D + H)), lim2 = sqrtf(6.0f / (H + K)), w1max = 0, w2max = 0, bmax = 0;
    for (int i = 0; i < D * H; i++) w1max = fmaxf(w1max, fabsf(m->w1[i]));
    for (int i = 0; i < H * K; i++) w2max = fmaxf(w2max, fabsf(m->w2[i]));
    for (int i = 0; i < H; i++) bmax = fmaxf(bmax, fabsf(m->b1[i]));
    for (int i = 0; i < K; i++) bmax = fmaxf(bmax, fabsf(m->b2[i]));
    check(w1max <= lim1 && w1max > 0.7f * lim1 && w2max <= lim2 && w2max > 0.7f * lim2 && bmax == 0,
          "mlp init Glorot uniform |w1|<=%.3f (max %.3f), |w2|<=%.3f (max %.3f), biases 0", lim1, w1max,
          lim2, w2max);
    /* Biases away from 0 so the check covers them; a few pixels 0 and 255. */
    for (int i = 0; i < H; i++) m->b1[i] = (float)(0.1 * rnd());
    for (int i = 0; i < K; i++) m->b2[i] = (float)(0.1 * rnd());
    uint8_t px[B * D];
    for (int i = 0; i < B * D; i++) px[i] = (uint8_t)nn_rng_below(&rng, 256);
    px[0] = 0, px[1] = 255;
    float y[B] = {0, 4, 2, 2, 1, 3};
    nn_model_zero_grad(m);
    uint32_t correct = 0;
    float loss = nn_model_forward_backward(m, px, y, B, &correct);
    static double p[4096], fd[4096];
    assert(m->nparams <= 4096);
    to_double(p, m->params, m->nparams);
    double lref = mlp_loss_ref(m, p, px, y, B);
    const double h = 1e-6;
    for (size_t i = 0; i < m->nparams; i++) {
        double save = p[i];
        p[i] = save + h;
        double lp = mlp_loss_ref(m, p, px, y, B);
        p[i] = save - h;
        double lm = mlp_loss_ref(m, p, px, y, B);
        p[i] = save;
        fd[i] = (lp - lm) / (2 * h);
    }
    double d = maxrel(m->grads, fd, m->nparams);
    for (uint32_t k = 0; k < m->ntensors; k++) {
        const nn_tensor *t = &m->tensor[k];
        printf("# mlp %s maxrel=%.1e\n", t->name, maxrel(m->grads + t->offset, fd + t->offset, (size_t)t->rows * t->cols));
    }
    nn_model_forward(m, px, B);
    uint32_t c2 = 0;
    float leval = nn_model_loss_sum(m, y, B, &c2) / B;
    check(fabs(loss - lref) < 1e-5 && fabs(leval - lref) < 1e-5 && c2 == correct,
          "mlp model_forward loss=%.6f eval=%.6f ref=%.6f", loss, leval, lref);
    check(d < 2e-3, "mlp model_backward all %zu params maxrel=%.1e", m->nparams, d);
    float probs[K], sum = 0;
    uint32_t best = nn_model_predict_image(m, px + D, probs);
    for (int k = 0; k < K; k++) sum += probs[k];
    int ok = fabsf(sum - 1.0f) < 1e-5f;
    for (int k = 0; k < K; k++) ok &= probs[k] <= probs[best];
    check(ok, "mlp predict_image: probabilities sum to %.6f, class %u most likely", sum, best);
    /* Batched prediction: 2 full batches and a partial one, the same classes
     * as one image at a time (each logit sums in the same order). */
    enum { N = 2 * B + 3 };
    static uint8_t many[N * D];
    for (int i = 0; i < N * D; i++) many[i] = (uint8_t)nn_rng_below(&rng, 256);
    uint32_t classes[N], differ = 0, seen = 0;
    for (int i = 0; i < N; i++) classes[i] = 999;
    nn_model_predict_images(m, many, N, classes);
    for (int i = 0; i < N; i++) {
        uint32_t one = nn_model_predict_image(m, many + (size_t)i * D, probs);
        differ += classes[i] != one;
        seen |= 1u << (one & 31);
    }
    check(differ == 0, "mlp predict_images: %d images in batches of %d, %u differ from one at a time "
          "(classes seen mask %#x)", N, B, differ, seen);
    nn_model_free(m);
}

int main(void) {
    nn_rng_seed(&rng, 42);
    check_softmax_ce();
    check_linear();
    check_mlp_model();
    check_pool(NN_POOL_KERAS, NN_PAD_POST);
    check_pool(NN_POOL_KERAS, NN_PAD_PRE);
    check_pool(NN_POOL_MASKED, NN_PAD_POST);
    check_pool(NN_POOL_MASKED, NN_PAD_PRE);
    check_dense();
    check_relu();
    check_bce();
    check_model(NN_POOL_KERAS, 2);
    check_model(NN_POOL_MASKED, 2);
    /* K-class heads (softmax over K logits), ragged reviews as above. */
    check_model(NN_POOL_KERAS, 5);
    check_model(NN_POOL_MASKED, 3);
    for (int cell = 0; cell < 2; cell++)
        for (int reverse = 0; reverse < 2; reverse++) {
            check_rnn(cell, reverse, NN_PAD_POST, 0);
            check_rnn(cell, reverse, NN_PAD_PRE, 0);
            check_rnn(cell, reverse, NN_PAD_PRE, 1);
            check_pre_equals_post(cell, reverse);
        }
    check_dropout();
    const char *models[] = {"{\"model\":\"lstm\"}", "{\"model\":\"gru\"}", "{\"model\":\"bilstm\"}",
                            "{\"model\":\"bigru\"}"};
    for (int k = 0; k < 4; k++) {
        check_recurrent_model(models[k], 1, 0.0f, 0.0f, NN_PAD_PRE, 2);
        check_recurrent_model(models[k], 1, 0.0f, 0.0f, NN_PAD_POST, 2);
        check_recurrent_model(models[k], 2, 0.0f, 0.0f, NN_PAD_PRE, 2);
        check_recurrent_model(models[k], 2, 0.3f, 0.25f, NN_PAD_POST, 2);
        /* K-class heads */
        check_recurrent_model(models[k], 1, 0.0f, 0.0f, NN_PAD_PRE, 4);
        check_recurrent_model(models[k], 2, 0.3f, 0.25f, NN_PAD_POST, 5);
    }
    return check_exit_code();
}
