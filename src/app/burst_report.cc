// Burst reporting (see burst_report.h).
#include "app/burst_report.h"

#include <algorithm>
#include <cerrno>

#include <fmt/format.h>

#include "app/common.h"
#include "core/procfs.h"
#include "core/textsafe.h"

namespace sp::app {
namespace {

Json latency_json(const std::vector<double>& sorted) {
  if (sorted.empty()) return nullptr;
  return Json{{"p50", percentile(sorted, 50)},
              {"p90", percentile(sorted, 90)},
              {"p99", percentile(sorted, 99)},
              {"max", sorted.back()}};
}

std::string histogram_text(const std::vector<HistogramBucket>& h, uint64_t total) {
  std::string out;
  for (const auto& b : h) {
    if (b.count == 0) continue;
    size_t bar = total ? static_cast<size_t>(40.0 * static_cast<double>(b.count) / static_cast<double>(total) + 0.5) : 0;
    out += fmt::format("\n    {:>9} {:>8} {}", b.label, b.count, std::string(std::max<size_t>(bar, 1), '#'));
  }
  return out;
}

// This kernel's SYN retransmission times, from tcp_syn_linear_timeouts
// (absent before 6.5: 0) and tcp_syn_retries.
std::vector<double> syn_schedule() {
  ProcFs proc;
  auto linear = proc.sysctl_int("net.ipv4.tcp_syn_linear_timeouts");
  auto retries = proc.sysctl_int("net.ipv4.tcp_syn_retries");
  return syn_retransmit_times(linear.ok() ? static_cast<int>(*linear) : 0,
                              retries.ok() ? static_cast<int>(std::min<int64_t>(*retries, 12)) : 6);
}

// The exact count beside the latency guess: connections by SYNs resent
// (TCP_INFO after each handshake). JSON {"0": N, "1": N, ...}; a text line
// and, when any SYN was resent, the call-out.
std::string syn_retransmits_report(const BurstResult& r, Json* j) {
  Json counts = Json::object();
  std::string line;
  uint64_t resent = 0;
  for (const auto& [n, conns] : r.syn_retransmits) {
    counts[std::to_string(n)] = conns;
    line += fmt::format("{}{} x{}", line.empty() ? "" : ", ", n, conns);
    if (n > 0) resent += conns;
  }
  (*j)["syn_retransmits"] = counts;
  if (line.empty()) return "";
  return fmt::format("\n  SYNs resent per connection (TCP_INFO after the handshake): {}; {} of {} resent theirs.",
                     line, resent, r.ok);
}

// The burst's target: every address HOST resolves to (the burst uses the
// first); a failure names HOST PORT as connect does.
Result<std::vector<Endpoint>> resolve_target(const std::string& host, uint16_t port, const SocketConfig& cfg) {
  auto eps = resolve(host, port, cfg.transport, cfg.family, false);
  if (!eps.ok()) return system_error(fmt::format("{}: {}", connect_target(host, port, cfg.transport), eps.error().message));
  return eps;
}

// Completions just after each SYN retransmission time: their total, the
// JSON list and the text (core's syn_callout_text), from the same counts.
struct SynNear {
  uint64_t total = 0;
  Json json = Json::array();
  std::string text;
};

SynNear syn_near(const std::vector<double>& marks, const std::vector<uint64_t>& counts) {
  SynNear s;
  for (size_t k = 0; k < counts.size(); ++k) {
    s.total += counts[k];
    s.json.push_back(Json{{"seconds", marks[k]}, {"count", counts[k]}});
  }
  s.text = syn_callout_text(marks, counts);
  return s;
}

// EADDRNOTAVAIL's explanation, when any connect() met it: the local port
// range, and the sockets closed but still holding a port now: TIME_WAIT,
// and orphans (closed by us, their FIN not yet answered by the peer).
// Measured: right after a burst against a server that had not yet closed
// its side, sockstat said tw 0 and orphan 9; 0.5 s later, the server done,
// tw 9 and orphan 0.
struct PortExhaustion {
  std::vector<int64_t> range;  // empty when unreadable
  std::optional<int64_t> time_wait, orphan;
  std::string note;
};

std::optional<PortExhaustion> port_exhaustion(const BurstResult& r) {
  if (!r.other_errors.contains(errno_text(EADDRNOTAVAIL))) return std::nullopt;
  ProcFs proc;
  PortExhaustion p;
  auto range = proc.sysctl_ints("net.ipv4.ip_local_port_range");
  if (range.ok()) p.range = *range;
  auto sockstat = proc.read("net/sockstat");
  if (sockstat.ok()) {
    p.time_wait = parse_sockstat(*sockstat, "TCP", "tw");
    p.orphan = parse_sockstat(*sockstat, "TCP", "orphan");
  }
  p.note = port_exhaustion_note(p.range, p.time_wait, p.orphan);
  return p;
}

Json port_exhaustion_json(const std::optional<PortExhaustion>& p) {
  if (!p) return nullptr;
  return Json{{"local_port_range", p->range.size() == 2 ? Json(p->range) : Json(nullptr)},
              {"time_wait", p->time_wait ? Json(*p->time_wait) : Json(nullptr)},
              {"orphan", p->orphan ? Json(*p->orphan) : Json(nullptr)},
              {"message", p->note}};
}

// What the JSON and the text both say, worked out once. The latencies are
// sorted.
struct BurstView {
  const BurstResult& r;
  const BurstOptions& opts;
  uint16_t port;
  std::string address;           // the one the burst used
  std::vector<std::string> all;  // every address the name resolves to
  double cps = 0;                // attempts that ended, per second
  std::vector<HistogramBucket> hist;
  SynNear near;
  std::optional<PortExhaustion> ports;  // when EADDRNOTAVAIL was met
};

// The view of a finished burst (latencies sorted) against eps.front().
BurstView burst_view(const BurstResult& r, const BurstOptions& opts, const std::vector<Endpoint>& eps,
                     uint16_t port) {
  std::vector<std::string> all;
  for (const Endpoint& ep : eps) all.push_back(format_host(ep));
  double cps = r.seconds > 0 ? static_cast<double>(r.ok + r.refused + r.reset + r.timeout + r.other) / r.seconds : 0;
  auto marks = syn_schedule();
  return BurstView{r, opts, port, format_host(eps.front()), std::move(all), cps,
                   latency_histogram(r.latencies, marks),
                   syn_near(marks, syn_retransmission_clusters(r.latencies, marks)), port_exhaustion(r)};
}

// The "burst" event's fields (syn_retransmits is added by
// syn_retransmits_report).
Json burst_json(const BurstView& v) {
  const BurstResult& r = v.r;
  const BurstOptions& opts = v.opts;
  Json j{{"address", v.address}, {"port", v.port}, {"count", opts.count},
         {"concurrency", opts.concurrency}, {"rate", opts.rate ? Json(opts.rate) : Json(nullptr)},
         {"seconds", r.seconds}, {"connections_per_second", v.cps},
         {"ok", r.ok}, {"refused", r.refused}, {"reset", r.reset}, {"timeout", r.timeout}, {"other", r.other}};
  // -z tries every address; a burst measures one: say which (the first).
  j["addresses"] = v.all;
  j["other_errors"] = r.other_errors;
  j["in_flight_limit"] = r.in_flight_limit ? Json(r.in_flight_limit) : Json(nullptr);
  j["fd_backoffs"] = r.fd_backoffs;
  j["port_exhaustion"] = port_exhaustion_json(v.ports);
  j["latency"] = latency_json(r.latencies);
  Json hj = Json::array();
  for (const auto& b : v.hist) hj.push_back(Json{{"label", b.label}, {"count", b.count}});
  j["histogram"] = hj;
  j["syn_retransmissions"] = Json{{"total", v.near.total}, {"near", v.near.json}};
  return j;
}

// The text up to the SYN lines: counts, which address, errors, latency.
std::string burst_text(const BurstView& v, const std::string& host) {
  const BurstResult& r = v.r;
  const BurstOptions& opts = v.opts;
  std::string text = fmt::format(
      "Burst to {} port {}: {}, {} at a time{}{}, in {} ({:.0f} connections/s)\n"
      "  ok {}  refused {}  reset {}  timeout {}  other {}",
      v.address, v.port, counted(opts.count, "connection"), opts.concurrency,
      r.in_flight_limit ? fmt::format(" (at most {} by the open-file limit)", r.in_flight_limit) : "",
      opts.rate ? fmt::format(", {}/s", opts.rate) : "", human_duration(r.seconds), v.cps, r.ok, r.refused, r.reset,
      r.timeout, r.other);
  if (v.all.size() > 1) {
    text += fmt::format("\n  {} resolves to {} addresses ({}); the burst uses the first (-4/-6 pick a family)",
                        terminal_safe(host), v.all.size(), fmt::join(v.all, ", "));
  }
  for (const auto& [err, n] : r.other_errors) text += fmt::format("\n  {}: {}", err, n);
  if (v.ports) text += "\n  " + v.ports->note;
  if (!r.latencies.empty()) {
    text += fmt::format("\n  connect latency: p50 {}  p90 {}  p99 {}  max {}", human_duration(percentile(r.latencies, 50)),
                        human_duration(percentile(r.latencies, 90)), human_duration(percentile(r.latencies, 99)),
                        human_duration(r.latencies.back()));
    text += "\n  histogram:" + histogram_text(v.hist, r.ok);
  }
  return text;
}

// The exit status (see burst_report.h): failures before timeouts.
Status burst_status(const BurstResult& r, uint64_t count) {
  uint64_t failed = r.refused + r.reset + r.other;
  if (failed > 0) return system_error(fmt::format("{} of {} connections failed", failed, count));
  if (r.timeout > 0) return timeout_error(fmt::format("{} of {} connections timed out", r.timeout, count));
  return {};
}

}  // namespace

void add_burst_flags(CLI::App* sub, BurstFlags* f) {
  sub->add_option("--count", f->count, "Burst: open N connections, report outcomes and connect latency")->type_name("N");
  sub->add_option("--concurrency", f->concurrency, "Burst: connections in flight at once; with -z: ports probed at once (default 1)")->type_name("C");
  sub->add_option("--rate", f->rate, "Burst: start at most R connections per second")->type_name("R");
  sub->add_option("--send", f->send, "Burst: write SIZE bytes on each connection before closing")->type_name("SIZE");
}

Result<std::optional<BurstOptions>> burst_options(const BurstFlags& f, std::optional<Duration> timeout) {
  if (f.count.empty()) return std::optional<BurstOptions>();  // which flags go with --count: app/flagrules.cc
  BurstOptions o;
  auto count = count_flag("--count", f.count, 1, 10'000'000);
  if (!count.ok()) return count.take_error();
  o.count = static_cast<uint64_t>(**count);
  auto conc = count_flag("--concurrency", f.concurrency, 1, 100'000);
  if (!conc.ok()) return conc.take_error();
  auto rate = count_flag("--rate", f.rate, 1, 10'000'000);
  if (!rate.ok()) return rate.take_error();
  if (conc->has_value()) o.concurrency = static_cast<uint64_t>(**conc);
  if (rate->has_value()) {
    o.rate = static_cast<uint64_t>(**rate);
    if (!conc->has_value()) o.concurrency = 100'000;  // open loop: the rate decides
  }
  auto send = size_flag("--send", f.send);
  if (!send.ok()) return send.take_error();
  if (send->has_value() && **send > (1u << 20)) {
    return usage_error(fmt::format("--send: '{}' is more than 1M", f.send));
  }
  o.send_bytes = send->value_or(0);
  if (timeout && timeout->count() > 0) o.timeout = *timeout;
  return std::optional<BurstOptions>(o);
}

// The warning when the open-file limit holds the burst below --concurrency
// (once: at the start, or at the first EMFILE/ENFILE).
std::string fd_limit_warning(const BurstFdLimit& l, uint64_t fd_limit) {
  if (l.err == 0) {
    return fmt::format("--concurrency {}: the open-file limit (ulimit -n {}) leaves room for {} sockets; at most {} "
                       "connections in flight", l.concurrency, fd_limit, l.in_flight, l.in_flight);
  }
  return fmt::format("socket: {} with {} connections in flight (ulimit -n {}): at most {} in flight from now on, "
                     "not counted as failures", errno_text(l.err), l.in_flight, fd_limit, l.in_flight);
}

// Resolve, burst against the first address, report, and say how it went.
// In flight at most what the open-file limit (raised to the hard limit at
// start) leaves room for; the warning says so once.
Status run_connect_burst(Reporter& rep, const std::string& host, uint16_t port, const SocketConfig& cfg,
                         const BurstOptions& opts) {
  auto eps = resolve_target(host, port, cfg);
  if (!eps.ok()) return eps.take_error();
  BurstOptions o = opts;
  uint64_t fd_limit = raise_fd_limit();
  o.fd_room = burst_fd_room(fd_limit, open_fd_count().value_or(kFdReserve));
  o.on_fd_limit = [&](const BurstFdLimit& l) { rep.warning(fd_limit_warning(l, fd_limit)); };
  auto res = run_burst(eps->front(), cfg, o);
  if (!res.ok()) return res.take_error();
  BurstResult& r = *res;
  std::sort(r.latencies.begin(), r.latencies.end());
  BurstView v = burst_view(r, opts, *eps, port);
  Json j = burst_json(v);
  std::string text = burst_text(v, host);
  text += syn_retransmits_report(r, &j);
  text += v.near.text;
  rep.event("burst", j, text);
  return burst_status(r, opts.count);
}

}  // namespace sp::app
