#!/bin/bash
# Regenerates the captured sock_diag dumps in tests/data/sockdiag/ (why: unit
# tests replay real kernel replies, so parsing is tested without a live
# kernel). Runs as root: it builds a known scene of sockets inside a private
# network namespace, so the dumps hold only those sockets, captures them with
# `sockprobe backlog --capture DIR`, and removes the namespace.
#   usage: tests/data/capture.sh path/to/sockprobe [OUTDIR]
set -euo pipefail
sockprobe=${1:?usage: capture.sh SOCKPROBE [OUTDIR]}
out=${2:-$(dirname "$0")/sockdiag}
ns="sockprobe-capture-$$"
scene_pid=""
ip netns add "$ns"
trap 'if [ -n "$scene_pid" ]; then kill "$scene_pid" 2>/dev/null || true; fi; ip netns del "$ns"' EXIT
ip netns exec "$ns" ip link set lo up
fifo=$(mktemp -u) && mkfifo "$fifo"
# The scene: TCP 127.0.0.1 backlog 3 with 2 connections queued; TCP ::1
# backlog 7; UDP 127.0.0.1 with 3 unread datagrams; Unix @sockprobe-fixture
# backlog 2 with 1 pending connection. It prints READY and waits.
ip netns exec "$ns" python3 -c '
import socket, sys, time
l4 = socket.socket(); l4.bind(("127.0.0.1", 0)); l4.listen(3)
c = [socket.create_connection(l4.getsockname()) for _ in range(2)]
l6 = socket.socket(socket.AF_INET6); l6.bind(("::1", 0)); l6.listen(7)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(3): s.sendto(b"x" * 100, u.getsockname())
ul = socket.socket(socket.AF_UNIX); ul.bind("\0sockprobe-fixture"); ul.listen(2)
uc = socket.socket(socket.AF_UNIX); uc.connect("\0sockprobe-fixture")
print("READY", flush=True)
time.sleep(60)
' >"$fifo" &
scene_pid=$!
read -r line <"$fifo"
rm -f "$fifo"
[ "$line" = READY ]
ip netns exec "$ns" "$sockprobe" backlog --capture "$out"
# The netstat counters of that namespace go with the other kernels' files.
mkdir -p "$out/../netstat"
mv "$out/netstat" "$out/../netstat/linux-$(uname -r | cut -d. -f1,2)-netns.txt"
echo "captured into $out"
