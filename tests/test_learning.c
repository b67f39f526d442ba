/* test_learning.c: the model learns a tiny synthetic task end to end, with a
 * fixed seed; the same seed gives the same history; slicing does not change
 * the result; both poolings, both paddings, and SGD learn. */
#include "check.h"
#include "nn.h"
#include "synthetic.h"

#include <math.h>
#include <string.h>

static synthetic data;

static int train(const nn_config *cfg, uint32_t slice, nn_epoch_log *hist, float *test_acc) {
    nn_trainer *t;
    nn_error err;
    if (nn_trainer_create(&t, cfg, &data.shard, &err)) {
        check(0, "trainer_create %s", err.msg);
        return 0;
    }
    nn_progress p;
    do {
        if (nn_trainer_run(t, slice, &p, &err)) {
            check(0, "trainer_run %s", err.msg);
            nn_trainer_free(t);
            return 0;
        }
    } while (!p.finished);
    uint32_t n;
    const nn_epoch_log *h = nn_trainer_history(t, &n);
    memcpy(hist, h, n * sizeof *h);
    float loss;
    nn_trainer_evaluate(t, "test", &loss, test_acc, &err);
    nn_trainer_free(t);
    return (int)n;
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

int main(void) {
    synthetic_make(&data, 1000, 400);
    nn_epoch_log a[64], b[64], c[64];
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
    synthetic_free(&data);
    return check_exit_code();
}
