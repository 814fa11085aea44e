#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kube-proxy and
# agnhost (Kubernetes' e2e test image, for the bench's reference webhook) from the Go module proxy (no other
# network exists here) into a cache outside the repository, keyed by version, so only the first
# run on a machine pays for the compile. Prints the bin directory on stdout.
#
# The throw-away module requires k8s.io/kubernetes and pins every k8s.io/* staging module to
# the matching v0.x via `replace`, derived from kubernetes' own go.mod (which points them at
# ./staging). etcd is built from the same module graph at the version kubernetes pins.
set -euo pipefail
K8S_VERSION="${K8S_VERSION:-v1.34.4}"
. "$(dirname "$0")/lib.sh"
OUT="$CACHE_ROOT/k8s-$K8S_VERSION"
BIN="$OUT/bin"
CMDS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)
built() {
  local b
  for b in "${CMDS[@]}" etcd agnhost; do [[ -x "$BIN/$b" ]] || return 1; done
}
if built; then echo "$BIN"; exit 0; fi
lock_entry "$OUT"
if built; then echo "$BIN"; exit 0; fi
log() { echo "[provision k8s $K8S_VERSION] $*" >&2; }
command -v go >/dev/null || { log "go is required (apt-get install golang or the machine's Go)"; exit 1; }
work="$OUT/src"; rm -rf "$work"; mkdir -p "$work" "$BIN"
cd "$work"
export GOFLAGS=-mod=mod GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
log "downloading k8s.io/kubernetes@$K8S_VERSION go.mod"
gomod=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
staging_v="v0.${K8S_VERSION#v1.}"
{
  echo "module dap-k8s-build"
  echo "go $(go env GOVERSION | sed -E 's/^go([0-9]+\.[0-9]+).*/\1/')"
  echo "require k8s.io/kubernetes $K8S_VERSION"
  # kubernetes' go.mod: `k8s.io/foo => ./staging/src/k8s.io/foo` becomes `k8s.io/foo => k8s.io/foo v0.x.y`
  grep -Eo 'k8s\.io/[a-z0-9-]+ => \./staging/src/k8s\.io/[a-z0-9-]+' "$gomod" | awk -v v="$staging_v" '{print "replace " $1 " => " $1 " " v}'
} > go.mod
cat > tools.go <<'GO'
//go:build tools
package tools
import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/test/images/agnhost"
	_ "go.etcd.io/etcd/server/v3"
)
GO
etcd_v=$(grep -Eo 'go\.etcd\.io/etcd/client/v3 v[0-9.]+' "$gomod" | awk '{print $2}' | head -1)
log "resolving modules (etcd $etcd_v)"
go get "k8s.io/kubernetes@$K8S_VERSION" "go.etcd.io/etcd/server/v3@$etcd_v" >&2
ld="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2)"
for cmd in "${CMDS[@]}"; do
  [[ -x "$BIN/$cmd" ]] && continue
  log "building $cmd (first run only; several minutes on 2 cores)"
  go build -trimpath -ldflags "$ld" -o "$BIN/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd" >&2
  mv "$BIN/$cmd.tmp" "$BIN/$cmd"
done
if [[ ! -x "$BIN/agnhost" ]]; then
  log "building agnhost"
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$BIN/agnhost.tmp" k8s.io/kubernetes/test/images/agnhost >&2
  mv "$BIN/agnhost.tmp" "$BIN/agnhost"
fi
[[ -x "$BIN/etcd" ]] || { log "building etcd"; go build -trimpath -ldflags "-s -w" -o "$BIN/etcd.tmp" go.etcd.io/etcd/server/v3 >&2
mv "$BIN/etcd.tmp" "$BIN/etcd"; }
rm -rf "$work"
echo "$BIN"
