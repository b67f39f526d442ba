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
 * (model.c).
 *
 * Threads (nn_parallel, lent by the caller): every row of the batch runs its
 * own recurrence, forward and backward, so a part of the work is a block of
 * rows through all T steps, with no synchronisation between steps. Only the
 * weight gradients sum over rows; they are computed after the recurrence,
 * from the gate gradients it stored, a part being a block of their columns,
 * each summing over steps and rows in the one-thread order. So every number
 * is the same bit for bit with any number of parts. */
#include "layers.h"
#include "kernels.h"

#include <assert.h>
#include <string.h>

size_t nn_rnn_work_floats(int cell, uint32_t T, uint32_t B, uint32_t C, uint32_t H) {
    (void)T;
    size_t G = cell == NN_CELL_LSTM ? 4 : 3;
    /* two (B,GH) gate gradients, wh^T and wx^T, two (B,H), one (H) */
    /* saturating (SIZE_MAX, refused by nn_alloc_floats) rather than wrapping in wasm32 */
    size_t GH = nn_size_mul_sat(G, H), B2 = nn_size_mul_sat(B, 2);
    return nn_size_add_sat(nn_size_add_sat(nn_size_mul_sat(B2, GH), nn_size_mul_sat(GH, nn_size_add_sat(H, C))),
                           nn_size_add_sat(nn_size_mul_sat(B2, H), H));
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

/* At most this many parts (threads) are used. */
enum { NN_MAX_PARTS = 64 };

static uint32_t parts_of(const nn_parallel *par) {
    if (!par || !par->run || par->parts <= 1) return 1;
    return par->parts < NN_MAX_PARTS ? par->parts : NN_MAX_PARTS;
}

/* Runs task over P parts through par, or as one part in this thread. */
static void run_parts(const nn_parallel *par, uint32_t P, nn_task_fn task, void *arg) {
    if (P > 1) par->run(par->ctx, task, arg, P);
    else task(arg, 0, 1);
}

/* Column block p of P of N columns, in multiples of 8 (the matmul kernel's
 * block width) where N allows. */
static void col_block(size_t N, uint32_t p, uint32_t P, size_t *c0, size_t *c1) {
    size_t unit = N >= 8 * (size_t)P ? 8 : 1, units = (N + unit - 1) / unit;
    *c0 = units * p / P * unit;
    *c1 = p + 1 == P ? N : units * (p + 1) / P * unit;
    if (*c0 > N) *c0 = N;
    if (*c1 > N) *c1 = N;
}

/* The active rows of step t within the block [r0, r1): [r0, e). */
static uint32_t block_end(const uint8_t *mask, uint32_t t, uint32_t T, uint32_t B, uint32_t r0, uint32_t r1) {
    uint32_t n = active_rows(mask, t, T, B);
    return n < r0 ? r0 : n > r1 ? r1 : n;
}

/* ------------------------------------------------------------------- LSTM */

typedef struct rnn_args {
    float *hs, *cs, *gates, *tanhc, *rech, *hin, *work;
    float *dx, *dwx, *dwh, *db, *dhs;
    const float *x, *hkeep, *wx, *wh, *b;
    const uint8_t *mask;
    uint32_t T, B, C, H;
    int reverse;
    uint32_t bounds[NN_MAX_PARTS + 1]; /* row blocks: part p has rows [bounds[p], bounds[p+1]) */
} rnn_args;

/* Part p gets rows [bounds[p], bounds[p+1]): contiguous blocks with about
 * equal numbers of real tokens (the work), so the longest-first rows are
 * split fairly. Any split gives the same results. */
static void set_bounds(rnn_args *a, uint32_t P) {
    uint64_t total = 0, acc = 0;
    for (size_t i = 0; i < (size_t)a->B * a->T; i++) total += a->mask[i];
    uint32_t p = 1;
    a->bounds[0] = 0;
    for (uint32_t r = 0; r < a->B && p < P; r++) {
        while (p < P && acc >= total * p / P) a->bounds[p++] = r;
        for (uint32_t t = 0; t < a->T; t++) acc += a->mask[(size_t)r * a->T + t];
    }
    while (p < P) a->bounds[p++] = a->B;
    a->bounds[P] = a->B;
}

static void lstm_forward_rows(void *arg, uint32_t part, uint32_t parts) {
    const rnn_args *a = arg;
    uint32_t T = a->T, B = a->B, C = a->C, H = a->H, r0 = a->bounds[part], r1 = a->bounds[part + 1];
    size_t BH = (size_t)B * H, GH = 4 * (size_t)H;
    const float *hkeep = a->hkeep;
    (void)parts;
    if (r0 >= r1) return;
    for (uint32_t s = 0; s < T; s++) {
        uint32_t t = a->reverse ? T - 1 - s : s, e = block_end(a->mask, t, T, B, r0, r1);
        const float *hp = a->hs + prev_of(t, a->reverse) * BH, *cp = a->cs + prev_of(t, a->reverse) * BH;
        float *hn = a->hs + next_of(t, a->reverse) * BH, *cn = a->cs + next_of(t, a->reverse) * BH;
        float *g = a->gates + (size_t)t * B * GH;
        /* The rows past the active ones carry their state over. */
        memcpy(hn + (size_t)e * H, hp + (size_t)e * H, (r1 - e) * H * sizeof(float));
        memcpy(cn + (size_t)e * H, cp + (size_t)e * H, (r1 - e) * H * sizeof(float));
        if (e == r0) continue;
        uint32_t n = e - r0;
        float *gb = g + (size_t)r0 * GH;
        fill_rows(gb, a->b, n, GH);
        nn_k_matmul_acc(gb, a->x + ((size_t)t * B + r0) * C, a->wx, n, C, GH);
        const float *hr = recurrent_input(hkeep ? a->hin + (size_t)t * BH + (size_t)r0 * H : NULL,
                                          hp + (size_t)r0 * H, hkeep ? hkeep + (size_t)r0 * H : NULL,
                                          (size_t)n * H);
        nn_k_matmul_acc(gb, hr, a->wh, n, H, GH);
        for (uint32_t r = r0; r < e; r++) {
            const float *hpr = hp + (size_t)r * H, *cpr = cp + (size_t)r * H;
            float *hnr = hn + (size_t)r * H, *cnr = cn + (size_t)r * H, *gr = g + (size_t)r * GH;
            if (!a->mask[(size_t)r * T + t]) {
                memcpy(hnr, hpr, H * sizeof(float));
                memcpy(cnr, cpr, H * sizeof(float));
                continue;
            }
            float *gi = gr, *gf = gr + H, *gg = gr + 2 * H, *go = gr + 3 * H;
            nn_k_sigmoid(gi, gi, 2 * (size_t)H); /* i and f */
            nn_k_tanh(gg, gg, H);
            nn_k_sigmoid(go, go, H);
            float *tcr = a->tanhc + ((size_t)t * B + r) * H;
            for (uint32_t j = 0; j < H; j++) cnr[j] = gf[j] * cpr[j] + gi[j] * gg[j];
            nn_k_tanh(tcr, cnr, H);
            for (uint32_t j = 0; j < H; j++) hnr[j] = go[j] * tcr[j];
        }
    }
}

void nn_lstm_forward(float *hs, float *cs, float *gates, float *tanhc, float *hin, float *work,
                     const float *x, const uint8_t *mask, const float *hkeep,
                     const float *wx, const float *wh, const float *b,
                     uint32_t T, uint32_t B, uint32_t C, uint32_t H, int reverse,
                     const nn_parallel *par) {
    assert(!hkeep || hin);
    size_t BH = (size_t)B * H;
    memset(hs + (reverse ? T : 0) * BH, 0, BH * sizeof(float));
    memset(cs + (reverse ? T : 0) * BH, 0, BH * sizeof(float));
    rnn_args a = {.hs = hs, .cs = cs, .gates = gates, .tanhc = tanhc, .hin = hin, .work = work,
                  .x = x, .hkeep = hkeep, .wx = wx, .wh = wh, .b = b, .mask = mask,
                  .T = T, .B = B, .C = C, .H = H, .reverse = reverse};
    uint32_t P = parts_of(par);
    set_bounds(&a, P);
    run_parts(par, P, lstm_forward_rows, &a);
}

/* The recurrence backwards for a block of rows: the gate gradients of every
 * step (stored over the gates, which are not needed after), the state
 * gradients, and this block's rows of dx. */
static void lstm_backward_rows(void *arg, uint32_t part, uint32_t parts) {
    const rnn_args *a = arg;
    uint32_t T = a->T, B = a->B, C = a->C, H = a->H, r0 = a->bounds[part], r1 = a->bounds[part + 1];
    size_t BH = (size_t)B * H, GH = 4 * (size_t)H;
    const float *whT = a->work + 2 * (size_t)B * GH, *wxT = whT + GH * H;
    float *dc = (float *)wxT + GH * C, *tmp = dc + BH;
    (void)parts;
    if (r0 >= r1) return;
    for (uint32_t s = 0; s < T; s++) {
        uint32_t t = a->reverse ? s : T - 1 - s; /* the forward order, backwards */
        uint32_t e = block_end(a->mask, t, T, B, r0, r1);
        size_t p = prev_of(t, a->reverse), q = next_of(t, a->reverse);
        float *g = a->gates + (size_t)t * B * GH; /* in: gates; out: their gradients */
        const float *cpv = a->cs + p * BH, *tcv = a->tanhc + (size_t)t * BH;
        float *dhp = a->dhs + p * BH;
        const float *dh = a->dhs + q * BH;
        /* Carried-over rows pass their gradient back unchanged (dc stays). */
        for (size_t i = (size_t)e * H; i < (size_t)r1 * H; i++) dhp[i] += dh[i];
        if (e == r0) continue;
        uint32_t n = e - r0;
        for (uint32_t r = r0; r < e; r++) {
            float *dgr = g + (size_t)r * GH, *dcr = dc + (size_t)r * H;
            const float *dhr = dh + (size_t)r * H;
            if (!a->mask[(size_t)r * T + t]) {
                memset(dgr, 0, GH * sizeof(float));
                float *dhpr = dhp + (size_t)r * H;
                for (uint32_t j = 0; j < H; j++) dhpr[j] += dhr[j];
                continue;
            }
            const float *cpr = cpv + (size_t)r * H, *tc = tcv + (size_t)r * H;
            for (uint32_t j = 0; j < H; j++) {
                float gi = dgr[j], gf = dgr[H + j], gg = dgr[2 * H + j], go = dgr[3 * H + j];
                float dct = dcr[j] + dhr[j] * go * (1.0f - tc[j] * tc[j]);
                dgr[j] = dct * gg * gi * (1.0f - gi);
                dgr[H + j] = dct * cpr[j] * gf * (1.0f - gf);
                dgr[2 * H + j] = dct * gi * (1.0f - gg * gg);
                dgr[3 * H + j] = dhr[j] * tc[j] * go * (1.0f - go);
                dcr[j] = dct * gf;
            }
        }
        const float *dgb = g + (size_t)r0 * GH;
        recurrent_backward(dhp + (size_t)r0 * H, tmp + (size_t)r0 * H, dgb, whT,
                           a->hkeep ? a->hkeep + (size_t)r0 * H : NULL, n, H, GH);
        nn_k_matmul_acc(a->dx + ((size_t)t * B + r0) * C, dgb, wxT, n, GH, C);
    }
}

/* The weight gradients for a block of their columns: every step in the
 * recurrence's order, every active row in order, as one thread sums them. */
static void lstm_backward_weights(void *arg, uint32_t part, uint32_t parts) {
    const rnn_args *a = arg;
    uint32_t T = a->T, B = a->B, C = a->C, H = a->H;
    size_t BH = (size_t)B * H, GH = 4 * (size_t)H, c0, c1;
    col_block(GH, part, parts, &c0, &c1);
    if (c0 >= c1) return;
    for (uint32_t s = 0; s < T; s++) {
        uint32_t t = a->reverse ? s : T - 1 - s;
        uint32_t n = active_rows(a->mask, t, T, B);
        if (n == 0) continue;
        const float *dg = a->gates + (size_t)t * B * GH + c0;
        const float *hprev = a->hkeep ? a->hin + (size_t)t * BH : a->hs + prev_of(t, a->reverse) * BH;
        nn_k_matmul_tn_acc_ld(a->dwh + c0, GH, hprev, H, dg, GH, H, n, c1 - c0);
        nn_k_matmul_tn_acc_ld(a->dwx + c0, GH, a->x + (size_t)t * B * C, C, dg, GH, C, n, c1 - c0);
        for (uint32_t r = 0; r < n; r++) nn_k_axpy(a->db + c0, 1.0f, dg + (size_t)r * GH, c1 - c0);
    }
}

void nn_lstm_backward(float *dx, float *dwx, float *dwh, float *db, float *dhs, float *work,
                      const float *hs, const float *cs, float *gates, const float *tanhc,
                      const float *hin, const float *x, const uint8_t *mask, const float *hkeep,
                      const float *wx, const float *wh,
                      uint32_t T, uint32_t B, uint32_t C, uint32_t H, int reverse,
                      const nn_parallel *par) {
    size_t BH = (size_t)B * H, GH = 4 * (size_t)H;
    float *whT = work + 2 * (size_t)B * GH; /* (4H,H) */
    float *wxT = whT + GH * H;              /* (4H,C) */
    float *dc = wxT + GH * C;               /* (B,H) gradient of the cell state */
    transpose(whT, wh, H, GH);
    transpose(wxT, wx, C, GH);
    memset(dc, 0, BH * sizeof(float));
    rnn_args a = {.hs = (float *)hs, .cs = (float *)cs, .gates = gates, .tanhc = (float *)tanhc,
                  .hin = (float *)hin, .work = work, .dx = dx, .dwx = dwx, .dwh = dwh, .db = db,
                  .dhs = dhs, .x = x, .hkeep = hkeep, .wx = wx, .wh = wh, .mask = mask,
                  .T = T, .B = B, .C = C, .H = H, .reverse = reverse};
    uint32_t P = parts_of(par);
    set_bounds(&a, P);
    run_parts(par, P, lstm_backward_rows, &a);
    run_parts(par, P, lstm_backward_weights, &a);
}

/* -------------------------------------------------------------------- GRU */

static void gru_forward_rows(void *arg, uint32_t part, uint32_t parts) {
    const rnn_args *a = arg;
    uint32_t T = a->T, B = a->B, C = a->C, H = a->H, r0 = a->bounds[part], r1 = a->bounds[part + 1];
    size_t BH = (size_t)B * H, GH = 3 * (size_t)H;
    const float *hkeep = a->hkeep;
    float *inner = a->work; /* (B,3H) h'.wh + b[1] of one step */
    (void)parts;
    if (r0 >= r1) return;
    for (uint32_t s = 0; s < T; s++) {
        uint32_t t = a->reverse ? T - 1 - s : s, e = block_end(a->mask, t, T, B, r0, r1);
        const float *hp = a->hs + prev_of(t, a->reverse) * BH;
        float *hn = a->hs + next_of(t, a->reverse) * BH;
        float *g = a->gates + (size_t)t * B * GH, *rh = a->rech + (size_t)t * BH;
        memcpy(hn + (size_t)e * H, hp + (size_t)e * H, (r1 - e) * H * sizeof(float));
        if (e == r0) continue;
        uint32_t n = e - r0;
        float *gb = g + (size_t)r0 * GH, *ib = inner + (size_t)r0 * GH;
        fill_rows(gb, a->b, n, GH);
        nn_k_matmul_acc(gb, a->x + ((size_t)t * B + r0) * C, a->wx, n, C, GH);
        fill_rows(ib, a->b + GH, n, GH);
        const float *hr = recurrent_input(hkeep ? a->hin + (size_t)t * BH + (size_t)r0 * H : NULL,
                                          hp + (size_t)r0 * H, hkeep ? hkeep + (size_t)r0 * H : NULL,
                                          (size_t)n * H);
        nn_k_matmul_acc(ib, hr, a->wh, n, H, GH);
        for (uint32_t r = r0; r < e; r++) {
            const float *hpr = hp + (size_t)r * H, *in = inner + (size_t)r * GH;
            float *hnr = hn + (size_t)r * H, *gr = g + (size_t)r * GH, *rhr = rh + (size_t)r * H;
            if (!a->mask[(size_t)r * T + t]) {
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

void nn_gru_forward(float *hs, float *gates, float *rech, float *hin, float *work,
                    const float *x, const uint8_t *mask, const float *hkeep,
                    const float *wx, const float *wh, const float *b,
                    uint32_t T, uint32_t B, uint32_t C, uint32_t H, int reverse,
                    const nn_parallel *par) {
    assert(!hkeep || hin);
    size_t BH = (size_t)B * H;
    memset(hs + (reverse ? T : 0) * BH, 0, BH * sizeof(float));
    rnn_args a = {.hs = hs, .gates = gates, .rech = rech, .hin = hin, .work = work,
                  .x = x, .hkeep = hkeep, .wx = wx, .wh = wh, .b = b, .mask = mask,
                  .T = T, .B = B, .C = C, .H = H, .reverse = reverse};
    uint32_t P = parts_of(par);
    set_bounds(&a, P);
    run_parts(par, P, gru_forward_rows, &a);
}

/* As for the LSTM. The gradient of x.wx + b[0] (dgx) is stored over the
 * gates; that of h'.wh + b[1] (dgh) equals it in the z and r blocks, and its
 * h block (dah * r) is stored over rech. */
static void gru_backward_rows(void *arg, uint32_t part, uint32_t parts) {
    const rnn_args *a = arg;
    uint32_t T = a->T, B = a->B, C = a->C, H = a->H, r0 = a->bounds[part], r1 = a->bounds[part + 1];
    size_t BH = (size_t)B * H, GH = 3 * (size_t)H;
    float *dgh = a->work + (size_t)B * GH;   /* (B,3H) dgh of a step, for the state gradient */
    const float *whT = dgh + (size_t)B * GH; /* (3H,H) */
    const float *wxT = whT + GH * H;         /* (3H,C) */
    float *tmp = (float *)wxT + GH * C;      /* (B,H) */
    (void)parts;
    if (r0 >= r1) return;
    for (uint32_t s = 0; s < T; s++) {
        uint32_t t = a->reverse ? s : T - 1 - s;
        uint32_t e = block_end(a->mask, t, T, B, r0, r1);
        size_t p = prev_of(t, a->reverse), q = next_of(t, a->reverse);
        float *g = a->gates + (size_t)t * B * GH, *rh = a->rech + (size_t)t * BH;
        const float *hp = a->hs + p * BH;
        float *dhp = a->dhs + p * BH;
        const float *dh = a->dhs + q * BH;
        for (size_t i = (size_t)e * H; i < (size_t)r1 * H; i++) dhp[i] += dh[i];
        if (e == r0) continue;
        uint32_t n = e - r0;
        for (uint32_t r = r0; r < e; r++) {
            float *dxr = g + (size_t)r * GH, *dhr_g = dgh + (size_t)r * GH, *dhpr = dhp + (size_t)r * H;
            float *rhr = rh + (size_t)r * H;
            const float *dhr = dh + (size_t)r * H;
            if (!a->mask[(size_t)r * T + t]) {
                memset(dxr, 0, GH * sizeof(float));
                memset(dhr_g, 0, GH * sizeof(float));
                memset(rhr, 0, H * sizeof(float));
                for (uint32_t j = 0; j < H; j++) dhpr[j] += dhr[j];
                continue;
            }
            const float *hpr = hp + (size_t)r * H;
            for (uint32_t j = 0; j < H; j++) {
                float z = dxr[j], rr = dxr[H + j], hh = dxr[2 * H + j], d = dhr[j];
                float dah = d * (1.0f - z) * (1.0f - hh * hh);
                float daz = d * (hpr[j] - hh) * z * (1.0f - z);
                float dar = dah * rhr[j] * rr * (1.0f - rr);
                dxr[j] = daz;
                dxr[H + j] = dar;
                dxr[2 * H + j] = dah;
                dhr_g[j] = daz;
                dhr_g[H + j] = dar;
                dhr_g[2 * H + j] = rhr[j] = dah * rr;
                dhpr[j] += d * z;
            }
        }
        const float *dgb = dgh + (size_t)r0 * GH;
        recurrent_backward(dhp + (size_t)r0 * H, tmp + (size_t)r0 * H, dgb, whT,
                           a->hkeep ? a->hkeep + (size_t)r0 * H : NULL, n, H, GH);
        nn_k_matmul_acc(a->dx + ((size_t)t * B + r0) * C, g + (size_t)r0 * GH, wxT, n, GH, C);
    }
}

static void gru_backward_weights(void *arg, uint32_t part, uint32_t parts) {
    const rnn_args *a = arg;
    uint32_t T = a->T, B = a->B, C = a->C, H = a->H;
    size_t BH = (size_t)B * H, GH = 3 * (size_t)H, H2 = 2 * (size_t)H, c0, c1;
    col_block(GH, part, parts, &c0, &c1);
    if (c0 >= c1) return;
    size_t za = c0, zb = c1 < H2 ? c1 : H2;  /* columns of the z and r blocks: dgh = dgx */
    size_t ha = c0 > H2 ? c0 : H2, hb = c1;   /* columns of the h block: dgh over rech */
    for (uint32_t s = 0; s < T; s++) {
        uint32_t t = a->reverse ? s : T - 1 - s;
        uint32_t n = active_rows(a->mask, t, T, B);
        if (n == 0) continue;
        const float *dgx = a->gates + (size_t)t * B * GH, *dghh = a->rech + (size_t)t * BH;
        const float *hprev = a->hkeep ? a->hin + (size_t)t * BH : a->hs + prev_of(t, a->reverse) * BH;
        if (za < zb) nn_k_matmul_tn_acc_ld(a->dwh + za, GH, hprev, H, dgx + za, GH, H, n, zb - za);
        if (ha < hb) nn_k_matmul_tn_acc_ld(a->dwh + ha, GH, hprev, H, dghh + (ha - H2), H, H, n, hb - ha);
        nn_k_matmul_tn_acc_ld(a->dwx + c0, GH, a->x + (size_t)t * B * C, C, dgx + c0, GH, C, n, c1 - c0);
        for (uint32_t r = 0; r < n; r++) nn_k_axpy(a->db + c0, 1.0f, dgx + (size_t)r * GH + c0, c1 - c0);
        for (uint32_t r = 0; r < n; r++) {
            if (za < zb) nn_k_axpy(a->db + GH + za, 1.0f, dgx + (size_t)r * GH + za, zb - za);
            if (ha < hb) nn_k_axpy(a->db + GH + ha, 1.0f, dghh + (size_t)r * H + (ha - H2), hb - ha);
        }
    }
}

void nn_gru_backward(float *dx, float *dwx, float *dwh, float *db, float *dhs, float *work,
                     const float *hs, float *gates, float *rech, const float *hin,
                     const float *x, const uint8_t *mask, const float *hkeep,
                     const float *wx, const float *wh,
                     uint32_t T, uint32_t B, uint32_t C, uint32_t H, int reverse,
                     const nn_parallel *par) {
    size_t GH = 3 * (size_t)H;
    float *dgh = work + (size_t)B * GH;    /* (B,3H) */
    float *whT = dgh + (size_t)B * GH;     /* (3H,H) */
    float *wxT = whT + GH * H;             /* (3H,C) */
    transpose(whT, wh, H, GH);
    transpose(wxT, wx, C, GH);
    rnn_args a = {.hs = (float *)hs, .gates = gates, .rech = rech, .hin = (float *)hin, .work = work,
                  .dx = dx, .dwx = dwx, .dwh = dwh, .db = db, .dhs = dhs, .x = x, .hkeep = hkeep,
                  .wx = wx, .wh = wh, .mask = mask, .T = T, .B = B, .C = C, .H = H, .reverse = reverse};
    uint32_t P = parts_of(par);
    set_bounds(&a, P);
    run_parts(par, P, gru_backward_rows, &a);
    run_parts(par, P, gru_backward_weights, &a);
}
