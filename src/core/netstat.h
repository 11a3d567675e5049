// TcpExt counters from /proc/net/netstat, by name (why: field sets differ
// between kernels, so nothing here depends on positions). The counters are
// per network namespace, cumulative since the namespace was created, and
// count packets, not connections. Built on parse_counter_pairs (procfs.h).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/procfs.h"
#include "core/result.h"

namespace sp {

using Counters = std::map<std::string, int64_t>;

// The listen-backlog counters, in report order.
const std::vector<std::string>& listen_counter_names();
// The per-socket receive backlog counter, reported apart: it is NOT the listen backlog.
inline constexpr const char* kBacklogDropCounter = "TCPBacklogDrop";
// One line: what the counter counts ("" for names we do not explain).
std::string_view counter_meaning(std::string_view name);

// Pure: the TcpExt row of /proc/net/netstat text (empty if there is none).
Counters parse_tcpext(std::string_view netstat_text);
// Reads ROOT/net/netstat; an error if it is unreadable or has no TcpExt row.
Result<Counters> read_tcpext(const ProcFs& proc);

// The value of `name`, or nullopt when this kernel does not have it.
std::optional<int64_t> counter(const Counters& c, const std::string& name);
// counter_delta (procfs.h) for every name in both: a counter that went down
// (namespace recreated, wrap) yields its new value.
Counters counter_deltas(const Counters& before, const Counters& after);

}  // namespace sp
