// Unit tests for the accept loop's pure parts: which errnos are retried, the
// Go-style backoff schedule, and the --allow/--deny decision.
#include "core/serve.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

#include <doctest/doctest.h>

using namespace sp;
using std::chrono::milliseconds;

namespace {

Endpoint v4(const char* text) {
  Endpoint ep;
  auto* in = reinterpret_cast<sockaddr_in*>(&ep.addr);
  in->sin_family = AF_INET;
  inet_pton(AF_INET, text, &in->sin_addr);
  ep.len = sizeof *in;
  return ep;
}

Endpoint v6(const char* text) {
  Endpoint ep;
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&ep.addr);
  in6->sin6_family = AF_INET6;
  inet_pton(AF_INET6, text, &in6->sin6_addr);
  ep.len = sizeof *in6;
  return ep;
}

}  // namespace

TEST_CASE("accept errors: resource shortages and aborted handshakes are temporary") {
  for (int e : {EINTR, EAGAIN, ECONNABORTED, EMFILE, ENFILE, ENOBUFS, ENOMEM}) CHECK(accept_error_is_temporary(e));
  for (int e : {EBADF, EINVAL, ENOTSOCK, EFAULT}) CHECK_FALSE(accept_error_is_temporary(e));
}

TEST_CASE("accept backoff: 5 ms doubling to 1 s, reset after a success") {
  AcceptBackoff b;
  CHECK_FALSE(b.in_burst());
  std::vector<long> got;
  for (int i = 0; i < 10; ++i) got.push_back(b.next().count());
  CHECK(got == std::vector<long>{5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000});
  CHECK(b.in_burst());
  b.reset();
  CHECK_FALSE(b.in_burst());
  CHECK(b.next() == milliseconds(5));
}

TEST_CASE("peer_allowed: deny wins, allow lists restrict, mapped IPv4 matches IPv4 blocks") {
  auto cidr = [](const char* t) { return *parse_cidr(t); };
  std::vector<Cidr> none;
  CHECK(peer_allowed(v4("127.0.0.1"), none, none));
  CHECK_FALSE(peer_allowed(v4("127.0.0.1"), none, {cidr("127.0.0.0/8")}));
  CHECK(peer_allowed(v4("127.0.0.2"), {cidr("127.0.0.2/32")}, none));
  CHECK_FALSE(peer_allowed(v4("127.0.0.1"), {cidr("127.0.0.2/32")}, none));
  CHECK_FALSE(peer_allowed(v4("127.0.0.2"), {cidr("127.0.0.0/8")}, {cidr("127.0.0.2")}));
  // A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d.
  CHECK_FALSE(peer_allowed(v6("::ffff:127.0.0.1"), none, {cidr("127.0.0.1/32")}));
  CHECK(peer_allowed(v6("::1"), {cidr("::1/128")}, none));
  CHECK_FALSE(peer_allowed(v6("::1"), {cidr("127.0.0.0/8")}, none));
  // Unix peers have no address: always allowed.
  Endpoint un;
  un.addr.ss_family = AF_UNIX;
  un.len = sizeof(sa_family_t);
  CHECK(peer_allowed(un, {cidr("127.0.0.2/32")}, {cidr("0.0.0.0/0")}));
}
