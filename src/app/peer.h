// Getting the one connection a transfer runs over, whichever side opens it:
// connect to HOST PORT (or a Unix path), or listen and accept the first
// client (printing the "Listening on" line scripts wait for).
#pragma once

#include <string>

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

// `rep` receives listening/accepted/connected events; it should be the
// stderr reporter so the Listening line is where scripts look for it.
Result<Peer> open_peer(const PeerSpec& spec, const SocketConfig& cfg, Duration connect_timeout, Reporter& rep);

}  // namespace sp::app
