/* archive.c: see archive.h. A streaming ustar reader over zlib's gzread (which
 * also reads an uncompressed .tar), and a sorted folder walk for an extracted
 * dataset. Every header is checksummed and every short read is reported as a
 * truncated or corrupt archive, so a half-downloaded file never builds a shard
 * silently. Tar format: POSIX.1-1988 ustar, with the GNU 'L' long-name and
 * POSIX.1-2001 pax 'x' extensions as GNU tar writes them. */
#define _POSIX_C_SOURCE 200809L
#include "archive.h"
#include "fileio.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define TOP "aclImdb/"
#define MAX_FILE_BYTES (64u << 20)  /* larger "reviews" are not reviews */
#define MAX_NAME_BYTES 4096

/* ---------------------------------------------------------------- tar.gz */

typedef struct tar_reader {
    gzFile gz;
    const char *source;
    double source_bytes;
    uint64_t offset;        /* uncompressed bytes consumed */
    uint8_t *data;          /* content buffer, grown as needed */
    size_t data_cap;
    char name[MAX_NAME_BYTES]; /* long name from a 'L' or pax record, for the next entry */
    int have_long_name;
} tar_reader;

/* Reads exactly n bytes or explains why not. */
static int tar_read(tar_reader *t, void *buf, size_t n, const char *what, nn_error *err) {
    size_t done = 0;
    while (done < n) {
        size_t chunk = n - done > (1u << 30) ? (1u << 30) : n - done;
        int got = gzread(t->gz, (char *)buf + done, (unsigned)chunk);
        if (got <= 0) {
            int zerr;
            const char *zmsg = gzerror(t->gz, &zerr);
            if (zerr != Z_OK && zerr != Z_BUF_ERROR)
                return nn_fail(err, NN_ERR_FORMAT, "%s is corrupt at byte %llu of the unpacked "
                               "tar (%s, zlib: %s): download it again",
                               t->source, (unsigned long long)(t->offset + done), what, zmsg);
            return nn_fail(err, NN_ERR_FORMAT, "%s is truncated: it ends at byte %llu of the "
                           "unpacked tar, in %s; download it again (scripts/setup.sh checks "
                           "its SHA-256)", t->source, (unsigned long long)(t->offset + done), what);
        }
        done += (size_t)got;
    }
    t->offset += n;
    return NN_OK;
}

static int tar_skip(tar_reader *t, uint64_t n, const char *what, nn_error *err) {
    uint8_t scratch[1 << 14];
    while (n > 0) {
        size_t chunk = n > sizeof scratch ? sizeof scratch : (size_t)n;
        int rc = tar_read(t, scratch, chunk, what, err);
        if (rc) return rc;
        n -= chunk;
    }
    return NN_OK;
}

/* Reads a file's content (and its padding to 512 bytes) into t->data. */
static int tar_read_content(tar_reader *t, uint64_t size, const char *what, nn_error *err) {
    if (size > MAX_FILE_BYTES)
        return nn_fail(err, NN_ERR_FORMAT, "%s: %s is %llu bytes, more than %u: not an "
                       "aclImdb archive?", t->source, what, (unsigned long long)size,
                       MAX_FILE_BYTES);
    size_t need = (size_t)size + 1;
    if (need > t->data_cap) {
        size_t cap = t->data_cap ? t->data_cap : 1 << 16;
        while (cap < need) cap *= 2;
        uint8_t *p = realloc(t->data, cap);
        if (!p) return nn_fail(err, NN_ERR_NOMEM, "out of memory reading %s", what);
        t->data = p;
        t->data_cap = cap;
    }
    int rc = tar_read(t, t->data, (size_t)size, what, err);
    if (rc) return rc;
    t->data[size] = 0;
    return tar_skip(t, (512 - size % 512) % 512, what, err);
}

/* An octal field: optional leading spaces, digits, then NUL/space or the end. */
static int parse_octal(const uint8_t *f, size_t n, uint64_t *out) {
    size_t i = 0;
    uint64_t v = 0;
    while (i < n && f[i] == ' ') i++;
    size_t first = i;
    for (; i < n && f[i] >= '0' && f[i] <= '7'; i++) {
        if (v >> 60) return 0;
        v = v * 8 + (uint64_t)(f[i] - '0');
    }
    if (i == first) return 0;
    for (; i < n; i++)
        if (f[i] != 0 && f[i] != ' ') return 0;
    *out = v;
    return 1;
}

/* The size field: octal, or GNU base-256 (high bit set) for files >= 8 GiB. */
static int parse_size(const uint8_t *h, uint64_t *out) {
    if (!(h[124] & 0x80)) return parse_octal(h + 124, 12, out);
    uint64_t v = 0;
    if (h[124] & 0x7f || h[125] || h[126] || h[127]) return 0; /* beyond 2^64 or negative */
    for (int i = 128; i < 136; i++) v = v << 8 | h[i];
    *out = v;
    return 1;
}

static int header_checksum_ok(const uint8_t *h) {
    uint64_t want;
    if (!parse_octal(h + 148, 8, &want)) return 0;
    uint32_t usum = 0;
    int32_t ssum = 0;
    for (int i = 0; i < 512; i++) {
        uint8_t b = (i >= 148 && i < 156) ? ' ' : h[i];
        usum += b;
        ssum += (int8_t)b; /* some old tars summed signed chars */
    }
    return want == usum || (int64_t)want == ssum;
}

/* Takes "path" from pax extended-header records "<len> <key>=<value>\n". */
static void pax_find_path(tar_reader *t, const uint8_t *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        size_t len = 0, j = i;
        while (j < n && p[j] >= '0' && p[j] <= '9' && len < n) len = len * 10 + (p[j++] - '0');
        if (j >= n || p[j] != ' ' || len <= j - i || len > n - i) return; /* malformed: ignore */
        const uint8_t *rec = p + j + 1, *end = p + i + len;
        if (end - rec > 5 && memcmp(rec, "path=", 5) == 0 && end[-1] == '\n') {
            size_t vlen = (size_t)(end - rec) - 6;
            if (vlen > 0 && vlen < sizeof t->name && !memchr(rec + 5, 0, vlen)) {
                memcpy(t->name, rec + 5, vlen);
                t->name[vlen] = 0;
                t->have_long_name = 1;
            }
        }
        i += len;
    }
}

static int read_tar(const char *source, double source_bytes, nn_archive_want_fn want,
                    nn_archive_file_fn fn, void *user, nn_error *err) {
    tar_reader t = {0};
    t.source = source;
    t.source_bytes = source_bytes > 0 ? source_bytes : 1;
    t.gz = gzopen(source, "rb");
    if (!t.gz) return nn_fail(err, NN_ERR_IO, "cannot open %s: %s", source, strerror(errno));
    gzbuffer(t.gz, 1 << 18);
    uint8_t h[512];
    char path[MAX_NAME_BYTES + 256];
    uint64_t entries = 0, under_top = 0;
    int rc = NN_OK;
    for (;;) {
        uint64_t header_at = t.offset;
        int got = gzread(t.gz, h, sizeof h);
        if (got <= 0) {
            int zerr;
            const char *zmsg = gzerror(t.gz, &zerr);
            if (zerr != Z_OK && zerr != Z_BUF_ERROR)
                rc = nn_fail(err, NN_ERR_FORMAT, "%s is corrupt (zlib: %s): download it again",
                             source, zmsg);
            else if (entries == 0)
                rc = nn_fail(err, NN_ERR_FORMAT, "%s is empty or truncated at its start: "
                             "download it again", source);
            else
                rc = nn_fail(err, NN_ERR_FORMAT, "%s is truncated: it ends after %llu tar "
                             "entries without the end-of-archive marker; download it again "
                             "(scripts/setup.sh checks its SHA-256)", source,
                             (unsigned long long)entries);
            break;
        }
        t.offset += (uint64_t)got;
        if ((size_t)got < sizeof h &&
            (rc = tar_read(&t, h + got, sizeof h - (size_t)got, "a tar header", err)))
            break;
        int all_zero = 1;
        for (int i = 0; i < 512 && all_zero; i++) all_zero = h[i] == 0;
        if (all_zero) break; /* end of archive (the second zero block is not needed) */
        if (!header_checksum_ok(h)) {
            rc = entries == 0
                ? nn_fail(err, NN_ERR_FORMAT, "%s is not a tar.gz archive (no valid tar header at "
                          "its start): pass aclImdb_v1.tar.gz or the extracted folder", source)
                : nn_fail(err, NN_ERR_FORMAT, "%s is corrupt: bad tar header checksum at byte "
                          "%llu of the unpacked tar; download it again", source,
                          (unsigned long long)header_at);
            break;
        }
        entries++;
        uint64_t size;
        if (!parse_size(h, &size)) {
            rc = nn_fail(err, NN_ERR_FORMAT, "%s is corrupt: bad size field in the tar header at "
                         "byte %llu; download it again", source, (unsigned long long)header_at);
            break;
        }
        char type = (char)h[156];
        if (type == 'L' || type == 'x') {
            /* A long name for the next entry (GNU), or pax records that may hold one. */
            if (size > (1u << 20)) {
                rc = nn_fail(err, NN_ERR_FORMAT, "%s is corrupt: a %llu-byte extended header",
                             source, (unsigned long long)size);
                break;
            }
            if ((rc = tar_read_content(&t, size, "an extended tar header", err))) break;
            if (type == 'L') {
                size_t n = strnlen((const char *)t.data, (size_t)size);
                if (n == 0 || n >= sizeof t.name) {
                    rc = nn_fail(err, NN_ERR_FORMAT, "%s is corrupt: long file name of %zu bytes",
                                 source, n);
                    break;
                }
                memcpy(t.name, t.data, n);
                t.name[n] = 0;
                t.have_long_name = 1;
            } else {
                pax_find_path(&t, t.data, (size_t)size);
            }
            continue;
        }
        if (t.have_long_name) {
            snprintf(path, sizeof path, "%s", t.name);
            t.have_long_name = 0;
        } else if (memcmp(h + 257, "ustar\0", 6) == 0 && h[345]) {
            snprintf(path, sizeof path, "%.155s/%.100s", (const char *)h + 345, (const char *)h);
        } else {
            snprintf(path, sizeof path, "%.100s", (const char *)h);
        }
        const char *rel = path;
        while (rel[0] == '.' && rel[1] == '/') rel += 2;
        int regular = type == '0' || type == '\0' || type == '7';
        int ours = strncmp(rel, TOP, strlen(TOP)) == 0 || strcmp(rel, "aclImdb") == 0;
        under_top += ours;
        rel += ours && strlen(rel) >= strlen(TOP) ? strlen(TOP) : strlen(rel);
        /* Directories, links and anything outside aclImdb/ are skipped. */
        if (!regular || !ours || !rel[0] || (want && !want(rel, user))) {
            if ((rc = tar_skip(&t, (size + 511) / 512 * 512, rel, err))) break;
            continue;
        }
        if ((rc = tar_read_content(&t, size, rel, err))) break;
        double at = (double)gzoffset(t.gz) / t.source_bytes;
        nn_archive_file f = {rel, t.data, (size_t)size, at > 1 ? 1 : at};
        if ((rc = fn(&f, user, err))) break;
    }
    if (rc == NN_OK && under_top == 0)
        rc = nn_fail(err, NN_ERR_FORMAT, "%s has no aclImdb/ folder (%llu entries): is it "
                     "aclImdb_v1.tar.gz? Download it with scripts/setup.sh", source,
                     (unsigned long long)entries);
    gzclose(t.gz);
    free(t.data);
    return rc;
}

/* ---------------------------------------------------------------- folder */

typedef struct path_list {
    char **path;   /* relative to the root */
    size_t n, cap;
} path_list;

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int list_files(const char *root, const char *rel, int depth, path_list *l, nn_error *err) {
    char dirpath[MAX_NAME_BYTES];
    if ((size_t)snprintf(dirpath, sizeof dirpath, "%s/%s", root, rel) >= sizeof dirpath)
        return nn_fail(err, NN_ERR_IO, "path too long under %s", root);
    if (depth > 8) return nn_fail(err, NN_ERR_IO, "%s is nested too deeply (a link loop?)", dirpath);
    DIR *d = opendir(dirpath);
    if (!d) return nn_fail(err, NN_ERR_IO, "cannot open folder %s: %s", dirpath, strerror(errno));
    int rc = NN_OK;
    struct dirent *e;
    while (rc == NN_OK && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char child[MAX_NAME_BYTES], full[MAX_NAME_BYTES];
        int n1 = snprintf(child, sizeof child, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
        int n2 = snprintf(full, sizeof full, "%s/%s", root, child);
        if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof child || (size_t)n2 >= sizeof full) {
            rc = nn_fail(err, NN_ERR_IO, "path too long under %s", dirpath);
            break;
        }
        struct stat st;
        if (stat(full, &st) != 0) continue; /* a dangling link: nothing to read */
        if (S_ISDIR(st.st_mode)) {
            rc = list_files(root, child, depth + 1, l, err);
        } else if (S_ISREG(st.st_mode)) {
            if (l->n == l->cap) {
                size_t cap = l->cap ? 2 * l->cap : 1024;
                char **p = nn_realloc_array(l->path, cap, sizeof *p);
                if (!p) { rc = nn_fail(err, NN_ERR_NOMEM, "out of memory listing %s", root); break; }
                l->path = p;
                l->cap = cap;
            }
            if (!(l->path[l->n] = strdup(child))) {
                rc = nn_fail(err, NN_ERR_NOMEM, "out of memory listing %s", root);
                break;
            }
            l->n++;
        }
    }
    closedir(d);
    return rc;
}

static int compare_paths(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_folder(const char *source, nn_archive_want_fn want, nn_archive_file_fn fn,
                       void *user, nn_error *err) {
    char root[MAX_NAME_BYTES], probe[MAX_NAME_BYTES];
    snprintf(probe, sizeof probe, "%s/aclImdb", source);
    if (is_dir(probe)) {
        snprintf(root, sizeof root, "%s", probe);
    } else {
        char train[MAX_NAME_BYTES], test[MAX_NAME_BYTES];
        snprintf(train, sizeof train, "%s/train", source);
        snprintf(test, sizeof test, "%s/test", source);
        if (!is_dir(train) && !is_dir(test))
            return nn_fail(err, NN_ERR_FORMAT, "%s has neither an aclImdb/ folder nor train/ and "
                           "test/ folders: pass aclImdb_v1.tar.gz, the folder it was extracted "
                           "into, or aclImdb/ itself", source);
        snprintf(root, sizeof root, "%s", source);
    }
    path_list l = {0};
    int rc = list_files(root, "", 0, &l, err);
    if (rc == NN_OK) qsort(l.path, l.n, sizeof *l.path, compare_paths); /* a stable order */
    for (size_t i = 0; rc == NN_OK && i < l.n; i++) {
        if (want && !want(l.path[i], user)) continue;
        char full[2 * MAX_NAME_BYTES];
        snprintf(full, sizeof full, "%s/%s", root, l.path[i]);
        uint8_t *data;
        size_t len;
        if ((rc = nn_read_file(full, &data, &len, err))) break;
        nn_archive_file f = {l.path[i], data, len, (double)(i + 1) / (double)l.n};
        rc = fn(&f, user, err);
        free(data);
    }
    for (size_t i = 0; i < l.n; i++) free(l.path[i]);
    free(l.path);
    return rc;
}

int nn_archive_read(const char *source, nn_archive_want_fn want, nn_archive_file_fn fn,
                    void *user, nn_error *err) {
    struct stat st;
    if (stat(source, &st) != 0)
        return nn_fail(err, NN_ERR_IO, "cannot find %s (%s): download aclImdb_v1.tar.gz with "
                       "scripts/setup.sh, or pass its path or the extracted folder",
                       source, strerror(errno));
    if (S_ISDIR(st.st_mode)) return read_folder(source, want, fn, user, err);
    return read_tar(source, (double)st.st_size, want, fn, user, err);
}
