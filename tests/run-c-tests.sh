#!/usr/bin/env bash
# Build and run the C tests in tests/c/ against rtaio.
#
#   tests/run-c-tests.sh [--glibc] [--keep-going] [TEST...]
#
# A test is tests/c/KIND/NAME.c (tests/c/README.md), built in the modes its folder says:
#   link     gcc ... -L$RTAIO_LIBDIR -lrtaio -Wl,-rpath,$RTAIO_LIBDIR   (no -lrt)
#   preload  gcc ... -lrt, run with LD_PRELOAD=$RTAIO_LIBDIR/librtaio.so
#   threads  the link build, run with RTAIO_BACKEND=threads: rtaio's thread-pool backend (what
#            runs where io_uring is refused), where the default runs on io_uring
#   posix/ kernel/ rel/   link, preload and threads: they use the system <aio.h> only
#   ext/                  link and threads: rtaio.h's extensions, which glibc's -lrt does not have
# and run with `timeout 60`. Exit status of a test: 0 pass, 77 skip, anything else fail.
# Plus two binding checks (LD_DEBUG=bindings, LD_BIND_NOW=1): every aio symbol a test
# program uses binds to librtaio.so, in link and in preload mode.
#
# --glibc: instead, run the -lrt build WITHOUT rtaio (plain glibc), for comparison only.
#          Many rtaio-specific assertions fail there; the tests are told (RTAIO_TEST_GLIBC=1)
#          to skip the calls that would crash glibc (NULL pointers).
# TEST...: only these tests (NAME, without folder or .c).
#
# The last line is `c-tests: N passed, N failed[, N skipped]`; exit 1 if anything failed.
# Build outputs and logs: build/tests/.
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # root, LIBDIR, CC, the tally, t_tmpdir

SRC=$root/tests/c # t.h, shared by every kind of test: -I$SRC
OUT=$root/build/tests
CFLAGS=(-D_GNU_SOURCE -pthread -O2 -g -Wall -Werror -I"$SRC" -I"$root/librt-aio/include")
TIMEOUT=${RTAIO_TEST_TIMEOUT:-60}

# The modes of each kind of test (the folder). --glibc runs what preload runs, without rtaio.
declare -A KIND_MODES=([posix]="link preload threads" [kernel]="link preload threads"
    [rel]="link preload threads" [ext]="link threads")
runs_in() { # KIND MODE
    local m=$2
    [ "$m" = glibc ] && m=preload
    [[ " ${KIND_MODES[$1]:-} " == *" $m "* ]]
}

glibc=0
only=()
for a in "$@"; do
    case $a in
    --glibc) glibc=1 ;;
    -h | --help)
        sed -n '2,20p' "$0"
        exit 0
        ;;
    -*)
        echo "run-c-tests.sh: unknown option $a" >&2
        exit 2
        ;;
    *) only+=("$a") ;;
    esac
done

if [ $glibc -eq 1 ]; then
    modes=(glibc)
else
    modes=(link preload threads)
    t_have_lib || { t_closing c-tests; exit 1; }
fi

mkdir -p "$OUT/logs"
for m in "${modes[@]}"; do mkdir -p "$OUT/$m"; done
t_tmpdir TMPROOT rtaio-c-tests

t_c_tests || t_fail "tests/c/ layout (see the messages above)"
if [ ${#only[@]} -gt 0 ]; then
    tests=("${only[@]}")
else
    tests=("${C_TESTS[@]}")
fi

failed_names=()

report() { # STATUS MODE NAME [LOG]
    local what
    what=$(printf '%-8s %s' "$2" "$3")
    case $1 in
    PASS) t_pass "$what" ;;
    SKIP) t_skip "$what" ;;
    *)
        t_fail "$what" "$(t_log_tail "${4:-}" 15)"
        failed_names+=("$2/$3")
        ;;
    esac
}

build() { # MODE NAME → prints binary path, returns nonzero on failure
    local mode=$1 name=$2 bin=$OUT/$1/$2 log=$OUT/logs/$1-$2.build.log
    local src=${C_TEST_SRC[$name]}
    case $mode in
    link | threads)
        "$CC" "${CFLAGS[@]}" "$src" -o "$bin" \
            -L"$LIBDIR" -lrtaio -Wl,-rpath,"$LIBDIR" >"$log" 2>&1
        ;;
    preload | glibc)
        "$CC" "${CFLAGS[@]}" "$src" -o "$bin" -lrt >"$log" 2>&1
        ;;
    esac
}

run() { # MODE BIN LOG [env...]
    local mode=$1 bin=$2 log=$3
    shift 3
    local envs=(TMPDIR="$TMPROOT")
    case $mode in
    preload) envs+=(LD_PRELOAD="$LIBDIR/librtaio.so") ;;
    threads) envs+=(RTAIO_BACKEND=threads) ;;
    glibc) envs+=(RTAIO_TEST_GLIBC=1) ;;
    esac
    env "${envs[@]}" "$@" timeout -k 5 "$TIMEOUT" "$bin" >"$log" 2>&1
}

for mode in "${modes[@]}"; do
    for name in "${tests[@]}"; do
        if [ -z "${C_TEST_SRC[$name]:-}" ]; then
            report FAIL "$mode" "$name (no such test)"
            continue
        fi
        runs_in "${C_TEST_KIND[$name]}" "$mode" || continue
        if ! build "$mode" "$name"; then
            report FAIL "$mode" "$name (build)" "$OUT/logs/$mode-$name.build.log"
            continue
        fi
        log=$OUT/logs/$mode-$name.log
        run "$mode" "$OUT/$mode/$name" "$log"
        rc=$?
        case $rc in
        0) report PASS "$mode" "$name" ;;
        77) report SKIP "$mode" "$name" ;;
        124 | 137) echo "timeout: killed after ${TIMEOUT}s" >>"$log"
            report FAIL "$mode" "$name (timeout)" "$log" ;;
        *) if [ $rc -gt 128 ]; then echo "killed by signal $((rc - 128))" >>"$log"; fi
            report FAIL "$mode" "$name (exit $rc)" "$log" ;;
        esac
    done
done

# Binding check: every aio symbol the programs use binds to librtaio.so. The programs
# below together reference all 17 exported functions.
binding_check() { # MODE
    local mode=$1 log=$OUT/logs/$1-bindings.log bad=0
    : >"$log"
    local progs=(bad_inputs roundtrip64 aio_init)
    for p in "${progs[@]}"; do
        local bin=$OUT/$mode/$p
        if [ ! -x "$bin" ]; then
            build "$mode" "$p" || { echo "cannot build $p" >>"$log"; bad=1; continue; }
        fi
        local dbg
        dbg=$(mktemp "$TMPROOT/bind.XXXXXX")
        run "$mode" "$bin" /dev/null LD_BIND_NOW=1 LD_DEBUG=bindings LD_DEBUG_OUTPUT="$dbg"
        # LD_DEBUG_OUTPUT appends .PID; a test that forks/execs writes several files
        cat "$dbg".* 2>/dev/null | grep -aE "normal symbol \`(aio_[a-z0-9]+|lio_listio(64)?)'" \
            >>"$log"
        rm -f "$dbg" "$dbg".*
    done
    local want="aio_cancel aio_cancel64 aio_error aio_error64 aio_fsync aio_fsync64 aio_init
                aio_read aio_read64 aio_return aio_return64 aio_suspend aio_suspend64
                aio_write aio_write64 lio_listio lio_listio64"
    local s
    for s in $want; do
        if ! grep -q "symbol \`$s'" "$log"; then
            echo "no binding seen for $s" >>"$log.err"
            bad=1
        fi
    done
    # every binding of an aio symbol must go to librtaio
    if grep -v " to [^ ]*librtaio\.so[.0-9]* " "$log" | grep -q .; then
        grep -v " to [^ ]*librtaio\.so[.0-9]* " "$log" | sed 's/^ *[0-9]*:\s*//' | sort -u |
            head -n 20 >>"$log.err"
        bad=1
    fi
    if [ $bad -eq 0 ]; then
        report PASS "$mode" "bindings (aio symbols bind to librtaio.so)"
    else
        report FAIL "$mode" "bindings (aio symbols bind to librtaio.so)" "$log.err"
    fi
    rm -f "$log.err"
}

if [ $glibc -eq 0 ] && [ ${#only[@]} -eq 0 ]; then
    binding_check link
    binding_check preload
fi

if [ ${#failed_names[@]} -gt 0 ]; then
    echo "failed: ${failed_names[*]}"
    echo "logs: $OUT/logs/"
fi
if [ $glibc -eq 1 ]; then
    t_closing "c-tests (plain glibc, comparison only)"
    exit 0
fi
t_closing c-tests
