#!/usr/bin/env bats
# send -P / recv -P: N TCP streams at once (iperf3 -P). Checked against
# the streams' own summaries, a python3 receiver that counts each
# connection's bytes, and four plain nc.openbsd senders into recv -P 4.

load helpers

setup() { sp_setup; }
teardown() { sp_teardown; }

ev() { jq -c "select(.event == \"$1\")" "$2"; }

@test "send -P 4 --size -> recv -P 4: the size split across streams, every byte in a stream, a line and a sum" {
  start_listener r /dev/null recv -P 4 --json --interval 50ms 127.0.0.1 0
  run timeout 30 "$SOCKPROBE" send -P 4 --json --size 10000001 --rate 40M --interval 50ms 127.0.0.1 "$PORT"
  [ "$status" -eq 0 ] || { echo "$output" >&2; false; }
  echo "$output" >"$T/s.out"
  bg_wait r 10
  [ "$BG_STATUS" -eq 0 ] || { show "$T/r.out" "$T/r.err"; false; }
  # 10000001 over 4: the first stream carries the remainder.
  [ "$(ev summary "$T/s.out" | jq -r '"\(.stream):\(.bytes)"' | sort | tr '\n' ' ')" = \
    "1:2500001 2:2500000 3:2500000 4:2500000 " ]
  [ "$(ev total "$T/s.out" | jq -r '"\(.streams) \(.bytes) \(.complete)"')" = "4 10000001 true" ]
  [ "$(ev total "$T/r.out" | jq -r '"\(.streams) \(.bytes) \(.complete)"')" = "4 10000001 true" ]
  [ "$(ev summary "$T/r.out" | jq -r .bytes | sort -n | tr '\n' ' ')" = "2500000 2500000 2500000 2500001 " ]
  # Each stream's interval lines add up to its bytes; the sums to the total.
  for s in 1 2 3 4; do
    lines=$(ev interval "$T/s.out" | jq -s "[.[] | select(.stream == $s) | .bytes] | add")
    [ "$lines" = "$(ev summary "$T/s.out" | jq -r "select(.stream == $s) | .bytes")" ]
  done
  [ "$(ev interval_sum "$T/s.out" | jq -s '[.[].bytes] | add')" = 10000001 ]
  [ "$(ev interval_sum "$T/s.out" | jq -r .streams | sort -u | head -1)" -ge 1 ]
}

@test "recv -P 4 takes four plain nc senders, each stream's bytes its file's" {
  command -v nc.openbsd >/dev/null || skip "nc.openbsd is not installed"
  for i in 1 2 3 4; do head -c $((i * 300000)) /dev/urandom >"$T/f$i"; done
  start_listener r /dev/null recv -P 4 --json 127.0.0.1 0
  pids=()
  for i in 1 2 3 4; do
    nc.openbsd -N 127.0.0.1 "$PORT" <"$T/f$i" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  bg_wait r 10
  [ "$BG_STATUS" -eq 0 ] || { show "$T/r.out" "$T/r.err"; false; }
  [ "$(ev summary "$T/r.out" | jq -r .bytes | sort -n | tr '\n' ' ')" = "300000 600000 900000 1200000 " ]
  [ "$(ev total "$T/r.out" | jq -r .bytes)" = 3000000 ]
}

@test "send -P 3 --duration to a python receiver: each stream's summary is what that connection received" {
  bg_start py /dev/null "$PY" -c '
import socket, sys, threading
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(8)
print("port", ls.getsockname()[1], file=sys.stderr, flush=True)
counts = {}
def take(c, peer):
    n = 0
    while True:
        b = c.recv(1 << 16)
        if not b: break
        n += len(b)
    counts[peer[1]] = n
threads = []
for _ in range(3):
    c, peer = ls.accept()
    t = threading.Thread(target=take, args=(c, peer)); t.start(); threads.append(t)
for t in threads: t.join()
for port, n in sorted(counts.items()): print(port, n)
'
  wait_for_line "$T/py.err" '^port [0-9]+'
  PORT=$(sed -nE 's/^port ([0-9]+).*/\1/p' "$T/py.err")
  run timeout 20 "$SOCKPROBE" send -P 3 --json --duration 500ms --rate 5M 127.0.0.1 "$PORT"
  [ "$status" -eq 0 ] || { echo "$output" >&2; false; }
  bg_wait py 10
  [ "$BG_STATUS" -eq 0 ]
  # The python side by the sender's local port; send's by its stream: compare the sets.
  [ "$(awk '{print $2}' "$T/py.out" | sort -n | tr '\n' ' ')" = \
    "$(jq -r 'select(.event == "summary") | .bytes' <<<"$output" | sort -n | tr '\n' ' ')" ]
  [ "$(jq -r 'select(.event == "total") | .bytes' <<<"$output")" = "$(awk '{s += $2} END {print s}' "$T/py.out")" ]
}

@test "send -P 2 interrupted: exit 130, the total says so, and recv -P sees both streams fail" {
  start_listener r /dev/null recv -P 2 --json 127.0.0.1 0
  bg_start s /dev/null "$SOCKPROBE" send -P 2 --json --duration 20s --rate 2M --interval 100ms 127.0.0.1 "$PORT"
  wait_for_line "$T/s.out" '"event":"interval_sum"' 10
  kill -INT "$(bg_pid s)"
  bg_wait s 10
  [ "$BG_STATUS" -eq 130 ]
  [ "$(ev total "$T/s.out" | jq -r '"\(.interrupted) \(.complete)"')" = "true false" ]
  bg_wait r 10
  [ "$BG_STATUS" -ne 0 ]
  [ "$(ev summary "$T/r.out" | jq -r .complete | sort -u)" = false ]
}

@test "-P usage: 0, 10000, with a FILE, -u, --listen; recv -P with -o or -k: one-line usage errors" {
  echo x >"$T/f"
  for args in "send -P 0 --size 1M 127.0.0.1 9" "send -P 10000 --size 1M 127.0.0.1 9" \
    "send -P 2 127.0.0.1 9 $T/f" "send -P 2 -u --size 1M 127.0.0.1 9" "send -P 2 --listen 0 --size 1M" \
    "send -P 2 127.0.0.1 9" "recv -P 2 -o $T/x 0" "recv -P 2 -k 0" "recv -P 0 0"; do
    run "$SOCKPROBE" $args
    [ "$status" -eq 2 ] || { echo "$args: $status $output" >&2; false; }
    [ "${#lines[@]}" -eq 1 ]
  done
}
