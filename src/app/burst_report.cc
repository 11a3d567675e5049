// Burst reporting (see burst_report.h).
#include "app/burst_report.h"

#include <algorithm>

#include <fmt/format.h>

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
    out += fmt::format("\n    {:>8} {:>8} {}", b.label, b.count, std::string(std::max<size_t>(bar, 1), '#'));
  }
  return out;
}

}  // namespace

Status run_connect_burst(Reporter& rep, const std::string& host, uint16_t port, const SocketConfig& cfg,
                         const BurstOptions& opts) {
  auto eps = resolve(host, port, cfg.transport, cfg.family, false);
  if (!eps.ok()) return system_error(fmt::format("{}: {}", connect_target(host, port, cfg.transport), eps.error().message));
  const Endpoint& target = eps->front();
  auto res = run_burst(target, cfg, opts);
  if (!res.ok()) return res.take_error();
  BurstResult& r = *res;
  std::sort(r.latencies.begin(), r.latencies.end());
  auto hist = latency_histogram(r.latencies);
  auto syn = syn_retransmission_clusters(r.latencies);
  double cps = r.seconds > 0 ? static_cast<double>(r.ok + r.refused + r.reset + r.timeout + r.other) / r.seconds : 0;

  Json j{{"address", format_host(target)}, {"port", port}, {"count", opts.count},
         {"concurrency", opts.concurrency}, {"rate", opts.rate ? Json(opts.rate) : Json(nullptr)},
         {"seconds", r.seconds}, {"connections_per_second", cps},
         {"ok", r.ok}, {"refused", r.refused}, {"reset", r.reset}, {"timeout", r.timeout}, {"other", r.other}};
  j["other_errors"] = r.other_errors;
  j["latency"] = latency_json(r.latencies);
  Json hj = Json::array();
  for (const auto& b : hist) hj.push_back(Json{{"label", b.label}, {"count", b.count}});
  j["histogram"] = hj;
  j["syn_retransmissions"] = Json{{"1s", syn[0]}, {"3s", syn[1]}, {"7s", syn[2]}, {"15s", syn[3]}};

  std::string text = fmt::format(
      "Burst to {} port {}: {} connections, {} at a time{}, in {} ({:.0f} connections/s)\n"
      "  ok {}  refused {}  reset {}  timeout {}  other {}",
      format_host(target), port, opts.count, opts.concurrency,
      opts.rate ? fmt::format(", {}/s", opts.rate) : "", human_duration(r.seconds), cps, r.ok, r.refused, r.reset,
      r.timeout, r.other);
  for (const auto& [err, n] : r.other_errors) text += fmt::format("\n  {}: {}", err, n);
  if (!r.latencies.empty()) {
    text += fmt::format("\n  connect latency: p50 {}  p90 {}  p99 {}  max {}", human_duration(percentile(r.latencies, 50)),
                        human_duration(percentile(r.latencies, 90)), human_duration(percentile(r.latencies, 99)),
                        human_duration(r.latencies.back()));
    text += "\n  histogram:" + histogram_text(hist, r.ok);
  }
  uint64_t retrans = syn[0] + syn[1] + syn[2] + syn[3];
  if (retrans > 0) {
    text += fmt::format(
        "\n  {} connections completed near 1 s/3 s/7 s/15 s ({}/{}/{}/{}): their SYNs were retransmitted.\n"
        "  That is the signature of a full listen backlog (see 'sockprobe backlog') or of packet loss.",
        retrans, syn[0], syn[1], syn[2], syn[3]);
  }
  rep.event("burst", j, text);

  uint64_t failed = r.refused + r.reset + r.other;
  if (failed > 0) return system_error(fmt::format("{} of {} connections failed", failed, opts.count));
  if (r.timeout > 0) return timeout_error(fmt::format("{} of {} connections timed out", r.timeout, opts.count));
  return {};
}

}  // namespace sp::app
