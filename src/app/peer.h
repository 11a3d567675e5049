// Getting the one connection a transfer runs over, whichever side opens it:
// connect to HOST PORT (or a Unix path), or listen and accept the first
// client (printing the "Listening on" line scripts wait for). Also the
// relay flags listen and connect share, and the target named in relay errors.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "core/relay.h"
#include "core/report.h"
#include "core/sock.h"

namespace sp::app {

struct PeerSpec {
  bool listen = false;
  std::string host;       // listen: bind address ("" = every address)
  uint16_t port = 0;
  std::string unix_path;  // instead of host/port
};

struct Peer {
  Fd fd;
  Endpoint peer;
  Listener listener;  // kept open while the transfer runs (listen mode)
};

// Binds the spec's address (or Unix path) and prints the "Listening on"
// line on `rep` (which scripts wait for): the first step of every server.
Result<Listener> open_listener(const PeerSpec& spec, const SocketConfig& cfg, Reporter& rep);

// `rep` receives listening/accepted/connected events; it should be the
// stderr reporter so the Listening line is where scripts look for it.
Result<Peer> open_peer(const PeerSpec& spec, const SocketConfig& cfg, Duration connect_timeout, Reporter& rep);

// "127.0.0.1 port 4242 (tcp)", "/run/x.sock (unix)": the peer as the
// errors of the relay and of send/recv name it. An unnamed Unix peer (an accepted client) is named by
// `unix_path`, the listener's path.
std::string peer_target(const Endpoint& peer, Transport t, const std::string& unix_path = "");

// Relay flags of listen and connect (raw text, converted after parsing).
struct RelayFlags {
  bool close_on_eof = false;
  bool keep_sending = false;      // after the peer's EOF, send stdin to its EOF
  bool stop_on_peer_eof = false;  // after the peer's EOF, stop (drop unsent stdin)
  std::string stall_timeout;
};
void add_relay_flags(CLI::App* sub, RelayFlags* f);
// The relay options for stdin `in_fd` (pure: usage errors only).
// --idle-timeout stays with each command (listen's servers use it too).
Result<RelayOptions> relay_options(const RelayFlags& f, int in_fd);
// Stall reports of the relay go to `rep`, which must outlive it.
void report_relay_stalls(RelayOptions* ro, Reporter& rep);

}  // namespace sp::app
