/* layers_rnn.c: the recurrent layers, LSTM and GRU, forward and backward
 * through time over a whole batch, masked for padding (semantics in
 * layers.h).
 *
 * The work is arranged as few large matrix products as possible: the input
 * projection x.wx of all T steps is one (T*B, C) x (C, GH) product before the
 * loop; each step then only adds h'.wh for the batch (B, H) x (H, GH); and
 * backward collects the gate gradients of all steps so that dwx, dwh and dx
 * are again one product each after the loop. Only dh_prev = dgates.wh^T has
 * to be done step by step. No allocation: the caller hands over the buffers.
 * Not here: parameters, initialisation, stacking and bidirectional wiring
 * (model.c). */
#include "layers.h"
#include "kernels.h"

#include <assert.h>
#include <string.h>

size_t nn_rnn_work_floats(int cell, uint32_t T, uint32_t B, uint32_t C, uint32_t H) {
    size_t G = cell == NN_CELL_LSTM ? 4 : 3, TB = (size_t)T * B;
    size_t transposes = G * H * H + G * H * C;
    if (cell == NN_CELL_LSTM) return TB * G * H + transposes + 3 * (size_t)B * H + H;
    return 2 * TB * G * H + transposes + (size_t)B * G * H + 2 * (size_t)B * H + H;
}

/* out (cols,rows) = in (rows,cols)^T */
static void transpose(float *out, const float *in, size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) out[c * rows + r] = in[r * cols + c];
}

/* out (M,N): every row = bias (N) */
static void fill_rows(float *out, const float *bias, size_t M, size_t N) {
    for (size_t m = 0; m < M; m++) memcpy(out + m * N, bias, N * sizeof(float));
}

/* db (N) += the column sums of g (M,N), rows in order. */
static void add_column_sums(float *db, const float *g, size_t M, size_t N) {
    for (size_t m = 0; m < M; m++) nn_k_axpy(db, 1.0f, g + m * N, N);
}

/* The state index a step reads (prev) and writes (next): see layers.h. */
static inline size_t prev_of(uint32_t t, int reverse) { return reverse ? t + 1 : t; }
static inline size_t next_of(uint32_t t, int reverse) { return reverse ? t : t + 1; }

/* h' = h_prev * hkeep into hin_t, or h_prev itself. */
static const float *recurrent_input(float *hin_t, const float *hprev, const float *hkeep, size_t BH) {
    if (!hkeep) return hprev;
    for (size_t i = 0; i < BH; i++) hin_t[i] = hprev[i] * hkeep[i];
    return hin_t;
}

/* dhs_prev (B,H) += (dg (B,GH) . wh^T) [* hkeep], with whT (GH,H). */
static void recurrent_backward(float *dhs_prev, float *tmp, const float *dg, const float *whT,
                               const float *hkeep, uint32_t B, uint32_t H, size_t GH) {
    size_t BH = (size_t)B * H;
    if (!hkeep) {
        nn_k_matmul_acc(dhs_prev, dg, whT, B, GH, H);
        return;
    }
    memset(tmp, 0, BH * sizeof(float));
    nn_k_matmul_acc(tmp, dg, whT, B, GH, H);
    for (size_t i = 0; i < BH; i++) dhs_prev[i] += tmp[i] * hkeep[i];
}

/* ------------------------------------------------------------------- LSTM */

void nn_lstm_forward(float *hs, float *cs, float *gates, float *hin, float *work,
                     const float *x, const uint8_t *mask, const float *hkeep,
                     const float *wx, const float *wh, const float *b,
                     uint32_t T, uint32_t B, uint32_t C, uint32_t H, int reverse) {
    assert(!hkeep || hin);
    (void)work;
    size_t BH = (size_t)B * H, GH = 4 * (size_t)H, TB = (size_t)T * B;
    /* The input projection of every step at once. */
    fill_rows(gates, b, TB, GH);
    nn_k_matmul_acc(gates, x, wx, TB, C, GH);
    float *h0 = hs + (reverse ? T : 0) * BH, *c0 = cs + (reverse ? T : 0) * BH;
    memset(h0, 0, BH * sizeof(float));
    memset(c0, 0, BH * sizeof(float));
    for (uint32_t s = 0; s < T; s++) {
        uint32_t t = reverse ? T - 1 - s : s;
        const float *hp = hs + prev_of(t, reverse) * BH, *cp = cs + prev_of(t, reverse) * BH;
        float *hn = hs + next_of(t, reverse) * BH, *cn = cs + next_of(t, reverse) * BH;
        float *g = gates + (size_t)t * B * GH;
        nn_k_matmul_acc(g, recurrent_input(hkeep ? hin + (size_t)t * BH : NULL, hp, hkeep, BH), wh, B, H, GH);
        for (uint32_t r = 0; r < B; r++) {
            const float *hpr = hp + (size_t)r * H, *cpr = cp + (size_t)r * H;
            float *hnr = hn + (size_t)r * H, *cnr = cn + (size_t)r * H, *gr = g + (size_t)r * GH;
            if (!mask[(size_t)r * T + t]) {
                memcpy(hnr, hpr, H * sizeof(float));
                memcpy(cnr, cpr, H * sizeof(float));
                continue;
            }
            float *gi = gr, *gf = gr + H, *gg = gr + 2 * H, *go = gr + 3 * H;
            nn_k_sigmoid(gi, gi, 2 * (size_t)H); /* i and f */
            nn_k_tanh(gg, gg, H);
            nn_k_sigmoid(go, go, H);
            for (uint32_t j = 0; j < H; j++) cnr[j] = gf[j] * cpr[j] + gi[j] * gg[j];
            nn_k_tanh(hnr, cnr, H);
            for (uint32_t j = 0; j < H; j++) hnr[j] = go[j] * hnr[j];
        }
    }
}

void nn_lstm_backward(float *dx, float *dwx, float *dwh, float *db, float *dhs, float *work,
                      const float *hs, const float *cs, const float *gates, const float *hin,
                      const float *x, const uint8_t *mask, const float *hkeep,
                      const float *wx, const float *wh,
                      uint32_t T, uint32_t B, uint32_t C, uint32_t H, int reverse) {
    size_t BH = (size_t)B * H, GH = 4 * (size_t)H, TB = (size_t)T * B;
    float *dg = work;                    /* (T,B,4H) gate gradients, pre-activation */
    float *whT = dg + TB * GH;           /* (4H,H) */
    float *wxT = whT + GH * H;           /* (4H,C) */
    float *dc = wxT + GH * C;            /* (B,H) gradient of the cell state */
    float *tmp = dc + BH;                /* (B,H) */
    float *tc = tmp + BH;                /* (H) tanh(c) of one row */
    transpose(whT, wh, H, GH);
    transpose(wxT, wx, C, GH);
    memset(dc, 0, BH * sizeof(float));
    for (uint32_t s = 0; s < T; s++) {
        uint32_t t = reverse ? s : T - 1 - s; /* the forward order, backwards */
        size_t p = prev_of(t, reverse), q = next_of(t, reverse);
        const float *g = gates + (size_t)t * B * GH, *cpv = cs + p * BH, *cnv = cs + q * BH;
        float *dgt = dg + (size_t)t * B * GH, *dhp = dhs + p * BH;
        const float *dh = dhs + q * BH;
        for (uint32_t r = 0; r < B; r++) {
            float *dgr = dgt + (size_t)r * GH, *dcr = dc + (size_t)r * H;
            const float *dhr = dh + (size_t)r * H;
            if (!mask[(size_t)r * T + t]) {
                /* The state was carried over: so is its gradient (dc stays). */
                memset(dgr, 0, GH * sizeof(float));
                float *dhpr = dhp + (size_t)r * H;
                for (uint32_t j = 0; j < H; j++) dhpr[j] += dhr[j];
                continue;
            }
            const float *gr = g + (size_t)r * GH, *cpr = cpv + (size_t)r * H;
            const float *gi = gr, *gf = gr + H, *gg = gr + 2 * H, *go = gr + 3 * H;
            nn_k_tanh(tc, cnv + (size_t)r * H, H);
            for (uint32_t j = 0; j < H; j++) {
                float dct = dcr[j] + dhr[j] * go[j] * (1.0f - tc[j] * tc[j]);
                dgr[j] = dct * gg[j] * gi[j] * (1.0f - gi[j]);
                dgr[H + j] = dct * cpr[j] * gf[j] * (1.0f - gf[j]);
                dgr[2 * H + j] = dct * gi[j] * (1.0f - gg[j] * gg[j]);
                dgr[3 * H + j] = dhr[j] * tc[j] * go[j] * (1.0f - go[j]);
                dcr[j] = dct * gf[j];
            }
        }
        recurrent_backward(dhp, tmp, dgt, whT, hkeep, B, H, GH);
    }
    /* Weight gradients and dx, each one product over all T*B rows. */
    const float *hprev = hkeep ? hin : hs + (reverse ? BH : 0);
    nn_k_matmul_tn_acc(dwh, hprev, dg, H, TB, GH);
    nn_k_matmul_tn_acc(dwx, x, dg, C, TB, GH);
    add_column_sums(db, dg, TB, GH);
    nn_k_matmul_acc(dx, dg, wxT, TB, GH, C);
}

/* -------------------------------------------------------------------- GRU */

void nn_gru_forward(float *hs, float *gates, float *rech, float *hin, float *work,
                    const float *x, const uint8_t *mask, const float *hkeep,
                    const float *wx, const float *wh, const float *b,
                    uint32_t T, uint32_t B, uint32_t C, uint32_t H, int reverse) {
    assert(!hkeep || hin);
    size_t BH = (size_t)B * H, GH = 3 * (size_t)H, TB = (size_t)T * B;
    float *inner = work; /* (B,3H) h'.wh + b[1] of one step */
    fill_rows(gates, b, TB, GH);
    nn_k_matmul_acc(gates, x, wx, TB, C, GH);
    memset(hs + (reverse ? T : 0) * BH, 0, BH * sizeof(float));
    for (uint32_t s = 0; s < T; s++) {
        uint32_t t = reverse ? T - 1 - s : s;
        const float *hp = hs + prev_of(t, reverse) * BH;
        float *hn = hs + next_of(t, reverse) * BH;
        float *g = gates + (size_t)t * B * GH, *rh = rech + (size_t)t * BH;
        fill_rows(inner, b + GH, B, GH);
        nn_k_matmul_acc(inner, recurrent_input(hkeep ? hin + (size_t)t * BH : NULL, hp, hkeep, BH), wh, B, H, GH);
        for (uint32_t r = 0; r < B; r++) {
            const float *hpr = hp + (size_t)r * H, *in = inner + (size_t)r * GH;
            float *hnr = hn + (size_t)r * H, *gr = g + (size_t)r * GH, *rhr = rh + (size_t)r * H;
            if (!mask[(size_t)r * T + t]) {
                memcpy(hnr, hpr, H * sizeof(float));
                continue;
            }
            float *gz = gr, *grr = gr + H, *gh = gr + 2 * H;
            for (uint32_t j = 0; j < 2 * H; j++) gr[j] += in[j];
            nn_k_sigmoid(gz, gz, 2 * (size_t)H); /* z and r */
            for (uint32_t j = 0; j < H; j++) {
                rhr[j] = in[2 * H + j];
                gh[j] += grr[j] * rhr[j];
            }
            nn_k_tanh(gh, gh, H);
            for (uint32_t j = 0; j < H; j++) hnr[j] = gz[j] * hpr[j] + (1.0f - gz[j]) * gh[j];
        }
    }
}

void nn_gru_backward(float *dx, float *dwx, float *dwh, float *db, float *dhs, float *work,
                     const float *hs, const float *gates, const float *rech, const float *hin,
                     const float *x, const uint8_t *mask, const float *hkeep,
                     const float *wx, const float *wh,
                     uint32_t T, uint32_t B, uint32_t C, uint32_t H, int reverse) {
    size_t BH = (size_t)B * H, GH = 3 * (size_t)H, TB = (size_t)T * B;
    float *dgx = work;                   /* (T,B,3H) gradient of x.wx + b[0] */
    float *dgh = dgx + TB * GH;          /* (T,B,3H) gradient of h'.wh + b[1] */
    float *whT = dgh + TB * GH;          /* (3H,H) */
    float *wxT = whT + GH * H;           /* (3H,C) */
    float *tmp = wxT + GH * C;           /* (B,H) */
    transpose(whT, wh, H, GH);
    transpose(wxT, wx, C, GH);
    for (uint32_t s = 0; s < T; s++) {
        uint32_t t = reverse ? s : T - 1 - s;
        size_t p = prev_of(t, reverse), q = next_of(t, reverse);
        const float *g = gates + (size_t)t * B * GH, *rh = rech + (size_t)t * BH, *hp = hs + p * BH;
        float *dgxt = dgx + (size_t)t * B * GH, *dght = dgh + (size_t)t * B * GH, *dhp = dhs + p * BH;
        const float *dh = dhs + q * BH;
        for (uint32_t r = 0; r < B; r++) {
            float *dxr = dgxt + (size_t)r * GH, *dhr_g = dght + (size_t)r * GH, *dhpr = dhp + (size_t)r * H;
            const float *dhr = dh + (size_t)r * H;
            if (!mask[(size_t)r * T + t]) {
                memset(dxr, 0, GH * sizeof(float));
                memset(dhr_g, 0, GH * sizeof(float));
                for (uint32_t j = 0; j < H; j++) dhpr[j] += dhr[j];
                continue;
            }
            const float *gr = g + (size_t)r * GH, *rhr = rh + (size_t)r * H, *hpr = hp + (size_t)r * H;
            const float *gz = gr, *grr = gr + H, *gh = gr + 2 * H;
            for (uint32_t j = 0; j < H; j++) {
                float z = gz[j], rr = grr[j], hh = gh[j], d = dhr[j];
                float dah = d * (1.0f - z) * (1.0f - hh * hh);
                float daz = d * (hpr[j] - hh) * z * (1.0f - z);
                float dar = dah * rhr[j] * rr * (1.0f - rr);
                dxr[j] = daz;
                dxr[H + j] = dar;
                dxr[2 * H + j] = dah;
                dhr_g[j] = daz;
                dhr_g[H + j] = dar;
                dhr_g[2 * H + j] = dah * rr;
                dhpr[j] += d * z;
            }
        }
        recurrent_backward(dhp, tmp, dght, whT, hkeep, B, H, GH);
    }
    const float *hprev = hkeep ? hin : hs + (reverse ? BH : 0);
    nn_k_matmul_tn_acc(dwh, hprev, dgh, H, TB, GH);
    nn_k_matmul_tn_acc(dwx, x, dgx, C, TB, GH);
    add_column_sums(db, dgx, TB, GH);
    add_column_sums(db + GH, dgh, TB, GH);
    nn_k_matmul_acc(dx, dgx, wxT, TB, GH, C);
}
