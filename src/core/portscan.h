// Why: `connect -z` is the port check of scripts and CI. Probing one port
// after another makes 5 filtered ports with -w 1s take 5 s, and the
// wait-for-it job (retry until the port opens or a deadline passes) was left
// to shell loops around nc. probe_ports() does both: up to `concurrency`
// probes at once (threads, each a remote_connect), results handed back in
// the order of the ports whatever order they finish in, and with `wait` each
// port is retried until it opens or the deadline passes. A name that does
// not resolve is its own state, never "closed".
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/address.h"
#include "core/parse.h"
#include "core/result.h"
#include "core/sock.h"

namespace sp {

enum class PortState { Open, Closed, Timeout, Unresolved };
const char* port_state_name(PortState s);  // "open", "closed", "timeout", "unresolved"

struct PortProbe {
  uint16_t port = 0;
  PortState state = PortState::Closed;
  Endpoint peer;       // the address that answered (Open)
  std::string error;   // why not open
  double seconds = 0;  // from the first attempt to the result
  int attempts = 0;
};

struct ScanOptions {
  Duration timeout{0};     // per attempt (-w); 0: none (with wait: the time left)
  size_t concurrency = 1;  // probes at once
  std::optional<Duration> wait;  // retry each port until open, for at most this long
  Duration retry_every = std::chrono::milliseconds(250);
};

// Probes every port of host, calling on_result on the caller's thread in
// the order of `ports`. Returns an Interrupted error on SIGINT (the results
// so far were handed over), otherwise success: the states tell the rest.
Status probe_ports(const std::string& host, const std::vector<uint16_t>& ports, const SocketConfig& cfg,
                   const ScanOptions& opts, const std::function<void(const PortProbe&)>& on_result);

}  // namespace sp
