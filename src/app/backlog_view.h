// What the `backlog` front-end files share: the parsed options, one
// snapshot of the limits, counters and listeners (each with its SYN queue),
// the fixed-cadence --watch loop, the one definition of a listener's fields,
// and the pieces that live in their own files: the SYN-queue columns and fields (backlog_synq.cc), --openmetrics
// (backlog_metrics.cc) and --capture (backlog_capture.cc).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "app/common.h"
#include "core/backlogrules.h"
#include "core/fields.h"
#include "core/netstat.h"
#include "core/owners.h"
#include "core/sockdiag.h"
#include "core/synqueue.h"

namespace sp::app {

using BacklogClock = std::chrono::steady_clock;

struct BacklogOptions {
  std::optional<uint16_t> port;
  std::optional<int> pid;
  // -4/-6 (global): only AF_INET or AF_INET6 listeners, and no Unix ones,
  // as `ss -4`/`ss -6` list them (a [::] listener is IPv6 even when it
  // takes IPv4 clients too). AF_UNSPEC: every family.
  int family = 0;
  std::optional<Duration> watch;
  std::optional<long long> count;
  bool check = false;
  double fail_above = 80;
  bool fail_on_overflow = false;
  bool fail_on_drops = false;
  bool openmetrics = false;
  std::string output;  // --openmetrics -o FILE; "" is stdout
};

struct SysctlValue {
  const char* name;
  std::optional<int64_t> value;
};

struct Snapshot {
  std::vector<SysctlValue> sysctls;
  Counters counters;
  std::vector<ListenerRow> listeners;
  int owners_unreadable = 0;
  bool syn_known = true;  // false when the request-socket dump failed
  BacklogClock::time_point at;
};

// The listeners --port/--pid select, with their SYN queues; warnings (Unix
// listeners or request sockets not dumpable) only when `first`.
Result<Snapshot> take_snapshot(const BacklogOptions& o, Reporter& rep, bool first);
// A sysctl of the snapshot by name; nullopt when unreadable.
std::optional<int64_t> sysctl_of(const Snapshot& s, std::string_view name);

// Calls step every --watch INTERVAL (--count times, or until it fails or
// SIGINT). Fixed cadence: each tick is counted from start, not from the
// last step.
Status every_interval(const BacklogOptions& o, BacklogClock::time_point start, const std::function<Status()>& step);

// ---- backlog.cc ----
// One listener, each field once: the "listener" event, its row of the
// Listeners table and its --openmetrics series all come from it.
FieldRow listener_fields(const ListenerRow& row, const Snapshot& snap, double threshold);

// ---- backlog_synq.cc: the SYN queue in the table, the notes and JSON ----
SynLimit syn_limit_of(const ListenerRow& row, const Snapshot& s);
// Notes for the NOTE column: a full SYN queue, an SO_REUSEPORT group.
std::vector<std::string> syn_notes(const ListenerRow& row, const Snapshot& s);
// syn_recv (SYN-RECV) and synack_retrans (RETRANS): null and "-" for Unix,
// null and "?" when unknown; then syn_max, syn_overflow, reuseport_group.
void add_syn_fields(FieldRow& f, const ListenerRow& row, const Snapshot& s);
// One sentence under the table: the limit that applies and what then happens.
std::string syn_summary(const Snapshot& s);

// ---- backlog_metrics.cc ----
Status run_metrics(const BacklogOptions& o, Reporter& rep);

// ---- backlog_capture.cc: raw dumps for fixtures and bug reports ----
Status capture(const std::string& dir);

}  // namespace sp::app
