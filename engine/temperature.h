/* temperature.h: the review box's calibration (issue 13). After training,
 * two temperatures are fitted on the validation reviews (temperature
 * scaling, Guo et al. 2017; nn_fit_temperature, metrics.h): one on the whole
 * reviews, one on the same reviews cut to their first NN_SHORT_WORDS words
 * (what people type is short, and a model's confidence on a few words is
 * not its confidence on 230). A score is then divided, in logit units, by
 * the temperature that suits its text's length. Stepped in slices like an
 * evaluation, so the page's worker stays responsive. Never fitted on test
 * reviews; the predicted class never changes.
 *
 * Not here: the fit itself (metrics.c), the short test sets (cli/short_sets.h). */
#ifndef NN_TEMPERATURE_H
#define NN_TEMPERATURE_H

#include "nn.h"

#define NN_SHORT_WORDS 20    /* the short validation set: each review's first 20 words the model reads */
#define NN_SHORT_TEXT_MAX 40 /* a text of at most this many words read takes the short temperature */

typedef struct nn_temperature {
    uint32_t n, done;          /* validation reviews; of them scored both ways */
    float *logit, *logit_short;/* (n) whole, and cut to NN_SHORT_WORDS */
    uint8_t *y;                /* (n) labels */
    uint16_t *rows;            /* (Bmax, T) the cut reviews, padded */
    uint16_t *kept;            /* (NN_SHARD_MAX_TOKENS) a review without its stop words */
    float T, T_short;          /* fitted; 0 before the fit */
} nn_temperature;

/* Starts a fit for t's model on t's "val" reviews (forgetting any earlier
 * fit). NN_ERR_STATE when there are no validation reviews or the model is
 * not a text model; NN_ERR_NOMEM. */
int nn_temperature_begin(nn_temperature *c, nn_trainer *t, const nn_shard *shard, nn_error *err);
/* Scores up to max_batches batches of validation reviews (each whole and
 * cut); returns 1 once all are scored and both temperatures are fitted, 0
 * while there are more. */
int nn_temperature_step(nn_temperature *c, nn_trainer *t, const nn_shard *shard, uint32_t max_batches);
/* Frees the buffers and forgets the temperatures. */
void nn_temperature_free(nn_temperature *c);
/* The temperature for a text of `words` words read (0 before a fit), and
 * whether it is the short reviews' one. */
float nn_temperature_for(const nn_temperature *c, uint32_t words);
int nn_temperature_is_short(uint32_t words);
/* score divided in logit units by the temperature for a text of `words`
 * words read (T_short up to NN_SHORT_TEXT_MAX words, else T); score itself
 * before a fit. */
float nn_temperature_apply(const nn_temperature *c, float score, uint32_t words);

#endif
