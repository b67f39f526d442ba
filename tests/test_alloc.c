/* test_alloc.c: the engine's checked allocations (engine/common.c) at the
 * overflow edge, whatever the width of size_t: natively on 64 bits, and at
 * wasm32's 32 bits in the -m32 build (scripts/test-sanitizers.sh --m32);
 * the size formulas that feed them saturate instead of wrapping; and
 * crafted files whose sizes would wrap a 32-bit size_t (a checkpoint whose
 * parameters take over 4 GB, a shard whose padded reviews do) are refused
 * with a message before anything is allocated for them.
 * Under ASan a helper that handed a wrapped or oversized request to malloc
 * would abort the test (allocation-size-too-big), so a pass here also says
 * that nothing was asked of the allocator. Not here: the memory budget's
 * figures (test_budget.c). */
#include "check.h"
#include <cjson/cJSON.h>
#include "layers.h"
#include "nn.h"
#include "synthetic.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define W SIZE_MAX
#define BITS (sizeof(size_t) * 8)

static void test_size_arithmetic(void) {
    size_t out = 0;
    check(nn_size_mul(W / 3, 3, &out) && out == W / 3 * 3, "nn_size_mul accepts SIZE_MAX/3 * 3 (%zu-bit size_t)", BITS);
    check(!nn_size_mul(W / 3 + 1, 3, &out) && out == W, "nn_size_mul refuses SIZE_MAX/3+1 * 3 and saturates");
    check(nn_size_mul(0, W, &out) && out == 0 && nn_size_mul(W, 1, &out) && out == W,
          "nn_size_mul: 0 * SIZE_MAX = 0, SIZE_MAX * 1 = SIZE_MAX");
    size_t half = (size_t)1 << (BITS / 2); /* half * half wraps to exactly 0 */
    check(!nn_size_mul(half, half, &out) && out == W, "nn_size_mul refuses 2^%zu * 2^%zu (wraps to 0 unchecked)",
          BITS / 2, BITS / 2);
    check(nn_size_add(W - 1, 1, &out) && out == W, "nn_size_add accepts SIZE_MAX-1 + 1");
    check(!nn_size_add(W, 1, &out) && out == W, "nn_size_add refuses SIZE_MAX + 1 and saturates");
    check(!nn_size_add(W / 2 + 1, W / 2 + 1, &out) && out == W, "nn_size_add refuses (SIZE_MAX/2+1) * 2 as a sum");
    check(nn_size_mul_sat(3, 4) == 12 && nn_size_add_sat(3, 4) == 7, "saturating helpers: 3*4 = 12, 3+4 = 7");
    check(nn_size_mul_sat(nn_size_add_sat(W, 1), 4) == W && nn_size_add_sat(nn_size_mul_sat(W / 2 + 1, 2), 0) == W &&
              nn_size_mul_sat(W, 1) == W,
          "a saturated size stays SIZE_MAX through products and sums");
    /* (uint32 max + 1) * 4: the offsets array of a 2^32-1 element split. */
    uint64_t exact = ((uint64_t)UINT32_MAX + 1) * 4;
    size_t got = nn_size_mul_sat(nn_size_add_sat(UINT32_MAX, 1), 4);
    check(got == (exact > W ? W : (size_t)exact), "(2^32-1 + 1) * 4 is %zu (%s)", got,
          exact > W ? "saturated: 32-bit size_t" : "exact: 64-bit size_t");
}

static void test_allocators_refuse(void) {
    void *(*alloc[2])(size_t, size_t) = {nn_malloc_array, nn_calloc_array};
    const char *name[2] = {"nn_malloc_array", "nn_calloc_array"};
    for (int k = 0; k < 2; k++) {
        check(alloc[k](W / 4 + 1, 4) == NULL, "%s refuses (SIZE_MAX/4+1) * 4", name[k]);
        check(alloc[k](W, 1) == NULL, "%s refuses SIZE_MAX bytes (a saturated size)", name[k]);
        check(alloc[k]((size_t)PTRDIFF_MAX + 1, 1) == NULL, "%s refuses PTRDIFF_MAX+1 bytes (no object is larger)",
              name[k]);
        check(alloc[k]((size_t)PTRDIFF_MAX / 2 + 1, 2) == NULL, "%s refuses (PTRDIFF_MAX/2+1) * 2", name[k]);
        size_t half = (size_t)1 << (BITS / 2);
        check(alloc[k](nn_size_mul_sat(half, half), 8) == NULL, "%s refuses 2^%zu * 2^%zu doubles", name[k],
              BITS / 2, BITS / 2);
    }
    unsigned char *p = malloc(16);
    for (int i = 0; i < 16; i++) p[i] = (unsigned char)i;
    unsigned char *q = nn_realloc_array(p, W / 8 + 1, 8);
    int intact = 1;
    for (int i = 0; i < 16; i++) intact &= p[i] == i;
    check(q == NULL && intact, "nn_realloc_array refuses (SIZE_MAX/8+1) * 8 and leaves the block as it was");
    check(nn_realloc_array(p, W, 1) == NULL && nn_realloc_array(p, (size_t)PTRDIFF_MAX + 1, 1) == NULL,
          "nn_realloc_array refuses SIZE_MAX and PTRDIFF_MAX+1 bytes");
    free(p); /* still ours: ASan would report a double free otherwise */
    check(nn_alloc_floats(W / 4 + 1) == NULL && nn_alloc_floats(W) == NULL &&
              nn_alloc_floats((size_t)PTRDIFF_MAX / 4) == NULL,
          "nn_alloc_floats refuses SIZE_MAX/4+1, SIZE_MAX and PTRDIFF_MAX/4 floats");
}

static void test_allocators_fit(void) {
    void *a = nn_malloc_array(0, 4), *b = nn_calloc_array(0, 8), *c = nn_realloc_array(NULL, 0, 4);
    check(a && b && c, "zero elements give a block from each helper (NULL means failure only)");
    free(a), free(b), free(c);
    uint32_t *z = nn_calloc_array(1000, sizeof *z);
    int zero = z != NULL;
    for (int i = 0; zero && i < 1000; i++) zero &= z[i] == 0;
    check(zero, "nn_calloc_array(1000, 4) is zeroed");
    free(z);
    uint32_t *r = nn_realloc_array(NULL, 10, sizeof *r);
    for (uint32_t i = 0; r && i < 10; i++) r[i] = i * 7;
    uint32_t *g = r ? nn_realloc_array(r, 100000, sizeof *g) : NULL;
    int kept = g != NULL;
    for (uint32_t i = 0; kept && i < 10; i++) kept &= g[i] == i * 7;
    check(kept, "nn_realloc_array grows 10 to 100,000 elements keeping the first 10");
    uint32_t *s = g ? nn_realloc_array(g, 0, sizeof *s) : NULL;
    check(s != NULL, "nn_realloc_array to 0 elements keeps a block");
    free(s ? s : g);
    float *f = nn_alloc_floats(17);
    int fz = f != NULL && ((uintptr_t)f % 64) == 0;
    for (int i = 0; fz && i < 17; i++) fz &= f[i] == 0.0f;
    check(fz, "nn_alloc_floats(17): zeroed, 64-byte aligned");
    free(f);
}

/* The size formulas behind model and PCA buffers: exact when they fit,
 * SIZE_MAX (refused by the allocators) when they do not, never wrapped. */
static void test_formulas_saturate(void) {
    check(nn_rnn_work_floats(NN_CELL_LSTM, 10, 7, 5, 3) == 2 * 7 * 12 + 12 * 8 + 2 * 7 * 3 + 3 &&
              nn_rnn_work_floats(NN_CELL_GRU, 10, 7, 5, 3) == 2 * 7 * 9 + 9 * 8 + 2 * 7 * 3 + 3,
          "nn_rnn_work_floats: 2BGH + GH(H+C) + 2BH + H for a small LSTM and GRU");
    check(nn_rnn_work_floats(NN_CELL_LSTM, 1, UINT32_MAX, UINT32_MAX, UINT32_MAX) == W,
          "nn_rnn_work_floats saturates at the largest sizes");
    uint64_t b = 512, h = 4096, c = 8192, gh = 4 * h;
    uint64_t want = 2 * b * gh + gh * (h + c) + 2 * b * h + h;
    check(nn_rnn_work_floats(NN_CELL_LSTM, 1, (uint32_t)b, (uint32_t)c, (uint32_t)h) == (want > W ? W : (size_t)want),
          "nn_rnn_work_floats(B 512, H 4096, C 8192) = %llu floats, %s", (unsigned long long)want,
          want > W ? "saturated on 32 bits" : "exact");
    uint32_t es[] = {1000, 32768, 65536, UINT32_MAX};
    for (size_t i = 0; i < sizeof es / sizeof es[0]; i++) {
        uint64_t e = es[i];
        /* 2(E^2 + E) in 64 bits, saturated: E^2 alone fits below 2^64 */
        uint64_t sq = e * e, exact = sq + e < sq || sq + e > UINT64_MAX / 2 ? UINT64_MAX : 2 * (sq + e);
        size_t got = nn_pca_work_doubles((uint32_t)e);
        check(got == (exact > W ? W : (size_t)exact), "nn_pca_work_doubles(%u) = %zu%s", es[i], got,
              exact > W ? " (saturated)" : "");
    }
}

/* A checkpoint's first bytes: the 32-byte header and the JSON, for a
 * config that makes nparams parameters (a blob the file does not carry). */
static uint8_t *checkpoint_head(const nn_config *cfg, uint64_t nparams, uint32_t vocab_crc, size_t *head_len,
                                uint64_t *file_len) {
    cJSON *doc = cJSON_CreateObject();
    char *cj = nn_config_to_json(cfg);
    cJSON_AddStringToObject(doc, "format", "imdb-playground-checkpoint");
    cJSON_AddNumberToObject(doc, "version", NN_CKPT_VERSION);
    cJSON_AddItemToObject(doc, "config", cJSON_Parse(cj));
    cJSON_AddNumberToObject(doc, "nparams", (double)nparams);
    cJSON_AddNumberToObject(doc, "step", 0);
    cJSON_AddNumberToObject(doc, "vocab_crc", vocab_crc);
    char *json = cJSON_PrintUnformatted(doc);
    size_t jn = strlen(json), jpad = (jn + 3) & ~(size_t)3;
    uint64_t blob = nparams * 4;
    *head_len = 32 + jpad;
    *file_len = 32 + jpad + blob;
    uint8_t *buf = calloc(1, *head_len);
    memcpy(buf, NN_CKPT_MAGIC, 8);
    for (int i = 0; i < 4; i++) buf[8 + i] = (uint8_t)((uint32_t)NN_CKPT_VERSION >> (8 * i));
    for (int i = 0; i < 4; i++) buf[12 + i] = (uint8_t)(jpad >> (8 * i));
    for (int i = 0; i < 8; i++) buf[16 + i] = (uint8_t)(blob >> (8 * i));
    memcpy(buf + 32, json, jn);
    memset(buf + 32 + jn, ' ', jpad - jn);
    free(json);
    free(cj);
    cJSON_Delete(doc);
    return buf;
}

static void test_crafted_checkpoint(void) {
    synthetic syn;
    synthetic_make(&syn, 40, 10);
    /* A BiLSTM on the synthetic shard's 64 words whose parameters take 5 GB:
     * 4 * nparams wraps a 32-bit size_t (the link, by hidden and layers). */
    nn_config cfg;
    nn_config_default(&cfg);
    nn_error err = {0};
    int rc = nn_config_from_json(&cfg, "{\"model\":\"bilstm\",\"layers\":4,\"hidden\":4096,\"embed_dim\":1024,"
                                       "\"vocab_size\":64,\"maxlen\":1,\"batch_size\":1,\"train_size\":20,\"val_size\":10}",
                                 &err);
    nn_memory est;
    nn_memory_estimate(&cfg, NULL, &est);
    check(rc == NN_OK && est.nparams * 4 > UINT32_MAX, "the crafted config makes %llu parameters (%llu bytes, over 2^32) %s",
          (unsigned long long)est.nparams, (unsigned long long)est.nparams * 4, err.msg);
    size_t head_len;
    uint64_t file_len;
    uint8_t *head = checkpoint_head(&cfg, est.nparams, syn.shard.vocab_crc, &head_len, &file_len);
    nn_checkpoint ck;
    memset(&err, 0, sizeof err);
    rc = nn_checkpoint_read(&ck, head, head_len, &err);
    check(rc == NN_ERR_FORMAT && strstr(err.msg, "truncated"),
          "a %zu-byte checkpoint claiming a %llu-byte blob is refused: %s", head_len,
          (unsigned long long)(file_len - head_len), err.msg);
    nn_checkpoint_head h;
    memset(&err, 0, sizeof err);
    rc = nn_checkpoint_read_head(&h, head, head_len, file_len, &err);
    check(rc == NN_OK && h.has_config, "its head (%llu-byte file) reads %s", (unsigned long long)file_len, err.msg);
    memset(&err, 0, sizeof err);
    rc = nn_trainer_checkpoint_fits(&h, &syn.shard, NULL, &err);
    check(rc == NN_ERR_NOMEM && strstr(err.msg, "this model needs"),
          "a trainer for it is refused before anything is allocated: %s", err.msg);
    nn_model *m = NULL;
    memset(&err, 0, sizeof err);
    rc = nn_model_create(&m, &h.cfg, &err);
    check(rc == NN_ERR_NOMEM && m == NULL && err.msg[0], "and so is the model alone: %s", err.msg);
    free(head);
    synthetic_free(&syn);
}

/* A shard file of n one-token reviews: at maxlen 2048 the padded training
 * set is n * 4096 bytes, over 8 GB (the 64-bit budget), wrapping a 32-bit
 * size_t twice, from a file of 12 bytes a review. */
static void test_crafted_shard(void) {
    synthetic syn;
    synthetic_make(&syn, 4, 4);
    uint32_t n = (1u << 21) + (1u << 16);
    uint8_t *label = malloc(n), *rating = malloc(n);
    uint32_t *id = malloc((size_t)n * sizeof *id), *off = malloc(((size_t)n + 1) * sizeof *off);
    uint16_t *tok = malloc((size_t)n * sizeof *tok);
    for (uint32_t i = 0; i < n; i++) {
        label[i] = (uint8_t)(i & 1);
        rating[i] = i & 1 ? 8 : 2;
        id[i] = i;
        off[i] = i;
        tok[i] = NN_START;
    }
    off[n] = n;
    /* The writer wants the engine's four special words first. */
    static const char *const special[NN_FIRST_WORD] = {"<PAD>", "<START>", "<UNK>", "<UNUSED>"};
    char bytes[64 * 8];
    uint32_t offsets[65], at = 0;
    for (uint32_t i = 0; i < 64; i++) {
        offsets[i] = at;
        at += (uint32_t)(i < NN_FIRST_WORD ? sprintf(bytes + at, "%s", special[i]) : sprintf(bytes + at, "w%u", i));
    }
    offsets[64] = at;
    nn_shard s = syn.shard;
    s.vocab.offset = offsets, s.vocab.bytes = bytes;
    nn_split *sp = &s.split[0];
    sp->n = n, sp->label = label, sp->rating = rating, sp->review_id = id, sp->offset = off, sp->tokens = tok;
    uint8_t *file = NULL;
    size_t len = 0;
    nn_error err = {0};
    int rc = nn_shard_write(&s, &file, &len, &err);
    free(label), free(rating), free(id), free(off), free(tok);
    nn_shard parsed;
    memset(&parsed, 0, sizeof parsed);
    if (rc == NN_OK) rc = nn_shard_parse(&parsed, file, len, &err);
    check(rc == NN_OK, "a %.1f MB shard of %u one-token reviews parses %s", (double)len / (1 << 20), n, err.msg);
    if (rc == NN_OK) {
        nn_config cfg;
        nn_config_default(&cfg);
        cfg.vocab_size = 64, cfg.maxlen = 2048, cfg.batch_size = 32, cfg.val_size = 1000, cfg.train_size = n - 1000;
        uint64_t padded = (uint64_t)cfg.train_size * cfg.maxlen * 2;
        check(padded > (uint64_t)8 << 30, "its training set padded to maxlen 2048 is %llu bytes (mod 2^32: %llu)",
              (unsigned long long)padded, (unsigned long long)(padded & UINT32_MAX));
        nn_trainer *t = NULL;
        memset(&err, 0, sizeof err);
        rc = nn_trainer_create(&t, &cfg, &parsed, &err);
        check(rc == NN_ERR_NOMEM && t == NULL && strstr(err.msg, "needs") && strstr(err.msg, "maxlen"),
              "a trainer on it is refused with the figure and the setting to lower: %s", err.msg);
        nn_trainer_free(t);
        nn_shard_free(&parsed);
    }
    free(file);
    synthetic_free(&syn);
}

int main(void) {
    test_size_arithmetic();
    test_allocators_refuse();
    test_allocators_fit();
    test_formulas_saturate();
    test_crafted_checkpoint();
    test_crafted_shard();
    return check_exit_code();
}
