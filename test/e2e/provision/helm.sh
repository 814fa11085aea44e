#!/usr/bin/env bash
# The `helm` CLI, built from its Go module and cached (see go-tool.sh). Prints its path.
set -euo pipefail
HELM_VERSION="${HELM_VERSION:-v4.3.1}"
module="helm.sh/helm/${HELM_VERSION%%.*}"   # helm.sh/helm/v4
exec "$(dirname "$0")/go-tool.sh" helm "$HELM_VERSION" "$module" "$module/cmd/helm" "-X $module/internal/version.version=$HELM_VERSION"
