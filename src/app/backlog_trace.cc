// `sockprobe backlog trace`: each connection attempt a listener drops or
// degrades, as it happens (time, listener, client, reason, accept queue
// depth/max), then a summary per listener and reason and the clients hurt
// most. The kernel side is core/trace.h (eBPF, root only).
//
// Decisions: without --duration/--count it runs until Ctrl-C, which prints
// the summary and exits 130 like every other interrupted sockprobe run
// (tcpdump's habit of exiting 0 would hide an interrupted `--duration`).
// Times are wall-clock (the kernel's monotonic stamp plus the offset
// measured at start), as tcpdump prints them.
#include <sys/socket.h>

#include <chrono>
#include <cmath>
#include <ctime>

#include <fmt/format.h>

#include "app/backlog_cmd.h"
#include "app/backlog_table.h"
#include "core/trace.h"

namespace sp::app {
namespace {

using Clock = std::chrono::steady_clock;

struct TraceFlags {
  std::string port, duration, count;
};

struct TraceRunOptions {
  std::optional<uint16_t> port;
  std::optional<Duration> duration;
  std::optional<long long> count;
};

Result<TraceRunOptions> trace_options(const TraceFlags& f) {
  TraceRunOptions o;
  auto port = port_flag("--port", f.port);
  if (!port.ok()) return port.take_error();
  o.port = *port;
  if (o.port && *o.port == 0) return usage_error("--port: 0 is no listener's port (1-65535)");
  auto duration = duration_flag("--duration", f.duration);
  if (!duration.ok()) return duration.take_error();
  o.duration = *duration;
  if (o.duration && o.duration->count() <= 0) return usage_error("--duration: the trace time must be above 0");
  auto count = count_flag("--count", f.count, 1, INT32_MAX);
  if (!count.ok()) return count.take_error();
  o.count = *count;
  return o;
}

double seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

// Realtime minus monotonic, in nanoseconds: turns the kernel's stamps into
// wall-clock times.
int64_t wall_offset_ns() {
  timespec rt = {}, mono = {};
  ::clock_gettime(CLOCK_REALTIME, &rt);
  ::clock_gettime(CLOCK_MONOTONIC, &mono);
  return (rt.tv_sec - mono.tv_sec) * 1000000000LL + (rt.tv_nsec - mono.tv_nsec);
}

std::string clock_text(int64_t wall_ns) {
  time_t secs = static_cast<time_t>(wall_ns / 1000000000LL);
  tm local = {};
  ::localtime_r(&secs, &local);
  return fmt::format("{:02}:{:02}:{:02}.{:06}", local.tm_hour, local.tm_min, local.tm_sec,
                     (wall_ns % 1000000000LL) / 1000);
}

void report_start(Reporter& rep, const TraceRunOptions& o, int listeners) {
  std::string which = o.port ? fmt::format(" on port {}", *o.port) : "";
  std::string until = o.duration ? fmt::format("for {:g}s", seconds(*o.duration)) : "until Ctrl-C";
  if (o.count) until += fmt::format(" or {} events", *o.count);
  rep.event("trace_start",
            Json{{"listeners", listeners},
                 {"port", o.port ? Json(*o.port) : Json(nullptr)},
                 {"duration", o.duration ? Json(seconds(*o.duration)) : Json(nullptr)},
                 {"count", o.count ? Json(*o.count) : Json(nullptr)}},
            fmt::format("Tracing dropped connection attempts at {} listener{}{} in this network namespace (and any "
                        "that start listening), {}.\n{:<15}  {:<24}  {:<24}  {:<17}  {}",
                        listeners, listeners == 1 ? "" : "s", which, until, "TIME", "LISTENER", "CLIENT", "REASON",
                        "ACCEPT QUEUE"));
}

void report_drop(Reporter& rep, const TraceRecord& r, int64_t offset_ns) {
  int64_t wall = static_cast<int64_t>(r.time_ns) + offset_ns;
  double time = std::round(static_cast<double>(wall) / 1e3) / 1e6;
  rep.event("drop",
            Json{{"time", time},
                 {"listener", endpoint_json(r.listener)},
                 {"client", endpoint_json(r.client)},
                 {"reason", reason_name(r.reason)},
                 {"queue", r.queue},
                 {"max", r.max},
                 {"syn_recv", r.syn_queue},
                 {"drops", r.drops}},
            fmt::format("{:<15}  {:<24}  {:<24}  {:<17}  {}/{}", clock_text(wall), format_endpoint(r.listener),
                        format_endpoint(r.client), reason_name(r.reason), r.queue, r.max));
}

Json reasons_json(const ListenerTally& t) {
  Json j = Json::object();
  for (DropReason r : all_reasons()) {
    auto it = t.by_reason.find(r);
    j[reason_name(r)] = it == t.by_reason.end() ? 0 : it->second;
  }
  return j;
}

std::string summary_text(const TraceTally& tally, uint64_t lost, double elapsed) {
  std::string out = fmt::format("\nSummary: {} event{} in {:.2f}s", tally.total(), tally.total() == 1 ? "" : "s",
                                elapsed);
  if (lost) out += fmt::format(" ({} more lost: the ring buffer was full)", lost);
  out += "\n";
  Table t;
  for (const auto& l : tally.listeners()) {
    std::string parts;
    for (const auto& [reason, n] : l.by_reason) parts += fmt::format("{}{} {}", parts.empty() ? "" : ", ", reason_name(reason), n);
    t.row({format_endpoint(l.listener), std::to_string(l.total), parts});
  }
  if (tally.total() > 0) out += "By listener:\n" + t.render({Align::Left, Align::Right, Align::Left}, "  ");
  Table c;
  for (const auto& cl : tally.top_clients(10)) {
    c.row({cl.address, fmt::format("{} event{}", cl.events, cl.events == 1 ? "" : "s"),
           fmt::format("from {} source port{}", cl.ports, cl.ports == 1 ? "" : "s")});
  }
  if (tally.total() > 0) out += "Top clients:\n" + c.render({Align::Left, Align::Right, Align::Left}, "  ");
  return out;
}

void report_summary(Reporter& rep, const TraceTally& tally, uint64_t lost, double elapsed) {
  Json listeners = Json::array();
  for (const auto& l : tally.listeners()) {
    listeners.push_back(Json{{"listener", endpoint_json(l.listener)}, {"events", l.total}, {"reasons", reasons_json(l)}});
  }
  Json clients = Json::array();
  for (const auto& c : tally.top_clients(10)) {
    clients.push_back(Json{{"address", c.address}, {"events", c.events}, {"ports", c.ports}});
  }
  rep.event("trace_summary",
            Json{{"events", tally.total()}, {"lost", lost}, {"duration", std::round(elapsed * 1000) / 1000},
                 {"listeners", listeners}, {"top_clients", clients}},
            summary_text(tally, lost, elapsed));
}

Status run_trace(const TraceFlags& f, const GlobalOptions& g) {
  auto o = trace_options(f);
  if (!o.ok()) return o.take_error();
  auto trace = start_trace(TraceOptions{o->port});
  if (!trace.ok()) return trace.take_error();
  Reporter rep = make_reporter(g, stdout);
  Clock::time_point start = Clock::now();
  std::optional<Clock::time_point> deadline;
  if (o->duration) deadline = start + std::chrono::duration_cast<Clock::duration>(*o->duration);
  report_start(rep, *o, (*trace)->listeners());
  int64_t offset = wall_offset_ns();
  TraceTally tally;
  Status st = (*trace)->poll(deadline, [&](const TraceRecord& r) {
    report_drop(rep, r, offset);
    tally.add(r);
    return !o->count || static_cast<long long>(tally.total()) < *o->count;
  });
  report_summary(rep, tally, (*trace)->lost(), std::chrono::duration<double>(Clock::now() - start).count());
  return st;
}

}  // namespace

Command add_backlog_trace(CLI::App* backlog, const GlobalOptions& g) {
  auto f = std::make_shared<TraceFlags>();
  CLI::App* sub = backlog->add_subcommand(
      "trace", "Each connection attempt a listener drops, as it happens, with the client (eBPF, root)");
  sub->add_option("--port", f->port, "Only listeners on PORT (filtered in the kernel)")->type_name("PORT");
  sub->add_option("--duration", f->duration, "Stop after DURATION (default: Ctrl-C)")->type_name("DURATION");
  sub->add_option("--count", f->count, "Stop after N events")->type_name("N");
  sub->footer(
      "Examples:\n"
      "  sudo sockprobe backlog trace --port 8080\n"
      "  sudo sockprobe backlog trace --duration 30s --json > drops.ndjson\n"
      "  sudo sockprobe backlog trace --count 1 --port 443   # wait for the first drop");
  return {sub, [f, &g] { return run_trace(*f, g); }};
}

}  // namespace sp::app
