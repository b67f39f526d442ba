/* fileio.c: see fileio.h. */
#include "fileio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int nn_read_file(const char *path, uint8_t **out, size_t *len, nn_error *err) {
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return nn_fail(err, NN_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return nn_fail(err, NN_ERR_IO, "cannot seek in %s (is it a regular file?)", path);
    }
    long size = ftell(f);
    if (size < 0) {
        fclose(f);
        return nn_fail(err, NN_ERR_IO, "cannot tell the size of %s", path);
    }
    rewind(f);
    size_t n = (size_t)size;
    uint8_t *buf = n > PTRDIFF_MAX - 16 ? NULL : aligned_alloc(16, (n + 16) & ~(size_t)15);
    if (!buf) {
        fclose(f);
        return nn_fail(err, NN_ERR_NOMEM, "out of memory reading %s (%zu bytes)", path, n);
    }
    if (fread(buf, 1, n, f) != n) {
        fclose(f);
        free(buf);
        return nn_fail(err, NN_ERR_IO, "short read from %s", path);
    }
    fclose(f);
    buf[n] = 0;
    *out = buf;
    *len = n;
    return NN_OK;
}

int nn_write_file(const char *path, const void *data, size_t len, nn_error *err) {
    size_t plen = strlen(path);
    char *tmp = nn_malloc_array(nn_size_add_sat(plen, 5), 1);
    if (!tmp) return nn_fail(err, NN_ERR_NOMEM, "out of memory");
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        int rc = nn_fail(err, NN_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
        free(tmp);
        return rc;
    }
    int ok = fwrite(data, 1, len, f) == len;
    ok = (fflush(f) == 0) && ok;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        int rc = nn_fail(err, NN_ERR_IO, "cannot write %s: %s", path, strerror(errno));
        remove(tmp);
        free(tmp);
        return rc;
    }
    free(tmp);
    return NN_OK;
}
