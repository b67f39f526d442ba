#!/usr/bin/env bash
# build-wasm.sh: builds the engine as WebAssembly (SIMD) for the page.
#
#   scripts/build-wasm.sh          fetch cJSON, configure, build, copy
#
# Runs scripts/fetch-cjson.sh (cJSON's source from Debian, never copied into
# the repository), configures build-wasm/ with emcmake, builds targets nn_wasm
# and nn_wasm_mt and copies engine.js and engine.wasm, and the two-thread
# engine-mt.js, engine-mt.wasm and engine-mt.worker.js, into web/engine/
# (git-ignored), where web/worker/worker.js imports them. Prints their sizes.
# Also builds packed_ids.wasm, the decoder of transform-3 packed shards
# (engine/packed_ids.c alone, no JS glue, no imports), which
# web/worker/packed.js instantiates itself: a module of its own, so the
# download decodes while the engine is still loading, and its 22 MB model is
# dropped once the shard is decoded.
#
# Needs emscripten (Debian: apt-get install emscripten). Debian's emscripten
# finds its JS dependencies through NODE_PATH, which is set here if unset.
set -euo pipefail

die() { echo "build-wasm: error: $*" >&2; exit 1; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD="$ROOT/build-wasm"
OUT="$ROOT/web/engine"

command -v emcmake >/dev/null && command -v emcc >/dev/null \
    || die "emscripten not found: install it (Debian: sudo apt-get install emscripten)"
export NODE_PATH="${NODE_PATH:-/usr/share/nodejs}"

CJSON_DIR="$("$ROOT/scripts/fetch-cjson.sh" | tail -n1)" || die "fetching cJSON failed (see above)"
[ -f "$CJSON_DIR/cJSON.c" ] || die "fetch-cjson.sh printed '$CJSON_DIR', which holds no cJSON.c"

emcmake cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
    -DNN_CJSON_SOURCE_DIR="$CJSON_DIR" >/dev/null \
    || die "configuring $BUILD failed (see above); try deleting $BUILD"
cmake --build "$BUILD" --target nn_wasm nn_wasm_mt -j "$(nproc 2>/dev/null || echo 2)" \
    || die "building nn_wasm and nn_wasm_mt failed (see above)"

for f in engine.js engine.wasm engine-mt.js engine-mt.wasm engine-mt.worker.js; do
    [ -f "$BUILD/$f" ] || die "the build did not produce $BUILD/$f"
done
emcc -O3 -std=c11 "$ROOT/engine/packed_ids.c" -o "$BUILD/packed_ids.wasm" --no-entry -sSTANDALONE_WASM \
    -sEXPORTED_FUNCTIONS=_nn_ids_model_create,_nn_ids_model_free,_nn_ids_decode_block,_nn_ids_block_bound,_malloc,_free \
    -sINITIAL_MEMORY=48MB -sALLOW_MEMORY_GROWTH=0 -sFILESYSTEM=0 \
    || die "building packed_ids.wasm failed (see above)"
mkdir -p "$OUT"
cp "$BUILD/packed_ids.wasm" "$OUT/"
cp "$BUILD/engine.js" "$BUILD/engine.wasm" "$BUILD/engine-mt.js" "$BUILD/engine-mt.wasm" \
   "$BUILD/engine-mt.worker.js" "$OUT/"

js=$(stat -c %s "$OUT/engine.js")
wasm=$(stat -c %s "$OUT/engine.wasm")
gz() { gzip -9 -c "$1" | wc -c; }
printf 'build-wasm: %-24s %8d bytes (%d gzipped)\n' web/engine/engine.js "$js" "$(gz "$OUT/engine.js")"
printf 'build-wasm: %-24s %8d bytes (%d gzipped)\n' web/engine/engine.wasm "$wasm" "$(gz "$OUT/engine.wasm")"
printf 'build-wasm: %-24s %8d bytes (%.1f KB; budget 300 KB)\n' total $((js + wasm)) \
    "$(echo "($js + $wasm) / 1024" | bc -l)"
printf 'build-wasm: %-24s %8d bytes (%d gzipped)\n' web/engine/packed_ids.wasm "$(stat -c %s "$OUT/packed_ids.wasm")" \
    "$(gz "$OUT/packed_ids.wasm")"
# The two-thread build, which cross-origin-isolated pages load instead.
mt=0
for f in engine-mt.js engine-mt.wasm engine-mt.worker.js; do
    size=$(stat -c %s "$OUT/$f"); mt=$((mt + size))
    printf 'build-wasm: %-24s %8d bytes (%d gzipped)\n' "web/engine/$f" "$size" "$(gz "$OUT/$f")"
done
printf 'build-wasm: %-24s %8d bytes (%.1f KB; budget 300 KB)\n' "total, two threads" "$mt" \
    "$(echo "$mt / 1024" | bc -l)"
