// Why: one socket is named in JSON ("protocol", "family", an endpoint
// object), in tables (tcp4, unix-dgram, "host:port") and in sentences
// ("127.0.0.1 80"). Each name was once spelt in the front-end that printed
// it, and the spellings drifted; every report now asks this one namer.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/address.h"
#include "core/sockdiag.h"

namespace sp {

// What a socket's names depend on. For Unix sockets family is AF_UNIX and
// type tells a datagram socket (SOCK_DGRAM) from a stream or seqpacket one.
struct SockKindId {
  Transport transport = Transport::Tcp;
  int family = 0;  // AF_INET, AF_INET6, AF_UNIX
  int type = 0;    // SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET
};
SockKindId kind_of(const SockInfo& s);
// An endpoint of our own socket: Transport::Udp on AF_UNIX is a datagram one.
SockKindId kind_of(const Endpoint& ep, Transport t);

// JSON "protocol": "tcp", "udp", "unix" (stream and seqpacket) or
// "unix-dgram" (a script must tell a datagram socket from a stream one).
std::string protocol_name(const SockKindId& k);
// JSON "family": "ipv4", "ipv6" or "unix".
std::string family_name(const SockKindId& k);
// The kind as `buffers` names it (text and JSON "socket"): "tcp4", "tcp6",
// "udp4", "udp6", "unix-stream", "unix-dgram", "unix-seqpacket".
std::string kind_name(const SockKindId& k);

// An endpoint in a sentence: "127.0.0.1 80", "::1 80", or a Unix name made
// terminal-safe (a peer picks its own name, escapes and all).
std::string endpoint_words(const Endpoint& ep);
// An endpoint in JSON (man page, JSON EVENTS): {"address", "port"} for IP,
// {"path"} for a Unix socket (null when it has no name).
nlohmann::ordered_json endpoint_json(const Endpoint& ep);

// A dumped socket's end (local or peer) in a table cell, as ss prints it:
// "127.0.0.1:80", "[::1]:*", "*:*"; a Unix name terminal-safe, else the
// peer's inode ("peer inode 123") or "*".
std::string sock_endpoint_cell(const SockInfo& s, bool local);
// The same end in JSON: {"address", "port"}, or {"path"} (null unnamed).
nlohmann::ordered_json sock_endpoint_json(const SockInfo& s, bool local);

}  // namespace sp
