/* test_session.c: the session (engine/session.h) the wasm boundary
 * marshals, driven natively on the synthetic shard.
 *
 * Checks the rules the boundary used to hold: requests in the wrong order
 * are refused with a message that says what to do; training fills the
 * progress slots by name (best_epoch, restored_best); evaluation writes
 * eval_result and leaves progress alone; a checkpoint round trip keeps the
 * weights and the history; loading a dataset drops the trainer and its
 * diagnosis; a diagnosis of an earlier epoch's weights leaves the live model
 * untouched and explains an example; the comparison run reaches its test
 * result; image indices and pixel spans are bounds-checked. */
#include "check.h"
#include "session.h"
#include "synthetic.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static synthetic data;

/* The synthetic vocabulary with the special ids' real words, as a shard
 * file must have them. */
static void real_specials(void) {
    static const char *const special[NN_FIRST_WORD] = {"<PAD>", "<START>", "<UNK>", "<UNUSED>"};
    uint32_t at = 0;
    for (uint32_t i = 0; i < 64; i++) {
        data.offsets[i] = at;
        int len = i < NN_FIRST_WORD ? sprintf(data.bytes + at, "%s", special[i]) : sprintf(data.bytes + at, "w%u", i);
        at += (uint32_t)len;
    }
    data.offsets[64] = at;
}

/* A malloc'd copy of the synthetic shard's bytes (sessions take ownership). */
static uint8_t *shard_bytes(size_t *n) {
    uint8_t *out = NULL;
    nn_error err = {0};
    if (nn_shard_write(&data.shard, &out, n, &err) != NN_OK) {
        check(0, "shard_write %s", err.msg);
        return NULL;
    }
    return out;
}

static void train_to_end(nn_session *s) {
    for (int i = 0; i < 100000 && !s->progress[NN_PROGRESS_FINISHED]; i++)
        if (nn_session_train(s, 7) != NN_OK) break;
}

int main(void) {
    synthetic_make(&data, 600, 100);
    real_specials();
    nn_session *s = nn_session_create();
    size_t n;
    int rc = nn_session_configure(s, "{}");
    check(rc == NN_ERR_STATE && strstr(s->err.msg, "load imdb.shard first"), "configure before a shard: %s",
          s->err.msg);
    rc = nn_session_train(s, 1);
    check(rc == NN_ERR_STATE && strstr(s->err.msg, "configure one"), "train before configure: %s", s->err.msg);
    uint8_t *bytes = shard_bytes(&n);
    rc = nn_session_load_shard(s, bytes, n);
    check(rc == NN_OK && s->has_shard, "the synthetic shard loads into a session");
    const char *cfg = "{\"vocab_size\": 64, \"maxlen\": 24, \"embed_dim\": 8, \"hidden\": 8, \"batch_size\": 32, "
                      "\"epochs\": 6, \"val_size\": 100, \"train_size\": 300, \"lr\": 0.05, \"seed\": 3, "
                      "\"patience\": 1, \"min_delta\": 1, \"restore_best_weights\": true}";
    rc = nn_session_configure(s, cfg);
    check(rc == NN_OK && s->progress[NN_PROGRESS_TRAIN_SIZE] == 300.0f, "configure: train_size %g in progress",
          (double)s->progress[NN_PROGRESS_TRAIN_SIZE]);
    train_to_end(s);
    uint32_t nh = 0;
    const nn_epoch_log *h = nn_session_history(s, &nh);
    check(nh == 2 && s->progress[NN_PROGRESS_STOPPED_EARLY] == 1.0f && s->progress[NN_PROGRESS_BEST_EPOCH] == 1.0f &&
              s->progress[NN_PROGRESS_RESTORED_BEST] == 1.0f && s->progress[NN_PROGRESS_VAL_LOSS] == h[1].val_loss,
          "train: early stopping after %u epochs, best %g, restored_best %g, the last epoch's val_loss in progress",
          nh, (double)s->progress[NN_PROGRESS_BEST_EPOCH], (double)s->progress[NN_PROGRESS_RESTORED_BEST]);
    float loss_slot = s->progress[NN_PROGRESS_LOSS], val_loss_2 = nh == 2 ? h[1].val_loss : NAN;
    rc = nn_session_evaluate(s, "val");
    check(rc == NN_OK && s->eval_result[NN_EVAL_RESULT_LOSS] == h[0].val_loss &&
              s->eval_result[NN_EVAL_RESULT_ACC] == h[0].val_acc && s->progress[NN_PROGRESS_LOSS] == loss_slot,
          "evaluate: the restored weights give epoch 1's val_loss %.6f in eval_result; progress untouched",
          (double)s->eval_result[NN_EVAL_RESULT_LOSS]);
    rc = nn_session_evaluate_begin(s, "test");
    int r = 0;
    while (rc == NN_OK && (r = nn_session_evaluate_step(s, 2)) == 0) {}
    float test_loss = s->eval_result[NN_EVAL_RESULT_LOSS];
    check(r == 1 && isfinite(test_loss), "evaluate in slices: test loss %.4f", (double)test_loss);

    /* A diagnosis of other weights (zeros) leaves the live model untouched. */
    nn_model *m = nn_trainer_model(s->trainer);
    float *before = malloc(m->nparams * sizeof *before), *zeros = calloc(m->nparams, sizeof *zeros);
    memcpy(before, m->params, m->nparams * sizeof *before);
    rc = nn_session_diagnose_begin(s, "val", zeros, 0);
    while (rc == NN_OK && nn_session_diagnose_step(s, 3) == 0) {}
    rc = rc == NN_OK ? nn_session_diagnose_finish(s) : rc;
    check(rc == NN_OK && s->diag->score[0] == 0.5f && !memcmp(before, m->params, m->nparams * sizeof *before),
          "diagnose other weights: scores of zero weights (0.5), the trainer's weights unchanged");
    const char *ex = nn_session_diagnose_example(s, 0);
    check(ex && strstr(ex, "\"split\":\"train\"") && s->review.k > 0, "diagnose example: %.80s", ex ? ex : s->err.msg);
    check(!nn_session_diagnose_example(s, 100) && strstr(s->err.msg, "out of range"), "example 100 of 100: %s",
          s->err.msg);
    free(zeros);

    /* Checkpoint round trip. */
    uint8_t *ck = nn_session_checkpoint_export(s);
    uint8_t *copy = ck ? malloc(s->ckpt_len) : NULL;
    if (copy) memcpy(copy, ck, s->ckpt_len);
    rc = copy ? nn_session_checkpoint_import(s, copy, s->ckpt_len) : NN_ERR_NOMEM;
    m = s->trainer ? nn_trainer_model(s->trainer) : NULL;
    const nn_epoch_log *h2 = nn_session_history(s, &nh);
    check(rc == NN_OK && m && !memcmp(before, m->params, m->nparams * sizeof *before) && nh == 2 &&
              h2[1].val_loss == val_loss_2 && !s->diag,
          "checkpoint round trip: the same weights, its 2-epoch history, the old diagnosis dropped");
    free(before);

    /* The comparison run reaches a test result. */
    rc = nn_session_full_start(s);
    for (int i = 0; rc == NN_OK && i < 100000 && !s->full_progress[NN_FULL_PROGRESS_TEST_DONE]; i++)
        rc = nn_session_full_train(s, 5);
    check(rc == NN_OK && s->full_progress[NN_FULL_PROGRESS_TEST_DONE] == 1.0f &&
              s->full_progress[NN_FULL_PROGRESS_EPOCH] == 6.0f && isfinite(s->full_progress[NN_FULL_PROGRESS_TEST_ACC]),
          "comparison run: 6 epochs without early stopping, then test acc %.4f",
          (double)s->full_progress[NN_FULL_PROGRESS_TEST_ACC]);

    /* Word ids. */
    check(nn_session_word_id(s, "w5", 2) == 5 && nn_session_word_id(s, "", 0) == -1 &&
              nn_session_word_id(s, "w5 w6", 5) == -3 && nn_session_word_id(s, "nothing", 7) == -2,
          "word ids: a word, none, several, unknown");

    /* Loading a dataset drops the trainer. */
    bytes = shard_bytes(&n);
    rc = nn_session_load_shard(s, bytes, n);
    check(rc == NN_OK && !s->trainer && !s->full.trainer && s->progress[NN_PROGRESS_EPOCH] == 0,
          "a new shard drops the trainer, its comparison run and progress");
    check(nn_session_check_pixels(s, NULL, 1) == NN_ERR_ARG, "no pixels refused");
    check(!nn_session_image_split(s, "train", 0) && strstr(s->err.msg, "no image shard"),
          "images without an image shard: %s", s->err.msg);
    nn_session_free(s);
    synthetic_free(&data);
    return check_exit_code();
}
