#!/usr/bin/env bash
# test-sanitizers.sh: builds the engine, its tools and every ctest program with
# AddressSanitizer + UndefinedBehaviorSanitizer (LeakSanitizer comes with ASan
# on Linux) through the "asan" preset in CMakePresets.json, into build-asan/,
# and runs the whole ctest suite there. Any sanitizer report aborts the test
# program (-fno-sanitize-recover=all), so it fails the run.
#
#   scripts/test-sanitizers.sh
#
# The real-data test runs too when scripts/setup.sh has recorded the IMDB
# archive in build/imdb-archive.path (or IMDB_ARCHIVE names it). Under the
# sanitizers at -O1 it takes about 15 s; the whole script about 30 s on 2 cores.
# models_real_data is left to the plain build: under the sanitizers its
# word2vec pass over 11 M words takes about 7 minutes and its LSTM and BiLSTM
# runs longer still; test_word2vec and test_layers_gradcheck already run the
# same code under them. So is fashion_real_data (ten epochs of 50,000 images,
# 25-35 s natively): test_learning trains the MLP on synthetic images and
# test_image_shard and fuzz_regressions read image shards under them.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
start=$(date +%s)

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
ctest --preset asan -E '^(models_real_data|fashion_real_data)$' || status=$?
echo "test-sanitizers: $(( $(date +%s) - start )) s"
exit $status
