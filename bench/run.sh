#!/usr/bin/env bash
# rtaio benchmark: the SAME binary on the SAME file, under glibc's POSIX AIO (plain) and under
# rtaio (LD_PRELOAD=$RTAIO_LIBDIR/librtaio.so), alternated glibc, rtaio, glibc, rtaio, ...
# Each figure is the BEST (highest) of BENCH_REPS runs per implementation; every sample is
# printed below the table and logged in build/bench/bench.log.
# The O_DIRECT row (4 KiB random reads at depth 32 on one O_DIRECT fd of the uncached file:
# rtaio's kernel-AIO backend) also runs fio's libaio engine on the same file as the io_submit
# reference (glibc, rtaio, fio libaio alternated) and prints rtaio/glibc (target >= 2.5) and
# rtaio/libaio (target >= 0.9).
#
# Environment:
#   RTAIO_LIBDIR  directory holding librtaio.so (default: <repo>/target/release)
#   BENCH_SECS    seconds per run (default 2)
#   BENCH_REPS    runs per implementation and row (default 3)
#   CC            C compiler (default cc)
#   BENCH_BASELINE another librtaio.so (e.g. the build before a change): measured as a third
#                 column "before", alternated with the others (not in the event-loop rows)
#   BENCH_ONLY    evloop: only the eventfd event-loop rows (also: first argument `evloop`);
#                 all (default): every row
#   EVBENCH_SECS  measured seconds per event-loop run (default 1.5, plus a 0.25 s warm-up)
# Exit status: 0 all rows measured without error; 1 library missing, a run failed, an I/O
# error was seen, or the preload did not take effect.
set -u
set -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOP=$(git -C "$ROOT" rev-parse --show-toplevel 2>/dev/null || echo "$ROOT")
RTAIO_LIBDIR=${RTAIO_LIBDIR:-$TOP/target/release}
LIB=$RTAIO_LIBDIR/librtaio.so
OUT=$ROOT/build/bench
SECS=${BENCH_SECS:-2}
REPS=${BENCH_REPS:-3}
CACHED_MIB=256
UNCACHED_MIB=2048
CACHED=$OUT/cached.dat
UNCACHED=$OUT/uncached.dat
BIN=$OUT/aiobench
LOG=$OUT/bench.log
RUN_TIMEOUT=$(( ${SECS%.*} * 10 + 30 ))

mkdir -p "$OUT"
: >"$LOG"
status=0
notes=()
note() { notes+=("$*"); }
log() { echo "$*" >>"$LOG"; }

# ---------------------------------------------------------------- build + files
${CC:-cc} -O2 -Wall -Wextra -pthread -o "$BIN" "$ROOT/bench/aiobench.c" -lrt -ldl || {
    echo "bench: cannot compile bench/aiobench.c" >&2; exit 1; }

"$BIN" prepare "$CACHED" "$CACHED_MIB" >>"$LOG" || { echo "bench: cannot create $CACHED" >&2; exit 1; }
"$BIN" prepare "$UNCACHED" "$UNCACHED_MIB" >>"$LOG" || { echo "bench: cannot create $UNCACHED" >&2; exit 1; }
warm=$("$BIN" warm "$CACHED") || { echo "bench: cannot read $CACHED" >&2; exit 1; }
log "warm $CACHED: $warm"
# Clean page cache is reclaimed within seconds on this VM even with free memory; a helper
# keeps the cached file mmap'ed and mlock'ed for the whole run (killed on exit, by its pid).
"$BIN" hold "$CACHED" 900 >>"$LOG" 2>&1 &
HOLD_PID=$!
trap 'kill "$HOLD_PID" 2>/dev/null; wait "$HOLD_PID" 2>/dev/null' EXIT
sleep 0.5

have_rtaio=0
if [ -f "$LIB" ]; then
    # Preload a snapshot, so that a rebuild during the run cannot mix two versions.
    cp "$LIB" "$OUT/librtaio-snapshot.so" && have_rtaio=1
fi
PRELOAD=$OUT/librtaio-snapshot.so
have_before=0
if [ -n "${BENCH_BASELINE:-}" ] && cp "$BENCH_BASELINE" "$OUT/librtaio-before.so"; then
    have_before=1
fi
BEFORE=$OUT/librtaio-before.so

# kv KEY LINE -> value of KEY=... in a RESULT line
kv() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2" | head -n1; }

# run_one IMPL KIND ARGS... -> sets FIG to the figure (or "ERR"/"TIMEOUT"); details go to the
# log; returns non-zero when the run failed.  Runs in the current shell (notes must survive).
FIG=
residency=() # per uncached run: resident fraction before/after
run_one() {
    local impl=$1 kind=$2; shift 2
    local pre=() out rc val
    CPU=-
    [ "$impl" = rtaio ] && pre=(env "LD_PRELOAD=$PRELOAD")
    [ "$impl" = before ] && pre=(env "LD_PRELOAD=$BEFORE")
    if [ "$kind" = fio ]; then
        out=$(timeout "$RUN_TIMEOUT" "${pre[@]}" fio "$@" --output-format=terse 2>>"$LOG")
        rc=$?
        log "[$impl] fio $* -> rc=$rc"
        log "$(grep '^3;' <<<"$out" | cut -d';' -f1-9)"
        if [ $rc -eq 124 ]; then FIG=TIMEOUT; return 1; fi
        local line; line=$(grep '^3;' <<<"$out" | head -n1)
        val=$(cut -d';' -f8 <<<"$line")
        local err; err=$(cut -d';' -f5 <<<"$line")
        if [ $rc -ne 0 ] || [ -z "$val" ] || [ "${err:-1}" != 0 ]; then FIG=ERR; return 1; fi
        FIG=$val
        return 0
    fi
    out=$(timeout "$RUN_TIMEOUT" "${pre[@]}" "$BIN" "$kind" "$@" 2>>"$LOG")
    rc=$?
    log "[$impl] aiobench $kind $* -> rc=$rc $out"
    if [ $rc -eq 124 ]; then FIG=TIMEOUT; return 1; fi
    local line; line=$(grep '^RESULT' <<<"$out" | tail -n1)
    val=$(kv iops "$line")
    local got; got=$(kv impl "$line")
    if [ "$impl" != glibc ] && [[ "$got" != *rtaio* ]]; then
        note "preload did not take effect: aio_read came from '$got'"; FIG=ERR; return 1
    fi
    if [ "$impl" = glibc ] && [[ "$got" == *rtaio* ]]; then
        note "glibc run used '$got'"; FIG=ERR; return 1
    fi
    CPU=$(awk -v u="$(kv cpu_user "$line")" -v s="$(kv cpu_sys "$line")" -v n="$(kv ops "$line")" \
        'BEGIN{ if (n > 0) printf "%.1f", (u + s) / n * 1e6; else print "-" }')
    local errs; errs=$(kv errors "$line")
    [ -n "$errs" ] && [ "$errs" != 0 ] && note "$impl $*: $errs I/O errors (see $LOG)"
    local w; w=$(kv wraps "$line")
    [ -n "$w" ] && [ "$w" != 0 ] && note "$impl $*: read every block of the file once and wrapped ($w); later reads may have hit the cache"
    local rb; rb=$(kv resident_before "$line")
    if [ "${*: -1}" = uncached ] && awk -v r="$rb" 'BEGIN{exit !(r > 0.01)}'; then
        note "$impl $*: eviction incomplete, resident fraction before the run $rb"
    fi
    if [ "${*: -1}" = cached ] && awk -v r="$rb" 'BEGIN{exit !(r < 0.99)}'; then
        note "$impl $*: cached file only $rb resident"
    fi
    if [ "${*: -1}" = uncached ]; then
        residency+=("$impl depth=$(kv depth "$line"): resident before=$rb after=$(kv resident_after "$line")")
    fi
    if [ $rc -ne 0 ] || [ -z "$val" ]; then FIG=ERR; return 1; fi
    FIG=$val
}

# best of a list of figures (ERR/TIMEOUT ignored); empty when none
best() { tr ' ' '\n' <<<"$*" | grep -E '^[0-9.]+$' | sort -g | tail -n1; }

# median of a list of figures (ERR/TIMEOUT ignored)
median() { tr ' ' '\n' <<<"$*" | grep -E '^[0-9.]+$' | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2];
          else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

rows=()      # "name|glibc|rtaio|ratio|unit"
cpus=()      # CPU time (user+sys, all threads) per completed request, microseconds
samples=()   # "name: glibc=... rtaio=..."

before_rows=() # "name|before|rtaio|rtaio/before"
measure() {
    local name=$1 unit=$2; shift 2
    local g=() r=() b=() gcpu=() rcpu=() bcpu=() i
    for ((i = 0; i < REPS; i++)); do
        run_one glibc "$@" || status=1; g+=("$FIG"); gcpu+=("$CPU")
        if [ $have_rtaio = 1 ]; then
            run_one rtaio "$@" || status=1; r+=("$FIG"); rcpu+=("$CPU")
        fi
        if [ $have_before = 1 ]; then
            run_one before "$@" || status=1; b+=("$FIG"); bcpu+=("$CPU")
        fi
    done
    if [ $have_before = 1 ]; then
        local bb bn
        bb=$(best "${b[@]}") bn=$(best "${r[@]:-}")
        before_rows+=("$name|${bb:-ERR}|${bn:-n/a}|$(awk -v a="$bn" -v b="$bb" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "n/a" }')")
        cpus+=("$name (before): [${bcpu[*]}]")
    fi
    local bg br ratio
    bg=$(best "${g[@]}"); br=$( [ $have_rtaio = 1 ] && best "${r[@]}")
    if [ -n "$bg" ] && [ -n "$br" ]; then
        ratio=$(awk -v a="$br" -v b="$bg" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "n/a" }')
    else
        ratio=n/a
    fi
    rows+=("$name|${bg:-ERR}|${br:-n/a}|$ratio|$unit")
    samples+=("$name: glibc=[${g[*]}] median $(median "${g[@]}"); rtaio=[${r[*]:-}] median $(median "${r[@]:-}")")
    [ "$1" != fio ] && cpus+=("$name: glibc=[${gcpu[*]}] rtaio=[${rcpu[*]:-}]")
    printf '  %-28s glibc=[%s] rtaio=[%s]\n' "$name" "${g[*]}" "${r[*]:-}" >&2
}

# ---------------------------------------------------------------- sanity checks
echo "rtaio benchmark: $(nproc) CPUs, $(uname -r), $(ldd --version | head -n1 | sed 's/^ldd //')" >&2
echo "library: $LIB" >&2
smoke=$("$BIN" read "$CACHED" 32 0.3 cached 2>>"$LOG"); rc=$?
log "smoke glibc: rc=$rc $smoke"
if [ $rc -ne 0 ] || [ "$(kv errors "$smoke")" != 0 ]; then
    echo "bench: the benchmark fails under plain glibc (rc=$rc): $smoke" >&2
    exit 1
fi
if [ $have_rtaio = 1 ]; then
    echo "library: $(stat -c '%y, %s bytes' "$LIB") (preloaded as a snapshot: $PRELOAD)" >&2
    smoke=$(timeout 30 env LD_PRELOAD="$PRELOAD" "$BIN" read "$CACHED" 32 0.3 cached 2>>"$LOG"); rc=$?
    log "smoke rtaio: rc=$rc $smoke"
    if [ $rc -ne 0 ] || [[ "$(kv impl "$smoke")" != *rtaio* ]]; then
        note "rtaio smoke test failed (rc=$rc): ${smoke:-no output} (see $LOG)"
        status=1
    fi
    fiobind=$(LD_BIND_NOW=1 LD_DEBUG=bindings LD_PRELOAD="$PRELOAD" fio --version 2>&1 \
        | grep -m1 -E "binding file [^ ]*fio .*normal symbol \`aio_read(64)?'" | sed 's/.* to \([^ ]*\) .*/\1/')
    log "fio aio_read(64) binding under preload: $fiobind"
    [[ "$fiobind" == *rtaio* ]] || { note "fio does not bind aio_read64 to rtaio under LD_PRELOAD (got: ${fiobind:-nothing})"; status=1; }
else
    echo "library: NOT FOUND — measuring glibc only" >&2
fi
echo "each run ${SECS}s, $REPS runs per implementation, alternated; figure = best run" >&2

# ---------------------------------------------------------------- eventfd event loop (evbench)
# Completions per second delivered to an epoll event loop (bench/evbench.c): 4 KiB aio_read at
# random aligned offsets of a 64 MiB page-cached file, one fd, QD32 and QD1, in three columns,
# alternated, best of $REPS runs of $EV_SECS s (after a 0.25 s warm-up):
#   glibc signal+pipe   evbench-glibc (-lrt): SIGEV_SIGNAL SIGRTMIN+1, handler writes the aiocb
#                       pointer into a pipe, the loop reads the pipe (pattern A)
#   rtaio signal+pipe   evbench-rtaio (-lrtaio), the same pattern A: the library's share
#   rtaio eventfd       evbench-rtaio, SIGEV_EVENTFD + aio_reap (pattern B): the mechanism's share
# Every run checks that each completion reached the loop exactly once (evbench exits 1 if not).
# evbench-rtaio links a copy of the snapshot (RPATH, not RUNPATH: LD_LIBRARY_PATH cannot swap it).
# Runs after the other rows; alone with `bash bench/run.sh evloop` (or BENCH_ONLY=evloop).
EV_SECS=${EVBENCH_SECS:-1.5}
EV_MIB=64
EV_FILE=$OUT/evloop.dat
EV_LIBDIR=$OUT/evlib
EV_GLIBC=$OUT/evbench-glibc
EV_RTAIO=$OUT/evbench-rtaio
ev_rows=()    # "name|glibc A|rtaio A|rtaio B|B/glibc A|B/rtaio A"
ev_samples=() # per row, every run's figure
ev_cpus=()    # per row, CPU us per completion of every run
ev_checked=0  # completions verified over all runs (each delivered exactly once, right data)
ev_runs=0
ev_have_rtaio=0
EV_HOLD_PID=

# ev_run IMPL PATTERN DEPTH -> FIG (completions/s, or ERR/TIMEOUT), EV_CPU; non-zero on failure
ev_run() {
    local impl=$1 pat=$2 qd=$3 bin=$EV_GLIBC out rc line got
    [ "$impl" = rtaio ] && bin=$EV_RTAIO
    FIG=ERR EV_CPU=-
    out=$(timeout "$RUN_TIMEOUT" "$bin" "$pat" "$EV_FILE" "$qd" "$EV_SECS" 2>>"$LOG")
    rc=$?
    log "[$impl] evbench $pat $EV_FILE $qd $EV_SECS -> rc=$rc"
    [ -n "$out" ] && log "$out"
    if [ $rc -eq 124 ]; then FIG=TIMEOUT; note "evbench $impl $pat QD$qd: timed out"; return 1; fi
    line=$(grep '^RESULT ' <<<"$out" | tail -n1)
    got=$(kv lib "$line")
    if [ "$impl" = rtaio ] && [ "$got" != "$EV_LIBDIR/librtaio.so.1" ]; then
        note "evbench-rtaio: aio_read came from '$got', not the snapshot"; return 1
    fi
    if [ "$impl" = glibc ] && [[ "$got" == *rtaio* ]]; then
        note "evbench-glibc: aio_read came from '$got'"; return 1
    fi
    if [ $rc -ne 0 ] || [ -z "$line" ] || [ "$(kv errors "$line")" != 0 ] || [ "$(kv lost "$line")" != 0 ]; then
        note "evbench $impl $pat QD$qd: rc=$rc, a completion was lost, doubled or wrong (see $LOG)"
        return 1
    fi
    ev_runs=$((ev_runs + 1))
    ev_checked=$((ev_checked + $(kv completed "$line")))
    EV_CPU=$(kv cpu_us_per_op "$line")
    FIG=$(kv rate "$line")
}

ev_measure() { # DEPTH
    local qd=$1 name="eventfd-loop QD$1" i ga=() ra=() rb=() gc=() rac=() rbc=()
    for ((i = 0; i < REPS; i++)); do
        ev_run glibc signal "$qd" || status=1; ga+=("$FIG"); gc+=("$EV_CPU")
        if [ $ev_have_rtaio = 1 ]; then
            ev_run rtaio signal "$qd" || status=1; ra+=("$FIG"); rac+=("$EV_CPU")
            ev_run rtaio eventfd "$qd" || status=1; rb+=("$FIG"); rbc+=("$EV_CPU")
        fi
    done
    local bga bra brb
    bga=$(best "${ga[@]}") bra=$(best "${ra[@]:-}") brb=$(best "${rb[@]:-}")
    ev_rows+=("$name|${bga:-ERR}|${bra:-n/a}|${brb:-n/a}|$(ev_ratio "$brb" "$bga")|$(ev_ratio "$brb" "$bra")")
    ev_samples+=("$name: glibc signal+pipe=[${ga[*]}] median $(median "${ga[@]}"); rtaio signal+pipe=[${ra[*]:-}] median $(median "${ra[@]:-}"); rtaio eventfd=[${rb[*]:-}] median $(median "${rb[@]:-}")")
    ev_cpus+=("$name: glibc signal+pipe=[${gc[*]}] rtaio signal+pipe=[${rac[*]:-}] rtaio eventfd=[${rbc[*]:-}]")
    printf '  %-28s glibc A=[%s] rtaio A=[%s] rtaio B=[%s]\n' "$name" "${ga[*]}" "${ra[*]:-}" "${rb[*]:-}" >&2
}

# Builds, prepares the file, measures both rows (results in ev_rows, ev_samples, ev_cpus).
evloop_section() {
    local cflags=(-O2 -Wall -Wextra) src=$ROOT/bench/evbench.c
    ev_ratio() { if [ -n "$1" ] && [ -n "$2" ]; then
        awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "n/a" }'
        else echo n/a; fi; }
    if ! ${CC:-cc} "${cflags[@]}" -o "$EV_GLIBC" "$src" -lrt -ldl; then
        note "evbench: cannot compile bench/evbench.c"; status=1; return
    fi
    if [ $have_rtaio = 1 ]; then
        mkdir -p "$EV_LIBDIR"
        cp "$PRELOAD" "$EV_LIBDIR/librtaio.so.1" && ln -sf librtaio.so.1 "$EV_LIBDIR/librtaio.so"
        if ${CC:-cc} "${cflags[@]}" -DEVBENCH_RTAIO -I"$TOP/librt-aio/include" -o "$EV_RTAIO" "$src" \
            -L"$EV_LIBDIR" -Wl,--disable-new-dtags,-rpath,"$EV_LIBDIR" -lrtaio -lrt -ldl 2>>"$LOG"; then
            ev_have_rtaio=1
        else
            note "evbench-rtaio does not build against the snapshot (no aio_reap/SIGEV_EVENTFD yet?): rtaio columns not measured (see $LOG)"
            status=1
        fi
    fi
    "$BIN" prepare "$EV_FILE" "$EV_MIB" >>"$LOG" || { note "evbench: cannot create $EV_FILE"; status=1; return; }
    log "warm $EV_FILE: $("$BIN" warm "$EV_FILE")"
    "$BIN" hold "$EV_FILE" 300 >>"$LOG" 2>&1 &
    EV_HOLD_PID=$!
    trap 'kill "$HOLD_PID" "$EV_HOLD_PID" 2>/dev/null; wait "$HOLD_PID" "$EV_HOLD_PID" 2>/dev/null' EXIT
    sleep 0.3
    echo "eventfd event loop: 4 KiB random reads of a ${EV_MIB} MiB cached file, runs of ${EV_SECS}s + 0.25s warm-up, $REPS per column, alternated; figure = best run" >&2
    ev_measure 32
    ev_measure 1
    kill "$EV_HOLD_PID" 2>/dev/null; wait "$EV_HOLD_PID" 2>/dev/null
    EV_HOLD_PID=
}

evloop_report() {
    echo
    echo "eventfd event loop: completions/s delivered to an epoll loop, 4 KiB random reads of a ${EV_MIB} MiB cached file, one fd"
    echo "(A = signal+pipe: SIGEV_SIGNAL + SA_SIGINFO handler writing the aiocb into a pipe; B = eventfd: SIGEV_EVENTFD + aio_reap)"
    local row n g a b q1 q2
    for row in "${ev_rows[@]}"; do
        IFS='|' read -r n g a b q1 q2 <<<"$row"
        printf '%s: glibc signal+pipe %s/s | rtaio signal+pipe %s/s | rtaio eventfd %s/s | eventfd vs glibc %s× | eventfd vs rtaio signal+pipe %s×\n' \
            "$n" "$g" "$a" "$b" "$q1" "$q2"
    done
    echo "(best of $REPS runs of ${EV_SECS}s each, the three alternated; verified: $ev_checked completions in $ev_runs runs, each delivered to the loop exactly once, none lost)"
    for row in "${ev_rows[@]}"; do
        IFS='|' read -r n g a b q1 q2 <<<"$row"
        echo "BENCH $(tr -s ' -' '_' <<<"$n") glibc_signal=$g rtaio_signal=$a rtaio_eventfd=$b ratio=$q1 ratio_vs_rtaio_signal=$q2"
    done
    echo "samples (completions/s per run, in run order):"
    printf '  %s\n' "${ev_samples[@]}"
    echo "CPU time per completion (user+sys of all threads / completions, us):"
    printf '  %s\n' "${ev_cpus[@]}"
}

case ${BENCH_ONLY:-${1:-all}} in
    all) ;;
    evloop)
        evloop_section
        evloop_report
        if [ $have_rtaio = 0 ]; then
            note "$LIB does not exist (run 'make build'): only glibc was measured"
            status=1
        fi
        if [ ${#notes[@]} -gt 0 ]; then
            echo
            echo "notes:"
            printf '  - %s\n' "${notes[@]}" | awk '!seen[$0]++'
        fi
        echo "log: $LOG"
        exit $status
        ;;
    *) echo "bench: unknown section '${BENCH_ONLY:-$1}' (sections: all, evloop)" >&2; exit 2 ;;
esac

# ---------------------------------------------------------------- measurements
FIO_COMMON=(--name=rtaio-bench --readonly --ioengine=posixaio --rw=randread --bs=4k --iodepth=32
    --numjobs=1 --time_based --runtime="$(awk -v s="$SECS" 'BEGIN{printf "%d", s * 1000}')ms")

measure "randread 4K cached  QD1"  IOPS read "$CACHED" 1 "$SECS" cached
measure "randread 4K cached  QD32" IOPS read "$CACHED" 32 "$SECS" cached
measure "randread 4K uncached QD1"  IOPS read "$UNCACHED" 1 "$SECS" uncached
measure "randread 4K uncached QD32" IOPS read "$UNCACHED" 32 "$SECS" uncached
measure "SIGEV_THREAD cached QD32" "compl/s" sigev "$CACHED" 32 "$SECS"
"$BIN" warm "$CACHED" >>"$LOG"
measure "fio posixaio cached QD32" IOPS fio "${FIO_COMMON[@]}" --filename="$CACHED" \
    --size="${CACHED_MIB}M" --invalidate=0
ev=$("$BIN" evict "$UNCACHED"); log "before fio uncached: $ev"
measure "fio posixaio uncached QD32" IOPS fio "${FIO_COMMON[@]}" --filename="$UNCACHED" \
    --size="${UNCACHED_MIB}M" --invalidate=1

# O_DIRECT: glibc, rtaio (kernel AIO backend) and fio --ioengine=libaio, alternated
FIO_LIBAIO=(--name=rtaio-bench-libaio --readonly --ioengine=libaio --direct=1 --rw=randread
    --bs=4k --iodepth=32 --numjobs=1 --time_based
    --runtime="$(awk -v s="$SECS" 'BEGIN{printf "%d", s * 1000}')ms"
    --filename="$UNCACHED" --size="${UNCACHED_MIB}M")
OD_NAME="randread 4K O_DIRECT QD32"
od_g=() od_r=() od_l=() od_gcpu=() od_rcpu=()
od_b=()
for ((i = 0; i < REPS; i++)); do
    run_one glibc odirect "$UNCACHED" 32 "$SECS" || status=1; od_g+=("$FIG"); od_gcpu+=("$CPU")
    if [ $have_rtaio = 1 ]; then
        run_one rtaio odirect "$UNCACHED" 32 "$SECS" || status=1; od_r+=("$FIG"); od_rcpu+=("$CPU")
    fi
    if [ $have_before = 1 ]; then
        run_one before odirect "$UNCACHED" 32 "$SECS" || status=1; od_b+=("$FIG")
    fi
    run_one libaio fio "${FIO_LIBAIO[@]}" || status=1; od_l+=("$FIG")
done
if [ $have_before = 1 ]; then
    od_bb=$(best "${od_b[@]}")
    before_rows+=("randread 4K O_DIRECT QD32|${od_bb:-ERR}|$(best "${od_r[@]:-}")|$(awk -v a="$(best "${od_r[@]:-}")" -v b="$od_bb" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "n/a" }')")
fi
od_bg=$(best "${od_g[@]}") od_bl=$(best "${od_l[@]}")
od_br=$([ $have_rtaio = 1 ] && best "${od_r[@]}")
ratio_of() { if [ -n "$1" ] && [ -n "$2" ]; then
    awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "n/a" }'
    else echo n/a; fi; }
od_rg=$(ratio_of "$od_br" "$od_bg") od_rl=$(ratio_of "$od_br" "$od_bl")
rows+=("$OD_NAME|${od_bg:-ERR}|${od_br:-n/a}|$od_rg|IOPS")
samples+=("$OD_NAME: glibc=[${od_g[*]}] median $(median "${od_g[@]}"); rtaio=[${od_r[*]:-}] median $(median "${od_r[@]:-}"); fio libaio=[${od_l[*]}] median $(median "${od_l[@]}")")
cpus+=("$OD_NAME: glibc=[${od_gcpu[*]}] rtaio=[${od_rcpu[*]:-}]")
printf '  %-28s glibc=[%s] rtaio=[%s] libaio=[%s]\n' "$OD_NAME" "${od_g[*]}" "${od_r[*]:-}" "${od_l[*]}" >&2
target() { # RATIO MIN -> "ok" / "BELOW TARGET"
    awk -v r="$1" -v m="$2" 'BEGIN{ if (r == "n/a") print "n/a"; else if (r + 0 >= m) print "ok"; else print "BELOW TARGET" }'; }
od_tg=$(target "$od_rg" 2.5) od_tl=$(target "$od_rl" 0.9)
[ "$od_tg" = "BELOW TARGET" ] && note "$OD_NAME: rtaio/glibc = $od_rg, below the 2.5x target"
[ "$od_tl" = "BELOW TARGET" ] && note "$OD_NAME: rtaio/libaio = $od_rl, below the 0.9x target"

evloop_section # eventfd event loop rows (bench/evbench.c)

# ---------------------------------------------------------------- report
echo
printf '%-28s | %12s | %12s | %6s\n' "test" "glibc" "rtaio" "ratio"
printf '%-28s-+-%12s-+-%12s-+-%6s\n' "----------------------------" "------------" "------------" "------"
for row in "${rows[@]}"; do
    IFS='|' read -r n g r q u <<<"$row"
    printf '%-28s | %12s | %12s | %6s   %s\n' "$n" "$g" "$r" "$q" "$u"
done
echo "(figures: best of $REPS runs of ${SECS}s each, glibc and rtaio alternated; ratio = rtaio/glibc)"
echo
echo "$OD_NAME, one fd, uncached file (rtaio: kernel-AIO backend; reference: fio libaio):"
printf '  %-26s %12s IOPS\n' "glibc" "${od_bg:-ERR}" "rtaio" "${od_br:-n/a}" \
    "fio libaio (io_submit)" "${od_bl:-ERR}"
printf '  %-26s %12s   (target >= 2.5: %s)\n' "ratio rtaio/glibc" "$od_rg" "$od_tg"
printf '  %-26s %12s   (target >= 0.9: %s)\n' "ratio rtaio/libaio" "$od_rl" "$od_tl"
echo
for row in "${rows[@]}"; do
    IFS='|' read -r n g r q u <<<"$row"
    key=$(tr -s ' ' '_' <<<"$n" | tr -cd 'A-Za-z0-9_')
    echo "BENCH $key glibc=$g rtaio=$r ratio=$q"
done
echo "BENCH randread_4K_O_DIRECT_QD32_vs_libaio libaio=${od_bl:-ERR} rtaio=${od_br:-n/a} ratio=$od_rl"
echo
echo "samples (IOPS or completions/s per run, in run order):"
for s in "${samples[@]}"; do echo "  $s"; done
echo "CPU time per completed request (user+sys of all threads / requests, us; 2 CPUs):"
for s in "${cpus[@]}"; do echo "  $s"; done
echo "page-cache residency of the uncached file (mincore on an mmap, fraction of pages):"
printf '%s\n' "${residency[@]}" | awk '
    { key = $1 " " $2; sub(/:$/, "", key); split($4, b, "="); split($5, a, "=");
      if (!(key in n)) { order[++k] = key; bmax[key] = b[2]; amin[key] = a[2]; amax[key] = a[2] }
      n[key]++; if (b[2] > bmax[key]) bmax[key] = b[2];
      if (a[2] < amin[key]) amin[key] = a[2]; if (a[2] > amax[key]) amax[key] = a[2] }
    END { for (i = 1; i <= k; i++) { key = order[i];
          printf "  %-14s before each run <= %s, after %s..%s (%d runs)\n", key ":", bmax[key], amin[key], amax[key], n[key] } }'
echo "  before the fio uncached rows (after evict): $(kv resident " $ev") (fio --invalidate=1 evicts again)"

evloop_report

if [ $have_before = 1 ]; then
    echo
    echo "rtaio against the baseline library (BENCH_BASELINE=$BENCH_BASELINE), same run:"
    printf '%-28s | %12s | %12s | %6s\n' "test" "before" "rtaio" "ratio"
    for row in "${before_rows[@]}"; do
        IFS='|' read -r n b r q <<<"$row"
        printf '%-28s | %12s | %12s | %6s\n' "$n" "$b" "$r" "$q"
    done
fi

if [ $have_rtaio = 0 ]; then
    note "$LIB does not exist (run 'make build'): only glibc was measured"
    status=1
fi
if grep -q 'I/O error' "$LOG"; then
    note "I/O errors were reported; first ones:"
    while IFS= read -r l; do note "  $l"; done < <(grep -m5 'I/O error' "$LOG")
    status=1
fi
if [ ${#notes[@]} -gt 0 ]; then
    echo
    echo "notes:"
    printf '  - %s\n' "${notes[@]}" | awk '!seen[$0]++'
fi
echo "log: $LOG"
exit $status
