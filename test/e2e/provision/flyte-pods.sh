#!/usr/bin/env bash
# The pods FlytePropeller v1.16.8 creates for the tasks in test/flyte-pods/tasks.py, made by
# Flyte's own code: real flytekit compiles the tasks (`pyflyte package`), and the Go program in
# test/flyte-pods/generator runs them through propeller's k8s plugin manager. Everything is cached
# outside the repository (keyed by the versions and a hash of the inputs), so only the first run on
# a machine pays for the Go build (~5 min on 2 cores) and the virtualenv. Prints the directory that
# holds one <task>.json per task on stdout.
set -euo pipefail
FLYTE_VERSION=v1.16.8            # github.com/flyteorg/flyte/* Go modules (generator/go.mod)
FLYTEKIT_VERSION="${FLYTEKIT_VERSION:-1.16.31}"
KUBERNETES_PY_VERSION=37.0.3     # flytekit's PodTemplate takes the kubernetes client's V1PodSpec
here="$(cd "$(dirname "$0")" && pwd)"
src="$(cd "$here/../../flyte-pods" && pwd)"
. "$here/lib.sh"
log() { echo "[provision flyte-pods] $*" >&2; }

inputs_hash() {
  (cd "$src" && cat tasks.py cluster-pod-template.json generator/go.mod generator/go.sum generator/main.go generator/spark-operator-stub/go.mod
   cat "$here/flyte-pods.sh"; echo "$FLYTE_VERSION $FLYTEKIT_VERSION $KUBERNETES_PY_VERSION") | sha256sum | cut -c1-16
}
OUT="$CACHE_ROOT/flyte-pods-$FLYTE_VERSION-$(inputs_hash)"
if [[ -f "$OUT/done" ]]; then echo "$OUT/pods"; exit 0; fi

# 1. flytekit + the kubernetes client, in a virtualenv of their own (flytekit.sh's has no kubernetes).
VENV="$CACHE_ROOT/flyte-pods-venv-flytekit-$FLYTEKIT_VERSION-kubernetes-$KUBERNETES_PY_VERSION"
if [[ ! -f "$VENV/done" ]]; then
  lock_entry "$VENV"
  if [[ ! -f "$VENV/done" ]]; then
    python3 -c 'import ensurepip; ensurepip.version()' >/dev/null 2>&1 || apt_install "python3 cannot create virtualenvs (no ensurepip)" python3-venv
    log "creating $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "flytekit==$FLYTEKIT_VERSION" "kubernetes==$KUBERNETES_PY_VERSION" >&2
    touch "$VENV/done"
  fi
  exec 9>&-
fi

# 2. The generator, built once per source hash.
BIN="$CACHE_ROOT/flyte-pods-generator-$FLYTE_VERSION-$( (cd "$src/generator" && cat go.mod go.sum main.go spark-operator-stub/go.mod) | sha256sum | cut -c1-16)"
if [[ ! -x "$BIN/flytepods" ]]; then
  lock_entry "$BIN"
  if [[ ! -x "$BIN/flytepods" ]]; then
    command -v go >/dev/null || { log "go is required to build Flyte's pod-building code"; exit 1; }
    log "building the generator against github.com/flyteorg/flyte/*@$FLYTE_VERSION (first run only; minutes on 2 cores)"
    mkdir -p "$BIN"
    (cd "$src/generator" && GOFLAGS=-mod=readonly GOTOOLCHAIN="${GOTOOLCHAIN:-local}" nice -n 10 go build -trimpath -o "$BIN/flytepods.tmp" .) >&2
    mv "$BIN/flytepods.tmp" "$BIN/flytepods"
  fi
  exec 9>&-
fi

# 3. Compile the tasks and make the pods.
lock_entry "$OUT"
if [[ -f "$OUT/done" ]]; then echo "$OUT/pods"; exit 0; fi
work="$(mktemp -d "${TMPDIR:-/tmp}/dap-flyte-pods.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cp "$src/tasks.py" "$work/"
log "compiling test/flyte-pods/tasks.py with flytekit $FLYTEKIT_VERSION (pyflyte package)"
# `python -m`: the venv's console scripts are not needed; flytekit makes temp dirs at import, so
# TMPDIR keeps them in the work dir. The image and version are fixed so the output is reproducible.
(cd "$work" && TMPDIR="$work" "$VENV/bin/python" -m flytekit.clis.sdk_in_container.pyflyte \
  --pkgs tasks package --image registry.example.com/flyte/task:1.0 --output "$work/package.tgz" --force) >&2
mkdir -p "$work/specs" "$work/pods"
tar -xzf "$work/package.tgz" -C "$work/specs"
"$BIN/flytepods" -in "$work/specs" -out "$work/pods" -pod-template "$src/cluster-pod-template.json"
rm -rf "$OUT/pods"; mkdir -p "$OUT"; mv "$work/pods" "$OUT/pods"
touch "$OUT/done"
echo "$OUT/pods"
