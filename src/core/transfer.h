// Measured one-way transfers for `send` and `recv`: a Source of bytes (file,
// stdin, generated; core/ends.h) pushed into a socket, or a socket drained
// into a Sink (stdout, a file renamed into place on success, or nothing),
// each by one Mover (core/mover.h). Paced by
// --rate, bounded by --duration, checksummed with XXH3-128, reported per
// --interval, and a stall longer than --stall-timeout ends the transfer
// with the kernel's explanation (ErrorKind::Timeout) instead of hanging.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "core/ends.h"
#include "core/mover.h"
#include "core/parse.h"
#include "core/result.h"
#include "core/stall.h"

namespace sp {

// The read/write size when --chunk is not given. Into a regular file the
// receiver reads more per call (recv_chunk in transfer.cc).
inline constexpr size_t kDefaultChunk = 256 * 1024;
inline constexpr size_t kFileSinkChunk = 4 << 20;

struct TransferOptions {
  size_t chunk = 0;  // 0: kDefaultChunk, or kFileSinkChunk for recv -o
  // Whether bytes may skip user space (sendfile/splice). Auto picks per case
  // what bench/transfer.sh measured faster (the table in core/mover.cc);
  // On/Off force it, for measuring (SOCKPROBE_ZEROCOPY=1/0).
  ZeroCopy zero_copy = ZeroCopy::Auto;
  std::string target = "the peer";    // for errors: "127.0.0.1 port 80 (tcp)"
  uint64_t rate = 0;                  // bytes/s; 0: unlimited
  Duration duration{0};               // send: stop after this long; 0: no limit
  Duration stall_timeout{10'000'000'000};  // 0: never
  Duration interval{0};               // 0: no interval reports
  Duration progress_every{0};         // 0: no progress callbacks
  bool checksum = false;
  // --bidir: another thread reads this socket, so the wait for the peer's
  // acknowledgement must leave incoming bytes to it (core/bidir.h).
  bool shared_reads = false;
};

// The sender's chunk: --chunk, else kDefaultChunk.
inline size_t send_chunk(const TransferOptions& o) { return o.chunk != 0 ? o.chunk : kDefaultChunk; }

// The TCP sender's state over one interval, from TCP_INFO at its end:
// iperf3's Retr and Cwnd.
struct IntervalTcp {
  uint32_t retrans = 0;   // segments retransmitted during the interval
  uint32_t snd_cwnd = 0;  // congestion window, segments
  uint32_t snd_mss = 0;   // bytes per segment
  double rtt = 0;         // smoothed RTT, seconds
};

struct IntervalReport {
  double start = 0, end = 0;  // seconds since the transfer began
  uint64_t bytes = 0;
  std::optional<IntervalTcp> tcp;  // send over TCP only
};

struct TransferHooks {
  std::function<void(const IntervalReport&)> on_interval;
  std::function<void(uint64_t bytes, double elapsed)> on_progress;
  std::function<void(const StallSnapshot&, const std::string& why)> on_stall;
};

struct TransferStats {
  uint64_t bytes = 0;
  double seconds = 0;
  std::optional<std::string> checksum;  // "xxh3-128:HEX" when asked for
};

// net_fd is non-blocking (as every socket is, from make_socket or accept4).
// Pushes the source into the socket, then shuts down the write side and
// waits until the peer's kernel acknowledged every byte (SIOCOUTQ == 0), so
// the time measured is end to end. Stats are filled even on error. On
// error (and when a signal ends the process meanwhile) the socket is set
// to abort with a reset when it closes.
Status send_stream(int net_fd, Source& src, const TransferOptions& opts, const TransferHooks& hooks,
                   TransferStats* stats);
// Drains the socket into the sink until the peer's EOF.
Status recv_stream(int net_fd, Sink& sink, const TransferOptions& opts, const TransferHooks& hooks,
                   TransferStats* stats);

}  // namespace sp
