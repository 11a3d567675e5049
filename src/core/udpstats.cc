// The recv -u tally (see udpstats.h).
#include "core/udpstats.h"

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

namespace sp {
namespace {

// A size as -I takes it: 512K, 4M.
std::string short_size(uint64_t bytes) {
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) return fmt::format("{}M", bytes >> 20);
  if (bytes >= 1024 && bytes % 1024 == 0) return fmt::format("{}K", bytes >> 10);
  return fmt::format("{}", bytes);
}

uint64_t next_power_of_two(uint64_t v) {
  uint64_t p = 1;
  while (p < v && p < (uint64_t{1} << 62)) p <<= 1;
  return p;
}

}  // namespace

UdpTally::UdpTally(size_t window)
    : window_(std::max<uint64_t>(64, (window + 63) / 64 * 64)), bits_(window_ / 64, 0) {}

bool UdpTally::seen(uint64_t seq) const {
  uint64_t slot = seq % window_;
  return (bits_[slot / 64] >> (slot % 64)) & 1;
}

void UdpTally::mark(uint64_t seq) {
  uint64_t slot = seq % window_;
  bits_[slot / 64] |= uint64_t{1} << (slot % 64);
}

// Forgets the slots that seq..highest+1 reuse: a jump of a window or more
// clears the whole bitmap, so a wild sequence number costs O(window) once.
void UdpTally::advance(uint64_t seq) {
  if (seq - *highest_ >= window_) {
    std::fill(bits_.begin(), bits_.end(), 0);
  } else {
    for (uint64_t s = *highest_ + 1, n = seq - *highest_; n > 0; ++s, --n) {
      uint64_t slot = s % window_;
      bits_[slot / 64] &= ~(uint64_t{1} << (slot % 64));
    }
  }
  highest_ = seq;
}

// RFC 3550 6.4.1: J += (|D(i-1,i)| - J) / 16, D the change in transit time.
void UdpTally::jitter(uint64_t send_ns, uint64_t arrival_ns) {
  auto transit = static_cast<int64_t>(arrival_ns - send_ns);
  if (transit_) {
    double d = std::abs(static_cast<double>(transit) - static_cast<double>(*transit_));
    jitter_ns_ += (d - jitter_ns_) / 16;
  }
  transit_ = transit;
}

void UdpTally::add(uint64_t seq, uint64_t send_ns, uint64_t arrival_ns, size_t bytes) {
  if (!highest_) {
    highest_ = seq;
  } else if (seq > *highest_) {
    advance(seq);
  } else if (*highest_ - seq >= window_) {
    ++c_.late;
    return;
  } else if (seen(seq)) {
    ++c_.duplicates;
    return;
  } else {
    ++c_.reordered;
  }
  mark(seq);
  ++c_.datagrams;
  c_.bytes += bytes;
  jitter(send_ns, arrival_ns);
}

UdpCounts UdpTally::counts() const {
  UdpCounts c = c_;
  if (sent_) {
    c.expected = *sent_;
  } else if (highest_) {
    c.expected = *highest_ == UINT64_MAX ? UINT64_MAX : *highest_ + 1;
  }
  c.lost = c.expected > c.datagrams ? c.expected - c.datagrams : 0;
  c.jitter_ms = jitter_ns_ / 1e6;
  return c;
}

UdpLossSplit split_loss(uint64_t lost, uint64_t socket_drops) {
  uint64_t dropped = std::min(lost, socket_drops);
  return {dropped, lost - dropped};
}

std::string loss_verdict(const UdpLossSplit& split, uint64_t rcvbuf) {
  uint64_t lost = split.dropped_in_socket + split.lost_in_network;
  if (lost == 0) return "";
  if (split.dropped_in_socket == 0) return "all of the loss was in the network (the receive buffer dropped nothing)";
  std::string share = split.lost_in_network == 0
                          ? "all"
                          : fmt::format("{}%", std::max<uint64_t>(1, split.dropped_in_socket * 100 / lost));
  return fmt::format("{} of the loss was your receive buffer (SO_RCVBUF {}): try -I {}", share, short_size(rcvbuf),
                     short_size(next_power_of_two(std::max<uint64_t>(rcvbuf, 1024) * 4)));
}

}  // namespace sp
