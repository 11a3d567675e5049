#include "core/zerocopy.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include <doctest/doctest.h>

using namespace sp;

TEST_CASE("fd kinds: pipes, regular files, /dev/null") {
  int p[2];
  REQUIRE(::pipe(p) == 0);
  Fd r(p[0]), w(p[1]);
  CHECK(file_type(r.get()) == S_IFIFO);
  CHECK(file_type(-1) == 0);
  CHECK_FALSE(never_blocking_sink(w.get()));

  Fd null(::open("/dev/null", O_WRONLY | O_CLOEXEC));
  CHECK(is_dev_null(null.get()));
  CHECK(never_blocking_sink(null.get()));

  char name[] = "/tmp/sockprobe-zc-XXXXXX";
  Fd file(::mkstemp(name));
  REQUIRE(file.valid());
  CHECK(file_type(file.get()) == S_IFREG);
  CHECK_FALSE(is_dev_null(file.get()));
  CHECK(never_blocking_sink(file.get()));
  Fd appending(::open(name, O_WRONLY | O_APPEND | O_CLOEXEC));
  CHECK_FALSE(never_blocking_sink(appending.get()));  // splice refuses O_APPEND
  ::unlink(name);
}

TEST_CASE("grow_pipe grows a pipe and readable_bytes counts what waits in it") {
  int p[2];
  REQUIRE(::pipe(p) == 0);
  Fd r(p[0]), w(p[1]);
  grow_pipe(w.get());
  CHECK(::fcntl(w.get(), F_GETPIPE_SZ) >= static_cast<int>(kZeroCopyChunk));
  CHECK(readable_bytes(r.get()) == 0);
  REQUIRE(::write(w.get(), "hello", 5) == 5);
  CHECK(readable_bytes(r.get()) == 5);
}

TEST_CASE("splice_via moves socket bytes into a file and reports EOF and EAGAIN") {
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
  Fd a(sv[0]), b(sv[1]);
  Fd via[2];
  REQUIRE(make_via_pipe(via));
  char name[] = "/tmp/sockprobe-zc-XXXXXX";
  Fd file(::mkstemp(name));
  REQUIRE(file.valid());
  ::unlink(name);

  errno = 0;
  CHECK(splice_via(b.get(), via[1].get(), via[0].get(), file.get(), kZeroCopyChunk) == -1);
  CHECK(errno == EAGAIN);

  std::string data(100000, 'x');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + i % 26);
  REQUIRE(::write(a.get(), data.data(), data.size()) == static_cast<ssize_t>(data.size()));
  ::shutdown(a.get(), SHUT_WR);
  size_t moved = 0;
  for (int i = 0; i < 100 && moved < data.size(); ++i) {
    ssize_t n = splice_via(b.get(), via[1].get(), via[0].get(), file.get(), kZeroCopyChunk);
    REQUIRE(n > 0);
    moved += static_cast<size_t>(n);
  }
  CHECK(moved == data.size());
  CHECK(splice_via(b.get(), via[1].get(), via[0].get(), file.get(), kZeroCopyChunk) == 0);  // EOF

  std::string back(data.size(), '\0');
  CHECK(::pread(file.get(), back.data(), back.size(), 0) == static_cast<ssize_t>(back.size()));
  CHECK(back == data);
}
