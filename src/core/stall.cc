// Stall snapshots and their explanation (see stall.h).
#include "core/stall.h"

#include <linux/sockios.h>
#include <sys/ioctl.h>

#include <fmt/format.h>

#include "core/parse.h"

namespace sp {

StallSnapshot take_stall_snapshot(int fd) {
  StallSnapshot s;
  int v = 0;
  if (ioctl(fd, SIOCOUTQ, &v) == 0) { s.have_outq = true; s.outq = static_cast<uint32_t>(v); }
  if (ioctl(fd, SIOCOUTQNSD, &v) == 0) { s.have_notsent = true; s.notsent = static_cast<uint32_t>(v); }
  if (ioctl(fd, SIOCINQ, &v) == 0) { s.have_inq = true; s.inq = static_cast<uint32_t>(v); }
  if (auto ti = get_tcp_info(fd); ti.ok()) { s.have_tcp_info = true; s.tcp_info = *ti; }
  return s;
}

std::string explain_send_stall(const StallSnapshot& s, double seconds) {
  std::string queued;
  if (s.have_outq) {
    queued = fmt::format("{} bytes queued in the kernel", s.outq);
    if (s.have_notsent) queued += fmt::format(" ({} not yet sent)", s.notsent);
  }
  std::string lead = fmt::format("no progress for {}", human_duration(seconds));
  const TcpInfo& ti = s.tcp_info;
  if (s.have_tcp_info && ti.has(&TcpInfoRaw::snd_wnd) && ti.raw.snd_wnd == 0 && s.outq > 0) {
    return fmt::format("{}: the peer is not reading (its receive window is zero); {}", lead, queued);
  }
  if (s.have_tcp_info && (ti.raw.retransmits > 0 || ti.raw.backoff > 0)) {
    return fmt::format("{}: packets are being lost ({} retransmits in a row, backoff {}, rto {}); {}", lead,
                       ti.raw.retransmits, ti.raw.backoff, human_duration(ti.raw.rto / 1e6), queued);
  }
  if (s.have_outq && s.outq > 0) {
    return fmt::format("{}: {} and not acknowledged", lead, queued);
  }
  return fmt::format("{}: the data source produced nothing (the kernel has nothing queued)", lead);
}

std::string explain_recv_stall(const StallSnapshot& s, double seconds) {
  std::string lead = fmt::format("no data for {}", human_duration(seconds));
  if (s.have_inq && s.inq > 0) {
    return fmt::format("{}: {} bytes wait unread (the output is not keeping up)", lead, s.inq);
  }
  // Over TCP a sender that sends nothing and one whose packets are all lost
  // look the same from here (tests/fault_matrix.sh blackhole-data: this
  // said "the sender is sending nothing" while the sender retransmitted
  // into the void), so say both; a Unix socket loses nothing.
  if (!s.have_tcp_info) return fmt::format("{}: the sender is sending nothing", lead);
  const TcpInfo& ti = s.tcp_info;
  std::string window =
      ti.has(&TcpInfoRaw::rcv_wnd) ? fmt::format(" (this side's receive window is open: {} bytes)", ti.raw.rcv_wnd) : "";
  return fmt::format(
      "{}: nothing arrived{}; either the sender sends nothing or its packets are lost on the way, which a "
      "receiver cannot tell apart (the sender's own stall message says which)",
      lead, window);
}

Json stall_json(const StallSnapshot& s) {
  Json j;
  j["outq"] = s.have_outq ? Json(s.outq) : Json(nullptr);
  j["notsent"] = s.have_notsent ? Json(s.notsent) : Json(nullptr);
  j["inq"] = s.have_inq ? Json(s.inq) : Json(nullptr);
  if (s.have_tcp_info) {
    const TcpInfo& ti = s.tcp_info;
    j["snd_wnd"] = ti.has(&TcpInfoRaw::snd_wnd) ? Json(ti.raw.snd_wnd) : Json(nullptr);
    j["retransmits"] = ti.raw.retransmits;
    j["backoff"] = ti.raw.backoff;
    j["probes"] = ti.raw.probes;
    j["total_retrans"] = ti.raw.total_retrans;
  }
  return j;
}

void StallClock::update(bool blocked, bool progress, WaitClock::time_point now) {
  if (progress || (blocked && !blocked_)) since_ = now;
  if (progress || !blocked) reported_ = false;
  blocked_ = blocked;
}

bool StallClock::due(WaitClock::time_point now) const {
  return watching() && blocked_ && !reported_ && now >= since_ + limit_;
}

Deadline StallClock::deadline() const {
  if (!watching() || !blocked_ || reported_) return std::nullopt;
  return since_ + limit_;
}

double StallClock::seconds(WaitClock::time_point now) const {
  return std::chrono::duration<double>(now - since_).count();
}

}  // namespace sp
