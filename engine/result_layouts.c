/* result_layouts.c: the layouts of engine/result_layouts.h as JSON, for
 * nnw_layouts() and the tests. Written by cJSON from the same X-macro lists
 * the writers' enums come from, so the two cannot drift apart. */
#include "result_layouts.h"

#include "json.h"

#include <stdlib.h>

#define NN_LAYOUT_NAME(id, name) name,
#define NN_LAYOUT_ENTRY(list, key) {key, (const char *[]){list(NN_LAYOUT_NAME) NULL}},

static const struct {
    const char *key;
    const char **names; /* NULL-terminated, in slot order */
} layouts[] = {NN_RESULT_LAYOUTS(NN_LAYOUT_ENTRY)};

char *nn_result_layouts_json(void) {
    cJSON *root = cJSON_CreateObject();
    int ok = root != NULL;
    for (size_t i = 0; ok && i < sizeof layouts / sizeof layouts[0]; i++) {
        size_t n = 0;
        while (layouts[i].names[n]) n++;
        cJSON *a = cJSON_CreateStringArray(layouts[i].names, (int)n);
        ok = a && cJSON_AddItemToObject(root, layouts[i].key, a);
        if (!ok) cJSON_Delete(a);
    }
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return text;
}
