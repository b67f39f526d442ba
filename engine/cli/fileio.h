/* fileio.h: whole-file reads and crash-safe writes for the native tools.
 * The engine itself never touches files (it also runs in a Web Worker). */
#ifndef NN_FILEIO_H
#define NN_FILEIO_H
#include "nn.h"

/* Reads a whole file into a malloc'd buffer (16-byte aligned, one NUL byte
 * past the end so text can be used as a C string). */
int nn_read_file(const char *path, uint8_t **out, size_t *len, nn_error *err);
/* Writes data to path.tmp, flushes, then renames over path: a crash never
 * leaves a half-written file under the real name. */
int nn_write_file(const char *path, const void *data, size_t len, nn_error *err);

/* SHA-256 of a buffer or a file, as 64 lowercase hex digits plus NUL. */
void nn_sha256_hex(const void *data, size_t len, char hex[65]);
int nn_sha256_file_hex(const char *path, char hex[65], nn_error *err);
#endif
