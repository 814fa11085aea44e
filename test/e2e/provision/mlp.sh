#!/usr/bin/env bash
# Builds the CaraML MLP API server (Go module github.com/caraml-dev/mlp, package ./api) from the Go
# module proxy into a cache outside the repository, keyed by version, next to the SQL migrations
# it runs at startup (db-migrations/, copied out of the module). Prints the cache directory
# (<dir>/bin/mlp-api, <dir>/db-migrations) on stdout. A warm run only checks the files.
#
# MLP_VERSION is pinned to the newest release the Go proxy serves here (its version list is not
# served, so it was checked by fetching v1.12.0's .info; later tags answer 403).
set -euo pipefail
MLP_VERSION="${MLP_VERSION:-v1.12.0}"
. "$(dirname "$0")/lib.sh"
OUT="$CACHE_ROOT/mlp-$MLP_VERSION"
built() { [[ -x "$OUT/bin/mlp-api" && -f "$OUT/db-migrations/1_schema_creation.up.sql" ]]; }
if built; then echo "$OUT"; exit 0; fi
lock_entry "$OUT"
if built; then echo "$OUT"; exit 0; fi
log() { echo "[provision mlp $MLP_VERSION] $*" >&2; }
command -v go >/dev/null || { log "go is required (apt-get install golang or the machine's Go)"; exit 1; }
work="$OUT/src"; rm -rf "$work"; mkdir -p "$work" "$OUT/bin"
cd "$work"
export GOFLAGS=-mod=mod GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
log "downloading github.com/caraml-dev/mlp@$MLP_VERSION"
moddir=$(go mod download -json "github.com/caraml-dev/mlp@$MLP_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
# MLP's go.mod has no replace directives today; carry any it gains so the build matches upstream's.
replaces=$(cd "$moddir" && go mod edit -json | python3 -c '
import json, sys
for r in json.load(sys.stdin).get("Replace") or []:
    old = r["Old"]["Path"] + ("@" + r["Old"]["Version"] if r["Old"].get("Version") else "")
    new = r["New"]["Path"] + ("@" + r["New"]["Version"] if r["New"].get("Version") else "")
    if r["New"]["Path"].startswith("."): continue  # local paths cannot leave the module
    print(old + "=" + new)')
{
  echo "module dap-mlp-build"
  echo "go $(go env GOVERSION | sed -E 's/^go([0-9]+\.[0-9]+).*/\1/')"
  echo "require github.com/caraml-dev/mlp $MLP_VERSION"
} > go.mod
for r in $replaces; do go mod edit -replace "$r"; done
# MLP listens on ":<port>" (every interface). Tests may only listen on loopback, so the build
# uses a copy of the module with that one line changed to "127.0.0.1:<port>" (Go refuses build
# overlays inside the module cache); it fails loudly if upstream changes the line.
cp -r "$moddir" mlp; chmod -R u+w mlp
cfg=mlp/api/config/config.go
needle='return fmt.Sprintf(":%d", c.Port)'
[[ $(grep -cF "$needle" "$cfg") == 1 ]] || { log "expected exactly one '$needle' in $cfg; update the loopback patch"; exit 1; }
sed -i 's|return fmt.Sprintf(":%d", c.Port)|return fmt.Sprintf("127.0.0.1:%d", c.Port)|' "$cfg"
go mod edit -replace github.com/caraml-dev/mlp=./mlp
log "resolving modules"
# tools.go keeps the requirement (a main package cannot be imported by a build, but tidy sees it).
printf '//go:build tools\npackage tools\nimport _ "github.com/caraml-dev/mlp/api"\n' > tools.go
go mod tidy >&2
log "building github.com/caraml-dev/mlp/api (first run only; a few minutes on 2 cores)"
nice go build -trimpath -ldflags "-s -w" -o "$OUT/bin/mlp-api.tmp" github.com/caraml-dev/mlp/api >&2
rm -rf "$OUT/db-migrations"; cp -r "$moddir/db-migrations" "$OUT/db-migrations"; chmod -R u+w "$OUT/db-migrations"
mv "$OUT/bin/mlp-api.tmp" "$OUT/bin/mlp-api"
rm -rf "$work"
echo "$OUT"
