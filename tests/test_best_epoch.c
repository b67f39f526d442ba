/* test_best_epoch.c: the trainer's best epoch is the engine's one answer.
 *
 * For every run with a validation set (patience 0 too) nn_progress.best_epoch
 * is, after each epoch, the epoch a Keras EarlyStopping callback would call
 * best: under cfg.monitor (val_loss lowest, val_accuracy highest) and
 * min_delta, recomputed here from the history with the same rule. Without
 * validation it stays 0. restored_best is 1 exactly when early stopping
 * stopped the run with restore_best_weights (the weights then give the best
 * epoch's validation numbers again); patience 0 never stops or restores,
 * and a run's history does not depend on the patience that did not stop it.
 */
#include "check.h"
#include "nn.h"
#include "synthetic.h"

#include <math.h>
#include <string.h>

static synthetic data;

static nn_config small_config(void) {
    nn_config c;
    nn_config_default(&c);
    c.vocab_size = 64;
    c.maxlen = 24;
    c.embed_dim = 8;
    c.hidden = 8;
    c.batch_size = 32;
    c.epochs = 12;
    c.val_size = 200;
    c.train_size = 200;
    c.lr = 0.03f;
    c.seed = 3;
    return c;
}

/* The reference rule over the first n epochs of h: 0 when none is validated. */
static uint32_t reference_best(const nn_epoch_log *h, uint32_t n, int monitor, float min_delta) {
    uint32_t best_epoch = 0;
    float best = 0;
    for (uint32_t i = 0; i < n; i++) {
        float v = monitor == NN_MONITOR_VAL_ACC ? h[i].val_acc : h[i].val_loss;
        if (!isfinite(h[i].val_loss)) continue;
        int better = best_epoch == 0 ||
                     (monitor == NN_MONITOR_VAL_ACC ? v - min_delta > best : v + min_delta < best);
        if (better) {
            best = v;
            best_epoch = i + 1;
        }
    }
    return best_epoch;
}

typedef struct run_result {
    nn_epoch_log hist[64];
    uint32_t nhist;
    uint32_t best_each[64]; /* progress.best_epoch after each epoch */
    nn_progress last;
    float val_loss, val_acc; /* the finished model on "val" */
    int ok;
} run_result;

/* Trains cfg to the end in slices of 7 batches. */
static void run(const nn_config *cfg, run_result *r) {
    memset(r, 0, sizeof *r);
    nn_trainer *t;
    nn_error err = {0};
    if (nn_trainer_create(&t, cfg, &data.shard, &err)) {
        check(0, "trainer_create %s", err.msg);
        return;
    }
    nn_progress p;
    int calls = 0;
    do {
        if (nn_trainer_run(t, 7, &p, &err)) {
            check(0, "trainer_run %s", err.msg);
            nn_trainer_free(t);
            return;
        }
        if (p.epoch_done) {
            uint32_t n;
            nn_trainer_history(t, &n);
            if (n <= 64) r->best_each[n - 1] = p.best_epoch;
            if (p.best_epoch != nn_trainer_best_epoch(t)) check(0, "progress and nn_trainer_best_epoch disagree");
        }
    } while (!p.finished && ++calls < 100000);
    r->last = p;
    const nn_epoch_log *h = nn_trainer_history(t, &r->nhist);
    memcpy(r->hist, h, r->nhist * sizeof *h);
    r->val_loss = r->val_acc = NAN;
    if (cfg->val_size) nn_trainer_evaluate(t, "val", &r->val_loss, &r->val_acc, &err);
    nn_trainer_free(t);
    r->ok = 1;
}

/* best_epoch after every epoch equals the reference rule as of that epoch. */
static int best_each_matches(const run_result *r, int monitor, float min_delta) {
    for (uint32_t n = 1; n <= r->nhist; n++)
        if (r->best_each[n - 1] != reference_best(r->hist, n, monitor, min_delta)) return 0;
    return 1;
}

int main(void) {
    synthetic_make(&data, 1000, 100);
    const char *monitor_names[] = {"val_loss", "val_accuracy"};
    const float deltas[] = {0.0f, 0.01f};
    run_result a, b;

    for (int monitor = 0; monitor < 2; monitor++) {
        for (int k = 0; k < 2; k++) {
            nn_config c = small_config();
            c.patience = 0;
            c.monitor = monitor;
            c.min_delta = deltas[k];
            run(&c, &a);
            if (!a.ok) continue;
            uint32_t want = reference_best(a.hist, a.nhist, monitor, c.min_delta);
            check(a.nhist == 12 && a.last.best_epoch == want && want >= 1 && best_each_matches(&a, monitor, c.min_delta),
                  "patience 0 monitor=%s min_delta=%g: best epoch %u (reference %u) after %u epochs, and after "
                  "each epoch as of that epoch",
                  monitor_names[monitor], (double)c.min_delta, a.last.best_epoch, want, a.nhist);
            check(!a.last.stopped_early && !a.last.restored_best,
                  "patience 0 monitor=%s min_delta=%g: never stops early, never restores (stopped %d, restored %d)",
                  monitor_names[monitor], (double)c.min_delta, a.last.stopped_early, a.last.restored_best);
        }
    }
    /* The two monitors can pick different epochs on the same run; each run
     * is checked against its own rule above. A last epoch that is not the
     * best (overfitting) shows best_epoch is not simply the last epoch. */
    {
        nn_config c = small_config();
        c.epochs = 40;
        run(&c, &a);
        check(a.ok && a.last.best_epoch >= 1 && a.last.best_epoch < a.nhist,
              "patience 0 on an overfitting run: best epoch %u of %u is not the last", a.last.best_epoch, a.nhist);
    }

    /* Early stopping with restore_best_weights: the first epoch is the best
     * (min_delta no epoch beats), training stops after patience more, and
     * the weights are epoch 1's again. */
    for (int monitor = 0; monitor < 2; monitor++) {
        nn_config c = small_config();
        c.patience = 2;
        c.min_delta = 1.0f;
        c.monitor = monitor;
        c.restore_best_weights = 1;
        run(&c, &a);
        check(a.ok && a.nhist == 3 && a.last.stopped_early && a.last.best_epoch == 1 && a.last.restored_best == 1 &&
                  a.val_loss == a.hist[0].val_loss && a.val_acc == a.hist[0].val_acc,
              "early stopping monitor=%s restores: stopped after %u epochs, best %u, restored_best %d, val_loss "
              "%.6f == epoch 1's %.6f",
              monitor_names[monitor], a.nhist, a.last.best_epoch, a.last.restored_best, a.val_loss,
              a.hist[0].val_loss);
        c.restore_best_weights = 0;
        run(&c, &b);
        check(b.ok && b.nhist == 3 && b.last.stopped_early && b.last.best_epoch == 1 && b.last.restored_best == 0 &&
                  b.val_loss == b.hist[2].val_loss,
              "early stopping monitor=%s without restore_best_weights: stopped, restored_best %d, the last "
              "epoch's weights kept",
              monitor_names[monitor], b.last.restored_best);
        check(a.ok && b.ok && !memcmp(a.hist, b.hist, 3 * sizeof *a.hist),
              "early stopping monitor=%s: the same history with or without restoring", monitor_names[monitor]);
    }

    /* Patience that never runs out: no stop, no restore, and the history
     * is bit for bit the patience-0 run's. */
    {
        nn_config c = small_config();
        c.patience = 100;
        c.restore_best_weights = 1;
        run(&c, &a);
        c.patience = 0;
        run(&c, &b);
        check(a.ok && b.ok && a.nhist == 12 && !a.last.stopped_early && !a.last.restored_best &&
                  a.last.best_epoch == b.last.best_epoch && a.nhist == b.nhist &&
                  !memcmp(a.hist, b.hist, a.nhist * sizeof *a.hist),
              "patience 100 (not reached): no stop, restored_best %d, best epoch %u == patience 0's %u, "
              "identical history",
              a.last.restored_best, a.last.best_epoch, b.last.best_epoch);
    }

    /* Without validation there is no best epoch. */
    {
        nn_config c = small_config();
        c.val_size = 0;
        c.epochs = 3;
        run(&c, &a);
        check(a.ok && a.nhist == 3 && a.last.best_epoch == 0 && !a.last.restored_best,
              "no validation set: best epoch %u", a.last.best_epoch);
    }
    synthetic_free(&data);
    return check_exit_code();
}
