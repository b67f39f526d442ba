/* archive.h: reads the aclImdb dataset from aclImdb_v1.tar.gz or from an
 * extracted folder, handing each file to a callback. Native tools only.
 *
 * Deliberately not a general tar library: it reads regular files (ustar, GNU
 * long names, pax path records) in one streaming pass and skips everything
 * else (links, devices, pax globals). It knows only that the dataset lives in
 * a top folder "aclImdb/"; what the files mean is build_shard.c's business. */
#ifndef NN_ARCHIVE_H
#define NN_ARCHIVE_H
#include "nn.h"

typedef struct nn_archive_file {
    const char *path;     /* relative to aclImdb/, e.g. "train/pos/0_9.txt" */
    const uint8_t *data;  /* (len) content, followed by one NUL byte */
    size_t len;
    double progress;      /* fraction of the source read so far, 0..1 */
} nn_archive_file;

/* Return non-zero to take the file (its content is then read), 0 to skip it
 * without reading it into memory. NULL takes every file. */
typedef int (*nn_archive_want_fn)(const char *path, void *user);
/* Return NN_OK to go on; any other status stops the walk and is returned. */
typedef int (*nn_archive_file_fn)(const nn_archive_file *f, void *user, nn_error *err);

/* source is a .tar.gz (or plain .tar) whose files sit under aclImdb/, the
 * folder that contains aclImdb/, or the aclImdb/ folder itself. Fails with
 * NN_ERR_IO for a missing source and NN_ERR_FORMAT for a truncated, corrupt or
 * non-aclImdb archive. */
int nn_archive_read(const char *source, nn_archive_want_fn want, nn_archive_file_fn fn,
                    void *user, nn_error *err);
#endif
