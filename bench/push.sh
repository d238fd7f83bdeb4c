#!/bin/bash
# Compare `cove push`, `save` and `load` with rootless podman's on the Debian minbase image
# (one gzip layer, ~47 MB; see lib/debian.sh), with registries on loopback. Run as root; see
# bench/README.md. Environment knobs:
#   ROUNDS=5             timed rounds of cold push, save and load
#   WARM_ROUNDS=10       timed rounds of warm push
#   TOOLS="podman cove"  which tools to measure
#   TIMER=date|hyperfine how to time (default: hyperfine if installed)
#   COVE=path            cove binary (default target/x86_64-unknown-linux-gnu/release/cove)
set -euo pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$BENCH/.." && pwd)
NAME=push.sh
# shellcheck source=lib/common.sh
. "$BENCH/lib/common.sh"
CACHE=$BENCH/.cache
ROUNDS=${ROUNDS:-5}
WARM_ROUNDS=${WARM_ROUNDS:-10}
TOOLS=${TOOLS:-podman cove}
COVE=${COVE:-$REPO/target/x86_64-unknown-linux-gnu/release/cove}

[ "$(id -u)" = 0 ] || die "run as root (it installs packages and creates the $BUSER user)"
bench_tools docker-registry:docker-registry skopeo:skopeo podman:podman runc:runc conmon:conmon \
    newuidmap:uidmap debootstrap:debootstrap curl:curl python3:python3

# shellcheck source=lib/debian.sh
. "$BENCH/lib/debian.sh"
debian_layout
bench_user
W=$HOMEDIR/pushbench
RW=$RUNDIR/pushbench
STORES=$W/stores

# The destination registry runs as the bench user, so that the untimed step before each
# cold round (as that user) can give it an empty storage: stop it, delete its data, start
# it again on the same port.
DEST_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DEST=$W/dest-registry

clean_trees() {
    local pid
    pid=$(tr -dc 0-9 <"$DEST/pid" 2>/dev/null || true)
    if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = docker-registry ] &&
        [ "$(stat -c %U "/proc/$pid")" = "$BUSER" ]; then
        kill "$pid" 2>/dev/null || true
    fi
    pid=$(tr -dc 0-9 <"$RW/cove/pause.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = cove-pause ] &&
        [ "$(stat -c %U "/proc/$pid")" = "$BUSER" ]; then
        kill "$pid" 2>/dev/null || true
    fi
    rm -rf "$W" "$RW"
}
cleanup() {
    clean_trees
    stop_registry
}
trap cleanup EXIT
clean_trees

start_registry "$CACHE/push-src-registry"
SRC=127.0.0.1:$REG_PORT/debian:bookworm
say "source registry on 127.0.0.1:$REG_PORT (pid $REG_PID); pushing $SRC"
skopeo copy -q --dest-tls-verify=false "oci:$CACHE/oci:latest" "docker://$SRC" >/dev/null

mkdir -p "$W" "$RW" "$DEST" "$STORES"
cat >"$DEST/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $DEST/data
http:
  addr: 127.0.0.1:$DEST_PORT
EOF
cat >"$W/fresh-registry.sh" <<EOF
#!/bin/sh
# An empty destination registry (untimed, before each cold push).
pid=\$(cat $DEST/pid 2>/dev/null)
[ -n "\$pid" ] && kill \$pid 2>/dev/null && while kill -0 \$pid 2>/dev/null; do sleep 0.02; done
rm -rf $DEST/data
docker-registry serve $DEST/config.yml >$DEST/log 2>&1 &
echo \$! >$DEST/pid
for i in \$(seq 200); do
    curl -fsS -o /dev/null http://127.0.0.1:$DEST_PORT/v2/ 2>/dev/null && exit 0
    sleep 0.02
done
exit 1
EOF
# A new empty store for each load round, behind a symlink (see pull.sh for why not delete).
cat >"$W/fresh-store.sh" <<EOF
#!/bin/sh
ts=\$(date +%s%N)
mkdir -p $STORES/\$ts/root $STORES/\$ts/run
ln -sfn $STORES/\$ts/root $W/load-root
ln -sfn $STORES/\$ts/run $RW/load-run
rm -f $W/saved.tar
sync
EOF
chmod 0755 "$W/"*.sh
install -m 0755 "$BENCH/lib/timeit.sh" "$W/timeit.sh"
chown -R "$BUSER:" "$W" "$RW"
DIMG=127.0.0.1:$DEST_PORT/debian:bookworm

declare -A MED MIN ERR
timed() { # TOOL KEY ROUNDS PREPARE COMMAND
    local out=$W/times log=$CACHE/push-$1.err
    say "$1: $3 x $5"
    if ! as_user "$W/timeit.sh" "$3" "$out" "$4" "$5" 2>"$log"; then
        ERR[$1]="timing '$5' failed: $(tail -20 "$log")"
        return 1
    fi
    read -r "MED[$1,$2]" "MIN[$1,$2]" < <(python3 "$BENCH/lib/stats.py" <"$out")
}
step() { # TOOL WHAT CMD...
    local tool=$1 what=$2 out=$CACHE/push-$1.out
    shift 2
    if ! as_user "$@" >"$out" 2>&1; then
        ERR[$tool]="$what failed: $*
$(tail -20 "$out")"
        return 1
    fi
}

# measure TOOL STORE_CMD LOAD_CMD
measure() {
    local tool=$1 x=$2 l=$3
    step "$tool" pull $x pull -q --tls-verify=false "$SRC" || return 0
    step "$tool" tag $x tag "$SRC" "$DIMG" || return 0
    step "$tool" "first push" sh -c "$W/fresh-registry.sh && $x push --tls-verify=false $DIMG" || return 0
    timed "$tool" cold "$ROUNDS" "$W/fresh-registry.sh" "$x push -q --tls-verify=false $DIMG" || return 0
    timed "$tool" warm "$WARM_ROUNDS" "" "$x push -q --tls-verify=false $DIMG" || return 0
    timed "$tool" save "$ROUNDS" "rm -f $W/$tool.tar" "$x save -o $W/$tool.tar $DIMG" || return 0
    step "$tool" "keep the archive" cp "$W/$tool.tar" "$W/$tool-keep.tar" || return 0
    timed "$tool" load "$ROUNDS" "$W/fresh-store.sh" "$l load -q -i $W/$tool-keep.tar" || return 0
}

as_user podman info >"$CACHE/push-podman-info.log" 2>&1 || true
for tool in $TOOLS; do
    case $tool in
    podman)
        measure podman "podman --root $W/podman-root --runroot $RW/podman" \
            "podman --root $W/load-root --runroot $RW/load-run"
        ;;
    cove)
        [ -x "$COVE" ] || (cd "$REPO" && cargo build --release >&2) || true
        [ -x "$COVE" ] || { ERR[cove]="no cove binary at $COVE"; continue; }
        install -o "$BUSER" -m 0755 "$COVE" "$W/cove"
        measure cove "$W/cove --root $W/cove-root --runroot $RW/cove" \
            "$W/cove --root $W/load-root --runroot $RW/cove"
        ;;
    *) die "unknown tool in TOOLS: $tool" ;;
    esac
done

cell() { # KIND TOOL PHASE
    local -n arr=$1
    if [ -n "${arr[$2,$3]:-}" ]; then fmt_secs "${arr[$2,$3]}"; else echo "-"; fi
}
ratio() { # PHASE
    if [ -n "${MED[cove,$1]:-}" ] && [ -n "${MED[podman,$1]:-}" ]; then
        python3 -c 'import sys; print(f"{float(sys.argv[1])/float(sys.argv[2]):.3f}")' "${MED[cove,$1]}" "${MED[podman,$1]}"
    else echo "-"; fi
}
echo
echo "Debian minbase, $(numfmt --to=iec --suffix=B "$(stat -c %s "$CACHE/layer.tar.gz")") gzip layer (load average: $(cut -d' ' -f1-3 /proc/loadavg), timer: $TIMER)"
printf '%-14s %12s %12s %12s %12s %10s\n' phase "cove med" "cove min" "podman med" "podman min" cove/podman
for phase in cold warm save load; do
    printf '%-14s %12s %12s %12s %12s %10s\n' "push $phase" "$(cell MED cove $phase)" "$(cell MIN cove $phase)" \
        "$(cell MED podman $phase)" "$(cell MIN podman $phase)" "$(ratio $phase)" | sed 's/^push save/save     /; s/^push load/load     /'
done
echo "goals: cold push, save and load at most 1/2 of podman (ratio <= 0.5); warm push under 100 ms"
status=0
for tool in $TOOLS; do
    if [ -n "${ERR[$tool]:-}" ]; then
        echo "$tool: ${ERR[$tool]}" >&2
        status=1
    fi
done
exit $status
