#!/usr/bin/env bash
# Removes everything a real-node run leaves on the host: run before each run (an aborted one —
# SIGKILL, power loss — may have left it) and after it. Idempotent. Needs root.
#
# What it removes (see test/node/README.md for who writes what):
#  - every process in the run's pids cgroup tree /sys/fs/cgroup/pids/dap-node (the harness, the
#    control plane, containerd and its shims, the kubelet, kube-proxy and every container: the
#    kubelet's cgroupRoot is /dap-node), by PID, then the cgroup dirs in every v1 hierarchy;
#  - the container mounts (rootfs overlays, pod volumes, the CNI netns bind mounts) under the
#    dirs below, then the dirs themselves;
#  - the network namespace dap-node (everything inside — node IP, pod bridge, iptables — goes with it).
set -uo pipefail
NETNS=dap-node
CG=dap-node
paths=(
  /run/dap-node            # containerd state + socket, CNI config, host-local IPAM, harness lock-free state
  /var/lib/dap-node        # containerd root (images, snapshots), kubelet root-dir (pods, volumes, plugins)
  /var/log/dap-node        # kubelet podLogsDir
  /run/containerd          # containerd 1.6 shim sockets (s/), fixed path
  /var/lib/cni             # libcni result cache (go-cni default), fixed path
)
log() { echo "[node cleanup] $*" >&2; }
t=$(date +%s%N); steps=()
step() { local now; now=$(date +%s%N); steps+=("$1 $(( (now - t) / 1000000 )) ms"); t=$now; }

# 1. Processes: loop, as a dying shim may still fork or the kubelet restart a container.
for _ in $(seq 1 50); do
  pids=$(find "/sys/fs/cgroup/pids/$CG" -name cgroup.procs -exec cat {} + 2>/dev/null | grep -vx "$$" | sort -u)
  [[ -z "$pids" ]] && break
  # shellcheck disable=SC2086
  kill -9 $pids 2>/dev/null
  sleep 0.1
done
[[ -n "${pids:-}" ]] && log "processes still in /sys/fs/cgroup/pids/$CG: $pids"
step processes

# 2. Mounts under our dirs and the CNI netns mounts containerd made (/run/netns/cni-*), deepest first.
for _ in 1 2 3; do
  mounts=$(awk '{print $5}' /proc/self/mountinfo | grep -E '^(/run/dap-node|/var/lib/dap-node|/run/containerd|/run/netns/cni-)' | sort -r)
  [[ -z "$mounts" ]] && break
  for m in $mounts; do umount -l "$m" 2>/dev/null; done
done
rm -f /run/netns/cni-* 2>/dev/null
step mounts

# 3. Dirs. containerd's overlay snapshots may hold read-only (immutable-free) trees: rm -rf suffices.
for p in "${paths[@]}"; do rm -rf "$p" 2>/dev/null || log "could not remove $p"; done
# The kubelet's symlinks in the fixed /var/log/containers point into our podLogsDir.
if [[ -d /var/log/containers ]]; then
  find /var/log/containers -maxdepth 1 -type l -lname '/var/log/dap-node/*' -delete 2>/dev/null
  rmdir /var/log/containers 2>/dev/null
fi
step dirs

# 4. cgroups in every v1 hierarchy (and the v2 mount, if any), children before parents.
for h in /sys/fs/cgroup/*/; do
  [[ -d "$h$CG" ]] || continue
  find "$h$CG" -depth -type d -exec rmdir {} \; 2>/dev/null
  [[ -d "$h$CG" ]] && log "cgroup $h$CG still there"
done
step cgroups

# 5. The network namespace.
if ip netns list 2>/dev/null | grep -qw "$NETNS"; then ip netns delete "$NETNS" || log "could not delete netns $NETNS"; fi
step netns
log "${steps[*]}"
exit 0
