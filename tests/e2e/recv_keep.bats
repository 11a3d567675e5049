#!/usr/bin/env bats
# recv -k: a measuring server that serves every sender, at once and in
# turn, each with its own summary and checksum, so that one dead, reset or
# silent sender never wedges the others (iperf3 -s serves one test at a
# time and hangs after a client dies). Senders: sockprobe send, nc.openbsd
# and python3 sockets; checksums checked against xxh128sum of the file.

load helpers

setup() { sp_setup; }
teardown() { sp_teardown; }

# The summary events of recv -k's JSON output, one per line.
summaries() { jq -c 'select(.event == "summary")' "$T/k.out"; }

xxh() { echo "xxh3-128:$(xxh128sum <"$1" | cut -d' ' -f1)"; }

# stop_server: SIGINT, as a user's Ctrl-C; recv -k reports the totals, exit 130.
stop_server() {
  kill -INT "$(bg_pid k)"
  bg_wait k 10
  [ "$BG_STATUS" -eq 130 ] || { show "$T/k.out" "$T/k.err"; false; }
}

@test "recv -k: two sockprobe senders at once and nc after them, each summary with its own right checksum" {
  command -v nc.openbsd >/dev/null || skip "nc.openbsd is not installed"
  make_random "$T/a" 3
  head -c 1000000 /dev/urandom >"$T/b"
  start_listener k /dev/null recv -k --checksum --json 127.0.0.1 0
  "$SOCKPROBE" send --rate 20M 127.0.0.1 "$PORT" "$T/a" >/dev/null &
  p1=$!
  "$SOCKPROBE" send --rate 20M 127.0.0.1 "$PORT" "$T/a" >/dev/null &
  p2=$!
  wait "$p1"
  wait "$p2"
  nc.openbsd -N 127.0.0.1 "$PORT" <"$T/b"
  wait_for_line "$T/k.out" '"bytes":1000000,' 10
  stop_server
  [ "$(summaries | wc -l)" = 3 ]
  [ "$(summaries | jq -r 'select(.bytes == 3145728) | .checksum' | sort -u)" = "$(xxh "$T/a")" ]
  [ "$(summaries | jq -r 'select(.bytes == 3145728) | .complete' | sort | uniq -c | awk '{print $1, $2}')" = "2 true" ]
  [ "$(summaries | jq -r 'select(.bytes == 1000000) | .checksum')" = "$(xxh "$T/b")" ]
  # Each sender by its own endpoint, and the served totals at the end.
  [ "$(summaries | jq -r '.peer.port' | sort -u | wc -l)" = 3 ]
  [ "$(jq -r 'select(.event == "served") | .connections, .bytes_in' "$T/k.out" | tr '\n' ' ')" = "3 7291456 " ]
}

@test "recv -k: a sender reset mid-stream is an incomplete summary; one sending at the same time still completes" {
  make_random "$T/a" 4
  start_listener k /dev/null recv -k --checksum --json 127.0.0.1 0
  "$SOCKPROBE" send --rate 8M 127.0.0.1 "$PORT" "$T/a" >/dev/null &
  good=$!
  # A python sender that sends 100000 bytes, then resets (SO_LINGER 0).
  "$PY" -c '
import socket, struct, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"x" * 100000)
time.sleep(0.2)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
' "$PORT"
  wait "$good"
  wait_for_line "$T/k.out" '"bytes":4194304,' 10
  stop_server
  bad=$(summaries | jq -c 'select(.bytes != 4194304)')
  [ "$(jq -r .complete <<<"$bad")" = false ]
  [[ "$(jq -r .error <<<"$bad")" == *"Connection reset by peer"* ]]
  [ "$(jq -r .bytes <<<"$bad")" -le 100000 ]
  ok=$(summaries | jq -c 'select(.bytes == 4194304)')
  [ "$(jq -r .complete <<<"$ok")" = true ]
  [ "$(jq -r .checksum <<<"$ok")" = "$(xxh "$T/a")" ]
}

@test "recv -k --stall-timeout: a silent sender is closed with the reason, the server goes on" {
  start_listener k /dev/null recv -k --stall-timeout 300ms 127.0.0.1 0
  bg_start silent /dev/null "$PY" -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"hello")
time.sleep(5)
' "$PORT"
  wait_for_line "$T/k.out" 'no data for 300.0ms' 5
  grep -q '^Received 5 bytes' "$T/k.out"
  grep -q '^  incomplete: no data for 300.0ms (--stall-timeout)$' "$T/k.out"
  # Still serving: a sender after it completes.
  run timeout 10 "$SOCKPROBE" send --size 64K 127.0.0.1 "$PORT"
  [ "$status" -eq 0 ]
  wait_for_line "$T/k.out" '^Received 65536 bytes' 5
  bg_stop silent
  stop_server
}

@test "recv -k --idle-timeout: a sender silent since it connected is closed; one that paused after its first bytes is not" {
  start_listener k /dev/null recv -k --idle-timeout 300ms 127.0.0.1 0
  bg_start silent /dev/null "$PY" -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
time.sleep(5)
' "$PORT"
  # Sends, pauses past the idle limit, sends again: served whole.
  bg_start paused /dev/null "$PY" -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"a" * 1000)
time.sleep(1)
s.sendall(b"b" * 1000)
s.shutdown(socket.SHUT_WR)
s.recv(1)
' "$PORT"
  wait_for_line "$T/k.out" '^Received 2000 bytes' 5
  grep -q '^Received 0 bytes' "$T/k.out"
  grep -q '^  incomplete: no byte since it connected, 300.0ms (--idle-timeout)$' "$T/k.out"
  [ "$(grep -c '^  incomplete' "$T/k.out")" = 1 ]
  bg_wait paused 5
  [ "$BG_STATUS" -eq 0 ]
  bg_stop silent
  stop_server
}

@test "recv -k --interval: running totals of every sender, adding up to the served bytes" {
  start_listener k /dev/null recv -k --json --interval 100ms 127.0.0.1 0
  "$SOCKPROBE" send --size 2M --rate 10M 127.0.0.1 "$PORT" >/dev/null &
  p1=$!
  "$SOCKPROBE" send --size 1M --rate 10M 127.0.0.1 "$PORT" >/dev/null &
  p2=$!
  wait "$p1"
  wait "$p2"
  # Once both closed (their summaries are out), the next interval line has
  # every byte in a line (an early one may have "senders":0 too).
  for _ in $(seq 100); do
    [ "$(grep -c '"event":"summary"' "$T/k.out")" = 2 ] && break
    sleep 0.05
  done
  after=$(wc -l <"$T/k.out")
  for _ in $(seq 100); do
    tail -n +"$((after + 1))" "$T/k.out" | grep -q '"event":"interval"' && break
    sleep 0.05
  done
  stop_server
  [ "$(jq -s '[.[] | select(.event == "interval") | .bytes] | add' "$T/k.out")" = 3145728 ]
  [ "$(jq -r 'select(.event == "interval") | .senders' "$T/k.out" | sort -n | tail -1)" -ge 1 ]
}

@test "recv -k --max-conns 1: the second sender waits in the accept queue, then completes" {
  start_listener k /dev/null recv -k --max-conns 1 127.0.0.1 0
  "$SOCKPROBE" send --size 2M --rate 10M 127.0.0.1 "$PORT" >/dev/null &
  p1=$!
  wait_for_line "$T/k.err" '^Connection from' 5
  run timeout 20 "$SOCKPROBE" send --size 100K 127.0.0.1 "$PORT"
  [ "$status" -eq 0 ]
  wait "$p1"
  wait_for_line "$T/k.out" '^Received 102400 bytes' 5
  stop_server
  grep -q -- '--max-conns 1 reached' "$T/k.err"
  # Served in turn: the 2M sender closed before the 100K one was accepted.
  [ "$(grep '^Received' "$T/k.out" | awk '{print $2}' | tr '\n' ' ')" = "2097152 102400 " ]
}

@test "recv -k usage: -o, --connect, -u, --expect-* and --max-conns without -k are usage errors" {
  for args in "-k -o $T/x 0" "-k --connect 127.0.0.1 9" "-k -u 0" "-k --expect-bytes 1M 0" \
    "-k --expect-checksum 00 0" "--max-conns 4 0" "-k --max-conns 0 0"; do
    run "$SOCKPROBE" recv $args
    [ "$status" -eq 2 ] || { echo "recv $args: $status $output" >&2; false; }
    [ "${#lines[@]}" -eq 1 ]
  done
}
