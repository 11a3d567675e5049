#!/usr/bin/env bash
# Socket -> file on tmpfs, the issue 13 row "recv -o FILE vs socat -b 262144
# to a file" (goal >= 1.2): `sockprobe send FILE` into `sockprobe recv -o OUT`
# against socat -u -b 262144 on both ends into CREATE:OUT. Each pair runs A
# then B (A B A B ...), so drift in machine load hits both, and the median
# of the per-pair ratios is printed (above 1: sockprobe faster). Wall time
# is receiver start to receiver exit; OUT is removed before each run,
# outside the timing, so no run pays for freeing the last one's pages.
#
#   bench/filesink.sh [SOCKPROBE] [--size 1G] [--pairs 9]
set -euo pipefail

SOCKPROBE=./build/src/sockprobe
SIZE=1G
PAIRS=9
while [ $# -gt 0 ]; do
  case $1 in
    --size) SIZE=$2; shift 2 ;;
    --pairs) PAIRS=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) SOCKPROBE=$1; shift ;;
  esac
done
for tool in "$SOCKPROBE" socat python3 ss; do
  command -v "$tool" >/dev/null || { echo "bench: $tool not found" >&2; exit 2; }
done
DIR=$(mktemp -d /dev/shm/sockprobe-bench.XXXXXX)
TPID=""
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap 'stop_server; rm -rf "$DIR"' EXIT
BYTES=$(numfmt --from=iec "$SIZE")
head -c "$BYTES" /dev/urandom > "$DIR/data"

# timed RECV-CMD SEND-CMD: milliseconds from the receiver's start to its
# exit (PORT in the commands is replaced by a free port).
timed() {
  local port t0 t1
  port=$(free_port)
  rm -f "$DIR/out"
  t0=$(date +%s%N)
  bash -c "${1//PORT/$port}" 2>/dev/null &
  TPID=$!
  wait_tcp "$port"
  bash -c "${2//PORT/$port}"
  wait "$TPID" || { echo "bench: receiver failed: $1" >&2; exit 1; }
  TPID=""
  t1=$(date +%s%N)
  cmp -s "$DIR/data" "$DIR/out" || { echo "bench: $DIR/out differs after: $1" >&2; exit 1; }
  echo $(((t1 - t0) / 1000000))
}

SP=$SOCKPROBE Q="-q --no-progress"
A_RECV="$SP recv 127.0.0.1 PORT -o $DIR/out $Q" A_SEND="$SP send 127.0.0.1 PORT $DIR/data $Q"
B_RECV="socat -u -b 262144 TCP-LISTEN:PORT,bind=127.0.0.1,reuseaddr CREATE:$DIR/out"
B_SEND="socat -u -b 262144 OPEN:$DIR/data TCP:127.0.0.1:PORT"
echo "socket -> file on tmpfs: $SIZE, $PAIRS alternating pairs, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
timed "$A_RECV" "$A_SEND" >/dev/null  # warm-up
timed "$B_RECV" "$B_SEND" >/dev/null
ra=() rb=()
for _ in $(seq "$PAIRS"); do
  ra+=("$(timed "$A_RECV" "$A_SEND")")
  rb+=("$(timed "$B_RECV" "$B_SEND")")
done
python3 - "${ra[*]}" "${rb[*]}" "$BYTES" <<'EOF'
import statistics, sys
a, b = [float(x) for x in sys.argv[1].split()], [float(x) for x in sys.argv[2].split()]
n = float(sys.argv[3])
rate = lambda ms: n / (ms / 1000) / 1e9
ratio = statistics.median(y / x for x, y in zip(a, b))  # time B / time A: rate A / rate B
print(f"  sockprobe recv -o   median {statistics.median(a):6.0f} ms  {rate(statistics.median(a)):5.2f} GB/s   (runs {' '.join(f'{x:.0f}' for x in a)})")
print(f"  socat -b 262144     median {statistics.median(b):6.0f} ms  {rate(statistics.median(b)):5.2f} GB/s   (runs {' '.join(f'{x:.0f}' for x in b)})")
print(f"ratio (median of per-pair rate ratios, sockprobe / socat): {ratio:.2f}")
EOF
