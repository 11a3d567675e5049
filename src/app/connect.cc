// `sockprobe connect HOST PORT`: nc with reports. Relays stdin/stdout over
// one connection, or with -z checks ports (lists and ranges) and exits 0
// only when every one is open.
#include <unistd.h>

#include <chrono>

#include <fmt/format.h>

#include "app/burst_report.h"
#include "app/common.h"
#include "app/conn_report.h"
#include "app/peer.h"
#include "core/relay.h"
#include "core/sock.h"

namespace sp::app {
namespace {

constexpr Duration kDatagramReplyWait = std::chrono::seconds(1);

struct ConnectFlags {
  std::vector<std::string> args;  // HOST PORT
  SocketFlags sock;
  bool zero_io = false;
  std::string timeout, idle_timeout;
  RelayFlags relay;
  BurstFlags burst;
};

// -z: one line per port; refused/unreachable -> exit 1, else any timeout -> 3.
Status scan_ports(Reporter& rep, const std::string& host, const std::vector<uint16_t>& ports,
                  const SocketConfig& cfg, Duration timeout) {
  int closed = 0, timed_out = 0;
  for (uint16_t port : ports) {
    auto started = std::chrono::steady_clock::now();
    auto c = remote_connect(host, port, cfg, timeout);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    Json j = {{"host", host}, {"port", port}, {"protocol", transport_name(cfg.transport)}};
    if (c.ok()) {
      j["state"] = "open";
      j["address"] = format_host(c->peer);
      j["seconds"] = secs;
      rep.event("port", j, fmt::format("{} {} open ({}, {})", host, port, format_host(c->peer), human_duration(secs)));
      continue;
    }
    if (c.error().kind == ErrorKind::Interrupted) return c.take_error();
    bool is_timeout = c.error().kind == ErrorKind::Timeout;
    (is_timeout ? timed_out : closed)++;
    j["state"] = is_timeout ? "timeout" : "closed";
    j["error"] = c.error().message;
    j["seconds"] = secs;
    rep.event("port", j, fmt::format("{} {} {} ({})", host, port, is_timeout ? "timeout" : "closed", c.error().message));
  }
  if (closed > 0) return system_error(fmt::format("{} of {} ports closed on {}", closed, ports.size(), host));
  if (timed_out > 0) return timeout_error(fmt::format("{} of {} ports timed out on {}", timed_out, ports.size(), host));
  return {};
}

Status run_connect(const ConnectFlags& f, const GlobalOptions& g) {
  bool unix_given = !f.sock.unix_path.empty();
  auto cfg = socket_config(f.sock, g);
  if (!cfg.ok()) return cfg.take_error();
  auto timeout = duration_flag("--timeout", f.timeout);
  if (!timeout.ok()) return timeout.take_error();
  auto idle = duration_flag("--idle-timeout", f.idle_timeout);
  if (!idle.ok()) return idle.take_error();
  Duration connect_timeout = timeout->value_or(Duration(0));

  std::string host;
  std::vector<uint16_t> ports;
  if (unix_given) {
    if (!f.args.empty()) return usage_error("connect: --unix takes no HOST or PORT");
    if (f.zero_io) return usage_error("connect: -z checks TCP ports; it does not take --unix");
  } else {
    if (f.args.size() < 2) return usage_error(f.args.empty() ? "connect: missing HOST and PORT" : "connect: missing PORT");
    if (f.args.size() > 2) return usage_error(fmt::format("connect: unexpected argument '{}'", f.args[2]));
    host = f.args[0];
    if (f.zero_io) {
      auto list = parse_port_list(f.args[1]);
      if (!list.ok()) return usage_error(fmt::format("connect: PORT: {}", list.error().message));
      ports = *list;
    } else {
      auto p = parse_port(f.args[1]);
      if (!p.ok()) return usage_error(fmt::format("connect: PORT: {}", p.error().message));
      ports.push_back(*p);
    }
  }
  auto burst = burst_options(f.burst, *timeout);
  if (!burst.ok()) return burst.take_error();
  if (burst->has_value()) {
    if (unix_given || f.zero_io || cfg->transport == Transport::Udp) {
      return usage_error("connect: --count bursts are TCP only (no -U, -u or -z)");
    }
    Reporter rep = make_reporter(g, stdout);
    return run_connect_burst(rep, host, ports[0], *cfg, **burst);
  }
  if (f.zero_io) {
    if (cfg->transport == Transport::Udp) return usage_error("connect: -z checks TCP ports; UDP has no handshake to check");
    Reporter rep = make_reporter(g, stdout);
    return scan_ports(rep, host, ports, *cfg, connect_timeout);
  }

  Reporter rep = make_reporter(g, stderr);
  auto ro = relay_options(f.relay, STDIN_FILENO, rep);
  if (!ro.ok()) return ro.take_error();
  auto conn = unix_given ? unix_connect(f.sock.unix_path, *cfg, connect_timeout)
                         : remote_connect(host, ports[0], *cfg, connect_timeout);
  if (!conn.ok()) return conn.take_error();
  for (const auto& failure : conn->failures) rep.event("attempt_failed", Json{{"error", failure}}, failure, 1);
  report_connected(rep, conn->fd.get(), conn->peer, cfg->transport);

  ro->datagram = cfg->transport == Transport::Udp;
  // Datagrams have no EOF: after stdin's, wait -w (default 1 s) for
  // replies, then exit 0 (nc -u -w).
  if (ro->datagram) ro->reply_wait = timeout->value_or(kDatagramReplyWait);
  ro->target = peer_target(conn->peer, cfg->transport);
  if (idle->has_value()) ro->idle_timeout = **idle;
  RelayStats stats;
  ConnectionReport rc;
  rc.id = 1;
  rc.peer = conn->peer;
  auto started = std::chrono::steady_clock::now();
  Status st = readwrite(conn->fd.get(), STDIN_FILENO, STDOUT_FILENO, *ro, &stats);
  finish_connection(rep, conn->fd.get(), rc, stats, started, st);
  return st;
}

}  // namespace

Command add_connect(CLI::App& app, const GlobalOptions& g) {
  auto f = std::make_shared<ConnectFlags>();
  CLI::App* sub = app.add_subcommand("connect", "Connect; relay stdin/stdout, or -z check ports");
  sub->add_option("args", f->args, "HOST PORT (with -z: PORT may be a list like 22,80,8000-8010)")
      ->type_name("HOST PORT");
  add_socket_flags(sub, &f->sock);
  sub->add_flag("-z,--zero-io", f->zero_io, "Only check that the ports accept connections");
  sub->add_option("-w,--timeout", f->timeout, "Connect timeout (default: none, like nc)")->type_name("DURATION");
  sub->add_option("--idle-timeout", f->idle_timeout, "Close after DURATION with no data")->type_name("DURATION");
  add_relay_flags(sub, &f->relay);
  add_burst_flags(sub, &f->burst);
  return {sub, [f, &g] { return run_connect(*f, g); }};
}

}  // namespace sp::app
