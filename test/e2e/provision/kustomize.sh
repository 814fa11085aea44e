#!/usr/bin/env bash
# The `kustomize` CLI, built from its Go module and cached (see go-tool.sh). Prints its path.
# v5.8.2 is the newest release whose go.mod accepts the machine's Go 1.26 (v5.8.3 needs Go 1.27,
# and GOTOOLCHAIN=local keeps Go from fetching a newer toolchain).
set -euo pipefail
KUSTOMIZE_VERSION="${KUSTOMIZE_VERSION:-v5.8.2}"
module="sigs.k8s.io/kustomize/kustomize/v5"
exec "$(dirname "$0")/go-tool.sh" kustomize "$KUSTOMIZE_VERSION" "$module" "$module" "-X sigs.k8s.io/kustomize/api/provenance.version=$KUSTOMIZE_VERSION"
