/* test_stopwords.c: the stop-word setting (expansion, edits, errors, its
 * config key), the id filter, the filtered encoder, and that training and
 * scoring remove the same words: the trainer's padded reviews equal the
 * filtered encoding of the same reviews as text, which nn_model_score_text
 * scores. Checkpoints keep the
 * setting, and a checkpoint written before it existed still loads. */
#include "check.h"
#include "nn.h"
#include "stopwords.h"
#include "synthetic.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static int count_words(const char *s) {
    int n = 0, in = 0;
    for (; *s; s++) {
        if (*s == ' ') in = 0;
        else if (!in) in = 1, n++;
    }
    return n;
}

/* 1 when word is one of the space-separated words of list. */
static int has_word(const char *list, const char *word) {
    size_t n = strlen(word);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ' ');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && !memcmp(p, word, n)) return 1;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

/* spec on one line, for the check's message. */
static const char *one_line(const char *spec) {
    static char buf[64];
    size_t i = 0;
    for (; spec[i] && i < sizeof buf - 1; i++) buf[i] = spec[i] == '\n' || spec[i] == '\t' ? '~' : spec[i];
    buf[i] = 0;
    return buf;
}

static void expands(const char *spec, const char *want) {
    char *got = NULL;
    uint32_t n = 0;
    nn_error err = {0};
    int rc = nn_stopwords_expand(spec, &got, &n, &err);
    check(rc == NN_OK && got && !strcmp(got, want) && n == (uint32_t)count_words(want),
          "stopwords \"%s\" expands to \"%.60s\" (got \"%.60s\", %u words) %s", one_line(spec), want,
          got ? got : "(null)", n, err.msg);
    free(got);
}

static void refuses(const char *spec, const char *must1, const char *must2) {
    nn_error err = {0};
    char *got = (char *)1;
    int rc = nn_stopwords_expand(spec, &got, NULL, &err);
    int rc2 = nn_stopwords_check(spec, NULL);
    check(rc == NN_ERR_ARG && rc2 == NN_ERR_ARG && got == NULL && strstr(err.msg, must1) &&
              (!must2 || strstr(err.msg, must2)),
          "stopwords \"%.30s\" is refused naming \"%s\": %s", spec, must1, err.msg);
}

static void the_setting_expands_and_edits(void) {
    const char *en = nn_stopwords_english();
    check(count_words(en) == 179, "the built-in English list has NLTK's 179 words (%d)", count_words(en));
    int all = has_word(en, "the") && has_word(en, "not") && has_word(en, "no") &&
              has_word(en, "nor") && has_word(en, "don't") && has_word(en, "wouldn't");
    check(all, "it holds the, not, no, nor, don't, wouldn't");
    expands("@english", en);
    expands("@ENGLISH", en);
    expands("", "");
    expands("  ,, \n\t ", "");
    expands("The, A\nan\tTHE", "the a an");
    expands("e.g. Don't", "e g don't");
    expands("foo -foo", "");
    expands("foo bar -foo foo", "foo bar");
    expands("+foo -nothing", "foo");
    expands("caf\xc3\xa9 \xf0\x9f\x8e\xac", "caf\xc3\xa9 \xf0\x9f\x8e\xac");

    char *got = NULL;
    uint32_t n = 0;
    nn_error err = {0};
    check(nn_stopwords_expand("@english -not -no -nor +film", &got, &n, &err) == NN_OK && n == 177 &&
              !has_word(got, "not") && !has_word(got, "no") && !has_word(got, "nor") &&
              has_word(got, "film") && has_word(got, "don't") && !strncmp(got, "i me my", 7),
          "\"@english -not -no -nor +film\" is 177 words, in order, negations out %s", err.msg);
    free(got);

    refuses("@french", "\"@french\"", "@english");
    refuses("the !!! a", "\"!!!\"", "no word");
    refuses("the - a", "\"-\"", NULL);
    char long_spec[NN_STOPWORDS_SPEC_MAX + 8];
    memset(long_spec, 'a', sizeof long_spec - 1);
    long_spec[sizeof long_spec - 1] = 0;
    long_spec[NN_STOPWORDS_SPEC_MAX] = 0; /* exactly NN_STOPWORDS_SPEC_MAX bytes */
    refuses(long_spec, "2047", "@english");
    long_spec[NN_STOPWORDS_SPEC_MAX - 1] = 0;
    check(nn_stopwords_check(long_spec, NULL) == NN_OK, "a spec of %d bytes is accepted",
          NN_STOPWORDS_SPEC_MAX - 1);
}

static void the_config_key(void) {
    nn_config c;
    nn_config_default(&c);
    nn_error err = {0};
    check(c.stopwords[0] == 0, "the default has no stop words");
    int rc = nn_config_from_json(&c, "{\"stopwords\": \"@english -not\"}", &err);
    check(rc == NN_OK && !strcmp(c.stopwords, "@english -not"), "config key stopwords is set %s", err.msg);
    char *json = nn_config_to_json(&c);
    check(json && strstr(json, "\"stopwords\":\"@english -not\""), "and written back: %s", json);
    nn_config back;
    nn_config_default(&back);
    check(nn_config_from_json(&back, json, &err) == NN_OK && !strcmp(back.stopwords, c.stopwords),
          "and read back %s", err.msg);
    free(json);
    nn_config_default(&c);
    rc = nn_config_from_json(&c, "{\"stopwords\": 3}", &err);
    check(rc == NN_ERR_ARG && strstr(err.msg, "\"stopwords\"") && strstr(err.msg, "string") &&
              c.stopwords[0] == 0,
          "stopwords must be a string: %s", err.msg);
    rc = nn_config_from_json(&c, "{\"stopwords\": \"@nope\"}", &err);
    check(rc == NN_ERR_ARG && strstr(err.msg, "\"stopwords\"") && strstr(err.msg, "@nope"),
          "an unknown list is named: %s", err.msg);
    /* A struct whose string is not terminated (a fuzzer's raw bytes). */
    memset(c.stopwords, 'x', sizeof c.stopwords);
    rc = nn_config_check(&c, NULL, &err);
    check(rc == NN_ERR_ARG && strstr(err.msg, "stopwords"), "an unterminated string fails the check: %s", err.msg);
    json = nn_config_to_json(&c);
    check(json && strlen(json) < 4096, "and to_json stays inside the array (%zu bytes)", json ? strlen(json) : 0);
    free(json);
}

/* ------------------------------------------------------------- filtering */

static const char *const WORDS[] = {"<PAD>", "<START>", "<UNK>", "<UNUSED>", "the", "movie",
                                    "was", "not", "good", "don't", "bad", "a", "film", "rare"};
#define NW 14

static void make_vocab(nn_vocab *v, uint32_t *count, uint32_t *offset, char *bytes) {
    uint32_t at = 0;
    for (uint32_t i = 0; i < NW; i++) {
        offset[i] = at;
        memcpy(bytes + at, WORDS[i], strlen(WORDS[i]));
        at += (uint32_t)strlen(WORDS[i]);
        count[i] = i < 4 ? 0 : 100 - i;
    }
    offset[NW] = at;
    memset(v, 0, sizeof *v);
    v->V = NW;
    v->count = count;
    v->offset = offset;
    v->bytes = bytes;
    nn_vocab_index(v, NULL);
}

static void the_filter_removes_the_ids(void) {
    nn_vocab v;
    uint32_t count[NW], offset[NW + 1];
    char bytes[128];
    make_vocab(&v, count, offset, bytes);
    nn_stopwords s;
    nn_error err = {0};
    int rc = nn_stopwords_build(&s, "the was not a nosuchword", &v, &err);
    check(rc == NN_OK && s.nwords == 5 && s.nids == 4, "filter of 5 words, 4 in the vocabulary (%u, %u) %s",
          s.nwords, s.nids, err.msg);
    check(nn_is_stopword(&s, 4) && nn_is_stopword(&s, 6) && nn_is_stopword(&s, 7) &&
              nn_is_stopword(&s, 11) && !nn_is_stopword(&s, 5) && !nn_is_stopword(&s, NN_UNK) &&
              !nn_is_stopword(&s, NN_START) && !nn_is_stopword(&s, 999999) && !nn_is_stopword(NULL, 4),
          "exactly their ids are stop ids; <UNK>, <START> and ids past V are not");

    uint16_t ids[] = {NN_START, 4, 5, 6, 7, 8, NN_UNK, 11, 12};
    uint16_t out[9];
    size_t n = nn_stopwords_filter(&s, out, ids, 9);
    uint16_t want[] = {NN_START, 5, 8, NN_UNK, 12};
    check(n == 5 && !memcmp(out, want, sizeof want), "filter keeps <START>, movie, good, <UNK>, film");
    n = nn_stopwords_filter(&s, ids, ids, 9);
    check(n == 5 && !memcmp(ids, want, sizeof want), "filter works in place");

    uint32_t enc[32];
    const char *text = "The movie was NOT good, a rare film; zzz.";
    n = nn_encode_text_stop(&v, &s, text, strlen(text), 0, enc, 32);
    uint32_t want_text[] = {NN_START, 5, 8, 13, 12, NN_UNK};
    check(n == 6 && !memcmp(enc, want_text, sizeof want_text), "encode with the filter (n=%zu)", n);
    n = nn_encode_text_stop(&v, &s, text, strlen(text), 12, enc, 32);
    uint32_t want_cut[] = {NN_START, 5, 8, NN_UNK, NN_UNK, NN_UNK};
    check(n == 6 && !memcmp(enc, want_cut, sizeof want_cut),
          "the filter acts before vocab_size turns rare ids into <UNK>");
    check(nn_token_id(&v, &s, "the", 3, 0) == NN_STOPPED && nn_token_id(&v, &s, "film", 4, 0) == 12 &&
              nn_token_id(&v, &s, "film", 4, 10) == NN_UNK && nn_token_id(&v, &s, "zzz", 3, 0) == NN_UNK,
          "nn_token_id: stopped, kept, cut, unknown");
    n = nn_encode_text_stop(&v, NULL, text, strlen(text), 0, enc, 32);
    uint32_t plain[32];
    size_t m = nn_encode_text(&v, text, strlen(text), 0, plain, 32);
    check(n == m && !memcmp(enc, plain, n * sizeof *enc), "without a filter it is nn_encode_text");
    n = nn_encode_text_stop(&v, &s, text, strlen(text), 0, enc, 2);
    check(n == 6 && enc[0] == NN_START && enc[1] == 5, "a small cap writes only cap ids and counts all");

    /* Random texts: filtered encoding == plain encoding minus the stop ids. */
    nn_rng r;
    nn_rng_seed(&r, 3);
    int same = 1;
    for (int t = 0; t < 500 && same; t++) {
        char buf[512];
        size_t at = 0;
        uint32_t words = nn_rng_below(&r, 30);
        for (uint32_t k = 0; k < words; k++) {
            const char *w = k % 7 == 3 ? "Zebra" : WORDS[4 + nn_rng_below(&r, NW - 4)];
            at += (size_t)snprintf(buf + at, sizeof buf - at, "%s%s", w, nn_rng_below(&r, 3) ? " " : ", ");
        }
        uint32_t nw = nn_rng_below(&r, 2) ? 0 : 4 + nn_rng_below(&r, NW - 4);
        uint32_t a[64], b[64];
        size_t na = nn_encode_text_stop(&v, &s, buf, at, nw, a, 64);
        size_t nb = nn_encode_text(&v, buf, at, 0, b, 64), kept = 0;
        for (size_t i = 0; i < nb; i++) {
            if (i > 0 && nn_is_stopword(&s, b[i])) continue;
            uint32_t id = nw && b[i] >= nw ? NN_UNK : b[i];
            if (kept >= na || a[kept] != id) same = 0;
            kept++;
        }
        same &= kept == na;
    }
    check(same, "500 random texts: filtered encoding is the plain one without the stop ids");

    nn_stopwords none;
    rc = nn_stopwords_build(&none, "", &v, &err);
    check(rc == NN_OK && none.bits == NULL && !nn_is_stopword(&none, 4), "an empty spec filters nothing");
    rc = nn_stopwords_build(&none, "-the", &v, &err);
    check(rc == NN_OK && none.bits == NULL, "a spec that removes everything filters nothing");
    rc = nn_stopwords_build(&none, "@xx", &v, &err);
    check(rc == NN_ERR_ARG && none.bits == NULL, "a bad spec fails the build: %s", err.msg);
    nn_stopwords_free(&s);
    nn_stopwords_free(&none);
    nn_vocab_free_index(&v);
}

/* ---------------------------------------------------- training == scoring */

/* The text of review r of split sp: its words joined by spaces. */
static size_t review_text(const nn_shard *sh, const nn_split *sp, uint32_t r, char *out, size_t cap) {
    size_t at = 0;
    for (uint32_t j = sp->offset[r] + 1; j < sp->offset[r + 1]; j++) {
        size_t len;
        const char *w = nn_vocab_word(&sh->vocab, sp->tokens[j], &len);
        if (at + len + 2 > cap) break;
        if (at) out[at++] = ' ';
        memcpy(out + at, w, len);
        at += len;
    }
    out[at] = 0;
    return at;
}

static void training_and_scoring_remove_the_same_words(void) {
    synthetic syn;
    synthetic_make(&syn, 200, 60);
    nn_error err = {0};
    check(nn_vocab_index(&syn.shard.vocab, &err) == NN_OK, "synthetic vocabulary indexes");
    nn_config cfg;
    nn_config_default(&cfg);
    cfg.vocab_size = 40; /* w40..w63 become <UNK> for the model, but w50 is still removed */
    cfg.maxlen = 24;
    cfg.padding = NN_PAD_PRE;
    cfg.batch_size = 16;
    cfg.epochs = 1;
    cfg.val_size = 50;
    cfg.embed_dim = 4;
    cfg.hidden = 4;
    snprintf(cfg.stopwords, sizeof cfg.stopwords, "W4, w10 w20 -w20 w50");
    nn_trainer *t = NULL;
    int rc = nn_trainer_create(&t, &cfg, &syn.shard, &err);
    check(rc == NN_OK, "trainer with stop words %s", err.msg);
    if (rc) return;
    const nn_stopwords *stop = nn_trainer_stopwords(t);
    check(stop && stop->nids == 3 && nn_is_stopword(stop, 4) && nn_is_stopword(stop, 10) &&
              nn_is_stopword(stop, 50) && !nn_is_stopword(stop, 20),
          "the trainer's filter is w4, w10, w50");
    const char *names[] = {"train", "val", "test"};
    const nn_split *splits[] = {nn_shard_find(&syn.shard, "train"), nn_shard_find(&syn.shard, "train"),
                                nn_shard_find(&syn.shard, "test")};
    int none_left = 1, rows_equal = 1, text_equal = 1, sources_ok = 1, score_equal = 1, scored = 0;
    uint32_t T = cfg.maxlen;
    uint16_t *row = malloc(T * sizeof *row);
    for (int k = 0; k < 3; k++) {
        uint32_t n;
        const float *label;
        const uint32_t *source;
        const uint16_t *ids = nn_trainer_set(t, names[k], &n, &label, &source);
        const nn_split *sp = splits[k];
        for (uint32_t i = 0; i < n; i++) {
            const uint16_t *have = ids + (size_t)i * T;
            for (uint32_t j = 0; j < T; j++)
                none_left &= have[j] != 4 && have[j] != 10 && have[j] != 50;
            uint32_t r = source[i];
            if (r >= sp->n || (k == 2 && r != i) || label[i] != (float)sp->label[r]) sources_ok = 0;
            if (r >= sp->n) continue;
            /* The training path: the shard's ids, filtered, padded. */
            uint16_t kept[64];
            uint32_t len = sp->offset[r + 1] - sp->offset[r];
            size_t m = nn_stopwords_filter(stop, kept, sp->tokens + sp->offset[r], len);
            nn_pad_review(row, kept, m, &cfg);
            rows_equal &= !memcmp(row, have, T * sizeof *row);
            /* The scoring path: the same review as text, encoded. */
            char text[1024];
            size_t tl = review_text(&syn.shard, sp, r, text, sizeof text);
            uint32_t enc[64];
            size_t e = nn_encode_text_stop(&syn.shard.vocab, stop, text, tl, cfg.vocab_size, enc, 64);
            nn_pad_review_u32(row, enc, e, &cfg);
            text_equal &= !memcmp(row, have, T * sizeof *row);
            /* The one scoring entry point reads the text the same way. */
            if (e <= 64 && scored < 40) {
                nn_model *model = nn_trainer_model(t);
                float want = nn_model_explain(model, enc, e, NULL);
                float got = nn_model_score_text(model, &syn.shard.vocab, stop, text, tl);
                score_equal &= got == want;
                scored++;
            }
        }
    }
    free(row);
    check(none_left, "no padded review of train, val or test holds a stop id");
    check(sources_ok, "each padded review names its source review and has its label");
    check(rows_equal, "every padded review is the shard review, filtered, then padded");
    check(text_equal, "and equals the same review as text through nn_encode_text_stop (training == scoring)");
    check(scored > 0 && score_equal,
          "nn_model_score_text with the trainer's filter scores %d reviews as their filtered ids", scored);

    /* The checkpoint keeps the setting; one written before it still loads. */
    uint8_t *buf = NULL;
    size_t len = 0;
    rc = nn_checkpoint_write(nn_trainer_model(t), &syn.shard.vocab, 1234, NULL, 0, &buf, &len, &err);
    nn_checkpoint ck;
    memset(&ck, 0, sizeof ck);
    rc = rc ? rc : nn_checkpoint_read(&ck, buf, len, &err);
    check(rc == NN_OK && !strcmp(ck.model->cfg.stopwords, cfg.stopwords),
          "a checkpoint keeps the stop words \"%s\" %s", rc ? "" : ck.model->cfg.stopwords, err.msg);
    nn_checkpoint_free(&ck);
    if (buf) {
        /* Rebuild the file without config.stopwords, alibi, positions,
         * mlm_lr and mlm_warmup_steps, all newer than the first checkpoints
         * (and with a right CRC). */
        uint32_t json_len = (uint32_t)buf[12] | (uint32_t)buf[13] << 8 | (uint32_t)buf[14] << 16 |
                            (uint32_t)buf[15] << 24;
        cJSON *doc = cJSON_ParseWithLength((const char *)buf + 32, json_len);
        cJSON_DeleteItemFromObject(cJSON_GetObjectItem(doc, "config"), "stopwords");
        cJSON_DeleteItemFromObject(cJSON_GetObjectItem(doc, "config"), "alibi");
        cJSON_DeleteItemFromObject(cJSON_GetObjectItem(doc, "config"), "positions");
        cJSON_DeleteItemFromObject(cJSON_GetObjectItem(doc, "config"), "mlm_lr");
        cJSON_DeleteItemFromObject(cJSON_GetObjectItem(doc, "config"), "mlm_warmup_steps");
        char *json = cJSON_PrintUnformatted(doc);
        size_t jn = strlen(json), jpad = (jn + 3) & ~(size_t)3, blob = len - 32 - json_len;
        uint8_t *old = malloc(32 + jpad + blob);
        memcpy(old, buf, 32);
        memcpy(old + 32, json, jn);
        memset(old + 32 + jn, ' ', jpad - jn);
        memcpy(old + 32 + jpad, buf + 32 + json_len, blob);
        for (int i = 0; i < 4; i++) old[12 + i] = (uint8_t)(jpad >> (8 * i));
        uint32_t crc = nn_crc32(0, old + 32, jpad + blob);
        for (int i = 0; i < 4; i++) old[24 + i] = (uint8_t)(crc >> (8 * i));
        rc = nn_checkpoint_read(&ck, old, 32 + jpad + blob, &err);
        check(rc == NN_OK && ck.model->cfg.stopwords[0] == 0 && !ck.model->cfg.alibi &&
                  ck.model->cfg.positions == NN_POS_UNIFORM && ck.model->cfg.mlm_lr == 0.001f &&
                  ck.model->cfg.mlm_warmup_steps == 200,
              "a checkpoint without \"stopwords\", \"alibi\", \"positions\", \"mlm_lr\" and "
              "\"mlm_warmup_steps\" (written before they existed) loads with none, without ALiBi, uniform "
              "positions and the defaults' pretraining rate %s", err.msg);
        nn_checkpoint_free(&ck);
        free(old);
        free(json);
        cJSON_Delete(doc);
        free(buf);
    }
    nn_trainer_free(t);

    snprintf(cfg.stopwords, sizeof cfg.stopwords, "@klingon");
    rc = nn_trainer_create(&t, &cfg, &syn.shard, &err);
    check(rc == NN_ERR_ARG && t == NULL && strstr(err.msg, "@klingon"), "a bad list stops the trainer: %s", err.msg);
    nn_vocab_free_index(&syn.shard.vocab);
    synthetic_free(&syn);
}

int main(void) {
    the_setting_expands_and_edits();
    the_config_key();
    the_filter_removes_the_ids();
    training_and_scoring_remove_the_same_words();
    return check_exit_code();
}
