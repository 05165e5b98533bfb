#!/usr/bin/env bash
# Installs what building, testing and the demo need, only where missing (Debian/Ubuntu).
set -euo pipefail
need=()
for p in fio strace gcc make binutils bc; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
command -v cargo >/dev/null 2>&1 || need+=(cargo)
[ ${#need[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${need[@]}" >/dev/null
