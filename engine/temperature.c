/* temperature.c: the review box's temperatures, fitted on the validation
 * reviews in slices (temperature.h). */
#include "temperature.h"

#include "metrics.h"
#include "stopwords.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void nn_temperature_free(nn_temperature *c) {
    free(c->logit);
    free(c->logit_short);
    free(c->y);
    free(c->rows);
    free(c->kept);
    memset(c, 0, sizeof *c);
}

/* Only the buffers: the fitted temperatures stay. */
static void free_buffers(nn_temperature *c) {
    float T = c->T, T_short = c->T_short;
    nn_temperature_free(c);
    c->T = T;
    c->T_short = T_short;
}

int nn_temperature_begin(nn_temperature *c, nn_trainer *t, const nn_shard *shard, nn_error *err) {
    nn_temperature_free(c);
    nn_model *m = nn_trainer_model(t);
    uint32_t n = 0;
    const float *label;
    const uint32_t *source;
    if (m->cfg.model == NN_MODEL_MLP || !shard || !nn_shard_find(shard, "train"))
        return nn_fail(err, NN_ERR_STATE, "a temperature is fitted for text models only");
    if (nn_model_classes(m) != 2) /* one logit per review: the two-class head's */
        return nn_fail(err, NN_ERR_STATE, "a temperature is fitted for two-class models only");
    if (!nn_trainer_set(t, "val", &n, &label, &source) || n == 0)
        return nn_fail(err, NN_ERR_STATE, "no validation reviews to fit a temperature on (val_size is 0)");
    c->n = n;
    c->logit = nn_malloc_array(n, sizeof *c->logit);
    c->logit_short = nn_malloc_array(n, sizeof *c->logit_short);
    c->y = malloc(n);
    c->rows = nn_malloc_array(nn_size_mul_sat(m->Bmax, m->cfg.maxlen), sizeof *c->rows);
    c->kept = malloc(NN_SHARD_MAX_TOKENS * sizeof *c->kept);
    if (!c->logit || !c->logit_short || !c->y || !c->rows || !c->kept) {
        nn_temperature_free(c);
        return nn_fail(err, NN_ERR_NOMEM, "out of memory fitting a temperature on %u reviews", n);
    }
    for (uint32_t i = 0; i < n; i++) c->y[i] = label[i] == 1.0f;
    return NN_OK;
}

int nn_temperature_step(nn_temperature *c, nn_trainer *t, const nn_shard *shard, uint32_t max_batches) {
    if (!c->logit) return 1;
    nn_model *m = nn_trainer_model(t);
    const nn_config *cfg = &m->cfg;
    const nn_split *train = nn_shard_find(shard, "train");
    const struct nn_stopwords *stop = nn_trainer_stopwords(t);
    uint32_t n, T = cfg->maxlen, B = m->Bmax;
    const float *label;
    const uint32_t *source;
    const uint16_t *x = nn_trainer_set(t, "val", &n, &label, &source);
    for (uint32_t batch = 0; batch < max_batches && c->done < c->n; batch++) {
        uint32_t i = c->done, b = c->n - i < B ? c->n - i : B;
        nn_model_forward(m, x + (size_t)i * T, b);
        memcpy(c->logit + i, m->logit, b * sizeof *c->logit);
        for (uint32_t k = 0; k < b; k++) {
            uint32_t r = source[i + k];
            const uint16_t *tok = train->tokens + train->offset[r];
            size_t len = train->offset[r + 1] - train->offset[r];
            if (stop) {
                len = nn_stopwords_filter(stop, c->kept, tok, len);
                tok = c->kept;
            }
            if (len > NN_SHORT_WORDS + 1) len = NN_SHORT_WORDS + 1; /* <START> and the first words */
            nn_pad_review(c->rows + (size_t)k * T, tok, len, cfg);
        }
        nn_model_forward(m, c->rows, b);
        memcpy(c->logit_short + i, m->logit, b * sizeof *c->logit_short);
        c->done += b;
    }
    if (c->done < c->n) return 0;
    c->T = (float)nn_fit_temperature(c->logit, c->y, c->n);
    c->T_short = (float)nn_fit_temperature(c->logit_short, c->y, c->n);
    free_buffers(c);
    return 1;
}

int nn_temperature_is_short(uint32_t words) { return words <= NN_SHORT_TEXT_MAX; }

float nn_temperature_for(const nn_temperature *c, uint32_t words) {
    return nn_temperature_is_short(words) ? c->T_short : c->T;
}

float nn_temperature_apply(const nn_temperature *c, float score, uint32_t words) {
    float T = nn_temperature_for(c, words);
    if (!(T > 0) || !(score > 0.0f && score < 1.0f)) return score;
    double z = log((double)score / (1.0 - (double)score)) / T;
    return (float)(1.0 / (1.0 + exp(-z)));
}
