#!/bin/bash
# Compare `cove build` with rootless `podman build` on the same contexts: (a) a busybox base,
# three RUN steps, a COPY of 1,000 small files, ENV, WORKDIR, CMD; (b) a two-stage build on
# the Debian minbase image (lib/debian.sh). Uncached builds (--no-cache) and fully cached
# rebuilds. Run as root; see bench/README.md.
# Environment knobs:
#   ROUNDS=5             timed rounds of the uncached build
#   CACHED_ROUNDS=10     timed rounds of the cached rebuild
#   NFILES=1000          files in the COPY
#   TOOLS="podman cove"  which tools to measure
#   TIMER=date|hyperfine how to time (default: hyperfine if installed)
#   COVE=path            cove binary (default target/x86_64-unknown-linux-gnu/release/cove)
set -euo pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$BENCH/.." && pwd)
NAME=build.sh
# shellcheck source=lib/common.sh
. "$BENCH/lib/common.sh"
CACHE=$BENCH/.cache
ROUNDS=${ROUNDS:-5}
CACHED_ROUNDS=${CACHED_ROUNDS:-10}
NFILES=${NFILES:-1000}
TOOLS=${TOOLS:-podman cove}
COVE=${COVE:-$REPO/target/x86_64-unknown-linux-gnu/release/cove}

[ "$(id -u)" = 0 ] || die "run as root (it installs packages and creates the $BUSER user)"

bench_tools docker-registry:docker-registry skopeo:skopeo podman:podman runc:runc conmon:conmon \
    newuidmap:uidmap busybox:busybox-static curl:curl python3:python3 file:file debootstrap:debootstrap

mkdir -p "$CACHE"
busybox_layout "$CACHE/busybox-oci"
# shellcheck source=lib/debian.sh
. "$BENCH/lib/debian.sh"
debian_layout
bench_user
W=$HOMEDIR/buildbench
RW=$RUNDIR/buildbench
COVE_CMD="$W/cove --root $W/cove-root --runroot $RW/cove"
PODMAN_CMD="podman --root $W/podman-root --runroot $RW/podman"

clean_trees() {
    if [ -x "$W/cove" ]; then
        # The pause process cove started for this run root, by its pid file.
        local pid
        pid=$(tr -dc 0-9 <"$RW/cove/pause.pid" 2>/dev/null || true)
        if [ -n "$pid" ] && [ "$(stat -c %U "/proc/$pid" 2>/dev/null)" = "$BUSER" ] &&
            [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = cove-pause ]; then
            kill "$pid" 2>/dev/null || true
        fi
    fi
    as_user $PODMAN_CMD system reset -f >/dev/null 2>&1 || true
    rm -rf "$W" "$RW"
}
cleanup() {
    clean_trees
    stop_registry
}
trap cleanup EXIT
clean_trees

start_registry "$CACHE/build-registry"
IMAGE=127.0.0.1:$REG_PORT/busybox:latest
say "registry on 127.0.0.1:$REG_PORT (pid $REG_PID); pushing $IMAGE"
skopeo copy -q --dest-tls-verify=false "oci:$CACHE/busybox-oci:latest" "docker://$IMAGE" >/dev/null
DEBIAN=127.0.0.1:$REG_PORT/debian:bookworm
skopeo copy -q --dest-tls-verify=false "oci:$CACHE/oci:latest" "docker://$DEBIAN" >/dev/null

# --- the context ----------------------------------------------------------------------
CTX=$W/ctx
mkdir -p "$CTX/files" "$RW"
for i in $(seq "$NFILES"); do
    printf 'file %d\n' "$i" >"$CTX/files/f$i.txt"
done
cat >"$CTX/Dockerfile" <<EOF
FROM $IMAGE
ENV APP_MODE=bench
WORKDIR /app
RUN echo one > /app/one
COPY files/ /app/files/
RUN ls /app/files > /app/list
RUN cat /app/one /app/list > /app/all
CMD ["cat", "/app/one"]
EOF
# (b): a build stage that makes a tree of files with the base's tools, and a final stage
# that takes only the result.
CTX2=$W/ctx2
mkdir -p "$CTX2"
cat >"$CTX2/Dockerfile" <<EOF
FROM $DEBIAN AS build
WORKDIR /src
RUN mkdir -p out && for i in \$(seq 200); do echo "unit \$i" > out/u\$i.txt; done && tar -C out -czf /app.tgz .
RUN sha256sum /app.tgz > /app.sum
FROM $DEBIAN
COPY --from=build /app.tgz /app.sum /opt/app/
ENV APP=/opt/app
CMD ["cat", "/opt/app/app.sum"]
EOF
install -m 0755 "$BENCH/lib/timeit.sh" "$W/timeit.sh"
chown -R "$BUSER:" "$W" "$RW"

declare -A MED MIN ERR
timed() { # TOOL KEY ROUNDS COMMAND
    local out=$W/times log=$CACHE/build-$1.err
    say "$1: $3 x $4"
    if ! as_user "$W/timeit.sh" "$3" "$out" "" "$4" 2>"$log"; then
        ERR[$1]="timing '$4' failed: $(tail -20 "$log")"
        return 1
    fi
    read -r "MED[$1,$2]" "MIN[$1,$2]" < <(python3 "$BENCH/lib/stats.py" <"$out")
}
step() { # TOOL WHAT CMD...
    local tool=$1 what=$2 out=$CACHE/build-$1.out
    shift 2
    if ! as_user "$@" >"$out" 2>&1; then
        ERR[$tool]="$what failed: $*
$(tail -20 "$out")"
        return 1
    fi
}

measure() { # TOOL CMD EXTRA_BUILD_FLAGS
    local tool=$1 x=$2 flags=$3
    step "$tool" pull $x pull -q --tls-verify=false "$IMAGE" || return 0
    step "$tool" "pull debian" $x pull -q --tls-verify=false "$DEBIAN" || return 0
    step "$tool" "first build (b)" $x build $flags -q -t benchtwo "$CTX2" || return 0
    timed "$tool" uncached2 "$ROUNDS" "$x build $flags --no-cache -q -t benchtwo $CTX2" || return 0
    step "$tool" "warm build (b)" $x build $flags -q -t benchtwo "$CTX2" || return 0
    timed "$tool" cached2 "$CACHED_ROUNDS" "$x build $flags -q -t benchtwo $CTX2" || return 0
    step "$tool" "first build" $x build $flags -q -t benchapp "$CTX" || return 0
    timed "$tool" uncached "$ROUNDS" "$x build $flags --no-cache -q -t benchapp $CTX" || return 0
    step "$tool" "warm build" $x build $flags -q -t benchapp "$CTX" || return 0
    timed "$tool" cached "$CACHED_ROUNDS" "$x build $flags -q -t benchapp $CTX" || return 0
    step "$tool" "run" $x run --rm --network none benchapp || return 0
    grep -q '^one$' "$CACHE/build-$tool.out" || ERR[$tool]="the built image does not print 'one'"
}

for tool in $TOOLS; do
    case $tool in
    podman)
        as_user $PODMAN_CMD info >"$CACHE/build-podman-info.log" 2>&1 ||
            { ERR[podman]="podman info failed: $(tail -5 "$CACHE/build-podman-info.log")"; continue; }
        # Rootless podman on this host: runc as the OCI runtime for RUN steps.
        measure podman "$PODMAN_CMD" "--tls-verify=false --layers"
        ;;
    cove)
        [ -x "$COVE" ] || (cd "$REPO" && cargo build --release >&2) || true
        [ -x "$COVE" ] || { ERR[cove]="no cove binary at $COVE"; continue; }
        install -o "$BUSER" -m 0755 "$COVE" "$W/cove"
        measure cove "$COVE_CMD" ""
        ;;
    *) die "unknown tool in TOOLS: $tool" ;;
    esac
done

# --- report -------------------------------------------------------------------------------
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
echo "(a) busybox + 3 RUN + COPY of $NFILES files; (b) two stages on Debian minbase"
echo "(load average: $(cut -d' ' -f1-3 /proc/loadavg), timer: $TIMER)"
printf '%-22s %12s %12s %12s %12s %10s\n' phase "cove med" "cove min" "podman med" "podman min" cove/podman
for phase in uncached cached uncached2 cached2; do
    printf '%-22s %12s %12s %12s %12s %10s\n' "$phase" "$(cell MED cove $phase)" "$(cell MIN cove $phase)" \
        "$(cell MED podman $phase)" "$(cell MIN podman $phase)" "$(ratio $phase)"
done
echo "goals: uncached at most 1/4 of podman (ratio <= 0.25); cached at most 1/10 (<= 0.10) and under 50 ms"
status=0
for tool in $TOOLS; do
    if [ -n "${ERR[$tool]:-}" ]; then
        echo "$tool: ${ERR[$tool]}" >&2
        status=1
    fi
done
exit $status
