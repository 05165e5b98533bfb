#!/usr/bin/env bash
# bench/stats-cost.sh — what statistics cost: aiobench rows (bench/aiobench.c) under
#   off       the library, statistics off (the default)
#   on        the same library with RTAIO_STATS set (a file: nothing printed to the terminal)
#   before    BENCH_BASELINE=/path/to/librtaio.so, if given: a build without the statistics code
# alternated run by run, BENCH_REPS runs of BENCH_SECS seconds each. Per row and configuration:
# the best rate, and the lowest CPU time per request (user+system of the whole process, from
# aiobench's getrusage), which other load on the machine disturbs less than the rate. Needs
# `make build`.
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
configs=(off on)
[ -n "${BENCH_BASELINE:-}" ] && configs+=(before)
row() { # NAME ARGS...
    local name=$1 r c
    shift
    declare -A rate=() cpu=()
    for _ in $(seq "$REPS"); do
        for c in "${configs[@]}"; do
            case $c in
            off) r=$(LD_PRELOAD=$LIB "$OUT/aiobench" "$@") ;;
            on) r=$(RTAIO_STATS="$OUT/stats.txt" LD_PRELOAD=$LIB "$OUT/aiobench" "$@") ;;
            before) r=$(LD_PRELOAD=$BENCH_BASELINE "$OUT/aiobench" "$@") ;;
            esac
            rate[$c]+="$(grep -Eo 'iops=[0-9]+' <<<"$r" | cut -d= -f2) "
            cpu[$c]+="$(awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
                END { if (v["ops"] > 0) printf "%.3f", (v["cpu_user"] + v["cpu_sys"]) * 1e6 / v["ops"] }' <<<"$r") "
        done
    done
    printf '%-32s' "$name"
    for c in "${configs[@]}"; do
        printf '  %s %8s/s %6s us/req' "$c" "$(tr ' ' '\n' <<<"${rate[$c]}" | sort -g | tail -n1)" \
            "$(tr ' ' '\n' <<<"${cpu[$c]}" | grep . | sort -g | head -n1)"
    done
    echo
}
row "cached read QD1 (inline)" read "$F" 1 "$SECS" cached
row "cached read QD32" read "$F" 32 "$SECS" cached
row "lio_listio of 256 cached reads" lio "$F" 256 "$SECS"
row "write QD32" write "$F" 32 "$SECS"
rm -f "$OUT/stats.txt"
