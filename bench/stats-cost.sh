#!/usr/bin/env bash
# bench/stats-cost.sh — what RTAIO_STATS=1 costs: aiobench rows with statistics off and on,
# alternated run by run, best of BENCH_REPS runs of BENCH_SECS seconds each (as bench/run.sh).
# Prints one line per row: off and on rates, on/off. Needs `make build`.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LIB=${RTAIO_LIBDIR:-$ROOT/target/release}/librtaio.so
OUT=$ROOT/build/bench-stats
REPS=${BENCH_REPS:-5} SECS=${BENCH_SECS:-2}
mkdir -p "$OUT"
${CC:-cc} -O2 -Wall -Wextra -pthread -o "$OUT/aiobench" "$ROOT/bench/aiobench.c" -lrt -ldl
F=$OUT/file
[ -s "$F" ] || "$OUT/aiobench" prepare "$F" 256 >/dev/null
"$OUT/aiobench" warm "$F" >/dev/null
best() { sort -g | tail -n1; }
row() { # NAME ARGS...: the best iops, off and on
    local name=$1 r off=() on=()
    shift
    for _ in $(seq "$REPS"); do
        for mode in off on; do
            if [ $mode = on ]; then
                r=$(RTAIO_STATS="$OUT/stats.txt" LD_PRELOAD=$LIB "$OUT/aiobench" "$@")
            else
                r=$(LD_PRELOAD=$LIB "$OUT/aiobench" "$@")
            fi
            r=$(grep -Eo 'iops=[0-9]+' <<<"$r" | cut -d= -f2)
            if [ $mode = on ]; then on+=("$r"); else off+=("$r"); fi
        done
    done
    local o n
    o=$(printf '%s\n' "${off[@]}" | best) n=$(printf '%s\n' "${on[@]}" | best)
    printf '%-40s off %9s/s  on %9s/s  on/off %.3f\n' "$name" "$o" "$n" "$(echo "$n / $o" | bc -l)"
}
row "cached read QD1 (inline path)" read "$F" 1 "$SECS" cached
row "cached read QD32 (io_uring)" read "$F" 32 "$SECS" cached
row "lio_listio of 256 cached reads" lio "$F" 256 "$SECS"
row "write QD32" write "$F" 32 "$SECS"
rm -f "$OUT/stats.txt"
