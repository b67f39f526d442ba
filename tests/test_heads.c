/* test_heads.c: the text models' output head over K classes
 * (engine/model_head.c). With K == 2 the K-class entry points agree with
 * the two-class ones bit for bit (scores, explanations); with K >= 3 the
 * class probabilities add up to 1 and the top class is the largest logit's,
 * each occlusion contribution is the drop in P(class) that a forward pass
 * without the word shows, and the n-gram model's shares add up to P(class)
 * minus its no-feature score. A 4-class corpus (synthetic.h: each class has
 * its own words) is learned end to end by every model family with a fixed
 * seed, the same history twice. What reads one probability (the
 * diagnosis, the word map's effects) refuses a K-class model with a
 * message; the review box's explanation is about the top class.
 * (The K-class heads' gradients are checked
 * by finite differences in test_layers_gradcheck.c and test_ngram.c.) */
#include "check.h"
#include "diagnosis.h"
#include "nn.h"
#include "review_text.h"
#include "synthetic.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const MODELS[] = {"bag", "lstm", "gru", "bilstm", "bigru", "ngram"};
static const int MODEL_IDS[] = {NN_MODEL_BAG, NN_MODEL_LSTM, NN_MODEL_GRU, NN_MODEL_BILSTM, NN_MODEL_BIGRU,
                                NN_MODEL_NGRAM};
enum { NMODELS = 6 };

static synthetic data2, data4;

static nn_config small_config(int model, uint32_t K) {
    nn_config c;
    nn_config_default(&c);
    c.model = model;
    c.classes = K;
    c.vocab_size = 64;
    c.maxlen = 24;
    c.embed_dim = 8;
    c.hidden = 8;
    c.batch_size = 32;
    c.epochs = 12;
    c.val_size = 200;
    c.lr = 0.01f;
    c.seed = 3;
    if (model == NN_MODEL_NGRAM) {
        c.bigrams = 200;
        c.nb_weighting = 1;
        c.lr = 0.05f;
    }
    return c;
}

/* A model with random weights (larger than init's, so every class and
 * word matters); ngram: its bigrams from the shard's training reviews. */
static nn_model *random_model(int model, uint32_t K, nn_trainer **keep) {
    nn_config c = small_config(model, K);
    nn_error err = {0};
    nn_trainer *t = NULL;
    if (!check(nn_trainer_create(&t, &c, K == 2 ? &data2.shard : &data4.shard, &err) == NN_OK,
               "%s K=%u trainer %s", MODELS[model == NN_MODEL_NGRAM ? 5 : model], K, err.msg))
        return NULL;
    nn_model *m = nn_trainer_model(t);
    nn_rng r;
    nn_rng_seed(&r, 17 + K);
    size_t trainable = model == NN_MODEL_NGRAM ? m->tensor[3].offset : m->nparams;
    for (size_t i = 0; i < trainable; i++) m->params[i] = nn_rng_uniform(&r, -1.0f, 1.0f);
    *keep = t;
    return m;
}

/* A ragged review: ids 1 (START) then n words of the 4 classes' blocks and filler. */
static size_t review(uint32_t *ids, size_t n, uint32_t salt) {
    ids[0] = NN_START;
    for (size_t i = 1; i <= n; i++) ids[i] = 4 + (uint32_t)((i * 7 + salt * 13) % 60);
    return n + 1;
}

static void two_classes_agree(void) {
    for (int k = 0; k < NMODELS; k++) {
        nn_trainer *t;
        nn_model *m = random_model(MODEL_IDS[k], 2, &t);
        if (!m) continue;
        uint32_t ids[40];
        size_t n = review(ids, 17, (uint32_t)k);
        float c1[40], cc1[40], cc0[40];
        float p = nn_model_explain(m, ids, n, c1);
        float p1 = nn_model_explain_class(m, ids, n, 1, cc1);
        float p0 = nn_model_explain_class(m, ids, n, 0, cc0);
        int same = !memcmp(&p, &p1, sizeof p) && !memcmp(c1, cc1, n * sizeof *c1);
        double worst = fabs((1.0 - p) - p0);
        for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(cc0[i] + c1[i]));
        check(nn_model_classes(m) == 2 && same && worst < 1e-6,
              "%s K=2: explain_class(1) is explain bit for bit; class 0 is 1 - p, contributions negated "
              "(maxdiff %.1e)", MODELS[k], worst);
        static const char TEXT[] = "w4 w5 w9 w30 w31 w32 w4";
        float probs[2];
        float ps = nn_model_score_text(m, &data2.shard.vocab, NULL, TEXT, sizeof TEXT - 1);
        uint32_t top = nn_model_score_text_classes(m, &data2.shard.vocab, NULL, TEXT, sizeof TEXT - 1, probs);
        check(!memcmp(&probs[1], &ps, sizeof ps) && probs[0] == 1.0f - ps && top == (ps > 0.5f),
              "%s K=2: score_text_classes is {1 - p, p} = {%.4f, %.4f}, top %u", MODELS[k], probs[0], probs[1],
              top);
        nn_trainer_free(t);
    }
}

static void k_classes_explain(void) {
    enum { K = 4 };
    for (int k = 0; k < NMODELS; k++) {
        nn_trainer *t;
        nn_model *m = random_model(MODEL_IDS[k], K, &t);
        if (!m) continue;
        const nn_config *c = &m->cfg;
        static const char TEXT[] = "w4 w11 w20 w5 w40 w41 w12 w13";
        float probs[K];
        uint32_t top = nn_model_score_text_classes(m, &data4.shard.vocab, NULL, TEXT, sizeof TEXT - 1, probs);
        double sum = 0;
        uint32_t best = 0;
        for (uint32_t j = 0; j < K; j++) {
            sum += probs[j];
            if (probs[j] > probs[best]) best = j;
        }
        check(nn_model_classes(m) == K && fabs(sum - 1.0) < 1e-5 && top == best,
              "%s K=4: class probabilities add up to 1 (%.7f), top class %u is the largest", MODELS[k], sum, top);
        /* P(class 1) is what nn_model_score_text answers. */
        float p1 = nn_model_score_text(m, &data4.shard.vocab, NULL, TEXT, sizeof TEXT - 1);
        check(fabsf(p1 - probs[1]) < 1e-6f, "%s K=4: score_text is P(class 1) (%.6f vs %.6f)", MODELS[k], p1,
              probs[1]);

        /* Occlusion by hand: the review without word i, a forward pass. */
        uint32_t ids[40], cut[40];
        size_t n = review(ids, 21, 3 + (uint32_t)k);
        double worst = 0, add = 0;
        for (uint32_t cls = 0; cls < K; cls++) {
            float contrib[40];
            float p = nn_model_explain_class(m, ids, n, cls, contrib);
            float pcheck = nn_model_explain_class(m, ids, n, cls, NULL);
            worst = fmax(worst, fabs(p - pcheck));
            if (MODEL_IDS[k] == NN_MODEL_NGRAM) {
                /* Shares: they add up to P(cls) - P(cls | no features). */
                uint32_t empty[1] = {NN_PAD};
                float p0 = nn_model_explain_class(m, empty, 1, cls, NULL);
                double s = 0;
                for (size_t i = 0; i < n; i++) s += contrib[i];
                add = fmax(add, fabs(s - (p - p0)));
                continue;
            }
            for (size_t i = 0; i < n; i++) {
                long pos = nn_padded_position(i, n, c);
                if (pos < 0) continue;
                memcpy(cut, ids, n * sizeof *ids);
                cut[i] = NN_PAD;
                float q = nn_model_explain_class(m, cut, n, cls, NULL);
                worst = fmax(worst, fabs(contrib[i] - (p - q)));
            }
        }
        if (MODEL_IDS[k] == NN_MODEL_NGRAM)
            check(worst < 1e-6 && add < 1e-5, "ngram K=4: shares toward each class add up to P(cls) - P0 (maxdiff %.1e)",
                  add);
        else
            check(worst < 2e-6, "%s K=4: contributions toward each class are occlusions (maxdiff %.1e)", MODELS[k],
                  worst);
        nn_trainer_free(t);
    }
}

/* Trains to the end; the history and the test accuracy. */
static uint32_t train(const nn_config *c, const nn_shard *s, nn_epoch_log *hist, float *test_acc) {
    nn_trainer *t;
    nn_error err = {0};
    if (nn_trainer_create(&t, c, s, &err)) {
        check(0, "trainer_create %s", err.msg);
        return 0;
    }
    nn_progress p;
    do {
        if (nn_trainer_run(t, 7, &p, &err)) {
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
    return n;
}

static void k_classes_learn(void) {
    for (int k = 0; k < NMODELS; k++) {
        nn_config c = small_config(MODEL_IDS[k], 4);
        if (MODEL_IDS[k] != NN_MODEL_BAG && MODEL_IDS[k] != NN_MODEL_NGRAM) c.epochs = 6;
        nn_epoch_log h1[16], h2[16];
        float acc1 = 0, acc2 = 0;
        uint32_t n1 = train(&c, &data4.shard, h1, &acc1);
        uint32_t n2 = train(&c, &data4.shard, h2, &acc2);
        if (!n1) continue;
        const nn_epoch_log *first = &h1[0], *end = &h1[n1 - 1];
        /* Chance is 0.25 and log(4) = 1.386 at the start. */
        check(end->val_acc > 0.85f && acc1 > 0.85f && end->val_loss < 0.6f * first->val_loss,
              "%s learns 4 classes: val_loss %.3f -> %.3f, val_acc %.3f, test_acc %.3f", MODELS[k],
              first->val_loss, end->val_loss, end->val_acc, acc1);
        check(n1 == n2 && !memcmp(h1, h2, n1 * sizeof *h1) && !memcmp(&acc1, &acc2, sizeof acc1),
              "%s 4 classes: the same seed gives the same history bit for bit", MODELS[k]);
    }
    /* A 4-class config on the 2-class shard, and the other way round. */
    nn_trainer *t = NULL;
    nn_error err = {0};
    nn_config c = small_config(NN_MODEL_BAG, 4);
    check(nn_trainer_create(&t, &c, &data2.shard, &err) == NN_ERR_ARG && !t && strstr(err.msg, "classes"),
          "a 4-class bag on a 2-class shard is refused: %s", err.msg);
    c.classes = 2;
    check(nn_trainer_create(&t, &c, &data4.shard, &err) == NN_ERR_ARG && !t && strstr(err.msg, "classes"),
          "a 2-class bag on a 4-class shard is refused: %s", err.msg);
    /* A label outside 0..K-1 in the shard. */
    uint8_t saved = data4.labels[0][5];
    data4.labels[0][5] = 4;
    c.classes = 4;
    check(nn_trainer_create(&t, &c, &data4.shard, &err) == NN_ERR_FORMAT && !t && strstr(err.msg, "label 4"),
          "a training label 4 of 4 classes is refused: %s", err.msg);
    data4.labels[0][5] = saved;
}

static void readers_of_one_probability(void) {
    nn_trainer *t;
    nn_model *m = random_model(NN_MODEL_BAG, 4, &t);
    if (!m) return;
    nn_error err = {0};
    nn_diagnosis *d = NULL;
    uint32_t n;
    const float *label;
    const uint16_t *ids = nn_trainer_set(t, "val", &n, &label, NULL);
    check(nn_diagnosis_create_padded(&d, m, ids, label, n, &err) == NN_ERR_ARG && !d && strstr(err.msg, "4 classes"),
          "the diagnosis refuses a 4-class model: %s", err.msg);
    nn_embed_history *h = NULL;
    uint32_t counts[64] = {0};
    check(nn_embed_history_create(&h, m, counts, 1 << 20, 20, 1000, &err) == NN_ERR_ARG && !h &&
              strstr(err.msg, "4 classes"),
          "the word map's history refuses a 4-class model: %s", err.msg);
    static const char TEXT[] = "w4 w11 w20 w5 w40 w41 w12 w13 w22";
    float probs[4];
    uint32_t top = nn_model_score_text_classes(m, &data4.shard.vocab, NULL, TEXT, sizeof TEXT - 1, probs);
    nn_review_text r = {0};
    int k = nn_review_explain_text(&r, m, NULL, &data4.shard.vocab, NULL, TEXT, sizeof TEXT - 1, 0, &err);
    check(k == 9 && r.cls == top && r.score == probs[top],
          "the review box explains a 4-class review toward its top class %u (P %.4f; got class %u, %.4f)", top,
          probs[top], r.cls, r.score);
    nn_review_text_free(&r);
    nn_trainer_free(t);
}

int main(void) {
    synthetic_make(&data2, 1200, 400);
    synthetic_make_classes(&data4, 1200, 400, 4);
    nn_error err = {0};
    if (nn_vocab_index(&data2.shard.vocab, &err) || nn_vocab_index(&data4.shard.vocab, &err)) {
        check(0, "vocabulary index %s", err.msg);
        return check_exit_code();
    }
    two_classes_agree();
    k_classes_explain();
    k_classes_learn();
    readers_of_one_probability();
    nn_shard_free(&data2.shard);
    nn_shard_free(&data4.shard);
    synthetic_free(&data2);
    synthetic_free(&data4);
    return check_exit_code();
}
