// `sockprobe recv [HOST] PORT`: a measured transfer in (nc -l > file,
// iperf3 -s). Listens by default; --connect pulls from a server instead.
// Output goes to stdout, to -o FILE (renamed into place only when complete
// and verified), or nowhere (--discard). --expect-bytes and
// --expect-checksum turn it into an integrity check (exit 4 on mismatch).
#include <unistd.h>

#include <fmt/format.h>

#include "app/common.h"
#include "app/peer.h"
#include "app/transfer_flags.h"
#include "app/conn_report.h"
#include "app/transfer_report.h"
#include "app/streams_report.h"
#include "app/udp_report.h"
#include "core/checksum.h"
#include "core/signals.h"
#include "core/transfer.h"
#include "core/parallel.h"
#include "core/serve.h"
#include "core/udptransfer.h"

namespace sp::app {
namespace {

struct RecvFlags {
  std::vector<std::string> args;  // [HOST] PORT
  SocketFlags sock;
  bool connect = false, discard = false, keep_open = false, bidir = false;
  std::string output, expect_bytes, expect_checksum, idle_timeout, max_conns, parallel;
  TransferFlags transfer;
};

Result<PeerSpec> plan_peer(const RecvFlags& f) {
  PeerSpec spec;
  spec.listen = !f.connect;
  spec.unix_path = f.sock.unix_path;
  if (!spec.unix_path.empty()) {
    if (!f.args.empty()) return usage_error("recv: --unix takes no HOST or PORT");
    return spec;
  }
  size_t need = f.connect ? 2 : 1;
  if (f.args.size() < need) return usage_error(f.connect ? "recv --connect: missing HOST and PORT" : "recv: missing PORT (use 0 to let the kernel choose)");
  if (f.args.size() > 2) return usage_error(fmt::format("recv: unexpected argument '{}'", f.args[2]));
  auto p = parse_port(f.args.back(), !f.connect);
  if (!p.ok()) return usage_error(fmt::format("recv: PORT: {}", p.error().message));
  spec.port = *p;
  if (f.args.size() == 2) spec.host = f.args[0];
  return spec;
}

// --expect-bytes / --expect-checksum against what arrived.
Status verify(const TransferStats& stats, std::optional<uint64_t> expect_bytes,
              const std::optional<std::string>& expect_sum) {
  if (expect_bytes && stats.bytes != *expect_bytes) {
    return check_error(fmt::format("received {} bytes, expected {}", stats.bytes, *expect_bytes));
  }
  if (expect_sum && stats.checksum && *stats.checksum != "xxh3-128:" + *expect_sum) {
    return check_error(fmt::format("checksum mismatch: expected xxh3-128:{}, got {}", *expect_sum, *stats.checksum));
  }
  return {};
}

// recv -u: counts what a send -u sent (core/udptransfer.h); the datagrams'
// bytes are not written anywhere (they may come lost, twice or out of order).
Status run_recv_udp(const RecvFlags& f, const GlobalOptions& g, const PeerSpec& spec, const SocketConfig& cfg) {
  auto idle = duration_flag("--idle-timeout", f.idle_timeout);
  if (!idle.ok()) return idle.take_error();
  auto settings = transfer_settings(f.transfer);
  if (!settings.ok()) return settings.take_error();
  Reporter diag = make_reporter(g, stderr);
  Reporter rep = make_reporter(g, stdout);
  auto l = open_listener(spec, cfg, diag);
  if (!l.ok()) return l.take_error();
  UdpRecvOptions uo;
  if (idle->has_value()) uo.idle_timeout = **idle;
  uo.interval = settings->options.interval;
  uo.target = peer_target(l->local, Transport::Udp, spec.unix_path);
  UdpHostCounters host = read_host_udp_counters();
  UdpRecvStats stats;
  Status st = udp_recv(l->fd.get(), uo, make_udp_recv_hooks(rep), &stats);
  report_udp_recv(rep, l->fd.get(), stats, host, st);
  return st;
}

// One sender of recv -k, reported when it closed.
SummaryFacts sender_facts(const ConnectionReport& c) {
  SummaryFacts f;
  f.direction = "recv";
  f.peer = c.peer;
  f.bytes = c.bytes_in;
  f.seconds = c.seconds;
  f.checksum = c.checksum;
  f.buffer = c.rcvbuf;
  if (c.has_tcp_info) f.tcp = c.tcp_info;
  f.id = c.id;
  f.error = c.error;
  return f;
}

// recv -k: every sender's summary as it closes (and the whole server's
// bytes per --interval), until Ctrl-C, then the totals (exit 130).
ServeHooks keep_open_hooks(Reporter& rep, Reporter& diag, int lfd, ServedTotals* totals) {
  ServeHooks h;
  h.on_backoff = [&diag](int err, std::chrono::milliseconds d) {
    diag.warning(fmt::format("accept: {}; retrying in {}ms (backing off up to 1s)", errno_text(err), d.count()));
  };
  h.on_accept = [&diag, lfd](const ConnectionReport& c) { report_accepted(diag, lfd, c); };
  h.on_max_conns = [&diag](size_t n) {
    diag.warning(fmt::format("--max-conns {} reached: further senders wait in the accept queue", n));
  };
  h.on_close = [&rep, totals](const ConnectionReport& c) {
    totals->add(c);
    report_summary(rep, sender_facts(c), c.error.empty(), c.error == "interrupted");
  };
  h.on_interval = [&rep, shown = false](const ServeInterval& iv) mutable {
    header_once(rep, &shown, "[  start-    end s]        bytes       human           rate  senders");
    Json j{{"direction", "recv"}, {"start", iv.start}, {"end", iv.end}, {"bytes", iv.bytes_in}, {"senders", iv.open}};
    double bps = rate(iv.bytes_in, iv.end - iv.start);
    rate_json(j, iv.bytes_in, iv.end - iv.start);
    rep.event("interval", j,
              fmt::format("[{:7.2f}-{:7.2f} s] {:>12} {:>11} {:>14} {:>8}", iv.start, iv.end, iv.bytes_in,
                          human_bytes(iv.bytes_in), human_bits_per_second(bps), iv.open));
  };
  return h;
}

Status run_recv_keep(const RecvFlags& f, const GlobalOptions& g, const PeerSpec& spec, const SocketConfig& cfg,
                     const TransferSettings& settings) {
  auto max_conns = count_flag("--max-conns", f.max_conns, 1, 1000000);
  if (!max_conns.ok()) return max_conns.take_error();
  ServeOptions so;
  so.mode = ServeOptions::Mode::Discard;
  so.max_conns = static_cast<size_t>(max_conns->has_value() ? **max_conns : default_max_conns());
  so.checksum = settings.options.checksum;
  so.interval = settings.options.interval;
  // Decision: a sender's two quiet limits, as iperf3's server has none by
  // default: --idle-timeout closes one that sent nothing since it
  // connected (a dead or silent client, a port check), --stall-timeout
  // one whose bytes stopped at any point. Neither is on unless given.
  auto idle = duration_flag("--idle-timeout", f.idle_timeout);
  if (!idle.ok()) return idle.take_error();
  if (idle->has_value()) {
    so.silent_timeout = **idle;
    so.silent_reason = fmt::format("no byte since it connected, {} (--idle-timeout)",
                                   human_duration(std::chrono::duration<double>(so.silent_timeout).count()));
  }
  if (settings.stall_timeout) {
    so.idle_timeout = *settings.stall_timeout;
    so.idle_reason = fmt::format("no data for {} (--stall-timeout)",
                                 human_duration(std::chrono::duration<double>(so.idle_timeout).count()));
  }
  Reporter diag = make_reporter(g, stderr);
  Reporter rep = make_reporter(g, stdout);
  auto l = open_listener(spec, cfg, diag);
  if (!l.ok()) return l.take_error();
  ServedTotals totals;
  ServeHooks hooks = keep_open_hooks(rep, diag, l->fd.get(), &totals);
  Status st = serve(l->fd.get(), so, hooks);
  if (!st && st.error().kind == ErrorKind::Interrupted) totals.report(rep);  // exit 130 follows
  return st;
}

// recv -P N: the first N connections (a send -P N, or any N senders such
// as nc), each a recv_stream of its own in its own thread, the bytes
// dropped; per-stream lines and sums, each stream's summary, the total.
Status run_recv_parallel(const PeerSpec& spec, const SocketConfig& cfg, const TransferSettings& settings,
                         size_t n, const GlobalOptions& g) {
  Reporter diag = make_reporter(g, stderr);
  Reporter rep = make_reporter(g, stdout);
  auto l = open_listener(spec, cfg, diag);
  if (!l.ok()) return l.take_error();
  std::vector<StreamEnd> ends(n);
  std::vector<Fd> fds;
  AcceptBackoff backoff;
  for (size_t i = 0; i < n; ++i) {
    ConnectionReport rc;
    auto fd = accept_allowed(l->fd.get(), {}, {}, &backoff, {}, &rc.peer);
    if (!fd.ok()) return fd.take_error();
    rc.id = i + 1;
    BufferSizes b = effective_buffers(fd->get());
    rc.sndbuf = b.sndbuf;
    rc.rcvbuf = b.rcvbuf;
    report_accepted(diag, l->fd.get(), rc);
    ends[i].ctx = TransferContext{"recv", rc.peer, fd->get(), i + 1, ""};
    fds.push_back(std::move(*fd));
  }
  StreamsReport report(rep, "recv", n, settings.options.interval);
  TransferOptions to = settings.options;
  to.stall_timeout = settings.stall_timeout.value_or(Duration(0));
  auto t0 = std::chrono::steady_clock::now();
  run_streams(n, [&](size_t i) {
    StreamEnd& e = ends[i];
    auto sink = make_discard_sink();
    TransferOptions o = to;
    o.target = peer_target(e.ctx.peer, cfg.transport, spec.unix_path);
    e.outcome = recv_stream(e.ctx.fd, *sink, o, report.hooks(i), &e.stats);
    report.finished(i);
    return e.outcome;
  });
  return report.finish(ends, seconds_since(t0));
}

// --expect-checksum as 32 hex digits, if given.
Result<std::optional<std::string>> expected_checksum(const std::string& text) {
  if (text.empty()) return std::optional<std::string>();
  auto c = parse_checksum(text);
  if (!c.ok()) return usage_error(fmt::format("--expect-checksum: {}", c.error().message));
  return std::optional<std::string>(*c);
}

// Where the bytes go: nowhere (--discard), -o FILE (renamed into place when
// complete), or standard output (*on_stdout).
Result<std::unique_ptr<Sink>> open_sink(const RecvFlags& f, bool* on_stdout) {
  if (f.discard) return make_discard_sink();
  if (!f.output.empty() && f.output != "-") return make_file_sink(f.output);
  *on_stdout = true;
  return make_fd_sink(STDOUT_FILENO, "stdout");
}

Status run_recv(const RecvFlags& f, const GlobalOptions& g) {
  auto spec = plan_peer(f);
  if (!spec.ok()) return spec.take_error();
  auto cfg = socket_config(f.sock, g);
  if (!cfg.ok()) return cfg.take_error();
  if (cfg->transport == Transport::Udp) return run_recv_udp(f, g, *spec, *cfg);
  if (f.discard && !f.output.empty()) return usage_error("recv: -o and --discard exclude each other");
  auto expect_bytes = size_flag("--expect-bytes", f.expect_bytes);
  if (!expect_bytes.ok()) return expect_bytes.take_error();
  auto expect_sum = expected_checksum(f.expect_checksum);
  if (!expect_sum.ok()) return expect_sum.take_error();
  auto settings = transfer_settings(f.transfer);
  if (!settings.ok()) return settings.take_error();
  if (f.keep_open) return run_recv_keep(f, g, *spec, *cfg, *settings);
  auto parallel = count_flag("--parallel", f.parallel, 1, 128);
  if (!parallel.ok()) return parallel.take_error();
  if (parallel->has_value()) return run_recv_parallel(*spec, *cfg, *settings, static_cast<size_t>(**parallel), g);

  TransferOptions to = settings->options;
  // A receiver cannot tell a stalled network from a sender whose source is
  // quiet (tar pausing, a log tail), so recv waits indefinitely unless
  // --stall-timeout is given; send keeps its 10 s default because it only
  // counts time with bytes stuck in its own socket.
  to.stall_timeout = settings->stall_timeout.value_or(Duration(0));
  to.checksum = to.checksum || expect_sum->has_value();

  // Create the output before the network so a bad path fails fast.
  bool data_on_stdout = false;
  auto made = open_sink(f, &data_on_stdout);
  if (!made.ok()) return made.take_error();
  std::unique_ptr<Sink> sink = std::move(*made);

  Reporter diag = make_reporter(g, stderr);
  Reporter rep = make_reporter(g, data_on_stdout ? stderr : stdout);
  auto peer = open_peer(*spec, *cfg, settings->connect_timeout, diag);
  if (!peer.ok()) return peer.take_error();
  to.target = peer_target(peer->peer, cfg->transport, f.sock.unix_path);

  TransferContext ctx{"recv", peer->peer, peer->fd.get(), std::nullopt, ""};
  if (f.bidir) {
    // Generated bytes go back until the sender's EOF; send's stall default.
    auto back = make_generated_source(std::nullopt, Pattern::Random, kDefaultChunk);
    TransferOptions out = settings->options;
    out.target = to.target;
    out.stall_timeout = settings->stall_timeout.value_or(std::chrono::seconds(10));
    Status st = bidir_transfer(rep, ctx, *back, *sink, true, out, to);
    return st ? sink->commit() : st;
  }
  bool progress = want_progress(f.transfer.progress, f.transfer.no_progress, rep);
  TransferHooks hooks = make_transfer_hooks(rep, ctx, progress, *expect_bytes);
  if (progress) to.progress_every = std::chrono::milliseconds(250);
  TransferStats stats;
  Status st = recv_stream(peer->fd.get(), *sink, to, hooks, &stats);
  if (!st && interrupted()) st = interrupted_error();  // e.g. SIGINT while stdout was blocked
  if (st) st = verify(stats, *expect_bytes, *expect_sum);
  if (st) st = sink->commit();
  report_summary(rep, ctx, stats, st);
  return st;
}

}  // namespace

Command add_recv(CLI::App& app, const GlobalOptions& g) {
  auto f = std::make_shared<RecvFlags>();
  CLI::App* sub = app.add_subcommand("recv", "Measured transfer in: listen (or --connect) and receive");
  sub->footer(
      "Examples:\n"
      "  sockprobe recv -o copy.iso --expect-bytes 700M 9000\n"
      "  sockprobe recv --discard 9000                 # measure only\n"
      "  sockprobe recv --connect host 9000 > data.bin");
  sub->add_option("args", f->args, "[HOST] PORT to listen on (0: the kernel picks); with --connect: HOST PORT")
      ->type_name("[HOST] PORT");
  add_socket_flags(sub, &f->sock, kFlagUdp | kFlagUnix | kFlagBuffers);
  sub->add_flag("--connect", f->connect, "Connect to HOST PORT and receive from it instead of listening");
  sub->add_option("-o,--output", f->output, "Write to FILE (renamed into place when complete)")->type_name("FILE");
  sub->add_flag("--discard", f->discard, "Drop the bytes (measure only)");
  sub->add_flag("--bidir", f->bidir,
                "Also send generated bytes back until the sender's EOF (like iperf3 --bidir)");
  sub->add_flag("-k,--keep-open", f->keep_open,
                "Serve every sender, at once and in turn, each with its own summary, until Ctrl-C (the bytes are "
                "counted and dropped)");
  sub->add_option("-P,--parallel", f->parallel,
                  "Take N connections (a send -P N, or N senders such as nc) and receive them at once (1-128; "
                  "the bytes are dropped)")
      ->type_name("N");
  sub->add_option("--max-conns", f->max_conns,
                  "With -k: senders served at once (default: ulimit -n, raised to the hard limit, less 16)")
      ->type_name("N");
  sub->add_option("--idle-timeout", f->idle_timeout,
                  "With -u: end (exit 3) after DURATION without datagrams and no final one (default 5s); with -k: "
                  "close a sender that sent nothing for DURATION since it connected")
      ->type_name("DURATION");
  sub->add_option("--expect-bytes", f->expect_bytes, "Exit 4 unless exactly SIZE bytes arrive")->type_name("SIZE");
  sub->add_option("--expect-checksum", f->expect_checksum, "Exit 4 unless the XXH3-128 matches (xxh3-128:HEX)")
      ->type_name("SUM");
  add_transfer_flags(sub, &f->transfer,
                     {.chunk = "Read size (default 256K; 4M into a regular file)",
                      .checksum = "Compute XXH3-128 of what arrived",
                      .stall_timeout = "Give up, explaining why, after DURATION without data (default: never)",
                      .timeout = "Connect timeout with --connect (default: none)"});
  return {sub, [f, &g] { return run_recv(*f, g); }};
}

}  // namespace sp::app
