// send/recv reporting (see transfer_report.h).
#include "app/transfer_report.h"

#include <unistd.h>

#include <cstdio>
#include <mutex>

#include <fmt/format.h>

#include "app/common.h"
#include "core/bidir.h"
#include "core/parse.h"
#include "core/sock.h"
#include "core/tcpinfo.h"

namespace sp::app {
namespace {

bool g_progress_shown = false;

}  // namespace

// The interval table: one header per direction, TCP sends add iperf3's
// Retr and Cwnd (and the RTT).
const std::string_view kIntervalColumns = "[  start-    end s]        bytes       human           rate";
const std::string_view kTcpColumns = "   retr        cwnd       rtt";

std::string interval_text(const IntervalReport& r, double bps) {
  std::string line = fmt::format("[{:7.2f}-{:7.2f} s] {:>12} {:>11} {:>14}", r.start, r.end, r.bytes,
                                 human_bytes(r.bytes), human_bits_per_second(bps));
  if (r.tcp) {
    line += fmt::format(" {:>6} {:>11} {:>9}", r.tcp->retrans,
                        human_bytes(uint64_t{r.tcp->snd_cwnd} * r.tcp->snd_mss), human_duration(r.tcp->rtt));
  }
  return line;
}

Json interval_json(const TransferContext& ctx, const IntervalReport& r) {
  Json j{{"direction", ctx.direction}, {"start", r.start}, {"end", r.end}, {"bytes", r.bytes}};
  if (ctx.stream) j["stream"] = *ctx.stream;
  rate_json(j, r.bytes, r.end - r.start);
  if (r.tcp) {
    j["retrans"] = r.tcp->retrans;
    j["snd_cwnd"] = r.tcp->snd_cwnd;
    j["cwnd_bytes"] = uint64_t{r.tcp->snd_cwnd} * r.tcp->snd_mss;
    j["rtt"] = r.tcp->rtt;
  }
  return j;
}

double rate(uint64_t bytes, double seconds) { return seconds > 0 ? static_cast<double>(bytes) / seconds : 0; }

void rate_json(Json& j, uint64_t bytes, double seconds) {
  double bps = rate(bytes, seconds);
  j["bytes_per_second"] = bps;
  j["bits_per_second"] = bps * 8;
}

void header_once(Reporter& rep, bool* shown, std::string_view columns) {
  if (*shown || rep.json() || !rep.shows(0)) return;
  *shown = true;
  rep.text(std::string(columns) + "\n");
}

void clear_progress_line() {
  if (!g_progress_shown) return;
  std::fputs("\r\x1b[K", stderr);
  std::fflush(stderr);
  g_progress_shown = false;
}

bool want_progress(bool force_on, bool force_off, const Reporter& rep) {
  if (force_off) return false;
  if (force_on) return true;
  return !rep.json() && !rep.options().quiet && ::isatty(STDERR_FILENO) == 1;
}

TransferHooks make_transfer_hooks(Reporter& rep, const TransferContext& ctx, bool progress,
                                  std::optional<uint64_t> total) {
  TransferHooks h;
  h.on_interval = [&rep, ctx, shown = false](const IntervalReport& r) mutable {
    clear_progress_line();
    std::string tag = ctx.tag.empty() ? "" : "[" + ctx.tag + "] ";
    header_once(rep, &shown, tag + std::string(kIntervalColumns) + std::string(r.tcp ? kTcpColumns : ""));
    rep.event("interval", interval_json(ctx, r), tag + interval_text(r, rate(r.bytes, r.end - r.start)));
  };
  if (progress) {
    h.on_progress = [total](uint64_t bytes, double elapsed) {
      double bps = rate(bytes, elapsed);
      std::string line = fmt::format("{} {}", human_bytes(bytes), human_bits_per_second(bps));
      if (total && *total > 0) {
        line += fmt::format(" {:.0f}%", 100.0 * static_cast<double>(bytes) / static_cast<double>(*total));
        if (bps > 0 && *total > bytes) line += fmt::format(" ETA {}", human_duration(static_cast<double>(*total - bytes) / bps));
      }
      std::fprintf(stderr, "\r\x1b[K%s", line.c_str());
      std::fflush(stderr);
      g_progress_shown = true;
    };
  }
  h.on_stall = [&rep, ctx](const StallSnapshot& s, const std::string& why) {
    clear_progress_line();
    Json j = stall_json(s);
    j["direction"] = ctx.direction;
    j["message"] = why;
    // The error line itself comes from main(); JSON gets the numbers too.
    rep.event("stall", j, "");
  };
  return h;
}

namespace {

// The hooks of one --bidir direction, each call under the shared lock.
TransferHooks locked(TransferHooks h, std::mutex* mu) {
  TransferHooks out;
  out.on_interval = [h, mu](const IntervalReport& r) {
    std::lock_guard<std::mutex> g(*mu);
    h.on_interval(r);
  };
  out.on_stall = [h, mu](const StallSnapshot& s, const std::string& why) {
    std::lock_guard<std::mutex> g(*mu);
    h.on_stall(s, why);
  };
  return out;
}

}  // namespace

Status bidir_transfer(Reporter& rep, const TransferContext& ctx, Source& src, Sink& sink, bool until_peer_eof,
                      const TransferOptions& send_opts, const TransferOptions& recv_opts) {
  TransferContext tx = ctx, rx = ctx;
  tx.direction = "send";
  tx.tag = "TX";
  rx.direction = "recv";
  rx.tag = "RX";
  std::mutex mu;
  TransferHooks tx_hooks = locked(make_transfer_hooks(rep, tx, false, std::nullopt), &mu);
  TransferHooks rx_hooks = locked(make_transfer_hooks(rep, rx, false, std::nullopt), &mu);
  BidirSide send{&send_opts, &tx_hooks, {}, {}}, recv{&recv_opts, &rx_hooks, {}, {}};
  run_bidir(ctx.fd, src, sink, until_peer_eof, &send, &recv);
  report_summary(rep, tx, send.stats, send.outcome);
  report_summary(rep, rx, recv.stats, recv.outcome);
  if (!send.outcome.ok()) return send.outcome;
  return recv.outcome;
}

void report_summary(Reporter& rep, const TransferContext& ctx, const TransferStats& stats, const Status& outcome) {
  clear_progress_line();
  BufferSizes b = effective_buffers(ctx.fd);
  SummaryFacts f;
  f.direction = ctx.direction;
  f.peer = ctx.peer;
  f.bytes = stats.bytes;
  f.seconds = stats.seconds;
  f.checksum = stats.checksum;
  f.buffer = ctx.direction == "send" ? b.sndbuf : b.rcvbuf;
  f.stream = ctx.stream;
  if (auto ti = get_tcp_info(ctx.fd); ti.ok()) f.tcp = *ti;
  bool interrupted = !outcome.ok() && outcome.error().kind == ErrorKind::Interrupted;
  report_summary(rep, f, outcome.ok(), interrupted);
}

void report_summary(Reporter& rep, const SummaryFacts& f, bool complete, bool interrupted) {
  double bps = rate(f.bytes, f.seconds);
  bool sending = f.direction == "send";
  Json j{{"direction", f.direction}, {"bytes", f.bytes}, {"seconds", f.seconds}};
  rate_json(j, f.bytes, f.seconds);
  j["checksum"] = f.checksum ? Json(*f.checksum) : Json(nullptr);
  j[sending ? "sndbuf" : "rcvbuf"] = f.buffer;
  j["peer"] = endpoint_json(f.peer);
  std::string tcp;
  if (f.tcp) {
    j["tcp_info"] = tcp_info_json(*f.tcp);
    tcp = ", " + tcp_info_summary(*f.tcp);
  }
  j["complete"] = complete;
  if (interrupted) j["interrupted"] = true;
  if (f.id) j["id"] = *f.id;
  if (f.stream) j["stream"] = *f.stream;
  if (!f.error.empty()) j["error"] = f.error;
  std::string text = fmt::format("{}{} {} ({}) in {}: {:.0f} bytes/s ({}){}\n  {} {}, {} {}{}",
                                 f.stream ? fmt::format("[{:>3}] ", *f.stream) : "", sending ? "Sent" : "Received",
                                 counted(f.bytes, "byte"), human_bytes(f.bytes),
                                 human_duration(f.seconds), bps, human_bits_per_second(bps),
                                 interrupted ? " (interrupted)" : "", sending ? "to" : "from",
                                 endpoint_words(f.peer), sending ? "sndbuf" : "rcvbuf", f.buffer, tcp);
  if (f.checksum) text += fmt::format("\n  checksum {}", *f.checksum);
  if (!f.error.empty()) text += fmt::format("\n  incomplete: {}", f.error);
  rep.event("summary", j, text);
}

}  // namespace sp::app
