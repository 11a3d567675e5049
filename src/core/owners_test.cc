// Socket owners from a fake /proc tree (the ProcFs seam) and from the live
// /proc for a socket this test holds.
#include "core/owners.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <doctest/doctest.h>

#include "core/fd.h"

using namespace sp;
namespace fs = std::filesystem;

namespace {

// ROOT/PID/comm and ROOT/PID/fd/N -> link text.
struct FakeProc {
  fs::path root;
  FakeProc() {
    char tmpl[] = "/tmp/sockprobe-owners-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    root = tmpl;
  }
  ~FakeProc() { fs::remove_all(root); }
  void process(int pid, const char* comm, const std::vector<std::string>& links) {
    fs::path dir = root / std::to_string(pid);
    fs::create_directories(dir / "fd");
    std::ofstream(dir / "comm") << comm << "\n";
    int n = 0;
    for (const auto& l : links) fs::create_symlink(l, dir / "fd" / std::to_string(n++));
  }
};

}  // namespace

TEST_CASE("parse_socket_link") {
  CHECK(parse_socket_link("socket:[12345]") == 12345u);
  CHECK_FALSE(parse_socket_link("socket:[]").has_value());
  CHECK_FALSE(parse_socket_link("socket:[12x]").has_value());
  CHECK_FALSE(parse_socket_link("pipe:[12345]").has_value());
  CHECK_FALSE(parse_socket_link("/dev/null").has_value());
  CHECK_FALSE(parse_socket_link("anon_inode:[eventfd]").has_value());
}

TEST_CASE("scan_socket_owners over a fake /proc") {
  FakeProc p;
  p.process(200, "nginx", {"socket:[555]", "/dev/null", "socket:[556]"});
  p.process(100, "nginx", {"socket:[555]"});  // shared after fork
  p.process(300, "bash", {"pipe:[9]"});
  fs::create_directories(p.root / "self");    // not a pid
  fs::create_directories(p.root / "400");     // no fd dir: exited
  ProcFs proc(p.root.string());
  OwnerScan scan = scan_socket_owners(proc);
  REQUIRE(scan.by_inode.count(555) == 1);
  REQUIRE(scan.by_inode[555].size() == 2);
  CHECK(first_owner(scan, 555)->pid == 100);
  CHECK(first_owner(scan, 555)->command == "nginx");
  CHECK(first_owner(scan, 556)->pid == 200);
  CHECK(first_owner(scan, 9) == nullptr);
  CHECK(scan.unreadable == 0);

  OwnerScan only = scan_socket_owners(proc, 200);
  CHECK(first_owner(only, 555)->pid == 200);
}

TEST_CASE("scan_socket_owners finds our own socket in the live /proc") {
  Fd s(::socket(AF_INET, SOCK_STREAM, 0));
  REQUIRE(s.valid());
  struct stat st;
  REQUIRE(::fstat(s.get(), &st) == 0);
  OwnerScan scan = scan_socket_owners(ProcFs(), ::getpid());
  const SocketOwner* o = first_owner(scan, st.st_ino);
  REQUIRE(o != nullptr);
  CHECK(o->pid == ::getpid());
  CHECK_FALSE(o->command.empty());
}
