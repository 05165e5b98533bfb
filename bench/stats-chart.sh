#!/usr/bin/env bash
# stats-chart.sh STATS.json OUT.svg: draws the latency histograms of an RTAIO_STATS_FORMAT=json
# report (the last report in the file), one curve per executor that ran requests: requests per
# log-scale bucket (x: latency, submission to status, log scale), with gnuplot.
#
#   RTAIO_STATS=/tmp/st.json RTAIO_STATS_FORMAT=json rtaio ./my-program
#   bench/stats-chart.sh /tmp/st.json latency.svg
#
# Needs python3 (to read the JSON) and gnuplot. Exit 0 when OUT.svg was written; 1 when the
# report holds no request or a tool is missing; 2 bad arguments.
set -u
[ $# -eq 2 ] || { sed -n '2,10p' "$0" >&2; exit 2; }
in=$1 out=$2
command -v gnuplot >/dev/null || { echo "stats-chart: gnuplot is not installed" >&2; exit 1; }
command -v python3 >/dev/null || { echo "stats-chart: python3 is not installed" >&2; exit 1; }
dat=$(mktemp) || exit 1
trap 'rm -f "$dat"' EXIT
# one gnuplot data block per executor: "top_ns count", blocks separated by two blank lines
names=$(python3 - "$in" "$dat" <<'PY'
import json, sys
lines = [l for l in open(sys.argv[1]) if l.startswith('{"rtaio_stats"')]
if not lines:
    sys.exit(1)
rep = json.loads(lines[-1])
names = []
with open(sys.argv[2], "w") as f:
    for name, e in rep["executors"].items():
        h = e["latency_ns"].get("histogram", [])
        if not h:
            continue
        names.append(f'{name} ({e["latency_ns"]["count"]} requests, p50 {e["latency_ns"]["p50"] / 1000:.1f} us)')
        for top, count in h:
            f.write(f"{max(top, 1) / 1000.0} {count}\n")
        f.write("\n\n")
print("\n".join(names))
PY
) || { echo "stats-chart: no report with requests in $in" >&2; exit 1; }
[ -n "$names" ] || { echo "stats-chart: no report with requests in $in" >&2; exit 1; }
plot=
i=0
while IFS= read -r n; do
    plot="$plot${plot:+, }'$dat' index $i using 1:2 with linespoints title '$n'"
    i=$((i + 1))
done <<<"$names"
gnuplot <<GP || exit 1
set terminal svg size 900,500 dynamic font 'sans,11' noenhanced
set output '$out'
set title 'rtaio latency per executor (submission to status), log-scale buckets'
set logscale x
set xlabel 'latency (us, upper bound of the bucket)'
set ylabel 'requests'
set grid
set key top right
plot $plot
GP
echo "stats-chart: $out"
