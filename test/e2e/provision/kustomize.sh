#!/usr/bin/env bash
# Builds the `kustomize` CLI from the Go module proxy into a cache outside the repository, keyed
# by version. Prints the absolute path of the binary on stdout.
#
# v5.8.2 is the newest release whose go.mod accepts the machine's Go 1.26 (v5.8.3 needs Go 1.27,
# and GOTOOLCHAIN=local keeps Go from fetching a newer toolchain).
set -euo pipefail
KUSTOMIZE_VERSION="${KUSTOMIZE_VERSION:-v5.8.2}"
CACHE_ROOT="${DAP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dap-secret-webhook}"
BIN="$CACHE_ROOT/tools-kustomize-$KUSTOMIZE_VERSION/bin"
if [[ -x "$BIN/kustomize" ]]; then echo "$BIN/kustomize"; exit 0; fi
log() { echo "[provision kustomize $KUSTOMIZE_VERSION] $*" >&2; }
command -v go >/dev/null || { log "go is required (apt-get install golang or the machine's Go)"; exit 1; }
module="sigs.k8s.io/kustomize/kustomize/v5"
work="$(mktemp -d "${TMPDIR:-/tmp}/dap-kustomize-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$BIN"
cd "$work"
export GOFLAGS=-mod=mod GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
go mod init dap-kustomize-build >/dev/null 2>&1
log "resolving $module@$KUSTOMIZE_VERSION"
go get "$module@$KUSTOMIZE_VERSION" >&2
log "building (first run only)"
nice -n 10 go build -trimpath -ldflags "-s -w -X sigs.k8s.io/kustomize/api/provenance.version=$KUSTOMIZE_VERSION" -o "$BIN/kustomize.tmp" "$module" >&2
mv "$BIN/kustomize.tmp" "$BIN/kustomize"
echo "$BIN/kustomize"
