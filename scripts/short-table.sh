#!/usr/bin/env bash
# short-table.sh: the short-review table (issue 13). Trains every text
# preset natively (build/imdb_train, one thread), then scores the IMDB test
# reviews whole, cut to their first 20 tokens, and cut to their first
# sentence (read from the archive at run time: the shard keeps no
# punctuation), with the model's own scores and after a temperature fitted on
# the validation reviews (never the test set). Prints one Markdown table:
# accuracy, ROC AUC and log loss (own -> temperature-scaled) per set, the
# temperature, the epochs trained, the training time ("Trained N epochs in
# X ms"), the whole run's wall time and the load average when the run began.
# Figures only: timings vary with the machine's load.
#
#   scripts/short-table.sh [--archive aclImdb_v1.tar.gz|FOLDER] [--shard FILE]
#                          [--words N] [--only NAME] [--raw FILE]
#
#   --archive  where the raw reviews are (default: $IMDB_ARCHIVE, else
#              ../shared/datasets/aclImdb_v1.tar.gz beside the checkout, else
#              data/aclImdb_v1.tar.gz)
#   --words N  the first set's cut (default 20 tokens)
#   --only     one row (its label, e.g. ngram or "tutorial-bag masked")
#   --raw FILE also keep every run's output there
# Rows: the six presets, and tutorial-bag with masked pooling (pooling over
# the real tokens only), which is not a preset: it shows what the padding
# does to short text.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
archive=${IMDB_ARCHIVE:-}
shard=data/imdb.shard
words=20
only=
raw=/dev/null
while [ $# -gt 0 ]; do
  case $1 in
    --archive) archive=$2; shift 2 ;;
    --shard) shard=$2; shift 2 ;;
    --words) words=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --raw) raw=$2; shift 2 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "short-table.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ -z "$archive" ]; then
  for a in ../shared/datasets/aclImdb_v1.tar.gz data/aclImdb_v1.tar.gz; do
    if [ -e "$a" ]; then archive=$a; break; fi
  done
fi
[ -n "$archive" ] && [ -e "$archive" ] || { echo "short-table.sh: no IMDB archive: pass --archive" >&2; exit 2; }
[ -x build/imdb_train ] || { echo "short-table.sh: build/imdb_train is missing: run scripts/setup.sh" >&2; exit 2; }
[ -f "$shard" ] || { echo "short-table.sh: $shard is missing: run scripts/setup.sh" >&2; exit 2; }

rows=(
  "tutorial-bag|--preset tutorial-bag"
  "tutorial-bag masked|--preset tutorial-bag --pooling masked"
  "ngram|--preset ngram"
  "tutorial-pretrained|--preset tutorial-pretrained --unsup data/imdb-unsup.shard"
  "tutorial-gru|--preset tutorial-gru"
  "tutorial-lstm|--preset tutorial-lstm"
  "tutorial-bilstm|--preset tutorial-bilstm"
)
: > "$raw.tmp" 2>/dev/null || true
echo "| recipe | test acc | AUC | log loss: own / T / short T | first $words tokens: acc | AUC | log loss | first sentence: acc | AUC | log loss | T | short T | epochs | training | whole run | load |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for row in "${rows[@]}"; do
  name=${row%%|*}
  flags=${row#*|}
  [ -n "$only" ] && [ "$only" != "$name" ] && continue
  load=$(cut -d' ' -f1 /proc/loadavg)
  t0=$(date +%s.%N)
  # shellcheck disable=SC2086
  out=$(build/imdb_train --shard "$shard" $flags --short "$words" --first-sentence "$archive" 2>&1) || {
    echo "short-table.sh: $name failed:" >&2; echo "$out" >&2; exit 1; }
  t1=$(date +%s.%N)
  { echo "== $name: build/imdb_train --shard $shard $flags --short $words --first-sentence $archive"; echo "$out"; } >> "$raw"
  echo "$out" | awk -v name="$name" -v load="$load" -v wall="$(echo "$t1 - $t0" | bc)" '
    /^Trained / { epochs = $2; ms = $5 }
    /^temperature fitted on [0-9]+ validation/ { split($0, a, "T="); split(a[2], b, " "); T = b[1] }
    /^temperature fitted on the/ { split($0, a, "T="); Ts = a[2] }
    function num(line, key,   v) {
      if (!match(line, key "[0-9.]+")) return "?"
      v = substr(line, RSTART, RLENGTH); sub(key, "", v); return v
    }
    function cells(line) {
      return num(line, "accuracy: ") " | " num(line, "auc: ") " | " num(line, ": loss: ") " / " \
             num(line, "loss at T=[0-9.]+: ") " / " num(line, "loss at short T=[0-9.]+: ")
    }
    /^full test:/ { full = cells($0) }
    /^short test \(first [0-9]+ tokens\)/ { words = cells($0) }
    /^short test \(first sentence\)/ { sent = cells($0) }
    END { printf "| %s | %s | %s | %s | %s | %s | %s | %s ms | %.1f s | %s |\n", name, full, words, sent, T, Ts, epochs, ms, wall, load }'
done
