#!/bin/bash
# Compare cove's container start-up, exec, ps and monitor memory with rootless podman's, on a
# static busybox image pulled from a registry on loopback. Run as root; see bench/README.md.
# Environment knobs:
#   ROUNDS=20            timed rounds of `run --rm IMAGE true`
#   EXEC_ROUNDS=ROUNDS   timed rounds of `exec benchctr true`
#   PS_ROUNDS=ROUNDS     timed rounds of `ps -a`
#   NCTR=100             containers created (not started) before timing `ps -a`
#   TOOLS="podman cove"  which tools to measure
#   TIMER=date|hyperfine how to time (default: hyperfine if installed)
#   COVE=path            cove binary (default target/x86_64-unknown-linux-gnu/release/cove)
set -euo pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$BENCH/.." && pwd)
NAME=run.sh
# shellcheck source=lib/common.sh
. "$BENCH/lib/common.sh"
CACHE=$BENCH/.cache
ROUNDS=${ROUNDS:-20}
EXEC_ROUNDS=${EXEC_ROUNDS:-$ROUNDS}
PS_ROUNDS=${PS_ROUNDS:-$ROUNDS}
NCTR=${NCTR:-100}
TOOLS=${TOOLS:-podman cove}
COVE=${COVE:-$REPO/target/x86_64-unknown-linux-gnu/release/cove}

[ "$(id -u)" = 0 ] || die "run as root (it installs packages and creates the $BUSER user)"

bench_tools docker-registry:docker-registry skopeo:skopeo podman:podman runc:runc conmon:conmon \
    newuidmap:uidmap busybox:busybox-static slirp4netns:slirp4netns curl:curl python3:python3 file:file

# --- image and registry ---------------------------------------------------------
mkdir -p "$CACHE"
busybox_layout "$CACHE/busybox-oci"
bench_user
# Our own trees, apart from pull.sh's (it runs `podman rmi -a -f` on the default store).
W=$HOMEDIR/runbench
RW=$RUNDIR/runbench
COVE_CMD="$W/cove --root $W/cove-root --runroot $RW/cove"
PODMAN_CMD="podman --root $W/podman-root --runroot $RW/podman"
PODMAN_PAUSE=$RUNDIR/libpod/tmp/pause.pid

# A pid from FILE if it is alive, owned by the bench user and named COMM.
live_pid() { # FILE COMM
    local pid
    [ -r "$1" ] || return 1
    pid=$(tr -dc 0-9 <"$1") || return 1
    [ -n "$pid" ] && [ "$(stat -c %U "/proc/$pid" 2>/dev/null)" = "$BUSER" ] &&
        [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] && echo "$pid"
}
# Pids of the bench user's processes named COMM whose command line contains WORD.
pids_named() { # COMM WORD
    local d
    for d in /proc/[0-9]*; do
        [ "$(cat "$d/comm" 2>/dev/null)" = "$1" ] || continue
        [ "$(stat -c %U "$d" 2>/dev/null)" = "$BUSER" ] || continue
        tr '\0' ' ' <"$d/cmdline" 2>/dev/null | grep -qF -- "$2" && echo "${d#/proc/}"
    done
    return 0
}

# podman's own pause process is shared by every podman of the user: stop it at the end only
# if this run started it.
PODMAN_PAUSE_BEFORE=$(live_pid "$PODMAN_PAUSE" catatonit || true)

clean_trees() {
    local pid
    if [ -d "$W" ]; then
        if [ -x "$W/cove" ]; then
            as_user sh -c "ids=\$($COVE_CMD ps -aq 2>/dev/null); [ -z \"\$ids\" ] || $COVE_CMD rm -f \$ids" \
                >/dev/null 2>&1 || true
        fi
        as_user $PODMAN_CMD rm -a -f -t 0 >/dev/null 2>&1 || true
        # Monitors and the pause process that cove started for this run root (leftovers of a
        # failed rm); by pid, after checking owner, name and command line.
        for pid in $(pids_named cove-monitor "$W/cove-root"); do kill "$pid" 2>/dev/null || true; done
        pid=$(live_pid "$RW/cove/pause.pid" cove-pause || true)
        [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
    fi
    # As root, the sub-UID-owned layers go too; the overlay mounts live in the tools' own
    # mount namespaces, not in this one.
    rm -rf "$W" "$RW"
}
cleanup() {
    local pid
    clean_trees
    if [ -z "$PODMAN_PAUSE_BEFORE" ]; then
        pid=$(live_pid "$PODMAN_PAUSE" catatonit || true)
        [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
    fi
    stop_registry
}
trap cleanup EXIT
clean_trees

start_registry "$CACHE/run-registry"
IMAGE=127.0.0.1:$REG_PORT/busybox:latest
say "registry on 127.0.0.1:$REG_PORT (pid $REG_PID); pushing $IMAGE"
skopeo copy -q --dest-tls-verify=false "oci:$CACHE/busybox-oci:latest" "docker://$IMAGE" >/dev/null

mkdir -p "$W" "$RW"
install -m 0755 "$BENCH/lib/timeit.sh" "$W/timeit.sh"
chown -R "$BUSER:" "$W" "$RW"

say "podman info (first-time setup, untimed)"
as_user $PODMAN_CMD info >"$CACHE/run-podman-info.log" 2>&1 ||
    { cat "$CACHE/run-podman-info.log" >&2; die "podman info failed as $BUSER"; }

# --- timing ------------------------------------------------------------------------
declare -A MED MIN ERR RSS INFO
# timed TOOL KEY ROUNDS COMMAND : hyperfine (or date) rounds; sets MED/MIN[TOOL,KEY].
timed() {
    local out=$W/times log=$CACHE/run-$1.err
    say "$1: $3 x $4"
    if ! as_user "$W/timeit.sh" "$3" "$out" "" "$4" 2>"$log"; then
        ERR[$1]="timing '$4' failed: $(cat "$log")"
        return 1
    fi
    read -r "MED[$1,$2]" "MIN[$1,$2]" < <(python3 "$BENCH/lib/stats.py" <"$out")
}
# step TOOL WHAT CMD... : an untimed step; its output goes to $CACHE/run-TOOL.out.
step() {
    local tool=$1 what=$2 out=$CACHE/run-$1.out
    shift 2
    if ! as_user "$@" >"$out" 2>&1; then
        ERR[$tool]="$what failed: $*
$(tail -20 "$out")"
        return 1
    fi
}

# measure TOOL CMD MONITOR_PID_FN RM : RM removes running containers without a grace period.
measure() {
    local tool=$1 x=$2 rm="$2 $4" id pid t0 t1
    step "$tool" pull $x pull -q --tls-verify=false "$IMAGE" || return 0
    # The first run also warms the page cache and any lazily made state (the user namespace).
    step "$tool" "first run" $x run --rm "$IMAGE" true || return 0
    timed "$tool" run "$ROUNDS" "$x run --rm $IMAGE true" || return 0
    # podman's default rootless network starts slirp4netns, cove's default is the host's:
    # the same start-up with a private loopback-only network on both sides.
    timed "$tool" runnone "$ROUNDS" "$x run --rm --network none $IMAGE true" || return 0

    step "$tool" "run -d" $x run -d --name benchctr "$IMAGE" sleep 1000 || return 0
    id=$(tail -1 "$CACHE/run-$tool.out")
    step "$tool" "first exec" $x exec benchctr true || return 0
    timed "$tool" exec "$EXEC_ROUNDS" "$x exec benchctr true" || return 0
    pid=$($3 "$id") || true
    if [ -n "$pid" ] && [ -r "/proc/$pid/status" ]; then
        RSS[$tool]=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
        INFO[$tool,rsspid]=$pid
    else
        ERR[$tool]="no monitor process found for container $id"
    fi
    step "$tool" "rm benchctr" $rm benchctr || return 0

    say "$tool: create $NCTR containers (untimed)"
    t0=$(date +%s%N)
    step "$tool" "create x$NCTR" sh -c "for i in \$(seq $NCTR); do $x create $IMAGE true >/dev/null || exit 1; done" ||
        return 0
    t1=$(date +%s%N)
    INFO[$tool,create]=$(((t1 - t0) / NCTR / 1000))
    step "$tool" "ps -a" $x ps -a || return 0
    local n=$(($(wc -l <"$CACHE/run-$tool.out") - 1))
    [ "$n" = "$NCTR" ] || { ERR[$tool]="ps -a listed $n containers, expected $NCTR"; return 0; }
    timed "$tool" ps "$PS_ROUNDS" "$x ps -a" || return 0
    step "$tool" "rm the created containers" sh -c "$rm \$($x ps -aq)" || return 0
}

cove_monitor() { pids_named cove-monitor "$1" | head -1; }
podman_conmon() {
    local pid
    pid=$(as_user $PODMAN_CMD inspect --format '{{.State.ConmonPid}}' "$1") || return 1
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = conmon ] && echo "$pid"
}

for tool in $TOOLS; do
    case $tool in
    podman)
        measure podman "$PODMAN_CMD" podman_conmon "rm -f -t 0"
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
        install -o "$BUSER" -m 0755 "$COVE" "$W/cove"
        measure cove "$COVE_CMD" cove_monitor "rm -f"
        ;;
    *) die "unknown tool in TOOLS: $tool" ;;
    esac
done

# --- report ---------------------------------------------------------------------------------
cell() { # KIND TOOL PHASE
    local -n arr=$1
    if [ -n "${arr[$2,$3]:-}" ]; then fmt_secs "${arr[$2,$3]}"; else echo "-"; fi
}
div() { python3 -c 'import sys; print(f"{float(sys.argv[1])/float(sys.argv[2]):.3f}")' "$1" "$2"; }
ratio() { # KIND PHASE
    local -n arr=$1
    if [ -n "${arr[cove,$2]:-}" ] && [ -n "${arr[podman,$2]:-}" ]; then div "${arr[cove,$2]}" "${arr[podman,$2]}"; else echo "-"; fi
}
kib() { if [ -n "${1:-}" ]; then echo "$1 KiB"; else echo "-"; fi; }
# goal TEXT VALUE LIMIT : "met" when VALUE <= LIMIT.
goal() {
    local verdict=-
    if [ -n "$2" ] && [ "$2" != - ]; then
        verdict=$(python3 -c 'import sys; print("met" if float(sys.argv[1]) <= float(sys.argv[2]) else "MISSED")' "$2" "$3")
    fi
    printf '  %-40s%-8s(%s)\n' "$1" "$verdict" "$4"
}

echo
printf 'image %s: static busybox, one layer of %s compressed\n' "$IMAGE" \
    "$(numfmt --to=iec --suffix=B "$(cat "$CACHE/busybox-oci/.gzsize")")"
printf 'rounds: run %d, exec %d, ps %d (over %d created containers); timer: %s; load average now: %s\n' \
    "$ROUNDS" "$EXEC_ROUNDS" "$PS_ROUNDS" "$NCTR" "$TIMER" "$(cut -d' ' -f1-3 /proc/loadavg)"
echo "podman $(podman --version | awk '{print $3}'): runc, cgroupfs (no cgroups rootless on this v1 host), overlay," \
    "slirp4netns by default; cove: host network by default"
for kind in MED MIN; do
    [ $kind = MED ] && title=median || title=min
    echo
    printf '%-22s%-11s%-11s%s\n' "$title" cove podman ratio
    printf '%-22s%-11s%-11s%s\n' "run --rm IMAGE true" "$(cell $kind cove run)" "$(cell $kind podman run)" "$(ratio $kind run)"
    printf '%-22s%-11s%-11s%s\n' "  --network none" "$(cell $kind cove runnone)" "$(cell $kind podman runnone)" "$(ratio $kind runnone)"
    printf '%-22s%-11s%-11s%s\n' "exec benchctr true" "$(cell $kind cove exec)" "$(cell $kind podman exec)" "$(ratio $kind exec)"
    printf '%-22s%-11s%-11s%s\n' "ps -a ($NCTR created)" "$(cell $kind cove ps)" "$(cell $kind podman ps)" "$(ratio $kind ps)"
done
echo
rss_ratio=-
[ -n "${RSS[cove]:-}" ] && [ -n "${RSS[podman]:-}" ] && rss_ratio=$(div "${RSS[cove]}" "${RSS[podman]}")
printf '%-22s%-11s%-11s%s\n' "VmRSS" "cove" "podman" ratio
printf '%-22s%-11s%-11s%s\n' "monitor / conmon" "$(kib "${RSS[cove]:-}")" "$(kib "${RSS[podman]:-}")" "$rss_ratio"
for tool in cove podman; do
    if [ -n "${INFO[$tool,create]:-}" ]; then
        printf '%s create: %s per container (untimed set-up, date)\n' "$tool" \
            "$(fmt_secs "$(python3 -c 'import sys; print(int(sys.argv[1])/1e6)' "${INFO[$tool,create]}")")"
    fi
done
echo
echo "goals (medians):"
goal "run --rm: cove <= podman / 10" "$(ratio MED run)" 0.1 "ratio $(ratio MED run)"
goal "exec: cove <= podman / 10" "$(ratio MED exec)" 0.1 "ratio $(ratio MED exec)"
goal "ps -a over $NCTR containers: cove < 10 ms" "${MED[cove,ps]:-}" 0.010 "$(cell MED cove ps)"

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
