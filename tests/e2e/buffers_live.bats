#!/usr/bin/env bats
# Why: `buffers --port/--pid/--all` reads live sockets over NETLINK_SOCK_DIAG
# the way `ss -m` does. These tests build sockets whose state is known (a
# receiver that set its own SO_RCVBUF and does not read, a UDP socket that
# overflows inside a private netns) and compare with ss and /proc/net/snmp.

load helpers

setup() { sp_setup; }
teardown() { sp_teardown; }

# A TCP pair on loopback: the listener sets SO_RCVBUF=32768 before listen()
# (accepted sockets inherit it) and never reads; the client (SO_SNDBUF=65536)
# writes until the kernel refuses more. Prints "port N" when the queues are
# full; sets PORT.
start_tcp_stall() {
  py_start peer '
import socket, sys, time
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
srv.bind(("127.0.0.1", 0))
srv.listen(1)
cli = socket.socket()
cli.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
cli.connect(srv.getsockname())
conn, _ = srv.accept()
cli.setblocking(False)
sent = 0
deadline = time.time() + 10
while time.time() < deadline:
    try:
        sent += cli.send(b"x" * 65536)
    except BlockingIOError:
        time.sleep(0.2)
        try:
            sent += cli.send(b"x" * 65536)
        except BlockingIOError:
            break
print("port", srv.getsockname()[1], file=sys.stderr, flush=True)
time.sleep(120)
'
}

@test "buffers --port: rb and tb agree with ss -tmn for a stalled connection" {
  start_tcp_stall
  port=$PORT
  run "$SOCKPROBE" buffers --port "$port" --json
  [ "$status" -eq 0 ]
  ours=$(jq -r 'select(.event=="socket" and .socket=="tcp4") | "\(.local.port) \(.peer.port) \(.skmem.rb) \(.skmem.tb)"' <<<"$output" | sort)
  theirs=$(ss -tamnHO "( sport = :$port or dport = :$port )" |
    sed -E 's/.* [^ ]*:([0-9]+) +[^ ]*:([0-9*]+) .*rb([0-9]+),t[0-9]+,tb([0-9]+).*/\1 \2 \3 \4/; s/ \* / 0 /' | sort)
  echo "sockprobe: $ours"
  echo "ss:        $theirs"
  [ "$(wc -l <<<"$ours")" -eq 3 ]   # listener, client, accepted
  [ "$ours" = "$theirs" ]
  # The accepted socket inherited SO_RCVBUF 32768 -> 65536 and holds unread data.
  jq -e -s --argjson p "$port" '[.[] | select(.event=="socket" and .local.port==$p and .state=="ESTAB")][0] |
    .skmem.rb == 65536 and .skmem.r > 0 and .recv_q > 0' <<<"$output"
  jq -e -s --argjson p "$port" '[.[] | select(.event=="socket" and .peer.port==$p)][0] | .skmem.tb == 131072 and .send_q > 0' <<<"$output"
}

@test "buffers --port: human table and owner" {
  start_tcp_stall
  port=$PORT
  run "$SOCKPROBE" buffers --port "$port"
  [ "$status" -eq 0 ]
  [[ "$output" == *"Recv-Q"* ]]
  [[ "$output" == *"65536 (64 KiB)"* ]]
  [[ "$output" == *"$(bg_pid peer)/python3"* ]]
  [[ "$output" == *"UdpRcvbufErrors"* ]]
}

@test "buffers --pid: only that process's sockets, Unix ones too" {
  bg_start peer /dev/null "$PY" -c '
import socket, sys, time
a, b = socket.socketpair()
a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 50000)
a.send(b"y" * 1000)
print("up", file=sys.stderr, flush=True)
time.sleep(120)
'
  wait_for_line "$T/peer.err" '^up'
  run "$SOCKPROBE" buffers --pid "$(bg_pid peer)" --json
  [ "$status" -eq 0 ]
  [ "$(jq -r 'select(.event=="socket") | .pid' <<<"$output" | sort -u)" = "$(bg_pid peer)" ]
  [ "$(jq -r 'select(.event=="socket") | .socket' <<<"$output" | sort -u)" = "unix-stream" ]
  jq -e -s '[.[] | select(.event=="socket" and .skmem.tb == 100000)] | length == 1' <<<"$output"
}

@test "buffers --port: UDP overflow in a private netns shows drops and RcvbufErrors" {
  plain_netns
  bg_start peer /dev/null ip netns exec "$NS" "$PY" -c '
import socket, sys, time
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
r.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
r.bind(("127.0.0.1", 0))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(200):
    s.sendto(b"z" * 1000, r.getsockname())
print("port", r.getsockname()[1], file=sys.stderr, flush=True)
time.sleep(120)
'
  wait_for_line "$T/peer.err" '^port [0-9]+'
  port=$(sed -nE 's/^port ([0-9]+).*/\1/p' "$T/peer.err")
  run ip netns exec "$NS" "$SOCKPROBE" buffers --port "$port" --json
  [ "$status" -eq 0 ]
  sock=$(jq -c 'select(.event=="socket" and .socket=="udp4")' <<<"$output")
  jq -e '.skmem.rb == 8192 and .skmem.d > 0 and (.notes | map(test("dropped")) | any)' <<<"$sock"
  want=$(ip netns exec "$NS" awk '/^Udp:/ {n++; if (n==1) split($0, h); else for (i=2; i<=NF; i++) if (h[i]=="RcvbufErrors") print $i}' /proc/net/snmp)
  [ "$want" -gt 0 ]
  jq -e --argjson w "$want" 'select(.event=="counters") | .UdpRcvbufErrors == $w' <<<"$output"
  [ "$(jq '.skmem.d' <<<"$sock")" -eq "$want" ]
}

@test "buffers --watch: bounded by --count, later rounds carry deltas" {
  start_tcp_stall
  port=$PORT
  run "$SOCKPROBE" buffers --port "$port" --watch 200ms --count 2 --json
  [ "$status" -eq 0 ]
  [ "$(jq -s '[.[] | select(.event=="socket")] | length' <<<"$output")" -eq 9 ]
  [ "$(jq -s '[.[] | select(.event=="socket" and has("drops_delta"))] | length' <<<"$output")" -eq 6 ]
  # Each round's drops_delta is that socket's d minus its d one round earlier.
  jq -e -s '[.[] | select(.event=="socket")] as $s | [range(3; 9) | . as $i |
    ($s[$i].inode) as $n | [$s[($i - ($i % 3) - 3):($i - ($i % 3))][] | select(.inode == $n)][0] as $prev |
    $s[$i].drops_delta == ($s[$i].skmem.d - $prev.skmem.d)] | all' <<<"$output"
  [ "$(jq -s '[.[] | select(.event=="counters")] | length' <<<"$output")" -eq 3 ]
  # The first counters are totals, the next ones deltas over an interval.
  [ "$(jq -c 'select(.event=="counters") | [.delta, (.interval != null)]' <<<"$output" | tr -d '\n')" = \
    "[false,false][true,true][true,true]" ]
}

@test "buffers --watch: text rounds repeat the numbers, the explanations once" {
  start_tcp_stall
  run "$SOCKPROBE" buffers --port "$PORT" --watch 200ms --count 2
  [ "$status" -eq 0 ]
  # Every round has its table: 3 sockets (listener, both ends) and the counters by name.
  [ "$(grep -c 'ESTAB' <<<"$output")" -eq 6 ]
  [ "$(grep -c '^  UdpRcvbufErrors ' <<<"$output")" -eq 3 ]
  [ "$(grep -cE '^  UdpRcvbufErrors +[+-][0-9]+$' <<<"$output")" -eq 2 ]
  # What a counter means (Udp and Udp6 share it) and each socket's notes: the first round only.
  [ "$(grep -c 'was full$' <<<"$output")" -eq 2 ]
  [ "$(grep -c '^  Notes:' <<<"$output")" -eq 1 ]
  grep -q 'below the default' <<<"$output"
  # JSON keeps the notes in every round's socket events.
  run "$SOCKPROBE" buffers --port "$PORT" --watch 200ms --count 2 --json
  [ "$status" -eq 0 ]
  jq -e -s '[.[] | select(.event=="socket" and .state=="ESTAB") | .notes | length > 0] | length == 6 and all' <<<"$output"
}

@test "buffers live: errors and usage" {
  run "$SOCKPROBE" buffers --pid 2147483647
  [ "$status" -eq 1 ]
  [[ "$output" == *"--pid 2147483647: no such process"* ]]
  run "$SOCKPROBE" buffers --port 1 --count 2
  [ "$status" -eq 2 ]
  [[ "$output" == *"--count"* ]]
  run "$SOCKPROBE" buffers --port 1 --watch 0
  [ "$status" -eq 2 ]
  [[ "$output" == *"--watch"* ]]
  run "$SOCKPROBE" buffers --port 1 --set 4000
  [ "$status" -eq 2 ]
}
