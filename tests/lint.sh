#!/usr/bin/env bash
# Formatting and clippy, warnings as errors. Skips a check whose tool is not installed (a
# Debian cargo without rustfmt/clippy) rather than failing the build for it.
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # root, the tally, t_tmpdir
cd "$root"
t_tmpdir tmp rtaio-lint
check() { # name command...
    local name=$1; shift
    if "$@" >"$tmp/out" 2>&1; then
        t_pass "$name"
    else
        t_fail "$name" "$(tail -n 40 "$tmp/out")"
    fi
}
if cargo fmt --version >/dev/null 2>&1; then
    check rustfmt cargo fmt --all -- --check
else
    t_skip "rustfmt (not installed)"
fi
if cargo clippy --version >/dev/null 2>&1; then
    check clippy cargo clippy --release --workspace --all-targets -- -D warnings
else
    t_skip "clippy (not installed)"
fi
t_closing lint
