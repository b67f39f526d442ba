/* cli.h: what the command-line tools share: a monotonic clock, config
 * from --config FILE and --<key> VALUE flags, loading a shard file. */
#ifndef NN_CLI_H
#define NN_CLI_H
#include "nn.h"
#include "fileio.h"

double nn_now_ms(void);

/* Applies --preset NAME (nn_config_preset), then --config FILE (a JSON
 * object), then every "--<key> <value>"
 * pair whose key is an nn_config field; *used[i] is set for consumed args.
 * Unknown --flags are left for the tool (used[i] stays 0). */
int nn_cli_config(nn_config *cfg, int argc, char **argv, unsigned char *used, nn_error *err);

/* What every tool starts with: cfg gets the defaults, then --config and the
 * --<key> flags (nn_cli_config). Returns the malloc'd used[] array (free it);
 * on a bad flag prints "tool: message" and exits with status 2. */
unsigned char *nn_cli_start(nn_config *cfg, int argc, char **argv, const char *tool);

/* Reads and parses a shard file; *buf must be freed after nn_shard_free. */
int nn_cli_load_shard(const char *path, nn_shard *shard, uint8_t **buf, nn_error *err);
/* Reads a text or an image shard, whichever the file's magic says: *is_images
 * tells which of shard/images was filled. *buf must be freed after use. */
int nn_cli_load_any_shard(const char *path, nn_shard *shard, nn_image_shard *images, int *is_images,
                          uint8_t **buf, nn_error *err);
#endif
