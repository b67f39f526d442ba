#!/usr/bin/env bash
# bench.sh: the benchmark suite (issue 7). Runs the workloads natively
# (build/imdb_bench; the LSTM also with one thread per CPU; the ngram
# preset's whole run, early stopping included, beside the bag's), in headless
# Chromium's worker and on the page
# (tests/bench/browser_bench.mjs), the wasm engine in Node without a browser
# (tests/bench/wasm_bench.mjs), the Fashion-MNIST MLP natively and in the
# worker, a per-part breakdown of the bag recipe's CPU time natively and in
# wasm (perf, tests/bench/perf_parts.mjs), and, when installed, with the peers on the
# same data: PyTorch (Debian's python3-torch, tests/bench/torch_bench.py) and
# TensorFlow.js with its wasm backend (optional npm packages). Prints one
# table, then the ratios; then issue 17's "your own text" line: a 5,000-
# sentence, 6-class file read and trained in the page
# (tests/bench/labelled_browser_bench.mjs); then issue 14's Transformer
# lines: masked-language-model pretraining of transformer-pretrained's encoder
# on the first 2,000 reviews of a pass (build/imdb_pretrain, 2 threads, and
# the page's worker, tests/bench/mlm_browser_bench.mjs) projected to one
# pass over the 75,000 reviews, and one fine-tuning epoch of 1,000 + 250
# reviews (build/imdb_bench, 2 threads, and the worker) projected to the
# preset's 20,000 + 5,000, each with page / native; on fewer than 3 cores
# the same again at 1 thread, the engine the page takes there. Figures
# only: nothing here asserts on time.
#
#   scripts/bench.sh [--repeat N] [--lstm-epochs N] [--torch-lstm-full]
#                    [--no-browser] [--no-page] [--no-peers] [--install-peers]
#                    [--mlp-epochs N] [--no-node] [--no-parts] [--no-labelled]
#                    [--no-mlm] [--mlm-reviews N] [--mlm-train N] [--results FILE]
#   scripts/bench.sh --page-only [--results FILE]
#   scripts/bench.sh --site-only
#   scripts/bench.sh --labelled-only
#   scripts/bench.sh --mlm-only [--mlm-reviews N] [--mlm-train N] [--no-browser]
#
#   --repeat N         runs of the 40-epoch bag recipe, natively and in the
#                      browser (default 3; the median is shown)
#   --lstm-epochs N    epochs of the LSTM recipe (default 1)
#   --torch-lstm-full  time PyTorch's LSTM over whole epochs (a minute or more
#                      each); by default 20 batches and 1,280 validation
#                      reviews are timed and scaled up to an epoch
#   --no-browser       native figures only; --no-page skips the page itself
#   --page-only        only the page: keystroke to score, and its frame times
#                      idle and while it trains (about a minute)
#   --site-only        only the static site (scripts/build-site.sh's dist/):
#                      its download sizes and the time to a page ready to
#                      train, on localhost and throttled to 20 Mbit/s with
#                      40 ms latency, cold and warm cache (about a minute;
#                      a default run ends with it too, unless --no-page)
#   --no-peers         skip PyTorch and TensorFlow.js
#   --mlp-epochs N     epochs of tutorial-mlp (Fashion-MNIST), natively and in
#                      the worker (default 2; skipped without data/fashion.shard)
#   --no-node          skip the wasm engine in Node (bag, LSTM, MLP, ngram)
#   --no-labelled      skip the "your own text" line (a 5,000-sentence,
#                      6-class file: shard build and default recipe in the
#                      page, about 30 s)
#   --labelled-only    only that line
#   --no-mlm           skip the Transformer's pretraining and fine-tuning
#                      lines (about 3 minutes on 2 cores: 2 threads, and 1
#                      thread as the page there; needs data/imdb-unsup.shard)
#   --mlm-only         only those lines (with --no-browser: native only)
#   --mlm-reviews N    reviews pretrained, natively and in the worker
#                      (default 2000: a short sample of a pass, not a pass)
#   --mlm-train N      training reviews of the fine-tuning epoch (default
#                      1000, with N/4 validated; 0: no fine-tuning line).
#                      Natively imdb_bench also scores the 25,000 test
#                      reviews after it (about 10 s of CPU, not timed)
#   --no-parts         skip the per-part breakdown (needs perf: Debian's
#                      linux-perf; builds build-wasm's nn_wasm_prof target)
#   --install-peers    first install the peers: python3-torch with apt-get
#                      (as root or through sudo) and the optional npm
#                      packages (@tensorflow/tfjs, @tensorflow/tfjs-backend-wasm);
#                      the playground never needs them
#   --results FILE     also keep the raw JSON lines there
#
# Needs what scripts/setup.sh builds (build/, web/engine/, data/imdb.shard).
# The default run takes about 3-6 minutes on a 2-core machine.
set -euo pipefail

die() { echo "bench: error: $*" >&2; exit 1; }
say() { echo "bench: $*" >&2; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
REPEAT=3 LSTM_EPOCHS=1 TORCH_FULL=0 BROWSER=1 PAGE=1 PEERS=1 INSTALL=0 RESULTS="" PAGE_ONLY=0 SITE_ONLY=0 LABELLED_ONLY=0
MLP_EPOCHS=2 NODE_WASM=1 PARTS=1 LABELLED=1 MLM=1 MLM_ONLY=0 MLM_REVIEWS=2000 MLM_TRAIN=1000
while [ $# -gt 0 ]; do
    case "$1" in
        --repeat) REPEAT="$2"; shift 2 ;;
        --lstm-epochs) LSTM_EPOCHS="$2"; shift 2 ;;
        --torch-lstm-full) TORCH_FULL=1; shift ;;
        --no-browser) BROWSER=0; shift ;;
        --no-page) PAGE=0; shift ;;
        --page-only) PAGE_ONLY=1; shift ;;
        --site-only) SITE_ONLY=1; shift ;;
        --no-peers) PEERS=0; shift ;;
        --mlp-epochs) MLP_EPOCHS="$2"; shift 2 ;;
        --no-node) NODE_WASM=0; shift ;;
        --no-parts) PARTS=0; shift ;;
        --no-labelled) LABELLED=0; shift ;;
        --labelled-only) LABELLED_ONLY=1; shift ;;
        --no-mlm) MLM=0; shift ;;
        --mlm-only) MLM_ONLY=1; shift ;;
        --mlm-reviews) MLM_REVIEWS="$2"; shift 2 ;;
        --mlm-train) MLM_TRAIN="$2"; shift 2 ;;
        --install-peers) INSTALL=1; shift ;;
        --results) RESULTS="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (try --help)" ;;
    esac
done
[[ "$REPEAT" =~ ^[1-9][0-9]*$ ]] || die "--repeat needs a whole number >= 1"
[[ "$LSTM_EPOCHS" =~ ^[1-9][0-9]*$ ]] || die "--lstm-epochs needs a whole number >= 1"
[[ "$MLP_EPOCHS" =~ ^[1-9][0-9]*$ ]] || die "--mlp-epochs needs a whole number >= 1"
[[ "$MLM_REVIEWS" =~ ^[1-9][0-9]*$ ]] || die "--mlm-reviews needs a whole number >= 1"
[[ "$MLM_TRAIN" =~ ^[0-9]+$ ]] || die "--mlm-train needs a whole number >= 0"
FASHION="$ROOT/data/fashion.shard"

SHARD="$ROOT/data/imdb.shard"
[ -f "$SHARD" ] || die "$SHARD is missing: run scripts/setup.sh"
# The static site: scripts/build-site.sh, then its sizes and ready times.
site_bench() {
    say "the static site: scripts/build-site.sh, then sizes and ready times (localhost and 20 Mbit/s, 40 ms; cold and warm)"
    scripts/build-site.sh >/dev/null || die "scripts/build-site.sh failed (see above)"
    echo
    echo "static site on $(nproc) CPU(s), load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
    node tests/bench/site_bench.mjs --site dist || die "the site benchmark failed (see above)"
}
if [ "$SITE_ONLY" = 1 ]; then
    [ "$BROWSER" = 1 ] && [ "$PAGE" = 1 ] || die "--site-only runs the page: drop --no-browser / --no-page"
    [ -f web/engine/engine.wasm ] || die "web/engine/engine.wasm is missing: run scripts/build-wasm.sh"
    site_bench
    exit 0
fi
if [ "$LABELLED_ONLY" = 1 ]; then
    [ -f web/engine/engine.wasm ] || die "web/engine/engine.wasm is missing: run scripts/build-wasm.sh"
    [ -d node_modules/playwright-core ] || die "playwright-core is missing: run npm ci (or scripts/setup.sh)"
    say "Chromium: your own text in the page (5,000 sentences, 6 classes: shard build, default recipe)"
    line="$(node tests/bench/labelled_browser_bench.mjs)" || die "labelled_browser_bench.mjs failed"
    echo "$line"
    exit 0
fi
if [ "$PAGE_ONLY" = 0 ] && { [ ! -x build/imdb_bench ] || [ ! -x build/imdb_export_arrays ] || [ ! -x build/imdb_pretrain ]; }; then
    say "building the native tools (build/)"
    cmake -S . -B build >/dev/null && cmake --build build -j "$(nproc 2>/dev/null || echo 2)" >/dev/null \
        || die "the native build failed: run scripts/setup.sh"
fi
if [ "$BROWSER" = 1 ]; then
    [ -f web/engine/engine.wasm ] || die "web/engine/engine.wasm is missing: run scripts/build-wasm.sh"
    [ -d node_modules/playwright-core ] || die "playwright-core is missing: run npm ci (or scripts/setup.sh)"
    [ -x "${CHROMIUM:-/usr/bin/chromium}" ] || die "no Chromium at ${CHROMIUM:-/usr/bin/chromium}: apt-get install chromium"
fi

# The Transformer's lines (issue 14): MLM pretraining on the first
# $MLM_REVIEWS reviews of a pass and a fine-tuning epoch of $MLM_TRAIN
# reviews, natively and in the page's worker, at 2 threads (the worker's
# two-thread engine asked for) and, on a machine of fewer than 3 cores
# (where the page itself takes the one-thread engine), at 1 thread too;
# printed as lines by tests/bench/mlm_lines.mjs.
UNSUP="$ROOT/data/imdb-unsup.shard"
mlm_lines() {
    if [ ! -f "$UNSUP" ]; then
        say "Transformer lines skipped: $UNSUP is missing (scripts/setup.sh builds it)"
        return 0
    fi
    local dir line n wall cpu t counts=2
    [ "$(nproc 2>/dev/null || echo 1)" -lt 3 ] && counts="2 1"
    dir="$(mktemp -d)"
    : > "$dir/mlm.jsonl"
    for t in $counts; do
        say "native: MLM pretraining of transformer-pretrained's encoder, $MLM_REVIEWS reviews, $t thread(s)"
        line="$(build/imdb_pretrain --shard "$SHARD" --unsup "$UNSUP" --out "$dir/encoder.ckpt" --reviews "$MLM_REVIEWS" --threads "$t" \
            | grep -m1 '^pretrained on ')" || { rm -rf "$dir"; die "imdb_pretrain failed"; }
        # "pretrained on N reviews in X s wall, Y s CPU (R reviews/s); encoder: ..."
        read -r n wall cpu <<<"$(sed -E 's/^pretrained on ([0-9]+) reviews in ([0-9.]+) s wall, ([0-9.]+) s CPU.*/\1 \2 \3/' <<<"$line")"
        printf '{"native_pretrain":{"reviews":%s,"wall_s":%s,"cpu_s":%s,"threads":%s}}\n' "$n" "$wall" "$cpu" "$t" >> "$dir/mlm.jsonl"
        if [ "$MLM_TRAIN" -gt 0 ]; then
            say "native: transformer-pretrained's model (from random weights: the same work), one epoch of $MLM_TRAIN + $(( (MLM_TRAIN + 2) / 4 )) reviews, $t thread(s)"
            build/imdb_bench --shard "$SHARD" --preset transformer-pretrained --threads "$t" --epochs 1 \
                --train_size "$MLM_TRAIN" --val_size "$(( (MLM_TRAIN + 2) / 4 ))" --json >> "$dir/mlm.jsonl" \
                || { rm -rf "$dir"; die "imdb_bench (transformer-pretrained) failed"; }
        fi
        if [ "$BROWSER" = 1 ]; then
            say "Chromium: the same in the page's worker, $t thread(s) (tests/bench/mlm_browser_bench.mjs)"
            node tests/bench/mlm_browser_bench.mjs --reviews "$MLM_REVIEWS" --train-size "$MLM_TRAIN" \
                --threads "$([ "$t" = 2 ] && echo true || echo false)" >> "$dir/mlm.jsonl" \
                || { rm -rf "$dir"; die "mlm_browser_bench.mjs failed"; }
        fi
    done
    [ -n "$RESULTS" ] && [ "$MLM_ONLY" = 1 ] && cp "$dir/mlm.jsonl" "$RESULTS"
    node tests/bench/mlm_lines.mjs "$dir/mlm.jsonl" || { rm -rf "$dir"; die "mlm_lines.mjs failed"; }
    rm -rf "$dir"
}
if [ "$MLM_ONLY" = 1 ]; then
    out="$(mlm_lines)"
    echo
    echo "Transformer lines on $(nproc) CPU(s), load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "$out"
    exit 0
fi

if [ "$PAGE_ONLY" = 1 ]; then
    [ "$BROWSER" = 1 ] && [ "$PAGE" = 1 ] || die "--page-only runs the page: drop --no-browser / --no-page"
    OUT="$(mktemp)"
    trap 'rm -f "$OUT"' EXIT
    say "Chromium: the page only (keystroke to score; frame times idle and while training)"
    node tests/bench/browser_bench.mjs --page-only > "$OUT" || die "the browser benchmark failed (see above)"
    [ -n "$RESULTS" ] && cp "$OUT" "$RESULTS"
    echo
    echo "scripts/bench.sh --page-only on $(nproc) CPU(s), $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
    node tests/bench/table.mjs "$OUT"
    exit 0
fi

# ------------------------------------------------------------- the peers
PYTHON=/usr/bin/python3   # Debian's, where python3-torch installs
if [ "$INSTALL" = 1 ]; then
    if ! "$PYTHON" -c 'import torch' 2>/dev/null; then
        SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
        if apt-cache policy python3-torch 2>/dev/null | grep -q 'Candidate: [0-9]'; then
            say "installing python3-torch (apt-get)"
            $SUDO apt-get install -y --no-install-recommends python3-torch >&2 \
                || die "apt-get install python3-torch failed"
        else
            say "python3-torch has no installation candidate here (apt-get update first?); PyTorch will be n/a"
        fi
    fi
    if [ ! -d node_modules/@tensorflow/tfjs-backend-wasm ]; then
        say "installing the optional npm packages (@tensorflow/tfjs, @tensorflow/tfjs-backend-wasm)"
        npm install --include=optional --no-audit --no-fund --loglevel=error >&2 \
            || die "npm install of the optional packages failed"
    fi
fi
HAVE_TORCH=0
[ "$PEERS" = 1 ] && "$PYTHON" -c 'import torch, numpy' 2>/dev/null && HAVE_TORCH=1

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
OUT="$WORK/results.jsonl"
: > "$OUT"
note_skip() { printf '{"runtime":"%s","model":"%s","skipped":"%s"}\n' "$1" "$2" "$3" >> "$OUT"; }

# The same data for everyone: the trainer's padded arrays and configs.
say "exporting the padded arrays of both recipes ($WORK)"
mkdir -p "$WORK/bag" "$WORK/lstm"
build/imdb_export_arrays --shard "$SHARD" --out "$WORK/bag" >/dev/null
build/imdb_export_arrays --shard "$SHARD" --out "$WORK/lstm" --preset tutorial-lstm >/dev/null

# ------------------------------------------------------------ native
say "native: bag recipe, 40 epochs x $REPEAT"
build/imdb_bench --shard "$SHARD" --repeat "$REPEAT" --json >> "$OUT"
say "native: ngram preset, whole run (early stopping decides the epochs) x $REPEAT"
build/imdb_bench --shard "$SHARD" --preset ngram --repeat "$REPEAT" --json >> "$OUT"
say "native: LSTM recipe, $LSTM_EPOCHS epoch(s)"
build/imdb_bench --shard "$SHARD" --preset tutorial-lstm --epochs "$LSTM_EPOCHS" --json >> "$OUT"
CPUS="$(nproc 2>/dev/null || echo 1)"
if [ "$CPUS" -ge 2 ]; then
    say "native: LSTM recipe, $LSTM_EPOCHS epoch(s), $CPUS threads (the same results bit for bit)"
    build/imdb_bench --shard "$SHARD" --preset tutorial-lstm --epochs "$LSTM_EPOCHS" --threads "$CPUS" --json >> "$OUT"
fi

if [ -f "$FASHION" ]; then
    say "native: tutorial-mlp (Fashion-MNIST), $MLP_EPOCHS epoch(s)"
    line="$(build/imdb_train --shard "$FASHION" --preset tutorial-mlp --epochs "$MLP_EPOCHS" 2>&1 | grep -m1 '^Trained ')" \
        || die "imdb_train on $FASHION failed"
    # "Trained N epochs in X ms (...)"
    read -r n ms <<<"$(sed -E 's/^Trained ([0-9]+) epochs? in ([0-9.]+) ms.*/\1 \2/' <<<"$line")"
    printf '{"runtime":"native","threads":1,"model":"mlp","epochs":%s,"repeat":1,"total_ms":%s,"epoch_ms":%s}\n' \
        "$n" "$ms" "$(echo "$ms / $n" | bc -l)" >> "$OUT"
fi

# ------------------------------------------------- wasm in Node, no browser
if [ "$NODE_WASM" = 1 ] && [ -f web/engine/engine.js ]; then
    say "wasm in Node (worker.js in a worker thread, one thread): bag 40 epochs, LSTM $LSTM_EPOCHS epoch(s), ngram$([ -f "$FASHION" ] && echo ", MLP $MLP_EPOCHS epoch(s)")"
    wb() { node --no-experimental-fetch tests/bench/wasm_bench.mjs --json "$@" 2>/dev/null >> "$OUT" || die "wasm_bench.mjs $* failed"; }
    wb --preset tutorial-bag
    wb --preset tutorial-lstm --epochs "$LSTM_EPOCHS"
    wb --preset ngram
    [ -f "$FASHION" ] && wb --preset tutorial-mlp --epochs "$MLP_EPOCHS"
fi

# ------------------------------------------ where the time goes, per part
PARTS_OUT=""
if [ "$PARTS" = 1 ]; then
    if ! command -v perf >/dev/null || ! perf record -o /dev/null -q -- true 2>/dev/null; then
        say "per-part breakdown skipped: perf is missing or not allowed (apt-get install linux-perf; kernel.perf_event_paranoid <= 2)"
    elif [ ! -d build-wasm ]; then
        say "per-part breakdown skipped: no build-wasm/ (scripts/build-wasm.sh)"
    else
        say "per-part breakdown: the bag recipe under perf, natively and in wasm (Node)"
        cmake --build build-wasm --target nn_wasm_prof -j "$(nproc 2>/dev/null || echo 2)" >/dev/null \
            || die "building build-wasm's nn_wasm_prof failed"
        perf record -q -k mono -F 2000 -o "$WORK/native.perf" -- build/imdb_bench --shard "$SHARD" >/dev/null 2>&1
        perf record -q -k mono -F 2000 -o "$WORK/wasm.perf" -- node --perf-basic-prof \
            --logfile="$WORK/v8.log" --no-logfile-per-isolate --no-experimental-fetch \
            tests/bench/wasm_bench.mjs --preset tutorial-bag --engine build-wasm/engine-prof.js > "$WORK/wasm.txt" 2>&1
        window="$(sed -n 's/^wasm_bench: window \([0-9.,]*\) pid .*/\1/p' "$WORK/wasm.txt")"
        pid="$(sed -n 's/^wasm_bench: window .* pid \([0-9]*\)/\1/p' "$WORK/wasm.txt")"
        PARTS_OUT="$(node tests/bench/perf_parts.mjs --epochs 40 "native=$WORK/native.perf" "wasm-in-Node=$WORK/wasm.perf@$window")" \
            || say "perf_parts.mjs failed"
        if [ -n "$pid" ]; then rm -f "/tmp/perf-$pid.map"; fi # node --perf-basic-prof's symbol map
    fi
fi

# ----------------------------------------------------------- browser
if [ "$BROWSER" = 1 ]; then
    say "Chromium: worker (bag x $REPEAT, ngram, LSTM $LSTM_EPOCHS epoch(s))$([ "$PAGE" = 1 ] && echo ", page")$([ "$PEERS" = 1 ] && echo ", TensorFlow.js")"
    args=(--bag-arrays "$WORK/bag" --lstm-config "$WORK/lstm/config.json" --lstm-epochs "$LSTM_EPOCHS" --repeat "$REPEAT")
    [ "$PAGE" = 1 ] || args+=(--no-page)
    [ "$PEERS" = 1 ] || args+=(--no-tfjs)
    node tests/bench/browser_bench.mjs "${args[@]}" >> "$OUT" || die "the browser benchmark failed (see above)"
    if [ -f "$FASHION" ]; then
        say "Chromium: worker, tutorial-mlp, one thread, $MLP_EPOCHS epoch(s)"
        node tests/bench/fashion_browser_bench.mjs --epochs "$MLP_EPOCHS" --json >> "$OUT" || die "fashion_browser_bench.mjs failed"
    fi
fi
LABELLED_OUT=""
if [ "$BROWSER" = 1 ] && [ "$PAGE" = 1 ] && [ "$LABELLED" = 1 ]; then
    say "Chromium: your own text in the page (5,000 sentences, 6 classes: shard build, default recipe)"
    LABELLED_OUT="$(node tests/bench/labelled_browser_bench.mjs)" || die "labelled_browser_bench.mjs failed"
fi
MLM_OUT=""
if [ "$MLM" = 1 ]; then MLM_OUT="$(mlm_lines)"; fi

# ----------------------------------------------------------- PyTorch
if [ "$HAVE_TORCH" = 1 ]; then
    say "PyTorch: bag recipe, 40 epochs"
    "$PYTHON" tests/bench/torch_bench.py --arrays "$WORK/bag" --model bag >> "$OUT" 2>"$WORK/torch.log" \
        || { cat "$WORK/torch.log" >&2; die "torch_bench.py failed"; }
    if [ "$TORCH_FULL" = 1 ]; then
        say "PyTorch: LSTM recipe, $LSTM_EPOCHS whole epoch(s) (slow)"
        "$PYTHON" tests/bench/torch_bench.py --arrays "$WORK/lstm" --model lstm --epochs "$LSTM_EPOCHS" >> "$OUT" 2>"$WORK/torch.log" \
            || { cat "$WORK/torch.log" >&2; die "torch_bench.py failed"; }
    else
        say "PyTorch: LSTM recipe, 20 batches + 1,280 validation reviews, scaled to an epoch"
        "$PYTHON" tests/bench/torch_bench.py --arrays "$WORK/lstm" --model lstm --epochs 1 \
            --max-batches 20 --max-val 1280 >> "$OUT" 2>"$WORK/torch.log" \
            || { cat "$WORK/torch.log" >&2; die "torch_bench.py failed"; }
    fi
elif [ "$PEERS" = 1 ]; then
    note_skip pytorch bag "python3-torch is not installed (scripts/bench.sh --install-peers)"
fi

[ -n "$RESULTS" ] && cp "$OUT" "$RESULTS"
echo
echo "scripts/bench.sh on $(nproc) CPU(s), $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
node tests/bench/table.mjs "$OUT"
if [ -n "$PARTS_OUT" ]; then
    echo
    echo "where the bag recipe's time goes, per part (whole run / 40 epochs; wasm: the training window only):"
    echo "$PARTS_OUT"
fi
if [ -n "$LABELLED_OUT" ]; then
    echo
    echo "$LABELLED_OUT"
fi
if [ -n "$MLM_OUT" ]; then
    echo
    echo "$MLM_OUT"
fi
if [ "$BROWSER" = 1 ] && [ "$PAGE" = 1 ]; then site_bench; fi
