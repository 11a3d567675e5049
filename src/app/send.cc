// `sockprobe send HOST PORT [FILE|-]`: a measured transfer out (nc < file,
// iperf3 -c). Data comes from a file, stdin, or is generated (--size,
// --duration); --listen PORT sends to whoever connects instead. The summary
// goes to stdout.
#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include "app/common.h"
#include "app/peer.h"
#include "app/transfer_report.h"
#include "core/fd.h"
#include "core/transfer.h"

namespace sp::app {
namespace {

struct SendFlags {
  std::vector<std::string> args;  // HOST PORT [FILE|-]  or, with --listen, [FILE|-]
  SocketFlags sock;
  std::string listen_port;
  std::string size, duration, rate, chunk, pattern = "random";
  std::string interval, stall_timeout, timeout;
  bool checksum = false, progress = false, no_progress = false;
};

struct SendPlan {
  PeerSpec peer;
  std::string file;  // "" or "-" = stdin
  bool generated = false;
};

Result<SendPlan> plan_send(const SendFlags& f) {
  SendPlan plan;
  size_t want_positional;
  if (!f.listen_port.empty()) {
    auto p = parse_port(f.listen_port, true);
    if (!p.ok()) return usage_error(fmt::format("--listen: {}", p.error().message));
    plan.peer.listen = true;
    plan.peer.port = *p;
    plan.peer.host = f.sock.source;  // -s picks the bind address when listening
    want_positional = 0;
  } else if (!f.sock.unix_path.empty()) {
    want_positional = 0;
  } else {
    if (f.args.size() < 2) return usage_error(f.args.empty() ? "send: missing HOST and PORT" : "send: missing PORT");
    plan.peer.host = f.args[0];
    auto p = parse_port(f.args[1]);
    if (!p.ok()) return usage_error(fmt::format("send: PORT: {}", p.error().message));
    plan.peer.port = *p;
    want_positional = 2;
  }
  plan.peer.unix_path = f.sock.unix_path;
  if (f.args.size() > want_positional + 1) {
    return usage_error(fmt::format("send: unexpected argument '{}'", f.args[want_positional + 1]));
  }
  if (f.args.size() == want_positional + 1) plan.file = f.args[want_positional];
  plan.generated = !f.size.empty() || !f.duration.empty();
  if (plan.generated && !plan.file.empty() && !f.size.empty()) {
    return usage_error("send: give a FILE or --size, not both");
  }
  return plan;
}

Status run_send(const SendFlags& f, const GlobalOptions& g) {
  auto plan = plan_send(f);
  if (!plan.ok()) return plan.take_error();
  auto cfg = socket_config(f.sock, g);
  if (!cfg.ok()) return cfg.take_error();
  if (cfg->transport == Transport::Udp) return usage_error("send: measured transfers use TCP or Unix stream sockets (no -u)");
  auto size = size_flag("--size", f.size);
  if (!size.ok()) return size.take_error();
  auto duration = duration_flag("--duration", f.duration);
  if (!duration.ok()) return duration.take_error();
  auto chunk = size_flag("--chunk", f.chunk);
  if (!chunk.ok()) return chunk.take_error();
  auto interval = duration_flag("--interval", f.interval);
  if (!interval.ok()) return interval.take_error();
  auto stall = duration_flag("--stall-timeout", f.stall_timeout);
  if (!stall.ok()) return stall.take_error();
  auto timeout = duration_flag("--timeout", f.timeout);
  if (!timeout.ok()) return timeout.take_error();
  std::optional<uint64_t> rate;
  if (!f.rate.empty()) {
    auto r = parse_rate(f.rate);
    if (!r.ok()) return usage_error(fmt::format("--rate: {}", r.error().message));
    rate = *r;
  }
  if (f.pattern != "random" && f.pattern != "zero") {
    return usage_error(fmt::format("--pattern: '{}' is not a pattern (random or zero)", f.pattern));
  }
  if (chunk->has_value() && (**chunk == 0 || **chunk > (64u << 20))) {
    return usage_error(fmt::format("--chunk: '{}' must be from 1 byte to 64M", f.chunk));
  }
  if (interval->has_value() && interval->value().count() < 10'000'000) {
    return usage_error(fmt::format("--interval: '{}' is shorter than 10ms", f.interval));
  }

  TransferOptions to;
  if (chunk->has_value()) to.chunk = static_cast<size_t>(**chunk);
  if (rate) to.rate = *rate;
  if (duration->has_value()) to.duration = **duration;
  if (interval->has_value()) to.interval = **interval;
  if (stall->has_value()) to.stall_timeout = **stall;
  to.checksum = f.checksum;
  to.zero_copy = zero_copy_from_env();

  // Open the source before the network, so a missing file fails fast.
  Fd file;
  std::unique_ptr<Source> src;
  if (plan->generated && plan->file.empty()) {
    src = make_generated_source(*size, f.pattern == "zero" ? Pattern::Zero : Pattern::Random, to.chunk);
  } else if (plan->file.empty() || plan->file == "-") {
    src = make_fd_source(STDIN_FILENO, to.chunk, "stdin");
  } else {
    file.reset(::open(plan->file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!file.valid()) return system_error(fmt::format("open {}: {}", plan->file, errno_text(errno)));
    src = make_fd_source(file.get(), to.chunk, plan->file);
  }

  Reporter diag = make_reporter(g, stderr);
  Reporter rep = make_reporter(g, stdout);
  auto peer = open_peer(plan->peer, *cfg, timeout->value_or(Duration(0)), diag);
  if (!peer.ok()) return peer.take_error();

  TransferContext ctx{"send", peer->peer, peer->fd.get()};
  bool progress = want_progress(f.progress, f.no_progress, rep);
  TransferHooks hooks = make_transfer_hooks(rep, ctx, progress, src->size());
  if (progress) to.progress_every = std::chrono::milliseconds(250);
  TransferStats stats;
  Status st = send_stream(peer->fd.get(), *src, to, hooks, &stats);
  report_summary(rep, ctx, stats, st);
  return st;
}

}  // namespace

Command add_send(CLI::App& app, const GlobalOptions& g) {
  auto f = std::make_shared<SendFlags>();
  CLI::App* sub = app.add_subcommand("send", "Measured transfer out: a file, stdin, or generated bytes");
  sub->add_option("args", f->args, "HOST PORT [FILE|-] (with --listen: [FILE|-])")->type_name("HOST PORT [FILE]");
  add_socket_flags(sub, &f->sock, kFlagUnix | kFlagBuffers | kFlagSource);
  sub->add_option("--listen", f->listen_port, "Listen on PORT and send to whoever connects")->type_name("PORT");
  sub->add_option("--size", f->size, "Send SIZE generated bytes instead of a file")->type_name("SIZE");
  sub->add_option("--duration", f->duration, "Send generated bytes for DURATION (like iperf3 -t)")->type_name("DURATION");
  sub->add_option("--pattern", f->pattern, "Generated bytes: random (default) or zero")->type_name("PATTERN");
  sub->add_option("--rate", f->rate, "Pace to RATE (bytes/s like 10M, or 100Mbit)")->type_name("RATE");
  sub->add_option("--chunk", f->chunk, "Write size (default 256K)")->type_name("SIZE");
  sub->add_flag("--checksum", f->checksum, "Compute XXH3-128 of what was sent");
  sub->add_option("--interval", f->interval, "Print a line every DURATION (like iperf3 -i)")->type_name("DURATION");
  sub->add_option("--stall-timeout", f->stall_timeout, "Give up, explaining why, after DURATION without progress (default 10s; 0: never)")
      ->type_name("DURATION");
  sub->add_option("-w,--timeout", f->timeout, "Connect timeout (default: none)")->type_name("DURATION");
  sub->add_flag("--progress", f->progress, "Show a progress line on stderr even when it is not a terminal");
  sub->add_flag("--no-progress", f->no_progress, "Never show the progress line");
  return {sub, [f, &g] { return run_send(*f, g); }};
}

}  // namespace sp::app
