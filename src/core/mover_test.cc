// The mover over real fds: path choices for memfds, pipes and /dev/null;
// move_zero_copy's outcomes for sendfile from a memfd into a socket whose
// buffer fills (DestFull, then Eof), splice from a pipe (SourceEmpty, Eof),
// sendfile from a pipe (Refused), splice into a pipe nobody reads (Failed at
// the destination, EPIPE), and a TCP reset behind splice's EOF (Failed at
// the source).
#include "core/mover.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "core/fd.h"

namespace sp {
namespace {

Fd memfd_with(size_t n) {
  Fd fd(::memfd_create("mover_test", MFD_CLOEXEC));
  REQUIRE(fd.valid());
  std::vector<char> buf(n, 'm');
  REQUIRE(::write(fd.get(), buf.data(), n) == static_cast<ssize_t>(n));
  REQUIRE(::lseek(fd.get(), 0, SEEK_SET) == 0);
  return fd;
}

struct Pair {
  Fd a, b;
};

Pair unix_pair() {
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
  return {Fd(sv[0]), Fd(sv[1])};
}

Pair pipe_pair() {
  int p[2];
  REQUIRE(::pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
  return {Fd(p[0]), Fd(p[1])};  // a: read end, b: write end
}

size_t drain(int fd) {
  std::vector<char> buf(1 << 16);
  size_t total = 0;
  for (;;) {
    ssize_t r = ::read(fd, buf.data(), buf.size());
    if (r <= 0) return total;
    total += static_cast<size_t>(r);
  }
}

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

TEST_CASE("a TCP reset behind splice's EOF is Failed at the source, not an EOF") {
  Fd l(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(l.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(l.get(), 1) == 0);
  socklen_t len = sizeof a;
  ::getsockname(l.get(), reinterpret_cast<sockaddr*>(&a), &len);
  Fd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(::connect(client.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  Fd server(::accept4(l.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
  REQUIRE(server.valid());
  linger lg = {1, 0};
  ::setsockopt(client.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  client.reset();  // RST
  ::usleep(50 * 1000);
  Pair p = pipe_pair();
  MoveResult m = move_zero_copy(Path::Splice, server.get(), p.b.get(), nullptr, 4096);
  CHECK(m.what == Moved::Failed);
  CHECK(m.err == ECONNRESET);
  CHECK_FALSE(m.at_dest);
}

}  // namespace
}  // namespace sp
