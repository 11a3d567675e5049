// TcpExt counters by name (see netstat.h).
#include "core/netstat.h"

#include <fmt/format.h>

namespace sp {

const std::vector<std::string>& listen_counter_names() {
  static const std::vector<std::string> names = {
      "ListenOverflows", "ListenDrops",    "TCPReqQFullDrop", "TCPReqQFullDoCookies",
      "SyncookiesSent",  "SyncookiesRecv", "SyncookiesFailed",
  };
  return names;
}

std::string_view counter_meaning(std::string_view name) {
  static const std::map<std::string_view, std::string_view> meanings = {
      {"ListenOverflows", "SYNs or final ACKs dropped because an accept queue was full"},
      {"ListenDrops", "every packet drop charged to a listener (includes ListenOverflows)"},
      {"TCPReqQFullDrop", "SYNs dropped because the SYN queue was full and SYN cookies were off"},
      {"TCPReqQFullDoCookies", "SYN cookies sent because the SYN queue was full"},
      {"SyncookiesSent", "SYN cookies sent"},
      {"SyncookiesRecv", "valid SYN cookies received back"},
      {"SyncookiesFailed", "invalid SYN cookies received"},
      {"TCPBacklogDrop",
       "NOT the listen backlog: packets dropped because an established socket's per-socket receive "
       "backlog was full while a thread held the socket"},
  };
  auto it = meanings.find(name);
  return it == meanings.end() ? std::string_view() : it->second;
}

Counters parse_tcpext(std::string_view netstat_text) {
  CounterTable table = parse_counter_pairs(netstat_text);
  auto it = table.find("TcpExt");
  if (it == table.end()) return {};
  return Counters(it->second.begin(), it->second.end());
}

Result<Counters> read_tcpext(const ProcFs& proc) {
  auto text = proc.read("net/netstat");
  if (!text.ok()) return text.take_error();
  Counters c = parse_tcpext(*text);
  if (c.empty()) return system_error(fmt::format("{}/net/netstat: no TcpExt counters", proc.root()));
  return c;
}

std::optional<int64_t> counter(const Counters& c, const std::string& name) {
  auto it = c.find(name);
  if (it == c.end()) return std::nullopt;
  return it->second;
}

Counters counter_deltas(const Counters& before, const Counters& after) {
  Counters out;
  for (const auto& [name, value] : after) {
    auto it = before.find(name);
    if (it == before.end()) continue;
    out[name] = counter_delta(it->second, value);
  }
  return out;
}

}  // namespace sp
