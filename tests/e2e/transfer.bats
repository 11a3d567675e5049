#!/usr/bin/env bats
# send and recv end to end: integrity with foreign peers (nc, socat, python3)
# both ways, stdin and -o paths, --expect-* mismatches (exit 4), --rate
# accuracy, stall diagnosis (exit 3), SIGINT summary (exit 130), --duration.

bats_require_minimum_version 1.5.0

setup() {
  : "${SOCKPROBE:?set SOCKPROBE to the sockprobe binary (meson test does)}"
  T=$BATS_TEST_TMPDIR
  PIDS=()
}

teardown() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}

# tr_bg OUT ERR CMD...: run CMD in the background, remember its pid in BGPID.
tr_bg() {
  local out=$1 err=$2
  shift 2
  "$@" >"$out" 2>"$err" &
  BGPID=$!
  PIDS+=("$BGPID")
}

# tr_wait PID [SECONDS]: wait for PID (default at most 120 s), return its exit
# status; kill it and fail when it is still running by then.
tr_wait() {
  local pid=$1 limit=${2:-120} i rc=0
  for i in $(seq $((limit * 20))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null
    echo "process $pid still running after ${limit}s" >&2
    return 124
  fi
  wait "$pid" || rc=$?
  return "$rc"
}

# tr_port FILE: wait (at most 10 s) for "Listening on ADDR PORT" in FILE; print PORT.
tr_port() {
  local i
  for i in $(seq 200); do
    if grep -q '^Listening on ' "$1" 2>/dev/null; then
      sed -n 's/^Listening on [^ ]* \([0-9]*\).*/\1/p' "$1" | head -1
      return 0
    fi
    sleep 0.05
  done
  echo "no Listening line in $1:" >&2
  cat "$1" >&2
  return 1
}

# tr_pyserver MODE FILE: a python3 listener on 127.0.0.1 port 0 that prints its
# port, accepts one client, and either sends FILE (MODE=send), writes what it
# receives to FILE (MODE=recv), or never reads (MODE=stuck, FILE unused).
tr_pyserver() {
  python3 - "$1" "$2" <<'PY' &
import socket, sys, time
mode, path = sys.argv[1], sys.argv[2]
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1)
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
if mode == "send":
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            c.sendall(b)
    c.close()
elif mode == "recv":
    with open(path, "wb") as f:
        while True:
            b = c.recv(1 << 20)
            if not b:
                break
            f.write(b)
    c.close()
else:
    time.sleep(60)
PY
}

# tr_pyport FILE: wait for the python server's port line.
tr_pyport() {
  local i
  for i in $(seq 200); do
    [ -s "$1" ] && { head -1 "$1"; return 0; }
    sleep 0.05
  done
  return 1
}

json_field() { jq -r "select(.event==\"$2\") | $3" "$1"; }

@test "send --size to recv --discard: byte counts and checksums agree (JSON)" {
  tr_bg "$T/r.out" "$T/r.err" "$SOCKPROBE" recv 127.0.0.1 0 --discard --checksum --json
  port=$(tr_port_json "$T/r.err")
  run timeout 120 "$SOCKPROBE" send 127.0.0.1 "$port" --size 64M --checksum --json
  [ "$status" -eq 0 ]
  echo "$output" > "$T/s.out"
  tr_wait "$BGPID"
  [ "$(json_field "$T/s.out" summary .bytes)" = 67108864 ]
  [ "$(json_field "$T/r.out" summary .bytes)" = 67108864 ]
  sent=$(json_field "$T/s.out" summary .checksum)
  [[ "$sent" == xxh3-128:* ]]
  [ "$sent" = "$(json_field "$T/r.out" summary .checksum)" ]
  [ "$(json_field "$T/s.out" summary .direction)" = send ]
  [ "$(json_field "$T/s.out" summary '.sndbuf > 0')" = true ]
}

tr_port_json() {
  local i
  for i in $(seq 200); do
    if grep -q '"event":"listening"' "$1" 2>/dev/null; then
      jq -r 'select(.event=="listening") | .port' "$1" | head -1
      return 0
    fi
    sleep 0.05
  done
  cat "$1" >&2
  return 1
}

@test "1 GiB file: sockprobe send -> python3 receiver, identical bytes, checksum matches xxh128sum" {
  head -c 1G /dev/urandom > "$T/big"
  tr_pyserver recv "$T/got" > "$T/py.port"
  PIDS+=($!)
  port=$(tr_pyport "$T/py.port")
  run timeout 120 "$SOCKPROBE" send 127.0.0.1 "$port" "$T/big" --checksum --json
  [ "$status" -eq 0 ]
  tr_wait "${PIDS[-1]}"
  cmp "$T/big" "$T/got"
  want=$(xxh128sum "$T/big" | cut -d' ' -f1)
  [ "$(echo "$output" | jq -r 'select(.event=="summary") | .checksum')" = "xxh3-128:$want" ]
}

@test "1 GiB file: nc sends -> sockprobe recv -o FILE with --expect-checksum" {
  head -c 1G /dev/urandom > "$T/big"
  want=$(xxh128sum "$T/big" | cut -d' ' -f1)
  tr_bg "$T/r.out" "$T/r.err" "$SOCKPROBE" recv 127.0.0.1 0 -o "$T/got" --expect-checksum "xxh3-128:$want" --expect-bytes 1G
  port=$(tr_port "$T/r.err")
  timeout 120 nc -N 127.0.0.1 "$port" < "$T/big"
  tr_wait "$BGPID"
  cmp "$T/big" "$T/got"
  grep -q "^Received 1073741824 bytes" "$T/r.out"
  [ -z "$(ls "$T" | grep sockprobe- || true)" ]   # no temporary file left behind
}

@test "socat sends a file to sockprobe recv (stdout); python3 serves one to recv --connect" {
  head -c 5M /dev/urandom > "$T/f"
  tr_bg "$T/r.out" "$T/r.err" "$SOCKPROBE" recv 127.0.0.1 0
  port=$(tr_port "$T/r.err")
  timeout 60 socat -u "FILE:$T/f" "TCP:127.0.0.1:$port"
  tr_wait "$BGPID"
  cmp "$T/f" "$T/r.out"
  grep -q "^Received 5242880 bytes" "$T/r.err"

  tr_pyserver send "$T/f" > "$T/py.port"
  PIDS+=($!)
  port=$(tr_pyport "$T/py.port")
  run timeout 120 "$SOCKPROBE" recv --connect 127.0.0.1 "$port" -o "$T/got2" --checksum
  [ "$status" -eq 0 ]
  cmp "$T/f" "$T/got2"
  [[ "$output" == *"checksum xxh3-128:$(xxh128sum "$T/f" | cut -d' ' -f1)"* ]]
}

@test "send --listen: nc and socat pull the data as clients" {
  head -c 3M /dev/urandom > "$T/f"
  tr_bg "$T/s.out" "$T/s.err" "$SOCKPROBE" send --listen 0 "$T/f"
  port=$(tr_port "$T/s.err")
  timeout 60 nc -d 127.0.0.1 "$port" > "$T/got"
  tr_wait "$BGPID"
  cmp "$T/f" "$T/got"
  grep -q "^Sent 3145728 bytes" "$T/s.out"

  echo "from stdin" > "$T/line"
  "$SOCKPROBE" send --listen 0 - < "$T/line" > "$T/s2.out" 2> "$T/s2.err" &
  BGPID=$!
  PIDS+=("$BGPID")
  port=$(tr_port "$T/s2.err")
  timeout 60 socat -u "TCP:127.0.0.1:$port" "CREATE:$T/got2"
  tr_wait "$BGPID"
  cmp "$T/line" "$T/got2"
}

@test "stdin to send, Unix socket, recv -o" {
  head -c 2M /dev/urandom > "$T/f"
  tr_bg "$T/r.out" "$T/r.err" "$SOCKPROBE" recv -U "$T/sock" -o "$T/got"
  tr_port_unix "$T/r.err"
  run bash -c "cat '$T/f' | '$SOCKPROBE' send -U '$T/sock'"
  [ "$status" -eq 0 ]
  tr_wait "$BGPID"
  cmp "$T/f" "$T/got"
  [ ! -e "$T/sock" ]  # the listener removed its socket file
}

tr_port_unix() {
  local i
  for i in $(seq 200); do
    grep -q '^Listening on ' "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

@test "--expect-bytes mismatch: exit 4, no output file left" {
  tr_bg "$T/r.out" "$T/r.err" "$SOCKPROBE" recv 127.0.0.1 0 -o "$T/got" --expect-bytes 1000
  port=$(tr_port "$T/r.err")
  head -c 999 /dev/zero | timeout 30 nc -N 127.0.0.1 "$port"
  rc=0; tr_wait "$BGPID" || rc=$?
  [ "$rc" -eq 4 ]
  grep -q "received 999 bytes, expected 1000" "$T/r.err"
  [ ! -e "$T/got" ]
  [ -z "$(ls "$T" | grep sockprobe- || true)" ]
}

@test "--expect-checksum mismatch: exit 4 with expected versus got" {
  tr_bg "$T/r.out" "$T/r.err" "$SOCKPROBE" recv 127.0.0.1 0 --discard --expect-checksum xxh3-128:00000000000000000000000000000000
  port=$(tr_port "$T/r.err")
  echo hello | timeout 30 nc -N 127.0.0.1 "$port"
  rc=0; tr_wait "$BGPID" || rc=$?
  [ "$rc" -eq 4 ]
  grep -q "checksum mismatch: expected xxh3-128:0000" "$T/r.err"
  grep -q "got xxh3-128:$(echo hello | xxh128sum | cut -d' ' -f1)" "$T/r.err"
}

@test "--rate 10M over 2 s lands within 5%" {
  tr_bg "$T/r.out" "$T/r.err" "$SOCKPROBE" recv 127.0.0.1 0 --discard
  port=$(tr_port "$T/r.err")
  run timeout 120 "$SOCKPROBE" send 127.0.0.1 "$port" --duration 2s --rate 10M --json
  [ "$status" -eq 0 ]
  tr_wait "$BGPID"
  rate=$(echo "$output" | jq -r 'select(.event=="summary") | .bytes_per_second')
  awk -v r="$rate" 'BEGIN { t = 10 * 1048576; exit !(r > t * 0.95 && r < t * 1.05) }'
}

@test "--duration stops on time and --interval prints lines" {
  tr_bg "$T/r.out" "$T/r.err" "$SOCKPROBE" recv 127.0.0.1 0 --discard
  port=$(tr_port "$T/r.err")
  run timeout 120 "$SOCKPROBE" send 127.0.0.1 "$port" --duration 1s --interval 250ms --rate 50M --json
  [ "$status" -eq 0 ]
  tr_wait "$BGPID"
  secs=$(echo "$output" | jq -r 'select(.event=="summary") | .seconds')
  awk -v s="$secs" 'BEGIN { exit !(s >= 1.0 && s < 2.0) }'
  n=$(echo "$output" | jq -r 'select(.event=="interval") | .end' | wc -l)
  [ "$n" -ge 4 ]
}

@test "a peer that never reads: stall reported as a zero window, exit 3 within stall-timeout + 2 s" {
  tr_pyserver stuck /dev/null > "$T/py.port"
  PIDS+=($!)
  port=$(tr_pyport "$T/py.port")
  start=$(date +%s%N)
  run timeout 120 "$SOCKPROBE" send 127.0.0.1 "$port" --size 1G --stall-timeout 2s
  end=$(date +%s%N)
  [ "$status" -eq 3 ]
  [[ "$output" == *"peer is not reading"* ]]
  [[ "$output" == *"bytes queued in the kernel"* ]]
  [ $(( (end - start) / 1000000 )) -lt 4000 ]
}

@test "SIGINT mid-transfer prints the partial summary and exits 130" {
  tr_bg "$T/r.out" "$T/r.err" "$SOCKPROBE" recv 127.0.0.1 0 --discard
  port=$(tr_port "$T/r.err")
  "$SOCKPROBE" send 127.0.0.1 "$port" --duration 60s --rate 20M --interval 100ms > "$T/s.out" 2> "$T/s.err" &
  spid=$!
  PIDS+=("$spid")
  for i in $(seq 100); do grep -q '^\[' "$T/s.out" && break; sleep 0.05; done
  kill -INT "$spid"
  rc=0; tr_wait "$spid" 30 || rc=$?
  [ "$rc" -eq 130 ]
  grep -q "^Sent [0-9]* bytes .*(interrupted)" "$T/s.out"
  tr_wait "$BGPID"
}

@test "bad send/recv values exit 2 naming the flag" {
  run timeout 120 "$SOCKPROBE" send 127.0.0.1 1 --size 12X
  [ "$status" -eq 2 ]; [[ "$output" == *"--size"*"12X"* ]]
  run timeout 120 "$SOCKPROBE" send 127.0.0.1 1 --rate fast
  [ "$status" -eq 2 ]; [[ "$output" == *"--rate"*"fast"* ]]
  run timeout 120 "$SOCKPROBE" send 127.0.0.1 1 --pattern ones --size 1K
  [ "$status" -eq 2 ]; [[ "$output" == *"--pattern"* ]]
  run timeout 120 "$SOCKPROBE" recv 0 --expect-checksum abc
  [ "$status" -eq 2 ]; [[ "$output" == *"--expect-checksum"* ]]
  run timeout 120 "$SOCKPROBE" recv 0 -o x --discard
  [ "$status" -eq 2 ]
  run timeout 120 "$SOCKPROBE" recv --connect 127.0.0.1
  [ "$status" -eq 2 ]
  run timeout 120 "$SOCKPROBE" send 127.0.0.1 1 --interval 1ms --size 1K
  [ "$status" -eq 2 ]; [[ "$output" == *"--interval"* ]]
}

@test "--progress forces the progress line on stderr; --no-progress and --json keep it off" {
  tr_bg "$T/r.out" "$T/r.err" "$SOCKPROBE" recv 127.0.0.1 0 --discard
  port=$(tr_port "$T/r.err")
  run --separate-stderr timeout 120 "$SOCKPROBE" send 127.0.0.1 "$port" --duration 1s --rate 20M --progress
  [ "$status" -eq 0 ]
  tr_wait "$BGPID"
  [[ "$stderr" == *$'\r'*"Mbit/s"* ]]
  [[ "$output" != *$'\r'* ]]   # stdout keeps only the summary

  tr_bg "$T/r2.out" "$T/r2.err" "$SOCKPROBE" recv 127.0.0.1 0 --discard
  port=$(tr_port "$T/r2.err")
  run --separate-stderr timeout 120 "$SOCKPROBE" send 127.0.0.1 "$port" --size 1M --no-progress
  [ "$status" -eq 0 ]
  tr_wait "$BGPID"
  [[ "$stderr" != *$'\r'* ]]
}

@test "recv: SIGINT mid-transfer prints what arrived so far and exits 130" {
  "$SOCKPROBE" recv 127.0.0.1 0 --discard --interval 100ms > "$T/r.out" 2> "$T/r.err" &
  rpid=$!
  PIDS+=("$rpid")
  port=$(tr_port "$T/r.err")
  tr_bg "$T/s.out" "$T/s.err" "$SOCKPROBE" send 127.0.0.1 "$port" --duration 60s --rate 20M
  for i in $(seq 100); do grep -q '^\[' "$T/r.out" && break; sleep 0.05; done
  kill -INT "$rpid"
  rc=0; tr_wait "$rpid" 30 || rc=$?
  [ "$rc" -eq 130 ]
  grep -q "^Received [1-9][0-9]* bytes .*(interrupted)" "$T/r.out"
}

@test "recv --stall-timeout: a silent sender is reported and exits 3" {
  tr_bg "$T/r.out" "$T/r.err" "$SOCKPROBE" recv 127.0.0.1 0 --discard --stall-timeout 1s
  port=$(tr_port "$T/r.err")
  python3 -c 'import socket, sys, time; s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); time.sleep(5)' "$port" &
  PIDS+=($!)
  rc=0; tr_wait "$BGPID" 30 || rc=$?
  [ "$rc" -eq 3 ]
  grep -q "no data for .*: the sender is sending nothing" "$T/r.err"
}

@test "-q keeps the Listening line (the only way to learn port 0) and drops the rest" {
  tr_bg "$T/r.out" "$T/r.err" "$SOCKPROBE" recv -q 127.0.0.1 0 --discard
  port=$(tr_port "$T/r.err")
  echo hi | timeout 30 nc -N 127.0.0.1 "$port"
  tr_wait "$BGPID"
  [ "$(wc -l < "$T/r.err")" -eq 1 ]
  [ ! -s "$T/r.out" ]
}
