#!/usr/bin/env bash
# Throughput and fairness of `sockprobe recv -k` (one receiver serving many
# senders at once) on loopback, with `sockprobe send --duration` as the
# sender, against socat's forking receiver, all measured in this one run
# with the runs of the cases alternating so all see the same background
# load. Reported as medians over --runs:
#   1 sender   bytes the sender sent / wall seconds of the sender process
#   N senders  N senders started together: the sum of their bytes / wall
#              seconds from the first start to the last exit
#   fairness   per-sender bytes min / max within a run (1.00: perfectly
#              fair; near 0: a sender starved)
#   recv cpu   user+sys of the receiver process (/usr/bin/time, including
#              socat's reaped children) per GB (1e9 bytes) received
# and ratios: N senders / 1 sender (the goal is >= 0.90), sockprobe / socat
# for N senders (above 1.00 means sockprobe was faster) and socat's CPU per
# GB / sockprobe's (above 1.00 means sockprobe was cheaper).
#
#   bench/recv_keep.sh [SOCKPROBE] [--runs 3] [--duration 3s] [--senders 8]
#
# Receivers: `sockprobe recv -k --json 127.0.0.1 0` (port read back from its
# "listening" event; ended by SIGINT, exit 130, after one "summary" per
# sender), `socat -u TCP-LISTEN:PORT,bind=127.0.0.1,fork,reuseaddr
# OPEN:/dev/null` with socat's default 8 KiB buffer and with -b 262144 (the
# other benches' socat). iperf3 -s serves one test at a time, so it cannot
# take N senders. Bytes are counted from each sender's own JSON summary for
# every receiver; sockprobe's per-sender summaries are checked against them.
# sockprobe drops what it receives; socat reads it and writes it to /dev/null.
set -euo pipefail

SOCKPROBE=./build/src/sockprobe
RUNS=3
DURATION=3s
SENDERS=8
while [ $# -gt 0 ]; do
  case $1 in
    --runs) RUNS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --senders) SENDERS=$2; shift 2 ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) SOCKPROBE=$1; shift ;;
  esac
done
for tool in "$SOCKPROBE" /usr/bin/time socat python3 jq ss pgrep; do
  command -v "$tool" >/dev/null || { echo "bench: $tool not found" >&2; exit 2; }
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "bench: --runs: a positive whole number" >&2; exit 2; }
[[ $SENDERS =~ ^[1-9][0-9]*$ ]] || { echo "bench: --senders: a positive whole number" >&2; exit 2; }

DIR=$(mktemp -d /dev/shm/sockprobe-recv-keep.XXXXXX)
TPID=""     # /usr/bin/time wrapping the receiver (a server) still running
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SPIDS=()    # senders still running
# Everything a run started (run_case is a subshell: it has its own trap).
cleanup_run() {
  local p
  for p in "${SPIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  SPIDS=()
  stop_server
}
cleanup() { cleanup_run; rm -rf "$DIR"; }
trap cleanup EXIT
trap 'echo "bench: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

now() { date +%s%N; }

# start_receiver KIND DURATION: starts the receiver under /usr/bin/time and
# sets TPID and PORT.
start_receiver() {
  local kind=$1 _
  rm -f "$DIR"/rout "$DIR"/rerr "$DIR"/rtime
  case $kind in
    sockprobe)
      /usr/bin/time -f '%U %S' -o "$DIR/rtime" "$SOCKPROBE" recv -k --json 127.0.0.1 0 \
        > "$DIR/rout" 2> "$DIR/rerr" &
      TPID=$!
      PORT=$(listening_port "$DIR/rerr") || return 1
      ;;
    socat|socat-b)
      local b=()
      [ "$kind" = socat ] || b=(-b 262144)
      PORT=$(free_port)
      /usr/bin/time -f '%U %S' -o "$DIR/rtime" socat -u "${b[@]}" \
        "TCP-LISTEN:$PORT,bind=127.0.0.1,fork,reuseaddr" OPEN:/dev/null > "$DIR/rout" 2> "$DIR/rerr" &
      TPID=$!
      wait_tcp "$PORT"
      ;;
  esac
}
# stop_receiver KIND N: waits for the receiver to finish with the N senders,
# sends it SIGINT and checks how it ended; sets RCPU to its cpu seconds.
stop_receiver() {
  local kind=$1 n=$2 rpid rc=0 _
  if [ "$kind" = sockprobe ]; then
    for _ in $(seq 500); do
      [ "$(grep -c '^{"event":"summary",.*}$' "$DIR/rout" || true)" -ge "$n" ] && break
      sleep 0.01
    done
  else
    # socat's forked children exit at each sender's end of file; give the
    # parent the moment to reap them (so their CPU counts).
    for _ in $(seq 500); do
      [ -z "$(pgrep -P "$(pgrep -P "$TPID")" || true)" ] && break
      sleep 0.01
    done
  fi
  rpid=$(pgrep -P "$TPID")
  kill -INT "$rpid"
  wait "$TPID" || rc=$?
  TPID=""
  if [ "$kind" = sockprobe ]; then
    [ "$rc" = 130 ] || { echo "bench: sockprobe recv -k exited $rc, not 130" >&2; cat "$DIR/rerr" >&2; return 1; }
    jq -e --argjson n "$n" 'select(.event=="served") | .connections == $n' "$DIR/rout" >/dev/null \
      || { echo "bench: sockprobe recv -k: no \"served\" event for $n connections" >&2; cat "$DIR/rout" >&2; return 1; }
  fi
  RCPU=$(cpu "$DIR/rtime")
}

# run_case KIND N: one run of N senders started together against a fresh
# receiver. Prints: wall_ns total_bytes min_bytes max_bytes recv_cpu
run_case() (
  trap cleanup_run EXIT
  local kind=$1 n=$2 i t0 t1 rc bytes
  start_receiver "$kind"
  SPIDS=()
  t0=$(now)
  for i in $(seq "$n"); do
    "$SOCKPROBE" send --json --no-progress --duration "$DURATION" 127.0.0.1 "$PORT" \
      > "$DIR/sout$i" 2> "$DIR/serr$i" &
    SPIDS+=($!)
  done
  rc=0
  for i in "${!SPIDS[@]}"; do
    wait "${SPIDS[$i]}" || { rc=$?; echo "bench: sender $((i + 1)) against $kind exited $rc" >&2; cat "$DIR/serr$((i + 1))" >&2; }
  done
  t1=$(now)
  SPIDS=()
  [ "$rc" = 0 ] || return 1
  bytes=$(for i in $(seq "$n"); do jq -r 'select(.event=="summary") | .bytes' "$DIR/sout$i"; done)
  [ "$(wc -l <<<"$bytes")" = "$n" ] || { echo "bench: missing sender summaries against $kind" >&2; return 1; }
  stop_receiver "$kind" "$n"
  if [ "$kind" = sockprobe ]; then
    # The receiver's own count of each sender's bytes must match the senders'.
    local mine theirs
    mine=$(sort -n <<<"$bytes" | tr '\n' ' ')
    theirs=$(jq -r 'select(.event=="summary") | .bytes' "$DIR/rout" | sort -n | tr '\n' ' ')
    [ "$mine" = "$theirs" ] || { echo "bench: recv -k summaries ($theirs) differ from the senders' ($mine)" >&2; return 1; }
  fi
  awk -v ns="$((t1 - t0))" -v c="$RCPU" '
    { s += $1; if (NR == 1 || $1 < mn) mn = $1; if ($1 > mx) mx = $1 }
    END { printf "%d %.0f %.0f %.0f %s\n", ns, s, mn, mx, c }' <<<"$bytes"
)

declare -A RATE FAIR CPUGB
# summarize NAME RUNS: medians of the per-run figures.
summarize() {
  local name=$1 runs=$2
  RATE[$name]=$(awk '{printf "%.0f\n", $2 / ($1 / 1e9)}' <<<"$runs" | median)
  FAIR[$name]=$(awk '{printf "%.3f\n", ($4 > 0 ? $3 / $4 : 0)}' <<<"$runs" | median)
  CPUGB[$name]=$(awk '{printf "%.3f\n", ($2 > 0 ? $5 / ($2 / 1e9) : 0)}' <<<"$runs" | median)
  printf '  %-28s %10.1f %10.2f %9s %12s\n' "$name" "$(awk -v r="${RATE[$name]}" 'BEGIN{print r/1e6}')" \
    "$(awk -v r="${RATE[$name]}" 'BEGIN{print r*8/1e9}')" "${FAIR[$name]}" "${CPUGB[$name]}"
}

N=$SENDERS
CASES=("sockprobe 1" "sockprobe $N" "socat $N" "socat-b $N")
declare -A NAME=(["sockprobe 1"]="recv -k, 1 sender" ["sockprobe $N"]="recv -k, $N senders"
                 ["socat $N"]="socat, $N senders" ["socat-b $N"]="socat -b 262144, $N senders")
echo "sockprobe recv -k benchmark: send --duration $DURATION, median of $RUNS, $(nproc) cores, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
# Warm-up: one short run of each receiver.
for c in "${CASES[@]}"; do DURATION=1s run_case "${c% *}" "${c#* }" >/dev/null; done
declare -A RUNS_OF
for _ in $(seq "$RUNS"); do
  for c in "${CASES[@]}"; do RUNS_OF[$c]+="$(run_case "${c% *}" "${c#* }")"$'\n'; done
done
printf '  %-28s %10s %10s %9s %12s\n' "" "MB/s" "Gbit/s" "min/max" "recv cpu s/GB"
for c in "${CASES[@]}"; do summarize "${NAME[$c]}" "${RUNS_OF[$c]%$'\n'}"; done

S1=${NAME["sockprobe 1"]} SN=${NAME["sockprobe $N"]} CN=${NAME["socat $N"]} BN=${NAME["socat-b $N"]}
echo "ratios"
printf '  %-40s %s   (goal >= 0.90)\n' "$N senders / 1 sender (recv -k):" "$(ratio "${RATE[$SN]}" "${RATE[$S1]}")"
printf '  %-40s %s   (1.00: fair)\n' "fairness, min/max bytes per sender:" "$(awk -v f="${FAIR[$SN]}" 'BEGIN{printf "%.2f", f}')"
printf '  %-40s rate %s   recv cpu/GB %s\n' "sockprobe / socat, $N senders:" \
  "$(ratio "${RATE[$SN]}" "${RATE[$CN]}")" "$(ratio "${CPUGB[$CN]}" "${CPUGB[$SN]}")"
printf '  %-40s rate %s   recv cpu/GB %s\n' "sockprobe / socat -b 262144, $N senders:" \
  "$(ratio "${RATE[$SN]}" "${RATE[$BN]}")" "$(ratio "${CPUGB[$BN]}" "${CPUGB[$SN]}")"
