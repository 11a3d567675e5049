#!/usr/bin/env bats
# `sockprobe listen` end to end: the listening line and JSON event, backlog
# and buffer reports, accepted/closed reports, -k, --echo with 100 clients at
# once, --discard, --max-conns, --allow/--deny, surviving EMFILE, Unix/UDP,
# and a relay stall (--stall-timeout) naming the client.

bats_require_minimum_version 1.5.0

load helpers

setup() { sp_setup; }
teardown() { sp_teardown; }

@test "listen: text line gives address and port; JSON listening event has every field" {
  start_listener txt /dev/null listen 127.0.0.1 0
  [ "$PORT" -gt 0 ]
  [[ $(head -1 "$T/txt.err") =~ ^Listening\ on\ 127\.0\.0\.1\ $PORT\ \(tcp,\ backlog\ ([0-9]+),\ accept\ queue\ 0/([0-9]+),\ sndbuf\ [0-9]+,\ rcvbuf\ [0-9]+\)$ ]]
  [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ]

  start_listener js /dev/null --json listen -b 7 127.0.0.1 0
  local ev
  ev=$(head -1 "$T/js.err")
  [ "$(jq -r .event <<<"$ev")" = listening ]
  [ "$(jq -r .address <<<"$ev")" = 127.0.0.1 ]
  [ "$(jq -r .port <<<"$ev")" = "$PORT" ]
  [ "$(jq -r .protocol <<<"$ev")" = tcp ]
  [ "$(jq -r .backlog.requested <<<"$ev")" = 7 ]
  [ "$(jq -r .backlog.effective <<<"$ev")" = 7 ]
  # The accept queue right now, named as in "accepted".
  [ "$(jq -c .accept_queue <<<"$ev")" = '{"depth":0,"max":7}' ]
  [ "$(jq -r '.sndbuf | type' <<<"$ev")" = number ]
  [ "$(jq -r '.rcvbuf | type' <<<"$ev")" = number ]
  [ "$(jq -r '.sndbuf > 0 and .rcvbuf > 0' <<<"$ev")" = true ]
  # The port it reports is really the one it listens on.
  ss -ltnH "sport = :$PORT" | grep -q "127.0.0.1:$PORT"
}

@test "listen: -b is clamped by the namespace's somaxconn and the effective value is reported" {
  plain_netns
  ip netns exec "$NS" sysctl -qw net.core.somaxconn=64
  bg_start big /dev/null ip netns exec "$NS" "$SOCKPROBE" --json listen -b 1000 127.0.0.1 0
  wait_for_line "$T/big.err" '"event":"listening"'
  [ "$(jq -r .backlog.requested "$T/big.err")" = 1000 ]
  [ "$(jq -r .backlog.effective "$T/big.err")" = 64 ]
  # Without -b the request is somaxconn itself (as Go does).
  bg_start dflt /dev/null ip netns exec "$NS" "$SOCKPROBE" listen 127.0.0.1 0
  wait_for_line "$T/dflt.err" '^Listening on'
  grep -Eq '\(tcp, backlog 64, ' "$T/dflt.err"
  # Text shows the request when it was clamped.
  bg_start txt /dev/null ip netns exec "$NS" "$SOCKPROBE" listen -b 500 127.0.0.1 0
  wait_for_line "$T/txt.err" '^Listening on'
  grep -Eq 'backlog 64 \(requested 500\)' "$T/txt.err"
}

@test "listen: -I/-O are applied before listen() and reported as the kernel's values" {
  local rmax wmax want_r want_s
  rmax=$(cat /proc/sys/net/core/rmem_max)
  wmax=$(cat /proc/sys/net/core/wmem_max)
  want_r=$((2 * (65536 < rmax ? 65536 : rmax)))
  want_s=$((2 * (32768 < wmax ? 32768 : wmax)))
  start_listener srv /dev/null --json listen -I 64K -O 32K 127.0.0.1 0
  [ "$(jq -r .rcvbuf "$T/srv.err")" = "$want_r" ]
  [ "$(jq -r .sndbuf "$T/srv.err")" = "$want_s" ]
  # The accepted socket inherits them and its report says so.
  printf 'x' | timeout 10 nc -N 127.0.0.1 "$PORT" >/dev/null
  bg_wait srv 10
  [ "$(jq -r 'select(.event == "accepted") | .rcvbuf' "$T/srv.err")" = "$want_r" ]
  [ "$(jq -r 'select(.event == "accepted") | .sndbuf' "$T/srv.err")" = "$want_s" ]
  run "$SOCKPROBE" listen -I 12X 0
  [ "$status" -eq 2 ]
  [[ $output == *"--rcvbuf: '12X'"* ]]
}

# hold_client NAME PORT: a python3 client of 127.0.0.1 PORT that sends
# nothing and keeps the connection open; sets CPORT to its local port.
hold_client() {
  local lport=$2
  py_start "$1" '
import socket, sys, time
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
print("port", c.getsockname()[1], file=sys.stderr, flush=True)
time.sleep(60)
' "$lport"
  CPORT=$PORT
  PORT=$lport
}

# The kernel's own numbers for sockprobe's accepted socket (sockpeek.py:
# getsockopt on a pidfd_getfd copy), as JSON.
peek_accepted() { "$PY" "$BATS_TEST_DIRNAME/sockpeek.py" "$(bg_pid "$1")" "$PORT" "$CPORT"; }

@test "listen: an accepted socket's buffers are its own, as getsockopt reads them, not the listener's" {
  local lis acc peek wmem1 wmem2 rmem1
  read -r _ wmem1 wmem2 </proc/sys/net/ipv4/tcp_wmem
  read -r _ rmem1 _ </proc/sys/net/ipv4/tcp_rmem
  start_listener srv /dev/null --json listen 127.0.0.1 0
  hold_client cli "$PORT"
  wait_for_line "$T/srv.err" '"event":"accepted"'
  lis=$(jq -c 'select(.event == "listening")' "$T/srv.err")
  acc=$(jq -c 'select(.event == "accepted")' "$T/srv.err")
  peek=$(peek_accepted srv)
  # What sockprobe reports is what getsockopt says on that very socket.
  jq -e --argjson p "$peek" '.sndbuf == $p.sndbuf and .rcvbuf == $p.rcvbuf' <<<"$acc"
  # Nothing set: the listener has the defaults; the accepted socket's send
  # buffer was grown at the handshake (tcp_sndbuf_expand, up to tcp_wmem[2]),
  # its receive buffer starts at tcp_rmem[1] (no data has arrived yet).
  jq -e --argjson w "$wmem1" --argjson r "$rmem1" '.sndbuf == $w and .rcvbuf == $r' <<<"$lis"
  if [ "$wmem2" -gt "$wmem1" ]; then
    jq -e --argjson w1 "$wmem1" --argjson w2 "$wmem2" '.sndbuf > $w1 and .sndbuf <= $w2' <<<"$acc"
  fi
  jq -e --argjson r "$rmem1" '.rcvbuf == $r' <<<"$acc"
  # The text line gives the same numbers.
  start_listener txt /dev/null -v listen 127.0.0.1 0
  hold_client cli2 "$PORT"
  wait_for_line "$T/txt.err" '^Connection from '
  peek=$(peek_accepted txt)
  grep -q "^Connection from 127\.0\.0\.1 $CPORT (sndbuf $(jq .sndbuf <<<"$peek"), rcvbuf $(jq .rcvbuf <<<"$peek")," "$T/txt.err"
  # Set on the listener (-O/-I): every accepted socket gets the same, locked.
  start_listener set /dev/null --json listen -O 16K -I 32K 127.0.0.1 0
  hold_client cli3 "$PORT"
  wait_for_line "$T/set.err" '"event":"accepted"'
  lis=$(jq -c 'select(.event == "listening")' "$T/set.err")
  acc=$(jq -c 'select(.event == "accepted")' "$T/set.err")
  peek=$(peek_accepted set)
  jq -e --argjson p "$peek" --argjson l "$lis" \
    '.sndbuf == $p.sndbuf and .rcvbuf == $p.rcvbuf and .sndbuf == $l.sndbuf and .rcvbuf == $l.rcvbuf' <<<"$acc"
}

@test "listen: accepted and closed reports: peer, buffers, accept queue, bytes, TCP_INFO" {
  printf 'from server' >"$T/in"
  start_listener srv "$T/in" --json listen 127.0.0.1 0
  printf 'hello' | timeout 10 nc -N 127.0.0.1 "$PORT" >"$T/nc.out"
  bg_wait srv 10
  [ "$BG_STATUS" -eq 0 ]
  [ "$(cat "$T/nc.out")" = "from server" ]
  [ "$(cat "$T/srv.out")" = "hello" ]
  local acc closed
  acc=$(jq -c 'select(.event == "accepted")' "$T/srv.err")
  [ "$(jq -r .peer.address <<<"$acc")" = 127.0.0.1 ]
  [ "$(jq -r '.peer.port > 0' <<<"$acc")" = true ]
  [ "$(jq -r '.accept_queue.depth | type' <<<"$acc")" = number ]
  [ "$(jq -r '.accept_queue.max > 0' <<<"$acc")" = true ]
  [ "$(jq -r '.sndbuf > 0 and .rcvbuf > 0' <<<"$acc")" = true ]
  closed=$(jq -c 'select(.event == "closed")' "$T/srv.err")
  [ "$(jq -r .bytes_in <<<"$closed")" = 5 ]
  [ "$(jq -r .bytes_out <<<"$closed")" = 11 ]
  [ "$(jq -r '.seconds >= 0' <<<"$closed")" = true ]
  # The closed socket's effective buffers (autotuning may have grown them).
  [ "$(jq -r '.sndbuf > 0 and .rcvbuf > 0' <<<"$closed")" = true ]
  [ "$(jq -r '.tcp_info.rtt | type' <<<"$closed")" = number ]
  [ "$(jq -r '.tcp_info.retransmits | type' <<<"$closed")" = number ]
  [ "$(jq -r '.tcp_info.snd_cwnd > 0' <<<"$closed")" = true ]
  # In text mode the closed line needs -v.
  start_listener quiet /dev/null listen 127.0.0.1 0
  printf 'a' | timeout 10 nc -N 127.0.0.1 "$PORT" >/dev/null
  bg_wait quiet 10
  grep -q '^Connection from 127\.0\.0\.1 ' "$T/quiet.err"
  run ! grep -q '^Closed' "$T/quiet.err"
  start_listener verbose /dev/null -v listen 127.0.0.1 0
  printf 'a' | timeout 10 nc -N 127.0.0.1 "$PORT" >/dev/null
  bg_wait verbose 10
  grep -Eq '^Closed 127\.0\.0\.1 [0-9]+: 1 in, 0 out, [^,]+, sndbuf [0-9]+, rcvbuf [0-9]+, .*rtt .*retrans [0-9]+, cwnd [0-9]+' "$T/verbose.err"
  # The two TCP_INFO times are labelled: "rtt 45us (rttvar 22us)", not "45us/22us".
  grep -Eq '^Closed .*, rtt [0-9.]+(us|ms|s) \(rttvar [0-9.]+(us|ms|s)\), retrans [0-9]+, cwnd [0-9]+' "$T/verbose.err" ||
    { show "$T/verbose.err"; false; }
  [ "$(jq -r '.tcp_info.rttvar | type' <<<"$closed")" = number ]
}

@test "listen: without -k one connection is relayed and the listener exits; with -k it keeps accepting" {
  printf 'first' >"$T/in"
  start_listener once /dev/null listen 127.0.0.1 0
  printf 'a' | timeout 10 nc -N 127.0.0.1 "$PORT" >/dev/null
  bg_wait once 10
  [ "$BG_STATUS" -eq 0 ]

  start_listener keep "$T/in" -v listen -k 127.0.0.1 0
  printf 'one\n' | timeout 10 nc -N 127.0.0.1 "$PORT" >"$T/c1.out"
  printf 'two\n' | timeout 10 nc -N 127.0.0.1 "$PORT" >"$T/c2.out"
  printf 'three\n' | timeout 10 nc -N 127.0.0.1 "$PORT" >"$T/c3.out"
  bg_alive keep
  [ "$(cat "$T/keep.out")" = "$(printf 'one\ntwo\nthree')" ]
  # stdin goes to the first connection only.
  [ "$(cat "$T/c1.out")" = first ]
  [ ! -s "$T/c2.out" ]
  [ "$(grep -c '^Closed ' "$T/keep.err")" -eq 3 ]
}

@test "listen --echo -k: 100 concurrent clients each get exactly their bytes back" {
  start_listener echo /dev/null --json listen --echo -k 127.0.0.1 0
  run py_clients "$PORT" 100 200000 60
  [ "$output" = "ok 100" ]
  bg_alive echo
  # Every connection was reported twice (accepted, closed) with its counts.
  local i
  for ((i = 0; i < 100; i++)); do
    [ "$(grep -c '"event":"closed"' "$T/echo.err")" -ge 100 ] && break
    sleep 0.05
  done
  [ "$(jq -c 'select(.event == "accepted")' "$T/echo.err" | wc -l)" -eq 100 ]
  [ "$(jq -c 'select(.event == "closed" and .bytes_in == 200000 and .bytes_out == 200000)' "$T/echo.err" | wc -l)" -eq 100 ]
  # And it still serves afterwards.
  run py_clients "$PORT" 3 10 20
  [ "$output" = "ok 3" ]
}

@test "listen --echo --max-conns 5: 40 clients are all served, 5 at a time" {
  start_listener echo /dev/null listen --echo --max-conns 5 127.0.0.1 0
  run py_clients "$PORT" 40 50000 60
  [ "$output" = "ok 40" ]
  bg_alive echo
}

@test "listen --discard reads and drops; closed event counts the bytes" {
  start_listener sink /dev/null --json listen --discard 127.0.0.1 0
  head -c 1048576 /dev/urandom >"$T/data"
  timeout 20 nc -N 127.0.0.1 "$PORT" <"$T/data" >"$T/nc.out"
  [ ! -s "$T/nc.out" ]
  wait_for_line "$T/sink.err" '"event":"closed"'
  [ "$(jq -r 'select(.event == "closed") | .bytes_in' "$T/sink.err")" = 1048576 ]
  [ "$(jq -r 'select(.event == "closed") | .bytes_out' "$T/sink.err")" = 0 ]
  [ ! -s "$T/sink.out" ]
}

@test "listen --deny/--allow: refused peers are closed at once and reported" {
  # Deny 127.0.0.1: its connection gets no echo; 127.0.0.2 is served.
  start_listener deny /dev/null listen --echo --deny 127.0.0.1/32 127.0.0.1 0
  run bash -c 'printf hi | timeout 10 nc -N -s 127.0.0.1 127.0.0.1 "$1"' _ "$PORT"
  [ -z "$output" ]
  wait_for_line "$T/deny.err" '^Refused connection from 127\.0\.0\.1:[0-9]+ '
  run bash -c 'printf hi | timeout 10 nc -N -s 127.0.0.2 127.0.0.1 "$1"' _ "$PORT"
  [ "$output" = hi ]

  # Allow only 127.0.0.2/32 (JSON report this time).
  start_listener allow /dev/null --json listen --echo --allow 127.0.0.2/32 127.0.0.1 0
  run bash -c 'printf hi | timeout 10 nc -N -s 127.0.0.1 127.0.0.1 "$1"' _ "$PORT"
  [ -z "$output" ]
  wait_for_line "$T/allow.err" '"event":"refused"'
  [ "$(jq -r 'select(.event == "refused") | .peer.address' "$T/allow.err")" = 127.0.0.1 ]
  run bash -c 'printf hi | timeout 10 nc -N -s 127.0.0.2 127.0.0.1 "$1"' _ "$PORT"
  [ "$output" = hi ]

  # Relay mode too: the refused peer does not consume the one connection.
  printf 'payload' >"$T/in"
  start_listener relay "$T/in" listen --allow 127.0.0.2 127.0.0.1 0
  run bash -c 'timeout 10 nc -N -s 127.0.0.1 127.0.0.1 "$1" </dev/null' _ "$PORT"
  [ -z "$output" ]
  run bash -c 'timeout 10 nc -N -s 127.0.0.2 127.0.0.1 "$1" </dev/null' _ "$PORT"
  [ "$output" = payload ]
  bg_wait relay 10
  [ "$BG_STATUS" -eq 0 ]
  run "$SOCKPROBE" listen --allow 10.0.0.300/8 0
  [ "$status" -eq 2 ]
}

@test "listen -u --deny/--allow: filters apply to every datagram; only the chosen peer's reach stdout" {
  # python3 senders from chosen loopback addresses; each sends its datagrams
  # in order, one process per call.
  local send='import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
for m in sys.argv[4:]:
    s.sendto(m.encode(), ("127.0.0.1", int(sys.argv[3])))'
  start_listener u /dev/null listen -u --deny 127.0.0.2/32 127.0.0.1 0
  # Stopped, so everything below is queued before the listener picks a peer:
  # a denied sender first, then the peer, then another allowed sender.
  kill -STOP "$(bg_pid u)"
  "$PY" -c "$send" 127.0.0.2 0 "$PORT" denied1 denied2
  "$PY" -c "$send" 127.0.0.3 0 "$PORT" "peer1 "
  "$PY" -c "$send" 127.0.0.4 0 "$PORT" other1 other2
  kill -CONT "$(bg_pid u)"
  wait_for_line "$T/u.err" '^Connection from 127\.0\.0\.3 [0-9]+ '
  wait_for_size "$T/u.out" 6
  # The peer goes on being relayed.
  local peer_port
  peer_port=$(sed -nE 's/^Connection from 127\.0\.0\.3 ([0-9]+) .*/\1/p' "$T/u.err")
  "$PY" -c "$send" 127.0.0.3 "$peer_port" "$PORT" peer2
  wait_for_size "$T/u.out" 11
  kill -INT "$(bg_pid u)"
  bg_wait u 10
  [ "$BG_STATUS" -eq 130 ]
  [ "$(cat "$T/u.out")" = "peer1 peer2" ]
  # Said once per refused sender; the allowed non-peer's two queued datagrams
  # were dropped and counted.
  [ "$(grep -c '^Refused datagrams from 127\.0\.0\.2:[0-9]* (--allow/--deny)' "$T/u.err")" -eq 1 ]
  grep -q 'warning: dropped 2 datagrams from other senders (only 127\.0\.0\.3:[0-9]*.s reach standard output)' "$T/u.err"

  # --allow: a sender outside it never becomes the peer (JSON report).
  printf 'back' >"$T/in"
  start_listener a "$T/in" --json listen -u --allow 127.0.0.5/32 127.0.0.1 0
  "$PY" -c "$send" 127.0.0.6 0 "$PORT" nope
  wait_for_line "$T/a.err" '"event":"refused"'
  [ "$(jq -r 'select(.event == "refused") | .peer.address' "$T/a.err")" = 127.0.0.6 ]
  run "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.5", 0))
s.settimeout(10)
s.sendto(b"yes", ("127.0.0.1", int(sys.argv[1])))
print(s.recv(100).decode())' "$PORT"
  [ "$output" = back ]
  wait_for_size "$T/a.out" 3
  [ "$(cat "$T/a.out")" = yes ]
}

@test "listen --echo survives EMFILE: ulimit -n 16, 60 clients at once, all served" {
  # --max-conns above the limit: the default (limit less 16) would never reach EMFILE.
  bg_start echo /dev/null bash -c 'ulimit -n 16 && exec "$0" listen --echo -k --max-conns 1000 127.0.0.1 0' "$SOCKPROBE"
  wait_for_line "$T/echo.err" '^Listening on'
  PORT=$(listening_port "$T/echo.err")
  run py_clients "$PORT" 60 1000 90
  [ "$output" = "ok 60" ]
  bg_alive echo
  # It said so, once per burst (not once per retry), naming the errno.
  grep -q 'accept: Too many open files; retrying in 5ms' "$T/echo.err"
  local bursts
  bursts=$(grep -c 'retrying in' "$T/echo.err")
  [ "$bursts" -ge 1 ] && [ "$bursts" -le 60 ]
  # Still serving after the storm.
  run py_clients "$PORT" 5 100 20
  [ "$output" = "ok 5" ]
}

@test "listen --echo: the default --max-conns (open-file limit less 16) is reached, said once, and every client served" {
  bg_start echo /dev/null bash -c 'ulimit -n 20 && exec "$0" listen --echo -k 127.0.0.1 0' "$SOCKPROBE"
  wait_for_line "$T/echo.err" '^Listening on'
  PORT=$(listening_port "$T/echo.err")
  run py_clients "$PORT" 30 1000 90
  [ "$output" = "ok 30" ]
  bg_alive echo
  [ "$(grep -c -- '--max-conns 4 reached' "$T/echo.err")" -eq 1 ]
  ! grep -q 'Too many open files' "$T/echo.err"
}

@test "listen -k relay mode survives EMFILE too" {
  # 3 std fds + listener + SIGINT self-pipe (2) = 6: no room to accept.
  # The connection waits in the queue while the loop backs off; a wait of
  # several seconds is expected, so the clients are patient.
  bg_start relay /dev/null bash -c 'ulimit -n 7 && exec "$0" listen -k 127.0.0.1 0' "$SOCKPROBE"
  wait_for_line "$T/relay.err" '^Listening on'
  PORT=$(listening_port "$T/relay.err")
  printf 'x' | timeout 10 nc -N 127.0.0.1 "$PORT" >/dev/null || true
  wait_for_line "$T/relay.err" 'accept: Too many open files; retrying in'
  bg_alive relay
}

@test "listen without HOST is dual-stack: IPv4 and IPv6 clients both reach it" {
  # Binding every address is done inside a namespace of our own, whose only
  # interface is its lo.
  plain_netns
  [ -n "$(ip -n "$NS" -6 addr show dev lo 2>/dev/null)" ] || skip "no IPv6 on lo in the namespace"
  bg_start dual /dev/null ip netns exec "$NS" "$SOCKPROBE" listen --echo 0
  wait_for_line "$T/dual.err" '^Listening on'
  PORT=$(listening_port "$T/dual.err")
  grep -q '^Listening on :: ' "$T/dual.err"
  run bash -c 'printf v4 | timeout 10 ip netns exec "$1" nc -N 127.0.0.1 "$2"' _ "$NS" "$PORT"
  [ "$output" = v4 ]
  run bash -c 'printf v6 | timeout 10 ip netns exec "$1" nc -N ::1 "$2"' _ "$NS" "$PORT"
  [ "$output" = v6 ]
  # IPv4 peers are shown as IPv4, not ::ffff:127.0.0.1.
  grep -q '^Connection from 127\.0\.0\.1 ' "$T/dual.err"
  grep -q '^Connection from ::1 ' "$T/dual.err"
  bg_start four /dev/null ip netns exec "$NS" "$SOCKPROBE" listen -4 0
  wait_for_line "$T/four.err" '^Listening on'
  grep -q '^Listening on 0\.0\.0\.0 ' "$T/four.err"
}

@test "listen HOST:PORT and [V6]:PORT as one argument, as connect takes them" {
  start_listener hp /dev/null --json listen --echo 127.0.0.1:0
  [ "$(jq -r 'select(.event == "listening") | "\(.address) \(.port > 0)"' "$T/hp.err")" = "127.0.0.1 true" ]
  run bash -c 'printf hp | timeout 10 nc -N 127.0.0.1 "$1"' _ "$PORT"
  [ "$output" = hp ]
  if ip -6 addr show dev lo 2>/dev/null | grep -q '::1/'; then
    start_listener v6 /dev/null listen '[::1]:0'
    grep -q '^Listening on ::1 [0-9]' "$T/v6.err"
  fi
  # HOST:PORT fills both spots: a PORT after it is one argument too many.
  run "$SOCKPROBE" listen 127.0.0.1:0 80
  [ "$status" -eq 2 ]
  [[ $output == *"unexpected argument '80'"* ]]
}

@test "listen: a port in use is exit 1 with the errno; bad values are exit 2" {
  start_listener first /dev/null listen 127.0.0.1 0
  run "$SOCKPROBE" listen 127.0.0.1 "$PORT"
  [ "$status" -eq 1 ]
  [[ $output == *"127.0.0.1:$PORT: Address already in use"* ]]
  run "$SOCKPROBE" listen --echo --discard 0
  [ "$status" -eq 2 ]
  run "$SOCKPROBE" listen -b many 0
  [ "$status" -eq 2 ]
  [[ $output == *"--backlog"* ]]
  run "$SOCKPROBE" listen 65536
  [ "$status" -eq 2 ]
}

@test "listen -U: JSON event, stale socket file replaced, live one refused" {
  local sock=$T/l.sock
  start_listener u1 /dev/null --json listen -U "$sock"
  [ "$(jq -r .protocol "$T/u1.err")" = unix ]
  # A Unix endpoint is {"path"}, inline here as in every endpoint object.
  [ "$(jq -r .path "$T/u1.err")" = "$sock" ]
  [ "$(jq -r 'has("port") or has("address")' "$T/u1.err")" = false ]
  [ "$(jq -r '.backlog.effective > 0' "$T/u1.err")" = true ]
  [ "$(jq -r '.accept_queue.depth' "$T/u1.err")" = 0 ]
  # A live listener on the path: error, and its file is left alone.
  run "$SOCKPROBE" listen -U "$sock"
  [ "$status" -eq 1 ]
  [[ $output == *"Address already in use"* ]]
  [ -S "$sock" ]
  # A stale socket file (its owner killed): replaced.
  kill -9 "$(bg_pid u1)"
  bg_wait u1 5
  [ -S "$sock" ]
  start_listener u2 /dev/null listen -U "$sock"
  printf 'over unix' | timeout 10 nc -N -U "$sock" >/dev/null
  bg_wait u2 10
  [ "$(cat "$T/u2.out")" = "over unix" ]
  [ ! -e "$sock" ]
  # A regular file is never replaced.
  : >"$T/plain"
  run "$SOCKPROBE" listen -U "$T/plain"
  [ "$status" -eq 1 ]
  [ -f "$T/plain" ]
}

@test "listen -u: JSON event says udp with buffers and no backlog" {
  start_listener u /dev/null --json listen -u 127.0.0.1 0
  [ "$(jq -r .protocol "$T/u.err")" = udp ]
  [ "$(jq -r 'has("backlog")' "$T/u.err")" = false ]
  [ "$(jq -r '.rcvbuf > 0' "$T/u.err")" = true ]
  ss -lunH "sport = :$PORT" | grep -q "127.0.0.1:$PORT"
}

@test "listen --echo: SIGINT prints what was served and exits 130" {
  start_listener echo /dev/null listen --echo 127.0.0.1 0
  run py_clients "$PORT" 3 1000 20
  [ "$output" = "ok 3" ]
  kill -INT "$(bg_pid echo)"
  bg_wait echo 10
  [ "$BG_STATUS" -eq 130 ]
  grep -Eq '^Interrupted after .*: 3 connections, 3000 in, 3000 out$' "$T/echo.err"

  # JSON: the "served" event (not "summary", which is send/recv's).
  start_listener js /dev/null --json listen --echo 127.0.0.1 0
  run py_clients "$PORT" 2 500 20
  [ "$output" = "ok 2" ]
  kill -INT "$(bg_pid js)"
  bg_wait js 10
  [ "$BG_STATUS" -eq 130 ]
  [ "$(jq -c 'select(.event == "served") | [.connections, .bytes_in, .bytes_out]' "$T/js.err")" = "[2,1000,1000]" ]
  [ "$(jq -r 'select(.event == "served") | .seconds >= 0' "$T/js.err")" = true ]
  run ! grep -q '"event":"summary"' "$T/js.err"
  [ "$(tail -1 "$T/js.err" | jq -r '[.event, .kind, .exit] | join(" ")')" = "error interrupted 130" ]
}

@test "listen -k (relay): SIGINT reports the served total too" {
  start_listener keep /dev/null --json listen -k 127.0.0.1 0
  printf 'abc' | timeout 10 nc -N 127.0.0.1 "$PORT" >/dev/null
  printf 'de' | timeout 10 nc -N 127.0.0.1 "$PORT" >/dev/null
  wait_for_line "$T/keep.err" '"event":"accepted","id":2'
  kill -INT "$(bg_pid keep)"
  bg_wait keep 10
  [ "$BG_STATUS" -eq 130 ]
  [ "$(jq -c 'select(.event == "served") | [.connections, .bytes_in]' "$T/keep.err")" = "[2,5]" ]
}

@test "listen --idle-timeout: exit 3 without -k; with -k the idle connection is closed and the next one served" {
  mkfifo "$T/in"
  exec 5<>"$T/in"
  start_listener once "$T/in" listen --idle-timeout 300ms 127.0.0.1 0
  bg_start c1 /dev/null "$PY" -c 'import socket, sys, time; s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); time.sleep(30)' "$PORT"
  bg_wait once 10
  [ "$BG_STATUS" -eq 3 ]
  grep -q 'idle for 300.0ms' "$T/once.err"
  bg_stop c1

  start_listener keep /dev/null listen -k --idle-timeout 300ms 127.0.0.1 0
  bg_start c2 /dev/null "$PY" -c 'import socket, sys, time; s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); time.sleep(30)' "$PORT"
  wait_for_line "$T/keep.err" 'warning: connection from 127\.0\.0\.1:[0-9]+: idle for 300\.0ms'
  bg_alive keep
  run bash -c 'printf later | timeout 10 nc -N 127.0.0.1 "$1"' _ "$PORT"
  [ "$status" -eq 0 ]
  wait_for_size "$T/keep.out" 5
  [ "$(cat "$T/keep.out")" = later ]
  exec 5>&-
}

# --- Unix listeners: signals, accept queue, datagrams --------------------------

# term_leaves_no_file NAME SIGNAL SOCK: the listener NAME, killed by SIGNAL,
# ends as that signal's default action would and leaves no file at SOCK.
term_leaves_no_file() {
  local name=$1 sig=$2 sock=$3 want
  [ -S "$sock" ]
  kill -"$sig" "$(bg_pid "$name")"
  bg_wait "$name" 10
  want=$((128 + $(kill -l "$sig")))
  [ "$BG_STATUS" -eq "$want" ]
  [ ! -e "$sock" ]
}

@test "listen -U: SIGTERM and SIGHUP remove the socket file (relay, -k, --echo)" {
  local sock=$T/t.sock
  # Relay mode, waiting for a connection.
  start_listener relay /dev/null listen -U "$sock"
  term_leaves_no_file relay TERM "$sock"
  # Relay mode in the middle of a connection.
  mkfifo "$T/in"
  exec 5<>"$T/in"
  start_listener busy "$T/in" listen -U "$sock"
  bg_start client /dev/null "$PY" -c 'import socket, sys, time; s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); time.sleep(30)' "$sock"
  wait_for_line "$T/busy.err" '^Connection from '
  term_leaves_no_file busy TERM "$sock"
  bg_stop client
  exec 5>&-
  # -k, after serving one connection.
  start_listener keep /dev/null listen -k -U "$sock"
  printf 'x' | timeout 10 nc -N -U "$sock" >/dev/null
  term_leaves_no_file keep TERM "$sock"
  # --echo with a client connected; SIGHUP this time.
  start_listener echo /dev/null listen --echo -U "$sock"
  bg_start eclient /dev/null "$PY" -c 'import socket, sys, time; s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); time.sleep(30)' "$sock"
  wait_for_line "$T/echo.err" '^Connection from '
  term_leaves_no_file echo HUP "$sock"
  bg_stop eclient
  # --echo, SIGTERM.
  start_listener echo2 /dev/null listen --echo -U "$sock"
  term_leaves_no_file echo2 TERM "$sock"
  # SIGINT: the clean stop (exit 130) removes it too.
  start_listener twice /dev/null listen -U "$sock"
  kill -INT "$(bg_pid twice)"
  bg_wait twice 10
  [ "$BG_STATUS" -eq 130 ]
  [ ! -e "$sock" ]
}

@test "listen -U: the accept queue is reported as ss -lx shows it" {
  local sock=$T/q.sock ss_line
  start_listener srv /dev/null --json listen -k -b 5 -U "$sock"
  [ "$(jq -c 'select(.event == "listening") | .backlog' "$T/srv.err")" = '{"requested":5,"effective":5}' ]
  [ "$(jq -c 'select(.event == "listening") | .accept_queue' "$T/srv.err")" = '{"depth":0,"max":5}' ]
  # ss -lx: Recv-Q is the queue, Send-Q its maximum.
  ss_line=$(ss -lxH | awk -v p="$sock" '$5 == p {print $3, $4}')
  [ "$ss_line" = "0 5" ]
  # c1 is accepted and relayed (it holds the connection open); c2 and c3
  # wait in the accept queue meanwhile.
  local hold='import socket, sys, time; s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); print("connected", file=sys.stderr, flush=True); time.sleep(30)'
  bg_start c1 /dev/null "$PY" -c "$hold" "$sock"
  wait_for_line "$T/srv.err" '"event":"accepted","id":1'
  [ "$(jq -c 'select(.event == "accepted" and .id == 1) | .accept_queue' "$T/srv.err")" = '{"depth":0,"max":5}' ]
  bg_start c2 /dev/null "$PY" -c "$hold" "$sock"
  bg_start c3 /dev/null "$PY" -c "$hold" "$sock"
  wait_for_line "$T/c2.err" '^connected'
  wait_for_line "$T/c3.err" '^connected'
  ss_line=$(ss -lxH | awk -v p="$sock" '$5 == p {print $3, $4}')
  [ "$ss_line" = "2 5" ]
  # c1 goes: c2 is accepted with c3 still queued.
  bg_stop c1
  wait_for_line "$T/srv.err" '"event":"accepted","id":2'
  [ "$(jq -c 'select(.event == "accepted" and .id == 2) | .accept_queue' "$T/srv.err")" = '{"depth":1,"max":5}' ]
  ss_line=$(ss -lxH | awk -v p="$sock" '$5 == p {print $3, $4}')
  [ "$ss_line" = "1 5" ]
  # Text mode says the same.
  start_listener txt /dev/null listen -b 3 -U "$T/txt.sock"
  grep -q "^Listening on $T/txt.sock (unix, backlog 3, accept queue 0/3, " "$T/txt.err"
}

@test "listen -U -u: an unnamed datagram client is received, and said to be unanswerable" {
  local sock=$T/d.sock
  # Standard input has data: with no one to send it to, it must stay unread
  # (not end the relay with a send error).
  printf 'unsent' >"$T/stdin"
  start_listener dg "$T/stdin" listen -u -U "$sock"
  local send='import socket, sys; s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); [s.sendto(m.encode(), sys.argv[1]) for m in sys.argv[2:]]'
  "$PY" -c "$send" "$sock" "one " "two "
  wait_for_size "$T/dg.out" 8
  "$PY" -c "$send" "$sock" "three"
  wait_for_size "$T/dg.out" 13
  [ "$(cat "$T/dg.out")" = "one two three" ]
  bg_alive dg
  grep -q '^Connection from (unnamed) (' "$T/dg.err"
  [ "$(grep -c 'warning: .*no name.*nothing can be sent back' "$T/dg.err")" -eq 1 ]
  run ! grep -Eq 'Invalid argument|not connected|Destination address' "$T/dg.err"
  # A client bound to a name gets standard input back.
  printf 'reply' >"$T/in"
  start_listener named "$T/in" listen -u -U "$T/n.sock"
  run "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[2])
s.settimeout(10)
s.sendto(b"hi", sys.argv[1])
print(s.recv(100).decode())' "$T/n.sock" "$T/client.sock"
  [ "$output" = reply ]
  ! grep -q 'warning' "$T/named.err"
}

@test "listen relay: --stall-timeout names the client that never reads, exit 3; flag conflicts are exit 2" {
  make_random "$T/big" 64
  start_listener srv "$T/big" listen --stall-timeout 1s 127.0.0.1 0
  # A client that connects and never reads: its receive window goes to zero.
  bg_start cli /dev/null "$PY" -c '
import socket, sys, threading
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
print("local", s.getsockname()[1], file=sys.stderr, flush=True)
threading.Event().wait()
' "$PORT"
  wait_for_line "$T/cli.err" '^local [0-9]+'
  local cport
  cport=$(sed -nE 's/^local ([0-9]+).*/\1/p' "$T/cli.err")
  bg_wait srv 20
  [ "$BG_STATUS" -eq 3 ] || show "$T/srv.err"
  [ "$BG_STATUS" -eq 3 ]
  grep -q "^sockprobe: write to 127.0.0.1 port $cport (tcp): no progress for .*the peer is not reading (its receive window is zero)" "$T/srv.err"

  run "$SOCKPROBE" listen --keep-sending --stop-on-peer-eof 127.0.0.1 0 </dev/null
  [ "$status" -eq 2 ]
  run "$SOCKPROBE" listen --stall-timeout 5parsecs 127.0.0.1 0 </dev/null
  [ "$status" -eq 2 ]
  [[ $output == *"--stall-timeout"*"5parsecs"* ]]
}
