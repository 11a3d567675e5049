#!/usr/bin/env bats
# send and recv end to end: integrity with foreign peers (nc, socat, python3)
# both ways, stdin and -o paths, --expect-* mismatches (exit 4), --rate
# accuracy, stall diagnosis (exit 3), SIGINT summary (exit 130), --duration.

bats_require_minimum_version 1.5.0

load helpers
load netns

setup() { sp_setup; }
teardown() { sp_teardown; }

json_field() { jq -r "select(.event==\"$2\") | $3" "$1"; }

@test "send --size to recv --discard: byte counts and checksums agree (JSON)" {
  start_listener r /dev/null recv 127.0.0.1 0 --discard --checksum --json
  run timeout 120 "$SOCKPROBE" send 127.0.0.1 "$PORT" --size 64M --checksum --json
  [ "$status" -eq 0 ]
  echo "$output" > "$T/s.out"
  bg_wait r 120
  [ "$BG_STATUS" -eq 0 ]
  [ "$(json_field "$T/s.out" summary .bytes)" = 67108864 ]
  [ "$(json_field "$T/r.out" summary .bytes)" = 67108864 ]
  sent=$(json_field "$T/s.out" summary .checksum)
  [[ "$sent" == xxh3-128:* ]]
  [ "$sent" = "$(json_field "$T/r.out" summary .checksum)" ]
  [ "$(json_field "$T/s.out" summary .direction)" = send ]
  [ "$(json_field "$T/s.out" summary '.sndbuf > 0')" = true ]
}

@test "recv HOST:PORT, send --size 1 HOST:PORT, recv --connect HOST:PORT: one argument, as connect takes it" {
  start_listener r /dev/null recv 127.0.0.1:0 --discard --json
  [ "$(jq -r 'select(.event == "listening") | .address' "$T/r.err")" = 127.0.0.1 ]
  run timeout 30 "$SOCKPROBE" send --size 1 "127.0.0.1:$PORT" --json
  [ "$status" -eq 0 ]
  [ "$(jq -r 'select(.event == "summary") | .bytes' <<<"$output")" = 1 ]
  bg_wait r 30
  [ "$BG_STATUS" -eq 0 ]
  [ "$(json_field "$T/r.out" summary .bytes)" = 1 ]
  start_listener s /dev/null send --listen 0 --size 1 --json
  run timeout 30 "$SOCKPROBE" recv --connect "127.0.0.1:$PORT" --discard --json
  [ "$status" -eq 0 ]
  [ "$(jq -r 'select(.event == "summary") | .bytes' <<<"$output")" = 1 ]
  bg_wait s 30
  [ "$BG_STATUS" -eq 0 ]
}

@test "the text summary counts in the singular for one byte: 'Sent 1 byte (1 B)', 'Received 1 byte'" {
  start_listener r /dev/null recv 127.0.0.1 0 --discard
  run timeout 30 "$SOCKPROBE" send --size 1 127.0.0.1 "$PORT" --no-progress
  [ "$status" -eq 0 ]
  [[ "$output" == *"Sent 1 byte (1 B) in "* ]] || { echo "$output"; false; }
  bg_wait r 30
  [ "$BG_STATUS" -eq 0 ]
  cat "$T/r.out" "$T/r.err" | grep -q '^Received 1 byte (1 B) in ' || { cat "$T/r.out" "$T/r.err"; false; }
}

@test "1 GiB file: sockprobe send -> python3 receiver, identical bytes, checksum matches xxh128sum" {
  head -c 1G /dev/urandom > "$T/big"
  py_transfer_peer py recv "$T/got"
  run timeout 120 "$SOCKPROBE" send 127.0.0.1 "$PORT" "$T/big" --checksum --json
  [ "$status" -eq 0 ]
  bg_wait py 120
  [ "$BG_STATUS" -eq 0 ]
  cmp "$T/big" "$T/got"
  want=$(xxh128sum "$T/big" | cut -d' ' -f1)
  [ "$(echo "$output" | jq -r 'select(.event=="summary") | .checksum')" = "xxh3-128:$want" ]
}

@test "1 GiB file: nc sends -> sockprobe recv -o FILE with --expect-checksum" {
  head -c 1G /dev/urandom > "$T/big"
  want=$(xxh128sum "$T/big" | cut -d' ' -f1)
  start_listener r /dev/null recv 127.0.0.1 0 -o "$T/got" --expect-checksum "xxh3-128:$want" --expect-bytes 1G
  timeout 120 nc -N 127.0.0.1 "$PORT" < "$T/big"
  bg_wait r 120
  [ "$BG_STATUS" -eq 0 ]
  cmp "$T/big" "$T/got"
  grep -q "^Received 1073741824 bytes" "$T/r.out"
  [ -z "$(ls "$T" | grep sockprobe- || true)" ]   # no temporary file left behind
}

@test "socat sends a file to sockprobe recv (stdout); python3 serves one to recv --connect" {
  head -c 5M /dev/urandom > "$T/f"
  start_listener r /dev/null recv 127.0.0.1 0
  timeout 60 socat -u "FILE:$T/f" "TCP:127.0.0.1:$PORT"
  bg_wait r 60
  [ "$BG_STATUS" -eq 0 ]
  cmp "$T/f" "$T/r.out"
  grep -q "^Received 5242880 bytes" "$T/r.err"

  py_transfer_peer py send "$T/f"
  run timeout 120 "$SOCKPROBE" recv --connect 127.0.0.1 "$PORT" -o "$T/got2" --checksum
  [ "$status" -eq 0 ]
  cmp "$T/f" "$T/got2"
  [[ "$output" == *"checksum xxh3-128:$(xxh128sum "$T/f" | cut -d' ' -f1)"* ]]
}

@test "send --listen: nc and socat pull the data as clients" {
  head -c 3M /dev/urandom > "$T/f"
  start_listener s /dev/null send --listen 0 "$T/f"
  timeout 60 nc -d 127.0.0.1 "$PORT" > "$T/got"
  bg_wait s 60
  [ "$BG_STATUS" -eq 0 ]
  cmp "$T/f" "$T/got"
  grep -q "^Sent 3145728 bytes" "$T/s.out"

  echo "from stdin" > "$T/line"
  start_listener s2 "$T/line" send --listen 0 -
  timeout 60 socat -u "TCP:127.0.0.1:$PORT" "CREATE:$T/got2"
  bg_wait s2 60
  [ "$BG_STATUS" -eq 0 ]
  cmp "$T/line" "$T/got2"
}

@test "stdin to send, Unix socket, recv -o" {
  head -c 2M /dev/urandom > "$T/f"
  start_listener r /dev/null recv -U "$T/sock" -o "$T/got"
  run bash -c "cat '$T/f' | '$SOCKPROBE' send -U '$T/sock'"
  [ "$status" -eq 0 ]
  bg_wait r 60
  [ "$BG_STATUS" -eq 0 ]
  cmp "$T/f" "$T/got"
  [ ! -e "$T/sock" ]  # the listener removed its socket file
}

@test "--expect-bytes mismatch: exit 4, no output file left" {
  start_listener r /dev/null recv 127.0.0.1 0 -o "$T/got" --expect-bytes 1000
  head -c 999 /dev/zero | timeout 30 nc -N 127.0.0.1 "$PORT"
  bg_wait r 60
  [ "$BG_STATUS" -eq 4 ]
  grep -q "received 999 bytes, expected 1000" "$T/r.err"
  [ ! -e "$T/got" ]
  [ -z "$(ls "$T" | grep sockprobe- || true)" ]
}

@test "--expect-checksum mismatch: exit 4 with expected versus got" {
  start_listener r /dev/null recv 127.0.0.1 0 --discard --expect-checksum xxh3-128:00000000000000000000000000000000
  echo hello | timeout 30 nc -N 127.0.0.1 "$PORT"
  bg_wait r 60
  [ "$BG_STATUS" -eq 4 ]
  grep -q "checksum mismatch: expected xxh3-128:0000" "$T/r.err"
  grep -q "got xxh3-128:$(echo hello | xxh128sum | cut -d' ' -f1)" "$T/r.err"
}

@test "--rate 10M over 2 s lands within 5%" {
  start_listener r /dev/null recv 127.0.0.1 0 --discard
  run timeout 120 "$SOCKPROBE" send 127.0.0.1 "$PORT" --duration 2s --rate 10M --json
  [ "$status" -eq 0 ]
  bg_wait r 60
  [ "$BG_STATUS" -eq 0 ]
  rate=$(echo "$output" | jq -r 'select(.event=="summary") | .bytes_per_second')
  awk -v r="$rate" 'BEGIN { t = 10 * 1048576; exit !(r > t * 0.95 && r < t * 1.05) }'
}

@test "--duration stops on time and --interval prints lines" {
  start_listener r /dev/null recv 127.0.0.1 0 --discard
  run timeout 120 "$SOCKPROBE" send 127.0.0.1 "$PORT" --duration 1s --interval 250ms --rate 50M --json
  [ "$status" -eq 0 ]
  bg_wait r 60
  [ "$BG_STATUS" -eq 0 ]
  secs=$(echo "$output" | jq -r 'select(.event=="summary") | .seconds')
  awk -v s="$secs" 'BEGIN { exit !(s >= 1.0 && s < 2.0) }'
  n=$(echo "$output" | jq -r 'select(.event=="interval") | .end' | wc -l)
  [ "$n" -ge 4 ]
}

@test "send --interval over TCP: a header, and retr per interval adds up to the kernel's total_retrans under loss" {
  netns_pair
  bg_start r /dev/null ip netns exec "$NS_SRV" "$SOCKPROBE" recv --discard --json "$NETNS_SRV_ADDR" 0
  wait_for_line "$T/r.err" '"event":"listening"'
  PORT=$(listening_port "$T/r.err")
  # 3% of the data segments arriving at the receiver are lost: the sender
  # retransmits them.
  netns_lose_in "tcp dport $PORT meta length > 1000 numgen random mod 100 < 3"
  run timeout 60 ip netns exec "$NS_CLI" "$SOCKPROBE" send --json --size 8M --interval 100ms "$NETNS_SRV_ADDR" "$PORT"
  [ "$status" -eq 0 ] || { echo "$output" >&2; false; }
  bg_wait r 20
  [ "$BG_STATUS" -eq 0 ]
  sum=$(jq -s '[.[] | select(.event == "interval") | .retrans] | add' <<<"$output")
  total=$(jq -r 'select(.event == "summary") | .tcp_info.total_retrans' <<<"$output")
  [ "$total" -gt 0 ]
  [ "$(netns_lost_in)" -gt 0 ]
  [ "$sum" = "$total" ] || { echo "intervals $sum, total_retrans $total" >&2; false; }
  [ "$(jq -r 'select(.event == "interval") | .cwnd_bytes > 0' <<<"$output" | sort -u)" = true ]
}

@test "--interval text: one header line, each row under it; recv's rows have no TCP columns" {
  start_listener r /dev/null recv --discard --interval 100ms 127.0.0.1 0
  run timeout 20 "$SOCKPROBE" send --size 4M --rate 10M --interval 100ms 127.0.0.1 "$PORT"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "[  start-    end s]        bytes       human           rate   retr        cwnd       rtt" ]
  [ "$(grep -c 'start-' <<<"$output")" = 1 ]
  # Every row: bytes, human, rate, then retr, cwnd and rtt.
  rows=$(grep -c '^\[ *[0-9.]*- *[0-9.]* s\]' <<<"$output")
  [ "$rows" -ge 3 ]
  [ "$(grep -cE 'bit/s +[0-9]+ +[0-9.]+ (B|KiB|MiB|GiB) +[0-9.]+(ns|us|ms|s)$' <<<"$output")" = "$rows" ]
  bg_wait r 10
  [ "$BG_STATUS" -eq 0 ]
  [ "$(head -1 "$T/r.out")" = "[  start-    end s]        bytes       human           rate" ]
  [ "$(grep -c '^\[ *[0-9.]*- *[0-9.]* s\]' "$T/r.out")" -ge 3 ]
}

@test "recv --discard: a slow sender's bytes are in every interval and no stall, though the socket wakes it per 256 KiB" {
  # SO_RCVLOWAT 256K (transfer.cc wake_for_more): at 200 KiB/s the socket
  # alone would wake recv after 1.3 s; each interval and stall deadline
  # reads what is there.
  start_listener r /dev/null recv --discard --json --interval 200ms --stall-timeout 500ms 127.0.0.1 0
  run timeout 20 "$SOCKPROBE" send --size 300K --rate 200K -q --no-progress 127.0.0.1 "$PORT"
  [ "$status" -eq 0 ]
  bg_wait r 10
  [ "$BG_STATUS" -eq 0 ] || { show "$T/r.out" "$T/r.err"; false; }
  [ "$(jq -r 'select(.event == "summary") | .bytes' "$T/r.out")" = 307200 ]
  # Every interval but the last partial one carried bytes.
  jq -r 'select(.event == "interval") | .bytes' "$T/r.out" | head -n -1 >"$T/iv"
  [ "$(wc -l <"$T/iv")" -ge 5 ]
  ! grep -qx 0 "$T/iv" || { cat "$T/iv"; false; }
}

@test "a peer that never reads: stall reported as a zero window, exit 3 within stall-timeout + 2 s" {
  py_transfer_peer py deaf
  start=$(date +%s%N)
  run timeout 120 "$SOCKPROBE" send 127.0.0.1 "$PORT" --size 1G --stall-timeout 2s
  end=$(date +%s%N)
  [ "$status" -eq 3 ]
  [[ "$output" == *"peer is not reading"* ]]
  [[ "$output" == *"bytes queued in the kernel"* ]]
  [ $(( (end - start) / 1000000 )) -lt 4000 ]
}

@test "SIGINT mid-transfer prints the partial summary and exits 130" {
  start_listener r /dev/null recv 127.0.0.1 0 --discard
  bg_start s /dev/null "$SOCKPROBE" send 127.0.0.1 "$PORT" --duration 60s --rate 20M --interval 100ms
  wait_for_line "$T/s.out" '^\['
  kill -INT "$(bg_pid s)"
  bg_wait s 30
  [ "$BG_STATUS" -eq 130 ]
  grep -q "^Sent [0-9]* bytes .*(interrupted)" "$T/s.out"
  # The interrupted sender aborted with a reset: the receiver fails too.
  bg_wait r 60
  [ "$BG_STATUS" -eq 1 ]
  grep -q "Connection reset by peer" "$T/r.err"
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
  start_listener r /dev/null recv 127.0.0.1 0 --discard
  run --separate-stderr timeout 120 "$SOCKPROBE" send 127.0.0.1 "$PORT" --duration 1s --rate 20M --progress
  [ "$status" -eq 0 ]
  bg_wait r 60
  [ "$BG_STATUS" -eq 0 ]
  [[ "$stderr" == *$'\r'*"Mbit/s"* ]]
  [[ "$output" != *$'\r'* ]]   # stdout keeps only the summary

  start_listener r2 /dev/null recv 127.0.0.1 0 --discard
  run --separate-stderr timeout 120 "$SOCKPROBE" send 127.0.0.1 "$PORT" --size 1M --no-progress
  [ "$status" -eq 0 ]
  bg_wait r2 60
  [ "$BG_STATUS" -eq 0 ]
  [[ "$stderr" != *$'\r'* ]]
}

@test "recv: SIGINT mid-transfer prints what arrived so far and exits 130" {
  start_listener r /dev/null recv 127.0.0.1 0 --discard --interval 100ms
  bg_start s /dev/null "$SOCKPROBE" send 127.0.0.1 "$PORT" --duration 60s --rate 20M
  wait_for_line "$T/r.out" '^\['
  kill -INT "$(bg_pid r)"
  bg_wait r 30
  [ "$BG_STATUS" -eq 130 ]
  grep -q "^Received [1-9][0-9]* bytes .*(interrupted)" "$T/r.out"
}

@test "recv --stall-timeout: a silent sender is reported and exits 3" {
  start_listener r /dev/null recv 127.0.0.1 0 --discard --stall-timeout 1s
  bg_start silent /dev/null "$PY" -c 'import socket, sys, time; s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); time.sleep(5)' "$PORT"
  bg_wait r 30
  [ "$BG_STATUS" -eq 3 ]
  grep -q "no data for .*: nothing arrived (this side's receive window is open: [0-9]* bytes); either the sender sends nothing or its packets are lost" "$T/r.err"
}

@test "-q keeps the Listening line (the only way to learn port 0) and drops the rest" {
  start_listener r /dev/null recv -q 127.0.0.1 0 --discard
  echo hi | timeout 30 nc -N 127.0.0.1 "$PORT"
  bg_wait r 60
  [ "$BG_STATUS" -eq 0 ]
  [ "$(wc -l < "$T/r.err")" -eq 1 ]
  [ ! -s "$T/r.out" ]
}

@test "delivery 1: a receiver that half-closed first does not end send's wait for its acknowledgement" {
  make_random "$T/f" 3
  # Acknowledged means in the receiver's kernel (waits_for_ack).
  waits_for_ack py '"$0" send -O 1M 127.0.0.1 "$1" "$2"'
  [[ "$output" == *"Sent 3145728 bytes"* ]]
}

@test "delivery 3: an interrupted or killed send resets; recv -o keeps no file, temporary or final" {
  make_random "$T/f" 8
  for sig in INT TERM HUP; do
    start_listener r /dev/null recv 127.0.0.1 0 -o "$T/out-$sig"
    bg_start s /dev/null "$SOCKPROBE" send 127.0.0.1 "$PORT" "$T/f" --rate 2M
    wait_for_output "$(bg_pid r)" 65536 || { ls -la "$T" >&2; false; }
    kill -"$sig" "$(bg_pid s)"
    bg_wait s 30
    bg_wait r 30
    echo "SIG$sig: recv exit $BG_STATUS" >&2
    [ "$BG_STATUS" -eq 1 ]
    grep -q "Connection reset by peer" "$T/r.err"
    [ ! -e "$T/out-$sig" ]
    run ! ls "$T"/out-"$sig".sockprobe-* 2>/dev/null
  done
}

@test "recv -o killed with -9 mid-transfer leaves nothing: its file has no name until complete" {
  make_random "$T/f" 8
  mkdir "$T/dir"
  start_listener r /dev/null recv 127.0.0.1 0 -o "$T/dir/out"
  bg_start s /dev/null "$SOCKPROBE" send 127.0.0.1 "$PORT" "$T/f" --rate 10M
  wait_for_output "$(bg_pid r)" 65536 || { ls -la "$T/dir" >&2; false; }
  kill -9 "$(bg_pid r)"
  bg_wait r 10
  bg_wait s 30
  [ "$BG_STATUS" -eq 1 ]
  [ -z "$(ls -A "$T/dir")" ] || { ls -la "$T/dir" >&2; false; }
}
