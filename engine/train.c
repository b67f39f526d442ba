/* train.c: the training loop, in slices.
 *
 * The trainer owns the padded id matrices of the training, validation and
 * test sets, the model, and the history. It advances by at most a given
 * number of batches per call (nn_trainer_run) so a Web Worker can answer
 * messages between slices; an epoch ends with a validation pass, like Keras
 * fit(validation_data=...). Not here: the model's maths (model.c), files. */
#include "nn.h"
#include "ngram.h"
#include "transformer.h"
#include "kernels.h"
#include "stopwords.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A set as the model reads it, one row per example: padded ids (n,T)
 * uint16 for text, pixels (n,D) uint8 for images; row_bytes apart. */
typedef struct padded_set {
    uint32_t n;
    void *x;         /* (n,T) ids or (n,D) pixels */
    float *label;    /* (n) 0/1, or the class */
    uint32_t *source;/* (n) index of each review in the shard split */
} padded_set;

struct nn_trainer {
    nn_config cfg;
    nn_model *model;
    nn_rng rng;            /* the epoch shuffles */
    padded_set train, val, test;
    nn_stopwords stop;     /* removed before padding (cfg.stopwords) */
    uint32_t *order;       /* (train.n) this epoch's order */
    int images;            /* an image trainer (nn_trainer_create_images) */
    size_t row_bytes;      /* bytes of one row of a set: T*2 (text) or D (images) */
    uint8_t *batch_x;      /* (B, row_bytes) */
    float *batch_label;    /* (B) */
    uint32_t *batch_rows;  /* (B) the batch's rows of the training set (ngram) */
    nn_ngram_cache ngram_cache; /* model "ngram": each training review's features (ngram.h) */
    nn_ngram_cache ngram_val;   /* and each validation review's */
    uint32_t epoch;        /* 0-based epoch in progress */
    uint32_t batch;        /* batches done in it */
    uint32_t batches;      /* per epoch */
    double loss_sum;       /* sum of batch loss * batch size this epoch */
    uint32_t correct, seen;
    nn_epoch_log *hist;    /* (cfg.epochs) */
    uint32_t nhist;
    /* The best epoch under cfg.monitor/min_delta, tracked for every run
     * with validation; early stopping (cfg.patience > 0) acts on it. */
    float best;            /* best monitored value so far */
    uint32_t best_epoch;   /* 1-based, 0 before the first validated epoch */
    uint32_t wait;         /* epochs since the last improvement */
    int stopped;
    int restored_best;     /* early stopping put the best epoch's weights back */
    float *best_params;    /* (nparams) with restore_best_weights */
    /* The last good weights are those the last batch with a finite loss
     * was computed with: the model's parameters are double-buffered
     * (nn_model_keep_previous), so after each step the other buffer holds
     * them at no cost. When the loss or the updated weights stop being
     * finite, the model goes back to them (nn_model_undo_update), so it
     * still scores text (the weights the bad loss came from may be finite
     * yet overflow in the forward pass). */
    int diverged;          /* NN_ERR_DIVERGED was returned: the run is over */
    float last_loss;       /* the last finite batch loss (NaN before any) */
    nn_batch_log *batch_log; /* (batches) this epoch's batches so far */
    int validating;        /* the epoch's training batches are done */
    nn_eval val_eval;      /* the validation pass in progress */
    nn_epoch_hook_fn epoch_hook; /* called at each epoch's end, before early stopping */
    void *epoch_hook_user;
    int embedding_set;     /* nn_trainer_set_embedding was called */
    int test_pending;      /* the shard's test split is still to come (nn_trainer_attach_test) */
    uint32_t test_counted; /* its reviews, as the budget counted them */
};

static void free_set(padded_set *s) {
    free(s->x);
    free(s->label);
    free(s->source);
    memset(s, 0, sizeof *s);
}

/* Pads reviews idx[0..n) of split sp into set, without the stop words. */
static int pad_set(padded_set *set, const nn_split *sp, const uint32_t *idx, uint32_t n,
                   const nn_config *cfg, const nn_stopwords *stop, nn_error *err) {
    uint32_t T = cfg->maxlen;
    size_t longest = 0;
    for (uint32_t i = 0; stop->bits && i < n; i++) {
        uint32_t r = idx ? idx[i] : i;
        if (sp->offset[r + 1] - sp->offset[r] > longest) longest = sp->offset[r + 1] - sp->offset[r];
    }
    uint16_t *kept = stop->bits ? nn_malloc_array(longest, sizeof *kept) : NULL;
    set->n = n;
    uint16_t *ids = nn_malloc_array(nn_size_mul_sat(n, T), sizeof *ids);
    set->x = ids;
    set->label = nn_malloc_array(n, sizeof *set->label);
    set->source = nn_malloc_array(n, sizeof *set->source);
    if (!ids || !set->label || !set->source || (stop->bits && !kept)) {
        free(kept);
        return nn_fail(err, NN_ERR_NOMEM,
                       "out of memory padding %u reviews to maxlen %u; try a smaller maxlen", n, T);
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t r = idx ? idx[i] : i;
        const uint16_t *tok = sp->tokens + sp->offset[r];
        size_t len = sp->offset[r + 1] - sp->offset[r];
        if (kept) {
            len = nn_stopwords_filter(stop, kept, tok, len);
            tok = kept;
        }
        nn_pad_review(ids + (size_t)i * T, tok, len, cfg);
        /* Two classes: 1 positive, anything else 0 (as always); K classes: the id. */
        set->label[i] = cfg->classes > 2 ? (float)sp->label[r] : sp->label[r] == 1 ? 1.0f : 0.0f;
        set->source[i] = r;
    }
    free(kept);
    return NN_OK;
}

void nn_trainer_free(nn_trainer *t) {
    if (!t) return;
    nn_model_free(t->model);
    free_set(&t->train);
    free_set(&t->val);
    free_set(&t->test);
    nn_stopwords_free(&t->stop);
    free(t->order);
    free(t->batch_x);
    free(t->batch_rows);
    nn_ngram_cache_free(&t->ngram_cache);
    nn_ngram_cache_free(&t->ngram_val);
    free(t->batch_label);
    free(t->hist);
    free(t->best_params);
    free(t->batch_log);
    free(t);
}

/* Copies images idx[0..n) of split sp (D pixels each) into set. */
static int copy_images(padded_set *set, const nn_image_split *sp, const uint32_t *idx, uint32_t n,
                       uint32_t D, nn_error *err) {
    set->n = n;
    uint8_t *px = nn_malloc_array(nn_size_mul_sat(n, D), 1);
    set->x = px;
    set->label = nn_malloc_array(n, sizeof *set->label);
    set->source = nn_malloc_array(n, sizeof *set->source);
    if (!px || !set->label || !set->source)
        return nn_fail(err, NN_ERR_NOMEM, "out of memory copying %u images", n);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t r = idx ? idx[i] : i;
        memcpy(px + (size_t)i * D, sp->pixels + (size_t)r * D, D);
        set->label[i] = (float)sp->label[r];
        set->source[i] = r;
    }
    return NN_OK;
}

/* What both kinds of trainer share, before their sets are built: the
 * sizes, the model and its initialisation, the split of the n training
 * examples (*perm, shuffled; the caller frees it) and the buffers. */
static int trainer_begin(nn_trainer **out, const nn_config *cfg, uint32_t n, size_t row_bytes,
                         uint32_t **perm_out, nn_error *err) {
    *out = NULL;
    *perm_out = NULL;
    if (cfg->val_size >= n)
        return nn_fail(err, NN_ERR_ARG,
                       "val_size %u leaves no training examples (the shard has %u); choose less",
                       cfg->val_size, n);
    uint32_t rest = n - cfg->val_size;
    uint32_t ntrain = cfg->train_size ? cfg->train_size : rest;
    if (ntrain > rest)
        return nn_fail(err, NN_ERR_ARG,
                       "train_size %u + val_size %u exceeds the %u training examples in the shard",
                       cfg->train_size, cfg->val_size, n);

    nn_trainer *t = calloc(1, sizeof *t);
    if (!t) return nn_fail(err, NN_ERR_NOMEM, "out of memory creating the trainer");
    t->cfg = *cfg;
    t->row_bytes = row_bytes;
    int rc = nn_model_create(&t->model, cfg, err);
    if (rc) {
        nn_trainer_free(t);
        return rc;
    }
    /* One generator, seeded once: it initialises the model, splits the
     * data, then shuffles every epoch, so a seed fixes the whole run. */
    nn_rng_seed(&t->rng, cfg->seed);
    nn_model_init(t->model, &t->rng);
    uint32_t *perm = nn_malloc_array(n, sizeof *perm);
    t->order = nn_malloc_array(ntrain, sizeof *t->order);
    t->batch_x = nn_malloc_array(cfg->batch_size, row_bytes);
    t->batch_label = nn_malloc_array(cfg->batch_size, sizeof *t->batch_label);
    t->hist = nn_calloc_array(cfg->epochs, sizeof *t->hist);
    if (cfg->patience > 0 && cfg->restore_best_weights)
        t->best_params = nn_malloc_array(t->model->nparams, sizeof *t->best_params);
    rc = nn_model_keep_previous(t->model, err);
    if (rc) {
        free(perm);
        nn_trainer_free(t);
        return rc;
    }
    if (!perm || !t->order || !t->batch_x || !t->batch_label || !t->hist ||
        (cfg->patience > 0 && cfg->restore_best_weights && !t->best_params)) {
        free(perm);
        nn_trainer_free(t);
        return nn_fail(err, NN_ERR_NOMEM, "out of memory creating the trainer");
    }
    for (uint32_t i = 0; i < n; i++) perm[i] = i;
    nn_rng_shuffle_u32(&t->rng, perm, n);
    t->train.n = ntrain; /* the sets are built by the caller */
    *perm_out = perm;
    *out = t;
    return NN_OK;
}

/* After the sets: the epoch order, the batch log. */
static int trainer_finish(nn_trainer *t, nn_error *err) {
    t->last_loss = NAN;
    for (uint32_t i = 0; i < t->train.n; i++) t->order[i] = i;
    t->batches = (t->train.n + t->cfg.batch_size - 1) / t->cfg.batch_size;
    t->batch_log = nn_calloc_array(t->batches ? t->batches : 1, sizeof *t->batch_log);
    if (!t->batch_log) return nn_fail(err, NN_ERR_NOMEM, "out of memory creating the trainer");
    if (t->cfg.model == NN_MODEL_TRANSFORMER) /* its learning rate decays to 0 at the last step */
        nn_transformer_set_schedule(t->model, (uint64_t)t->batches * t->cfg.epochs, t->cfg.lr, t->cfg.warmup_steps);
    return NN_OK;
}

static int check_test_labels(const nn_split *test, uint32_t K, nn_error *err);

/* nn_trainer_create's checks before it allocates anything: the config
 * against the shard, its "train" split, and the budget. */
static int text_precheck(const nn_config *cfg, const nn_shard *shard, nn_error *err) {
    int rc = nn_config_check(cfg, shard, err);
    if (rc) return rc;
    const nn_split *train = nn_shard_find(shard, "train");
    const nn_split *test = nn_shard_find(shard, "test");
    if (!train)
        return nn_fail(err, NN_ERR_FORMAT,
                       "the shard has no \"train\" split; rebuild it with scripts/setup.sh");
    uint32_t K = cfg->classes > 2 ? cfg->classes : 2;
    for (uint32_t i = 0; i < train->n; i++)
        if (train->label[i] >= K)
            return nn_fail(err, NN_ERR_FORMAT,
                           "the shard's \"train\" split has unlabelled review %u (label %u, "
                           "classes 0..%u); rebuild it with scripts/setup.sh", i, train->label[i], K - 1);
    if (test && (rc = check_test_labels(test, K, err)) != NN_OK) return rc;
    /* A test split still to come is counted as if it were here, so a config
     * is accepted or refused alike before and after it arrives. */
    nn_data_size data = {train->n, test ? test->n : shard->test_pending, train->offset[train->n]};
    nn_limits limits = nn_memory_limits(); /* the budget, before any allocation */
    return nn_memory_check(cfg, &data, &limits, err);
}

/* The checks of text_precheck on a "test" split of classes K. */
static int check_test_labels(const nn_split *test, uint32_t K, nn_error *err) {
    for (uint32_t i = 0; K > 2 && i < test->n; i++)
        if (test->label[i] >= K)
            return nn_fail(err, NN_ERR_FORMAT,
                           "the shard's \"test\" split has review %u with label %u, but the "
                           "classes are 0..%u; rebuild the shard", i, test->label[i], K - 1);
    return NN_OK;
}

int nn_trainer_create(nn_trainer **out, const nn_config *cfg, const nn_shard *shard, nn_error *err) {
    *out = NULL;
    int rc = text_precheck(cfg, shard, err);
    if (rc) return rc;
    const nn_split *train = nn_shard_find(shard, "train");
    const nn_split *test = nn_shard_find(shard, "test");
    nn_trainer *t;
    uint32_t *perm;
    rc = trainer_begin(&t, cfg, train->n, (size_t)cfg->maxlen * sizeof(uint16_t), &perm, err);
    if (rc) return rc;
    uint32_t ntrain = t->train.n;
    rc = nn_stopwords_build(&t->stop, cfg->stopwords, &shard->vocab, err);
    if (!rc) rc = pad_set(&t->val, train, perm, cfg->val_size, cfg, &t->stop, err);
    if (!rc) rc = pad_set(&t->train, train, perm + cfg->val_size, ntrain, cfg, &t->stop, err);
    if (!rc && cfg->model == NN_MODEL_NGRAM) /* its bigrams: the training reviews' most frequent */
        rc = nn_ngram_build_bigrams_cached(t->model, t->train.x, t->train.label, t->train.n, cfg->maxlen,
                                           &t->ngram_cache, err); /* and each review's features, kept */
    if (!rc && cfg->model == NN_MODEL_NGRAM) { /* built once, reused every epoch */
        t->batch_rows = nn_malloc_array(cfg->batch_size, sizeof *t->batch_rows);
        if (!t->batch_rows ||
            !nn_ngram_cache_build(&t->ngram_val, t->model, t->val.x, t->val.n, cfg->maxlen))
            rc = nn_fail(err, NN_ERR_NOMEM, "out of memory for the training reviews' n-gram features");
    }
    if (!rc && test) rc = pad_set(&t->test, test, NULL, test->n, cfg, &t->stop, err);
    if (!test && shard->test_pending) {
        t->test_pending = 1;
        t->test_counted = shard->test_pending;
    }
    free(perm);
    if (!rc) rc = trainer_finish(t, err);
    if (rc) {
        nn_trainer_free(t);
        return rc;
    }
    *out = t;
    return NN_OK;
}

int nn_trainer_attach_test(nn_trainer *t, const nn_split *test, nn_error *err) {
    if (!t->test_pending)
        return nn_fail(err, NN_ERR_STATE, "this model has no test set to come (it was made from a "
                       "shard with its test split, or none expected)");
    if (test->n != t->test_counted)
        return nn_fail(err, NN_ERR_FORMAT, "the test split has %u reviews, but %u were expected: the "
                       "two files are from different builds; rebuild the site with "
                       "scripts/build-site.sh", test->n, t->test_counted);
    uint32_t K = t->cfg.classes > 2 ? t->cfg.classes : 2;
    int rc = check_test_labels(test, K, err);
    if (rc) return rc;
    /* As nn_trainer_create pads it: the whole split in order, the stop
     * words removed; no random draw, so the run is the same either way. */
    if ((rc = pad_set(&t->test, test, NULL, test->n, &t->cfg, &t->stop, err)) != NN_OK) {
        free_set(&t->test);
        return rc;
    }
    t->test_pending = 0;
    return NN_OK;
}

int nn_trainer_test_pending(const nn_trainer *t) { return t->test_pending; }

/* nn_trainer_create_images's checks before it allocates anything. */
static int image_precheck(const nn_config *cfg, const nn_image_shard *shard, nn_error *err) {
    int rc = nn_config_check(cfg, NULL, err);
    if (rc) return rc;
    if (cfg->model != NN_MODEL_MLP)
        return nn_fail(err, NN_ERR_ARG,
                       "this is an image shard, which only model \"mlp\" trains on (the config "
                       "says another model); choose \"mlp\", e.g. the preset tutorial-mlp");
    uint32_t D = nn_image_shard_pixels(shard);
    if (cfg->input_dim != D)
        return nn_fail(err, NN_ERR_ARG,
                       "input_dim is %u but the shard's images are %u x %u x %u = %u values; set "
                       "input_dim to %u", cfg->input_dim, shard->height, shard->width,
                       shard->channels, D, D);
    if (cfg->classes != shard->classes)
        return nn_fail(err, NN_ERR_ARG, "classes is %u but the shard has %u classes; set classes "
                       "to %u", cfg->classes, shard->classes, shard->classes);
    const nn_image_split *train = nn_image_shard_find(shard, "train");
    const nn_image_split *test = nn_image_shard_find(shard, "test");
    if (!train)
        return nn_fail(err, NN_ERR_FORMAT, "the image shard has no \"train\" split; rebuild it "
                       "with scripts/setup.sh");
    nn_data_size data = {train->n, test ? test->n : 0, 0};
    nn_limits limits = nn_memory_limits(); /* the budget, before any allocation */
    return nn_memory_check(cfg, &data, &limits, err);
}

int nn_trainer_create_images(nn_trainer **out, const nn_config *cfg, const nn_image_shard *shard,
                             nn_error *err) {
    *out = NULL;
    int rc = image_precheck(cfg, shard, err);
    if (rc) return rc;
    uint32_t D = nn_image_shard_pixels(shard);
    const nn_image_split *train = nn_image_shard_find(shard, "train");
    const nn_image_split *test = nn_image_shard_find(shard, "test");
    nn_trainer *t;
    uint32_t *perm;
    rc = trainer_begin(&t, cfg, train->n, D, &perm, err);
    if (rc) return rc;
    t->images = 1;
    uint32_t ntrain = t->train.n;
    rc = copy_images(&t->val, train, perm, cfg->val_size, D, err);
    if (!rc) rc = copy_images(&t->train, train, perm + cfg->val_size, ntrain, D, err);
    if (!rc && test) rc = copy_images(&t->test, test, NULL, test->n, D, err);
    free(perm);
    if (!rc) rc = trainer_finish(t, err);
    if (rc) {
        nn_trainer_free(t);
        return rc;
    }
    *out = t;
    return NN_OK;
}

nn_model *nn_trainer_model(nn_trainer *t) { return t->model; }

int nn_trainer_set_embedding(nn_trainer *t, const float *vectors, uint32_t V, uint32_t E, nn_error *err) {
    nn_model *m = t->model;
    uint32_t rows = V < t->cfg.vocab_size ? V : t->cfg.vocab_size;
    if (t->images)
        return nn_fail(err, NN_ERR_STATE, "model \"mlp\" has no embedding to initialise");
    if (t->epoch > 0 || t->batch > 0)
        return nn_fail(err, NN_ERR_STATE,
                       "the embedding can only be initialised before training starts; "
                       "configure a new model first");
    if (E != t->cfg.embed_dim)
        return nn_fail(err, NN_ERR_ARG,
                       "the word vectors have %u dimensions but embed_dim is %u; set embed_dim "
                       "to %u or train word vectors of %u dimensions",
                       E, t->cfg.embed_dim, E, t->cfg.embed_dim);
    /* Only the words': <PAD>, <START>, <UNK> keep the model's initialisation
     * (word2vec never sees them). Their mean is subtracted: word2vec's
     * vectors share one large common direction (Mu & Viswanath 2018,
     * "All-but-the-top"), which an average or a gate would otherwise mostly
     * see. Measured on the tutorial-pretrained preset: 0.80 validation
     * accuracy at epoch 5 with it, epoch 9 without. */
    if (rows > NN_FIRST_WORD) {
        uint32_t n = rows - NN_FIRST_WORD;
        const float *src = vectors + (size_t)NN_FIRST_WORD * E;
        float *dst = m->emb + (size_t)NN_FIRST_WORD * E;
        double *mean = nn_calloc_array(E, sizeof *mean);
        if (!mean) return nn_fail(err, NN_ERR_NOMEM, "out of memory setting the embedding");
        for (uint32_t i = 0; i < n; i++)
            for (uint32_t e = 0; e < E; e++) mean[e] += src[(size_t)i * E + e];
        for (uint32_t e = 0; e < E; e++) mean[e] /= n;
        for (uint32_t i = 0; i < n; i++)
            for (uint32_t e = 0; e < E; e++) dst[(size_t)i * E + e] = (float)(src[(size_t)i * E + e] - mean[e]);
        free(mean);
    }
    t->embedding_set = 1;
    return NN_OK;
}

const nn_batch_log *nn_trainer_batch_log(const nn_trainer *t, uint32_t *n) {
    /* After the last training batch the whole epoch's log stays readable
     * until the next epoch's first batch. */
    *n = t->validating || (t->batch == 0 && t->nhist > 0) ? t->batches : t->batch;
    return t->batch_log;
}

const nn_epoch_log *nn_trainer_history(const nn_trainer *t, uint32_t *n) {
    *n = t->nhist;
    return t->hist;
}

static const padded_set *find_set(const nn_trainer *t, const char *split) {
    if (!strcmp(split, "train")) return &t->train;
    if (!strcmp(split, "val")) return &t->val;
    if (!strcmp(split, "test")) return &t->test;
    return NULL;
}

uint32_t nn_trainer_count(const nn_trainer *t, const char *split) {
    const padded_set *s = find_set(t, split);
    return s ? s->n : 0;
}

const uint16_t *nn_trainer_set(const nn_trainer *t, const char *split, uint32_t *n,
                               const float **label, const uint32_t **source) {
    const padded_set *s = find_set(t, split);
    if (t->images) s = NULL; /* no ids: an image trainer */
    *n = s ? s->n : 0;
    if (label) *label = s ? s->label : NULL;
    if (source) *source = s ? s->source : NULL;
    return s ? s->x : NULL;
}

const nn_stopwords *nn_trainer_stopwords(const nn_trainer *t) {
    return t->stop.bits ? &t->stop : NULL;
}

int nn_trainer_eval_begin(nn_trainer *t, const char *split, nn_eval *e, nn_error *err) {
    const padded_set *s = find_set(t, split);
    if (!s) return nn_fail(err, NN_ERR_ARG, "unknown split \"%s\"; use \"val\" or \"test\"", split);
    if (s->n == 0) return nn_fail(err, NN_ERR_STATE, "the \"%s\" set is empty", split);
    memset(e, 0, sizeof *e);
    e->set = s;
    return NN_OK;
}

/* Forward only, in order, so the sums (and results) do not depend on how
 * the work was sliced. */
int nn_trainer_eval_step(nn_trainer *t, nn_eval *e, uint32_t max_batches) {
    const padded_set *s = e->set;
    nn_model *m = t->model;
    uint32_t B = m->Bmax;
    for (uint32_t k = 0; k < max_batches && e->pos < s->n; k++) {
        uint32_t b = s->n - e->pos < B ? s->n - e->pos : B;
        if (s == &t->val && t->ngram_val.feat) /* ngram: the cached features */
            nn_ngram_forward_rows(m, &t->ngram_val, s->x, NULL, e->pos, b);
        else
            nn_model_forward(m, (const uint8_t *)s->x + (size_t)e->pos * t->row_bytes, b);
        e->loss_sum += nn_model_loss_sum(m, s->label + e->pos, b, &e->correct);
        e->pos += b;
    }
    return e->pos >= s->n;
}

void nn_trainer_eval_result(const nn_eval *e, float *loss, float *acc) {
    const padded_set *s = e->set;
    *loss = s->n ? (float)(e->loss_sum / s->n) : NAN;
    *acc = s->n ? (float)e->correct / (float)s->n : NAN;
}

int nn_trainer_evaluate(nn_trainer *t, const char *split, float *loss, float *acc, nn_error *err) {
    nn_eval e;
    int rc = nn_trainer_eval_begin(t, split, &e, err);
    if (rc) return rc;
    while (!nn_trainer_eval_step(t, &e, UINT32_MAX)) {}
    nn_trainer_eval_result(&e, loss, acc);
    return NN_OK;
}

/* Keras EarlyStopping.on_epoch_end (Keras 3), in two halves. track_best:
 * an epoch improves when its value beats the best by more than min_delta
 * (lower for val_loss, higher for val_accuracy). It runs for every run with
 * validation, patience 0 too, so the best epoch is the engine's one answer
 * (the page shows it; nothing else derives it). early_stopping: after
 * `patience` epochs without improvement training stops and, with
 * restore_best_weights, the best epoch's weights come back. (Keras keeps the
 * first epoch's weights as the best before comparing; here the first epoch
 * always improves on the initial +-infinity, the same.) */
static void track_best(nn_trainer *t, const nn_epoch_log *h) {
    const nn_config *c = &t->cfg;
    int acc = c->monitor == NN_MONITOR_VAL_ACC;
    float value = acc ? h->val_acc : h->val_loss;
    if (t->best_epoch == 0) t->best = acc ? -INFINITY : INFINITY;
    t->wait++;
    int better = acc ? value - c->min_delta > t->best : value + c->min_delta < t->best;
    if (!better) return;
    t->best = value;
    t->best_epoch = t->nhist;
    t->wait = 0;
    if (t->best_params) memcpy(t->best_params, t->model->params, t->model->nparams * sizeof(float));
}

static void early_stopping(nn_trainer *t) {
    if (t->wait == 0 || t->wait < t->cfg.patience || t->nhist <= 1) return;
    t->stopped = 1;
    if (t->best_params) {
        memcpy(t->model->params, t->best_params, t->model->nparams * sizeof(float));
        t->restored_best = 1;
    }
}

uint32_t nn_trainer_best_epoch(const nn_trainer *t) { return t->best_epoch; }

void nn_trainer_set_epoch_hook(nn_trainer *t, nn_epoch_hook_fn fn, void *user) {
    t->epoch_hook = fn;
    t->epoch_hook_user = user;
}

void nn_trainer_count_tokens(const nn_trainer *t, const char *split, uint32_t *counts) {
    const padded_set *s = find_set(t, split);
    uint32_t V = t->cfg.vocab_size;
    memset(counts, 0, (size_t)V * sizeof *counts);
    if (!s || t->images) return;
    const uint16_t *ids = s->x;
    for (size_t i = 0, n = (size_t)s->n * t->cfg.maxlen; i < n; i++)
        if (ids[i] != NN_PAD) counts[ids[i]]++; /* pad_set mapped ids >= V to NN_UNK */
}

/* Ends the run after a non-finite loss or update: the model goes back to
 * the last good weights and further calls refuse to train. Every loss is
 * checked, so the weights before the last step gave a finite one; before
 * any step there is nothing to go back to (the weights are the initial
 * ones, or those set by the caller). */
static void diverge(nn_trainer *t) {
    nn_model_undo_update(t->model);
    t->diverged = 1;
}

/* " (the batch before had 4.5e+36)", or "" before the first finite loss */
static const char *loss_before(const nn_trainer *t, char *buf, size_t n) {
    if (isfinite(t->last_loss)) snprintf(buf, n, " (the batch before had %.3g)", (double)t->last_loss);
    else buf[0] = 0;
    return buf;
}

/* After an epoch's training and validation: history, early stopping. */
static int finish_epoch(nn_trainer *t, nn_progress *p, nn_error *err) {
    const nn_config *c = &t->cfg;
    nn_epoch_log *h = &t->hist[t->nhist - 1];
    /* The best epoch first, so the hook sees it; the hook sees the weights
     * this epoch ended with (before early stopping may restore the best). */
    if (t->val.n && isfinite(h->loss) && isfinite(h->val_loss)) track_best(t, h);
    if (t->epoch_hook) t->epoch_hook(t->epoch_hook_user, t->model, t->nhist);
    t->epoch++;
    t->batch = 0;
    p->batch = t->batches;
    p->epoch_done = 1;
    if (!isfinite(h->loss) || (t->val.n && !isfinite(h->val_loss))) {
        p->batch_loss = isfinite(h->loss) ? h->val_loss : h->loss;
        diverge(t);
        return nn_fail(err, NN_ERR_DIVERGED,
                       "the %s loss is not finite after epoch %u; the model keeps the last "
                       "weights that gave a finite loss. Lower the learning rate (now %g) "
                       "and train again",
                       isfinite(h->loss) ? "validation" : "training", t->epoch, (double)c->lr);
    }
    if (c->patience > 0 && t->val.n) early_stopping(t);
    p->best_epoch = t->best_epoch;
    p->stopped_early = t->stopped;
    p->restored_best = t->restored_best;
    p->finished = t->epoch >= c->epochs || t->stopped;
    return NN_OK;
}

int nn_trainer_run(nn_trainer *t, uint32_t max_batches, nn_progress *p, nn_error *err) {
    const nn_config *c = &t->cfg;
    uint32_t B = c->batch_size;
    size_t row = t->row_bytes;
    memset(p, 0, sizeof *p);
    p->batches = t->batches;
    p->best_epoch = t->best_epoch;
    if (t->diverged) {
        p->epoch = t->epoch + 1;
        p->batch = t->batch;
        p->batch_loss = NAN;
        return nn_fail(err, NN_ERR_STATE,
                       "this run diverged; start a new one with a lower learning rate (now %g)",
                       (double)c->lr);
    }
    if (c->embedding_init == NN_EMB_WORD2VEC && !t->embedding_set && !t->images)
        return nn_fail(err, NN_ERR_STATE,
                       "embedding_init is \"word2vec\" but no word vectors were given: train "
                       "them first (imdb_word2vec, or Pretrain on the page) or set "
                       "embedding_init to \"uniform\"");
    if (t->epoch >= c->epochs || t->stopped) {
        p->epoch = t->stopped ? t->epoch : c->epochs;
        p->finished = 1;
        p->stopped_early = t->stopped;
        p->restored_best = t->restored_best;
        return NN_OK;
    }
    for (uint32_t k = 0; k < max_batches; k++) {
        p->epoch = t->epoch + 1;
        if (t->validating) {
            /* Keras fit(validation_data=...): the pass after the epoch. */
            if (!nn_trainer_eval_step(t, &t->val_eval, 1)) continue;
            t->validating = 0;
            nn_epoch_log *h = &t->hist[t->nhist - 1];
            nn_trainer_eval_result(&t->val_eval, &h->val_loss, &h->val_acc);
            return finish_epoch(t, p, err);
        }
        if (t->batch == 0) {
            /* Keras fit(shuffle=True): a new order every epoch. */
            nn_rng_shuffle_u32(&t->rng, t->order, t->train.n);
            t->loss_sum = 0;
            t->correct = t->seen = 0;
        }
        uint32_t first = t->batch * B;
        uint32_t b = t->train.n - first < B ? t->train.n - first : B;
        uint32_t correct = 0;
        float loss;
        if (t->batch_rows) { /* ngram: the reviews' cached features, not their ids */
            for (uint32_t i = 0; i < b; i++) {
                uint32_t r = t->order[first + i];
                t->batch_rows[i] = r;
                t->batch_label[i] = t->train.label[r];
            }
            nn_model_zero_grad(t->model);
            loss = nn_ngram_forward_backward_rows(t->model, &t->ngram_cache, t->train.x, t->batch_rows,
                                                  t->batch_label, b, &correct);
        } else {
            for (uint32_t i = 0; i < b; i++) {
                uint32_t r = t->order[first + i];
                memcpy(t->batch_x + i * row, (const uint8_t *)t->train.x + r * row, row);
                t->batch_label[i] = t->train.label[r];
            }
            nn_model_zero_grad(t->model);
            loss = nn_model_forward_backward(t->model, t->batch_x, t->batch_label, b, &correct);
        }
        if (!isfinite(loss)) {
            /* These weights overflow; the ones before the last update did not. */
            char before[64];
            p->batch = t->batch;
            p->batch_loss = loss;
            diverge(t);
            return nn_fail(err, NN_ERR_DIVERGED,
                           "the loss became %s at epoch %u, batch %u%s; the model keeps the "
                           "last weights that gave a finite loss. Lower the learning rate "
                           "(now %g) and train again",
                           isnan(loss) ? "NaN" : "infinite", t->epoch + 1, t->batch + 1,
                           loss_before(t, before, sizeof before), (double)c->lr);
        }
        if (!nn_model_update(t->model)) {
            p->batch = t->batch;
            p->batch_loss = INFINITY;
            diverge(t);
            return nn_fail(err, NN_ERR_DIVERGED,
                           "the weights became infinite at epoch %u, batch %u (its loss was "
                           "%.3g); the model keeps the weights from before that step. Lower "
                           "the learning rate (now %g) and train again",
                           t->epoch + 1, t->batch + 1, (double)loss, (double)c->lr);
        }
        t->last_loss = loss;
        t->loss_sum += (double)loss * b;
        t->correct += correct;
        t->seen += b;
        t->batch_log[t->batch].loss = loss;
        t->batch_log[t->batch].acc = (float)correct / (float)b;
        t->batch++;
        p->batch = t->batch;
        p->batch_loss = loss;
        p->batch_acc = (float)correct / (float)b;
        if (t->batch == t->batches) {
            nn_epoch_log *h = &t->hist[t->nhist++];
            h->loss = (float)(t->loss_sum / t->seen);
            h->acc = (float)t->correct / (float)t->seen;
            h->val_loss = h->val_acc = NAN;
            if (t->val.n) {
                nn_trainer_eval_begin(t, "val", &t->val_eval, NULL);
                t->validating = 1;
                continue;
            }
            return finish_epoch(t, p, err);
        }
    }
    return NN_OK;
}

int nn_trainer_checkpoint_fits(const nn_checkpoint_head *h, const nn_shard *shard,
                               const nn_image_shard *images, nn_error *err) {
    const nn_config *cfg = &h->cfg;
    if (!h->has_config)
        return nn_fail(err, NN_ERR_ARG, "pass the checkpoint's header and JSON (its head) to check it");
    if (images || cfg->model == NN_MODEL_MLP) {
        /* An image model on the loaded image shard (input_dim and classes
         * must match it; nn_trainer_create_images says so). */
        if (!images)
            return nn_fail(err, NN_ERR_ARG, "this checkpoint is an image model (\"mlp\"): load an image "
                           "shard (fashion.shard) first");
        return image_precheck(cfg, images, err);
    }
    if (!shard) return nn_fail(err, NN_ERR_ARG, "load a text shard before a text model's checkpoint");
    if (h->vocab_crc != shard->vocab_crc)
        return nn_fail(err, NN_ERR_ARG,
                       "this checkpoint was trained on another vocabulary (crc %08x) than the loaded "
                       "shard's (crc %08x): load the shard it was trained with, or train a new model "
                       "on this one",
                       h->vocab_crc, shard->vocab_crc);
    return text_precheck(cfg, shard, err);
}

int nn_trainer_from_checkpoint(nn_trainer **out, const nn_checkpoint *ck, const nn_shard *shard,
                               const nn_image_shard *images, nn_error *err) {
    *out = NULL;
    nn_trainer *t = NULL;
    const nn_config *cfg = &ck->model->cfg;
    nn_checkpoint_head head = {0};
    head.has_config = 1, head.cfg = *cfg, head.vocab_crc = ck->vocab_crc;
    int rc = nn_trainer_checkpoint_fits(&head, shard, images, err);
    if (rc) return rc;
    if (images) rc = nn_trainer_create_images(&t, cfg, images, err);
    else rc = nn_trainer_create(&t, cfg, shard, err);
    if (rc) return rc;
    /* A pretrained model's embedding is in the checkpoint: mark it given
     * (the weights are copied over it below). */
    if (cfg->embedding_init == NN_EMB_WORD2VEC &&
        (rc = nn_trainer_set_embedding(t, ck->model->emb, cfg->vocab_size, cfg->embed_dim, err)) != NN_OK) {
        nn_trainer_free(t);
        return rc;
    }
    nn_model *m = nn_trainer_model(t);
    if (m->nparams != ck->model->nparams) {
        rc = nn_fail(err, NN_ERR_FORMAT,
                     "the checkpoint holds %zu parameters but its config needs %zu: the file is damaged; "
                     "export it again",
                     ck->model->nparams, m->nparams);
        nn_trainer_free(t);
        return rc;
    }
    memcpy(m->params, ck->model->params, m->nparams * sizeof *m->params);
    *out = t;
    return NN_OK;
}
