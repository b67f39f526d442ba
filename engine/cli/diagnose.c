/* diagnose.c: imdb_diagnose, the diagnosis panel of the page as text, and
 * its benchmark.
 *
 *   imdb_diagnose --shard data/imdb.shard [--checkpoint FILE] [--split val|test]
 *                 [--labelled FILE] [--threshold 0.5] [--top 5] [--words 10]
 *                 [--repeat 5] [--preset NAME] [--<config key> VALUE ...]
 *
 * Without --checkpoint it first trains the config (flags as imdb_train's).
 * Then it scores every review of the split (or of --labelled, a TSV/CSV file
 * of label<TAB>text lines) and prints the metrics table, the confusion
 * matrix at the threshold, the most confidently wrong and the most uncertain
 * reviews, and the words that push most towards each class. Last, the time
 * of the diagnosis (scoring + summary), its median over --repeat runs: the
 * figure the page must keep under 100 ms for 10,000 reviews. Printed, never
 * asserted.
 *
 * With a labelled-text shard (imdb_build_shard --labelled), --labelled FILE
 * is read with any labels (the shard's class names) and the report is the
 * K-class one first: accuracy, the K x K confusion matrix, per-class
 * precision/recall/F1, macro, micro and weighted averages; for K = 2 the
 * binary diagnosis (AUC, calibration, examples, words) follows as for IMDB. */
#include "cli.h"
#include "diagnosis.h"
#include "../labelled_shard.h"
#include "../metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f, "usage: imdb_diagnose --shard FILE [--checkpoint FILE] [--split val|test] "
               "[--labelled FILE] [--threshold T] [--top K] [--words K] [--repeat N] "
               "[--preset NAME] [--<config key> VALUE ...]\n");
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The first 70 characters of review r of split sp, decoded. */
static void print_review(const nn_shard *sh, const nn_split *sp, uint32_t r) {
    size_t shown = 0;
    for (uint32_t j = sp->offset[r] + 1; j < sp->offset[r + 1] && shown < 70; j++) {
        size_t len;
        const char *w = nn_vocab_word(&sh->vocab, sp->tokens[j], &len);
        printf("%s%.*s", shown ? " " : "", (int)len, w);
        shown += len + 1;
    }
    if (shown >= 70) printf("...");
}

static void print_text(const nn_labelled_text *lt, uint32_t i) {
    size_t len;
    const char *t = nn_labelled_text_example(lt, i, &len);
    for (size_t k = 0; k < len && k < 70; k++) putchar((unsigned char)t[k] < 0x20 ? ' ' : t[k]);
    if (len > 70) printf("...");
}

/* The class of one text, and the probabilities (K) of each. K = 2 is the
 * sigmoid model's P(class 1); K > 2 the softmax head's (nn_model_score_text_classes). */
static int predict_class(nn_model *m, const nn_vocab *v, const nn_stopwords *stop, const char *text,
                         size_t len, uint32_t K, float *probs, uint8_t *cls, nn_error *err) {
    if (K == 2) {
        float p = nn_model_score_text(m, v, stop, text, len);
        probs[0] = 1 - p;
        probs[1] = p;
        *cls = p > 0.5f;
        return NN_OK;
    }
    (void)err;
    *cls = (uint8_t)nn_model_score_text_classes(m, v, stop, text, len, probs);
    return NN_OK;
}

/* The K-class report: accuracy, the confusion matrix (rows true), per-class
 * and averaged precision/recall/F1. name(k) may be NULL (IMDB: neg, pos). */
static void print_multiclass(const nn_shard *sh, const uint8_t *label, const uint8_t *pred,
                             const float *probs, uint32_t n, uint32_t K) {
    uint32_t *cm = nn_calloc_array(nn_size_mul_sat(K, K), sizeof *cm);
    nn_confusion_multiclass(cm, label, pred, n, K);
    nn_multiclass r = nn_multiclass_from_confusion(cm, K);
    char names[NN_MAX_TEXT_CLASSES][16];
    for (uint32_t k = 0; k < K; k++) {
        if (sh->class_name[k]) snprintf(names[k], sizeof names[k], "%.*s",
                                        (int)(sh->class_name_len[k] < 15 ? sh->class_name_len[k] : 15),
                                        sh->class_name[k]);
        else snprintf(names[k], sizeof names[k], "%s", k ? "pos" : "neg");
    }
    printf("\n%u classes, %u examples: accuracy %.4f\n", K, n, r.accuracy);
    printf("\nconfusion matrix (rows: true class, columns: predicted)\n%16s", "");
    for (uint32_t p = 0; p < K; p++) printf(" %8.8s", names[p]);
    printf("\n");
    for (uint32_t t = 0; t < K; t++) {
        printf("  %-14s", names[t]);
        for (uint32_t p = 0; p < K; p++) printf(" %8u", cm[(size_t)t * K + p]);
        printf("\n");
    }
    printf("\n  %-14s precision  recall      F1  support\n", "");
    for (uint32_t k = 0; k < K; k++)
        printf("  %-14s    %.4f  %.4f  %.4f  %7u\n", names[k], r.cls[k].precision, r.cls[k].recall,
               r.cls[k].f1, r.cls[k].support);
    printf("  %-14s    %.4f  %.4f  %.4f  (%u classes)\n", "macro", r.macro_precision, r.macro_recall,
           r.macro_f1, r.macro_classes);
    printf("  %-14s    %.4f  %.4f  %.4f\n", "micro", r.micro_precision, r.micro_recall, r.micro_f1);
    printf("  %-14s                      %.4f\n", "weighted", r.weighted_f1);
    /* One class against the rest: the class's probability ranks its examples. */
    printf("\n  one vs rest    ROC AUC  avg. precision\n");
    double auc_sum = 0, ap_sum = 0;
    uint32_t both = 0;
    for (uint32_t k = 0; k < K; k++) {
        nn_one_vs_rest o;
        float fpr[2], tpr[2];
        if (nn_one_vs_rest_class(&o, fpr, tpr, 2, probs, label, n, K, k) != NN_OK) {
            printf("  (out of memory for the one-vs-rest curves)\n");
            break;
        }
        printf("  %-14s     %.4f      %.4f\n", names[k], o.auc, o.ap);
        if (!isnan(o.auc)) {
            auc_sum += o.auc;
            ap_sum += o.ap;
            both++;
        }
    }
    if (both) printf("  %-14s     %.4f      %.4f  (%u classes with examples on both sides)\n", "macro",
                     auc_sum / both, ap_sum / both, both);
    free(cm);
}

int main(int argc, char **argv) {
    const char *shard_path = NULL, *ckpt_path = NULL, *split = "val", *labelled_path = NULL;
    float threshold = 0.5f;
    int top = 5, words = 10, repeat = 5;
    nn_error err = {0};
    nn_config cfg;
    unsigned char *used = nn_cli_start(&cfg, argc, argv, "imdb_diagnose");
    for (int i = 1; i < argc; i++) {
        if (used[i]) continue;
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) { usage(stderr); return 2; }
        if (!strcmp(a, "--shard")) shard_path = v;
        else if (!strcmp(a, "--checkpoint")) ckpt_path = v;
        else if (!strcmp(a, "--split")) split = v;
        else if (!strcmp(a, "--labelled")) labelled_path = v;
        else if (!strcmp(a, "--threshold")) threshold = strtof(v, NULL);
        else if (!strcmp(a, "--top")) top = atoi(v);
        else if (!strcmp(a, "--words")) words = atoi(v);
        else if (!strcmp(a, "--repeat")) repeat = atoi(v);
        else { usage(stderr); return 2; }
        i++;
    }
    if (!shard_path || repeat < 1 || top < 0 || top > 100 || words < 0 || words > 1000 ||
        !(threshold >= 0 && threshold <= 1) || (strcmp(split, "val") && strcmp(split, "test"))) {
        usage(stderr);
        fprintf(stderr, "imdb_diagnose: --shard is required (scripts/setup.sh builds data/imdb.shard); "
                        "--split is val or test; --threshold in [0,1]\n");
        return 2;
    }
    nn_shard shard;
    uint8_t *buf;
    if (nn_cli_load_shard(shard_path, &shard, &buf, &err)) {
        fprintf(stderr, "imdb_diagnose: %s\n", err.msg);
        return 1;
    }

    /* The model: a checkpoint's, or trained here. */
    nn_trainer *t = NULL;
    if (ckpt_path) {
        uint8_t *ck_bytes;
        size_t ck_len;
        nn_checkpoint ck;
        memset(&ck, 0, sizeof ck);
        if (nn_read_file(ckpt_path, &ck_bytes, &ck_len, &err) ||
            nn_checkpoint_read(&ck, ck_bytes, ck_len, &err) ||
            nn_trainer_create(&t, &ck.model->cfg, &shard, &err)) {
            fprintf(stderr, "imdb_diagnose: %s\n", err.msg);
            return 1;
        }
        if (ck.vocab_crc != shard.vocab_crc)
            fprintf(stderr, "imdb_diagnose: warning: the checkpoint was trained on another vocabulary\n");
        memcpy(nn_trainer_model(t)->params, ck.model->params, ck.model->nparams * sizeof(float));
        nn_checkpoint_free(&ck);
        free(ck_bytes);
    } else {
        if (nn_trainer_create(&t, &cfg, &shard, &err)) {
            fprintf(stderr, "imdb_diagnose: %s\n", err.msg);
            return 1;
        }
        double t0 = nn_now_ms();
        nn_progress p;
        do {
            if (nn_trainer_run(t, 1000000, &p, &err)) {
                fprintf(stderr, "imdb_diagnose: %s\n", err.msg);
                return 1;
            }
        } while (!p.finished);
        printf("trained %u epochs in %.0f ms\n", p.epoch, nn_now_ms() - t0);
    }
    nn_model *m = nn_trainer_model(t);
    const nn_stopwords *stop = nn_trainer_stopwords(t);

    /* The set. */
    nn_labelled_text lt;
    memset(&lt, 0, sizeof lt);
    uint32_t n = 0;
    const float *label = NULL;
    const uint32_t *source = NULL;
    const uint16_t *ids = NULL;
    int named = shard.class_name[0] != NULL; /* a labelled-text shard */
    if (labelled_path) {
        uint8_t *text;
        size_t len;
        if (nn_read_file(labelled_path, &text, &len, &err) ||
            (named ? nn_labelled_text_parse_classes : nn_labelled_text_parse)(&lt, (const char *)text, len,
                                                                              NN_LT_AUTO, &err)) {
            fprintf(stderr, "imdb_diagnose: %s\n", err.msg);
            return 1;
        }
        free(text);
        printf("%s: %u examples (%s), %u malformed lines, %u blank%s\n", labelled_path, lt.n,
               lt.format == NN_LT_CSV ? "CSV" : "TSV", lt.malformed, lt.blank, lt.header ? ", a header" : "");
        for (uint32_t i = 0; i < lt.nproblems; i++)
            printf("  line %u: %s\n", lt.problem[i].line, lt.problem[i].reason);
        n = lt.n;
        if (named) { /* the file's labels as the shard's classes */
            int map[NN_MAX_TEXT_CLASSES];
            for (uint32_t c = 0; c < lt.classes; c++) {
                map[c] = nn_labelled_shard_class_of(&shard, lt.class_name[c], strlen(lt.class_name[c]));
                if (map[c] < 0) {
                    fprintf(stderr, "imdb_diagnose: the label \"%s\" (line %u) is not a class of the "
                            "shard\n", lt.class_name[c], lt.class_line[c]);
                    return 1;
                }
            }
            for (uint32_t i = 0; i < n; i++) lt.label[i] = (uint8_t)map[lt.label[i]];
            uint8_t *pred = nn_malloc_array(nn_size_add_sat(n, 1), 1);
            float *probs = nn_malloc_array(nn_size_add_sat(n, 1), shard.classes * sizeof *probs); /* (n,K) */
            if (!pred || !probs) {
                fprintf(stderr, "imdb_diagnose: out of memory for %u examples' scores\n", n);
                return 1;
            }
            for (uint32_t i = 0; i < n; i++) {
                size_t tlen;
                const char *txt = nn_labelled_text_example(&lt, i, &tlen);
                if (predict_class(m, &shard.vocab, stop, txt, tlen, shard.classes,
                                  probs + (size_t)i * shard.classes, &pred[i], &err)) {
                    fprintf(stderr, "imdb_diagnose: %s\n", err.msg);
                    return 1;
                }
            }
            print_multiclass(&shard, lt.label, pred, probs, n, shard.classes);
            free(pred);
            free(probs);
            if (shard.classes > 2) { /* the rest is the binary diagnosis */
                nn_labelled_text_free(&lt);
                nn_trainer_free(t);
                nn_shard_free(&shard);
                free(buf);
                free(used);
                return 0;
            }
        }
    } else {
        if (shard.classes > 2) {
            fprintf(stderr, "imdb_diagnose: a %u-class shard is diagnosed from a file: pass --labelled "
                    "FILE (the K-class diagnosis of a split needs the multi-class heads)\n", shard.classes);
            return 2;
        }
        ids = nn_trainer_set(t, split, &n, &label, &source);
    }

    /* The diagnosis, timed: scoring + summary, then the words apart. */
    double *ms = nn_calloc_array((size_t)repeat, sizeof *ms);
    nn_diagnosis *d = NULL;
    for (int r = 0; r < repeat; r++) {
        nn_diagnosis_free(d);
        d = NULL;
        double t0 = nn_now_ms();
        int rc = labelled_path ? nn_diagnosis_create_texts(&d, m, &lt, &shard.vocab, stop, &err)
                               : nn_diagnosis_create_padded(&d, m, ids, label, n, &err);
        if (rc) {
            fprintf(stderr, "imdb_diagnose: %s\n", err.msg);
            return 1;
        }
        while (!nn_diagnosis_step(d, m, 1000000)) {}
        if (nn_diagnosis_summarise(d, 200, 10, &err)) {
            fprintf(stderr, "imdb_diagnose: %s\n", err.msg);
            return 1;
        }
        nn_classification c = nn_diagnosis_at(d, threshold, 0, NULL, NULL, NULL, NULL);
        (void)c;
        ms[r] = nn_now_ms() - t0;
    }
    double w0 = nn_now_ms();
    if (nn_diagnosis_want_words(d, m, &shard.vocab, stop, &err)) {
        fprintf(stderr, "imdb_diagnose: %s\n", err.msg);
        return 1;
    }
    while (!nn_diagnosis_step(d, m, 1000000)) {}
    double words_ms = nn_now_ms() - w0;

    uint32_t *fp = nn_calloc_array(nn_size_add_sat(top, 1), sizeof *fp), *fn = nn_calloc_array(nn_size_add_sat(top, 1), sizeof *fn);
    uint32_t *unc = nn_calloc_array(nn_size_add_sat(top, 1), sizeof *unc);
    size_t found[3];
    nn_classification c = nn_diagnosis_at(d, threshold, (size_t)top, fp, fn, unc, found);
    const char *what = labelled_path ? labelled_path : split;
    printf("\n%s: %u reviews (%u positive, %u negative)\n", what, n, d->positives, d->negatives);
    printf("  AUC %.4f   average precision %.4f   log loss %.4f   ECE (%u bins) %.4f\n", d->auc, d->ap,
           d->log_loss, d->bins, d->ece);
    printf("\nat threshold %.3f: accuracy %.4f\n", threshold, c.accuracy);
    printf("                    predicted neg   predicted pos\n");
    printf("  actual negative   %13u   %13u\n", c.cm.tn, c.cm.fp);
    printf("  actual positive   %13u   %13u\n", c.cm.fn, c.cm.tp);
    printf("\n             precision  recall      F1  support\n");
    printf("  negative      %.4f  %.4f  %.4f  %7u\n", c.negative.precision, c.negative.recall,
           c.negative.f1, c.negative.support);
    printf("  positive      %.4f  %.4f  %.4f  %7u\n", c.positive.precision, c.positive.recall,
           c.positive.f1, c.positive.support);
    printf("  macro         %.4f  %.4f  %.4f\n", c.macro_precision, c.macro_recall, c.macro_f1);
    const char *titles[3] = {"most confident false positives", "most confident false negatives",
                             "most uncertain"};
    uint32_t *lists[3] = {fp, fn, unc};
    const nn_split *sp = labelled_path ? NULL : nn_shard_find(&shard, strcmp(split, "test") ? "train" : "test");
    for (int k = 0; k < 3; k++) {
        printf("\n%s:\n", titles[k]);
        for (size_t i = 0; i < found[k]; i++) {
            uint32_t e = lists[k][i];
            printf("  %.4f %s  ", d->score[e], d->label[e] ? "pos" : "neg");
            if (labelled_path) {
                printf("line %u: ", lt.line[e]);
                print_text(&lt, e);
            } else {
                print_review(&shard, sp, source[e]);
            }
            printf("\n");
        }
    }
    uint32_t *top_ids = nn_calloc_array(nn_size_add_sat(words, 1), sizeof *top_ids);
    for (int sign = 1; sign >= -1; sign -= 2) {
        size_t k = nn_diagnosis_top_words(d, top_ids, (size_t)words, sign, 1, 0);
        printf("\nwords pushing towards %s (polarity x training count):\n ",
               sign > 0 ? "positive" : "negative");
        for (size_t i = 0; i < k; i++) {
            size_t len;
            const char *w = nn_vocab_word(&shard.vocab, top_ids[i], &len);
            printf(" %.*s (%+.4f x %u)", (int)len, w, nn_diagnosis_polarity(d, top_ids[i]),
                   shard.vocab.count[top_ids[i]]);
        }
        printf("\n");
    }
    qsort(ms, (size_t)repeat, sizeof *ms, cmp_double);
    printf("\nbenchmark: diagnosis of %u reviews (scoring + summary + confusion at a threshold): "
           "median %.2f ms, best %.2f ms of %d runs; rating %u words: %.2f ms\n",
           n, ms[repeat / 2], ms[0], repeat, d->V > NN_FIRST_WORD ? d->V - NN_FIRST_WORD : 0, words_ms);
    double t0 = nn_now_ms();
    int reps = 0;
    do {
        nn_diagnosis_at(d, threshold, (size_t)top, fp, fn, unc, found);
        reps++;
    } while (nn_now_ms() - t0 < 200);
    printf("benchmark: moving the threshold (confusion, P/R/F1 and the three top-%d lists): %.3f ms\n",
           top, (nn_now_ms() - t0) / reps);
    free(ms);
    free(fp);
    free(fn);
    free(unc);
    free(top_ids);
    free(used);
    nn_diagnosis_free(d);
    nn_labelled_text_free(&lt);
    nn_trainer_free(t);
    nn_shard_free(&shard);
    free(buf);
    return 0;
}
