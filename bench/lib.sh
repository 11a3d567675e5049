# shellcheck shell=bash
# Shared by bench/transfer.sh, relay.sh, udp.sh, parallel.sh and recv_keep.sh (source
# it after setting DIR and TPID): the one copy of stopping the receiver,
# finding a free port, waiting for a listener, reading sockprobe's port
# and /usr/bin/time's CPU, and the median and ratio of the reports.

# stop_server: the receiver under /usr/bin/time (TPID), its child first.
stop_server() {
  [ -n "$TPID" ] || return 0
  local p
  for p in $(pgrep -P "$TPID" || true); do kill "$p" 2>/dev/null || true; done
  kill "$TPID" 2>/dev/null || true
  wait "$TPID" 2>/dev/null || true
  TPID=""
}

# free_port: a port on 127.0.0.1 free for TCP and UDP alike (iperf3 and
# socat cannot listen on port 0): bound to 0 and read back.
free_port() {
  python3 -c '
import socket
while True:
    t = socket.socket(); t.bind(("127.0.0.1", 0)); port = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", port))
    except OSError:
        continue
    print(port)
    break'
}

# wait_tcp PORT: until something listens there (5 s at most).
wait_tcp() {
  local _
  for _ in $(seq 500); do
    ss -Hltn "sport = :$1" | grep -q LISTEN && return 0
    sleep 0.01
  done
  echo "bench: nothing listens on port $1" >&2
  return 1
}

# listening_port FILE: the port of sockprobe's JSON "listening" event in
# FILE (its stderr), waiting 5 s at most; only a whole line counts (jq
# would fail on one still being written).
listening_port() {
  local _ port
  for _ in $(seq 500); do
    port=$(sed -n 's/^{"event":"listening",.*"port":\([0-9]*\),.*}$/\1/p' "$1" | head -1)
    [ -n "$port" ] && { echo "$port"; return 0; }
    sleep 0.01
  done
  echo "bench: sockprobe did not listen" >&2
  cat "$1" >&2
  return 1
}

# cpu FILE: user+sys seconds from a /usr/bin/time -f '%U %S' file (its last
# line: a "Command exited with non-zero status" line may come first).
cpu() { tail -1 "$1" | awk '{print $1 + $2}'; }

# median: of the numbers on stdin, the middle one (the upper for an even count).
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# ratio A B: A / B to two places, n/a when B is 0.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
