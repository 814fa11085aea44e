#!/usr/bin/env bash
# A virtualenv with the real flytekit from PyPI, pinned, cached outside the repository keyed by
# version. Prints the venv's python on stdout.
#
# `python3 -m venv` needs ensurepip, which Debian ships apart from python3 (python3-venv); it is
# installed unattended when missing and running as root, as postgres.sh does for PostgreSQL.
set -euo pipefail
FLYTEKIT_VERSION="${FLYTEKIT_VERSION:-1.16.31}"
. "$(dirname "$0")/lib.sh"
# Keyed by the Python too: a venv is bound to the interpreter it was made with.
PYTHON_VERSION="$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
VENV="$CACHE_ROOT/flytekit-$FLYTEKIT_VERSION-python$PYTHON_VERSION"
# Written last: a venv without it is a build that did not finish (it is built in place, below).
COMPLETE="$VENV/.complete"
log() { echo "[provision flytekit $FLYTEKIT_VERSION] $*" >&2; }
# The installed version from the package metadata: importing flytekit would leave /tmp/flyte* dirs.
has_pinned_flytekit() {
  [[ -f "$COMPLETE" && -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c '
import importlib.metadata as m, sys
sys.exit(m.version("flytekit") != sys.argv[1])' "$FLYTEKIT_VERSION" 2>/dev/null
}
# `import ensurepip` alone is not enough: without Debian's package an empty directory would still
# import as a namespace package; version() needs the module and its bundled wheels.
has_ensurepip() { python3 -c 'import ensurepip; ensurepip.version()' >/dev/null 2>&1; }

if has_pinned_flytekit; then echo "$VENV/bin/python"; exit 0; fi
lock_entry "$VENV"
if has_pinned_flytekit; then echo "$VENV/bin/python"; exit 0; fi

if ! has_ensurepip; then
  apt_install "python3 cannot create virtualenvs (no ensurepip)" python3-venv
  has_ensurepip || { log "python3-venv is installed but $(command -v python3) still has no ensurepip; install python$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')-venv or put Debian's python3 first on PATH"; exit 1; }
fi

# Built where it stays: pip writes the venv's absolute path into every console script's shebang
# (bin/pyflyte, bin/pip), so a venv built elsewhere and moved has scripts that do not run.
log "creating $VENV"
rm -rf "$VENV"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet "flytekit==$FLYTEKIT_VERSION" >&2
# One real import proves the install works; flytekit makes temp dirs at import, so give it its own.
scratch=$(mktemp -d "${TMPDIR:-/tmp}/dap-flytekit-check.XXXXXX")
TMPDIR="$scratch" "$VENV/bin/python" -c 'import flytekit' >&2 || { rm -rf "$scratch"; log "flytekit $FLYTEKIT_VERSION installed but does not import"; exit 1; }
# ...and so does one console script (its shebang names this venv's python).
TMPDIR="$scratch" "$VENV/bin/pyflyte" --help >/dev/null || { rm -rf "$scratch"; log "flytekit $FLYTEKIT_VERSION installed but bin/pyflyte does not run"; exit 1; }
rm -rf "$scratch"
touch "$COMPLETE"
echo "$VENV/bin/python"
