#!/usr/bin/env bash
# TEMPORARY stand-in images until the `images` branch's Dockerfile builds land: scratch images
# holding a host binary and the shared libraries it needs (ldd), packaged with buildah.
# Usage: build.sh OUTDIR  → OUTDIR/{webhook,fetcher,task}.oci.tar
set -euo pipefail
repo="$(cd "$(dirname "$0")/../../.." && pwd)"
out="$1"; mkdir -p "$out"
py=$(bash "$repo/test/e2e/provision/flytekit.sh")
venv=$(dirname "$(dirname "$py")")
node_bin=$(readlink -f "$repo/node_modules/node/bin/node")

copy_with_libs() { # ROOT FILE...
  local root=$1; shift
  local f lib
  for f in "$@"; do
    cp -a --parents "$f" "$root" 2>/dev/null || true
    for lib in $(ldd "$f" 2>/dev/null | grep -Eo '/[^ ]+\.so[^ ]*' | sort -u); do
      [[ -e "$root$lib" ]] || cp -L --parents "$lib" "$root"
    done
  done
}
image() { # NAME USER ENTRYPOINT_JSON ROOTFS
  local c; c=$(buildah from scratch)
  buildah copy "$c" "$4" / >/dev/null
  buildah config --user "$2" --entrypoint "$3" "$c"
  buildah commit --quiet "$c" "localhost/dap-stand-in/$1:dev" >/dev/null
  buildah rm "$c" >/dev/null
  rm -f "$out/$1.oci.tar"
  buildah push --quiet "localhost/dap-stand-in/$1:dev" "oci-archive:$out/$1.oci.tar:localhost/dap-stand-in/$1:dev" >/dev/null
}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# fetcher: the SEA + glibc/libstdc++
r="$tmp/fetcher"; mkdir -p "$r/usr/local/bin" "$r/etc/ssl/certs"
install -m 0555 "$repo/dist/dap-secret-fetcher" "$r/usr/local/bin/dap-secret-fetcher"
copy_with_libs "$r" "$repo/dist/dap-secret-fetcher"
image fetcher 65532:65532 '["/usr/local/bin/dap-secret-fetcher"]' "$r"

# webhook: node + the bundle, node at /nodejs/bin/node as in distroless
r="$tmp/webhook"; mkdir -p "$r/nodejs/bin" "$r/app" "$r/tmp"
install -m 0555 "$node_bin" "$r/nodejs/bin/node"
copy_with_libs "$r" "$node_bin"
cp -r "$repo/dist/webhook/." "$r/app/"
image webhook 65532:65532 '["/nodejs/bin/node", "--max-semi-space-size=8", "/app/dap-secret-webhook.mjs"]' "$r"

# task: python3 + the flytekit venv at the same path
r="$tmp/task"; mkdir -p "$r/tmp" "$r/usr/bin"; chmod 1777 "$r/tmp"
pybin=$(readlink -f /usr/bin/python3)
copy_with_libs "$r" "$pybin"
ln -sf "$(basename "$pybin")" "$r/usr/bin/python3"
mkdir -p "$r/usr/lib"; cp -a /usr/lib/python3.11 "$r/usr/lib/"
mkdir -p "$r$(dirname "$venv")"; cp -a "$venv" "$r$(dirname "$venv")/"
for so in $(find "$venv" /usr/lib/python3.11/lib-dynload -name '*.so*'); do copy_with_libs "$r" "$so"; done
image task 0:0 "[\"$venv/bin/python\"]" "$r"
ls -la "$out"
