#!/usr/bin/env bats
# `sockprobe connect` end to end: -z with lists and ranges and its exit
# codes, refused and timed-out connects (the timeout against an address in a
# namespace the test creates and blackholes), every resolved address tried,
# -s/-p, -I/-O, peer EOF (default: send stdin to its EOF; a terminal or
# --stop-on-peer-eof stops), --close-on-eof, --idle-timeout, --stall-timeout,
# a reset peer named in the error.

bats_require_minimum_version 1.5.0

load helpers

setup() { sp_setup; }
teardown() { sp_teardown; }

# hold_port NAME HOST [reuse]: a python3 TCP socket bound to HOST:0 but not
# listening, kept until the test ends: its port is surely closed (connects
# are refused) and nobody else can bind it. With "reuse" it sets
# SO_REUSEADDR, so that `connect -p` (which sets it too) may bind the same
# port while it stays reserved. Sets HELD.
hold_port() {
  bg_start "$1" /dev/null "$PY" -c '
import socket, sys, threading
s = socket.socket()
if sys.argv[2] == "reuse": s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 0))
print("port", s.getsockname()[1], file=sys.stderr, flush=True)
threading.Event().wait()
' "$2" "${3:-}"
  wait_for_line "$T/$1.err" '^port [0-9]+' || return 1
  HELD=$(sed -nE 's/^port ([0-9]+).*/\1/p' "$T/$1.err")
}

# py_no_read NAME: a python3 peer that accepts one connection and never
# reads it (its receive window fills up and stays at zero). Sets PORT.
py_no_read() {
  bg_start "$1" /dev/null "$PY" -c '
import socket, sys, threading
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(1)
print("port", ls.getsockname()[1], file=sys.stderr, flush=True)
c, _ = ls.accept()
threading.Event().wait()
'
  wait_for_line "$T/$1.err" '^port [0-9]+' || return 1
  PORT=$(sed -nE 's/^port ([0-9]+).*/\1/p' "$T/$1.err")
}

@test "connect -z: open, closed, lists and ranges; exit 0 only when every port is open" {
  start_listener a /dev/null listen -k 127.0.0.1 0
  local open1=$PORT
  start_listener b /dev/null listen -k 127.0.0.1 0
  local open2=$PORT
  hold_port held 127.0.0.1
  local closed=$HELD

  run "$SOCKPROBE" connect -z 127.0.0.1 "$open1"
  [ "$status" -eq 0 ]
  [[ $output =~ ^127\.0\.0\.1\ $open1\ open ]]

  run "$SOCKPROBE" connect -z 127.0.0.1 "$open1,$open2"
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 2 ]

  run "$SOCKPROBE" connect -z 127.0.0.1 "$open1-$open1,$closed"
  [ "$status" -eq 1 ]
  [[ ${lines[0]} == "127.0.0.1 $open1 open"* ]]
  [[ ${lines[1]} == "127.0.0.1 $closed closed"*"Connection refused"* ]]

  # A range: one line per port, in order.
  run "$SOCKPROBE" connect -z 127.0.0.1 "$closed-$((closed + 2))"
  [ "$status" -eq 1 ]
  [ "${#lines[@]}" -eq 4 ]
  [[ ${lines[0]} == "127.0.0.1 $closed "* ]]
  [[ ${lines[1]} == "127.0.0.1 $((closed + 1)) "* ]]
  [[ ${lines[2]} == "127.0.0.1 $((closed + 2)) "* ]]
  # (the last line is the error summary on stderr)
  [[ ${lines[3]} == "sockprobe: "*" of 3 ports closed on 127.0.0.1" ]]

  # JSON: one "port" event per port on stdout.
  run "$SOCKPROBE" --json connect -z 127.0.0.1 "$open1,$closed"
  [ "$status" -eq 1 ]
  [ "$(jq -sc '[.[] | select(.event == "port") | .state]' <<<"$output")" = '["open","closed"]' ]

  # The listeners saw -z's connections and are still up.
  bg_alive a
  bg_alive b
  run "$SOCKPROBE" connect -z 127.0.0.1 "8000-7000"
  [ "$status" -eq 2 ]
}

@test "connect: refused is 'connect to HOST port P (tcp): Connection refused', exit 1" {
  hold_port held 127.0.0.1
  local port=$HELD
  run "$SOCKPROBE" connect 127.0.0.1 "$port" </dev/null
  [ "$status" -eq 1 ]
  [ "$output" = "sockprobe: connect to 127.0.0.1 port $port (tcp): Connection refused" ]
  run "$SOCKPROBE" --json connect 127.0.0.1 "$port" </dev/null
  [ "$status" -eq 1 ]
  [ "$(jq -r .event <<<"$output")" = error ]
  [ "$(jq -r .exit <<<"$output")" = 1 ]
}

@test "connect -w: a blackholed address in a test namespace times out with exit 3" {
  blackhole_netns
  local start end
  start=$(date +%s)
  run timeout 20 ip netns exec "$NS" "$SOCKPROBE" connect -w 1 192.0.2.2 80 </dev/null
  end=$(date +%s)
  [ "$status" -eq 3 ]
  [ "$output" = "sockprobe: connect to 192.0.2.2 port 80 (tcp): timed out after 1.00s" ]
  # Loose sanity bound (not a timing test): it did not wait for the kernel's
  # own SYN retries (over a minute).
  [ $((end - start)) -lt 15 ]

  # -z: every port timed out -> exit 3, one line each.
  run timeout 20 ip netns exec "$NS" "$SOCKPROBE" connect -z -w 300ms 192.0.2.2 22,80
  [ "$status" -eq 3 ]
  [ "${#lines[@]}" -eq 3 ]
  [[ ${lines[0]} == "192.0.2.2 22 timeout"* ]]
  [[ ${lines[1]} == "192.0.2.2 80 timeout"* ]]
  [ "${lines[2]}" = "sockprobe: 2 of 2 ports timed out on 192.0.2.2" ]

  # The SYNs went out on the veth and nowhere else; then the namespace goes.
  ip netns del "$NS"
  ! ip netns list | grep -qw "$NS"
}

@test "connect: tries every resolved address in turn and says which one answered" {
  [ -n "$(ip -6 addr show dev lo 2>/dev/null)" ] || skip "no IPv6 on lo"
  command -v unshare >/dev/null || skip "no unshare"
  [ "$(id -u)" = 0 ] || skip "a private /etc/hosts needs root (unshare -m)"
  # A private mount namespace where the name "twohomes" has both loopbacks.
  printf '::1 twohomes\n127.0.0.1 twohomes\n' >"$T/hosts"
  local failures=0 fam
  for fam in 127.0.0.1 ::1; do
    start_listener "srv${#fam}" /dev/null listen "$fam" 0
    run timeout 10 unshare -m bash -c 'mount --bind "$1" /etc/hosts && exec "$2" --json connect twohomes "$3" </dev/null' \
      _ "$T/hosts" "$SOCKPROBE" "$PORT"
    [ "$status" -eq 0 ]
    [ "$(jq -r 'select(.event == "connected") | .address' <<<"$output")" = "$fam" ]
    failures=$((failures + $(jq -c 'select(.event == "attempt_failed")' <<<"$output" | wc -l)))
  done
  # Whichever address getaddrinfo puts first, one of the two runs had to
  # fall through a refused address to the next.
  [ "$failures" -eq 1 ]
  # -v says it in text too.
  start_listener v4 /dev/null listen 127.0.0.1 0
  run timeout 10 "$SOCKPROBE" -v connect 127.0.0.1 "$PORT" </dev/null
  [ "$status" -eq 0 ]
  [[ $output == *"Connected to 127.0.0.1 $PORT (tcp, sndbuf "* ]]
}

@test "connect -s/-p bind the local address and port; -I/-O are reported" {
  start_listener srv /dev/null --json listen 127.0.0.1 0
  hold_port held 127.0.0.2 reuse
  local sport=$HELD
  run timeout 10 "$SOCKPROBE" --json connect -s 127.0.0.2 -p "$sport" -I 64K 127.0.0.1 "$PORT" </dev/null
  [ "$status" -eq 0 ]
  local rmax want
  rmax=$(cat /proc/sys/net/core/rmem_max)
  want=$((2 * (65536 < rmax ? 65536 : rmax)))
  [ "$(jq -r 'select(.event == "connected") | .rcvbuf' <<<"$output")" = "$want" ]
  [ "$(jq -r 'select(.event == "connected") | .local.address' <<<"$output")" = 127.0.0.2 ]
  bg_wait srv 10
  [ "$(jq -r 'select(.event == "accepted") | .peer.address' "$T/srv.err")" = 127.0.0.2 ]
  [ "$(jq -r 'select(.event == "accepted") | .peer.port' "$T/srv.err")" = "$sport" ]
  run "$SOCKPROBE" connect -s 127.0.0.1 -U /tmp/x
  [ "$status" -eq 2 ]
}

@test "connect: after the peer's EOF stdin is sent to its EOF; --stop-on-peer-eof stops" {
  # Default: the server half-closes at once and still gets all 8 MiB.
  make_random "$T/data" 8
  py_server py fin_then_read "$T/py.out"
  run timeout 30 "$SOCKPROBE" connect 127.0.0.1 "$PORT" <"$T/data"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  bg_wait py 10
  same_bytes "$T/py.out" "$T/data"
  # --keep-sending says the same explicitly.
  py_server py2 fin_then_read "$T/py2.out"
  run timeout 30 "$SOCKPROBE" connect --keep-sending 127.0.0.1 "$PORT" <"$T/data"
  [ "$status" -eq 0 ]
  bg_wait py2 10
  same_bytes "$T/py2.out" "$T/data"

  # --stop-on-peer-eof with a stdin that never ends: the peer's EOF ends it.
  mkfifo "$T/in"
  exec 5<>"$T/in"
  py_server py3 fin_then_read "$T/py3.out"
  bg_start cli "$T/in" "$SOCKPROBE" connect --stop-on-peer-eof 127.0.0.1 "$PORT"
  printf 'before' >&5
  bg_wait cli 10
  [ "$BG_STATUS" -eq 0 ]
  exec 5>&-

  # With a stdin file it knows how much was left unsent, and says so.
  make_random "$T/big" 64
  py_server py4 fin_then_read "$T/py4.out"
  run timeout 30 "$SOCKPROBE" connect --stop-on-peer-eof 127.0.0.1 "$PORT" <"$T/big"
  [ "$status" -eq 0 ]
  [[ $output =~ warning:\ the\ peer\ closed\ its\ side\ first:\ [0-9]+\ bytes\ of\ input\ were\ not\ sent ]]

  # A peer that half-closes, reads a little and closes: the rest cannot be
  # delivered, which is an error (exit 1) that says so, not a silent exit 0.
  bg_start py5 /dev/null "$PY" -c '
import socket, sys
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(1)
print("port", ls.getsockname()[1], file=sys.stderr, flush=True)
c, _ = ls.accept()
c.shutdown(socket.SHUT_WR)
n = 0
while n < (1 << 20):
    n += len(c.recv(1 << 16))
c.close()
'
  wait_for_line "$T/py5.err" '^port '
  PORT=$(sed -nE 's/^port ([0-9]+)/\1/p' "$T/py5.err")
  run timeout 30 "$SOCKPROBE" connect 127.0.0.1 "$PORT" <"$T/big"
  [ "$status" -eq 1 ]
  # (The hint is there when the FIN was read before the refused write,
  # nearly always: the peer's FIN comes before it reads 1 MiB.)
  [[ $output =~ ^sockprobe:\ write\ to\ 127\.0\.0\.1\ port\ $PORT\ \(tcp\):\ (Connection\ reset\ by\ peer|Broken\ pipe)(\ \(the\ peer\ closed\ the\ connection\ before\ reading\ all\ of\ the\ input\))?$ ]]

  run "$SOCKPROBE" connect --keep-sending --stop-on-peer-eof 127.0.0.1 1 </dev/null
  [ "$status" -eq 2 ]
  [[ $output == *"--keep-sending and --stop-on-peer-eof exclude each other"* ]]
}

@test "connect: a terminal on stdin ends the relay at the peer's EOF" {
  py_server py fin_then_read "$T/py.out"
  # stdin is a pseudo-terminal that never reaches EOF.
  run timeout 20 "$PY" -c '
import os, pty, subprocess, sys
master, slave = pty.openpty()
p = subprocess.Popen([sys.argv[1], "connect", "127.0.0.1", sys.argv[2]], stdin=slave)
os.close(slave)
try:
    sys.exit(p.wait(timeout=10))
except subprocess.TimeoutExpired:
    p.kill()
    sys.exit("still running 10s after the peer closed")
' "$SOCKPROBE" "$PORT"
  [ "$status" -eq 0 ]
  bg_wait py 10
}

@test "connect: stdin EOF half-closes and waits for the peer; --close-on-eof stops at once" {
  # Default: FIN sent, then the reply is still read (see relay.bats); with a
  # peer that never closes, only --close-on-eof (or a timeout) ends it.
  py_server py hold
  run timeout 10 "$SOCKPROBE" connect --close-on-eof 127.0.0.1 "$PORT" </dev/null
  [ "$status" -eq 0 ]
  py_server py2 hold
  run timeout 10 "$SOCKPROBE" connect --idle-timeout 300ms 127.0.0.1 "$PORT" </dev/null
  [ "$status" -eq 3 ]
  [[ $output == *"idle for 300.0ms"* ]]
}

@test "connect: a peer that resets is 'write to HOST port P (tcp): ...', exit 1 (SIGPIPE never kills)" {
  bg_start py /dev/null "$PY" -c '
import socket, struct, sys
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(1)
print("port", ls.getsockname()[1], file=sys.stderr, flush=True)
c, _ = ls.accept()
c.recv(10)
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.close()
'
  wait_for_line "$T/py.err" '^port '
  PORT=$(sed -nE 's/^port ([0-9]+)/\1/p' "$T/py.err")
  make_random "$T/data" 16
  run timeout 20 "$SOCKPROBE" connect 127.0.0.1 "$PORT" <"$T/data"
  [ "$status" -eq 1 ]
  # The reset may be seen by a write or by a read, as a reset or (after it)
  # as a broken pipe; the message names the operation and the target.
  [[ $output =~ ^sockprobe:\ (write\ to|read\ from)\ 127\.0\.0\.1\ port\ $PORT\ \(tcp\):\ (Connection\ reset\ by\ peer|Broken\ pipe)$ ]]
}

@test "connect --stall-timeout: a peer that never reads is a zero window, exit 3" {
  make_random "$T/big" 64
  py_no_read py
  local start end
  start=$(date +%s%N)
  run timeout 30 "$SOCKPROBE" connect --stall-timeout 1s 127.0.0.1 "$PORT" <"$T/big"
  end=$(date +%s%N)
  [ "$status" -eq 3 ]
  [[ $output == "sockprobe: write to 127.0.0.1 port $PORT (tcp): no progress for 1."*"s: the peer is not reading (its receive window is zero); "*" bytes queued in the kernel"* ]]
  # Within stall-timeout + 2 s (loose: not a speed test).
  [ $(((end - start) / 1000000)) -lt 3000 ]

  # JSON: a "stall" event with the kernel's numbers, then the error.
  py_no_read py2
  run timeout 30 "$SOCKPROBE" --json connect --stall-timeout 1s 127.0.0.1 "$PORT" <"$T/big"
  [ "$status" -eq 3 ]
  [ "$(jq -r 'select(.event == "stall") | .snd_wnd' <<<"$output")" = 0 ]
  [ "$(jq -r 'select(.event == "stall") | .outq > 0' <<<"$output")" = true ]
  [ "$(jq -r 'select(.event == "error") | .exit' <<<"$output")" = 3 ]

  run "$SOCKPROBE" connect --stall-timeout soon 127.0.0.1 1 </dev/null
  [ "$status" -eq 2 ]
  [[ $output == *"--stall-timeout"*"soon"* ]]
}

@test "connect: without --stall-timeout a stall is a warning after 10s and the relay goes on" {
  make_random "$T/big" 64
  py_no_read py
  bg_start cli "$T/big" "$SOCKPROBE" connect 127.0.0.1 "$PORT"
  wait_for_line "$T/cli.err" "warning: write to 127\.0\.0\.1 port $PORT \(tcp\): no progress for 10.*the peer is not reading.*still waiting" 30
  bg_alive cli
}

@test "connect -4/-6 and IPv6 literals" {
  [ -n "$(ip -6 addr show dev lo 2>/dev/null)" ] || skip "no IPv6 on lo"
  start_listener srv /dev/null --json listen -6 ::1 0
  run timeout 10 "$SOCKPROBE" --json connect -6 ::1 "$PORT" </dev/null
  [ "$status" -eq 0 ]
  [ "$(jq -r 'select(.event == "connected") | .address' <<<"$output")" = ::1 ]
  run "$SOCKPROBE" connect -4 ::1 "$PORT" </dev/null
  [ "$status" -eq 1 ]
  run "$SOCKPROBE" connect 127.0.0.1 </dev/null
  [ "$status" -eq 2 ]
  run "$SOCKPROBE" connect 127.0.0.1 0 </dev/null
  [ "$status" -eq 2 ]
}

@test "connect HOST:PORT and [V6]:PORT as one argument; service names for PORT" {
  start_listener a /dev/null listen -k 127.0.0.1 0
  run "$SOCKPROBE" connect -z "127.0.0.1:$PORT"
  [ "$status" -eq 0 ]
  [[ $output == "127.0.0.1 $PORT open"* ]]
  run timeout 10 "$SOCKPROBE" --json connect "127.0.0.1:$PORT" </dev/null
  [ "$status" -eq 0 ]
  [ "$(jq -r 'select(.event == "connected") | .port' <<<"$output")" = "$PORT" ]
  # Service names resolve through /etc/services (the ports may be closed here).
  grep -qE '^ssh[[:space:]]+22/tcp' /etc/services || skip "no /etc/services"
  run "$SOCKPROBE" --json connect -z -w 1 127.0.0.1 ssh,https
  [ "$(jq -sc '[.[] | select(.event == "port") | .port]' <<<"$output")" = '[22,443]' ]
  run "$SOCKPROBE" --json connect -z -w 1 127.0.0.1:https
  [ "$(jq -sc '[.[] | select(.event == "port") | .port]' <<<"$output")" = '[443]' ]
  [ -n "$(ip -6 addr show dev lo 2>/dev/null)" ] || skip "no IPv6 on lo"
  start_listener b /dev/null listen -k ::1 0
  run "$SOCKPROBE" connect -z "[::1]:$PORT"
  [ "$status" -eq 0 ]
  [[ $output == "[::1] $PORT open"* || $output == "::1 $PORT open"* ]]
}

@test "connect -U on a regular file or a directory says 'not a socket', exit 1" {
  : >"$T/plain"
  run "$SOCKPROBE" connect -U "$T/plain" </dev/null
  [ "$status" -eq 1 ]
  [[ $output == *"$T/plain"*"not a socket (a regular file)"* ]]
  run "$SOCKPROBE" connect -U "$T" </dev/null
  [ "$status" -eq 1 ]
  [[ $output == *"not a socket (a directory)"* ]]
}

@test "listen on a port below ip_unprivileged_port_start names the sysctl and CAP_NET_BIND_SERVICE" {
  local start low
  start=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)
  (( start > 1 )) || skip "every port is unprivileged here"
  low=$((start - 1))
  local -a as=()
  if [ "$(id -u)" = 0 ]; then
    command -v setpriv >/dev/null || skip "setpriv not installed"
    as=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all)
  fi
  run timeout 10 "${as[@]}" "$SOCKPROBE" listen 127.0.0.1 "$low" </dev/null
  [ "$status" -eq 1 ]
  [[ $output == *"Permission denied"*"net.ipv4.ip_unprivileged_port_start = $start"*"CAP_NET_BIND_SERVICE"* ]]
}

@test "connect -z --concurrency: filtered ports are probed at once, lines in port order" {
  blackhole_netns
  local start end
  start=$(date +%s%N)
  run timeout 20 ip netns exec "$NS" "$SOCKPROBE" connect -z -w 1s --concurrency 5 192.0.2.2 21-25
  end=$(date +%s%N)
  [ "$status" -eq 3 ]
  [ "${#lines[@]}" -eq 6 ]
  local i
  for i in 0 1 2 3 4; do [[ ${lines[i]} == "192.0.2.2 $((21 + i)) timeout"* ]]; done
  # One after another they take 5 s; at once about 1 s.
  (( (end - start) / 1000000 < 3000 ))
  # Mixed open and closed with more probes than ports: still in order.
  start_listener a /dev/null listen -k 127.0.0.1 0
  local open=$PORT
  hold_port held 127.0.0.1
  run "$SOCKPROBE" connect -z --concurrency 8 127.0.0.1 "$HELD,$open,$HELD-$((HELD))"
  [ "$status" -eq 1 ]
  [[ ${lines[0]} == "127.0.0.1 $HELD closed"* && ${lines[1]} == "127.0.0.1 $open open"* ]]
  run "$SOCKPROBE" connect --concurrency 2 127.0.0.1 "$open" </dev/null
  [ "$status" -eq 2 ]
  [[ $output == *"--concurrency goes with --count or --zero-io"* ]]
}

@test "connect -z --wait: exit 0 once a late listener opens, 3 when the deadline passes" {
  hold_port held 127.0.0.1
  local port=$HELD
  # Nothing listens: exit 3 after about the deadline.
  local start end
  start=$(date +%s%N)
  run timeout 20 "$SOCKPROBE" connect -z --wait 700ms 127.0.0.1 "$port"
  end=$(date +%s%N)
  [ "$status" -eq 3 ]
  [[ ${lines[0]} == "127.0.0.1 $port closed"* ]]
  [[ $output == *"1 of 1 ports on 127.0.0.1 not open after waiting"* ]]
  (( (end - start) / 1000000 >= 400 && (end - start) / 1000000 < 5000 ))  # the last retry is not squeezed in
  # A listener that starts 1 s after the check began: found open, exit 0.
  local late_port
  late_port=$(free_port)
  bg_start late /dev/null "$PY" -c '
import socket, sys, time
time.sleep(1.0)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
print("listening", file=sys.stderr, flush=True)
time.sleep(30)
' "$late_port"
  run timeout 20 "$SOCKPROBE" --json connect -z --wait 10s 127.0.0.1 "$late_port"
  [ "$status" -eq 0 ]
  [ "$(jq -r 'select(.event == "port") | .state' <<<"$output")" = open ]
  (( $(jq -r 'select(.event == "port") | .attempts' <<<"$output") > 1 ))
  run "$SOCKPROBE" connect --wait 1s 127.0.0.1 "$late_port" </dev/null
  [ "$status" -eq 2 ]
  [[ $output == *"--wait goes with --zero-io"* ]]
}

@test "connect -z: a name that does not resolve is 'unresolved', not closed; -q prints nothing" {
  run timeout 30 "$SOCKPROBE" connect -z nosuch.invalid 80
  [ "$status" -eq 1 ]
  [[ ${lines[0]} == "nosuch.invalid 80 unresolved"* ]]
  [[ $output != *closed* ]]
  run timeout 30 "$SOCKPROBE" --json connect -z nosuch.invalid 80,81
  [ "$(jq -sc '[.[] | select(.event == "port") | .state]' <<<"$output")" = '["unresolved","unresolved"]' ]
  hold_port held 127.0.0.1
  run --separate-stderr "$SOCKPROBE" -q connect -z 127.0.0.1 "$HELD"
  [ "$status" -eq 1 ]
  [ -z "$output" ]
  [ -z "$stderr" ]
  start_listener a /dev/null listen -k 127.0.0.1 0
  run --separate-stderr "$SOCKPROBE" connect -z -q 127.0.0.1 "$PORT"
  [ "$status" -eq 0 ]
  [ -z "$output" ] && [ -z "$stderr" ]
}

@test "connect -z -q --json: -q silences human text only; the error event keeps its message" {
  hold_port held 127.0.0.1
  run --separate-stderr "$SOCKPROBE" -q --json connect -z 127.0.0.1 "$HELD"
  [ "$status" -eq 1 ]
  [ "$(jq -r 'select(.event == "port") | .state' <<<"$output")" = closed ]
  [ "$(jq -c 'select(.event == "error") | [.kind, .message, .exit]' <<<"$stderr")" = \
    "[\"system\",\"1 of 1 ports closed on 127.0.0.1\",1]" ] || { echo "stderr: $stderr"; false; }
  # The same run without --json still prints nothing at all.
  run --separate-stderr "$SOCKPROBE" -q connect -z 127.0.0.1 "$HELD"
  [ "$status" -eq 1 ]
  [ -z "$output" ] && [ -z "$stderr" ]
}

@test "-vv says what -v says: there is one verbose level (documented in --help)" {
  local port
  port=$(free_port)
  run -1 "$SOCKPROBE" -v connect 127.0.0.1 "$port"
  local once=$output
  run -1 "$SOCKPROBE" -vv connect 127.0.0.1 "$port"
  [ "$output" = "$once" ]
  "$SOCKPROBE" --help | grep -q -- '-vv is the same as -v'
}
