#!/usr/bin/env bash
# cove's main job on a fresh machine with no internet: build the static binary, put a small
# busybox image into a registry on loopback, pull it, look at it and run containers from it.
# As root it first installs what it needs from Debian (docker-registry, skopeo, busybox-static).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -eq 0 ]; then
    need=()
    for p in docker-registry skopeo busybox-static uidmap libseccomp-dev; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
    done
    if [ "${#need[@]}" -gt 0 ]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    fi
fi

cargo build --release
cove=$PWD/target/x86_64-unknown-linux-gnu/release/cove

work=$(mktemp -d)
reg_pid=
cleanup() {
    [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null
    # Rootless layers belong to sub-UIDs: remove them from inside cove's namespace.
    "$cove" --root "$work/root" --runroot "$work/run" image prune -a -f >/dev/null 2>&1 || true
    # The pause process that held this demo's user namespace (rootless only).
    pid=$(cat "$work/run/pause.pid" 2>/dev/null) || pid=
    if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = cove-pause ]; then
        kill "$pid" 2>/dev/null || true
    fi
    rm -rf "$work" 2>/dev/null || true
}
trap cleanup EXIT

# A one-layer image: the static busybox and its applet links.
mkdir -p "$work/rootfs/bin" "$work/oci"
cp /bin/busybox "$work/rootfs/bin/busybox"
for applet in sh ls cat echo true id sleep; do ln -s busybox "$work/rootfs/bin/$applet"; done
tar --numeric-owner --owner=0 --group=0 -C "$work/rootfs" -cf "$work/layer.tar" .
gzip -kn "$work/layer.tar"
python3 bench/lib/mklayout.py "$work/layer.tar" "$work/layer.tar.gz" "$work/oci" >/dev/null

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/registry.yml" <<YML
version: 0.1
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:$port
YML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break; sleep 0.1; done
skopeo copy -q --dest-tls-verify=false "oci:$work/oci:latest" "docker://127.0.0.1:$port/busybox:latest"

export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$work}
c() { echo "+ cove $*"; "$cove" --root "$work/root" --runroot "$work/run" "$@"; }
c pull "127.0.0.1:$port/busybox"
c images
c image inspect --format '{{.Os}}/{{.Architecture}} {{.RootFS.Layers}}' "127.0.0.1:$port/busybox"
c run --rm "127.0.0.1:$port/busybox" echo hello from a container
c run -d --name demo "127.0.0.1:$port/busybox" sh -c 'echo started; sleep 30'
c ps
c exec demo id
c logs demo
c rm -f demo
c tag "127.0.0.1:$port/busybox" mybox:1
c images --format 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Size}}'
c rmi mybox:1 "127.0.0.1:$port/busybox"
