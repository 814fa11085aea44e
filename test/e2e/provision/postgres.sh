#!/usr/bin/env bash
# PostgreSQL server binaries from Debian's packages, for the throw-away clusters the real-MLP
# tests start (test/support/real-mlp/postgres.ts runs initdb/postgres and stops them by PID).
# Installs `postgresql` unattended when no server binaries are present. Prints the bin directory
# holding initdb and postgres on stdout.
set -euo pipefail
log() { echo "[provision postgres] $*" >&2; }
find_bin() {
  # Debian keeps each major version's server under /usr/lib/postgresql/<major>/bin; take the newest.
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [[ -n "$d" && -x "$d/initdb" && -x "$d/postgres" ]] && echo "$d"
}
if bin=$(find_bin); then echo "$bin"; exit 0; fi
if [[ $(id -u) != 0 ]]; then
  log "PostgreSQL server binaries are missing and installing them needs root: run 'sudo apt-get install -y postgresql'"
  exit 1
fi
log "installing postgresql from Debian's packages (first run only)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends postgresql >&2
# The package starts a system-wide cluster on :5432 through its service scripts where it can;
# the tests never use it and run their own clusters.
bin=$(find_bin) || { log "postgresql installed but no initdb/postgres under /usr/lib/postgresql/*/bin"; exit 1; }
echo "$bin"
