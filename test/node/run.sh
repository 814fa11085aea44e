#!/usr/bin/env bash
# The real-node tier: `npm run test:node [-- mocha args]` (part of `npm test`). Needs root.
#
# One run per machine (flock): the kubelet, containerd and the CNI plugins write fixed host paths.
# Cleans up what an aborted run left, creates the network namespace dap-node with the node IP on a
# veth pair inside it and no route out, and runs mocha *inside* that namespace (nsenter --net only:
# same mounts and cgroups), so every server the tier starts — API server, MLP, the gateway, the
# kubelet — is reachable by pods and by the harness and by nothing outside. Afterwards (also on
# SIGINT/SIGTERM/SIGHUP) cleanup.sh removes every host path and process of the run.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
NETNS=dap-node
NODE_IP=10.213.0.2
CG=dap-node
export DAP_NODE_NETNS=$NETNS DAP_NODE_IP=$NODE_IP DAP_NODE_CGROUP=$CG
log() { echo "[node] $*" >&2; }
[[ $(id -u) == 0 ]] || { log "the real-node tier needs root (containerd, kubelet, network namespaces)"; exit 1; }

mkdir -p /run/lock
exec 8>/run/lock/dap-node.lock
if ! flock -n 8; then
  log "another real-node run holds /run/lock/dap-node.lock; waiting (up to 30 min)"
  flock -w 1800 8 || { log "gave up waiting for /run/lock/dap-node.lock"; exit 1; }
fi

t0=$(date +%s%N)
bash "$here/cleanup.sh"
# Provisioning (cached): the lookups are instant when warm; a cold machine builds here.
DAP_NODE_PROVISIONED="$(bash "$repo/test/e2e/provision/node.sh")"
# The images from our Dockerfiles + the flytekit task image (ROLE IMAGE ARCHIVE per line).
# DAP_NODE_IMAGES_TSV=FILE runs the tier on other archives in the same format (e.g. a broken fetcher).
mkdir -p /run/dap-node
if [[ -n "${DAP_NODE_IMAGES_TSV:-}" ]]; then cp "$DAP_NODE_IMAGES_TSV" /run/dap-node/images.tsv
else bash "$repo/test/e2e/provision/images.sh" > /run/dap-node/images.tsv; fi
export DAP_NODE_PROVISIONED DAP_NODE_IMAGES=/run/dap-node/images.tsv

# cgroups: the kubelet's cgroupRoot (/dap-node) must exist in every v1 hierarchy; the harness and
# everything it starts live in pids:/dap-node/harness, so cleanup.sh finds every process by cgroup.
for h in /sys/fs/cgroup/*/; do
  [[ "$h" == */unified/ ]] && continue
  mkdir -p "$h$CG"
  if [[ "$h" == */cpuset/ ]]; then
    cat "${h}cpuset.cpus" > "$h$CG/cpuset.cpus"
    cat "${h}cpuset.mems" > "$h$CG/cpuset.mems"
  fi
done
mkdir -p "/sys/fs/cgroup/pids/$CG/harness"

# containerd's root (content store + unpacked snapshots, ~1 GiB) on a tmpfs: importing is faster and
# the teardown is one unmount instead of deleting tens of thousands of files (~25 s on 2 cores).
mkdir -p /var/lib/dap-node/containerd
mount -t tmpfs -o size=6g,mode=0700 dap-node-containerd /var/lib/dap-node/containerd

ip netns add "$NETNS"
ip -n "$NETNS" link set lo up
# A veth pair with both ends inside: a non-loopback node IP with carrier, and nowhere to go.
ip -n "$NETNS" link add dapnode0 type veth peer name dapnode1
ip -n "$NETNS" addr add "$NODE_IP/24" dev dapnode0
ip -n "$NETNS" link set dapnode0 up
ip -n "$NETNS" link set dapnode1 up
# The Service range needs a route for traffic the node itself sends (the API server calling a
# webhook's ClusterIP): the kernel routes before kube-proxy's OUTPUT DNAT rewrites the address to a
# pod's. On the veth, so an address no Service holds still stays inside the namespace.
ip -n "$NETNS" route add 10.96.0.0/24 dev dapnode0 src "$NODE_IP"
ip netns exec "$NETNS" sysctl -qw net.ipv4.ip_forward=1
log "netns $NETNS ready (node IP $NODE_IP) in $(( ($(date +%s%N) - t0) / 1000000 )) ms"

child=
on_signal() { [[ -n "$child" ]] && kill -TERM "$child" 2>/dev/null; }
trap on_signal INT TERM HUP
set +e
(
  echo "$BASHPID" > "/sys/fs/cgroup/pids/$CG/harness/cgroup.procs"
  cd "$repo"
  export PATH="$repo/node_modules/.bin:$PATH"
  # A spec among the arguments (the bench's) runs alone; otherwise the tier's specs, with the
  # arguments as mocha options (`npm run test:node -- --grep rolling`).
  spec=("test/node/**/*.test.ts")
  for a in "$@"; do [[ "$a" == *.ts ]] && spec=(); done
  exec nsenter --net="/run/netns/$NETNS" -- mocha "${spec[@]}" "$@"
) 8>&- &
child=$!
wait "$child"; rc=$?
# A signal interrupts wait: wait again for mocha's own exit code.
while kill -0 "$child" 2>/dev/null; do wait "$child"; rc=$?; done
set -e
t1=$(date +%s%N)
bash "$here/cleanup.sh"
log "cleanup took $(( ($(date +%s%N) - t1) / 1000000 )) ms"
exit "$rc"
