#!/usr/bin/env bash
# The rtaio demo: the same unmodified program (fio, posixaio engine: 4 KiB random reads,
# iodepth 32, one 256 MiB file, RUNTIME seconds per run) under glibc's POSIX AIO and under
# rtaio (the ./rtaio launcher, i.e. LD_PRELOAD), in two cases:
#   cached    the file is in the page cache (read once before; --invalidate=0)
#   uncached  O_DIRECT reads (--direct=1), every read goes to the device; where O_DIRECT is
#             not supported, --invalidate=1 (page cache dropped for the file before the run)
# Prints a side-by-side table of IOPS and the ratio. About 4 x RUNTIME s + setup (< 60 s).
#   RTAIO_DEMO_RUNTIME  seconds per run (default 5)
#   RTAIO_DEMO_DIR      where the test file goes (default build/tests/demo: a real disk,
#                       not tmpfs, so that "uncached" means something)
set -u
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" # root, LIBDIR, t_at_exit

LIB=$LIBDIR/librtaio.so
RUNTIME=${RTAIO_DEMO_RUNTIME:-5}
DIR=${RTAIO_DEMO_DIR:-$root/build/tests/demo}
SIZE=256m

command -v fio >/dev/null || { echo "demo: fio not found (apt-get install fio)" >&2; exit 1; }
[ -f "$LIB" ] || { echo "demo: $LIB not found (run 'make build')" >&2; exit 1; }
# the launcher if present (it sets LD_PRELOAD), else LD_PRELOAD directly
if [ -x "$root/rtaio" ] && [ -z "${RTAIO_LIBDIR:-}" -o "$LIBDIR" = "$root/target/release" ]; then
    RTAIO=("$root/rtaio")
    how="./rtaio fio ..."
else
    RTAIO=(env LD_PRELOAD="$LIB")
    how="LD_PRELOAD=$LIB fio ..."
fi

mkdir -p "$DIR"
FILE=$DIR/demo.dat
t_at_exit 'rm -f "$FILE"'

# lay the file out (real data, not a sparse file)
fio --name=prep --filename="$FILE" --rw=write --bs=1m --size=$SIZE --ioengine=psync \
    --minimal >/dev/null 2>&1 || { echo "demo: could not create $FILE" >&2; exit 1; }

direct_ok=1
fio --name=probe --filename="$FILE" --rw=randread --bs=4k --size=$SIZE --ioengine=psync \
    --direct=1 --number_ios=8 --minimal >/dev/null 2>&1 || direct_ok=0

job=(--name=demo --filename="$FILE" --ioengine=posixaio --rw=randread --bs=4k --iodepth=32
    --size=$SIZE --time_based --runtime="$RUNTIME" --ramp_time=0 --randrepeat=0 --minimal)
if [ $direct_ok -eq 1 ]; then
    uncached=(--direct=1)
    uncached_desc="O_DIRECT"
else
    uncached=(--invalidate=1)
    uncached_desc="--invalidate=1"
fi

status=0
# iops CASE-NAME RUNNER... -- FIO-ARGS... : prints the read IOPS (terse field 8)
iops() {
    local out
    if out=$("$@" 2>&1); then
        awk -F';' '$1 == "3" { printf "%d\n", $8; exit }' <<<"$out"
    else
        echo "demo: fio failed: $(tail -n 3 <<<"$out")" >&2
        status=1
        echo 0
    fi
}

# cached: read the whole file once so that it is in the page cache
cat "$FILE" >/dev/null

echo "rtaio demo: fio --ioengine=posixaio randread 4k, iodepth 32, one $SIZE file, ${RUNTIME} s per run"
echo "            glibc = plain fio; rtaio = $how"
g_c=$(iops fio "${job[@]}" --invalidate=0)
r_c=$(iops "${RTAIO[@]}" fio "${job[@]}" --invalidate=0)
g_u=$(iops fio "${job[@]}" "${uncached[@]}")
r_u=$(iops "${RTAIO[@]}" fio "${job[@]}" "${uncached[@]}")

printf '\n%-28s %12s %12s %8s\n' "case" "glibc IOPS" "rtaio IOPS" "ratio"
row() {
    awk -v c="$1" -v g="$2" -v r="$3" 'BEGIN {
        ratio = (g > 0) ? sprintf("%.2fx", r / g) : "n/a";
        printf "%-28s %12d %12d %8s\n", c, g, r, ratio }'
}
row "cached (page cache)" "$g_c" "$r_c"
row "uncached ($uncached_desc)" "$g_u" "$r_u"
echo
exit $status
