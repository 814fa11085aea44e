#!/usr/bin/env bash
# What the real-node tier (test/node) needs besides the Kubernetes binaries (k8s.sh):
#  - Debian's containerd 1.6, runc, the CNI plugins (bridge, host-local, loopback, portmap),
#    iptables (kube-proxy's and the bridge plugin's rules) and buildah (packages the pause image);
#  - the pod sandbox ("pause") image, built here from Kubernetes' own build/pause/linux/pause.c in
#    the k8s.io/kubernetes module (no registry exists to pull one), as an OCI archive.
# Cached per Kubernetes version; prints the cache directory (pause.oci.tar, pause.ref) on stdout.
set -euo pipefail
K8S_VERSION="${K8S_VERSION:-v1.34.4}"
. "$(dirname "$0")/lib.sh"
log() { echo "[provision node $K8S_VERSION] $*" >&2; }
OUT="$CACHE_ROOT/node-$K8S_VERSION"
PAUSE_REF="localhost/dap-node/pause:$K8S_VERSION"

packages=(containerd runc containernetworking-plugins iptables buildah iproute2 gcc libc6-dev)
missing() {
  local p
  for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done
}
built() { [[ -s "$OUT/pause.oci.tar" && -s "$OUT/pause.ref" ]]; }
if [[ -z "$(missing)" ]] && built; then echo "$OUT"; exit 0; fi
lock_entry "$OUT"
need=($(missing))
if ((${#need[@]})); then
  # DPkg::Lock::Timeout: another provisioning run may hold apt's lock.
  apt_install "the real-node tier runs containerd, runc, CNI plugins and iptables, and builds its pause image with buildah" "${need[@]}"
fi
if built; then echo "$OUT"; exit 0; fi

command -v go >/dev/null || { log "go is required to download the k8s.io/kubernetes module (pause.c)"; exit 1; }
work="$OUT/src"; rm -rf "$work"; mkdir -p "$work"
log "compiling build/pause/linux/pause.c from k8s.io/kubernetes@$K8S_VERSION (static)"
dir=$(GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
gcc -Os -static -Wall -Werror -DVERSION="$K8S_VERSION" -o "$work/pause" "$dir/build/pause/linux/pause.c"
strip "$work/pause"
log "packaging $PAUSE_REF with buildah"
ctr=$(buildah from scratch)
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
buildah copy --chmod 0555 "$ctr" "$work/pause" /pause >/dev/null
# As upstream's image: runs as 65535, entrypoint /pause.
buildah config --entrypoint '["/pause"]' --user 65535:65535 --os linux --arch amd64 "$ctr"
buildah commit --quiet "$ctr" "$PAUSE_REF" >/dev/null
rm -f "$OUT/pause.oci.tar.tmp"
buildah push --quiet "$PAUSE_REF" "oci-archive:$OUT/pause.oci.tar.tmp:$PAUSE_REF" >/dev/null
mv "$OUT/pause.oci.tar.tmp" "$OUT/pause.oci.tar"
echo "$PAUSE_REF" > "$OUT/pause.ref"
rm -rf "$work"
echo "$OUT"
