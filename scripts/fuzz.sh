#!/usr/bin/env bash
# fuzz.sh: builds the libFuzzer targets in tests/fuzz/ (clang, with ASan and
# UBSan; build-fuzz/, git-ignored) and runs them.
#
#   scripts/fuzz.sh --smoke              20 s per fuzzer (what scripts/test.sh runs)
#   scripts/fuzz.sh --long [SECONDS]     SECONDS per fuzzer, default 600
#   scripts/fuzz.sh --runs N [SECONDS]   until N executions each (SECONDS cap, default 3600)
#   ... [--jobs J] [--m32] [NAME...]     J fuzzers at a time (default: CPU count);
#                                        --m32: a 32-bit build (clang -m32, build-fuzz-m32/),
#                                        wasm32's size_t natively;
#                                        NAME: tokenizer shard checkpoint config labelled_text
#                                        image_shard config_model packed_ids (default all)
#
# Fuzzers: fuzz_tokenizer (nn_tokenize_spans, nn_encode_text), fuzz_shard
# (nn_shard_parse), fuzz_checkpoint (nn_checkpoint_read), fuzz_config
# (nn_config_from_json/check/to_json), fuzz_labelled_text (nn_labelled_text_parse and
# the stop-word list), fuzz_image_shard (nn_image_shard_parse and a tiny MLP on it),
# fuzz_packed_ids (the token-id coder: damaged blocks, and round trips),
# fuzz_config_model (whole configurations, every key, the ranges' extremes, parsed,
# checked and trained on a tiny shard); each file's header says what it checks.
# Seeds come from build-fuzz/fuzz_make_corpus (the engine's own writers) into
# build-fuzz/corpus/<name>/, where the fuzzer also keeps what it finds, so
# later runs start from there. Dictionaries: tests/fuzz/<name>.dict.
#
# Prints per fuzzer its executions; exits non-zero if any fuzzer crashed,
# leaked, hung (10 s per input) or ran out of memory (2 GB; 1.5 GB with --m32), printing the
# saved input (build-fuzz/crashes/<name>/...) and the log. Replay one with
#   build-fuzz/fuzz_<name> <input>
# and add it to tests/test_fuzz_regressions.c once fixed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
die() { echo "fuzz: error: $*" >&2; exit 2; }

MODE="" SECONDS_EACH="" RUNS=0 JOBS="$(nproc 2>/dev/null || echo 2)" M32=0
NAMES=()
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) MODE=smoke; SECONDS_EACH=20; shift ;;
        --long) MODE=long; SECONDS_EACH=600; shift
                if [[ "${1:-}" =~ ^[0-9]+$ ]]; then SECONDS_EACH="$1"; shift; fi ;;
        --runs) MODE=runs; [[ "${2:-}" =~ ^[0-9]+$ ]] || die "--runs needs a number"
                RUNS="$2"; SECONDS_EACH=3600; shift 2
                if [[ "${1:-}" =~ ^[0-9]+$ ]]; then SECONDS_EACH="$1"; shift; fi ;;
        --jobs) [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || die "--jobs needs a number"; JOBS="$2"; shift 2 ;;
        --m32) M32=1; shift ;;
        tokenizer|shard|checkpoint|config|labelled_text|image_shard|config_model|packed_ids) NAMES+=("$1"); shift ;;
        -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
[ -n "$MODE" ] || die "say --smoke, --long [SECONDS] or --runs N (see --help)"
[ ${#NAMES[@]} -gt 0 ] || NAMES=(tokenizer shard checkpoint config labelled_text image_shard config_model packed_ids)

# ------------------------------------------------------------------ build
CC_FUZZ="$(command -v clang-14 || command -v clang || true)"
[ -n "$CC_FUZZ" ] || die "clang not found: install clang-14 and libclang-rt-14-dev (scripts/setup.sh does)"
# Sanitizer reports name functions and lines only through llvm-symbolizer.
if ! command -v llvm-symbolizer >/dev/null && [ -x /usr/lib/llvm-14/bin/llvm-symbolizer ]; then
    export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
fi
BUILD="$ROOT/build-fuzz"
RSS_MB=2048
cjson_args=() m32_args=()
for d in "$ROOT"/.deps/cjson/cjson-*/; do   # from scripts/fetch-cjson.sh, if it ran
    [ -f "$d/cJSON.c" ] && { cjson_args=(-DNN_FUZZ_CJSON_SOURCE_DIR="${d%/}"); break; }
done
if [ "$M32" = 1 ]; then
    # i386 as in scripts/test-sanitizers.sh --m32: SSE2 arithmetic, 128-bit
    # kernels; cJSON from source (no 32-bit libcjson-dev), lib32z1-dev's zlib.
    # ASan reserves much of the 4 GB address space: a lower RSS limit.
    BUILD="$ROOT/build-fuzz-m32"
    RSS_MB=1536
    [ ${#cjson_args[@]} -gt 0 ] || cjson_args=(-DNN_FUZZ_CJSON_SOURCE_DIR="$(scripts/fetch-cjson.sh | tail -n1)")
    m32_args=(-DCMAKE_C_FLAGS="-m32 -msse2 -mfpmath=sse" -DCMAKE_EXE_LINKER_FLAGS=-m32 -DNN_NATIVE_AVX2=OFF
              -DZLIB_LIBRARY=/usr/lib32/libz.so -DNN_CJSON_SOURCE_DIR="${cjson_args[0]#*=}")
fi
echo "fuzz: building the fuzzers in ${BUILD#"$ROOT"/}/ with $CC_FUZZ$([ "$M32" = 1 ] && echo ' -m32')"
cmake -S . -B "$BUILD" -DCMAKE_C_COMPILER="$CC_FUZZ" -DCMAKE_BUILD_TYPE=Release -DNN_FUZZ=ON \
    "${cjson_args[@]}" "${m32_args[@]}" >/dev/null || die "configuring ${BUILD#"$ROOT"/}/ failed"
cmake --build "$BUILD" --target fuzzers -j "$JOBS" >/dev/null || {
    cmake --build "$BUILD" --target fuzzers -j1 2>&1 | tail -30
    die "building the fuzzers failed (libFuzzer needs libclang-rt-14-dev)"; }
"$BUILD/fuzz_make_corpus" "$BUILD/corpus" || die "writing the seed corpora failed"

# -------------------------------------------------------------------- run
mkdir -p "$BUILD/logs"
run_one() {
    local name="$1" crashes="$BUILD/crashes/$1"
    mkdir -p "$crashes"
    mkdir -p "$BUILD/corpus/$name"
    local args=(-max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb="$RSS_MB"
                -artifact_prefix="$crashes/" -print_final_stats=1 -print_pcs=0)
    # (fuzz_config_model reads choice bytes, not text: no dictionary.)
    [ -f "$ROOT/tests/fuzz/$name.dict" ] && args+=(-dict="$ROOT/tests/fuzz/$name.dict")
    [ "$RUNS" -gt 0 ] && args+=(-runs="$RUNS")
    UBSAN_OPTIONS=print_stacktrace=1 \
        "$BUILD/fuzz_$name" "${args[@]}" "$BUILD/corpus/$name" >"$BUILD/logs/$name.log" 2>&1
}

report() {  # name status seconds
    local name="$1" rc="$2" secs="$3" log="$BUILD/logs/$1.log"
    local execs rate files
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    files=$(find "$BUILD/corpus/$name" -type f | wc -l)
    if [ "$rc" = 0 ]; then
        printf 'fuzz_%-10s %12s executions in %4d s (%s/s), corpus %d files, no crash\n' \
            "$name" "${execs:-?}" "$secs" "${rate:-?}" "$files"
    else
        printf 'fuzz_%-10s FAILED (exit %s) after %s executions in %d s\n' "$name" "$rc" "${execs:-?}" "$secs"
        { grep -E 'ERROR: |FAIL fuzz invariant|runtime error|SUMMARY: ' "$log" || true; } | head -5 | sed 's/^/    /'
        local input
        input=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
        echo "    input: ${input:-(none saved)}"
        echo "    log:   $log"
        echo "    replay: $BUILD/fuzz_$name ${input:-<input>}"
    fi
}

echo "fuzz: ${#NAMES[@]} fuzzers, $([ "$RUNS" -gt 0 ] && echo "$RUNS executions or ")${SECONDS_EACH} s each, $JOBS at a time"
status=0
declare -A pid_of_name start_of_name
running=0
finish_one() {  # waits for any fuzzer, reports it
    local done_pid rc=0
    wait -n -p done_pid || rc=$?
    for n in "${!pid_of_name[@]}"; do
        if [ "${pid_of_name[$n]}" = "$done_pid" ]; then
            report "$n" "$rc" $(( $(date +%s) - ${start_of_name[$n]} ))
            unset "pid_of_name[$n]"
        fi
    done
    [ "$rc" = 0 ] || status=1
    running=$((running - 1))
}
for name in "${NAMES[@]}"; do
    [ "$running" -lt "$JOBS" ] || finish_one
    start_of_name[$name]=$(date +%s)
    run_one "$name" &
    pid_of_name[$name]=$!
    running=$((running + 1))
done
while [ "$running" -gt 0 ]; do finish_one; done
[ $status = 0 ] && echo "fuzz: no crashes" || echo "fuzz: CRASHES FOUND (see above)"
exit $status
