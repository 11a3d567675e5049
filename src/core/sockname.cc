// The socket namer (see sockname.h).
#include "core/sockname.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cstddef>

#include <fmt/format.h>

#include "core/textsafe.h"

namespace sp {

SockKindId kind_of(const SockInfo& s) {
  if (s.transport == Transport::Unix) return {Transport::Unix, AF_UNIX, s.type};
  return {s.transport, s.family, s.transport == Transport::Udp ? SOCK_DGRAM : SOCK_STREAM};
}

SockKindId kind_of(const Endpoint& ep, Transport t) {
  int type = t == Transport::Udp ? SOCK_DGRAM : SOCK_STREAM;
  if (ep.family() == AF_UNIX) return {Transport::Unix, AF_UNIX, type};
  return {t, ep.family(), type};
}

namespace {
bool is_unix(const SockKindId& k) { return k.transport == Transport::Unix || k.family == AF_UNIX; }
}  // namespace

std::string protocol_name(const SockKindId& k) {
  if (is_unix(k)) return k.type == SOCK_DGRAM ? "unix-dgram" : "unix";
  return k.transport == Transport::Udp ? "udp" : "tcp";
}

std::string family_name(const SockKindId& k) {
  if (is_unix(k)) return "unix";
  return k.family == AF_INET6 ? "ipv6" : "ipv4";
}

std::string kind_name(const SockKindId& k) {
  if (is_unix(k)) {
    if (k.type == SOCK_DGRAM) return "unix-dgram";
    if (k.type == SOCK_SEQPACKET) return "unix-seqpacket";
    return "unix-stream";
  }
  return fmt::format("{}{}", protocol_name(k), k.family == AF_INET6 ? 6 : 4);
}

std::string endpoint_words(const Endpoint& ep) {
  if (ep.family() == AF_UNIX) return terminal_safe(format_host(ep));
  return fmt::format("{} {}", format_host(ep), endpoint_port(ep));
}

nlohmann::ordered_json endpoint_json(const Endpoint& ep) {
  using Json = nlohmann::ordered_json;
  if (ep.family() == AF_UNIX) {
    bool named = ep.len > offsetof(sockaddr_un, sun_path);
    return Json{{"path", named ? Json(format_host(ep)) : Json(nullptr)}};
  }
  return Json{{"address", format_host(ep)}, {"port", endpoint_port(ep)}};
}

std::string sock_endpoint_cell(const SockInfo& s, bool local) {
  const std::string& addr = local ? s.local_address : s.remote_address;
  uint16_t port = local ? s.local_port : s.remote_port;
  if (s.transport == Transport::Unix) {
    if (!addr.empty()) return terminal_safe(addr);  // another user's name: no raw escapes
    if (!local && s.peer_inode && *s.peer_inode != 0) return fmt::format("peer inode {}", *s.peer_inode);
    return "*";
  }
  std::string host = addr.empty() ? "*" : addr;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return fmt::format("{}:{}", host, port == 0 ? std::string("*") : std::to_string(port));
}

nlohmann::ordered_json sock_endpoint_json(const SockInfo& s, bool local) {
  using Json = nlohmann::ordered_json;
  const std::string& addr = local ? s.local_address : s.remote_address;
  if (s.transport == Transport::Unix) return Json{{"path", addr.empty() ? Json(nullptr) : Json(addr)}};
  return Json{{"address", addr}, {"port", local ? s.local_port : s.remote_port}};
}

}  // namespace sp
