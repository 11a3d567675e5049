// send -u --size: the payload to generate so that datagrams of --length
// bytes, headers included, add up to the size (a last datagram needs more
// than a header).
#include "core/udptransfer.h"

#include <doctest/doctest.h>

#include "core/udpwire.h"

using sp::udp_body_bytes;

TEST_CASE("udp_body_bytes: whole datagrams, a shorter last one, no header-only remainder") {
  CHECK(udp_body_bytes(1452 * 10, 1452) == 1428 * 10);
  CHECK(udp_body_bytes(1048576, 1452) == 722 * 1428 + (1048576 - 722 * 1452 - 24));
  CHECK(udp_body_bytes(1452 + 25, 1452) == 1428 + 1);  // a last datagram of 25 bytes
  CHECK(udp_body_bytes(1452 + 24, 1452) == 1428);      // 24 more: only a header, not sent
  CHECK(udp_body_bytes(1453, 1452) == 1428);
  CHECK(udp_body_bytes(10, 1452) == 0);
  CHECK(udp_body_bytes(0, 40) == 0);
}
