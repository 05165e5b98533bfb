#!/usr/bin/env bash
# strace-kaio: evidence, from the system calls, that the kernel-AIO backend is really used.
#
#   tests/strace-kaio.sh
#
# A tiny program (tests/helpers/strace_kaio.c, built here, linked with -lrtaio and with -lrt + LD_PRELOAD) does, on an
# O_DIRECT file in a disk directory ($RTAIO_TEST_DIR or build/tests/strace-kaio): 8 aligned
# 4 KiB reads in ONE lio_listio(LIO_WAIT) list (data checked), then aio_fsync(O_SYNC) and
# aio_fsync(O_DSYNC). It runs under
#   strace -ff -qq -e trace=io_setup,io_submit,io_getevents,pread64,preadv,preadv2
# (-ff: one output file per thread, so no call is split into unfinished/resumed halves).
# Checks, in link and in preload mode:
#   direct, default mode   io_submit is used; the list of 8 went in ONE call
#                          `io_submit(ctx, 8, [8 x IOCB_CMD_PREAD]) = 8`; no pread64/preadv/
#                          preadv2 on the O_DIRECT fd; fsyncs as IOCB_CMD_FSYNC and FDSYNC
#   direct, RTAIO_BACKEND=threads      no io_submit at all; the reads are pread64 calls
#   buffered, default mode             no IOCB_CMD_PREAD submitted; the fsync is IOCB_CMD_FSYNC
#   buffered, RTAIO_BACKEND=kernel     the 8 reads in one io_submit of 8
#   direct, RTAIO_FAULTS=io_setup=ENOSYS  no successful io_submit; the reads fell back (pread64)
#   direct, RTAIO_FAULTS=io_submit=EAGAIN the reads fell back to the pool (pread64), data right
#   fork                   parent and child each set up a context (2 successful io_setup) and
#                          each submit their list of 8 successfully; no io_submit fails
#   setgid (link mode only, when the kernel grants AT_SECURE): RTAIO_FAULTS and
#                          RTAIO_BACKEND are ignored, the list still goes in one io_submit
# The last line is `strace-kaio: N passed, N failed[, N skipped]`; exit 1 if anything failed.
# When strace is missing, ptrace is not permitted or DIR takes no O_DIRECT: one SKIP line,
# `strace-kaio: 0 passed, 0 failed, 1 skipped`, exit 0.
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # root, LIBDIR, CC, the tally

PROG=$root/tests/helpers/strace_kaio.c # the program traced
OUT=$root/build/tests/strace-kaio
TIMEOUT=${RTAIO_TEST_TIMEOUT:-60}
mkdir -p "$OUT"
DIR=${RTAIO_TEST_DIR:-$OUT}

finish() { t_closing strace-kaio; exit; }

# Nothing to check where strace cannot run: the suite skips itself (exit 0).
if ! command -v strace >/dev/null 2>&1; then
    t_skip "strace-kaio: strace is not installed (tests/deps.sh installs it)"
    finish
fi
if ! perr=$(strace -qq -e trace=none true 2>&1); then
    t_skip "strace-kaio: strace cannot trace here (ptrace refused?): $(head -n1 <<<"$perr")"
    finish
fi
t_have_lib || finish
# the library may be rebuilt while we run: use a snapshot
cp "$LIBDIR/librtaio.so" "$OUT/librtaio.so"
ln -sf librtaio.so "$OUT/librtaio.so.1"
LIB=$OUT/librtaio.so

CFLAGS=(-D_GNU_SOURCE -pthread -O2 -Wall -Werror)
"$CC" "${CFLAGS[@]}" "$PROG" -o "$OUT/prog-link" -L"$OUT" -lrtaio -Wl,-rpath,"$OUT" \
    >"$OUT/build.log" 2>&1 || { t_fail "cannot build the link-mode program" "$(tail -n5 "$OUT/build.log")"; finish; }
"$CC" "${CFLAGS[@]}" "$PROG" -o "$OUT/prog-preload" -lrt >>"$OUT/build.log" 2>&1 ||
    { t_fail "cannot build the preload-mode program" "$(tail -n5 "$OUT/build.log")"; finish; }

# a disk file system (tmpfs/ramfs have no real O_DIRECT), and O_DIRECT usable in DIR?
case $(stat -f -c %T "$DIR" 2>/dev/null) in
tmpfs | ramfs)
    t_skip "strace-kaio: $DIR is on $(stat -f -c %T "$DIR"), not a disk (set RTAIO_TEST_DIR)"
    finish
    ;;
esac
if ! "$OUT/prog-link" "$DIR" direct >/dev/null 2>"$OUT/probe.err"; then
    if grep -q 'open: Invalid argument' "$OUT/probe.err"; then
        t_skip "strace-kaio: O_DIRECT refused in $DIR (set RTAIO_TEST_DIR)"
        finish
    fi
fi

# trace NAME MODE KIND [env...] -> $T (all syscall lines of all threads), $POUT (stdout),
# $PRC (exit status), $FD (the program's data fd)
T= POUT= PRC= FD=
trace() {
    local name=$1 mode=$2 kind=$3; shift 3
    local pfx=$OUT/$mode-$name envs=(env -u RTAIO_BACKEND -u RTAIO_FAULTS "$@")
    rm -f "$pfx".tr.*
    [ "$mode" = preload ] && envs+=(LD_PRELOAD="$LIB")
    POUT=$("${envs[@]}" timeout -k 5 "$TIMEOUT" strace -ff -qq \
        -e trace=io_setup,io_submit,io_getevents,pread64,preadv,preadv2 \
        -o "$pfx.tr" "$OUT/prog-$mode" "$DIR" "$kind" 2>"$pfx.err")
    PRC=$?
    cat "$pfx".tr.* >"$pfx.all" 2>/dev/null
    T=$(cat "$pfx.all")
    FD=$(sed -n 's/^FD=\([0-9]*\).*/\1/p' <<<"$POUT" | head -n1)
    echo "$POUT" >"$pfx.out"
}
cnt() { grep -cE "$1" <<<"$T"; } # lines of the trace matching an ERE
prog_ok() { [ "$PRC" -eq 0 ] && grep -q '^OK$' <<<"$POUT"; }
SUB8='^io_submit\(0x[0-9a-f]+, 8, \[.*\]\) += 8$'
ONFD() { echo "^(pread64|preadv|preadv2)\($FD,"; }
ctx() { echo "(trace: $OUT/$1-$2.all, program stderr: $OUT/$1-$2.err)"; }

for mode in link preload; do
    # -- direct, default mode
    trace direct $mode direct
    c=$(ctx $mode direct)
    if ! prog_ok; then
        t_fail "$mode direct: the program failed (exit $PRC) $c" "$(tail -n3 "$OUT/$mode-direct.err")"
    else
        errs=()
        [ "$(cnt '^io_submit\(.*\) += [1-9][0-9]*$')" -ge 1 ] || errs+=("no successful io_submit")
        n8=$(cnt "$SUB8")
        [ "$n8" -eq 1 ] || errs+=("expected exactly one 'io_submit(ctx, 8, ...) = 8', found $n8")
        if [ "$n8" -ge 1 ]; then
            np=$(grep -E "$SUB8" <<<"$T" | head -n1 | grep -o 'IOCB_CMD_PREAD' | wc -l)
            [ "$np" -eq 8 ] || errs+=("the io_submit of 8 holds $np IOCB_CMD_PREAD, expected 8")
        fi
        if [ "$(cnt '^io_submit\(0x[0-9a-f]+, [1-7], .*IOCB_CMD_PREAD')" -ne 0 ]; then
            errs+=("the reads were (also) submitted in smaller batches:")
            errs+=("$(grep -E '^io_submit\(0x[0-9a-f]+, [1-7], .*IOCB_CMD_PREAD' <<<"$T" | head -n2 | cut -c1-200)")
        fi
        np=$(cnt "$(ONFD)")
        [ "$np" -eq 0 ] || errs+=("$np pread64/preadv/preadv2 calls on the O_DIRECT fd $FD: $(grep -E "$(ONFD)" <<<"$T" | head -n1 | cut -c1-120)")
        [ "$(cnt 'IOCB_CMD_FSYNC.*\) += 1$')" -ge 1 ] || errs+=("aio_fsync(O_SYNC) was not submitted as IOCB_CMD_FSYNC")
        [ "$(cnt 'IOCB_CMD_FDSYNC.*\) += 1$')" -ge 1 ] || errs+=("aio_fsync(O_DSYNC) was not submitted as IOCB_CMD_FDSYNC")
        if [ ${#errs[@]} -eq 0 ]; then
            t_pass "$mode direct: 8 O_DIRECT reads in one io_submit of 8, no pread64, fsyncs as IOCB_CMD_FSYNC/FDSYNC"
        else
            t_fail "$mode direct (default mode): kernel path not taken as specified $c" "${errs[@]}"
        fi
    fi

    # -- direct, RTAIO_BACKEND=threads
    trace threads $mode direct RTAIO_BACKEND=threads
    c=$(ctx $mode threads)
    if ! prog_ok; then
        t_fail "$mode threads: the program failed (exit $PRC) $c" "$(tail -n3 "$OUT/$mode-threads.err")"
    else
        ns=$(cnt '^io_submit\(') np=$(cnt "$(ONFD)")
        if [ "$ns" -eq 0 ] && [ "$np" -ge 8 ]; then
            t_pass "$mode RTAIO_BACKEND=threads: no io_submit, $np pread64 on the O_DIRECT fd"
        else
            t_fail "$mode RTAIO_BACKEND=threads: $ns io_submit calls (expected none), $np preads on fd $FD (expected >= 8) $c" \
                "$(grep -E '^io_submit\(' <<<"$T" | head -n2 | cut -c1-200)"
        fi
    fi

    # -- buffered, default mode: reads through the pool; every aio_fsync through the kernel
    trace buffered $mode buffered
    c=$(ctx $mode buffered)
    if ! prog_ok; then
        t_fail "$mode buffered: the program failed (exit $PRC) $c" "$(tail -n3 "$OUT/$mode-buffered.err")"
    else
        # Buffered descriptors stay on the pool entirely, fsync included (docs/BEHAVIOUR.md: a
        # context holds a share of fs.aio-max-nr, and the kernel would fsync on a worker too).
        nr=$(cnt '^io_submit\(.*IOCB_CMD_PREAD') nf=$(cnt 'IOCB_CMD_FSYNC') nd=$(cnt 'IOCB_CMD_FDSYNC') nsetup=$(cnt '^io_setup\(')
        if [ "$nr" -eq 0 ] && [ "$nf" -eq 0 ] && [ "$nd" -eq 0 ] && [ "$nsetup" -eq 0 ]; then
            t_pass "$mode buffered fd, default mode: nothing submitted to the kernel, no context created"
        else
            t_fail "$mode buffered fd, default mode: $nr io_submit with IOCB_CMD_PREAD, $nf IOCB_CMD_FSYNC, $nd IOCB_CMD_FDSYNC, $nsetup io_setup (expected 0 each) $c"
        fi
    fi

    # -- buffered, RTAIO_BACKEND=kernel
    trace bufkernel $mode buffered RTAIO_BACKEND=kernel
    c=$(ctx $mode bufkernel)
    if ! prog_ok; then
        t_fail "$mode buffered kernel: the program failed (exit $PRC) $c" "$(tail -n3 "$OUT/$mode-bufkernel.err")"
    else
        n8=$(cnt "$SUB8") np=$(cnt "$(ONFD)")
        if [ "$n8" -eq 1 ] && [ "$np" -eq 0 ]; then
            t_pass "$mode RTAIO_BACKEND=kernel, buffered fd: the 8 reads in one io_submit of 8, no pread64"
        else
            t_fail "$mode RTAIO_BACKEND=kernel, buffered fd: $n8 'io_submit(ctx, 8, ...) = 8' (expected 1), $np preads on fd $FD (expected 0) $c"
        fi
    fi

    # -- fault injection: io_setup=ENOSYS
    trace nosetup $mode direct RTAIO_FAULTS=io_setup=ENOSYS
    c=$(ctx $mode nosetup)
    if ! prog_ok; then
        t_fail "$mode RTAIO_FAULTS=io_setup=ENOSYS: the program failed (exit $PRC) $c" "$(tail -n3 "$OUT/$mode-nosetup.err")"
    else
        ns=$(cnt '^io_submit\(.*\) += [0-9]+$') np=$(cnt "$(ONFD)")
        if [ "$ns" -eq 0 ] && [ "$np" -ge 8 ]; then
            t_pass "$mode RTAIO_FAULTS=io_setup=ENOSYS: no io_submit, the reads fell back to the pool ($np pread64)"
        else
            t_fail "$mode RTAIO_FAULTS=io_setup=ENOSYS: $ns successful io_submit (expected 0), $np preads on fd $FD (expected >= 8) $c"
        fi
    fi

    # -- fault injection: io_submit=EAGAIN
    trace eagain $mode direct RTAIO_FAULTS=io_submit=EAGAIN
    c=$(ctx $mode eagain)
    if ! prog_ok; then
        t_fail "$mode RTAIO_FAULTS=io_submit=EAGAIN: the program failed (exit $PRC) $c" "$(tail -n3 "$OUT/$mode-eagain.err")"
    else
        np=$(cnt "$(ONFD)") n8=$(cnt "$SUB8")
        if [ "$np" -ge 8 ] && [ "$n8" -eq 0 ]; then
            t_pass "$mode RTAIO_FAULTS=io_submit=EAGAIN: the reads fell back to the pool ($np pread64), data right"
        else
            t_fail "$mode RTAIO_FAULTS=io_submit=EAGAIN: $np preads on fd $FD (expected >= 8), $n8 successful io_submit of 8 (expected 0) $c"
        fi
    fi

    # -- fork: the child sets up its own context
    trace fork $mode fork
    c=$(ctx $mode fork)
    if ! prog_ok; then
        t_fail "$mode fork: the program failed (exit $PRC) $c" "$(tail -n3 "$OUT/$mode-fork.err")"
    else
        nset=$(cnt '^io_setup\(.*\) += 0$') n8=$(cnt "$SUB8") nerr=$(cnt '^io_submit\(.*\) += -1')
        if [ "$nset" -ge 2 ] && [ "$n8" -ge 3 ] && [ "$nerr" -eq 0 ]; then
            t_pass "$mode fork: parent and child each io_setup their own context; 3 lists of 8 submitted, no io_submit failed"
        else
            t_fail "$mode fork: $nset successful io_setup (expected >= 2: parent and child), $n8 'io_submit(ctx, 8, ...) = 8' (expected 3), $nerr failed io_submit (expected 0) $c" \
                "$(grep -E '^io_submit\(.*\) += -1' <<<"$T" | head -n2 | cut -c1-200)"
        fi
    fi
done

# -- setgid program (link mode): RTAIO_FAULTS and RTAIO_BACKEND are ignored
sg=$OUT/prog-setgid
cp "$OUT/prog-link" "$sg"
grp=$(getent group nogroup | cut -d: -f3)
[ -n "$grp" ] || grp=65534
if [ "$(id -g)" != "$grp" ] && chgrp "$grp" "$sg" 2>/dev/null && chmod g+s "$sg" 2>/dev/null; then
    pfx=$OUT/link-setgid
    rm -f "$pfx".tr.*
    POUT=$(env RTAIO_FAULTS=io_setup=ENOSYS RTAIO_BACKEND=threads timeout -k 5 "$TIMEOUT" \
        strace -ff -qq -e trace=io_setup,io_submit,io_getevents,pread64,preadv,preadv2 \
        -o "$pfx.tr" "$sg" "$DIR" direct 2>"$pfx.err")
    PRC=$?
    cat "$pfx".tr.* >"$pfx.all" 2>/dev/null
    T=$(cat "$pfx.all")
    if grep -q 'SECURE=0' <<<"$POUT" || [ -z "$POUT" ]; then
        t_skip "setgid: the kernel did not grant AT_SECURE here (nosuid mount or tracing rules): not checked"
    elif ! prog_ok; then
        t_fail "link setgid: the program failed (exit $PRC) $(ctx link setgid)" "$(tail -n3 "$pfx.err")"
    elif [ "$(cnt "$SUB8")" -eq 1 ]; then
        t_pass "link setgid (AT_SECURE): RTAIO_FAULTS=io_setup=ENOSYS and RTAIO_BACKEND=threads ignored, one io_submit of 8"
    else
        t_fail "link setgid (AT_SECURE): with RTAIO_FAULTS=io_setup=ENOSYS RTAIO_BACKEND=threads in the environment, $(cnt "$SUB8") 'io_submit(ctx, 8, ...) = 8' (expected 1: the variables must be ignored) $(ctx link setgid)"
    fi
else
    t_skip "setgid: cannot make a setgid copy of the program here: not checked"
fi
rm -f "$sg"
finish
