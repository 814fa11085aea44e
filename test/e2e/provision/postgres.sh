#!/usr/bin/env bash
# PostgreSQL server binaries from Debian's packages, for the throw-away clusters the real-MLP
# tests start (test/support/real-mlp/postgres.ts runs initdb/postgres and stops them by PID).
# Installs `postgresql` unattended when no server binaries are present. Prints the bin directory
# holding initdb and postgres on stdout.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
log() { echo "[provision postgres] $*" >&2; }
find_bin() {
  # Debian keeps each major version's server under /usr/lib/postgresql/<major>/bin; take the newest.
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [[ -n "$d" && -x "$d/initdb" && -x "$d/postgres" ]] && echo "$d"
}
if bin=$(find_bin); then echo "$bin"; exit 0; fi
apt_install "PostgreSQL server binaries are missing" postgresql
# The package starts a system-wide cluster on :5432 through its service scripts where it can;
# the tests never use it and run their own clusters.
bin=$(find_bin) || { log "postgresql installed but no initdb/postgres under /usr/lib/postgresql/*/bin"; exit 1; }
echo "$bin"
