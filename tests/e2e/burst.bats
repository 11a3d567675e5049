#!/usr/bin/env bats
# connect --count bursts: outcome counts, latency statistics, and the SYN
# retransmission call-out, against python3 listeners whose backlog the test
# controls.

setup() {
  : "${SOCKPROBE:?set SOCKPROBE to the sockprobe binary (meson test does)}"
  T=$BATS_TEST_TMPDIR
  PYPID=
}

teardown() {
  [ -n "$PYPID" ] && kill "$PYPID" 2>/dev/null || true
  [ -n "$PYPID" ] && wait "$PYPID" 2>/dev/null || true
}

# py_listener BACKLOG DELAY: listen on 127.0.0.1:0 with BACKLOG; print the port;
# accept nothing for DELAY seconds (-1: never), then accept and close forever.
py_listener() {
  python3 - "$1" "$2" > "$T/py.port" <<'PY' &
import socket, sys, time
backlog, delay = int(sys.argv[1]), float(sys.argv[2])
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(backlog)
print(s.getsockname()[1], flush=True)
if delay < 0:
    time.sleep(120)
    sys.exit(0)
time.sleep(delay)
s.settimeout(30)
while True:
    c, _ = s.accept()
    c.close()
PY
  PYPID=$!
  local i
  for i in $(seq 200); do [ -s "$T/py.port" ] && break; sleep 0.05; done
  PORT=$(head -1 "$T/py.port")
}

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
  kill "$PYPID"; wait "$PYPID" 2>/dev/null || true
  py_listener 1 2
  run timeout 60 "$SOCKPROBE" connect 127.0.0.1 "$PORT" --count 8 --concurrency 8 -w 6s --json
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | jq -r 'select(.event=="burst") | .syn_retransmissions.total >= 1')" = true ]
}

@test "refused connections are counted, exit 1" {
  # A socket bound but never listening holds the port for the whole test:
  # connections to it are refused, and nobody else can take it meanwhile.
  python3 - > "$T/py.port" <<'PY' &
import socket, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
time.sleep(60)
PY
  PYPID=$!
  for i in $(seq 200); do [ -s "$T/py.port" ] && break; sleep 0.05; done
  PORT=$(head -1 "$T/py.port")
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
  [ "$status" -eq 2 ]; [[ "$output" == *"go with --count"* ]]
  run timeout 60 "$SOCKPROBE" connect 127.0.0.1 1 --count 5 --send 2M
  [ "$status" -eq 2 ]; [[ "$output" == *"--send"* ]]
}
