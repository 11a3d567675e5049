// When a transfer stops making progress, say why from the kernel's own
// numbers instead of hanging: bytes still queued (SIOCOUTQ), not yet sent
// (SIOCOUTQNSD), unread (SIOCINQ), the peer's advertised window
// (tcpi_snd_wnd == 0: the peer is not reading) and retransmits/backoff
// (packets are being lost). Snapshot taking touches the socket; explaining
// is pure, so unit tests feed it made-up snapshots.
#pragma once

#include <cstdint>
#include <string>

#include "core/parse.h"
#include "core/report.h"
#include "core/tcpinfo.h"
#include "core/wait.h"

namespace sp {

struct StallSnapshot {
  bool have_outq = false;
  uint32_t outq = 0;      // unsent + unacknowledged
  bool have_notsent = false;
  uint32_t notsent = 0;   // not yet sent
  bool have_inq = false;
  uint32_t inq = 0;       // received, not read by us
  bool have_tcp_info = false;
  TcpInfo tcp_info;
};

StallSnapshot take_stall_snapshot(int fd);

// One sentence: why a sender made no progress for `seconds`.
std::string explain_send_stall(const StallSnapshot& s, double seconds);
// One sentence: why a receiver got nothing for `seconds`.
std::string explain_recv_stall(const StallSnapshot& s, double seconds);
// The numbers behind the sentence, for the JSON "stall" event.
Json stall_json(const StallSnapshot& s);

// The one stall clock (relay, send, recv, the wait for acknowledgement):
// bytes wait (`blocked`) and none moved for `limit` is a stall, reported
// once per stall. The clock restarts on progress and when bytes start to
// wait, so an idle stretch before them (a paced sender, an idle stdin) never
// counts. limit 0: never due.
class StallClock {
 public:
  explicit StallClock(Duration limit, WaitClock::time_point now = WaitClock::now()) : limit_(limit), since_(now) {}
  // After every round: whether bytes wait now, and whether any moved.
  void update(bool blocked, bool progress, WaitClock::time_point now);
  bool due(WaitClock::time_point now) const;
  // When due() turns true; none while off, not blocked or reported.
  Deadline deadline() const;
  double seconds(WaitClock::time_point now) const;
  void mark_reported() { reported_ = true; }
  bool watching() const { return limit_.count() > 0; }

 private:
  Duration limit_;
  WaitClock::time_point since_;
  bool blocked_ = false;
  bool reported_ = false;
};

}  // namespace sp
