#!/usr/bin/env bash
# Everything the end-to-end tests need, from the registries this machine reaches, cached outside
# the repository keyed by version. Idempotent: a warm run takes seconds.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
"$here/k8s.sh" >/dev/null
"$here/flytekit.sh" >/dev/null
"$here/flyte-pods.sh" >/dev/null
"$here/postgres.sh" >/dev/null && "$here/mlp.sh" >/dev/null
"$here/helm.sh" >/dev/null && "$here/kustomize.sh" >/dev/null
# The real-node tier (test/node): containerd, runc, CNI plugins, iptables, buildah; the pause image;
# the webhook and fetcher images from our Dockerfiles and the flytekit task image.
"$here/node.sh" >/dev/null && "$here/images.sh" >/dev/null
# The pinned Node for linux-arm64 and qemu (the arm64 fetcher, npm run build:fetcher:arm64).
"$here/node-arm64.sh" >/dev/null
