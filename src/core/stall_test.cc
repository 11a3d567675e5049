// Stall explanations from kernel numbers: zero window, retransmits, idle
// source, receive stalls, and no zero-window claim without tcpi_snd_wnd.
#include "core/stall.h"

#include <cstddef>

#include <doctest/doctest.h>

using namespace sp;

namespace {
StallSnapshot snapshot(uint32_t outq, uint32_t notsent, uint32_t snd_wnd, uint8_t retransmits, size_t len) {
  StallSnapshot s;
  s.have_outq = s.have_notsent = s.have_tcp_info = true;
  s.outq = outq;
  s.notsent = notsent;
  s.tcp_info.raw.snd_wnd = snd_wnd;
  s.tcp_info.raw.retransmits = retransmits;
  s.tcp_info.length = len;
  return s;
}
}  // namespace

TEST_CASE("a zero window means the peer is not reading") {
  auto msg = explain_send_stall(snapshot(2500000, 2400000, 0, 0, sizeof(TcpInfoRaw)), 10);
  CHECK(msg.find("peer is not reading") != std::string::npos);
  CHECK(msg.find("2500000 bytes queued") != std::string::npos);
  CHECK(msg.find("2400000 not yet sent") != std::string::npos);
}

TEST_CASE("retransmits mean loss") {
  auto msg = explain_send_stall(snapshot(1000, 0, 65535, 3, sizeof(TcpInfoRaw)), 10);
  CHECK(msg.find("packets are being lost") != std::string::npos);
}

TEST_CASE("an old kernel without tcpi_snd_wnd does not claim a zero window") {
  // Length ends before snd_wnd: the field is not trusted.
  auto msg = explain_send_stall(snapshot(1000, 1000, 0, 0, offsetof(TcpInfoRaw, snd_wnd)), 10);
  CHECK(msg.find("peer is not reading") == std::string::npos);
  CHECK(msg.find("not acknowledged") != std::string::npos);
}

TEST_CASE("nothing queued means the source is idle") {
  auto msg = explain_send_stall(snapshot(0, 0, 65535, 0, sizeof(TcpInfoRaw)), 10);
  CHECK(msg.find("data source produced nothing") != std::string::npos);
}

TEST_CASE("receive stall explanations") {
  StallSnapshot s;
  s.have_inq = true;
  s.inq = 0;
  CHECK(explain_recv_stall(s, 5).find("sender is sending nothing") != std::string::npos);  // Unix: no TCP_INFO
  s.inq = 100;
  CHECK(explain_recv_stall(s, 5).find("100 bytes wait unread") != std::string::npos);
}

TEST_CASE("a TCP receive stall does not blame the sender: its packets may be lost") {
  StallSnapshot s = snapshot(0, 0, 65535, 0, sizeof(TcpInfoRaw));
  s.have_inq = true;
  s.tcp_info.raw.rcv_wnd = 131072;
  auto msg = explain_recv_stall(s, 5);
  CHECK(msg.find("sender is sending nothing") == std::string::npos);
  CHECK(msg.find("nothing arrived (this side's receive window is open: 131072 bytes)") != std::string::npos);
  CHECK(msg.find("packets are lost on the way") != std::string::npos);
  s.tcp_info.length = offsetof(TcpInfoRaw, snd_wnd);  // an old kernel: no window claimed
  CHECK(explain_recv_stall(s, 5).find("window") == std::string::npos);
}
