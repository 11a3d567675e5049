// probe_ports against real loopback sockets: results come back in port
// order whatever the concurrency, a closed port is "closed", and with a
// wait a port that starts listening late is found open.
#include "core/portscan.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <doctest/doctest.h>

#include "core/fd.h"

using namespace sp;
using namespace std::chrono_literals;

namespace {

// A TCP socket bound to 127.0.0.1:0; listening when `listen_now`.
Fd bound_socket(uint16_t* port, bool listen_now) {
  Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  if (listen_now) REQUIRE(::listen(fd.get(), 16) == 0);
  return fd;
}

std::vector<PortProbe> scan(const std::vector<uint16_t>& ports, const ScanOptions& o, Status* st) {
  std::vector<PortProbe> out;
  *st = probe_ports("127.0.0.1", ports, SocketConfig{}, o, [&](const PortProbe& p) { out.push_back(p); });
  return out;
}

}  // namespace

TEST_CASE("probe_ports: open and closed, in port order at any concurrency") {
  uint16_t open1, open2, closed1, closed2;
  Fd l1 = bound_socket(&open1, true), l2 = bound_socket(&open2, true);
  Fd c1 = bound_socket(&closed1, false), c2 = bound_socket(&closed2, false);  // bound, not listening: refused
  std::vector<uint16_t> ports = {closed1, open1, closed2, open2};
  for (size_t conc : {1u, 2u, 4u, 16u}) {
    ScanOptions o;
    o.concurrency = conc;
    Status st;
    auto r = scan(ports, o, &st);
    CHECK(st.ok());
    REQUIRE(r.size() == 4);
    for (size_t i = 0; i < 4; ++i) CHECK(r[i].port == ports[i]);
    CHECK(r[0].state == PortState::Closed);
    CHECK(r[1].state == PortState::Open);
    CHECK(r[2].state == PortState::Closed);
    CHECK(r[3].state == PortState::Open);
    CHECK(r[0].error.find("Connection refused") != std::string::npos);
  }
}

TEST_CASE("probe_ports --wait: a port that starts listening late is open; one that never does is not") {
  uint16_t late, never;
  Fd l = bound_socket(&late, false);
  Fd n = bound_socket(&never, false);
  std::thread opener([&] {
    std::this_thread::sleep_for(300ms);
    ::listen(l.get(), 4);
  });
  ScanOptions o;
  o.concurrency = 2;
  o.wait = 1500ms;
  o.retry_every = 50ms;
  Status st;
  auto started = std::chrono::steady_clock::now();
  auto r = scan({late, never}, o, &st);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  opener.join();
  CHECK(st.ok());
  REQUIRE(r.size() == 2);
  CHECK(r[0].state == PortState::Open);
  CHECK(r[0].attempts > 1);
  CHECK(r[0].seconds >= 0.25);
  CHECK(r[1].state == PortState::Closed);
  CHECK(r[1].attempts > 5);
  CHECK(took >= 1.4);
  CHECK(took < 3.0);  // the two ports were waited for at once
}
