/* test_learning.c: the model learns a tiny synthetic task end to end, with a
 * fixed seed; the same seed gives the same history; slicing does not change
 * the result; both poolings, both paddings, and SGD learn; every recurrent
 * architecture learns (stacked and with dropout too); early stopping stops,
 * reports and restores for every model; lending the recurrent layers
 * threads (or running their parts in any order) changes no bit. The MLP
 * learns synthetic images (made here) from an image shard, deterministically
 * however sliced, with early stopping, and its divergence is caught. */
#include "check.h"
#include "nn.h"
#include "synthetic.h"
#include "threads.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static synthetic data;

static nn_progress last; /* the final progress report of the last train() */

/* Trains t (then frees it) in slices of `slice` batches to the end; its
 * history into hist, the test accuracy; the number of epochs, 0 on failure. */
static int train_created(nn_trainer *t, uint32_t slice, nn_epoch_log *hist, float *test_acc) {
    nn_error err = {0};
    nn_progress p;
    do {
        if (nn_trainer_run(t, slice, &p, &err)) {
            check(0, "trainer_run %s", err.msg);
            nn_trainer_free(t);
            return 0;
        }
    } while (!p.finished);
    last = p;
    uint32_t n;
    const nn_epoch_log *h = nn_trainer_history(t, &n);
    memcpy(hist, h, n * sizeof *h);
    float loss;
    nn_trainer_evaluate(t, "test", &loss, test_acc, &err);
    nn_trainer_free(t);
    return (int)n;
}

static int train(const nn_config *cfg, uint32_t slice, nn_epoch_log *hist, float *test_acc) {
    nn_trainer *t;
    nn_error err = {0};
    if (nn_trainer_create(&t, cfg, &data.shard, &err)) {
        check(0, "trainer_create %s", err.msg);
        return 0;
    }
    return train_created(t, slice, hist, test_acc);
}

/* An nn_parallel that runs the parts one after another in this thread,
 * last part first: the results must not depend on the order. */
static void run_backwards(void *ctx, nn_task_fn task, void *arg, uint32_t parts) {
    (void)ctx;
    for (uint32_t i = parts; i-- > 0;) task(arg, i, parts);
}

/* Trains cfg with par lent to the model; the history, the test accuracy and
 * a copy of the final parameters (malloc'd, *nparams of them). */
static float *train_lent(const nn_config *cfg, const nn_parallel *par, nn_epoch_log *hist,
                         uint32_t *nhist, float *test_acc, size_t *nparams) {
    nn_trainer *t;
    nn_error err = {0};
    if (nn_trainer_create(&t, cfg, &data.shard, &err)) {
        check(0, "trainer_create %s", err.msg);
        return NULL;
    }
    nn_model *m = nn_trainer_model(t);
    nn_model_set_parallel(m, par);
    nn_progress p;
    do {
        if (nn_trainer_run(t, 1000000, &p, &err)) break;
    } while (!p.finished);
    const nn_epoch_log *h = nn_trainer_history(t, nhist);
    memcpy(hist, h, *nhist * sizeof *h);
    float loss;
    nn_trainer_evaluate(t, "test", &loss, test_acc, &err);
    float *params = malloc(m->nparams * sizeof *params);
    if (params) memcpy(params, m->params, m->nparams * sizeof *params);
    *nparams = m->nparams;
    nn_trainer_free(t);
    return params;
}

static nn_config small_config(void) {
    nn_config c;
    nn_config_default(&c);
    c.vocab_size = 64;
    c.maxlen = 24;
    c.embed_dim = 8;
    c.hidden = 8;
    c.batch_size = 32;
    c.epochs = 30;
    c.val_size = 200;
    c.lr = 0.01f;
    c.seed = 3;
    return c;
}

/* ------------------------------------------------------------ images */

/* 6 x 6 images in 4 classes: class k is a bright 2 x 6 band at rows 2k/3..,
 * on noise; 400 train, 80 test. */
enum { IMG = 6, IMG_D = IMG * IMG, IMG_K = 4, IMG_TRAIN = 400, IMG_TEST = 80 };
static uint8_t img_train_px[IMG_TRAIN * IMG_D], img_test_px[IMG_TEST * IMG_D];
static uint8_t img_train_label[IMG_TRAIN], img_test_label[IMG_TEST];

static void make_images(uint8_t *px, uint8_t *label, uint32_t n, nn_rng *r) {
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = nn_rng_below(r, IMG_K);
        label[i] = (uint8_t)k;
        for (uint32_t j = 0; j < IMG_D; j++) px[i * IMG_D + j] = (uint8_t)nn_rng_below(r, 90);
        for (uint32_t j = 0; j < 2 * IMG; j++) px[i * IMG_D + (k * IMG * 4 / 3 / IMG) * IMG + j] = (uint8_t)(160 + nn_rng_below(r, 96));
    }
}

static int train_images(const nn_image_shard *s, const nn_config *cfg, uint32_t slice, nn_epoch_log *hist,
                        float *test_acc) {
    nn_trainer *t;
    nn_error err = {0};
    if (!check(nn_trainer_create_images(&t, cfg, s, &err) == NN_OK, "images trainer_create %s", err.msg)) return 0;
    return train_created(t, slice, hist, test_acc);
}

static void check_images(void) {
    nn_rng r;
    nn_rng_seed(&r, 77);
    make_images(img_train_px, img_train_label, IMG_TRAIN, &r);
    make_images(img_test_px, img_test_label, IMG_TEST, &r);
    char names[IMG_K * NN_IMAGE_CLASS_NAME_BYTES] = "a";
    for (int k = 1; k < IMG_K; k++) names[k * NN_IMAGE_CLASS_NAME_BYTES] = (char)('a' + k);
    nn_image_shard s;
    memset(&s, 0, sizeof s);
    s.height = s.width = IMG, s.channels = 1, s.classes = IMG_K, s.class_names = names, s.nsplits = 2;
    strcpy(s.split[0].name, "train");
    s.split[0].n = IMG_TRAIN, s.split[0].label = img_train_label, s.split[0].pixels = img_train_px;
    strcpy(s.split[1].name, "test");
    s.split[1].n = IMG_TEST, s.split[1].label = img_test_label, s.split[1].pixels = img_test_px;
    nn_config cfg;
    nn_config_preset(&cfg, "tutorial-mlp");
    cfg.input_dim = IMG_D, cfg.classes = IMG_K, cfg.hidden = 16, cfg.batch_size = 16, cfg.epochs = 6;
    cfg.val_size = 80;
    nn_epoch_log a[16], b[16];
    float acc_a = 0, acc_b = 0;
    nn_progress p;
    int n = train_images(&s, &cfg, 1000000, a, &acc_a);
    check(n == 6 && a[n - 1].loss < 0.5f * a[0].loss && acc_a > 0.9f && a[n - 1].val_acc > 0.9f,
          "images mlp learns: loss %.4f -> %.4f, val_acc %.4f, test_acc %.4f", a[0].loss,
          n ? a[n - 1].loss : NAN, n ? a[n - 1].val_acc : NAN, acc_a);
    int m = train_images(&s, &cfg, 1, b, &acc_b);
    check(m == n && !memcmp(a, b, (size_t)n * sizeof *a) && acc_a == acc_b,
          "images one batch per slice gives the same history");
    /* Early stopping on an easy task that cannot improve for long. */
    cfg.epochs = 60, cfg.patience = 2, cfg.restore_best_weights = 1, cfg.min_delta = 0.05f;
    int k = train_images(&s, &cfg, 1000000, b, &acc_b);
    check(k < 60 && last.stopped_early && last.best_epoch >= 1 && acc_b > 0.9f,
          "images early stopping after %d epochs (best %u), test_acc %.4f", k, last.best_epoch, acc_b);
    /* Wrong settings are refused by name; a text model is refused. */
    nn_trainer *t = NULL;
    nn_error err = {0};
    cfg = (nn_config){0};
    nn_config_preset(&cfg, "tutorial-mlp");
    check(nn_trainer_create_images(&t, &cfg, &s, &err) == NN_ERR_ARG && strstr(err.msg, "input_dim"),
          "images input_dim 784 on 6x6 images refused: %s", err.msg);
    cfg.input_dim = IMG_D;
    check(nn_trainer_create_images(&t, &cfg, &s, &err) == NN_ERR_ARG && strstr(err.msg, "classes"),
          "images classes 10 on 4 classes refused: %s", err.msg);
    cfg.classes = IMG_K;
    cfg.model = NN_MODEL_BAG;
    check(nn_trainer_create_images(&t, &cfg, &s, &err) == NN_ERR_ARG && strstr(err.msg, "mlp"),
          "images a bag model refused: %s", err.msg);
    nn_config_preset(&cfg, "tutorial-mlp");
    check(nn_trainer_create(&t, &cfg, &data.shard, &err) == NN_ERR_ARG && strstr(err.msg, "images"),
          "text shard refuses model mlp: %s", err.msg);
    /* Divergence: weights blown up, the loss overflows, the last good weights stay. */
    cfg.input_dim = IMG_D, cfg.classes = IMG_K, cfg.hidden = 8, cfg.batch_size = 16, cfg.val_size = 80;
    err.msg[0] = 0;
    if (check(nn_trainer_create_images(&t, &cfg, &s, &err) == NN_OK, "images divergence trainer_create %s", err.msg)) {
        nn_model *mm = nn_trainer_model(t);
        for (size_t i = 0; i < mm->nparams; i++) mm->params[i] = 1e30f * (i % 2 ? 1 : -1);
        int rc = nn_trainer_run(t, 1000000, &p, &err);
        check(rc == NN_ERR_DIVERGED, "images divergence is reported: rc=%d \"%s\"", rc, err.msg);
        nn_trainer_free(t);
    }
}

int main(void) {
    synthetic_make(&data, 1000, 400);
    static nn_epoch_log a[400], b[400], c[400];
    float acc_a, acc_b, acc_c;

    nn_config cfg = small_config();
    int n = train(&cfg, 1000000, a, &acc_a);
    check(n == 30, "learning epochs=%d", n);
    check(a[n - 1].loss < 0.5f * a[0].loss, "learning train loss falls %.4f -> %.4f", a[0].loss, a[n - 1].loss);
    check(a[n - 1].val_acc > 0.9f, "learning val_acc=%.4f > 0.9", a[n - 1].val_acc);
    check(acc_a > 0.9f, "learning test_acc=%.4f > 0.9", acc_a);

    train(&cfg, 1000000, b, &acc_b);
    check(!memcmp(a, b, n * sizeof *a) && acc_a == acc_b, "determinism same seed gives an identical history");
    train(&cfg, 1, c, &acc_c);
    check(!memcmp(a, c, n * sizeof *a), "determinism one batch per slice gives the same history");
    nn_config other = cfg;
    other.seed = 4;
    train(&other, 1000000, c, &acc_c);
    check(memcmp(a, c, n * sizeof *a) != 0, "determinism another seed gives another history");

    const struct { const char *name; int pooling, padding, optimizer; float lr; } variants[] = {
        {"masked pooling, pre padding", NN_POOL_MASKED, NN_PAD_PRE, NN_OPT_ADAM, 0.01f},
        {"keras pooling, pre padding", NN_POOL_KERAS, NN_PAD_PRE, NN_OPT_ADAM, 0.01f},
        {"sgd", NN_POOL_MASKED, NN_PAD_POST, NN_OPT_SGD, 0.5f},
    };
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        nn_config v = cfg;
        v.pooling = variants[i].pooling;
        v.padding = variants[i].padding;
        v.optimizer = variants[i].optimizer;
        v.lr = variants[i].lr;
        v.epochs = 40;
        int k = train(&v, 7, c, &acc_c);
        check(k == 40 && acc_c > 0.85f, "learning %s test_acc=%.4f > 0.85", variants[i].name, acc_c);
    }

    /* Every recurrent architecture learns the task: small, fixed seed. */
    const struct { const char *name; int model; uint32_t layers; float dropout, rdrop; } rnns[] = {
        {"lstm", NN_MODEL_LSTM, 1, 0, 0},
        {"gru", NN_MODEL_GRU, 1, 0, 0},
        {"bilstm", NN_MODEL_BILSTM, 1, 0, 0},
        {"bigru", NN_MODEL_BIGRU, 1, 0, 0},
        {"lstm x2 with dropout 0.2 and recurrent dropout 0.2", NN_MODEL_LSTM, 2, 0.2f, 0.2f},
        {"bigru x2 with dropout 0.2", NN_MODEL_BIGRU, 2, 0.2f, 0},
    };
    for (size_t i = 0; i < sizeof rnns / sizeof rnns[0]; i++) {
        nn_config v = cfg;
        v.model = rnns[i].model;
        v.layers = rnns[i].layers;
        v.dropout = rnns[i].dropout;
        v.recurrent_dropout = rnns[i].rdrop;
        v.padding = i % 2 ? NN_PAD_POST : NN_PAD_PRE;
        v.epochs = 8;
        int k = train(&v, 1000000, c, &acc_c);
        check(k == 8 && c[k - 1].loss < 0.6f * c[0].loss && acc_c > 0.9f,
              "learning %s (%s padding) train loss %.4f -> %.4f, test_acc=%.4f > 0.9", rnns[i].name,
              v.padding == NN_PAD_PRE ? "pre" : "post", c[0].loss, c[k - 1].loss, acc_c);
    }
    /* Threads: 2 and 3 real threads, and 4 parts run backwards in one
     * thread, give the very same parameters, history and test accuracy as
     * one thread, for every recurrent architecture (dropout included). */
    {
        nn_threads *two = nn_threads_create(2), *three = nn_threads_create(3);
        nn_parallel lent[3] = {nn_threads_parallel(two), nn_threads_parallel(three),
                               {run_backwards, NULL, 4}};
        const char *lent_name[3] = {"2 threads", "3 threads", "4 parts run backwards"};
        for (size_t i = 0; i < sizeof rnns / sizeof rnns[0]; i++) {
            nn_config v = cfg;
            v.model = rnns[i].model;
            v.layers = rnns[i].layers;
            v.dropout = rnns[i].dropout;
            v.recurrent_dropout = rnns[i].rdrop;
            v.padding = i % 2 ? NN_PAD_POST : NN_PAD_PRE;
            v.epochs = 2;
            uint32_t na, nb;
            size_t pa, pb;
            float *one = train_lent(&v, NULL, a, &na, &acc_a, &pa);
            for (int k = 0; k < 3; k++) {
                float *shared = train_lent(&v, &lent[k], b, &nb, &acc_b, &pb);
                check(one && shared && pa == pb && !memcmp(one, shared, pa * sizeof *one) && na == nb &&
                          !memcmp(a, b, na * sizeof *a) && acc_a == acc_b,
                      "threads %s: %s gives the parameters and history of one thread, bit for bit",
                      rnns[i].name, lent_name[k]);
                free(shared);
            }
            free(one);
        }
        check(two && three, "threads: the pools of 2 and 3 threads started");
        nn_threads_free(two);
        nn_threads_free(three);
    }
    /* Explaining a recurrent model: each contribution is the score minus the
     * score of the review with that token masked out, forward pass by pass. */
    {
        nn_config x = cfg;
        x.model = NN_MODEL_LSTM;
        x.padding = NN_PAD_PRE;
        x.epochs = 4;
        nn_trainer *t;
        nn_error err = {0};
        if (nn_trainer_create(&t, &x, &data.shard, &err) == NN_OK) {
            nn_progress p;
            do nn_trainer_run(t, 1000000, &p, &err);
            while (!p.finished);
            nn_model *m = nn_trainer_model(t);
            /* Filler, one positive word (4) and one negative word (10); 30
             * ids, so 'pre' truncation to maxlen 24 cuts the first 6. */
            uint32_t nids = 30, ids[30];
            for (uint32_t i = 0; i < nids; i++) ids[i] = 16 + (i * 7) % 48;
            ids[0] = NN_START;
            ids[20] = 4;
            ids[26] = 10;
            float contrib[64];
            float score = nn_model_explain(m, ids, nids, contrib);
            int same = score == nn_model_explain(m, ids, nids, NULL);
            double worst = 0;
            uint16_t one[24];
            for (uint32_t i = 0; i < nids; i++) {
                long at = (long)i - (long)(nids > x.maxlen ? nids - x.maxlen : 0); /* 'pre' truncation */
                float want = 0.0f;
                if (at >= 0) {
                    nn_pad_review_u32(one, ids, nids, &x);
                    one[x.maxlen - (nids > x.maxlen ? x.maxlen : nids) + at] = 0;
                    nn_model_forward(m, one, 1);
                    want = score - 1.0f / (1.0f + expf(-m->logit[0]));
                }
                worst = fmax(worst, fabs(contrib[i] - want));
            }
            check(same && worst == 0.0 && contrib[20] > 0 && contrib[26] < 0 && contrib[0] == 0.0f,
                  "explain lstm: %u contributions equal score minus the occluded score (maxdiff %g); "
                  "positive word %+.3f, negative word %+.3f, cut <START> %g", nids, worst, contrib[20],
                  contrib[26], contrib[0]);
            nn_trainer_free(t);
        } else {
            check(0, "explain trainer_create %s", err.msg);
        }
    }

    nn_config r = cfg;
    r.model = NN_MODEL_LSTM;
    r.dropout = 0.3f;
    r.epochs = 3;
    train(&r, 1000000, a, &acc_a);
    train(&r, 5, b, &acc_b);
    check(!memcmp(a, b, 3 * sizeof *a) && acc_a == acc_b,
          "determinism lstm with dropout: same seed, any slicing, identical history");

    /* Early stopping for every model. A min_delta no epoch can beat makes
     * the first epoch the best: with patience 2 training stops after epoch
     * 3, and the restored weights give epoch 1's validation loss exactly. */
    const int models[] = {NN_MODEL_BAG, NN_MODEL_LSTM, NN_MODEL_GRU, NN_MODEL_BILSTM, NN_MODEL_BIGRU};
    const char *model_names[] = {"bag", "lstm", "gru", "bilstm", "bigru"};
    for (int i = 0; i < 5; i++) {
        for (int monitor = 0; monitor < 2; monitor++) {
            nn_config e = cfg;
            e.model = models[i];
            e.epochs = 20;
            e.patience = 2;
            e.min_delta = 1.0f;
            e.monitor = monitor;
            e.restore_best_weights = 1;
            nn_trainer *t;
            nn_error err = {0};
            if (nn_trainer_create(&t, &e, &data.shard, &err)) {
                check(0, "early stopping trainer_create %s", err.msg);
                continue;
            }
            nn_progress p;
            int runs = 0;
            do nn_trainer_run(t, 1000000, &p, &err);
            while (!p.finished && ++runs < 100);
            uint32_t nh;
            const nn_epoch_log *h = nn_trainer_history(t, &nh);
            float vl = NAN, va = NAN;
            nn_trainer_evaluate(t, "val", &vl, &va, &err);
            nn_progress again;
            nn_trainer_run(t, 1000000, &again, &err);
            check(nh == 3 && p.stopped_early && p.best_epoch == 1 && vl == h[0].val_loss && va == h[0].val_acc &&
                      again.finished && again.stopped_early && nn_trainer_history(t, &nh) && nh == 3,
                  "early stopping %s monitor=%s: stopped after %u epochs (best %u), restored val_loss %.6f == "
                  "epoch 1's %.6f; a further run trains nothing",
                  model_names[i], monitor ? "val_accuracy" : "val_loss", nh, p.best_epoch, vl, h[0].val_loss);
            nn_trainer_free(t);
        }
    }
    /* Without a min_delta: the bag model on this small task overfits, so
     * validation loss turns up and training stops at its minimum + patience. */
    nn_config e = cfg;
    e.epochs = 300;
    e.lr = 0.03f;
    e.train_size = 200;
    e.patience = 3;
    int k = train(&e, 1000000, c, &acc_c);
    int best = 0;
    for (int i = 0; i < k; i++)
        if (c[i].val_loss < c[best].val_loss) best = i;
    check(k < 300 && last.stopped_early && (int)last.best_epoch == best + 1 && k == best + 1 + 3,
          "early stopping bag val_loss patience 3: stopped after %d epochs, best epoch %u (lowest val_loss at %d)",
          k, last.best_epoch, best + 1);
    nn_config off = cfg;
    off.epochs = 5;
    k = train(&off, 1000000, c, &acc_c);
    best = 0;
    for (int i = 1; i < k; i++)
        if (c[i].val_loss < c[best].val_loss) best = i;
    /* The best epoch is tracked with patience 0 too (test_best_epoch.c). */
    check(k == 5 && !last.stopped_early && !last.restored_best && (int)last.best_epoch == best + 1,
          "no early stopping with patience 0 (best epoch %u, lowest val_loss at %d)", last.best_epoch, best + 1);

    /* A divergent learning rate is reported, not silently trained through. */
    nn_config bad = cfg;
    bad.lr = 10.0f;
    bad.optimizer = NN_OPT_SGD;
    bad.embed_dim = 8;
    nn_trainer *t;
    nn_error err = {0};
    int rc = nn_trainer_create(&t, &bad, &data.shard, &err);
    if (check(rc == NN_OK, "divergence trainer_create %s", rc ? err.msg : "")) {
        /* Blow the weights up so the loss overflows to inf/NaN. */
        nn_model *m = nn_trainer_model(t);
        for (size_t i = 0; i < m->nparams; i++) m->params[i] = 1e30f * (i % 2 ? 1 : -1);
        nn_progress p;
        rc = nn_trainer_run(t, 1000000, &p, &err);
        check(rc == NN_ERR_DIVERGED && strstr(err.msg, "learning rate"),
              "divergence is reported: rc=%d \"%s\"", rc, err.msg);
        nn_trainer_free(t);
    }
    check_images();
    synthetic_free(&data);
    return check_exit_code();
}
