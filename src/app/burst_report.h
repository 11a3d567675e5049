// The front half of `connect --count N`: run a burst against HOST PORT and
// report outcome counts, latency percentiles, a histogram, and a call-out
// when latencies cluster at SYN retransmission times.
#pragma once

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "core/burst.h"
#include "core/report.h"
#include "core/sock.h"

namespace sp::app {

// --count/--concurrency/--rate/--send as typed; converted by burst_options().
struct BurstFlags {
  std::string count, concurrency, rate, send;
};
void add_burst_flags(CLI::App* sub, BurstFlags* f);
// nullopt when --count was not given (a plain connect). The per-connection
// timeout is -w, or 10 s so SYN retransmissions at 1 s, 3 s and 7 s show.
Result<std::optional<BurstOptions>> burst_options(const BurstFlags& f, std::optional<Duration> timeout);

// Exit status: 0 when every connection succeeded; a system error (1) when
// any was refused/reset/failed; otherwise a timeout (3) when any timed out.
Status run_connect_burst(Reporter& rep, const std::string& host, uint16_t port, const SocketConfig& cfg,
                         const BurstOptions& opts);

}  // namespace sp::app
