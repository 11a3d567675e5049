// Unit tests for address formatting: IPv4-mapped peers shown as IPv4,
// brackets for IPv6 endpoints, abstract Unix names with '@'.
#include "core/address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <doctest/doctest.h>

using namespace sp;

namespace {

Endpoint v6(const char* text, uint16_t port) {
  Endpoint ep;
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&ep.addr);
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(port);
  inet_pton(AF_INET6, text, &in6->sin6_addr);
  ep.len = sizeof *in6;
  return ep;
}

}  // namespace

TEST_CASE("format_host/format_endpoint: IPv6, and IPv4-mapped shown as IPv4") {
  CHECK(format_host(v6("::1", 80)) == "::1");
  CHECK(format_endpoint(v6("::1", 80)) == "[::1]:80");
  CHECK(format_host(v6("::ffff:127.0.0.1", 80)) == "127.0.0.1");
  CHECK(format_endpoint(v6("::ffff:127.0.0.1", 8080)) == "127.0.0.1:8080");
  CHECK(endpoint_port(v6("::1", 443)) == 443);
}

TEST_CASE("unix_endpoint: paths, @abstract names, and limits") {
  auto p = unix_endpoint("/tmp/s.sock");
  REQUIRE(p.ok());
  CHECK(format_host(*p) == "/tmp/s.sock");
  auto a = unix_endpoint("@name");
  REQUIRE(a.ok());
  CHECK(format_host(*a) == "@name");
  CHECK_FALSE(unix_endpoint("").ok());
  CHECK_FALSE(unix_endpoint("@").ok());
  CHECK_FALSE(unix_endpoint(std::string(200, 'x')).ok());
  CHECK(unix_endpoint(std::string(200, 'x')).error().kind == ErrorKind::Usage);
}

TEST_CASE("format_target names the peer as nc's messages do") {
  CHECK(format_target(v6("::1", 80)) == "::1 port 80 (tcp)");
  CHECK(format_target(v6("::ffff:127.0.0.1", 53), "udp") == "127.0.0.1 port 53 (udp)");
  auto p = unix_endpoint("/tmp/s.sock");
  REQUIRE(p.ok());
  CHECK(format_target(*p) == "/tmp/s.sock (unix)");
  Endpoint unnamed;
  unnamed.addr.ss_family = AF_UNIX;
  unnamed.len = sizeof(sa_family_t);
  CHECK(format_target(unnamed) == "the peer (unix, unnamed)");
  CHECK(format_target(Endpoint{}) == "the peer");
}

TEST_CASE("strip_brackets") {
  CHECK(strip_brackets("[::1]") == "::1");
  CHECK(strip_brackets("::1") == "::1");
  CHECK(strip_brackets("host") == "host");
}
