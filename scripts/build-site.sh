#!/bin/sh
# build-site.sh: writes dist/, the playground as a static site that any plain
# web server can host (GitHub Pages, an S3 bucket, python3 -m http.server):
# the page (web/), the engine (the one-thread build and the two-thread build,
# which the page uses only where the host sends COOP/COEP), Chart.js from the
# npm package, and the data: each shard packed (scripts/pack-shard.mjs: gzip,
# text shards first as one or two bytes per word) with dist/data/site.json listing them, which
# the page's worker reads to download, unpack, check and cache them. imdb.shard
# goes as two files (build/imdb_split_shard): imdb.shard.nnz, the vocabulary
# and the training reviews, which the page needs to be ready, and
# imdb-test.shard.nnz, the test reviews, which it downloads after. Prints
# every file's size and the total. dist/ is git-ignored; nothing is fetched
# from the network.
#
#   scripts/build-site.sh [--out DIR] [--data DIR] [--ids]
#
# --ids packs the IMDB shards (both files of imdb.shard, and imdb-unsup.shard) with transform 3 (token ids coded by
# engine/packed_ids.c: 12.9 MB instead of 14.9 for imdb.shard, but a decode
# of several seconds in the page; see README "Host it yourself"), which needs
# build/imdb_pack_ids (cmake --build build). Off by default.
#
# A packed file newer than its shard and packed the same way is kept (packing the three shards takes
# about half a minute). Needs build/imdb_split_shard (cmake --build build;
# NN_SPLIT_SHARD names another), scripts/build-wasm.sh's web/engine/,
# node_modules (npm ci) and the shards of scripts/setup.sh. See README "Host
# it yourself".
set -eu
cd "$(dirname "$0")/.."
OUT=dist DATA=data TEXT=bytes
while [ $# -gt 0 ]; do
    case "$1" in
        --out) OUT="$2"; shift 2 ;;
        --data) DATA="$2"; shift 2 ;;
        --ids) TEXT=ids; shift ;;
        -h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "build-site.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
done
die() { echo "build-site.sh: $*" >&2; exit 1; }

CHART=node_modules/chart.js/dist/chart.umd.js
[ -f "$CHART" ] || die "$CHART is missing; run npm ci (or npm install) first"
for f in engine.js engine.wasm engine-mt.js engine-mt.wasm engine-mt.worker.js packed_ids.wasm; do
    [ -f "web/engine/$f" ] || die "web/engine/$f is missing; build the engine with scripts/build-wasm.sh"
done
[ -f "$DATA/imdb.shard" ] || die "$DATA/imdb.shard is missing; build it with scripts/setup.sh"

# The folder is emptied first (but data/, to keep packed files), so only a
# folder this script made (it leaves a .build-site mark) or an empty one.
if [ -d "$OUT" ] && [ ! -f "$OUT/.build-site" ] && [ -n "$(ls -A "$OUT")" ]; then
    die "$OUT is not empty and was not written by build-site.sh: choose another --out"
fi
mkdir -p "$OUT/data"
touch "$OUT/.build-site"
# The page: web/ as it is, less what is built or only documented.
find "$OUT" -mindepth 1 -maxdepth 1 ! -name data ! -name .build-site -exec rm -rf {} +
(cd web && tar cf - --exclude=./engine --exclude=./vendor --exclude=./dist --exclude='*.md' .) | (cd "$OUT" && tar xf -)
mkdir -p "$OUT/engine" "$OUT/vendor"
cp web/engine/engine.js web/engine/engine.wasm web/engine/engine-mt.js web/engine/engine-mt.wasm \
   web/engine/engine-mt.worker.js web/engine/packed_ids.wasm "$OUT/engine/"
cp "$CHART" "$OUT/vendor/chart.umd.js"
# The site's page starts its shard's download before its modules load
# (data-early.js, which reads data/site.json); web/index.html itself does not
# load it, since the development server has no site.json.
sed -i 's#^\( *\)<script src="dataset-early.js"></script>#&\n\1<script src="data-early.js"></script>#' "$OUT/index.html"
grep -q '<script src="data-early.js"></script>' "$OUT/index.html" || die "could not add data-early.js to $OUT/index.html"

# imdb.shard cut in two (build/imdb_split_shard): the vocabulary and the
# training reviews, which the page needs to be ready to train, and the test
# reviews alone (no vocabulary, the same vocab_crc), which it downloads
# after (web/worker/testsplit.js; README "Host it yourself").
SPLIT_TOOL=${NN_SPLIT_SHARD:-build/imdb_split_shard}
[ -x "$SPLIT_TOOL" ] || die "$SPLIT_TOOL is missing; build it with cmake --build build (README \"Host it yourself\")"
SPLIT=$(mktemp -d)
trap 'rm -rf "$SPLIT"' EXIT
split_json=$("$SPLIT_TOOL" "$DATA/imdb.shard" "$SPLIT/imdb.shard" "$SPLIT/imdb-test.shard") ||
    die "could not cut $DATA/imdb.shard in two (above)"
test_reviews=$(printf '%s\n' "$split_json" | sed -n 's/.*"test": {[^}]*"reviews": \([0-9]*\).*/\1/p')
[ -n "$test_reviews" ] || die "imdb_split_shard said nothing of the test reviews: $split_json"
# The halves are as new as imdb.shard, so a packed half newer than it is kept.
touch -r "$DATA/imdb.shard" "$SPLIT/imdb.shard" "$SPLIT/imdb-test.shard"

# The data, packed (a packed file newer than its shard is kept).
packed=""
for spec in imdb.shard:$TEXT imdb-test.shard:$TEXT imdb-unsup.shard:$TEXT fashion.shard:none; do
    name=${spec%%:*} transform=${spec#*:}
    src="$DATA/$name"
    case "$name" in imdb.shard|imdb-test.shard) src="$SPLIT/$name" ;; esac
    if [ ! -f "$src" ]; then
        echo "build-site.sh: note: $DATA/$name is missing, so the site will lack it (scripts/setup.sh builds it)" >&2
        rm -f "$OUT/data/$name.nnz"
        continue
    fi
    case "$transform" in ids) code=3 ;; bytes) code=2 ;; varint) code=1 ;; *) code=0 ;; esac
    # Packed again when older than the shard, packed another way (header
    # bytes 12-15) or of another length (bytes 16-23: the whole imdb.shard
    # that sites before the split served).
    if [ ! "$OUT/data/$name.nnz" -nt "$src" ] ||
       [ "$(od -An -tu4 -j12 -N4 "$OUT/data/$name.nnz" | tr -d ' ')" != "$code" ] ||
       [ "$(od -An -tu8 -j16 -N8 "$OUT/data/$name.nnz" | tr -d ' ')" != "$(stat -c %s "$src")" ]; then
        node scripts/pack-shard.mjs "$src" "$OUT/data/$name.nnz.tmp" --transform "$transform" >/dev/null
        mv "$OUT/data/$name.nnz.tmp" "$OUT/data/$name.nnz"
    fi
    packed="$packed $OUT/data/$name.nnz"
done
# shellcheck disable=SC2086 # the packed files' names have no spaces
node scripts/pack-shard.mjs --manifest "$OUT/data/site.json" $packed --test "imdb.shard=imdb-test.shard:$test_reviews"
find "$OUT/data" -mindepth 1 ! -name site.json ! -name '*.nnz' -exec rm -rf {} +

echo "build-site.sh: $OUT/"
find "$OUT" -type f ! -name .build-site -printf '%s %P\n' | sort -k2 | awk '
    { printf "%12d  %s\n", $1, $2; total += $1 }
    END { printf "%12d  total (%.1f MB)\n", total, total / 1e6 }'
