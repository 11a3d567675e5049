// The packets of `backlog test --syn-queue`: the SYN sockprobe writes into
// its TUN device (header fields and both checksums) and the SYN-ACKs it
// reads back (anything else is ignored). The experiment itself runs in
// syn_queue.bats (root, private namespace).
#include "core/syn_experiment.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <doctest/doctest.h>

using namespace sp;

namespace {

uint32_t addr(const char* a) {
  uint32_t v = 0;
  REQUIRE(inet_pton(AF_INET, a, &v) == 1);
  return v;
}

uint16_t fold_ok(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

}  // namespace

TEST_CASE("a SYN: IPv4 header, ports, flags, MSS option, valid checksums") {
  auto p = build_syn(addr("192.0.2.2"), 40001, addr("192.0.2.1"), 8080, 0x01020304);
  REQUIRE(p.size() == 44);
  CHECK(p[0] == 0x45);
  CHECK(p[9] == IPPROTO_TCP);
  CHECK(((p[2] << 8) | p[3]) == 44);
  CHECK(fold_ok(ones_sum(p.data(), 20)) == 0xffff);  // header checksum verifies
  const uint8_t* tcp = p.data() + 20;
  CHECK(((tcp[0] << 8) | tcp[1]) == 40001);
  CHECK(((tcp[2] << 8) | tcp[3]) == 8080);
  CHECK(tcp[4] == 1);
  CHECK(tcp[7] == 4);
  CHECK(tcp[13] == 0x02);
  CHECK((tcp[12] >> 4) == 6);
  CHECK(tcp[20] == 2);
  CHECK(((tcp[22] << 8) | tcp[23]) == 1460);
  uint32_t pseudo = ones_sum(p.data() + 12, 8) + IPPROTO_TCP + 24;
  CHECK(fold_ok(ones_sum(tcp, 24, pseudo)) == 0xffff);  // TCP checksum verifies
}

TEST_CASE("SYN-ACKs from the listener are recognised, everything else is not") {
  auto p = build_syn(addr("192.0.2.1"), 8080, addr("192.0.2.2"), 40007, 1);
  p[20 + 13] = 0x12;  // SYN|ACK
  CHECK(synack_client_port(p.data(), p.size(), 8080) == 40007);
  CHECK(!synack_client_port(p.data(), p.size(), 8081));  // another listener
  CHECK(!synack_client_port(p.data(), 30, 8080));         // truncated
  auto syn = build_syn(addr("192.0.2.1"), 8080, addr("192.0.2.2"), 40007, 1);
  CHECK(!synack_client_port(syn.data(), syn.size(), 8080));  // a bare SYN
  auto rst = p;
  rst[20 + 13] = 0x14;  // RST|ACK
  CHECK(!synack_client_port(rst.data(), rst.size(), 8080));
  auto v6 = p;
  v6[0] = 0x60;
  CHECK(!synack_client_port(v6.data(), v6.size(), 8080));
  auto udp = p;
  udp[9] = IPPROTO_UDP;
  CHECK(!synack_client_port(udp.data(), udp.size(), 8080));
}
