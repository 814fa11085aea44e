#!/usr/bin/env bash
# `npm run images`: builds both product images from Dockerfile.webhook and Dockerfile.fetcher with a
# real builder, tags them with the chart's appVersion and writes one OCI archive per image.
#
# Inputs (all optional):
#   DAP_IMAGE_BASES     registry (default): the Dockerfiles' own pinned bases, pulled fresh;
#                       standin: stand-ins made from Debian packages (scripts/images/standin-bases.sh)
#                       for machines without a container registry (needs root and buildah)
#   DAP_IMAGE_BUILDER   buildah | podman | docker (default: the first one found, in that order;
#                       none found and root: Debian's buildah is installed)
#   DAP_IMAGE_REPO      repository prefix (default ghcr.io/caraml-dev)
#   DAP_IMAGE_TAG       tag (default: appVersion from deploy/helm/dap-secret-webhook/Chart.yaml,
#                       the tag the chart deploys when image.tag is empty)
#   DAP_IMAGES_DIR      where the archives go (default dist/images)
#   DAP_IMAGES_ONLY     webhook | fetcher: build just that one (default: both)
#   DAP_IMAGES_CONTEXT  build context holding the Dockerfiles and dist/ (default: the repository,
#                       whose dist/ is rebuilt when stale); the tests point it at a broken fetcher
# Outputs:
#   images  $DAP_IMAGE_REPO/dap-secret-webhook:$TAG and $DAP_IMAGE_REPO/dap-secret-fetcher:$TAG in
#           the builder's local storage
#   files   $DAP_IMAGES_DIR/dap-secret-webhook.oci.tar, $DAP_IMAGES_DIR/dap-secret-fetcher.oci.tar
#           (OCI archives: `ctr -n k8s.io images import`, `skopeo copy oci-archive:…`, `podman load`;
#           with docker as the builder: `docker save` archives, which `docker load` and ctr take)
#   stdout  one line per image: "IMAGE<TAB>ARCHIVE"; progress and a summary go to stderr
# dist/ is built first (npm run build) when missing or older than the sources.
# Exit status: non-zero when a build fails, e.g. when a verify stage finds that the bundle or the
# fetcher executable does not start on a bare Debian/Node 24 system.
set -euo pipefail
case "${1:-}" in
  '') ;;
  -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "[images] no arguments are taken (settings are env vars); see: npm run images -- --help" >&2; exit 2 ;;
esac
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
. test/e2e/provision/lib.sh
log() { echo "[images] $*" >&2; }

BASES="${DAP_IMAGE_BASES:-registry}"
REPO="${DAP_IMAGE_REPO:-ghcr.io/caraml-dev}"
OUT="${DAP_IMAGES_DIR:-$root/dist/images}"
APP_VERSION="$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' deploy/helm/dap-secret-webhook/Chart.yaml)"
[[ -n "$APP_VERSION" ]] || { log "no appVersion in deploy/helm/dap-secret-webhook/Chart.yaml"; exit 1; }
TAG="${DAP_IMAGE_TAG:-$APP_VERSION}"
WEBHOOK="$REPO/dap-secret-webhook:$TAG"
FETCHER="$REPO/dap-secret-fetcher:$TAG"
CONTEXT="${DAP_IMAGES_CONTEXT:-$root}"
ONLY="${DAP_IMAGES_ONLY:-}"
case "$BASES" in registry | standin) ;; *) log "DAP_IMAGE_BASES must be registry or standin, not '$BASES'"; exit 2 ;; esac
case "$ONLY" in '' | webhook | fetcher) ;; *) log "DAP_IMAGES_ONLY must be webhook or fetcher, not '$ONLY'"; exit 2 ;; esac

# --- the builder ---------------------------------------------------------------------------------
builder="${DAP_IMAGE_BUILDER:-}"
if [[ -z "$builder" ]]; then
  for candidate in buildah podman docker; do
    # A docker CLI without a reachable engine cannot build.
    if command -v "$candidate" >/dev/null && { [[ $candidate != docker ]] || docker info >/dev/null 2>&1; }; then
      builder=$candidate
      break
    fi
  done
fi
if [[ -z "$builder" || ( $BASES == standin && $builder == docker ) ]]; then
  # The stand-in bases live in buildah's storage (which podman shares).
  builder=buildah
  command -v buildah >/dev/null || apt_install "no image builder found (buildah, podman or docker)" buildah
fi
command -v "$builder" >/dev/null || { log "DAP_IMAGE_BUILDER=$builder is not installed"; exit 1; }

# --- dist/ ---------------------------------------------------------------------------------------
[[ -n "${DAP_IMAGES_CONTEXT:-}" ]] || "$root/scripts/images/ensure-dist.sh"

# --- the bases -----------------------------------------------------------------------------------
webhook_args=() fetcher_args=() pull=()
if [[ $BASES == standin ]]; then
  "$root/scripts/images/standin-bases.sh" >/dev/null
  # Tags only: the stand-ins cannot have the upstream digests the Dockerfile pins.
  webhook_args=(--build-arg NODE_IMAGE=docker.io/library/node:24-bookworm-slim
    --build-arg RUNTIME_IMAGE=gcr.io/distroless/nodejs24-debian12:nonroot)
  fetcher_args=(--build-arg VERIFY_IMAGE=docker.io/library/debian:12-slim
    --build-arg RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot)
  pull=(--pull=never)
else
  # Always from the registry: a stand-in left in local storage under a base's tag must not leak
  # into a release build.
  case $builder in docker) pull=(--pull) ;; *) pull=(--pull=always) ;; esac
fi

revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
[[ $revision == unknown ]] || git diff --quiet HEAD -- 2>/dev/null || revision="$revision-dirty"
created="$(git log -1 --format=%cI 2>/dev/null || date -u +%FT%TZ)"
common=(--platform linux/amd64 --build-arg "VERSION=$APP_VERSION" --build-arg "REVISION=$revision" --build-arg "CREATED=$created")
case $builder in
  # chroot isolation (buildah, podman): RUN steps without runc's namespaces, which a root lacking CAP_SYS_RESOURCE
  # (containers, some VMs) cannot set up (oom_score_adj); the build's RUN steps need no isolation.
  buildah) build=(buildah bud --isolation "${BUILDAH_ISOLATION:-chroot}" --layers --format oci) ;;
  podman) build=(podman build --isolation "${BUILDAH_ISOLATION:-chroot}" --layers --format oci) ;;
  docker) build=(docker build) ;;
esac

build_one() { # IMAGE DOCKERFILE ARGS...
  local image=$1 file=$2
  shift 2
  log "building $image from $file ($BASES bases, $builder)"
  if ! "${build[@]}" "${common[@]}" "${pull[@]}" "$@" --iidfile "$iids/$(basename "$image")" -f "$CONTEXT/$file" -t "$image" "$CONTEXT" >&2; then
    log "building $image from $file failed (see the step above; a failing RUN in the verify stage means the program does not start in its base image)"
    [[ $BASES == standin ]] || log "if a base image could not be pulled (no registry reachable): DAP_IMAGE_BASES=standin npm run images builds on stand-ins made from Debian packages (not for release)"
    exit 1
  fi
}
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
# Each build's image ID: the archives are written from it, not from the tag, which another build on
# the same machine (shared storage) may move in between.
iids="$(mktemp -d)"
trap 'rm -rf "$iids"' EXIT
images=() archives=()
if [[ $ONLY != fetcher ]]; then
  build_one "$WEBHOOK" Dockerfile.webhook "${webhook_args[@]}"
  images+=("$WEBHOOK") archives+=("$OUT/dap-secret-webhook.oci.tar")
fi
if [[ $ONLY != webhook ]]; then
  build_one "$FETCHER" Dockerfile.fetcher "${fetcher_args[@]}"
  images+=("$FETCHER") archives+=("$OUT/dap-secret-fetcher.oci.tar")
fi

# --- archives ------------------------------------------------------------------------------------
save() { # IMAGE FILE
  local id
  id="$(cat "$iids/$(basename "$1")")"
  rm -f "$2.tmp"
  case $builder in
    buildah) buildah push --quiet "${id#sha256:}" "oci-archive:$2.tmp:$1" >&2 ;;
    podman) podman save --quiet --format oci-archive -o "$2.tmp" "$1" ;; # by name: podman names the archive after its argument
    docker) docker save -o "$2.tmp" "$1" ;;
  esac
  mv "$2.tmp" "$2"
}
for i in "${!images[@]}"; do save "${images[$i]}" "${archives[$i]}"; done
for i in "${!images[@]}"; do
  log "built ${images[$i]} -> ${archives[$i]} ($(du -h "${archives[$i]}" | cut -f1))"
  printf '%s\t%s\n' "${images[$i]}" "${archives[$i]}"
done
if [[ $BASES == standin ]]; then
  log "these images sit on stand-in bases made from Debian packages, for tests without a registry; build release images with the default DAP_IMAGE_BASES=registry"
fi
