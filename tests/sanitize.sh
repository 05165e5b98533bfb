#!/usr/bin/env bash
# Build the C tests (tests/c/*/*.c, every kind) and the stress test (tests/stress/stress.c) with sanitizers and
# run them against rtaio:
#   asan   -fsanitize=address,undefined (UBSan errors are fatal: -fno-sanitize-recover)
#   tsan   -fsanitize=thread
#
#   tests/sanitize.sh [asan|tsan]... [TEST]...   (default: both sanitizers, every test)
#
# Same compiler flags as tests/run-c-tests.sh plus the sanitizer's. LINK MODE ONLY
# (-L$RTAIO_LIBDIR -lrtaio -Wl,-rpath): preload mode does not work with the sanitizers, whose
# runtime must come first in the initial library list (ASan aborts with "ASan runtime does not
# come first in initial library list" when LD_PRELOAD puts librtaio.so ahead of it).
#
# What is checked: the test programs are instrumented, the library (Rust, built normally) is
# not. So ASan/UBSan check the tests' own memory use and every buffer/aiocb access the
# sanitizer runtime intercepts on the library's behalf (pread/pwrite/... into the caller's
# buffers, memcpy, free). TSan checks the tests' threads (workers, signal handlers,
# SIGEV_THREAD callbacks) against each other and against the library's intercepted accesses to
# their buffers.
#
# Leaks: ASan's LeakSanitizer stays on (detect_leaks=1). rtaio leaks its runtime on purpose, but
# that state stays reachable from the library's globals and is not reported; tests/sanitize.supp
# (for librtaio-internal frames only) is empty at present, so every leak is reported.
#
# TSan cannot see synchronization inside uninstrumented code: rtaio publishes a completion
# through its own atomics and futex words, which TSan does not observe. A caller's read of a
# buffer after aio_error() != EINPROGRESS, or a SIGEV_THREAD callback reading what the
# submitter wrote before aio_read(), is correctly ordered by rtaio but looks like a race to TSan.
# tests/stress/tsan.supp lists those library-mediated hand-overs (the races whose other side
# runs inside librtaio); see that file. Races between two instrumented threads of a test that do
# not go through the library are still reported.
#
# Tests incompatible with a sanitizer are skipped under it with the reason printed (SKIP_*
# tables below). The stress test runs for STRESS_SECS=8 (override with SANITIZE_STRESS_SECS).
# If a sanitizer runtime is missing (gcc ships libasan/libtsan on Debian), that sanitizer is
# reported as SKIP; with none available the script prints SKIP and exits 0.
#
# The last line is `sanitize: N passed, N failed[, N skipped]`; exit 1 if anything failed.
# Build outputs and logs: build/sanitize/.
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # root, LIBDIR, CC, the tally, t_tmpdir

SRC=$root/tests/c # t.h: -I$SRC
OUT=$root/build/sanitize
CFLAGS=(-D_GNU_SOURCE -pthread -O2 -g -Wall -Werror -I"$SRC" -I"$root/librt-aio/include")
TIMEOUT=${RTAIO_TEST_TIMEOUT:-120}
STRESS_SECS=${SANITIZE_STRESS_SECS:-8}
JOBS=$(nproc 2>/dev/null || echo 2)

declare -A SANFLAGS=(
    # nonnull-attribute is off: the tests pass NULL on purpose to the __nonnull-declared <aio.h>
    # prototypes (through t_null()) to check the documented -1/EINVAL answers.
    [asan]="-fsanitize=address,undefined -fno-sanitize=nonnull-attribute -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
    [tsan]="-fsanitize=thread -fno-omit-frame-pointer"
)

# Tests skipped under a sanitizer: name → reason.
ASAN_FORK="fork() while other threads allocate: gcc 12's libasan takes no allocator locks around fork, so the child's first malloc (rtaio starting its runtime) can block forever on a lock a parent thread held"
declare -A SKIP_asan=(
    [fork]="$ASAN_FORK"
    [rel_fork_threads]="$ASAN_FORK"
    [fork_reuse_aiocb]="$ASAN_FORK"
    [fork_in_callback]="$ASAN_FORK"
)
SIGMERGE="counts queued real-time signals; TSan defers signal handlers and keeps one pending instance per signal number, so repeated SIGEV_SIGNAL notifications are merged and lost"
COUNTS_THREADS="counts the process's threads (idle workers exit); TSan's runtime adds a background thread"
CANCEL_UNINSTR="cancels threads waiting inside the library: glibc's SIGCANCEL handler unwinds them from uninstrumented code, which TSan's own signal bookkeeping does not expect ('thread finished with ignores enabled'); the same program passes under ASan, and under TSan with glibc's AIO, whose wait TSan intercepts"
declare -A SKIP_tsan=(
    [aio_init]="$COUNTS_THREADS"
    [rel_leftovers]="$COUNTS_THREADS"
    [rel_nproc]="$COUNTS_THREADS, and RLIMIT_NPROC counts it too"
    [notify_signal]="$SIGMERGE"
    [notify_thread_id]="$SIGMERGE"
    [kaio_direct]="$SIGMERGE"
    [fork]="forks with threads running and the child starts rtaio threads: TSan dies with 'starting new threads after multi-threaded fork is not supported'"
    [rel_fork_threads]="forks with threads running and the child starts rtaio threads: TSan dies with 'starting new threads after multi-threaded fork is not supported'"
    [kaio_cancel_fork]="forks with threads running and the child starts rtaio threads: TSan dies with 'starting new threads after multi-threaded fork is not supported'"
    [fork_reuse_aiocb]="forks with rtaio's threads running and the child starts threads: TSan dies with 'starting new threads after multi-threaded fork is not supported'"
    [fork_in_callback]="forks with threads running and the child's thread ends: TSan's thread finalisation takes its allocator lock, which a parent thread may hold at fork (the child then waits for ever in thread_finalize)"
    [cancel_point]="$CANCEL_UNINSTR"
    [ext_cancel]="$CANCEL_UNINSTR"
    [suspend]="expects a handler to run during aio_suspend's wait; TSan defers handlers until the thread next enters an intercepted call, and rtaio's futex wait (uninstrumented) is not one"
)


sans=() only=()
for a in "$@"; do
    case $a in
    asan | tsan) sans+=("$a") ;;
    -h | --help)
        sed -n '2,40p' "$0"
        exit 0
        ;;
    -*)
        echo "sanitize.sh: unknown argument $a" >&2
        exit 2
        ;;
    *) only+=("$a") ;;
    esac
done
[ ${#sans[@]} -eq 0 ] && sans=(asan tsan)

t_have_lib || { t_closing sanitize; exit 1; }

mkdir -p "$OUT/logs"
t_tmpdir TMPROOT tmp "$OUT" # on disk: the O_DIRECT tests need a real file system

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=66:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$root/tests/sanitize.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export TSAN_OPTIONS="halt_on_error=1:exitcode=66:second_deadlock_stack=1:suppressions=$root/tests/stress/tsan.supp:print_suppressions=0"

failed_names=()

report() { # STATUS SAN NAME [LOG]
    local what
    what=$(printf '%-5s %s' "$2" "$3")
    case $1 in
    PASS) t_pass "$what" ;;
    SKIP) t_skip "$what" ;;
    *)
        t_fail "$what" "$(t_log_tail "${4:-}" 40)"
        failed_names+=("$2/$3")
        ;;
    esac
}

# Is the sanitizer's runtime there? (compile, link and run a trivial threaded program)
have_san() { # SAN
    local d=$OUT/probe-$1
    mkdir -p "$d"
    # shellcheck disable=SC2086
    "$CC" ${SANFLAGS[$1]} -pthread "$root/tests/helpers/san_probe.c" -o "$d/p" >"$d/log" 2>&1 && "$d/p" >>"$d/log" 2>&1
}

build_one() { # SAN NAME
    # shellcheck disable=SC2086
    "$CC" "${CFLAGS[@]}" ${SANFLAGS[$1]} "${SRCS[$2]}" -o "$OUT/$1/$2" \
        -L"$LIBDIR" -lrtaio -Wl,-rpath,"$LIBDIR" >"$OUT/logs/$1-$2.build.log" 2>&1
}

# name → source file
t_c_tests || t_fail "tests/c/ layout (see the messages above)"
declare -A SRCS=()
for n in "${C_TESTS[@]}"; do SRCS[$n]=${C_TEST_SRC[$n]}; done
SRCS[stress]=$root/tests/stress/stress.c
if [ ${#only[@]} -gt 0 ]; then
    for n in "${only[@]}"; do
        [ -n "${SRCS[$n]:-}" ] || { echo "sanitize.sh: no test named $n" >&2; exit 2; }
    done
    names=("${only[@]}")
else
    names=($(printf '%s\n' "${!SRCS[@]}" | sort))
fi

any=0
for san in "${sans[@]}"; do
    if ! have_san "$san"; then
        t_skip "$san: the $san runtime is not available to $CC (see $OUT/probe-$san/log)"
        continue
    fi
    any=1
    mkdir -p "$OUT/$san"
    # Build everything for this sanitizer, $JOBS compilers at a time.
    running=0
    for name in "${names[@]}"; do
        rm -f "$OUT/$san/$name"
        build_one "$san" "$name" &
        running=$((running + 1))
        if [ $running -ge "$JOBS" ]; then
            wait -n
            running=$((running - 1))
        fi
    done
    wait
    declare -n skipmap=SKIP_$san
    for name in "${names[@]}"; do
        bin=$OUT/$san/$name log=$OUT/logs/$san-$name.log
        if [ -n "${skipmap[$name]:-}" ]; then
            report SKIP "$san" "$name (${skipmap[$name]})"
            continue
        fi
        if [ ! -x "$bin" ]; then
            report FAIL "$san" "$name (build)" "$OUT/logs/$san-$name.build.log"
            continue
        fi
        envs=(TMPDIR="$TMPROOT" RTAIO_TEST_DIR="$TMPROOT")
        [ "$name" = stress ] && envs+=(STRESS_SECS="$STRESS_SECS" STRESS_DIR="$TMPROOT")
        # under TSan, SIGEV_THREAD instead of signals (see SIGMERGE)
        [ "$name" = stress ] && [ "$san" = tsan ] && envs+=(STRESS_NO_SIGNALS=1)
        env "${envs[@]}" timeout -k 5 "$TIMEOUT" "$bin" >"$log" 2>&1
        rc=$?
        case $rc in
        0) report PASS "$san" "$name" ;;
        77) report SKIP "$san" "$name (the test skipped itself)" ;;
        124 | 137) echo "timeout: killed after ${TIMEOUT}s" >>"$log"
            report FAIL "$san" "$name (timeout)" "$log" ;;
        66) report FAIL "$san" "$name (sanitizer report)" "$log" ;;
        *) if [ $rc -gt 128 ]; then echo "killed by signal $((rc - 128))" >>"$log"; fi
            report FAIL "$san" "$name (exit $rc)" "$log" ;;
        esac
    done
done

if [ $any -eq 0 ]; then
    echo "SKIP: no sanitizer runtime available"
    t_closing sanitize
    exit 0
fi
if [ ${#failed_names[@]} -gt 0 ]; then
    echo "failed: ${failed_names[*]}"
    echo "logs: $OUT/logs/"
fi
t_closing sanitize
