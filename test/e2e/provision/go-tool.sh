#!/usr/bin/env bash
# Builds one Go command-line tool from the Go module proxy (the only network here) into a cache
# outside the repository, keyed by name and version, so only the first run on a machine pays for
# the compile. Prints the absolute path of the binary on stdout.
#
#   go-tool.sh NAME VERSION MODULE PACKAGE [LDFLAGS]
#
# A throw-away module requires MODULE@VERSION, so `go build` resolves the tool's own pinned
# dependencies (a module with `replace` directives cannot be `go install`ed by version).
set -euo pipefail
name="$1" version="$2" module="$3" package="$4" ldflags="${5:-}"
. "$(dirname "$0")/lib.sh"
BIN="$CACHE_ROOT/tools-$name-$version/bin"
if [[ -x "$BIN/$name" ]]; then echo "$BIN/$name"; exit 0; fi
lock_entry "$CACHE_ROOT/tools-$name-$version"
if [[ -x "$BIN/$name" ]]; then echo "$BIN/$name"; exit 0; fi
log() { echo "[provision $name $version] $*" >&2; }
command -v go >/dev/null || { log "go is required (apt-get install golang or the machine's Go)"; exit 1; }
work="$(mktemp -d "${TMPDIR:-/tmp}/dap-$name-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$BIN"
cd "$work"
export GOFLAGS=-mod=mod GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
go mod init "dap-$name-build" >/dev/null 2>&1
log "resolving $module@$version"
go get "$module@$version" >&2
log "building (first run only; a few minutes on 2 cores)"
# `nice`: a Kubernetes or MLP build may be running on the same small machine.
nice -n 10 go build -trimpath -ldflags "-s -w $ldflags" -o "$BIN/$name.tmp" "$package" >&2
mv "$BIN/$name.tmp" "$BIN/$name"
echo "$BIN/$name"
