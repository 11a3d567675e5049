#!/usr/bin/env python3
"""A foreign sender of sockprobe's UDP measurement format (man page, "UDP
MEASUREMENT"), for tests of recv -u's arithmetic: it sends the data
datagrams whose sequence numbers are given, in that order (so gaps,
duplicates and reorderings are the test's choice), then the final datagram
carrying --sent, and waits (bounded) for recv -u to echo it.

  udp_sender.py HOST PORT --seqs 0,1,2,4,3,3 --sent 8 [--length 200]
                [--transit-step-ms 10] [--gap-ms 1] [--stream 7]

--transit-step-ms N stamps every odd-numbered datagram N ms earlier than it
was sent, so its transit looks N ms longer: the RFC 3550 jitter of such a
stream converges to N ms. --seqs a-b is a range. Prints "echoed" or
"not echoed" on stdout.
"""
import argparse
import socket
import struct
import sys
import time

MAGIC = 0x53504447


def seqs_of(text):
    out = []
    for part in text.split(","):
        if "-" in part:
            a, b = part.split("-")
            out.extend(range(int(a), int(b) + 1))
        elif part:
            out.append(int(part))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--seqs", required=True)
    ap.add_argument("--sent", type=int, required=True)
    ap.add_argument("--length", type=int, default=200)
    ap.add_argument("--transit-step-ms", type=float, default=0)
    ap.add_argument("--gap-ms", type=float, default=1)
    ap.add_argument("--stream", type=int, default=7)
    a = ap.parse_args()
    fam = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.connect((a.host, a.port))
    body = b"x" * (a.length - 24)
    sent_bytes = 0
    for i, seq in enumerate(seqs_of(a.seqs)):
        now = time.time_ns()
        if i % 2 == 1:
            now -= int(a.transit_step_ms * 1e6)
        s.send(struct.pack("!IBBHQQ", MAGIC, 1, 0, a.stream, seq, now) + body)
        sent_bytes += a.length
        time.sleep(a.gap_ms / 1000)
    final = struct.pack("!IBBHQQQQ", MAGIC, 1, 1, a.stream, a.sent, time.time_ns(), a.sent, sent_bytes)
    s.settimeout(0.05)
    for _ in range(40):  # at most 2 s
        s.send(final)
        try:
            if s.recv(64) == final:
                print("echoed")
                return 0
        except socket.timeout:
            pass
        except ConnectionRefusedError:
            break
    print("not echoed")
    return 1


if __name__ == "__main__":
    sys.exit(main())
