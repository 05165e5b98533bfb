#!/usr/bin/env bash
# Formatting and clippy, warnings as errors. Skips a check whose tool is not installed (a
# Debian cargo without rustfmt/clippy) rather than failing the build for it.
set -u
cd "$(dirname "$0")/.."
pass=0 fail=0
check() { # name command...
    local name=$1; shift
    if "$@" >/tmp/rtaio-lint.$$ 2>&1; then
        echo "PASS  $name"; pass=$((pass + 1))
    else
        echo "FAIL  $name"; sed 's/^/      | /' /tmp/rtaio-lint.$$ | tail -40; fail=$((fail + 1))
    fi
    rm -f /tmp/rtaio-lint.$$
}
if cargo fmt --version >/dev/null 2>&1; then
    check rustfmt cargo fmt --all -- --check
else
    echo "SKIP  rustfmt (not installed)"
fi
if cargo clippy --version >/dev/null 2>&1; then
    check clippy cargo clippy --release --workspace --all-targets -- -D warnings
else
    echo "SKIP  clippy (not installed)"
fi
echo "lint: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
