# Sourced by the provision scripts: where the cache lives, and the two patterns they all need.
# Each script defines log() before calling these.
CACHE_ROOT="${DAP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dap-secret-webhook}"

# lock_entry PATH: holds PATH.lock until the script ends, so two runs (the harness provisions
# lazily, several test processes may ask at once) never build one cache entry together. The
# caller checks the cache again afterwards: the other run may have built it meanwhile.
lock_entry() {
  mkdir -p "$(dirname "$1")"
  exec 9>"$1.lock"
  flock 9
}

# apt_install WHY PACKAGE...: installs Debian packages unattended when root; otherwise says the
# one command to run, and fails.
apt_install() {
  local why="$1"
  shift
  if [[ $(id -u) != 0 ]]; then
    log "$why, and installing it needs root: run 'sudo apt-get install -y $*'"
    exit 1
  fi
  log "installing $* from Debian's packages ($why)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  # Another provisioning run (or helper) may hold dpkg's lock: wait for it rather than fail.
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$@" >&2
}
