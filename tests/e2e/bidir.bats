#!/usr/bin/env bats
# --bidir: both directions at once over one connection (iperf3 --bidir).
# send --bidir <-> recv --bidir, send --bidir against a python3 echo server
# (what comes back is what went, checksums included), and recv --bidir
# against a python3 client that counts what it gets back.

load helpers

setup() { sp_setup; }
teardown() { sp_teardown; }

# dir_field DIRECTION FIELD FILE: a field of that direction's summary.
dir_field() { jq -r "select(.event == \"summary\" and .direction == \"$1\") | .$2" "$3"; }

@test "send --bidir <-> recv --bidir: each direction counted on both ends, the sender's size bounds both" {
  start_listener r /dev/null recv --bidir --discard --json 127.0.0.1 0
  run timeout 20 "$SOCKPROBE" send --bidir --json --size 4M --rate 20M --interval 100ms 127.0.0.1 "$PORT"
  [ "$status" -eq 0 ] || { echo "$output" >&2; false; }
  echo "$output" >"$T/s.out"
  bg_wait r 10
  [ "$BG_STATUS" -eq 0 ] || { show "$T/r.out" "$T/r.err"; false; }
  [ "$(dir_field send bytes "$T/s.out")" = 4194304 ]
  [ "$(dir_field recv bytes "$T/r.out")" = 4194304 ]
  back=$(dir_field send bytes "$T/r.out")
  [ "$back" -gt 0 ]
  [ "$(dir_field recv bytes "$T/s.out")" = "$back" ]
  [ "$(jq -r 'select(.event == "summary") | .complete' "$T/s.out" "$T/r.out" | sort -u)" = true ]
  # Interval lines of both directions, told apart by their direction.
  [ "$(jq -r 'select(.event == "interval") | .direction' "$T/s.out" | sort -u | tr '\n' ' ')" = "recv send " ]
}

@test "send --bidir to a python echo server: what came back is what went, checksum for checksum" {
  bg_start echo /dev/null "$PY" -c '
import socket, sys
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(1)
print("port", ls.getsockname()[1], file=sys.stderr, flush=True)
c, _ = ls.accept()
while True:
    b = c.recv(1 << 16)
    if not b: break
    c.sendall(b)
c.shutdown(socket.SHUT_WR)
c.close()
'
  wait_for_line "$T/echo.err" '^port [0-9]+'
  PORT=$(sed -nE 's/^port ([0-9]+).*/\1/p' "$T/echo.err")
  run timeout 20 "$SOCKPROBE" send --bidir --checksum --json --size 3M 127.0.0.1 "$PORT"
  [ "$status" -eq 0 ] || { echo "$output" >&2; false; }
  echo "$output" >"$T/s.out"
  [ "$(dir_field recv bytes "$T/s.out")" = 3145728 ]
  sum=$(dir_field send checksum "$T/s.out")
  [[ "$sum" == xxh3-128:* ]]
  [ "$(dir_field recv checksum "$T/s.out")" = "$sum" ]
  bg_wait echo 5
}

@test "recv --bidir to a python sender: it sends back until the sender's EOF, and the counts agree" {
  start_listener r /dev/null recv --bidir --discard --json 127.0.0.1 0
  run timeout 20 "$PY" -c '
import socket, sys, threading, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
got = [0]
def take():
    while True:
        b = s.recv(1 << 16)
        if not b: break
        got[0] += len(b)
t = threading.Thread(target=take); t.start()
for _ in range(20):  # over ~200 ms, so bytes come back meanwhile
    s.sendall(b"y" * 100000)
    time.sleep(0.01)
s.shutdown(socket.SHUT_WR)
t.join()
print(got[0])
' "$PORT"
  [ "$status" -eq 0 ]
  bg_wait r 10
  [ "$BG_STATUS" -eq 0 ] || { show "$T/r.out" "$T/r.err"; false; }
  [ "$(dir_field recv bytes "$T/r.out")" = 2000000 ]
  [ "$output" -gt 0 ]
  [ "$(dir_field send bytes "$T/r.out")" = "$output" ]
}

@test "send --bidir interrupted: exit 130, both directions' summaries incomplete" {
  start_listener r /dev/null recv --bidir --discard --json 127.0.0.1 0
  bg_start s /dev/null "$SOCKPROBE" send --bidir --json --duration 20s --rate 1M --interval 100ms 127.0.0.1 "$PORT"
  wait_for_line "$T/s.out" '"event":"interval"' 10
  kill -INT "$(bg_pid s)"
  bg_wait s 10
  [ "$BG_STATUS" -eq 130 ]
  [ "$(jq -r 'select(.event == "summary") | .complete' "$T/s.out" | sort -u)" = false ]
  bg_wait r 10
  [ "$BG_STATUS" -ne 0 ]
}

@test "send --bidir: when sending stalls, the receiving direction ends too, incomplete (no hang)" {
  # A peer that never reads but sends without end.
  bg_start deaf /dev/null "$PY" -c '
import socket, sys
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(1)
print("port", ls.getsockname()[1], file=sys.stderr, flush=True)
c, _ = ls.accept()
try:
    while True:
        c.sendall(b"z" * 65536)
except OSError:
    pass
'
  wait_for_line "$T/deaf.err" '^port [0-9]+'
  PORT=$(sed -nE 's/^port ([0-9]+).*/\1/p' "$T/deaf.err")
  run timeout 30 "$SOCKPROBE" send --bidir --json --size 256M --stall-timeout 1s 127.0.0.1 "$PORT"
  [ "$status" -eq 3 ] || { echo "$status $output" >&2; false; }
  [ "$(jq -r 'select(.event == "summary" and .direction == "recv") | .complete' <<<"$output")" = false ]
  [ "$(jq -r 'select(.event == "summary" and .direction == "recv") | .bytes' <<<"$output")" -gt 0 ]
  bg_stop deaf
}

@test "--bidir usage: with -u, -P, -k, --expect-bytes: one-line usage errors" {
  for args in "send --bidir -u --size 1M 127.0.0.1 9" "send --bidir -P 2 --size 1M 127.0.0.1 9" \
    "recv --bidir -k 0" "recv --bidir -u 0" "recv --bidir --expect-bytes 1M 0"; do
    run "$SOCKPROBE" $args
    [ "$status" -eq 2 ] || { echo "$args: $status $output" >&2; false; }
    [ "${#lines[@]}" -eq 1 ]
  done
}
