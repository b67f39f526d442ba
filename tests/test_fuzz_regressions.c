/* test_fuzz_regressions.c: replays inputs the fuzzers in tests/fuzz/ found,
 * and a few edge inputs, through the very same harnesses (their invariant
 * checks included), so a fixed bug stays fixed in every ctest run and, under
 * scripts/test-sanitizers.sh, with ASan and UBSan watching.
 *
 * The harnesses are included with their libFuzzer entry points renamed. A
 * harness that finds a broken invariant prints "FAIL fuzz invariant ..." and
 * aborts, so this test fails loudly; each input that passes prints "ok".
 * Inputs are byte arrays made by the fuzzers (no review text). To add one:
 * `xxd -i build-fuzz/crashes/<name>/crash-...`, paste it below, and add a
 * line to REPLAYS naming the bug it found. */
#include "check.h"

#define LLVMFuzzerTestOneInput fuzz_tokenizer_one
#include "fuzz/fuzz_tokenizer.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_shard_one
#include "fuzz/fuzz_shard.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_checkpoint_one
#include "fuzz/fuzz_checkpoint.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_config_one
#include "fuzz/fuzz_config.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_labelled_text_one
#include "fuzz/fuzz_labelled_text.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_image_shard_one
#include "fuzz/fuzz_image_shard.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_config_model_one
#include "fuzz/fuzz_config_model.c"
#undef LLVMFuzzerTestOneInput

/* fuzz_config, first long run (crash-f768c2ca): the first bytes read as an
 * nn_config with patience > 0 and val_size 0. Its JSON reads back, but
 * nn_config_check refuses it (early stopping needs a validation set): the
 * harness wrongly required the two to agree. Harness bug, fixed there. */
static const uint8_t config_patience_without_validation[] = {
    0x10, 0x27, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x6f, 0x12, 0x83, 0x3a, 0x66, 0x66, 0x66, 0x3f, 0x77, 0xbe, 0x7f, 0x3f, 0x95, 0xbf, 0xd6, 0x33,
    0x00, 0x02, 0x00, 0x00, 0x28, 0x00, 0x00, 0x00, 0x00, 0x22, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x27, 0x00, 0x00, 0x22, 0x74, 0x72, 0x61,
    0x69, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x61, 0x69, 0x6e, 0x5f, 0x00, 0x00, 0x00, 0x5b, 0x22,
};
static const char config_patience_json[] = "{\"patience\": 5, \"val_size\": 0}";

/* Edge inputs: nothing at all; a lone shard header that the harness's
 * checksum repair makes valid (no vocabulary, no splits); a checkpoint
 * header that promises more than follows; text ending inside a line break
 * and a UTF-8 sequence. */
static const uint8_t shard_header_only[64] = {
    'N', 'N', 'S', 'H', 'A', 'R', 'D', '1', 1, 0, 0, 0, 64, 0, 0, 0,
    1, 0, 0, 0, 16, 0, 0, 0, /* tokenizer 1, max_tokens 16, V 0, ... */
};
static const uint8_t checkpoint_header_only[32] = {
    'N', 'N', 'C', 'K', 'P', 'T', '0', '1', 1, 0, 0, 0, 4, 0, 0, 0,
};
/* fuzz_labelled_text (first byte: the format, 2 CSV, 0 auto): a file cut
 * inside a quoted text; a byte-order mark and nothing else, which once
 * counted as a line no record accounted for (found by test_labelled_text's
 * truncations before the fuzzer existed). */
static const char labelled_cut_quote[] = "\x02" "1,fine\n0,\"cut short here";
static const char labelled_bom_only[] = "\x00\xef\xbb\xbf";
/* The classes reading (first byte 4: TSV, any labels): three classes, one
 * name UTF-8, a duplicate, a header; the harness then builds the shard. */
static const char labelled_three_classes[] = "\x04" "label\ttext\na\tone two\nb\tthree\n\xc3\xa9t\xc3\xa9\tfour\n"
                                             "a\tfive\nb\tsix\nb\tsix\n\xc3\xa9t\xc3\xa9\tseven\n";
static const char tokenizer_cut_short[] = "it's A good<br /";
static const char tokenizer_cut_utf8[] = "caf\xc3";

typedef struct replay {
    const char *harness, *what;
    int (*run)(const uint8_t *, size_t);
    const void *data;
    size_t len;
} replay;

#define BYTES(a) (a), sizeof(a)
#define TEXT(s) (s), sizeof(s) - 1
static const replay REPLAYS[] = {
    {"fuzz_config", "patience without validation, as a raw nn_config (crash-f768c2ca)",
     fuzz_config_one, BYTES(config_patience_without_validation)},
    {"fuzz_config", "patience without validation, as JSON", fuzz_config_one, TEXT(config_patience_json)},
    {"fuzz_config", "empty input", fuzz_config_one, "", 0},
    {"fuzz_labelled_text", "empty input", fuzz_labelled_text_one, "", 0},
    {"fuzz_labelled_text", "a CSV cut inside a quote", fuzz_labelled_text_one, TEXT(labelled_cut_quote)},
    {"fuzz_labelled_text", "a BOM alone", fuzz_labelled_text_one, TEXT(labelled_bom_only)},
    {"fuzz_labelled_text", "three classes, any labels, built", fuzz_labelled_text_one, TEXT(labelled_three_classes)},
    {"fuzz_tokenizer", "empty input", fuzz_tokenizer_one, "", 0},
    {"fuzz_tokenizer", "text ending inside <br />", fuzz_tokenizer_one, TEXT(tokenizer_cut_short)},
    {"fuzz_tokenizer", "text ending inside a UTF-8 sequence", fuzz_tokenizer_one, TEXT(tokenizer_cut_utf8)},
    {"fuzz_shard", "empty input", fuzz_shard_one, "", 0},
    {"fuzz_shard", "header only", fuzz_shard_one, BYTES(shard_header_only)},
    {"fuzz_image_shard", "empty input", fuzz_image_shard_one, "", 0},
    {"fuzz_image_shard", "a text shard's header", fuzz_image_shard_one, BYTES(shard_header_only)},
    {"fuzz_checkpoint", "empty input", fuzz_checkpoint_one, "", 0},
    {"fuzz_checkpoint", "header only", fuzz_checkpoint_one, BYTES(checkpoint_header_only)},
};

/* fuzz_config_model reads one choice byte per key (then value bytes), so an
 * input of one repeated byte sets every key the same way: 3 its minimum, 4
 * its maximum (the page's extremes all at once), 5 just outside its range,
 * 7 a value that fits the tiny shards (an LSTM that trains). Then inputs of
 * seeded random bytes (half of them from in-range choices only), so every ctest run (and the 32-bit sanitizer build,
 * scripts/test-sanitizers.sh --m32) creates and trains fuzzed configs. */
static void config_model_replays(void) {
    static const struct { uint8_t byte; const char *what; } SAME[] = {
        {3, "every key at its minimum"}, {4, "every key at its maximum"},
        {5, "every key just outside its range"}, {7, "every key sized for the tiny shards"},
        {9, "every key of a wrong JSON type"}, {10, "every key arbitrary bits"}};
    uint8_t input[512];
    for (size_t i = 0; i < sizeof SAME / sizeof SAME[0]; i++) {
        memset(input, SAME[i].byte, sizeof input);
        check(fuzz_config_model_one(input, sizeof input) == 0, "fuzz_config_model replays \"%s\"", SAME[i].what);
    }
    nn_rng r;
    nn_rng_seed(&r, 2026);
    int n = 200;
    for (int k = 0; k < n; k++) {
        /* Half of them any bytes; half only the harness's choices that
         * stay in range (absent, in range, sized for the shards, small), so
         * that many get as far as training. */
        static const uint8_t IN_RANGE[] = {0, 1, 2, 6, 7, 7, 7, 8};
        for (size_t i = 0; i < sizeof input; i++)
            input[i] = k % 2 ? IN_RANGE[nn_rng_below(&r, 8)] : (uint8_t)nn_rng_below(&r, 256);
        fuzz_config_model_one(input, 64 + nn_rng_below(&r, 448));
    }
    const unsigned long *got = config_model_reached;
    check(got[3] > 6, "fuzz_config_model replays %d seeded random configurations: %lu parsed, %lu checked, "
          "%lu given to trainer_create (over the budget or small enough), %lu trained (with the inputs above)", n, got[0], got[1], got[2], got[3]);
}

int main(void) {
    for (size_t i = 0; i < sizeof REPLAYS / sizeof REPLAYS[0]; i++) {
        const replay *r = &REPLAYS[i];
        printf("# replaying %s: %s (%zu bytes)\n", r->harness, r->what, r->len);
        fflush(stdout);
        int rc = r->run((const uint8_t *)r->data, r->len);
        check(rc == 0, "%s replays \"%s\"", r->harness, r->what);
    }
    config_model_replays();
    return check_exit_code();
}
