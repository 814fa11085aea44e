#!/usr/bin/env bash
# Builds the `helm` CLI from the Go module proxy (the only network here) into a cache outside the
# repository, keyed by version, so only the first run on a machine pays for the compile.
# Prints the absolute path of the binary on stdout.
set -euo pipefail
HELM_VERSION="${HELM_VERSION:-v4.3.1}"
CACHE_ROOT="${DAP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dap-secret-webhook}"
BIN="$CACHE_ROOT/tools-helm-$HELM_VERSION/bin"
if [[ -x "$BIN/helm" ]]; then echo "$BIN/helm"; exit 0; fi
log() { echo "[provision helm $HELM_VERSION] $*" >&2; }
command -v go >/dev/null || { log "go is required (apt-get install golang or the machine's Go)"; exit 1; }
major="${HELM_VERSION%%.*}"            # v4
module="helm.sh/helm/$major"
work="$(mktemp -d "${TMPDIR:-/tmp}/dap-helm-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$BIN"
cd "$work"
export GOFLAGS=-mod=mod GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
# A throw-away module that requires helm, so `go build` resolves helm's own pinned dependencies.
go mod init dap-helm-build >/dev/null 2>&1
log "resolving $module@$HELM_VERSION"
go get "$module@$HELM_VERSION" >&2
log "building (first run only; a few minutes on 2 cores)"
# `nice`: a Kubernetes or MLP build may be running on the same small machine.
nice -n 10 go build -trimpath -ldflags "-s -w -X $module/internal/version.version=$HELM_VERSION" -o "$BIN/helm.tmp" "$module/cmd/helm" >&2
mv "$BIN/helm.tmp" "$BIN/helm"
echo "$BIN/helm"
