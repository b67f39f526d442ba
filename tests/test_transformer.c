/* test_transformer.c: the model kind "transformer" (engine/transformer.c)
 * through nn_model and the trainer:
 * - its gradients are those of the standalone encoder (engine/encoder.c,
 *   whose every gradient tests/test_attention.c checks against central
 *   differences in double), with ragged rows and uneven chunks;
 * - the memory budget counts exactly its parameters;
 * - threads (2, 3, and 4 parts run backwards) change no bit of training,
 *   dropout included;
 * - it learns a task only attention can solve (first and last token match);
 * - the sinusoid position table is Vaswani et al.'s, at the init's spread;
 * - a checkpoint round trip scores the same, and occlusion explains it. */
#include "check.h"
#include "encoder.h"
#include "gradcheck.h"
#include "synthetic.h"
#include "threads.h"
#include "transformer.h"

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

/* ---- the model's gradients are the encoder's ---- */
static void gradients_match_the_encoder(nn_parallel *par, const char *how) {
    enum { V = 9, T = 6, B = 5 };
    nn_config cfg = tiny_config(V, T, B);
    nn_model *m;
    nn_error err = {0};
    if (!check(nn_model_create(&m, &cfg, &err) == NN_OK, "transformer model_create: %s", err.msg)) return;
    nn_encoder enc;
    if (!check(nn_encoder_init(&enc, V, T, 8, 2, 16, 2, B, 0.0f, 0.1f, 3) == 0, "encoder_init")) {
        nn_model_free(m);
        return;
    }
    /* Every size is a multiple of 4 but the head's bias (the last tensor),
     * so the tensor table lays the weights out as the encoder does. */
    int same_layout = m->ntensors == 2 + 12 * 2 + 4 && m->nparams == enc.nparams + 3 &&
                      m->tensor[m->ntensors - 1].offset == enc.nparams - 1;
    check(same_layout, "transformer tensor table: %u tensors, %zu floats (encoder: %zu)", m->ntensors,
          m->nparams, enc.nparams);
    nn_rng r;
    nn_rng_seed(&r, 17);
    for (size_t i = 0; i < enc.nparams; i++) enc.params[i] = nn_rng_uniform(&r, -0.4f, 0.4f);
    memcpy(m->params, enc.params, enc.nparams * sizeof(float));
    nn_model_set_parallel(m, par);
    /* Ragged rows: 'post' and 'pre' padded, one token, none at all. */
    uint16_t ids[B * T] = {1, 4, 5, 6, 0, 0,  0, 0, 1, 7, 8, 3,  1, 2, 3, 4, 5, 6,
                           0, 0, 0, 0, 0, 0,  0, 0, 0, 8, 0, 0};
    float y[B] = {1, 0, 1, 0, 1};
    uint32_t cm = 0, ce = 0;
    nn_model_zero_grad(m);
    float lm = nn_model_forward_backward(m, ids, y, B, &cm);
    float le = nn_encoder_forward_backward(&enc, ids, y, B, NULL, 1, &ce);
    double *g = malloc(enc.nparams * sizeof(double));
    for (size_t i = 0; i < enc.nparams; i++) g[i] = enc.grads[i];
    double d = maxrel(m->grads, g, enc.nparams);
    check(same_layout && fabsf(lm - le) < 1e-6f && cm == ce && d < 1e-4,
          "transformer gradients (%s; %u rows in chunks of one, sorted by length; ragged, an empty row) are the "
          "encoder's: loss %.7f vs %.7f, maxrel %.1e",
          how, (unsigned)B, lm, le, d);
    free(g);
    nn_encoder_free(&enc);
    nn_model_free(m);
}

static void budget_counts_its_parameters(void) {
    nn_config cfg = tiny_config(37, 11, 3);
    cfg.embed_dim = 6;
    cfg.heads = 3;
    cfg.ff_dim = 7;
    cfg.blocks = 3;
    nn_model *m;
    nn_error err = {0};
    if (!check(nn_model_create(&m, &cfg, &err) == NN_OK, "transformer model_create: %s", err.msg)) return;
    nn_memory est;
    nn_memory_estimate(&cfg, NULL, &est);
    check(est.nparams == m->nparams && est.activations > 0,
          "budget: a transformer of odd sizes (E 6, 3 heads, F 7, 3 blocks) is %llu parameters as "
          "estimated, %zu as made",
          (unsigned long long)est.nparams, m->nparams);
    nn_model_free(m);
    cfg.embed_dim = 7;
    check(nn_model_create(&m, &cfg, &err) == NN_ERR_ARG && strstr(err.msg, "heads"),
          "embed_dim 7 with 3 heads is refused: %s", err.msg);
}

/* ---- threads change no bit ---- */
static void run_backwards(void *ctx, nn_task_fn task, void *arg, uint32_t parts) {
    (void)ctx;
    for (uint32_t i = parts; i-- > 0;) task(arg, i, parts);
}

/* Trains cfg on the shard; returns the final parameters (malloc'd), the
 * history and the test accuracy. */
static float *train_lent(const nn_config *cfg, const nn_shard *shard, const nn_parallel *par,
                         nn_epoch_log *hist, uint32_t *nhist, float *test_acc, size_t *np) {
    nn_trainer *t;
    nn_error err = {0};
    if (nn_trainer_create(&t, cfg, shard, &err) != NN_OK) {
        check(0, "trainer_create: %s", err.msg);
        return NULL;
    }
    nn_model_set_parallel(nn_trainer_model(t), par);
    nn_progress p;
    do {
        if (nn_trainer_run(t, 1000000, &p, &err) != NN_OK) {
            check(0, "trainer_run: %s", err.msg);
            break;
        }
    } while (!p.finished);
    const nn_epoch_log *h = nn_trainer_history(t, nhist);
    memcpy(hist, h, *nhist * sizeof *h);
    float loss;
    nn_trainer_evaluate(t, "test", &loss, test_acc, &err);
    nn_model *m = nn_trainer_model(t);
    *np = m->nparams;
    float *out = malloc(m->nparams * sizeof *out);
    memcpy(out, m->params, m->nparams * sizeof *out);
    nn_trainer_free(t);
    return out;
}

static void threads_change_no_bit(const nn_shard *shard) {
    nn_config cfg = tiny_config(64, 24, 16);
    cfg.dropout = 0.2f;
    cfg.epochs = 2;
    cfg.val_size = 64;
    cfg.train_size = 200;
    cfg.warmup_steps = 5;
    cfg.lr = 0.003f;
    nn_threads *two = nn_threads_create(2), *three = nn_threads_create(3);
    nn_parallel lent[3] = {nn_threads_parallel(two), nn_threads_parallel(three), {run_backwards, NULL, 4}};
    const char *name[3] = {"2 threads", "3 threads", "4 parts run backwards"};
    nn_epoch_log a[2], b[2];
    uint32_t na = 0, nb = 0;
    float acc_a = 0, acc_b = 0;
    size_t pa = 0, pb = 0;
    for (int pad = 0; pad < 2; pad++) {
        cfg.padding = pad ? NN_PAD_POST : NN_PAD_PRE;
        float *one = train_lent(&cfg, shard, NULL, a, &na, &acc_a, &pa);
        for (int k = 0; k < 3; k++) {
            float *shared = train_lent(&cfg, shard, &lent[k], b, &nb, &acc_b, &pb);
            check(one && shared && pa == pb && !memcmp(one, shared, pa * sizeof *one) && na == nb &&
                      !memcmp(a, b, na * sizeof *a) && acc_a == acc_b,
                  "threads (transformer, dropout 0.2, %s padding): %s give the parameters, history "
                  "and test accuracy of one thread, bit for bit",
                  pad ? "post" : "pre", name[k]);
            free(shared);
        }
        free(one);
    }
    check(two && three, "threads: the pools of 2 and 3 threads started");
    nn_threads_free(two);
    nn_threads_free(three);
}

/* ---- a task only attention solves: does the last token match the first? ---- */
enum { LT = 12, LK = 6, LV = LK + NN_FIRST_WORD };
static void make_batch(uint16_t *ids, float *y, int B, nn_rng *r) {
    for (int b = 0; b < B; b++) {
        int len = 3 + (int)nn_rng_below(r, LT - 2);
        uint16_t *row = ids + b * LT;
        for (int t = 0; t < LT; t++) row[t] = t < len ? (uint16_t)(NN_FIRST_WORD + nn_rng_below(r, LK)) : 0;
        int same = (int)nn_rng_below(r, 2);
        if (same) row[len - 1] = row[0];
        else while (row[len - 1] == row[0]) row[len - 1] = (uint16_t)(NN_FIRST_WORD + nn_rng_below(r, LK));
        y[b] = (float)same;
    }
}

static void learns_first_equals_last(void) {
    enum { NT = 1024, B = 32 };
    static uint16_t tids[NT * LT];
    static float ty[NT];
    nn_rng data, r;
    nn_rng_seed(&data, 2024);
    nn_rng_seed(&r, 77);
    make_batch(tids, ty, NT, &data);
    nn_config cfg = tiny_config(LV, LT, B);
    cfg.embed_dim = 32;
    cfg.ff_dim = 64;
    cfg.lr = 3e-3f;
    cfg.weight_decay = 0.0f;
    cfg.seed = 5;
    nn_model *m;
    nn_error err = {0};
    if (!check(nn_model_create(&m, &cfg, &err) == NN_OK, "transformer model_create: %s", err.msg)) return;
    nn_rng init;
    nn_rng_seed(&init, cfg.seed);
    nn_model_init(m, &init);
    uint16_t ids[B * LT];
    float y[B];
    const int steps = 1200;
    for (int step = 0; step < steps; step++) {
        make_batch(ids, y, B, &r);
        nn_model_zero_grad(m);
        nn_model_forward_backward(m, ids, y, B, NULL);
        nn_model_update(m);
    }
    uint32_t hits = 0;
    for (int i0 = 0; i0 < NT; i0 += B) {
        nn_model_forward(m, tids + i0 * LT, B);
        nn_model_loss_sum(m, ty + i0, B, &hits);
    }
    double acc = (double)hits / NT;
    check(acc >= 0.9, "model \"transformer\" (2 blocks, E 32, 2 heads) learns first token == last token "
          "over ragged lengths 3..%d: held-out accuracy %.3f on %d after %d steps (>= 0.9 needed; a "
          "mean-pooled bag cannot pass 0.75, tests/test_attention.c)", LT, acc, NT, steps);
    nn_model_free(m);
}

/* ---- sinusoid positions ---- */
static void sinusoid_positions_are_vaswanis(void) {
    nn_config cfg = tiny_config(LV, 50, 4);
    nn_model *m;
    nn_error err = {0};
    if (!check(nn_model_create(&m, &cfg, &err) == NN_OK, "transformer model_create: %s", err.msg)) return;
    nn_rng init;
    nn_rng_seed(&init, 1);
    nn_model_init(m, &init);
    const nn_tensor *wte = &m->tensor[0], *wpe = &m->tensor[1];
    float *wte_before = malloc((size_t)wte->rows * wte->cols * sizeof *wte_before);
    memcpy(wte_before, m->params + wte->offset, (size_t)wte->rows * wte->cols * sizeof *wte_before);
    nn_transformer_sinusoid_positions(m);
    const uint32_t T = wpe->rows, E = wpe->cols;
    const float *p = m->params + wpe->offset;
    double s = NN_TFM_INIT_SD * sqrt(2.0), maxdiff = 0, sum2 = 0;
    for (uint32_t t = 0; t < T; t++)
        for (uint32_t i = 0; 2 * i < E; i++) {
            double a = t / pow(10000.0, 2.0 * i / E);
            double d0 = fabs(p[t * E + 2 * i] - s * sin(a)), d1 = fabs(p[t * E + 2 * i + 1] - s * cos(a));
            if (d0 > maxdiff) maxdiff = d0;
            if (d1 > maxdiff) maxdiff = d1;
        }
    for (size_t k = 0; k < (size_t)T * E; k++) sum2 += (double)p[k] * p[k];
    double sd = sqrt(sum2 / ((double)T * E));
    check(!strcmp(wpe->name, "wpe") && T == 50 && maxdiff < 1e-6 && fabs(sd - NN_TFM_INIT_SD) < 0.01,
          "sinusoid positions: wpe (%u,%u) is sin/cos(t / 10000^(2i/E)) x %.4f (max diff %.2g), spread %.4f "
          "(the init's %.2f)", T, E, s, maxdiff, sd, NN_TFM_INIT_SD);
    check(!memcmp(wte_before, m->params + wte->offset, (size_t)wte->rows * wte->cols * sizeof *wte_before),
          "sinusoid positions leave the token embedding as it was");
    free(wte_before);
    nn_model_free(m);
}

/* ---- checkpoints and occlusion ---- */
static void checkpoint_and_explain(const synthetic *data) {
    nn_config cfg = tiny_config(64, 24, 16);
    cfg.epochs = 3;
    cfg.val_size = 64;
    cfg.train_size = 500;
    cfg.lr = 0.003f;
    nn_trainer *t;
    nn_error err = {0};
    if (!check(nn_trainer_create(&t, &cfg, &data->shard, &err) == NN_OK, "trainer_create: %s", err.msg)) return;
    nn_progress p;
    do nn_trainer_run(t, 1000000, &p, &err);
    while (!p.finished);
    nn_model *m = nn_trainer_model(t);
    uint32_t ids[30];
    for (uint32_t i = 0; i < 30; i++) ids[i] = 16 + (i * 7) % 48;
    ids[0] = NN_START;
    ids[8] = 4;   /* a positive word */
    ids[12] = 10; /* a negative one */
    float contrib[30];
    float score = nn_model_explain(m, ids, 30, contrib);
    /* By hand: id 8 replaced by <PAD>. */
    uint16_t row[24];
    nn_pad_review_u32(row, ids, 30, &m->cfg);
    long pos = nn_padded_position(8, 30, &m->cfg);
    row[pos] = NN_PAD;
    nn_model_forward(m, row, 1);
    float without = 1.0f / (1.0f + expf(-m->logit[0]));
    int cut_zero = contrib[0] == 0.0f && contrib[5] == 0.0f; /* 'pre' truncation to 24 cuts the first 6 ids */
    check(isfinite(score) && contrib[8] != 0.0f && fabsf(contrib[8] - (score - without)) < 1e-6f && cut_zero,
          "explain (occlusion): contribution of id 8 %.6f = score %.6f - score without it %.6f; "
          "cut ids get 0", contrib[8], score, without);

    /* The page's embedding history reads the token embedding (wte). */
    uint32_t counts[64];
    nn_trainer_count_tokens(t, "train", counts);
    nn_embed_history *eh = NULL;
    int erc = nn_embed_history_create(&eh, m, counts, 1 << 20, 5, 50, &err);
    if (erc == NN_OK) erc = nn_embed_history_record(eh, m, 1, 0, &err);
    float effect[2] = {NAN, NAN}, base = NAN;
    uint32_t words[2] = {4, 10};
    if (erc == NN_OK) erc = nn_embed_history_effects(eh, 1, words, 2, effect, &base, &err);
    check(erc == NN_OK && isfinite(effect[0]) && isfinite(effect[1]) && isfinite(base) && effect[0] > effect[1],
          "embedding history of a transformer: word 4's effect %.4f above word 10's %.4f (base %.4f)%s%s",
          effect[0], effect[1], base, erc ? ": " : "", erc ? err.msg : "");
    nn_embed_history_free(eh);

    uint8_t *buf = NULL;
    size_t len = 0;
    uint32_t nh;
    const nn_epoch_log *h = nn_trainer_history(t, &nh);
    int rc = nn_checkpoint_write(m, &data->shard.vocab, 0, h, nh, &buf, &len, &err);
    check(rc == NN_OK, "checkpoint_write transformer: %s", rc ? err.msg : "");
    nn_checkpoint ck;
    rc = rc ? rc : nn_checkpoint_read(&ck, buf, len, &err);
    if (check(rc == NN_OK, "checkpoint_read transformer: %s", rc ? err.msg : "")) {
        float contrib2[30];
        float score2 = nn_model_explain(ck.model, ids, 30, contrib2);
        check(ck.model->cfg.model == NN_MODEL_TRANSFORMER && ck.model->nparams == m->nparams &&
                  !memcmp(ck.model->params, m->params, m->nparams * sizeof(float)) && score2 == score &&
                  !memcmp(contrib, contrib2, sizeof contrib),
              "checkpoint round trip: same weights; the loaded model (batch 1) scores %.6f and "
              "explains as the trained one, bit for bit", score2);
        nn_checkpoint_free(&ck);
    }
    free(buf);
    nn_trainer_free(t);
}

int main(void) {
    nn_threads *two = nn_threads_create(2);
    nn_parallel par = nn_threads_parallel(two), back = {run_backwards, NULL, 4};
    gradients_match_the_encoder(NULL, "one thread");
    gradients_match_the_encoder(&par, "2 threads");
    gradients_match_the_encoder(&back, "parts run backwards");
    nn_threads_free(two);
    budget_counts_its_parameters();
    synthetic data;
    synthetic_make(&data, 600, 200);
    threads_change_no_bit(&data.shard);
    checkpoint_and_explain(&data);
    synthetic_free(&data);
    sinusoid_positions_are_vaswanis();
    learns_first_equals_last();
    return check_exit_code();
}
