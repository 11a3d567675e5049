// One `backlog` snapshot (see backlog_view.h): the sysctls, the TcpExt
// counters, every listener with its owner and its SYN queue (request
// sockets matched over all listeners, before --port/--pid select, so an
// SO_REUSEPORT group is seen whole), and the --watch cadence.
#include <algorithm>

#include <fmt/format.h>

#include "app/backlog_view.h"
#include "core/procfs.h"
#include "core/signals.h"
#include "core/wait.h"

namespace sp::app {
namespace {

const char* const kSysctls[] = {"net.core.somaxconn", "net.ipv4.tcp_max_syn_backlog", "net.ipv4.tcp_syncookies",
                                "net.ipv4.tcp_abort_on_overflow"};

std::vector<SysctlValue> read_sysctls(const ProcFs& proc) {
  std::vector<SysctlValue> out;
  for (const char* name : kSysctls) {
    auto v = proc.sysctl_int(name);
    out.push_back({name, v.ok() ? std::optional<int64_t>(*v) : std::nullopt});
  }
  return out;
}

bool selected(const ListenerRow& row, const BacklogOptions& o) {
  if (o.port && (row.sock.transport == Transport::Unix || row.sock.local_port != *o.port)) return false;
  if (o.pid && (!row.owner || row.owner->pid != *o.pid)) return false;
  if (o.family != 0 && row.sock.family != o.family) return false;
  return true;
}

// TCP before Unix, then by port and address, as a reader scans the table.
bool listed_before(const ListenerRow& a, const ListenerRow& b) {
  const SockInfo& x = a.sock;
  const SockInfo& y = b.sock;
  bool xu = x.transport == Transport::Unix, yu = y.transport == Transport::Unix;
  if (xu != yu) return yu;
  if (x.local_port != y.local_port) return x.local_port < y.local_port;
  if (x.family != y.family) return x.family < y.family;
  return x.local_address < y.local_address;
}

// The SYN queue of every listener; a failed request dump is a warning
// (first snapshot only) and leaves the SYN figures unknown.
std::vector<SynQueue> syn_queues(const std::vector<SockInfo>& socks, Reporter& rep, bool first, bool* known) {
  auto reqs = dump_requests();
  *known = reqs.ok();
  if (!reqs.ok()) {
    if (first) rep.warning(fmt::format("SYN-RECV not shown: {}", reqs.error().message));
    return std::vector<SynQueue>(socks.size());
  }
  return match_requests(socks, *reqs);
}

}  // namespace

std::optional<int64_t> sysctl_of(const Snapshot& s, std::string_view name) {
  for (const auto& v : s.sysctls) {
    if (name == v.name) return v.value;
  }
  return std::nullopt;
}

Result<Snapshot> take_snapshot(const BacklogOptions& o, Reporter& rep, bool first) {
  ProcFs proc;
  Snapshot s;
  s.at = BacklogClock::now();
  s.sysctls = read_sysctls(proc);
  auto counters = read_tcpext(proc);
  if (!counters.ok()) return counters.take_error();
  s.counters = std::move(*counters);
  std::string unix_error;  // TCP listeners are required; Unix ones a warning
  auto socks = dump_listeners(&unix_error);
  if (!socks.ok()) return socks.take_error();
  if (first && !unix_error.empty()) rep.warning(fmt::format("Unix listeners not shown: {}", unix_error));
  std::vector<SynQueue> syn = syn_queues(*socks, rep, first, &s.syn_known);
  OwnerScan owners = scan_socket_owners(proc, o.pid);
  s.owners_unreadable = owners.unreadable;
  for (size_t i = 0; i < socks->size(); ++i) {
    ListenerRow row{std::move((*socks)[i]), std::nullopt, syn[i]};
    if (const SocketOwner* ow = first_owner(owners, row.sock.inode)) row.owner = *ow;
    if (selected(row, o)) s.listeners.push_back(std::move(row));
  }
  std::stable_sort(s.listeners.begin(), s.listeners.end(), listed_before);
  return s;
}

Status every_interval(const BacklogOptions& o, BacklogClock::time_point start, const std::function<Status()>& step) {
  for (long long i = 0; !o.count || i < *o.count; ++i) {
    auto tick = start + std::chrono::duration_cast<BacklogClock::duration>(*o.watch * (i + 1));
    if (!sleep_interruptible(tick - BacklogClock::now())) return interrupted_error();
    if (Status st = step(); !st) return st;
  }
  return {};
}

}  // namespace sp::app
