/* result_layouts.h: the layout of every float array the wasm boundary
 * returns, declared once.
 *
 * Each list is an X-macro of (ENUM_SUFFIX, "json name") in slot order. The
 * C code that writes an array indexes it through the enum made from its list
 * (NN_PROGRESS_EPOCH, ..., NN_PROGRESS_LEN), never by a bare number, and
 * nn_result_layouts_json() prints every list as JSON for nnw_layouts(), so
 * the worker reads the same arrays by name (web/worker/layouts.js, checked
 * against it by a Node test; tests/test_result_layouts.c checks the lists
 * here against the JSON and the contract). Row layouts (`*_row`) describe one
 * row of an array of rows; the row's stride is the enum's _LEN.
 *
 * This file is only names and positions: what each slot means is documented
 * where it is written (engine/wasm_api.c, web/PROTOCOL.md). */
#ifndef NN_RESULT_LAYOUTS_H
#define NN_RESULT_LAYOUTS_H

/* nnw_progress: the main training run. */
#define NN_LAYOUT_PROGRESS(X)                                                                       \
    X(EPOCH, "epoch") X(BATCH, "batch") X(BATCHES, "batches") X(BATCH_LOSS, "batch_loss")              \
    X(BATCH_ACC, "batch_acc") X(EPOCH_DONE, "epoch_done") X(FINISHED, "finished") X(LOSS, "loss")      \
    X(ACC, "acc") X(VAL_LOSS, "val_loss") X(VAL_ACC, "val_acc") X(TRAIN_SIZE, "train_size")            \
    X(STOPPED_EARLY, "stopped_early") X(BEST_EPOCH, "best_epoch") X(RESTORED_BEST, "restored_best")

/* nnw_eval_result: the last nnw_evaluate / nnw_evaluate_step result. */
#define NN_LAYOUT_EVAL_RESULT(X) X(LOSS, "loss") X(ACC, "acc")

/* nnw_full_progress: the comparison run without early stopping (engine/run.c). */
#define NN_LAYOUT_FULL_PROGRESS(X)                                                                  \
    X(EPOCH, "epoch") X(BATCH, "batch") X(BATCHES, "batches") X(EPOCH_DONE, "epoch_done")              \
    X(FINISHED, "finished") X(LOSS, "loss") X(ACC, "acc") X(VAL_LOSS, "val_loss")                      \
    X(VAL_ACC, "val_acc") X(TEST_DONE, "test_done") X(TEST_LOSS, "test_loss") X(TEST_ACC, "test_acc")

/* nnw_diagnose_summary. */
#define NN_LAYOUT_DIAGNOSE_SUMMARY(X)                                                               \
    X(N, "n") X(POSITIVES, "positives") X(NEGATIVES, "negatives") X(AUC, "auc") X(AP, "ap")           \
    X(LOG_LOSS, "log_loss") X(ECE, "ece") X(ROC_LEN, "roc_len") X(PR_LEN, "pr_len") X(BINS, "bins")    \
    X(EMPTY_SCORE, "empty_score") X(WORDS_RATED, "words_rated")

/* nnw_diagnose_at: one threshold's confusion matrix and rates. */
#define NN_LAYOUT_DIAGNOSE_AT(X)                                                                    \
    X(THRESHOLD, "threshold") X(TP, "tp") X(FP, "fp") X(TN, "tn") X(FN, "fn") X(ACCURACY, "accuracy")  \
    X(POS_PRECISION, "pos_precision") X(POS_RECALL, "pos_recall") X(POS_F1, "pos_f1")                  \
    X(POS_SUPPORT, "pos_support") X(NEG_PRECISION, "neg_precision") X(NEG_RECALL, "neg_recall")        \
    X(NEG_F1, "neg_f1") X(NEG_SUPPORT, "neg_support") X(MACRO_PRECISION, "macro_precision")            \
    X(MACRO_RECALL, "macro_recall") X(MACRO_F1, "macro_f1") X(FOUND_FP, "found_fp")                    \
    X(FOUND_FN, "found_fn") X(FOUND_UNCERTAIN, "found_uncertain")

/* nnw_pretrain_progress: word2vec. */
#define NN_LAYOUT_PRETRAIN_PROGRESS(X)                                                              \
    X(FRACTION, "fraction") X(TOKENS, "tokens") X(TOKENS_TOTAL, "tokens_total") X(EPOCH, "epoch")      \
    X(EPOCHS, "epochs") X(LR, "lr") X(LOSS, "loss") X(FINISHED, "finished") X(PAIRS, "pairs")

/* nnw_mlm_progress: masked-language-model pretraining (loss and accuracy of
 * the last step's masked tokens). */
#define NN_LAYOUT_MLM_PROGRESS(X)                                                                   \
    X(FRACTION, "fraction") X(REVIEWS, "reviews") X(REVIEWS_TOTAL, "reviews_total") X(PASS, "pass")    \
    X(PASSES, "passes") X(LR, "lr") X(LOSS, "loss") X(ACCURACY, "accuracy") X(TARGETS, "targets")      \
    X(FINISHED, "finished")

/* One row of nnw_embed_stats' answer. */
#define NN_LAYOUT_EMBED_STATS_ROW(X)                                                                \
    X(EPOCH, "epoch") X(STORED, "stored") X(RARE_NORM, "rare_norm") X(FREQUENT_NORM, "frequent_norm")  \
    X(RARE_SHARE, "rare_share") X(BASE_SCORE, "base_score") X(RARE_WORDS, "rare_words")                \
    X(FREQUENT_WORDS, "frequent_words")

/* One row of nnw_explain_data: a token's span in the text, its
 * contribution, and the id the model read (-1 a removed stop word, -2 cut
 * by maxlen). */
#define NN_LAYOUT_EXPLAIN_ROW(X) X(START, "start") X(END, "end") X(CONTRIBUTION, "contribution") X(ID, "id")

/* One row of nnw_embed_changes' answer. */
#define NN_LAYOUT_EMBED_CHANGES_ROW(X)                                                              \
    X(ID, "id") X(COUNT, "count") X(EFFECT_FROM, "effect_from") X(EFFECT_TO, "effect_to")

/* One row of nnw_embed_neighbours' answer. */
#define NN_LAYOUT_NEIGHBOURS_ROW(X) X(ID, "id") X(SIMILARITY, "similarity")

/* One row of nnw_one_vs_rest's answer: a class against the rest. */
#define NN_LAYOUT_ONE_VS_REST_ROW(X) X(AUC, "auc") X(AP, "ap") X(POSITIVES, "positives") X(ROC_LEN, "roc_len")

/* One row of nnw_attention_tokens: a window position's word, its byte span
 * in the text (-1, -1 for <START>), and the id the model read there. */
#define NN_LAYOUT_ATTENTION_TOKEN_ROW(X) X(START, "start") X(END, "end") X(ID, "id")

/* Every layout, in the order nnw_layouts() lists them: (list, json name). */
#define NN_RESULT_LAYOUTS(L)                                                                        \
    L(NN_LAYOUT_PROGRESS, "progress") L(NN_LAYOUT_EVAL_RESULT, "eval_result")                           \
    L(NN_LAYOUT_FULL_PROGRESS, "full_progress") L(NN_LAYOUT_DIAGNOSE_SUMMARY, "diagnose_summary")        \
    L(NN_LAYOUT_DIAGNOSE_AT, "diagnose_at") L(NN_LAYOUT_PRETRAIN_PROGRESS, "pretrain_progress")          \
    L(NN_LAYOUT_EMBED_STATS_ROW, "embed_stats_row") L(NN_LAYOUT_EXPLAIN_ROW, "explain_row")             \
    L(NN_LAYOUT_EMBED_CHANGES_ROW, "embed_changes_row") L(NN_LAYOUT_NEIGHBOURS_ROW, "neighbours_row")  \
    L(NN_LAYOUT_ONE_VS_REST_ROW, "one_vs_rest_row") L(NN_LAYOUT_ATTENTION_TOKEN_ROW, "attention_token_row")  \
    L(NN_LAYOUT_MLM_PROGRESS, "mlm_progress")

/* The slot enums: NN_<PREFIX>_<SUFFIX>, and NN_<PREFIX>_LEN slots. */
#define NN_SLOT_PROGRESS(id, name) NN_PROGRESS_##id,
#define NN_SLOT_EVAL_RESULT(id, name) NN_EVAL_RESULT_##id,
#define NN_SLOT_FULL_PROGRESS(id, name) NN_FULL_PROGRESS_##id,
#define NN_SLOT_DIAGNOSE_SUMMARY(id, name) NN_DIAGNOSE_SUMMARY_##id,
#define NN_SLOT_DIAGNOSE_AT(id, name) NN_DIAGNOSE_AT_##id,
#define NN_SLOT_PRETRAIN_PROGRESS(id, name) NN_PRETRAIN_PROGRESS_##id,
#define NN_SLOT_EMBED_STATS_ROW(id, name) NN_EMBED_STATS_ROW_##id,
#define NN_SLOT_EXPLAIN_ROW(id, name) NN_EXPLAIN_ROW_##id,
#define NN_SLOT_EMBED_CHANGES_ROW(id, name) NN_EMBED_CHANGES_ROW_##id,
#define NN_SLOT_NEIGHBOURS_ROW(id, name) NN_NEIGHBOURS_ROW_##id,
#define NN_SLOT_ONE_VS_REST_ROW(id, name) NN_ONE_VS_REST_ROW_##id,
#define NN_SLOT_ATTENTION_TOKEN_ROW(id, name) NN_ATTENTION_TOKEN_ROW_##id,
#define NN_SLOT_MLM_PROGRESS(id, name) NN_MLM_PROGRESS_##id,
enum { NN_LAYOUT_PROGRESS(NN_SLOT_PROGRESS) NN_PROGRESS_LEN };
enum { NN_LAYOUT_EVAL_RESULT(NN_SLOT_EVAL_RESULT) NN_EVAL_RESULT_LEN };
enum { NN_LAYOUT_FULL_PROGRESS(NN_SLOT_FULL_PROGRESS) NN_FULL_PROGRESS_LEN };
enum { NN_LAYOUT_DIAGNOSE_SUMMARY(NN_SLOT_DIAGNOSE_SUMMARY) NN_DIAGNOSE_SUMMARY_LEN };
enum { NN_LAYOUT_DIAGNOSE_AT(NN_SLOT_DIAGNOSE_AT) NN_DIAGNOSE_AT_LEN };
enum { NN_LAYOUT_PRETRAIN_PROGRESS(NN_SLOT_PRETRAIN_PROGRESS) NN_PRETRAIN_PROGRESS_LEN };
enum { NN_LAYOUT_EMBED_STATS_ROW(NN_SLOT_EMBED_STATS_ROW) NN_EMBED_STATS_ROW_LEN };
enum { NN_LAYOUT_EXPLAIN_ROW(NN_SLOT_EXPLAIN_ROW) NN_EXPLAIN_ROW_LEN };
enum { NN_LAYOUT_EMBED_CHANGES_ROW(NN_SLOT_EMBED_CHANGES_ROW) NN_EMBED_CHANGES_ROW_LEN };
enum { NN_LAYOUT_NEIGHBOURS_ROW(NN_SLOT_NEIGHBOURS_ROW) NN_NEIGHBOURS_ROW_LEN };
enum { NN_LAYOUT_ONE_VS_REST_ROW(NN_SLOT_ONE_VS_REST_ROW) NN_ONE_VS_REST_ROW_LEN };
enum { NN_LAYOUT_ATTENTION_TOKEN_ROW(NN_SLOT_ATTENTION_TOKEN_ROW) NN_ATTENTION_TOKEN_ROW_LEN };
enum { NN_LAYOUT_MLM_PROGRESS(NN_SLOT_MLM_PROGRESS) NN_MLM_PROGRESS_LEN };

/* {"progress": ["epoch", ...], "eval_result": [...], ...}: every layout
 * above as one JSON object (malloc'd; NULL when out of memory). */
char *nn_result_layouts_json(void);

#endif
