#!/usr/bin/env bash
# test.sh: set everything up (scripts/setup.sh, same arguments), then run
# every test: the engine's ctest suite (native; includes the real-data tests
# on the IMDB archive and Fashion-MNIST), the same under the sanitizers, the
# fuzzers' smoke run, the kernel tests compiled to wasm, the wasm module's
# Node tests, and the page's tests in headless Chromium. Exits non-zero if anything failed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
"$ROOT/scripts/setup.sh" "$@"
ARCHIVE="$(cat build/imdb-archive.path)"
cmake -S . -B build -DNN_IMDB_ARCHIVE="$ARCHIVE" >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
status=0
echo "==> engine tests (ctest)"
ctest --test-dir build --output-on-failure -j "$(nproc 2>/dev/null || echo 2)" || status=1
if [ -x scripts/test-sanitizers.sh ]; then
    echo "==> engine tests under AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer)"
    scripts/test-sanitizers.sh || status=1
fi
if [ -x scripts/fuzz.sh ]; then
    echo "==> fuzzers, smoke run"
    scripts/fuzz.sh --smoke || status=1
fi
echo "==> kernel tests compiled to wasm (node): the SIMD128 code the page runs"
if NODE_PATH="${NODE_PATH:-/usr/share/nodejs}" cmake --build build-wasm --target test_kernels_wasm >/dev/null; then
    node --no-experimental-fetch build-wasm/test_kernels_wasm.cjs >build-wasm/test_kernels_wasm.log \
        && tail -n1 build-wasm/test_kernels_wasm.log \
        || { grep -v '^ok ' build-wasm/test_kernels_wasm.log; status=1; }
else
    echo "building test_kernels_wasm failed"; status=1
fi
if [ -d tests/wasm ]; then
    echo "==> wasm module tests (node)"
    node --no-experimental-fetch --test tests/wasm/ || status=1
fi
if [ -d tests/browser ]; then
    echo "==> page tests (headless Chromium)"
    node --test --test-concurrency=1 tests/browser/ || status=1
fi
[ $status = 0 ] && echo "==> all tests passed" || echo "==> SOME TESTS FAILED"
exit $status
