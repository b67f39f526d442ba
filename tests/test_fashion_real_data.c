/* test_fashion_real_data.c: the data test on the real Fashion-MNIST files
 * (Debian's dataset-fashion-mnist).
 *
 *   test_fashion_real_data <fashion_build_shard> <IDX folder> <out shard>
 *
 * Builds the image shard with the real tool, checks its contents, trains
 * the tutorial-mlp preset (Dense 512 ReLU -> Dense 10 softmax, batch 64,
 * Adam 0.001, 10 epochs, 10,000 validation images) and checks the test
 * accuracy (>= 0.88) and the overfitting lesson: the validation loss rises
 * after its minimum while the training loss keeps falling. Prints the
 * history; checks accuracy and curve shape, not timing. */
#define _POSIX_C_SOURCE 200809L
#include "check.h"
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s <fashion_build_shard> <IDX folder> <out shard>\n", argv[0]);
        return 2;
    }
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' --source '%s' --out '%s' --quiet", argv[1], argv[2], argv[3]);
    int rc = system(cmd);
    if (!check(rc == 0, "fashion_build_shard exit=%d", rc)) return check_exit_code();
    nn_shard unused;
    nn_image_shard s;
    uint8_t *buf;
    int is_images;
    nn_error err;
    if (!check(nn_cli_load_any_shard(argv[3], &unused, &s, &is_images, &buf, &err) == NN_OK && is_images,
               "image shard parses %s", err.msg))
        return check_exit_code();
    const nn_image_split *train = nn_image_shard_find(&s, "train"), *test = nn_image_shard_find(&s, "test");
    check(train && train->n == 60000 && test && test->n == 10000 && s.height == 28 && s.width == 28 &&
              s.classes == 10 && !strcmp(nn_image_class_name(&s, 0), "T-shirt/top"),
          "shard has 60000 train and 10000 test 28x28 images in 10 classes");
    uint32_t per_class[10] = {0};
    for (uint32_t i = 0; train && i < train->n; i++) per_class[train->label[i]]++;
    int balanced = 1;
    for (int k = 0; k < 10; k++) balanced &= per_class[k] == 6000;
    check(balanced, "6000 training images per class");

    nn_config cfg;
    nn_config_default(&cfg);
    nn_config_preset(&cfg, "tutorial-mlp");
    nn_trainer *t;
    if (!check(nn_trainer_create_images(&t, &cfg, &s, &err) == NN_OK, "trainer_create_images %s", err.msg))
        return check_exit_code();
    nn_progress p;
    double t0 = nn_now_ms();
    uint32_t slices = 0;
    do {
        /* slices of 100 batches, as a worker would */
        slices++;
        if (nn_trainer_run(t, 100, &p, &err) != NN_OK) {
            check(0, "trainer_run slice %u: %s", slices, err.msg);
            return check_exit_code();
        }
    } while (!p.finished);
    check(1, "trained in %u slices of at most 100 batches", slices);
    double ms = nn_now_ms() - t0;
    uint32_t n;
    const nn_epoch_log *h = nn_trainer_history(t, &n);
    printf("# epoch  loss    acc     val_loss val_acc\n");
    uint32_t best = 0;
    for (uint32_t e = 0; e < n; e++) {
        printf("# %5u  %.4f  %.4f  %.4f   %.4f\n", e + 1, h[e].loss, h[e].acc, h[e].val_loss, h[e].val_acc);
        if (h[e].val_loss < h[best].val_loss) best = e;
    }
    printf("# %u epochs in %.1f s (%.0f ms per epoch, validation included)\n", n, ms / 1000, ms / n);
    float loss, acc;
    nn_trainer_evaluate(t, "test", &loss, &acc, &err);
    check(n == 10, "trained the preset's 10 epochs (%u)", n);
    check(acc >= 0.88f, "test accuracy %.4f >= 0.88 (test loss %.4f)", acc, loss);
    int falling = 1;
    for (uint32_t e = 1; e < n; e++) falling &= h[e].loss < h[e - 1].loss;
    check(falling, "training loss falls every epoch (%.4f -> %.4f)", h[0].loss, h[n - 1].loss);
    check(best + 1 < n && h[n - 1].val_loss > h[best].val_loss,
          "validation loss rises after its minimum (epoch %u, %.4f) to %.4f at epoch %u while the "
          "training loss falls from %.4f to %.4f",
          best + 1, h[best].val_loss, h[n - 1].val_loss, n, h[best].loss, h[n - 1].loss);
    check(h[n - 1].acc > h[n - 1].val_acc, "training accuracy %.4f above validation accuracy %.4f at the end",
          h[n - 1].acc, h[n - 1].val_acc);
    nn_trainer_free(t);
    free(buf);
    return check_exit_code();
}
