#!/usr/bin/env python3
"""netsim.py: a small userspace "netem" between two TUN devices.

Why: this kernel has no netem qdisc and no tc classifiers, so delay,
jitter, reordering, duplication, corruption and a rate limit are made here,
in a process that reads every IP packet from one TUN device and writes it,
transformed, to the other. Loss is left to nftables (netns.bash), whose
counters are the kernel's own.

Topology (made by netsim_pair in netns.bash, which also removes it):

    NS_CLI: tun "spt1" 198.51.100.2 --+            +-- NS_SRV: tun "spt0" 198.51.100.1
                                      |  netsim.py |
                                      +--(root ns)-+

The two TUN devices are persistent (ip tuntap add, one per namespace); this
program enters each namespace in turn (setns(2) through ctypes: python 3.11
has no os.setns) to attach to its device, then returns and forwards. Both
devices are point-to-point, so no routing or forwarding sysctl is needed.

Usage:
    netsim.py --srv-ns NS_SRV --cli-ns NS_CLI [--lifetime S] [--ctl FILE] [FAULT...]

FAULT options apply to both directions, or to one with a prefix: "c2s-"
(client to server, the data of a send) or "s2c-" (server to client, the
ACKs of a send), e.g. --s2c-delay-ms 30:
    --delay-ms MS       fixed one-way delay
    --jitter-ms MS      plus a uniform random 0..MS per packet; order kept
                        (a packet never leaves before the one ahead of it)
    --reorder PCT       PCT % of packets are held --reorder-ms (default 10)
                        longer, so the next ones overtake them
    --duplicate PCT     PCT % of packets are sent twice
    --corrupt PCT       PCT % of packets get one byte flipped in their last
                        20 bytes (TCP's checksum catches it: the receiver
                        drops it, a corrupting link that TCP survives)
    --rate-kbit KBIT    a token bucket at KBIT kbit/s with a --queue-kb
                        (default 64) tail-drop queue, as a slow link would
    --seed N            random seed (default 1): a run can be repeated

Control: --ctl FILE is polled every 100 ms; its content (one word) switches
the link while it runs: "pass" (forward), "blackhole" (drop everything,
counted). The bash fixture writes it (netsim_blackhole / netsim_restore).

Bounds: it prints "ready" on stderr once both devices are attached, exits
after --lifetime seconds (default 600) whatever happens, on SIGTERM/SIGINT,
or when a device goes away (its namespace was deleted). At exit it prints
one line of counters per direction on stderr:
    c2s packets N forwarded N dropped N duplicated N corrupted N reordered N
The fixture stops it by pid (netsim_stop).
"""

import argparse
import ctypes
import fcntl
import heapq
import os
import random
import select
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
CLONE_NEWNET = 0x40000000


def setns(path):
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, "setns %s: %s" % (path, os.strerror(e)))
    finally:
        os.close(fd)


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


class Direction:
    """One way through the link: its faults, its queue, its counters."""

    def __init__(self, name, out_fd, opts, rng):
        self.name, self.out_fd, self.rng = name, out_fd, rng
        g = lambda k: opts[name + "_" + k] if opts[name + "_" + k] is not None else opts[k]
        self.delay = g("delay_ms") / 1000.0
        self.jitter = g("jitter_ms") / 1000.0
        self.reorder = g("reorder") / 100.0
        self.reorder_extra = g("reorder_ms") / 1000.0
        self.duplicate = g("duplicate") / 100.0
        self.corrupt = g("corrupt") / 100.0
        self.rate = g("rate_kbit") * 1000.0 / 8.0  # bytes per second; 0: unlimited
        self.queue_max = g("queue_kb") * 1024
        self.tokens_at = 0.0  # when the link is free again (rate limit)
        self.queued = 0  # bytes waiting for the rate limit
        self.last_due = 0.0  # order kept under jitter
        self.n = dict(packets=0, forwarded=0, dropped=0, duplicated=0, corrupted=0, reordered=0)

    def take(self, pkt, now, heap, seq, blackhole):
        """Schedules pkt (and a duplicate) on heap; returns the next seq."""
        self.n["packets"] += 1
        if blackhole:
            self.n["dropped"] += 1
            return seq
        copies = 1
        if self.duplicate and self.rng.random() < self.duplicate:
            copies = 2
            self.n["duplicated"] += 1
        if self.corrupt and self.rng.random() < self.corrupt and len(pkt) > 20:
            b = bytearray(pkt)
            i = len(b) - 1 - self.rng.randrange(min(20, len(b) - 20))
            b[i] ^= 0xFF
            pkt = bytes(b)
            self.n["corrupted"] += 1
        due = now
        if self.rate:
            if self.queued + len(pkt) > self.queue_max:
                self.n["dropped"] += 1
                return seq
            start = max(now, self.tokens_at)
            self.tokens_at = start + len(pkt) / self.rate
            self.queued += len(pkt)
            due = self.tokens_at
        due += self.delay
        if self.jitter:
            due += self.rng.random() * self.jitter
        due = max(due, self.last_due)
        self.last_due = due
        if self.reorder and self.rng.random() < self.reorder:
            due += self.reorder_extra  # not in last_due: the next ones overtake it
            self.n["reordered"] += 1
        for i in range(copies):  # only the first copy was charged to the queue
            heapq.heappush(heap, (due, seq, self, pkt, i == 0 and self.rate != 0))
            seq += 1
        return seq

    def emit(self, pkt, counted_in_queue):
        if counted_in_queue:
            self.queued -= len(pkt)
        try:
            os.write(self.out_fd, pkt)
            self.n["forwarded"] += 1
        except BlockingIOError:
            self.n["dropped"] += 1

    def line(self):
        return self.name + " " + " ".join("%s %d" % kv for kv in self.n.items())


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--srv-ns", required=True)
    p.add_argument("--cli-ns", required=True)
    p.add_argument("--srv-dev", default="spt0")
    p.add_argument("--cli-dev", default="spt1")
    p.add_argument("--lifetime", type=float, default=600.0)
    p.add_argument("--ctl")
    p.add_argument("--seed", type=int, default=1)
    faults = [("delay-ms", 0.0), ("jitter-ms", 0.0), ("reorder", 0.0), ("reorder-ms", 10.0),
              ("duplicate", 0.0), ("corrupt", 0.0), ("rate-kbit", 0.0), ("queue-kb", 64.0)]
    for f, d in faults:
        p.add_argument("--" + f, type=float, default=d)
        p.add_argument("--c2s-" + f, type=float, default=None)
        p.add_argument("--s2c-" + f, type=float, default=None)
    a = p.parse_args()
    opts = vars(a)

    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    setns("/run/netns/" + a.srv_ns)
    srv = open_tun(a.srv_dev)
    setns("/run/netns/" + a.cli_ns)
    cli = open_tun(a.cli_dev)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.setns(home, CLONE_NEWNET)
    os.close(home)

    rng = random.Random(a.seed)
    c2s = Direction("c2s", srv, opts, rng)  # read from the client's tun, written to the server's
    s2c = Direction("s2c", cli, opts, rng)
    by_fd = {cli: c2s, srv: s2c}

    stop = [False]

    def on_signal(*_):
        stop[0] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print("ready", file=sys.stderr, flush=True)

    heap, seq = [], 0
    end = time.monotonic() + a.lifetime
    blackhole, next_ctl = False, 0.0
    try:
        while not stop[0]:
            now = time.monotonic()
            if now >= end:
                print("lifetime %gs reached" % a.lifetime, file=sys.stderr, flush=True)
                break
            if a.ctl and now >= next_ctl:
                next_ctl = now + 0.1
                try:
                    with open(a.ctl) as f:
                        word = f.read().strip()
                except OSError:
                    word = "pass"
                if (word == "blackhole") != blackhole:
                    blackhole = word == "blackhole"
                    print("link " + ("blackhole" if blackhole else "pass"), file=sys.stderr, flush=True)
            while heap and heap[0][0] <= now:
                _, _, d, pkt, charged = heapq.heappop(heap)
                d.emit(pkt, charged)
            timeout = min(0.1, end - now)
            if heap:
                timeout = max(0.0, min(timeout, heap[0][0] - now))
            try:
                ready, _, _ = select.select([cli, srv], [], [], timeout)
            except InterruptedError:
                continue
            now = time.monotonic()
            for fd in ready:
                d = by_fd[fd]
                for _ in range(64):  # a bounded batch per device per turn
                    try:
                        pkt = os.read(fd, 65536)
                    except BlockingIOError:
                        break
                    seq = d.take(pkt, now, heap, seq, blackhole)
    except OSError as e:  # a device went away: its namespace is gone
        print("netsim: %s" % e, file=sys.stderr, flush=True)
    finally:
        for d in (c2s, s2c):
            print(d.line(), file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
