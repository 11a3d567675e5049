#!/bin/bash
# Regenerates tests/data/sockdiag/synrecv4.hex: a sock_diag TCP dump holding
# request sockets (SYN-RECV), for core/synqueue_test.cc (why: the match of
# request sockets to listeners is tested on a real kernel's reply). Runs as
# root. Two namespaces joined by veth (tests/e2e/netns.bash); the server
# listens with backlog 2 on 192.0.2.1 and on 0.0.0.0 (same port,
# SO_REUSEPORT so both may bind); the client's final ACKs are dropped by
# nftables; 5 clients go to 192.0.2.1 (3 request sockets, 2 SYN cookies) and
# 2 to 192.0.2.3 (the wildcard listener). Captured 1.5 s after the 5th request
# socket appeared, once every SYN-ACK was resent.
#   usage: tests/data/capture-synrecv.sh path/to/sockprobe [OUTFILE]
set -euo pipefail
sockprobe=$(realpath "${1:?usage: capture-synrecv.sh SOCKPROBE [OUTFILE]}")
here=$(cd "$(dirname "$0")" && pwd)
out=${2:-$here/sockdiag/synrecv4.hex}
source "$here/../e2e/netns.bash"
pids=()
tmp=$(mktemp -d)
trap 'kill "${pids[@]}" 2>/dev/null || true; netns_cleanup; rm -rf "$tmp"' EXIT
netns_pair
ip -n "$NS_SRV" addr add 192.0.2.3/24 dev v0
ip netns exec "$NS_SRV" python3 -c '
import socket, time
ls = []
for addr in ("192.0.2.1", "0.0.0.0"):
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    l.bind((addr, ls[0].getsockname()[1] if ls else 0)); l.listen(2); ls.append(l)
print(ls[0].getsockname()[1], flush=True)
time.sleep(60)
' >"$tmp/port" &
pids+=($!)
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
port=$(cat "$tmp/port")
netns_drop_final_acks "$port"
ip netns exec "$NS_CLI" python3 -c '
import socket, sys, time
port, keep = int(sys.argv[1]), []
for addr, n in (("192.0.2.1", 5), ("192.0.2.3", 2)):
    for _ in range(n):
        s = socket.socket(); s.setblocking(False); s.connect_ex((addr, port)); keep.append(s)
time.sleep(60)
' "$port" &
pids+=($!)
for _ in $(seq 100); do
  [ "$(ip netns exec "$NS_SRV" ss -Htn state syn-recv | wc -l)" -ge 5 ] && break
  sleep 0.1
done
sleep 1.5
ip netns exec "$NS_SRV" ss -tno state syn-recv
ip netns exec "$NS_SRV" "$sockprobe" backlog --capture "$tmp/cap"
cp "$tmp/cap/tcp4.hex" "$out"
echo "captured into $out"
