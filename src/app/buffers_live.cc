// Live sockets' buffers (see buffers_live.h): one NETLINK_SOCK_DIAG dump per
// protocol (core/sockdiag.h), filtered by port or owning process
// (core/owners.h), each socket's skmem as `ss -m` names it, the UDP buffer
// error counters, and with --watch the changes per interval.
#include "app/buffers_live.h"

#include <sys/stat.h>

#include <chrono>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

#include "app/backlog_table.h"
#include "core/bufrules.h"
#include "core/fields.h"
#include "core/owners.h"
#include "core/procfs.h"
#include "core/signals.h"
#include "core/wait.h"
#include "core/sockdiag.h"
#include "core/sockname.h"
#include "core/textsafe.h"

namespace sp::app {
namespace {

using Clock = std::chrono::steady_clock;

struct LiveRow {
  SockInfo sock;
  std::optional<SocketOwner> owner;
};

struct LiveSnapshot {
  std::vector<LiveRow> rows;
  std::vector<NamedCounter> udp;
  Clock::time_point at;
};

// ---- collecting ------------------------------------------------------------

Status append_dump(DumpRequest req, std::vector<SockInfo>* out) {
  auto socks = dump_sockets(req);
  if (!socks.ok()) return socks.take_error();
  for (auto& s : *socks) out->push_back(std::move(s));
  return {};
}

// TCP and UDP always; Unix sockets have no port, so only for --pid/--all.
Result<std::vector<SockInfo>> dump_all(const LiveOptions& o) {
  std::vector<SockInfo> out;
  for (Transport t : {Transport::Tcp, Transport::Udp}) {
    DumpRequest req;
    req.transport = t;
    req.family = o.family;
    if (auto s = append_dump(req, &out); !s) return s.error();
  }
  if (!o.port && o.family == AF_UNSPEC) {
    DumpRequest req;
    req.transport = Transport::Unix;
    if (auto s = append_dump(req, &out); !s) return s.error();
  }
  return out;
}

bool selected(const SockInfo& s, const LiveOptions& o, const OwnerScan& owners) {
  if (o.port && s.local_port != *o.port && s.remote_port != *o.port) return false;
  if (o.pid && !owners.by_inode.count(s.inode)) return false;
  return true;
}

Result<LiveSnapshot> take_snapshot(const LiveOptions& o) {
  ProcFs proc;
  auto socks = dump_all(o);
  if (!socks.ok()) return socks.take_error();
  OwnerScan owners = scan_socket_owners(proc, o.pid);
  LiveSnapshot snap;
  snap.at = Clock::now();
  for (auto& s : *socks) {
    if (!selected(s, o, owners)) continue;
    const SocketOwner* owner = first_owner(owners, s.inode);
    snap.rows.push_back({std::move(s), owner ? std::optional<SocketOwner>(*owner) : std::nullopt});
  }
  snap.udp = read_udp_counters(proc);
  return snap;
}

Status check_pid(const LiveOptions& o) {
  if (!o.pid) return {};
  struct stat st;
  if (::stat(fmt::format("/proc/{}", *o.pid).c_str(), &st) != 0) {
    return system_error(fmt::format("--pid {}: no such process", *o.pid));
  }
  return {};
}

// ---- reporting ---------------------------------------------------------------

// skmem as `ss -m` names it; the table shows rb, tb, r, w and d.
FieldRow skmem_fields(const SkMem& m) {
  FieldRow f;
  f.add("r", "r", m.rmem_alloc, std::to_string(m.rmem_alloc)).add("rb", "rb", m.rcvbuf, sized(m.rcvbuf));
  f.json("t", m.wmem_alloc).add("tb", "tb", m.sndbuf, sized(m.sndbuf)).json("f", m.fwd_alloc);
  f.add("w", "w", m.wmem_queued, std::to_string(m.wmem_queued)).json("o", m.optmem).json("bl", m.backlog);
  f.add("d", "d", m.drops, std::to_string(m.drops));
  return f;
}

// One socket, each field once: the "socket" event (JSON EVENTS) and a row
// of the table; the notes are listed under it.
FieldRow socket_fields(const LiveRow& row, const std::vector<std::string>& notes) {
  const SockInfo& s = row.sock;
  FieldRow f;
  f.add("socket", "Socket", kind_name(kind_of(s)), kind_name(kind_of(s)));
  f.add("state", "State", state_name(s.state), state_name(s.state));
  f.add("local", "Local", sock_endpoint_json(s, true), sock_endpoint_cell(s, true));
  f.add("peer", "Peer", sock_endpoint_json(s, false), sock_endpoint_cell(s, false));
  if (s.transport == Transport::Unix) f.json("peer_inode", s.peer_inode ? Json(*s.peer_inode) : Json(nullptr));
  f.json("inode", s.inode);
  f.add("recv_q", "Recv-Q", s.queues_known ? Json(s.recv_q) : Json(nullptr),
        s.queues_known ? std::to_string(s.recv_q) : "?");
  f.add("send_q", "Send-Q", s.queues_known ? Json(s.send_q) : Json(nullptr),
        s.queues_known ? std::to_string(s.send_q) : "?");
  // TIME-WAIT/SYN-RECV mini-sockets have no buffers ("-"); otherwise the kernel sent none ("?").
  bool mini = s.state == kStateTimeWait || s.state == kStateNewSynRecv;
  f.nest("skmem", skmem_fields(s.skmem.value_or(SkMem{})), s.skmem.has_value(), mini ? "-" : "?");
  f.json("pid", row.owner ? Json(row.owner->pid) : Json(nullptr));
  f.json("command", row.owner ? Json(row.owner->command) : Json(nullptr));
  f.cell("Process", row.owner ? fmt::format("{}/{}", row.owner->pid, terminal_safe(row.owner->command)) : "");
  f.json("notes", notes);
  return f;
}

// "d+" (the drops of a --watch round) has no header in a single report.
const std::vector<Column>& socket_columns() {
  static const std::vector<Column> c = {
      {"Socket", Align::Left}, {"State", Align::Left}, {"Local", Align::Left}, {"Peer", Align::Left},
      {"Recv-Q", Align::Right}, {"Send-Q", Align::Right}, {"rb", Align::Right}, {"tb", Align::Right},
      {"r", Align::Right}, {"w", Align::Right}, {"d", Align::Right}, {"d+", Align::Left}, {"Process", Align::Left}};
  return c;
}

std::vector<std::string> header(bool watch) {
  std::vector<std::string> h = column_names(socket_columns());
  if (!watch) h[11] = "";
  return h;
}

using PrevRows = std::map<uint64_t, const LiveRow*>;  // by socket cookie

std::optional<int64_t> drops_delta(const LiveRow& row, const PrevRows* prev) {
  if (!prev || !row.sock.skmem) return std::nullopt;
  auto it = prev->find(row.sock.cookie);
  if (it == prev->end() || !it->second->sock.skmem) return std::nullopt;
  return static_cast<int64_t>(row.sock.skmem->drops) - it->second->sock.skmem->drops;
}

// Text mode, --watch: a scrolling series is read the way vmstat or nstat
// output is (`watch ss -m` redraws a screen instead, which a pipe or a log
// cannot). Each round keeps its numbers: the socket table with its header
// and the UDP counters by name. The explanations are printed once: the first
// report has every note and what each counter means; a later round only a
// note whose shape (note_shape: its numbers out) that socket has not shown
// yet, and the counters without their meanings. JSON is not affected: every
// round's "socket" events carry all their notes.
using ShownNotes = std::set<std::pair<uint64_t, std::string>>;  // socket cookie, note shape

std::string new_notes(const LiveRow& row, const std::vector<std::string>& notes, ShownNotes* shown) {
  std::string out;
  for (const auto& n : notes) {
    if (!shown->insert({row.sock.cookie, note_shape(n)}).second) continue;
    out += fmt::format("    {} {}: {}\n", kind_name(kind_of(row.sock)), sock_endpoint_cell(row.sock, true), n);
  }
  return out;
}

void report_rows(Reporter& rep, const LiveSnapshot& snap, const PrevRows* prev, double interval, ShownNotes* shown) {
  BufferLimits lim = read_buffer_limits(ProcFs());
  Table t;
  t.row(header(prev != nullptr));
  std::vector<std::string> columns = column_names(socket_columns());
  std::string notes_text;
  for (const auto& row : snap.rows) {
    std::vector<std::string> notes = live_notes(row.sock, lim);
    FieldRow f = socket_fields(row, notes);
    if (prev) {  // a --watch round: the totals stay totals, the change is "drops_delta"
      auto dd = drops_delta(row, prev);
      f.add("drops_delta", "d+", dd ? Json(*dd) : Json(nullptr), dd ? fmt::format("{:+}", *dd) : "");
      f.json("interval", interval);
    }
    rep.event("socket", f.to_json(), "");
    t.row(f.cells(columns));
    notes_text += new_notes(row, notes, shown);
  }
  if (snap.rows.empty()) {
    rep.text("  No matching sockets.\n");
    return;
  }
  rep.text(t.render(column_aligns(socket_columns()), "  "));
  if (!notes_text.empty()) rep.text("  Notes:\n" + notes_text);
}

// The "counters" event and the text table, both from udp_counter_fields
// (core/bufrules.h): "delta" tells the totals (false) from a --watch round's
// changes (true, over "interval" seconds), as backlog's counters do.
void report_udp(Reporter& rep, const std::vector<NamedCounter>& counters, const std::vector<NamedCounter>* before,
                double interval) {
  FieldRow f = udp_counter_fields(before ? counter_changes(*before, counters) : counters,
                                  before ? std::optional<double>(interval) : std::nullopt);
  rep.event("counters", f.to_json(), "");
  Table t;
  for (const Field& c : f.fields()) {  // the meanings in the first report only (see ShownNotes)
    if (c.column.empty()) continue;
    if (before) t.row({c.column, c.text});
    else t.row({c.column, c.text, std::string(udp_counter_meaning(c.column))});
  }
  rep.text(fmt::format("\n{}\n", rep.bold(before ? "UDP buffer errors this interval"
                                                 : "UDP buffer errors (/proc/net/snmp, snmp6; this namespace, since boot)")));
  std::vector<Align> align = {Align::Left, Align::Right};
  if (!before) align.push_back(Align::Left);
  rep.text(t.render(align, "  "));
}

std::string title(const LiveOptions& o) {
  std::string what = o.port ? fmt::format("port {}", *o.port) : o.pid ? fmt::format("process {}", *o.pid) : "all";
  return fmt::format("Live sockets ({}): limits rb/tb, use r (receive queue) and w (send queue), d drops; bytes",
                     what);
}

// ---- watching ------------------------------------------------------------------

PrevRows index_rows(const LiveSnapshot& s) {
  PrevRows m;
  for (const auto& row : s.rows) m[row.sock.cookie] = &row;
  return m;
}

Status watch_loop(Reporter& rep, const LiveOptions& o, LiveSnapshot prev, ShownNotes* shown) {
  Clock::time_point start = prev.at;
  for (long long i = 0; !o.count || i < *o.count; ++i) {
    if (!sleep_interruptible(*o.watch)) return interrupted_error();
    auto now = take_snapshot(o);
    if (!now.ok()) return now.take_error();
    double interval = std::round(std::chrono::duration<double>(now->at - prev.at).count() * 1000) / 1000;
    PrevRows before = index_rows(prev);
    rep.text(fmt::format("\n[{:>7.2f}s]\n", std::chrono::duration<double>(now->at - start).count()));
    report_rows(rep, *now, &before, interval, shown);
    report_udp(rep, now->udp, &prev.udp, interval);
    prev = std::move(*now);
  }
  return {};
}

}  // namespace

Status report_live(Reporter& rep, const LiveOptions& o) {
  if (Status st = check_pid(o); !st) return st;
  auto snap = take_snapshot(o);
  if (!snap.ok()) return snap.take_error();
  rep.text(rep.bold(title(o)) + "\n");
  ShownNotes shown;
  report_rows(rep, *snap, nullptr, 0, &shown);
  report_udp(rep, snap->udp, nullptr, 0);
  if (o.watch) return watch_loop(rep, o, std::move(*snap), &shown);
  return {};
}

}  // namespace sp::app
