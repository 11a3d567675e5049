// Reading kernel state from /proc: sysctls and text tables. Everything goes
// through a ProcFs rooted at a directory ("/proc" in real use), which is the
// replay seam: unit tests point it at a directory of captured files from
// other kernels. Parsing is split into pure functions over strings.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace sp {

class ProcFs {
 public:
  explicit ProcFs(std::string root = "/proc") : root_(std::move(root)) {}

  // The whole text of ROOT/relative ("net/netstat", "sys/net/core/somaxconn").
  Result<std::string> read(std::string_view relative) const;

  // A sysctl by its dotted name: "net.core.somaxconn" -> ROOT/sys/net/core/somaxconn.
  Result<std::string> sysctl_text(std::string_view dotted_name) const;
  // The sysctl as whitespace-separated integers ("4096 131072 6291456").
  Result<std::vector<int64_t>> sysctl_ints(std::string_view dotted_name) const;
  // The sysctl as one integer.
  Result<int64_t> sysctl_int(std::string_view dotted_name) const;

  const std::string& root() const { return root_; }

 private:
  std::string root_;
};

// "4096\t131072  6291456\n" -> {4096, 131072, 6291456}; nullopt on junk.
std::optional<std::vector<int64_t>> parse_int_list(std::string_view text);

// /proc/net/netstat and /proc/net/snmp are pairs of lines, "Prefix: names" then
// "Prefix: values". Returns prefix -> (name -> value), parsed by name so
// kernels with missing, extra or reordered fields all work. Malformed pairs
// are skipped.
using CounterTable = std::map<std::string, std::map<std::string, int64_t>>;
CounterTable parse_counter_pairs(std::string_view text);

// after - before of one cumulative counter. The kernel's counters are
// unsigned and only grow, so one that went down (namespace recreated, wrap)
// yields its new value, and so does a negative `before` (junk text): the
// difference never overflows. Found by fuzz/netstat.cc (INT64_MAX - -1).
int64_t counter_delta(int64_t before, int64_t after);

// /proc/net/snmp6 is "Name value" per line ("Udp6RcvbufErrors 0").
std::map<std::string, int64_t> parse_name_value_lines(std::string_view text);

// /proc/net/sockstat is "PROTO: name value name value..." per line
// ("TCP: inuse 2 orphan 0 tw 7 alloc 4 mem 1"): ("TCP", "tw") -> 7, the
// TIME_WAIT sockets of this network namespace (IPv4 and IPv6 together).
// nullopt when the line or the field is missing or not a number.
std::optional<int64_t> parse_sockstat(std::string_view text, std::string_view protocol, std::string_view field);

}  // namespace sp
