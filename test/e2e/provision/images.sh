#!/usr/bin/env bash
# Every container image the real-node tier imports, as OCI archives, built with buildah on stand-in
# bases made from Debian packages (no registry is reachable), cached keyed by their inputs.
#
# Interface
#   run:     test/e2e/provision/images.sh          (root; installs buildah, mmdebstrap when missing)
#   needs:   node_modules (npm ci); when the images are built, dist/ is rebuilt first if missing or
#            stale (scripts/images/build.sh → ensure-dist.sh)
#   stdout:  one line per image, tab-separated: ROLE IMAGE ARCHIVE
#              webhook  ghcr.io/caraml-dev/dap-secret-webhook:<appVersion>  <cache>/images-<key>/dap-secret-webhook.oci.tar
#              fetcher  ghcr.io/caraml-dev/dap-secret-fetcher:<appVersion>  <cache>/images-<key>/dap-secret-fetcher.oci.tar
#              task     localhost/dap-e2e/flytekit-task:<flytekit version>  <cache>/image-task-flytekit-<v>-<key>/task.oci.tar
#            Each archive's index names its image (org.opencontainers.image.ref.name), so
#            `ctr -n k8s.io images import ARCHIVE` stores it under IMAGE. The webhook and fetcher
#            names are the chart's defaults (image.repository + appVersion) and what
#            `npm run images` builds.
#   env:     DAP_CACHE_DIR (cache root), FLYTEKIT_VERSION (default: flytekit.sh's pin)
#   cache:   product images keyed by the Dockerfiles, build.sh, Chart.yaml, the sources dist/ is
#            built from (webhook/, fetcher/, contract/, the build scripts, package*.json) and the
#            stand-in bases; the task image by flytekit's version, its Dockerfile and the bases.
#            Warm: about 1 s. Each entry is locked while built (lib.sh).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
. "$here/lib.sh"
log() { echo "[provision images] $*" >&2; }

need=()
command -v buildah >/dev/null || need+=(buildah)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
[[ ${#need[@]} -eq 0 ]] || apt_install "the real-node tier builds its images with ${need[*]}" "${need[@]}"

bases_dir="$(dirname "$("$root/scripts/images/standin-bases.sh" | head -n 1 | cut -f2)")"
bases_key="$(basename "$bases_dir")"

# --- webhook + fetcher: scripts/images/build.sh on the stand-ins ---------------------------------
# Keyed by what dist/ is built from, not by dist/ itself: the fetcher executable differs byte for
# byte between two builds of the same sources (its V8 code cache), and `npm test` rebuilds it.
inputs_key="$(
  cd "$root"
  {
    echo "$bases_key"
    find Dockerfile.webhook Dockerfile.fetcher scripts/images/build.sh deploy/helm/dap-secret-webhook/Chart.yaml \
      webhook fetcher contract scripts/build-webhook.mjs scripts/build-fetcher.mjs package.json package-lock.json \
      -type f | LC_ALL=C sort | xargs sha256sum
  } | sha256sum | cut -c1-16
)"
products="$CACHE_ROOT/images-$inputs_key"
built_products() { [[ -f "$products/images.tsv" ]]; }
if ! built_products; then
  lock_entry "$products"
  if ! built_products; then
    log "building the webhook and fetcher images into $products"
    rm -rf "$products.tmp" && mkdir -p "$products.tmp"
    DAP_IMAGE_BASES=standin DAP_IMAGES_DIR="$products.tmp" "$root/scripts/images/build.sh" >"$products.tmp/images.tsv.tmp"
    sed "s|$products.tmp|$products|" "$products.tmp/images.tsv.tmp" >"$products.tmp/images.tsv"
    rm "$products.tmp/images.tsv.tmp"
    rm -rf "$products" && mv "$products.tmp" "$products"
  fi
  exec 9>&- # release the lock
fi

# --- the Flyte task image: Debian python3 + flytekit --------------------------------------------
python="$("$here/flytekit.sh")" # the host's venv: its pip builds the wheels the image installs
FLYTEKIT_VERSION="$("$python" -c 'import importlib.metadata as m; print(m.version("flytekit"))')"
task_dockerfile="$here/task-image/Dockerfile"
task_key="$( { echo "$bases_key"; cat "$task_dockerfile"; } | sha256sum | cut -c1-12)"
task_dir="$CACHE_ROOT/image-task-flytekit-$FLYTEKIT_VERSION-$task_key"
TASK_IMAGE="localhost/dap-e2e/flytekit-task:$FLYTEKIT_VERSION"
if [[ ! -f "$task_dir/task.oci.tar" ]]; then
  lock_entry "$task_dir"
  if [[ ! -f "$task_dir/task.oci.tar" ]]; then
    log "building $TASK_IMAGE into $task_dir"
    rm -rf "$task_dir.tmp" && mkdir -p "$task_dir.tmp/wheels"
    "$python" -m pip wheel --quiet --wheel-dir "$task_dir.tmp/wheels" "flytekit==$FLYTEKIT_VERSION" >&2
    buildah bud --isolation "${BUILDAH_ISOLATION:-chroot}" --layers --format oci --pull=never \
      --build-arg BASE_IMAGE=docker.io/library/debian:12-slim --build-arg "FLYTEKIT_VERSION=$FLYTEKIT_VERSION" \
      -v "$task_dir.tmp/wheels:/wheels:ro" --iidfile "$task_dir.tmp/iid" -f "$task_dockerfile" -t "$TASK_IMAGE" "$here/task-image" >&2
    # By ID: another worktree's build may move the tag in between (shared storage).
    iid="$(cat "$task_dir.tmp/iid")"
    buildah push --quiet "${iid#sha256:}" "oci-archive:$task_dir.tmp/task.oci.tar:$TASK_IMAGE" >&2
    rm "$task_dir.tmp/iid"
    rm -rf "$task_dir.tmp/wheels" "$task_dir"
    mv "$task_dir.tmp" "$task_dir"
  fi
  exec 9>&-
fi

while IFS=$'\t' read -r image archive; do
  case "$image" in */dap-secret-webhook:*) role=webhook ;; */dap-secret-fetcher:*) role=fetcher ;; *) role=unknown ;; esac
  printf '%s\t%s\t%s\n' "$role" "$image" "$archive"
done <"$products/images.tsv"
printf 'task\t%s\t%s\n' "$TASK_IMAGE" "$task_dir/task.oci.tar"
