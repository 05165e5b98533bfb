#!/usr/bin/env bash
# Installs what building, testing, the demo and the benchmark (gnuplot-nox: its chart) need, only
# where missing (Debian/Ubuntu).
set -euo pipefail
need=()
for p in fio strace gcc g++ make binutils bc groff-base man-db dpkg-dev lintian pkg-config gnuplot-nox; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
command -v cargo >/dev/null 2>&1 || need+=(cargo)
# Miri for tests/miri.sh: only where rustup and a nightly toolchain exist; best effort (the
# suite reports itself skipped without it).
if command -v rustup >/dev/null 2>&1 && rustup toolchain list 2>/dev/null | grep -q '^nightly' &&
    ! cargo +nightly miri --version >/dev/null 2>&1; then
    timeout 300 rustup component add miri rust-src --toolchain nightly >/dev/null 2>&1 ||
        echo "deps: could not add miri to the nightly toolchain (tests/miri.sh will skip)"
fi
[ ${#need[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${need[@]}" >/dev/null
