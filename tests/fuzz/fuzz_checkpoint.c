/* fuzz_checkpoint.c: libFuzzer target for nn_checkpoint_read
 * (engine/checkpoint.c).
 *
 * Each input is read twice: as it is, and as a copy whose blob length and
 * CRC-32 are repaired (fuzz_fix_checkpoint), so mutations reach the JSON,
 * config, tensor-table and vocabulary checks. When a read succeeds, the
 * model is used the way the page and imdb_predict use it: a fixed text and a
 * text made of the checkpoint's own words are scored (nn_model_score_text)
 * and explained (nn_model_explain); a score must lie in [0, 1] (or be NaN
 * when the stored parameters are not finite). Then the loaded checkpoint is
 * written and read again: that must succeed, keep every parameter bit, the
 * config and every word, and writing it once more must give the same bytes.
 *
 * Not covered: the CLI's file reading (engine/cli/fileio.c). */
#include "fuzz_common.h"

#include <math.h>

static void checkpoint_score(nn_model *m, const nn_vocab *v, const char *text, size_t len) {
    float s = nn_model_score_text(m, v, NULL, text, len);
    FUZZ_REQUIRE(isnan(s) || (s >= 0.0f && s <= 1.0f), "score %g", (double)s);
    uint32_t ids[64];
    size_t n = nn_encode_text(v, text, len, m->cfg.vocab_size, ids, 64);
    if (n > 64) n = 64;
    for (size_t i = 0; i < n; i++)
        FUZZ_REQUIRE(ids[i] < m->cfg.vocab_size, "encoded id %u, vocab_size %u", ids[i], m->cfg.vocab_size);
    float contrib[64];
    float e = nn_model_explain(m, ids, n, contrib);
    FUZZ_REQUIRE(isnan(e) || (e >= 0.0f && e <= 1.0f), "explained score %g", (double)e);
}

/* "w4 w5 ... " from the checkpoint's own words (at most 12 of them). */
static size_t checkpoint_own_words(const nn_vocab *v, char *out, size_t cap) {
    size_t at = 0;
    for (uint32_t id = NN_FIRST_WORD; id < v->V && id < NN_FIRST_WORD + 12; id++) {
        size_t n;
        const char *w = nn_vocab_word(v, id, &n);
        if (at + n + 1 > cap) break;
        memcpy(out + at, w, n);
        at += n;
        out[at++] = ' ';
    }
    return at;
}

static void checkpoint_same(const nn_checkpoint *a, const nn_checkpoint *b) {
    const nn_model *x = a->model, *y = b->model;
    FUZZ_REQUIRE(x->nparams == y->nparams, "nparams %zu became %zu", x->nparams, y->nparams);
    FUZZ_REQUIRE(memcmp(x->params, y->params, x->nparams * sizeof(float)) == 0,
                 "parameters changed in a write and read");
    char *cx = nn_config_to_json(&x->cfg), *cy = nn_config_to_json(&y->cfg);
    FUZZ_REQUIRE(cx && cy && strcmp(cx, cy) == 0, "config %s became %s", cx, cy);
    free(cx);
    free(cy);
    FUZZ_REQUIRE(a->vocab.V == b->vocab.V && a->vocab_crc == b->vocab_crc, "vocabulary header changed");
    for (uint32_t id = 0; id < a->vocab.V; id++) {
        size_t n, m;
        const char *w = nn_vocab_word(&a->vocab, id, &n), *u = nn_vocab_word(&b->vocab, id, &m);
        FUZZ_REQUIRE(n == m && memcmp(w, u, n) == 0, "word %u changed", id);
    }
    FUZZ_REQUIRE(a->nhist == b->nhist, "history of %u epochs became %u", a->nhist, b->nhist);
}

static void checkpoint_check_one(const uint8_t *buf, size_t len) {
    nn_checkpoint c;
    nn_error err = {0};
    int rc = nn_checkpoint_read(&c, buf, len, &err);
    if (rc != NN_OK) {
        FUZZ_REQUIRE(c.model == NULL && err.code == rc && err.msg[0], "failure %d without a message", rc);
        return;
    }
    nn_model *m = c.model;
    int images = m && m->cfg.model == NN_MODEL_MLP;
    FUZZ_REQUIRE(m && c.vocab.V == (images ? 0 : m->cfg.vocab_size), "vocabulary of %u words, vocab_size %u",
                 c.vocab.V, m ? m->cfg.vocab_size : 0);
    if (images) {
        /* An image model: predict one grey image; text scores NaN. */
        uint8_t *px = malloc(m->cfg.input_dim);
        float *probs = malloc(m->cfg.classes * sizeof *probs);
        FUZZ_REQUIRE(px && probs, "out of memory");
        memset(px, 128, m->cfg.input_dim);
        uint32_t k = nn_model_predict_image(m, px, probs);
        FUZZ_REQUIRE(k < m->cfg.classes, "predicted class %u of %u", k, m->cfg.classes);
        FUZZ_REQUIRE(isnan(nn_model_score_text(m, &c.vocab, NULL, "good", 4)), "an image model scored text");
        free(px);
        free(probs);
    } else {
        static const char text[] = "The film was good, not bad.<br />It's a caf\xc3\xa9 story \xf0\x9f\x98\x80!";
        checkpoint_score(m, &c.vocab, text, sizeof text - 1);
        char own[1024];
        checkpoint_score(m, &c.vocab, own, checkpoint_own_words(&c.vocab, own, sizeof own));
    }

    uint8_t *out = NULL, *out2 = NULL;
    size_t out_len = 0, out2_len = 0;
    rc = nn_checkpoint_write(m, &c.vocab, c.vocab_crc, c.hist, c.nhist, &out, &out_len, &err);
    FUZZ_REQUIRE(rc == NN_OK, "a loaded checkpoint does not write back: %s", err.msg);
    nn_checkpoint again;
    rc = nn_checkpoint_read(&again, out, out_len, &err);
    FUZZ_REQUIRE(rc == NN_OK, "a written checkpoint does not read back: %s", err.msg);
    checkpoint_same(&c, &again);
    rc = nn_checkpoint_write(again.model, &again.vocab, again.vocab_crc, again.hist, again.nhist,
                             &out2, &out2_len, &err);
    FUZZ_REQUIRE(rc == NN_OK && out2_len == out_len && memcmp(out, out2, out_len) == 0,
                 "writing a checkpoint twice gives different bytes");
    free(out);
    free(out2);
    nn_checkpoint_free(&again);
    nn_checkpoint_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *buf = fuzz_copy(data, size);
    FUZZ_REQUIRE(buf != NULL, "out of memory");
    checkpoint_check_one(buf, size);
    if (size >= 32) {
        fuzz_fix_checkpoint(buf, size);
        checkpoint_check_one(buf, size);
    }
    free(buf);
    return 0;
}
