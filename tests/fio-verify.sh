#!/usr/bin/env bash
# fio's posixaio engine with data verification, running on rtaio (LD_PRELOAD).
#  1. randrw, 4k, iodepth 64, 64 MiB, verify=crc32c
#  2. sequential write of variable block sizes (4k..128k), iodepth 64, 64 MiB, then verify
#  3. two jobs (processes) doing randwrite + verify on their own files, iodepth 64
#  3b. randrw with O_DIRECT (--direct=1: rtaio's kernel-AIO backend), iodepth 64, when the
#     file system of TMPDIR accepts O_DIRECT
#  3c. a file written and synced by one run is read back by a second (--verify_only) after
#     fio evicted it, without io_uring (RTAIO_BACKEND=threads) and by default: reads that miss
#     the page cache, whose submission starts the device read and that a few workers wait for:
#     rtaio's statistics at exit show most reads on the pool, on fewer pool threads than reads
#     in flight (a thread per read starts one for each; skipped where the file was not
#     evicted, or before Linux 5.9)
#  4. fio really used rtaio: with LD_DEBUG=bindings (LD_BIND_NOW=1) on a small run, every
#     aio_* symbol fio binds goes to librtaio.so, and at least aio_read/aio_write/aio_error/
#     aio_return/aio_suspend (or their 64 twins, which fio calls) are among them
# Each job must exit 0, report err=0 and no verification failure.
# Needs fio (apt-get install fio). Last line: `fio-verify: N passed, N failed`.
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # root, LIBDIR, the tally, t_tmpdir

LIB=$LIBDIR/librtaio.so
LOGS=$root/build/tests/logs
mkdir -p "$LOGS"

ko() { t_fail "$1" "$(tail -n 15 <<<"${2:-}")"; } # a failure with the end of its output

if ! command -v fio >/dev/null 2>&1; then
    ko "fio installed" "fio not found (apt-get install fio)"
    t_closing fio-verify
    exit 1
fi
if [ ! -f "$LIB" ]; then
    ko "library exists" "$LIB not found (run 'make build')"
    t_closing fio-verify
    exit 1
fi

t_tmpdir WORK rtaio-fio

# Extra environment for run_job (VAR=value words).
JOB_ENV=()
common=(--ioengine=posixaio --iodepth=64 --verify=crc32c --verify_fatal=1 --do_verify=1
    --group_reporting --minimal)

# run_job NAME FIO-ARGS...
run_job() {
    local name=$1
    shift
    local log=$LOGS/fio-$name.log
    # fio writes its verify state files into the current directory: keep them in $WORK.
    (cd "$WORK" && env "${JOB_ENV[@]}" LD_PRELOAD="$LIB" timeout -k 5 300 fio "${common[@]}" --name="$name" "$@") >"$log" 2>&1
    local rc=$?
    # --minimal (terse v3): field 5 is the job's error number
    local errs
    errs=$(awk -F';' '$1 == "3" { print $5 }' "$log" | sort -u | tr '\n' ' ')
    if [ $rc -eq 0 ] && [ "$errs" = "0 " ] && ! grep -qiE 'verify: bad|bad magic|crc32c: verify|verify failed|fio: .*error' "$log"; then
        t_pass "$name"
    else
        ko "$name (exit $rc, err=${errs:-?})" "$(cat "$log")"
    fi
}

run_job randrw-4k-qd64 --filename="$WORK/randrw" --rw=randrw --bs=4k --size=64m
run_job seqwrite-bsrange-qd64 --filename="$WORK/seq" --rw=write --bsrange=4k-128k --size=64m
run_job randwrite-2jobs-qd64 --directory="$WORK" --rw=randwrite --bs=8k --size=32m --numjobs=2
if dd if=/dev/zero of="$WORK/odirect-probe" bs=4096 count=1 oflag=direct status=none 2>/dev/null; then
    run_job randrw-direct-qd64 --filename="$WORK/randrw-direct" --direct=1 --rw=randrw --bs=4k --size=64m
else
    t_skip "randrw-direct-qd64: O_DIRECT not supported in $WORK"
fi
evict=(--filename="$WORK/evicted" --rw=randwrite --bs=4k --size=64m)
JOB_ENV=(RTAIO_BACKEND=threads)
run_job evicted-write "${evict[@]}" --end_fsync=1
# readback NAME [VAR=value...]: the job in one process (--thread), rtaio's statistics at its
# exit: reads that missed wait on a few pool workers, not on a thread each (iodepth 64 would
# start up to 64).
readback() {
    local name=$1 stats=$WORK/$1.stats
    shift
    rm -f "$stats"
    JOB_ENV=("$@" RTAIO_STATS="$stats")
    run_job "$name" "${evict[@]}" --verify_only --invalidate=1 --thread
    JOB_ENV=()
    # executor rows: name, reads, ...; "threads pool N ...": pool threads started; "in flight
    # peak N": the most requests in flight at once
    local total inline pool threads peak
    read -r total inline pool < <(awk '$1 ~ /^(inline|io_uring|kaio|pool|waiter)$/ { t += $2 }
        $1 == "inline" { i = $2 } $1 == "pool" || $1 == "waiter" { p += $2 }
        END { print t + 0, i + 0, p + 0 }' "$stats" 2>/dev/null)
    threads=$(awk '$1 == "threads" && $2 == "pool" { print $3 }' "$stats" 2>/dev/null)
    peak=$(awk '$1 == "in" && $2 == "flight" && $3 == "peak" { print $4 }' "$stats" 2>/dev/null)
    if [ -z "$threads" ] || [ -z "$peak" ] || [ "${total:-0}" -eq 0 ]; then
        ko "$name: statistics" "$(cat "$stats" 2>/dev/null)"
    elif ! awk -F. '{ exit !($1 > 5 || $1 == 5 && $2 + 0 >= 9) }' <<<"$(uname -r)"; then
        t_skip "$name: Linux $(uname -r) (before 5.9 a missed read's attempt starts nothing)"
    elif [ $((inline * 2)) -gt "$total" ]; then
        t_skip "$name: the file was not evicted from the page cache ($WORK: tmpfs?): $inline of $total reads inline"
    # (Fewer threads than reads in flight, not a fixed number: on a busy machine the started
    # reads' workers get the CPU late, and the pool adds one every 50 ms that none takes a
    # started read. Calm: 4-5 threads; under two or eight busy loops: 4-5.)
    elif [ $((pool * 2)) -ge "$total" ] && [ "$threads" -lt "$peak" ]; then
        t_pass "$name: $pool of $total reads waited on $threads pool threads ($peak in flight)"
    else
        ko "$name: $pool of $total reads on the pool, $threads pool threads, $peak in flight (expected most of them, on fewer threads than reads in flight)" "$(cat "$stats")"
    fi
}
readback evicted-readback-threads RTAIO_BACKEND=threads
readback evicted-readback

# fio bound its aio calls to rtaio
dbg=$WORK/bind
LD_PRELOAD="$LIB" LD_BIND_NOW=1 LD_DEBUG=bindings LD_DEBUG_OUTPUT="$dbg" \
    timeout -k 5 120 fio --name=bindcheck --filename="$WORK/bind.dat" --ioengine=posixaio \
    --rw=randrw --bs=4k --size=1m --iodepth=4 --minimal >"$LOGS/fio-bindcheck.log" 2>&1
rc=$?
bindings=$(cat "$dbg".* 2>/dev/null | grep -aE "normal symbol \`(aio_[a-z0-9]+|lio_listio(64)?)'" |
    sed 's/^ *[0-9]*:[[:space:]]*//' | sort -u)
rm -f "$dbg".*
notrtaio=$(grep -av " to [^ ]*librtaio\.so[.0-9]* " <<<"$bindings" | grep .)
missing=""
for s in aio_read aio_write aio_error aio_return aio_suspend; do
    # fio is built with _FILE_OFFSET_BITS=64: it calls the 64 twins
    grep -aqE "symbol \`$s(64)?'" <<<"$bindings" || missing+=" $s"
done
if [ $rc -eq 0 ] && [ -z "$notrtaio" ] && [ -z "$missing" ]; then
    t_pass "fio's aio calls bind to librtaio.so ($(grep -c . <<<"$bindings") bindings)"
else
    ko "fio's aio calls bind to librtaio.so" \
        "fio exit $rc; not bound to librtaio: ${notrtaio:-none}; no binding seen for:${missing:- none}"
fi

t_closing fio-verify
