# Shared pieces of the bench scripts (sourced, run as root): messages, a loopback registry,
# the unprivileged bench user and a way to run commands as it, a busybox image, formatting.
# The caller sets BENCH (the bench/ directory) and NAME (its own name, for messages).

BUSER=covebench
RUNDIR=/tmp/covebench-run

die() { echo "${NAME:-bench}: $*" >&2; exit 1; }
say() { echo "== $*" >&2; }

# bench_tools PKG... : install the Debian packages whose command is missing, plus hyperfine;
# each argument is COMMAND:PACKAGE. Sets TIMER (hyperfine or date) unless already set.
bench_tools() {
    local need=() pair
    for pair in "$@"; do
        command -v "${pair%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${pair%%:*}" ] || need+=("${pair#*:}")
    done
    if [ ${#need[@]} -gt 0 ] || ! command -v hyperfine >/dev/null; then
        say "installing: ${need[*]:-} hyperfine"
        apt-get update -qq
        if [ ${#need[@]} -gt 0 ]; then
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null 2>&1 ||
            echo "hyperfine not installed; timing with date" >&2
    fi
    if [ -z "${TIMER:-}" ]; then
        if command -v hyperfine >/dev/null; then TIMER=hyperfine; else TIMER=date; fi
    fi
}

# busybox_layout DIR : a one-layer OCI layout (ref "latest") holding the host's static busybox
# and a few applet links, like scripts/demo.sh builds. Reused when DIR/.complete exists.
busybox_layout() {
    local dir=$1 tmp
    [ -f "$dir/.complete" ] && return 0
    file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' ||
        die "/bin/busybox is not static (install busybox-static)"
    tmp=$(mktemp -d)
    mkdir -p "$tmp/rootfs/bin" "$tmp/rootfs/tmp" "$tmp/rootfs/etc"
    cp /bin/busybox "$tmp/rootfs/bin/busybox"
    for applet in sh true sleep ls cat echo id ps; do ln -s busybox "$tmp/rootfs/bin/$applet"; done
    echo 'root:x:0:0:root:/root:/bin/sh' >"$tmp/rootfs/etc/passwd"
    echo 'root:x:0:' >"$tmp/rootfs/etc/group"
    chmod 1777 "$tmp/rootfs/tmp"
    tar --numeric-owner --owner=0 --group=0 --sort=name -C "$tmp/rootfs" -cf "$tmp/layer.tar" .
    gzip -n -6 -c "$tmp/layer.tar" >"$tmp/layer.tar.gz"
    python3 "$BENCH/lib/mklayout.py" "$tmp/layer.tar" "$tmp/layer.tar.gz" "$dir" >/dev/null
    stat -c %s "$tmp/layer.tar.gz" >"$dir/.gzsize"
    rm -rf "$tmp"
    touch "$dir/.complete"
}

# start_registry DIR : docker-registry on a free 127.0.0.1 port, data in DIR.
# Sets REG_PID and REG_PORT; the caller stops it with stop_registry.
REG_PID=
REG_PORT=
start_registry() {
    local dir=$1
    REG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    mkdir -p "$dir/data"
    cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$REG_PORT
EOF
    docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
    REG_PID=$!
    for _ in $(seq 100); do
        curl -fsS -o /dev/null "http://127.0.0.1:$REG_PORT/v2/" 2>/dev/null && return 0
        kill -0 "$REG_PID" 2>/dev/null || { cat "$dir/log" >&2; die "registry exited"; }
        sleep 0.1
    done
    die "registry did not answer on 127.0.0.1:$REG_PORT"
}
stop_registry() {
    if [ -n "$REG_PID" ]; then
        kill "$REG_PID" 2>/dev/null || true
        wait "$REG_PID" 2>/dev/null || true
        REG_PID=
    fi
}

# bench_user : the unprivileged user with a sub-ID range, its runtime dir and podman's
# configuration (runc, cgroupfs, native overlay, events in a file). Sets HOMEDIR.
bench_user() {
    local f start cfg
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
    mkdir -p "$cfg"
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
    chown -R "$BUSER:" "$HOMEDIR/.config"
}

# as_user CMD... : run as the bench user with a clean environment.
as_user() {
    (cd "$HOMEDIR" && runuser -u "$BUSER" -- env -i HOME="$HOMEDIR" USER="$BUSER" LOGNAME="$BUSER" \
        XDG_RUNTIME_DIR="$RUNDIR" PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin TIMER="$TIMER" "$@")
}

fmt_secs() { # seconds -> "0.84 s" or "6.1 ms"
    python3 -c 'import sys; t=float(sys.argv[1]); print(f"{t:.2f} s" if t >= 1 else f"{t*1000:.1f} ms")' "$1"
}
