// The backlog rules as pure functions (see backlogrules.h).
#include "core/backlogrules.h"

#include <map>

#include <fmt/format.h>

#include "core/textsafe.h"

namespace sp {

double fill_pct(const SockInfo& s) { return 100.0 * s.recv_q / (static_cast<double>(s.send_q) + 1.0); }

bool clamped(const SockInfo& s, std::optional<int64_t> somaxconn) {
  return somaxconn && static_cast<int64_t>(s.send_q) == *somaxconn;
}

uint32_t drops_of(const SockInfo& s) { return s.skmem ? s.skmem->drops : 0; }

std::string listener_address(const SockInfo& s) {
  if (s.transport == Transport::Unix && s.local_address.empty()) return "(unnamed)";
  return s.local_address;
}

std::string listener_where(const SockInfo& s) {
  if (s.transport == Transport::Unix) return terminal_safe(listener_address(s));
  return fmt::format("{} port {}", s.local_address, s.local_port);
}

std::vector<std::string> accept_notes(const SockInfo& s, std::optional<int64_t> somaxconn, double threshold) {
  std::vector<std::string> notes;
  if (fill_pct(s) > threshold) notes.push_back(fill_pct(s) >= 100 ? "FULL: new SYNs are dropped" : "filling up");
  if (clamped(s, somaxconn)) notes.push_back("max = somaxconn: probably clamped");
  return notes;
}

std::vector<std::string> syn_queue_notes(const SynQueue& q, const SynLimit& lim) {
  std::vector<std::string> out;
  if (q.group_size > 1) {
    out.push_back(fmt::format("SO_REUSEPORT group of {}: SYN-RECV is the group's (the kernel does not say whose)",
                              q.group_size));
  }
  uint64_t max = static_cast<uint64_t>(lim.max) * q.group_size;
  if (lim.overflow != SynOverflow::AlwaysCookies && q.syn_recv >= max) {
    out.push_back(lim.overflow == SynOverflow::Cookies ? "SYN queue full: new SYNs get SYN cookies"
                                                       : "SYN queue full: new SYNs are dropped");
  } else if (lim.unproven_max && q.syn_recv >= *lim.unproven_max) {
    out.push_back("SYN queue past 3/4 of tcp_max_syn_backlog: SYNs from new clients are dropped");
  }
  return out;
}

std::string join_notes(const std::vector<std::string>& notes) {
  std::string out;
  for (const auto& n : notes) out += (out.empty() ? "" : "; ") + n;
  return out;
}

ListenerTally tally(const std::vector<ListenerRow>& rows, std::optional<int64_t> somaxconn, double threshold) {
  ListenerTally t;
  for (const auto& row : rows) {
    t.clamped += clamped(row.sock, somaxconn) ? 1 : 0;
    t.above += fill_pct(row.sock) > threshold ? 1 : 0;
    t.hidden += row.owner ? 0 : 1;
  }
  return t;
}

std::string backlog_sysctl_meaning(std::string_view name, std::optional<int64_t> value) {
  int64_t x = value.value_or(-1);
  if (name == "net.core.somaxconn") return "largest backlog listen() accepts; larger requests are clamped to it";
  if (name == "net.ipv4.tcp_max_syn_backlog") {
    return "with tcp_syncookies = 0: past 3/4 of this many SYN-RECV, SYNs from new clients are dropped";
  }
  if (name == "net.ipv4.tcp_syncookies") {
    if (x == 0) return "0: no SYN cookies; SYNs beyond the SYN queue are dropped";
    if (x == 2) return "2: SYN cookies for every connection";
    return "1: SYN cookies only when a SYN queue overflows";
  }
  // net.ipv4.tcp_abort_on_overflow
  if (x == 1) return "1: a full accept queue answers the final ACK with RST";
  return "0: a full accept queue drops the final ACK (the client retries)";
}

FieldRow counter_fields(const Counters& c, bool delta) {
  std::vector<std::string> names = listen_counter_names();
  names.push_back(kBacklogDropCounter);
  FieldRow f;
  for (const auto& name : names) f.counter(name, counter(c, name), delta);
  f.json("delta", delta);
  return f;
}

std::string counter_changes_text(const FieldRow& d) {
  std::string out;
  for (const Field& f : d.fields()) {
    if (f.column.empty() || f.value.is_null() || f.value == 0) continue;
    if (f.column == kBacklogDropCounter) {
      out += fmt::format("  ({} {}: per-socket receive backlog)", f.column, f.text);
    } else {
      out += fmt::format("  {} {}", f.column, f.text);
    }
  }
  return out.empty() ? "  no listen counter changed" : out;
}

std::vector<ListenerDelta> listener_deltas(const std::vector<ListenerRow>& prev, const std::vector<ListenerRow>& now) {
  std::map<uint64_t, const ListenerRow*> before;
  for (const auto& row : prev) before[row.sock.cookie] = &row;
  std::vector<ListenerDelta> out;
  for (const auto& row : now) {
    ListenerDelta d{&row, static_cast<int64_t>(row.sock.recv_q), std::nullopt, row.syn.syn_recv,
                    row.syn.synack_retrans};
    auto it = before.find(row.sock.cookie);
    if (it != before.end()) {
      const ListenerRow& was = *it->second;
      d.queue_delta = static_cast<int64_t>(row.sock.recv_q) - was.sock.recv_q;
      d.drops_delta = static_cast<int64_t>(drops_of(row.sock)) - drops_of(was.sock);
      d.syn_delta = static_cast<int64_t>(row.syn.syn_recv) - was.syn.syn_recv;
      d.retrans_delta = static_cast<int64_t>(row.syn.synack_retrans) - was.syn.synack_retrans;
    }
    out.push_back(d);
  }
  return out;
}

bool moved(const ListenerDelta& d) {
  return d.queue_delta != 0 || d.drops_delta.value_or(1) != 0 || d.now->sock.recv_q > 0 || d.syn_delta != 0 ||
         d.now->syn.syn_recv > 0;
}

std::vector<std::string> fill_failures(const std::vector<ListenerRow>& rows, const BacklogCheck& c) {
  std::vector<std::string> out;
  if (rows.empty()) {
    std::string sel = c.port ? fmt::format("--port {}", *c.port) : "";
    if (c.pid) sel += fmt::format("{}--pid {}", sel.empty() ? "" : " ", *c.pid);
    out.push_back(sel.empty() ? "no listener to check" : fmt::format("no listener matches {}", sel));
    return out;
  }
  for (const auto& row : rows) {
    if (fill_pct(row.sock) <= c.fail_above) continue;
    out.push_back(fmt::format("{} accept queue {}/{} is {:.0f}% full (above {:.0f}%)", listener_where(row.sock),
                              row.sock.recv_q, row.sock.send_q, fill_pct(row.sock), c.fail_above));
  }
  return out;
}

std::vector<std::string> drop_failures(const std::vector<ListenerDelta>& ds) {
  std::vector<std::string> out;
  for (const auto& x : ds) {
    if (x.drops_delta.value_or(0) <= 0) continue;
    out.push_back(fmt::format("{}: {} drops this interval", listener_where(x.now->sock), *x.drops_delta));
  }
  return out;
}

std::vector<std::string> overflow_failures(const BacklogCheck& c, const Counters& d,
                                           const std::vector<ListenerDelta>& ds) {
  std::vector<std::string> out;
  if (c.fail_on_drops || c.port || c.pid) out = drop_failures(ds);
  if (!c.fail_on_overflow || c.port || c.pid) return out;
  for (const char* name : {"ListenOverflows", "ListenDrops"}) {
    auto v = counter(d, name);
    if (v && *v > 0) out.push_back(fmt::format("{} grew by {}", name, *v));
  }
  return out;
}

std::string check_passed_text(const BacklogCheck& c) {
  return fmt::format("Check passed: no selected listener above {:.0f}% full{}.", c.fail_above,
                     c.fail_on_overflow ? " and no overflow"
                     : c.fail_on_drops  ? " and no drops"
                                        : "");
}

std::string check_failed_text(const std::vector<std::string>& failures) {
  std::string more = failures.size() > 1 ? fmt::format(" (and {} more)", failures.size() - 1) : "";
  return fmt::format("check failed: {}{}", failures.front(), more);
}

}  // namespace sp
