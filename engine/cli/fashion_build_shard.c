/* fashion_build_shard.c: the fashion_build_shard tool. Turns the four
 * gzip-compressed IDX files of Fashion-MNIST (Debian's dataset-fashion-mnist:
 * /usr/share/datasets/fashion-mnist/) into one image shard,
 * data/fashion.shard, with splits "train" (60,000) and "test" (10,000), the
 * uint8 pixels as they are and the ten class names. Reproducible byte for
 * byte. Deliberately not here: the shard format (engine/image_shard.c writes
 * and checks it) and any scaling of the pixels (the model divides by 255).
 *
 *   fashion_build_shard [--source DIR] [--out FILE] [--quiet]
 */
#include "fileio.h"
#include "idx.h"
#include "nn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_SOURCE "/usr/share/datasets/fashion-mnist"
#define DEFAULT_OUT "data/fashion.shard"

/* The labels' meaning, from the Fashion-MNIST README (Xiao et al. 2017). */
static const char *const CLASS_NAMES[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                            "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

typedef struct loaded {
    nn_idx images, labels;
    uint8_t *ibuf, *lbuf;
} loaded;

static int load_split(loaded *l, const char *dir, const char *prefix, nn_error *err) {
    char ipath[4096], lpath[4096];
    snprintf(ipath, sizeof ipath, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    snprintf(lpath, sizeof lpath, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
    int rc = nn_idx_read_gz(ipath, 3, &l->images, &l->ibuf, err);
    if (!rc) rc = nn_idx_read_gz(lpath, 1, &l->labels, &l->lbuf, err);
    if (rc) return rc;
    if (l->images.dims[0] != l->labels.dims[0])
        return nn_fail(err, NN_ERR_FORMAT, "%s has %u images but %s has %u labels: the files do "
                       "not belong together", ipath, l->images.dims[0], lpath, l->labels.dims[0]);
    for (size_t i = 0; i < l->labels.count; i++)
        if (l->labels.data[i] >= 10)
            return nn_fail(err, NN_ERR_FORMAT, "%s: label %zu is %u, but Fashion-MNIST has classes "
                           "0-9", lpath, i, l->labels.data[i]);
    return NN_OK;
}

int main(int argc, char **argv) {
    const char *source = DEFAULT_SOURCE, *out = DEFAULT_OUT;
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--source") && i + 1 < argc) source = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--quiet")) quiet = 1;
        else {
            fprintf(stderr, "usage: %s [--source DIR] [--out FILE] [--quiet]\n"
                            "  DIR holds {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz "
                            "(default " DEFAULT_SOURCE ", from apt-get install "
                            "dataset-fashion-mnist); FILE defaults to " DEFAULT_OUT "\n", argv[0]);
            return 2;
        }
    }
    nn_error err = {0};
    loaded train = {0}, test = {0};
    int rc = load_split(&train, source, "train", &err);
    if (!rc) rc = load_split(&test, source, "t10k", &err);
    if (!rc && (train.images.dims[1] != test.images.dims[1] ||
                train.images.dims[2] != test.images.dims[2]))
        rc = nn_fail(&err, NN_ERR_FORMAT, "the training images are %u x %u but the test images "
                     "%u x %u", train.images.dims[1], train.images.dims[2], test.images.dims[1],
                     test.images.dims[2]);
    uint8_t *shard = NULL;
    size_t shard_len = 0;
    if (!rc) {
        char names[10 * NN_IMAGE_CLASS_NAME_BYTES] = {0};
        for (int k = 0; k < 10; k++)
            memcpy(names + k * NN_IMAGE_CLASS_NAME_BYTES, CLASS_NAMES[k], strlen(CLASS_NAMES[k]));
        nn_image_shard s;
        memset(&s, 0, sizeof s);
        s.height = train.images.dims[1];
        s.width = train.images.dims[2];
        s.channels = 1;
        s.classes = 10;
        s.class_names = names;
        s.nsplits = 2;
        strcpy(s.split[0].name, "train");
        s.split[0].n = train.images.dims[0];
        s.split[0].label = train.labels.data;
        s.split[0].pixels = train.images.data;
        strcpy(s.split[1].name, "test");
        s.split[1].n = test.images.dims[0];
        s.split[1].label = test.labels.data;
        s.split[1].pixels = test.images.data;
        rc = nn_image_shard_write(&s, &shard, &shard_len, &err);
    }
    if (!rc) rc = nn_write_file(out, shard, shard_len, &err);
    if (!rc) {
        /* Read back what was written, the way the trainer will. */
        uint8_t *back = NULL;
        size_t back_len = 0;
        nn_image_shard check;
        rc = nn_read_file(out, &back, &back_len, &err);
        if (!rc) rc = nn_image_shard_parse(&check, back, back_len, &err);
        if (!rc && !quiet)
            printf("fashion_build_shard: wrote %s (%zu bytes, crc32 %08x): %u x %u images, "
                   "%u classes, train %u, test %u\n", out, back_len, nn_crc32(0, back, back_len),
                   check.height, check.width, check.classes, check.split[0].n, check.split[1].n);
        free(back);
    }
    free(shard);
    free(train.ibuf), free(train.lbuf), free(test.ibuf), free(test.lbuf);
    if (rc) {
        fprintf(stderr, "fashion_build_shard: %s\n", err.msg);
        return 1;
    }
    return 0;
}
