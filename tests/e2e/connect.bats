#!/usr/bin/env bats
# `sockprobe connect` end to end: -z with lists and ranges and its exit
# codes, refused and timed-out connects (the timeout against an address in a
# namespace the test creates and blackholes), every resolved address tried,
# -s/-p, -I/-O, peer EOF (default stop vs --keep-sending), --close-on-eof,
# --idle-timeout, a reset peer.

load helpers

setup() { sp_setup; }
teardown() { sp_teardown; }

@test "connect -z: open, closed, lists and ranges; exit 0 only when every port is open" {
  start_listener a /dev/null listen -k 127.0.0.1 0
  local open1=$PORT
  start_listener b /dev/null listen -k 127.0.0.1 0
  local open2=$PORT
  local closed
  closed=$(free_port)

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
  local port
  port=$(free_port)
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
  local sport
  sport=$(free_port)
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

@test "connect: peer EOF with stdin still open stops by default; --keep-sending sends the rest" {
  mkfifo "$T/in"
  exec 5<>"$T/in"  # stdin that never ends
  py_server py fin_then_read "$T/py1.out"
  bg_start cli "$T/in" "$SOCKPROBE" connect 127.0.0.1 "$PORT"
  printf 'before' >&5
  bg_wait cli 10
  [ "$BG_STATUS" -eq 0 ]
  exec 5>&-

  # With a stdin file it knows how much was left unsent, and says so.
  make_random "$T/big" 64
  py_server py3 fin_then_read "$T/py3.out"
  run timeout 30 "$SOCKPROBE" connect 127.0.0.1 "$PORT" <"$T/big"
  [ "$status" -eq 0 ]
  [[ $output =~ warning:\ the\ peer\ closed\ its\ side\ first:\ [0-9]+\ bytes\ of\ input\ were\ not\ sent ]]

  # --keep-sending: the server half-closes at once and still gets 8 MiB.
  make_random "$T/data" 8
  py_server py2 fin_then_read "$T/py2.out"
  run timeout 30 "$SOCKPROBE" connect --keep-sending 127.0.0.1 "$PORT" <"$T/data"
  [ "$status" -eq 0 ]
  bg_wait py2 10
  same_bytes "$T/py2.out" "$T/data"
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

@test "connect: a peer that resets is an error message and exit 1 (SIGPIPE never kills)" {
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
  [[ $output == *"Connection reset by peer"* || $output == *"Broken pipe"* ]]
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
