#!/usr/bin/env bash
# UDP datagram rate of `sockprobe send -u` -> `sockprobe recv -u` against
# `iperf3 -u -b 0` (no rate limit), both measured in this one run on
# loopback, with the runs of the two tools alternating so both see the same
# background load. Reported as medians over --runs:
#   sent/s      datagrams the sender sent, over the sender's seconds
#   received/s  datagrams the receiver received (not sent), over its seconds
#   loss        lost / expected (sockprobe: the summary's lost_percent,
#               almost all of it dropped_in_socket on loopback; iperf3: the
#               server's lost_packets / packets)
#   recv ns/dg  user+sys CPU of the receiver process (/usr/bin/time) over
#               the datagrams it received; send ns/dg the same for the sender
# and ratios sockprobe / iperf3 (rates: above 1.00 means sockprobe was
# faster; CPU per datagram: iperf3 / sockprobe, above 1.00 means sockprobe
# was cheaper).
#
#   bench/udp.sh [SOCKPROBE] [--runs 3] [--duration 3s]
#
# Cases: --length 1400 (iperf3 -l 1400) and the default 1452 (iperf3 -l
# 1452); both lengths include the tool's own header. sockprobe's receiver
# asks for -I 4M; iperf3 runs with its defaults (no -w), and once more with
# -w 4M at 1400 bytes so the socket buffers match. Last, sockprobe with
# and without UDP GSO (SOCKPROBE_UDP_GSO=0).
set -euo pipefail

SOCKPROBE=./build/src/sockprobe
RUNS=3
DURATION=3s
while [ $# -gt 0 ]; do
  case $1 in
    --runs) RUNS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) SOCKPROBE=$1; shift ;;
  esac
done
for tool in "$SOCKPROBE" /usr/bin/time iperf3 python3 jq ss; do
  command -v "$tool" >/dev/null || { echo "bench: $tool not found" >&2; exit 2; }
done
# iperf3 -t takes whole seconds.
case $DURATION in
  *ms) echo "bench: --duration in whole seconds (3s)" >&2; exit 2 ;;
  *s) SECS=${DURATION%s} ;;
  *) SECS=$DURATION; DURATION=${DURATION}s ;;
esac
[[ $SECS =~ ^[0-9]+$ ]] || { echo "bench: --duration in whole seconds (3s)" >&2; exit 2; }

DIR=$(mktemp -d /dev/shm/sockprobe-udp.XXXXXX)
TPID=""  # /usr/bin/time wrapping the receiver (a server) still running
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cleanup() { stop_server; rm -rf "$DIR"; }
trap cleanup EXIT
trap 'echo "bench: failed at line $LINENO: $BASH_COMMAND" >&2' ERR


# One run of each tool; each prints one line:
#   sent sent_seconds received recv_seconds loss_percent recv_cpu send_cpu
run_sockprobe() {
  local len=$1 port rc=0
  local lenopt=()
  [ "$len" = 1452 ] || lenopt=(--length "$len")
  /usr/bin/time -f '%U %S' -o "$DIR/rtime" "$SOCKPROBE" recv -u --json -I 4M 127.0.0.1 0 \
    > "$DIR/rout" 2> "$DIR/rerr" &
  TPID=$!
  port=$(listening_port "$DIR/rerr") || return 1
  /usr/bin/time -f '%U %S' -o "$DIR/stime" "$SOCKPROBE" send -u --json "${lenopt[@]}" --duration "$DURATION" \
    127.0.0.1 "$port" > "$DIR/sout" 2> "$DIR/serr" || { echo "bench: sockprobe send failed" >&2; cat "$DIR/serr" >&2; return 1; }
  wait "$TPID" || rc=$?
  TPID=""
  [ "$rc" = 0 ] || { echo "bench: sockprobe recv exited $rc" >&2; cat "$DIR/rerr" >&2; return 1; }
  local s r
  s=$(jq -c 'select(.event=="summary")' "$DIR/sout")
  r=$(jq -c 'select(.event=="summary")' "$DIR/rout")
  echo "$(jq -r '"\(.datagrams) \(.seconds)"' <<<"$s") $(jq -r '"\(.datagrams) \(.seconds) \(.lost_percent)"' <<<"$r")" \
    "$(cpu "$DIR/rtime") $(cpu "$DIR/stime")"
}
run_iperf3() {
  local len=$1 extra=${2:-} port rc=0
  port=$(free_port)
  /usr/bin/time -f '%U %S' -o "$DIR/rtime" iperf3 -s -1 -B 127.0.0.1 -p "$port" --json \
    > "$DIR/rout" 2> "$DIR/rerr" &
  TPID=$!
  wait_tcp "$port"
  # shellcheck disable=SC2086
  /usr/bin/time -f '%U %S' -o "$DIR/stime" iperf3 -c 127.0.0.1 -p "$port" -u -b 0 -l "$len" $extra -t "$SECS" --json \
    > "$DIR/sout" 2> "$DIR/serr" || { echo "bench: iperf3 -c failed" >&2; cat "$DIR/sout" "$DIR/serr" >&2; return 1; }
  wait "$TPID" || rc=$?
  TPID=""
  [ "$rc" = 0 ] || { echo "bench: iperf3 -s exited $rc" >&2; cat "$DIR/rout" "$DIR/rerr" >&2; return 1; }
  # Server side: packets is the highest sequence number seen, lost_packets
  # the gaps, so received = packets - lost_packets.
  echo "$(jq -r '.end.sum | "\(.packets) \(.seconds)"' "$DIR/sout")" \
    "$(jq -r '.end.sum | "\(.packets - .lost_packets) \(.seconds) \(if .packets > 0 then 100 * .lost_packets / .packets else 0 end)"' "$DIR/rout")" \
    "$(cpu "$DIR/rtime") $(cpu "$DIR/stime")"
}

# The same without UDP GSO (one message per datagram in each sendmmsg):
# the A/B behind the GSO decision in src/core/udpsend.cc.
run_sockprobe_nogso() { SOCKPROBE_UDP_GSO=0 run_sockprobe "$@"; }

declare -A SENT RECV LOSS RCPU SCPU
# summarize NAME RUNS: medians of the per-run figures.
summarize() {
  local name=$1 runs=$2
  SENT[$name]=$(awk '{printf "%.0f\n", $1 / $2}' <<<"$runs" | median)
  RECV[$name]=$(awk '{printf "%.0f\n", $3 / $4}' <<<"$runs" | median)
  LOSS[$name]=$(awk '{printf "%.2f\n", $5}' <<<"$runs" | median)
  RCPU[$name]=$(awk '{printf "%.0f\n", ($3 > 0 ? $6 * 1e9 / $3 : 0)}' <<<"$runs" | median)
  SCPU[$name]=$(awk '{printf "%.0f\n", ($1 > 0 ? $7 * 1e9 / $1 : 0)}' <<<"$runs" | median)
  printf '  %-22s %10s %12s %7s%% %11s %11s\n' "$name" "${SENT[$name]}" "${RECV[$name]}" "${LOSS[$name]}" \
    "${RCPU[$name]}" "${SCPU[$name]}"
}
# measure_ab NAME_A CMD_A NAME_B CMD_B: a warm-up of each, then RUNS of each,
# alternating.
measure_ab() {
  local a="" b=""
  $2 >/dev/null
  $4 >/dev/null
  for _ in $(seq "$RUNS"); do
    a+="$($2)"$'\n'
    b+="$($4)"$'\n'
  done
  summarize "$1" "${a%$'\n'}"
  summarize "$3" "${b%$'\n'}"
}

echo "sockprobe UDP benchmark: $DURATION per run, median of $RUNS, $(nproc) cores, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '  %-22s %10s %12s %8s %11s %11s\n' "" "sent/s" "received/s" "loss" "recv ns/dg" "send ns/dg"
echo "--length 1400, no rate limit"
measure_ab "sockprobe 1400" "run_sockprobe 1400" "iperf3 -l 1400" "run_iperf3 1400"
echo "--length 1452 (sockprobe's default), no rate limit"
measure_ab "sockprobe 1452" "run_sockprobe 1452" "iperf3 -l 1452" "run_iperf3 1452"
echo "--length 1400, iperf3 -w 4M (socket buffers like recv -I 4M)"
measure_ab "sockprobe 1400 (again)" "run_sockprobe 1400" "iperf3 -l 1400 -w 4M" "run_iperf3 1400 -w4M"

echo "--length 1400, sockprobe with and without UDP GSO"
measure_ab "sockprobe 1400 GSO" "run_sockprobe 1400" "sockprobe 1400 no GSO" "run_sockprobe_nogso 1400"

echo "ratios sockprobe / iperf3 (sent/s, received/s: higher is better; cpu: iperf3's ns/dg / sockprobe's, higher is better)"
for pair in "sockprobe 1400|iperf3 -l 1400" "sockprobe 1452|iperf3 -l 1452" "sockprobe 1400 (again)|iperf3 -l 1400 -w 4M" \
  "sockprobe 1400 GSO|sockprobe 1400 no GSO"; do
  s=${pair%|*} o=${pair#*|}
  printf '  %-22s vs %-20s sent %s  received %s  recv cpu %s  send cpu %s\n' "$s" "$o" \
    "$(ratio "${SENT[$s]}" "${SENT[$o]}")" "$(ratio "${RECV[$s]}" "${RECV[$o]}")" \
    "$(ratio "${RCPU[$o]}" "${RCPU[$s]}")" "$(ratio "${SCPU[$o]}" "${SCPU[$s]}")"
done
