// The front half of `connect --count N`: run a burst against HOST PORT and
// report outcome counts, latency percentiles, a histogram, and a call-out
// when latencies cluster at SYN retransmission times.
#pragma once

#include <string>

#include "core/burst.h"
#include "core/report.h"
#include "core/sock.h"

namespace sp::app {

// Exit status: 0 when every connection succeeded; a system error (1) when
// any was refused/reset/failed; otherwise a timeout (3) when any timed out.
Status run_connect_burst(Reporter& rep, const std::string& host, uint16_t port, const SocketConfig& cfg,
                         const BurstOptions& opts);

}  // namespace sp::app
