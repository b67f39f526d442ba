/* layers_rnn.c: the recurrent layers, LSTM and GRU, forward and backward
 * through time over a whole batch, masked for padding (semantics in
 * layers.h).
 *
 * The work of a step is a few matrix products over the rows of the batch:
 * x_t.wx and h'.wh forward; dgates.wh^T, dgates.wx^T and the weight
 * gradients backward. Only the rows up to the last one with a real token at
 * that step take part ("active rows"): rows past it carry their state over
 * by a copy. A caller that orders the batch by length, longest first, makes
 * the padding of every step such a tail, in 'pre' and 'post' padding alike,
 * and so skips all the work of padding (about a third of IMDB's slots at
 * maxlen 250). Padding among the active rows is masked row by row. No
 * allocation: the caller hands over the buffers. Not here: parameters,
 * initialisation, stacking, bidirectional wiring and the row order
 * (model.c). */
#include "layers.h"
#include "kernels.h"

#include <assert.h>
#include <string.h>

size_t nn_rnn_work_floats(int cell, uint32_t T, uint32_t B, uint32_t C, uint32_t H) {
    (void)T;
    size_t G = cell == NN_CELL_LSTM ? 4 : 3;
    /* two (B,GH) gate gradients, wh^T and wx^T, two (B,H), one (H) */
    return 2 * (size_t)B * G * H + G * H * ((size_t)H + C) + 2 * (size_t)B * H + H;
}

/* 1 + the last row with a real token at step t, 0 when there is none. */
static uint32_t active_rows(const uint8_t *mask, uint32_t t, uint32_t T, uint32_t B) {
    uint32_t n = B;
    while (n > 0 && !mask[(size_t)(n - 1) * T + t]) n--;
    return n;
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

void nn_lstm_forward(float *hs, float *cs, float *gates, float *tanhc, float *hin, float *work,
                     const float *x, const uint8_t *mask, const float *hkeep,
                     const float *wx, const float *wh, const float *b,
                     uint32_t T, uint32_t B, uint32_t C, uint32_t H, int reverse) {
    assert(!hkeep || hin);
    (void)work;
    size_t BH = (size_t)B * H, GH = 4 * (size_t)H;
    memset(hs + (reverse ? T : 0) * BH, 0, BH * sizeof(float));
    memset(cs + (reverse ? T : 0) * BH, 0, BH * sizeof(float));
    for (uint32_t s = 0; s < T; s++) {
        uint32_t t = reverse ? T - 1 - s : s, n = active_rows(mask, t, T, B);
        const float *hp = hs + prev_of(t, reverse) * BH, *cp = cs + prev_of(t, reverse) * BH;
        float *hn = hs + next_of(t, reverse) * BH, *cn = cs + next_of(t, reverse) * BH;
        float *g = gates + (size_t)t * B * GH;
        /* The rows past the active ones carry their state over. */
        memcpy(hn + (size_t)n * H, hp + (size_t)n * H, (B - n) * H * sizeof(float));
        memcpy(cn + (size_t)n * H, cp + (size_t)n * H, (B - n) * H * sizeof(float));
        if (n == 0) continue;
        fill_rows(g, b, n, GH);
        nn_k_matmul_acc(g, x + (size_t)t * B * C, wx, n, C, GH);
        const float *hr = recurrent_input(hkeep ? hin + (size_t)t * BH : NULL, hp, hkeep, (size_t)n * H);
        nn_k_matmul_acc(g, hr, wh, n, H, GH);
        for (uint32_t r = 0; r < n; r++) {
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
            float *tcr = tanhc + ((size_t)t * B + r) * H;
            for (uint32_t j = 0; j < H; j++) cnr[j] = gf[j] * cpr[j] + gi[j] * gg[j];
            nn_k_tanh(tcr, cnr, H);
            for (uint32_t j = 0; j < H; j++) hnr[j] = go[j] * tcr[j];
        }
    }
}

void nn_lstm_backward(float *dx, float *dwx, float *dwh, float *db, float *dhs, float *work,
                      const float *hs, const float *cs, const float *gates, const float *tanhc,
                      const float *hin, const float *x, const uint8_t *mask, const float *hkeep,
                      const float *wx, const float *wh,
                      uint32_t T, uint32_t B, uint32_t C, uint32_t H, int reverse) {
    size_t BH = (size_t)B * H, GH = 4 * (size_t)H;
    float *dg = work;                    /* (B,4H) gate gradients of a step, pre-activation */
    float *whT = dg + 2 * (size_t)B * GH;/* (4H,H) */
    float *wxT = whT + GH * H;           /* (4H,C) */
    float *dc = wxT + GH * C;            /* (B,H) gradient of the cell state */
    float *tmp = dc + BH;                /* (B,H) */
    transpose(whT, wh, H, GH);
    transpose(wxT, wx, C, GH);
    memset(dc, 0, BH * sizeof(float));
    for (uint32_t s = 0; s < T; s++) {
        uint32_t t = reverse ? s : T - 1 - s; /* the forward order, backwards */
        uint32_t n = active_rows(mask, t, T, B);
        size_t p = prev_of(t, reverse), q = next_of(t, reverse);
        const float *g = gates + (size_t)t * B * GH, *cpv = cs + p * BH;
        const float *tcv = tanhc + (size_t)t * BH;
        float *dhp = dhs + p * BH;
        const float *dh = dhs + q * BH;
        /* Carried-over rows pass their gradient back unchanged (dc stays). */
        for (size_t i = (size_t)n * H; i < BH; i++) dhp[i] += dh[i];
        if (n == 0) continue;
        for (uint32_t r = 0; r < n; r++) {
            float *dgr = dg + (size_t)r * GH, *dcr = dc + (size_t)r * H;
            const float *dhr = dh + (size_t)r * H;
            if (!mask[(size_t)r * T + t]) {
                memset(dgr, 0, GH * sizeof(float));
                float *dhpr = dhp + (size_t)r * H;
                for (uint32_t j = 0; j < H; j++) dhpr[j] += dhr[j];
                continue;
            }
            const float *gr = g + (size_t)r * GH, *cpr = cpv + (size_t)r * H;
            const float *gi = gr, *gf = gr + H, *gg = gr + 2 * H, *go = gr + 3 * H;
            const float *tc = tcv + (size_t)r * H;
            for (uint32_t j = 0; j < H; j++) {
                float dct = dcr[j] + dhr[j] * go[j] * (1.0f - tc[j] * tc[j]);
                dgr[j] = dct * gg[j] * gi[j] * (1.0f - gi[j]);
                dgr[H + j] = dct * cpr[j] * gf[j] * (1.0f - gf[j]);
                dgr[2 * H + j] = dct * gi[j] * (1.0f - gg[j] * gg[j]);
                dgr[3 * H + j] = dhr[j] * tc[j] * go[j] * (1.0f - go[j]);
                dcr[j] = dct * gf[j];
            }
        }
        recurrent_backward(dhp, tmp, dg, whT, hkeep, n, H, GH);
        /* This step's share of the weight gradients and of dx. */
        const float *hprev = hkeep ? hin + (size_t)t * BH : hs + p * BH;
        nn_k_matmul_tn_acc(dwh, hprev, dg, H, n, GH);
        nn_k_matmul_tn_acc(dwx, x + (size_t)t * B * C, dg, C, n, GH);
        add_column_sums(db, dg, n, GH);
        nn_k_matmul_acc(dx + (size_t)t * B * C, dg, wxT, n, GH, C);
    }
}

/* -------------------------------------------------------------------- GRU */

void nn_gru_forward(float *hs, float *gates, float *rech, float *hin, float *work,
                    const float *x, const uint8_t *mask, const float *hkeep,
                    const float *wx, const float *wh, const float *b,
                    uint32_t T, uint32_t B, uint32_t C, uint32_t H, int reverse) {
    assert(!hkeep || hin);
    size_t BH = (size_t)B * H, GH = 3 * (size_t)H;
    float *inner = work; /* (B,3H) h'.wh + b[1] of one step */
    memset(hs + (reverse ? T : 0) * BH, 0, BH * sizeof(float));
    for (uint32_t s = 0; s < T; s++) {
        uint32_t t = reverse ? T - 1 - s : s, n = active_rows(mask, t, T, B);
        const float *hp = hs + prev_of(t, reverse) * BH;
        float *hn = hs + next_of(t, reverse) * BH;
        float *g = gates + (size_t)t * B * GH, *rh = rech + (size_t)t * BH;
        memcpy(hn + (size_t)n * H, hp + (size_t)n * H, (B - n) * H * sizeof(float));
        if (n == 0) continue;
        fill_rows(g, b, n, GH);
        nn_k_matmul_acc(g, x + (size_t)t * B * C, wx, n, C, GH);
        fill_rows(inner, b + GH, n, GH);
        const float *hr = recurrent_input(hkeep ? hin + (size_t)t * BH : NULL, hp, hkeep, (size_t)n * H);
        nn_k_matmul_acc(inner, hr, wh, n, H, GH);
        for (uint32_t r = 0; r < n; r++) {
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
    size_t BH = (size_t)B * H, GH = 3 * (size_t)H;
    float *dgx = work;                   /* (B,3H) gradient of x.wx + b[0] of a step */
    float *dgh = dgx + (size_t)B * GH;   /* (B,3H) gradient of h'.wh + b[1] */
    float *whT = dgh + (size_t)B * GH;   /* (3H,H) */
    float *wxT = whT + GH * H;           /* (3H,C) */
    float *tmp = wxT + GH * C;           /* (B,H) */
    transpose(whT, wh, H, GH);
    transpose(wxT, wx, C, GH);
    for (uint32_t s = 0; s < T; s++) {
        uint32_t t = reverse ? s : T - 1 - s;
        uint32_t n = active_rows(mask, t, T, B);
        size_t p = prev_of(t, reverse), q = next_of(t, reverse);
        const float *g = gates + (size_t)t * B * GH, *rh = rech + (size_t)t * BH, *hp = hs + p * BH;
        float *dhp = dhs + p * BH;
        const float *dh = dhs + q * BH;
        for (size_t i = (size_t)n * H; i < BH; i++) dhp[i] += dh[i];
        if (n == 0) continue;
        for (uint32_t r = 0; r < n; r++) {
            float *dxr = dgx + (size_t)r * GH, *dhr_g = dgh + (size_t)r * GH, *dhpr = dhp + (size_t)r * H;
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
        recurrent_backward(dhp, tmp, dgh, whT, hkeep, n, H, GH);
        const float *hprev = hkeep ? hin + (size_t)t * BH : hs + p * BH;
        nn_k_matmul_tn_acc(dwh, hprev, dgh, H, n, GH);
        nn_k_matmul_tn_acc(dwx, x + (size_t)t * B * C, dgx, C, n, GH);
        add_column_sums(db, dgx, n, GH);
        add_column_sums(db + GH, dgh, n, GH);
        nn_k_matmul_acc(dx + (size_t)t * B * C, dgx, wxT, n, GH, C);
    }
}
