/* labelled_text.c: reads label<TAB>text and label,text files (the rules are
 * in labelled_text.h).
 *
 * One pass over the bytes, never reading past len: the input comes from a
 * user's file and may be truncated, binary or in another encoding. Each
 * record ends as an example or as a problem with its line number; the
 * problems keep the first NN_LT_MAX_REPORTED reasons and count the rest.
 * Not here: tokenizing or scoring the texts. */
#include "labelled_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INPUT_BYTES NN_LT_MAX_BYTES

typedef struct reader {
    const unsigned char *p;
    size_t len, pos;
    uint32_t line;          /* 1-based line of p[pos] */
    nn_labelled_text *lt;
    size_t text_len, text_cap;
    uint32_t cap;           /* examples allocated */
    int nomem, too_many;
    int any_labels;         /* the classes reading: labels are any strings */
    uint32_t nseen;         /* distinct labels so far, in first-seen order */
    char seen[NN_MAX_TEXT_CLASSES][NN_LT_MAX_LABEL_BYTES + 1];
} reader;

/* --------------------------------------------------------------- helpers */

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void problem(reader *r, uint32_t line, const char *fmt, ...) {
    nn_labelled_text *lt = r->lt;
    lt->malformed++;
    if (lt->nproblems >= NN_LT_MAX_REPORTED) return;
    nn_lt_problem *p = &lt->problem[lt->nproblems++];
    p->line = line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->reason, sizeof p->reason, fmt, ap);
    va_end(ap);
}

size_t nn_utf8_invalid_at(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) need = 1;
        else if (c == 0xE0) need = 2, lo = 0xA0;
        else if (c >= 0xE1 && c <= 0xEC) need = 2;
        else if (c == 0xED) need = 2, hi = 0x9F;
        else if (c >= 0xEE && c <= 0xEF) need = 2;
        else if (c == 0xF0) need = 3, lo = 0x90;
        else if (c >= 0xF1 && c <= 0xF3) need = 3;
        else if (c == 0xF4) need = 3, hi = 0x8F;
        else return i;
        if (i + need >= n) return i; /* cut short */
        if (s[i + 1] < lo || s[i + 1] > hi) return i;
        for (size_t k = 2; k <= need; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF) return i;
        i += need + 1;
    }
    return n;
}

static int is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\r'; }

static void trim(const unsigned char **s, size_t *n) {
    while (*n && is_space(**s)) (*s)++, (*n)--;
    while (*n && is_space((*s)[*n - 1])) (*n)--;
}

static int word_is(const unsigned char *s, size_t n, const char *w) {
    if (strlen(w) != n) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
        if (c != (unsigned char)w[i]) return 0;
    }
    return 1;
}

/* 0 or 1, or -1 when s is not a label. */
static int parse_label(const unsigned char *s, size_t n) {
    trim(&s, &n);
    if (word_is(s, n, "0") || word_is(s, n, "neg") || word_is(s, n, "negative")) return 0;
    if (word_is(s, n, "1") || word_is(s, n, "pos") || word_is(s, n, "positive")) return 1;
    return -1;
}

static int is_header_label(const unsigned char *s, size_t n) {
    static const char *const names[] = {"label", "labels", "class", "category", "sentiment",
                                        "target", "tag"};
    trim(&s, &n);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (word_is(s, n, names[i])) return 1;
    return 0;
}

/* A first line whose text is a column name is a header whatever its label. */
static int is_header_text(const unsigned char *s, size_t n) {
    static const char *const names[] = {"text", "review", "sentence", "document", "message",
                                        "content", "comment"};
    trim(&s, &n);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (word_is(s, n, names[i])) return 1;
    return 0;
}

/* The classes reading: the provisional id (first-seen order) of label
 * s[0..n), interning it; -1 with a reason when it cannot be a label. */
static int intern_label(reader *r, const unsigned char *s, size_t n, const char **why) {
    trim(&s, &n);
    *why = NULL;
    if (n == 0) {
        *why = "the label is empty";
        return -1;
    }
    if (n > NN_LT_MAX_LABEL_BYTES) {
        *why = "the label is longer than 64 bytes: is the text in the first column?";
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] == 0x7F) {
            *why = "the label has a control byte";
            return -1;
        }
    if (nn_utf8_invalid_at(s, n) < n) {
        *why = "the label is not valid UTF-8: save the file as UTF-8";
        return -1;
    }
    for (uint32_t k = 0; k < r->nseen; k++)
        if (strlen(r->seen[k]) == n && !memcmp(r->seen[k], s, n)) return (int)k;
    if (r->nseen == NN_MAX_TEXT_CLASSES) {
        r->lt->too_many_classes++;
        *why = "this would be a 51st label; at most 50 classes (is the label the first column?)";
        return -1;
    }
    memcpy(r->seen[r->nseen], s, n);
    r->seen[r->nseen][n] = 0;
    return (int)r->nseen++;
}

/* The label as printable text for a message: at most 24 bytes, control
 * bytes and non-ASCII shown as '?'. */
static void printable(char *out, size_t cap, const unsigned char *s, size_t n) {
    trim(&s, &n);
    size_t k = 0;
    for (size_t i = 0; i < n && k + 4 < cap && i < 24; i++)
        out[k++] = (s[i] >= 0x20 && s[i] < 0x7F) ? (char)s[i] : '?';
    if (n > 24 && k + 4 < cap) out[k++] = '.', out[k++] = '.', out[k++] = '.';
    out[k] = 0;
}

static int text_put(reader *r, const unsigned char *s, size_t n) {
    if (r->text_len + n + 1 > r->text_cap) {
        size_t cap = r->text_cap ? r->text_cap : 4096;
        while (cap < r->text_len + n + 1) cap *= 2;
        char *t = realloc(r->lt->text, cap);
        if (!t) {
            r->nomem = 1;
            return 0;
        }
        r->lt->text = t;
        r->text_cap = cap;
    }
    memcpy(r->lt->text + r->text_len, s, n);
    r->text_len += n;
    r->lt->text[r->text_len] = 0;
    return 1;
}

/* Checks the text just appended at text[from..text_len) and the label, and
 * either keeps the example or reports why not. */
static void finish_example(reader *r, uint32_t line, const unsigned char *raw_label,
                           size_t label_len, size_t from) {
    nn_labelled_text *lt = r->lt;
    const unsigned char *t = (const unsigned char *)lt->text + from;
    size_t n = r->text_len - from;
    char shown[40];
    int ok = 0;
    const unsigned char *nul = memchr(t, 0, n);
    size_t bad = nn_utf8_invalid_at(t, n);
    size_t blank = 0;
    while (blank < n && (is_space(t[blank]) || t[blank] == '\n')) blank++;
    const char *label_why = NULL;
    int label = r->any_labels ? 0 : parse_label(raw_label, label_len);
    if (label < 0) {
        printable(shown, sizeof shown, raw_label, label_len);
        problem(r, line, "the label \"%s\" is not 0, 1, neg or pos", shown);
    } else if (blank == n) {
        problem(r, line, "there is no text after the label");
    } else if (nul) {
        problem(r, line, "the text has a NUL byte (at byte %zu of the text): is this a text file?",
                (size_t)(nul - t) + 1);
    } else if (bad < n) {
        problem(r, line, "the text is not valid UTF-8 (byte %zu of the text): save the file as UTF-8",
                bad + 1);
    } else {
        ok = 1;
    }
    if (ok && r->any_labels) { /* after the text, so a bad text does not make a class */
        label = intern_label(r, raw_label, label_len, &label_why);
        if (label < 0) {
            ok = 0;
            printable(shown, sizeof shown, raw_label, label_len);
            problem(r, line, "label \"%s\": %s", shown, label_why);
        }
    }
    if (!ok) {
        r->text_len = from; /* drop its text */
        return;
    }
    if (n > NN_LT_MAX_TEXT_BYTES) { /* cut at a character boundary */
        size_t k = NN_LT_MAX_TEXT_BYTES;
        while (k > 0 && (t[k] & 0xC0) == 0x80) k--;
        r->text_len = from + k;
        lt->text[r->text_len] = 0;
        if (!lt->truncated++) lt->first_truncated_line = line;
    }
    if (lt->n >= NN_LT_MAX_EXAMPLES) {
        r->too_many = 1;
        return;
    }
    if (lt->n + 1 >= r->cap) {
        uint32_t cap = r->cap ? 2 * r->cap : 256;
        uint8_t *lab = realloc(lt->label, cap);
        if (lab) lt->label = lab;
        uint32_t *ln = nn_realloc_array(lt->line, cap, sizeof *ln);
        if (ln) lt->line = ln;
        uint32_t *off = nn_realloc_array(lt->offset, nn_size_add_sat(cap, 1), sizeof *off);
        if (off) lt->offset = off;
        if (!lab || !ln || !off) {
            r->nomem = 1;
            return;
        }
        r->cap = cap;
    }
    lt->label[lt->n] = (uint8_t)label;
    lt->line[lt->n] = line;
    lt->offset[lt->n] = (uint32_t)from;
    lt->n++;
    lt->offset[lt->n] = (uint32_t)r->text_len;
}

/* End of the physical line starting at pos: the index of its '\n', or len. */
static size_t line_end(const reader *r, size_t pos) {
    const unsigned char *nl = memchr(r->p + pos, '\n', r->len - pos);
    return nl ? (size_t)(nl - r->p) : r->len;
}

/* Moves past the line ending at eol (its '\n' if any). */
static void next_line(reader *r, size_t eol) {
    r->pos = eol < r->len ? eol + 1 : r->len;
    r->line++;
}

static int is_blank(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!is_space(s[i])) return 0;
    return 1;
}

/* ------------------------------------------------------------------- TSV */

static void read_tsv_record(reader *r, int first) {
    uint32_t line = r->line;
    size_t eol = line_end(r, r->pos);
    const unsigned char *s = r->p + r->pos;
    size_t n = eol - r->pos;
    next_line(r, eol);
    if (n && s[n - 1] == '\r') n--;
    if (is_blank(s, n)) {
        r->lt->blank++;
        return;
    }
    const unsigned char *tab = memchr(s, '\t', n);
    if (!tab) {
        problem(r, line, "there is no tab between the label and the text (write label<TAB>text)");
        return;
    }
    size_t label_len = (size_t)(tab - s);
    if (first && (is_header_label(s, label_len) || is_header_text(tab + 1, n - label_len - 1))) {
        r->lt->header = 1;
        return;
    }
    size_t from = r->text_len;
    if (!text_put(r, tab + 1, n - label_len - 1)) return;
    finish_example(r, line, s, label_len, from);
}

/* ------------------------------------------------------------------- CSV */

/* A quoted field starting at r->pos (on the opening quote): appends its
 * content, unescaped, to the text; leaves r->pos after the closing quote.
 * Returns 0 (with r->pos at len) when the quote is never closed. */
static int read_quoted(reader *r) {
    size_t i = r->pos + 1;
    for (;;) {
        const unsigned char *q = memchr(r->p + i, '"', r->len - i);
        size_t stop = q ? (size_t)(q - r->p) : r->len;
        for (size_t k = i; k < stop; k++) r->line += r->p[k] == '\n';
        if (!text_put(r, r->p + i, stop - i)) return 0;
        if (!q) {
            r->pos = r->len;
            return 0;
        }
        if (stop + 1 < r->len && r->p[stop + 1] == '"') { /* "" is one quote */
            if (!text_put(r, (const unsigned char *)"\"", 1)) return 0;
            i = stop + 2;
            continue;
        }
        r->pos = stop + 1;
        return 1;
    }
}

/* After a closing quote: only spaces may follow before the delimiter (',' for
 * the label, the end of the line for the text). Returns 1 and moves past the
 * spaces when so. */
static int only_spaces_until(reader *r, unsigned char delim) {
    size_t i = r->pos;
    while (i < r->len && (r->p[i] == ' ' || r->p[i] == '\t' || r->p[i] == '\r')) i++;
    if (i == r->len || r->p[i] == delim) {
        r->pos = i;
        return 1;
    }
    return 0;
}

static void skip_rest_of_line(reader *r) { next_line(r, line_end(r, r->pos)); }

static void read_csv_record(reader *r, int first) {
    uint32_t line = r->line;
    size_t eol = line_end(r, r->pos);
    const unsigned char *s = r->p + r->pos;
    size_t n = eol - r->pos;
    if (is_blank(s, n)) {
        r->lt->blank++;
        next_line(r, eol);
        return;
    }
    /* The label: quoted, or up to the first comma. */
    const unsigned char *label;
    size_t label_len;
    size_t from = r->text_len;
    unsigned char quoted_label[NN_LT_MAX_LABEL_BYTES + 1];
    size_t lead = 0;
    while (lead < n && (s[lead] == ' ' || s[lead] == '\t')) lead++;
    if (lead < n && s[lead] == '"') {
        r->pos += lead;
        int closed = read_quoted(r);
        label_len = r->text_len - from;
        memcpy(quoted_label, r->lt->text + from, label_len < sizeof quoted_label ? label_len : sizeof quoted_label);
        if (label_len > sizeof quoted_label) label_len = sizeof quoted_label;
        label = quoted_label;
        r->text_len = from;
        if (!closed) {
            problem(r, line, "the quoted label opened on line %u is never closed: the file may be "
                    "cut short", line);
            return;
        }
        if (!only_spaces_until(r, ',') || r->pos == r->len) {
            problem(r, line, "a quoted label must be followed by a comma and the text");
            skip_rest_of_line(r);
            return;
        }
        r->pos++; /* the comma */
    } else {
        const unsigned char *comma = memchr(s, ',', n);
        if (!comma) {
            problem(r, line, "there is no comma between the label and the text (write label,text)");
            next_line(r, eol);
            return;
        }
        label = s;
        label_len = (size_t)(comma - s);
        r->pos = (size_t)(comma - r->p) + 1;
    }
    if (first && is_header_label(label, label_len)) {
        r->lt->header = 1;
        skip_rest_of_line(r);
        return;
    }
    /* The text: quoted (may span lines), or the rest of the line. */
    size_t i = r->pos;
    while (i < r->len && (r->p[i] == ' ' || r->p[i] == '\t')) i++;
    if (i < r->len && r->p[i] == '"') {
        r->pos = i;
        if (!read_quoted(r)) {
            r->text_len = from;
            problem(r, line, "the quoted text opened on line %u is never closed: the file may be "
                    "cut short, or a quote inside the text is not doubled", line);
            return;
        }
        if (!only_spaces_until(r, '\n')) {
            r->text_len = from;
            problem(r, line, "there is more after the closing quote of the text; double the "
                    "quotes inside a quoted text (\"\")");
            skip_rest_of_line(r);
            return;
        }
        next_line(r, r->pos);
    } else {
        size_t end = line_end(r, r->pos);
        size_t m = end - r->pos;
        if (m && r->p[r->pos + m - 1] == '\r') m--;
        if (!text_put(r, r->p + r->pos, m)) return;
        next_line(r, end);
    }
    if (first && is_header_text((const unsigned char *)r->lt->text + from, r->text_len - from)) {
        r->text_len = from;
        r->lt->header = 1;
        return;
    }
    finish_example(r, line, label, label_len, from);
}

/* ------------------------------------------------------------- the reader */

void nn_labelled_text_free(nn_labelled_text *lt) {
    if (!lt) return;
    free(lt->label);
    free(lt->line);
    free(lt->offset);
    free(lt->text);
    free(lt->problem);
    free(lt->duplicate);
    memset(lt, 0, sizeof *lt);
}

int nn_labelled_text_check_size(uint64_t bytes, nn_error *err) {
    if (bytes > MAX_INPUT_BYTES)
        return nn_fail(err, NN_ERR_ARG, "the labelled text is %.1f MB; at most %u MB can be read at "
                       "once: split it, or keep fewer lines", (double)bytes / (1 << 20),
                       MAX_INPUT_BYTES >> 20);
    return NN_OK;
}

/* The classes reading's final ids: the binary reading when every label is a
 * binary word and both sides occur, else the byte order of the names. */
static void assign_classes(reader *r) {
    nn_labelled_text *lt = r->lt;
    int map[NN_MAX_TEXT_CLASSES];
    int sides[2] = {-1, -1}, binary = r->nseen > 0;
    for (uint32_t k = 0; k < r->nseen; k++) {
        int b = parse_label((const unsigned char *)r->seen[k], strlen(r->seen[k]));
        if (b < 0) binary = 0;
        else if (sides[b] < 0) sides[b] = (int)k;
        map[k] = b;
    }
    if (binary && sides[0] >= 0 && sides[1] >= 0) {
        lt->classes = 2;
        /* named by the first spelling of each side in the file */
        uint32_t first[2] = {UINT32_MAX, UINT32_MAX};
        for (uint32_t i = 0; i < lt->n; i++) {
            int b = map[lt->label[i]];
            if (first[b] == UINT32_MAX) first[b] = lt->label[i];
        }
        for (int b = 0; b < 2; b++) strcpy(lt->class_name[b], r->seen[first[b]]);
    } else {
        uint32_t order[NN_MAX_TEXT_CLASSES];
        for (uint32_t k = 0; k < r->nseen; k++) order[k] = k;
        for (uint32_t a = 1; a < r->nseen; a++) /* insertion sort by name: at most 50 */
            for (uint32_t b = a; b > 0 && strcmp(r->seen[order[b - 1]], r->seen[order[b]]) > 0; b--) {
                uint32_t x = order[b];
                order[b] = order[b - 1];
                order[b - 1] = x;
            }
        for (uint32_t c = 0; c < r->nseen; c++) {
            map[order[c]] = (int)c;
            strcpy(lt->class_name[c], r->seen[order[c]]);
        }
        lt->classes = r->nseen;
    }
    for (uint32_t i = 0; i < lt->n; i++) lt->label[i] = (uint8_t)map[lt->label[i]];
}

static uint32_t example_hash(const nn_labelled_text *lt, uint32_t i) {
    uint32_t h = 2166136261u ^ lt->label[i];
    for (uint32_t k = lt->offset[i]; k < lt->offset[i + 1]; k++)
        h = (h ^ (unsigned char)lt->text[k]) * 16777619u;
    return h;
}

/* Flags every example that repeats an earlier one (same label, same text). */
static int flag_duplicates(nn_labelled_text *lt) {
    lt->duplicate = nn_calloc_array(nn_size_add_sat(lt->n, 1), 1);
    uint32_t nslots = 16;
    while (nslots < 2 * lt->n) nslots *= 2;
    uint32_t *slot = nn_calloc_array(nslots, sizeof *slot); /* example + 1, or 0 */
    if (!lt->duplicate || !slot) {
        free(slot);
        return 0;
    }
    for (uint32_t i = 0; i < lt->n; i++) {
        uint32_t h = example_hash(lt, i) & (nslots - 1);
        for (;; h = (h + 1) & (nslots - 1)) {
            if (!slot[h]) {
                slot[h] = i + 1;
                break;
            }
            uint32_t j = slot[h] - 1;
            size_t a, b;
            const char *ta = nn_labelled_text_example(lt, i, &a), *tb = nn_labelled_text_example(lt, j, &b);
            if (lt->label[i] == lt->label[j] && a == b && !memcmp(ta, tb, a)) {
                lt->duplicate[i] = 1;
                if (!lt->duplicates++) lt->first_duplicate_line = lt->line[i];
                break;
            }
        }
    }
    free(slot);
    return 1;
}

static int parse_any(nn_labelled_text *lt, const char *buf, size_t len, int format, int any_labels,
                     nn_error *err) {
    memset(lt, 0, sizeof *lt);
    if (nn_labelled_text_check_size(len, err)) return NN_ERR_ARG;
    if (format != NN_LT_AUTO && format != NN_LT_TSV && format != NN_LT_CSV)
        return nn_fail(err, NN_ERR_ARG, "unknown labelled-text format %d", format);
    reader r = {(const unsigned char *)buf, len, 0, 1, lt, 0, 0, 0, 0, 0, any_labels, 0, {{0}}};
    lt->problem = calloc(NN_LT_MAX_REPORTED, sizeof *lt->problem);
    lt->offset = calloc(1, sizeof *lt->offset);
    if (!lt->problem || !lt->offset) {
        nn_labelled_text_free(lt);
        return nn_fail(err, NN_ERR_NOMEM, "out of memory reading the labelled text");
    }
    if (len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3)) r.pos = 3; /* byte-order mark */
    if (format == NN_LT_AUTO) {
        /* The first non-blank line decides. */
        format = NN_LT_TSV;
        for (size_t at = r.pos; at < len;) {
            size_t eol = line_end(&r, at);
            if (!is_blank(r.p + at, eol - at)) {
                int tab = memchr(r.p + at, '\t', eol - at) != NULL;
                int comma = memchr(r.p + at, ',', eol - at) != NULL;
                if (comma && !tab) format = NN_LT_CSV;
                break;
            }
            at = eol + 1;
        }
    }
    lt->format = format;
    int first = 1;
    while (r.pos < len && !r.nomem && !r.too_many) {
        uint32_t blank_before = lt->blank;
        if (format == NN_LT_CSV) read_csv_record(&r, first);
        else read_tsv_record(&r, first);
        if (lt->blank == blank_before) first = 0;
    }
    /* Physical lines: one per '\n', plus an unterminated last one. */
    for (const char *at = buf + (len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3) ? 3 : 0), *end = buf + len;
         at < end; lt->lines++) {
        const char *nl = memchr(at, '\n', (size_t)(end - at));
        at = nl ? nl + 1 : end;
    }
    const char *nul = memchr(buf, 0, len);
    if (nul) {
        lt->nul_line = 1;
        for (const char *at = buf; at < nul; at++) lt->nul_line += *at == '\n';
    }
    if (any_labels && !r.nomem && !r.too_many) assign_classes(&r);
    if (!any_labels) lt->classes = 2;
    for (uint32_t i = 0; i < lt->n; i++)
        if (!lt->class_count[lt->label[i]]++) lt->class_line[lt->label[i]] = lt->line[i];
    if (!r.nomem && !r.too_many && !flag_duplicates(lt)) r.nomem = 1;
    if (r.nomem) {
        nn_labelled_text_free(lt);
        return nn_fail(err, NN_ERR_NOMEM, "out of memory reading the labelled text (%zu bytes)", len);
    }
    if (r.too_many) {
        nn_labelled_text_free(lt);
        return nn_fail(err, NN_ERR_ARG, "the labelled text has more than %u examples; score it in "
                       "parts of at most %u lines", NN_LT_MAX_EXAMPLES, NN_LT_MAX_EXAMPLES);
    }
    return NN_OK;
}

int nn_labelled_text_parse(nn_labelled_text *lt, const char *buf, size_t len, int format,
                           nn_error *err) {
    return parse_any(lt, buf, len, format, 0, err);
}

int nn_labelled_text_parse_classes(nn_labelled_text *lt, const char *buf, size_t len, int format,
                                   nn_error *err) {
    return parse_any(lt, buf, len, format, 1, err);
}

int nn_labelled_text_check_training(const nn_labelled_text *lt, nn_error *err) {
    if (lt->nul_line)
        return nn_fail(err, NN_ERR_ARG, "line %u has a NUL byte: this is a binary file, not text; "
                       "save the labelled lines as a UTF-8 text file", lt->nul_line);
    if (lt->n == 0) {
        if (lt->nproblems)
            return nn_fail(err, NN_ERR_ARG, "no line could be read as label and text; line %u: %s",
                           lt->problem[0].line, lt->problem[0].reason);
        return nn_fail(err, NN_ERR_ARG, "the file is empty: write one example a line, "
                       "label<TAB>text or label,text");
    }
    if (lt->too_many_classes)
        return nn_fail(err, NN_ERR_ARG, "the file has more than %d different labels (%u lines "
                       "refused): is the label the first column?", NN_MAX_TEXT_CLASSES,
                       lt->too_many_classes);
    if (lt->classes < 2)
        return nn_fail(err, NN_ERR_ARG, "every example has the label \"%s\": a model needs two "
                       "classes or more", lt->class_name[0]);
    uint32_t count[NN_MAX_TEXT_CLASSES] = {0}, line[NN_MAX_TEXT_CLASSES] = {0};
    for (uint32_t i = 0; i < lt->n; i++) {
        if (lt->duplicate && lt->duplicate[i]) continue;
        if (!count[lt->label[i]]++) line[lt->label[i]] = lt->line[i];
    }
    for (uint32_t c = 0; c < lt->classes; c++)
        if (count[c] < 2)
            return nn_fail(err, NN_ERR_ARG, "the class \"%s\" has only one example (line %u): "
                           "a class needs one to learn from and one to check on; add examples "
                           "or remove the line", lt->class_name[c], line[c]);
    return NN_OK;
}

int nn_labelled_text_binary_label(const char *s, size_t n) {
    return parse_label((const unsigned char *)s, n);
}

const char *nn_labelled_text_example(const nn_labelled_text *lt, uint32_t i, size_t *len) {
    *len = lt->offset[i + 1] - lt->offset[i];
    return lt->text + lt->offset[i];
}
