// Connection bursts (`connect --count N --concurrency C --rate R`): open N
// connections with one non-blocking epoll loop, close each right after the
// handshake (or after sending a few bytes), and classify outcomes and
// connect latencies. Latencies that cluster at the SYN retransmission times
// (1 s, then 3 s, 7 s... or 2 s, 3 s... with linear SYN timeouts) are SYNs
// the kernel had to send again: the signature of a full listen backlog or
// of packet loss. The statistics are pure functions
// so they are unit-tested on made-up samples.
//
// Sockets are file descriptors: at most what the open-file limit leaves
// (fd_room) is in flight, and socket() failing with EMFILE/ENFILE lowers
// that to what is open then (a back-off, not a failed connection). Either
// is told once through on_fd_limit. EADDRNOTAVAIL (no local port left) is
// counted as "other" and explained by port_exhaustion_note.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/address.h"
#include "core/parse.h"
#include "core/result.h"
#include "core/sock.h"

namespace sp {

// Why at most `in_flight` connections are in flight from now on: err 0,
// the open-file limit left room for no more at the start; EMFILE/ENFILE,
// socket() failed with `in_flight` sockets open.
struct BurstFdLimit {
  uint64_t in_flight = 0;
  uint64_t concurrency = 0;  // what was asked for
  int err = 0;
};

struct BurstOptions {
  uint64_t count = 1;
  uint64_t concurrency = 1;    // connections in flight at once
  uint64_t rate = 0;           // connection attempts started per second; 0: as fast as allowed
  Duration timeout{10'000'000'000};  // per connection
  uint64_t send_bytes = 0;     // bytes written after the handshake, before close
  // Sockets the open-file limit leaves room for (burst_fd_room()); none:
  // only EMFILE/ENFILE limit the connections in flight.
  std::optional<uint64_t> fd_room;
  // Called at most once, when fewer than `concurrency` can be in flight.
  std::function<void(const BurstFdLimit&)> on_fd_limit;
};

// The sockets a burst may hold with `open_fds` descriptors open under the
// soft limit `fd_limit`, keeping kBurstFdSpare free for the report; 0 when
// none is left.
constexpr uint64_t kBurstFdSpare = 4;
uint64_t burst_fd_room(uint64_t fd_limit, uint64_t open_fds);

struct BurstResult {
  uint64_t ok = 0, refused = 0, reset = 0, timeout = 0, other = 0;
  std::map<std::string, uint64_t> other_errors;  // errno text -> count
  std::vector<double> latencies;  // seconds, of successful handshakes
  // Successful handshakes by SYNs resent: TCP_INFO tcpi_total_retrans read
  // right after the handshake (before any byte is sent) -> connections.
  std::map<uint32_t, uint64_t> syn_retransmits;
  double seconds = 0;             // whole burst
  uint64_t in_flight_limit = 0;   // the fd limit's cap on connections in flight; 0: none below concurrency
  uint64_t fd_backoffs = 0;       // socket() calls that met EMFILE/ENFILE and were retried later
};

// Runs the burst against one endpoint.
Result<BurstResult> run_burst(const Endpoint& target, const SocketConfig& cfg, const BurstOptions& opts);

// Nearest-rank percentile of sorted samples (p in 0..100); 0 when empty.
double percentile(const std::vector<double>& sorted, double p);

// When a client retransmits its SYN, measured from connect(): the initial
// RTO (1 s) and then, on kernels with net.ipv4.tcp_syn_linear_timeouts (6.5+,
// default 4), that many more 1 s waits before exponential backoff:
// linear 0 -> 1, 3, 7, 15 s; linear 4 -> 1, 2, 3, 4, 5, 7, 11 s.
std::vector<double> syn_retransmit_times(int linear_timeouts, int syn_retries, double initial_rto = 1.0);

struct HistogramBucket {
  double upper;  // seconds; +inf for the last
  std::string label;
  uint64_t count = 0;
};
// Log-scale buckets up to 100 ms, then one bucket per SYN retransmission
// time up to 15 s (each bucket ends just before the next mark).
std::vector<HistogramBucket> latency_histogram(const std::vector<double>& samples, const std::vector<double>& marks);

// How many samples completed just after each mark (from mark - 20 ms to
// mark + 500 ms): connections whose SYN had to be retransmitted.
std::vector<uint64_t> syn_retransmission_clusters(const std::vector<double>& samples, const std::vector<double>& marks);

// The burst report's call-out when connections completed at SYN
// retransmission times (counts from syn_retransmission_clusters over
// marks): "\n  1 connection completed at SYN retransmission times (1 near
// 1s): its SYN was retransmitted.\n  That is ..."; "" when none did.
std::string syn_callout_text(const std::vector<double>& marks, const std::vector<uint64_t>& counts);

// Why connect() said EADDRNOTAVAIL: every local port of
// net.ipv4.ip_local_port_range ("32768 60999", the sysctl's numbers; empty
// when unreadable) to this destination is taken, most often by TIME_WAIT
// sockets (`time_wait`: /proc/net/sockstat's TCP tw; none when unreadable),
// which hold their port for 60 s after the side that closed first closes,
// or by sockets closed and still waiting for the peer's FIN (`orphan`,
// sockstat's TCP orphan: FIN_WAIT2 until the peer closes too).
std::string port_exhaustion_note(const std::vector<int64_t>& port_range, std::optional<int64_t> time_wait,
                                 std::optional<int64_t> orphan);

}  // namespace sp
