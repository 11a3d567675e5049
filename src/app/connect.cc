// `sockprobe connect HOST PORT`: nc with reports. Relays stdin/stdout over
// one connection, or with -z checks ports (lists and ranges; --concurrency
// at once; --wait until they open) and exits 0 only when every one is open.
#include <unistd.h>

#include <chrono>

#include <fmt/format.h>

#include "app/burst_report.h"
#include "app/common.h"
#include "app/conn_report.h"
#include "app/peer.h"
#include "core/portscan.h"
#include "core/relay.h"
#include "core/sock.h"
#include "core/textsafe.h"

namespace sp::app {
namespace {

constexpr Duration kDatagramReplyWait = std::chrono::seconds(1);

struct ConnectFlags {
  std::vector<std::string> args;  // HOST PORT
  SocketFlags sock;
  bool zero_io = false;
  std::string timeout, idle_timeout, wait;
  RelayFlags relay;
  BurstFlags burst;
};

// -z: one line per port, in the order given (probes run --concurrency at
// once). Exit: any unresolved or closed -> 1; else any timeout, or a --wait
// whose deadline passed -> 3. With -q nothing is printed: the status speaks
// (with --json the events and the error event are printed as without -q).
Status scan_ports(Reporter& rep, const std::string& host, const std::vector<uint16_t>& ports,
                  const SocketConfig& cfg, const ScanOptions& opts) {
  int closed = 0, timed_out = 0, unresolved = 0;
  std::string resolve_error;
  Status st = probe_ports(host, ports, cfg, opts, [&](const PortProbe& p) {
    Json j = {{"host", host}, {"port", p.port}, {"protocol", transport_name(cfg.transport)},
              {"state", port_state_name(p.state)}, {"seconds", p.seconds}};
    if (opts.wait) j["attempts"] = p.attempts;
    std::string line = fmt::format("{} {} {}", terminal_safe(host), p.port, port_state_name(p.state));
    if (p.state == PortState::Open) {
      j["address"] = format_host(p.peer);
      rep.event("port", j, fmt::format("{} ({}, {})", line, format_host(p.peer), human_duration(p.seconds)));
      return;
    }
    j["error"] = p.error;
    rep.event("port", j, fmt::format("{} ({})", line, p.error));
    if (p.state == PortState::Unresolved) {
      ++unresolved;
      resolve_error = p.error;
    } else {
      ++(p.state == PortState::Timeout ? timed_out : closed);
    }
  });
  if (!st) return st;
  // Under -q the summary is not printed either (an empty message). -q
  // silences human text only: with --json the error event keeps its message
  // (a script asked for the events, and "message":"" would tell it nothing).
  auto say = [&](std::string msg) { return rep.quiet() && !rep.json() ? std::string() : msg; };
  if (unresolved > 0) return system_error(say(resolve_error));
  if (opts.wait && (closed > 0 || timed_out > 0)) {
    return timeout_error(say(fmt::format("{} of {} ports on {} not open after waiting {}", closed + timed_out,
                                         ports.size(), host, human_duration(std::chrono::duration<double>(*opts.wait).count()))));
  }
  if (closed > 0) return system_error(say(fmt::format("{} of {} ports closed on {}", closed, ports.size(), host)));
  if (timed_out > 0) return timeout_error(say(fmt::format("{} of {} ports timed out on {}", timed_out, ports.size(), host)));
  return {};
}

// -z's options: -w per attempt, --concurrency (default 1; with --wait every
// port at once, up to 64), --wait DEADLINE.
Result<ScanOptions> scan_options(const ConnectFlags& f, Duration connect_timeout, size_t nports) {
  ScanOptions o;
  o.timeout = connect_timeout;
  auto wait = duration_flag("--wait", f.wait);
  if (!wait.ok()) return wait.take_error();
  o.wait = *wait;
  auto conc = count_flag("--concurrency", f.burst.concurrency, 1, 1024);
  if (!conc.ok()) return conc.take_error();
  o.concurrency = conc->has_value() ? static_cast<size_t>(**conc) : o.wait ? std::min<size_t>(nports, 64) : 1;
  return o;
}

// What `connect` will do, with every usage error found before any socket.
struct ConnectPlan {
  enum class Mode { Relay, Scan, Burst } mode = Mode::Relay;
  std::string host;
  std::vector<uint16_t> ports;  // one, except -z
  std::string unix_path;
  SocketConfig cfg;
  Duration connect_timeout{0};  // 0: none
  ScanOptions scan;             // -z
  BurstOptions burst;           // --count
  RelayOptions relay;
};

// HOST PORT (with -z: PORT a list), or --unix with neither.
Status connect_target(const ConnectFlags& f, ConnectPlan* p) {
  if (!p->unix_path.empty()) {
    if (!f.args.empty()) return usage_error("connect: --unix takes no HOST or PORT");
    if (f.zero_io) return usage_error("connect: -z checks TCP ports; it does not take --unix");
    return {};
  }
  if (f.args.size() < 2) return usage_error(f.args.empty() ? "connect: missing HOST and PORT" : "connect: missing PORT");
  if (f.args.size() > 2) return usage_error(fmt::format("connect: unexpected argument '{}'", f.args[2]));
  p->host = f.args[0];
  if (f.zero_io) {
    auto list = parse_port_list(f.args[1]);
    if (!list.ok()) return usage_error(fmt::format("connect: PORT: {}", list.error().message));
    p->ports = *list;
    return {};
  }
  auto port = parse_port(f.args[1]);
  if (!port.ok()) return usage_error(fmt::format("connect: PORT: {}", port.error().message));
  p->ports.push_back(*port);
  return {};
}

// The relay's options: datagrams have no EOF, so after stdin's wait -w
// (default 1 s) for replies, then exit 0 (nc -u -w).
Status plan_relay(const ConnectFlags& f, std::optional<Duration> timeout, std::optional<Duration> idle,
                  ConnectPlan* p) {
  auto ro = relay_options(f.relay, STDIN_FILENO);
  if (!ro.ok()) return ro.take_error();
  p->relay = std::move(*ro);
  p->relay.datagram = p->cfg.transport == Transport::Udp;
  if (p->relay.datagram) p->relay.reply_wait = timeout.value_or(kDatagramReplyWait);
  if (idle) p->relay.idle_timeout = *idle;
  return {};
}

Result<ConnectPlan> plan_connect(const ConnectFlags& f, const GlobalOptions& g) {
  ConnectPlan p;
  p.unix_path = f.sock.unix_path;
  auto cfg = socket_config(f.sock, g);
  if (!cfg.ok()) return cfg.take_error();
  p.cfg = *cfg;
  auto timeout = duration_flag("--timeout", f.timeout);
  if (!timeout.ok()) return timeout.take_error();
  p.connect_timeout = timeout->value_or(Duration(0));
  auto idle = duration_flag("--idle-timeout", f.idle_timeout);
  if (!idle.ok()) return idle.take_error();
  if (auto s = connect_target(f, &p); !s) return s.error();
  if (f.zero_io) {
    if (p.cfg.transport == Transport::Udp) return usage_error("connect: -z checks TCP ports; UDP has no handshake to check");
    auto so = scan_options(f, p.connect_timeout, p.ports.size());
    if (!so.ok()) return so.take_error();
    p.mode = ConnectPlan::Mode::Scan;
    p.scan = *so;
    return p;
  }
  auto burst = burst_options(f.burst, *timeout);
  if (!burst.ok()) return burst.take_error();
  if (burst->has_value()) {
    if (!p.unix_path.empty() || p.cfg.transport == Transport::Udp) {
      return usage_error("connect: --count bursts are TCP only (no -U or -u)");
    }
    p.mode = ConnectPlan::Mode::Burst;
    p.burst = **burst;
    return p;
  }
  if (auto s = plan_relay(f, *timeout, *idle, &p); !s) return s.error();
  return p;
}

// One connection relayed to stdin/stdout; reports on stderr.
Status relay_connection(const GlobalOptions& g, ConnectPlan& p) {
  Reporter rep = make_reporter(g, stderr);
  report_relay_stalls(&p.relay, rep);
  auto conn = p.unix_path.empty() ? remote_connect(p.host, p.ports[0], p.cfg, p.connect_timeout)
                                  : unix_connect(p.unix_path, p.cfg, p.connect_timeout);
  if (!conn.ok()) return conn.take_error();
  for (const auto& failure : conn->failures) rep.event("attempt_failed", Json{{"error", failure}}, failure, 1);
  report_connected(rep, conn->fd.get(), conn->peer, p.cfg.transport);
  p.relay.target = peer_target(conn->peer, p.cfg.transport);
  RelayStats stats;
  ConnectionReport rc;
  rc.id = 1;
  rc.peer = conn->peer;
  auto started = std::chrono::steady_clock::now();
  Status st = readwrite(conn->fd.get(), STDIN_FILENO, STDOUT_FILENO, p.relay, &stats);
  finish_connection(rep, conn->fd.get(), rc, stats, started, st);
  return st;
}

// -z and --count report on stdout (their lines are the result).
Status run_connect(const ConnectFlags& f, const GlobalOptions& g) {
  auto plan = plan_connect(f, g);
  if (!plan.ok()) return plan.take_error();
  switch (plan->mode) {
    case ConnectPlan::Mode::Scan: {
      Reporter rep = make_reporter(g, stdout);
      return scan_ports(rep, plan->host, plan->ports, plan->cfg, plan->scan);
    }
    case ConnectPlan::Mode::Burst: {
      Reporter rep = make_reporter(g, stdout);
      return run_connect_burst(rep, plan->host, plan->ports[0], plan->cfg, plan->burst);
    }
    case ConnectPlan::Mode::Relay: break;
  }
  return relay_connection(g, *plan);
}

}  // namespace

Command add_connect(CLI::App& app, const GlobalOptions& g) {
  auto f = std::make_shared<ConnectFlags>();
  CLI::App* sub = app.add_subcommand("connect", "Connect; relay stdin/stdout, or -z check ports");
  sub->footer(
      "Examples:\n"
      "  echo hello | sockprobe connect 127.0.0.1 9000\n"
      "  sockprobe connect -z -w 1s 127.0.0.1 22,80,8000-8010\n"
      "  sockprobe connect -z --wait 30s db.internal 5432   # until the port opens (exit 3: it did not)\n"
      "  sockprobe connect --count 10000 --concurrency 100 127.0.0.1 8080");
  sub->add_option("args", f->args, "HOST PORT (with -z: PORT may be a list like 22,80,8000-8010)")
      ->type_name("HOST PORT");
  add_socket_flags(sub, &f->sock);
  sub->add_flag("-z,--zero-io", f->zero_io, "Only check that the ports accept connections");
  sub->add_option("-w,--timeout", f->timeout, "Connect timeout (default: none, like nc)")->type_name("DURATION");
  sub->add_option("--idle-timeout", f->idle_timeout, "Close after DURATION with no data")->type_name("DURATION");
  sub->add_option("--wait", f->wait, "With -z: retry until the ports open (exit 0) or DEADLINE passes (exit 3)")
      ->type_name("DEADLINE");
  add_relay_flags(sub, &f->relay);
  add_burst_flags(sub, &f->burst);
  return {sub, [f, &g] { return run_connect(*f, g); }};
}

}  // namespace sp::app
