/* pretrain.h: word vectors for the native tools (imdb_word2vec, imdb_train
 * --unsup / --embeddings): train them on the unlabelled-review shard, or read
 * them from a vectors file, checked against the main shard's vocabulary. */
#ifndef NN_CLI_PRETRAIN_H
#define NN_CLI_PRETRAIN_H
#include "nn.h"

/* Reads the unsup shard at unsup_path (its vocab_crc must be vocab_crc),
 * trains word2vec with cfg (vocab_size, embed_dim, seed, w2v_*), printing
 * one line per pass unless quiet; *vectors (V,E) is malloc'd. */
int nn_cli_pretrain(const char *unsup_path, uint32_t vocab_crc, const nn_config *cfg, int quiet,
                    float **vectors, nn_error *err);

/* Reads a vectors file (nn_vectors_write) whose vocab_crc must be
 * vocab_crc; *vectors (V,E) is malloc'd. */
int nn_cli_load_vectors(const char *path, uint32_t vocab_crc, float **vectors, uint32_t *V,
                        uint32_t *E, nn_error *err);
#endif
