#!/usr/bin/env python3
# What idle and busy connections cost `listen --echo -k` with default flags
# (issue 12's soak goals): N idle loopback connections (one round trip on
# every 100th to be sure they are served), then M of them each echoing SIZE
# bytes at once, every byte compared. Prints one line per phase with the
# server's VmRSS and its CPU (utime+stime) spent in that phase, and exits 1
# if an echo differed or a bound given with --max-idle-rss/--max-idle-cpu
# was passed (tests/e2e/limits.bats uses those; the numbers go in the note).
#
#   bench/echo_soak.py build/src/sockprobe [--idle 10000] [--echo 1000]
#       [--size 1M] [--max-idle-rss MiB] [--max-idle-cpu SECONDS]
#
# Raises RLIMIT_NOFILE (soft and hard) to 32768 for itself and the server
# (to the hard limit without CAP_SYS_RESOURCE), so the server's default
# --max-conns (the limit less 16) fits N. Every
# wait is bounded (--deadline, 120 s); the server is stopped by its pid.
# Measured before (bench/echo_idle.py, 2026-12-03): 10000 idle -> 11.8 MiB.
# No peer is run beside it: socat (fork) and ncat (--sh-exec) serve each
# connection in a process of its own, so their cost is a process each.
import argparse, os, random, resource, selectors, socket, subprocess, sys, threading, time

FDS = 32768


def parse_size(s):
    units = {'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30}
    return int(s[:-1]) * units[s[-1].upper()] if s[-1].upper() in units else int(s)


def raise_fds():
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (FDS, FDS))
    except (ValueError, OSError):  # no CAP_SYS_RESOURCE: up to the hard limit
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def rss_kib(pid):
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('VmRSS'):
                return int(line.split()[1])
    return 0


def cpu_s(pid):
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def start_server(exe):
    p = subprocess.Popen([exe, 'listen', '--echo', '-k', '127.0.0.1', '0'], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, preexec_fn=raise_fds)
    line = p.stderr.readline()
    while line and 'Listening on' not in line:
        line = p.stderr.readline()
    if not line:
        sys.exit('echo_soak: the server did not start')
    threading.Thread(target=lambda: [None for _ in p.stderr], daemon=True).start()
    return p, int(line.split()[3])


def connect_idle(port, n):
    socks = [socket.create_connection(('127.0.0.1', port)) for _ in range(n)]
    for s in socks[::100]:
        s.sendall(b'x')
        if s.recv(1) != b'x':
            sys.exit('echo_soak: an idle round trip failed')
    return socks


# Each socket sends `data` and must get exactly `data` back; all at once,
# non-blocking, until every one is done or the deadline passes.
def echo_all(socks, data, deadline):
    sel = selectors.DefaultSelector()
    state = {}
    for s in socks:
        s.setblocking(False)
        state[s] = [0, 0]  # sent, received and matched
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    bad = 0
    while state and time.monotonic() < deadline:
        for key, ev in sel.select(timeout=1):
            s = key.fileobj
            st = state[s]
            if ev & selectors.EVENT_WRITE and st[0] < len(data):
                try:
                    st[0] += s.send(data[st[0]:st[0] + 262144])
                except BlockingIOError:
                    pass
                if st[0] == len(data):
                    sel.modify(s, selectors.EVENT_READ)
            if ev & selectors.EVENT_READ:
                try:
                    got = s.recv(262144)
                except BlockingIOError:
                    continue
                if not got or got != data[st[1]:st[1] + len(got)]:
                    bad += 1
                    sel.unregister(s)
                    del state[s]
                    continue
                st[1] += len(got)
                if st[1] == len(data):
                    sel.unregister(s)
                    del state[s]
    return bad, len(state)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('sockprobe')
    ap.add_argument('--idle', type=int, default=10000)
    ap.add_argument('--echo', type=int, default=1000)
    ap.add_argument('--size', default='1M')
    ap.add_argument('--deadline', type=float, default=120)
    ap.add_argument('--max-idle-rss', type=float)
    ap.add_argument('--max-idle-cpu', type=float)
    a = ap.parse_args()
    raise_fds()
    deadline = time.monotonic() + a.deadline
    p, port = start_server(a.sockprobe)
    try:
        rss0, cpu0 = rss_kib(p.pid), cpu_s(p.pid)
        socks = connect_idle(port, a.idle)
        time.sleep(1)
        rss1, cpu1 = rss_kib(p.pid), cpu_s(p.pid)
        idle_mib = (rss1 - rss0) / 1024
        print(f'idle: {a.idle} connections, server RSS {rss1 / 1024:.1f} MiB (+{idle_mib:.1f} MiB, '
              f'{(rss1 - rss0) * 1024 / a.idle:.0f} B each), CPU {cpu1 - cpu0:.2f} s')
        data = random.Random(12).randbytes(parse_size(a.size))
        t0 = time.monotonic()
        bad, left = echo_all(socks[:a.echo], data, deadline)
        t1 = time.monotonic()
        rss2, cpu2 = rss_kib(p.pid), cpu_s(p.pid)
        print(f'echo: {a.echo} x {len(data)} bytes at once, {a.echo - bad - left} equal, {bad} differed, '
              f'{left} unfinished, {t1 - t0:.2f} s, server RSS {rss2 / 1024:.1f} MiB, CPU {cpu2 - cpu1:.2f} s')
        for s in socks:
            s.close()
        failed = bad > 0 or left > 0
        if a.max_idle_rss is not None and rss1 / 1024 > a.max_idle_rss:
            print(f'echo_soak: idle RSS {rss1 / 1024:.1f} MiB is above {a.max_idle_rss} MiB')
            failed = True
        if a.max_idle_cpu is not None and cpu1 - cpu0 > a.max_idle_cpu:
            print(f'echo_soak: idle CPU {cpu1 - cpu0:.2f} s is above {a.max_idle_cpu} s')
            failed = True
        return 1 if failed else 0
    finally:
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


if __name__ == '__main__':
    sys.exit(main())
