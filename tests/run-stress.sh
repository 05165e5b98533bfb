#!/usr/bin/env bash
# Build and run the data-integrity stress test (tests/stress/stress.c) against rtaio.
#
#   tests/run-stress.sh [--repro]
#
# stress.c is built twice, like the C tests (tests/run-c-tests.sh):
#   link     gcc ... -L$RTAIO_LIBDIR -lrtaio -Wl,-rpath,$RTAIO_LIBDIR   (no -lrt)
#   preload  gcc ... -lrt, run with LD_PRELOAD=$RTAIO_LIBDIR/librtaio.so
# and each is run for STRESS_SECS seconds (default 15) under `timeout` (STRESS_SECS + 120 s:
# the program itself allows 60 s to drain, then compares every byte).
# STRESS_SEED replays the random choices of a run (the seed is printed first by every run);
# STRESS_THREADS sets the number of submitting threads (default 4). The files live in
# $RTAIO_TEST_DIR or build/stress/tmp (a disk file system, so that O_DIRECT works; on tmpfs
# the O_DIRECT file is left out).
# --repro: also build and run tests/stress/repro_*.c (minimal reproducers of library bugs the
#          stress test found; each exits 0 once the bug is fixed), in link mode.
#
# The last line is `stress: N passed, N failed`; exit 1 if anything failed.
# Build outputs and logs: build/stress/.
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # root, LIBDIR, CC, the tally

SRC=$root/tests/stress
OUT=$root/build/stress
CFLAGS=(-D_GNU_SOURCE -pthread -O2 -g -Wall -Werror -I"$root/tests/c")
SECS=${STRESS_SECS:-15}
TIMEOUT=$((${SECS%.*} + 120))

repro=0
for a in "$@"; do
    case $a in
    --repro) repro=1 ;;
    -h | --help)
        sed -n '2,20p' "$0"
        exit 0
        ;;
    *)
        echo "run-stress.sh: unknown argument $a" >&2
        exit 2
        ;;
    esac
done

t_have_lib || { t_closing stress; exit 1; }

mkdir -p "$OUT/logs" "$OUT/link" "$OUT/preload"
DATADIR=${RTAIO_TEST_DIR:-$OUT/tmp}
mkdir -p "$DATADIR"

report() { # STATUS WHAT [LOG]
    if [ "$1" = PASS ]; then
        t_pass "$2"
    else
        t_fail "$2" "$(t_log_tail "${3:-}" 25)"
    fi
}

build() { # MODE SRC BIN LOG
    case $1 in
    link) "$CC" "${CFLAGS[@]}" "$2" -o "$3" -L"$LIBDIR" -lrtaio -Wl,-rpath,"$LIBDIR" >"$4" 2>&1 ;;
    preload) "$CC" "${CFLAGS[@]}" "$2" -o "$3" -lrt >"$4" 2>&1 ;;
    esac
}

run() { # MODE BIN LOG TIMEOUT
    local envs=(STRESS_SECS="$SECS" STRESS_DIR="$DATADIR" TMPDIR="$DATADIR")
    [ "$1" = preload ] && envs+=(LD_PRELOAD="$LIBDIR/librtaio.so")
    env "${envs[@]}" timeout -k 5 "$4" "$2" >"$3" 2>&1
}

verdict() { # RC LOG NAME
    local rc=$1 log=$2 name=$3
    case $rc in
    0) report PASS "$name"
        grep -E '^stress: (PASS|FAIL) seed' "$log" | cut -c1-200 | sed 's/^/      /' ;;
    124 | 137) echo "timeout: killed after the time limit" >>"$log"
        report FAIL "$name (timeout)" "$log" ;;
    *) [ "$rc" -gt 128 ] && echo "killed by signal $((rc - 128))" >>"$log"
        report FAIL "$name (exit $rc)" "$log" ;;
    esac
}

for mode in link preload; do
    bin=$OUT/$mode/stress log=$OUT/logs/$mode-stress.log
    if ! build "$mode" "$SRC/stress.c" "$bin" "$OUT/logs/$mode-stress.build.log"; then
        report FAIL "$mode stress (build)" "$OUT/logs/$mode-stress.build.log"
        continue
    fi
    run "$mode" "$bin" "$log" "$TIMEOUT"
    verdict $? "$log" "$mode stress (${SECS} s)"
done

if [ $repro -eq 1 ]; then
    for src in "$SRC"/repro_*.c; do
        [ -e "$src" ] || continue
        name=$(basename "$src" .c) bin=$OUT/link/$(basename "$src" .c) log=$OUT/logs/link-$name.log
        if ! build link "$src" "$bin" "$OUT/logs/link-$name.build.log"; then
            report FAIL "link $name (build)" "$OUT/logs/link-$name.build.log"
            continue
        fi
        run link "$bin" "$log" 120
        verdict $? "$log" "link $name"
    done
fi

echo "logs: $OUT/logs/"
t_closing stress
