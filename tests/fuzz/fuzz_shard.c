/* fuzz_shard.c: libFuzzer target for nn_shard_parse (engine/shard.c).
 *
 * Each input is parsed twice: as it is, and as a copy whose lengths and
 * CRC-32s are repaired (fuzz_fix_shard), so mutations reach the structure
 * checks behind the checksums. When a parse succeeds, everything a reader
 * may then touch is touched, to prove the checks were enough: every split's
 * labels, ratings, review ids, offsets and tokens; every vocabulary word,
 * looked up again (it must give back its own id); nn_shard_find by name;
 * nn_shard_write must give back the very same bytes; and a tiny trainer is
 * created on the shard and run for two batches when the config allows it
 * (the bag or a recurrent model, as the input's last byte picks).
 *
 * Not covered: imdb_build_shard's archive reader (engine/cli/archive.c). */
#include "fuzz_common.h"

static uint64_t shard_walk_split(const nn_shard *s, const nn_split *sp) {
    uint64_t sum = 0;
    FUZZ_REQUIRE(nn_shard_find(s, sp->name) == sp, "nn_shard_find(\"%s\") gives another split", sp->name);
    for (uint32_t i = 0; i < sp->n; i++) {
        FUZZ_REQUIRE(sp->label[i] <= 1 || sp->label[i] == 255, "label %u", sp->label[i]);
        FUZZ_REQUIRE(sp->rating[i] <= 10, "rating %u", sp->rating[i]);
        uint32_t a = sp->offset[i], b = sp->offset[i + 1];
        FUZZ_REQUIRE(a < b && b <= sp->offset[sp->n], "review %u spans %u..%u of %u", i, a, b,
                     sp->offset[sp->n]);
        FUZZ_REQUIRE(b - a <= s->max_tokens, "review %u has %u ids, max_tokens %u", i, b - a,
                     s->max_tokens);
        FUZZ_REQUIRE(sp->tokens[a] == NN_START, "review %u starts with %u", i, sp->tokens[a]);
        sum += sp->review_id[i] + sp->label[i] + sp->rating[i];
        for (uint32_t t = a; t < b; t++) {
            FUZZ_REQUIRE(s->vocab.V == 0 || sp->tokens[t] < s->vocab.V, "token id %u, V %u",
                         sp->tokens[t], s->vocab.V);
            sum += sp->tokens[t];
        }
    }
    return sum;
}

static void shard_walk_vocab(const nn_vocab *v) {
    for (uint32_t id = 0; id < v->V; id++) {
        size_t n;
        const char *w = nn_vocab_word(v, id, &n);
        FUZZ_REQUIRE(v->offset[id + 1] >= v->offset[id], "word %u has a negative length", id);
        uint32_t got = nn_vocab_lookup(v, w, n);
        FUZZ_REQUIRE(got == id, "looking up word %u (%zu bytes) gives id %u", id, n, got);
        (void)v->count[id];
    }
}

/* A trainer on the shard, as small as the shard allows, for two batches,
 * with the model the input's last byte picks (bag or a recurrent one). */
static void shard_train_briefly(const nn_shard *s, uint8_t pick) {
    const nn_split *train = nn_shard_find(s, "train");
    if (!train) return;
    nn_config cfg;
    nn_config_default(&cfg);
    static const int models[] = {NN_MODEL_BAG, NN_MODEL_LSTM, NN_MODEL_GRU, NN_MODEL_BILSTM, NN_MODEL_BIGRU};
    cfg.model = models[pick % 5];
    cfg.vocab_size = s->vocab.V ? (s->vocab.V < 40 ? (s->vocab.V < 5 ? 5 : s->vocab.V) : 40) : 40;
    cfg.maxlen = s->max_tokens < 12 ? s->max_tokens : 12;
    cfg.embed_dim = 3;
    cfg.hidden = 2;
    cfg.batch_size = 3;
    cfg.epochs = 2;
    cfg.val_size = train->n > 1 ? 1 : 0;
    cfg.train_size = 0;
    nn_error err = {0};
    nn_trainer *t = NULL;
    int rc = nn_trainer_create(&t, &cfg, s, &err);
    if (rc != NN_OK) {
        FUZZ_REQUIRE(t == NULL && rc != NN_ERR_NOMEM && err.msg[0], "trainer_create failed badly: %d %s",
                     rc, err.msg);
        return;
    }
    fuzz_train_briefly(t);
}

static void shard_check_one(const uint8_t *buf, size_t len) {
    nn_shard s;
    nn_error err = {0};
    int rc = nn_shard_parse(&s, buf, len, &err);
    if (rc != NN_OK) {
        FUZZ_REQUIRE(err.code == rc && err.msg[0], "failure %d without a message", rc);
        return;
    }
    FUZZ_REQUIRE(s.nsplits <= NN_SHARD_MAX_SPLITS, "nsplits %u", s.nsplits);
    shard_walk_vocab(&s.vocab);
    uint64_t sum = 0;
    for (uint32_t i = 0; i < s.nsplits; i++) sum += shard_walk_split(&s, &s.split[i]);
    (void)sum;

    uint8_t *again = NULL;
    size_t again_len = 0;
    rc = nn_shard_write(&s, &again, &again_len, &err);
    FUZZ_REQUIRE(rc == NN_OK, "a parsed shard does not write back: %s", err.msg);
    FUZZ_REQUIRE(again_len == len && memcmp(again, buf, len) == 0,
                 "writing the parsed shard gives other bytes (%zu, was %zu)", again_len, len);
    free(again);

    nn_config cfg;
    nn_config_default(&cfg);
    nn_config_check(&cfg, &s, &err);
    shard_train_briefly(&s, len ? buf[len - 1] : 0);
    nn_shard_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *buf = fuzz_copy(data, size);
    FUZZ_REQUIRE(buf != NULL, "out of memory");
    shard_check_one(buf, size);
    if (size >= 64) {
        fuzz_fix_shard(buf, size);
        shard_check_one(buf, size);
    }
    free(buf);
    return 0;
}
