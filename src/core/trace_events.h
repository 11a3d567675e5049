// The records of `backlog trace`: decoding the BPF program's ring-buffer
// event (src/bpf/backlog_trace.h) into addresses and a reason, and the
// tally printed at the end (per listener and reason, and the clients hurt
// most). Pure functions, no BPF: unit-tested with captured event bytes.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/address.h"
#include "core/result.h"

namespace sp {

enum class DropReason { AcceptQueueFull, SynQueueFull, AckDropped, Syncookie, SynDropped };

// "accept_queue_full", "syn_queue_full", "ack_dropped", "syncookie", "syn_dropped".
const char* reason_name(DropReason r);
// Every reason, in the order summaries list them.
const std::vector<DropReason>& all_reasons();

struct TraceRecord {
  uint64_t time_ns = 0;  // CLOCK_MONOTONIC
  DropReason reason = DropReason::AcceptQueueFull;
  Endpoint listener;     // the listener's bound address (may be a wildcard)
  Endpoint client;       // the packet's source
  uint32_t queue = 0;    // accept queue depth at that moment
  uint32_t max = 0;      // the accept queue's maximum (effective backlog)
  uint32_t syn_queue = 0;  // request sockets (SYN_RECV) at that moment
  uint32_t drops = 0;      // the listener's drop count (skmem d) then
};

// One ring-buffer record (struct sp_trace_event); an error names what is
// wrong with it (size, reason, family).
Result<TraceRecord> decode_trace_event(std::span<const unsigned char> raw);

struct ListenerTally {
  Endpoint listener;
  std::map<DropReason, uint64_t> by_reason;
  uint64_t total = 0;
};

struct ClientTally {
  std::string address;
  uint64_t events = 0;
  uint64_t ports = 0;  // distinct source ports: roughly, connection attempts
};

class TraceTally {
 public:
  void add(const TraceRecord& r);
  uint64_t total() const { return total_; }
  // Most events first, then by endpoint text.
  std::vector<ListenerTally> listeners() const;
  // The n client addresses with the most events, most first.
  std::vector<ClientTally> top_clients(size_t n) const;

 private:
  struct Client {
    uint64_t events = 0;
    std::map<uint16_t, bool> ports;
  };
  std::map<std::string, ListenerTally> listeners_;  // key: format_endpoint
  std::map<std::string, Client> clients_;
  uint64_t total_ = 0;
};

// CapEff from /proc/self/status text; nullopt when absent or malformed.
std::optional<uint64_t> parse_cap_eff(std::string_view status);
// Can a process with these effective capabilities load and attach tracing
// BPF programs: CAP_BPF and CAP_PERFMON (5.8+), or CAP_SYS_ADMIN.
bool caps_allow_tracing(uint64_t cap_eff);

}  // namespace sp
