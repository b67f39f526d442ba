#!/usr/bin/env bash
# setup.sh: everything the playground and the tests need, on a fresh Debian.
#
#   scripts/setup.sh [--archive PATH | --folder PATH] [--no-wasm] [--no-npm]
#
# 1. Debian packages (apt-get; as root, or through sudo), only those missing.
# 2. npm packages from package-lock.json (chart.js; playwright-core for tests;
#    not the optional benchmark peers, which scripts/bench.sh --install-peers adds).
# 3. The native build (build/) and the WebAssembly build (web/engine/).
# 4. The IMDB shard in data/ from the aclImdb archive. Where the archive comes
#    from, first match wins:
#      --archive PATH / --folder PATH   (or IMDB_ARCHIVE=PATH)
#      ../shared/datasets/aclImdb_v1.tar.gz beside this checkout (CI)
#      data/aclImdb_v1.tar.gz           (an earlier download)
#      the official download, verified: 84,125,825 bytes, sha256 c40f74a1...
#    The shard is rebuilt only when missing or older than the tool/source.
# 5. The Fashion-MNIST image shard data/fashion.shard from Debian's
#    dataset-fashion-mnist (/usr/share/datasets/fashion-mnist/*.gz), the same way.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { echo "setup: error: $*" >&2; exit 1; }

OFFICIAL_URL="http://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
OFFICIAL_SHA256="c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
OFFICIAL_BYTES=84125825

SOURCE="${IMDB_ARCHIVE:-}"
WASM=1
NPM=1
while [ $# -gt 0 ]; do
    case "$1" in
        --archive|--folder) [ $# -ge 2 ] || die "$1 needs a path"; SOURCE="$2"; shift 2 ;;
        --no-wasm) WASM=0; shift ;;
        --no-npm) NPM=0; shift ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done

# ---------------------------------------------------------------- 1. packages
PACKAGES=(build-essential cmake pkg-config libcjson-dev libsimde-dev zlib1g-dev
          emscripten dpkg-dev chromium curl ca-certificates clang-14 libclang-rt-14-dev llvm-14
          dataset-fashion-mnist
          gcc-multilib lib32asan8 lib32ubsan1 lib32z1-dev lib32stdc++-12-dev)
# The last line: the 32-bit (-m32) build of the tests under ASan/UBSan
# (scripts/test-sanitizers.sh --m32) and the 32-bit fuzzers (libFuzzer is C++).
command -v node >/dev/null || PACKAGES+=(nodejs)
command -v npm >/dev/null || PACKAGES+=(npm)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" \
        || die "apt-get install failed for: ${missing[*]}"
fi

# -------------------------------------------------------------------- 2. npm
if [ "$NPM" = 1 ]; then
    if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
        say "installing npm packages (package-lock.json)"
        npm ci --omit=optional --no-audit --no-fund --loglevel=error || die "npm ci failed"
    fi
fi

# ----------------------------------------------------------------- 3. builds
say "native build (build/)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null \
    || die "cmake configure failed (see above)"
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" >/dev/null || {
    cmake --build build -j1 2>&1 | tail -40; die "native build failed"; }
if [ "$WASM" = 1 ]; then
    say "WebAssembly build (web/engine/)"
    scripts/build-wasm.sh
    [ -x scripts/build-web.sh ] && scripts/build-web.sh
fi

# ------------------------------------------------------------------ 4. shard
resolve_source() {
    if [ -n "$SOURCE" ]; then
        [ -e "$SOURCE" ] || die "no such archive or folder: $SOURCE"
        echo "$SOURCE"; return
    fi
    local shared="$ROOT/../shared/datasets/aclImdb_v1.tar.gz"
    if [ -f "$shared" ]; then echo "$shared"; return; fi
    local cached="$ROOT/data/aclImdb_v1.tar.gz"
    if [ ! -f "$cached" ]; then
        mkdir -p data
        say "downloading the IMDB archive (84 MB) from $OFFICIAL_URL"
        curl -fL --retry 3 -o "$cached.part" "$OFFICIAL_URL" \
            || die "download failed; download it yourself and pass --archive PATH"
        local bytes; bytes=$(stat -c %s "$cached.part")
        local sum; sum=$(sha256sum "$cached.part" | cut -d' ' -f1)
        if [ "$bytes" != "$OFFICIAL_BYTES" ] || [ "$sum" != "$OFFICIAL_SHA256" ]; then
            rm -f "$cached.part"
            die "the download is not the official archive ($bytes bytes, sha256 $sum; expected $OFFICIAL_BYTES bytes, $OFFICIAL_SHA256)"
        fi
        mv "$cached.part" "$cached"
    fi
    echo "$cached"
}

ARCHIVE="$(resolve_source)"
if [ -f "$ARCHIVE" ]; then
    sum=$(sha256sum "$ARCHIVE" | cut -d' ' -f1)
    case "$sum" in
        "$OFFICIAL_SHA256") note="the official Stanford archive" ;;
        fdda8d10c42c27329d41607042062579be49cc371ffd7f27710d41cf38faf2fd) note="the shared re-packed copy (no .feat files)" ;;
        *) note="an archive of unknown origin: its reviews are checked while building" ;;
    esac
    say "IMDB source: $ARCHIVE ($note)"
fi
if [ ! -f data/imdb.shard ] || [ build/imdb_build_shard -nt data/imdb.shard ] || [ "$ARCHIVE" -nt data/imdb.shard ]; then
    say "building the IMDB shard in data/ (a few seconds)"
    mkdir -p data
    build/imdb_build_shard --source "$ARCHIVE" --out data || die "building the shard failed (see above)"
fi
echo "$ARCHIVE" > build/imdb-archive.path
FASHION_DIR=/usr/share/datasets/fashion-mnist
if [ ! -f data/fashion.shard ] || [ build/fashion_build_shard -nt data/fashion.shard ] ||
   [ "$FASHION_DIR/train-images-idx3-ubyte.gz" -nt data/fashion.shard ]; then
    say "building the Fashion-MNIST shard data/fashion.shard (under a second)"
    build/fashion_build_shard --source "$FASHION_DIR" --out data/fashion.shard ||
        die "building the Fashion-MNIST shard failed (see above)"
fi
say "setup done"
