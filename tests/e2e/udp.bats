#!/usr/bin/env bats
# send -u / recv -u: UDP measured transfers. Counts are checked exactly
# against a python3 sender that speaks the documented header with chosen
# gaps, duplicates and reorderings (tests/e2e/udp_sender.py), against the
# kernel's own numbers (a paused receiver in a namespace of its own, where
# the host counters are only this test's), and against an nftables rule's
# counter for datagrams lost on a veth link (this kernel has no netem).

load helpers
load netns

setup() { sp_setup; }
teardown() { sp_teardown; }

# start_udp_recv NAME [ARGS...]: recv -u --json on 127.0.0.1, port in PORT.
start_udp_recv() {
  local name=$1
  shift
  start_listener "$name" /dev/null recv -u --json 127.0.0.1 0 "$@"
}

# summary FIELD FILE: a field of the JSON summary event.
summary() { jq -r "select(.event == \"summary\") | .$1" "$2"; }

@test "send -u --size -> recv -u: every datagram counted, nothing lost, the end confirmed" {
  # -I 4M: the whole 1 MiB fits the receive buffer, so nothing may be lost.
  start_udp_recv r -I 4M
  run timeout 20 "$SOCKPROBE" send -u --size 1M --rate 200M 127.0.0.1 "$PORT"
  [ "$status" -eq 0 ]
  [[ "$output" == *"Sent 723 datagrams, 1048576 bytes"* ]]
  [[ "$output" == *"the receiver confirmed the end"* ]]
  bg_wait r 10
  [ "$BG_STATUS" -eq 0 ] || { show "$T/r.out" "$T/r.err"; false; }
  [ "$(summary datagrams "$T/r.out")" = 723 ]
  [ "$(summary bytes "$T/r.out")" = 1048576 ]
  [ "$(summary expected "$T/r.out")" = 723 ]
  [ "$(summary lost "$T/r.out")" = 0 ]
  [ "$(summary duplicates "$T/r.out")" = 0 ]
  [ "$(summary final "$T/r.out")" = true ]
  [ "$(summary verdict "$T/r.out")" = "" ]
}

@test "send -u with and without UDP GSO: the same exact datagrams, the summary says which" {
  for gso in 1 0; do
    start_udp_recv r -I 4M
    run timeout 20 env SOCKPROBE_UDP_GSO=$gso "$SOCKPROBE" send -u --json --size 1M --length 1400 127.0.0.1 "$PORT"
    [ "$status" -eq 0 ] || { echo "$output" >&2; false; }
    want=$([ "$gso" = 1 ] && echo true || echo false)
    [ "$(jq -r 'select(.event == "summary") | .gso' <<<"$output")" = "$want" ]
    bg_wait r 10
    [ "$BG_STATUS" -eq 0 ] || { show "$T/r.out" "$T/r.err"; false; }
    # 1048576 = 748 x 1400 + 1376: 749 datagrams, the last one shorter.
    [ "$(summary datagrams "$T/r.out")" = 749 ]
    [ "$(summary bytes "$T/r.out")" = 1048576 ]
    [ "$(summary lost "$T/r.out")" = 0 ]
    [ "$(summary reordered "$T/r.out")" = 0 ]
  done
}

@test "recv -u counts a foreign sender's gaps, duplicates and reorderings exactly" {
  start_listener r /dev/null recv -u 127.0.0.1 0
  run timeout 20 "$PY" "$BATS_TEST_DIRNAME/udp_sender.py" 127.0.0.1 "$PORT" --seqs 0,1,2,4,3,3,6,7,7,9 --sent 12
  [ "$output" = echoed ]
  bg_wait r 10
  [ "$BG_STATUS" -eq 0 ] || { show "$T/r.out" "$T/r.err"; false; }
  # received 0 1 2 3 4 6 7 9 (8), expected 12: lost 5 8 10 11; 3 came after 4;
  # 3 and 7 came twice.
  grep -q "^Received 8 datagrams, 1600 bytes" "$T/r.out"
  grep -q "lost 4 of 12 (33.33%): 0 dropped in the socket, 4 lost in the network; 2 duplicates, 1 reordered, 0 late" "$T/r.out"
  grep -q "all of the loss was in the network" "$T/r.out"
}

@test "recv -u jitter follows RFC 3550: transit alternating by 10 ms converges to 10 ms" {
  start_udp_recv r
  run timeout 20 "$PY" "$BATS_TEST_DIRNAME/udp_sender.py" 127.0.0.1 "$PORT" --seqs 0-199 --sent 200 \
    --transit-step-ms 10 --gap-ms 0.5
  [ "$output" = echoed ]
  bg_wait r 10
  j=$(summary jitter_ms "$T/r.out")
  # 10 * (1 - (15/16)^199) = 9.99998; the real arrival spacing adds a little.
  awk -v j="$j" 'BEGIN { exit !(j > 9.5 && j < 10.5) }' || { echo "jitter $j" >&2; false; }
}

@test "a paused receiver: the loss is all dropped_in_socket, equal to the kernel's counts" {
  [ "$(id -u)" = 0 ] || skip "needs root for a network namespace"
  ns="sp-udp-$$-$RANDOM"
  ip netns add "$ns" || skip "cannot create a network namespace"
  SP_NETNS+=("$ns")
  ip -n "$ns" link set lo up
  bg_start r /dev/null ip netns exec "$ns" "$SOCKPROBE" recv -u --json -I 64K 127.0.0.1 0
  wait_for_line "$T/r.err" '"event":"listening"'
  PORT=$(listening_port "$T/r.err")
  pid=$(bg_pid r)
  # ip netns exec execs sockprobe: the pid is the receiver's.
  kill -STOP "$pid"
  bg_start s /dev/null ip netns exec "$ns" "$SOCKPROBE" send -u --size 4M --json 127.0.0.1 "$PORT"
  # The data phase takes milliseconds; then the sender repeats its final for
  # up to 1 s. Resume the receiver once the socket's drops stop growing.
  last=-1
  for _ in $(seq 40); do
    d=$(ip netns exec "$ns" awk -v p="$(printf '%04X' "$PORT")" 'NR > 1 && $2 ~ ":" p "$" { print $NF }' /proc/net/udp)
    [ -n "$d" ] && [ "$d" -gt 0 ] && [ "$d" = "$last" ] && break
    last=$d
    sleep 0.02
  done
  kill -CONT "$pid"
  bg_wait s 20
  [ "$BG_STATUS" -eq 0 ] || { show "$T/s.out" "$T/s.err"; false; }
  bg_wait r 20
  [ "$BG_STATUS" -eq 0 ] || { show "$T/r.out" "$T/r.err"; false; }
  [ "$(summary final "$T/r.out")" = true ]
  lost=$(summary lost "$T/r.out")
  [ "$lost" -gt 0 ]
  [ "$(summary dropped_in_socket "$T/r.out")" = "$lost" ]
  [ "$(summary lost_in_network "$T/r.out")" = 0 ]
  # The host counts every datagram the full socket dropped: the lost data
  # ones and the repeats of the final that came while it was paused (at
  # most 40, one per 25 ms).
  host=$(summary '"host"."UdpRcvbufErrors"' "$T/r.out")
  [ "$host" -ge "$lost" ] && [ "$host" -le $((lost + 40)) ] || { echo "host $host lost $lost" >&2; false; }
  [[ "$(summary verdict "$T/r.out")" == "all of the loss was your receive buffer"* ]]
}

@test "datagrams dropped on a veth link by nftables: lost_in_network equals the rule's counter" {
  netns_pair
  bg_start r /dev/null ip netns exec "$NS_SRV" "$SOCKPROBE" recv -u --json -I 4M "$NETNS_SRV_ADDR" 0
  wait_for_line "$T/r.err" '"event":"listening"'
  PORT=$(listening_port "$T/r.err")
  # Only data datagrams of the default length (1452 + 8 bytes of UDP header)
  # are dropped, never the final one; on the receiver's side, as a link
  # would lose them (dropped in the sender's output hook, sendmsg fails EPERM).
  netns_lose_in "udp dport $PORT udp length 1460 numgen random mod 100 < 5"
  # Without GSO: veth carries a GSO super-datagram across whole, so the
  # rule would see (and count) super-datagrams, not datagrams.
  run timeout 30 ip netns exec "$NS_CLI" env SOCKPROBE_UDP_GSO=0 "$SOCKPROBE" send -u --size $((3000 * 1452)) \
    --rate 100M "$NETNS_SRV_ADDR" "$PORT"
  [ "$status" -eq 0 ] || { echo "$output" >&2; false; }
  bg_wait r 20
  [ "$BG_STATUS" -eq 0 ] || { show "$T/r.out" "$T/r.err"; false; }
  dropped=$(netns_lost_in)
  [ "$dropped" -gt 0 ]
  [ "$(summary expected "$T/r.out")" = 3000 ] || { cat "$T/r.out"; false; }
  [ "$(summary lost_in_network "$T/r.out")" = "$dropped" ]
  [ "$(summary dropped_in_socket "$T/r.out")" = 0 ]
  [ "$(summary lost "$T/r.out")" = "$dropped" ]
}

@test "send -u -> recv -u over a Unix datagram socket" {
  start_listener r /dev/null recv -u --json -U "$T/u.sock"
  run timeout 20 "$SOCKPROBE" send -u --size 100K --length 1000 -U "$T/u.sock"
  [ "$status" -eq 0 ]
  [[ "$output" == *"the receiver confirmed the end"* ]]
  bg_wait r 10
  [ "$BG_STATUS" -eq 0 ] || { show "$T/r.out" "$T/r.err"; false; }
  [ "$(summary bytes "$T/r.out")" = 102400 ]
  [ "$(summary lost "$T/r.out")" = 0 ]
}

@test "send -u --interval prints a header and per-interval datagrams; recv -u --interval its losses" {
  start_listener r /dev/null recv -u --interval 100ms 127.0.0.1 0
  run timeout 20 "$SOCKPROBE" send -u --duration 350ms --rate 10M --interval 100ms 127.0.0.1 "$PORT"
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "[  start-    end s]    datagrams"* ]]
  [ "$(grep -c '^\[ *[0-9.]*- *[0-9.]* s\]' <<<"$output")" -ge 3 ]
  bg_wait r 10
  [ "$BG_STATUS" -eq 0 ]
  grep -q '^\[  start-    end s\].* lost  in_socket  jitter_ms$' "$T/r.out"
  [ "$(grep -c '^\[ *[0-9.]*- *[0-9.]* s\]' "$T/r.out")" -ge 3 ]
}

@test "send -u to a port where nothing receives: exit 1, connection refused" {
  port=$("$PY" -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  run timeout 20 "$SOCKPROBE" send -u --size 10K 127.0.0.1 "$port"
  [ "$status" -eq 1 ]
  [[ "$output" == *"send to 127.0.0.1 port $port (udp): Connection refused"* ]]
}

@test "recv -u without a final datagram ends after --idle-timeout: exit 3, with the counts" {
  start_listener r /dev/null recv -u --idle-timeout 300ms 127.0.0.1 0
  "$PY" -c '
import socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for seq in range(5):
    s.sendto(struct.pack("!IBBHQQ", 0x53504447, 1, 0, 1, seq, time.time_ns()), ("127.0.0.1", int(sys.argv[1])))
' "$PORT"
  bg_wait r 10
  [ "$BG_STATUS" -eq 3 ]
  grep -q "no datagram for 300.0ms and no final datagram" "$T/r.err"
  grep -q "^Received 5 datagrams, 120 bytes" "$T/r.out"
}

@test "bad UDP transfer input is a usage error naming the flag" {
  for args in "send -u --length 0 127.0.0.1 9" "send -u --length 70000 127.0.0.1 9" \
    "send --length 1000 127.0.0.1 9" "send -u --checksum 127.0.0.1 9" "send -u --listen 0" \
    "recv -u -o x 0" "recv -u --checksum 0" "recv -u --expect-bytes 1M 0" "recv --idle-timeout 1s 0" \
    "recv -u --idle-timeout 1x 0"; do
    run timeout 5 "$SOCKPROBE" $args
    [ "$status" -eq 2 ] || { echo "$args: status $status: $output" >&2; false; }
    [ "${#lines[@]}" -eq 1 ] || { echo "$args: $output" >&2; false; }
  done
}
