// The report lines and JSON events about sockets that listen and connect
// share: listening, accepted, connected, closed. Every one states the
// socket's effective SO_SNDBUF/SO_RCVBUF; listeners add their backlog and
// accept-queue depth; closed TCP connections add TCP_INFO.
#pragma once

#include <chrono>

#include "core/relay.h"
#include "core/report.h"
#include "core/serve.h"
#include "core/sock.h"

namespace sp::app {

void report_listening(Reporter& rep, const Listener& l);
void report_accepted(Reporter& rep, int listen_fd, const ConnectionReport& c);
void report_connected(Reporter& rep, int fd, const Endpoint& peer, Transport t);
// "closed": bytes in/out, duration, TCP_INFO; shown from -v (min_verbosity).
void report_closed(Reporter& rep, const ConnectionReport& c, int min_verbosity = 1);

// After a relay: fill the report with counts, duration and TCP_INFO (taken
// before the fd closes) and emit "closed".
void finish_connection(Reporter& rep, int fd, ConnectionReport& c, const RelayStats& stats,
                       std::chrono::steady_clock::time_point started, const Status& st);

// What a server of many connections (listen --echo/--discard/-k, recv -k)
// did, reported as the "served" event when Ctrl-C ends it (exit 130 follows).
struct ServedTotals {
  uint64_t connections = 0, bytes_in = 0, bytes_out = 0;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  void add(const ConnectionReport& c);
  void report(Reporter& rep) const;
};

}  // namespace sp::app
