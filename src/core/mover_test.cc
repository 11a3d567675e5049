// The mover over real fds: path choices for memfds, pipes and /dev/null;
// move_zero_copy's outcomes for sendfile from a memfd into a socket whose
// buffer fills (DestFull, then Eof), splice from a pipe (SourceEmpty, Eof),
// sendfile from a pipe (Refused), splice into a pipe nobody reads (Failed at
// the destination, EPIPE), and a TCP reset behind splice's EOF (Failed at
// the source). The Mover over the same fds: partial writes into a full
// socket, EAGAIN (SourceEmpty/DestFull and what it then wants), the kernel
// refusing a path, a poll-first reader, peer EOF, reset, EPIPE, a
// zero-length datagram, stop(), EINTR from a signal that is not SIGINT,
// and a shared buffer whose pending bytes move into the mover's own.
#include "core/mover.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "core/checksum.h"
#include "core/fd.h"
#include "core/testfds.h"

namespace sp {
namespace {

using testing::drain;
using testing::memfd_with;
using testing::pipe_pair;
using testing::unix_pair;
using Pair = testing::FdPair;

TEST_CASE("path choice: memfd -> sendfile, pipe -> splice, checksum and Off -> copy") {
  Fd file = memfd_with(16);
  Pair p = pipe_pair();
  PathPolicy policy;
  CHECK(path_into_socket(file.get(), policy) == Path::SendFile);
  CHECK(path_into_socket(p.a.get(), policy) == Path::Splice);
  CHECK(path_out_of_socket(p.b.get(), policy) == Path::Splice);
  Fd null(::open("/dev/null", O_WRONLY | O_CLOEXEC));
  CHECK(path_out_of_socket(null.get(), policy) == Path::Copy);
  policy.splice_to_sink = true;
  CHECK(path_out_of_socket(null.get(), policy) == Path::SpliceVia);
  policy.checksum = true;
  CHECK(path_into_socket(file.get(), policy) == Path::Copy);
  PathPolicy off;
  off.mode = ZeroCopy::Off;
  CHECK(path_into_socket(p.a.get(), off) == Path::Copy);
}

TEST_CASE("sendfile from a memfd: DestFull when the socket is full, every byte, then Eof") {
  const size_t kSize = 4 << 20;
  Fd file = memfd_with(kSize);
  Pair s = unix_pair();
  size_t sent = 0, received = 0;
  bool saw_full = false;
  for (int i = 0; i < 100000; ++i) {
    MoveResult m = move_zero_copy(Path::SendFile, file.get(), s.a.get(), nullptr, 1 << 20);
    if (m.what == Moved::Eof) break;
    REQUIRE((m.what == Moved::Bytes || m.what == Moved::DestFull));
    if (m.what == Moved::DestFull) {
      saw_full = true;
      received += drain(s.b.get());
    }
    sent += m.bytes;
  }
  received += drain(s.b.get());
  CHECK(saw_full);
  CHECK(sent == kSize);
  CHECK(received == kSize);
}

TEST_CASE("splice from a pipe: SourceEmpty while empty, Bytes, Eof once the writer closed") {
  Pair p = pipe_pair();
  Pair s = unix_pair();
  CHECK(move_zero_copy(Path::Splice, p.a.get(), s.a.get(), nullptr, 4096).what == Moved::SourceEmpty);
  REQUIRE(::write(p.b.get(), "hello", 5) == 5);
  MoveResult m = move_zero_copy(Path::Splice, p.a.get(), s.a.get(), nullptr, 4096);
  CHECK(m.what == Moved::Bytes);
  CHECK(m.bytes == 5);
  p.b.reset();
  CHECK(move_zero_copy(Path::Splice, p.a.get(), s.a.get(), nullptr, 4096).what == Moved::Eof);
  CHECK(drain(s.b.get()) == 5);
}

TEST_CASE("sendfile from a pipe is refused: copy instead, nothing moved") {
  Pair p = pipe_pair();
  Pair s = unix_pair();
  REQUIRE(::write(p.b.get(), "x", 1) == 1);
  MoveResult m = move_zero_copy(Path::SendFile, p.a.get(), s.a.get(), nullptr, 4096);
  CHECK(m.what == Moved::Refused);
  CHECK(m.bytes == 0);
}

TEST_CASE("splice into a pipe nobody reads: Failed at the destination with EPIPE") {
  struct sigaction ignore = {}, old = {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, &old);
  Pair s = unix_pair();
  Pair p = pipe_pair();
  p.a.reset();
  REQUIRE(::write(s.b.get(), "data", 4) == 4);
  MoveResult m = move_zero_copy(Path::Splice, s.a.get(), p.b.get(), nullptr, 4096);
  ::sigaction(SIGPIPE, &old, nullptr);
  CHECK(m.what == Moved::Failed);
  CHECK(m.err == EPIPE);
  CHECK(m.at_dest);
}

// A client that closes with SO_LINGER 0: the server's end sees a reset.
Pair reset_pair() {
  Pair p = testing::tcp_pair();
  testing::set_nonblocking(p.b.get());
  linger lg = {1, 0};
  ::setsockopt(p.a.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  p.a.reset();  // RST
  ::usleep(50 * 1000);
  return p;
}

TEST_CASE("a TCP reset behind splice's EOF is Failed at the source, not an EOF") {
  Pair s = reset_pair();
  Pair p = pipe_pair();
  MoveResult m = move_zero_copy(Path::Splice, s.b.get(), p.b.get(), nullptr, 4096);
  CHECK(m.what == Moved::Failed);
  CHECK(m.err == ECONNRESET);
  CHECK_FALSE(m.at_dest);
}

// The Mover: one direction on its path.

// Steps `m` to its end, draining `peer` whenever the destination `dst` is full;
// bounded. Returns the bytes drained.
size_t run_to_end(Mover& m, int dst, int peer, bool* saw_partial = nullptr) {
  size_t drained = 0;
  for (int i = 0; i < 100000 && !m.done(); ++i) {
    MoveResult r = m.step(1 << 20);
    REQUIRE(r.what != Moved::Failed);
    if (r.what == Moved::DestFull) {
      if (saw_partial && m.pending() > 0) *saw_partial = true;
      CHECK(m.blocked());
      CHECK(m.want().fd == dst);
      CHECK(m.want().events == POLLOUT);
      drained += drain(peer);
      m.woke(POLLOUT);
    }
  }
  return drained + drain(peer);
}

TEST_CASE("Mover copy path: partial writes into a full socket, every byte once, counts and checksum") {
  const size_t kSize = 3 << 20;
  Fd file = memfd_with(kSize, 'c');
  Pair s = unix_pair();
  FdReader reader(file.get(), {});
  FdWriter writer(s.a.get());
  Mover m(Path::Copy, file.get(), s.a.get(), &reader, &writer, 256 * 1024);
  Checksum sum;
  m.set_checksum(&sum);
  bool partial = false;
  CHECK(run_to_end(m, s.a.get(), s.b.get(), &partial) == kSize);
  CHECK(partial);  // the socket took part of a chunk at least once
  CHECK(m.done());
  CHECK(m.taken() == kSize);
  CHECK(m.moved() == kSize);
  Checksum expect;
  std::vector<char> all(kSize, 'c');
  expect.update(all.data(), all.size());
  CHECK(sum.hex() == expect.hex());
}

TEST_CASE("Mover share_buffer: what a partial write leaves is its own, not the shared buffer's") {
  const size_t kChunk = 256 * 1024, kSize = 4 << 20;
  std::vector<char> shared(kChunk);
  Fd a = memfd_with(kSize, 'a');
  Fd b = memfd_with(1 << 20, 'b');
  Pair sa = unix_pair(), sb = unix_pair();
  FdReader ra(a.get(), {}), rb(b.get(), {});
  FdWriter wa(sa.a.get()), wb(sb.a.get());
  Mover ma(Path::Copy, a.get(), sa.a.get(), &ra, &wa, kChunk);
  Mover mb(Path::Copy, b.get(), sb.a.get(), &rb, &wb, kChunk);
  ma.share_buffer(shared.data());
  mb.share_buffer(shared.data());
  for (int i = 0; i < 1000 && !ma.blocked(); ++i) ma.step(kChunk);
  REQUIRE(ma.blocked());  // its socket is full: bytes pending
  mb.step(kChunk);        // reads 'b's into the shared buffer
  CHECK(shared[0] == 'b');
  size_t got = 0;
  bool all_a = true;
  std::vector<char> in(1 << 16);
  for (int i = 0; i < 100000 && got < kSize; ++i) {
    ma.step(kChunk);
    ssize_t n = ::read(sa.b.get(), in.data(), in.size());
    if (n <= 0) continue;
    all_a = all_a && std::all_of(in.begin(), in.begin() + n, [](char c) { return c == 'a'; });
    got += static_cast<size_t>(n);
  }
  CHECK(got == kSize);
  CHECK(all_a);
}

TEST_CASE("Mover: the kernel refusing sendfile from a pipe falls back to copy for good") {
  Pair p = pipe_pair();
  Pair s = unix_pair();
  REQUIRE(::write(p.b.get(), "refused", 7) == 7);
  p.b.reset();
  FdReader reader(p.a.get(), {});
  FdWriter writer(s.a.get());
  Mover m(Path::SendFile, p.a.get(), s.a.get(), &reader, &writer, 4096);
  MoveResult r = m.step(4096);
  CHECK(r.what == Moved::Bytes);
  CHECK(r.bytes == 7);
  CHECK(m.path() == Path::Copy);
  CHECK(m.step(4096).what == Moved::Eof);
  CHECK(m.done());
  CHECK(drain(s.b.get()) == 7);
}

TEST_CASE("Mover: an empty socket is SourceEmpty and wants POLLIN on it; the peer's EOF ends it") {
  Pair s = unix_pair();
  Pair out = unix_pair();
  FdReader reader(s.b.get(), {});
  FdWriter writer(out.a.get());
  Mover m(Path::Copy, s.b.get(), out.a.get(), &reader, &writer, 4096);
  CHECK(m.step(4096).what == Moved::SourceEmpty);
  CHECK(m.want().fd == s.b.get());
  CHECK(m.want().events == POLLIN);
  CHECK_FALSE(m.blocked());
  REQUIRE(::write(s.a.get(), "abc", 3) == 3);
  s.a.reset();
  m.woke(POLLIN);
  CHECK(m.pump(8, 4096).bytes == 3);
  CHECK(m.done());
  CHECK(m.want().fd == -1);  // done: nothing to wait for
  CHECK(drain(out.b.get()) == 3);
}

TEST_CASE("Mover: a poll-first reader (stdin) is not read until poll said so") {
  Pair p = pipe_pair();
  Pair s = unix_pair();
  REQUIRE(::write(p.b.get(), "xy", 2) == 2);
  FdReader reader(p.a.get(), {.poll_first = true});
  FdWriter writer(s.a.get());
  Mover m(Path::Copy, p.a.get(), s.a.get(), &reader, &writer, 4096);
  CHECK_FALSE(m.ready());
  CHECK(m.step(4096).what == Moved::SourceEmpty);
  CHECK(m.taken() == 0);
  m.woke(POLLIN);
  CHECK(m.ready());
  CHECK(m.step(4096).bytes == 2);
  CHECK_FALSE(m.ready());  // the next read waits for poll again
}

TEST_CASE("Mover: a reset on the source is Failed with ECONNRESET, not at the destination") {
  Pair s = reset_pair();
  Pair out = unix_pair();
  FdReader reader(s.b.get(), {});
  FdWriter writer(out.a.get());
  Mover m(Path::Copy, s.b.get(), out.a.get(), &reader, &writer, 4096);
  MoveResult r = m.step(4096);
  CHECK(r.what == Moved::Failed);
  CHECK(r.err == ECONNRESET);
  CHECK_FALSE(r.at_dest);
}

TEST_CASE("Mover: a destination that closed is Failed at the destination with EPIPE") {
  struct sigaction ignore = {}, old = {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, &old);
  Fd file = memfd_with(100);
  Pair s = unix_pair();
  s.b.reset();
  FdReader reader(file.get(), {});
  FdWriter writer(s.a.get());
  Mover m(Path::Copy, file.get(), s.a.get(), &reader, &writer, 4096);
  MoveResult r = m.step(4096);
  ::sigaction(SIGPIPE, &old, nullptr);
  CHECK(r.what == Moved::Failed);
  CHECK(r.err == EPIPE);
  CHECK(r.at_dest);
}

TEST_CASE("Mover: a zero-length datagram is a datagram, not an EOF") {
  Pair d = unix_pair(SOCK_DGRAM);
  Pair out = unix_pair();
  REQUIRE(::send(d.a.get(), "", 0, 0) == 0);
  FdReader reader(d.b.get(), {.datagram = true});
  FdWriter writer(out.a.get());
  Mover m(Path::Copy, d.b.get(), out.a.get(), &reader, &writer, 4096);
  MoveResult r = m.step(4096);
  CHECK(r.what == Moved::Bytes);
  CHECK(r.bytes == 0);
  CHECK_FALSE(m.eof());
  CHECK(m.step(4096).what == Moved::SourceEmpty);
}

// A bound, non-blocking UDP socket on 127.0.0.1 port 0; its address in *ep.
Fd udp_socket(Endpoint* ep) {
  Fd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  ep->len = sizeof ep->addr;
  REQUIRE(::getsockname(fd.get(), ep->sa(), &ep->len) == 0);
  return fd;
}

TEST_CASE("FdReader only_from: other senders' datagrams are dropped and counted, the peer's read in order") {
  Endpoint rx_ep, peer_ep, other_ep;
  Fd rx = udp_socket(&rx_ep), peer = udp_socket(&peer_ep), other = udp_socket(&other_ep);
  auto send_to = [&](const Fd& from, const char* text) {
    REQUIRE(::sendto(from.get(), text, std::strlen(text), 0, rx_ep.sa(), rx_ep.len) ==
            static_cast<ssize_t>(std::strlen(text)));
  };
  send_to(other, "o1");
  send_to(peer, "p1");
  send_to(other, "o2");
  send_to(other, "o3");
  send_to(peer, "p2");
  uint64_t foreign = 0;
  FdReader reader(rx.get(), {.datagram = true, .only_from = &peer_ep, .foreign = &foreign});
  char buf[64];
  std::span<const char> got;
  REQUIRE(reader.read(buf, sizeof buf, &got).what == Moved::Bytes);
  CHECK(std::string(got.begin(), got.end()) == "p1");
  REQUIRE(reader.read(buf, sizeof buf, &got).what == Moved::Bytes);
  CHECK(std::string(got.begin(), got.end()) == "p2");
  CHECK(reader.read(buf, sizeof buf, &got).what == Moved::SourceEmpty);
  CHECK(foreign == 3);
  CHECK_FALSE(same_endpoint(peer_ep, other_ep));
}

TEST_CASE("Mover: stop() drops what is pending and is done") {
  Fd file = memfd_with(1 << 20);
  Pair s = unix_pair();
  FdReader reader(file.get(), {});
  FdWriter writer(s.a.get());
  Mover m(Path::Copy, file.get(), s.a.get(), &reader, &writer, 1 << 20);
  for (int i = 0; i < 100 && !m.blocked(); ++i) REQUIRE(m.step(1 << 20).what != Moved::Failed);
  REQUIRE(m.pending() > 0);
  m.stop();
  CHECK(m.done());
  CHECK(m.moved() < (1u << 20));
}

// A signal other than SIGINT arriving while a blocking read waits: the
// read is retried (atomicio), so the bytes that come later are read.
extern "C" void on_alarm(int) {}

TEST_CASE("Mover: EINTR from another signal is retried, not reported") {
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);  // blocking
  Fd rd(p[0]), wr(p[1]);
  Pair s = unix_pair();
  struct sigaction sa = {}, old = {};
  sa.sa_handler = on_alarm;  // no SA_RESTART: read() returns EINTR
  ::sigaction(SIGALRM, &sa, &old);
  std::thread writer_thread([&] {
    ::usleep(150 * 1000);
    (void)::write(wr.get(), "late", 4);
  });
  itimerval t = {};
  t.it_value.tv_usec = 30 * 1000;
  ::setitimer(ITIMER_REAL, &t, nullptr);
  FdReader reader(rd.get(), {});
  FdWriter writer(s.a.get());
  Mover m(Path::Copy, rd.get(), s.a.get(), &reader, &writer, 4096);
  MoveResult r = m.step(4096);
  writer_thread.join();
  ::sigaction(SIGALRM, &old, nullptr);
  CHECK(r.what == Moved::Bytes);
  CHECK(r.bytes == 4);
}

// SIGINT is a value, on both paths: a read blocked on an empty pipe (copy)
// and a sendfile blocked on a full socket (zero-copy) come back as
// Moved::Interrupted, not retried and not an error. In a child: SIGINT is
// one-shot and process-wide.
TEST_CASE("Mover: SIGINT during a blocked copy read or sendfile is Interrupted") {
  int rc = testing::in_child([] {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return 9;  // blocking, and nobody writes
    Fd rd(p[0]), wr(p[1]);
    Pair s = unix_pair();
    FdReader reader(rd.get(), {});
    FdWriter writer(s.a.get());
    Mover m(Path::Copy, rd.get(), s.a.get(), &reader, &writer, 4096);
    testing::sigint_soon();
    return m.step(4096).what == Moved::Interrupted ? 0 : 1;
  });
  CHECK(rc == 0);
  rc = testing::in_child([] {
    Fd file = memfd_with(1 << 20);
    Pair s = unix_pair();  // s.b never reads
    while (::send(s.a.get(), "f", 1, MSG_DONTWAIT) == 1) {
    }
    testing::set_blocking(s.a.get());  // full: the next sendfile blocks
    testing::sigint_soon();
    return move_zero_copy(Path::SendFile, file.get(), s.a.get(), nullptr, 1 << 20).what == Moved::Interrupted ? 0 : 1;
  });
  CHECK(rc == 0);
}

}  // namespace
}  // namespace sp
