#!/usr/bin/env bats
# The SYN queue end to end. Truth tests in two namespaces joined by veth
# (netns.bash), with the client's final ACKs dropped by nftables so the
# handshakes stay in SYN-RECV: sockprobe's syn_recv per listener equals
# `ss -n state syn-recv` for that port, and its SYN-ACK retransmits equal the
# timers ss shows. `backlog test --syn-queue` (a TUN device inside its own
# private namespace) agrees: backlog N keeps N+1, then cookies or drops per
# tcp_syncookies, with the counters moving. Listeners are python3 sockets, stopped by PID in teardown; the
# namespaces (and with them the veth pair and the nft table) are deleted in
# teardown.

bats_require_minimum_version 1.5.0

load helpers
load netns

setup() { sp_setup; }
teardown() { sp_teardown; }

# sq_listen NS ADDR BACKLOG [reuseport N]: python3 listener(s) in NS that never
# accept; sets PORT (and LPID).
sq_listen() {
  local ns=$1 addr=$2 backlog=$3 n=${5:-1}
  bg_start lsn /dev/null ip netns exec "$ns" "$PY" -c '
import socket, sys, time
addr, backlog, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ls, port = [], 0
for _ in range(n):
    l = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
    if n > 1: l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    l.bind((addr, port)); l.listen(backlog); port = l.getsockname()[1]; ls.append(l)
print("port", port, file=sys.stderr, flush=True)
time.sleep(120)
' "$addr" "$backlog" "$n"
  wait_for_line "$T/lsn.err" '^port [0-9]+' || return 1
  PORT=$(sed -nE 's/^port ([0-9]+).*/\1/p' "$T/lsn.err")
  LPID=$(bg_pid lsn)
}

# sq_clients NAME ADDR N: N connections from NS_CLI, held open (background NAME).
sq_clients() {
  local name=$1
  shift
  bg_start "$name" /dev/null ip netns exec "$NS_CLI" "$PY" -c '
import socket, sys, time
addr, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
keep = []
for _ in range(n):
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
    s.setblocking(False); s.connect_ex((addr, port)); keep.append(s)
print("sent", file=sys.stderr, flush=True)
time.sleep(120)
' "$1" "$PORT" "$2"
  wait_for_line "$T/$name.err" '^sent' || return 1
}

# ss_syn_recv: request sockets ss sees for PORT in NS_SRV.
ss_syn_recv() {
  ip netns exec "$NS_SRV" ss -Htn state syn-recv "sport = :$PORT" | wc -l
}

# wait_syn_recv N: until ss shows N request sockets for PORT (10 s at most).
wait_syn_recv() {
  local i
  for ((i = 0; i < 100; i++)); do
    [ "$(ss_syn_recv)" -ge "$1" ] && return 0
    sleep 0.1
  done
  echo "ss shows $(ss_syn_recv) request sockets, wanted $1" >&2
  return 1
}

@test "syn_recv per listener equals ss state syn-recv, IPv4 and IPv6, with SYN-ACK retransmits" {
  netns_pair
  sq_listen "$NS_SRV" :: 16
  netns_drop_final_acks "$PORT"
  sq_clients cli4 "$NETNS_SRV_ADDR" 4
  sq_clients cli6 "$NETNS_SRV_ADDR6" 3
  wait_syn_recv 7
  run -0 ip netns exec "$NS_SRV" "$SOCKPROBE" --json backlog --port "$PORT"
  echo "$output"
  [ "$(jq -r 'select(.event=="listener") | .syn_recv' <<<"$output")" = "$(ss_syn_recv)" ]
  [ "$(ss_syn_recv)" = 7 ]
  [ "$(jq -r 'select(.event=="listener") | .syn_max' <<<"$output")" = 17 ]
  [ "$(jq -r 'select(.event=="listener") | .reuseport_group' <<<"$output")" = 1 ]
  # The server resends its SYN-ACK after 1 s: sockprobe's sum equals the
  # retransmit counts in ss's timers (read until both agree, 5 tries).
  sleep 1.3
  local i ours theirs
  for ((i = 0; i < 5; i++)); do
    ours=$(ip netns exec "$NS_SRV" "$SOCKPROBE" --json backlog --port "$PORT" | jq -r 'select(.event=="listener") | .synack_retrans')
    theirs=$(ip netns exec "$NS_SRV" ss -Htno state syn-recv "sport = :$PORT" | sed -nE 's/.*timer:\(on,[^,]*,([0-9]+)\).*/\1/p' | awk '{s += $1} END {print s + 0}')
    [ "$ours" = "$theirs" ] && break
  done
  echo "synack_retrans ours=$ours ss=$theirs"
  [ "$ours" = "$theirs" ]
  [ "$ours" -ge 7 ]
  [ "$(netns_dropped)" -ge 7 ]
  # The table shows them beside the accept queue.
  run -0 ip netns exec "$NS_SRV" "$SOCKPROBE" backlog --port "$PORT"
  [[ $output == *SYN-RECV* ]]
  line=$(grep -E "^  tcp6 +:: +$PORT " <<<"$output")
  [[ $line =~ \ 0\ +16\ +0%\ +7\  ]]
}

@test "a full SYN queue: backlog 2 keeps 3 request sockets, the rest get SYN cookies" {
  netns_pair
  sq_listen "$NS_SRV" "$NETNS_SRV_ADDR" 2
  netns_drop_final_acks "$PORT"
  sq_clients cli "$NETNS_SRV_ADDR" 6
  wait_syn_recv 3
  sleep 0.3
  run -0 ip netns exec "$NS_SRV" "$SOCKPROBE" --json backlog --port "$PORT"
  [ "$(jq -r 'select(.event=="listener") | .syn_recv' <<<"$output")" = 3 ]
  [ "$(ss_syn_recv)" = 3 ]
  [ "$(jq -r 'select(.event=="listener") | .syn_overflow' <<<"$output")" = cookies ]
  [ "$(jq -r 'select(.event=="counters") | .TCPReqQFullDoCookies' <<<"$output")" = 3 ]
  run -0 ip netns exec "$NS_SRV" "$SOCKPROBE" backlog --port "$PORT"
  [[ $output == *"SYN queue full"*"cookies"* ]]
}

@test "an SO_REUSEPORT group shares its SYN-RECV count and says the match is ambiguous" {
  netns_pair
  sq_listen "$NS_SRV" 0.0.0.0 8 reuseport 2
  netns_drop_final_acks "$PORT"
  sq_clients cli "$NETNS_SRV_ADDR" 3
  wait_syn_recv 3
  run -0 ip netns exec "$NS_SRV" "$SOCKPROBE" --json backlog --port "$PORT"
  [ "$(jq -r 'select(.event=="listener") | "\(.syn_recv) \(.reuseport_group)"' <<<"$output" | sort -u)" = "3 2" ]
  run -0 ip netns exec "$NS_SRV" "$SOCKPROBE" backlog --port "$PORT"
  [[ $output == *"SO_REUSEPORT group of 2"* ]]
}

@test "--watch shows SYN-RECV deltas; --openmetrics exports syn_recv" {
  netns_pair
  sq_listen "$NS_SRV" "$NETNS_SRV_ADDR" 16
  netns_drop_final_acks "$PORT"
  bg_start watch /dev/null ip netns exec "$NS_SRV" "$SOCKPROBE" --json backlog --port "$PORT" --watch 700ms --count 3
  wait_for_line "$T/watch.out" '"event":"listener"' 5
  sq_clients cli "$NETNS_SRV_ADDR" 4
  bg_wait watch 20
  [ "$BG_STATUS" = 0 ]
  [ "$(jq -r 'select(.event=="listener" and .interval != null) | .syn_recv_delta' "$T/watch.out" | awk '{s += $1} END {print s}')" = 4 ]
  run -0 ip netns exec "$NS_SRV" "$SOCKPROBE" backlog --openmetrics --port "$PORT"
  [[ $output == *"sockprobe_listener_syn_recv{protocol=\"tcp\",address=\"$NETNS_SRV_ADDR\",port=\"$PORT\",command=\"python3\"} 4"* ]]
}

@test "--check --fail-on-drops: exit 4 when a selected listener's drops grow, 0 when quiet" {
  plain_netns
  sq_listen "$NS" 127.0.0.1 0
  run -0 ip netns exec "$NS" "$SOCKPROBE" backlog --check --fail-on-drops --fail-above 100 --watch 200ms --count 2
  bg_start watch /dev/null ip netns exec "$NS" "$SOCKPROBE" --json backlog --check --fail-on-drops \
    --fail-above 100 --watch 1s --count 8
  wait_for_line "$T/watch.out" '"event":"listener"' 5
  # backlog 0 holds one: the second client's SYNs are dropped at the listener.
  ip netns exec "$NS" nc -z -w 1 127.0.0.1 "$PORT" || true
  ip netns exec "$NS" nc -z -w 2 127.0.0.1 "$PORT" || true
  bg_wait watch 20
  [ "$BG_STATUS" -eq 4 ]
  grep -q '"event":"check","ok":false' "$T/watch.out"
  grep -q "127.0.0.1 port $PORT: [0-9]* drops this interval" "$T/watch.err"
  run -2 "$SOCKPROBE" backlog --check --fail-on-drops
  [[ $output == *"--watch"* ]]
}

# sq_test ARGS...: `backlog test --syn-queue ARGS` as JSON into $output;
# skipped where a private namespace or a TUN device cannot be made.
sq_test() {
  [ "$(id -u)" = 0 ] || skip "backlog test --syn-queue needs root"
  [ -c /dev/net/tun ] || skip "no /dev/net/tun"
  run -0 "$SOCKPROBE" --json backlog test --syn-queue "$@"
  echo "$output"
}

@test "backlog test --syn-queue: backlog N keeps N+1 request sockets, cookies for the rest (syncookies 1)" {
  sq_test --backlog 4 --clients 10 --timeout 1500ms --syncookies 1
  [ "$(jq -r .syn_queue <<<"$output")" = true ]
  [ "$(jq -r .private_netns <<<"$output")" = true ]
  [ "$(jq -r .syn_max <<<"$output")" = 5 ]
  [ "$(jq -r .syn_recv <<<"$output")" = 5 ]
  [ "$(jq -r .cookies <<<"$output")" = 5 ]
  [ "$(jq -r .unanswered <<<"$output")" = 0 ]
  [ "$(jq -r .counters.TCPReqQFullDoCookies <<<"$output")" = 5 ]
  [ "$(jq -r .counters.SyncookiesSent <<<"$output")" = 5 ]
  [ "$(jq -r .counters.TCPReqQFullDrop <<<"$output")" = 0 ]
  # Every kept handshake had its SYN-ACK resent after 1 s; cookies keep no state to resend.
  [ "$(jq -r .synack_resent <<<"$output")" = 5 ]
  run -0 "$SOCKPROBE" backlog test --syn-queue --backlog 4 --clients 10 --timeout 300ms
  [[ $output == *"SYN-RECV"*" 5 "* ]]
  [[ $output == *"holds backlog + 1"* ]]
  [[ $output == *"5 got SYN cookies (TCPReqQFullDoCookies +5)"* ]]
}

@test "backlog test --syn-queue --syncookies 0: SYNs past the queue are dropped (TCPReqQFullDrop)" {
  sq_test --backlog 4 --clients 10 --timeout 300ms --syncookies 0
  [ "$(jq -r .syn_recv <<<"$output")" = 5 ]
  [ "$(jq -r .cookies <<<"$output")" = 0 ]
  [ "$(jq -r .unanswered <<<"$output")" = 5 ]
  [ "$(jq -r .counters.TCPReqQFullDrop <<<"$output")" = 5 ]
  [ "$(jq -r .counters.TCPReqQFullDoCookies <<<"$output")" = 0 ]
}

@test "backlog test --syn-queue --syncookies 0 --max-syn-backlog: the last quarter is kept for known clients" {
  # 16 - 16/4 + 1 = 13 unproven clients are taken, far below backlog + 1.
  sq_test --backlog 100 --clients 30 --timeout 300ms --syncookies 0 --max-syn-backlog 16
  [ "$(jq -r .max_syn_backlog <<<"$output")" = 16 ]
  [ "$(jq -r .syn_recv <<<"$output")" = 13 ]
  [ "$(jq -r .unanswered <<<"$output")" = 17 ]
  [ "$(jq -r .counters.ListenDrops <<<"$output")" = 17 ]
}

@test "backlog test --syn-queue --syncookies 2: every SYN gets a cookie, no request socket" {
  sq_test --backlog 4 --clients 8 --timeout 300ms --syncookies 2
  [ "$(jq -r .syn_max <<<"$output")" = 0 ]
  [ "$(jq -r .syn_recv <<<"$output")" = 0 ]
  [ "$(jq -r .cookies <<<"$output")" = 8 ]
  [ "$(jq -r .counters.SyncookiesSent <<<"$output")" = 8 ]
}

@test "backlog test --syn-queue: usage errors" {
  run -2 "$SOCKPROBE" backlog test --syn-queue --accept-rate 2
  [[ $output == *"--accept-rate"* ]]
  run -2 "$SOCKPROBE" backlog test --syn-queue --abort-on-overflow
  [[ $output == *"--abort-on-overflow"* ]]
  run -2 "$SOCKPROBE" backlog test --syn-queue --no-netns
  [[ $output == *"private network namespace"* ]]
  run -2 "$SOCKPROBE" backlog test --max-syn-backlog 0
  [[ $output == *"--max-syn-backlog"* ]]
}
