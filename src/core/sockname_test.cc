// The one socket namer: each kind has one JSON protocol/family, one table
// name and one way to write its ends, whichever report asks.
#include "core/sockname.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <doctest/doctest.h>

using namespace sp;

namespace {

Endpoint v4(const char* text, uint16_t port) {
  Endpoint ep;
  auto* in = reinterpret_cast<sockaddr_in*>(&ep.addr);
  in->sin_family = AF_INET;
  in->sin_port = htons(port);
  inet_pton(AF_INET, text, &in->sin_addr);
  ep.len = sizeof *in;
  return ep;
}

SockInfo sock(Transport t, int family, int type) {
  SockInfo s;
  s.transport = t;
  s.family = family;
  s.type = type;
  return s;
}

}  // namespace

TEST_CASE("kind names: JSON protocol and family, the buffers kind, backlog's PROTO") {
  SockKindId tcp6 = kind_of(sock(Transport::Tcp, AF_INET6, SOCK_STREAM));
  CHECK(protocol_name(tcp6) == "tcp");
  CHECK(family_name(tcp6) == "ipv6");
  CHECK(kind_name(tcp6) == "tcp6");
  SockKindId tcp4 = kind_of(sock(Transport::Tcp, AF_INET, SOCK_STREAM));
  CHECK(family_name(tcp4) == "ipv4");
  CHECK(kind_name(tcp4) == "tcp4");
  SockKindId udp6 = kind_of(sock(Transport::Udp, AF_INET6, SOCK_DGRAM));
  CHECK(protocol_name(udp6) == "udp");
  CHECK(kind_name(udp6) == "udp6");
  SockKindId ustream = kind_of(sock(Transport::Unix, AF_UNIX, SOCK_STREAM));
  CHECK(protocol_name(ustream) == "unix");
  CHECK(family_name(ustream) == "unix");
  CHECK(kind_name(ustream) == "unix-stream");
  CHECK(kind_name(kind_of(sock(Transport::Unix, AF_UNIX, SOCK_SEQPACKET))) == "unix-seqpacket");
  SockKindId udgram = kind_of(sock(Transport::Unix, AF_UNIX, SOCK_DGRAM));
  CHECK(protocol_name(udgram) == "unix-dgram");
  CHECK(kind_name(udgram) == "unix-dgram");
}

TEST_CASE("our own endpoints: -u on a Unix socket is a datagram one") {
  auto path = unix_endpoint("/tmp/s.sock");
  REQUIRE(path.ok());
  CHECK(protocol_name(kind_of(*path, Transport::Udp)) == "unix-dgram");
  CHECK(protocol_name(kind_of(*path, Transport::Tcp)) == "unix");
  CHECK(protocol_name(kind_of(v4("127.0.0.1", 53), Transport::Udp)) == "udp");
}

TEST_CASE("endpoints in sentences and in JSON") {
  CHECK(endpoint_words(v4("127.0.0.1", 80)) == "127.0.0.1 80");
  CHECK(endpoint_json(v4("127.0.0.1", 80)) == nlohmann::ordered_json{{"address", "127.0.0.1"}, {"port", 80}});
  auto evil = unix_endpoint("@x\x1b]0;owned\x07");
  REQUIRE(evil.ok());
  CHECK(endpoint_words(*evil).find('\x1b') == std::string::npos);
  CHECK(endpoint_json(*evil)["path"] == "@x\x1b]0;owned\x07");  // JSON escapes on its own
}

TEST_CASE("a dumped socket's ends, as ss writes them") {
  SockInfo s = sock(Transport::Tcp, AF_INET6, SOCK_STREAM);
  s.local_address = "::1";
  s.local_port = 8080;
  CHECK(sock_endpoint_cell(s, true) == "[::1]:8080");
  CHECK(sock_endpoint_cell(s, false) == "*:*");
  CHECK(sock_endpoint_json(s, true) == nlohmann::ordered_json{{"address", "::1"}, {"port", 8080}});
  SockInfo u = sock(Transport::Unix, AF_UNIX, SOCK_STREAM);
  u.peer_inode = 42;
  CHECK(sock_endpoint_cell(u, true) == "*");
  CHECK(sock_endpoint_cell(u, false) == "peer inode 42");
  CHECK(sock_endpoint_json(u, true) == nlohmann::ordered_json{{"path", nullptr}});
}
