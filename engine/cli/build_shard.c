/* build_shard.c: the imdb_build_shard tool. Turns aclImdb (the archive or the
 * extracted folder) into data/imdb.shard (vocabulary, "train", "test"),
 * data/imdb-unsup.shard ("unsup", ids of the same vocabulary) and
 * data/imdb.manifest.json, all reproducible byte for byte.
 *
 * One pass over the source: each review is tokenized once and stored as
 * provisional ids (first-seen order) while the training reviews' counts are
 * gathered; the vocabulary is then sorted (count descending, bytes ascending)
 * and the provisional ids are mapped to final ids. Deliberately not here: any
 * parsing of the shard format (engine/shard.c writes and checks it). */
#define _POSIX_C_SOURCE 200809L
#include "archive.h"
#include "build_labelled.h"
#include "fileio.h"
#include "nn.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define DEFAULT_VOCAB_SIZE 32768
#define MAIN_SHARD "imdb.shard"
#define UNSUP_SHARD "imdb-unsup.shard"
#define MANIFEST "imdb.manifest.json"

enum { SPLIT_TRAIN, SPLIT_TEST, SPLIT_UNSUP, NSPLITS };
static const char *const split_names[NSPLITS] = {"train", "test", "unsup"};

/* The folders read, their labels and how many files the full dataset has. */
typedef struct folder {
    const char *path;     /* relative to aclImdb/, with the trailing slash */
    int split;
    uint8_t label;
    uint32_t expected;
    uint32_t found;
} folder;

static folder folders[] = {
    {"train/neg/", SPLIT_TRAIN, 0, 12500, 0},
    {"train/pos/", SPLIT_TRAIN, 1, 12500, 0},
    {"test/neg/", SPLIT_TEST, 0, 12500, 0},
    {"test/pos/", SPLIT_TEST, 1, 12500, 0},
    {"train/unsup/", SPLIT_UNSUP, 255, 50000, 0},
};
#define NFOLDERS (sizeof folders / sizeof folders[0])

typedef struct review {
    uint8_t split, label, rating;
    uint32_t id;
    uint32_t words;       /* tokens in the text */
    uint32_t kept;        /* of them stored (max_tokens - 1 at most) */
    uint64_t first;       /* index of the first kept provisional id */
} review;

/* Words seen anywhere, interned to provisional ids in first-seen order. */
typedef struct word_table {
    char *bytes;          /* all words, back to back */
    size_t nbytes, bytes_cap;
    uint64_t *offset;     /* (n+1) */
    uint32_t *count;      /* (n) occurrences in training reviews */
    uint32_t n, cap;
    uint32_t *slots;      /* provisional id + 1, or 0 */
    uint32_t nslots;
} word_table;

typedef struct builder {
    uint32_t vocab_size, max_tokens;
    int quiet;
    word_table words;
    review *reviews;
    size_t nreviews, reviews_cap;
    uint32_t *prov;       /* kept provisional ids of every review, back to back */
    uint64_t nprov, prov_cap;
    review *current;      /* review being tokenized */
    int oom;
    uint64_t bytes_read;  /* review text read */
    uint64_t skipped_names;
    char skipped_example[128];
    double next_progress;
} builder;

static uint32_t fnv1a(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static int grow(void **p, size_t elem, uint64_t *cap, uint64_t need) {
    if (need <= *cap) return 1;
    uint64_t c = *cap ? *cap : 1024;
    while (c < need) c *= 2;
    void *q = c > SIZE_MAX ? NULL : nn_realloc_array(*p, (size_t)c, elem);
    if (!q) return 0;
    *p = q;
    *cap = c;
    return 1;
}

static int word_table_rehash(word_table *w, uint32_t nslots) {
    uint32_t *slots = nn_calloc_array(nslots, sizeof *slots);
    if (!slots) return 0;
    for (uint32_t id = 0; id < w->n; id++) {
        uint32_t h = fnv1a(w->bytes + w->offset[id], (size_t)(w->offset[id + 1] - w->offset[id]));
        h &= nslots - 1;
        while (slots[h]) h = (h + 1) & (nslots - 1);
        slots[h] = id + 1;
    }
    free(w->slots);
    w->slots = slots;
    w->nslots = nslots;
    return 1;
}

/* The provisional id of a word, adding it if new; UINT32_MAX when out of memory. */
static uint32_t word_table_intern(word_table *w, const char *s, size_t len) {
    if (2 * (uint64_t)(w->n + 1) > w->nslots &&
        !word_table_rehash(w, w->nslots ? 2 * w->nslots : 1 << 16))
        return UINT32_MAX;
    uint32_t mask = w->nslots - 1, h = fnv1a(s, len) & mask;
    for (uint32_t slot; (slot = w->slots[h]) != 0; h = (h + 1) & mask) {
        uint32_t id = slot - 1;
        if (w->offset[id + 1] - w->offset[id] == len && memcmp(w->bytes + w->offset[id], s, len) == 0)
            return id;
    }
    uint64_t cap = w->cap, bcap = w->bytes_cap;
    if (!grow((void **)&w->bytes, 1, &bcap, w->nbytes + len)) return UINT32_MAX;
    w->bytes_cap = (size_t)bcap;
    if (w->n + 2 > cap) {
        uint64_t c1 = cap, c2 = cap;
        if (!grow((void **)&w->offset, sizeof *w->offset, &c1, w->n + 2) ||
            !grow((void **)&w->count, sizeof *w->count, &c2, w->n + 2))
            return UINT32_MAX;
        w->cap = (uint32_t)c1;
    }
    if (w->n == 0) w->offset[0] = 0;
    memcpy(w->bytes + w->nbytes, s, len);
    w->nbytes += len;
    w->offset[w->n + 1] = w->nbytes;
    w->count[w->n] = 0;
    w->slots[h] = w->n + 1;
    return w->n++;
}

static void on_token(const char *tok, size_t len, void *user) {
    builder *b = user;
    review *r = b->current;
    r->words++;
    if (b->oom) return;
    uint32_t id = word_table_intern(&b->words, tok, len);
    if (id == UINT32_MAX) {
        b->oom = 1;
        return;
    }
    if (r->split == SPLIT_TRAIN) b->words.count[id]++;
    if (r->kept + 1 < b->max_tokens) {
        if (!grow((void **)&b->prov, sizeof *b->prov, &b->prov_cap, b->nprov + 1)) {
            b->oom = 1;
            return;
        }
        b->prov[b->nprov++] = id;
        r->kept++;
    }
}

/* "<id>_<rating>.txt" -> id, rating; 0 if the name has another form. */
static int parse_review_name(const char *name, uint32_t *id, uint32_t *rating) {
    uint64_t a = 0, b = 0;
    const char *p = name;
    if (*p < '0' || *p > '9') return 0;
    while (*p >= '0' && *p <= '9' && a <= UINT32_MAX) a = a * 10 + (uint64_t)(*p++ - '0');
    if (*p++ != '_' || *p < '0' || *p > '9') return 0;
    while (*p >= '0' && *p <= '9' && b <= 10) b = b * 10 + (uint64_t)(*p++ - '0');
    if (strcmp(p, ".txt") != 0 || a > UINT32_MAX || b > 10) return 0;
    *id = (uint32_t)a;
    *rating = (uint32_t)b;
    return 1;
}

/* The folder a path belongs to, or NULL; *name gets the file name. */
static folder *find_folder(const char *path, const char **name) {
    for (size_t i = 0; i < NFOLDERS; i++) {
        size_t n = strlen(folders[i].path);
        if (strncmp(path, folders[i].path, n) == 0 && !strchr(path + n, '/')) {
            *name = path + n;
            return &folders[i];
        }
    }
    return NULL;
}

static int want_file(const char *path, void *user) {
    builder *b = user;
    const char *name;
    uint32_t id, rating;
    if (!find_folder(path, &name)) return 0;
    if (parse_review_name(name, &id, &rating)) return 1;
    if (b->skipped_names++ == 0) snprintf(b->skipped_example, sizeof b->skipped_example, "%s", path);
    return 0;
}

static int on_file(const nn_archive_file *f, void *user, nn_error *err) {
    builder *b = user;
    const char *name;
    uint32_t id, rating;
    folder *fo = find_folder(f->path, &name);
    if (!fo || !parse_review_name(name, &id, &rating)) return NN_OK;
    uint64_t cap = b->reviews_cap;
    if (!grow((void **)&b->reviews, sizeof *b->reviews, &cap, b->nreviews + 1))
        return nn_fail(err, NN_ERR_NOMEM, "out of memory after %zu reviews", b->nreviews);
    b->reviews_cap = (size_t)cap;
    review *r = &b->reviews[b->nreviews++];
    *r = (review){(uint8_t)fo->split, fo->label, (uint8_t)rating, id, 0, 0, b->nprov};
    fo->found++;
    b->bytes_read += f->len;
    b->current = r;
    nn_tokenize((const char *)f->data, f->len, on_token, b);
    if (b->oom) return nn_fail(err, NN_ERR_NOMEM, "out of memory tokenizing %s", f->path);
    if (!b->quiet && f->progress >= b->next_progress) {
        fprintf(stderr, "\rreading: %zu reviews, %3.0f%% of the source", b->nreviews,
                100 * f->progress);
        b->next_progress = f->progress + 0.01;
    }
    return NN_OK;
}

/* ------------------------------------------------------------- vocabulary */

typedef struct candidate {
    uint32_t count, pid;
} candidate;

static const word_table *sort_words; /* qsort has no context argument in C11 */

static int by_count_then_bytes(const void *pa, const void *pb) {
    const candidate *a = pa, *b = pb;
    if (a->count != b->count) return a->count > b->count ? -1 : 1;
    const word_table *w = sort_words;
    size_t la = (size_t)(w->offset[a->pid + 1] - w->offset[a->pid]);
    size_t lb = (size_t)(w->offset[b->pid + 1] - w->offset[b->pid]);
    int c = memcmp(w->bytes + w->offset[a->pid], w->bytes + w->offset[b->pid], la < lb ? la : lb);
    if (c) return c;
    return la < lb ? -1 : la > lb;
}

static int by_split_label_id(const void *pa, const void *pb) {
    const review *a = pa, *b = pb;
    if (a->split != b->split) return a->split < b->split ? -1 : 1;
    if (a->label != b->label) return a->label < b->label ? -1 : 1; /* negatives first */
    return a->id < b->id ? -1 : a->id > b->id;
}

typedef struct vocab_out {
    uint32_t V;
    uint32_t *count, *offset;
    char *bytes;
    uint32_t *final_id;   /* (words.n) provisional -> final id, NN_UNK if not kept */
    uint32_t train_words; /* distinct words in the training reviews */
} vocab_out;

static int build_vocab(const builder *b, vocab_out *v, nn_error *err) {
    const word_table *w = &b->words;
    candidate *c = nn_malloc_array(nn_size_add_sat(w->n, 1), sizeof *c);
    v->final_id = nn_malloc_array(nn_size_add_sat(w->n, 1), sizeof *v->final_id);
    if (!c || !v->final_id) {
        free(c);
        return nn_fail(err, NN_ERR_NOMEM, "out of memory sorting %u words", w->n);
    }
    uint32_t nc = 0;
    for (uint32_t pid = 0; pid < w->n; pid++) {
        v->final_id[pid] = NN_UNK;
        if (w->count[pid]) c[nc++] = (candidate){w->count[pid], pid};
    }
    sort_words = w;
    qsort(c, nc, sizeof *c, by_count_then_bytes);
    v->train_words = nc;
    uint32_t nwords = nc < b->vocab_size - NN_FIRST_WORD ? nc : b->vocab_size - NN_FIRST_WORD;
    v->V = NN_FIRST_WORD + nwords;
    size_t nbytes = 0;
    for (uint32_t i = 0; i < nwords; i++)
        nbytes += (size_t)(w->offset[c[i].pid + 1] - w->offset[c[i].pid]);
    static const char *const specials[NN_FIRST_WORD] = {"<PAD>", "<START>", "<UNK>", "<UNUSED>"};
    for (int i = 0; i < NN_FIRST_WORD; i++) nbytes += strlen(specials[i]);
    v->count = nn_calloc_array(v->V, sizeof *v->count);
    v->offset = nn_malloc_array(nn_size_add_sat(v->V, 1), sizeof *v->offset);
    v->bytes = nn_malloc_array(nn_size_add_sat(nbytes, 1), 1);
    if (!v->count || !v->offset || !v->bytes) {
        free(c);
        return nn_fail(err, NN_ERR_NOMEM, "out of memory for the vocabulary");
    }
    size_t at = 0;
    v->offset[0] = 0;
    for (uint32_t id = 0; id < v->V; id++) {
        const char *word;
        size_t len;
        if (id < NN_FIRST_WORD) {
            word = specials[id];
            len = strlen(word);
        } else {
            uint32_t pid = c[id - NN_FIRST_WORD].pid;
            word = w->bytes + w->offset[pid];
            len = (size_t)(w->offset[pid + 1] - w->offset[pid]);
            v->count[id] = w->count[pid];
            v->final_id[pid] = id;
        }
        memcpy(v->bytes + at, word, len);
        at += len;
        v->offset[id + 1] = (uint32_t)at;
    }
    free(c);
    return NN_OK;
}

/* ------------------------------------------------------------- splits */

typedef struct split_out {
    uint32_t n, positives, negatives, truncated;
    uint64_t tokens;
    uint8_t *label, *rating;
    uint32_t *review_id, *offset;
    uint16_t *tokens_buf;
} split_out;

static int build_split(const builder *b, const vocab_out *v, int split, size_t first, size_t n,
                       split_out *s, nn_error *err) {
    uint64_t ntok = 0;
    for (size_t i = first; i < first + n; i++) ntok += 1 + b->reviews[i].kept;
    if (ntok > UINT32_MAX)
        return nn_fail(err, NN_ERR_ARG, "split %s has %llu tokens, more than a shard's 32-bit "
                       "offsets hold: lower --max-tokens", split_names[split],
                       (unsigned long long)ntok);
    s->n = (uint32_t)n;
    s->label = nn_malloc_array(nn_size_add_sat(n, 1), 1);
    s->rating = nn_malloc_array(nn_size_add_sat(n, 1), 1);
    s->review_id = nn_malloc_array(nn_size_add_sat(n, 1), sizeof *s->review_id);
    s->offset = nn_malloc_array(nn_size_add_sat(n, 1), sizeof *s->offset);
    s->tokens_buf = nn_malloc_array(nn_size_add_sat((size_t)ntok, 1), sizeof *s->tokens_buf);
    if (!s->label || !s->rating || !s->review_id || !s->offset || !s->tokens_buf)
        return nn_fail(err, NN_ERR_NOMEM, "out of memory for split %s", split_names[split]);
    uint32_t at = 0;
    s->offset[0] = 0;
    for (size_t k = 0; k < n; k++) {
        const review *r = &b->reviews[first + k];
        s->label[k] = r->label;
        s->rating[k] = r->rating;
        s->review_id[k] = r->id;
        s->positives += r->label == 1;
        s->negatives += r->label == 0;
        s->truncated += r->words + 1 > b->max_tokens;
        s->tokens_buf[at++] = NN_START;
        for (uint32_t t = 0; t < r->kept; t++) s->tokens_buf[at++] = (uint16_t)v->final_id[b->prov[r->first + t]];
        s->offset[k + 1] = at;
    }
    s->tokens = at;
    return NN_OK;
}

static void split_free(split_out *s) {
    free(s->label), free(s->rating), free(s->review_id), free(s->offset), free(s->tokens_buf);
}

static void split_view(nn_split *dst, const split_out *s, int split) {
    memset(dst, 0, sizeof *dst);
    snprintf(dst->name, sizeof dst->name, "%s", split_names[split]);
    dst->n = s->n;
    dst->label = s->label;
    dst->rating = s->rating;
    dst->review_id = s->review_id;
    dst->offset = s->offset;
    dst->tokens = s->tokens_buf;
}

/* ------------------------------------------------------------- output */

static int make_dirs(const char *dir, nn_error *err) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return nn_fail(err, NN_ERR_ARG, "--out path is too long");
    for (char *p = path + 1;; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (mkdir(path, 0777) != 0 && errno != EEXIST)
                return nn_fail(err, NN_ERR_IO, "cannot create folder %s: %s", path, strerror(errno));
            *p = c;
            if (!c) break;
        }
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return nn_fail(err, NN_ERR_IO, "%s is not a folder", dir);
    return NN_OK;
}

static int write_output(const char *dir, const char *name, const uint8_t *data, size_t len,
                        nn_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return nn_write_file(path, data, len, err);
}

static cJSON *split_json(const split_out *s, const char *file) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "file", file);
    cJSON_AddNumberToObject(o, "n", s->n);
    cJSON_AddNumberToObject(o, "positives", s->positives);
    cJSON_AddNumberToObject(o, "negatives", s->negatives);
    cJSON_AddNumberToObject(o, "unlabelled", s->n - s->positives - s->negatives);
    cJSON_AddNumberToObject(o, "tokens", (double)s->tokens);
    cJSON_AddNumberToObject(o, "truncated", s->truncated);
    return o;
}

static cJSON *file_json(const char *name, const uint8_t *data, size_t len) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddNumberToObject(o, "bytes", (double)len);
    cJSON_AddNumberToObject(o, "crc32", nn_crc32(0, data, len));
    return o;
}

/* ------------------------------------------------------------- main */

static void usage(FILE *f) {
    fprintf(f,
            "usage: imdb_build_shard --source <aclImdb_v1.tar.gz | folder> --out <dir>\n"
            "                        [--vocab-size N] [--max-tokens N] [--quiet]\n"
            "       imdb_build_shard --labelled FILE --out <dir> (your own labelled text;\n"
            "                        --labelled --help for its options)\n"
            "  --source      the IMDB archive, the folder it was extracted into, or aclImdb/\n"
            "  --out         folder for " MAIN_SHARD ", " UNSUP_SHARD " and " MANIFEST "\n"
            "  --vocab-size  ids including the 4 specials, %d-65536 (default %d)\n"
            "  --max-tokens  ids kept per review including <START>, 1024-1048576 (default %d)\n"
            "  --quiet       no progress on stderr\n",
            NN_FIRST_WORD + 1, DEFAULT_VOCAB_SIZE, NN_SHARD_MAX_TOKENS);
}

static int parse_u32(const char *flag, const char *s, uint32_t lo, uint32_t hi, uint32_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = s ? strtoull(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || s[0] == '-' || v < lo || v > hi) {
        fprintf(stderr, "imdb_build_shard: %s needs a whole number from %u to %u, got %s\n",
                flag, lo, hi, s ? s : "nothing");
        return 0;
    }
    *out = (uint32_t)v;
    return 1;
}

static double seconds_since(const struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
}

/* The last component of path (trailing slashes ignored) into out: the
 * name "aclImdb_v1.tar.gz" of "/data/sets/aclImdb_v1.tar.gz", "aclImdb" of
 * "x/aclImdb/". */
static const char *base_name(const char *path, char *out, size_t cap) {
    size_t end = strlen(path);
    while (end > 1 && path[end - 1] == '/') end--;
    size_t start = end;
    while (start > 0 && path[start - 1] != '/') start--;
    size_t n = end - start < cap - 1 ? end - start : cap - 1;
    memcpy(out, path + start, n);
    out[n] = 0;
    return out;
}

static int run(const char *source, const char *out_dir, builder *b, nn_error *err) {
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct stat st;
    int is_archive = stat(source, &st) == 0 && !S_ISDIR(st.st_mode);
    char sha[65] = "";
    int rc;
    if (is_archive) {
        if (!b->quiet) fprintf(stderr, "hashing %s\n", source);
        if ((rc = nn_sha256_file_hex(source, sha, err))) return rc;
    }

    if ((rc = nn_archive_read(source, want_file, on_file, b, err))) {
        if (!b->quiet) fprintf(stderr, "\n");
        return rc;
    }
    if (!b->quiet) fprintf(stderr, "\rreading: %zu reviews, 100%% of the source\n", b->nreviews);
    for (size_t i = 0; i < NFOLDERS; i++)
        if (folders[i].found != folders[i].expected)
            fprintf(stderr, "imdb_build_shard: warning: found %u reviews in aclImdb/%s, the full "
                    "dataset has %u%s\n", folders[i].found, folders[i].path, folders[i].expected,
                    folders[i].found < folders[i].expected ? " (continuing with fewer)" : "");
    if (b->skipped_names)
        fprintf(stderr, "imdb_build_shard: warning: skipped %llu files not named <id>_<rating>.txt "
                "(e.g. %s)\n", (unsigned long long)b->skipped_names, b->skipped_example);
    if (folders[0].found + folders[1].found == 0)
        return nn_fail(err, NN_ERR_FORMAT, "%s has no training reviews (aclImdb/train/pos/ and "
                       "train/neg/ files named <id>_<rating>.txt): is it the IMDB dataset?", source);

    qsort(b->reviews, b->nreviews, sizeof *b->reviews, by_split_label_id);
    size_t first[NSPLITS + 1] = {0};
    for (size_t i = 0; i < b->nreviews; i++) {
        const review *r = &b->reviews[i], *p = i ? &b->reviews[i - 1] : NULL;
        first[r->split + 1] = i + 1;
        if (p && p->split == r->split && p->label == r->label && p->id == r->id)
            return nn_fail(err, NN_ERR_FORMAT, "%s has review %u twice in %s (label %u): "
                           "a damaged archive? download it again", source, r->id,
                           split_names[r->split], r->label);
    }
    for (int s = 1; s <= NSPLITS; s++)
        if (first[s] < first[s - 1]) first[s] = first[s - 1];

    vocab_out v = {0};
    split_out sp[NSPLITS] = {{0}};
    uint8_t *main_buf = NULL, *unsup_buf = NULL, *check_buf = NULL;
    size_t main_len = 0, unsup_len = 0, check_len = 0;
    char *json = NULL;
    nn_shard check = {0};
    if ((rc = make_dirs(out_dir, err))) goto done;
    if ((rc = build_vocab(b, &v, err))) goto done;
    if (!b->quiet) {
        fprintf(stderr, "vocabulary: %u ids, from %u distinct words in the training reviews "
                "(%u in all splits)\ntop words:", v.V, v.train_words, b->words.n);
        for (uint32_t id = NN_FIRST_WORD; id < v.V && id < NN_FIRST_WORD + 20; id++)
            fprintf(stderr, " %.*s", (int)(v.offset[id + 1] - v.offset[id]), v.bytes + v.offset[id]);
        fprintf(stderr, "\nencoding and writing\n");
    }
    for (int s = 0; s < NSPLITS; s++)
        if ((rc = build_split(b, &v, s, first[s], first[s + 1] - first[s], &sp[s], err))) goto done;

    nn_shard main_shard = {0};
    main_shard.max_tokens = b->max_tokens;
    main_shard.vocab = (nn_vocab){v.V, v.count, v.offset, v.bytes, NULL, 0};
    main_shard.nsplits = 2;
    split_view(&main_shard.split[0], &sp[SPLIT_TRAIN], SPLIT_TRAIN);
    split_view(&main_shard.split[1], &sp[SPLIT_TEST], SPLIT_TEST);
    if ((rc = nn_shard_write(&main_shard, &main_buf, &main_len, err))) goto done;
    if ((rc = write_output(out_dir, MAIN_SHARD, main_buf, main_len, err))) goto done;

    /* Self-check: read the file back the way every consumer will. */
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", out_dir, MAIN_SHARD);
    if ((rc = nn_read_file(path, &check_buf, &check_len, err))) goto done;
    if ((rc = nn_shard_parse(&check, check_buf, check_len, err))) goto done;
    if (check_len != main_len || memcmp(check_buf, main_buf, main_len) != 0 ||
        nn_shard_find(&check, "train")->n != sp[SPLIT_TRAIN].n ||
        nn_shard_find(&check, "test")->n != sp[SPLIT_TEST].n || check.vocab.V != v.V) {
        rc = nn_fail(err, NN_ERR_IO, "%s reads back differently from what was written: "
                     "check the disk and run again", path);
        goto done;
    }

    nn_shard unsup_shard = {0};
    unsup_shard.max_tokens = b->max_tokens;
    unsup_shard.vocab_crc = check.vocab_crc; /* names the vocabulary its ids refer to */
    unsup_shard.nsplits = 1;
    split_view(&unsup_shard.split[0], &sp[SPLIT_UNSUP], SPLIT_UNSUP);
    if ((rc = nn_shard_write(&unsup_shard, &unsup_buf, &unsup_len, err))) goto done;
    if ((rc = write_output(out_dir, UNSUP_SHARD, unsup_buf, unsup_len, err))) goto done;

    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "format", "nn-shard");
    cJSON_AddNumberToObject(m, "version", NN_SHARD_VERSION);
    cJSON_AddNumberToObject(m, "tokenizer_version", NN_TOKENIZER_VERSION);
    cJSON_AddNumberToObject(m, "vocab_size", v.V);
    cJSON_AddNumberToObject(m, "vocab_crc", check.vocab_crc);
    cJSON_AddNumberToObject(m, "train_distinct_words", v.train_words);
    cJSON_AddNumberToObject(m, "max_tokens", b->max_tokens);
    cJSON *splits = cJSON_AddObjectToObject(m, "splits");
    cJSON_AddItemToObject(splits, "train", split_json(&sp[SPLIT_TRAIN], MAIN_SHARD));
    cJSON_AddItemToObject(splits, "test", split_json(&sp[SPLIT_TEST], MAIN_SHARD));
    cJSON_AddItemToObject(splits, "unsup", split_json(&sp[SPLIT_UNSUP], UNSUP_SHARD));
    cJSON *src = cJSON_AddObjectToObject(m, "source");
    /* Only the source's own name: the manifest is shipped beside the shards,
     * and an absolute path would publish the building machine's layout (the
     * sha256 below says which archive it was). */
    char name[256];
    cJSON_AddStringToObject(src, "name", base_name(source, name, sizeof name));
    /* An archive's own size; for a folder, the review bytes read. */
    cJSON_AddNumberToObject(src, "bytes", is_archive ? (double)st.st_size : (double)b->bytes_read);
    if (is_archive) cJSON_AddStringToObject(src, "sha256", sha);
    else cJSON_AddNullToObject(src, "sha256");
    cJSON *files = cJSON_AddArrayToObject(m, "files");
    cJSON_AddItemToArray(files, file_json(MAIN_SHARD, main_buf, main_len));
    cJSON_AddItemToArray(files, file_json(UNSUP_SHARD, unsup_buf, unsup_len));
    json = cJSON_Print(m);
    cJSON_Delete(m);
    if (!json) {
        rc = nn_fail(err, NN_ERR_NOMEM, "out of memory writing the manifest");
        goto done;
    }
    size_t jlen = strlen(json);
    char *jnl = nn_realloc_array(json, nn_size_add_sat(jlen, 2), 1);
    if (!jnl) {
        rc = nn_fail(err, NN_ERR_NOMEM, "out of memory writing the manifest");
        goto done;
    }
    json = jnl;
    json[jlen] = '\n';
    json[jlen + 1] = 0;
    if ((rc = write_output(out_dir, MANIFEST, (const uint8_t *)json, jlen + 1, err))) goto done;

    printf("imdb_build_shard: %s/%s (V %u, train %u, test %u, %.1f MB) and %s (unsup %u, %.1f MB) "
           "in %.1f s\n", out_dir, MAIN_SHARD, v.V, sp[SPLIT_TRAIN].n, sp[SPLIT_TEST].n,
           main_len / 1e6, UNSUP_SHARD, sp[SPLIT_UNSUP].n, unsup_len / 1e6, seconds_since(&t0));
done:
    nn_shard_free(&check);
    free(check_buf), free(main_buf), free(unsup_buf), free(json);
    for (int s = 0; s < NSPLITS; s++) split_free(&sp[s]);
    free(v.count), free(v.offset), free(v.bytes), free(v.final_id);
    return rc;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) /* the user's own labelled file: build_labelled.c */
        if (strcmp(argv[i], "--labelled") == 0) return nn_cli_build_labelled(argc, argv);
    const char *source = NULL, *out_dir = NULL;
    builder b = {0};
    b.vocab_size = DEFAULT_VOCAB_SIZE;
    b.max_tokens = NN_SHARD_MAX_TOKENS;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--quiet") == 0) {
            b.quiet = 1;
        } else if (strcmp(a, "--source") == 0 && val) {
            source = argv[++i];
        } else if (strcmp(a, "--out") == 0 && val) {
            out_dir = argv[++i];
        } else if (strcmp(a, "--vocab-size") == 0) {
            if (!parse_u32(a, val, NN_FIRST_WORD + 1, 65536, &b.vocab_size)) return 2;
            i++;
        } else if (strcmp(a, "--max-tokens") == 0) {
            if (!parse_u32(a, val, 1024, 1u << 20, &b.max_tokens)) return 2;
            i++;
        } else {
            fprintf(stderr, "imdb_build_shard: unknown or incomplete argument %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!source || !out_dir) {
        fprintf(stderr, "imdb_build_shard: --source and --out are required\n");
        usage(stderr);
        return 2;
    }
    nn_error err = {0};
    int rc = run(source, out_dir, &b, &err);
    free(b.words.bytes), free(b.words.offset), free(b.words.count), free(b.words.slots);
    free(b.reviews), free(b.prov);
    if (rc) {
        fprintf(stderr, "imdb_build_shard: %s\n", err.msg);
        return 1;
    }
    return 0;
}
