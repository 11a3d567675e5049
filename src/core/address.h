// Socket addresses: resolving names (getaddrinfo) into candidate endpoints,
// and formatting sockaddrs for reports ("127.0.0.1", "::1", "@name" for
// abstract Unix sockets).
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace sp {

enum class Transport { Tcp, Udp, Unix };
const char* transport_name(Transport t);  // "tcp", "udp", "unix"

struct Endpoint {
  sockaddr_storage addr = {};
  socklen_t len = 0;

  int family() const { return addr.ss_family; }
  const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&addr); }
  sockaddr* sa() { return reinterpret_cast<sockaddr*>(&addr); }
};

// The same address bytes (as recvfrom gives them for one sender).
bool same_endpoint(const Endpoint& a, const Endpoint& b);

// Address text without port: "127.0.0.1", "::1", "/tmp/s", "@abstract".
std::string format_host(const Endpoint& ep);
// Port number, 0 for Unix sockets.
uint16_t endpoint_port(const Endpoint& ep);
// "127.0.0.1:80", "[::1]:80", "/tmp/s", "@name".
std::string format_endpoint(const Endpoint& ep);
// The peer as error messages name it, in nc's words: "127.0.0.1 port 80
// (tcp)", "::1 port 53 (udp)", "/tmp/s (unix)", "@name (unix)". `proto` is
// "tcp" or "udp" for IP endpoints (ignored for Unix ones).
std::string format_target(const Endpoint& ep, const char* proto = "tcp");
// The address bytes (4 or 16) for CIDR checks; nullptr for Unix.
const unsigned char* endpoint_address_bytes(const Endpoint& ep);

// Strips [] from "[::1]".
std::string strip_brackets(const std::string& host);

// Resolves HOST PORT into candidate endpoints in getaddrinfo's order.
// host empty + passive: wildcard addresses. family: AF_UNSPEC, AF_INET, AF_INET6.
Result<std::vector<Endpoint>> resolve(const std::string& host, uint16_t port, Transport transport,
                                      int family, bool passive);

// The port of a service name in /etc/services (NSS), "http" -> 80; 0 when
// unknown. TCP's entry first, then UDP's. For parse_port(..., lookup_service).
uint16_t lookup_service(std::string_view name);

// A Unix socket address: "@name" is the abstract namespace.
Result<Endpoint> unix_endpoint(const std::string& path);

Endpoint local_endpoint(int fd);
Endpoint peer_endpoint(int fd);

}  // namespace sp
