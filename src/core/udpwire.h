// The UDP measurement format shared by send -u and recv -u (man page, "UDP
// MEASUREMENT"): every data datagram starts with a 24-byte header carrying
// a sequence number and the send time; the final datagram adds the sender's
// totals, so the receiver can tell loss at the tail from a sender that
// stopped. Pure encode/decode, fuzzed (fuzz/udpwire.cc); the format is also
// written by tests/e2e/udp_sender.py as a foreign sender.
//
// Layout, big-endian like iperf3's UDP header:
//   0 magic u32 "SPDG" | 4 version u8 | 5 kind u8 | 6 stream u16
//   8 seq u64 | 16 send_ns u64 (CLOCK_REALTIME, so two hosts compare)
//   final only: 24 datagrams_sent u64 | 32 bytes_sent u64
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include <time.h>

namespace sp {

inline constexpr uint32_t kUdpMagic = 0x53504447;  // "SPDG"
inline constexpr uint8_t kUdpVersion = 1;
inline constexpr size_t kUdpDataHeader = 24;
inline constexpr size_t kUdpFinalSize = 40;

enum class UdpKind : uint8_t { Data = 0, Final = 1 };

struct UdpHeader {
  UdpKind kind = UdpKind::Data;
  uint16_t stream = 0;
  uint64_t seq = 0;
  uint64_t send_ns = 0;
  uint64_t datagrams_sent = 0;  // final only
  uint64_t bytes_sent = 0;      // final only
};

// The clock of send_ns and of the arrival times it is compared with.
inline uint64_t udp_clock_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

// Writes the header (24 bytes, 40 for a final) at the start of out; returns
// the bytes written, 0 when out is too small.
size_t encode_udp_header(const UdpHeader& h, std::span<uint8_t> out);
// The header at the start of a datagram, or nullopt when it is not one of
// ours: wrong magic or version, unknown kind, or too short for its kind.
std::optional<UdpHeader> decode_udp_header(std::span<const uint8_t> in);
// Rewrites seq and send_ns of an encoded data header in place (the sender's
// per-datagram step: the rest of the header never changes).
void patch_udp_data(std::span<uint8_t> datagram, uint64_t seq, uint64_t send_ns);

}  // namespace sp
