/* session_mlm.h: the session's masked-language-model pretraining of the
 * Transformer encoder (engine/mlm.h), what the page's nnw_mlm_* exports
 * marshal to: a sliced run over the loaded shard's "train" reviews and the
 * loaded corpus's "unsup" reviews (never "test"), its progress (layout
 * "mlm_progress"), fill-in-the-blank from the encoder as it is (pretraining
 * may still be running), the encoder as a checkpoint file and back, and a
 * configured transformer trainer started from it (transformer-pretrained).
 * Not here: the maths (mlm.c), threads (the session's par is lent). */
#ifndef NN_SESSION_MLM_H
#define NN_SESSION_MLM_H
#include "session.h"

typedef struct nn_session_mlm nn_session_mlm;

/* A new run from a config JSON (over the defaults; a transformer, e.g.
 * tutorial-transformer's) for `passes` passes of per_pass reviews each (0:
 * all). Needs the shard and the corpus (nnw_load_corpus). Replaces any
 * previous run or loaded encoder. */
int nn_session_mlm_begin(nn_session *s, const char *json, uint32_t passes, uint32_t per_pass);
/* Up to max_batches batches; the progress into nn_session_mlm_progress. */
int nn_session_mlm_step(nn_session *s, uint32_t max_batches);
float *nn_session_mlm_progress(nn_session *s);
/* JSON [{"word", "p"}, ...]: the k (at most 50) likeliest words at text's
 * first [MASK], from the current encoder; NULL with the message when there
 * is no encoder or no [MASK]. */
const char *nn_session_mlm_fill(nn_session *s, const char *text, size_t n, uint32_t k);
/* The encoder as a checkpoint file (valid until the next export; its
 * length: nn_session_mlm_export_len), or NULL. */
uint8_t *nn_session_mlm_export(nn_session *s);
size_t nn_session_mlm_export_len(nn_session *s);
/* Takes an encoder's checkpoint file (ownership of p, like nnw_load_shard)
 * instead of pretraining: it must be a transformer of the shard's vocabulary. */
int nn_session_mlm_import(nn_session *s, uint8_t *p, size_t n);
/* The configured trainer (a transformer, not yet trained) starts from the
 * encoder: every weight but the classifier head (nn_mlm_init_encoder). */
int nn_session_mlm_give(nn_session *s);
/* Frees the run or the loaded encoder (a new shard or corpus, the end). */
void nn_session_mlm_drop(nn_session *s);
#endif
