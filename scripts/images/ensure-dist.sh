#!/usr/bin/env bash
# Runs `npm run build` when an image input in dist/ is missing or older than what it is built from
# (the webhook bundle and the fetcher executable the Dockerfiles copy). Quiet when up to date.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
outputs=(dist/webhook/dap-secret-webhook.mjs dist/dap-secret-fetcher)
sources=(webhook fetcher contract scripts/build-webhook.mjs scripts/build-fetcher.mjs package.json package-lock.json)
stale=0
for out in "${outputs[@]}"; do
  if [[ ! -f $out ]] || [[ -n "$(find "${sources[@]}" -newer "$out" -type f -print -quit 2>/dev/null)" ]]; then stale=1; fi
done
if [[ $stale == 1 ]]; then
  echo "[images] dist/ is missing or older than its sources: npm run build" >&2
  [[ -x node_modules/node/bin/node ]] || { echo "[images] run 'npm ci' first" >&2; exit 1; }
  # The npm scripts need the pinned Node 24 first on PATH, as `npm run` arranges.
  npm run -s build >&2
fi
