#!/bin/sh
# test-browser.sh: the page's end-to-end tests in headless Chromium
# (tests/browser/, Node's test runner with playwright-core driving
# /usr/bin/chromium; no browser is downloaded).
#
#   scripts/test-browser.sh                       everything, incl. the 40-epoch recipe
#   SKIP_FULL_RECIPE=1 scripts/test-browser.sh    without the 40-epoch recipe
#
# It installs the npm packages from the lock file, builds the engine if
# web/engine/ is missing, and needs data/imdb.shard (it says how to build it).
set -eu
cd "$(dirname "$0")/.."

if [ -f package-lock.json ]; then
  npm ci --omit=optional --no-audit --no-fund
else
  npm install --no-audit --no-fund
fi

if [ ! -f web/engine/engine.js ] || [ ! -f web/engine/engine.wasm ]; then
  echo "test-browser.sh: web/engine/ is missing; building it with scripts/build-wasm.sh"
  bash scripts/build-wasm.sh
fi

if [ ! -f data/imdb.shard ]; then
  echo "test-browser.sh: data/imdb.shard is missing. Build it with scripts/setup.sh" >&2
  echo "  (or: build/imdb_build_shard --source /work/shared/datasets/aclImdb_v1.tar.gz --out data)" >&2
  exit 1
fi

if [ ! -f data/fashion.shard ]; then
  echo "test-browser.sh: data/fashion.shard is missing (tests/browser/fashion.test.mjs needs it). Build it with scripts/setup.sh" >&2
  echo "  (or: build/fashion_build_shard --source /usr/share/datasets/fashion-mnist --out data/fashion.shard)" >&2
  exit 1
fi

exec node --test tests/browser/
