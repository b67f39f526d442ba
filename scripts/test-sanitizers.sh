#!/usr/bin/env bash
# test-sanitizers.sh: builds the engine, its tools and every ctest program with
# AddressSanitizer + UndefinedBehaviorSanitizer (LeakSanitizer comes with ASan
# on Linux) through the "asan" preset in CMakePresets.json, into build-asan/,
# and runs the whole ctest suite there. Any sanitizer report aborts the test
# program (-fno-sanitize-recover=all), so it fails the run.
#
#   scripts/test-sanitizers.sh          64-bit, build-asan/
#   scripts/test-sanitizers.sh --m32    32-bit (-m32), build-m32/
#
# --m32 builds the same suite for i386 (preset "asan-m32": gcc-multilib,
# SSE2 arithmetic, the 128-bit kernels as in wasm), so size_t is 32 bits as
# in wasm32 and ASan sees the overflows and wrapped sizes the page would
# suffer. It runs every test but the real-data ones (the 64-bit builds run
# those). It needs Debian's gcc-multilib, lib32asan8, lib32ubsan1 and
# lib32z1-dev (scripts/setup.sh installs them) and cJSON's source (Debian has
# no 32-bit libcjson-dev on amd64): .deps/cjson/ from scripts/fetch-cjson.sh,
# which it runs when that is missing.
#
# The real-data test runs too when scripts/setup.sh has recorded the IMDB
# archive in build/imdb-archive.path (or IMDB_ARCHIVE names it). Under the
# sanitizers at -O1 it takes about 15 s. The tests run one at a time: on a
# 2-core machine with one core busy (a fuzzer) the suite took 110 s so, and
# 136 s with -j2 (attention, 26 s, and transformer, 18 s, the longest); with
# two free cores -j2 should pay, but that is not measured.
# models_real_data (all its parts) is left to the plain build: under the sanitizers its
# word2vec pass over 11 M words takes about 7 minutes and its LSTM and BiLSTM
# runs longer still; test_word2vec and test_layers_gradcheck already run the
# same code under them. So is fashion_real_data (ten epochs of 50,000 images,
# 25-35 s natively): test_learning trains the MLP on synthetic images and
# test_image_shard and fuzz_regressions read image shards under them.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
start=$(date +%s)

if [ "${1:-}" = --m32 ]; then
    die() { echo "test-sanitizers --m32: $*" >&2; exit 1; }
    echo 'int main(void) { return sizeof(void *) == 4 ? 0 : 1; }' >/tmp/nn-m32-probe.$$.c
    gcc -m32 -fsanitize=address,undefined /tmp/nn-m32-probe.$$.c -o /tmp/nn-m32-probe.$$ 2>/dev/null \
        && /tmp/nn-m32-probe.$$ || {
        rm -f /tmp/nn-m32-probe.$$*
        die "gcc -m32 -fsanitize=address,undefined cannot build and run a 32-bit program: install gcc-multilib lib32asan8 lib32ubsan1 (scripts/setup.sh does)"; }
    rm -f /tmp/nn-m32-probe.$$*
    [ -f /usr/lib32/libz.so ] || die "/usr/lib32/libz.so is missing: install lib32z1-dev (scripts/setup.sh does)"
    cjson=""
    for d in .deps/cjson/cjson-*/; do [ -f "$d/cJSON.c" ] && { cjson="$ROOT/${d%/}"; break; }; done
    [ -n "$cjson" ] || cjson="$(scripts/fetch-cjson.sh | tail -n1)"
    [ -f "$cjson/cJSON.c" ] || die "no cJSON source (scripts/fetch-cjson.sh failed)"
    cmake --preset asan-m32 -DNN_CJSON_SOURCE_DIR="$cjson" >/dev/null
    cmake --build --preset asan-m32 -j "$(nproc 2>/dev/null || echo 2)" >/dev/null || {
        cmake --build --preset asan-m32 -j1 2>&1 | tail -40
        die "the 32-bit sanitizer build failed"
    }
    status=0
    ctest --preset asan-m32 -j "$(nproc 2>/dev/null || echo 2)" -E 'real_data' || status=$?
    echo "test-sanitizers --m32: $(( $(date +%s) - start )) s"
    exit $status
fi

archive_args=()
if [ -f build/imdb-archive.path ]; then
    archive_args=(-DNN_IMDB_ARCHIVE="$(cat build/imdb-archive.path)")
elif [ -n "${IMDB_ARCHIVE:-}" ]; then
    archive_args=(-DNN_IMDB_ARCHIVE="$IMDB_ARCHIVE")
fi

cmake --preset asan "${archive_args[@]}" >/dev/null
cmake --build --preset asan -j "$(nproc 2>/dev/null || echo 2)" >/dev/null || {
    cmake --build --preset asan -j1 2>&1 | tail -40
    echo "test-sanitizers: the sanitizer build failed" >&2
    exit 1
}
status=0
ctest --preset asan -E '^(models_real_data_.*|fashion_real_data)$' || status=$?
echo "test-sanitizers: $(( $(date +%s) - start )) s"
exit $status
