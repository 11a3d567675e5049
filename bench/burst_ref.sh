#!/usr/bin/env bash
# Connection bursts against the syscall-only reference
# (../shared/bench/burst-ref.c: an epoll accept-and-close server and an epoll
# connect client), the burst rows of issue 13:
#   client   sockprobe connect --count N --concurrency C   vs burst-ref client,
#            both against the same burst-ref server          (goal >= 0.95)
#   server   burst-ref client against sockprobe listen --discard -q
#            vs against the burst-ref server                 (goal >= 0.9; bounded
#            near 0.6 by the reading a discard server must do: server-eof)
#   server-json  the same with listen --discard --json >file (goal >= 0.6)
#   server-eof   burst-ref client against listen --discard -q vs against
#            bench/ref/discard-ref.c: burst-ref's server closes at accept,
#            which a discard server must not (it reads to the client's EOF
#            first); discard-ref does just that, so this row is sockprobe
#            against the least the same work costs        (1.0 is the bound)
# Each case runs A and B alternately (A B A B ...), so drift in machine load
# hits both, and prints the median of the per-pair ratios (above 1: sockprobe
# faster). Rates are connections per second as each client reports them.
#
#   bench/burst_ref.sh [SOCKPROBE] [--count 20000] [--concurrency 100] [--pairs 7]
#                      [--only client|server|server-json|server-eof]
set -euo pipefail

SOCKPROBE=./build/src/sockprobe
COUNT=20000
CONC=100
PAIRS=7
ONLY=
while [ $# -gt 0 ]; do
  case $1 in
    --count) COUNT=$2; shift 2 ;;
    --concurrency) CONC=$2; shift 2 ;;
    --pairs) PAIRS=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) SOCKPROBE=$1; shift ;;
  esac
done
case $ONLY in
  ""|client|server|server-json|server-eof) ;;
  *) echo "bench: --only takes client, server, server-json or server-eof, not '$ONLY'" >&2; exit 2 ;;
esac
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ref_src=$here/../../shared/bench/burst-ref.c
[ -f "$ref_src" ] || { echo "bench: $ref_src not found (../shared beside the project)" >&2; exit 2; }
command -v jq >/dev/null || { echo "bench: jq not found" >&2; exit 2; }

tmp=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
cc -O2 -o "$tmp/burst-ref" "$ref_src"
cc -O2 -o "$tmp/discard-ref" "$here/ref/discard-ref.c"
REF=$tmp/burst-ref

# start_server NAME CMD...: runs CMD in the background, its output in
# $tmp/NAME.out; sets PORT once it listens (burst-ref prints the port,
# sockprobe's --json "listening" event carries it; -q prints nothing, so
# the port is read back from ss by pid).
start_server() {
  local name=$1 i
  shift
  "$@" > "$tmp/$name.out" 2>/dev/null &
  pids+=($!)
  local pid=$!
  PORT=
  for i in $(seq 250); do
    PORT=$(ss -Hltnp 2>/dev/null | grep "pid=$pid," | awk '{print $4}' | sed 's/.*://' | head -1)
    [ -n "$PORT" ] && return 0
    sleep 0.02
  done
  echo "bench: $name did not start listening" >&2
  exit 1
}

# Rates: each prints one connections/s number.
ref_client() { "$REF" client "$1" "$COUNT" "$CONC" | awk '{print $(NF-1)}'; }
sp_client() {
  "$SOCKPROBE" connect 127.0.0.1 "$1" --count "$COUNT" --concurrency "$CONC" --json |
    jq -r 'select(.event=="burst") | .connections_per_second | floor'
}

# pairs LABEL A-CMD B-CMD: PAIRS alternating runs; prints medians and the
# median of the per-pair ratios A/B.
pairs() {
  local label=$1 a=$2 b=$3 i
  local -a ra=() rb=()
  for i in $(seq "$PAIRS"); do
    ra+=("$($a)")
    rb+=("$($b)")
    sleep 0.3  # let TIME_WAIT sockets of the last run settle a little
  done
  python3 - "$label" "${ra[*]}" "${rb[*]}" <<'EOF'
import statistics, sys
label, a, b = sys.argv[1], [float(x) for x in sys.argv[2].split()], [float(x) for x in sys.argv[3].split()]
ratio = statistics.median(x / y for x, y in zip(a, b))
print(f"{label:14} {statistics.median(a):>10.0f} {statistics.median(b):>10.0f} {ratio:>7.2f}   (A {min(a):.0f}-{max(a):.0f}, B {min(b):.0f}-{max(b):.0f})")
EOF
}

echo "burst vs burst-ref: $COUNT connections, $CONC in flight, $PAIRS alternating pairs, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-14s %10s %10s %7s\n' case "A conn/s" "B conn/s" "A/B"

if [ -z "$ONLY" ] || [ "$ONLY" = client ]; then
  start_server ref-server "$REF" server
  ref_port=$PORT
  a() { sp_client "$ref_port"; }
  b() { ref_client "$ref_port"; }
  pairs client a b
fi

if [ -z "$ONLY" ] || [ "${ONLY#server}" != "$ONLY" ]; then
  if [ "$ONLY" != server-eof ]; then
    [ -n "${ref_port:-}" ] || { start_server ref-server "$REF" server; ref_port=$PORT; }
  fi
  b() { ref_client "$ref_port"; }
  if [ -z "$ONLY" ] || [ "$ONLY" = server ]; then
    start_server sp-quiet "$SOCKPROBE" listen --discard -q 127.0.0.1 0
    sp_quiet_port=$PORT
    a() { ref_client "$sp_quiet_port"; }
    pairs server a b
  fi
  if [ -z "$ONLY" ] || [ "$ONLY" = server-json ]; then
    start_server sp-json "$SOCKPROBE" listen --discard --json 127.0.0.1 0
    sp_json_port=$PORT
    a() { ref_client "$sp_json_port"; }
    pairs server-json a b
  fi
  if [ -z "$ONLY" ] || [ "$ONLY" = server-eof ]; then
    [ -n "${sp_quiet_port:-}" ] || { start_server sp-quiet "$SOCKPROBE" listen --discard -q 127.0.0.1 0; sp_quiet_port=$PORT; }
    start_server discard-ref "$tmp/discard-ref"
    eof_ref_port=$PORT
    a() { ref_client "$sp_quiet_port"; }
    b() { ref_client "$eof_ref_port"; }
    pairs server-eof a b
  fi
fi
