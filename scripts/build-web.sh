#!/bin/sh
# build-web.sh: makes web/ a complete static site by copying Chart.js from
# node_modules into web/vendor/ (git-ignored). scripts/serve.mjs does not need
# this (it serves Chart.js from node_modules when web/vendor/ lacks it); a
# plain static host does. Nothing is fetched from a CDN.
set -eu
cd "$(dirname "$0")/.."
src=node_modules/chart.js/dist/chart.umd.js
if [ ! -f "$src" ]; then
  echo "build-web.sh: $src is missing; run npm ci (or npm install) first" >&2
  exit 1
fi
mkdir -p web/vendor
cp "$src" web/vendor/chart.umd.js
echo "web/vendor/chart.umd.js <- $src (chart.js $(node -p "require('./node_modules/chart.js/package.json').version"))"
if [ ! -f web/engine/engine.js ] || [ ! -f web/engine/engine.wasm ]; then
  echo "build-web.sh: note: web/engine/ is not built yet; run scripts/build-wasm.sh" >&2
fi
