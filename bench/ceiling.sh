#!/usr/bin/env bash
# One TCP stream against the loopback ceiling: `sockprobe send FILE` into
# `sockprobe recv --discard` against ../shared/bench/loopback-ceiling.c mode
# 3 (sendfile into recv(MSG_TRUNC) 1M: the least a stream can cost), the
# issue 13 row "send FILE -> recv --discard vs loopback-ceiling mode 3"
# (goal >= 0.95). Both rates are bytes over the time from the first byte to
# the receiver having them all (sockprobe: recv's summary; the reference:
# its own clock). Runs A B A B ... and prints the median of the per-pair
# ratios (above 1: sockprobe faster); `--chunk SIZE` is passed to both ends.
#
#   bench/ceiling.sh [SOCKPROBE] [--size 1G] [--pairs 7] [--chunk SIZE]
set -euo pipefail

SOCKPROBE=./build/src/sockprobe
SIZE=1G
PAIRS=7
CHUNK=()
while [ $# -gt 0 ]; do
  case $1 in
    --size) SIZE=$2; shift 2 ;;
    --pairs) PAIRS=$2; shift 2 ;;
    --chunk) CHUNK=(--chunk "$2"); shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) SOCKPROBE=$1; shift ;;
  esac
done
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ref_src=$here/../../shared/bench/loopback-ceiling.c
[ -f "$ref_src" ] || { echo "bench: $ref_src not found (../shared beside the project)" >&2; exit 2; }
command -v jq >/dev/null || { echo "bench: jq not found" >&2; exit 2; }

tmp=$(mktemp -d)
file=$(mktemp -p /dev/shm sockprobe-ceiling.XXXXXX)
rpid=
cleanup() {
  [ -n "$rpid" ] && { kill "$rpid" 2>/dev/null || true; wait "$rpid" 2>/dev/null || true; }
  rm -rf "$tmp" "$file"
}
trap cleanup EXIT
cc -O2 -o "$tmp/ceiling" "$ref_src"
head -c "$SIZE" /dev/urandom > "$file"

# sockprobe: GB/s as recv --discard's summary reports it.
sp_rate() {
  "$SOCKPROBE" --json recv --discard "${CHUNK[@]}" 127.0.0.1 0 > "$tmp/recv.out" 2> "$tmp/recv.err" &
  rpid=$!
  local i port=
  for i in $(seq 250); do
    port=$(jq -r 'select(.event=="listening") | .port' "$tmp/recv.err" 2>/dev/null | head -1)
    [ -n "$port" ] && break
    sleep 0.02
  done
  [ -n "$port" ] || { echo "bench: recv did not start listening" >&2; exit 1; }
  "$SOCKPROBE" send "${CHUNK[@]}" 127.0.0.1 "$port" "$file" > /dev/null 2>&1 || { echo "bench: send failed" >&2; kill "$rpid"; exit 1; }
  wait "$rpid"
  rpid=
  jq -r 'select(.event=="summary") | .bytes / .seconds / 1e9' "$tmp/recv.out"
}
# The reference: "mode 3: 5.11 GB/s".
ref_rate() { "$tmp/ceiling" "$file" 3 | awk '{print $(NF-1)}'; }

echo "one stream vs loopback-ceiling mode 3: $SIZE from tmpfs, $PAIRS alternating pairs, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
a=() b=()
for i in $(seq "$PAIRS"); do
  a+=("$(sp_rate)")
  b+=("$(ref_rate)")
done
python3 - "${a[*]}" "${b[*]}" <<'EOF'
import statistics, sys
a, b = [float(x) for x in sys.argv[1].split()], [float(x) for x in sys.argv[2].split()]
ratio = statistics.median(x / y for x, y in zip(a, b))
print(f"send FILE -> recv --discard {statistics.median(a):.2f} GB/s, ceiling mode 3 {statistics.median(b):.2f} GB/s, ratio {ratio:.2f}")
EOF
