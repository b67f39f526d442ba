/* predict.c: imdb_predict, scoring reviews with a saved checkpoint.
 *
 *   imdb_predict --checkpoint FILE [--explain] [--ids] [--] [TEXT ...]
 *   imdb_predict --checkpoint encoder.ckpt --fill "this movie was [MASK] ."
 *   echo "a review per line" | imdb_predict --checkpoint FILE
 *
 * Scores each TEXT argument, or each line of stdin when there is none, and
 * prints one line per review:
 *
 *   0.9731 positive  <the first 60 characters of the review>
 *
 * With --explain, each word follows on its own line with its contribution:
 * the score minus the score with that word replaced by <PAD>
 * (nn_model_explain), so positive numbers pushed the review towards
 * "positive". Words are shown as the tokenizer sees them (lowercased).
 * With --ids, the ids the model reads follow on one line ("ids 1 14 22 ...":
 * <START>, then each word's id, stop words left out, before maxlen cuts).
 * A model trained without stop words (its config's "stopwords") reads texts
 * without them too; --explain marks them.
 *
 * With --fill (a transformer's checkpoint, such as imdb_pretrain's
 * encoder), each text instead gets the ten most likely words at its first
 * [MASK] from the masked-language model (engine/mlm.h), one per line with
 * its probability.
 *
 * Not here: training (imdb_train) and anything about the checkpoint format
 * (engine/checkpoint.c). Exit status 1 on any error, with a message on
 * stderr saying what to do. */
#include "fileio.h"
#include "nn.h"
#include "stopwords.h"
#include "mlm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PREVIEW_CHARS 60

static void usage(FILE *f) {
    fprintf(f,
            "usage: imdb_predict --checkpoint FILE [--explain] [--] [TEXT ...]\n"
            "Scores each TEXT, or each line of stdin when no TEXT is given, with a\n"
            "checkpoint written by imdb_train --checkpoint FILE. Prints the probability\n"
            "that the review is positive, the verdict and the start of the review.\n"
            "  --explain   also print each word with its contribution to the score\n"
            "  --ids       also print the ids the model reads (stop words removed)\n"
            "  --fill      a transformer's checkpoint: the ten likeliest words at each text's [MASK]\n");
}

/* The first PREVIEW_CHARS characters of text on one line: control bytes
 * become spaces and a multi-byte UTF-8 character is never split. */
static void print_preview(const char *text, size_t len) {
    size_t chars = 0, i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)text[i];
        if ((c & 0xC0) != 0x80 && chars++ == PREVIEW_CHARS) break;
        putchar(c < 0x20 || c == 0x7F ? ' ' : c);
        i++;
    }
    if (i < len) fputs("...", stdout);
}

/* The tokens of a text, copied (the tokenizer's are valid only during its
 * callback), so --explain can show each word beside its contribution. */
typedef struct token_list {
    char *bytes;
    size_t *start; /* (n+1) token i is bytes[start[i] .. start[i+1]) */
    size_t n, cap_tokens, used, cap_bytes;
    int nomem;
} token_list;

static void collect_token(const char *tok, size_t len, void *user) {
    token_list *t = user;
    if (t->nomem) return;
    if (t->n + 2 > t->cap_tokens) {
        size_t cap = t->cap_tokens ? 2 * t->cap_tokens : 64;
        size_t *s = nn_realloc_array(t->start, cap, sizeof *s);
        if (!s) {
            t->nomem = 1;
            return;
        }
        t->start = s;
        t->cap_tokens = cap;
    }
    if (t->used + len > t->cap_bytes) {
        size_t cap = t->cap_bytes ? 2 * t->cap_bytes : 1024;
        while (cap < t->used + len) cap *= 2;
        char *b = realloc(t->bytes, cap);
        if (!b) {
            t->nomem = 1;
            return;
        }
        t->bytes = b;
        t->cap_bytes = cap;
    }
    memcpy(t->bytes + t->used, tok, len);
    t->start[t->n++] = t->used;
    t->used += len;
    t->start[t->n] = t->used;
}

/* Class k's name (a checkpoint of a labelled-text shard keeps them, version
 * 3), else "class k" written into buf. */
static const char *class_label(const nn_checkpoint *ck, uint32_t k, char buf[24]) {
    if (k < ck->nclass_names) return ck->class_name[k];
    snprintf(buf, 24, "class %u", k);
    return buf;
}

static int explain(nn_checkpoint *ck, const nn_stopwords *stop, const char *text, size_t len) {
    nn_model *m = ck->model;
    const nn_config *cfg = &m->cfg;
    size_t n = nn_encode_text_stop(&ck->vocab, stop, text, len, cfg->vocab_size, NULL, 0);
    uint32_t *ids = nn_malloc_array(n, sizeof *ids);
    float *contrib = nn_malloc_array(n, sizeof *contrib);
    token_list tokens = {0};
    if (ids && contrib) {
        nn_encode_text_stop(&ck->vocab, stop, text, len, cfg->vocab_size, ids, n);
        nn_tokenize(text, len, collect_token, &tokens);
    }
    size_t stopped = 0;
    for (size_t k = 0; ids && contrib && !tokens.nomem && k < tokens.n; k++)
        stopped += nn_token_id(&ck->vocab, stop, tokens.bytes + tokens.start[k],
                               tokens.start[k + 1] - tokens.start[k], 0) == NN_STOPPED;
    if (!ids || !contrib || tokens.nomem || tokens.n + 1 != n + stopped) {
        free(ids);
        free(contrib);
        free(tokens.bytes);
        free(tokens.start);
        fprintf(stderr, "imdb_predict: out of memory explaining a review of %zu words\n", n);
        return 1;
    }
    /* K classes: toward the top class (the one predict printed first). */
    uint32_t cls = 1;
    if (nn_model_classes(m) > 2) {
        float best = -1.0f;
        for (uint32_t k = 0; k < nn_model_classes(m); k++) {
            float p = nn_model_explain_class(m, ids, n, k, NULL);
            if (p > best) best = p, cls = k;
        }
        char buf[24];
        printf("    towards %s:\n", class_label(ck, cls, buf));
    }
    nn_model_explain_class(m, ids, n, cls, contrib);
    /* ids[0] is <START>; word i is ids[i + 1]. Keras pad_sequences keeps
     * the last maxlen ids with truncating "pre", the first with "post". */
    size_t T = cfg->maxlen, cut_before = 0, cut_from = n;
    if (n > T) {
        if (cfg->truncating == NN_PAD_PRE) cut_before = n - T;
        else cut_from = T;
    }
    for (size_t k = 0, i = 1; k < tokens.n; k++) {
        const char *w = tokens.bytes + tokens.start[k];
        int wlen = (int)(tokens.start[k + 1] - tokens.start[k]);
        if (nn_token_id(&ck->vocab, stop, w, (size_t)wlen, 0) == NN_STOPPED) {
            printf("    %+.4f  %.*s  (stop word, removed)\n", 0.0, wlen, w);
            continue;
        }
        const char *note = i < cut_before || i >= cut_from ? "  (beyond maxlen, not read)"
                           : ids[i] == NN_UNK             ? "  (not in the vocabulary)"
                                                          : "";
        printf("    %+.4f  %.*s%s\n", contrib[i], wlen, w, note);
        i++;
    }
    free(ids);
    free(contrib);
    free(tokens.bytes);
    free(tokens.start);
    return 0;
}

static int print_ids;


static int predict(nn_checkpoint *ck, const nn_stopwords *stop, const char *text, size_t len,
                   int with_explain) {
    uint32_t K = nn_model_classes(ck->model);
    if (K > 2) { /* "class 3 0.8123 (class 1 0.1100, ...)": the top class first */
        float probs[NN_MAX_TEXT_CLASSES];
        uint32_t top = nn_model_score_text_classes(ck->model, &ck->vocab, stop, text, len, probs);
        char a[24], b[24];
        printf("%s %.4f (", class_label(ck, top, a), probs[top]);
        for (uint32_t k = 0, first = 1; k < K; k++)
            if (k != top) printf("%s%s %.4f", first ? "" : ", ", class_label(ck, k, b), probs[k]), first = 0;
        printf(")  ");
    } else {
        float p = nn_model_score_text(ck->model, &ck->vocab, stop, text, len);
        printf("%.4f %s  ", p, p >= 0.5f ? "positive" : "negative");
    }
    print_preview(text, len);
    putchar('\n');
    if (print_ids) {
        size_t n = nn_encode_text_stop(&ck->vocab, stop, text, len, ck->model->cfg.vocab_size, NULL, 0);
        uint32_t *ids = nn_malloc_array(n, sizeof *ids);
        if (!ids) {
            fprintf(stderr, "imdb_predict: out of memory encoding a review of %zu words\n", n);
            return 1;
        }
        nn_encode_text_stop(&ck->vocab, stop, text, len, ck->model->cfg.vocab_size, ids, n);
        printf("    ids");
        for (size_t i = 0; i < n; i++) printf(" %u", ids[i]);
        putchar('\n');
        free(ids);
    }
    int rc = with_explain ? explain(ck, stop, text, len) : 0;
    fflush(stdout);
    return rc;
}

/* Reads one line (without its "\n" or "\r\n") into *buf; returns 0 at the
 * end of input, -1 when out of memory. NUL bytes are kept. */
static int read_line(FILE *f, char **buf, size_t *cap, size_t *len) {
    size_t n = 0;
    int c;
    while ((c = getc(f)) != EOF && c != '\n') {
        if (n + 1 >= *cap) {
            size_t ncap = *cap ? 2 * *cap : 4096;
            char *b = realloc(*buf, ncap);
            if (!b) return -1;
            *buf = b;
            *cap = ncap;
        }
        (*buf)[n++] = (char)c;
    }
    if (c == EOF && n == 0) return 0;
    if (n > 0 && (*buf)[n - 1] == '\r') n--;
    *len = n;
    return 1;
}

int main(int argc, char **argv) {
    const char *path = NULL;
    int with_explain = 0, ntexts = 0, options_done = 0, fill = 0;
    /* Options may come anywhere before a "--"; every other argument is a
     * text, kept in order at the front of argv. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (options_done || a[0] != '-' || a[1] != '-') {
            argv[1 + ntexts++] = argv[i];
        } else if (!strcmp(a, "--")) {
            options_done = 1;
        } else if (!strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--explain")) {
            with_explain = 1;
        } else if (!strcmp(a, "--fill")) {
            fill = 1;
        } else if (!strcmp(a, "--ids")) {
            print_ids = 1;
        } else if (!strcmp(a, "--checkpoint")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "imdb_predict: --checkpoint needs a file name\n");
                return 1;
            }
            path = argv[++i];
        } else if (!strncmp(a, "--checkpoint=", 13)) {
            path = a + 13;
        } else {
            fprintf(stderr,
                    "imdb_predict: unknown option %s (to score a text starting with \"--\", "
                    "put -- before it)\n",
                    a);
            usage(stderr);
            return 1;
        }
    }
    if (!path) {
        fprintf(stderr, "imdb_predict: --checkpoint FILE is required (imdb_train --checkpoint "
                        "FILE writes one)\n");
        usage(stderr);
        return 1;
    }

    nn_error err = {0};
    uint8_t *buf = NULL;
    size_t buf_len = 0;
    if (nn_read_file(path, &buf, &buf_len, &err)) {
        fprintf(stderr, "imdb_predict: %s\n(check the path; imdb_train --checkpoint FILE writes "
                        "a checkpoint)\n", err.msg);
        return 1;
    }
    nn_checkpoint ck;
    int rc = nn_checkpoint_read(&ck, buf, buf_len, &err);
    free(buf);
    if (rc) {
        fprintf(stderr, "imdb_predict: %s: %s\n", path, err.msg);
        return 1;
    }
    if (ck.model->cfg.model == NN_MODEL_MLP) {
        fprintf(stderr, "imdb_predict: %s is an image model (\"mlp\"); imdb_predict scores text\n", path);
        nn_checkpoint_free(&ck);
        return 1;
    }
    if (fill) {
        nn_mlm *mm = NULL;
        int st = 0;
        if (nn_mlm_create(&mm, ck.model, &err)) {
            fprintf(stderr, "imdb_predict: %s: %s\n", path, err.msg);
            st = 1;
        }
        for (int i = 1; i <= ntexts && !st; i++) {
            uint32_t ids[10], n;
            float p[10];
            if (nn_mlm_fill_text(mm, &ck.vocab, argv[i], strlen(argv[i]), 10, ids, p, &n, &err)) {
                fprintf(stderr, "imdb_predict: %s\n", err.msg);
                st = 1;
                break;
            }
            printf("%s\n", argv[i]);
            for (uint32_t j = 0; j < n; j++) {
                size_t wl;
                const char *w = nn_vocab_word(&ck.vocab, ids[j], &wl);
                printf("  %.4f  %.*s\n", p[j], (int)wl, w);
            }
        }
        if (!ntexts) fprintf(stderr, "imdb_predict: --fill needs a TEXT with [MASK]\n"), st = 1;
        nn_mlm_free(mm);
        nn_checkpoint_free(&ck);
        return st;
    }
    nn_stopwords stop;
    if (nn_stopwords_build(&stop, ck.model->cfg.stopwords, &ck.vocab, &err)) {
        fprintf(stderr, "imdb_predict: %s: %s\n", path, err.msg);
        nn_checkpoint_free(&ck);
        return 1;
    }

    int status = 0;
    if (ntexts > 0) {
        for (int i = 1; i <= ntexts && status == 0; i++)
            status = predict(&ck, &stop, argv[i], strlen(argv[i]), with_explain);
    } else {
        char *line = NULL;
        size_t cap = 0, len = 0;
        int got = 0;
        while (status == 0 && (got = read_line(stdin, &line, &cap, &len)) > 0)
            status = predict(&ck, &stop, line ? line : "", len, with_explain);
        if (status == 0 && got < 0) {
            fprintf(stderr, "imdb_predict: out of memory reading a line of stdin\n");
            status = 1;
        }
        if (status == 0 && ferror(stdin)) {
            fprintf(stderr, "imdb_predict: error reading stdin\n");
            status = 1;
        }
        free(line);
    }
    nn_stopwords_free(&stop);
    nn_checkpoint_free(&ck);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "imdb_predict: cannot write the results\n");
        status = 1;
    }
    return status;
}
