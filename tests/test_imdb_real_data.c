/* test_imdb_real_data.c: the data test on the real aclImdb archive.
 *
 *   test_imdb_real_data <imdb_build_shard> <aclImdb_v1.tar.gz> <out dir>
 *
 * Builds the shard from the archive with the real tool, checks its contents,
 * trains the Keras tutorial recipe (40 epochs) and checks accuracy and the
 * shape of the curves, not timing; then trains again and checks the history
 * is identical. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int train_recipe(const nn_shard *shard, nn_epoch_log *hist, float *test_acc, nn_trainer **keep) {
    nn_config cfg;
    nn_config_default(&cfg);
    nn_trainer *t;
    nn_error err;
    if (!check(nn_trainer_create(&t, &cfg, shard, &err) == NN_OK, "recipe trainer_create %s", err.msg)) return 0;
    nn_progress p;
    do {
        if (nn_trainer_run(t, 1000000, &p, &err) != NN_OK) {
            check(0, "recipe trainer_run %s", err.msg);
            return 0;
        }
    } while (!p.finished);
    uint32_t n;
    const nn_epoch_log *h = nn_trainer_history(t, &n);
    memcpy(hist, h, n * sizeof *h);
    float loss;
    nn_trainer_evaluate(t, "test", &loss, test_acc, &err);
    if (keep) *keep = t;
    else nn_trainer_free(t);
    return (int)n;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s <imdb_build_shard> <archive> <out dir>\n", argv[0]);
        return 2;
    }
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' --source '%s' --out '%s' --quiet", argv[1], argv[2], argv[3]);
    double t0 = nn_now_ms();
    int rc = system(cmd);
    printf("# shard built in %.1f s\n", (nn_now_ms() - t0) / 1000);
    if (!check(rc == 0, "build_shard exit=%d", rc)) return check_exit_code();

    char path[4096];
    snprintf(path, sizeof path, "%s/imdb.shard", argv[3]);
    nn_shard shard;
    uint8_t *buf;
    nn_error err;
    if (!check(nn_cli_load_shard(path, &shard, &buf, &err) == NN_OK, "shard_parse %s", err.msg))
        return check_exit_code();
    const nn_split *train = nn_shard_find(&shard, "train"), *test = nn_shard_find(&shard, "test");
    check(train && train->n == 25000 && test && test->n == 25000, "shard has 25000 train and 25000 test reviews");
    uint32_t pos = 0;
    for (uint32_t i = 0; train && i < train->n; i++) pos += train->label[i] == 1;
    check(pos == 12500, "shard train positives=%u", pos);
    check(shard.vocab.V >= 10000, "shard vocabulary has %u ids", shard.vocab.V);
    check(nn_vocab_lookup(&shard.vocab, "the", 3) == NN_FIRST_WORD, "shard most frequent word is \"the\"");

    nn_epoch_log a[40], b[40];
    float acc_a, acc_b;
    nn_trainer *t = NULL;
    t0 = nn_now_ms();
    int n = train_recipe(&shard, a, &acc_a, &t);
    printf("# 40 epochs in %.1f s (timing is information, not a check)\n", (nn_now_ms() - t0) / 1000);
    if (!check(n == 40, "recipe trained %d epochs", n)) return check_exit_code();
    int best = 0;
    for (int i = 0; i < n; i++) {
        printf("# epoch %2d loss %.4f acc %.4f val_loss %.4f val_acc %.4f\n", i + 1, a[i].loss, a[i].acc,
               a[i].val_loss, a[i].val_acc);
        if (a[i].val_loss < a[best].val_loss) best = i;
    }
    check(acc_a >= 0.865f, "recipe test accuracy %.4f >= 0.865", acc_a);
    check(a[n - 1].acc >= 0.95f, "recipe final training accuracy %.4f >= 0.95", a[n - 1].acc);
    check(best >= 5 && best < n - 5, "recipe validation loss bottoms out at epoch %d, before the end", best + 1);
    check(a[n - 1].val_loss > a[best].val_loss + 0.005f, "recipe validation loss rises again: %.4f at the best epoch, %.4f at the end",
          a[best].val_loss, a[n - 1].val_loss);
    check(a[n - 1].loss < a[best].loss, "recipe training loss keeps falling after the best epoch: %.4f -> %.4f",
          a[best].loss, a[n - 1].loss);

    const char *positive = "This movie was wonderful, one of the best films I have seen. Brilliant acting and a great story.";
    const char *negative = "Terrible film. The worst acting, a boring plot and a waste of time. Awful.";
    nn_model *m = nn_trainer_model(t);
    float sp = nn_model_score_text(m, &shard.vocab, NULL, positive, strlen(positive));
    float sn = nn_model_score_text(m, &shard.vocab, NULL, negative, strlen(negative));
    check(sp > 0.5f && sn < 0.5f, "recipe scores a positive review %.3f and a negative one %.3f", sp, sn);
    nn_trainer_free(t);

    train_recipe(&shard, b, &acc_b, NULL);
    check(!memcmp(a, b, sizeof a) && acc_a == acc_b, "recipe determinism: a second run gives an identical history");
    nn_shard_free(&shard);
    free(buf);
    return check_exit_code();
}
