// wait_acknowledged over real loopback TCP: a peer that half-closed first
// and reads slowly keeps us waiting until its kernel has every byte; a peer
// that closes with our bytes unread (a reset) fails the wait; a peer that
// never reads is a stall (Timeout) at the stall timeout; Unix sockets
// return at once. abort_on_close makes close() a reset.
#include "core/delivery.h"

#include <arpa/inet.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "core/fd.h"
#include "core/testfds.h"

namespace sp {
namespace {

using namespace std::chrono_literals;

struct TcpPair {
  Fd client, server;
};

// A connected loopback pair; `rcvbuf` > 0 shrinks the server's buffer.
TcpPair tcp_pair(int rcvbuf = 0) {
  testing::FdPair p = testing::tcp_pair(rcvbuf);
  return {std::move(p.a), std::move(p.b)};
}

// Writes `n` bytes (blocking); false when a write failed (no REQUIRE: it
// runs in threads).
bool write_bytes(int fd, size_t n) {
  std::vector<char> buf(65536, 'x');
  while (n > 0) {
    ssize_t w = ::write(fd, buf.data(), std::min(n, buf.size()));
    if (w <= 0) return false;
    n -= static_cast<size_t>(w);
  }
  return true;
}

int outq(int fd) {
  int v = -1;
  ::ioctl(fd, SIOCOUTQ, &v);
  return v;
}

}  // namespace

TEST_CASE("wait_acknowledged: the peer's early EOF does not end the wait; it returns once all is acknowledged") {
  TcpPair p = tcp_pair(4096);
  ::shutdown(p.server.get(), SHUT_WR);  // the receiver half-closes first
  constexpr size_t kTotal = 1 << 20;
  std::atomic<size_t> read_so_far{0};
  std::thread reader([&] {
    char buf[4096];
    for (;;) {
      ssize_t r = ::read(p.server.get(), buf, sizeof buf);
      if (r <= 0) return;
      read_so_far += static_cast<size_t>(r);
      std::this_thread::sleep_for(1ms);
    }
  });
  std::thread writer([&] { write_bytes(p.client.get(), kTotal); });
  writer.join();
  ::shutdown(p.client.get(), SHUT_WR);
  AckWaitOptions o;
  o.stall_timeout = 10s;
  Status st = wait_acknowledged(p.client.get(), o);
  size_t at_return = read_so_far;
  CHECK(st.ok());
  CHECK(outq(p.client.get()) == 0);
  CHECK(kTotal - at_return <= 65536);  // at most the small receive buffer is unread
  reader.join();
  CHECK(read_so_far == kTotal);
}

TEST_CASE("wait_acknowledged: a peer that closes with our bytes unread resets: the wait fails") {
  TcpPair p = tcp_pair(4096);
  REQUIRE(write_bytes(p.client.get(), 32 * 1024));  // fits in the buffers; the peer never reads
  ::shutdown(p.client.get(), SHUT_WR);
  p.server.reset();  // unread data: the kernel answers with a reset
  AckWaitOptions o;
  o.target = "the test peer";
  Status st = wait_acknowledged(p.client.get(), o);
  REQUIRE(!st.ok());
  CHECK(st.error().kind != ErrorKind::Timeout);
  CHECK(st.error().message.find("write to the test peer: Connection reset by peer") != std::string::npos);
}

TEST_CASE("wait_acknowledged: a peer that never reads is a stall at the stall timeout, reported once") {
  TcpPair p = tcp_pair(4096);
  std::thread writer([&] { write_bytes(p.client.get(), 8 << 20); });
  std::this_thread::sleep_for(200ms);  // the writer is blocked: both buffers full
  AckWaitOptions o;
  o.stall_timeout = 150ms;
  int reports = 0;
  o.on_stall = [&](const StallSnapshot& s, const std::string& why) {
    ++reports;
    CHECK(s.outq > 0);
    CHECK(!why.empty());
  };
  auto start = WaitClock::now();
  Status st = wait_acknowledged(p.client.get(), o);
  auto took = WaitClock::now() - start;
  REQUIRE(!st.ok());
  CHECK(st.error().kind == ErrorKind::Timeout);
  CHECK(reports == 1);
  CHECK(took >= 150ms);
  CHECK(took < 3s);
  // Let the writer finish: drain the receiver.
  ::shutdown(p.client.get(), SHUT_RDWR);
  p.server.reset();
  writer.join();
}

TEST_CASE("wait_acknowledged: not TCP (a Unix socket pair) returns at once") {
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  Fd a(sv[0]), b(sv[1]);
  REQUIRE(::write(a.get(), "abc", 3) == 3);
  CHECK(wait_acknowledged(a.get(), {}).ok());
}

TEST_CASE("abort_on_close: the peer reads ECONNRESET instead of a clean EOF") {
  TcpPair p = tcp_pair();
  REQUIRE(::write(p.client.get(), "abc", 3) == 3);
  abort_on_close(p.client.get());
  p.client.reset();
  char buf[16];
  ssize_t r = 0;
  do r = ::read(p.server.get(), buf, sizeof buf);
  while (r > 0);
  CHECK(r < 0);
  CHECK(errno == ECONNRESET);
}

}  // namespace sp
