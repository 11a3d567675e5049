// The SYN queue in `backlog`'s table, notes and JSON (see backlog_view.h):
// each listener's request sockets and SYN-ACK retransmits beside its accept
// queue, the limit that applies (core/synqueue.h: backlog + 1, and with
// tcp_syncookies 0 the last quarter of tcp_max_syn_backlog) and what
// happens past it.
#include <fmt/format.h>

#include "app/backlog_view.h"

namespace sp::app {
namespace {

bool is_unix(const ListenerRow& row) { return row.sock.transport == Transport::Unix; }

int syncookies_of(const Snapshot& s) { return static_cast<int>(sysctl_of(s, "net.ipv4.tcp_syncookies").value_or(1)); }

}  // namespace

SynLimit syn_limit_of(const ListenerRow& row, const Snapshot& s) {
  return syn_limit(row.sock.send_q, syncookies_of(s), sysctl_of(s, "net.ipv4.tcp_max_syn_backlog").value_or(0));
}

std::vector<std::string> syn_notes(const ListenerRow& row, const Snapshot& s) {
  if (is_unix(row) || !s.syn_known) return {};
  return syn_queue_notes(row.syn, syn_limit_of(row, s));
}

void add_syn_fields(FieldRow& f, const ListenerRow& row, const Snapshot& s) {
  if (is_unix(row)) {
    f.add("syn_recv", "SYN-RECV", nullptr, "-").add("synack_retrans", "RETRANS", nullptr, "-");
  } else if (!s.syn_known) {
    f.add("syn_recv", "SYN-RECV", nullptr, "?").add("synack_retrans", "RETRANS", nullptr, "?");
  }
  if (is_unix(row) || !s.syn_known) {
    for (const char* k : {"syn_max", "syn_overflow", "reuseport_group"}) f.json(k, nullptr);
    return;
  }
  SynLimit lim = syn_limit_of(row, s);
  f.add("syn_recv", "SYN-RECV", row.syn.syn_recv, std::to_string(row.syn.syn_recv));
  f.add("synack_retrans", "RETRANS", row.syn.synack_retrans, std::to_string(row.syn.synack_retrans));
  f.json("syn_max", lim.max);
  f.json("syn_overflow", syn_overflow_name(lim.overflow));
  f.json("reuseport_group", row.syn.group_size);
}

std::string syn_summary(const Snapshot& s) {
  std::string out =
      "SYN-RECV = handshakes waiting for the client's final ACK (request sockets); RETRANS = SYN-ACKs resent to "
      "them.\n";
  int cookies = syncookies_of(s);
  if (cookies == 2) return out + "tcp_syncookies = 2: every SYN is answered with a cookie, so no SYN queue is kept.\n";
  out += "A listener keeps MAX + 1 of them; past that ";
  if (cookies == 1) return out + "SYNs are answered with SYN cookies (TCPReqQFullDoCookies).\n";
  auto mb = sysctl_of(s, "net.ipv4.tcp_max_syn_backlog").value_or(0);
  return out + fmt::format("SYNs are dropped (tcp_syncookies = 0: TCPReqQFullDrop), and past {} (3/4 of "
                           "tcp_max_syn_backlog) so are SYNs from clients not seen before.\n",
                           mb - (mb >> 2) + 1);
}

}  // namespace sp::app
