#!/usr/bin/env bash
# Connections per second of `sockprobe connect --count` against a listener
# that accepts as fast as it can (`sockprobe listen --discard`, one epoll
# loop), on loopback. Reports the median of several runs and the latency
# percentiles of the last one, so the burst tool is shown not to be the
# bottleneck when diagnosing a listener.
#
#   bench/burst.sh [SOCKPROBE] [--count 10000] [--concurrency 64] [--runs 3]
set -euo pipefail

SOCKPROBE=./build/src/sockprobe
COUNT=10000
CONC=64
RUNS=3
while [ $# -gt 0 ]; do
  case $1 in
    --count) COUNT=$2; shift 2 ;;
    --concurrency) CONC=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) SOCKPROBE=$1; shift ;;
  esac
done
command -v jq >/dev/null || { echo "bench: jq not found" >&2; exit 2; }

OUT=$(mktemp)
"$SOCKPROBE" listen --discard --json 127.0.0.1 0 > "$OUT" 2>/dev/null &
LPID=$!
trap 'kill "$LPID" 2>/dev/null; wait "$LPID" 2>/dev/null; rm -f "$OUT"' EXIT
for _ in $(seq 200); do grep -q '"listening"' "$OUT" && break; sleep 0.02; done
PORT=$(jq -r 'select(.event=="listening") | .port' "$OUT" | head -1)

echo "sockprobe burst benchmark: $COUNT connections, $CONC at a time, median of $RUNS, $(nproc) cores"
rates=()
for i in $(seq "$RUNS"); do
  line=$("$SOCKPROBE" connect 127.0.0.1 "$PORT" --count "$COUNT" --concurrency "$CONC" --json | jq -c 'select(.event=="burst")')
  rate=$(jq -r '.connections_per_second | floor' <<<"$line")
  rates+=("$rate")
  printf '  run %d: %s connections/s (ok %s, failed %s)\n' "$i" "$rate" "$(jq -r .ok <<<"$line")" \
    "$(jq -r '.refused + .reset + .timeout + .other' <<<"$line")"
done
median=$(printf '%s\n' "${rates[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "median: $median connections/s"
jq -r '"last run latency: p50 \(.latency.p50*1e6|floor)us p90 \(.latency.p90*1e6|floor)us p99 \(.latency.p99*1e6|floor)us max \(.latency.max*1e6|floor)us"' <<<"$line"
