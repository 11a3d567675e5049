#!/usr/bin/env python3
# Memory of idle connections on `listen --echo`: opens N loopback
# connections (one round trip on every 100th), then reads the server's
# VmRSS. Usage: bench/echo_idle.py N build/src/sockprobe listen --echo
# --max-conns 20000 127.0.0.1 0   (needs `ulimit -Hn` >= 20000).
# No peer is run beside it: socat (fork) and ncat (--sh-exec) serve each
# connection in its own process, so their cost per idle connection is a
# process, not a buffer. Measured 2026-12-03: 10000 idle -> 11.8 MiB RSS
# (754 B per connection; 50.7 MB before echo buffers became lazy).
import socket, subprocess, sys, time, resource, os, re
n = int(sys.argv[1]); exe = sys.argv[2:]
resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))
p = subprocess.Popen(exe, stderr=subprocess.PIPE, text=True, preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (20000,20000)))
line = p.stderr.readline()
while 'Listening on' not in line: line = p.stderr.readline()
port = int(line.split()[3])
import threading
threading.Thread(target=lambda: [None for _ in p.stderr], daemon=True).start()
def rss(pid):
    for l in open(f'/proc/{pid}/status'):
        if l.startswith('VmRSS'): return int(l.split()[1])
base = rss(p.pid)
socks = []
for i in range(n):
    s = socket.create_connection(('127.0.0.1', port)); socks.append(s)
# one round trip on every 100th to make sure they're served
for s in socks[::100]:
    s.sendall(b'x'); assert s.recv(1) == b'x'
time.sleep(1)
print(f"n={n} rss_before={base}KiB rss_after={rss(p.pid)}KiB per_conn={(rss(p.pid)-base)*1024/n:.0f}B")
for s in socks: s.close()
p.terminate(); p.wait(timeout=10)
