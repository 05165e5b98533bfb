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
    if [ "$impl" = rtaio ] && [[ "$got" != *rtaio* ]]; then
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

measure() {
    local name=$1 unit=$2; shift 2
    local g=() r=() gcpu=() rcpu=() i
    for ((i = 0; i < REPS; i++)); do
        run_one glibc "$@" || status=1; g+=("$FIG"); gcpu+=("$CPU")
        if [ $have_rtaio = 1 ]; then
            run_one rtaio "$@" || status=1; r+=("$FIG"); rcpu+=("$CPU")
        fi
    done
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
for ((i = 0; i < REPS; i++)); do
    run_one glibc odirect "$UNCACHED" 32 "$SECS" || status=1; od_g+=("$FIG"); od_gcpu+=("$CPU")
    if [ $have_rtaio = 1 ]; then
        run_one rtaio odirect "$UNCACHED" 32 "$SECS" || status=1; od_r+=("$FIG"); od_rcpu+=("$CPU")
    fi
    run_one libaio fio "${FIO_LIBAIO[@]}" || status=1; od_l+=("$FIG")
done
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
