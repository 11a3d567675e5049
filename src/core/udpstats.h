// What recv -u makes of the datagrams that arrived: distinct, duplicate,
// reordered and late sequence numbers, the loss against the sender's final
// count, RFC 3550 interarrival jitter, and which part of the loss the
// receiving socket itself dropped (man page, "UDP MEASUREMENT"). Pure: the
// receive loop (udprecv.cc) feeds it headers and kernel arrival times,
// unit tests feed it sequences by hand.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sp {

struct UdpCounts {
  uint64_t datagrams = 0;   // distinct sequence numbers received
  uint64_t bytes = 0;       // their bytes, headers included
  uint64_t duplicates = 0;  // sequence numbers that came again
  uint64_t reordered = 0;   // came after a higher sequence number
  uint64_t late = 0;        // older than the window: not counted as received
  uint64_t expected = 0;    // the final's count, else highest seen + 1
  uint64_t lost = 0;        // expected - datagrams, never negative
  double jitter_ms = 0;     // RFC 3550 section 6.4.1
};

class UdpTally {
 public:
  // window: how many sequence numbers below the highest are remembered for
  // duplicate detection (a bitmap of window bits).
  explicit UdpTally(size_t window = size_t{1} << 20);
  void add(uint64_t seq, uint64_t send_ns, uint64_t arrival_ns, size_t bytes);
  // The sender's count from the final datagram.
  void set_sent(uint64_t datagrams) { sent_ = datagrams; }
  UdpCounts counts() const;

 private:
  bool seen(uint64_t seq) const;
  void mark(uint64_t seq);
  void advance(uint64_t seq);
  void jitter(uint64_t send_ns, uint64_t arrival_ns);

  uint64_t window_;
  std::vector<uint64_t> bits_;
  std::optional<uint64_t> highest_;
  std::optional<uint64_t> sent_;
  std::optional<int64_t> transit_;
  double jitter_ns_ = 0;
  UdpCounts c_;
};

struct UdpLossSplit {
  uint64_t dropped_in_socket = 0;
  uint64_t lost_in_network = 0;
};

// The loss split by cause: the socket's own drop count, at most the loss,
// and the rest, which never reached the socket.
UdpLossSplit split_loss(uint64_t lost, uint64_t socket_drops);
// One line naming the cause of the loss, with a receive buffer to try when
// it was the socket's; "" without loss.
std::string loss_verdict(const UdpLossSplit& split, uint64_t rcvbuf);

}  // namespace sp
