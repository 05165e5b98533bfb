#!/usr/bin/env bash
# The rtaio demo: the headline rows of the benchmark (bench/run.sh, BENCH_ONLY=headline), the
# same unmodified program on the same file under glibc's POSIX AIO and under rtaio (LD_PRELOAD,
# what the ./rtaio launcher does), beside what the kernel itself can do on that row:
#   cached read QD1     4 KiB random aio_reads of a page-cached file, one at a time
#                       refs: a plain pread loop, fio --ioengine=psync
#   cached read QD32    the same, 32 in flight on one fd
#                       refs: fio psync numjobs=2 (both cores), fio io_uring iodepth=32 (+ SQPOLL)
#   uncached read QD32  32 in flight, file evicted from the page cache, each block read once
#                       refs: fio psync numjobs=32, fio io_uring iodepth=32 (--invalidate=1)
#   O_DIRECT read QD32  32 in flight on an O_DIRECT fd
#                       refs: fio libaio and fio io_uring, --direct=1, iodepth=32
# with throughput (thousands of requests per second) and CPU time per request (µs, all threads).
# Best of RTAIO_DEMO_REPS runs of RTAIO_DEMO_RUNTIME s, the configurations alternated; about a
# minute and a half (plus about 20 s to create the 2 GiB test file the first time).
#   RTAIO_DEMO_RUNTIME  seconds per run (default 1)
#   RTAIO_DEMO_REPS     runs per configuration (default 3)
#   RTAIO_DEMO_DIR      where the results go (default build/tests/demo); the test files are the
#                       benchmark's (build/bench, BENCH_DATA), on a real disk, not tmpfs, so that
#                       "uncached" means something
# The full report (every row, rtaio-threads, CSV, chart): make bench.
set -u

root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel 2>/dev/null) ||
    root=$(cd "$(dirname "$0")/.." && pwd)
export RTAIO_LIBDIR=${RTAIO_LIBDIR:-$root/target/release}

command -v fio >/dev/null || { echo "demo: fio not found (apt-get install fio)" >&2; exit 1; }
[ -f "$RTAIO_LIBDIR/librtaio.so" ] || { echo "demo: $RTAIO_LIBDIR/librtaio.so not found (run 'make build')" >&2; exit 1; }

echo "rtaio demo: glibc's POSIX AIO vs rtaio (same binary, LD_PRELOAD) vs the kernel's own engines"
BENCH_ONLY=headline \
    BENCH_SECS=${RTAIO_DEMO_RUNTIME:-1} \
    BENCH_REPS=${RTAIO_DEMO_REPS:-3} \
    BENCH_THREADS=0 \
    BENCH_REPORT=table \
    BENCH_OUT=${RTAIO_DEMO_DIR:-$root/build/tests/demo} \
    BENCH_DATA=${BENCH_DATA:-$root/build/bench} \
    BENCH_BASELINE='' \
    bash "$root/bench/run.sh"
