// Connection bursts (`connect --count N --concurrency C --rate R`): open N
// connections with one non-blocking epoll loop, close each right after the
// handshake (or after sending a few bytes), and classify outcomes and
// connect latencies. Latencies that cluster near 1 s, 3 s and 7 s are SYNs
// the kernel had to retransmit (initial RTO 1 s, doubling): the signature of
// a full listen backlog or of packet loss. The statistics are pure functions
// so they are unit-tested on made-up samples.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/address.h"
#include "core/parse.h"
#include "core/result.h"
#include "core/sock.h"

namespace sp {

struct BurstOptions {
  uint64_t count = 1;
  uint64_t concurrency = 1;    // connections in flight at once
  uint64_t rate = 0;           // connection attempts started per second; 0: as fast as allowed
  Duration timeout{10'000'000'000};  // per connection
  uint64_t send_bytes = 0;     // bytes written after the handshake, before close
};

struct BurstResult {
  uint64_t ok = 0, refused = 0, reset = 0, timeout = 0, other = 0;
  std::map<std::string, uint64_t> other_errors;  // errno text -> count
  std::vector<double> latencies;  // seconds, of successful handshakes
  double seconds = 0;             // whole burst
};

// Runs the burst against one endpoint.
Result<BurstResult> run_burst(const Endpoint& target, const SocketConfig& cfg, const BurstOptions& opts);

// Nearest-rank percentile of sorted samples (p in 0..100); 0 when empty.
double percentile(const std::vector<double>& sorted, double p);

struct HistogramBucket {
  double upper;  // seconds; +inf for the last
  std::string label;
  uint64_t count = 0;
};
// Log-scale buckets up to 100 ms, then the SYN-retransmission marks 1 s, 3 s, 7 s, 15 s.
std::vector<HistogramBucket> latency_histogram(const std::vector<double>& samples);

// How many samples sit near each SYN retransmission time: index 0 = ~1 s
// (one retransmitted SYN), 1 = ~3 s (two), 2 = ~7 s (three), 3 = ~15 s.
std::vector<uint64_t> syn_retransmission_clusters(const std::vector<double>& samples);

}  // namespace sp
