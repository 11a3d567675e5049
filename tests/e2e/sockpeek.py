#!/usr/bin/env python3
"""getsockopt on another process's TCP socket, for tests that check what
sockprobe reports about its own sockets against the kernel without trusting
sockprobe: the socket is found by its ports in /proc/net/tcp and tcp6, its
descriptor in /proc/PID/fd by inode, and a copy of that descriptor taken
with pidfd_getfd(2) (Linux 5.6; the caller needs ptrace rights over PID,
e.g. root). A copy refers to the same socket, so SO_SNDBUF/SO_RCVBUF are
that socket's own.

  sockpeek.py PID LOCAL_PORT PEER_PORT

Prints {"sndbuf": N, "rcvbuf": N} on stdout; exit 1 with a message when the
socket or the copy cannot be had.
"""
import ctypes
import json
import os
import socket
import sys

SYS_PIDFD_GETFD = 438  # the same number on every architecture


def socket_inode(local_port, peer_port):
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                cols = line.split()
                local, peer, inode = cols[1], cols[2], int(cols[9])
                if int(local.split(":")[1], 16) == local_port and int(peer.split(":")[1], 16) == peer_port:
                    if inode:
                        return inode
    return None


def fd_of(pid, inode):
    want = f"socket:[{inode}]"
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{name}") == want:
                return int(name)
        except OSError:
            continue
    return None


def main():
    pid, local_port, peer_port = (int(a) for a in sys.argv[1:4])
    inode = socket_inode(local_port, peer_port)
    if inode is None:
        sys.exit(f"sockpeek: no TCP socket {local_port} -> {peer_port}")
    target = fd_of(pid, inode)
    if target is None:
        sys.exit(f"sockpeek: process {pid} holds no descriptor of socket inode {inode}")
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    fd = libc.syscall(SYS_PIDFD_GETFD, pidfd, target, 0)
    if fd < 0:
        sys.exit(f"sockpeek: pidfd_getfd: {os.strerror(ctypes.get_errno())}")
    s = socket.socket(fileno=fd)
    print(json.dumps({"sndbuf": s.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF),
                      "rcvbuf": s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)}))
    s.detach()
    os.close(fd)
    os.close(pidfd)


if __name__ == "__main__":
    main()
