#!/usr/bin/env bash
# The soak (issue 12, not in CI): two long-lived servers, `listen --echo -k`
# and `recv -k --checksum`, under mixed traffic with faults for DURATION,
# their RSS, open fds and CPU sampled every SAMPLE seconds. Each round runs,
# on loopback: 50 python3 echo clients (64 KiB each, compared); a paced
# `send --size` and an nc.openbsd file to recv -k (checksums compared with
# the senders'); a `connect --count` burst; a python3 client that resets
# mid-stream (SO_LINGER 0); a `send` killed with -9 mid-stream; a client
# that connects and stays silent past --idle-timeout. At the end: the RSS
# curve, and exit 1 if a server died, a transfer that must be whole was
# not, or RSS was not flat (the last half's peak above the first half's by
# more than 25 % + 2 MiB).
#
#   bench/soak.sh [SOCKPROBE] [--duration 30m] [--sample 60]
#
# Every loop is bounded by the deadline; the servers are stopped by pid.
set -uo pipefail

SP=./build/src/sockprobe
DURATION=30m
SAMPLE=60
while [ $# -gt 0 ]; do
  case $1 in
    --duration) DURATION=$2; shift 2 ;;
    --sample) SAMPLE=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) SP=$1; shift ;;
  esac
done
for tool in "$SP" python3 nc.openbsd xxh128sum; do
  command -v "$tool" >/dev/null || { echo "soak: $tool not found" >&2; exit 2; }
done
case $DURATION in
  *h) secs=$((${DURATION%h} * 3600)) ;;
  *m) secs=$((${DURATION%m} * 60)) ;;
  *s) secs=${DURATION%s} ;;
  *) secs=$DURATION ;;
esac

DIR=$(mktemp -d /tmp/sockprobe-soak.XXXXXX)
# A copy: a rebuild during the soak (the link removes the file first)
# must not turn into failed rounds.
cp "$(command -v "$SP")" "$DIR/sockprobe"
SP=$DIR/sockprobe
ECHO_PID="" RECV_PID=""
cleanup() {
  local p
  for p in $ECHO_PID $RECV_PID; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$DIR"
}
trap cleanup EXIT

# start NAME ARGS...: a server in the background (its pid in STARTED_PID),
# its port (STARTED_PORT) from its "Listening on" line.
start() {
  local name=$1 i
  shift
  "$SP" "$@" </dev/null >"$DIR/$name.out" 2>"$DIR/$name.err" &
  STARTED_PID=$!
  for i in $(seq 500); do
    grep -q '^Listening on' "$DIR/$name.err" && break
    sleep 0.01
  done
  STARTED_PORT=$(awk '/^Listening on/ {print $4; exit}' "$DIR/$name.err")
}
start echo listen --echo -k 127.0.0.1 0
ECHO_PID=$STARTED_PID EPORT=$STARTED_PORT
start recv recv -k --checksum --idle-timeout 3s --stall-timeout 5s 127.0.0.1 0
RECV_PID=$STARTED_PID RPORT=$STARTED_PORT
[ -n "$EPORT" ] && [ -n "$RPORT" ] || { echo "soak: a server did not start" >&2; cat "$DIR"/*.err >&2; exit 1; }

head -c 1048576 /dev/urandom >"$DIR/file"
SUM=$(xxh128sum <"$DIR/file" | cut -d' ' -f1)
failures=0
fail() { echo "soak: $*" >&2; failures=$((failures + 1)); }

ECHO_CLIENTS='
import os, socket, sys
port, ok = int(sys.argv[1]), 0
for _ in range(50):
    data = os.urandom(65536)
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(data); s.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        b = s.recv(65536)
        if not b: break
        got += b
    s.close()
    ok += got == data
print(ok)'
RESETTER='
import socket, struct, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"r" * 200000)
time.sleep(0.1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()'
SILENT='
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
time.sleep(4)'

round_of_traffic() {
  local ok p
  ok=$(timeout 60 python3 -c "$ECHO_CLIENTS" "$EPORT")
  [ "$ok" = 50 ] || fail "echo clients: $ok of 50 equal"
  timeout 60 "$SP" send --size 4M --rate 50M -q --no-progress 127.0.0.1 "$RPORT" || fail "send --size 4M to recv -k: exit $?"
  timeout 60 nc.openbsd -N 127.0.0.1 "$RPORT" <"$DIR/file" || fail "nc to recv -k: exit $?"
  timeout 60 "$SP" connect --count 200 --concurrency 50 -q 127.0.0.1 "$EPORT" >/dev/null || fail "burst: exit $?"
  timeout 20 python3 -c "$RESETTER" "$RPORT"
  "$SP" send --size 64M --rate 20M -q --no-progress 127.0.0.1 "$RPORT" &
  p=$!
  sleep 0.3
  kill -9 "$p" 2>/dev/null
  wait "$p" 2>/dev/null
  timeout 20 python3 -c "$SILENT" "$RPORT" &
  p=$!
  wait "$p"
}

rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null; }
fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
cpu() { awk -v t="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / t}' "/proc/$1/stat" 2>/dev/null; }
sample() {
  printf '%6d s   echo rss %6s KiB fds %4s cpu %7s s   recv rss %6s KiB fds %4s cpu %7s s\n' \
    "$(($(date +%s) - start_s))" "$(rss "$ECHO_PID")" "$(fds "$ECHO_PID")" "$(cpu "$ECHO_PID")" \
    "$(rss "$RECV_PID")" "$(fds "$RECV_PID")" "$(cpu "$RECV_PID")" | tee -a "$DIR/curve"
}

echo "soak: $DURATION, a sample every ${SAMPLE}s; echo server port $EPORT, recv -k port $RPORT"
start_s=$(date +%s)
end_s=$((start_s + secs))
next_sample=$start_s
rounds=0
while [ "$(date +%s)" -lt "$end_s" ]; do
  if [ "$(date +%s)" -ge "$next_sample" ]; then
    sample
    next_sample=$((next_sample + SAMPLE))
  fi
  round_of_traffic
  rounds=$((rounds + 1))
  kill -0 "$ECHO_PID" 2>/dev/null || { fail "the echo server died"; break; }
  kill -0 "$RECV_PID" 2>/dev/null || { fail "recv -k died"; break; }
done
sleep 6  # the last silent client is closed by --idle-timeout
sample

# recv -k's summaries: every paced send and every nc file whole.
whole_4m=$(grep -c '^Received 4194304 bytes' "$DIR/recv.out")
whole_nc=$(grep -A3 '^Received 1048576 bytes' "$DIR/recv.out" | grep -c "xxh3-128:$SUM")
[ "$whole_4m" -ge "$rounds" ] || fail "recv -k: $whole_4m whole 4 MiB sends of $rounds"
[ "$whole_nc" -ge "$rounds" ] || fail "recv -k: $whole_nc nc files with the right checksum of $rounds"
n=$(wc -l <"$DIR/curve")
verdict=$(awk -v h=$(((n + 1) / 2)) '
  { e = $5; r = $14; if (NR <= h) { if (e > e1) e1 = e; if (r > r1) r1 = r } else { if (e > e2) e2 = e; if (r > r2) r2 = r } }
  END { bad = (e2 > e1 * 1.25 + 2048) || (r2 > r1 * 1.25 + 2048); printf "%s echo peak %d -> %d KiB, recv peak %d -> %d KiB", bad ? "GROWING" : "flat", e1, e2, r1, r2 }' "$DIR/curve")
echo "soak: $rounds rounds; RSS $verdict; failures $failures"
[[ $verdict == flat* ]] || failures=$((failures + 1))
[ "$failures" -eq 0 ]
