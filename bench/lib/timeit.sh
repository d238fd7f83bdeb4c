#!/bin/bash
# Time a command ROUNDS times, running PREPARE (untimed) before each round.
# usage: timeit.sh ROUNDS OUT_FILE PREPARE COMMAND
# Writes one duration in seconds per line to OUT_FILE. Stops at the first
# failing command and prints its output. Uses hyperfine when TIMER=hyperfine.
set -u
rounds=$1 out=$2 prepare=$3 cmd=$4
: >"$out"
if [ "${TIMER:-date}" = hyperfine ]; then
    json=$(mktemp)
    args=(--runs "$rounds" --warmup 0 --style none --export-json "$json" -N)
    [ -n "$prepare" ] && args+=(--prepare "$prepare")
    if ! hyperfine "${args[@]}" "$cmd" >/dev/null 2>"$json.err"; then
        cat "$json.err" >&2
        # hyperfine hides the command's own output; run it once to show why.
        bash -c "$cmd" >&2
        rm -f "$json" "$json.err"
        exit 1
    fi
    python3 -c 'import json,sys; [print(t) for t in json.load(open(sys.argv[1]))["results"][0]["times"]]' "$json" >"$out"
    rm -f "$json" "$json.err"
    exit 0
fi
log=$(mktemp)
for ((i = 0; i < rounds; i++)); do
    if [ -n "$prepare" ]; then
        bash -c "$prepare" >/dev/null 2>&1
    fi
    read -ra argv <<<"$cmd"
    t0=$(date +%s%N)
    "${argv[@]}" >"$log" 2>&1
    rc=$?
    t1=$(date +%s%N)
    if [ $rc -ne 0 ]; then
        echo "command failed (exit $rc): $cmd" >&2
        cat "$log" >&2
        rm -f "$log"
        exit 1
    fi
    echo "$(( (t1 - t0) / 1000 ))e-6" >>"$out"
done
rm -f "$log"
