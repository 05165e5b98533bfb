# shellcheck shell=bash
# tests/lib.sh — what the test runners share. Sourced, never run:
#     . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Sets
#   root     the repository: its git top level, else the parent of this file's directory
#   LIBDIR   the library under test: $RTAIO_LIBDIR, else $root/target/release
#   CC       the C compiler: $CC, else gcc
#
# The tally. Every check prints one line and is counted:
#   t_pass WHAT               "PASS  WHAT"
#   t_fail WHAT [DETAIL...]   "FAIL  WHAT", then each line of each DETAIL as "      | line"
#   t_skip WHAT               "SKIP  WHAT"
# and the suite ends with `t_closing SUITE`, which prints
#   SUITE: N passed, N failed[, N skipped]
# (the line tests/run-all.sh sums: keep its format) and returns 1 when something failed.
# t_tally_line NAME PASSED FAILED [SKIPPED] prints such a line for other counts.
#
# Also: t_have_lib (is librtaio.so there? a FAIL line if not), t_log_tail LOG N (a failed
# test's last words), t_tmpdir VAR PREFIX [PARENT] (a temporary directory, removed at exit),
# t_at_exit CMD (run at exit, before the temporary directories go), and the C tests' index
# (t_c_tests, below).

root=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel 2>/dev/null) ||
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LIBDIR=${RTAIO_LIBDIR:-$root/target/release}
CC=${CC:-gcc}

# ---- the tally --------------------------------------------------------------------------
passed=0 failed=0 skipped=0

t_pass() { printf 'PASS  %s\n' "$1"; passed=$((passed + 1)); }
t_skip() { printf 'SKIP  %s\n' "$1"; skipped=$((skipped + 1)); }
t_fail() { # WHAT [DETAIL...]
    printf 'FAIL  %s\n' "$1"
    failed=$((failed + 1))
    shift
    local d
    for d in "$@"; do
        [ -n "$d" ] && printf '%s\n' "$d" | sed 's/^/      | /'
    done
    return 0
}

t_tally_line() { # NAME PASSED FAILED [SKIPPED]: the skipped count only when there are some
    local line="$1: $2 passed, $3 failed"
    [ "${4:-0}" -gt 0 ] && line="$line, $4 skipped"
    echo "$line"
}

t_closing() { # SUITE
    t_tally_line "$1" "$passed" "$failed" "$skipped"
    [ "$failed" -eq 0 ]
}

# The last N lines of a test's log, without the seed note every C test prints first (t.h).
t_log_tail() { # LOG N
    [ -s "$1" ] || return 0
    grep -v ': seed [0-9]* (set RTAIO_TEST_SEED' "$1" | tail -n "$2"
}

# Is the library built? If not, says so as a failed check (the caller ends the suite).
t_have_lib() {
    [ -e "$LIBDIR/librtaio.so" ] && return 0
    t_fail "librtaio.so in $LIBDIR" "not found (run 'make build')"
    return 1
}

# ---- temporary directories, and what runs at exit ------------------------------------------
_t_tmpdirs=() _t_exit_cmds=()
t_tmpdir() { # VAR PREFIX [PARENT]: VAR=PARENT/PREFIX.XXXXXX, removed at exit
    local d
    d=$(mktemp -d "${3:-${TMPDIR:-/tmp}}/$2.XXXXXX") || return 1
    _t_tmpdirs+=("$d")
    printf -v "$1" '%s' "$d"
}
t_at_exit() { _t_exit_cmds+=("$1"); } # CMD (a string, eval'ed)
_t_on_exit() {
    local c
    for c in "${_t_exit_cmds[@]+"${_t_exit_cmds[@]}"}"; do eval "$c"; done
    [ ${#_t_tmpdirs[@]} -eq 0 ] || rm -rf "${_t_tmpdirs[@]}"
}
trap _t_on_exit EXIT

# ---- the C tests ---------------------------------------------------------------------------
# tests/c/KIND/NAME.c, one program each; a test is named by NAME alone (names are unique across
# the folders). The kinds, in run order (tests/c/README.md):
C_KINDS=(posix kernel rel ext)
# t_c_tests fills C_TESTS (every name, kind by kind, by name within a kind), C_TEST_SRC[NAME]
# (its file) and C_TEST_KIND[NAME]. A .c file in a folder not listed above, or a name found
# twice, is an error (returns 1 with a message on stderr): a test must not go unrun.
declare -a C_TESTS=()
declare -A C_TEST_SRC=() C_TEST_KIND=()
t_c_tests() {
    local dir=$root/tests/c f n k bad=0
    for f in "$dir"/*.c; do
        [ -e "$f" ] || continue
        echo "tests/lib.sh: $f: a C test goes in a folder of its kind (${C_KINDS[*]})" >&2
        bad=1
    done
    for f in "$dir"/*/*.c; do
        [ -e "$f" ] || continue
        k=$(basename "$(dirname "$f")") n=$(basename "$f" .c)
        if [[ " ${C_KINDS[*]} " != *" $k "* ]]; then
            echo "tests/lib.sh: $f: tests/c/$k/ is not a known kind (${C_KINDS[*]})" >&2
            bad=1
        elif [ -n "${C_TEST_SRC[$n]:-}" ]; then
            echo "tests/lib.sh: two C tests named $n: ${C_TEST_SRC[$n]} and $f" >&2
            bad=1
        fi
        C_TEST_SRC[$n]=$f C_TEST_KIND[$n]=$k
    done
    C_TESTS=()
    for k in "${C_KINDS[@]}"; do
        for f in "$dir/$k"/*.c; do
            [ -e "$f" ] && C_TESTS+=("$(basename "$f" .c)")
        done
    done
    return $bad
}
