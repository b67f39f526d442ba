/* test_divergence.c: when training diverges, the trainer stops with
 * NN_ERR_DIVERGED, says to lower the learning rate, and leaves the model
 * with the last good weights (finite, and the ones that last gave a finite
 * loss), which still score reviews; the run then refuses to go on.
 *
 * Both ways to diverge are checked: the loss itself becoming NaN (SGD at a
 * learning rate of 10 with 4 reviews per batch, on the synthetic task; and
 * weights set by hand so that one finite step makes the next loss NaN), and
 * an update that overflows the weights although the loss was finite (weights
 * set by hand so that the output layer's gradient times the learning rate
 * exceeds FLT_MAX, at the first step and after several). The trainer keeps
 * the last good weights by double-buffering the parameters, so the views
 * into them are checked too, and early stopping's restore_best_weights. */
#include "check.h"
#include "nn.h"
#include "synthetic.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static synthetic data;

static int all_finite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

static float *copy_params(const nn_model *m) {
    float *p = malloc(m->nparams * sizeof *p);
    if (!p) {
        printf("FAIL out of memory\n");
        exit(1);
    }
    memcpy(p, m->params, m->nparams * sizeof *p);
    return p;
}

static int same_params(const nn_model *m, const float *p) {
    return memcmp(m->params, p, m->nparams * sizeof *p) == 0;
}

/* Every test review gets a probability in [0, 1] (not NaN) from the model. */
static int scores_all_test_reviews(nn_trainer *t, uint32_t *bad) {
    nn_model *m = nn_trainer_model(t);
    const nn_split *test = nn_shard_find(&data.shard, "test");
    uint16_t *ids = malloc(m->cfg.maxlen * sizeof *ids);
    *bad = 0;
    for (uint32_t i = 0; i < test->n; i++) {
        nn_pad_review(ids, test->tokens + test->offset[i], test->offset[i + 1] - test->offset[i], &m->cfg);
        nn_model_forward(m, ids, 1);
        float z = m->logit[0];
        float p = 1.0f / (1.0f + expf(-z));
        if (!(p >= 0.0f && p <= 1.0f)) (*bad)++;
    }
    free(ids);
    return *bad == 0;
}

static void test_nan_loss(void) {
    nn_config c;
    nn_config_default(&c);
    c.vocab_size = 64;
    c.maxlen = 30;
    c.val_size = 200;
    c.epochs = 5;
    c.optimizer = NN_OPT_SGD;
    c.lr = 10.0f;
    c.batch_size = 4;
    nn_trainer *t;
    nn_error err = {0};
    if (nn_trainer_create(&t, &c, &data.shard, &err) != NN_OK) {
        check(0, "trainer_create %s", err.msg);
        return;
    }
    nn_model *m = nn_trainer_model(t);
    /* start: the weights this call starts from; ok_start: those the last
     * successful call started from (one batch per call). */
    float *start = copy_params(m), *ok_start = copy_params(m);
    nn_progress p;
    int rc = NN_OK;
    uint32_t calls = 0;
    float last_loss = NAN;
    while (calls < 100000) {
        memcpy(start, m->params, m->nparams * sizeof *start);
        rc = nn_trainer_run(t, 1, &p, &err);
        if (rc != NN_OK) break;
        if (!p.epoch_done) last_loss = p.batch_loss;
        memcpy(ok_start, start, m->nparams * sizeof *start);
        calls++;
        if (p.finished) break;
    }
    if (!check(rc == NN_ERR_DIVERGED, "SGD at lr 10, batch 4 diverges on the synthetic task (after %u calls, last loss %g): rc %d %s",
               calls, (double)last_loss, rc, err.msg)) {
        nn_trainer_free(t);
        free(start);
        free(ok_start);
        return;
    }
    check(strstr(err.msg, "Lower the learning rate") && strstr(err.msg, "now 10"),
          "the message suggests a lower learning rate: %s", err.msg);
    check(!isfinite(p.batch_loss) && p.batch + 1 >= 1 && p.epoch >= 1,
          "the progress says where: epoch %u, batch %u, loss %g", p.epoch, p.batch + 1, (double)p.batch_loss);
    /* The loss of the weights the failing call started with was not finite,
     * so the model goes back one more update: to the weights the last
     * finite loss came from. */
    int nan_loss = !isfinite(p.batch_loss) && strstr(err.msg, "the loss became");
    check(nan_loss ? same_params(m, ok_start) : same_params(m, start),
          "the model holds the weights the last finite loss (%g) was computed with", (double)last_loss);
    check(all_finite(m->params, m->nparams), "every one of the %zu kept weights is finite", m->nparams);
    uint32_t bad = 0;
    check(scores_all_test_reviews(t, &bad), "the kept weights score all %u test reviews in [0, 1] (%u failed)",
          nn_shard_find(&data.shard, "test")->n, bad);

    float *kept = copy_params(m);
    nn_error again = {0};
    rc = nn_trainer_run(t, 1, &p, &again);
    check(rc == NN_ERR_STATE && strstr(again.msg, "diverged") && same_params(m, kept),
          "the diverged run refuses to train on and leaves the weights alone: rc %d %s", rc, again.msg);
    free(kept);
    free(start);
    free(ok_start);
    nn_trainer_free(t);
}

/* A bag model at SGD lr 10, batch 1, masked pooling, with every embedding
 * and first-layer weight set to `big` and the output layer to 0: the logit
 * is 0, so the loss is log 2 and the output weight's gradient is
 * hidden * (p - y) = 16 big^2 * (+-0.5). */
static nn_trainer *crafted(float big) {
    nn_config c;
    nn_config_default(&c);
    c.vocab_size = 64;
    c.maxlen = 30;
    c.pooling = NN_POOL_MASKED;
    c.val_size = 200;
    c.epochs = 1;
    c.optimizer = NN_OPT_SGD;
    c.lr = 10.0f;
    c.batch_size = 1;
    nn_trainer *t;
    nn_error err = {0};
    if (nn_trainer_create(&t, &c, &data.shard, &err) != NN_OK) {
        check(0, "trainer_create %s", err.msg);
        return NULL;
    }
    nn_model *m = nn_trainer_model(t);
    size_t VE = (size_t)c.vocab_size * c.embed_dim, HE = (size_t)c.hidden * c.embed_dim;
    for (size_t i = 0; i < VE; i++) m->emb[i] = big;
    for (size_t i = 0; i < HE; i++) m->w1[i] = big;
    for (size_t i = 0; i < c.hidden; i++) m->b1[i] = 0.0f;
    for (size_t i = 0; i < c.hidden; i++) m->w2[i] = 0.0f;
    m->b2[0] = 0.0f;
    return t;
}

/* big = 3e18: hidden units of 1.4e38, a gradient of 7e37, times 10: the
 * step overflows although the loss (log 2) is finite. */
static void test_update_overflow(void) {
    nn_trainer *t = crafted(3e18f);
    if (!t) return;
    nn_model *m = nn_trainer_model(t);
    float *before = copy_params(m);
    nn_progress p;
    nn_error err = {0};
    int rc = nn_trainer_run(t, 1, &p, &err);
    check(rc == NN_ERR_DIVERGED && strstr(err.msg, "weights became infinite") && strstr(err.msg, "Lower the learning rate"),
          "an update that overflows the weights stops training: rc %d %s", rc, err.msg);
    check(same_params(m, before), "the model keeps the weights from before that update");
    check(all_finite(m->params, m->nparams), "and they are all finite");
    free(before);
    nn_trainer_free(t);
}

/* big = 1e18: hidden units of 1.6e37, a finite step that sets the output
 * weights to about 8e37, after which the next logit overflows and the loss
 * is NaN. The weights the NaN came from are finite; the model must go back
 * one step further, to the weights that gave log 2. */
static void test_step_then_nan(void) {
    nn_trainer *t = crafted(1e18f);
    if (!t) return;
    nn_model *m = nn_trainer_model(t);
    float *first = copy_params(m);
    nn_progress p;
    nn_error err = {0};
    int rc = nn_trainer_run(t, 1, &p, &err);
    check(rc == NN_OK && fabsf(p.batch_loss - logf(2.0f)) < 1e-6f && all_finite(m->params, m->nparams),
          "the first step is finite (loss %g = log 2): rc %d %s", (double)p.batch_loss, rc, err.msg);
    rc = nn_trainer_run(t, 1, &p, &err);
    check(rc == NN_ERR_DIVERGED && strstr(err.msg, "the loss became") && !isfinite(p.batch_loss),
          "the second batch's loss is not finite: rc %d loss %g %s", rc, (double)p.batch_loss, err.msg);
    check(same_params(m, first), "the model goes back to the weights of the last finite loss (before the first step)");
    free(first);
    nn_trainer_free(t);
}

/* The views (emb, w1, b1, w2, b2) point into the buffer params points at:
 * the double-buffered step re-points them at every swap. */
static int views_in_params(const nn_model *m) {
    return m->emb == m->params + m->tensor[0].offset && m->w1 == m->params + m->tensor[1].offset &&
           m->b1 == m->params + m->tensor[2].offset && m->w2 == m->params + m->tensor[3].offset &&
           m->b2 == m->params + m->tensor[4].offset;
}

/* After several good steps (so the weights have changed buffers back and
 * forth), weights set by hand make the next update overflow although its
 * loss is finite: the model must hold exactly the weights set by hand, in
 * the buffer its views point at. */
static void test_overflow_after_steps(void) {
    nn_trainer *t = crafted(0.0f);
    if (!t) return;
    nn_model *m = nn_trainer_model(t);
    nn_progress p;
    nn_error err = {0};
    int rc = NN_OK;
    for (int i = 0; i < 5 && rc == NN_OK; i++) rc = nn_trainer_run(t, 1, &p, &err);
    check(rc == NN_OK && views_in_params(m), "five ordinary steps first: rc %d %s", rc, err.msg);
    const nn_config *c = &m->cfg;
    size_t VE = (size_t)c->vocab_size * c->embed_dim, HE = (size_t)c->hidden * c->embed_dim;
    for (size_t i = 0; i < VE; i++) m->emb[i] = 3e18f;
    for (size_t i = 0; i < HE; i++) m->w1[i] = 3e18f;
    for (size_t i = 0; i < c->hidden; i++) m->b1[i] = m->w2[i] = 0.0f;
    m->b2[0] = 0.0f;
    float *set = copy_params(m);
    rc = nn_trainer_run(t, 1, &p, &err);
    check(rc == NN_ERR_DIVERGED && strstr(err.msg, "weights became infinite") && p.batch_loss == INFINITY,
          "then an update that overflows after a finite loss stops training: rc %d %s", rc, err.msg);
    check(same_params(m, set) && views_in_params(m) && all_finite(m->params, m->nparams),
          "the model holds the weights that loss came from, bit for bit, its views pointing at them");
    free(set);
    nn_trainer_free(t);
}

/* Early stopping with restore_best_weights: min_delta 10 lets only the first
 * epoch improve, so training stops after epoch 2 and the model must hold
 * the weights epoch 1 ended with (the epoch hook copies them), bit for bit,
 * also after a further call; the double buffer must not swap them away. */
static float *epoch_weights[3];
static void keep_epoch_weights(void *user, const nn_model *m, uint32_t epoch) {
    (void)user;
    if (epoch < 3) {
        free(epoch_weights[epoch]);
        epoch_weights[epoch] = copy_params(m);
    }
}

static void test_restore_best_weights(void) {
    nn_config c;
    nn_config_default(&c);
    c.vocab_size = 64;
    c.maxlen = 30;
    c.val_size = 200;
    c.epochs = 10;
    c.batch_size = 16;
    c.lr = 0.01f;
    c.patience = 1;
    c.min_delta = 10.0f;
    c.restore_best_weights = 1;
    nn_trainer *t;
    nn_error err = {0};
    if (nn_trainer_create(&t, &c, &data.shard, &err) != NN_OK) {
        check(0, "trainer_create %s", err.msg);
        return;
    }
    nn_trainer_set_epoch_hook(t, keep_epoch_weights, NULL);
    nn_model *m = nn_trainer_model(t);
    nn_progress p;
    int rc;
    do rc = nn_trainer_run(t, 5, &p, &err);
    while (rc == NN_OK && !p.finished);
    uint32_t n;
    nn_trainer_history(t, &n);
    check(rc == NN_OK && p.stopped_early && p.best_epoch == 1 && n == 2,
          "early stopping ends training after epoch 2, the best being epoch 1: rc %d stopped %d best %u epochs %u",
          rc, p.stopped_early, p.best_epoch, n);
    int ok = epoch_weights[1] && epoch_weights[2] && !same_params(m, epoch_weights[2]);
    check(ok && same_params(m, epoch_weights[1]) && views_in_params(m),
          "restore_best_weights: the model holds epoch 1's weights bit for bit, not epoch 2's");
    rc = nn_trainer_run(t, 5, &p, &err);
    check(rc == NN_OK && p.finished && epoch_weights[1] && same_params(m, epoch_weights[1]),
          "and keeps them when asked to train on: rc %d finished %d", rc, p.finished);
    for (int i = 0; i < 3; i++) {
        free(epoch_weights[i]);
        epoch_weights[i] = NULL;
    }
    nn_trainer_free(t);
}

/* The check costs nothing when nothing goes wrong: a sound recipe gives the
 * same weights bit for bit whatever the slicing, and never diverges. */
static void test_no_false_alarm(void) {
    nn_config c;
    nn_config_default(&c);
    c.vocab_size = 64;
    c.maxlen = 30;
    c.val_size = 200;
    c.epochs = 3;
    c.batch_size = 16;
    c.lr = 0.01f;
    nn_trainer *t;
    nn_error err = {0};
    if (nn_trainer_create(&t, &c, &data.shard, &err) != NN_OK) {
        check(0, "trainer_create %s", err.msg);
        return;
    }
    nn_progress p;
    int rc;
    do rc = nn_trainer_run(t, 7, &p, &err);
    while (rc == NN_OK && !p.finished);
    check(rc == NN_OK, "Adam at lr 0.01 trains 3 epochs without a divergence alarm: rc %d %s", rc, err.msg);
    nn_trainer_free(t);
}

int main(void) {
    synthetic_make(&data, 1000, 400);
    test_nan_loss();
    test_update_overflow();
    test_step_then_nan();
    test_overflow_after_steps();
    test_restore_best_weights();
    test_no_false_alarm();
    synthetic_free(&data);
    return check_exit_code();
}
