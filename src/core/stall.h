// When a transfer stops making progress, say why from the kernel's own
// numbers instead of hanging: bytes still queued (SIOCOUTQ), not yet sent
// (SIOCOUTQNSD), unread (SIOCINQ), the peer's advertised window
// (tcpi_snd_wnd == 0: the peer is not reading) and retransmits/backoff
// (packets are being lost). Snapshot taking touches the socket; explaining
// is pure, so unit tests feed it made-up snapshots.
#pragma once

#include <cstdint>
#include <string>

#include "core/report.h"
#include "core/tcpinfo.h"

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

}  // namespace sp
