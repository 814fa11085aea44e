#!/usr/bin/env bash
# Stand-in base images for building our Dockerfiles where no container registry is reachable,
# made from Debian 12 (bookworm) packages with mmdebstrap, under the names the Dockerfiles use:
#
#   docker.io/library/debian:12-slim              minbase Debian (+ ca-certificates, tzdata, netbase)
#   docker.io/library/node:24-bookworm-slim       the above + the pinned Node at /usr/local/bin/node
#   gcr.io/distroless/cc-debian12:nonroot         glibc, libgcc, libstdc++, libssl3, CA bundle, tzdata,
#                                                 /etc/passwd with nonroot (65532); no shell, no dpkg
#   gcr.io/distroless/nodejs24-debian12:nonroot   the above + the pinned Node at /nodejs/bin/node
#
# The Node binary is the one the repository pins (node_modules/node/bin/node, the npm `node`
# package; run `npm ci` first). These are NOT the upstream images: only what our builds need
# (same Debian release, glibc, libstdc++, paths, users and entrypoints). Use them for local and
# test builds; release images are built on the real, digest-pinned bases (scripts/images/build.sh).
#
# Inputs:  node_modules/node/bin/node; env DAP_CACHE_DIR (cache root, default
#          ~/.cache/dap-secret-webhook), DEBIAN_MIRROR (default http://deb.debian.org).
# Outputs: the four images in buildah's local storage (loaded from the cache when missing), their
#          OCI archives in $CACHE_ROOT/image-bases-<node version>-<key>/ (key: hash of this script's
#          code, comments aside),
#          and on stdout one line per image: "IMAGE<TAB>ARCHIVE".
# Needs:   root (mmdebstrap --mode=root, buildah mount), buildah, mmdebstrap; installed with
#          apt-get when missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
. "$root/test/e2e/provision/lib.sh"
log() { echo "[images: stand-in bases] $*" >&2; }

NODE_BIN="$root/node_modules/node/bin/node"
[[ -x "$NODE_BIN" ]] || { log "$NODE_BIN is missing: run 'npm ci' first (the npm package 'node' pins Node 24)"; exit 1; }
NODE_VERSION="$("$NODE_BIN" --version)"; NODE_VERSION="${NODE_VERSION#v}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org}"
# Comment-only edits keep the key.
KEY="$(grep -v '^ *#' "$0" | sha256sum | cut -c1-12)"
DIR="$CACHE_ROOT/image-bases-node$NODE_VERSION-$KEY"

DEBIAN=docker.io/library/debian:12-slim
NODE=docker.io/library/node:24-bookworm-slim
CC=gcr.io/distroless/cc-debian12:nonroot
NODEJS=gcr.io/distroless/nodejs24-debian12:nonroot
# image name -> archive file in $DIR
declare -A FILE=([$DEBIAN]=debian-12-slim.tar [$NODE]=node-24-bookworm-slim.tar [$CC]=cc-debian12-nonroot.tar [$NODEJS]=nodejs24-debian12-nonroot.tar)
ORDER=("$DEBIAN" "$NODE" "$CC" "$NODEJS")
# Marks the stand-ins, so nobody mistakes one for the upstream image (`buildah inspect`).
STANDIN_LABEL="dev.caraml.dap-secret-webhook.standin=debian-bookworm-mmdebstrap"

ensure_tools() {
  local need=()
  command -v buildah >/dev/null || need+=(buildah)
  command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
  [[ ${#need[@]} -eq 0 ]] || apt_install "building stand-in base images needs ${need[*]}" "${need[@]}"
  [[ $(id -u) == 0 ]] || { log "building stand-in bases needs root (mmdebstrap --mode=root, buildah mount)"; exit 1; }
}

# Loads every archive whose image is missing from buildah's storage (a new machine, a pruned store)
# or was replaced there: another checkout's stand-in version may have taken the same name.
image_id() { buildah images --noheading --no-trunc --format '{{.ID}}' "$1" 2>/dev/null | head -n 1 | sed 's/^sha256://'; }
load_and_print() {
  local image want
  for image in "${ORDER[@]}"; do
    want="$(sed -n "s|^$image ||p" "$DIR/ids")"
    if [[ "$(image_id "$image")" != "$want" ]]; then
      log "loading $image from $DIR/${FILE[$image]}"
      buildah pull --quiet "oci-archive:$DIR/${FILE[$image]}" >/dev/null
      [[ "$(image_id "$image")" == "$want" ]] || { log "$image in buildah's storage is not $want after loading $DIR/${FILE[$image]}"; exit 1; }
    fi
    printf '%s\t%s\n' "$image" "$DIR/${FILE[$image]}"
  done
}

if [[ -f "$DIR/done" ]] && command -v buildah >/dev/null; then load_and_print; exit 0; fi
ensure_tools
lock_entry "$DIR"
if [[ -f "$DIR/done" ]]; then load_and_print; exit 0; fi

log "building into $DIR (mmdebstrap: a few minutes once)"
work="$DIR.tmp"
rm -rf "$work" "$DIR"
mkdir -p "$work"
containers=()
cleanup() {
  local c
  for c in "${containers[@]}"; do buildah rm "$c" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# --- one Debian root filesystem, the source of every stand-in ------------------------------------
rootfs="$work/rootfs"
mmdebstrap --quiet --mode=root --variant=minbase --include=ca-certificates,tzdata,netbase,libssl3 \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  bookworm "$rootfs" \
  "deb $MIRROR/debian bookworm main" "deb $MIRROR/debian bookworm-updates main" \
  "deb $MIRROR/debian-security bookworm-security main" >&2
# mmdebstrap left the host's resolver config for its hooks; an image carries none of its own.
: >"$rootfs/etc/resolv.conf"
rm -rf "$rootfs/var/lib/apt/lists/"* "$rootfs/var/cache/apt/"*.bin

# new_image IMAGE_FROM: a working container; prints its name.
new_image() {
  local c
  c=$(buildah from --quiet --pull=never "$1")
  containers+=("$c")
  echo "$c"
}
# fill CONTAINER DIR: copies DIR's tree into the container's root, owners and modes kept.
fill() {
  local mnt
  mnt=$(buildah mount "$1")
  tar -C "$2" -cf - . | tar -C "$mnt" -xpf - --numeric-owner
  buildah umount "$1" >/dev/null
}
# finish CONTAINER IMAGE: commits it under IMAGE and writes its OCI archive into the cache dir.
finish() {
  buildah config --label "$STANDIN_LABEL" "$1"
  buildah commit --quiet --format oci --rm "$1" "$2" >/dev/null
  buildah push --quiet "$2" "oci-archive:$work/${FILE[$2]}:$2" >&2
  echo "$2 $(image_id "$2")" >>"$work/ids"
  log "built $2"
}
PATH_ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# --- debian:12-slim ------------------------------------------------------------------------------
c=$(new_image scratch)
fill "$c" "$rootfs"
buildah config --os linux --arch amd64 --env "$PATH_ENV" --cmd '["bash"]' "$c"
finish "$c" "$DEBIAN"

# --- node:24-bookworm-slim: Node at /usr/local/bin/node, user node (1000) ------------------------
c=$(new_image "$DEBIAN")
mnt=$(buildah mount "$c")
install -m 0755 "$NODE_BIN" "$mnt/usr/local/bin/node"
echo 'node:x:1000:' >>"$mnt/etc/group"
echo 'node:x:1000:1000::/home/node:/bin/bash' >>"$mnt/etc/passwd"
install -d -o 1000 -g 1000 -m 0755 "$mnt/home/node"
buildah umount "$c" >/dev/null
buildah config --env NODE_VERSION="$NODE_VERSION" --entrypoint '[]' --cmd '["node"]' "$c"
finish "$c" "$NODE"

# --- distroless cc-debian12:nonroot: only the files of the runtime libraries' packages -----------
# As distroless does: the packages' files without their maintainer scripts or dependencies (no
# shell, no dpkg, no apt), the CA bundle update-ca-certificates generated, users in /etc/passwd.
cc="$work/cc"
mkdir -p "$cc"/usr/{bin,sbin,lib,lib64}
for link in bin lib lib64 sbin; do ln -s "usr/$link" "$cc/$link"; done # merged /usr, as bookworm
list="$work/cc.files"
dpkg-query --admindir="$rootfs/var/lib/dpkg" -L libc6 libgcc-s1 libstdc++6 libssl3 tzdata netbase base-files |
  while IFS= read -r path; do
    [[ "$path" == /* && -e "$rootfs$path" || -L "$rootfs$path" ]] || continue
    [[ -d "$rootfs$path" && ! -L "$rootfs$path" ]] && continue # directories come with their files
    case "$path" in /usr/share/doc/* | /usr/share/lintian/* | /usr/share/man/* | /usr/share/base-files/*) continue ;; esac
    # Resolve the parent (/lib -> /usr/lib): the tree below has real directories only under usr/.
    parent="$(readlink -f "$rootfs$(dirname "$path")")"
    echo "${parent#"$rootfs"}/$(basename "$path")"
  done | sort -u >"$list"
# base-files ships dash-free /etc files (os-release, issue); drop anything that could run as a shell.
grep -vE '^/usr/(s?bin)/' "$list" >"$list.kept" || true
(cd "$rootfs" && sed 's|^/||' "$list.kept" | tar -cf - --no-recursion -T -) | tar -C "$cc" -xpf - --numeric-owner
install -D -m 0644 "$rootfs/etc/ssl/certs/ca-certificates.crt" "$cc/etc/ssl/certs/ca-certificates.crt"
[[ -f "$rootfs/etc/nsswitch.conf" ]] && install -m 0644 "$rootfs/etc/nsswitch.conf" "$cc/etc/nsswitch.conf"
cat >"$cc/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
cat >"$cc/etc/group" <<'EOF'
root:x:0:
nobody:x:65534:
tty:x:5:
staff:x:50:
nonroot:x:65532:
EOF
install -d -m 0700 "$cc/root"
install -d -m 0700 -o 65532 -g 65532 "$cc/home/nonroot"
install -d -m 1777 "$cc/tmp"
for shell in sh bash dash; do
  [[ ! -e "$cc/usr/bin/$shell" ]] || { log "the distroless stand-in has a shell ($shell): the package list above is wrong"; exit 1; }
done
c=$(new_image scratch)
fill "$c" "$cc"
buildah config --os linux --arch amd64 --env "$PATH_ENV" --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
  --user 65532 --workingdir /home/nonroot "$c"
finish "$c" "$CC"

# --- distroless nodejs24-debian12:nonroot: Node at /nodejs/bin/node, its entrypoint --------------
c=$(new_image "$CC")
mnt=$(buildah mount "$c")
install -D -m 0755 "$NODE_BIN" "$mnt/nodejs/bin/node"
buildah umount "$c" >/dev/null
buildah config --entrypoint '["/nodejs/bin/node"]' --cmd '[]' "$c"
finish "$c" "$NODEJS"

rm -rf "$rootfs" "$cc" "$list" "$list.kept"
echo "debian bookworm via mmdebstrap; node $NODE_VERSION; $(date -u +%FT%TZ)" >"$work/done"
mv "$work" "$DIR"
trap - EXIT
load_and_print
