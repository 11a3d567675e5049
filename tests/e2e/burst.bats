#!/usr/bin/env bats
# connect --count bursts: outcome counts, latency statistics, and the SYN
# retransmission call-out, against python3 listeners whose backlog the test
# controls; the exact SYN retransmits per connection (TCP_INFO) against
# ListenOverflows of a private namespace.

load helpers

setup() { sp_setup; }
teardown() { sp_teardown; }

# py_listener BACKLOG DELAY: listen on 127.0.0.1:0 with BACKLOG (sets PORT);
# accept nothing for DELAY seconds (-1: never), then accept and close forever.
py_listener() {
  py_start py "$BURST_PY_LISTENER" "$1" "$2"
}

BURST_PY_LISTENER='
import socket, sys, time
backlog, delay = int(sys.argv[1]), float(sys.argv[2])
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(backlog)
print("port", s.getsockname()[1], file=sys.stderr, flush=True)
if delay < 0:
    time.sleep(120)
    sys.exit(0)
time.sleep(delay)
s.settimeout(30)
while True:
    c, _ = s.accept()
    c.close()
'

@test "burst against a fast listener: every connection ok, percentiles reported" {
  py_listener 128 0
  run timeout 60 "$SOCKPROBE" connect 127.0.0.1 "$PORT" --count 200 --concurrency 20 --json
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | jq -r 'select(.event=="burst") | .ok')" = 200 ]
  [ "$(echo "$output" | jq -r 'select(.event=="burst") | .latency.p50 > 0')" = true ]
  [ "$(echo "$output" | jq -r 'select(.event=="burst") | [.histogram[].count] | add')" = 200 ]
}

@test "backlog 1, never accepting: N+1 complete, the rest time out (exit 3)" {
  py_listener 1 -1
  run timeout 60 "$SOCKPROBE" connect 127.0.0.1 "$PORT" --count 6 --concurrency 6 -w 1500ms --json
  [ "$status" -eq 3 ]
  ok=$(echo "$output" | jq -r 'select(.event=="burst") | .ok')
  timeout=$(echo "$output" | jq -r 'select(.event=="burst") | .timeout')
  [ "$ok" -le 2 ]
  [ "$timeout" -ge 4 ]
  [ $((ok + timeout)) -eq 6 ]
}

@test "a listener that starts accepting late: latencies cluster at a SYN retransmission time and are called out" {
  py_listener 1 2
  run timeout 60 "$SOCKPROBE" connect 127.0.0.1 "$PORT" --count 8 --concurrency 8 -w 6s
  [ "$status" -eq 0 ]
  [[ "$output" == *"ok 8 "* ]]
  [[ "$output" == *"SYNs were retransmitted"* ]]
  [[ "$output" == *"full listen backlog"* ]]
  # The same run in JSON: the retransmitted ones sit at the kernel's schedule.
  bg_stop py
  py_listener 1 2
  run timeout 60 "$SOCKPROBE" connect 127.0.0.1 "$PORT" --count 8 --concurrency 8 -w 6s --json
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | jq -r 'select(.event=="burst") | .syn_retransmissions.total >= 1')" = true ]
}

@test "refused connections are counted, exit 1" {
  # A socket bound but never listening holds the port for the whole test:
  # connections to it are refused, and nobody else can take it meanwhile.
  py_start holder '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
print("port", s.getsockname()[1], file=sys.stderr, flush=True)
time.sleep(60)
'
  run timeout 60 "$SOCKPROBE" connect 127.0.0.1 "$PORT" --count 5 --json
  [ "$status" -eq 1 ]
  [ "$(echo "$output" | jq -r 'select(.event=="burst") | .refused')" = 5 ]
}

@test "--rate paces connection starts" {
  py_listener 128 0
  run timeout 60 "$SOCKPROBE" connect 127.0.0.1 "$PORT" --count 20 --rate 40 --json
  [ "$status" -eq 0 ]
  secs=$(echo "$output" | jq -r 'select(.event=="burst") | .seconds')
  awk -v s="$secs" 'BEGIN { exit !(s >= 0.45) }'   # 20 starts at 40/s take ~0.475 s
}

@test "burst flags: bad values exit 2 naming the flag" {
  run timeout 60 "$SOCKPROBE" connect 127.0.0.1 1 --count 0
  [ "$status" -eq 2 ]; [[ "$output" == *"--count"* ]]
  run timeout 60 "$SOCKPROBE" connect 127.0.0.1 1 --count 5 --concurrency x
  [ "$status" -eq 2 ]; [[ "$output" == *"--concurrency"* ]]
  run timeout 60 "$SOCKPROBE" connect 127.0.0.1 1 --concurrency 5
  [ "$status" -eq 2 ]; [[ "$output" == *"--concurrency goes with --count"* ]]
  run timeout 60 "$SOCKPROBE" connect 127.0.0.1 1 --count 5 --send 2M
  [ "$status" -eq 2 ]; [[ "$output" == *"--send"* ]]
}

@test "connect --count: SYN retransmits per connection from TCP_INFO add up to ListenOverflows" {
  plain_netns
  # Backlog 0 holds one connection; one accept every 0.4 s makes room, so
  # each later SYN is dropped once and its retry 1 s later gets in.
  bg_start acc /dev/null ip netns exec "$NS" "$PY" -c '
import socket, sys, time
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(0)
print("port", l.getsockname()[1], file=sys.stderr, flush=True)
keep = []
for _ in range(300):
    time.sleep(0.4)
    l.setblocking(False)
    try: keep.append(l.accept()[0])
    except BlockingIOError: pass
'
  wait_for_line "$T/acc.err" '^port [0-9]+'
  PORT=$(sed -nE 's/^port ([0-9]+).*/\1/p' "$T/acc.err")
  before=$(ip netns exec "$NS" nstat -az TcpExtListenOverflows | awk '/ListenOverflows/ {print $2}')
  run ip netns exec "$NS" "$SOCKPROBE" --json connect --count 3 --concurrency 1 127.0.0.1 "$PORT"
  echo "$output"
  [ "$status" -eq 0 ]
  after=$(ip netns exec "$NS" nstat -az TcpExtListenOverflows | awk '/ListenOverflows/ {print $2}')
  [ "$(jq -r '.syn_retransmits | to_entries | map(.value) | add' <<<"$output")" = 3 ]
  [ "$(jq -r '.syn_retransmits["0"]' <<<"$output")" = 1 ]
  resent=$(jq -r '.syn_retransmits | to_entries | map((.key | tonumber) * .value) | add' <<<"$output")
  [ "$resent" -ge 2 ]
  [ "$resent" = $((after - before)) ]
  run ip netns exec "$NS" "$SOCKPROBE" connect --count 2 --concurrency 1 127.0.0.1 "$PORT"
  [[ $output == *"SYNs resent per connection (TCP_INFO after the handshake): "*" of 2 resent theirs."* ]]
  [ "$status" -eq 0 ]
}

@test "connect --count names the address it uses when the name resolves to several" {
  [ -n "$(ip -6 addr show dev lo 2>/dev/null)" ] || skip "no IPv6 on lo"
  command -v unshare >/dev/null || skip "no unshare"
  [ "$(id -u)" = 0 ] || skip "a private /etc/hosts needs root (unshare -m)"
  printf '127.0.0.1 twohomes\n::1 twohomes\n' >"$BATS_TEST_TMPDIR/hosts"
  start_listener srv /dev/null listen -k 127.0.0.1 0
  run timeout 30 unshare -m bash -c 'mount --bind "$1" /etc/hosts && exec "$2" connect --count 3 twohomes "$3" </dev/null' \
    _ "$BATS_TEST_TMPDIR/hosts" "$SOCKPROBE" "$PORT"
  [[ $output == *"twohomes resolves to 2 addresses ("*"); the burst uses the first"* ]]
  run timeout 30 unshare -m bash -c 'mount --bind "$1" /etc/hosts && exec "$2" --json connect --count 3 twohomes "$3" </dev/null' \
    _ "$BATS_TEST_TMPDIR/hosts" "$SOCKPROBE" "$PORT"
  [ "$(jq -r 'select(.event == "burst") | .addresses | length' <<<"$output")" = 2 ]
  [ "$(jq -r 'select(.event == "burst") | .address == .addresses[0]' <<<"$output")" = true ]
}

# --- the open-file limit (issue 9, item 10) ---------------------------------
# `ulimit -n 64` in a subshell sets the soft and the hard limit, so sockprobe
# cannot raise it: a burst of 500 at a time must fit in what 64 leaves.

# limited LIMIT ERRFILE ARGS...: runs `sockprobe ARGS` under `ulimit -n
# LIMIT` (at most 60 s), stderr to ERRFILE, through bats' `run`.
limited() {
  local limit=$1 err=$2
  shift 2
  run timeout 60 bash -c 'ulimit -n "$1" && exec "${@:3}" 2>"$2"' _ "$limit" "$err" "$SOCKPROBE" "$@"
}

@test "--concurrency beyond ulimit -n: fewer in flight, said once on stderr, every connection made (exit 0)" {
  py_listener 1024 0
  limited 64 "$T/burst.err" connect --count 2000 --concurrency 500 127.0.0.1 "$PORT"
  show "$T/burst.err"
  [ "$status" -eq 0 ]
  [[ $output == *"ok 2000  refused 0  reset 0  timeout 0  other 0"* ]]
  [[ $output == *"500 at a time (at most "*" by the open-file limit)"* ]]
  [ "$(grep -c 'warning' "$T/burst.err")" -eq 1 ]
  grep -q 'warning: --concurrency 500: the open-file limit (ulimit -n 64) leaves room for [0-9]* sockets' "$T/burst.err"
  [[ $output != *"Too many open files"* ]]
}

@test "--concurrency beyond ulimit -n, --json: one warning event, the limit in the burst event" {
  py_listener 1024 0
  limited 64 /dev/null --json connect --count 3000 --concurrency 500 127.0.0.1 "$PORT"
  [ "$status" -eq 0 ]
  [ "$(jq -s '[.[] | select(.event == "warning")] | length' <<<"$output")" -eq 1 ]
  [[ $(jq -r 'select(.event == "warning") | .message' <<<"$output") == *"ulimit -n 64"* ]]
  burst=$(jq -c 'select(.event == "burst")' <<<"$output")
  [ "$(jq -r .ok <<<"$burst")" = 3000 ]
  [ "$(jq -r '.refused + .reset + .timeout + .other' <<<"$burst")" = 0 ]
  [ "$(jq -r '.other_errors | length' <<<"$burst")" = 0 ]
  limit=$(jq -r .in_flight_limit <<<"$burst")
  [ "$limit" -gt 16 ] && [ "$limit" -lt 64 ]
  [ "$(jq -r .port_exhaustion <<<"$burst")" = null ]
}

@test "a burst within the fd limit: no warning, in_flight_limit null" {
  py_listener 128 0
  limited 256 /dev/stderr --json connect --count 200 --concurrency 20 127.0.0.1 "$PORT"
  [ "$status" -eq 0 ]
  [ "$(jq -s '[.[] | select(.event == "warning")] | length' <<<"$output")" -eq 0 ]
  [ "$(jq -r 'select(.event == "burst") | .in_flight_limit' <<<"$output")" = null ]
  [ "$(jq -r 'select(.event == "burst") | .fd_backoffs' <<<"$output")" = 0 ]
}

@test "EADDRNOTAVAIL is explained with the local port range and the TIME_WAIT count" {
  plain_netns
  ip netns exec "$NS" sysctl -q -w net.ipv4.ip_local_port_range="40000 40009"
  # Accept, read to the client's EOF, then close: the client closed first,
  # so its port stays in TIME_WAIT and the 10 ports run out.
  bg_start acc /dev/null ip netns exec "$NS" "$PY" -c '
import socket, sys
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(128)
print("port", l.getsockname()[1], file=sys.stderr, flush=True)
l.settimeout(30)
while True:
    c, _ = l.accept()
    c.settimeout(5)
    try: c.recv(1)
    except OSError: pass
    c.close()
'
  wait_for_line "$T/acc.err" '^port [0-9]+'
  PORT=$(sed -nE 's/^port ([0-9]+).*/\1/p' "$T/acc.err")
  run timeout 60 ip netns exec "$NS" "$SOCKPROBE" --json connect --count 30 --concurrency 1 127.0.0.1 "$PORT"
  echo "$output"
  [ "$status" -eq 1 ]
  burst=$(jq -c 'select(.event == "burst")' <<<"$output")
  ok=$(jq -r .ok <<<"$burst")
  other=$(jq -r '.other_errors["Cannot assign requested address"]' <<<"$burst")
  [ "$ok" -ge 1 ] && [ "$ok" -le 10 ]
  [ $((ok + other)) -eq 30 ]
  [ "$(jq -c .port_exhaustion.local_port_range <<<"$burst")" = "[40000,40009]" ]
  # Closed first, so each used port is in TIME_WAIT, or still an orphan in
  # FIN_WAIT2 while the server has not closed its side yet.
  [ $(($(jq -r .port_exhaustion.time_wait <<<"$burst") + $(jq -r .port_exhaustion.orphan <<<"$burst"))) -ge "$ok" ]
  run timeout 60 ip netns exec "$NS" "$SOCKPROBE" connect --count 5 --concurrency 1 127.0.0.1 "$PORT"
  [ "$status" -eq 1 ]
  [[ $output == *"every local port of 40000-40009 (10 ports, net.ipv4.ip_local_port_range)"* ]]
  [[ $output == *"TCP sockets are in TIME_WAIT now and "*" closed ones still wait for their peer's FIN"* ]]
}

# EMFILE for real, mid-burst: the in-flight cap is planned from the limit at
# the start (1024), then the soft limit is lowered to 64 under the running
# burst (prlimit), so socket() itself fails while ~500 handshakes are in
# flight. The listener holds them there: backlog 1 and no accept() until
# $T/go exists, so their SYNs are dropped and resent (1 s later); then a
# backlog of 4096 (listen() again) takes every resent SYN, and it accepts
# and closes forever.
BURST_GATED_LISTENER='
import os, socket, sys, time
go = sys.argv[1]
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
print("port", s.getsockname()[1], file=sys.stderr, flush=True)
for _ in range(600):
    if os.path.exists(go):
        break
    time.sleep(0.05)
s.listen(4096)
s.settimeout(30)
while True:
    c, _ = s.accept()
    c.close()
'

@test "EMFILE mid-burst (soft limit lowered under a running burst): fd_backoffs > 0, one warning, every connection made" {
  command -v prlimit >/dev/null || skip "no prlimit"
  local hard
  hard=$(ulimit -Hn)
  [ "$hard" = unlimited ] || [ "$hard" -ge 1024 ] || skip "the hard open-file limit ($hard) is below 1024"
  py_start py "$BURST_GATED_LISTENER" "$T/go"
  bg_start b /dev/null bash -c 'ulimit -n 1024 && exec "$0" --json connect --count 1000 --concurrency 500 -w 20s 127.0.0.1 "$1"' \
    "$SOCKPROBE" "$PORT"
  # All 500 sockets open (two connected, the rest waiting on their SYNs).
  wait_at_least 500 20 open_fds_of "$(bg_pid b)"
  prlimit --pid "$(bg_pid b)" --nofile=64:1024
  [ "$(limit_of "$(bg_pid b)" SOFT)" = 64 ]
  touch "$T/go"
  bg_wait b 60
  show "$T/b.out" "$T/b.err"
  [ "$BG_STATUS" -eq 0 ]
  burst=$(jq -c 'select(.event == "burst")' "$T/b.out")
  [ "$(jq -r .ok <<<"$burst")" = 1000 ]
  [ "$(jq -r '.refused + .reset + .timeout + .other' <<<"$burst")" = 0 ]
  [ "$(jq -r '.other_errors | length' <<<"$burst")" = 0 ]
  [ "$(jq -r .fd_backoffs <<<"$burst")" -gt 0 ]
  # Said once, as the EMFILE it was, not counted as failures.
  [ "$(jq -s '[.[] | select(.event == "warning")] | length' "$T/b.out")" -eq 1 ]
  [[ $(jq -r 'select(.event == "warning") | .message' "$T/b.out") == "socket: Too many open files with "*" connections in flight"*"not counted as failures" ]]
}
