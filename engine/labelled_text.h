/* labelled_text.h: the reader for "bring your own labelled text".
 *
 * A user pastes or uploads reviews with their labels, one per line, and the
 * page scores them with the current model and diagnoses the result. Formats:
 *
 *   TSV, TXT   label<TAB>text          everything after the first tab is
 *                                      the text (tabs in it are kept)
 *   CSV        label,text              RFC 4180: a field may be quoted
 *                                      ("...", "" for a quote inside, may
 *                                      span lines); an unquoted text is the
 *                                      rest of the line, commas included
 *
 * A label is 0 or 1, neg or pos, negative or positive (any case, spaces
 * around it ignored). A UTF-8 byte-order mark is skipped; lines may end in
 * LF or CRLF. A first line whose label is "label" is a header and is
 * skipped (and reported). Blank lines are skipped (and counted).
 *
 * Every other line either becomes an example or is reported as malformed
 * with its line number and the reason (no tab, a label that is not one of
 * the above, an empty text, invalid UTF-8, a NUL byte, an unterminated or
 * stray quote): the reader never drops a line silently. The caller decides
 * whether to score the good lines; the page does, and shows the report.
 *
 * Deliberately not here: scoring (engine/diagnosis.h), guessing a format
 * from anything but the first line, more than two columns, other encodings
 * than UTF-8.
 */
#ifndef NN_LABELLED_TEXT_H
#define NN_LABELLED_TEXT_H

#include "nn.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { NN_LT_AUTO = 0, NN_LT_TSV = 1, NN_LT_CSV = 2 };

#define NN_LT_MAX_EXAMPLES 50000u  /* more is refused: split the file */
#define NN_LT_MAX_REPORTED 100u    /* malformed lines kept with their reason */

typedef struct nn_lt_problem {
    uint32_t line;     /* 1-based line where the record starts */
    char reason[120];
} nn_lt_problem;

typedef struct nn_labelled_text {
    int format;            /* NN_LT_TSV or NN_LT_CSV: the one used */
    uint32_t n;            /* examples */
    uint8_t *label;        /* (n) 0 or 1 */
    uint32_t *line;        /* (n) line where each example starts */
    uint32_t *offset;      /* (n+1) example i's text is text[offset[i] .. offset[i+1]) */
    char *text;            /* the texts, unquoted, one after the other */
    uint32_t lines;        /* lines read */
    uint32_t blank;        /* blank lines skipped */
    int header;            /* 1 when line 1 was a header */
    uint32_t malformed;    /* malformed records, all counted */
    uint32_t nproblems;    /* of them, the first NN_LT_MAX_REPORTED, in order */
    nn_lt_problem *problem;
} nn_labelled_text;

/* Reads buf[0..len) (any bytes) as format (NN_LT_AUTO: CSV when the first
 * non-blank line has a comma and no tab, TSV otherwise). NN_OK with the
 * malformed lines in lt->problem; NN_ERR_ARG when there are more than
 * NN_LT_MAX_EXAMPLES examples or the input is larger than 64 MB; NN_ERR_NOMEM.
 * On error lt is empty. Free with nn_labelled_text_free. */
int nn_labelled_text_parse(nn_labelled_text *lt, const char *buf, size_t len, int format,
                           nn_error *err);
void nn_labelled_text_free(nn_labelled_text *lt);

/* Offset of the first byte of s[0..n) that is not valid UTF-8 (RFC 3629: no
 * overlong forms, surrogates or code points above U+10FFFF), or n. */
size_t nn_utf8_invalid_at(const unsigned char *s, size_t n);

/* Example i's text as (pointer, length). */
const char *nn_labelled_text_example(const nn_labelled_text *lt, uint32_t i, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
