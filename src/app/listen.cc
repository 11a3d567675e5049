// `sockprobe listen [HOST] PORT`: nc -l with reports. Binds, says
// "Listening on ADDRESS PORT" (the line scripts wait for), then relays one
// connection to stdin/stdout (-k: one after another), or serves many at once
// with --echo / --discard.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>

#include <fmt/format.h>

#include "app/common.h"
#include "app/conn_report.h"
#include "app/peer.h"
#include "core/atomicio.h"
#include "core/relay.h"
#include "core/serve.h"
#include "core/sock.h"
#include "core/wait.h"

namespace sp::app {
namespace {

struct ListenFlags {
  std::vector<std::string> args;  // [HOST] PORT
  SocketFlags sock;
  std::string backlog, max_conns, idle_timeout;
  bool keep_open = false, echo = false, discard = false;
  RelayFlags relay;
  std::vector<std::string> allow, deny;
};

// Splits [HOST] PORT; port 0 lets the kernel choose.
Status host_port(const std::vector<std::string>& args, bool unix_given, std::string* host, uint16_t* port) {
  if (unix_given) {
    if (!args.empty()) return usage_error("listen: --unix takes no HOST or PORT");
    return {};
  }
  if (args.empty()) return usage_error("listen: missing PORT (use 0 to let the kernel choose)");
  if (args.size() > 2) return usage_error(fmt::format("listen: unexpected argument '{}'", args[2]));
  auto p = parse_port(args.back(), true);
  if (!p.ok()) return usage_error(fmt::format("listen: PORT: {}", p.error().message));
  *port = *p;
  if (args.size() == 2) *host = args[0];
  return {};
}


// A peer --allow/--deny turned away: "Refused connection from ..." (TCP,
// Unix streams never are) or "Refused datagrams from ..." (UDP).
void report_refused(Reporter& rep, const Endpoint& peer, const char* what) {
  rep.event("refused", Json{{"peer", endpoint_json(peer)}},
            fmt::format("Refused {} from {} (--allow/--deny)", what, format_endpoint(peer)), -1);
}

bool is_interrupt(const Status& st) { return !st && st.error().kind == ErrorKind::Interrupted; }

// A Unix datagram client that never bound a name sends from no address
// (recvfrom gives length 0, or only the family): it can be read from but
// not answered, and connect() to it fails with EINVAL. Its endpoint is
// made an unnamed AF_UNIX one, so reports say "(unnamed)".
bool unnamed_unix_peer(const Listener& l, Endpoint* peer) {
  if (l.local.family() != AF_UNIX || peer->len > static_cast<socklen_t>(offsetof(sockaddr_un, sun_path))) {
    return false;
  }
  peer->addr.ss_family = AF_UNIX;
  peer->len = static_cast<socklen_t>(sizeof(sa_family_t));
  return true;
}

// Everything the flags say, checked before anything is bound: a usage
// error never follows a "Listening on" line (tests/argv_fuzz.py found one).
struct ListenPlan {
  std::string host;
  uint16_t port = 0;
  std::string unix_path;
  SocketConfig cfg;
  int backlog = -1;       // -1: net.core.somaxconn
  bool serving = false;   // --echo/--discard: `serve`; otherwise `relay`
  bool keep_open = false;
  ServeOptions serve;
  RelayOptions relay;
  std::vector<Cidr> allow, deny;
};

// The flags that exclude each other, and those that go only with a mode.
Status check_listen_modes(const ListenFlags& f, const SocketConfig& cfg, bool max_conns_given) {
  if (f.echo && f.discard) return usage_error("--echo and --discard exclude each other");
  bool serving = f.echo || f.discard;
  if (serving && cfg.transport == Transport::Udp) return usage_error("--echo/--discard serve TCP and Unix stream sockets only");
  if (max_conns_given && !serving) return usage_error("--max-conns goes with --echo or --discard");
  // The relay flags shape a stdin/stdout relay; a server has none.
  if (serving && (f.relay.close_on_eof || f.relay.keep_sending || f.relay.stop_on_peer_eof ||
                  !f.relay.stall_timeout.empty())) {
    return usage_error(
        "--close-on-eof, --keep-sending, --stop-on-peer-eof and --stall-timeout relay stdin/stdout; "
        "--echo/--discard do not");
  }
  return {};
}

Result<ListenPlan> plan_listen(const ListenFlags& f, const GlobalOptions& g) {
  ListenPlan p;
  p.unix_path = f.sock.unix_path;
  if (auto s = host_port(f.args, !p.unix_path.empty(), &p.host, &p.port); !s) return s.error();
  auto cfg = socket_config(f.sock, g);
  if (!cfg.ok()) return cfg.take_error();
  p.cfg = *cfg;
  auto backlog = count_flag("--backlog", f.backlog, 0, INT32_MAX);
  if (!backlog.ok()) return backlog.take_error();
  if (backlog->has_value()) p.backlog = static_cast<int>(**backlog);
  auto max_conns = count_flag("--max-conns", f.max_conns, 1, 1000000);
  if (!max_conns.ok()) return max_conns.take_error();
  auto idle = duration_flag("--idle-timeout", f.idle_timeout);
  if (!idle.ok()) return idle.take_error();
  auto allow = cidr_flags("--allow", f.allow);
  if (!allow.ok()) return allow.take_error();
  auto deny = cidr_flags("--deny", f.deny);
  if (!deny.ok()) return deny.take_error();
  p.allow = *allow;
  p.deny = *deny;
  if (auto s = check_listen_modes(f, p.cfg, max_conns->has_value()); !s) return s.error();
  p.serving = f.echo || f.discard;
  p.keep_open = f.keep_open;
  if (p.serving) {
    p.serve.mode = f.echo ? ServeOptions::Mode::Echo : ServeOptions::Mode::Discard;
    p.serve.keep_open = true;  // a server keeps serving; -k is implied
    p.serve.max_conns = static_cast<size_t>(max_conns->has_value() ? **max_conns : default_max_conns());
    if (idle->has_value()) p.serve.idle_timeout = **idle;
    p.serve.allow = p.allow;
    p.serve.deny = p.deny;
    return p;
  }
  auto ro = relay_options(f.relay, STDIN_FILENO);
  if (!ro.ok()) return ro.take_error();
  p.relay = std::move(*ro);
  if (idle->has_value()) p.relay.idle_timeout = **idle;
  return p;
}

// Says once per sender that its datagrams are refused, for the first
// kMaxRefusedNamed senders (a spoofed flood must not grow the set or flood
// stderr); after that, once, that more are refused unnamed.
constexpr size_t kMaxRefusedNamed = 64;

class RefusedSenders {
 public:
  void refused(Reporter& rep, const Endpoint& peer) {
    for (const Endpoint& e : seen_) {
      if (same_endpoint(e, peer)) return;
    }
    if (seen_.size() == kMaxRefusedNamed) {
      if (!said_more_) rep.warning(fmt::format("more than {} senders refused; not naming the others", seen_.size()));
      said_more_ = true;
      return;
    }
    seen_.push_back(peer);
    report_refused(rep, peer, "datagrams");
  }

 private:
  std::vector<Endpoint> seen_;
  bool said_more_ = false;
};

// UDP has no accept: the first allowed sender becomes the peer (as in nc -u
// -l). A refused sender's datagram is consumed (read and dropped) and the
// wait goes on.
Result<Endpoint> first_allowed_sender(Reporter& rep, int fd, const ListenPlan& p) {
  RefusedSenders refused;
  for (;;) {
    auto w = wait_fd(fd, POLLIN, std::nullopt);
    if (!w.ok()) return w.take_error();
    if (*w == Wake::Interrupted) return interrupted_error();
    Endpoint peer;
    peer.len = sizeof peer.addr;
    char probe;
    if (recv_some(fd, &probe, 1, MSG_PEEK, peer.sa(), &peer.len) < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;  // EINTR: SIGINT's (recv_some retries the others); the wait sees it
      return system_error(fmt::format("recvfrom: {}", errno_text(errno)));
    }
    if (peer_allowed(peer, p.allow, p.deny)) return peer;
    (void)recv_some(fd, &probe, 1, 0);  // the datagram goes, whole
    refused.refused(rep, peer);
  }
}

// The socket is connected to the peer (the kernel then takes datagrams
// from it alone) and the relay starts; datagrams other senders queued
// before connect() are dropped by the relay (RelayOptions::only_from).
Status relay_udp(Reporter& rep, const Listener& l, const ListenPlan& p) {
  int fd = l.fd.get();
  ConnectionReport rc;
  rc.id = 1;
  auto first = first_allowed_sender(rep, fd, p);
  if (!first.ok()) return first.take_error();
  rc.peer = *first;
  // An unnamed Unix peer cannot be connect()ed to (EINVAL): keep the
  // socket open to every sender, relay what arrives, and say once that
  // standard input goes nowhere.
  bool answerable = !unnamed_unix_peer(l, &rc.peer) && rc.peer.len > 0;
  if (answerable && ::connect(fd, rc.peer.sa(), rc.peer.len) != 0) {
    return system_error(fmt::format("connect to {} ({}): {}", format_endpoint(rc.peer),
                                    rc.peer.family() == AF_UNIX ? "unix" : "udp", errno_text(errno)));
  }
  BufferSizes b = effective_buffers(fd);
  rc.sndbuf = b.sndbuf;
  rc.rcvbuf = b.rcvbuf;
  report_accepted(rep, fd, rc);
  if (!answerable) {
    rep.warning("the peer's Unix datagram socket has no name (it did not bind): its datagrams are "
                "received, but nothing can be sent back, so standard input is not read");
  }
  RelayOptions ro = p.relay;
  ro.datagram = true;
  ro.target = peer_target(rc.peer, Transport::Udp);
  if (answerable) ro.only_from = rc.peer;
  RelayStats stats;
  auto started = std::chrono::steady_clock::now();
  Status st = readwrite(fd, answerable ? STDIN_FILENO : -1, STDOUT_FILENO, ro, &stats);
  if (stats.foreign_datagrams > 0) {
    rep.warning(fmt::format("dropped {} datagrams from other senders (only {}'s reach standard output)",
                            stats.foreign_datagrams, format_endpoint(rc.peer)));
  }
  finish_connection(rep, fd, rc, stats, started, st);
  return st;
}

// The accept loop's reports: a backoff (once per burst), a refused peer.
AcceptHooks accept_hooks(Reporter& rep) {
  AcceptHooks hooks;
  hooks.on_backoff = [&rep](int err, std::chrono::milliseconds d) {
    rep.warning(fmt::format("accept: {}; retrying in {}ms (backing off up to 1s)", errno_text(err), d.count()));
  };
  hooks.on_refused = [&rep](const Endpoint& peer) { report_refused(rep, peer, "connection"); };
  return hooks;
}

// --echo / --discard: many clients at once until Ctrl-C, then what they did.
Status serve_clients(Reporter& rep, const Listener& l, const ListenPlan& p) {
  ServeHooks hooks;
  static_cast<AcceptHooks&>(hooks) = accept_hooks(rep);
  int lfd = l.fd.get();
  ServedTotals totals;
  // Under -q the accepted/closed reports are not shown: nothing is gathered
  // for them (issue 13: per connection only accept, the moves and close).
  ServeOptions so = p.serve;
  so.socket_state = rep.shows(0);
  if (so.socket_state) hooks.on_accept = [&](const ConnectionReport& c) { report_accepted(rep, lfd, c); };
  hooks.on_max_conns = [&](size_t n) {
    rep.warning(fmt::format("--max-conns {} reached: further clients wait in the accept queue until one closes "
                            "(said once; the default is the open-file limit, ulimit -n, less {})",
                            n, kFdReserve));
  };
  hooks.on_close = [&](const ConnectionReport& c) {
    totals.add(c);
    if (so.socket_state) report_closed(rep, c);
  };
  Status st = serve(lfd, so, hooks);
  if (is_interrupt(st)) totals.report(rep);  // exit 130 follows
  return st;
}

// Relay mode: one connection at a time on stdin/stdout (-k: one after
// another; stdin is consumed by the first connection that reads it to EOF).
Status relay_clients(Reporter& rep, const Listener& l, const ListenPlan& p) {
  AcceptHooks hooks = accept_hooks(rep);
  AcceptBackoff backoff;
  bool stdin_open = true;
  uint64_t next_id = 1;
  ServedTotals totals;
  for (;;) {
    Endpoint peer;
    auto conn = accept_allowed(l.fd.get(), p.allow, p.deny, &backoff, hooks, &peer);
    if (!conn.ok()) {
      if (p.keep_open && conn.error().kind == ErrorKind::Interrupted) totals.report(rep);
      return conn.take_error();
    }
    ConnectionReport rc;
    rc.id = next_id++;
    rc.peer = peer;
    BufferSizes b = effective_buffers(conn->get());
    rc.sndbuf = b.sndbuf;
    rc.rcvbuf = b.rcvbuf;
    report_accepted(rep, l.fd.get(), rc);
    RelayOptions ro = p.relay;
    ro.target = peer_target(peer, p.cfg.transport, p.unix_path);
    RelayStats stats;
    auto started = std::chrono::steady_clock::now();
    Status st = readwrite(conn->get(), stdin_open ? STDIN_FILENO : -1, STDOUT_FILENO, ro, &stats);
    finish_connection(rep, conn->get(), rc, stats, started, st);
    totals.add(rc);
    if (p.keep_open && is_interrupt(st)) totals.report(rep);
    // With -k one connection's failure (reset, idle timeout) is reported and
    // the listener goes on, as ncat -k does; Ctrl-C still ends it.
    if (!st && (!p.keep_open || st.error().kind == ErrorKind::Interrupted)) return st;
    if (!st) rep.warning(fmt::format("connection from {}: {}", format_endpoint(peer), st.error().message));
    if (!p.keep_open) return {};
    stdin_open = false;
  }
}

// Reports go to stderr in every mode, --echo/--discard included: the
// "Listening on" line must be in one place for scripts that wait for it,
// and in relay mode stdout carries the peer's bytes.
Status run_listen(const ListenFlags& f, const GlobalOptions& g) {
  auto plan = plan_listen(f, g);
  if (!plan.ok()) return plan.take_error();
  Reporter rep = make_reporter(g, stderr);
  report_relay_stalls(&plan->relay, rep);
  auto listener = plan->unix_path.empty() ? local_listen(plan->host, plan->port, plan->cfg, plan->backlog)
                                          : unix_listen(plan->unix_path, plan->cfg, plan->backlog);
  if (!listener.ok()) return listener.take_error();
  report_listening(rep, *listener);
  if (plan->serving) return serve_clients(rep, *listener, *plan);
  if (plan->cfg.transport == Transport::Udp) return relay_udp(rep, *listener, *plan);
  return relay_clients(rep, *listener, *plan);
}

}  // namespace

Command add_listen(CLI::App& app, const GlobalOptions& g) {
  auto f = std::make_shared<ListenFlags>();
  CLI::App* sub = app.add_subcommand("listen", "Accept connections; relay stdin/stdout, or serve --echo/--discard");
  sub->footer(
      "Examples:\n"
      "  sockprobe listen 9000 > received.bin          # one client; its bytes to a file\n"
      "  sockprobe listen --echo 127.0.0.1 0           # an echo server on a port the kernel picks\n"
      "  sockprobe listen --discard -q 9000            # accept everyone, drop the bytes\n"
      "  sockprobe listen -u 127.0.0.1 5353            # one UDP peer on stdin/stdout");
  sub->add_option("args", f->args, "[HOST] PORT (0: the kernel picks a port)")->type_name("[HOST] PORT");
  add_socket_flags(sub, &f->sock, kFlagUdp | kFlagUnix | kFlagBuffers);
  sub->add_option("-b,--backlog", f->backlog, "listen() backlog (default: net.core.somaxconn)")->type_name("N");
  sub->add_flag("-k,--keep-open", f->keep_open, "Keep accepting after a connection closes");
  sub->add_flag("--echo", f->echo, "Echo server: send every byte back, many clients at once");
  sub->add_flag("--discard", f->discard, "Sink: read and drop, many clients at once");
  sub->add_option("--max-conns", f->max_conns, "With --echo/--discard: connections served at once (default: ulimit -n, raised to the hard limit, less 16)")->type_name("N");
  // One CIDR per flag (repeat the flag for more), so "--deny 10.0.0.0/8 0"
  // leaves the PORT alone.
  sub->add_option("--allow", f->allow, "Accept only peers in CIDR (repeatable)")
      ->type_name("CIDR")
      ->allow_extra_args(false);
  sub->add_option("--deny", f->deny, "Refuse peers in CIDR (repeatable; wins over --allow)")
      ->type_name("CIDR")
      ->allow_extra_args(false);
  sub->add_option("--idle-timeout", f->idle_timeout, "Close after DURATION with no data")->type_name("DURATION");
  add_relay_flags(sub, &f->relay);
  return {sub, [f, &g] { return run_listen(*f, g); }};
}

}  // namespace sp::app
