/* test_review_text.c: what the wasm boundary moved into the engine, checked
 * natively on the synthetic task.
 *
 * review_text.c: a stored review decodes to its words joined by spaces (ids
 * past the model's vocabulary as <UNK>, <START> left out); its rows' spans
 * index that text; explaining it gives the score nn_model_explain gives its
 * ids, stop words keep a row with id -1, and the words maxlen cuts are
 * exactly those nn_pad_review drops (id -2), for 'pre' and 'post'
 * truncation; typed text explains like the decoded review it spells.
 * run.c: nn_run trains to the end, then its test result equals
 * nn_trainer_evaluate of the same trainer, in any slicing. diagnosis.c:
 * nn_diagnosis_model scores with the weights given, while the trainer's own
 * model keeps its weights. word2vec.c: nn_w2v_check_config refuses vectors
 * of other settings. train.c: nn_trainer_from_checkpoint carries a
 * checkpoint's weights and refuses another vocabulary. */
#include "check.h"
#include "diagnosis.h"
#include "nn.h"
#include "result_layouts.h"
#include "review_text.h"
#include "temperature.h"
#include "metrics.h"
#include "synthetic.h"
#include "word2vec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static synthetic data;

static nn_config small_config(void) {
    nn_config c;
    nn_config_default(&c);
    c.vocab_size = 40; /* ids 40..63 of the synthetic reviews become <UNK> */
    c.maxlen = 12;     /* reviews have 10..29 tokens: most are cut */
    c.embed_dim = 8;
    c.hidden = 8;
    c.batch_size = 32;
    c.epochs = 3;
    c.val_size = 100;
    c.train_size = 300;
    c.seed = 5;
    return c;
}

static nn_trainer *trained(const nn_config *cfg, uint32_t slice, nn_run *run) {
    nn_trainer *t = NULL;
    nn_error err = {0};
    if (nn_trainer_create(&t, cfg, &data.shard, &err)) {
        check(0, "trainer_create %s", err.msg);
        return NULL;
    }
    if (run) {
        nn_run_init(run, t);
        int steps = 0;
        while (!run->p.test_done && steps++ < 100000)
            if (nn_run_step(run, slice, &err)) {
                check(0, "nn_run_step %s", err.msg);
                break;
            }
        return t;
    }
    nn_progress p;
    do nn_trainer_run(t, slice, &p, &err);
    while (!p.finished);
    return t;
}

/* The text of review i by hand: words of ids < V (else <UNK>), spaces. */
static void decode_by_hand(char *out, const nn_split *sp, uint32_t i, uint32_t V) {
    out[0] = 0;
    for (uint32_t j = sp->offset[i]; j < sp->offset[i + 1]; j++) {
        uint32_t id = sp->tokens[j];
        if (id == NN_START || id == NN_PAD) continue;
        size_t len;
        const char *w = nn_vocab_word(&data.shard.vocab, id < V ? id : NN_UNK, &len);
        if (out[0]) strcat(out, " ");
        strncat(out, w, len);
    }
}

static void check_stored(nn_trainer *t, int truncating) {
    nn_model *m = nn_trainer_model(t);
    m->cfg.truncating = truncating; /* the rule is read from the config at each call */
    const nn_split *sp = nn_shard_find(&data.shard, "test");
    nn_review_text r = {0};
    nn_error err = {0};
    int texts_ok = 1, spans_ok = 1, cut_ok = 1, score_ok = 1, typed_ok = 1;
    for (uint32_t i = 0; i < 40; i++) {
        char want[1024];
        decode_by_hand(want, sp, i, m->cfg.vocab_size);
        if (nn_review_decode(&r, sp, i, &data.shard.vocab, m->cfg.vocab_size, &err) != NN_OK ||
            strcmp(r.text, want))
            texts_ok = 0;
        int k = nn_review_explain_stored(&r, m, NULL, sp, i, &data.shard.vocab, NULL, &err);
        uint32_t len = sp->offset[i + 1] - sp->offset[i];
        if (k != (int)len - 1 || strcmp(r.text, want)) {
            texts_ok = 0;
            continue;
        }
        /* The ids the model reads, and which positions padding keeps. */
        uint32_t ids[64];
        size_t n = 0;
        ids[n++] = NN_START;
        for (uint32_t j = sp->offset[i] + 1; j < sp->offset[i + 1]; j++) {
            uint32_t id = sp->tokens[j];
            ids[n++] = id < m->cfg.vocab_size ? id : NN_UNK;
        }
        float contrib[64];
        float score = nn_model_explain(m, ids, n, contrib);
        score_ok &= score == r.score;
        uint16_t padded[64], marked[64];
        nn_pad_review_u32(padded, ids, n, &m->cfg);
        /* Pad the ids again with the cut ones as <PAD>: the same padded
         * review iff exactly the cut words were marked. */
        for (int w = 0; w < k; w++) {
            const float *row = r.rows + (size_t)w * NN_EXPLAIN_ROW_LEN;
            size_t a = (size_t)row[NN_EXPLAIN_ROW_START], b = (size_t)row[NN_EXPLAIN_ROW_END];
            size_t wl;
            const char *word = nn_vocab_word(&data.shard.vocab, ids[w + 1], &wl);
            spans_ok &= b - a == wl && !memcmp(r.text + a, word, wl);
            spans_ok &= row[NN_EXPLAIN_ROW_ID] == -2.0f || row[NN_EXPLAIN_ROW_ID] == (float)ids[w + 1];
            int cut = nn_padded_position((size_t)w + 1, n, &m->cfg) < 0;
            cut_ok &= cut == (row[NN_EXPLAIN_ROW_ID] == -2.0f);
            cut_ok &= !cut || row[NN_EXPLAIN_ROW_CONTRIBUTION] == 0.0f;
        }
        uint32_t kept[64];
        size_t nk = 0;
        for (size_t j = 0; j < n; j++)
            if (nn_padded_position(j, n, &m->cfg) >= 0) kept[nk++] = ids[j];
        /* the kept ids, padded alone, are the same padded review */
        nn_config whole = m->cfg;
        nn_pad_review_u32(marked, kept, nk, &whole);
        cut_ok &= !memcmp(padded, marked, m->cfg.maxlen * sizeof *padded);
        /* The decoded text typed in: the same rows and score. */
        char *text = malloc(r.len + 1);
        memcpy(text, r.text, r.len + 1);
        float *rows = malloc((size_t)k * NN_EXPLAIN_ROW_LEN * sizeof *rows);
        memcpy(rows, r.rows, (size_t)k * NN_EXPLAIN_ROW_LEN * sizeof *rows);
        float stored_score = r.score;
        int k2 = nn_review_explain_text(&r, m, NULL, &data.shard.vocab, NULL, text, strlen(text), 1, &err);
        typed_ok &= k2 == k && r.score == stored_score &&
                    !memcmp(rows, r.rows, (size_t)k * NN_EXPLAIN_ROW_LEN * sizeof *rows);
        free(text);
        free(rows);
    }
    const char *name = truncating == NN_PAD_PRE ? "pre" : "post";
    check(texts_ok, "truncating %s: 40 stored reviews decode to their words, <UNK> past vocab_size", name);
    check(spans_ok, "truncating %s: every row's span holds its word in the text", name);
    check(score_ok, "truncating %s: the explained score is nn_model_explain's of the review's ids", name);
    check(cut_ok, "truncating %s: exactly the words nn_pad_review drops are marked -2 (contribution 0)", name);
    check(typed_ok, "truncating %s: the decoded text typed in explains with the same rows and score", name);
    int rc = nn_review_decode(&r, sp, sp->n, &data.shard.vocab, 64, &err);
    check(rc == NN_ERR_ARG && strstr(err.msg, "out of range"), "review %u of %u refused: %s", sp->n, sp->n, err.msg);
    check(nn_review_explain_stored(&r, m, NULL, sp, sp->n + 5, &data.shard.vocab, NULL, &err) == -1,
          "explaining a review past the split refused");
    nn_review_text_free(&r);
}

static void check_stopwords(nn_trainer *t) {
    nn_model *m = nn_trainer_model(t);
    nn_stopwords stop;
    nn_error err = {0};
    /* the filler word w20 and the class word w4 are stop words */
    if (nn_stopwords_build(&stop, "w20 w4", &data.shard.vocab, &err) != NN_OK) {
        check(0, "stopwords_build %s", err.msg);
        return;
    }
    const nn_split *sp = nn_shard_find(&data.shard, "test");
    nn_review_text r = {0};
    int ok = 1, seen = 0;
    for (uint32_t i = 0; i < 40; i++) {
        int k = nn_review_explain_stored(&r, m, NULL, sp, i, &data.shard.vocab, &stop, &err);
        for (int w = 0; w < k; w++) {
            uint32_t id = sp->tokens[sp->offset[i] + 1 + w];
            float rid = r.rows[(size_t)w * NN_EXPLAIN_ROW_LEN + NN_EXPLAIN_ROW_ID];
            int stopped = id == 20 || id == 4;
            seen += stopped;
            ok &= stopped ? rid == -1.0f && r.rows[(size_t)w * NN_EXPLAIN_ROW_LEN + NN_EXPLAIN_ROW_CONTRIBUTION] == 0
                          : rid != -1.0f;
        }
    }
    check(ok && seen > 0, "stop words keep their row with id -1 (%d seen), others do not", seen);
    nn_review_text_free(&r);
    nn_stopwords_free(&stop);
}

static void check_run(void) {
    nn_config c = small_config();
    nn_run a, b;
    nn_error err = {0};
    trained(&c, 1000000, &a);
    trained(&c, 3, &b);
    /* the reference: the same run trained, then evaluated in one go */
    nn_trainer *t = trained(&c, 1000000, NULL);
    float loss = NAN, acc = NAN;
    nn_trainer_evaluate(t, "test", &loss, &acc, &err);
    uint32_t n;
    const nn_epoch_log *h = nn_trainer_history(t, &n);
    check(a.p.test_done && a.p.finished && a.p.epoch == 3 && a.p.test_loss == loss && a.p.test_acc == acc &&
              b.p.test_loss == loss && b.p.test_acc == acc && a.p.val_loss == h[2].val_loss &&
              b.p.loss == h[2].loss && !a.p.epoch_done,
          "nn_run: trains 3 epochs, then tests: test loss %.6f acc %.4f == nn_trainer_evaluate's %.6f %.4f in "
          "any slicing; the last epoch's numbers kept", a.p.test_loss, a.p.test_acc, loss, acc);
    int rc = nn_run_step(&a, 10, &err);
    check(rc == NN_OK && a.p.test_done && a.p.test_loss == loss, "nn_run: a step after the end changes nothing");

    /* The diagnosis model: another epoch's weights, the trainer's untouched. */
    nn_model *m = nn_trainer_model(t);
    float *zero = calloc(m->nparams, sizeof *zero);
    float *before = malloc(m->nparams * sizeof *before);
    memcpy(before, m->params, m->nparams * sizeof *before);
    nn_model *view = NULL;
    rc = nn_diagnosis_model(&view, m, zero, &err);
    uint32_t ids[3] = {NN_START, 5, 6};
    float contrib[3];
    float z = rc == NN_OK ? nn_model_explain(view, ids, 3, contrib) : NAN;
    check(rc == NN_OK && z == 0.5f && !memcmp(before, m->params, m->nparams * sizeof *before),
          "nn_diagnosis_model: zero weights score 0.5 (%g), the trainer's weights unchanged", (double)z);
    nn_model_free(view);
    rc = nn_diagnosis_model(&view, m, NULL, &err);
    check(rc == NN_OK && nn_model_explain(view, ids, 3, contrib) == nn_model_explain(m, ids, 3, contrib),
          "nn_diagnosis_model without params: the trainer's weights, the same score");
    nn_model_free(view);
    free(zero);
    free(before);
    nn_trainer_free(t);
    nn_run_free(&a);
    nn_run_free(&b);

    /* Without a test split: NaN, done. */
    synthetic small;
    synthetic_make(&small, 500, 10);
    small.shard.nsplits = 1;
    nn_trainer *tt = NULL;
    c.epochs = 1;
    if (nn_trainer_create(&tt, &c, &small.shard, &err) == NN_OK) {
        nn_run r;
        nn_run_init(&r, tt);
        int steps = 0;
        while (!r.p.test_done && steps++ < 1000) nn_run_step(&r, 100, &err);
        check(r.p.test_done && isnan(r.p.test_loss) && isnan(r.p.test_acc), "nn_run without a test split: NaN");
        nn_run_free(&r);
    } else {
        check(0, "trainer_create without test: %s", err.msg);
    }
    synthetic_free(&small);
}

/* nn_trainer_from_checkpoint: the weights come back exactly; another
 * vocabulary, or an image model without images, is refused. */
static void check_checkpoint(nn_trainer *t) {
    nn_error err = {0};
    nn_model *m = nn_trainer_model(t);
    uint8_t *buf = NULL;
    size_t len = 0;
    data.shard.vocab_crc = 0x1234;
    nn_checkpoint ck = {0};
    if (nn_checkpoint_write(m, &data.shard.vocab, data.shard.vocab_crc, NULL, 0, &buf, &len, &err) != NN_OK ||
        nn_checkpoint_read(&ck, buf, len, &err) != NN_OK) {
        check(0, "checkpoint write/read: %s", err.msg);
        free(buf);
        return;
    }
    nn_trainer *back = NULL;
    int rc = nn_trainer_from_checkpoint(&back, &ck, &data.shard, NULL, &err);
    check(rc == NN_OK && back && nn_trainer_model(back)->nparams == m->nparams &&
              !memcmp(nn_trainer_model(back)->params, m->params, m->nparams * sizeof(float)),
          "nn_trainer_from_checkpoint: a trainer with the checkpoint's weights, bit for bit");
    nn_trainer_free(back);
    data.shard.vocab_crc = 0x4321;
    rc = nn_trainer_from_checkpoint(&back, &ck, &data.shard, NULL, &err);
    check(rc == NN_ERR_ARG && !back && strstr(err.msg, "another vocabulary"), "another vocabulary refused: %s",
          err.msg);
    ck.model->cfg.model = NN_MODEL_MLP;
    rc = nn_trainer_from_checkpoint(&back, &ck, &data.shard, NULL, &err);
    check(rc == NN_ERR_ARG && !back && strstr(err.msg, "image model"), "an image model without images refused: %s",
          err.msg);
    data.shard.vocab_crc = 0;
    nn_checkpoint_free(&ck);
    free(buf);
}

static void check_word_vectors(void) {
    nn_config a, b;
    nn_config_default(&a);
    nn_config_default(&b);
    nn_error err = {0};
    check(nn_w2v_check_config(&a, &b, &err) == NN_OK, "word vectors of the same settings suit");
    b.w2v_window = 7;
    int rc = nn_w2v_check_config(&a, &b, &err);
    check(rc == NN_ERR_STATE && strstr(err.msg, "pretrain them again"), "another w2v_window refused: %s", err.msg);
    b = a;
    b.embed_dim = 32;
    check(nn_w2v_check_config(&a, &b, &err) == NN_ERR_STATE, "another embed_dim refused");
    b = a;
    b.epochs = 3; /* training settings do not matter to the vectors */
    check(nn_w2v_check_config(&a, &b, &err) == NN_OK, "another epochs still suits");
    rc = nn_w2v_give(NULL, 0, NULL, &a, &err);
    check(rc == NN_ERR_STATE && strstr(err.msg, "no word vectors"), "no vectors: %s", err.msg);
}

/* The review box's temperatures: fitted in slices of one batch on the
 * validation reviews, the same as nn_fit_temperature of their logits
 * computed here in one go; a score is divided in logit units. */
static void check_temperature(nn_trainer *t) {
    nn_error err = {0};
    nn_model *m = nn_trainer_model(t);
    nn_temperature c = {0};
    if (!check(nn_temperature_begin(&c, t, &data.shard, &err) == NN_OK, "temperature_begin: %s", err.msg)) return;
    int steps = 0, done = 0;
    while (!done && steps < 1000) done = nn_temperature_step(&c, t, &data.shard, 1), steps++;
    uint32_t n;
    const float *label;
    const uint32_t *source;
    const uint16_t *x = nn_trainer_set(t, "val", &n, &label, &source);
    float *logit = malloc(n * sizeof *logit);
    uint8_t *y = malloc(n);
    for (uint32_t i = 0; i < n; i += m->Bmax) {
        uint32_t b = n - i < m->Bmax ? n - i : m->Bmax;
        nn_model_forward(m, x + (size_t)i * m->cfg.maxlen, b);
        memcpy(logit + i, m->logit, b * sizeof *logit);
    }
    for (uint32_t i = 0; i < n; i++) y[i] = label[i] == 1.0f;
    float want = (float)nn_fit_temperature(logit, y, n);
    check(done && steps == (int)((n + m->Bmax - 1) / m->Bmax), "temperature fitted in %d one-batch steps", steps);
    check(c.T == want && c.T > 0, "temperature of the whole reviews %.5f (in one go: %.5f)", c.T, want);
    check(c.T_short > 0, "temperature of the reviews cut to %d words: %.5f", NN_SHORT_WORDS, c.T_short);
    float p = 0.8f, z = logf(p / (1 - p));
    float long_p = nn_temperature_apply(&c, p, NN_SHORT_TEXT_MAX + 1), short_p = nn_temperature_apply(&c, p, 3);
    check(fabsf(long_p - 1 / (1 + expf(-z / c.T))) < 1e-6f, "a long text's score is divided by T: %.6f", long_p);
    check(fabsf(short_p - 1 / (1 + expf(-z / c.T_short))) < 1e-6f, "a short text's by T_short: %.6f", short_p);
    check(nn_temperature_for(&c, 3) == c.T_short && nn_temperature_for(&c, 1000) == c.T, "temperature_for by length");
    nn_temperature_free(&c);
    check(c.T == 0 && nn_temperature_apply(&c, p, 3) == p, "without a fit the score is unchanged");
    free(logit);
    free(y);
}

/* Issue 13: a text is judgeable when it has a word the model knows outside
 * the stop words (the model's and the English list). A vocabulary written
 * for this test: ids 4.. are "the", "film", "a", "good", "not". */
static void check_judgeable(nn_model *m) {
    static const char bytes[] = "<PAD><START><UNK><UNUSED>thefilmagoodnot";
    static uint32_t offset[] = {0, 5, 12, 17, 25, 28, 32, 33, 37, 40};
    static uint32_t count[] = {0, 0, 0, 0, 50, 40, 30, 20, 10};
    nn_vocab v = {0};
    v.V = 9;
    v.count = count;
    v.offset = offset;
    v.bytes = bytes;
    nn_error err = {0};
    if (!check(nn_vocab_index(&v, &err) == NN_OK, "judgeable: the test vocabulary indexes")) return;
    struct {
        const char *text;
        uint32_t num_words;
        size_t want;
    } cases[] = {
        {"the the the", 9, 0},     {"The THE the.", 9, 0},  {"", 9, 0},
        {"zzz qqq", 9, 0},         {"not", 9, 0},           {"a film", 9, 1},
        {"Good film, not bad", 9, 2}, {"good film", 7, 1}, /* "good" is id 7: <UNK> with 7 words */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t got = nn_review_judgeable(&v, NULL, cases[i].text, strlen(cases[i].text), cases[i].num_words);
        check(got == cases[i].want, "judgeable \"%s\" (%u words): %zu meaningful words (want %zu)", cases[i].text,
              cases[i].num_words, got, cases[i].want);
    }
    nn_stopwords stop = {0};
    if (check(nn_stopwords_build(&stop, "film", &v, &err) == NN_OK, "judgeable: stop word 'film' builds")) {
        size_t got = nn_review_judgeable(&v, &stop, "the film", 8, 9);
        check(got == 0, "judgeable \"the film\" with the model's stop word 'film': %zu (want 0)", got);
        nn_stopwords_free(&stop);
    }
    nn_vocab_free_index(&v);

    /* The explained review carries the same count (the synthetic model: vocab_size 40). */
    nn_review_text r = {0};
    const char *texts[] = {"w5 w50", "w50 w60", "w5 w6 w7"};
    size_t want[] = {1, 0, 3};
    for (int i = 0; i < 3; i++) {
        int k = nn_review_explain_text(&r, m, NULL, &data.shard.vocab, NULL, texts[i], strlen(texts[i]), 0, &err);
        size_t direct = nn_review_judgeable(&data.shard.vocab, NULL, texts[i], strlen(texts[i]), m->cfg.vocab_size);
        check(k >= 0 && r.judgeable == want[i] && direct == want[i],
              "explaining \"%s\": judgeable %u, nn_review_judgeable %zu (want %zu)", texts[i], r.judgeable, direct,
              want[i]);
    }
    nn_review_text_free(&r);
}

int main(void) {
    synthetic_make(&data, 600, 100);
    nn_error err = {0};
    check(nn_vocab_index(&data.shard.vocab, &err) == NN_OK, "synthetic vocabulary indexes");
    nn_config c = small_config();
    nn_trainer *t = trained(&c, 1000000, NULL);
    if (t) {
        check_stored(t, NN_PAD_PRE);
        check_stored(t, NN_PAD_POST);
        nn_trainer_model(t)->cfg.truncating = NN_PAD_PRE;
        check_stopwords(t);
        check_checkpoint(t);
        check_judgeable(nn_trainer_model(t));
        check_temperature(t);
        nn_trainer_free(t);
    }
    check_run();
    check_word_vectors();
    nn_vocab_free_index(&data.shard.vocab);
    synthetic_free(&data);
    return check_exit_code();
}
