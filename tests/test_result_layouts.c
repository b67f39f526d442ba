/* test_result_layouts.c: the result arrays' layouts (engine/result_layouts.h)
 * are what nn_result_layouts_json() (nnw_layouts) says, and what the
 * contract between the engine and the worker says.
 *
 * Three views of the same lists are compared: the slot enums the C writers
 * index with (their _LEN and each slot's position), the names in the
 * X-macro lists, and the JSON the worker reads; and the JSON against the
 * contract text written out below, so a slot added, dropped or moved on
 * one side fails here with its name. */
#include "check.h"
#include "json.h"
#include "result_layouts.h"

#include <stdlib.h>
#include <string.h>

/* The contract (helper brief, contract 1), verbatim. */
static const char *contract =
    "{\"progress\": [\"epoch\",\"batch\",\"batches\",\"batch_loss\",\"batch_acc\",\"epoch_done\",\"finished\","
    "\"loss\",\"acc\",\"val_loss\",\"val_acc\",\"train_size\",\"stopped_early\",\"best_epoch\",\"restored_best\"],"
    " \"eval_result\": [\"loss\",\"acc\"],"
    " \"full_progress\": [\"epoch\",\"batch\",\"batches\",\"epoch_done\",\"finished\",\"loss\",\"acc\",\"val_loss\","
    "\"val_acc\",\"test_done\",\"test_loss\",\"test_acc\"],"
    " \"diagnose_summary\": [\"n\",\"positives\",\"negatives\",\"auc\",\"ap\",\"log_loss\",\"ece\",\"roc_len\","
    "\"pr_len\",\"bins\",\"empty_score\",\"words_rated\"],"
    " \"diagnose_at\": [\"threshold\",\"tp\",\"fp\",\"tn\",\"fn\",\"accuracy\",\"pos_precision\",\"pos_recall\","
    "\"pos_f1\",\"pos_support\",\"neg_precision\",\"neg_recall\",\"neg_f1\",\"neg_support\",\"macro_precision\","
    "\"macro_recall\",\"macro_f1\",\"found_fp\",\"found_fn\",\"found_uncertain\"],"
    " \"pretrain_progress\": [\"fraction\",\"tokens\",\"tokens_total\",\"epoch\",\"epochs\",\"lr\",\"loss\","
    "\"finished\",\"pairs\"],"
    " \"embed_stats_row\": [\"epoch\",\"stored\",\"rare_norm\",\"frequent_norm\",\"rare_share\",\"base_score\","
    "\"rare_words\",\"frequent_words\"],"
    " \"explain_row\": [\"start\",\"end\",\"contribution\",\"id\"],"
    " \"embed_changes_row\": [\"id\",\"count\",\"effect_from\",\"effect_to\"],"
    " \"neighbours_row\": [\"id\",\"similarity\"],"
    " \"one_vs_rest_row\": [\"auc\",\"ap\",\"positives\",\"roc_len\"],"
    " \"attention_token_row\": [\"start\",\"end\",\"id\"],"
    " \"mlm_progress\": [\"fraction\",\"reviews\",\"reviews_total\",\"pass\",\"passes\",\"lr\",\"loss\","
    "\"accuracy\",\"targets\",\"finished\"]}";

#define NAME(id, name) name,
#define LIST(list, key) {key, (const char *[]){list(NAME) NULL}},
static const struct { const char *key; const char **names; } lists[] = {NN_RESULT_LAYOUTS(LIST)};

/* The enums' lengths and one slot of each, where the writers index. */
static const struct { const char *key; int len; int slot; const char *slot_name; } enums[] = {
    {"progress", NN_PROGRESS_LEN, NN_PROGRESS_RESTORED_BEST, "restored_best"},
    {"eval_result", NN_EVAL_RESULT_LEN, NN_EVAL_RESULT_ACC, "acc"},
    {"full_progress", NN_FULL_PROGRESS_LEN, NN_FULL_PROGRESS_TEST_DONE, "test_done"},
    {"diagnose_summary", NN_DIAGNOSE_SUMMARY_LEN, NN_DIAGNOSE_SUMMARY_WORDS_RATED, "words_rated"},
    {"diagnose_at", NN_DIAGNOSE_AT_LEN, NN_DIAGNOSE_AT_FOUND_UNCERTAIN, "found_uncertain"},
    {"pretrain_progress", NN_PRETRAIN_PROGRESS_LEN, NN_PRETRAIN_PROGRESS_PAIRS, "pairs"},
    {"embed_stats_row", NN_EMBED_STATS_ROW_LEN, NN_EMBED_STATS_ROW_BASE_SCORE, "base_score"},
    {"explain_row", NN_EXPLAIN_ROW_LEN, NN_EXPLAIN_ROW_ID, "id"},
    {"embed_changes_row", NN_EMBED_CHANGES_ROW_LEN, NN_EMBED_CHANGES_ROW_EFFECT_FROM, "effect_from"},
    {"neighbours_row", NN_NEIGHBOURS_ROW_LEN, NN_NEIGHBOURS_ROW_SIMILARITY, "similarity"},
    {"one_vs_rest_row", NN_ONE_VS_REST_ROW_LEN, NN_ONE_VS_REST_ROW_ROC_LEN, "roc_len"},
    {"attention_token_row", NN_ATTENTION_TOKEN_ROW_LEN, NN_ATTENTION_TOKEN_ROW_ID, "id"},
    {"mlm_progress", NN_MLM_PROGRESS_LEN, NN_MLM_PROGRESS_ACCURACY, "accuracy"},
};

int main(void) {
    char *text = nn_result_layouts_json();
    cJSON *got = text ? cJSON_Parse(text) : NULL;
    cJSON *want = cJSON_Parse(contract);
    if (!check(got && want && cJSON_IsObject(got), "the layouts JSON parses (%.60s...)", text ? text : "NULL"))
        return check_exit_code();
    size_t nl = sizeof lists / sizeof lists[0];
    check(cJSON_GetArraySize(got) == (int)nl && cJSON_GetArraySize(want) == (int)nl,
          "%d layouts in the JSON, %zu lists, %d in the contract", cJSON_GetArraySize(got), nl,
          cJSON_GetArraySize(want));
    int i = 0;
    for (cJSON *w = want->child; w; w = w->next, i++) {
        cJSON *g = cJSON_GetArrayItem(got, i);
        check(g && !strcmp(g->string, w->string) && cJSON_Compare(g, w, 1),
              "layout %d \"%s\": the JSON lists the contract's %d names in order", i, w->string,
              cJSON_GetArraySize(w));
    }
    for (size_t k = 0; k < nl; k++) {
        cJSON *g = cJSON_GetObjectItemCaseSensitive(got, lists[k].key);
        int n = 0, same = g != NULL;
        for (; lists[k].names[n]; n++) {
            cJSON *e = cJSON_GetArrayItem(g, n);
            same &= e && cJSON_IsString(e) && !strcmp(e->valuestring, lists[k].names[n]);
        }
        check(same && cJSON_GetArraySize(g) == n, "list %s: %d names, the same in the JSON", lists[k].key, n);
    }
    for (size_t k = 0; k < sizeof enums / sizeof enums[0]; k++) {
        cJSON *g = cJSON_GetObjectItemCaseSensitive(got, enums[k].key);
        cJSON *slot = cJSON_GetArrayItem(g, enums[k].slot);
        check(cJSON_GetArraySize(g) == enums[k].len && slot && !strcmp(slot->valuestring, enums[k].slot_name),
              "enum of %s: %d slots, slot %d is \"%s\"", enums[k].key, enums[k].len, enums[k].slot,
              enums[k].slot_name);
    }
    cJSON_Delete(got);
    cJSON_Delete(want);
    free(text);
    return check_exit_code();
}
