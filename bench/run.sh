#!/usr/bin/env bash
# rtaio performance report (`make bench`).
#
# Every row runs the SAME program on the SAME file in several configurations, alternated run by
# run (glibc, rtaio, rtaio-threads, [before], kernel references..., and the next round starts
# one configuration later), BENCH_REPS rounds of BENCH_SECS seconds. A figure is the BEST run
# (the highest rate; CPU: the lowest CPU time per request among the runs): on a shared, noisy
# machine the best run is the one least disturbed. Compare figures of one run only, as ratios.
#
# Columns (configurations):
#   glibc          the program as it is: glibc's POSIX AIO (a thread per fd, one request at a time)
#   rtaio          the same program with LD_PRELOAD of a snapshot of $RTAIO_LIBDIR/librtaio.so,
#                  default backend (RTAIO_BACKEND unset)
#   rtaio-threads  the same without io_uring, as where the kernel refuses it: RTAIO_BACKEND=kaio
#                  (the inline path and the thread pool; native AIO for O_DIRECT files only)
#   before         BENCH_BASELINE=/path/to/other/librtaio.so: that library, default backend
#   kernel references: programs that use the kernel's own interfaces directly, on the same file
#                  with the same request size and pattern. They bound what any POSIX AIO library
#                  can reach on that row (the library adds its bookkeeping to the same system
#                  calls), so "rtaio/ref" says how much of what the kernel can do rtaio delivers.
#
# Rows (4 KiB requests at random 4 KiB-aligned offsets, one fd, data checked, unless said):
#   cached1     aio_read QD1 of a 256 MiB page-cached file (kept resident with mlock), waited for
#               with aio_suspend, then aio_error/aio_return (aiobench read ... 1 cached).
#               refs: "pread loop" (aiobench pread: one thread, pread at random offsets, same
#               file, same check) and fio psync numjobs=1: a synchronous read on the caller's
#               thread is the least a QD1 read costs; an AIO library can only add to it.
#   cached32    the same with 32 reads in flight on one fd (aiobench read ... 32 cached).
#               refs: fio psync numjobs=2 (both cores copying from the page cache, no queue),
#               fio io_uring iodepth=32 (one thread, cached reads complete at submission) and
#               io_uring with --sqthread_poll (a kernel thread submits on the other core). Both
#               cores busy copying is the ceiling; io_uring is the kernel's own async path.
#   lio         lio_listio(LIO_WAIT) of 256 cached reads, again and again (aiobench lio).
#               No kernel reference (the list semantics have none); compare with glibc.
#   write       aio_write QD32 of 4 KiB blocks of a 64 MiB cached file (aiobench write; no two
#               in-flight writes share a block; every written block read back and compared
#               after the run). The file is fsync'ed after every run, outside the measurement.
#               refs: fio psync numjobs=2 randwrite and fio io_uring iodepth=32 randwrite: both
#               cores copying into the page cache, and the kernel's async path; and fio psync
#               numjobs=1: one writer, which ext4 can outrun two with (buffered writes to one
#               file take its inode lock in turn: on this 2-core machine psync x1 reached
#               271k-352k/s against 251k-271k/s for x2, 3 alternated rounds).
#   write1cpu   the same program pinned to one CPU (taskset, the first CPU this shell may use):
#               a container with one CPU's quota, or a busy machine. rtaio has no core to
#               spare there: what it costs per request beside glibc is the whole story. No ref.
#   wsync       aiobench wsync with 4 chains on one fd: aio_write 4 KiB, once it completed
#               aio_fsync(O_DSYNC) on the fd, once that completed the next write. Figure: pairs
#               per second. 4 chains: enough to overlap a flush with the next writes (a real
#               log writer keeps a few commits in flight) without turning into a queue-depth
#               test. ref: fio psync numjobs=4 --fdatasync=1 randwrite: four threads doing
#               write + fdatasync synchronously, the same four chains without AIO; the device's
#               flush latency bounds both.
#   pipe        aiobench pipe 1: aio_read 4 KiB at QD1 from a pipe that a writer thread keeps
#               full of 4 KiB records; the i-th read must return record i. QD1 because a pipe is
#               a stream (reads are served in order, one at a time in glibc and rtaio alike):
#               the row measures the per-request cost of a non-seekable descriptor. No ref.
#   sigev       32 cached reads in flight, completion by SIGEV_THREAD (callback counts, marks
#               its slot, posts a semaphore; aiobench sigev). Figure: completions/s. No ref.
#   mixed       a small program: 16 requests in flight on one fd of a 64 MiB cached file, 4 KiB
#               reads and writes 50/50 at random blocks, completion by SIGEV_SIGNAL (SA_SIGINFO
#               handler appends the aiocb to a ring; the main loop keeps the signal blocked and
#               waits in sigsuspend: the classic pattern). Reads of blocks the run wrote must
#               return the last write; every completion signalled exactly once. No ref.
#   uncached1   aio_read QD1 of a 2 GiB file evicted before the run, each block read at most
#               once (aiobench read ... 1 uncached). ref: fio psync numjobs=1 --invalidate=1:
#               one synchronous read at a time from the device, its latency bounds QD1.
#   uncached32  the same at QD32. refs: fio psync numjobs=32 (32 threads with one read each =
#               32 reads at the device, disjoint 64 MiB ranges so no job reads another's cached
#               block) and fio io_uring iodepth=32, buffered, --invalidate=1: the device's rate
#               at depth 32 through the page cache.
#   odirect     aio_read QD32 on an O_DIRECT fd of the 2 GiB file (aiobench odirect). refs: fio
#               libaio (io_submit, what rtaio's kernel-AIO backend uses) and fio io_uring
#               --direct=1, iodepth 32: the device's random-read rate without the page cache.
#   fio-cached, fio-uncached   fio --ioengine=posixaio iodepth 32 (a real program on POSIX AIO),
#               the 256 MiB cached file (--invalidate=0) and the 2 GiB one (--invalidate=1).
#               CPU: see below. No ref (the refs of cached32/uncached32 bound them too).
#   evloop32, evloop1   completions/s delivered to an epoll loop (bench/evbench.c, 64 MiB cached
#               file): glibc column = glibc with SIGEV_SIGNAL + a handler writing the aiocb into
#               a pipe in the epoll set; rtaio and rtaio-threads = SIGEV_EVENTFD + aio_reap (the
#               rtaio.h extension); sub-line "rtaio signal+pipe" = rtaio with glibc's pattern.
#               evbench-rtaio links a copy of the snapshot (RPATH), so no "before" column.
#
# CPU per request: user+sys time of all threads of the process / requests completed, in µs.
#   aiobench and evbench: getrusage(RUSAGE_SELF) at the end of the run (the whole process, set-up
#   included; kernel worker threads such as io_uring's belong to the process and are counted).
#   fio: user+sys of fio's whole process tree (every job and its kernel threads, e.g. the SQPOLL
#   thread, which fio's own usr_cpu/sys_cpu leave out) measured around the run with `times`,
#   minus the same measured once per row and configuration for a 1 ms run (fio's start-up and
#   exit, about 0.17 s), divided by the requests counted in fio's terse output.
#
# Output:
#   stdout  the table (117 columns; 131 with a "before" column), the O_DIRECT targets, the
#           "BENCH key=value" lines, every sample, CPU per run, residency, the event-loop
#           section, notes; BENCH_REPORT=table prints the table and the notes only
#   build/bench/bench.csv   row,config,ops_per_s,cpu_us_per_op (best figures, one per row×config)
#   build/bench/bench.svg   the chart (gnuplot): throughput and CPU per request, two panels
#   build/bench/bench.log   every run's command, exit status and output
#
# Environment:
#   RTAIO_LIBDIR   directory holding librtaio.so (default: <repo>/target/release)
#   BENCH_SECS     seconds per run (default 2)
#   BENCH_REPS     runs per configuration and row (default 3)
#   BENCH_ONLY     rows to run, separated by spaces or commas (also the first argument): row keys
#                  (above) or groups: all (default), headline (cached1 cached32 uncached32
#                  odirect), cached, uncached, writes (write write1cpu wsync mixed), aio (lio
#                  pipe sigev mixed), fio (fio-cached fio-uncached), evloop (evloop32 evloop1)
#   BENCH_BASELINE another librtaio.so (e.g. the build before a change): the column "before"
#   BENCH_THREADS  0: no rtaio-threads column
#   BENCH_REPORT   full (default) or table
#   BENCH_OUT      where results go (default <repo>/build/bench)
#   BENCH_DATA     where the data files go (default BENCH_OUT; the 2 GiB file is reused if valid)
#   EVBENCH_SECS   measured seconds per event-loop run (default BENCH_SECS - 0.25, plus a 0.25 s
#                  warm-up)
#   CC             C compiler (default cc)
# Exit status: 0 all rows measured without error; 1 library missing, a run failed, an I/O error
# was seen, or the preload did not take effect; 2 bad arguments.
set -u
set -o pipefail

T_START=$(date +%s)
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOP=$(git -C "$ROOT" rev-parse --show-toplevel 2>/dev/null || echo "$ROOT")
RTAIO_LIBDIR=${RTAIO_LIBDIR:-$TOP/target/release}
LIB=$RTAIO_LIBDIR/librtaio.so
OUT=${BENCH_OUT:-$ROOT/build/bench}
DATA=${BENCH_DATA:-$OUT}
SECS=${BENCH_SECS:-2}
REPS=${BENCH_REPS:-3}
THREADS_COL=${BENCH_THREADS:-1}
REPORT=${BENCH_REPORT:-full}
CACHED_MIB=256
UNCACHED_MIB=2048
WRITE_MIB=64
MIXED_MIB=64
EV_MIB=64
CACHED=$DATA/cached.dat
UNCACHED=$DATA/uncached.dat
WFILE=$DATA/write.dat
MFILE=$DATA/mixed.dat
EV_FILE=$DATA/evloop.dat
BIN=$OUT/aiobench
LOG=$OUT/bench.log
CSV=$OUT/bench.csv
SVG=$OUT/bench.svg
RUN_TIMEOUT=$(( ${SECS%.*} * 10 + 30 ))
MS=$(awk -v s="$SECS" 'BEGIN{ printf "%d", s * 1000 }')
EV_SECS=${EVBENCH_SECS:-$(awk -v s="$SECS" 'BEGIN{ v = s - 0.25; if (v < 0.5) v = 0.5; print v }')}
WSYNC_PAIRS=4
PIPE_QD=1
MIXED_QD=16
LIO_N=256
# The first CPU this shell may run on (write1cpu pins to it).
ONE_CPU=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*\([0-9]*\).*/\1/p' /proc/self/status)

mkdir -p "$OUT" "$DATA"
: >"$LOG"
status=0
notes=()
note() { notes+=("$*"); }
log() { echo "$*" >>"$LOG"; }

# ---------------------------------------------------------------- which rows
ALL_ROWS=(cached1 cached32 lio write write1cpu wsync pipe sigev mixed uncached1 uncached32 odirect
    fio-cached fio-uncached evloop32 evloop1)
declare -A WANT=()
for arg in ${BENCH_ONLY:-${1:-all}}; do
    for w in ${arg//,/ }; do
        case $w in
            all) for r in "${ALL_ROWS[@]}"; do WANT[$r]=1; done ;;
            headline | demo) for r in cached1 cached32 uncached32 odirect; do WANT[$r]=1; done ;;
            cached) for r in cached1 cached32 lio write write1cpu sigev mixed fio-cached; do WANT[$r]=1; done ;;
            uncached) for r in uncached1 uncached32 odirect fio-uncached; do WANT[$r]=1; done ;;
            writes) for r in write write1cpu wsync mixed; do WANT[$r]=1; done ;;
            aio) for r in lio pipe sigev mixed; do WANT[$r]=1; done ;;
            fio) for r in fio-cached fio-uncached; do WANT[$r]=1; done ;;
            evloop) WANT[evloop32]=1 WANT[evloop1]=1 ;;
            *) if [[ " ${ALL_ROWS[*]} " == *" $w "* ]]; then WANT[$w]=1; else
                echo "bench: unknown row '$w' (rows: ${ALL_ROWS[*]}; groups: all headline cached uncached writes aio fio evloop)" >&2
                exit 2
            fi ;;
        esac
    done
done
ROWS=()
for r in "${ALL_ROWS[@]}"; do [ -n "${WANT[$r]:-}" ] && ROWS+=("$r"); done
wants() { local r; for r in "$@"; do [ -n "${WANT[$r]:-}" ] && return 0; done; return 1; }

# ---------------------------------------------------------------- rows and configurations
# row_def KEY: R_LABEL (table), R_BENCH (key of its BENCH line), R_KIND (aio|fio|ev),
# R_REFS (kernel references), R_EXTRA (further rtaio variants), R_POST (a file to fsync after
# every run, outside the measurement)
row_def() {
    R_REFS=() R_EXTRA=() R_POST='' R_KIND=aio
    case $1 in
        cached1) R_LABEL="cached read QD1" R_BENCH=randread_4K_cached_QD1 R_REFS=(pread fio-psync) ;;
        cached32) R_LABEL="cached read QD32" R_BENCH=randread_4K_cached_QD32
            R_REFS=(fio-psync2 fio-uring fio-sqpoll) ;;
        lio) R_LABEL="lio_listio 256 cached" R_BENCH=lio_listio_256_cached ;;
        write) R_LABEL="cached write QD32" R_BENCH=randwrite_4K_cached_QD32 R_POST=$WFILE
            R_REFS=(fio-psync2 fio-psync fio-uring) ;;
        write1cpu) R_LABEL="cached write QD32 1cpu" R_BENCH=randwrite_4K_cached_QD32_one_CPU R_POST=$WFILE ;;
        wsync) R_LABEL="write+fdatasync x4" R_BENCH=write_fdatasync_4_chains
            R_REFS=(fio-psync4) ;;
        pipe) R_LABEL="pipe read QD$PIPE_QD" R_BENCH=pipe_read_4K_QD$PIPE_QD ;;
        sigev) R_LABEL="SIGEV_THREAD QD32" R_BENCH=SIGEV_THREAD_cached_QD32 ;;
        mixed) R_LABEL="mixed r/w SIGEV_SIGNAL" R_BENCH=mixed_rw_4K_SIGEV_SIGNAL_QD$MIXED_QD
            R_POST=$MFILE ;;
        uncached1) R_LABEL="uncached read QD1" R_BENCH=randread_4K_uncached_QD1 R_REFS=(fio-psync) ;;
        uncached32) R_LABEL="uncached read QD32" R_BENCH=randread_4K_uncached_QD32
            R_REFS=(fio-psync32 fio-uring) ;;
        odirect) R_LABEL="O_DIRECT read QD32" R_BENCH=randread_4K_O_DIRECT_QD32
            R_REFS=(fio-libaio fio-uring) ;;
        fio-cached) R_LABEL="fio posixaio cached" R_BENCH=fio_posixaio_cached_QD32 R_KIND=fio ;;
        fio-uncached) R_LABEL="fio posixaio uncached" R_BENCH=fio_posixaio_uncached_QD32 R_KIND=fio ;;
        evloop32 | evloop1) R_LABEL="epoll loop QD${1#evloop} (e)" R_BENCH=epoll_loop_QD${1#evloop}
            R_KIND=ev R_EXTRA=(rtaio-sigpipe) ;;
    esac
}

cfg_label() {
    case $1 in
        pread) echo "pread loop" ;;
        fio-psync) echo "fio psync" ;;
        fio-psync2) echo "fio psync x2" ;;
        fio-psync4) echo "fio psync+fdsync" ;;
        fio-psync32) echo "fio psync x32" ;;
        fio-uring) echo "fio io_uring" ;;
        fio-sqpoll) echo "fio uring sqpoll" ;;
        fio-libaio) echo "fio libaio" ;;
        rtaio-sigpipe) echo "rtaio signal+pipe" ;;
        *) echo "$1" ;;
    esac
}

FIO_RUN=(--bs=4k --time_based --runtime="${MS}ms" --output-format=terse)
FIO_CACHED=(--filename="$CACHED" --size="${CACHED_MIB}M" --invalidate=0 --readonly --rw=randread)
FIO_UNCACHED=(--filename="$UNCACHED" --size="${UNCACHED_MIB}M" --invalidate=1 --readonly
    --rw=randread --randrepeat=0)
FIO_WRITE=(--filename="$WFILE" --size="${WRITE_MIB}M" --invalidate=0 --rw=randwrite --norandommap)

# cfg_cmd KEY CFG: C_TYPE (aio|fio|ev), C_ENV (for env(1)), C_CMD (the command)
cfg_cmd() {
    local key=$1 cfg=$2 name=--name=rtaio-bench
    C_ENV=(-u LD_PRELOAD -u RTAIO_BACKEND)
    case $cfg in
        rtaio) C_ENV+=("LD_PRELOAD=$PRELOAD") ;;
        rtaio-threads) C_ENV+=("LD_PRELOAD=$PRELOAD" RTAIO_BACKEND=kaio) ;;
        before) C_ENV+=("LD_PRELOAD=$BEFORE") ;;
    esac
    C_TYPE=aio
    case $cfg in
        pread) C_CMD=("$BIN" pread "$CACHED" "$SECS"); return ;;
        fio-*) C_TYPE=fio ;;
    esac
    if [ $C_TYPE = fio ]; then
        local eng
        case $cfg in
            fio-psync) eng=(--ioengine=psync --numjobs=1) ;;
            fio-psync2) eng=(--ioengine=psync --numjobs=2) ;;
            fio-psync4) eng=(--ioengine=psync --numjobs=4 --fdatasync=1) ;;
            fio-psync32) eng=(--ioengine=psync --numjobs=32) ;;
            fio-uring) eng=(--ioengine=io_uring --iodepth=32) ;;
            fio-sqpoll) eng=(--ioengine=io_uring --iodepth=32 --sqthread_poll=1) ;;
            fio-libaio) eng=(--ioengine=libaio --iodepth=32) ;;
        esac
        case $key in
            cached1 | cached32) C_CMD=(fio "$name" "${eng[@]}" "${FIO_CACHED[@]}" --norandommap) ;;
            write | wsync) C_CMD=(fio "$name" "${eng[@]}" "${FIO_WRITE[@]}") ;;
            uncached1) C_CMD=(fio "$name" "${eng[@]}" "${FIO_UNCACHED[@]}") ;;
            uncached32)
                if [ $cfg = fio-psync32 ]; then # disjoint ranges: no job reads a block another cached
                    local part=$((UNCACHED_MIB / 32))
                    C_CMD=(fio "$name" "${eng[@]}" "${FIO_UNCACHED[@]}" --size="${part}M"
                        --offset_increment="${part}M")
                else
                    C_CMD=(fio "$name" "${eng[@]}" "${FIO_UNCACHED[@]}")
                fi ;;
            odirect) C_CMD=(fio "$name" "${eng[@]}" "${FIO_UNCACHED[@]}" --direct=1) ;;
        esac
        C_CMD+=("${FIO_RUN[@]}")
        return
    fi
    case $key in
        cached1) C_CMD=("$BIN" read "$CACHED" 1 "$SECS" cached) ;;
        cached32) C_CMD=("$BIN" read "$CACHED" 32 "$SECS" cached) ;;
        lio) C_CMD=("$BIN" lio "$CACHED" "$LIO_N" "$SECS") ;;
        write) C_CMD=("$BIN" write "$WFILE" 32 "$SECS") ;;
        write1cpu) C_CMD=(taskset -c "$ONE_CPU" "$BIN" write "$WFILE" 32 "$SECS") ;;
        wsync) C_CMD=("$BIN" wsync "$WFILE" "$WSYNC_PAIRS" "$SECS") ;;
        pipe) C_CMD=("$BIN" pipe "$PIPE_QD" "$SECS") ;;
        sigev) C_CMD=("$BIN" sigev "$CACHED" 32 "$SECS") ;;
        mixed) C_CMD=("$BIN" mixed "$MFILE" "$MIXED_QD" "$SECS") ;;
        uncached1) C_CMD=("$BIN" read "$UNCACHED" 1 "$SECS" uncached) ;;
        uncached32) C_CMD=("$BIN" read "$UNCACHED" 32 "$SECS" uncached) ;;
        odirect) C_CMD=("$BIN" odirect "$UNCACHED" 32 "$SECS") ;;
        fio-cached | fio-uncached)
            C_TYPE=fio
            C_CMD=(fio "$name" --ioengine=posixaio --rw=randread --iodepth=32 --numjobs=1)
            if [ $key = fio-cached ]; then
                C_CMD+=(--filename="$CACHED" --size="${CACHED_MIB}M" --invalidate=0 --readonly)
            else
                C_CMD+=(--filename="$UNCACHED" --size="${UNCACHED_MIB}M" --invalidate=1 --readonly)
            fi
            C_CMD+=("${FIO_RUN[@]}") ;;
        evloop32 | evloop1)
            local qd=${key#evloop}
            C_TYPE=ev C_ENV=(-u LD_PRELOAD -u RTAIO_BACKEND)
            case $cfg in
                glibc) C_CMD=("$EV_GLIBC" signal "$EV_FILE" "$qd" "$EV_SECS") ;;
                rtaio) C_CMD=("$EV_RTAIO" eventfd "$EV_FILE" "$qd" "$EV_SECS") ;;
                rtaio-threads) C_ENV+=(RTAIO_BACKEND=kaio)
                    C_CMD=("$EV_RTAIO" eventfd "$EV_FILE" "$qd" "$EV_SECS") ;;
                rtaio-sigpipe) C_CMD=("$EV_RTAIO" signal "$EV_FILE" "$qd" "$EV_SECS") ;;
            esac ;;
    esac
}

# ---------------------------------------------------------------- running one configuration
# kv KEY LINE -> value of KEY=... in a RESULT line
kv() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2" | head -n1; }

# run_cfg KEY CFG -> FIG (ops/s, or ERR/TIMEOUT), CPU (µs per request, or -); non-zero on failure
FIG='' CPU=''
residency=() # per uncached run: resident fraction before/after
declare -A FIO_OVH=()
run_cfg() {
    local key=$1 cfg=$2 rc
    cfg_cmd "$key" "$cfg"
    FIG=ERR CPU=-
    case $C_TYPE in
        aio) run_aio "$key" "$cfg"; rc=$? ;;
        fio) run_fio "$key" "$cfg"; rc=$? ;;
        ev) run_ev "$key" "$cfg"; rc=$? ;;
    esac
    if [ -n "$R_POST" ]; then sync "$R_POST" || note "cannot fsync $R_POST"; fi
    return $rc
}

run_aio() {
    local key=$1 cfg=$2 out rc line val got
    out=$(timeout "$RUN_TIMEOUT" env "${C_ENV[@]}" "${C_CMD[@]}" 2>>"$LOG")
    rc=$?
    log "[$key $cfg] ${C_CMD[*]##*/} -> rc=$rc $out"
    if [ $rc -eq 124 ]; then FIG=TIMEOUT; note "$R_LABEL, $cfg: timed out"; return 1; fi
    line=$(grep '^RESULT' <<<"$out" | tail -n1)
    val=$(kv iops "$line")
    got=$(kv impl "$line")
    case $cfg in
        glibc) if [[ "$got" == *rtaio* ]]; then note "glibc run used '$got'"; return 1; fi ;;
        rtaio | rtaio-threads | before) if [[ "$got" != *rtaio* ]]; then
            note "preload did not take effect: aio_read came from '$got'"; return 1; fi ;;
    esac
    CPU=$(awk -v u="$(kv cpu_user "$line")" -v s="$(kv cpu_sys "$line")" -v n="$(kv ops "$line")" \
        'BEGIN{ if (n > 0) printf "%.2f", (u + s) / n * 1e6; else print "-" }')
    local errs; errs=$(kv errors "$line")
    [ -n "$errs" ] && [ "$errs" != 0 ] && note "$R_LABEL, $cfg: $errs I/O errors (see $LOG)"
    local w; w=$(kv wraps "$line")
    [ -n "$w" ] && [ "$w" != 0 ] && note "$R_LABEL, $cfg: read every block of the file once and wrapped ($w); later reads may have hit the cache"
    local rb; rb=$(kv resident_before "$line")
    if [ "${C_CMD[*]: -1}" = uncached ]; then
        awk -v r="$rb" 'BEGIN{exit !(r > 0.01)}' &&
            note "$R_LABEL, $cfg: eviction incomplete, resident fraction before the run $rb"
        residency+=("$cfg depth=$(kv depth "$line"): resident before=$rb after=$(kv resident_after "$line")")
    elif [[ $key == cached* || $key == lio || $key == sigev || $key == mixed || $cfg == pread ]]; then
        awk -v r="$rb" 'BEGIN{exit !(r < 0.99)}' && note "$R_LABEL, $cfg: file only $rb resident"
    fi
    if [ $rc -ne 0 ] || [ -z "$val" ]; then FIG=ERR; return 1; fi
    FIG=$val
}

# user+sys seconds of the children, from the last line of `times`
times_cpu() { tail -n1 <<<"$1" | awk '{ t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } printf "%.3f", t }'; }

run_fio() {
    local key=$1 cfg=$2 out rc lines cpu ops
    if [ -z "${FIO_OVH[$key|$cfg]:-}" ]; then # fio's fixed cost: the same job for 1 ms
        out=$( { timeout "$RUN_TIMEOUT" env "${C_ENV[@]}" "${C_CMD[@]}" --runtime=1ms >/dev/null 2>&1; }; times)
        FIO_OVH[$key|$cfg]=$(times_cpu "$out")
        log "[$key $cfg] fio fixed cost (1 ms run): ${FIO_OVH[$key|$cfg]} s CPU"
    fi
    out=$( { timeout "$RUN_TIMEOUT" env "${C_ENV[@]}" "${C_CMD[@]}" 2>>"$LOG"; echo "RC=$?"; }; times)
    rc=$(sed -n 's/^RC=//p' <<<"$out")
    cpu=$(times_cpu "$out")
    lines=$(grep '^3;' <<<"$out")
    log "[$key $cfg] ${C_CMD[*]} -> rc=$rc cpu=${cpu}s"
    log "$(cut -d';' -f1-9,47-50,88-89 <<<"$lines")"
    if [ "$rc" = 124 ]; then FIG=TIMEOUT; note "$R_LABEL, $cfg: timed out"; return 1; fi
    # terse v3, one line per job: field 5 error, 6/47 KiB read/written, 8/49 IOPS read/write
    local n e
    read -r n e ops FIG <<<"$(awk -F';' '{ e += ($5 != 0); kib += $6 + $47; iops += $8 + $49; n++ }
        END { printf "%d %d %.0f %.0f", n, e, kib / 4, iops }' <<<"$lines")"
    if [ "$rc" != 0 ] || [ "${n:-0}" = 0 ] || [ "$e" != 0 ] || [ "${ops:-0}" = 0 ]; then
        FIG=ERR; note "$R_LABEL, $cfg: fio failed (rc=$rc, see $LOG)"; return 1
    fi
    CPU=$(awk -v c="$cpu" -v o="${FIO_OVH[$key|$cfg]}" -v n="$ops" \
        'BEGIN{ c -= o; if (c < 0) c = 0; printf "%.2f", c / n * 1e6 }')
}

run_ev() {
    local key=$1 cfg=$2 out rc line got
    out=$(timeout "$RUN_TIMEOUT" env "${C_ENV[@]}" "${C_CMD[@]}" 2>>"$LOG")
    rc=$?
    log "[$key $cfg] ${C_CMD[*]##*/} -> rc=$rc"
    [ -n "$out" ] && log "$out"
    if [ $rc -eq 124 ]; then FIG=TIMEOUT; note "$R_LABEL, $cfg: timed out"; return 1; fi
    line=$(grep '^RESULT ' <<<"$out" | tail -n1)
    got=$(kv lib "$line")
    if [ "$cfg" != glibc ] && [ "$got" != "$EV_LIBDIR/librtaio.so.1" ]; then
        note "evbench-rtaio: aio_read came from '$got', not the snapshot"; return 1
    fi
    if [ "$cfg" = glibc ] && [[ "$got" == *rtaio* ]]; then
        note "evbench-glibc: aio_read came from '$got'"; return 1
    fi
    if [ $rc -ne 0 ] || [ -z "$line" ] || [ "$(kv errors "$line")" != 0 ] || [ "$(kv lost "$line")" != 0 ]; then
        note "$R_LABEL, $cfg: rc=$rc, a completion was lost, doubled or wrong (see $LOG)"
        return 1
    fi
    ev_runs=$((ev_runs + 1))
    ev_checked=$((ev_checked + $(kv completed "$line")))
    CPU=$(kv cpu_us_per_op "$line")
    FIG=$(kv rate "$line")
}

# ---------------------------------------------------------------- measuring a row
best() { tr ' ' '\n' <<<"$*" | grep -E '^[0-9.]+$' | sort -g | tail -n1; }
lowest() { tr ' ' '\n' <<<"$*" | grep -E '^[0-9.]+$' | sort -g | head -n1; }
median() { tr ' ' '\n' <<<"$*" | grep -E '^[0-9.]+$' | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2];
          else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio_of() { if [ -n "${1:-}" ] && [ -n "${2:-}" ]; then
    awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0 && a ~ /^[0-9.]+$/) printf "%.2f", a / b; else print "n/a" }'
    else echo n/a; fi; }

declare -A CFGS=() SAMP=() CPUS=() BEST=() CPUB=() REFBEST=()
ev_checked=0 ev_runs=0
measure_row() {
    local key=$1 cfgs=(glibc) n rep j cfg
    row_def "$key"
    if [ $R_KIND = ev ]; then
        if [ $ev_have_rtaio = 1 ]; then
            cfgs+=(rtaio)
            [ "$THREADS_COL" = 1 ] && cfgs+=(rtaio-threads)
            cfgs+=("${R_EXTRA[@]}")
        fi
    elif [ $have_rtaio = 1 ]; then
        cfgs+=(rtaio)
        [ "$THREADS_COL" = 1 ] && cfgs+=(rtaio-threads)
    fi
    [ $have_before = 1 ] && [ $R_KIND != ev ] && cfgs+=(before)
    cfgs+=("${R_REFS[@]}")
    CFGS[$key]="${cfgs[*]}"
    n=${#cfgs[@]}
    for ((rep = 0; rep < REPS; rep++)); do
        for ((j = 0; j < n; j++)); do
            cfg=${cfgs[(j + rep) % n]} # each round starts one configuration later
            run_cfg "$key" "$cfg" || status=1
            SAMP[$key|$cfg]+="$FIG " CPUS[$key|$cfg]+="$CPU "
        done
    done
    local line="" b ref=""
    for cfg in "${cfgs[@]}"; do
        BEST[$key|$cfg]=$(best "${SAMP[$key|$cfg]}")
        CPUB[$key|$cfg]=$(lowest "${CPUS[$key|$cfg]}")
        line+=" $cfg=[${SAMP[$key|$cfg]% }]"
    done
    for cfg in "${R_REFS[@]}"; do
        b=${BEST[$key|$cfg]:-}
        if [ -n "$b" ] && { [ -z "$ref" ] || awk -v a="$b" -v c="${BEST[$key|$ref]}" 'BEGIN{exit !(a > c)}'; }; then
            ref=$cfg
        fi
    done
    REFBEST[$key]=$ref
    printf '  %-24s%s\n' "$R_LABEL" "$line" >&2
}

# ---------------------------------------------------------------- build, files, libraries
${CC:-cc} -O2 -Wall -Wextra -pthread -o "$BIN" "$ROOT/bench/aiobench.c" -lrt -ldl || {
    echo "bench: cannot compile bench/aiobench.c" >&2; exit 1; }

HOLD_PIDS=()
cleanup() {
    local p
    for p in "${HOLD_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${HOLD_PIDS[@]}"; do wait "$p" 2>/dev/null; done
}
trap cleanup EXIT
# prepare_file FILE MIB [hold]: create (or reuse) and, for a cached file, read it into the page
# cache and keep it there: clean page cache is reclaimed within seconds on this VM even with free
# memory, so a helper keeps the file mmap'ed and mlock'ed for the whole run (killed on exit).
prepare_file() {
    "$BIN" prepare "$1" "$2" >>"$LOG" || { echo "bench: cannot create $1" >&2; exit 1; }
    if [ "${3:-}" = hold ]; then
        log "warm $1: $("$BIN" warm "$1")"
        "$BIN" hold "$1" 3600 >>"$LOG" 2>&1 &
        HOLD_PIDS+=($!)
    fi
}
wants cached1 cached32 lio sigev fio-cached && prepare_file "$CACHED" $CACHED_MIB hold
wants uncached1 uncached32 odirect fio-uncached && prepare_file "$UNCACHED" $UNCACHED_MIB
wants write write1cpu wsync && prepare_file "$WFILE" $WRITE_MIB hold
wants mixed && prepare_file "$MFILE" $MIXED_MIB hold
wants evloop32 evloop1 && prepare_file "$EV_FILE" $EV_MIB hold
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

# ---------------------------------------------------------------- sanity checks
SYS="$(nproc) CPUs, Linux $(uname -r), $(getconf GNU_LIBC_VERSION 2>/dev/null || echo "libc ?")"
echo "rtaio benchmark: $SYS" >&2
echo "library: $LIB" >&2
SMOKE_FILE=$CACHED
[ -f "$SMOKE_FILE" ] || SMOKE_FILE=$(ls "$MFILE" "$WFILE" "$EV_FILE" "$UNCACHED" 2>/dev/null | head -n1)
if [ -n "$SMOKE_FILE" ]; then
    smoke=$("$BIN" read "$SMOKE_FILE" 32 0.3 cached 2>>"$LOG"); rc=$?
    log "smoke glibc: rc=$rc $smoke"
    if [ $rc -ne 0 ] || [ "$(kv errors "$smoke")" != 0 ]; then
        echo "bench: the benchmark fails under plain glibc (rc=$rc): $smoke" >&2
        exit 1
    fi
fi
if [ $have_rtaio = 1 ]; then
    echo "library: $(stat -c '%y, %s bytes' "$LIB") (preloaded as a snapshot: $PRELOAD)" >&2
    if [ -n "$SMOKE_FILE" ]; then
        smoke=$(timeout 30 env LD_PRELOAD="$PRELOAD" "$BIN" read "$SMOKE_FILE" 32 0.3 cached 2>>"$LOG"); rc=$?
        log "smoke rtaio: rc=$rc $smoke"
        if [ $rc -ne 0 ] || [[ "$(kv impl "$smoke")" != *rtaio* ]]; then
            note "rtaio smoke test failed (rc=$rc): ${smoke:-no output} (see $LOG)"
            status=1
        fi
    fi
    if wants fio-cached fio-uncached; then
        fiobind=$(LD_BIND_NOW=1 LD_DEBUG=bindings LD_PRELOAD="$PRELOAD" fio --version 2>&1 \
            | grep -m1 -E "binding file [^ ]*fio .*normal symbol \`aio_read(64)?'" | sed 's/.* to \([^ ]*\) .*/\1/')
        log "fio aio_read(64) binding under preload: $fiobind"
        [[ "$fiobind" == *rtaio* ]] || { note "fio does not bind aio_read64 to rtaio under LD_PRELOAD (got: ${fiobind:-nothing})"; status=1; }
    fi
else
    echo "library: NOT FOUND — measuring glibc and the kernel references only" >&2
fi

# ---------------------------------------------------------------- evbench binaries
EV_LIBDIR=$OUT/evlib
EV_GLIBC=$OUT/evbench-glibc
EV_RTAIO=$OUT/evbench-rtaio
ev_have_rtaio=0
if wants evloop32 evloop1; then
    cflags=(-O2 -Wall -Wextra)
    if ! ${CC:-cc} "${cflags[@]}" -o "$EV_GLIBC" "$ROOT/bench/evbench.c" -lrt -ldl; then
        echo "bench: cannot compile bench/evbench.c" >&2; exit 1
    fi
    if [ $have_rtaio = 1 ]; then
        mkdir -p "$EV_LIBDIR"
        cp "$PRELOAD" "$EV_LIBDIR/librtaio.so.1" && ln -sf librtaio.so.1 "$EV_LIBDIR/librtaio.so"
        if ${CC:-cc} "${cflags[@]}" -DEVBENCH_RTAIO -I"$TOP/librt-aio/include" -o "$EV_RTAIO" \
            "$ROOT/bench/evbench.c" -L"$EV_LIBDIR" -Wl,--disable-new-dtags,-rpath,"$EV_LIBDIR" \
            -lrtaio -lrt -ldl 2>>"$LOG"; then
            ev_have_rtaio=1
        else
            note "evbench-rtaio does not build against the snapshot (no aio_reap/SIGEV_EVENTFD yet?): rtaio columns of the epoll rows not measured (see $LOG)"
            status=1
        fi
    fi
fi

# ---------------------------------------------------------------- measurements
echo "rows: ${ROWS[*]}" >&2
echo "each run ${SECS}s (event loop: ${EV_SECS}s + 0.25s warm-up), $REPS runs per configuration, alternated; figure = best run" >&2
ev_uncached=
for key in "${ROWS[@]}"; do
    case $key in
        fio-cached) log "warm $CACHED: $("$BIN" warm "$CACHED")" ;;
        fio-uncached) ev_uncached=$("$BIN" evict "$UNCACHED"); log "before fio uncached: $ev_uncached" ;;
    esac
    measure_row "$key"
done

# ---------------------------------------------------------------- report
DATE=$(date '+%Y-%m-%d %H:%M')
cols=(glibc)
[ $have_rtaio = 1 ] && cols+=(rtaio)
[ $have_rtaio = 1 ] && [ "$THREADS_COL" = 1 ] && cols+=(rtaio-threads)
[ $have_before = 1 ] && cols+=(before)

kfmt() { # ops/s -> thousands, 3-4 significant digits
    awk -v v="${1:-}" 'BEGIN{ if (v !~ /^[0-9.]+$/) { print (v == "" ? "-" : v); exit }
        k = v / 1000; if (k >= 1000) printf "%.0f", k; else if (k >= 100) printf "%.1f", k;
        else printf "%.2f", k }'
}
cfmt() { # µs per request
    awk -v v="${1:-}" 'BEGIN{ if (v !~ /^[0-9.]+$/) { print "-"; exit }
        if (v >= 100) printf "%.0f", v; else if (v >= 10) printf "%.1f", v; else printf "%.2f", v }'
}
in_row() { [[ " ${CFGS[$1]} " == *" $2 "* ]]; }
in_cols() { [[ " ${cols[*]} " == *" $1 "* ]]; }

print_table() {
    local key c ref refs sub i hdr1 hdr2 dash
    hdr1=$(printf '%-22s' "")
    hdr2=$(printf '%-22s' "row")
    for c in "${cols[@]}"; do
        hdr1+=$(printf ' %-13s' "$c")
        hdr2+=$(printf ' %7s %5s' "kop/s" "us/op")
    done
    in_cols rtaio && hdr1+=$(printf ' %6s' "rtaio") && hdr2+=$(printf ' %6s' "/glibc")
    in_cols rtaio-threads && hdr1+=$(printf ' %6s' "thrds") && hdr2+=$(printf ' %6s' "/glibc")
    hdr1+=$(printf ' | %-16s %7s %5s %5s' "kernel reference" "" "" "rtaio")
    hdr2+=$(printf ' | %-16s %7s %5s %5s' "(best first)" "kop/s" "us/op" "/ref")
    echo "$hdr1"
    echo "$hdr2"
    dash=$(printf '%*s' "${#hdr2}" '' | tr ' ' '-')
    echo "$dash"
    for key in "${ROWS[@]}"; do
        row_def "$key"
        local line rg tg
        line=$(printf '%-22s' "$R_LABEL")
        for c in "${cols[@]}"; do
            if in_row "$key" "$c"; then
                line+=$(printf ' %7s %5s' "$(kfmt "${BEST[$key|$c]:-ERR}")" "$(cfmt "${CPUB[$key|$c]:-}")")
            else
                line+=$(printf ' %7s %5s' "" "")
            fi
        done
        rg=$(ratio_of "${BEST[$key|rtaio]:-}" "${BEST[$key|glibc]:-}")
        tg=$(ratio_of "${BEST[$key|rtaio-threads]:-}" "${BEST[$key|glibc]:-}")
        in_row "$key" rtaio || rg=""
        in_row "$key" rtaio-threads || tg=""
        in_cols rtaio && line+=$(printf ' %6s' "$rg")
        in_cols rtaio-threads && line+=$(printf ' %6s' "$tg")
        line+=" |"
        # references, best first
        refs=()
        while read -r ref; do [ -n "$ref" ] && refs+=("$ref"); done < <(
            for ref in "${R_REFS[@]}"; do echo "${BEST[$key|$ref]:-0} $ref"; done | sort -gr | cut -d' ' -f2)
        sub=()
        for ((i = 0; i < ${#refs[@]}; i++)); do
            ref=${refs[$i]}
            sub+=("$(printf ' %-16s %7s %5s %5s' "$(cfg_label "$ref")" "$(kfmt "${BEST[$key|$ref]:-ERR}")" \
                "$(cfmt "${CPUB[$key|$ref]:-}")" "$(in_row "$key" rtaio && ratio_of "${BEST[$key|rtaio]:-}" "${BEST[$key|$ref]:-}")")")
        done
        echo "$line${sub[0]:-}"
        local pad; pad=$(printf '%*s' $(( ${#line} - 1 )) '')
        for ((i = 1; i < ${#sub[@]}; i++)); do echo "$pad|${sub[$i]}"; done
        for c in "${R_EXTRA[@]}"; do # further rtaio variants, under the rtaio column
            in_row "$key" "$c" || continue
            line=$(printf '%-22s' "  $(cfg_label "$c")")
            line+=$(printf ' %7s %5s' "" "")
            line+=$(printf ' %7s %5s' "$(kfmt "${BEST[$key|$c]:-ERR}")" "$(cfmt "${CPUB[$key|$c]:-}")")
            echo "$line"
        done
    done
    echo "$dash"
    local units=""
    wants lio pipe && units+="; lio, pipe: reads/s"
    wants wsync && units+="; write+fdatasync: pairs/s (CPU per pair)"
    wants sigev && units+="; SIGEV_THREAD: completions/s"
    wants evloop32 evloop1 && units+="; epoll loop: completions/s"
    wants mixed && units+="; mixed: reads+writes/s"
    { echo "kop/s: thousands of requests per second (IOPS$units)."
      echo "us/op: CPU time (user+sys of all threads; fio: its whole process tree, start-up subtracted) per request."
      echo "Best of $REPS runs of ${SECS}s, configurations alternated. rtaio/ref: rtaio against each kernel reference (first: the best)."
    } | fold -s -w 120 | sed "s/ *$//"
    if wants evloop32 evloop1; then
        echo "(e) epoll loop: glibc = SIGEV_SIGNAL + handler writing into a pipe; rtaio = SIGEV_EVENTFD + aio_reap; the sub-line: rtaio, glibc's pattern."
    fi
}

# CSV: best figures, one line per row and configuration
{
    echo "row,config,ops_per_s,cpu_us_per_op"
    for key in "${ROWS[@]}"; do
        for c in ${CFGS[$key]}; do
            echo "$key,$c,${BEST[$key|$c]:-},${CPUB[$key|$c]:-}"
        done
    done
} >"$CSV"

# ---------------------------------------------------------------- chart (gnuplot)
chart() {
    local dat=$OUT/bench-chart.dat gp=$OUT/bench.gp key c x=0 xt="" first
    command -v gnuplot >/dev/null || { note "gnuplot not found (apt-get install gnuplot-nox): no chart"; return; }
    declare -A color=([glibc]=0x7f7f7f [rtaio]=0x1f77b4 [rtaio-threads]=0x9ecae1 [before]=0x9467bd
        [rtaio-sigpipe]=0x17becf [pread]=0x2ca02c [fio-psync]=0x98df8a [fio-psync2]=0x74c476
        [fio-psync4]=0xc7e9c0 [fio-psync32]=0x006d2c [fio-uring]=0xff7f0e [fio-sqpoll]=0xffbb78
        [fio-libaio]=0xd62728)
    declare -A used=()
    local order=(glibc rtaio rtaio-threads before rtaio-sigpipe pread fio-psync fio-psync2 fio-psync4
        fio-psync32 fio-uring fio-sqpoll fio-libaio)
    : >"$dat"
    for key in "${ROWS[@]}"; do
        row_def "$key"
        first=$x
        for c in ${CFGS[$key]}; do
            local v=${BEST[$key|$c]:-} u=${CPUB[$key|$c]:-}
            [[ $v =~ ^[0-9.]+$ ]] || v="?"
            [[ $u =~ ^[0-9.]+$ ]] || u="?"
            printf '%d %s %s %d %s\n' "$x" "$([ "$v" = "?" ] && echo "?" || awk -v v="$v" 'BEGIN{printf "%.3f", v / 1000}')" \
                "$u" "$((${color[$c]:-0}))" "$c" >>"$dat"
            used[$c]=1
            x=$((x + 1))
        done
        xt+="${xt:+, }\"${R_LABEL% (e)}\" $(awk -v a="$first" -v b="$x" 'BEGIN{print (a + b - 1) / 2}')"
        x=$((x + 1))
    done
    local keys=""
    for c in "${order[@]}"; do
        [ -n "${used[$c]:-}" ] || continue
        keys+=", keyentry with boxes fc rgb \"#$(printf '%06x' $((color[$c])))\" title \"$(cfg_label "$c")\""
    done
    local yr1 yr2 # log ranges with room above the bars for their value labels
    yr1=$(awk '$2 != "?" { v = $2; if (mn == "" || v < mn) mn = v; if (v > mx) mx = v }
        END { lo = 10 ^ int(log(mn / 1.5) / log(10) - (mn < 1)); printf "[%g:%g]", lo, mx * 6 }' "$dat")
    yr2=$(awk '$3 != "?" { v = $3; if (mn == "" || v < mn) mn = v; if (v > mx) mx = v }
        END { lo = 10 ^ int(log(mn / 1.5) / log(10) - (mn < 1)); printf "[%g:%g]", lo, mx * 6 }' "$dat")
    cat >"$gp" <<EOF
set terminal svg size 1700,1100 dynamic noenhanced font "sans,11" background "white"
set output "$SVG"
set datafile missing "?"
set style fill solid 0.9 border lc rgb "#404040"
set boxwidth 0.85
set logscale y
set grid ytics mytics lc rgb "#dddddd"
set xrange [-1:$x]
set xtics ($xt) rotate by 25 right font ",10" nomirror
set key outside right top vertical Left reverse
set lmargin 12
set rmargin 26
set multiplot layout 2,1 title "rtaio performance report — $DATE — $SYS — best of $REPS runs × ${SECS} s, configurations alternated" font ",14"
set title "throughput (thousands per second: IOPS, reads, pairs or completions; log scale)"
set ylabel "kop/s"
set yrange $yr1
plot "$dat" using 1:2:4 with boxes lc rgb variable notitle, \
     "" using 1:2:(sprintf(\$2 >= 10 ? "%.0f" : "%.1f", \$2)) with labels rotate by 90 left offset 0,0.4 font ",8" notitle$keys
set title "CPU per request (user+sys of all threads, µs; log scale; lower is better)"
set ylabel "µs per request"
set yrange $yr2
plot "$dat" using 1:3:4 with boxes lc rgb variable notitle, \
     "" using 1:3:(sprintf(\$3 >= 10 ? "%.0f" : "%.1f", \$3)) with labels rotate by 90 left offset 0,0.4 font ",8" notitle
unset multiplot
EOF
    if gnuplot "$gp" 2>>"$LOG"; then CHART_OK=1; else note "gnuplot failed on $gp (see $LOG): no chart"; fi
}
CHART_OK=0
chart

# ---------------------------------------------------------------- printing
T_END=$(date +%s)
echo
echo "rtaio performance report — $DATE — $SYS"
echo "library: $LIB$([ $have_before = 1 ] && echo "; before: $BENCH_BASELINE")"
echo
print_table

full() { [ "$REPORT" = full ]; }
if full && wants odirect && [ $have_rtaio = 1 ]; then
    target() { # RATIO MIN -> "ok" / "BELOW TARGET"
        awk -v r="$1" -v m="$2" 'BEGIN{ if (r == "n/a") print "n/a"; else if (r + 0 >= m) print "ok"; else print "BELOW TARGET" }'; }
    od_rg=$(ratio_of "${BEST[odirect|rtaio]:-}" "${BEST[odirect|glibc]:-}")
    od_rl=$(ratio_of "${BEST[odirect|rtaio]:-}" "${BEST[odirect|fio-libaio]:-}")
    od_tg=$(target "$od_rg" 2.5) od_tl=$(target "$od_rl" 0.9)
    [ "$od_tg" = "BELOW TARGET" ] && note "O_DIRECT read QD32: rtaio/glibc = $od_rg, below the 2.5x target"
    [ "$od_tl" = "BELOW TARGET" ] && note "O_DIRECT read QD32: rtaio/libaio = $od_rl, below the 0.9x target"
    echo
    echo "O_DIRECT read QD32 targets: rtaio/glibc $od_rg (>= 2.5: $od_tg), rtaio/fio libaio $od_rl (>= 0.9: $od_tl)"
fi

if full; then
    echo
    for key in "${ROWS[@]}"; do
        row_def "$key"
        line="BENCH $R_BENCH glibc=${BEST[$key|glibc]:-ERR}"
        if in_row "$key" rtaio; then
            line+=" rtaio=${BEST[$key|rtaio]:-ERR} ratio=$(ratio_of "${BEST[$key|rtaio]:-}" "${BEST[$key|glibc]:-}")"
        else
            line+=" rtaio=n/a ratio=n/a"
        fi
        if in_row "$key" rtaio-threads; then
            line+=" rtaio_threads=${BEST[$key|rtaio-threads]:-ERR} ratio_threads=$(ratio_of "${BEST[$key|rtaio-threads]:-}" "${BEST[$key|glibc]:-}")"
        fi
        if in_row "$key" before; then
            line+=" before=${BEST[$key|before]:-ERR} ratio_before=$(ratio_of "${BEST[$key|rtaio]:-}" "${BEST[$key|before]:-}")"
        fi
        for c in ${CFGS[$key]}; do
            line+=" $(tr '-' '_' <<<"$c")_cpu_us=${CPUB[$key|$c]:--}"
        done
        for c in "${R_EXTRA[@]}"; do
            in_row "$key" "$c" && line+=" $(tr '-' '_' <<<"$c")=${BEST[$key|$c]:-ERR}"
        done
        for c in "${R_REFS[@]}"; do
            line+=" ref_$(tr '-' '_' <<<"$c")=${BEST[$key|$c]:-ERR}"
        done
        if [ -n "${REFBEST[$key]:-}" ]; then
            line+=" ref_best=${REFBEST[$key]} ratio_ref=$(ratio_of "${BEST[$key|rtaio]:-}" "${BEST[$key|${REFBEST[$key]}]:-}")"
        fi
        echo "$line"
    done
    if wants odirect; then
        echo "BENCH randread_4K_O_DIRECT_QD32_vs_libaio libaio=${BEST[odirect|fio-libaio]:-ERR} rtaio=${BEST[odirect|rtaio]:-n/a} ratio=$(ratio_of "${BEST[odirect|rtaio]:-}" "${BEST[odirect|fio-libaio]:-}")"
    fi
    for key in evloop32 evloop1; do # the event-loop lines as before
        wants $key || continue
        q=${key#evloop}
        echo "BENCH eventfd_loop_QD$q glibc_signal=${BEST[$key|glibc]:-ERR} rtaio_signal=${BEST[$key|rtaio-sigpipe]:-n/a} rtaio_eventfd=${BEST[$key|rtaio]:-n/a} ratio=$(ratio_of "${BEST[$key|rtaio]:-}" "${BEST[$key|glibc]:-}") ratio_vs_rtaio_signal=$(ratio_of "${BEST[$key|rtaio]:-}" "${BEST[$key|rtaio-sigpipe]:-}")"
    done
    echo
    echo "samples (ops/s per run, in run order) and CPU per request (us, per run):"
    for key in "${ROWS[@]}"; do
        row_def "$key"
        echo "  $R_LABEL:"
        for c in ${CFGS[$key]}; do
            printf '    %-18s [%s] median %s; CPU [%s]\n' "$(cfg_label "$c")" "${SAMP[$key|$c]% }" \
                "$(median "${SAMP[$key|$c]}")" "${CPUS[$key|$c]% }"
        done
    done
    if [ ${#residency[@]} -gt 0 ]; then
        echo "page-cache residency of the uncached file (mincore on an mmap, fraction of pages):"
        printf '%s\n' "${residency[@]}" | awk '
            { key = $1 " " $2; sub(/:$/, "", key); split($4, b, "="); split($5, a, "=");
              if (!(key in n)) { order[++k] = key; bmax[key] = b[2]; amin[key] = a[2]; amax[key] = a[2] }
              n[key]++; if (b[2] > bmax[key]) bmax[key] = b[2];
              if (a[2] < amin[key]) amin[key] = a[2]; if (a[2] > amax[key]) amax[key] = a[2] }
            END { for (i = 1; i <= k; i++) { key = order[i];
                  printf "  %-24s before each run <= %s, after %s..%s (%d runs)\n", key ":", bmax[key], amin[key], amax[key], n[key] } }'
        [ -n "$ev_uncached" ] && echo "  before the fio uncached rows (after evict): $(kv resident " $ev_uncached") (fio --invalidate=1 evicts again)"
    fi
    if wants evloop32 evloop1; then
        echo
        echo "epoll event loop: completions/s delivered to an epoll loop, 4 KiB random reads of a ${EV_MIB} MiB cached file, one fd"
        echo "(A = signal+pipe: SIGEV_SIGNAL + SA_SIGINFO handler writing the aiocb into a pipe; B = eventfd: SIGEV_EVENTFD + aio_reap)"
        for key in evloop32 evloop1; do
            wants $key || continue
            printf 'eventfd-loop QD%s: glibc signal+pipe %s/s | rtaio signal+pipe %s/s | rtaio eventfd %s/s | rtaio-threads eventfd %s/s | eventfd vs glibc %s× | eventfd vs rtaio signal+pipe %s×\n' \
                "${key#evloop}" "${BEST[$key|glibc]:-ERR}" "${BEST[$key|rtaio-sigpipe]:-n/a}" "${BEST[$key|rtaio]:-n/a}" \
                "${BEST[$key|rtaio-threads]:-n/a}" "$(ratio_of "${BEST[$key|rtaio]:-}" "${BEST[$key|glibc]:-}")" \
                "$(ratio_of "${BEST[$key|rtaio]:-}" "${BEST[$key|rtaio-sigpipe]:-}")"
        done
        echo "(verified: $ev_checked completions in $ev_runs runs, each delivered to the loop exactly once, none lost)"
    fi
    if [ $have_before = 1 ]; then
        echo
        echo "rtaio against the baseline library (BENCH_BASELINE=$BENCH_BASELINE), same run:"
        printf '%-24s | %12s | %12s | %6s\n' "row" "before" "rtaio" "ratio"
        for key in "${ROWS[@]}"; do
            in_row "$key" before || continue
            row_def "$key"
            printf '%-24s | %12s | %12s | %6s\n' "$R_LABEL" "${BEST[$key|before]:-ERR}" "${BEST[$key|rtaio]:-n/a}" \
                "$(ratio_of "${BEST[$key|rtaio]:-}" "${BEST[$key|before]:-}")"
        done
    fi
fi

if [ $have_rtaio = 0 ]; then
    note "$LIB does not exist (run 'make build'): only glibc and the kernel references were measured"
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
echo
echo "csv: $CSV$([ $CHART_OK = 1 ] && echo "   chart: $SVG")   log: $LOG"
echo "took $((T_END - T_START)) s"
exit $status
