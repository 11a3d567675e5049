// Decoding and tallying `backlog trace` records (see trace_events.h).
#include "core/trace_events.h"

#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "bpf/backlog_trace.h"

namespace sp {
namespace {

static_assert(sizeof(sp_trace_event) == 72, "the BPF event layout changed: update decode_trace_event");

Result<Endpoint> ip_endpoint(uint16_t family, const uint8_t* addr, uint16_t port, const char* what) {
  Endpoint ep;
  if (family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ep.addr);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    std::memcpy(&sin->sin_addr, addr, 4);
    ep.len = sizeof(sockaddr_in);
  } else if (family == AF_INET6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ep.addr);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    std::memcpy(&sin6->sin6_addr, addr, 16);
    ep.len = sizeof(sockaddr_in6);
  } else {
    return system_error(fmt::format("trace event: {} address family {} is neither IPv4 nor IPv6", what, family));
  }
  return ep;
}

}  // namespace

const char* reason_name(DropReason r) {
  switch (r) {
    case DropReason::AcceptQueueFull: return "accept_queue_full";
    case DropReason::SynQueueFull: return "syn_queue_full";
    case DropReason::AckDropped: return "ack_dropped";
    case DropReason::Syncookie: return "syncookie";
    case DropReason::SynDropped: return "syn_dropped";
  }
  return "syn_dropped";
}

const std::vector<DropReason>& all_reasons() {
  static const std::vector<DropReason> all = {DropReason::AcceptQueueFull, DropReason::SynQueueFull,
                                              DropReason::AckDropped, DropReason::Syncookie,
                                              DropReason::SynDropped};
  return all;
}

Result<TraceRecord> decode_trace_event(std::span<const unsigned char> raw) {
  sp_trace_event e = {};
  if (raw.size() < sizeof e) {
    return system_error(fmt::format("trace event: {} bytes, expected {}", raw.size(), sizeof e));
  }
  std::memcpy(&e, raw.data(), sizeof e);
  if (e.reason < SP_REASON_ACCEPT_QUEUE_FULL || e.reason > SP_REASON_SYN_DROPPED) {
    return system_error(fmt::format("trace event: unknown reason {}", e.reason));
  }
  TraceRecord r;
  r.time_ns = e.time_ns;
  r.reason = static_cast<DropReason>(e.reason - SP_REASON_ACCEPT_QUEUE_FULL);
  auto listener = ip_endpoint(e.listener_family, e.listener_addr, e.listener_port, "listener");
  if (!listener.ok()) return listener.take_error();
  auto client = ip_endpoint(e.family, e.client_addr, e.client_port, "client");
  if (!client.ok()) return client.take_error();
  r.listener = *listener;
  r.client = *client;
  r.queue = e.queue;
  r.max = e.max;
  r.syn_queue = e.syn_queue;
  r.drops = e.drops;
  return r;
}

void TraceTally::add(const TraceRecord& r) {
  ListenerTally& l = listeners_[format_endpoint(r.listener)];
  l.listener = r.listener;
  l.by_reason[r.reason] += 1;
  l.total += 1;
  Client& c = clients_[format_host(r.client)];
  c.events += 1;
  c.ports[endpoint_port(r.client)] = true;
  total_ += 1;
}

std::vector<ListenerTally> TraceTally::listeners() const {
  std::vector<std::pair<std::string, ListenerTally>> v(listeners_.begin(), listeners_.end());
  std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second.total > b.second.total; });
  std::vector<ListenerTally> out;
  for (auto& [key, t] : v) out.push_back(t);
  return out;
}

std::vector<ClientTally> TraceTally::top_clients(size_t n) const {
  std::vector<ClientTally> out;
  for (const auto& [addr, c] : clients_) out.push_back({addr, c.events, c.ports.size()});
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.events > b.events; });
  if (out.size() > n) out.resize(n);
  return out;
}

std::optional<uint64_t> parse_cap_eff(std::string_view status) {
  constexpr std::string_view key = "CapEff:";
  size_t at = status.find(key);
  if (at == std::string_view::npos || (at > 0 && status[at - 1] != '\n')) return std::nullopt;
  std::string_view rest = status.substr(at + key.size());
  size_t start = rest.find_first_not_of(" \t");
  if (start == std::string_view::npos) return std::nullopt;
  rest = rest.substr(start);
  size_t end = rest.find_first_of("\n");
  rest = rest.substr(0, end);
  if (rest.empty() || rest.size() > 16) return std::nullopt;
  uint64_t v = 0;
  for (char ch : rest) {
    int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
    if (d < 0) return std::nullopt;
    v = v << 4 | static_cast<uint64_t>(d);
  }
  return v;
}

bool caps_allow_tracing(uint64_t cap_eff) {
  constexpr uint64_t sys_admin = 1ULL << 21, perfmon = 1ULL << 38, bpf = 1ULL << 39;
  return (cap_eff & sys_admin) != 0 || ((cap_eff & perfmon) != 0 && (cap_eff & bpf) != 0);
}

}  // namespace sp
