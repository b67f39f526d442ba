/* test_attention_view.c: engine/attention_view.c, what the page's attention
 * view reads (nnw_attention*), natively on the synthetic vocabulary:
 * a typed text's attention over the window of its own positions, every row
 * summing to 1 (so padding, outside the window, gets nothing), the window
 * holding <START> and the words in order with their byte spans, for 'post'
 * and 'pre' padding, stop words left out, 'pre' truncation keeping the last
 * maxlen ids; each block's probabilities are nn_transformer_attention's of
 * that pass; the score is nn_model_score_text's; another model kind is
 * refused with NN_ERR_STATE. */
#include "attention_view.h"
#include "check.h"
#include "nn.h"
#include "result_layouts.h"
#include "stopwords.h"
#include "synthetic.h"
#include "transformer.h"

#include <math.h>
#include <string.h>

static synthetic data;

static nn_config tiny(void) {
    nn_config c;
    nn_config_default(&c);
    c.model = NN_MODEL_TRANSFORMER;
    c.padding = NN_PAD_POST;
    c.truncating = NN_PAD_PRE;
    c.vocab_size = 64;
    c.maxlen = 12;
    c.embed_dim = 8;
    c.heads = 2;
    c.blocks = 2;
    c.ff_dim = 16;
    c.batch_size = 16;
    c.epochs = 1;
    c.val_size = 50;
    c.train_size = 200;
    c.seed = 3;
    return c;
}

/* Every row of every block and head sums to 1, and the values are in [0, 1]. */
static int rows_sum_to_one(const nn_attention_view *v) {
    size_t W = v->W;
    for (size_t r = 0; r < (size_t)v->L * v->NH * W; r++) {
        double sum = 0;
        for (size_t j = 0; j < W; j++) {
            float a = v->att[r * W + j];
            if (!(a >= 0.0f && a <= 1.0f)) return 0;
            sum += a;
        }
        if (fabs(sum - 1.0) > 1e-5) return 0;
    }
    return 1;
}

/* The window's tokens as "id@start-end" joined, for comparing. */
static void describe(const nn_attention_view *v, char *out, size_t cap) {
    size_t at = 0;
    out[0] = 0;
    for (uint32_t p = 0; p < v->W && at < cap; p++) {
        const float *row = v->tokens + (size_t)p * NN_ATTENTION_TOKEN_ROW_LEN;
        at += (size_t)snprintf(out + at, cap - at, "%s%d@%d-%d", p ? " " : "", (int)row[NN_ATTENTION_TOKEN_ROW_ID],
                               (int)row[NN_ATTENTION_TOKEN_ROW_START], (int)row[NN_ATTENTION_TOKEN_ROW_END]);
    }
}

static void one(const char *what, nn_config cfg, const nn_stopwords *stop, const char *text, const char *want,
                uint32_t want_start) {
    nn_trainer *t = NULL;
    nn_error err = {0};
    if (nn_trainer_create(&t, &cfg, &data.shard, &err)) {
        check(0, "%s: trainer_create %s", what, err.msg);
        return;
    }
    nn_model *m = nn_trainer_model(t);
    nn_attention_view v = {0};
    int W = nn_attention_view_text(&v, m, &data.shard.vocab, stop, text, strlen(text), &err);
    char got[512];
    if (W > 0) describe(&v, got, sizeof got);
    check(W > 0 && !strcmp(got, want) && v.start == want_start, "%s: the window holds %s from position %u (got %s from %u)",
          what, want, want_start, W > 0 ? got : err.msg, v.start);
    check(W > 0 && v.L == cfg.blocks && v.NH == cfg.heads && rows_sum_to_one(&v),
          "%s: %u blocks x %u heads of %d rows, each summing to 1 over the window", what, v.L, v.NH, W);
    /* The last block's probabilities are the model's own of this pass. */
    uint32_t s = 0, w = 0;
    const float *last = nn_transformer_attention(m, cfg.blocks - 1, &s, &w);
    size_t per = (size_t)cfg.heads * w * w;
    check(W > 0 && last && w == (uint32_t)W && s == v.start && !memcmp(last, v.att + per * (cfg.blocks - 1), per * sizeof *last),
          "%s: block %u is nn_transformer_attention's", what, cfg.blocks);
    float score = nn_model_score_text(m, &data.shard.vocab, stop, text, strlen(text));
    check(W > 0 && v.score == score, "%s: the score %.6f is nn_model_score_text's %.6f", what, v.score, score);
    nn_attention_view_free(&v);
    nn_trainer_free(t);
}

int main(void) {
    synthetic_make(&data, 300, 20);
    nn_error verr = {0};
    check(nn_vocab_index(&data.shard.vocab, &verr) == NN_OK, "synthetic vocabulary indexes %s", verr.msg);
    const char *text = "w5 w9, w12 w4!";
    one("post padding", tiny(), NULL, text, "1@-1--1 5@0-2 9@3-5 12@7-10 4@11-13", 0);
    nn_config pre = tiny();
    pre.padding = NN_PAD_PRE;
    one("pre padding", pre, NULL, text, "1@-1--1 5@0-2 9@3-5 12@7-10 4@11-13", 12 - 5);
    nn_stopwords stop;
    memset(&stop, 0, sizeof stop);
    nn_error err = {0};
    if (nn_stopwords_build(&stop, "w9", &data.shard.vocab, &err)) check(0, "stop words: %s", err.msg);
    else one("stop words", tiny(), &stop, text, "1@-1--1 5@0-2 12@7-10 4@11-13", 0);
    nn_stopwords_free(&stop);
    nn_config cut = tiny();
    cut.maxlen = 3;
    cut.truncating = NN_PAD_PRE;
    one("pre truncation", cut, NULL, text, "9@3-5 12@7-10 4@11-13", 0);
    nn_config big = tiny();
    big.vocab_size = 10; /* w12 is past it: <UNK> */
    one("<UNK>", big, NULL, text, "1@-1--1 5@0-2 9@3-5 2@7-10 4@11-13", 0);

    nn_config bag = tiny();
    bag.model = NN_MODEL_BAG;
    nn_trainer *t = NULL;
    if (nn_trainer_create(&t, &bag, &data.shard, &err)) {
        check(0, "bag trainer_create %s", err.msg);
    } else {
        nn_attention_view v = {0};
        int W = nn_attention_view_text(&v, nn_trainer_model(t), &data.shard.vocab, NULL, text, strlen(text), &err);
        check(W == -1 && err.code == NN_ERR_STATE && strstr(err.msg, "transformer"),
              "a bag model is refused with NN_ERR_STATE naming the transformer (%s)", err.msg);
        nn_attention_view_free(&v);
        nn_trainer_free(t);
    }
    nn_vocab_free_index(&data.shard.vocab);
    synthetic_free(&data);
    return check_exit_code();
}
