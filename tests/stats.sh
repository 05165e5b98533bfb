#!/usr/bin/env bash
# tests/stats.sh — RTAIO_STATS and rtaio --doctor, their output parsed.
#
# tests/helpers/stats_prog.c runs known request mixes (preloaded); the reports it leaves are
# parsed, the table with awk and the JSON with python3, and the counts compared exactly:
#   - off by default: nothing printed;
#   - 8 reads in one lio_listio: 8 reads, 32768 bytes, under io_uring (RTAIO_BACKEND=uring),
#     under inline/pool and never io_uring with RTAIO_BACKEND=threads;
#   - writes, fsync, fdatasync counted apart; an EBADF request under errors;
#   - fallbacks: RTAIO_FAULTS=io_uring_setup=EPERM, io_setup=ENOSYS; a seccomp filter that
#     refuses io_uring (tests/helpers/noring.c); native AIO on O_DIRECT (when the file system
#     has it), also after a read the kernel refused for its range;
#   - requests the waiting thread ran itself (the "waiter" executor); a deep queue of cached
#     reads of 16 KiB shared between the caller and the pool without io_uring, one of 4 KiB not;
#   - notifications by kind; threads started;
#   - RTAIO_STATS=FILE with %p; RTAIO_STATS_SIGNAL (a report then, and at exit);
#     RTAIO_STATS_INTERVAL; a fork child's own, zeroed counters; rtaio --stats; `--` ending
#     the launcher's options (`rtaio -- CMD`, `rtaio --stats -- CMD`; `rtaio --` alone: usage),
#     for the checkout's launcher and for rtaio.in as `make install` makes it;
#   - a setgid copy (AT_SECURE): RTAIO_STATS ignored (skipped where the kernel does not grant
#     AT_SECURE);
#   - rtaio --doctor: io_uring available → exit 0; under `noring EPERM` → refused by seccomp,
#     exit 1; under `noring ENOSYS`; a usage error → exit 2; settings with their source, and
#     values the library does not understand said so (RTAIO_STATS_FORMAT=xml, RTAIO_INLINE=no,
#     RTAIO_FAULTS=bogus...), values it does not flagged (RTAIO_MAX_REQUESTS=4294967295...); O_DIRECT
#     in a directory it may not write to: the answer of a file there, or "untested" for an
#     empty one (not "unsupported").
# No timing assertion anywhere (the interval check waits for the report, up to 30 s).
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # root, LIBDIR, CC, the tally, t_tmpdir
cd "$root"
t_have_lib || { t_closing stats; exit 1; }
command -v python3 >/dev/null 2>&1 || { t_fail "python3 (for the JSON checks)" "not found"; t_closing stats; exit 1; }
t_tmpdir OUT rtaio-stats
# the data file on the repository's file system (often one with O_DIRECT, unlike tmpfs)
t_tmpdir DIR rtaio-stats-data "$root/target"
CFLAGS=(-O1 -g -Wall -D_GNU_SOURCE)
PRELOAD=$LIBDIR/librtaio.so
if ! "$CC" "${CFLAGS[@]}" tests/helpers/stats_prog.c -o "$OUT/prog" -lrt -lpthread 2>"$OUT/cc.err" ||
    ! "$CC" "${CFLAGS[@]}" tests/helpers/stats_prog.c -o "$OUT/prog-link" -L"$LIBDIR" -lrtaio -lpthread \
        -Wl,-rpath,"$LIBDIR" 2>>"$OUT/cc.err" ||
    ! "$CC" -O1 -Wall tests/helpers/noring.c -o "$OUT/noring" 2>>"$OUT/cc.err"; then
    t_fail "build tests/helpers/stats_prog.c, noring.c" "$(cat "$OUT/cc.err")"
    t_closing stats
    exit 1
fi
DATA=$DIR/data
TIMEOUT=60

# run NAME MODE [VAR=VALUE...] [-- ARG]: the program, preloaded, with those variables; its
# stdout in $OUT/NAME.out, stderr in $OUT/NAME.err, exit status in $rc. PREFIX=(...) is put
# before it (noring).
PREFIX=()
run() {
    local name=$1 mode=$2 envs=() arg=()
    shift 2
    while [ $# -gt 0 ]; do
        if [ "$1" = -- ]; then shift; arg=("$@"); break; fi
        envs+=("$1"); shift
    done
    env -u RTAIO_STATS -u RTAIO_STATS_SIGNAL -u RTAIO_STATS_INTERVAL -u RTAIO_STATS_FORMAT \
        -u RTAIO_BACKEND -u RTAIO_FAULTS -u RTAIO_INLINE "${envs[@]}" LD_PRELOAD="$PRELOAD" \
        timeout -k 5 $TIMEOUT "${PREFIX[@]}" "$OUT/prog" "$mode" "$DATA" "${arg[@]}" \
        >"$OUT/$name.out" 2>"$OUT/$name.err"
    rc=$?
}
pid_of() { awk '$1 == "pid" { print $2 }' "$OUT/$1.out"; }

# row FILE EXEC: the executor's row of the (last) text report: read write fsync fdatasync
# bytes errors
row() { awk -v e="$2" '$1 == e && NF >= 7 { r = $2 " " $3 " " $4 " " $5 " " $6 " " $7 } END { print r }' "$1"; }
# js FILE EXPR: EXPR (Python, over `d`: the last JSON report, `e`: its executors, `all`: every
# report) or an error message
js() {
    python3 - "$1" "$2" <<'EOF'
import json, sys
try:
    lines = [l for l in open(sys.argv[1]) if l.startswith("{")]
    all = [json.loads(l) for l in lines]
    d = all[-1]
    e = d["executors"]
    print(eval(sys.argv[2]))
except Exception as e:
    print("ERROR %s: %s" % (type(e).__name__, e))
EOF
}
# expect WHAT GOT WANT [CONTEXT FILE]
expect() {
    if [ "$2" = "$3" ]; then
        t_pass "$1"
    else
        t_fail "$1" "got:  $2" "want: $3" "$(if [ -n "${4:-}" ] && [ -s "$4" ]; then tail -n 25 "$4"; fi)"
    fi
}
ok_run() { # WHAT: the last run exited 0?
    [ "$rc" -eq 0 ] && return 0
    t_fail "$1: the program failed (exit $rc)" "$(tail -n 5 "$OUT/$name.err" 2>/dev/null)"
    return 1
}
TOTAL_READS='sum(x["read"] for x in d["executors"].values())'

# --- off by default ----------------------------------------------------------------------
name=off; run off lio8
ok_run "off" && expect "off by default: nothing on stderr" "$(cat "$OUT/off.err")" ""

# --- 8 reads in one lio_listio, through io_uring (text) -----------------------------------
have_uring=1
name=uring; run uring lio8 RTAIO_STATS=1 RTAIO_BACKEND=uring
if ok_run "io_uring lio8"; then
    if grep -q '^fallback  io_uring refused' "$OUT/uring.err"; then
        have_uring=0
        t_skip "io_uring counts: io_uring refused on this machine ($(grep '^fallback' "$OUT/uring.err" | head -n1))"
    else
        expect "text, RTAIO_BACKEND=uring, 8 reads in one lio_listio: io_uring read 8, bytes 32768, no error" \
            "$(row "$OUT/uring.err" io_uring)" "8 0 0 0 32768 0" "$OUT/uring.err"
        expect "text: nothing under inline, kaio, pool" \
            "$(row "$OUT/uring.err" inline)|$(row "$OUT/uring.err" kaio)|$(row "$OUT/uring.err" pool)" \
            "0 0 0 0 0 0|0 0 0 0 0 0|0 0 0 0 0 0" "$OUT/uring.err"
        expect "text: io_uring latency percentiles present (p50 p99 p99.9 max)" \
            "$(awk '$1 == "io_uring" && NF == 11 && $8 != "-" && $11 != "-" { print "yes" }' "$OUT/uring.err")" yes "$OUT/uring.err"
        expect "text: threads started: the io_uring submitter, once" \
            "$(grep -Eo 'uring_submitter [0-9]+' "$OUT/uring.err")" "uring_submitter 1" "$OUT/uring.err"
        expect "text: one report, at exit, with the program's pid" \
            "$(grep -c '^___ rtaio statistics' "$OUT/uring.err") $(grep -Eo '\(pid [0-9]+, exit' "$OUT/uring.err")" \
            "1 (pid $(pid_of uring), exit" "$OUT/uring.err"
    fi
fi

# --- JSON, auto: the same 8 reads wherever auto sends them --------------------------------
name=auto; run auto lio8 RTAIO_STATS=1 RTAIO_STATS_FORMAT=json
if ok_run "json lio8"; then
    expect "json: one object per report, one report" "$(grep -c . "$OUT/auto.err") $(js "$OUT/auto.err" 'd["when"]')" "1 exit" "$OUT/auto.err"
    expect "json, auto: 8 reads, 32768 bytes over the executors" \
        "$(js "$OUT/auto.err" "$TOTAL_READS, sum(x['bytes'] for x in d['executors'].values())")" "(8, 32768)" "$OUT/auto.err"
    expect "json: pid" "$(js "$OUT/auto.err" 'd["pid"]')" "$(pid_of auto)"
    expect "json: each executor's histogram holds its count, in increasing buckets" \
        "$(js "$OUT/auto.err" "len([x for x in e.values() if sum(c for _, c in x['latency_ns']['histogram']) != x['latency_ns']['count'] or [t for t, _ in x['latency_ns']['histogram']] != sorted(t for t, _ in x['latency_ns']['histogram'])])")" \
        "0" "$OUT/auto.err"
    if command -v gnuplot >/dev/null 2>&1; then
        want=$(js "$OUT/auto.err" "' '.join('%s(%d' % (k, x['latency_ns']['count']) for k, x in e.items() if x['latency_ns']['count'])")
        if bash "$root/bench/stats-chart.sh" "$OUT/auto.err" "$OUT/latency.svg" >"$OUT/chart.log" 2>&1 &&
            got=$(grep -oE '[a-z_]+ \([0-9]+ requests' "$OUT/latency.svg" | sort -u | sed 's/ (/(/; s/ requests//' | tr '\n' ' ' | sed 's/ $//') &&
            [ "$got" = "$(tr ' ' '\n' <<<"$want" | sort | tr '\n' ' ' | sed 's/ $//')" ]; then
            t_pass "bench/stats-chart.sh draws the histogram: one curve per executor that ran requests ($got)"
        else
            t_fail "bench/stats-chart.sh: curves $got, want $want" "$(tail -n3 "$OUT/chart.log")"
        fi
    else
        t_skip "bench/stats-chart.sh: gnuplot not installed (tests/deps.sh installs it)"
    fi
fi

# --- RTAIO_BACKEND=threads: inline and pool, never io_uring --------------------------------
name=threads; run threads lio8 RTAIO_STATS=1 RTAIO_STATS_FORMAT=json RTAIO_BACKEND=threads
if ok_run "threads lio8"; then
    expect "json, RTAIO_BACKEND=threads: inline+pool read 8, io_uring 0, kaio 0, uring submitter 0" \
        "$(js "$OUT/threads.err" '(e["inline"]["read"]+e["pool"]["read"], e["io_uring"]["read"], e["kaio"]["read"], d["threads_started"]["uring_submitter"])')" \
        "(8, 0, 0, 0)" "$OUT/threads.err"
fi

# --- requests the waiting thread ran itself (core/help.rs) ---------------------------------
# 200 writes one at a time, each waited for in aio_suspend: each is queued for the pool, and the
# caller runs it if no worker took it first. Which one wins is a race, so not how many: some.
name=qd1w; run qd1w qd1w RTAIO_STATS=1 RTAIO_STATS_FORMAT=json RTAIO_BACKEND=threads
if ok_run "qd1w"; then
    expect "json, RTAIO_BACKEND=threads, 200 writes at depth 1: pool+waiter writes 200, the waiter ran some" \
        "$(js "$OUT/qd1w.err" '(e["pool"]["write"]+e["waiter"]["write"], e["waiter"]["write"] > 0)')" \
        "(200, True)" "$OUT/qd1w.err"
fi

# A deep queue of page-cache reads without io_uring: of reads of 16 KiB, about half are handed
# to the pool's running worker (exec/mod.rs, Now::Share), the rest complete inline; reads of
# 4 KiB, whose copy costs less than the handing over, all complete inline.
# With one CPU to run on (nproc counts the affinity mask, as rtaio does), nothing is shared.
qd8r_reads='(e["inline"]["read"]+e["pool"]["read"]+e["waiter"]["read"], e["inline"]["read"] > 0, e["pool"]["read"]+e["waiter"]["read"] > 0)'
name=qd8r; run qd8r qd8r RTAIO_STATS=1 RTAIO_STATS_FORMAT=json RTAIO_BACKEND=threads
if ok_run "qd8r"; then
    expect "json, RTAIO_BACKEND=threads, 20 rounds of 8 cached reads of 4 KiB in flight: 160 reads, all inline" \
        "$(js "$OUT/qd8r.err" "$qd8r_reads")" "(160, True, False)" "$OUT/qd8r.err"
fi
name=qd8r16; run qd8r16 qd8r16 RTAIO_STATS=1 RTAIO_STATS_FORMAT=json RTAIO_BACKEND=threads
if ok_run "qd8r16"; then
    if [ "$(nproc)" -gt 1 ]; then
        expect "json, RTAIO_BACKEND=threads, 20 rounds of 8 cached reads of 16 KiB in flight: 160 reads, some inline, some on the pool (or run by the waiter)" \
            "$(js "$OUT/qd8r16.err" "$qd8r_reads")" "(160, True, True)" "$OUT/qd8r16.err"
    else
        expect "json, RTAIO_BACKEND=threads, one CPU: 160 reads of 16 KiB, all inline" \
            "$(js "$OUT/qd8r16.err" "$qd8r_reads")" "(160, True, False)" "$OUT/qd8r16.err"
    fi
fi
if command -v taskset >/dev/null 2>&1; then
    PREFIX=(taskset -c "$(taskset -pc $$ | sed 's/.*: *//; s/[,-].*//')")
    name=qd8r1; run qd8r1 qd8r16 RTAIO_STATS=1 RTAIO_STATS_FORMAT=json RTAIO_BACKEND=threads
    PREFIX=()
    if ok_run "qd8r16 on one CPU"; then
        expect "json, RTAIO_BACKEND=threads, pinned to one CPU (taskset): 160 cached reads of 16 KiB, all inline (a worker would only take turns with the caller)" \
            "$(js "$OUT/qd8r1.err" "$qd8r_reads")" "(160, True, False)" "$OUT/qd8r1.err"
    fi
else
    t_skip "qd8r16 on one CPU: taskset not installed"
fi

# --- operations counted apart -------------------------------------------------------------
if [ $have_uring -eq 1 ]; then
    name=mix; run mix mix RTAIO_STATS=1 RTAIO_BACKEND=uring
    if ok_run "mix"; then
        expect "text, RTAIO_BACKEND=uring: 4 writes, 1 fsync, 1 fdatasync, 8 reads; bytes 12*4096" \
            "$(row "$OUT/mix.err" io_uring)" "8 4 1 1 49152 0" "$OUT/mix.err"
    fi
fi

# --- an EBADF request ---------------------------------------------------------------------
name=ebadf; run ebadf ebadf RTAIO_STATS=1
if ok_run "ebadf"; then
    expect "text: an aio_read on a closed descriptor: 'error inline EBADF 1', inline errors 1" \
        "$(grep -c '^error     inline EBADF 1$' "$OUT/ebadf.err") $(row "$OUT/ebadf.err" inline | awk '{print $1, $6}')" \
        "1 1 1" "$OUT/ebadf.err"
fi
name=ebadfj; run ebadfj ebadf RTAIO_STATS=1 RTAIO_STATS_FORMAT=json
ok_run "ebadf json" && expect "json: errors {EBADF: 1} under inline" \
    "$(js "$OUT/ebadfj.err" 'd["executors"]["inline"]["errors"]')" "{'EBADF': 1}" "$OUT/ebadfj.err"

# --- fallbacks ----------------------------------------------------------------------------
name=fault; run fault lio8 RTAIO_STATS=1 RTAIO_BACKEND=uring RTAIO_FAULTS=io_uring_setup=EPERM
if ok_run "io_uring_setup=EPERM"; then
    expect "text, RTAIO_FAULTS=io_uring_setup=EPERM: a fallback line with EPERM; the reads on the pool" \
        "$(grep -c '^fallback  io_uring refused (io_uring_setup): EPERM 1$' "$OUT/fault.err") $(row "$OUT/fault.err" io_uring | cut -d' ' -f1) $(row "$OUT/fault.err" pool | cut -d' ' -f1)" \
        "1 0 8" "$OUT/fault.err"
fi
name=faultj; run faultj lio8 RTAIO_STATS=1 RTAIO_STATS_FORMAT=json RTAIO_BACKEND=uring RTAIO_FAULTS=io_uring_setup=EPERM
ok_run "io_uring_setup=EPERM json" && expect "json: fallbacks lists io_uring_setup EPERM once" \
    "$(js "$OUT/faultj.err" '[(f["what"], f["errno"], f["count"]) for f in d["fallbacks"]]')" \
    "[('io_uring refused (io_uring_setup)', 'EPERM', 1)]" "$OUT/faultj.err"
if [ $have_uring -eq 1 ]; then
    PREFIX=("$OUT/noring" EPERM)
    # (RTAIO_INLINE=0: the list's cached reads would complete inline and never need the ring)
    name=seccomp; run seccomp mix RTAIO_STATS=1 RTAIO_INLINE=0
    PREFIX=()
    if ok_run "mix under noring EPERM"; then
        expect "text, auto under a seccomp filter refusing io_uring: 'fallback io_uring refused (io_uring_setup): EPERM 1', io_uring row empty" \
            "$(grep -c '^fallback  io_uring refused (io_uring_setup): EPERM 1$' "$OUT/seccomp.err") $(row "$OUT/seccomp.err" io_uring)" \
            "1 0 0 0 0 0 0" "$OUT/seccomp.err"
    fi
fi
name=kaio; run kaio lio8d RTAIO_STATS=1 RTAIO_STATS_FORMAT=json RTAIO_BACKEND=kaio
if [ $rc -ne 0 ] && grep -q 'open: Invalid argument' "$OUT/kaio.err"; then
    t_skip "native AIO counts: no O_DIRECT on $(df -T "$DIR" | awk 'NR == 2 { print $2 }')"
elif ok_run "kaio lio8d"; then
    expect "json, RTAIO_BACKEND=kaio, O_DIRECT: kaio read 8 (or given back to the pool, with the cause), reaper started" \
        "$(js "$OUT/kaio.err" '(e["kaio"]["read"] + (e["pool"]["read"] if d["fallbacks"] else 0), d["threads_started"]["kaio_reaper"] >= 1)')" \
        "(8, True)" "$OUT/kaio.err"
    name=kaiofault; run kaiofault lio8d RTAIO_STATS=1 RTAIO_STATS_FORMAT=json RTAIO_BACKEND=kaio RTAIO_FAULTS=io_setup=ENOSYS
    ok_run "io_setup=ENOSYS" && expect "json, RTAIO_FAULTS=io_setup=ENOSYS: fallback kaio refused (io_setup) ENOSYS 1, the list given back; 8 reads on the pool" \
        "$(js "$OUT/kaiofault.err" '([(f["what"], f["errno"], f["count"]) for f in d["fallbacks"]], d["executors"]["pool"]["read"], d["executors"]["kaio"]["read"])')" \
        "([('kaio refused (io_setup)', 'ENOSYS', 1), ('kaio gave back to pool', None, 8)], 8, 0)" "$OUT/kaiofault.err"
    # The kernel refuses a request for its own range (EINVAL at io_submit): the pool reports it,
    # and the descriptor's later requests still go to native AIO.
    name=range; run range range RTAIO_STATS=1 RTAIO_STATS_FORMAT=json RTAIO_BACKEND=kaio
    ok_run "range" && expect "json, RTAIO_BACKEND=kaio, O_DIRECT: a read past the largest offset on the pool (EINVAL), then 8 reads on kaio" \
        "$(js "$OUT/range.err" '(d["executors"]["pool"]["read"], d["executors"]["pool"]["errors"], d["executors"]["kaio"]["read"])')" \
        "(1, {'EINVAL': 1}, 8)" "$OUT/range.err"
fi

# --- notifications ------------------------------------------------------------------------
name=notify; run notify notify RTAIO_STATS=1 RTAIO_STATS_FORMAT=json
if ok_run "notify"; then
    expect "json: notifications signal 2, thread 1, none 1; a notification thread started" \
        "$(js "$OUT/notify.err" '(d["notifications"], d["threads_started"]["notify"] >= 1)')" \
        "({'none': 1, 'signal': 2, 'thread': 1, 'thread_id': 0, 'eventfd': 0}, True)" "$OUT/notify.err"
fi

# --- to a file, %p ------------------------------------------------------------------------
name=file; run file lio8 "RTAIO_STATS=$OUT/st.%p.txt"
if ok_run "RTAIO_STATS=FILE"; then
    p=$(pid_of file)
    expect "RTAIO_STATS=$OUT/st.%p.txt: the report in st.<pid>.txt, nothing on stderr" \
        "$(ls "$OUT" | grep -c '^st\.') $(grep -c "^___ rtaio statistics (pid $p, exit" "$OUT/st.$p.txt" 2>/dev/null) $(wc -c <"$OUT/file.err")" \
        "1 1 0" "$OUT/file.err"
fi

# --- RTAIO_STATS_SIGNAL -------------------------------------------------------------------
usr2=$(kill -l USR2)
name=signal; run signal signal "RTAIO_STATS=$OUT/sig.json" RTAIO_STATS_FORMAT=json RTAIO_STATS_SIGNAL=USR2 -- "$usr2"
if ok_run "RTAIO_STATS_SIGNAL"; then
    expect "RTAIO_STATS_SIGNAL=USR2: a report at the signal (8 reads so far), then at exit (11)" \
        "$(js "$OUT/sig.json" "[(r['when'], sum(x['read'] for x in r['executors'].values())) for r in all]")" \
        "[('signal', 8), ('exit', 11)]" "$OUT/sig.json"
fi

# --- RTAIO_STATS_INTERVAL -----------------------------------------------------------------
name=interval; run interval interval "RTAIO_STATS=$OUT/iv.txt" RTAIO_STATS_INTERVAL=20 -- "$OUT/iv.txt"
if ok_run "RTAIO_STATS_INTERVAL"; then
    expect "RTAIO_STATS_INTERVAL=20: interval reports while running, then the exit report last" \
        "$([ "$(grep -c '^___ rtaio statistics (pid [0-9]*, interval' "$OUT/iv.txt")" -ge 1 ] && echo yes) $(grep '^___ rtaio statistics' "$OUT/iv.txt" | tail -n1 | grep -Eo 'exit')" \
        "yes exit" "$OUT/iv.txt"
fi

# --- fork: the child counts its own ------------------------------------------------------
name=fork; run fork fork "RTAIO_STATS=$OUT/fk.%p.json" RTAIO_STATS_FORMAT=json
if ok_run "fork"; then
    p=$(pid_of fork) c=$(awk '$1 == "child" { print $2 }' "$OUT/fork.out")
    expect "fork: the child's report has its 2 reads only (counters zeroed), the parent's its 8" \
        "$(js "$OUT/fk.$c.json" "$TOTAL_READS") $(js "$OUT/fk.$p.json" "$TOTAL_READS")" "2 8" "$OUT/fork.err"
fi

# --- the launcher: rtaio --stats ----------------------------------------------------------
if [ "$(realpath "$LIBDIR")" = "$(realpath "$root/target/release")" ]; then
    env -u RTAIO_STATS -u RTAIO_BACKEND "$root/rtaio" --stats "$OUT/prog" lio8 "$DATA" >"$OUT/launch.out" 2>"$OUT/launch.err"
    expect "rtaio --stats CMD: the report at exit on stderr, 8 reads" \
        "$(grep -c '^___ rtaio statistics' "$OUT/launch.err") $(awk '$1 ~ /^(inline|io_uring|kaio|pool|waiter)$/ && NF >= 7 { s += $2 } END { print s }' "$OUT/launch.err")" \
        "1 8" "$OUT/launch.err"
else
    t_skip "rtaio --stats: the checkout's launcher runs target/release, not $LIBDIR"
fi
# `--` ends the launcher's options; the installed launcher is rtaio.in as `make install` fills it.
sed -e "s|@LIBDIR@|$LIBDIR|g" -e "s|@PKGLIBDIR@|$LIBDIR|g" rtaio.in >"$OUT/rtaio-installed"
chmod +x "$OUT/rtaio-installed"
reads() { # FILE: its reports, and the reads they count
    echo "$(grep -c '^___ rtaio statistics' "$1") $(awk '$1 ~ /^(inline|io_uring|kaio|pool|waiter)$/ && NF >= 7 { s += $2 } END { print s }' "$1")"
}
for launcher in checkout installed; do
    if [ $launcher = checkout ]; then
        L=$root/rtaio
        [ "$(realpath "$LIBDIR")" = "$(realpath "$root/target/release")" ] || continue
    else
        L=$OUT/rtaio-installed
        [ -e "$LIBDIR/librtaio.so.1" ] || continue
    fi
    env -u RTAIO_BACKEND RTAIO_STATS=1 "$L" -- "$OUT/prog" lio8 "$DATA" >"$OUT/dd.out" 2>"$OUT/dd.err"
    rc=$?
    expect "$launcher launcher: rtaio -- CMD runs CMD preloaded (exit, reports, reads)" \
        "$rc $(reads "$OUT/dd.err")" "0 1 8" "$OUT/dd.err"
    env -u RTAIO_STATS -u RTAIO_BACKEND "$L" --stats -- "$OUT/prog" lio8 "$DATA" >"$OUT/sdd.out" 2>"$OUT/sdd.err"
    rc=$?
    expect "$launcher launcher: rtaio --stats -- CMD: the report at exit (exit, reports, reads)" \
        "$rc $(reads "$OUT/sdd.err")" "0 1 8" "$OUT/sdd.err"
    "$L" -- >/dev/null 2>"$OUT/dd-alone.err"
    expect "$launcher launcher: rtaio -- without a command: usage, exit 2" "$?" 2 "$OUT/dd-alone.err"
done

# --- AT_SECURE: a setgid copy ignores RTAIO_STATS ----------------------------------------
sg=$OUT/prog-setgid
cp "$OUT/prog-link" "$sg"
grp=$(getent group nogroup | cut -d: -f3)
[ -n "$grp" ] || grp=65534
if [ "$(id -g)" != "$grp" ] && chgrp "$grp" "$sg" 2>/dev/null && chmod g+s "$sg" 2>/dev/null; then
    env RTAIO_STATS=1 RTAIO_STATS_FORMAT=json timeout -k 5 $TIMEOUT "$sg" lio8 "$DATA" >"$OUT/sg.out" 2>"$OUT/sg.err"
    rc=$?
    if ! grep -q '^pid ' "$OUT/sg.out"; then
        t_fail "setgid: the program did not start (exit $rc)" "$(tail -n 5 "$OUT/sg.err")"
    elif ! grep -q '^secure 1' "$OUT/sg.out"; then
        t_skip "setgid: the kernel did not grant AT_SECURE here (nosuid mount?): not checked"
    elif [ $rc -ne 0 ]; then
        t_fail "setgid: the program failed (exit $rc)" "$(tail -n 5 "$OUT/sg.err")"
    else
        expect "setgid (AT_SECURE): RTAIO_STATS=1 ignored, nothing printed" "$(cat "$OUT/sg.err")" ""
    fi
else
    t_skip "setgid: cannot make a setgid copy here: not checked"
fi

# --- rtaio --doctor -----------------------------------------------------------------------
doctor=$LIBDIR/rtaio-doctor
if [ ! -x "$doctor" ]; then
    t_fail "rtaio-doctor in $LIBDIR" "not found (make build)"
else
    dr() { # NAME [PREFIX...] -- [ARGS...]: runs the doctor; $OUT/NAME.doc, $rc
        local n=$1 pre=()
        shift
        while [ $# -gt 0 ] && [ "$1" != -- ]; do pre+=("$1"); shift; done
        shift
        env -u RTAIO_BACKEND -u RTAIO_FAULTS -u RTAIO_THREADS "${pre[@]}" "$doctor" "$@" >"$OUT/$n.doc" 2>&1
        rc=$?
    }
    dline() { grep "^$2: " "$OUT/$1.doc" | head -n1; }
    dr doc -- "$DIR"
    if [ $have_uring -eq 1 ]; then
        expect "doctor: io_uring available, verdict ok, exit 0" \
            "$rc|$(dline doc io_uring)|$(grep -c '^verdict: ok: ' "$OUT/doc.doc")" "0|io_uring: available|1" "$OUT/doc.doc"
        expect "doctor: backend auto -> io_uring" "$(dline doc backend)" "backend: auto -> native AIO for O_DIRECT files, io_uring for the rest" "$OUT/doc.doc"
    else
        expect "doctor: no io_uring here: exit 1, a fallback verdict" "$rc $(grep -c '^verdict: fallback: ' "$OUT/doc.doc")" "1 1" "$OUT/doc.doc"
    fi
    expect "doctor: every section present (kernel, io_uring, native-aio, futex_waitv, o_direct, 10 settings, backend, verdict)" \
        "$(for k in kernel io_uring native-aio futex_waitv o_direct backend verdict; do grep -c "^$k: " "$OUT/doc.doc"; done | tr '\n' ' ')$(grep -c '^setting: RTAIO_' "$OUT/doc.doc")" \
        "1 1 1 1 1 1 1 10" "$OUT/doc.doc"
    expect "doctor: the default settings say (default)" "$(dline doc 'setting' )" "setting: RTAIO_BACKEND=auto (default)" "$OUT/doc.doc"
    dr docnoring "$OUT/noring" EPERM -- "$DIR"
    expect "doctor under noring EPERM: 'io_uring: refused: EPERM by seccomp', fallback verdict, exit 1" \
        "$rc|$(grep -c '^io_uring: refused: EPERM by seccomp' "$OUT/docnoring.doc")|$(grep -c '^verdict: fallback: io_uring refused (EPERM by seccomp): ' "$OUT/docnoring.doc")" \
        "1|1|1" "$OUT/docnoring.doc"
    dr docenosys "$OUT/noring" ENOSYS -- "$DIR"
    expect "doctor under noring ENOSYS: 'io_uring: refused: ENOSYS', exit 1" \
        "$rc|$(grep -c '^io_uring: refused: ENOSYS by ' "$OUT/docenosys.doc")" "1|1" "$OUT/docenosys.doc"
    dr docenv RTAIO_THREADS=8 RTAIO_BACKEND=threads RTAIO_STATS_SIGNAL=bogus -- "$DIR"
    expect "doctor: settings from the environment (and a value not understood), RTAIO_BACKEND=threads → exit 1" \
        "$rc|$(grep '^setting: RTAIO_THREADS=' "$OUT/docenv.doc" | cut -d: -f2-)|$(grep '^setting: RTAIO_BACKEND=' "$OUT/docenv.doc")|$(grep -c '^setting: RTAIO_STATS_SIGNAL=none (environment: "bogus" not understood' "$OUT/docenv.doc")" \
        "1| RTAIO_THREADS=8 (environment)|setting: RTAIO_BACKEND=threads (environment)|1" "$OUT/docenv.doc"
    dr docbad RTAIO_STATS_FORMAT=xml RTAIO_INLINE=no RTAIO_FAULTS=bogus RTAIO_MAX_REQUESTS=-1 -- "$DIR"
    expect "doctor: RTAIO_STATS_FORMAT=xml, RTAIO_INLINE=no, RTAIO_FAULTS=bogus, RTAIO_MAX_REQUESTS=-1: not understood" \
        "$(for v in STATS_FORMAT=text INLINE=1 FAULTS=none MAX_REQUESTS=1048576; do grep -c "^setting: RTAIO_$v (environment: \".*\" not understood, ignored)" "$OUT/docbad.doc"; done | tr '\n' ' ')" \
        "1 1 1 1 " "$OUT/docbad.doc"
    dr docgood RTAIO_STATS_FORMAT=json RTAIO_INLINE=0 RTAIO_FAULTS=io_submit=EAGAIN RTAIO_MAX_REQUESTS=4294967295 -- "$DIR"
    expect "doctor: RTAIO_STATS_FORMAT=json, RTAIO_INLINE=0, RTAIO_FAULTS=io_submit=EAGAIN, RTAIO_MAX_REQUESTS=4294967295: taken" \
        "$(grep -c 'not understood' "$OUT/docgood.doc") $(grep -c '^setting: RTAIO_\(INLINE=0\|MAX_REQUESTS=4294967295\|FAULTS=.*io_submit: Some.*\) (environment)$' "$OUT/docgood.doc")" \
        "0 3" "$OUT/docgood.doc"
    # O_DIRECT where no file can be made (no write permission: EACCES says nothing about O_DIRECT).
    t_tmpdir RO rtaio-stats-ro "$root/target"
    mkdir "$RO/empty" && echo data >"$RO/f" && chmod 0644 "$RO/f" && chmod 0555 "$RO" "$RO/empty"
    t_at_exit "chmod 0755 '$RO' '$RO/empty'"
    as=()
    [ "$(id -u)" -ne 0 ] || as=(setpriv --reuid=65534 --regid=65534 --clear-groups) # root may write anywhere
    if [ ${#as[@]} -gt 0 ] && ! { command -v setpriv >/dev/null && "${as[@]}" test -x "$doctor"; }; then
        t_skip "doctor: O_DIRECT in a directory not writable (root, and no setpriv or rtaio-doctor not executable by nobody)"
    else
        dr docro "${as[@]}" -- "$RO"
        expect "doctor: O_DIRECT in a directory not writable, with a file: as in a writable one on the same file system" \
            "$(dline docro o_direct | cut -d' ' -f2)" "$(dline doc o_direct | cut -d' ' -f2)" "$OUT/docro.doc"
        dr docroempty "${as[@]}" -- "$RO/empty"
        expect "doctor: O_DIRECT in an empty directory not writable: untested (EACCES)" \
            "$(dline docroempty o_direct | grep -c '^o_direct: untested on .*(EACCES)')" 1 "$OUT/docroempty.doc"
    fi
    dr docfault RTAIO_FAULTS=io_uring_setup=EPERM -- "$DIR"
    expect "doctor: RTAIO_FAULTS=io_uring_setup=EPERM is what the library would see" \
        "$rc|$(dline docfault io_uring)" "1|io_uring: refused: EPERM by RTAIO_FAULTS (test fault injection)" "$OUT/docfault.doc"
    dr docusage -- a b
    expect "doctor: two paths: usage error, exit 2" "$rc $(grep -c '^usage: rtaio --doctor' "$OUT/docusage.doc")" "2 1"
    dr docmissing -- "$OUT/no-such-dir"
    expect "doctor: a path that is not a directory: exit 2" "$rc" "2"
    if [ "$(realpath "$LIBDIR")" = "$(realpath "$root/target/release")" ]; then
        PATH_SAVE=$PATH
        "$root/rtaio" --doctor "$DIR" >"$OUT/launchdoc.doc" 2>&1
        rc=$?
        expect "rtaio --doctor (the launcher) runs rtaio-doctor" "$rc $(grep -c '^verdict: ' "$OUT/launchdoc.doc")" \
            "$([ $have_uring -eq 1 ] && echo 0 || echo 1) 1" "$OUT/launchdoc.doc"
        PATH=$PATH_SAVE
    fi
fi

t_closing stats
