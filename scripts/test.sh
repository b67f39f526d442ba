#!/usr/bin/env bash
# test.sh: set everything up (scripts/setup.sh, same arguments), then run
# every test stage: the engine's ctest suite (native; includes the real-data
# tests on the IMDB archive and Fashion-MNIST), the same under the sanitizers,
# the same again as a 32-bit (-m32) build under the sanitizers (wasm32's
# size_t, natively), the fuzzers' smoke run (and the whole-config fuzzer's in
# a 32-bit build), the kernel tests compiled to
# wasm, the wasm module's Node tests, the scripts' Node tests and the page's
# tests in headless Chromium.
#
# Every stage is required: a stage whose script or folder is missing is a
# failure that names it, never a quiet skip. At the end one line per stage
# (ok / FAILED, seconds), then "N passed, M failed" as the last line.
# Exits non-zero if any stage failed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
"$ROOT/scripts/setup.sh" "$@"
ARCHIVE="$(cat build/imdb-archive.path)"
cmake -S . -B build -DNN_IMDB_ARCHIVE="$ARCHIVE" >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
JOBS="$(nproc 2>/dev/null || echo 2)"

STAGES=() RESULTS=() TIMES=()
# stage NAME NEEDS COMMAND...: runs COMMAND as the stage NAME; NEEDS is the
# file or folder the stage cannot run without (missing: the stage fails).
stage() {
    local name="$1" needs="$2" rc=0 start
    shift 2
    echo "==> $name"
    start=$(date +%s)
    if [ ! -e "$needs" ]; then
        echo "test: stage '$name' is missing: $needs does not exist" >&2
        rc=127
    else
        "$@" || rc=$?
    fi
    STAGES+=("$name")
    TIMES+=($(( $(date +%s) - start )))
    if [ $rc = 0 ]; then RESULTS+=(ok); else RESULTS+=(FAILED); fi
}

wasm_kernels() {
    local t
    for t in test_kernels_wasm test_attention_wasm; do
        NODE_PATH="${NODE_PATH:-/usr/share/nodejs}" cmake --build build-wasm --target "$t" >/dev/null \
            || { echo "building $t failed"; return 1; }
        if node --no-experimental-fetch "build-wasm/$t.cjs" >"build-wasm/$t.log"; then
            echo "$t: $(tail -n1 "build-wasm/$t.log")"
        else
            grep -v '^ok ' "build-wasm/$t.log"; return 1
        fi
    done
}

stage "engine tests (ctest)" build/CTestTestfile.cmake \
    ctest --test-dir build --output-on-failure -j "$JOBS"
stage "engine tests under ASan + UBSan (+ LSan)" scripts/test-sanitizers.sh scripts/test-sanitizers.sh
stage "engine tests, 32-bit (-m32) under ASan + UBSan" scripts/test-sanitizers.sh scripts/test-sanitizers.sh --m32
stage "fuzzers, smoke run" scripts/fuzz.sh scripts/fuzz.sh --smoke
stage "config fuzzer, 32-bit (-m32), smoke run" tests/fuzz/fuzz_config_model.c \
    scripts/fuzz.sh --smoke --m32 config_model
stage "kernel and attention tests compiled to wasm (node): the SIMD128 code the page runs" build-wasm wasm_kernels
stage "wasm module tests (node)" tests/wasm node --no-experimental-fetch --test tests/wasm/
stage "scripts' tests (node)" tests/scripts node --test tests/scripts/
stage "page tests (headless Chromium)" tests/browser node --test --test-concurrency=1 tests/browser/

echo "==> summary"
passed=0 failed=0
for i in "${!STAGES[@]}"; do
    printf '%-7s %5d s  %s\n' "${RESULTS[$i]}" "${TIMES[$i]}" "${STAGES[$i]}"
    if [ "${RESULTS[$i]}" = ok ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "$passed passed, $failed failed"
[ $failed = 0 ]
