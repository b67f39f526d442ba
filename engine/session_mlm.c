/* session_mlm.c: see session_mlm.h. */
#include "session_mlm.h"
#include "json.h"
#include "mlm.h"

#include <stdlib.h>
#include <string.h>

struct nn_session_mlm {
    nn_mlm_run *run;       /* a pretraining run, or NULL */
    nn_checkpoint loaded;  /* an imported encoder (loaded.model non-NULL), or none */
    nn_mlm *loaded_mm;     /* the head over the imported encoder */
    float progress[NN_MLM_PROGRESS_LEN];
    uint8_t *file;         /* the last export */
    size_t file_len;
};

void nn_session_mlm_drop(nn_session *s) {
    nn_session_mlm *q = s->mlm;
    if (!q) return;
    nn_mlm_run_free(q->run);
    nn_mlm_free(q->loaded_mm);
    if (q->loaded.model) nn_checkpoint_free(&q->loaded);
    free(q->file);
    free(q);
    s->mlm = NULL;
}

static int fresh(nn_session *s) {
    nn_session_mlm_drop(s);
    s->mlm = calloc(1, sizeof *s->mlm);
    return s->mlm ? NN_OK : nn_fail(&s->err, NN_ERR_NOMEM, "out of memory for the pretraining run");
}

static nn_model *encoder(nn_session *s, nn_mlm **mm) {
    nn_session_mlm *q = s->mlm;
    if (q && q->run) {
        *mm = nn_mlm_run_mlm(q->run);
        return nn_mlm_run_model(q->run);
    }
    if (q && q->loaded.model) {
        *mm = q->loaded_mm;
        return q->loaded.model;
    }
    nn_fail(&s->err, NN_ERR_STATE, "no pretrained encoder: start masked-language-model pretraining "
            "(nnw_mlm_begin) or load an encoder's file (nnw_mlm_import)");
    return NULL;
}

int nn_session_mlm_begin(nn_session *s, const char *json, uint32_t passes, uint32_t per_pass) {
    int rc = nn_session_need_shard(s);
    if (rc != NN_OK) return rc;
    if (!s->has_corpus)
        return nn_fail(&s->err, NN_ERR_STATE, "no unlabelled reviews are loaded: load imdb-unsup.shard first");
    nn_config cfg;
    nn_config_default(&cfg);
    if ((rc = nn_config_from_json(&cfg, json, &s->err)) || (rc = nn_config_check(&cfg, &s->shard, &s->err)))
        return rc;
    const nn_split *sp[2] = {nn_shard_find(&s->shard, "train"), nn_shard_find(&s->corpus, "unsup")};
    if (!sp[0]) return nn_fail(&s->err, NN_ERR_STATE, "the shard has no \"train\" split");
    if ((rc = fresh(s))) return rc;
    if ((rc = nn_mlm_run_create(&s->mlm->run, &cfg, sp, 2, passes ? passes : 1, per_pass, &s->err))) {
        nn_session_mlm_drop(s);
        return rc;
    }
    nn_model_set_parallel(nn_mlm_run_model(s->mlm->run), &s->par);
    return NN_OK;
}

int nn_session_mlm_step(nn_session *s, uint32_t max_batches) {
    if (!s->mlm || !s->mlm->run)
        return nn_fail(&s->err, NN_ERR_STATE, "no pretraining in progress: call nnw_mlm_begin");
    nn_mlm_progress p;
    memset(&p, 0, sizeof p);
    int rc = nn_mlm_run_step(s->mlm->run, max_batches, &p, &s->err);
    float *q = s->mlm->progress;
    q[NN_MLM_PROGRESS_FRACTION] = p.reviews_total ? (float)((double)p.reviews_done / (double)p.reviews_total) : 0;
    q[NN_MLM_PROGRESS_REVIEWS] = (float)p.reviews_done;
    q[NN_MLM_PROGRESS_REVIEWS_TOTAL] = (float)p.reviews_total;
    q[NN_MLM_PROGRESS_PASS] = (float)p.pass;
    q[NN_MLM_PROGRESS_PASSES] = (float)p.passes;
    q[NN_MLM_PROGRESS_LR] = p.lr;
    q[NN_MLM_PROGRESS_LOSS] = p.loss;
    q[NN_MLM_PROGRESS_ACCURACY] = p.acc;
    q[NN_MLM_PROGRESS_TARGETS] = (float)p.targets;
    q[NN_MLM_PROGRESS_FINISHED] = (float)p.finished;
    return rc;
}

float *nn_session_mlm_progress(nn_session *s) {
    static float none[NN_MLM_PROGRESS_LEN];
    return s->mlm ? s->mlm->progress : none;
}

const char *nn_session_mlm_fill(nn_session *s, const char *text, size_t n, uint32_t k) {
    nn_mlm *mm;
    if (!encoder(s, &mm)) return NULL;
    uint32_t ids[50], got;
    float p[50];
    if (k > 50) k = 50;
    if (nn_mlm_fill_text(mm, &s->shard.vocab, text, n, k, ids, p, &got, &s->err)) return NULL;
    cJSON *a = cJSON_CreateArray();
    for (uint32_t i = 0; a && i < got; i++) {
        size_t len;
        const char *w = nn_vocab_word(&s->shard.vocab, ids[i], &len);
        char word[NN_MAX_TOKEN_BYTES + 1];
        if (len > NN_MAX_TOKEN_BYTES) len = NN_MAX_TOKEN_BYTES;
        memcpy(word, w, len);
        word[len] = 0;
        cJSON *e = cJSON_CreateObject();
        if (!e || !cJSON_AddItemToArray(a, e) || !cJSON_AddStringToObject(e, "word", word) ||
            !cJSON_AddNumberToObject(e, "p", nn_json_float(p[i]))) {
            cJSON_Delete(a);
            a = NULL;
        }
    }
    char *out = a ? cJSON_PrintUnformatted(a) : NULL;
    cJSON_Delete(a);
    return nn_session_answer(s, out);
}

uint8_t *nn_session_mlm_export(nn_session *s) {
    nn_mlm *mm;
    nn_model *m = encoder(s, &mm);
    if (!m) return NULL;
    uint8_t *out;
    size_t len;
    if (nn_checkpoint_write(m, &s->shard.vocab, s->shard.vocab_crc, NULL, 0, &out, &len, &s->err)) return NULL;
    free(s->mlm->file);
    s->mlm->file = out;
    s->mlm->file_len = len;
    return out;
}

size_t nn_session_mlm_export_len(nn_session *s) { return s->mlm && s->mlm->file ? s->mlm->file_len : 0; }

int nn_session_mlm_import(nn_session *s, uint8_t *p, size_t n) {
    int rc = nn_session_need_shard(s);
    if (rc == NN_OK) rc = fresh(s);
    if (rc != NN_OK) {
        free(p);
        return rc;
    }
    nn_session_mlm *q = s->mlm;
    rc = nn_checkpoint_read(&q->loaded, p, n, &s->err);
    free(p);
    if (rc == NN_OK && q->loaded.vocab_crc != s->shard.vocab_crc)
        rc = nn_fail(&s->err, NN_ERR_ARG, "the encoder was pretrained with another vocabulary than the loaded "
                     "shard's: pretrain again");
    if (rc == NN_OK) rc = nn_mlm_create(&q->loaded_mm, q->loaded.model, &s->err);
    if (rc != NN_OK) {
        if (!q->loaded.model) memset(&q->loaded, 0, sizeof q->loaded);
        nn_session_mlm_drop(s);
        return rc;
    }
    return NN_OK;
}

int nn_session_mlm_give(nn_session *s) {
    int rc = nn_session_need_text_trainer(s);
    if (rc != NN_OK) return rc;
    nn_mlm *mm;
    const nn_model *src = encoder(s, &mm);
    if (!src) return NN_ERR_STATE;
    nn_model *m = nn_trainer_model(s->trainer);
    if (m->step > 0)
        return nn_fail(&s->err, NN_ERR_STATE, "the model has trained already: configure a new one, then give it "
                       "the encoder");
    float *start = nn_malloc_array(m->nparams, sizeof *start);
    if (!start) return nn_fail(&s->err, NN_ERR_NOMEM, "out of memory keeping the encoder's weights for the comparison run");
    if ((rc = nn_mlm_init_encoder(m, src, &s->err)) != NN_OK) {
        free(start);
        return rc;
    }
    memcpy(start, m->params, m->nparams * sizeof *start);
    free(s->start_params);
    s->start_params = start;
    return NN_OK;
}
