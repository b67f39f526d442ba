/* mlm.c: the masked-language model of mlm.h: masking, the tied full-
 * softmax head over the final layer norm's output (one call per chunk of
 * rows, on the chunk's thread), a training step, and fill-in-the-blank.
 * Not here: the encoder (transformer.c), the pass over a corpus. */
#include "mlm.h"
#include "encoder.h"
#include "kernels.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct nn_mlm {
    nn_model *m;
    uint32_t V, E, T;
    uint16_t *input, *target; /* (Bmax,T) a training batch's, masked */
    const uint16_t *cur_target; /* the call's targets (B,T) */
    float *wte_t;             /* (E,V) wte transposed, for the logits' product */
    float *scratch;           /* (NN_TFM_CHUNKS, scratch_floats) */
    size_t scratch_floats;
    float gscale;             /* 1 / the batch's targets */
    int train, fill;
    double loss[NN_TFM_CHUNKS];
    uint32_t correct[NN_TFM_CHUNKS], count[NN_TFM_CHUNKS];
    float *probs;             /* (V) fill-in-the-blank */
};

int nn_mlm_create(nn_mlm **out, nn_model *m, nn_error *err) {
    *out = NULL;
    if (m->cfg.model != NN_MODEL_TRANSFORMER || !m->tfm)
        return nn_fail(err, NN_ERR_ARG, "masked-language-model pretraining needs a model of kind \"transformer\"");
    if (m->cfg.vocab_size <= NN_FIRST_WORD)
        return nn_fail(err, NN_ERR_ARG, "vocab_size %u has no words to predict", m->cfg.vocab_size);
    nn_mlm *mm = calloc(1, sizeof *mm);
    if (!mm) return nn_fail(err, NN_ERR_NOMEM, "out of memory for the masked-language model");
    mm->m = m;
    mm->V = m->cfg.vocab_size;
    mm->E = m->cfg.embed_dim;
    mm->T = m->cfg.maxlen;
    size_t N = nn_size_mul_sat(m->Bmax, mm->T);
    mm->scratch_floats = nn_size_mul_sat(NN_MLM_GROUP, nn_size_add_sat(mm->V, 2 * (size_t)mm->E));
    mm->input = nn_calloc_array(N, sizeof *mm->input);
    mm->target = nn_calloc_array(N, sizeof *mm->target);
    mm->wte_t = nn_alloc_floats(nn_size_mul_sat(mm->E, mm->V));
    mm->scratch = nn_alloc_floats(mm->scratch_floats * NN_TFM_CHUNKS);
    mm->probs = nn_alloc_floats(mm->V);
    if (!mm->input || !mm->target || !mm->wte_t || !mm->scratch || !mm->probs) {
        size_t n = mm->scratch_floats * NN_TFM_CHUNKS;
        nn_mlm_free(mm);
        return nn_fail(err, NN_ERR_NOMEM, "out of memory for the masked-language model's %zu floats of scratch", n);
    }
    *out = mm;
    return NN_OK;
}

void nn_mlm_free(nn_mlm *mm) {
    if (!mm) return;
    free(mm->input);
    free(mm->target);
    free(mm->wte_t);
    free(mm->scratch);
    free(mm->probs);
    free(mm);
}

uint32_t nn_mlm_mask(uint16_t *input, uint16_t *target, const uint16_t *ids, uint32_t B, uint32_t T,
                     uint32_t V, nn_rng *rng) {
    assert(V > NN_FIRST_WORD);
    uint32_t total = 0, pos[NN_SHARD_MAX_TOKENS];
    memcpy(input, ids, (size_t)B * T * sizeof *input);
    memset(target, 0, (size_t)B * T * sizeof *target);
    assert(T <= NN_SHARD_MAX_TOKENS);
    for (uint32_t b = 0; b < B; b++) {
        const uint16_t *row = ids + (size_t)b * T;
        uint32_t n = 0;
        for (uint32_t t = 0; t < T; t++)
            if (row[t] != NN_PAD && row[t] != NN_START) pos[n++] = t;
        if (n == 0) continue;
        /* round(15% of n), at least 1 (BERT's create_pretraining_data.py) */
        uint32_t k = (n * NN_MLM_MASK_PERCENT * 2 + 100) / 200;
        if (k == 0) k = 1;
        for (uint32_t i = 0; i < k; i++) { /* the first k of a Fisher-Yates shuffle */
            uint32_t j = i + nn_rng_below(rng, n - i), p = pos[j];
            pos[j] = pos[i];
            pos[i] = p;
            size_t at = (size_t)b * T + p;
            assert(row[p] < V);
            target[at] = row[p];
            uint32_t u = nn_rng_below(rng, 10);
            if (u < 8) input[at] = NN_MASK;
            else if (u == 8) input[at] = (uint16_t)(NN_FIRST_WORD + nn_rng_below(rng, V - NN_FIRST_WORD));
        }
        total += k;
    }
    return total;
}

/* The head on n gathered rows h (n,E) with targets tgt (n): logits into
 * z (n,V), softmax in place, loss and hits into chunk c's sums; training,
 * z becomes dL/dlogits, dh (n,E) is set and the tied embedding's gradient
 * added into dwte (V,E). */
static void head_group(nn_mlm *mm, uint32_t c, const float *h, const uint16_t *tgt, uint32_t n, float *z,
                       float *dh, float *dwte) {
    const uint32_t V = mm->V, E = mm->E;
    const float *wte = mm->m->params + mm->m->tensor[0].offset;
    memset(z, 0, (size_t)n * V * sizeof *z);
    nn_k_matmul_acc(z, h, mm->wte_t, n, E, V);
    for (uint32_t i = 0; i < n; i++) {
        float *p = z + (size_t)i * V;
        nn_k_softmax_scaled(p, p, 1.0f, V);
        uint32_t best = 0;
        for (uint32_t v = 1; v < V; v++)
            if (p[v] > p[best]) best = v;
        mm->correct[c] += best == tgt[i];
        mm->count[c]++;
        mm->loss[c] -= log(p[tgt[i]] > FLT_MIN ? p[tgt[i]] : FLT_MIN);
        if (mm->fill) memcpy(mm->probs, p, V * sizeof *p);
        if (mm->train) {
            p[tgt[i]] -= 1.0f;
            nn_k_scale(p, mm->gscale, V);
        }
    }
    if (!mm->train) return;
    memset(dh, 0, (size_t)n * E * sizeof *dh);
    nn_k_matmul_acc(dh, z, wte, n, V, E);
    nn_k_matmul_tn_acc(dwte, z, h, V, n, E);
}

/* nn_tfm_token_head: the targets of one chunk of rows, NN_MLM_GROUP at a
 * time, in row then position order. */
static void head_rows(void *ctx, const nn_tfm_rows *r) {
    nn_mlm *mm = ctx;
    const uint32_t E = mm->E, V = mm->V, T = mm->T, c = r->chunk;
    float *z = mm->scratch + c * mm->scratch_floats, *h = z + (size_t)NN_MLM_GROUP * V,
          *dh = h + (size_t)NN_MLM_GROUP * E;
    float *dwte = r->grads ? r->grads + mm->m->tensor[0].offset : NULL;
    uint16_t tgt[NN_MLM_GROUP];
    size_t at[NN_MLM_GROUP];
    uint32_t n = 0;
    for (uint32_t k = 0; k < r->rows; k++)
        for (uint32_t t = 0; t < r->W; t++) {
            uint16_t y = mm->cur_target[(size_t)r->row[k] * T + r->start + t];
            if (!y) continue;
            at[n] = ((size_t)k * r->W + t) * E;
            tgt[n] = y;
            memcpy(h + (size_t)n * E, r->lnf + at[n], E * sizeof *h);
            if (++n < NN_MLM_GROUP) continue;
            head_group(mm, c, h, tgt, n, z, dh, dwte);
            if (mm->train)
                for (uint32_t i = 0; i < n; i++) memcpy(r->dlnf + at[i], dh + (size_t)i * E, E * sizeof *dh);
            n = 0;
        }
    if (n) { /* the last group, not full */
        head_group(mm, c, h, tgt, n, z, dh, dwte);
        if (mm->train)
            for (uint32_t i = 0; i < n; i++) memcpy(r->dlnf + at[i], dh + (size_t)i * E, E * sizeof *dh);
    }
}

float nn_mlm_forward_backward(nn_mlm *mm, const uint16_t *input, const uint16_t *target, uint32_t B,
                              int train, uint32_t *correct, uint32_t *count) {
    nn_model *m = mm->m;
    const uint32_t V = mm->V, E = mm->E, T = mm->T;
    uint32_t total = 0;
    for (size_t i = 0; i < (size_t)B * T; i++) total += target[i] != 0;
    if (total == 0) return 0.0f;
    const float *wte = m->params + m->tensor[0].offset;
    for (uint32_t v = 0; v < V; v++)
        for (uint32_t e = 0; e < E; e++) mm->wte_t[(size_t)e * V + v] = wte[(size_t)v * E + e];
    memset(mm->loss, 0, sizeof mm->loss);
    memset(mm->correct, 0, sizeof mm->correct);
    memset(mm->count, 0, sizeof mm->count);
    mm->cur_target = target;
    mm->train = train;
    mm->gscale = 1.0f / (float)total;
    nn_transformer_tokens(m, input, B, train, head_rows, mm);
    double loss = 0; /* summed in chunk order: the same for any thread count */
    for (uint32_t c = 0; c < NN_TFM_CHUNKS; c++) {
        loss += mm->loss[c];
        if (correct) *correct += mm->correct[c];
        if (count) *count += mm->count[c];
    }
    return (float)(loss / total);
}

float nn_mlm_train_batch(nn_mlm *mm, const uint16_t *ids, uint32_t B, nn_rng *rng, uint32_t *correct,
                         uint32_t *count) {
    nn_model *m = mm->m;
    nn_mlm_mask(mm->input, mm->target, ids, B, mm->T, mm->V, rng);
    nn_model_zero_grad(m);
    float loss = nn_mlm_forward_backward(mm, mm->input, mm->target, B, 1, correct, count);
    return nn_model_update(m) ? loss : NAN;
}

const float *nn_mlm_fill(nn_mlm *mm, const uint16_t *ids) {
    uint32_t t = 0;
    while (t < mm->T && ids[t] != NN_MASK) t++;
    if (t == mm->T) return NULL;
    /* The target is any word: only the probabilities are wanted. */
    memset(mm->target, 0, mm->T * sizeof *mm->target);
    mm->target[t] = NN_FIRST_WORD;
    mm->fill = 1;
    nn_mlm_forward_backward(mm, ids, mm->target, 1, 0, NULL, NULL);
    mm->fill = 0;
    return mm->probs;
}

uint32_t nn_mlm_top(const float *probs, uint32_t V, uint32_t k, uint32_t *ids, float *p) {
    uint32_t n = 0;
    for (uint32_t v = NN_FIRST_WORD; v < V; v++) {
        if (n == k && probs[v] <= p[n - 1]) continue;
        uint32_t i = n < k ? n++ : k - 1; /* insert, dropping the last when full */
        while (i > 0 && p[i - 1] < probs[v]) {
            ids[i] = ids[i - 1];
            p[i] = p[i - 1];
            i--;
        }
        ids[i] = v;
        p[i] = probs[v];
    }
    return n;
}

int nn_mlm_fill_text(nn_mlm *mm, const nn_vocab *v, const char *text, size_t len, uint32_t k, uint32_t *ids,
                     float *p, uint32_t *n, nn_error *err) {
    const nn_config *cfg = &mm->m->cfg;
    *n = 0;
    size_t cap = nn_encode_text(v, text, len, cfg->vocab_size, NULL, 0);
    uint32_t *enc = nn_malloc_array(nn_size_add_sat(cap, 1), sizeof *enc);
    uint16_t *row = nn_calloc_array(mm->T, sizeof *row);
    if (!enc || !row) {
        free(enc);
        free(row);
        return nn_fail(err, NN_ERR_NOMEM, "out of memory encoding a text of %zu bytes", len);
    }
    nn_encode_text(v, text, len, cfg->vocab_size, enc, cap);
    nn_pad_review_u32(row, enc, cap, cfg);
    const float *probs = nn_mlm_fill(mm, row);
    int had = 0;
    for (size_t i = 0; i < cap; i++) had |= enc[i] == NN_MASK;
    free(enc);
    free(row);
    if (!probs)
        return nn_fail(err, NN_ERR_ARG, had ? "the [MASK] is beyond the model's %u tokens: put it nearer the end"
                                            : "the text has no [MASK] to fill in (write it as [MASK])",
                       cfg->maxlen);
    *n = nn_mlm_top(probs, mm->V, k, ids, p);
    return NN_OK;
}

/* ------------------------------------------- pretraining over a corpus */

struct nn_mlm_run {
    nn_config cfg;
    nn_model *m;
    nn_mlm *mm;
    const nn_split *split[NN_MLM_MAX_SPLITS];
    uint32_t nsplits;
    uint32_t first[NN_MLM_MAX_SPLITS + 1]; /* review k of the corpus is split s's k - first[s] */
    uint32_t *order;                       /* (corpus reviews) this pass's order */
    uint32_t passes, pass;                 /* pass: 0-based, of the next batch */
    uint64_t per_pass, at;                 /* at: reviews of this pass done */
    uint64_t done;
    nn_rng order_rng, mask_rng;
    uint16_t *batch;                       /* (batch_size, maxlen) */
};

static void run_shuffle(nn_mlm_run *r) {
    uint32_t n = r->first[r->nsplits];
    for (uint32_t i = 0; i < n; i++) r->order[i] = i;
    nn_rng_shuffle_u32(&r->order_rng, r->order, n);
}

int nn_mlm_run_create(nn_mlm_run **out, const nn_config *cfg, const nn_split *const *splits, uint32_t nsplits,
                      uint32_t passes, uint64_t per_pass, nn_error *err) {
    *out = NULL;
    if (cfg->model != NN_MODEL_TRANSFORMER)
        return nn_fail(err, NN_ERR_ARG, "masked-language-model pretraining needs model \"transformer\" "
                       "(--preset tutorial-transformer)");
    if (nsplits == 0 || nsplits > NN_MLM_MAX_SPLITS || passes == 0)
        return nn_fail(err, NN_ERR_ARG, "pretraining needs 1 to %d splits of reviews and at least one pass",
                       NN_MLM_MAX_SPLITS);
    nn_mlm_run *r = calloc(1, sizeof *r);
    if (!r) return nn_fail(err, NN_ERR_NOMEM, "out of memory for the pretraining run");
    r->cfg = *cfg;
    r->nsplits = nsplits;
    for (uint32_t s = 0; s < nsplits; s++) {
        if (!strcmp(splits[s]->name, "test")) {
            free(r);
            return nn_fail(err, NN_ERR_ARG, "the test reviews are never pretrained on: pass \"train\" and \"unsup\"");
        }
        r->split[s] = splits[s];
        r->first[s + 1] = r->first[s] + splits[s]->n;
    }
    uint32_t n = r->first[nsplits];
    r->passes = passes;
    r->per_pass = per_pass && per_pass < n ? per_pass : n;
    int rc = nn_model_create(&r->m, cfg, err);
    if (rc) {
        free(r);
        return rc;
    }
    if ((rc = nn_mlm_create(&r->mm, r->m, err))) {
        nn_mlm_run_free(r);
        return rc;
    }
    r->order = nn_malloc_array(nn_size_add_sat(n, 1), sizeof *r->order);
    r->batch = nn_calloc_array(nn_size_mul_sat(cfg->batch_size, cfg->maxlen), sizeof *r->batch);
    if (!r->order || !r->batch) {
        nn_mlm_run_free(r);
        return nn_fail(err, NN_ERR_NOMEM, "out of memory for the order of %u reviews", n);
    }
    nn_rng init;
    nn_rng_seed(&init, cfg->seed);
    nn_model_init(r->m, &init);
    nn_rng_seed(&r->order_rng, cfg->seed ^ 0x6d6c6d6f72646572ull); /* "mlmorder" */
    nn_rng_seed(&r->mask_rng, cfg->seed ^ 0x6d6c6d6d61736b73ull);  /* "mlmmasks" */
    uint64_t per_pass_batches = (r->per_pass + cfg->batch_size - 1) / cfg->batch_size;
    nn_transformer_set_schedule(r->m, per_pass_batches * passes, cfg->mlm_lr, cfg->mlm_warmup_steps);
    run_shuffle(r);
    *out = r;
    return NN_OK;
}

void nn_mlm_run_free(nn_mlm_run *r) {
    if (!r) return;
    nn_mlm_free(r->mm);
    nn_model_free(r->m);
    free(r->order);
    free(r->batch);
    free(r);
}

nn_model *nn_mlm_run_model(nn_mlm_run *r) { return r->m; }
nn_mlm *nn_mlm_run_mlm(nn_mlm_run *r) { return r->mm; }

int nn_mlm_run_step(nn_mlm_run *r, uint32_t max_batches, nn_mlm_progress *p, nn_error *err) {
    const uint32_t T = r->cfg.maxlen, Bmax = r->cfg.batch_size;
    double loss = 0;
    uint64_t targets = 0, right = 0;
    for (uint32_t k = 0; k < max_batches && r->pass < r->passes; k++) {
        uint32_t B = (uint32_t)(r->per_pass - r->at < Bmax ? r->per_pass - r->at : Bmax);
        for (uint32_t b = 0; b < B; b++) {
            uint32_t i = r->order[r->at + b], s = 0;
            while (i >= r->first[s + 1]) s++;
            const nn_split *sp = r->split[s];
            uint32_t j = i - r->first[s];
            nn_pad_review(r->batch + (size_t)b * T, sp->tokens + sp->offset[j], sp->offset[j + 1] - sp->offset[j],
                          &r->cfg);
        }
        uint32_t c = 0, n = 0;
        float l = nn_mlm_train_batch(r->mm, r->batch, B, &r->mask_rng, &c, &n);
        if (!isfinite(l))
            return nn_fail(err, NN_ERR_DIVERGED, "the masked-language model diverged at step %llu (loss %g): "
                           "lower lr", (unsigned long long)r->m->step, l);
        loss += (double)l * n;
        targets += n;
        right += c;
        r->at += B;
        r->done += B;
        if (r->at == r->per_pass) {
            r->at = 0;
            if (++r->pass < r->passes) run_shuffle(r);
        }
    }
    p->reviews_done = r->done;
    p->reviews_total = r->per_pass * r->passes;
    p->passes = r->passes;
    p->pass = r->pass < r->passes ? r->pass + (r->at > 0) : r->passes;
    if (p->pass == 0) p->pass = 1;
    p->loss = targets ? (float)(loss / targets) : NAN;
    p->acc = targets ? (float)right / targets : NAN;
    p->targets = targets;
    p->lr = nn_lr_warmup_linear(r->m->step ? r->m->step - 1 : 0, r->cfg.mlm_warmup_steps,
                                ((r->per_pass + Bmax - 1) / Bmax) * r->passes, r->cfg.mlm_lr);
    p->finished = r->pass >= r->passes;
    return NN_OK;
}

int nn_mlm_init_encoder(nn_model *dst, const nn_model *src, nn_error *err) {
    const nn_config *a = &dst->cfg, *b = &src->cfg;
    if (a->model != NN_MODEL_TRANSFORMER || b->model != NN_MODEL_TRANSFORMER)
        return nn_fail(err, NN_ERR_ARG, "a pretrained encoder starts a transformer from a transformer's file");
    if (a->vocab_size != b->vocab_size || a->embed_dim != b->embed_dim || a->heads != b->heads ||
        a->blocks != b->blocks || a->ff_dim != b->ff_dim)
        return nn_fail(err, NN_ERR_ARG, "the pretrained encoder is vocab_size %u, embed_dim %u, heads %u, blocks %u, "
                       "ff_dim %u; the model is %u, %u, %u, %u, %u: set them alike",
                       b->vocab_size, b->embed_dim, b->heads, b->blocks, b->ff_dim, a->vocab_size, a->embed_dim,
                       a->heads, a->blocks, a->ff_dim);
    if (a->alibi != b->alibi)
        return nn_fail(err, NN_ERR_ARG, "the pretrained encoder was trained %s ALiBi's distance penalty; the model is "
                       "%s it: set alibi to %s", b->alibi ? "with" : "without", a->alibi ? "with" : "without",
                       b->alibi ? "true" : "false");
    for (uint32_t i = 0; i < dst->ntensors; i++) {
        const nn_tensor *d = &dst->tensor[i], *s = &src->tensor[i];
        if (!strncmp(d->name, "head_", 5)) continue;
        assert(!strcmp(d->name, s->name) && d->cols == s->cols);
        uint32_t rows = d->rows < s->rows ? d->rows : s->rows; /* wpe: min(maxlen) */
        memcpy(dst->params + d->offset, src->params + s->offset, (size_t)rows * d->cols * sizeof(float));
    }
    return NN_OK;
}
