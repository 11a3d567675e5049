#!/usr/bin/env bash
# Start-up cost: wall time of a sockprobe invocation that does no I/O against
# the same for OpenBSD nc (`nc.openbsd -h`, which prints its usage and
# exits) — the row "sockprobe --version vs nc.openbsd -h" of issue 13 (goal:
# <= 1.3x). Runs A and B alternately (A B A B ...), so drift in machine load
# hits both, and reports the median of the per-pair ratios, plus the same for
# `sockprobe listen --help` (one subcommand's CLI tree) and
# `sockprobe connect -z` of a closed loopback port (parse, one connect, exit).
#
#   bench/startup.sh [SOCKPROBE] [--pairs 300]
set -euo pipefail

SOCKPROBE=./build/src/sockprobe
PAIRS=300
while [ $# -gt 0 ]; do
  case $1 in
    --pairs) PAIRS=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) SOCKPROBE=$1; shift ;;
  esac
done
command -v nc.openbsd >/dev/null || { echo "bench: nc.openbsd not found (apt-get install netcat-openbsd)" >&2; exit 2; }

echo "sockprobe start-up benchmark: $PAIRS alternating pairs each, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$SOCKPROBE" "$PAIRS" <<'EOF'
import socket, statistics, subprocess, sys, time

sockprobe, pairs = sys.argv[1], int(sys.argv[2])
s = socket.socket(); s.bind(("127.0.0.1", 0)); closed = str(s.getsockname()[1]); s.close()
ref = ["nc.openbsd", "-h"]
cases = [("--version", [sockprobe, "--version"]),
         ("listen --help", [sockprobe, "listen", "--help"]),
         ("connect -z (closed port)", [sockprobe, "connect", "-z", "127.0.0.1", closed])]

def wall(argv):
    t = time.perf_counter_ns()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter_ns() - t

print(f"{'case':28} {'sockprobe':>10} {'nc -h':>10} {'ratio':>7}")
for name, argv in cases:
    a, b = [], []
    for _ in range(pairs):
        a.append(wall(argv))
        b.append(wall(ref))
    ratio = statistics.median(x / y for x, y in zip(a, b))
    print(f"{name:28} {statistics.median(a)/1e6:8.2f}ms {statistics.median(b)/1e6:8.2f}ms {ratio:6.2f}x")
EOF
