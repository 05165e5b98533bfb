#!/usr/bin/env bash
# strace-kernel: evidence, from the system calls, of which kernel interface rtaio uses, and that
# it falls back unnoticed where one is refused.
#
#   tests/strace-kernel.sh
#
# A tiny program (tests/helpers/strace_kernel.c, linked with -lrtaio and with -lrt + LD_PRELOAD)
# does, on a file in a disk directory ($RTAIO_TEST_DIR or build/tests/strace-kernel): 8 4 KiB
# reads in ONE lio_listio(LIO_WAIT) list (data checked), then aio_fsync(O_SYNC) and
# aio_fsync(O_DSYNC). It runs under strace -ff (one output file per thread). Checks, in link and
# in preload mode:
#   direct, default mode      native AIO (O_DIRECT goes there even with io_uring allowed): the
#                             list in one io_submit of 8, fsyncs as IOCB_CMD_FSYNC/FDSYNC, no ring;
#                             one fcntl(F_GETFL) for the list (its other reads take the flags of
#                             the live ones), one per aio_fsync (also with RTAIO_BACKEND=kaio)
#   direct, RTAIO_BACKEND=uring   io_uring: one ring (io_uring_setup), the list of 8 handed to the
#                             kernel in ONE io_uring_enter, by rtaio's submitter thread (never
#                             the application's: the kernel cancels a thread's requests when it
#                             exits); no io_submit, no pread, no fsync system call on the file
#   buffered, default mode    cached reads complete inline (preadv2) or in the ring; no native
#                             AIO context; the fsyncs are fsync/fdatasync calls of a pool thread
#                             (RTAIO_BACKEND=uring: through the ring, no fsync call)
#   direct, RTAIO_BACKEND=kaio    native AIO: the list in one io_submit of 8 IOCB_CMD_PREAD,
#                             fsyncs as IOCB_CMD_FSYNC/FDSYNC, no ring
#   direct, RTAIO_BACKEND=threads no ring, no io_submit: the reads are pread64 calls
#   buffered, RTAIO_BACKEND=kernel  the 8 reads in one io_submit of 8
#   io_uring refused, direct: RTAIO_FAULTS=io_uring_setup=EPERM and =ENOSYS (fault injection),
#                             and a seccomp filter making io_uring_setup fail with EPERM and with
#                             ENOSYS (as a container runtime's profile does; tests/helpers/
#                             noring.c): the program works, the list goes to native AIO in one
#                             io_submit of 8, io_uring_setup is tried once at most
#   native AIO refused too (RTAIO_BACKEND=kaio with RTAIO_FAULTS=io_setup=ENOSYS, and
#                             io_submit=EAGAIN): the reads fall back to the pool, data right
#   fork, RTAIO_BACKEND=uring parent and child each make their own ring (2 io_uring_setup), each
#                             list of 8 goes in one io_uring_enter; fork, default mode: each
#                             process its own native AIO context
#   setgid (link mode only, when the kernel grants AT_SECURE): RTAIO_FAULTS and
#                             RTAIO_BACKEND are ignored: the default native AIO path
# The last line is `strace-kernel: N passed, N failed[, N skipped]`; exit 1 if anything failed.
# When strace is missing, ptrace is not permitted, DIR takes no O_DIRECT or the kernel has no
# io_uring at all: SKIP lines for what cannot be checked.
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # root, LIBDIR, CC, the tally

PROG=$root/tests/helpers/strace_kernel.c # the program traced
OUT=$root/build/tests/strace-kernel
TIMEOUT=${RTAIO_TEST_TIMEOUT:-60}
mkdir -p "$OUT"
DIR=${RTAIO_TEST_DIR:-$OUT}
CALLS=io_uring_setup,io_uring_enter,io_setup,io_submit,io_getevents,pread64,preadv,preadv2,fsync,fdatasync,fcntl

finish() { t_closing strace-kernel; exit; }

if ! command -v strace >/dev/null 2>&1; then
    t_skip "strace-kernel: strace is not installed (tests/deps.sh installs it)"
    finish
fi
if ! perr=$(strace -qq -e trace=none true 2>&1); then
    t_skip "strace-kernel: strace cannot trace here (ptrace refused?): $(head -n1 <<<"$perr")"
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
"$CC" -O2 -Wall -Werror "$root/tests/helpers/noring.c" -o "$OUT/noring" >>"$OUT/build.log" 2>&1 ||
    { t_fail "cannot build the seccomp launcher" "$(tail -n5 "$OUT/build.log")"; finish; }

case $(stat -f -c %T "$DIR" 2>/dev/null) in
tmpfs | ramfs)
    t_skip "strace-kernel: $DIR is on $(stat -f -c %T "$DIR"), not a disk (set RTAIO_TEST_DIR)"
    finish
    ;;
esac
if ! "$OUT/prog-link" "$DIR" direct >/dev/null 2>"$OUT/probe.err"; then
    if grep -q 'open: Invalid argument' "$OUT/probe.err"; then
        t_skip "strace-kernel: O_DIRECT refused in $DIR (set RTAIO_TEST_DIR)"
        finish
    fi
fi
# Does this kernel (and this sandbox) let a process make a ring at all?
have_uring=1
if ! python3 -c 'import ctypes,sys; l=ctypes.CDLL(None,use_errno=True); fd=l.syscall(425,8,ctypes.create_string_buffer(120)); sys.exit(0 if fd>=0 else 1)' 2>/dev/null; then
    have_uring=0
fi

# trace NAME MODE KIND [env...] [-- launcher...] -> $T (all threads' calls), $TMAIN (the
# application's main thread), $POUT, $PRC, $FD
T= TMAIN= POUT= PRC= FD=
trace() {
    local name=$1 mode=$2 kind=$3; shift 3
    local pfx=$OUT/$mode-$name envs=(env -u RTAIO_BACKEND -u RTAIO_FAULTS) launch=()
    while [ $# -gt 0 ]; do
        if [ "$1" = -- ]; then shift; launch=("$@"); break; fi
        envs+=("$1"); shift
    done
    rm -f "$pfx".tr.*
    [ "$mode" = preload ] && envs+=(LD_PRELOAD="$LIB")
    POUT=$("${envs[@]}" timeout -k 5 "$TIMEOUT" strace -ff -qq -e trace="$CALLS" \
        -o "$pfx.tr" "${launch[@]}" "$OUT/prog-$mode" "$DIR" "$kind" 2>"$pfx.err")
    PRC=$?
    cat "$pfx".tr.* >"$pfx.all" 2>/dev/null
    T=$(cat "$pfx.all")
    FD=$(sed -n 's/^FD=\([0-9]*\).*/\1/p' <<<"$POUT" | head -n1)
    local pid
    pid=$(sed -n 's/.*PID=\([0-9]*\).*/\1/p' <<<"$POUT" | head -n1)
    TMAIN=$(cat "$pfx.tr.$pid" 2>/dev/null)
    echo "$POUT" >"$pfx.out"
}
cnt() { grep -cE "$1" <<<"$T"; } # lines of the trace matching an ERE
prog_ok() { [ "$PRC" -eq 0 ] && grep -q '^OK$' <<<"$POUT"; }
SUB8='^io_submit\(0x[0-9a-f]+, 8, \[.*\]\) += 8$'
# the 8 reads in one call: the kernel took 8 (or 9: the submitter may hand over its doorbell's
# poll with them). What the call offered is 8, 9, or "everything queued" (u32::MAX) while the
# last calls' entries completed within them (Ring::submit_queued): the result is what counts.
ENTER8='^io_uring_enter\([0-9]+, [0-9]+, [0-9]+, [^)]*\) += (8|9)$'
ONFD() { echo "^(pread64|preadv|preadv2)\($FD,"; }
SYNCFD() { echo "^(fsync|fdatasync)\($FD\)"; }
ctx() { echo "(trace: $OUT/$1-$2.all, program stderr: $OUT/$1-$2.err)"; }
ran() { # NAME MODE: the program worked, else a failure line; status 1
    prog_ok && return 0
    t_fail "$2 $1: the program failed (exit $PRC) $(ctx "$2" "$1")" "$(tail -n3 "$OUT/$2-$1.err")"
    return 1
}
report() { # WHAT NAME MODE errs...
    local what=$1 name=$2 mode=$3; shift 3
    if [ $# -eq 0 ]; then t_pass "$mode $what"; else t_fail "$mode $what $(ctx "$mode" "$name")" "$@"; fi
}
# The native AIO path for the O_DIRECT list: one io_submit of 8 reads, no preads.
check_kaio_list() { # -> errs
    [ "$(cnt "$SUB8")" -eq 1 ] || errs+=("expected exactly one 'io_submit(ctx, 8, ...) = 8', found $(cnt "$SUB8")")
    local np
    np=$(grep -E "$SUB8" <<<"$T" | head -n1 | grep -o 'IOCB_CMD_PREAD' | wc -l)
    [ "$np" -eq 8 ] || errs+=("the io_submit of 8 holds $np IOCB_CMD_PREAD, expected 8")
    [ "$(cnt "$(ONFD)")" -eq 0 ] || errs+=("$(cnt "$(ONFD)") pread calls on the O_DIRECT fd $FD")
    [ "$(cnt '^io_uring_enter\(')" -eq 0 ] || errs+=("io_uring_enter used: $(grep -E '^io_uring_enter\(' <<<"$T" | head -n1)")
}

for mode in link preload; do
    if [ $have_uring -eq 1 ]; then
        # -- direct, RTAIO_BACKEND=uring: io_uring
        trace direct $mode direct RTAIO_BACKEND=uring
        if ran direct $mode; then
            errs=()
            [ "$(cnt '^io_uring_setup\(.*\) += [0-9]+$')" -eq 1 ] || errs+=("expected one successful io_uring_setup, found $(cnt '^io_uring_setup\(.*\) += [0-9]+$')")
            [ "$(cnt "$ENTER8")" -eq 1 ] || errs+=("expected the list of 8 in one io_uring_enter, found $(cnt "$ENTER8") such calls:" "$(grep -E '^io_uring_enter\(' <<<"$T" | head -n4)")
            [ "$(grep -cE '^io_uring_enter\(' <<<"$TMAIN")" -eq 0 ] || errs+=("the application's own thread entered the ring")
            [ "$(cnt '^io_(setup|submit)\(')" -eq 0 ] || errs+=("native AIO used too: $(grep -E '^io_(setup|submit)\(' <<<"$T" | head -n1 | cut -c1-120)")
            [ "$(cnt "$(ONFD)")" -eq 0 ] || errs+=("$(cnt "$(ONFD)") pread calls on the O_DIRECT fd $FD")
            [ "$(cnt "$(SYNCFD)")" -eq 0 ] || errs+=("fsync/fdatasync called on fd $FD (expected through the ring)")
            report "direct, RTAIO_BACKEND=uring: io_uring, the list of 8 in one io_uring_enter by rtaio's submitter thread, no io_submit, no pread, no fsync call" direct $mode "${errs[@]}"
        fi

        # -- buffered, default mode: fsyncs on the pool; RTAIO_BACKEND=uring: through the ring
        trace buffered $mode buffered
        if ran buffered $mode; then
            errs=()
            [ "$(cnt '^io_(setup|submit)\(')" -eq 0 ] || errs+=("native AIO used: $(grep -E '^io_(setup|submit)\(' <<<"$T" | head -n1 | cut -c1-120)")
            [ "$(cnt "$(SYNCFD)")" -eq 2 ] || errs+=("$(cnt "$(SYNCFD)") fsync/fdatasync calls on fd $FD (expected 2, by a pool thread)")
            [ "$(grep -cE "$(SYNCFD)" <<<"$TMAIN")" -eq 0 ] || errs+=("the application's thread called fsync/fdatasync itself")
            report "buffered, default mode: no native AIO context, the fsyncs on a pool thread" buffered $mode "${errs[@]}"
        fi
        trace bufuring $mode buffered RTAIO_BACKEND=uring
        if ran bufuring $mode; then
            errs=()
            [ "$(cnt "$(SYNCFD)")" -eq 0 ] || errs+=("fsync/fdatasync called on fd $FD (expected through the ring)")
            [ "$(cnt '^io_uring_enter\(')" -ge 1 ] || errs+=("the ring was not used (the fsyncs)")
            report "buffered, RTAIO_BACKEND=uring: the fsyncs through the ring, no fsync call" bufuring $mode "${errs[@]}"
        fi

        # -- fork, RTAIO_BACKEND=uring: each process its own ring
        trace fork $mode fork RTAIO_BACKEND=uring
        if ran fork $mode; then
            errs=()
            [ "$(cnt '^io_uring_setup\(.*\) += [0-9]+$')" -ge 2 ] || errs+=("$(cnt '^io_uring_setup\(.*\) += [0-9]+$') successful io_uring_setup (expected 2: parent and child)")
            [ "$(cnt "$ENTER8")" -ge 3 ] || errs+=("$(cnt "$ENTER8") lists of 8 in one io_uring_enter (expected 3)")
            # (ETIME is the submitter's timed wait in the ring ending with nothing to reap.)
            bad_enter=$(grep -E '^io_uring_enter\(.*= -1' <<<"$T" | grep -v ' ETIME ')
            [ -z "$bad_enter" ] || errs+=("failed io_uring_enter: $(head -n1 <<<"$bad_enter")")
            report "fork, RTAIO_BACKEND=uring: parent and child each make their own ring; 3 lists of 8, each in one io_uring_enter" fork $mode "${errs[@]}"
        fi
    else
        t_skip "$mode: this kernel or sandbox refuses io_uring_setup: the io_uring checks are not run"
    fi

    # -- io_uring refused: fault injection and seccomp. O_DIRECT goes to native AIO.
    for how in fault:EPERM fault:ENOSYS seccomp:EPERM seccomp:ENOSYS; do
        kind=${how%%:*} e=${how#*:} name=refused-${how/:/-}
        if [ "$kind" = fault ]; then
            trace "$name" $mode direct RTAIO_FAULTS=io_uring_setup="$e"
        else
            trace "$name" $mode direct -- "$OUT/noring" "$e"
        fi
        if ran "$name" $mode; then
            errs=()
            check_kaio_list
            ns=$(cnt '^io_uring_setup\(')
            if [ "$kind" = seccomp ]; then
                [ "$(cnt "^io_uring_setup\\(.*= -1 $e")" -eq "$ns" ] && [ "$ns" -le 1 ] ||
                    errs+=("expected io_uring_setup tried once at most, failing with $e: $(grep -E '^io_uring_setup\(' <<<"$T" | head -n2)")
            else
                [ "$ns" -eq 0 ] || errs+=("io_uring_setup called although the fault refuses it")
            fi
            report "io_uring refused ($kind, $e): the O_DIRECT list goes to native AIO in one io_submit of 8, data right" "$name" $mode "${errs[@]}"
        fi
    done

    # -- direct, default mode and RTAIO_BACKEND=kaio: native AIO
    for b in default kaio; do
        name=kaio
        envs=(RTAIO_BACKEND=kaio)
        [ $b = default ] && name=direct-default envs=()
        trace $name $mode direct "${envs[@]}"
        if ran $name $mode; then
            errs=()
            check_kaio_list
            [ "$(cnt '^io_uring_setup\(')" -eq 0 ] || errs+=("io_uring_setup called")
            [ "$(cnt 'IOCB_CMD_FSYNC.*\) += 1$')" -ge 1 ] || errs+=("aio_fsync(O_SYNC) was not submitted as IOCB_CMD_FSYNC")
            [ "$(cnt 'IOCB_CMD_FDSYNC.*\) += 1$')" -ge 1 ] || errs+=("aio_fsync(O_DSYNC) was not submitted as IOCB_CMD_FDSYNC")
            # The first read asks fcntl; the other 7 take their flags from the live ones (RWF_NOWAIT
            # keeps that safe); each aio_fsync asks: 3 in all (10 when every read asked).
            ngetfl=$(grep -cE "^fcntl\($FD, F_GETFL\)" <<<"$TMAIN")
            [ "$ngetfl" -le 3 ] || errs+=("$ngetfl fcntl(F_GETFL) calls on fd $FD, expected 3 at most: one for the list's first read, one per aio_fsync")
            report "direct, ${envs[*]:-default mode}: 8 O_DIRECT reads in one io_submit of 8 (one fcntl for the list), fsyncs as IOCB_CMD_FSYNC/FDSYNC, no ring" $name $mode "${errs[@]}"
        fi
    done

    # -- direct, RTAIO_BACKEND=threads
    trace threads $mode direct RTAIO_BACKEND=threads
    if ran threads $mode; then
        errs=()
        [ "$(cnt '^(io_submit|io_uring_setup)\(')" -eq 0 ] || errs+=("a kernel interface was used: $(grep -E '^(io_submit|io_uring_setup)\(' <<<"$T" | head -n1 | cut -c1-120)")
        [ "$(cnt "$(ONFD)")" -ge 8 ] || errs+=("$(cnt "$(ONFD)") preads on fd $FD (expected >= 8)")
        report "RTAIO_BACKEND=threads: no ring, no io_submit, pread64 on the O_DIRECT fd" threads $mode "${errs[@]}"
    fi

    # -- buffered, RTAIO_BACKEND=kernel
    trace bufkernel $mode buffered RTAIO_BACKEND=kernel
    if ran bufkernel $mode; then
        errs=()
        [ "$(cnt "$SUB8")" -eq 1 ] || errs+=("$(cnt "$SUB8") 'io_submit(ctx, 8, ...) = 8' (expected 1)")
        [ "$(cnt "$(ONFD)")" -eq 0 ] || errs+=("$(cnt "$(ONFD)") preads on fd $FD (expected 0)")
        report "RTAIO_BACKEND=kernel, buffered fd: the 8 reads in one io_submit of 8, no pread64" bufkernel $mode "${errs[@]}"
    fi

    # -- native AIO refused as well: the pool
    for f in io_setup=ENOSYS io_submit=EAGAIN; do
        name=kaio-${f/=/-}
        trace "$name" $mode direct RTAIO_BACKEND=kaio RTAIO_FAULTS="$f"
        if ran "$name" $mode; then
            errs=()
            [ "$(cnt "$(ONFD)")" -ge 8 ] || errs+=("$(cnt "$(ONFD)") preads on fd $FD (expected >= 8)")
            [ "$(cnt "$SUB8")" -eq 0 ] || errs+=("a successful io_submit of 8")
            report "RTAIO_BACKEND=kaio, RTAIO_FAULTS=$f: the reads fell back to the pool (pread64), data right" "$name" $mode "${errs[@]}"
        fi
    done

    # -- fork with native AIO (the default for O_DIRECT): each process its own context
    trace forkkaio $mode fork
    if ran forkkaio $mode; then
        errs=()
        [ "$(cnt '^io_setup\(.*\) += 0$')" -ge 2 ] || errs+=("$(cnt '^io_setup\(.*\) += 0$') successful io_setup (expected 2)")
        [ "$(cnt "$SUB8")" -ge 3 ] || errs+=("$(cnt "$SUB8") 'io_submit(ctx, 8, ...) = 8' (expected 3)")
        [ "$(cnt '^io_submit\(.*\) += -1')" -eq 0 ] || errs+=("failed io_submit: $(grep -E '^io_submit\(.*\) += -1' <<<"$T" | head -n1 | cut -c1-200)")
        report "fork, default mode: parent and child each io_setup their own native AIO context; 3 lists of 8" forkkaio $mode "${errs[@]}"
    fi
done

# -- setgid program (link mode): RTAIO_FAULTS and RTAIO_BACKEND are ignored
sg=$OUT/prog-setgid
cp "$OUT/prog-link" "$sg"
grp=$(getent group nogroup | cut -d: -f3)
[ -n "$grp" ] || grp=65534
if [ $have_uring -eq 0 ]; then
    t_skip "setgid: no io_uring here: not checked"
elif [ "$(id -g)" != "$grp" ] && chgrp "$grp" "$sg" 2>/dev/null && chmod g+s "$sg" 2>/dev/null; then
    pfx=$OUT/link-setgid
    rm -f "$pfx".tr.*
    POUT=$(env RTAIO_FAULTS=io_setup=ENOSYS RTAIO_BACKEND=threads timeout -k 5 "$TIMEOUT" \
        strace -ff -qq -e trace="$CALLS" -o "$pfx.tr" "$sg" "$DIR" direct 2>"$pfx.err")
    PRC=$?
    cat "$pfx".tr.* >"$pfx.all" 2>/dev/null
    T=$(cat "$pfx.all")
    if grep -q 'SECURE=0' <<<"$POUT" || [ -z "$POUT" ]; then
        t_skip "setgid: the kernel did not grant AT_SECURE here (nosuid mount or tracing rules): not checked"
    elif ! prog_ok; then
        t_fail "link setgid: the program failed (exit $PRC) $(ctx link setgid)" "$(tail -n3 "$pfx.err")"
    elif [ "$(cnt "$SUB8")" -eq 1 ]; then
        t_pass "link setgid (AT_SECURE): RTAIO_FAULTS=io_setup=ENOSYS and RTAIO_BACKEND=threads ignored, the list in one io_submit"
    else
        t_fail "link setgid (AT_SECURE): with RTAIO_FAULTS=io_setup=ENOSYS RTAIO_BACKEND=threads in the environment, $(cnt "$SUB8") lists of 8 in one io_submit (expected 1: the variables must be ignored) $(ctx link setgid)"
    fi
else
    t_skip "setgid: cannot make a setgid copy of the program here: not checked"
fi
rm -f "$sg"
finish
