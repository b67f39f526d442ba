/* answers.h: the small JSON answers of the wasm boundary, built from engine
 * structs (shard and image info, histories, one review, labelled-text and
 * stop-word summaries, presets, word lists, a diagnosed example, the
 * embedding history's info). Each returns a malloc'd NUL-terminated string,
 * or NULL when memory ran out. Written by cJSON (json.h), never by hand;
 * floats as the shortest decimal that reads back the same (NaN and
 * infinities as null). web/PROTOCOL.md documents every key.
 *
 * Not here: bulk arrays (those are float arrays in the layouts of
 * result_layouts.h), and deciding whether a request is valid (the caller). */
#ifndef NN_ANSWERS_H
#define NN_ANSWERS_H

#include "diagnosis.h"
#include "labelled_text.h"
#include "nn.h"

/* {"vocab_size", "vocab_crc", "tokenizer_version", "max_tokens", "version", "splits": {name: n}} */
char *nn_shard_info_json(const nn_shard *sh);
/* {"height", "width", "channels", "classes", "version", "class_names": [..], "splits": {name: n}} */
char *nn_image_info_json(const nn_image_shard *im);
/* [{"loss", "acc", "val_loss", "val_acc"}, ...] */
char *nn_history_json(const nn_epoch_log *h, uint32_t n);
/* {"text" (len bytes), "label", "rating", "review_id", "tokens"} of review i of sp */
char *nn_review_json(const nn_split *sp, uint32_t i, const char *text, size_t len);
/* {"examples", "positives", "negatives", "format", "lines", "blank", "header",
 *  "malformed", "problems": [{"line", "reason"}]} */
char *nn_labelled_text_info_json(const nn_labelled_text *lt);
/* What the labelled-shard builder read and built (engine/labelled_shard.h):
 * {ok, error (refused: the message, else null), classes: [{name, train,
 * test}], train, test, vocab_size, words, duplicates, test_in_train, cut, file: {the
 * labelled-text info above, with truncated}, test_file (or null)}. */
struct nn_labelled_shard_report;
char *nn_labelled_shard_report_json(const struct nn_labelled_shard_report *r, const char *error);
/* {"words", "count", "english"} */
char *nn_stopwords_json(const char *words, uint32_t count);
/* [{"name", "config"}, ...] of every preset */
char *nn_presets_json(void);
/* [{"word", "id", "polarity", "count"}, ...] of ids (n) */
char *nn_diagnose_words_json(const nn_diagnosis *d, const nn_vocab *v, const uint32_t *ids, size_t n);
/* [{"word", "sim"}, ...] of ids (n) */
char *nn_nearest_json(const nn_vocab *v, const uint32_t *ids, const float *sims, uint32_t n);
/* {"index", "label", "score", "split", "line" (*line, for a labelled text) or
 *  "source" (line NULL), "rows", "text"} of example i of d */
char *nn_diagnose_example_json(const nn_diagnosis *d, uint32_t i, const char *split, const uint32_t *line,
                               uint32_t source, int rows, const char *text, size_t len);
/* {"epochs": [stored], "recorded", "bytes_per_snapshot", "snapshot_bytes",
 *  "other_bytes", "budget", "last_ms", "vocab_size", "embed_dim",
 *  "rare_below", "frequent_from", "error" (null when error is "")};
 *  h may be NULL (no snapshots). */
char *nn_embed_info_json(const nn_embed_history *h, const nn_config *c, size_t budget, double last_ms,
                         uint32_t rare_below, uint32_t frequent_from, const char *error);

#endif
