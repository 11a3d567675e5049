// send -P / recv -P reporting (see streams_report.h).
#include "app/streams_report.h"

#include <fmt/format.h>

#include "core/parse.h"
#include "core/stall.h"

namespace sp::app {

StreamsReport::StreamsReport(Reporter& rep, std::string direction, size_t streams, Duration every)
    : rep_(rep),
      direction_(std::move(direction)),
      merger_(
          streams, std::chrono::duration<double>(every).count(), [this](size_t i, const IntervalReport& r) { on_stream(i, r); },
          [this](const IntervalReport& s, size_t n) { on_sum(s, n); }) {}

TransferHooks StreamsReport::hooks(size_t i) {
  TransferHooks h;
  h.on_interval = [this, i](const IntervalReport& r) { merger_.add(i, r); };
  h.on_stall = [this, i](const StallSnapshot& s, const std::string& why) {
    auto lock = merger_.lock();
    Json j = stall_json(s);
    j["direction"] = direction_;
    j["stream"] = i + 1;
    rep_.event("stall", j, fmt::format("[{:>3}] {}", i + 1, why), -1);
  };
  return h;
}

void StreamsReport::on_stream(size_t i, const IntervalReport& r) {
  header_once(rep_, &header_shown_,
              "[ ID] " + std::string(kIntervalColumns) + std::string(r.tcp ? kTcpColumns : ""));
  TransferContext ctx{direction_, {}, -1, i + 1, ""};
  rep_.event("interval", interval_json(ctx, r),
             fmt::format("[{:>3}] {}", i + 1, interval_text(r, rate(r.bytes, r.end - r.start))));
}

// The sum has no cwnd or RTT of its own: only the bytes and retransmits.
void StreamsReport::on_sum(const IntervalReport& s, size_t streams) {
  Json j{{"direction", direction_}, {"start", s.start}, {"end", s.end}, {"bytes", s.bytes}, {"streams", streams}};
  rate_json(j, s.bytes, s.end - s.start);
  IntervalReport row = s;
  row.tcp.reset();
  std::string text = "[SUM] " + interval_text(row, rate(s.bytes, s.end - s.start));
  if (s.tcp) {
    j["retrans"] = s.tcp->retrans;
    text += fmt::format(" {:>6}", s.tcp->retrans);
  }
  rep_.event("interval_sum", j, text);
}

Status StreamsReport::finish(const std::vector<StreamEnd>& ends, double seconds) {
  uint64_t bytes = 0;
  size_t failed = 0;
  Status first_error;
  bool interrupted = false;
  for (const StreamEnd& e : ends) {
    report_summary(rep_, e.ctx, e.stats, e.outcome);
    bytes += e.stats.bytes;
    if (e.outcome.ok()) continue;
    ++failed;
    if (e.outcome.error().kind == ErrorKind::Interrupted) interrupted = true;
    if (first_error.ok()) first_error = e.outcome;
  }
  Json j{{"direction", direction_}, {"streams", ends.size()}, {"bytes", bytes}, {"seconds", seconds},
         {"failed", failed}, {"complete", failed == 0}};
  rate_json(j, bytes, seconds);
  if (interrupted) j["interrupted"] = true;
  double bps = rate(bytes, seconds);
  rep_.event("total", j,
             fmt::format("Total: {} {} bytes ({}) in {}: {:.0f} bytes/s ({}) over {} streams{}",
                         direction_ == "send" ? "sent" : "received", bytes, human_bytes(bytes),
                         human_duration(seconds), bps, human_bits_per_second(bps), ends.size(),
                         failed ? fmt::format(", {} failed", failed) : ""));
  if (interrupted) return interrupted_error();
  return first_error;
}

}  // namespace sp::app
