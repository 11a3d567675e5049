// Why: the live half of `sockprobe buffers` (--port/--pid/--all, --watch)
// reads other processes' sockets over NETLINK_SOCK_DIAG and the UDP error
// counters; it is kept apart from the probe-and-explain half in buffers.cc.
#pragma once

#include <optional>

#include <sys/socket.h>

#include "core/parse.h"
#include "core/report.h"
#include "core/result.h"

namespace sp::app {

struct LiveOptions {
  std::optional<uint16_t> port;
  std::optional<int> pid;
  bool all = false;
  int family = AF_UNSPEC;  // -4 / -6
  std::optional<Duration> watch;
  std::optional<long long> count;  // --watch rounds; nullopt: until SIGINT
  bool selected() const { return port || pid || all; }
};

// Prints the matching sockets (and UDP error counters), once or every
// --watch interval until SIGINT.
Status report_live(Reporter& rep, const LiveOptions& o);

}  // namespace sp::app
