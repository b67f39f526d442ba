#!/usr/bin/env bash
# playground.sh: set everything up (scripts/setup.sh, same arguments), then
# serve the playground on http://localhost:8000/ (PORT=... to change it).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh" "$@"
exec node "$ROOT/scripts/serve.mjs" --port "${PORT:-8000}"
