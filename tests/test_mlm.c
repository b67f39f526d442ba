/* test_mlm.c: the masked-language model of engine/mlm.c on a transformer:
 * - the whole gradient (tied head, final layer norm, blocks, embeddings)
 *   against central differences of a double-precision re-implementation of
 *   the forward pass, with ragged rows, 'pre' and 'post' padding, an empty
 *   row, and a row with more targets than one group of the head;
 * - masking: about 15% of the real tokens, 80% [MASK] / 10% random / 10%
 *   kept, never padding or <START>, the same bits for a seed;
 * - threads (2, and parts run backwards) change no bit of training, dropout on;
 * - it learns a repeated-pattern corpus: loss far below log(V), and fills
 *   in a blank with the right word;
 * - nn_mlm_top orders the most likely words. */
#include "check.h"
#include "gradcheck.h"
#include "mlm.h"
#include "threads.h"
#include "transformer.h"
#include "layers_attn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static nn_config tiny_config(uint32_t V, uint32_t T, uint32_t B) {
    nn_config c;
    nn_config_default(&c);
    c.model = NN_MODEL_TRANSFORMER;
    c.classes = 2;
    c.vocab_size = V;
    c.maxlen = T;
    c.embed_dim = 8;
    c.heads = 2;
    c.blocks = 2;
    c.ff_dim = 16;
    c.batch_size = B;
    c.dropout = 0.0f;
    return c;
}

/* ============================================ a double-precision reference */

static void ln_ref(double *out, const double *x, const double *w, const double *b, int N, int E) {
    for (int r = 0; r < N; r++) {
        const double *xr = x + r * E;
        double m = 0, v = 0;
        for (int i = 0; i < E; i++) m += xr[i];
        m /= E;
        for (int i = 0; i < E; i++) v += (xr[i] - m) * (xr[i] - m);
        double s = 1 / sqrt(v / E + NN_LAYERNORM_EPS);
        for (int i = 0; i < E; i++) out[r * E + i] = (xr[i] - m) * s * w[i] + b[i];
    }
}

static double gelu1(double x) {
    return 0.5 * x * (1 + tanh(sqrt(2 / 3.14159265358979323846) * (x + 0.044715 * x * x * x)));
}

/* out (N,OC) = b + x (N,C) . w (C,OC) */
static void linear_ref(double *out, const double *x, const double *w, const double *b, int N, int C, int OC) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            double s = b[o];
            for (int c = 0; c < C; c++) s += x[n * C + c] * w[c * OC + o];
            out[n * OC + o] = s;
        }
}

/* ALiBi's slopes (cfg.alibi), or NULL. */
static const float *ref_alibi;

static void attn_ref(double *out, const double *qkv, const uint8_t *mask, int B, int T, int E, int NH) {
    int D = E / NH;
    memset(out, 0, sizeof(double) * B * T * E);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int i = 0; i < T; i++) {
                if (!mask[b * T + i]) continue;
                double sc[64], mx = -1e300, sum = 0;
                const double *q = qkv + (b * T + i) * 3 * E + h * D;
                for (int j = 0; j < T; j++) {
                    if (!mask[b * T + j]) continue;
                    const double *k = qkv + (b * T + j) * 3 * E + E + h * D;
                    double d = 0;
                    for (int c = 0; c < D; c++) d += q[c] * k[c];
                    sc[j] = d / sqrt(D) - (ref_alibi ? ref_alibi[h] * abs(i - j) : 0.0);
                    if (sc[j] > mx) mx = sc[j];
                }
                for (int j = 0; j < T; j++)
                    if (mask[b * T + j]) sum += sc[j] = exp(sc[j] - mx);
                for (int j = 0; j < T; j++) {
                    if (!mask[b * T + j]) continue;
                    const double *v = qkv + (b * T + j) * 3 * E + 2 * E + h * D;
                    for (int c = 0; c < D; c++) out[(b * T + i) * E + h * D + c] += sc[j] / sum * v[c];
                }
            }
}

enum { MAXN = 64, MAXE = 8, MAXF = 16, MAXV = 64 };

/* The MLM loss of the model whose parameters p (double) are laid out by
 * m's tensor table: mean over targets of -log softmax(lnf . wte^T)[y]. */
static double mlm_loss_ref(const nn_model *m, const double *p, const uint16_t *ids, const uint16_t *tgt, int B,
                           int T) {
    const nn_config *c = &m->cfg;
    const int E = (int)c->embed_dim, F = (int)c->ff_dim, NH = (int)c->heads, V = (int)c->vocab_size,
              L = (int)c->blocks, N = B * T;
    static double x[MAXN * MAXE], ln[MAXN * MAXE], qkv[MAXN * 3 * MAXE], y[MAXN * MAXE], pr[MAXN * MAXE],
        h1[MAXN * MAXF];
    uint8_t mask[MAXN];
    float slopes[MAXE];
    nn_alibi_slopes(slopes, (uint32_t)NH);
    ref_alibi = c->alibi ? slopes : NULL;
    const double *wte = p + m->tensor[0].offset, *wpe = p + m->tensor[1].offset;
    for (int n = 0; n < N; n++) {
        mask[n] = ids[n] != NN_PAD;
        for (int e = 0; e < E; e++) x[n * E + e] = wte[ids[n] * E + e] + wpe[(n % T) * E + e];
    }
    for (int l = 0; l < L; l++) {
        const double *w[12];
        for (int i = 0; i < 12; i++) w[i] = p + m->tensor[2 + 12 * l + i].offset;
        ln_ref(ln, x, w[0], w[1], N, E);
        linear_ref(qkv, ln, w[2], w[3], N, E, 3 * E);
        attn_ref(y, qkv, mask, B, T, E, NH);
        linear_ref(pr, y, w[4], w[5], N, E, E);
        for (int i = 0; i < N * E; i++) x[i] += pr[i];
        ln_ref(ln, x, w[6], w[7], N, E);
        linear_ref(h1, ln, w[8], w[9], N, E, F);
        for (int i = 0; i < N * F; i++) h1[i] = gelu1(h1[i]);
        linear_ref(pr, h1, w[10], w[11], N, F, E);
        for (int i = 0; i < N * E; i++) x[i] += pr[i];
    }
    int k = 2 + 12 * L;
    ln_ref(ln, x, p + m->tensor[k].offset, p + m->tensor[k + 1].offset, N, E);
    double loss = 0;
    int count = 0;
    for (int n = 0; n < N; n++) {
        if (!tgt[n]) continue;
        double z[MAXV], mx = -1e300, sum = 0;
        for (int v = 0; v < V; v++) {
            z[v] = 0;
            for (int e = 0; e < E; e++) z[v] += ln[n * E + e] * wte[v * E + e];
            if (z[v] > mx) mx = z[v];
        }
        for (int v = 0; v < V; v++) sum += exp(z[v] - mx);
        loss += log(sum) + mx - z[tgt[n]];
        count++;
    }
    return loss / count;
}

static void gradient_is_the_central_difference(const nn_parallel *par, const char *how, int alibi) {
    enum { V = 13, T = 7, B = 6 };
    nn_config cfg = tiny_config(V, T, B);
    cfg.alibi = alibi;
    nn_model *m;
    nn_mlm *mm;
    nn_error err = {0};
    if (!check(nn_model_create(&m, &cfg, &err) == NN_OK, "mlm model_create: %s", err.msg)) return;
    if (!check(nn_mlm_create(&mm, m, &err) == NN_OK, "mlm create: %s", err.msg)) return;
    nn_model_set_parallel(m, par);
    nn_rng r;
    nn_rng_seed(&r, 5);
    for (size_t i = 0; i < m->nparams; i++) m->params[i] = nn_rng_uniform(&r, -0.4f, 0.4f);
    for (uint32_t i = 0; i < m->ntensors; i++) /* layer norm gains near 1 */
        if (strstr(m->tensor[i].name, "ln") && strstr(m->tensor[i].name, "_w"))
            for (uint32_t j = 0; j < m->tensor[i].cols; j++) m->params[m->tensor[i].offset + j] += 1.0f;
    /* Ragged rows: 'post' padded, 'pre' padded, full, one token, none,
     * and a [MASK] (3) and a random word among the inputs. */
    const uint16_t ids[B * T] = {1, 4, 3, 6, 7, 0, 0,   0, 0, 1, 8, 3, 9, 10,  1, 11, 12, 3, 5, 6, 4,
                                 0, 0, 0, 0, 0, 1, 7,   0, 0, 0, 0, 0, 0, 0,   1, 3, 3, 3, 9, 8, 0};
    uint16_t tgt[B * T] = {0};
    const int at[] = {2, 4, 11, 12, 15, 17, 20, 27, 36, 37, 38, 39};
    const uint16_t y[] = {5, 7, 8, 12, 11, 6, 4, 7, 9, 10, 11, 12};
    for (int i = 0; i < (int)(sizeof at / sizeof at[0]); i++) tgt[at[i]] = y[i];
    nn_model_zero_grad(m);
    uint32_t correct = 0, count = 0;
    float loss = nn_mlm_forward_backward(mm, ids, tgt, B, 1, &correct, &count);
    double *p = malloc(m->nparams * sizeof *p), *fd = malloc(m->nparams * sizeof *fd);
    for (size_t i = 0; i < m->nparams; i++) p[i] = m->params[i];
    double ref = mlm_loss_ref(m, p, ids, tgt, B, T), h = 1e-6;
    for (size_t i = 0; i < m->nparams; i++) {
        double keep = p[i];
        p[i] = keep + h;
        double lp = mlm_loss_ref(m, p, ids, tgt, B, T);
        p[i] = keep - h;
        double lm = mlm_loss_ref(m, p, ids, tgt, B, T);
        p[i] = keep;
        fd[i] = (lp - lm) / (2 * h);
    }
    double d = maxrel(m->grads, fd, m->nparams);
    const nn_tensor *hw = &m->tensor[m->ntensors - 2];
    int head_zero = 1;
    for (uint32_t j = 0; j <= hw->cols; j++) head_zero &= m->grads[hw->offset + j] == 0.0f;
    check(fabs(loss - ref) < 1e-5 * (1 + ref) && count == 12 && d < 2e-3 && head_zero,
          "mlm gradient (%s%s; 12 targets, ragged rows, an empty row) = central differences of a double "
          "reference: loss %.7f vs %.7f, maxrel %.1e over %zu parameters, classifier head untouched",
          how, alibi ? ", ALiBi" : "", loss, ref, d, m->nparams);
    free(p);
    free(fd);
    nn_mlm_free(mm);
    nn_model_free(m);
}

/* One long row with more targets than a group of the head (NN_MLM_GROUP). */
static void gradient_over_several_groups(void) {
    enum { V = 11, T = 44, B = 1 };
    nn_config cfg = tiny_config(V, T, B);
    cfg.blocks = 1;
    nn_model *m;
    nn_mlm *mm;
    nn_error err = {0};
    if (!check(nn_model_create(&m, &cfg, &err) == NN_OK && nn_mlm_create(&mm, m, &err) == NN_OK,
               "mlm long-row model: %s", err.msg))
        return;
    nn_rng r;
    nn_rng_seed(&r, 8);
    for (size_t i = 0; i < m->nparams; i++) m->params[i] = nn_rng_uniform(&r, -0.4f, 0.4f);
    uint16_t ids[T] = {0}, tgt[T] = {0};
    uint32_t n = 0;
    for (int t = 2; t < T - 1; t++) { /* 'pre' padded by 2, one pad at the end */
        ids[t] = t == 2 ? 1 : (uint16_t)(NN_FIRST_WORD + nn_rng_below(&r, V - NN_FIRST_WORD));
        if (t > 3) tgt[t] = ids[t], n++;
        if (t % 3 == 0) ids[t] = NN_MASK;
    }
    nn_model_zero_grad(m);
    uint32_t count = 0;
    float loss = nn_mlm_forward_backward(mm, ids, tgt, B, 1, NULL, &count);
    double *p = malloc(m->nparams * sizeof *p), *fd = malloc(m->nparams * sizeof *fd);
    for (size_t i = 0; i < m->nparams; i++) p[i] = m->params[i];
    double ref = mlm_loss_ref(m, p, ids, tgt, B, T), h = 1e-6;
    for (size_t i = 0; i < m->nparams; i++) {
        double keep = p[i];
        p[i] = keep + h;
        double lp = mlm_loss_ref(m, p, ids, tgt, B, T);
        p[i] = keep - h;
        double lm = mlm_loss_ref(m, p, ids, tgt, B, T);
        p[i] = keep;
        fd[i] = (lp - lm) / (2 * h);
    }
    double d = maxrel(m->grads, fd, m->nparams);
    check(n > NN_MLM_GROUP && count == n && fabs(loss - ref) < 1e-5 * (1 + ref) && d < 2e-3,
          "mlm gradient over %u targets of one row (groups of %d) = central differences: loss %.7f vs %.7f, "
          "maxrel %.1e",
          n, NN_MLM_GROUP, loss, ref, d);
    free(p);
    free(fd);
    nn_mlm_free(mm);
    nn_model_free(m);
}

/* ============================================================== masking */
static void masking_follows_bert(void) {
    enum { B = 64, T = 100, V = 500 };
    static uint16_t ids[B * T], in[B * T], tg[B * T], in2[B * T], tg2[B * T];
    nn_rng r;
    nn_rng_seed(&r, 9);
    uint32_t real = 0;
    for (int b = 0; b < B; b++) {
        int n = 1 + (int)nn_rng_below(&r, T); /* ragged, 'post' padded */
        for (int t = 0; t < T; t++) ids[b * T + t] = t >= n ? 0 : t == 0 ? 1 : (uint16_t)(2 + nn_rng_below(&r, V - 2));
        real += (uint32_t)n - 1;
    }
    nn_rng_seed(&r, 3);
    uint32_t k = nn_mlm_mask(in, tg, ids, B, T, V, &r);
    nn_rng_seed(&r, 3);
    uint32_t k2 = nn_mlm_mask(in2, tg2, ids, B, T, V, &r);
    uint32_t masked = 0, random = 0, kept = 0, bad = 0, targets = 0;
    for (int i = 0; i < B * T; i++) {
        if (!tg[i]) {
            bad += in[i] != ids[i];
            continue;
        }
        targets++;
        bad += tg[i] != ids[i] || ids[i] == NN_PAD || ids[i] == NN_START;
        if (in[i] == NN_MASK) masked++;
        else if (in[i] == ids[i]) kept++;
        else random++, bad += in[i] < NN_FIRST_WORD || in[i] >= V;
    }
    double share = (double)targets / real;
    check(k == targets && bad == 0 && share > 0.14 && share < 0.17,
          "masking: %u targets of %u real tokens (%.3f), only real tokens, targets the originals", targets, real,
          share);
    check(masked > 0.75 * targets && masked < 0.85 * targets && random > 0.06 * targets &&
              random < 0.14 * targets && kept > 0.06 * targets && kept < 0.14 * targets,
          "masking: %u [MASK], %u random, %u kept of %u (80/10/10)", masked, random, kept, targets);
    check(k2 == k && !memcmp(in, in2, sizeof in) && !memcmp(tg, tg2, sizeof tg),
          "masking: a seed gives the same bits");
    uint16_t one[4] = {1, 7, 0, 0}, oi[4], ot[4];
    check(nn_mlm_mask(oi, ot, one, 1, 4, V, &r) == 1 && ot[1] == 7,
          "masking: a review of one word has that word as its one target");
}

/* ============================================== a repeated-pattern corpus */
enum { PV = 24, PT = 20, PB = 16 };
/* A row: a cyclic run of the words 4..PV-1 from a random start, of random
 * length 8..PT-1 after <START>, 'post' padded: every word follows from its
 * neighbours. */
static void pattern_batch(uint16_t *ids, nn_rng *r) {
    for (int b = 0; b < PB; b++) {
        int n = 8 + (int)nn_rng_below(r, PT - 8), s = (int)nn_rng_below(r, PV - NN_FIRST_WORD);
        for (int t = 0; t < PT; t++)
            ids[b * PT + t] = t == 0 ? 1 : t > n ? 0 : (uint16_t)(NN_FIRST_WORD + (s + t) % (PV - NN_FIRST_WORD));
    }
}

/* Trains steps steps (dropout 0.1) and returns the parameters (malloc'd)
 * and the mean loss and accuracy of the last 20 steps. */
static float *train_pattern(const nn_parallel *par, int steps, float *loss, float *acc, size_t *np, nn_model **keep,
                            nn_mlm **keep_mm) {
    nn_config cfg = tiny_config(PV, PT, PB);
    cfg.embed_dim = 16;
    cfg.ff_dim = 32;
    cfg.dropout = 0.1f;
    cfg.lr = 0.005f;
    cfg.warmup_steps = 20;
    nn_model *m;
    nn_mlm *mm;
    nn_error err = {0};
    if (nn_model_create(&m, &cfg, &err) || nn_mlm_create(&mm, m, &err)) {
        check(0, "pattern model: %s", err.msg);
        return NULL;
    }
    nn_rng r, data;
    nn_rng_seed(&r, cfg.seed);
    nn_model_init(m, &r);
    nn_model_set_parallel(m, par);
    nn_rng_seed(&data, 11);
    nn_rng_seed(&r, 12);
    uint16_t ids[PB * PT];
    double ls = 0;
    uint32_t correct = 0, count = 0;
    for (int s = 0; s < steps; s++) {
        pattern_batch(ids, &data);
        uint32_t c = 0, n = 0;
        float l = nn_mlm_train_batch(mm, ids, PB, &r, &c, &n);
        if (s >= steps - 20) ls += l, correct += c, count += n;
    }
    *loss = (float)(ls / 20);
    *acc = count ? (float)correct / count : 0;
    *np = m->nparams;
    float *out = malloc(m->nparams * sizeof *out);
    memcpy(out, m->params, m->nparams * sizeof *out);
    if (keep) {
        *keep = m;
        *keep_mm = mm;
    } else {
        nn_mlm_free(mm);
        nn_model_free(m);
    }
    return out;
}

static void run_backwards(void *ctx, nn_task_fn task, void *arg, uint32_t parts) {
    (void)ctx;
    for (uint32_t i = parts; i-- > 0;) task(arg, i, parts);
}

static void learns_patterns_and_threads_change_no_bit(void) {
    float loss, acc, l2, a2;
    size_t np, np2;
    nn_model *m = NULL;
    nn_mlm *mm = NULL;
    float *one = train_pattern(NULL, 400, &loss, &acc, &np, &m, &mm);
    if (!one) return;
    double chance = log(PV - NN_FIRST_WORD);
    check(loss < 0.25 * chance && acc > 0.8,
          "mlm learns a repeated-pattern corpus: loss %.3f (log of the %d words: %.3f), masked accuracy %.3f "
          "over the last 20 of 400 steps",
          loss, PV - NN_FIRST_WORD, chance, acc);
    /* Fill in the blank: <START> 7 8 [MASK] 10 11 -> 9. */
    uint16_t row[PT] = {1, 7, 8, NN_MASK, 10, 11};
    const float *p = nn_mlm_fill(mm, row);
    uint32_t top[3];
    float tp[3];
    uint32_t n = p ? nn_mlm_top(p, PV, 3, top, tp) : 0;
    check(n == 3 && top[0] == 9 && tp[0] > 0.5f && tp[0] >= tp[1] && tp[1] >= tp[2],
          "fill in the blank: \"7 8 [MASK] 10 11\" -> %u (p %.3f), then %u (%.3f), %u (%.3f)", n ? top[0] : 0,
          n ? tp[0] : 0, n ? top[1] : 0, n ? tp[1] : 0, n ? top[2] : 0, n ? tp[2] : 0);
    uint16_t none[PT] = {1, 7, 8};
    check(nn_mlm_fill(mm, none) == NULL, "fill in the blank: a text without [MASK] has no answer");
    /* From text: words "w4" .. "w23" for ids 4 .. 23, and the word "mask". */
    static char bytes[256];
    static uint32_t offset[PV + 2], count[PV + 1];
    const char *special[4] = {"<PAD>", "<START>", "<UNK>", "<UNUSED>"};
    uint32_t at = 0;
    for (uint32_t i = 0; i <= PV; i++) {
        offset[i] = at;
        at += (uint32_t)(i < 4 ? sprintf(bytes + at, "%s", special[i]) : i < PV ? sprintf(bytes + at, "w%u", i)
                                                                              : sprintf(bytes + at, "mask"));
        count[i] = i < 4 ? 0 : 1000 - i;
    }
    offset[PV + 1] = at;
    nn_vocab v = {PV + 1, count, offset, bytes, NULL, 0};
    nn_error err = {0};
    uint32_t enc[16], wid[10];
    float wp[10];
    const char *text = "W7 w8 [MASK] w10 mask [mask] [ MASK ] w11";
    size_t ne = nn_vocab_index(&v, &err) == NN_OK ? nn_encode_text(&v, text, strlen(text), 0, enc, 16) : 0;
    const uint32_t want[] = {1, 7, 8, NN_MASK, 10, PV, NN_MASK, PV, 11};
    check(ne == 9 && !memcmp(enc, want, sizeof want),
          "tokenizer: the literal [MASK] (any case) is id %d, the word mask and \"[ MASK ]\" are not", NN_MASK);
    uint32_t nf = 0;
    int rc = nn_mlm_fill_text(mm, &v, "w7 w8 [MASK] w10 w11", 20, 10, wid, wp, &nf, &err);
    check(rc == NN_OK && nf == 10 && wid[0] == 9 && wp[0] == tp[0],
          "fill in the blank from text: \"w7 w8 [MASK] w10 w11\" -> w%u (p %.3f), ten words", nf ? wid[0] : 0,
          nf ? wp[0] : 0);
    rc = nn_mlm_fill_text(mm, &v, "w7 w8 mask", 10, 10, wid, wp, &nf, &err);
    check(rc == NN_ERR_ARG && nf == 0 && strstr(err.msg, "[MASK]"), "fill in the blank from text without one: %s",
          err.msg);
    nn_vocab_free_index(&v);
    nn_mlm_free(mm);
    nn_model_free(m);
    nn_threads *two = nn_threads_create(2);
    nn_parallel lent[2] = {nn_threads_parallel(two), {run_backwards, NULL, 4}};
    const char *name[2] = {"2 threads", "4 parts run backwards"};
    for (int k = 0; k < 2; k++) {
        float *other = train_pattern(&lent[k], 60, &l2, &a2, &np2, NULL, NULL);
        float *ref = train_pattern(NULL, 60, &loss, &acc, &np, NULL, NULL);
        check(other && ref && np == np2 && !memcmp(ref, other, np * sizeof *ref) && l2 == loss,
              "threads (mlm, dropout 0.1, 60 steps): %s give the parameters and loss of one thread, bit for bit",
              name[k]);
        free(other);
        free(ref);
    }
    nn_threads_free(two);
    free(one);
}

static void top_orders_words(void) {
    float p[10] = {0.9f, 0.9f, 0.9f, 0.9f, 0.1f, 0.3f, 0.05f, 0.3f, 0.2f, 0.05f};
    uint32_t ids[3];
    float tp[3];
    uint32_t n = nn_mlm_top(p, 10, 3, ids, tp);
    check(n == 3 && ids[0] == 5 && ids[1] == 7 && ids[2] == 8 && tp[0] == 0.3f && tp[2] == 0.2f,
          "top: words only (not ids 0-3), most likely first, ties by id: %u %u %u", ids[0], ids[1], ids[2]);
    uint32_t ids8[8];
    float tp8[8];
    check(nn_mlm_top(p, 10, 8, ids8, tp8) == 6, "top: k above the words gives every word");
}

/* ======================================= a sliced run over a corpus of splits */
/* A split of n pattern reviews (as pattern_batch makes them, unpadded). */
typedef struct {
    nn_split sp;
    uint32_t offset[401];
    uint16_t tokens[400 * PT];
} pattern_split;

static void make_pattern_split(pattern_split *p, const char *name, uint32_t n, uint64_t seed) {
    nn_rng r;
    nn_rng_seed(&r, seed);
    memset(&p->sp, 0, sizeof p->sp);
    strcpy(p->sp.name, name);
    p->sp.n = n;
    p->offset[0] = 0;
    uint16_t row[PB * PT];
    for (uint32_t i = 0; i < n; i++) {
        if (i % PB == 0) pattern_batch(row, &r);
        const uint16_t *x = row + (i % PB) * PT;
        uint32_t len = 0;
        while (len < PT && x[len]) len++;
        memcpy(p->tokens + p->offset[i], x, len * sizeof *x);
        p->offset[i + 1] = p->offset[i] + len;
    }
    p->sp.offset = p->offset;
    p->sp.tokens = p->tokens;
}

static float *run_sliced(const nn_config *cfg, const nn_split *const *sp, uint32_t slice, float *last_loss,
                         size_t *np, nn_model **keep) {
    nn_mlm_run *run;
    nn_error err = {0};
    if (!check(nn_mlm_run_create(&run, cfg, sp, 2, 12, 0, &err) == NN_OK, "mlm run create: %s", err.msg)) return NULL;
    nn_mlm_progress p;
    double l = 0;
    uint64_t t = 0;
    do {
        if (nn_mlm_run_step(run, slice, &p, &err)) {
            check(0, "mlm run step: %s", err.msg);
            break;
        }
        if (p.reviews_done > p.reviews_total - 100) l += (double)p.loss * p.targets, t += p.targets;
    } while (!p.finished);
    *last_loss = (float)(l / t);
    nn_model *m = nn_mlm_run_model(run);
    *np = m->nparams;
    float *out = malloc(m->nparams * sizeof *out);
    memcpy(out, m->params, m->nparams * sizeof *out);
    if (keep) { /* a copy of the model: the run owns its own */
        nn_model *c;
        nn_model_create(&c, &m->cfg, &err);
        memcpy(c->params, m->params, m->nparams * sizeof *out);
        *keep = c;
    }
    check(p.reviews_done == 12 * 560 && p.pass == 12 && p.passes == 12,
          "mlm run: 12 passes over 400 + 160 reviews done (%llu), pass %u of %u", (unsigned long long)p.reviews_done,
          p.pass, p.passes);
    nn_mlm_run_free(run);
    return out;
}

static void a_sliced_run_learns_and_starts_a_classifier(void) {
    static pattern_split a, b;
    make_pattern_split(&a, "train", 400, 21);
    make_pattern_split(&b, "unsup", 160, 22);
    const nn_split *sp[2] = {&a.sp, &b.sp};
    nn_config cfg = tiny_config(PV, PT, PB);
    cfg.embed_dim = 16;
    cfg.ff_dim = 32;
    cfg.dropout = 0.1f;
    cfg.mlm_lr = 0.01f;
    cfg.mlm_warmup_steps = 10;
    cfg.lr = 0.01f; /* fine-tuning's (below) */
    cfg.warmup_steps = 10;
    float l1, l7;
    size_t n1, n7;
    nn_model *pre = NULL;
    float *p1 = run_sliced(&cfg, sp, 1, &l1, &n1, &pre);
    float *p7 = run_sliced(&cfg, sp, 7, &l7, &n7, NULL);
    double chance = log(PV - NN_FIRST_WORD);
    check(p1 && p7 && n1 == n7 && !memcmp(p1, p7, n1 * sizeof *p1) && l1 == l7,
          "mlm run: slices of 1 and of 7 batches give the same weights, bit for bit");
    /* Pretraining's schedule is mlm_lr and mlm_warmup_steps: fine-tuning's
     * lr and warmup_steps change nothing in it, its own change everything. */
    nn_config other_ft = cfg, other_mlm = cfg;
    other_ft.lr = 0.5f;
    other_ft.warmup_steps = 999;
    other_mlm.mlm_lr = 0.004f;
    float lf, lm;
    size_t nf, nm;
    float *pf = run_sliced(&other_ft, sp, 7, &lf, &nf, NULL);
    float *pm = run_sliced(&other_mlm, sp, 7, &lm, &nm, NULL);
    check(pf && p7 && nf == n7 && !memcmp(pf, p7, n7 * sizeof *p7),
          "mlm run: another lr and warmup_steps (fine-tuning's) give the same weights, bit for bit");
    check(pm && p7 && nm == n7 && memcmp(pm, p7, n7 * sizeof *p7) != 0 && lm != l7,
          "mlm run: another mlm_lr gives other weights (loss %.4f against %.4f)", lm, l7);
    free(pf);
    free(pm);
    check(l1 < 0.4 * chance, "mlm run learns the pattern corpus: loss of the last 100 reviews %.3f (log 20 = %.3f)",
          l1, chance);
    const nn_split *with_test[2] = {&a.sp, &b.sp};
    strcpy(b.sp.name, "test");
    nn_mlm_run *run;
    nn_error err = {0};
    check(nn_mlm_run_create(&run, &cfg, with_test, 2, 1, 0, &err) == NN_ERR_ARG && strstr(err.msg, "test"),
          "mlm run: a \"test\" split is refused: %s", err.msg);
    /* A classifier started from the encoder: every tensor but the head. */
    nn_config fine = cfg;
    fine.maxlen = PT + 5;
    nn_model *m;
    if (pre && nn_model_create(&m, &fine, &err) == NN_OK) {
        nn_rng r;
        nn_rng_seed(&r, 1);
        nn_model_init(m, &r);
        float head0 = m->params[m->tensor[m->ntensors - 2].offset];
        int rc = nn_mlm_init_encoder(m, pre, &err);
        int same = 1;
        for (uint32_t i = 0; i + 2 < m->ntensors; i++)
            same &= !memcmp(m->params + m->tensor[i].offset, pre->params + pre->tensor[i].offset,
                            (size_t)(i == 1 ? PT : m->tensor[i].rows) * m->tensor[i].cols * sizeof(float));
        check(rc == NN_OK && same && m->params[m->tensor[m->ntensors - 2].offset] == head0,
              "init_encoder: every tensor but the head copied (the first %d of %d positions), the head kept", PT,
              PT + 5);
        fine.embed_dim = 8;
        fine.ff_dim = 32;
        nn_model *other;
        nn_model_create(&other, &fine, &err);
        check(nn_mlm_init_encoder(other, pre, &err) == NN_ERR_ARG && strstr(err.msg, "embed_dim"),
              "init_encoder: another width is refused: %s", err.msg);
        nn_model_free(other);
        fine = cfg;
        fine.alibi = !cfg.alibi;
        nn_model_create(&other, &fine, &err);
        check(nn_mlm_init_encoder(other, pre, &err) == NN_ERR_ARG && strstr(err.msg, "set alibi to false"),
              "init_encoder: an encoder without ALiBi does not start a model with it: %s", err.msg);
        nn_model_free(other);
        nn_model_free(m);
    }
    nn_model_free(pre);
    free(p1);
    free(p7);
}

/* cfg.positions "sinusoid": the position table starts as Vaswani et al.'s
 * sinusoids (at the uniform init's spread), every other weight as with
 * "uniform", from the same numbers. */
static void sinusoid_positions_start_the_table(void) {
    nn_config cfg = tiny_config(30, 12, 4);
    nn_model *u = NULL, *s = NULL;
    nn_error err = {0};
    cfg.embed_dim = 8;
    int ok = nn_model_create(&u, &cfg, &err) == NN_OK;
    cfg.positions = NN_POS_SINUSOID;
    ok = ok && nn_model_create(&s, &cfg, &err) == NN_OK;
    if (!ok) {
        check(0, "positions: a tiny transformer could not be made: %s", err.msg);
        return;
    }
    nn_rng r1, r2;
    nn_rng_seed(&r1, 9);
    nn_rng_seed(&r2, 9);
    nn_model_init(u, &r1);
    nn_model_init(s, &r2);
    int others_same = 1;
    for (uint32_t i = 0; i < u->ntensors; i++)
        if (strcmp(u->tensor[i].name, "wpe") != 0)
            others_same &= !memcmp(u->params + u->tensor[i].offset, s->params + s->tensor[i].offset,
                                   (size_t)u->tensor[i].rows * u->tensor[i].cols * sizeof(float));
    const float *wpe = s->params + s->tensor[1].offset;
    double worst = 0, sd = NN_TFM_INIT_SD * sqrt(2.0);
    for (uint32_t t = 0; t < 12; t++)
        for (uint32_t e = 0; e < 8; e++) {
            double a = t / pow(10000.0, (double)(e & ~1u) / 8), want = sd * ((e & 1) ? cos(a) : sin(a));
            worst = fmax(worst, fabs(wpe[t * 8 + e] - want));
        }
    check(!strcmp(s->tensor[1].name, "wpe") && others_same && worst < 1e-6,
          "positions sinusoid: the table is the sinusoids (largest difference %.2g), every other tensor as uniform's",
          worst);
    nn_model_free(u);
    nn_model_free(s);
}

int main(void) {
    nn_threads *two = nn_threads_create(2);
    nn_parallel par = nn_threads_parallel(two), back = {run_backwards, NULL, 4};
    for (int alibi = 0; alibi <= 1; alibi++) {
        gradient_is_the_central_difference(NULL, "one thread", alibi);
        gradient_is_the_central_difference(&par, "2 threads", alibi);
        gradient_is_the_central_difference(&back, "parts run backwards", alibi);
    }
    nn_threads_free(two);
    gradient_over_several_groups();
    masking_follows_bert();
    top_orders_words();
    learns_patterns_and_threads_change_no_bit();
    a_sliced_run_learns_and_starts_a_classifier();
    sinusoid_positions_start_the_table();
    return check_exit_code();
}
