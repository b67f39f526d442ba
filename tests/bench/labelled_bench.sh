#!/usr/bin/env bash
# labelled_bench.sh: issue 17's figures natively. Writes a synthetic
# labelled file (tests/bench/labelled_corpus.py: N sentences, K classes, a
# 1,000-sentence test file of the same kind), times building its shard
# (build/imdb_build_shard --labelled: the engine's build, file reading
# excluded) and training the default recipe (build/imdb_train), prints the
# test accuracy, then the TF-IDF + linear SVM baseline on the same files
# (tests/bench/tfidf_svm.py). Figures only: nothing here asserts.
#
#   tests/bench/labelled_bench.sh [--classes K] [--n N] [--repeat R] [--no-svm]
#
# K > 2 trains only in a build with the K-class text heads.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
K=6 N=5000 R=5 SVM=1
while [ $# -gt 0 ]; do
  case "$1" in
    --classes) K="$2"; shift 2 ;;
    --n) N="$2"; shift 2 ;;
    --repeat) R="$2"; shift 2 ;;
    --no-svm) SVM=0; shift ;;
    *) echo "usage: $0 [--classes K] [--n N] [--repeat R] [--no-svm]" >&2; exit 2 ;;
  esac
done
[ -x build/imdb_build_shard ] || { echo "build first (cmake --build build)" >&2; exit 1; }
DIR="$(mktemp -d)"
trap 'rm -rf "$DIR"' EXIT
python3 tests/bench/labelled_corpus.py --out "$DIR/train.tsv" --n "$N" --classes "$K" \
  --test-out "$DIR/test.tsv" --test-n 1000
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
ms=()
for _ in $(seq "$R"); do
  line="$(build/imdb_build_shard --labelled "$DIR/train.tsv" --test "$DIR/test.tsv" --out "$DIR/out" --quiet | tail -1)"
  ms+=("$(sed -n 's/.*built in \([0-9.]*\) ms.*/\1/p' <<<"$line")")
done
echo "$line"
echo "shard build, $N sentences, $K classes: median $(printf '%s\n' "${ms[@]}" | sort -n | sed -n "$(( (R + 1) / 2 ))p") ms of $R (${ms[*]})"
for seed in 1 2 3; do
  out="$(build/imdb_train --shard "$DIR/out/labelled.shard" --seed "$seed" 2>&1)" || { echo "$out" | tail -2; break; }
  echo "default recipe, seed $seed: $(grep -E '^Trained' <<<"$out" | sed 's/ (.*//'); $(grep -E '^test loss' <<<"$out")"
done
[ "$SVM" = 1 ] && python3 tests/bench/tfidf_svm.py "$DIR/train.tsv" "$DIR/test.tsv" | tail -1
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
