#!/usr/bin/env bash
# Build the programs in examples/ against rtaio and check them end to end.
#
#   tests/examples.sh
#
# Builds evserve, evclient and aio-cp into build/examples/ (-Wall -Wextra -Werror, linked with
# -lrtaio from $RTAIO_LIBDIR, default <repo>/target/release), then in a temporary directory
# under ${TMPDIR:-/tmp}:
#   (a) evserve serves a 24 MiB random file, a 1234567-byte one and an empty one; evclient
#       runs many concurrent clients against it and checks every byte. Also run with
#       RTAIO_INLINE=0 (completions from rtaio's pool) and RTAIO_MAX_REQUESTS=4 (aio_read says
#       EAGAIN, evserve retries). While the server runs: its threads are its main thread plus
#       rtaio-* threads (and the kernel's iou-wrk-* workers for rtaio's ring) only, and it holds
#       no pipe. SIGTERM must end it with status 0 and a
#       summary that counts every request.
#   (b) aio-cp copies the files at several depths and block sizes, buffered and (when the
#       filesystem takes O_DIRECT) with -d, waiting with aio_suspend and with -e (eventfd);
#       cmp checks each copy.
#   (c) error cases: missing source, unwritable destination, same file, directory, /dev/full,
#       bad usage — each must fail with a message naming the failing call.
# Every program runs under `timeout`. One line per check: `PASS  name`, `FAIL  name` (with
# the details under it) or `SKIP  name (why)`; the last line is
# `examples: N passed, N failed[, N skipped]`; exit status 1 if anything failed.
# EXAMPLES_SEED=N fixes evclient's random ranges (default: from the clock; printed).
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # root, LIBDIR, CC, the tally, t_tmpdir, t_at_exit

LIBDIR=$(cd "$LIBDIR" 2>/dev/null && pwd || echo "$LIBDIR")
OUT=$root/build/examples
CFLAGS=(-std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -pthread -I"$root/librt-aio/include")
LDFLAGS=(-L"$LIBDIR" -lrtaio -Wl,-rpath,"$LIBDIR")
SEED=${EXAMPLES_SEED:-$(date +%s)}

t_start=$(date +%s)
finish() {
    echo "time: $(($(date +%s) - t_start)) s, seed $SEED"
    t_closing examples
    exit
}

t_tmpdir T rtaio-examples || {
    t_fail "mktemp"
    finish
}
SPID= # the `timeout` process running evserve
EVPID= # evserve itself
# at exit, before $T goes: no server may outlive this script
stop_servers() {
    [ -n "$EVPID" ] && kill -KILL "$EVPID" 2>/dev/null
    [ -n "$SPID" ] && kill -KILL "$SPID" 2>/dev/null
    return 0
}
t_at_exit stop_servers
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- build
t_have_lib || finish
mkdir -p "$OUT"
built=1
for p in evserve evclient aio-cp; do
    if "$CC" "${CFLAGS[@]}" "$root/examples/$p.c" -o "$OUT/$p" "${LDFLAGS[@]}" 2>"$T/cc-$p.log"; then
        t_pass "build $p"
    else
        t_fail "build $p" "$(head -5 "$T/cc-$p.log")"
        built=0
    fi
done
[ $built -eq 1 ] || finish

# ---------------------------------------------------------------- test files
head -c $((24 << 20)) /dev/urandom >"$T/big"
head -c 1234567 /dev/urandom >"$T/odd"
: >"$T/empty"

# ---------------------------------------------------------------- (a) evserve + evclient
# start_server FILE [VAR=VALUE...]: sets SPID, EVPID, PORT; returns 1 if it did not come up.
start_server() {
    local f=$1
    shift
    : >"$T/srv.out"
    env "$@" timeout 300 "$OUT/evserve" -v "$f" <"/dev/null" >"$T/srv.out" 2>"$T/srv.err" &
    SPID=$!
    PORT=
    EVPID=
    for _ in $(seq 100); do
        PORT=$(head -n1 "$T/srv.out" 2>/dev/null)
        [ -n "$PORT" ] && break
        kill -0 "$SPID" 2>/dev/null || break
        sleep 0.1
    done
    EVPID=$(cat "/proc/$SPID/task/$SPID/children" 2>/dev/null || pgrep -P "$SPID")
    EVPID=${EVPID%% *}
    EVPID=${EVPID// /}
    [ -n "$PORT" ] && [ -n "$EVPID" ]
}

# sample_threads: adds evserve's current threads to $T/threads as "tid comm" lines.
sample_threads() {
    local t comm
    for t in /proc/"$EVPID"/task/*; do
        comm=
        read -r comm <"$t/comm" 2>/dev/null
        echo "${t##*/} $comm"
    done >>"$T/threads" 2>/dev/null
}

# check_threads NAME: every thread seen while sampling is evserve's main thread, rtaio-* or
# the kernel's io_uring workers (iou-wrk-*).
# A new thread carries its creator's name until it names itself (a short window a busy
# machine can show): a thread is judged by the names it was seen with, rtaio-* winning.
check_threads() {
    local name=$1 bad= n tid comm
    while read -r tid comm; do
        [ -n "$comm" ] || continue # exited while sampled
        if [ "$tid" = "$EVPID" ]; then
            [ "$comm" = evserve ] || bad="$bad main=$comm"
        else
            case $comm in
            # iou-wrk-N: the kernel's io_uring workers for rtaio's ring (kernel threads in the
            # process, named after the submitter's tid).
            rtaio-* | iou-wrk-*) ;;
            *) grep -q "^$tid rtaio-" "$T/threads" || bad="$bad $tid=$comm" ;;
            esac
        fi
    done < <(sort -u "$T/threads")
    n=$(sort -u "$T/threads" | awk -v m="$EVPID" '$1 != m && $2 ~ /^rtaio-/' | wc -l)
    if [ -z "$bad" ]; then
        t_pass "$name: threads seen: main + $n rtaio-*"
    else
        t_fail "$name: threads" "unexpected:$bad"
    fi
}

# No pipe of its own (pipes inherited from whoever runs this script do not count).
check_no_pipes() {
    local name=$1 p mine=
    local inherited
    inherited=" $(readlink /proc/$$/fd/* 2>/dev/null | grep '^pipe:' | tr '\n' ' ')"
    for p in $(readlink /proc/"$EVPID"/fd/* 2>/dev/null | grep '^pipe:'); do
        case $inherited in
        *" $p "*) ;;
        *) mine="$mine $p" ;;
        esac
    done
    if [ -z "$mine" ]; then
        t_pass "$name: no pipes"
    else
        t_fail "$name: no pipes" "evserve holds$mine"
    fi
}

# stop_server NAME EXPECTED_REQUESTS
stop_server() {
    local name=$1 want=$2 rc
    kill -TERM "$EVPID" 2>/dev/null
    # It waits for its reads in flight before exiting: give it 10 s.
    for _ in $(seq 100); do
        kill -0 "$EVPID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$EVPID" 2>/dev/null; then
        t_fail "$name: clean exit on SIGTERM" "still running 10 s after SIGTERM (a lost completion?)"
        kill -KILL "$EVPID" 2>/dev/null
        wait "$SPID" 2>/dev/null
        SPID=
        EVPID=
        return
    fi
    wait "$SPID"
    rc=$?
    SPID=
    EVPID=
    if [ $rc -ne 0 ]; then
        t_fail "$name: clean exit on SIGTERM" "status $rc; $(tail -3 "$T/srv.err")"
    elif ! grep -q "Terminated: .* $want requests, " "$T/srv.err"; then # want may be a regex
        t_fail "$name: clean exit on SIGTERM" "summary: $(tail -1 "$T/srv.err")"
    else
        t_pass "$name: clean exit on SIGTERM ($(sed -n 's/^evserve: Terminated: //p' "$T/srv.err"))"
    fi
}

# serve NAME FILE CLIENTS REQUESTS SEED [VAR=VALUE...]
serve() {
    local name=$1 f=$2 nc=$3 nr=$4 seed=$5 rc
    shift 5
    if ! start_server "$f" "$@"; then
        t_fail "$name: evserve starts" "$(tail -3 "$T/srv.err")"
        [ -n "$SPID" ] && kill -KILL "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
        SPID=
        EVPID=
        return
    fi
    : >"$T/threads"
    timeout 300 "$OUT/evclient" "$PORT" "$f" "$nc" "$nr" "$seed" >"$T/cli.out" 2>"$T/cli.err" &
    local cpid=$!
    while kill -0 "$cpid" 2>/dev/null; do # watch evserve's threads while it works
        sample_threads
        sleep 0.2
    done
    wait "$cpid"
    rc=$?
    sample_threads
    if [ $rc -eq 0 ]; then
        t_pass "$name: evclient $nc x $nr, seed $seed ($(sed -n 's/^evclient: [0-9]* clients, //; s/, [0-9]* clients failed$//p' "$T/cli.out"))"
    else
        t_fail "$name: evclient $nc x $nr, seed $seed" "status $rc; $(cat "$T/cli.out"; head -5 "$T/cli.err")"
    fi
    if kill -0 "$EVPID" 2>/dev/null; then
        check_threads "$name"
        check_no_pipes "$name"
    fi
    stop_server "$name" $((nc * nr))
}

# A few answers checked by hand through bash's /dev/tcp (no evclient involved).
protocol_checks() {
    local name=$1
    if ! start_server "$T/odd"; then
        t_fail "$name: evserve starts" "$(tail -3 "$T/srv.err")"
        return
    fi
    # Two pipelined requests: 5 bytes at 1000, and a range past EOF (0 bytes).
    local got want
    got=$(timeout 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$PORT"'
        printf "1000 5\r\n99999999 10\n" >&3; head -c 21 <&3 | od -An -tx1 | tr -d " \n"')
    want="0500000000000000$(dd if="$T/odd" bs=1 skip=1000 count=5 2>/dev/null | od -An -tx1 | tr -d ' \n')0000000000000000"
    if [ "$got" = "$want" ]; then
        t_pass "$name: two pipelined requests by hand"
    else
        t_fail "$name: two pipelined requests by hand" "got $got, want $want"
    fi
    # A malformed line: the server closes the connection without answering, and lives on.
    got=$(timeout 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$PORT"'
        printf "12 potatoes\n0 1\n" >&3; cat <&3 | wc -c')
    if [ "$got" = 0 ] && kill -0 "$EVPID" 2>/dev/null; then
        t_pass "$name: malformed line closes the connection"
    else
        t_fail "$name: malformed line closes the connection" "answer of $got bytes"
    fi
    # A client that goes away with reads in flight.
    timeout 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$PORT"'
        printf "0 1000000\n0 1000000\n0 1000000\n" >&3; exec 3>&-' 2>/dev/null
    sleep 0.2
    if kill -0 "$EVPID" 2>/dev/null; then
        t_pass "$name: client leaving early"
    else
        t_fail "$name: client leaving early" "server died"
    fi
    stop_server "$name" '[0-9]*' # the early leaver's requests are parsed as room allows
}

protocol_checks "evserve protocol"
# Drop the file from the page cache first (where fadvise works), so that rtaio's inline
# attempt misses and reads go to its pool, then to the disk.
sync "$T/big" 2>/dev/null
dd if="$T/big" iflag=nocache count=0 status=none 2>/dev/null
serve "evserve 24MiB" "$T/big" 32 200 "$SEED"
serve "evserve 1234567B pool (RTAIO_INLINE=0)" "$T/odd" 32 200 $((SEED + 1)) RTAIO_INLINE=0
serve "evserve 24MiB EAGAIN (RTAIO_MAX_REQUESTS=4)" "$T/big" 16 100 $((SEED + 2)) \
    RTAIO_MAX_REQUESTS=4 RTAIO_INLINE=0
serve "evserve empty file" "$T/empty" 4 50 $((SEED + 3))

timeout 10 "$OUT/evserve" "$T/missing" >/dev/null 2>"$T/err" </dev/null
rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q 'open' "$T/err"; then
    t_pass "evserve missing file: status $rc"
else
    t_fail "evserve missing file" "status $rc: $(cat "$T/err")"
fi

# ---------------------------------------------------------------- (b) aio-cp copies
# copy NAME SRC AIO-CP-OPTIONS...
copy() {
    local name=$1 src=$2 rc
    shift 2
    rm -f "$T/dst"
    timeout 120 "$OUT/aio-cp" "$@" "$src" "$T/dst" 2>"$T/cp.err"
    rc=$?
    if [ $rc -ne 0 ]; then
        t_fail "$name" "status $rc: $(head -3 "$T/cp.err")"
    elif ! cmp -s "$src" "$T/dst"; then
        t_fail "$name" "copy differs: $(cmp "$src" "$T/dst" 2>&1 | head -1)"
    else
        t_pass "$name"
    fi
}

for f in big odd empty; do
    for o in "-q 1 -b 4k" "-q 16" "-q 64 -b 1m" "-q 8 -b 1000" "-q 4 -b 333k -e" "-q 32 -b 64k -e" \
        "-q 1024 -b 4k -e"; do
        # shellcheck disable=SC2086
        copy "aio-cp $f $o" "$T/$f" $o
    done
done
# Over an existing, longer file.
head -c $((30 << 20)) /dev/zero >"$T/dst"
timeout 60 "$OUT/aio-cp" "$T/odd" "$T/dst" 2>"$T/cp.err" && cmp -s "$T/odd" "$T/dst" &&
    t_pass "aio-cp over a longer existing file" ||
    t_fail "aio-cp over a longer existing file" "$(head -3 "$T/cp.err")"

# O_DIRECT: only where this filesystem takes it.
rm -f "$T/dst"
timeout 60 "$OUT/aio-cp" -d -v "$T/odd" "$T/dst" 2>"$T/cp.err"
if grep -q 'O_DIRECT refused' "$T/cp.err"; then
    t_skip "aio-cp -d (O_DIRECT refused on $T: $(head -1 "$T/cp.err"))"
    timeout 60 "$OUT/aio-cp" -d "$T/odd" "$T/dst" 2>/dev/null && cmp -s "$T/odd" "$T/dst" &&
        t_pass "aio-cp -d fallback to buffered" || t_fail "aio-cp -d fallback to buffered"
else
    for f in big odd empty; do
        for o in "-d" "-d -q 1 -b 4k" "-d -q 8 -b 12k" "-d -q 64 -b 1m -e" "-d -q 3 -b 256k -e"; do
            # shellcheck disable=SC2086
            copy "aio-cp $f $o" "$T/$f" $o
        done
    done
fi

# ---------------------------------------------------------------- (c) aio-cp errors
# fails NAME EXPECTED-STATUS MESSAGE-REGEX AIO-CP-ARGS...
fails() {
    local name=$1 want=$2 re=$3 rc
    shift 3
    timeout 60 "$OUT/aio-cp" "$@" >/dev/null 2>"$T/cp.err"
    rc=$?
    if [ $rc -eq "$want" ] && grep -Eq "$re" "$T/cp.err"; then
        t_pass "$name: status $rc, $(head -1 "$T/cp.err")"
    else
        t_fail "$name" "status $rc (want $want), message: $(head -2 "$T/cp.err") (want /$re/)"
    fi
}
fails "aio-cp missing source" 1 '^aio-cp: open\(.*missing\): No such file' "$T/missing" "$T/dst"
fails "aio-cp destination in a missing directory" 1 '^aio-cp: open\(.*/nodir/x\)' "$T/odd" "$T/nodir/x"
fails "aio-cp source is a directory" 1 'not a regular file' "$T" "$T/dst"
cp "$T/odd" "$T/same"
fails "aio-cp onto itself" 1 'same file' "$T/same" "$T/same"
cmp -s "$T/odd" "$T/same" && t_pass "aio-cp onto itself leaves the file intact" ||
    t_fail "aio-cp onto itself leaves the file intact"
if [ -w /dev/full ]; then
    fails "aio-cp to /dev/full (aio_suspend)" 1 '^aio-cp: aio_writev\(/dev/full, .*No space left' "$T/odd" /dev/full
    fails "aio-cp to /dev/full (eventfd)" 1 '^aio-cp: aio_writev\(/dev/full, .*No space left' -e "$T/odd" /dev/full
else
    t_skip "aio-cp to /dev/full (/dev/full not writable)"
fi
fails "aio-cp bad depth" 2 'usage' -q 0 "$T/odd" "$T/dst"
fails "aio-cp -d with an unaligned block" 2 'multiple of 4096' -d -b 1000 "$T/odd" "$T/dst"
fails "aio-cp no arguments" 2 'usage'

finish
