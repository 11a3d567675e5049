// Name resolution and address formatting (see address.h).
#include "core/address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <cstddef>
#include <cstring>

#include <fmt/format.h>

namespace sp {

const char* transport_name(Transport t) {
  switch (t) {
    case Transport::Tcp: return "tcp";
    case Transport::Udp: return "udp";
    case Transport::Unix: return "unix";
  }
  return "?";
}

bool same_endpoint(const Endpoint& a, const Endpoint& b) {
  return a.len == b.len && std::memcmp(&a.addr, &b.addr, a.len) == 0;
}

std::string format_host(const Endpoint& ep) {
  char buf[INET6_ADDRSTRLEN] = "";
  switch (ep.family()) {
    case AF_INET: {
      const auto* in = reinterpret_cast<const sockaddr_in*>(&ep.addr);
      inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
      return buf;
    }
    case AF_INET6: {
      // An IPv4 peer of a dual-stack socket is shown as IPv4 (127.0.0.1, not
      // ::ffff:127.0.0.1), as nc and ncat print it.
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ep.addr);
      if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
        inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], buf, sizeof buf);
      } else {
        inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
      }
      return buf;
    }
    case AF_UNIX: {
      const auto* un = reinterpret_cast<const sockaddr_un*>(&ep.addr);
      size_t off = offsetof(sockaddr_un, sun_path);
      if (ep.len <= off) return "(unnamed)";
      size_t n = ep.len - off;
      if (un->sun_path[0] == '\0') return "@" + std::string(un->sun_path + 1, n - 1);
      return std::string(un->sun_path, strnlen(un->sun_path, n));
    }
    default: return "(unknown)";
  }
}

uint16_t endpoint_port(const Endpoint& ep) {
  if (ep.family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&ep.addr)->sin_port);
  if (ep.family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&ep.addr)->sin6_port);
  return 0;
}

std::string format_endpoint(const Endpoint& ep) {
  if (ep.family() == AF_INET) return fmt::format("{}:{}", format_host(ep), endpoint_port(ep));
  if (ep.family() == AF_INET6) {
    std::string host = format_host(ep);
    if (host.find(':') == std::string::npos) return fmt::format("{}:{}", host, endpoint_port(ep));
    return fmt::format("[{}]:{}", host, endpoint_port(ep));
  }
  return format_host(ep);
}

std::string format_target(const Endpoint& ep, const char* proto) {
  if (ep.family() == AF_INET || ep.family() == AF_INET6) {
    return fmt::format("{} port {} ({})", format_host(ep), endpoint_port(ep), proto);
  }
  if (ep.family() != AF_UNIX) return "the peer";
  if (ep.len <= sizeof(sa_family_t)) return "the peer (unix, unnamed)";
  return fmt::format("{} (unix)", format_host(ep));
}

const unsigned char* endpoint_address_bytes(const Endpoint& ep) {
  if (ep.family() == AF_INET) {
    return reinterpret_cast<const unsigned char*>(&reinterpret_cast<const sockaddr_in*>(&ep.addr)->sin_addr);
  }
  if (ep.family() == AF_INET6) {
    return reinterpret_cast<const unsigned char*>(&reinterpret_cast<const sockaddr_in6*>(&ep.addr)->sin6_addr);
  }
  return nullptr;
}

std::string strip_brackets(const std::string& host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') return host.substr(1, host.size() - 2);
  return host;
}

Result<std::vector<Endpoint>> resolve(const std::string& host_in, uint16_t port, Transport transport,
                                      int family, bool passive) {
  std::string host = strip_brackets(host_in);
  in6_addr v6 = {};
  if (host.find('%') == std::string::npos && inet_pton(AF_INET6, host.c_str(), &v6) == 1 &&
      (IN6_IS_ADDR_LINKLOCAL(&v6) || IN6_IS_ADDR_MC_LINKLOCAL(&v6))) {
    return usage_error(fmt::format("{} is a link-local address: it needs a scope, the interface to use, as {}%eth0",
                                   host, host));
  }
  addrinfo hints = {};
  hints.ai_family = family;
  hints.ai_socktype = transport == Transport::Udp ? SOCK_DGRAM : SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res);
  if (rc != 0) {
    std::string why = rc == EAI_SYSTEM ? errno_text(errno) : gai_strerror(rc);
    return system_error(fmt::format("resolve {}: {}", host.empty() ? "(any)" : host, why));
  }
  std::vector<Endpoint> out;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    Endpoint ep;
    std::memcpy(&ep.addr, ai->ai_addr, ai->ai_addrlen);
    ep.len = ai->ai_addrlen;
    out.push_back(ep);
  }
  freeaddrinfo(res);
  if (out.empty()) return system_error(fmt::format("resolve {}: no addresses", host));
  return out;
}

Result<Endpoint> unix_endpoint(const std::string& path) {
  Endpoint ep;
  auto* un = reinterpret_cast<sockaddr_un*>(&ep.addr);
  un->sun_family = AF_UNIX;
  bool abstract = !path.empty() && path[0] == '@';
  if (path.empty() || path.size() >= sizeof(un->sun_path) || (abstract && path.size() == 1)) {
    return usage_error(fmt::format("'{}' is not a usable Unix socket path (1-{} bytes)", path,
                                   sizeof(un->sun_path) - 1));
  }
  std::memcpy(un->sun_path, path.data(), path.size());
  if (abstract) un->sun_path[0] = '\0';
  ep.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + (abstract ? 0 : 1));
  return ep;
}

Endpoint local_endpoint(int fd) {
  Endpoint ep;
  ep.len = sizeof ep.addr;
  if (getsockname(fd, ep.sa(), &ep.len) != 0) ep.len = 0;
  return ep;
}

Endpoint peer_endpoint(int fd) {
  Endpoint ep;
  ep.len = sizeof ep.addr;
  if (getpeername(fd, ep.sa(), &ep.len) != 0) ep.len = 0;
  return ep;
}

uint16_t lookup_service(std::string_view name) {
  std::string n(name);
  for (const char* proto : {"tcp", "udp"}) {
    servent entry = {};
    servent* found = nullptr;
    char buf[1024];
    if (::getservbyname_r(n.c_str(), proto, &entry, buf, sizeof buf, &found) == 0 && found != nullptr) {
      return ntohs(static_cast<uint16_t>(found->s_port));
    }
  }
  return 0;
}

}  // namespace sp
