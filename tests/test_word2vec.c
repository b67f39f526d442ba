/* test_word2vec.c: word2vec (skip-gram with negative sampling) and the
 * pretrained embedding.
 *
 * The negative table's distribution, the subsampling formula, the SGNS step
 * against central finite differences of its loss in double precision, that
 * a seed fixes the vectors however the work is sliced, that words sharing
 * contexts end up close, the vectors file against truncation, bit flips and
 * other versions, nn_trainer_set_embedding's rules, and that a frozen
 * embedding (trainable_embedding false) never changes while the rest
 * learns. */
#include "check.h"
#include "synthetic.h"
#include "word2vec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ the table */

static void unigram_table_gives_each_word_its_share(void) {
    nn_rng r;
    nn_rng_seed(&r, 11);
    uint32_t sizes[] = {5, 17, 1000};
    uint32_t tables[] = {4096, NN_W2V_TABLE_SIZE};
    for (size_t a = 0; a < sizeof sizes / sizeof *sizes; a++) {
        for (size_t b = 0; b < sizeof tables / sizeof *tables; b++) {
            uint32_t V = sizes[a], n = tables[b];
            uint64_t *count = calloc(V, sizeof *count);
            for (uint32_t w = NN_FIRST_WORD; w < V; w++)
                count[w] = nn_rng_below(&r, 4) == 0 ? 0 : 1 + nn_rng_below(&r, 100000); /* some zeros */
            count[V - 1] = 7; /* the last id is never missing: it ends the table */
            uint16_t *table = malloc(n * sizeof *table);
            uint32_t *seen = calloc(V, sizeof *seen);
            nn_w2v_unigram_table(table, n, count, V, 0.75);
            int sorted = 1;
            for (uint32_t i = 0; i < n; i++) {
                seen[table[i]]++;
                if (i && table[i] < table[i - 1]) sorted = 0;
            }
            double total = 0, worst = 0;
            for (uint32_t w = 0; w < V; w++) total += count[w] ? pow((double)count[w], 0.75) : 0;
            int zeros_absent = 1;
            for (uint32_t w = 0; w < V; w++) {
                double want = count[w] ? n * pow((double)count[w], 0.75) / total : 0;
                double diff = fabs(seen[w] - want);
                if (diff > worst) worst = diff;
                if (count[w] == 0 && seen[w]) zeros_absent = 0;
            }
            check(worst <= 1.0 && zeros_absent && sorted,
                  "unigram_table V=%u n=%u every word within one entry of n*count^0.75/sum "
                  "(worst %.3f), words never seen never drawn, ids in order", V, n, worst);
            free(table);
            free(seen);
            free(count);
        }
    }
}

static void keep_probability_is_word2vecs_formula(void) {
    /* word2vec.c: ran = (sqrt(cn / (sample * train_words)) + 1) * (sample * train_words) / cn */
    uint64_t total = 1000000;
    double s = 1e-3, st = s * total;
    double p100 = nn_w2v_keep_probability(100000, total, s);
    double want100 = (sqrt(100000 / st) + 1) * st / 100000;
    check(fabs(p100 - want100) < 1e-12 && p100 > 0.1 && p100 < 0.2,
          "keep_probability of a word at 10%% of the corpus is %.6f (formula %.6f)", p100, want100);
    check(nn_w2v_keep_probability(1000, total, s) == 1.0 && nn_w2v_keep_probability(5, total, s) == 1.0,
          "keep_probability of rare words is 1");
    check(nn_w2v_keep_probability(500000, total, 0) == 1.0, "keep_probability without subsampling is 1");
}

/* ---------------------------------------------------------- the SGNS step */

static double log_sigmoid(double x) { return x >= 0 ? -log1p(exp(-x)) : x - log1p(exp(x)); }

/* The SGNS loss in double: -log s(v.u0) - sum log s(-v.uk). */
static double sgns_loss(const double *v, const double *out, const uint32_t *t, uint32_t K, uint32_t E) {
    double loss = 0;
    for (uint32_t k = 0; k < K; k++) {
        double f = 0;
        for (uint32_t e = 0; e < E; e++) f += v[e] * out[(size_t)t[k] * E + e];
        loss -= log_sigmoid(k == 0 ? f : -f);
    }
    return loss;
}

static void sgns_step_is_sgd_on_the_loss(void) {
    uint32_t dims[] = {1, 3, 4, 5, 7, 16, 17, 33};
    nn_rng r;
    nn_rng_seed(&r, 5);
    for (size_t di = 0; di < sizeof dims / sizeof *dims; di++) {
        uint32_t E = dims[di], V = 20, K = 1 + (uint32_t)(di % 6);
        uint32_t targets[8];
        for (uint32_t k = 0; k < K; k++) targets[k] = 1 + 3 * k; /* distinct, < V */
        float *v = malloc(E * sizeof *v), *out = malloc((size_t)V * E * sizeof *out);
        float *v0 = malloc(E * sizeof *v0), *out0 = malloc((size_t)V * E * sizeof *out0);
        float *neu = malloc(E * sizeof *neu);
        double *vd = malloc(E * sizeof *vd), *od = malloc((size_t)V * E * sizeof *od);
        for (uint32_t e = 0; e < E; e++) v[e] = nn_rng_uniform(&r, -1, 1);
        for (size_t i = 0; i < (size_t)V * E; i++) out[i] = nn_rng_uniform(&r, -1, 1);
        memcpy(v0, v, E * sizeof *v);
        memcpy(out0, out, (size_t)V * E * sizeof *out);
        for (uint32_t e = 0; e < E; e++) vd[e] = v0[e];
        for (size_t i = 0; i < (size_t)V * E; i++) od[i] = out0[i];
        const float lr = 1e-2f;
        float loss = -1;
        nn_sgns_step(v, out, neu, targets, K, E, lr, &loss);
        double want_loss = sgns_loss(vd, od, targets, K, E);
        /* The step must be -lr times the gradient: compare (after - before) / -lr
         * with central differences of the double loss. */
        double maxdiff = 0, h = 1e-6;
        for (uint32_t e = 0; e < E; e++) {
            double keep = vd[e];
            vd[e] = keep + h;
            double lp = sgns_loss(vd, od, targets, K, E);
            vd[e] = keep - h;
            double lm = sgns_loss(vd, od, targets, K, E);
            vd[e] = keep;
            double grad = (lp - lm) / (2 * h), got = ((double)v[e] - v0[e]) / -lr;
            if (fabs(grad - got) > maxdiff) maxdiff = fabs(grad - got);
        }
        double maxdiff_out = 0, moved_elsewhere = 0;
        for (uint32_t w = 0; w < V; w++) {
            int used = 0;
            for (uint32_t k = 0; k < K; k++) used |= targets[k] == w;
            for (uint32_t e = 0; e < E; e++) {
                size_t i = (size_t)w * E + e;
                if (!used) {
                    moved_elsewhere += fabs((double)out[i] - out0[i]);
                    continue;
                }
                double keep = od[i];
                od[i] = keep + h;
                double lp = sgns_loss(vd, od, targets, K, E);
                od[i] = keep - h;
                double lm = sgns_loss(vd, od, targets, K, E);
                od[i] = keep;
                double grad = (lp - lm) / (2 * h), got = ((double)out[i] - out0[i]) / -lr;
                if (fabs(grad - got) > maxdiff_out) maxdiff_out = fabs(grad - got);
            }
        }
        check(maxdiff < 2e-4 && maxdiff_out < 2e-4 && moved_elsewhere == 0,
              "sgns_step E=%u K=%u is an SGD step: dv maxdiff=%.2g dout maxdiff=%.2g, other rows untouched",
              E, K, maxdiff, maxdiff_out);
        check(fabs(loss - want_loss) < 1e-5 * (1 + want_loss), "sgns_step E=%u K=%u loss %.7f (double %.7f)",
              E, K, (double)loss, want_loss);
        free(v), free(out), free(v0), free(out0), free(neu), free(vd), free(od);
    }
}

/* ------------------------------------------------------- training runs */

/* An unlabelled corpus of two topics: a review uses words 4..13 or 14..23
 * (plus filler 24..39 in both), so words of one topic share contexts. */
typedef struct corpus { nn_split split; uint8_t *label, *rating; uint32_t *id, *off; uint16_t *tok; } corpus;

static void corpus_make(corpus *c, uint32_t n) {
    nn_rng r;
    nn_rng_seed(&r, 3);
    memset(c, 0, sizeof *c);
    c->label = malloc(n), c->rating = calloc(n, 1), c->id = malloc(n * 4), c->off = malloc((n + 1) * 4);
    c->tok = malloc((size_t)n * 40 * 2);
    uint32_t at = 0;
    for (uint32_t i = 0; i < n; i++) {
        c->label[i] = 255;
        c->id[i] = i;
        c->off[i] = at;
        c->tok[at++] = NN_START;
        uint32_t topic = i % 2, len = 10 + nn_rng_below(&r, 25);
        for (uint32_t t = 0; t < len; t++) {
            uint32_t u = nn_rng_below(&r, 10);
            c->tok[at++] = (uint16_t)(u < 6 ? 4 + 10 * topic + nn_rng_below(&r, 10) : u < 9 ? 24 + nn_rng_below(&r, 16)
                                      : nn_rng_below(&r, 2) ? NN_UNK : 45 /* beyond V: dropped */);
        }
    }
    c->off[n] = at;
    snprintf(c->split.name, sizeof c->split.name, "unsup");
    c->split.n = n, c->split.label = c->label, c->split.rating = c->rating;
    c->split.review_id = c->id, c->split.offset = c->off, c->split.tokens = c->tok;
}

static void corpus_free(corpus *c) { free(c->label), free(c->rating), free(c->id), free(c->off), free(c->tok); }

static nn_config w2v_config(uint64_t seed) {
    nn_config cfg;
    nn_config_default(&cfg);
    cfg.vocab_size = 40;
    cfg.embed_dim = 8;
    cfg.w2v_epochs = 3;
    cfg.seed = seed;
    return cfg;
}

/* Trains to the end in slices of max_tokens words; returns the vectors
 * (malloc'd) and the first and last slices' losses. */
static float *train_vectors(const nn_config *cfg, const nn_split *sp, uint64_t max_tokens,
                            nn_w2v_progress *last, float *first_loss) {
    nn_w2v *w;
    nn_error err;
    if (!check(nn_w2v_create(&w, cfg, sp, &err) == NN_OK, "w2v_create %s", err.msg)) return NULL;
    nn_w2v_progress p;
    int calls = 0;
    do {
        if (nn_w2v_run(w, max_tokens, &p, &err) != NN_OK) {
            check(0, "w2v_run %s", err.msg);
            break;
        }
        if (calls++ == 0 && first_loss) *first_loss = p.loss;
    } while (!p.finished);
    *last = p;
    uint32_t V, E;
    const float *vec = nn_w2v_vectors(w, &V, &E);
    float *copy = malloc((size_t)V * E * sizeof *copy);
    memcpy(copy, vec, (size_t)V * E * sizeof *copy);
    nn_w2v_free(w);
    return copy;
}

static double cosine(const float *a, const float *b, uint32_t E) {
    double ab = 0, aa = 0, bb = 0;
    for (uint32_t e = 0; e < E; e++) ab += a[e] * b[e], aa += a[e] * a[e], bb += b[e] * b[e];
    return ab / sqrt(aa * bb);
}

static void words_that_share_contexts_end_up_close(void) {
    corpus c;
    corpus_make(&c, 400);
    nn_config cfg = w2v_config(1);
    nn_w2v_progress p;
    float first = NAN;
    float *vec = train_vectors(&cfg, &c.split, 200, &p, &first);
    uint32_t E = cfg.embed_dim;
    /* Cosines of the centred vectors: word2vec's vectors share a large
     * common direction (all-but-the-top, Mu & Viswanath 2018). */
    float mean[8] = {0}, *centred = malloc((size_t)cfg.vocab_size * E * sizeof *centred);
    for (uint32_t a = 4; a < cfg.vocab_size; a++)
        for (uint32_t e = 0; e < E; e++) mean[e] += vec[a * E + e] / (float)(cfg.vocab_size - 4);
    for (uint32_t a = 0; a < cfg.vocab_size; a++)
        for (uint32_t e = 0; e < E; e++) centred[a * E + e] = vec[a * E + e] - mean[e];
    double same = 0, across = 0;
    int ns = 0, na = 0;
    for (uint32_t a = 4; a < 24; a++)
        for (uint32_t b = a + 1; b < 24; b++) {
            double s = cosine(centred + a * E, centred + b * E, E);
            if ((a < 14) == (b < 14)) same += s, ns++;
            else across += s, na++;
        }
    free(centred);
    same /= ns, across /= na;
    check(same > 0.5 && across < 0, "learning words of one topic have (centred) cosine %.3f, across topics %.3f",
          same, across);
    uint32_t ids[3];
    float sims[3];
    uint32_t k = nn_vectors_nearest(vec, cfg.vocab_size, E, 5, 3, ids, sims);
    check(k == 3 && ids[0] >= 4 && ids[0] < 14 && ids[1] < 14 && sims[0] >= sims[1] && sims[1] >= sims[2],
          "nearest to word 5 are its topic's words, best first (%u %.2f, %u %.2f, %u %.2f)", ids[0],
          (double)sims[0], ids[1], (double)sims[1], ids[2], (double)sims[2]);
    check(p.finished && p.epoch == 3 && p.tokens_done == p.tokens_total && p.tokens_total % 3 == 0,
          "progress ends finished after 3 passes of %llu words", (unsigned long long)(p.tokens_total / 3));
    check(p.lr < cfg.w2v_lr * 0.01f && p.lr >= cfg.w2v_lr * 1e-4f * 0.999f,
          "learning rate decays linearly to near its floor (%g of %g)", (double)p.lr, (double)cfg.w2v_lr);
    check(isfinite(first) && p.loss < first * 0.9f, "loss falls: first slice %.4f, last %.4f", (double)first,
          (double)p.loss);
    /* Ids beyond vocab_size and <UNK> are dropped: their rows never move. */
    nn_w2v *w;
    nn_error err;
    nn_w2v_create(&w, &cfg, &c.split, &err);
    const uint64_t *count = nn_w2v_counts(w);
    check(count[NN_UNK] == 0 && count[NN_START] == 0 && count[4] > 0,
          "counts leave out <START> and <UNK> (word2vec's min_count)");
    uint32_t V, E2;
    float unk0 = nn_w2v_vectors(w, &V, &E2)[NN_UNK * E2];
    nn_w2v_free(w);
    check(vec[NN_UNK * E] == unk0, "the <UNK> row keeps its initial value");
    free(vec);
    corpus_free(&c);
}

static void a_seed_fixes_the_vectors_however_sliced(void) {
    corpus c;
    corpus_make(&c, 200);
    nn_config cfg = w2v_config(7);
    nn_w2v_progress p1, p2, p3;
    float *a = train_vectors(&cfg, &c.split, UINT64_MAX, &p1, NULL);
    float *b = train_vectors(&cfg, &c.split, 1, &p2, NULL);
    cfg.seed = 8;
    float *d = train_vectors(&cfg, &c.split, UINT64_MAX, &p3, NULL);
    size_t n = (size_t)cfg.vocab_size * cfg.embed_dim * sizeof(float);
    check(a && b && memcmp(a, b, n) == 0 && p1.pairs == p2.pairs,
          "determinism one call and one review per call give identical vectors");
    check(a && d && memcmp(a, d, n) != 0, "determinism another seed gives other vectors");
    free(a), free(b), free(d);

    nn_w2v *w;
    nn_error err;
    nn_split empty = c.split;
    empty.n = 0;
    check(nn_w2v_create(&w, &cfg, &empty, &err) == NN_ERR_ARG && strstr(err.msg, "unsup"),
          "an empty corpus is refused: %s", err.msg);
    cfg.vocab_size = 4 + 1;
    nn_split none = c.split;
    none.n = 1;
    uint16_t only_unk[3] = {NN_START, NN_UNK, NN_UNK};
    uint32_t off[2] = {0, 3};
    none.tokens = only_unk, none.offset = off;
    check(nn_w2v_create(&w, &cfg, &none, &err) == NN_ERR_ARG && strstr(err.msg, "no word"),
          "a corpus without words of the vocabulary is refused: %s", err.msg);
    corpus_free(&c);
}

/* ----------------------------------------------------------- vectors file */

static void vectors_file_round_trips_and_refuses_damage(void) {
    uint32_t V = 9, E = 3;
    float vec[27];
    for (int i = 0; i < 27; i++) vec[i] = (float)i * 0.25f - 3;
    uint8_t *buf;
    size_t len;
    nn_error err = {0};
    int rc = nn_vectors_write(vec, V, E, 0xabcdef12u, &buf, &len, &err);
    check(rc == NN_OK && len == 48 + 27 * 4, "vectors_write %zu bytes", len);
    const float *back;
    uint32_t v2, e2, crc;
    check(nn_vectors_read(buf, len, &back, &v2, &e2, &crc, &err) == NN_OK && v2 == V && e2 == E &&
              crc == 0xabcdef12u && memcmp(back, vec, sizeof vec) == 0,
          "vectors_read gives back V, E, vocab_crc and every float");
    int all_refused = 1;
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *copy = malloc(cut + 1);
        memcpy(copy, buf, cut);
        if (nn_vectors_read(copy, cut, &back, &v2, &e2, &crc, &err) == NN_OK) all_refused = 0;
        free(copy);
    }
    check(all_refused, "vectors_read refuses every truncation (0..%zu bytes)", len - 1);
    int flips_refused = 1;
    for (size_t i = 0; i < len; i++) {
        buf[i] ^= 0x04;
        if (nn_vectors_read(buf, len, &back, &v2, &e2, &crc, &err) == NN_OK) flips_refused = 0;
        buf[i] ^= 0x04;
    }
    check(flips_refused, "vectors_read refuses a bit flip in any of the %zu bytes", len);
    buf[8] = 2; /* version 2, header checksum repaired */
    uint32_t h = nn_crc32(0, buf, 44);
    memcpy(buf + 44, &h, 4);
    check(nn_vectors_read(buf, len, &back, &v2, &e2, &crc, &err) == NN_ERR_VERSION && strstr(err.msg, "imdb_word2vec"),
          "vectors_read names another version and how to regenerate: %s", err.msg);
    free(buf);
}

/* ------------------------------------------------- the pretrained embedding */

static void set_embedding_copies_the_words_and_is_required(void) {
    synthetic s;
    synthetic_make(&s, 200, 50);
    nn_config cfg;
    nn_config_default(&cfg);
    cfg.vocab_size = 64, cfg.maxlen = 32, cfg.embed_dim = 8, cfg.hidden = 4, cfg.batch_size = 16;
    cfg.epochs = 1, cfg.val_size = 40;
    cfg.embedding_init = NN_EMB_WORD2VEC;
    nn_trainer *t;
    nn_error err = {0};
    nn_progress p;
    check(nn_trainer_create(&t, &cfg, &s.shard, &err) == NN_OK, "trainer_create word2vec %s", err.msg);
    check(nn_trainer_run(t, 1, &p, &err) == NN_ERR_STATE && strstr(err.msg, "word2vec"),
          "trainer_run refuses word2vec without vectors: %s", err.msg);
    float vec[100 * 8], special[4 * 8];
    for (int i = 0; i < 800; i++) vec[i] = (float)i;
    check(nn_trainer_set_embedding(t, vec, 100, 7, &err) == NN_ERR_ARG && strstr(err.msg, "embed_dim"),
          "set_embedding refuses vectors of another width: %s", err.msg);
    nn_model *m = nn_trainer_model(t);
    memcpy(special, m->emb, sizeof special);
    err.msg[0] = 0;
    check(nn_trainer_set_embedding(t, vec, 100, 8, &err) == NN_OK, "set_embedding %s", err.msg);
    /* Rows 4..63 of vec hold i; each column's mean over them is 4*8+e + 59*8/2. */
    double worst = 0;
    for (uint32_t i = 4; i < 64; i++)
        for (uint32_t e = 0; e < 8; e++) {
            double want = vec[i * 8 + e] - (4 * 8 + e + 59 * 8 / 2.0);
            double d = fabs(m->emb[i * 8 + e] - want);
            if (d > worst) worst = d;
        }
    check(memcmp(m->emb, special, sizeof special) == 0 && worst < 1e-4,
          "set_embedding copies rows 4..V-1 minus their mean (maxdiff %.2g) and leaves the special ids' rows",
          worst);
    check(nn_trainer_run(t, 1, &p, &err) == NN_OK, "trainer_run trains once vectors are set %s", err.msg);
    check(nn_trainer_set_embedding(t, vec, 100, 8, &err) == NN_ERR_STATE,
          "set_embedding refused after training started: %s", err.msg);
    nn_trainer_free(t);
    synthetic_free(&s);
}

/* Trains a few batches; the embedding of a frozen model must not move. */
static void frozen_embedding_never_changes(int model, int trainable) {
    synthetic s;
    synthetic_make(&s, 300, 50);
    nn_config cfg;
    nn_config_default(&cfg);
    cfg.vocab_size = 64, cfg.maxlen = 32, cfg.embed_dim = 8, cfg.hidden = 6, cfg.batch_size = 32;
    cfg.epochs = 2, cfg.val_size = 60, cfg.lr = 0.01f, cfg.model = model;
    cfg.trainable_embedding = trainable;
    nn_trainer *t;
    nn_error err;
    nn_progress p;
    nn_trainer_create(&t, &cfg, &s.shard, &err);
    nn_model *m = nn_trainer_model(t);
    size_t nemb = (size_t)cfg.vocab_size * cfg.embed_dim, rest = m->nparams - m->tensor[1].offset;
    float *emb0 = malloc(nemb * sizeof *emb0), *rest0 = malloc(rest * sizeof *rest0);
    memcpy(emb0, m->emb, nemb * sizeof *emb0);
    memcpy(rest0, m->params + m->tensor[1].offset, rest * sizeof *rest0);
    do {
        if (nn_trainer_run(t, 1000, &p, &err) != NN_OK) break;
    } while (!p.finished);
    uint32_t n;
    const nn_epoch_log *h = nn_trainer_history(t, &n);
    int emb_same = memcmp(emb0, m->emb, nemb * sizeof *emb0) == 0;
    int rest_same = memcmp(rest0, m->params + m->tensor[1].offset, rest * sizeof *rest0) == 0;
    double gsum = 0;
    for (size_t i = 0; i < nemb; i++) gsum += fabs(m->grads[i]);
    const char *name = model == NN_MODEL_BAG ? "bag" : "lstm";
    if (trainable)
        check(!emb_same && !rest_same, "trainable_embedding %s: the embedding learns with the rest", name);
    else
        check(emb_same && !rest_same && gsum == 0 && n == 2 && h[1].loss < h[0].loss,
              "frozen embedding %s: never changes, no gradient, the rest learns (loss %.4f -> %.4f)", name,
              n ? (double)h[0].loss : 0.0, n > 1 ? (double)h[1].loss : 0.0);
    free(emb0), free(rest0);
    nn_trainer_free(t);
    synthetic_free(&s);
}

int main(void) {
    unigram_table_gives_each_word_its_share();
    keep_probability_is_word2vecs_formula();
    sgns_step_is_sgd_on_the_loss();
    words_that_share_contexts_end_up_close();
    a_seed_fixes_the_vectors_however_sliced();
    vectors_file_round_trips_and_refuses_damage();
    set_embedding_copies_the_words_and_is_required();
    frozen_embedding_never_changes(NN_MODEL_BAG, 0);
    frozen_embedding_never_changes(NN_MODEL_LSTM, 0);
    frozen_embedding_never_changes(NN_MODEL_BAG, 1);
    return check_exit_code();
}
