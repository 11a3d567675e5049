// The UDP header: round trips for both kinds, the exact bytes of a known
// header (the layout the man page and tests/e2e/udp_sender.py use), and
// refusal of anything that is not ours.
#include "core/udpwire.h"

#include <array>
#include <vector>

#include <doctest/doctest.h>

using namespace sp;

TEST_CASE("A data header round-trips and has the documented bytes") {
  UdpHeader h;
  h.stream = 0x0102;
  h.seq = 0x1122334455667788;
  h.send_ns = 42;
  std::array<uint8_t, kUdpDataHeader> out{};
  REQUIRE(encode_udp_header(h, out) == kUdpDataHeader);
  const std::array<uint8_t, 24> want{0x53, 0x50, 0x44, 0x47, 1, 0, 0x01, 0x02, 0x11, 0x22, 0x33, 0x44,
                                     0x55, 0x66, 0x77, 0x88, 0, 0, 0, 0, 0, 0, 0, 42};
  CHECK(out == want);
  auto back = decode_udp_header(out);
  REQUIRE(back);
  CHECK(back->kind == UdpKind::Data);
  CHECK(back->stream == 0x0102);
  CHECK(back->seq == h.seq);
  CHECK(back->send_ns == 42);
}

TEST_CASE("A final header carries the sender's totals") {
  UdpHeader h;
  h.kind = UdpKind::Final;
  h.seq = 9;
  h.datagrams_sent = 723;
  h.bytes_sent = 1048576;
  std::array<uint8_t, kUdpFinalSize> out{};
  CHECK(encode_udp_header(h, std::span<uint8_t>(out.data(), kUdpDataHeader)) == 0);
  REQUIRE(encode_udp_header(h, out) == kUdpFinalSize);
  auto back = decode_udp_header(out);
  REQUIRE(back);
  CHECK(back->kind == UdpKind::Final);
  CHECK(back->datagrams_sent == 723);
  CHECK(back->bytes_sent == 1048576);
  // Cut short, a final is not one.
  CHECK_FALSE(decode_udp_header(std::span<const uint8_t>(out.data(), kUdpFinalSize - 1)));
}

TEST_CASE("patch_udp_data rewrites only the sequence number and the time") {
  UdpHeader h;
  h.stream = 7;
  std::vector<uint8_t> d(100, 0xee);
  encode_udp_header(h, d);
  patch_udp_data(d, 5, 6);
  auto back = decode_udp_header(d);
  REQUIRE(back);
  CHECK(back->stream == 7);
  CHECK(back->seq == 5);
  CHECK(back->send_ns == 6);
  CHECK(d[24] == 0xee);
}

TEST_CASE("Anything else is not a header") {
  std::array<uint8_t, kUdpDataHeader> out{};
  encode_udp_header(UdpHeader{}, out);
  CHECK_FALSE(decode_udp_header(std::span<const uint8_t>(out.data(), 23)));
  auto bad = out;
  bad[0] = 'X';
  CHECK_FALSE(decode_udp_header(bad));
  bad = out;
  bad[4] = 2;  // a later version
  CHECK_FALSE(decode_udp_header(bad));
  bad = out;
  bad[5] = 2;  // an unknown kind
  CHECK_FALSE(decode_udp_header(bad));
  CHECK_FALSE(decode_udp_header({}));
}
