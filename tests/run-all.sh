#!/usr/bin/env bash
# `make test`: every suite, then one overall tally line. Each suite prints its own closing line
# "<name>: N passed, N failed"; this script sums them and fails if any suite failed.
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # root, LIBDIR, t_tally_line, t_tmpdir
cd "$root"
export RTAIO_LIBDIR=$LIBDIR
t_tmpdir log rtaio-run-all
total_pass=0 total_fail=0 failed_suites=()

run_suite() { # name command...
    local name=$1; shift
    echo "=== $name: $*"
    "$@" 2>&1 | tee "$log/$name.out"
    local rc=${PIPESTATUS[0]}
    local p f
    if [ "$name" = unit ]; then
        p=$(grep -Eo '[0-9]+ passed' "$log/$name.out" | awk '{s+=$1} END {print s+0}')
        f=$(grep -Eo '[0-9]+ failed' "$log/$name.out" | awk '{s+=$1} END {print s+0}')
    else
        # The suite's own closing lines ("<mode>: N passed, N failed"), excluding glibc's
        # reference column, which measures glibc, not rtaio.
        p=$(grep -E '^[a-z0-9-]+: [0-9]+ passed, [0-9]+ failed' "$log/$name.out" | grep -v '^glibc:' | grep -Eo '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
        f=$(grep -E '^[a-z0-9-]+: [0-9]+ passed, [0-9]+ failed' "$log/$name.out" | grep -v '^glibc:' | grep -Eo '[0-9]+ failed' | awk '{s+=$1} END {print s+0}')
    fi
    total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
    if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then
        failed_suites+=("$name(rc=$rc)")
        [ "$f" -eq 0 ] && total_fail=$((total_fail + 1))
    fi
}

run_suite unit cargo test --workspace --release
run_suite lint bash tests/lint.sh
run_suite check-abi bash tests/check-abi.sh
run_suite c-tests bash tests/run-c-tests.sh
run_suite fio-verify bash tests/fio-verify.sh
run_suite strace-kernel bash tests/strace-kernel.sh
run_suite stats bash tests/stats.sh
run_suite stress bash tests/run-stress.sh --repro
run_suite sanitize bash tests/sanitize.sh
run_suite conformance bash posix-conformance/run.sh
run_suite examples bash tests/examples.sh
run_suite man-pages bash tests/man-check.sh
run_suite deb bash tests/deb.sh
run_suite miri bash tests/miri.sh

echo
if [ ${#failed_suites[@]} -gt 0 ]; then echo "failed suites: ${failed_suites[*]}"; fi
t_tally_line make-test "$total_pass" "$total_fail"
[ ${#failed_suites[@]} -eq 0 ]
