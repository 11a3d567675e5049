// TCP_INFO with the kernel's current layout. Debian 12's <netinet/tcp.h>
// stops before tcpi_snd_wnd and friends, so the struct is carried here, and
// `length` records how much of it the running kernel filled in: a field is
// valid only when has() says so. On a LISTEN socket the kernel aliases
// tcpi_unacked = accept-queue length and tcpi_sacked = its maximum.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/report.h"
#include "core/result.h"

namespace sp {

struct TcpInfoRaw {
  uint8_t state, ca_state, retransmits, probes, backoff, options;
  uint8_t wscale;  // snd_wscale : 4, rcv_wscale : 4
  uint8_t app_limited_bits;
  uint32_t rto, ato, snd_mss, rcv_mss;
  uint32_t unacked, sacked, lost, retrans, fackets;
  uint32_t last_data_sent, last_ack_sent, last_data_recv, last_ack_recv;
  uint32_t pmtu, rcv_ssthresh, rtt, rttvar, snd_ssthresh, snd_cwnd, advmss, reordering;
  uint32_t rcv_rtt, rcv_space;
  uint32_t total_retrans;
  uint64_t pacing_rate, max_pacing_rate, bytes_acked, bytes_received;
  uint32_t segs_out, segs_in;
  uint32_t notsent_bytes, min_rtt, data_segs_in, data_segs_out;
  uint64_t delivery_rate;
  uint64_t busy_time, rwnd_limited, sndbuf_limited;
  uint32_t delivered, delivered_ce;
  uint64_t bytes_sent, bytes_retrans;
  uint32_t dsack_dups, reord_seen;
  uint32_t rcv_ooopack;
  uint32_t snd_wnd, rcv_wnd;
  uint32_t rehash;
  uint16_t total_rto, total_rto_recoveries;
  uint32_t total_rto_time;
};

struct TcpInfo {
  TcpInfoRaw raw = {};
  size_t length = 0;  // bytes the kernel filled in

  template <class F>
  bool has(F TcpInfoRaw::*field) const {
    // offset of the member + its size must fit in what the kernel returned.
    const TcpInfoRaw probe{};
    auto offset = reinterpret_cast<const char*>(&(probe.*field)) - reinterpret_cast<const char*>(&probe);
    return static_cast<size_t>(offset) + sizeof(F) <= length;
  }
};

Result<TcpInfo> get_tcp_info(int fd);

// TCP_INFO as report fields: rtt/rttvar/min_rtt in seconds, retransmits,
// cwnd, delivery rate in bytes/s, bytes acked/received, and snd_wnd /
// rcv_wnd when the kernel provides them.
Json tcp_info_json(const TcpInfo& info);
// One human line: "rtt 50us (rttvar 20us), retrans 0, cwnd 10, delivery 1.2 Gbit/s".
std::string tcp_info_summary(const TcpInfo& info);

}  // namespace sp
