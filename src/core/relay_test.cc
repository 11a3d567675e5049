// Unit tests for the relay engine over socketpairs: the peer's EOF (input
// sent to its own EOF by default, dropped with PeerEof::Stop), the stall
// watch (an error, or one report and the relay goes on) and errors naming
// the target.
#include "core/relay.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "core/fd.h"

using namespace sp;
using namespace std::chrono_literals;

namespace {

struct Pair {
  Fd ours, theirs;
};

Pair socket_pair() {
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  Pair p;
  p.ours.reset(sv[0]);
  p.theirs.reset(sv[1]);
  // Ours is the relay's socket: non-blocking, as make_socket and accept4
  // make every socket the relay is given.
  REQUIRE(::fcntl(sv[0], F_SETFL, ::fcntl(sv[0], F_GETFL) | O_NONBLOCK) == 0);
  return p;
}

// An in-memory regular file holding `size` bytes of a known pattern.
Fd memory_file(size_t size) {
  Fd fd(::memfd_create("relay_test", MFD_CLOEXEC));
  REQUIRE(fd.get() >= 0);
  std::vector<char> data(size);
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>(i * 7);
  REQUIRE(::write(fd.get(), data.data(), size) == static_cast<ssize_t>(size));
  REQUIRE(::lseek(fd.get(), 0, SEEK_SET) == 0);
  return fd;
}

size_t drain(int fd) {
  size_t n = 0;
  char buf[65536];
  for (;;) {
    ssize_t r = ::read(fd, buf, sizeof buf);
    if (r <= 0) return n;
    n += static_cast<size_t>(r);
  }
}

}  // namespace

TEST_CASE("relay: after the peer's EOF the input is still sent to its EOF (default)") {
  Pair p = socket_pair();
  REQUIRE(::shutdown(p.theirs.get(), SHUT_WR) == 0);  // the peer half-closes at once
  Fd in = memory_file(64 * 1024);                      // fits in the socket buffer
  RelayOptions o;
  RelayStats st;
  Status s = readwrite(p.ours.get(), in.get(), -1, o, &st);
  REQUIRE(s.ok());
  CHECK(st.bytes_sent == 64 * 1024);
  CHECK(st.input_left == 0);
  CHECK(drain(p.theirs.get()) == 64 * 1024);
}

TEST_CASE("relay: PeerEof::Stop ends at the peer's EOF and counts the input left") {
  Pair p = socket_pair();
  REQUIRE(::shutdown(p.theirs.get(), SHUT_WR) == 0);
  int pipefd[2];
  REQUIRE(::pipe2(pipefd, O_CLOEXEC) == 0);
  Fd in_r(pipefd[0]), in_w(pipefd[1]);  // the writer stays open: no input EOF
  RelayOptions o;
  o.on_peer_eof = PeerEof::Stop;
  RelayStats st;
  Status s = readwrite(p.ours.get(), in_r.get(), -1, o, &st);
  CHECK(s.ok());
  CHECK(st.bytes_sent == 0);
}

TEST_CASE("relay: a peer that never reads is a stall: an error naming the target") {
  Pair p = socket_pair();
  Fd in = memory_file(16 << 20);  // far more than the socket buffers hold
  RelayOptions o;
  o.stall_timeout = 200ms;
  o.target = "/tmp/x.sock (unix)";
  int reports = 0;
  o.on_stall = [&](const StallSnapshot&, const std::string& why, const std::string& target) {
    ++reports;
    CHECK(why.find("no progress for") == 0);
    CHECK(target == "/tmp/x.sock (unix)");
  };
  RelayStats st;
  Status s = readwrite(p.ours.get(), in.get(), -1, o, &st);
  REQUIRE(!s.ok());
  CHECK(s.error().kind == ErrorKind::Timeout);
  CHECK(s.error().message.rfind("write to /tmp/x.sock (unix): no progress for", 0) == 0);
  CHECK(reports == 1);
  CHECK(st.bytes_sent > 0);
}

TEST_CASE("relay: a stall that is not an error is reported once and the relay goes on") {
  Pair p = socket_pair();
  Fd in = memory_file(16 << 20);
  RelayOptions o;
  o.stall_timeout = 100ms;
  o.stall_is_error = false;
  o.idle_timeout = 500ms;  // what ends it here
  int reports = 0;
  o.on_stall = [&](const StallSnapshot&, const std::string&, const std::string&) { ++reports; };
  RelayStats st;
  Status s = readwrite(p.ours.get(), in.get(), -1, o, &st);
  REQUIRE(!s.ok());
  CHECK(s.error().kind == ErrorKind::Timeout);
  CHECK(s.error().message.find("idle for") == 0);
  CHECK(reports == 1);
}

TEST_CASE("relay: an idle input is never a stall") {
  Pair p = socket_pair();
  int pipefd[2];
  REQUIRE(::pipe2(pipefd, O_CLOEXEC) == 0);
  Fd in_r(pipefd[0]), in_w(pipefd[1]);
  RelayOptions o;
  o.stall_timeout = 50ms;
  o.idle_timeout = 300ms;
  int reports = 0;
  o.on_stall = [&](const StallSnapshot&, const std::string&, const std::string&) { ++reports; };
  RelayStats st;
  Status s = readwrite(p.ours.get(), in_r.get(), -1, o, &st);
  REQUIRE(!s.ok());
  CHECK(s.error().message.find("idle for") == 0);
  CHECK(reports == 0);
}

TEST_CASE("relay: a write to a closed peer names the target and says it closed first") {
  ::signal(SIGPIPE, SIG_IGN);  // as main() does
  Pair p = socket_pair();
  Fd in = memory_file(16 << 20);
  p.theirs.reset();  // closed, not half-closed: the writes are refused
  RelayOptions o;
  o.target = "127.0.0.1 port 9 (tcp)";
  RelayStats st;
  Status s = readwrite(p.ours.get(), in.get(), -1, o, &st);
  REQUIRE(!s.ok());
  CHECK(s.error().kind == ErrorKind::System);
  CHECK(s.error().message.rfind("write to 127.0.0.1 port 9 (tcp): ", 0) == 0);
}
