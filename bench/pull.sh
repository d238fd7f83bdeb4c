#!/bin/bash
# Compare `cove pull` with rootless `podman pull` from a registry on loopback.
# Run as root; see bench/README.md. Environment knobs:
#   ROUNDS=5          cold-pull rounds per tool
#   REPULL_ROUNDS=10  re-pull rounds per tool
#   TOOLS="podman cove"  which tools to measure
#   TIMER=date|hyperfine  how to time (default: hyperfine if installed)
#   COVE=path         cove binary (default target/x86_64-unknown-linux-gnu/release/cove)
set -euo pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$BENCH/.." && pwd)
CACHE=$BENCH/.cache
ROUNDS=${ROUNDS:-5}
REPULL_ROUNDS=${REPULL_ROUNDS:-10}
TOOLS=${TOOLS:-podman cove}
COVE=${COVE:-$REPO/target/x86_64-unknown-linux-gnu/release/cove}
NAME=pull.sh
# shellcheck source=lib/common.sh
. "$BENCH/lib/common.sh"

[ "$(id -u)" = 0 ] || die "run as root (it installs packages and creates the $BUSER user)"

# --- 0. tools -----------------------------------------------------------------
bench_tools docker-registry:docker-registry skopeo:skopeo podman:podman runc:runc \
    newuidmap:uidmap debootstrap:debootstrap fuse-overlayfs:fuse-overlayfs \
    slirp4netns:slirp4netns curl:curl python3:python3

# --- 1. image -----------------------------------------------------------------
# shellcheck source=lib/debian.sh
. "$BENCH/lib/debian.sh"
debian_layout
GZ_SIZE=$(stat -c %s "$CACHE/layer.tar.gz")
TAR_SIZE=$(cat "$CACHE/layer.tar.size")

# --- 2. registry ----------------------------------------------------------------
REG_PID=
cleanup() {
    if [ -n "$REG_PID" ]; then
        kill "$REG_PID" 2>/dev/null || true
        wait "$REG_PID" 2>/dev/null || true
    fi
    # The stores of every round (as root: sub-uid owned files included).
    if [ -n "${STORES:-}" ]; then
        rm -rf "$STORES" "$COVE_ROOT" "$PODMAN_ROOT" "$PODMAN_RUNROOT" 2>/dev/null || true
    fi
    # The pause process cove started for the bench user's run root, if it is still ours.
    local pid
    pid=$(cat "${COVE_RUNROOT:-/nonexistent}/pause.pid" 2>/dev/null) || pid=
    if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = cove-pause ]; then
        kill "$pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$CACHE/registry/data"
cat >"$CACHE/registry/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $CACHE/registry/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$PORT
EOF
docker-registry serve "$CACHE/registry/config.yml" >"$CACHE/registry/log" 2>&1 &
REG_PID=$!
for _ in $(seq 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$PORT/v2/" 2>/dev/null && break
    kill -0 "$REG_PID" 2>/dev/null || { cat "$CACHE/registry/log" >&2; die "registry exited"; }
    sleep 0.1
done
curl -fsS -o /dev/null "http://127.0.0.1:$PORT/v2/" || die "registry did not answer on 127.0.0.1:$PORT"
IMAGE=127.0.0.1:$PORT/debian:bookworm
say "registry on 127.0.0.1:$PORT (pid $REG_PID); pushing $IMAGE"
skopeo copy -q --dest-tls-verify=false "oci:$CACHE/oci:latest" "docker://$IMAGE" >/dev/null

# --- 3. bench user ----------------------------------------------------------------
id "$BUSER" >/dev/null 2>&1 || useradd -m -s /bin/bash "$BUSER"
HOMEDIR=$(getent passwd "$BUSER" | cut -d: -f6)
for f in subuid subgid; do
    if ! grep -q "^$BUSER:" "/etc/$f"; then
        start=$(awk -F: 'BEGIN{m=100000} {e=$2+$3; if (e>m) m=e} END{print m}' "/etc/$f")
        usermod "--add-${f}s" "$start-$((start + 65535))" "$BUSER"
    fi
done
mkdir -p "$RUNDIR"
chown "$BUSER:" "$RUNDIR"
chmod 0700 "$RUNDIR"

cfg=$HOMEDIR/.config/containers
mkdir -p "$cfg" "$HOMEDIR/bench"
cat >"$cfg/containers.conf" <<'EOF'
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
cat >"$cfg/storage.conf" <<'EOF'
[storage]
driver = "overlay"
EOF
cat >"$cfg/registries.conf" <<EOF
unqualified-search-registries = []

[[registry]]
location = "127.0.0.1:$PORT"
insecure = true
EOF
COVE_ROOT=$HOMEDIR/bench/cove-root
COVE_RUNROOT=$RUNDIR/cove-runroot
install -m 0755 "$BENCH/lib/timeit.sh" "$HOMEDIR/bench/timeit.sh"
# Each cold round pulls into a store that has never been used: the clean-up points a
# symlink at a new empty directory instead of deleting the last store. On this machine's
# ext4, creating thousands of files right after deleting thousands slows every create
# (the allocator steps around recently freed inodes), which would bill the deletes to the
# next pull. The old stores are removed once, at exit. The run root of cove stays (it holds
# the user's pause process); podman gets a fresh run root with each store.
STORES=$HOMEDIR/bench/stores
PODMAN_ROOT=$HOMEDIR/bench/podman-root
PODMAN_RUNROOT=$RUNDIR/podman-bench-run
rm -rf "$STORES" "$COVE_ROOT" "$PODMAN_ROOT" "$PODMAN_RUNROOT"
mkdir -p "$STORES"
cat >"$HOMEDIR/bench/podman-clean.sh" <<EOF
#!/bin/sh
ts=\$(date +%s%N)
mkdir -p $STORES/p\$ts/root $STORES/p\$ts/run
ln -sfn $STORES/p\$ts/root $PODMAN_ROOT
ln -sfn $STORES/p\$ts/run $PODMAN_RUNROOT
sync
EOF
cat >"$HOMEDIR/bench/cove-clean.sh" <<EOF
#!/bin/sh
ts=\$(date +%s%N)
mkdir -p $STORES/c\$ts
ln -sfn $STORES/c\$ts $COVE_ROOT
sync
EOF
chmod 0755 "$HOMEDIR/bench/"*-clean.sh
chown -R "$BUSER:" "$HOMEDIR/.config" "$HOMEDIR/bench"

as_user() {
    (cd "$HOMEDIR" && runuser -u "$BUSER" -- env -i HOME="$HOMEDIR" USER="$BUSER" LOGNAME="$BUSER" \
        XDG_RUNTIME_DIR="$RUNDIR" PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin TIMER="$TIMER" "$@")
}

say "podman info (first-time setup, untimed)"
as_user podman info >"$CACHE/podman-info.log" 2>&1 ||
    { cat "$CACHE/podman-info.log" >&2; die "podman info failed as $BUSER"; }

# --- 4. timing ----------------------------------------------------------------------
declare -A MED MIN ERR
# measure TOOL PULL_CMD CLEAN_SCRIPT
measure() {
    local tool=$1 pull=$2 clean=$3 out=$HOMEDIR/bench/times log=$CACHE/$1.err
    say "$tool: check pull"
    if ! as_user sh -c "$clean && $pull" >"$log" 2>&1; then
        ERR[$tool]="$(cat "$log")"
        return
    fi
    say "$tool: $ROUNDS cold pulls"
    if ! as_user "$HOMEDIR/bench/timeit.sh" "$ROUNDS" "$out" "$clean" "$pull" 2>"$log"; then
        ERR[$tool]="$(cat "$log")"
        return
    fi
    read -r "MED[$tool,cold]" "MIN[$tool,cold]" < <(python3 "$BENCH/lib/stats.py" <"$out")
    say "$tool: $REPULL_ROUNDS re-pulls"
    if ! as_user "$HOMEDIR/bench/timeit.sh" "$REPULL_ROUNDS" "$out" "" "$pull" 2>"$log"; then
        ERR[$tool]="$(cat "$log")"
        return
    fi
    read -r "MED[$tool,re]" "MIN[$tool,re]" < <(python3 "$BENCH/lib/stats.py" <"$out")
}

for tool in $TOOLS; do
    case $tool in
    podman)
        measure podman "podman --root $PODMAN_ROOT --runroot $PODMAN_RUNROOT pull -q --tls-verify=false $IMAGE" \
            "$HOMEDIR/bench/podman-clean.sh"
        ;;
    cove)
        if [ ! -x "$COVE" ]; then
            say "building cove (cargo build --release)"
            (cd "$REPO" && cargo build --release >&2) || true
        fi
        if [ ! -x "$COVE" ]; then
            ERR[cove]="no cove binary at $COVE"
            continue
        fi
        install -m 0755 "$COVE" "$HOMEDIR/bench/cove"
        measure cove "$HOMEDIR/bench/cove --root $COVE_ROOT --runroot $COVE_RUNROOT pull -q --tls-verify=false $IMAGE" \
            "$HOMEDIR/bench/cove-clean.sh"
        ;;
    *) die "unknown tool in TOOLS: $tool" ;;
    esac
done

# --- report ---------------------------------------------------------------------------
fmt() { # seconds -> "0.84 s" or "6 ms"
    python3 -c 'import sys; t=float(sys.argv[1]); print(f"{t:.2f} s" if t >= 1 else f"{t*1000:.0f} ms")' "$1"
}
cell() { # KIND TOOL PHASE
    local -n arr=$1
    if [ -n "${arr[$2,$3]:-}" ]; then fmt "${arr[$2,$3]}"; else echo "-"; fi
}
ratio() { # KIND PHASE
    local -n arr=$1
    if [ -n "${arr[cove,$2]:-}" ] && [ -n "${arr[podman,$2]:-}" ]; then
        python3 -c 'import sys; print(f"{float(sys.argv[1])/float(sys.argv[2]):.2f}")' "${arr[cove,$2]}" "${arr[podman,$2]}"
    else
        echo "-"
    fi
}
echo
printf 'image %s: one layer, %s compressed (%d bytes), %s uncompressed\n' "$IMAGE" \
    "$(numfmt --to=iec --suffix=B "$GZ_SIZE")" "$GZ_SIZE" "$(numfmt --to=iec --suffix=B "$TAR_SIZE")"
printf 'cold: %d rounds, re-pull: %d rounds, timer: %s, load average now: %s\n' "$ROUNDS" "$REPULL_ROUNDS" \
    "$TIMER" "$(cut -d' ' -f1-3 /proc/loadavg)"
for kind in MED MIN; do
    [ $kind = MED ] && title=median || title=min
    echo
    printf '%-17s%-10s%-10s%s\n' "$title" cove podman ratio
    printf '%-17s%-10s%-10s%s\n' "pull (cold)" "$(cell $kind cove cold)" "$(cell $kind podman cold)" "$(ratio $kind cold)"
    printf '%-17s%-10s%-10s%s\n' "re-pull" "$(cell $kind cove re)" "$(cell $kind podman re)" "$(ratio $kind re)"
done

rc=0
for tool in $TOOLS; do
    if [ -n "${ERR[$tool]:-}" ]; then
        echo
        echo "$tool failed:"
        echo "${ERR[$tool]}" | tail -20
        rc=1
    fi
done
exit $rc
