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
 * result; image indices and pixel spans are bounds-checked; a test split
 * attached after training (nn_session_expect_test/attach_test, the static
 * site's) gives the whole shard's results bit for bit. */
#include "check.h"
#include "session.h"
#include "synthetic.h"
#include "container.h" /* nn_rd32 */

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

static void train_to_end(nn_session *s);

/* The synthetic shard cut as build/imdb_split_shard cuts it: the vocabulary
 * and "train" (*main), and "test" alone without a vocabulary (*test). */
static void split_bytes(uint8_t **main, size_t *main_n, uint8_t **test, size_t *test_n) {
    nn_error err = {0};
    nn_shard m = data.shard, t = data.shard;
    const nn_split *ts = nn_shard_find(&data.shard, "test");
    m.nsplits = 0;
    for (uint32_t i = 0; i < data.shard.nsplits; i++)
        if (&data.shard.split[i] != ts) m.split[m.nsplits++] = data.shard.split[i];
    *main = *test = NULL;
    if (nn_shard_write(&m, main, main_n, &err) != NN_OK) {
        check(0, "shard_write main %s", err.msg);
        return;
    }
    memset(&t.vocab, 0, sizeof t.vocab);
    t.vocab_crc = nn_rd32(*main + 28); /* the first file's, as the header records it */
    t.nsplits = 1;
    t.split[0] = *ts;
    if (nn_shard_write(&t, test, test_n, &err) != NN_OK) check(0, "shard_write test %s", err.msg);
}

static void full_to_end(nn_session *s) {
    int rc = NN_OK;
    for (int i = 0; rc == NN_OK && i < 100000 && !s->full_progress[NN_FULL_PROGRESS_TEST_DONE] &&
                    (i == 0 || !s->full.p.test_waiting); i++)
        rc = nn_session_full_train(s, 5);
}

/* The test split attached after training: the same results bit for bit as
 * with the whole shard; refused while it is pending; the comparison run
 * waits for it. */
static void test_attached_later(const char *cfg) {
    nn_session *s = nn_session_create();
    size_t n;
    uint8_t *bytes = shard_bytes(&n);
    int rc = nn_session_load_shard(s, bytes, n);
    if (rc == NN_OK) rc = nn_session_configure(s, cfg);
    train_to_end(s);
    if (rc == NN_OK) rc = nn_session_evaluate(s, "test");
    float ref_loss = s->eval_result[NN_EVAL_RESULT_LOSS], ref_acc = s->eval_result[NN_EVAL_RESULT_ACC];
    if (rc == NN_OK) rc = nn_session_full_start(s);
    full_to_end(s);
    float ref_full = s->full_progress[NN_FULL_PROGRESS_TEST_LOSS];
    check(rc == NN_OK && isfinite(ref_loss) && isfinite(ref_full), "whole shard: test loss %.6f, comparison %.6f",
          (double)ref_loss, (double)ref_full);

    uint8_t *main = NULL, *test = NULL;
    size_t main_n = 0, test_n = 0;
    split_bytes(&main, &main_n, &test, &test_n);
    if (!main || !test) {
        free(main);
        free(test);
        nn_session_free(s);
        return;
    }
    rc = nn_session_load_shard(s, main, main_n);
    check(rc == NN_OK && !nn_shard_find(&s->shard, "test"), "the first half loads, without a test split");
    rc = nn_session_expect_test(s, 99);
    uint8_t *copy = malloc(test_n);
    memcpy(copy, test, test_n);
    rc = nn_session_attach_test(s, copy, test_n);
    check(rc == NN_ERR_FORMAT && strstr(s->err.msg, "100 reviews, but 99 were expected"), "a wrong count: %s", s->err.msg);
    nn_session_expect_test(s, 100);
    check(nn_session_test_pending(s), "100 test reviews pending");
    rc = nn_session_configure(s, cfg);
    train_to_end(s);
    rc = nn_session_evaluate(s, "test");
    check(rc == NN_ERR_STATE && strstr(s->err.msg, "still downloading"), "evaluate test while pending: %s", s->err.msg);
    rc = nn_session_diagnose_begin(s, "test", NULL, 0);
    check(rc == NN_ERR_STATE && strstr(s->err.msg, "still downloading"), "diagnose test while pending: %s", s->err.msg);
    rc = nn_session_full_start(s);
    full_to_end(s);
    check(rc == NN_OK && s->full_progress[NN_FULL_PROGRESS_FINISHED] == 1.0f &&
              s->full_progress[NN_FULL_PROGRESS_TEST_DONE] == 0.0f && s->full.p.test_waiting,
          "the comparison run trains to its end and waits for the test split");
    /* A damaged test file is refused and changes nothing. */
    copy = malloc(test_n);
    memcpy(copy, test, test_n);
    copy[test_n / 2] ^= 0x10;
    rc = nn_session_attach_test(s, copy, test_n);
    check(rc == NN_ERR_CHECKSUM || rc == NN_ERR_FORMAT, "a damaged test file is refused: %s", s->err.msg);
    check(nn_session_test_pending(s), "and the test split is still pending");
    rc = nn_session_attach_test(s, test, test_n);
    check(rc == NN_OK && !nn_session_test_pending(s), "the test file attaches: %s", rc ? s->err.msg : "ok");
    rc = nn_session_evaluate(s, "test");
    check(rc == NN_OK && s->eval_result[NN_EVAL_RESULT_LOSS] == ref_loss && s->eval_result[NN_EVAL_RESULT_ACC] == ref_acc,
          "attached later: test loss %.6f acc %.4f, the whole shard's bit for bit",
          (double)s->eval_result[NN_EVAL_RESULT_LOSS], (double)s->eval_result[NN_EVAL_RESULT_ACC]);
    full_to_end(s);
    check(s->full_progress[NN_FULL_PROGRESS_TEST_DONE] == 1.0f && s->full_progress[NN_FULL_PROGRESS_TEST_LOSS] == ref_full,
          "the comparison run then gives the whole shard's test loss %.6f", (double)s->full_progress[NN_FULL_PROGRESS_TEST_LOSS]);
    nn_session_free(s);
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
    test_attached_later(cfg);
    synthetic_free(&data);
    return check_exit_code();
}
