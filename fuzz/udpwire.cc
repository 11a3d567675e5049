// Why: recv -u decodes every datagram that reaches its port, from anyone,
// and feeds the sequence numbers to the tally. Input: the first bytes are a
// datagram header to decode (re-encoded, it must give the same bytes); the
// rest, 8 bytes at a time, are sequence numbers for a UdpTally with a small
// window, whose counts must add up whatever the order.
#include <array>
#include <cstring>

#include "core/udpstats.h"
#include "core/udpwire.h"
#include "fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sp::fuzz::Bytes in(data, size);
  std::string_view head = in.take(sp::kUdpFinalSize);
  auto h = sp::decode_udp_header({reinterpret_cast<const uint8_t*>(head.data()), head.size()});
  if (h) {
    std::array<uint8_t, sp::kUdpFinalSize> out{};
    size_t n = sp::encode_udp_header(*h, out);
    FUZZ_CHECK(n > 0 && n <= head.size());
    FUZZ_CHECK(std::memcmp(out.data(), head.data(), n) == 0);
  }
  sp::UdpTally tally(128);
  uint64_t adds = 0;
  while (in.left() > 0) {
    uint64_t seq = 0;
    std::string_view b = in.take(8);
    std::memcpy(&seq, b.data(), b.size());
    if (seq & 1) seq %= 512;  // keep half the values close, so windows overlap
    tally.add(seq, seq * 1000, seq * 1000 + (seq % 7) * 1000000, 100);
    ++adds;
  }
  sp::UdpCounts c = tally.counts();
  FUZZ_CHECK(c.datagrams + c.duplicates + c.late == adds);
  FUZZ_CHECK(c.bytes == c.datagrams * 100);
  FUZZ_CHECK(c.reordered <= c.datagrams);
  FUZZ_CHECK(c.lost == (c.expected > c.datagrams ? c.expected - c.datagrams : 0));
  FUZZ_CHECK(c.jitter_ms >= 0);
  sp::UdpLossSplit split = sp::split_loss(c.lost, c.duplicates);
  FUZZ_CHECK(split.dropped_in_socket + split.lost_in_network == c.lost);
  return 0;
}
