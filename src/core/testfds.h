// Test support (unit tests only): the real fds the engine's tests run over,
// made in one place: a socketpair, a pipe, a connected loopback TCP pair,
// a memfd holding n bytes, a drain that reads what is there; and for the
// SIGINT cases (one-shot and process-wide) a child with the handlers
// installed and a SIGINT sent to it soon.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include <doctest/doctest.h>

#include "core/fd.h"
#include "core/signals.h"

namespace sp::testing {

struct FdPair {
  Fd a, b;
};

// Non-blocking stream socketpair (`type` SOCK_DGRAM for datagrams).
inline FdPair unix_pair(int type = SOCK_STREAM) {
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
  return {Fd(sv[0]), Fd(sv[1])};
}

// Non-blocking pipe: a is the read end, b the write end.
inline FdPair pipe_pair() {
  int p[2];
  REQUIRE(::pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
  return {Fd(p[0]), Fd(p[1])};
}

// A connected loopback pair (both blocking): a the client, b the accepted
// server; `rcvbuf` > 0 shrinks the server's receive buffer.
inline FdPair tcp_pair(int rcvbuf = 0) {
  Fd l(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (rcvbuf > 0) ::setsockopt(l.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(l.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(l.get(), 1) == 0);
  socklen_t len = sizeof a;
  ::getsockname(l.get(), reinterpret_cast<sockaddr*>(&a), &len);
  FdPair p;
  p.a.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(::connect(p.a.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  p.b.reset(::accept4(l.get(), nullptr, nullptr, SOCK_CLOEXEC));
  REQUIRE(p.b.valid());
  return p;
}

inline void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }
inline void set_blocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK); }

// A memfd of n bytes of `fill`, positioned at its start.
inline Fd memfd_with(size_t n, char fill = 'm') {
  Fd fd(::memfd_create("sockprobe_test", MFD_CLOEXEC));
  REQUIRE(fd.valid());
  std::vector<char> buf(n, fill);
  REQUIRE(::write(fd.get(), buf.data(), n) == static_cast<ssize_t>(n));
  REQUIRE(::lseek(fd.get(), 0, SEEK_SET) == 0);
  return fd;
}

// Reads a non-blocking fd until it has nothing more now; the bytes read.
inline size_t drain(int fd) {
  std::vector<char> buf(1 << 16);
  size_t total = 0;
  for (;;) {
    ssize_t r = ::read(fd, buf.data(), buf.size());
    if (r <= 0) return total;
    total += static_cast<size_t>(r);
  }
}

// Runs `body` in a child with the handlers installed; its exit code.
template <typename F>
int in_child(F body) {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    install_signal_handlers();
    ::_exit(body());
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  return WEXITSTATUS(status);
}

// SIGINT to this process 50 ms from now, from a grandchild.
inline void sigint_soon() {
  pid_t self = ::getpid();
  if (::fork() == 0) {
    ::usleep(50 * 1000);
    ::kill(self, SIGINT);
    ::_exit(0);
  }
}

}  // namespace sp::testing
