#!/usr/bin/env bash
# POSIX.1-2017 AIO conformance suite runner.
#
# Builds posix-conformance/conformance.c three ways and runs every assertion in each:
#   glibc    linked with -lrt (glibc's implementation)
#   link     linked with -L$RTAIO_LIBDIR -lrtaio -Wl,-rpath,$RTAIO_LIBDIR, without -lrt
#   preload  the glibc build run with LD_PRELOAD=$RTAIO_LIBDIR/librtaio.so
# Each assertion runs in its own process under timeout(1): a hang is a failure.
#
# Exit status: 0 iff the link and preload modes pass every MANDATORY assertion, and every mode,
# glibc included, passes every GLIBC assertion (glibc's behaviour where POSIX leaves a choice:
# glibc is the oracle, rtaio must match it). Other glibc results are reported but never fail
# the run. Without librtaio.so only glibc mode runs and the exit
# status is 1.
#
# Environment: RTAIO_LIBDIR (default: <repo>/target/release), CC (default gcc),
#              CONFORMANCE_TIMEOUT (seconds per assertion, default 10),
#              CONFORMANCE_ONLY (space-separated assertion ids to run; default all).
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/../tests/lib.sh" # root, LIBDIR, CC, t_tally_line, t_tmpdir
per_test_timeout=${CONFORMANCE_TIMEOUT:-10}
build="$root/build/conformance"
mkdir -p "$build"

cflags=(-std=c11 -O1 -g -Wall -Wextra -pthread)
srcs=("$here/conformance.c" "$here/aioh.c")

# Private temp dir for the tests' files; removed on exit.
t_tmpdir work rtaio-conformance
export TMPDIR="$work"

have_rtaio=0
[ -f "$LIBDIR/librtaio.so" ] && have_rtaio=1

# ---- build (both links in parallel) -------------------------------------------------------
"$CC" "${cflags[@]}" "${srcs[@]}" -o "$build/conf-glibc" -lrt >"$build/build-glibc.log" 2>&1 &
pid_glibc=$!
if [ $have_rtaio = 1 ]; then
    "$CC" "${cflags[@]}" "${srcs[@]}" -o "$build/conf-link" \
        -L"$LIBDIR" -lrtaio -Wl,-rpath,"$LIBDIR" >"$build/build-link.log" 2>&1 &
    pid_link=$!
fi
build_glibc_ok=1
build_link_ok=1
wait $pid_glibc || build_glibc_ok=0
if [ $have_rtaio = 1 ]; then wait $pid_link || build_link_ok=0; fi

if [ $build_glibc_ok = 0 ]; then
    echo "conformance: build with glibc failed:" >&2
    cat "$build/build-glibc.log" >&2
    t_tally_line glibc 0 1
    exit 1
fi
if [ $have_rtaio = 1 ] && [ $build_link_ok = 1 ]; then
    # The link build must really use rtaio, not glibc's aio (which lives in libc.so.6 too).
    if ! readelf -d "$build/conf-link" 2>/dev/null | grep -q 'librtaio\.so'; then
        echo "conformance: conf-link does not depend on librtaio.so" >&2
        build_link_ok=0
    fi
fi

mapfile -t lines < <("$build/conf-glibc" --list)

# ---- run -----------------------------------------------------------------------------------
declare -A summary
overall_ok=1

run_mode() { # mode, then the command prefix
    local mode=$1
    shift
    local -a cmd=("$@")
    local mp=0 mf=0 op=0 oni=0 gp=0 gf=0 line id class out rc result reason
    echo
    echo "== mode: $mode"
    printf '%-28s %-9s %-8s %s\n' "ASSERTION" "CLASS" "RESULT" "REASON"
    for line in "${lines[@]}"; do
        IFS=$'\t' read -r id class _ <<<"$line"
        if [ -n "${CONFORMANCE_ONLY:-}" ] && [[ " $CONFORMANCE_ONLY " != *" $id "* ]]; then
            continue
        fi
        if [ "$mode" = link ] && [ $build_link_ok = 0 ]; then
            out="link build failed (see $build/build-link.log)"
            rc=1
        else
            out=$(timeout -k 2 "$per_test_timeout" "${cmd[@]}" "$id" 2>&1 </dev/null)
            rc=$?
        fi
        reason=$(printf '%s\n' "$out" | grep -v '^$' | tail -n 1)
        case $rc in
            0) result=PASS ;;
            77) result=NOT-IMPL ;;
            124 | 137) result=FAIL; reason="timeout: no result within ${per_test_timeout} s (hang)" ;;
            *)
                result=FAIL
                if [ $rc -gt 128 ]; then reason="crashed with signal $((rc - 128))${reason:+; last output: $reason}"; fi
                [ -n "$reason" ] || reason="exit status $rc, no output"
                ;;
        esac
        if [ "$class" = OPTIONAL ]; then
            if [ $result = PASS ]; then op=$((op + 1)); else
                [ $result = FAIL ] && reason="(counted as not implemented) $reason"
                result=NOT-IMPL
                oni=$((oni + 1))
            fi
        elif [ "$class" = GLIBC ]; then
            [ $result = NOT-IMPL ] && result=FAIL
            if [ $result = PASS ]; then gp=$((gp + 1)); else gf=$((gf + 1)); fi
        else
            [ $result = NOT-IMPL ] && result=FAIL # 77 is not allowed for mandatory assertions
            if [ $result = PASS ]; then mp=$((mp + 1)); else mf=$((mf + 1)); fi
        fi
        printf '%-28s %-9s %-8s %s\n' "$id" "$class" "$result" "$reason"
    done
    summary[$mode]=$(t_tally_line "$mode" $mp $mf)
    summary[$mode.opt]="optional: $op passed, $oni not implemented"
    summary[$mode.glibc]=$(t_tally_line "choices-$mode" $gp $gf)
    if [ "$mode" != glibc ] && [ $mf -gt 0 ]; then overall_ok=0; fi
    if [ $gf -gt 0 ]; then overall_ok=0; fi
}

run_mode glibc "$build/conf-glibc"
if [ $have_rtaio = 1 ]; then
    run_mode link "$build/conf-link"
    run_mode preload env LD_PRELOAD="$LIBDIR/librtaio.so" "$build/conf-glibc"
fi

echo
if [ $have_rtaio = 0 ]; then
    echo "conformance: $LIBDIR/librtaio.so not found (run 'make build'); only glibc mode was run"
    echo "${summary[glibc]}"
    echo "${summary[glibc.opt]}"
    exit 1
fi
if [ $overall_ok = 1 ]; then
    echo "conformance: rtaio (link and preload) passes every mandatory assertion, and every mode passes the GLIBC ones"
else
    echo "conformance: FAIL rows above (MANDATORY in link/preload, or GLIBC in any mode)"
fi
for m in glibc link preload; do
    echo "${summary[$m]}"
    echo "${summary[$m.opt]}"
    echo "${summary[$m.glibc]}"
done
[ $overall_ok = 1 ]
