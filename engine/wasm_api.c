/* wasm_api.c: the engine's one WebAssembly boundary.
 *
 * The exports web/worker.js calls, exactly those listed in web/PROTOCOL.md,
 * all prefixed nnw_. Only numbers and pointers cross: text goes in as UTF-8
 * bytes the worker writes into memory it got from nnw_alloc, and comes out as
 * a NUL-terminated string or a float array owned by the session, valid until
 * the next call on that session. JSON is used only for small answers (info,
 * config, history, one review), never for bulk arrays.
 *
 * All state lives in one nnw_session; there are no C globals. This is the
 * only file that includes <emscripten.h>. It is deliberately not a second
 * engine: every computation is a call into nn.h.
 */
#include "nn.h"

#include <emscripten.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NNW_VERSION "nnw 1"
#define NNW_STR(x) #x
#define NNW_XSTR(x) NNW_STR(x)

/* Slots of nnw_progress(s), in the order PROTOCOL.md lists them. */
enum {
    P_EPOCH, P_BATCH, P_BATCHES, P_BATCH_LOSS, P_BATCH_ACC, P_EPOCH_DONE, P_FINISHED,
    P_LOSS, P_ACC, P_VAL_LOSS, P_VAL_ACC, P_TRAIN_SIZE, P_STOPPED_EARLY, P_BEST_EPOCH, P_COUNT
};

typedef struct nnw_session {
    nn_error err;             /* the last failure, read with nnw_error */
    uint8_t *shard_buf;       /* the shard's bytes; nn_shard points into them */
    nn_shard shard;
    int has_shard;
    nn_trainer *trainer;      /* NULL until nnw_configure/nnw_checkpoint_import */
    nn_epoch_log *imported;   /* history of an imported checkpoint */
    uint32_t nimported;
    float progress[P_COUNT];
    char *text;               /* the last string answer (JSON or message) */
    float *explain_rows;      /* (k, 4) start, end, contribution, id */
    size_t explain_cap;       /* rows allocated */
    float explain_score;
    uint8_t *ckpt;            /* the last exported checkpoint */
    size_t ckpt_len;
    nn_eval eval;             /* a sliced evaluation (nnw_evaluate_begin/step) */
    int eval_active;
} nnw_session;

/* ------------------------------------------------------------ JSON writer */

/* A growable string for the small JSON answers. On out-of-memory it stops
 * growing and remembers it, and the caller reports NN_ERR_NOMEM. */
typedef struct json_buf { char *p; size_t len, cap; int oom; } json_buf;

static void jb_reserve(json_buf *b, size_t extra) {
    if (b->oom || b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) { b->oom = 1; return; }
    b->p = p;
    b->cap = cap;
}

static void jb_raw(json_buf *b, const char *s, size_t n) {
    jb_reserve(b, n);
    if (b->oom) return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void jb_printf(json_buf *b, const char *fmt, ...) {
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) { jb_raw(b, tmp, (size_t)n); return; }
    jb_reserve(b, (size_t)n);
    if (b->oom) return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* A JSON number; NaN and infinities (no validation set, a diverged run)
 * become null, since JSON has no spelling for them. */
static void jb_float(json_buf *b, float x) {
    if (isfinite(x)) jb_printf(b, "%.9g", (double)x);
    else jb_raw(b, "null", 4);
}

/* A JSON string from bytes. Bytes >= 0x80 pass through (the worker decodes
 * UTF-8; invalid sequences become U+FFFD there). */
static void jb_string(json_buf *b, const char *s, size_t n) {
    jb_raw(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            jb_raw(b, esc, 2);
        } else if (c < 0x20) {
            jb_printf(b, "\\u%04x", c);
        } else {
            jb_raw(b, (const char *)&c, 1);
        }
    }
    jb_raw(b, "\"", 1);
}

/* Hands a finished buffer to the session as its current string answer. */
static const char *session_text(nnw_session *s, json_buf *b) {
    free(s->text);
    s->text = NULL;
    if (b->oom || !b->p) {
        free(b->p);
        nn_fail(&s->err, NN_ERR_NOMEM, "out of memory while building an answer");
        return NULL;
    }
    s->text = b->p;
    return s->text;
}

/* ------------------------------------------------------------- helpers */

static int need_shard(nnw_session *s) {
    if (s->has_shard) return NN_OK;
    return nn_fail(&s->err, NN_ERR_STATE, "no shard is loaded: load imdb.shard first");
}

static int need_trainer(nnw_session *s) {
    if (s->trainer) return NN_OK;
    return nn_fail(&s->err, NN_ERR_STATE,
                   "no model yet: configure one (or import a checkpoint) first");
}

static void drop_trainer(nnw_session *s) {
    nn_trainer_free(s->trainer);
    s->trainer = NULL;
    s->eval_active = 0; /* its set belonged to that trainer */
    free(s->imported);
    s->imported = NULL;
    s->nimported = 0;
    for (int i = 0; i < P_COUNT; i++) s->progress[i] = 0;
}

static void drop_shard(nnw_session *s) {
    drop_trainer(s);  /* the trainer's matrices were built from this shard */
    if (s->has_shard) nn_shard_free(&s->shard);
    memset(&s->shard, 0, sizeof s->shard);
    s->has_shard = 0;
    free(s->shard_buf);
    s->shard_buf = NULL;
}

/* The trainer's history, or, before it has trained an epoch, the history of
 * the checkpoint it was imported from. */
static const nn_epoch_log *session_history(nnw_session *s, uint32_t *n) {
    *n = 0;
    if (!s->trainer) return NULL;
    const nn_epoch_log *h = nn_trainer_history(s->trainer, n);
    if (*n == 0 && s->nimported) {
        *n = s->nimported;
        return s->imported;
    }
    return h;
}

/* ------------------------------------------------------------- session */

EMSCRIPTEN_KEEPALIVE nnw_session *nnw_session_create(void) {
    return calloc(1, sizeof(nnw_session));
}

EMSCRIPTEN_KEEPALIVE void nnw_session_free(nnw_session *s) {
    if (!s) return;
    drop_shard(s);
    free(s->text);
    free(s->explain_rows);
    free(s->ckpt);
    free(s);
}

EMSCRIPTEN_KEEPALIVE void *nnw_alloc(size_t n) { return malloc(n ? n : 1); }
EMSCRIPTEN_KEEPALIVE void nnw_free(void *p) { free(p); }

EMSCRIPTEN_KEEPALIVE const char *nnw_error(nnw_session *s) { return s->err.msg; }

/* The boundary's version and the formats it reads, for the worker's init. */
EMSCRIPTEN_KEEPALIVE const char *nnw_version(void) {
    return NNW_VERSION "; shard v" NNW_XSTR(NN_SHARD_VERSION) "; checkpoint v" NNW_XSTR(NN_CKPT_VERSION)
           "; tokenizer v" NNW_XSTR(NN_TOKENIZER_VERSION);
}

/* --------------------------------------------------------------- shard */

/* Takes ownership of p (from nnw_alloc) even on failure: the worker never
 * has to remember to free it. Replaces any previous shard and trainer. */
EMSCRIPTEN_KEEPALIVE int nnw_load_shard(nnw_session *s, uint8_t *p, size_t n) {
    drop_shard(s);
    s->shard_buf = p;
    int rc = nn_shard_parse(&s->shard, p, n, &s->err);
    if (rc != NN_OK) {
        drop_shard(s);
        return rc;
    }
    s->has_shard = 1;
    return NN_OK;
}

EMSCRIPTEN_KEEPALIVE const char *nnw_shard_info(nnw_session *s) {
    if (need_shard(s) != NN_OK) return NULL;
    const nn_shard *sh = &s->shard;
    json_buf b = {0};
    jb_printf(&b, "{\"vocab_size\":%u,\"vocab_crc\":%u,\"tokenizer_version\":%u,"
                  "\"max_tokens\":%u,\"version\":%u,\"splits\":{",
              sh->vocab.V, sh->vocab_crc, sh->tokenizer_version, sh->max_tokens, sh->version);
    for (uint32_t i = 0; i < sh->nsplits; i++) {
        if (i) jb_raw(&b, ",", 1);
        const char *name = sh->split[i].name;
        const char *nul = memchr(name, 0, sizeof sh->split[i].name);
        jb_string(&b, name, nul ? (size_t)(nul - name) : sizeof sh->split[i].name);
        jb_printf(&b, ":%u", sh->split[i].n);
    }
    jb_raw(&b, "}}", 2);
    return session_text(s, &b);
}

/* -------------------------------------------------------------- config */

/* Creates the trainer (and a freshly initialised model) from a config JSON
 * whose keys override the tutorial defaults. */
EMSCRIPTEN_KEEPALIVE int nnw_configure(nnw_session *s, const char *json) {
    int rc = need_shard(s);
    if (rc != NN_OK) return rc;
    nn_config cfg;
    nn_config_default(&cfg);
    if ((rc = nn_config_from_json(&cfg, json, &s->err)) != NN_OK) return rc;
    if ((rc = nn_config_check(&cfg, &s->shard, &s->err)) != NN_OK) return rc;
    nn_trainer *t = NULL;
    if ((rc = nn_trainer_create(&t, &cfg, &s->shard, &s->err)) != NN_OK) return rc;
    drop_trainer(s);
    s->trainer = t;
    s->progress[P_TRAIN_SIZE] = (float)nn_trainer_count(t, "train");
    return NN_OK;
}

EMSCRIPTEN_KEEPALIVE const char *nnw_config(nnw_session *s) {
    if (need_trainer(s) != NN_OK) return NULL;
    char *json = nn_config_to_json(&nn_trainer_model(s->trainer)->cfg);
    if (!json) {
        nn_fail(&s->err, NN_ERR_NOMEM, "out of memory while writing the config");
        return NULL;
    }
    free(s->text);
    s->text = json;
    return s->text;
}

/* ------------------------------------------------------------ training */

EMSCRIPTEN_KEEPALIVE int nnw_train(nnw_session *s, uint32_t max_batches) {
    int rc = need_trainer(s);
    if (rc != NN_OK) return rc;
    nn_progress p;
    memset(&p, 0, sizeof p);
    rc = nn_trainer_run(s->trainer, max_batches, &p, &s->err);
    float *q = s->progress;
    q[P_EPOCH] = (float)p.epoch;
    q[P_BATCH] = (float)p.batch;
    q[P_BATCHES] = (float)p.batches;
    q[P_BATCH_LOSS] = p.batch_loss;
    q[P_BATCH_ACC] = p.batch_acc;
    q[P_EPOCH_DONE] = (float)p.epoch_done;
    q[P_FINISHED] = (float)p.finished;
    q[P_STOPPED_EARLY] = (float)p.stopped_early;
    q[P_BEST_EPOCH] = (float)p.best_epoch;
    if (p.epoch_done) {
        uint32_t n = 0;
        const nn_epoch_log *h = nn_trainer_history(s->trainer, &n);
        if (n > 0) {
            q[P_LOSS] = h[n - 1].loss;
            q[P_ACC] = h[n - 1].acc;
            q[P_VAL_LOSS] = h[n - 1].val_loss;
            q[P_VAL_ACC] = h[n - 1].val_acc;
        }
    }
    q[P_TRAIN_SIZE] = (float)nn_trainer_count(s->trainer, "train");
    return rc;
}

EMSCRIPTEN_KEEPALIVE float *nnw_progress(nnw_session *s) { return s->progress; }

EMSCRIPTEN_KEEPALIVE int nnw_evaluate(nnw_session *s, const char *split) {
    int rc = need_trainer(s);
    if (rc != NN_OK) return rc;
    if (strcmp(split, "val") != 0 && strcmp(split, "test") != 0)
        return nn_fail(&s->err, NN_ERR_ARG, "cannot evaluate split '%.32s': use \"val\" or \"test\"", split);
    float loss = NAN, acc = NAN;
    rc = nn_trainer_evaluate(s->trainer, split, &loss, &acc, &s->err);
    if (rc != NN_OK) return rc;
    s->progress[P_LOSS] = loss;
    s->progress[P_ACC] = acc;
    return NN_OK;
}

/* The same evaluation in slices, so the worker stays responsive while a
 * recurrent model evaluates 25,000 reviews: begin, then step until it
 * returns 1 (0: more to do, <0: -status); the result is in progress[7..8]. */
EMSCRIPTEN_KEEPALIVE int nnw_evaluate_begin(nnw_session *s, const char *split) {
    int rc = need_trainer(s);
    if (rc != NN_OK) return rc;
    s->eval_active = 0;
    rc = nn_trainer_eval_begin(s->trainer, split, &s->eval, &s->err);
    if (rc != NN_OK) return rc;
    s->eval_active = 1;
    return NN_OK;
}

EMSCRIPTEN_KEEPALIVE int nnw_evaluate_step(nnw_session *s, uint32_t max_batches) {
    if (!s->trainer || !s->eval_active)
        return -nn_fail(&s->err, NN_ERR_STATE, "no evaluation in progress: call nnw_evaluate_begin first");
    if (!nn_trainer_eval_step(s->trainer, &s->eval, max_batches)) return 0;
    nn_trainer_eval_result(&s->eval, &s->progress[P_LOSS], &s->progress[P_ACC]);
    s->eval_active = 0;
    return 1;
}

/* This epoch's per-batch (loss, accuracy) pairs so far: a float array of
 * 2 * nnw_batch_log_len(s) values, valid until the next nnw_train. */
EMSCRIPTEN_KEEPALIVE const float *nnw_batch_log(nnw_session *s) {
    uint32_t n;
    return s->trainer ? &nn_trainer_batch_log(s->trainer, &n)->loss : NULL;
}

EMSCRIPTEN_KEEPALIVE uint32_t nnw_batch_log_len(nnw_session *s) {
    uint32_t n = 0;
    if (s->trainer) nn_trainer_batch_log(s->trainer, &n);
    return n;
}

EMSCRIPTEN_KEEPALIVE const char *nnw_history(nnw_session *s) {
    uint32_t n = 0;
    const nn_epoch_log *h = session_history(s, &n);
    json_buf b = {0};
    jb_raw(&b, "[", 1);
    for (uint32_t i = 0; i < n; i++) {
        jb_raw(&b, i ? ",{\"loss\":" : "{\"loss\":", i ? 9 : 8);
        jb_float(&b, h[i].loss);
        jb_raw(&b, ",\"acc\":", 7);
        jb_float(&b, h[i].acc);
        jb_raw(&b, ",\"val_loss\":", 12);
        jb_float(&b, h[i].val_loss);
        jb_raw(&b, ",\"val_acc\":", 11);
        jb_float(&b, h[i].val_acc);
        jb_raw(&b, "}", 1);
    }
    jb_raw(&b, "]", 1);
    return session_text(s, &b);
}

/* ---------------------------------------------------------- prediction */

EMSCRIPTEN_KEEPALIVE float nnw_score(nnw_session *s, const char *text, size_t n) {
    if (need_trainer(s) != NN_OK) return -1.0f;
    return nn_model_score_text(nn_trainer_model(s->trainer), &s->shard.vocab, text, n);
}

/* Collects the byte spans of the tokens nn_encode_text turned into ids. */
typedef struct span_rows {
    float *rows;     /* (cap, 4) */
    size_t cap, k;   /* rows allocated, tokens seen */
} span_rows;

static void collect_span(const char *tok, size_t len, size_t start, size_t end, void *user) {
    span_rows *r = user;
    if (r->k < r->cap) {
        /* float holds integers exactly up to 2^24: texts up to 16 MB. */
        r->rows[4 * r->k + 0] = (float)start;
        r->rows[4 * r->k + 1] = (float)end;
    }
    r->k++;
}

/* Scores text and fills k rows (start, end, contribution, id), one per
 * token, in the order of the text; returns k, or -1 with the message set. */
EMSCRIPTEN_KEEPALIVE int nnw_explain(nnw_session *s, const char *text, size_t n) {
    if (need_trainer(s) != NN_OK) return -1;
    if (n > (1u << 24)) {
        nn_fail(&s->err, NN_ERR_ARG, "text too long to explain (%zu bytes; at most 16 MB)", n);
        return -1;
    }
    nn_model *m = nn_trainer_model(s->trainer);
    const nn_vocab *v = &s->shard.vocab;
    size_t nids = nn_encode_text(v, text, n, m->cfg.vocab_size, NULL, 0);
    uint32_t *ids = malloc(nids * sizeof *ids);
    float *contrib = malloc(nids * sizeof *contrib);
    size_t k = nids - 1;  /* ids[0] is NN_START */
    if (k + 1 > s->explain_cap) {
        float *rows = realloc(s->explain_rows, (k + 1) * 4 * sizeof *rows);
        if (rows) {
            s->explain_rows = rows;
            s->explain_cap = k + 1;
        }
    }
    if (!ids || !contrib || s->explain_cap < k + 1) {
        free(ids);
        free(contrib);
        nn_fail(&s->err, NN_ERR_NOMEM, "out of memory explaining a text of %zu bytes", n);
        return -1;
    }
    nn_encode_text(v, text, n, m->cfg.vocab_size, ids, nids);
    s->explain_score = nn_model_explain(m, ids, nids, contrib);

    span_rows r = {s->explain_rows, s->explain_cap, 0};
    nn_tokenize_spans(text, n, collect_span, &r);
    /* The spans and the ids come from the same tokenizer, so they must pair
     * up one to one; if not, the engine itself is inconsistent. */
    if (r.k != k) {
        free(ids);
        free(contrib);
        nn_fail(&s->err, NN_ERR_STATE, "internal error: %zu token spans for %zu token ids", r.k, k);
        return -1;
    }
    for (size_t i = 0; i < k; i++) {
        s->explain_rows[4 * i + 2] = contrib[i + 1];
        s->explain_rows[4 * i + 3] = (float)ids[i + 1];
    }
    free(ids);
    free(contrib);
    return (int)k;
}

EMSCRIPTEN_KEEPALIVE float *nnw_explain_data(nnw_session *s) { return s->explain_rows; }
EMSCRIPTEN_KEEPALIVE float nnw_explain_score(nnw_session *s) { return s->explain_score; }

/* Review i of a split, decoded like the Keras tutorial's decode_review:
 * words joined by spaces, <UNK> for ids the model's vocabulary lacks,
 * <START> left out. */
EMSCRIPTEN_KEEPALIVE const char *nnw_review(nnw_session *s, const char *split, uint32_t i) {
    if (need_shard(s) != NN_OK) return NULL;
    const nn_split *sp = nn_shard_find(&s->shard, split);
    if (!sp) {
        nn_fail(&s->err, NN_ERR_ARG, "the shard has no split '%.32s'", split);
        return NULL;
    }
    if (i >= sp->n) {
        nn_fail(&s->err, NN_ERR_ARG, "review %u is out of range: split '%s' has %u reviews",
                i, sp->name, sp->n);
        return NULL;
    }
    const nn_vocab *v = &s->shard.vocab;
    uint32_t V = v->V;
    if (s->trainer) {
        uint32_t model_V = nn_trainer_model(s->trainer)->cfg.vocab_size;
        if (model_V < V) V = model_V;
    }
    json_buf words = {0};
    for (uint32_t j = sp->offset[i]; j < sp->offset[i + 1]; j++) {
        uint32_t id = sp->tokens[j];
        if (id == NN_START || id == NN_PAD) continue;
        if (id >= V) id = NN_UNK;
        size_t len = 0;
        const char *w = nn_vocab_word(v, id, &len);
        if (words.len) jb_raw(&words, " ", 1);
        jb_raw(&words, w, len);
    }
    json_buf b = {0};
    jb_raw(&b, "{\"text\":", 8);
    jb_string(&b, words.p ? words.p : "", words.len);
    jb_printf(&b, ",\"label\":%u,\"rating\":%u,\"review_id\":%u,\"tokens\":%u}",
              sp->label[i], sp->rating[i], sp->review_id[i], sp->offset[i + 1] - sp->offset[i]);
    if (words.oom) b.oom = 1;
    free(words.p);
    return session_text(s, &b);
}

/* ------------------------------------------------------------- weights */

EMSCRIPTEN_KEEPALIVE float *nnw_params(nnw_session *s) {
    return s->trainer ? nn_trainer_model(s->trainer)->params : NULL;
}

EMSCRIPTEN_KEEPALIVE size_t nnw_params_len(nnw_session *s) {
    return s->trainer ? nn_trainer_model(s->trainer)->nparams : 0;
}

/* Serialises the model, the shard's vocabulary and the history; the bytes
 * stay owned by the session until the next export (or nnw_session_free). */
EMSCRIPTEN_KEEPALIVE uint8_t *nnw_checkpoint_export(nnw_session *s) {
    if (need_trainer(s) != NN_OK) return NULL;
    uint32_t nhist = 0;
    const nn_epoch_log *hist = session_history(s, &nhist);
    uint8_t *out = NULL;
    size_t len = 0;
    if (nn_checkpoint_write(nn_trainer_model(s->trainer), &s->shard.vocab, s->shard.vocab_crc,
                            hist, nhist, &out, &len, &s->err) != NN_OK)
        return NULL;
    free(s->ckpt);
    s->ckpt = out;
    s->ckpt_len = len;
    return out;
}

EMSCRIPTEN_KEEPALIVE size_t nnw_checkpoint_len(nnw_session *s) { return s->ckpt ? s->ckpt_len : 0; }

/* Replaces the trainer with one built from the checkpoint's config against
 * the loaded shard, carrying the checkpoint's weights. Takes ownership of p
 * (from nnw_alloc), like nnw_load_shard. */
EMSCRIPTEN_KEEPALIVE int nnw_checkpoint_import(nnw_session *s, uint8_t *p, size_t n) {
    int rc = need_shard(s);
    if (rc != NN_OK) {
        free(p);
        return rc;
    }
    nn_checkpoint ck;
    memset(&ck, 0, sizeof ck);
    rc = nn_checkpoint_read(&ck, p, n, &s->err);
    free(p);
    if (rc != NN_OK) return rc;

    nn_trainer *t = NULL;
    nn_epoch_log *hist = NULL;
    if (ck.vocab_crc != s->shard.vocab_crc) {
        rc = nn_fail(&s->err, NN_ERR_ARG,
                     "this checkpoint was trained on another vocabulary (crc %08x) than the "
                     "loaded shard's (crc %08x): load the shard it was trained with, or "
                     "train a new model on this one",
                     ck.vocab_crc, s->shard.vocab_crc);
        goto done;
    }
    const nn_config *cfg = &ck.model->cfg;
    if ((rc = nn_config_check(cfg, &s->shard, &s->err)) != NN_OK) goto done;
    if ((rc = nn_trainer_create(&t, cfg, &s->shard, &s->err)) != NN_OK) goto done;
    nn_model *m = nn_trainer_model(t);
    if (m->nparams != ck.model->nparams) {
        rc = nn_fail(&s->err, NN_ERR_FORMAT,
                     "the checkpoint holds %zu parameters but its config needs %zu: "
                     "the file is damaged; export it again",
                     ck.model->nparams, m->nparams);
        goto done;
    }
    if (ck.nhist) {
        hist = malloc(ck.nhist * sizeof *hist);
        if (!hist) {
            rc = nn_fail(&s->err, NN_ERR_NOMEM, "out of memory importing the checkpoint");
            goto done;
        }
        memcpy(hist, ck.hist, ck.nhist * sizeof *hist);
    }
    memcpy(m->params, ck.model->params, m->nparams * sizeof *m->params);
    drop_trainer(s);
    s->trainer = t;
    t = NULL;
    s->imported = hist;
    s->nimported = hist ? ck.nhist : 0;
    hist = NULL;
    s->progress[P_TRAIN_SIZE] = (float)nn_trainer_count(s->trainer, "train");
done:
    nn_trainer_free(t);
    free(hist);
    nn_checkpoint_free(&ck);
    return rc;
}
