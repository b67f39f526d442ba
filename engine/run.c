/* run.c: a run trained to its end, then evaluated on the test set, in
 * slices (nn_run, nn.h), waiting at the end of training for a test set
 * still to come (nn_trainer_attach_test): the page's "without early stopping" comparison run
 * steps one to its test result a slice at a time, as the main run does in
 * the worker. One object with named fields instead of a state machine on
 * array slots; the wasm boundary copies its progress into
 * nnw_full_progress (layout "full_progress", result_layouts.h). */
#include "nn.h"

#include <math.h>
#include <string.h>

void nn_run_init(nn_run *r, nn_trainer *t) {
    memset(r, 0, sizeof *r);
    r->trainer = t;
}

void nn_run_free(nn_run *r) {
    nn_trainer_free(r->trainer);
    memset(r, 0, sizeof *r);
}

int nn_run_step(nn_run *r, uint32_t max_batches, nn_error *err) {
    nn_run_progress *p = &r->p;
    if (p->test_done) return NN_OK;
    if (!p->finished) {
        nn_progress q;
        int rc = nn_trainer_run(r->trainer, max_batches, &q, err);
        p->epoch = q.epoch;
        p->batch = q.batch;
        p->batches = q.batches;
        p->epoch_done = q.epoch_done;
        p->finished = q.finished;
        p->best_epoch = q.best_epoch;
        if (q.epoch_done) {
            uint32_t n = 0;
            const nn_epoch_log *h = nn_trainer_history(r->trainer, &n);
            p->loss = h[n - 1].loss;
            p->acc = h[n - 1].acc;
            p->val_loss = h[n - 1].val_loss;
            p->val_acc = h[n - 1].val_acc;
        }
        return rc;
    }
    p->epoch_done = 0;
    /* The test reviews are still downloading (nn_trainer_attach_test): the
     * run waits for them; each step until then does nothing. */
    p->test_waiting = nn_trainer_test_pending(r->trainer);
    if (p->test_waiting) return NN_OK;
    if (!r->testing) {
        if (nn_trainer_count(r->trainer, "test") == 0) {
            p->test_done = 1;
            p->test_loss = p->test_acc = NAN;
            return NN_OK;
        }
        int rc = nn_trainer_eval_begin(r->trainer, "test", &r->test, err);
        if (rc != NN_OK) return rc;
        r->testing = 1;
    }
    if (nn_trainer_eval_step(r->trainer, &r->test, max_batches)) {
        nn_trainer_eval_result(&r->test, &p->test_loss, &p->test_acc);
        p->test_done = 1;
        r->testing = 0;
    }
    return NN_OK;
}
