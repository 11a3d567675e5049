// The UDP measurement header (see udpwire.h).
#include "core/udpwire.h"

namespace sp {
namespace {

void put(std::span<uint8_t> out, size_t at, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) {
    out[at + static_cast<size_t>(i)] = static_cast<uint8_t>(v & 0xff);
    v >>= 8;
  }
}

uint64_t get(std::span<const uint8_t> in, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | in[at + static_cast<size_t>(i)];
  return v;
}

}  // namespace

size_t encode_udp_header(const UdpHeader& h, std::span<uint8_t> out) {
  size_t size = h.kind == UdpKind::Final ? kUdpFinalSize : kUdpDataHeader;
  if (out.size() < size) return 0;
  put(out, 0, kUdpMagic, 4);
  put(out, 4, kUdpVersion, 1);
  put(out, 5, static_cast<uint8_t>(h.kind), 1);
  put(out, 6, h.stream, 2);
  put(out, 8, h.seq, 8);
  put(out, 16, h.send_ns, 8);
  if (h.kind == UdpKind::Final) {
    put(out, 24, h.datagrams_sent, 8);
    put(out, 32, h.bytes_sent, 8);
  }
  return size;
}

std::optional<UdpHeader> decode_udp_header(std::span<const uint8_t> in) {
  if (in.size() < kUdpDataHeader || get(in, 0, 4) != kUdpMagic || get(in, 4, 1) != kUdpVersion) return std::nullopt;
  uint64_t kind = get(in, 5, 1);
  if (kind > static_cast<uint8_t>(UdpKind::Final)) return std::nullopt;
  UdpHeader h;
  h.kind = static_cast<UdpKind>(kind);
  h.stream = static_cast<uint16_t>(get(in, 6, 2));
  h.seq = get(in, 8, 8);
  h.send_ns = get(in, 16, 8);
  if (h.kind == UdpKind::Final) {
    if (in.size() < kUdpFinalSize) return std::nullopt;
    h.datagrams_sent = get(in, 24, 8);
    h.bytes_sent = get(in, 32, 8);
  }
  return h;
}

void patch_udp_data(std::span<uint8_t> datagram, uint64_t seq, uint64_t send_ns) {
  if (datagram.size() < kUdpDataHeader) return;
  put(datagram, 8, seq, 8);
  put(datagram, 16, send_ns, 8);
}

}  // namespace sp
