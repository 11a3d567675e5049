// Request sockets matched to listeners: exact address over wildcard,
// dual-stack, SO_REUSEPORT groups, and a dump captured on a real kernel
// (tests/data/sockdiag/synrecv4.hex, made by tests/data/capture-synrecv.sh:
// a listener with backlog 2 on 192.0.2.1, 0.0.0.0 and [::] whose clients'
// final ACKs were dropped); plus the SYN-queue limit per tcp_syncookies.
#include "core/synqueue.h"

#include <sys/socket.h>

#include <fstream>
#include <sstream>

#include <doctest/doctest.h>

#include "core/test_data.h"

using namespace sp;

namespace {

SockInfo listener(const char* addr, uint16_t port, uint64_t cookie) {
  SockInfo s;
  s.family = std::string(addr).find(':') == std::string::npos ? AF_INET : AF_INET6;
  s.state = kStateListen;
  s.local_address = addr;
  s.local_port = port;
  s.cookie = cookie;
  return s;
}

SockInfo request(const char* addr, uint16_t port, uint8_t retrans) {
  SockInfo s = listener(addr, port, 0);
  s.state = kStateSynRecv;
  s.retrans = retrans;
  s.remote_address = "192.0.2.2";
  s.remote_port = 40000;
  return s;
}

std::vector<SockInfo> load_dump(const char* name) {
  std::ifstream in(test_data_dir() + "/sockdiag/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  auto dump = dump_from_hex(ss.str());
  REQUIRE(dump.ok());
  auto socks = parse_dump(*dump, Transport::Tcp);
  REQUIRE(socks.ok());
  return *socks;
}

}  // namespace

TEST_CASE("exact address beats the wildcard; other ports and states are ignored") {
  std::vector<SockInfo> ls = {listener("0.0.0.0", 80, 1), listener("10.0.0.1", 80, 2), listener("0.0.0.0", 81, 3)};
  std::vector<SockInfo> rs = {request("10.0.0.1", 80, 1), request("10.0.0.2", 80, 2), request("10.0.0.3", 80, 0),
                              request("10.0.0.1", 82, 5)};
  SockInfo established = request("10.0.0.1", 80, 7);
  established.state = kStateEstablished;
  rs.push_back(established);
  auto q = match_requests(ls, rs);
  REQUIRE(q.size() == 3);
  CHECK(q[0].syn_recv == 2);
  CHECK(q[0].synack_retrans == 2);
  CHECK(q[1].syn_recv == 1);
  CHECK(q[1].synack_retrans == 1);
  CHECK(q[2].syn_recv == 0);
  for (const auto& x : q) CHECK(x.group_size == 1);
}

TEST_CASE("dual stack: [::] takes IPv4 requests unless 0.0.0.0 listens too") {
  std::vector<SockInfo> only6 = {listener("::", 443, 1)};
  auto q = match_requests(only6, {request("192.0.2.1", 443, 0), request("::ffff:192.0.2.1", 443, 0),
                                  request("2001:db8::1", 443, 0)});
  CHECK(q[0].syn_recv == 3);
  std::vector<SockInfo> both = {listener("::", 443, 1), listener("0.0.0.0", 443, 2)};
  q = match_requests(both, {request("192.0.2.1", 443, 0), request("2001:db8::1", 443, 0)});
  CHECK(q[0].syn_recv == 1);
  CHECK(q[1].syn_recv == 1);
}

TEST_CASE("an SO_REUSEPORT group shares its count, and says so") {
  std::vector<SockInfo> ls = {listener("0.0.0.0", 8080, 11), listener("0.0.0.0", 8080, 12),
                              listener("127.0.0.1", 8080, 13)};
  auto q = match_requests(ls, {request("10.1.1.1", 8080, 1), request("10.1.1.1", 8080, 3),
                               request("127.0.0.1", 8080, 0)});
  CHECK(q[0].syn_recv == 2);
  CHECK(q[1].syn_recv == 2);
  CHECK(q[0].synack_retrans == 4);
  CHECK(q[0].group_size == 2);
  CHECK(q[1].group_size == 2);
  CHECK(q[0].group_key == 11);
  CHECK(q[1].group_key == 11);
  CHECK(q[2].syn_recv == 1);
  CHECK(q[2].group_size == 1);
  CHECK(q[2].group_key == 0);
}

TEST_CASE("Unix listeners get nothing") {
  SockInfo u = listener("@x", 0, 5);
  u.transport = Transport::Unix;
  auto q = match_requests({u}, {request("127.0.0.1", 0, 1)});
  CHECK(q[0].syn_recv == 0);
}

TEST_CASE("captured dump: request sockets in SYN-RECV with inode 0 and their SYN-ACK retransmits") {
  std::vector<SockInfo> socks = load_dump("synrecv4.hex");
  std::vector<SockInfo> listeners, requests;
  for (const auto& s : socks) (s.listening() ? listeners : requests).push_back(s);
  REQUIRE(listeners.size() == 2);
  REQUIRE(requests.size() == 5);
  uint32_t retrans = 0;
  for (const auto& r : requests) {
    CHECK(r.state == kStateSynRecv);
    CHECK(r.inode == 0);
    CHECK(r.remote_address == "192.0.2.2");
    retrans += r.retrans;
  }
  CHECK(retrans >= 5);  // captured 1.5 s in: every SYN-ACK resent once
  auto q = match_requests(listeners, requests);
  uint32_t total = 0;
  for (size_t i = 0; i < listeners.size(); ++i) {
    INFO(listeners[i].local_address);
    if (listeners[i].local_address == "192.0.2.1") CHECK(q[i].syn_recv == 3);  // backlog 2 holds 3
    if (listeners[i].local_address == "0.0.0.0") CHECK(q[i].syn_recv == 2);
    total += q[i].syn_recv;
  }
  CHECK(total == 5);
}

TEST_CASE("the SYN-queue limit and what happens beyond it") {
  SynLimit l = syn_limit(128, 1, 2048);
  CHECK(l.max == 129);
  CHECK(l.overflow == SynOverflow::Cookies);
  CHECK(!l.unproven_max);
  l = syn_limit(4096, 0, 2048);
  CHECK(l.overflow == SynOverflow::Drop);
  CHECK(l.max == 4097);
  REQUIRE(l.unproven_max);
  CHECK(*l.unproven_max == 1537);
  l = syn_limit(16, 2, 2048);
  CHECK(l.overflow == SynOverflow::AlwaysCookies);
  CHECK(l.max == 0);
  CHECK(std::string(syn_overflow_name(SynOverflow::Drop)) == "drop");
}
