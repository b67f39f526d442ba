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
 * Two readings of the label:
 *
 *   binary (nn_labelled_text_parse, the diagnosis of an IMDB model): a label
 *     is 0 or 1, neg or pos, negative or positive (any case, spaces around
 *     it ignored); class 0 is negative, 1 positive.
 *   classes (nn_labelled_text_parse_classes, training on the user's file): a
 *     label is any string of 1-64 bytes of UTF-8 without control bytes
 *     (spaces around it ignored, case kept: "Spam" and "spam" are two
 *     classes), 2 to NN_MAX_TEXT_CLASSES distinct labels. When every label
 *     is one of the binary words above, the binary reading is kept (class 0
 *     negative, named by its first spelling in the file), so a user's
 *     neg/pos file trains a model that means what an IMDB model means;
 *     otherwise class ids follow the byte order of the names, so the same
 *     labels give the same ids whatever the order of the lines.
 *
 * A UTF-8 byte-order mark is skipped; lines may end in LF or CRLF. A first
 * line whose label is a column name (label, labels, class, category,
 * sentiment, target, tag) or whose text is one (text, review, sentence,
 * document, message, content, comment) is a header and is skipped (and
 * reported). Blank lines are skipped (and counted). A text longer than
 * NN_LT_MAX_TEXT_BYTES is cut to it at a character boundary (counted, first
 * line kept). A line identical to an earlier one (the same label and text)
 * is counted and flagged in lt->duplicate; the diagnosis scores it again,
 * the shard builder leaves it out (a copy in both training and validation
 * would flatter the validation score).
 *
 * Every other line either becomes an example or is reported as malformed
 * with its line number and the reason (no tab, a label that is not one of
 * the above, an empty text, invalid UTF-8, a NUL byte, an unterminated or
 * stray quote): the reader never drops a line silently. The caller decides
 * whether to score the good lines; the page does, and shows the report.
 *
 * Why at most 50 classes (NN_MAX_TEXT_CLASSES): the page shows a bar per
 * class and a K x K confusion matrix, which stop being readable past ~50
 * (2,500 cells); a file of a few thousand lines has too few examples per
 * class beyond that to learn or to measure them; and a file with more
 * distinct labels than that usually has its text in the label column, a
 * mistake better caught at once. Labels are u8 in the shard (255 is
 * "unlabelled"), so the limit could rise to 255 without a format change.
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
#define NN_LT_MAX_BYTES (64u << 20) /* a larger input is refused before it is read */
#define NN_LT_MAX_TEXT_BYTES 65536u /* a longer text is cut: a shard keeps at most
                                     * NN_SHARD_MAX_TOKENS ids, fewer than this has words */
#define NN_LT_MAX_LABEL_BYTES 64u   /* a longer label is most likely a text */

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
    /* The classes reading (nn_labelled_text_parse_classes); the binary
     * reading sets classes 2 and no names. */
    uint32_t classes;                   /* K: distinct labels of the examples */
    char class_name[NN_MAX_TEXT_CLASSES][NN_LT_MAX_LABEL_BYTES + 1]; /* NUL-terminated */
    uint32_t class_count[NN_MAX_TEXT_CLASSES]; /* examples of each class */
    uint32_t class_line[NN_MAX_TEXT_CLASSES];  /* line of each class's first example */
    uint32_t too_many_classes;          /* lines refused because their label would be class 51+ */
    /* Both readings. */
    uint8_t *duplicate;        /* (n) 1 when example i repeats an earlier line exactly */
    uint32_t duplicates;       /* examples flagged in duplicate */
    uint32_t first_duplicate_line;
    uint32_t truncated;        /* texts cut to NN_LT_MAX_TEXT_BYTES */
    uint32_t first_truncated_line;
    uint32_t nul_line;         /* first line with a NUL byte (0: none): a binary file */
} nn_labelled_text;

/* Reads buf[0..len) (any bytes) as format (NN_LT_AUTO: CSV when the first
 * non-blank line has a comma and no tab, TSV otherwise), labels read the
 * binary way. NN_OK with the malformed lines in lt->problem; NN_ERR_ARG when
 * there are more than NN_LT_MAX_EXAMPLES examples or the input is larger
 * than NN_LT_MAX_BYTES; NN_ERR_NOMEM. On error lt is empty. Free with
 * nn_labelled_text_free. */
int nn_labelled_text_parse(nn_labelled_text *lt, const char *buf, size_t len, int format,
                           nn_error *err);
/* The same with any strings as labels (the classes reading above). Lines
 * whose label would be a 51st class are malformed (and counted in
 * lt->too_many_classes). Whether the result can train a model (two classes
 * or more, each with two examples) is nn_labelled_text_check_training's. */
int nn_labelled_text_parse_classes(nn_labelled_text *lt, const char *buf, size_t len, int format,
                                   nn_error *err);
/* NN_ERR_ARG with a message when a file of `bytes` bytes is too large to
 * read: called with the file's size before it is read or copied into wasm
 * memory. */
int nn_labelled_text_check_size(uint64_t bytes, nn_error *err);
/* NN_ERR_ARG with a message that says what to fix when lt cannot train a
 * model: no example (an empty file, or every line malformed: the first
 * problem is quoted), a NUL byte (a binary file), more than
 * NN_MAX_TEXT_CLASSES labels, one class only, a class with one example. */
int nn_labelled_text_check_training(const nn_labelled_text *lt, nn_error *err);
void nn_labelled_text_free(nn_labelled_text *lt);

/* Offset of the first byte of s[0..n) that is not valid UTF-8 (RFC 3629: no
 * overlong forms, surrogates or code points above U+10FFFF), or n. */
size_t nn_utf8_invalid_at(const unsigned char *s, size_t n);

/* The binary reading of one label: 0 (0, neg, negative), 1 (1, pos,
 * positive), -1 otherwise. */
int nn_labelled_text_binary_label(const char *s, size_t n);

/* Example i's text as (pointer, length). */
const char *nn_labelled_text_example(const nn_labelled_text *lt, uint32_t i, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
