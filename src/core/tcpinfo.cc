// getsockopt(TCP_INFO) into our own struct layout (see tcpinfo.h).
#include "core/tcpinfo.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <fmt/format.h>

#include "core/parse.h"

namespace sp {

Result<TcpInfo> get_tcp_info(int fd) {
  TcpInfo info;
  socklen_t len = sizeof info.raw;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info.raw, &len) != 0) {
    return system_error(fmt::format("getsockopt TCP_INFO: {}", errno_text(errno)));
  }
  info.length = len;
  return info;
}

Json tcp_info_json(const TcpInfo& info) {
  const TcpInfoRaw& r = info.raw;
  Json j;
  j["rtt"] = r.rtt / 1e6;
  j["rttvar"] = r.rttvar / 1e6;
  if (info.has(&TcpInfoRaw::min_rtt)) j["min_rtt"] = r.min_rtt / 1e6;
  j["retransmits"] = r.retransmits;
  j["total_retrans"] = r.total_retrans;
  j["snd_cwnd"] = r.snd_cwnd;
  j["snd_mss"] = r.snd_mss;
  if (info.has(&TcpInfoRaw::delivery_rate)) j["delivery_rate"] = r.delivery_rate;
  if (info.has(&TcpInfoRaw::bytes_acked)) j["bytes_acked"] = r.bytes_acked;
  if (info.has(&TcpInfoRaw::bytes_received)) j["bytes_received"] = r.bytes_received;
  if (info.has(&TcpInfoRaw::snd_wnd)) j["snd_wnd"] = r.snd_wnd;
  if (info.has(&TcpInfoRaw::rcv_wnd)) j["rcv_wnd"] = r.rcv_wnd;
  return j;
}

std::string tcp_info_summary(const TcpInfo& info) {
  const TcpInfoRaw& r = info.raw;
  std::string s = fmt::format("rtt {} (rttvar {}), retrans {}, cwnd {}", human_duration(r.rtt / 1e6),
                              human_duration(r.rttvar / 1e6), r.total_retrans, r.snd_cwnd);
  if (info.has(&TcpInfoRaw::delivery_rate) && r.delivery_rate > 0) {
    s += fmt::format(", delivery {}", human_bits_per_second(static_cast<double>(r.delivery_rate)));
  }
  return s;
}

}  // namespace sp
