// Why: /proc/net/netstat and /proc/net/snmp(6) differ between kernels
// (missing, extra, reordered fields) and are read inside containers whose
// /proc can be anything; the counter parsers and the before/after deltas
// (backlog, buffers --udp) must take any text and any 64-bit values. Input:
// "before" text, a NUL, "after" text (the first part is also read as snmp6).
#include "core/bufrules.h"
#include "core/netstat.h"
#include "core/procfs.h"
#include "fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view all = sp::fuzz::as_text(data, size);
  size_t nul = all.find('\0');
  std::string_view before = all.substr(0, nul);
  std::string_view after = nul == std::string_view::npos ? before : all.substr(nul + 1);
  (void)sp::parse_counter_pairs(before);
  sp::Counters b = sp::parse_tcpext(before), a = sp::parse_tcpext(after);
  sp::Counters d = sp::counter_deltas(b, a);
  for (const auto& name : sp::listen_counter_names()) (void)sp::counter(d, name);
  auto ub = sp::udp_buffer_counters(before, before);
  auto ua = sp::udp_buffer_counters(after, after);
  for (const auto& c : sp::counter_changes(ub, ua)) (void)sp::udp_counter_meaning(c.name);
  return 0;
}
