#!/usr/bin/env bash
# A virtualenv with the real flytekit from PyPI, pinned, cached outside the repository keyed by
# version. Prints the venv's python on stdout.
set -euo pipefail
FLYTEKIT_VERSION="${FLYTEKIT_VERSION:-1.16.31}"
CACHE_ROOT="${DAP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dap-secret-webhook}"
VENV="$CACHE_ROOT/flytekit-$FLYTEKIT_VERSION"
if [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c 'import flytekit' 2>/dev/null; then
  echo "$VENV/bin/python"; exit 0
fi
echo "[provision flytekit $FLYTEKIT_VERSION] creating $VENV" >&2
rm -rf "$VENV.tmp"
python3 -m venv "$VENV.tmp"
"$VENV.tmp/bin/pip" install --quiet "flytekit==$FLYTEKIT_VERSION" >&2
rm -rf "$VENV"; mv "$VENV.tmp" "$VENV"
# venv scripts embed their path; recreate the console scripts' shebangs is unnecessary: we only run bin/python.
"$VENV/bin/python" -c 'import flytekit' >&2
echo "$VENV/bin/python"
