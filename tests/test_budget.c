/* test_budget.c: the memory budget (engine/budget.c).
 *
 * The issue's links are refused before anything is allocated, with messages
 * that name a figure and a setting; the tutorial presets are accepted on the
 * page's budget; the estimate mirrors the allocations (the parameter count
 * exactly; the bytes within a factor of what malloc counts); products that
 * overflow are refused; a crafted checkpoint whose config asks for a huge
 * batch is refused at the import's trainer creation, memory unchanged.
 * Meaningful in a 32-bit build too (there nn_memory_limits() are the page's).
 * Prints the estimated set-up costs; timings are printed, never asserted. */
#define _POSIX_C_SOURCE 200809L
#define _GNU_SOURCE /* mallinfo2 */
#include "check.h"
#include "nn.h"
#include "synthetic.h"

#include <malloc.h>
#include <string.h>
#include <time.h>

#define GB(x) ((double)(x) / (double)(1u << 30))

static nn_data_size IMDB = {25000, 25000, 25000u * 240}; /* the page's text shard (mean review 240 ids) */
static nn_data_size FASHION = {60000, 10000, 0}; /* the page's image shard */

static int config_of(nn_config *c, const char *preset, const char *json) {
    nn_config_default(c);
    nn_error e = {0};
    if (preset && nn_config_preset(c, preset)) return 0;
    if (json && nn_config_from_json(c, json, &e)) {
        printf("FAIL config %s: %s\n", json, e.msg);
        return 0;
    }
    return 1;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Bytes malloc holds now (arena and mmapped chunks). */
static size_t heap_bytes(void) {
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/* Whether mallinfo2 sees this program's allocations (not under ASan). */
static int heap_counts(void) {
    size_t before = heap_bytes();
    char *volatile p = malloc(1 << 20); /* volatile: the pair is not optimised away */
    if (p) p[0] = 1;
    size_t after = heap_bytes();
    free(p);
    return after >= before + (1 << 20) && after < before + (2 << 20);
}

static void test_issue_links(void) {
    struct { const char *name, *json; const char *setting; } links[] = {
        {"bilstm-4x3600", "{\"model\":\"bilstm\",\"layers\":4,\"hidden\":3600,\"embed_dim\":768,"
                          "\"vocab_size\":19142,\"maxlen\":1,\"batch_size\":1}", "hidden"},
        {"bilstm-4x3600-vocab19141", "{\"model\":\"bilstm\",\"layers\":4,\"hidden\":3600,\"embed_dim\":768,"
                                     "\"vocab_size\":19141,\"maxlen\":1,\"batch_size\":1}", "hidden"},
        {"lstm-4096", "{\"model\":\"lstm\",\"hidden\":4096}", "hidden"},
    };
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        nn_config c;
        if (!config_of(&c, NULL, links[i].json)) continue;
        nn_memory m;
        nn_memory_estimate(&c, &IMDB, &m);
        printf("   %s: %.2f GB (parameters %llu: %.2f GB with gradients and moments; "
               "activations %.3f GB; configure ~%.1f s of which orthogonal ~%.1f s; a batch ~%.2f s)\n",
               links[i].name, GB(m.total), (unsigned long long)m.nparams,
               GB(m.parameters + m.gradients + m.optimizer), GB(m.activations), m.init_seconds,
               m.ortho_seconds, m.batch_seconds);
        /* The page's limits, and this build's. */
        nn_limits limits[2] = {nn_memory_limits_page(), nn_memory_limits()};
        for (int b = 0; b < 2; b++) {
            nn_error e = {0};
            int rc = nn_memory_check(&c, &IMDB, &limits[b], &e);
            check(rc != NN_OK && (strstr(e.msg, " GB") || strstr(e.msg, " s ")) &&
                      strstr(e.msg, links[i].setting),
                  "%s refused on the %.0f GB budget (rc %d): %s", links[i].name, GB(limits[b].bytes), rc, e.msg);
        }
        /* With room for its memory, the time limits still refuse hidden
         * 4096: its orthogonal initialisation alone takes minutes. */
        if (strcmp(links[i].name, "lstm-4096") == 0) {
            nn_config one = c;
            one.batch_size = 1;
            nn_limits roomy = {NN_MEMORY_BUDGET_64, 1.0, 2.0};
            nn_error e = {0};
            int rc = nn_memory_check(&one, &IMDB, &roomy, &e);
            check(rc == NN_ERR_ARG && strstr(e.msg, "orthogonal") && strstr(e.msg, "at most hidden"),
                  "%s with batch 1 on 8 GB and the page's time limits: refused for its set-up time: %s",
                  links[i].name, e.msg);
        }
        /* End to end: the trainer refuses before allocating anything. */
        synthetic s;
        synthetic_make(&s, 200, 100);
        c.vocab_size = c.vocab_size > 64 ? 64 : c.vocab_size;
        c.val_size = 50;
        nn_trainer *t = NULL;
        nn_error e = {0};
        int counted = heap_counts();
        size_t before = heap_bytes();
        double t0 = now_seconds();
        /* vocab_size is cut to the shard's 64, so the embedding is small;
         * the recurrent layers alone are over every budget or time limit. */
        int rc = nn_trainer_create(&t, &c, &s.shard, &e);
        double dt = now_seconds() - t0;
        size_t grown = heap_bytes() - before;
        check(rc != NN_OK && t == NULL && (!counted || grown < (1 << 20)),
              "%s: nn_trainer_create refused in %.3f s, heap grew %zu bytes (rc %d): %s",
              links[i].name, dt, counted ? grown : 0, rc, e.msg);
        nn_model *mod = NULL;
        rc = nn_model_create(&mod, &c, &e);
        if (rc == NN_OK) nn_model_free(mod);
        printf("   %s: nn_model_create alone (no set-up limits) rc %d %s\n", links[i].name, rc,
               rc ? e.msg : "");
        synthetic_free(&s);
    }
}

/* The tutorial presets fit the page's budget and its time limits. */
static void test_presets_accepted(void) {
    for (uint32_t i = 0; nn_config_preset_name(i); i++) {
        const char *name = nn_config_preset_name(i);
        nn_config c;
        if (!config_of(&c, name, NULL)) continue;
        const nn_data_size *d = c.model == NN_MODEL_MLP ? &FASHION : &IMDB;
        nn_memory m;
        nn_memory_estimate(&c, d, &m);
        nn_error e = {0};
        nn_limits page = nn_memory_limits_page();
        int rc = nn_memory_check(&c, d, &page, &e);
        check(rc == NN_OK, "preset %s accepted on the page's budget: %.1f MB (model %.1f MB, "
              "data %.1f MB, embedding history %.1f MB), configure ~%.3f s, a batch ~%.3f s %s",
              name, m.total / 1048576.0,
              (m.parameters + m.gradients + m.optimizer + m.activations) / 1048576.0,
              m.data / 1048576.0, m.page / 1048576.0, m.init_seconds, m.batch_seconds,
              rc ? e.msg : "");
    }
}

/* The estimate mirrors the allocations: parameters exactly, bytes within a
 * factor of what malloc counts for the trainer (on a small shard). */
static void test_estimate_mirrors_allocations(void) {
    const char *const configs[] = {
        "{\"model\":\"bag\",\"vocab_size\":64,\"maxlen\":40,\"batch_size\":32,\"hidden\":24}",
        "{\"model\":\"lstm\",\"vocab_size\":64,\"maxlen\":40,\"batch_size\":32,\"hidden\":48,\"embed_dim\":8}",
        "{\"model\":\"gru\",\"vocab_size\":64,\"maxlen\":40,\"batch_size\":16,\"hidden\":300,\"embed_dim\":4}",
        "{\"model\":\"bilstm\",\"vocab_size\":64,\"maxlen\":30,\"batch_size\":64,\"hidden\":40,\"layers\":3,"
        "\"dropout\":0.2,\"recurrent_dropout\":0.3}",
        "{\"model\":\"bigru\",\"vocab_size\":64,\"maxlen\":25,\"batch_size\":8,\"hidden\":64,\"layers\":2,"
        "\"embed_dim\":100,\"patience\":2,\"restore_best_weights\":true}",
        "{\"model\":\"lstm\",\"vocab_size\":64,\"maxlen\":2048,\"batch_size\":64,\"hidden\":32,\"layers\":4}",
    };
    int counted = heap_counts();
    if (!counted)
        printf("   (mallinfo2 does not see this program's allocations, e.g. under ASan: "
               "the byte comparison is skipped, the parameter counts are checked)\n");
    synthetic s;
    synthetic_make(&s, 300, 200);
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
        nn_config c;
        if (!config_of(&c, NULL, configs[i])) continue;
        c.val_size = 100;
        nn_data_size d = {300, 200, 0};
        nn_memory m;
        nn_memory_estimate(&c, &d, &m);
        size_t before = heap_bytes();
        nn_trainer *t = NULL;
        nn_error e = {0};
        int rc = nn_trainer_create(&t, &c, &s.shard, &e);
        size_t real = heap_bytes() - before;
        if (!check(rc == NN_OK, "config %zu trains: %s", i, rc ? e.msg : "")) continue;
        nn_model *mod = nn_trainer_model(t);
        check(m.nparams == mod->nparams, "config %zu: estimated parameters %llu == the model's %zu",
              i, (unsigned long long)m.nparams, mod->nparams);
        /* Everything but the page's embedding history, which the trainer
         * does not allocate. */
        double est = (double)(m.total - m.page);
        if (counted)
            check(est >= 0.95 * real && est <= 1.1 * real + 65536,
                  "config %zu: estimated %.0f bytes, malloc counted %zu (ratio %.3f)", i, est, real,
                  est / real);
        nn_trainer_free(t);
    }
    /* The parameter count over random configurations of every model. */
    nn_rng r;
    nn_rng_seed(&r, 15);
    int same = 0, total = 0;
    for (int k = 0; k < 300; k++) {
        nn_config c;
        nn_config_default(&c);
        c.model = (int)nn_rng_below(&r, 7); /* bag, lstm, gru, bilstm, bigru, mlp, ngram */
        c.vocab_size = 5 + nn_rng_below(&r, 300);
        c.embed_dim = 1 + nn_rng_below(&r, 40);
        c.hidden = 1 + nn_rng_below(&r, 70);
        c.layers = 1 + nn_rng_below(&r, NN_MAX_LAYERS);
        c.maxlen = 1 + nn_rng_below(&r, 20);
        c.batch_size = 1 + nn_rng_below(&r, 10);
        c.input_dim = 1 + nn_rng_below(&r, 50);
        c.classes = 2 + nn_rng_below(&r, 10);
        c.dropout = nn_rng_below(&r, 2) ? 0.25f : 0;
        c.bigrams = nn_rng_below(&r, 3) ? nn_rng_below(&r, 500) : 0;
        c.nb_weighting = (int)nn_rng_below(&r, 2);
        nn_memory m;
        nn_memory_estimate(&c, NULL, &m);
        nn_model *mod = NULL;
        nn_error e = {0};
        if (nn_model_create(&mod, &c, &e) != NN_OK) {
            printf("FAIL random config %d not created: %s\n", k, e.msg);
            check_failures++;
            continue;
        }
        same += m.nparams == mod->nparams;
        total++;
        nn_model_free(mod);
    }
    check(same == total && total == 300, "estimated parameter counts equal the models' in %d of %d random configs",
          same, total);
    synthetic_free(&s);
}

static void test_overflow_refused(void) {
    size_t out = 0;
    check(!nn_size_mul(SIZE_MAX / 2 + 1, 2, &out) && out == SIZE_MAX, "nn_size_mul refuses SIZE_MAX/2+1 * 2");
    check(nn_size_mul(SIZE_MAX / 4, 4, &out) && out == SIZE_MAX / 4 * 4, "nn_size_mul accepts SIZE_MAX/4 * 4");
    check(nn_malloc_array(SIZE_MAX / 4 + 1, sizeof(float)) == NULL,
          "nn_malloc_array refuses (SIZE_MAX/4+1) floats instead of allocating the wrapped size");
    /* The issue's product: 32-bit size_t would make these floats 144 bytes. */
    check(nn_malloc_array((size_t)1 << (sizeof(size_t) * 8 - 2), 8) == NULL,
          "nn_malloc_array refuses 2^%zu doubles", sizeof(size_t) * 8 - 2);
    void *p = nn_malloc_array(0, 4);
    check(p != NULL, "nn_malloc_array(0) returns a block (NULL means failure only)");
    free(p);
    /* Every setting at its largest: saturates, never wraps below the budget. */
    nn_config c;
    nn_config_default(&c);
    c.model = NN_MODEL_BILSTM;
    c.vocab_size = 65536;
    c.embed_dim = 1024;
    c.hidden = 4096;
    c.layers = NN_MAX_LAYERS;
    c.maxlen = 2048;
    c.batch_size = 65536;
    c.dropout = 0.5f;
    c.recurrent_dropout = 0.5f;
    nn_data_size big = {UINT32_MAX, UINT32_MAX, 0};
    nn_memory m;
    uint64_t total = nn_memory_estimate(&c, &big, &m);
    check(total > NN_MEMORY_BUDGET_64 && m.activations > ((uint64_t)1 << 40),
          "the largest config estimates %.0f GB (activations %.0f GB), not a wrapped size", GB(total),
          GB(m.activations));
    c.model = NN_MODEL_MLP;
    c.input_dim = NN_IMAGE_MAX_PIXELS;
    c.hidden = 4096;
    c.classes = 256;
    nn_error e = {0};
    nn_limits page = nn_memory_limits_page();
    int rc = nn_memory_check(&c, &FASHION, &page, &e);
    check(rc == NN_ERR_NOMEM && strstr(e.msg, "hidden"), "an mlp of 2^24 inputs is refused: %s", e.msg);
    nn_model *mod = NULL;
    rc = nn_model_create(&mod, &c, &e);
    check(rc == NN_ERR_NOMEM && mod == NULL, "nn_model_create refuses it too: %s", e.msg);
}

/* A checkpoint of a tiny model whose config claims batch 65536: the reader
 * builds it with batch 1; the import's trainer is refused by the budget. */
static void test_crafted_checkpoint(void) {
    synthetic s;
    synthetic_make(&s, 200, 100);
    nn_config c;
    config_of(&c, NULL, "{\"model\":\"lstm\",\"vocab_size\":64,\"maxlen\":30,\"hidden\":256,"
                        "\"embed_dim\":8,\"batch_size\":1,\"val_size\":50}");
    nn_model *m = NULL;
    nn_error e = {0};
    if (!check(nn_model_create(&m, &c, &e) == NN_OK, "crafted checkpoint: model created %s", e.msg)) return;
    nn_rng r;
    nn_rng_seed(&r, 3);
    nn_model_init(m, &r);
    m->cfg.batch_size = 65536; /* what the crafted file claims */
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = nn_checkpoint_write(m, &s.shard.vocab, 7, NULL, 0, &buf, &len, &e);
    nn_model_free(m);
    if (!check(rc == NN_OK, "crafted checkpoint written (%zu bytes) %s", len, rc ? e.msg : "")) return;
    nn_checkpoint ck;
    memset(&ck, 0, sizeof ck);
    rc = nn_checkpoint_read(&ck, buf, len, &e);
    check(rc == NN_OK && ck.model->Bmax == 1 && ck.model->cfg.batch_size == 65536,
          "the reader builds it with batch 1, config batch %u", rc ? 0 : ck.model->cfg.batch_size);
    if (rc == NN_OK) {
        int counted = heap_counts();
        size_t before = heap_bytes();
        nn_trainer *t = NULL;
        rc = nn_trainer_create(&t, &ck.model->cfg, &s.shard, &e);
        size_t grown = heap_bytes() - before;
        check(rc == NN_ERR_NOMEM && t == NULL && strstr(e.msg, "batch") && strstr(e.msg, "GB") &&
                  (!counted || grown < (1 << 20)),
              "the import's trainer (batch 65536) is refused before allocation (heap grew %zu "
              "bytes): %s", counted ? grown : 0, e.msg);
        nn_trainer_free(t);
    }
    nn_checkpoint_free(&ck);
    /* A file whose config claims more parameters than it holds. */
    nn_config big = c;
    big.hidden = 4096;
    nn_model *small = NULL;
    c.hidden = 8;
    nn_model_create(&small, &c, &e);
    nn_model_init(small, &r);
    small->cfg.layers = 4; /* claims 4 layers, holds 1 */
    small->cfg.hidden = 8;
    free(buf);
    buf = NULL;
    rc = nn_checkpoint_write(small, &s.shard.vocab, 7, NULL, 0, &buf, &len, &e);
    nn_model_free(small);
    (void)big;
    memset(&ck, 0, sizeof ck);
    rc = rc ? rc : nn_checkpoint_read(&ck, buf, len, &e);
    check(rc == NN_ERR_FORMAT && strstr(e.msg, "parameters"),
          "a checkpoint whose config makes more parameters than it holds is refused first: %s", e.msg);
    nn_checkpoint_free(&ck);
    free(buf);
    synthetic_free(&s);
}

/* Set-up costs: the estimate beside the measured time natively (the page's
 * engine is slower; budget.test.mjs prints the wasm times). */
static void bench_setup(void) {
    const char *const configs[] = {
        "{\"model\":\"lstm\",\"hidden\":256,\"maxlen\":10,\"vocab_size\":64}",
        "{\"model\":\"lstm\",\"hidden\":512,\"maxlen\":10,\"vocab_size\":64}",
        "{\"model\":\"lstm\",\"hidden\":768,\"maxlen\":10,\"vocab_size\":64}",
        "{\"model\":\"bigru\",\"hidden\":400,\"layers\":2,\"maxlen\":10,\"vocab_size\":64}",
    };
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
        nn_config c;
        if (!config_of(&c, NULL, configs[i])) continue;
        nn_memory m;
        nn_memory_estimate(&c, NULL, &m);
        nn_model *mod = NULL;
        nn_error e = {0};
        clock_t t0 = clock();
        if (nn_model_create(&mod, &c, &e)) continue;
        nn_rng r;
        nn_rng_seed(&r, 1);
        nn_model_init(mod, &r);
        double dt = (double)(clock() - t0) / CLOCKS_PER_SEC;
        printf("   bench %s: create+init %.3f s of CPU natively; the page's estimate for the "
               "orthogonal part %.3f s\n", configs[i], dt, m.ortho_seconds);
        nn_model_free(mod);
    }
}

int main(void) {
    printf("   budgets: this build %.0f GB (size_t %zu bits), the page's %.0f GB\n",
           GB(nn_memory_limits().bytes), sizeof(size_t) * 8, GB(nn_memory_limits_page().bytes));
    test_issue_links();
    test_presets_accepted();
    test_estimate_mirrors_allocations();
    test_overflow_refused();
    test_crafted_checkpoint();
    bench_setup();
    return check_exit_code();
}
