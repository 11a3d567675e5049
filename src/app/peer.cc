// Connection setup for send/recv, relay flags for listen/connect (see peer.h).
#include "app/peer.h"

#include <unistd.h>

#include "app/common.h"
#include "app/conn_report.h"
#include "core/serve.h"

#include <fmt/format.h>

namespace sp::app {

Result<Listener> open_listener(const PeerSpec& spec, const SocketConfig& cfg, Reporter& rep) {
  auto l = spec.unix_path.empty() ? local_listen(spec.host, spec.port, cfg, -1) : unix_listen(spec.unix_path, cfg, -1);
  if (l.ok()) report_listening(rep, *l);
  return l;
}

Result<Peer> open_peer(const PeerSpec& spec, const SocketConfig& cfg, Duration connect_timeout, Reporter& rep) {
  Peer p;
  if (!spec.listen) {
    auto c = spec.unix_path.empty() ? remote_connect(spec.host, spec.port, cfg, connect_timeout)
                                    : unix_connect(spec.unix_path, cfg, connect_timeout);
    if (!c.ok()) return c.take_error();
    for (const auto& failure : c->failures) rep.event("attempt_failed", Json{{"error", failure}}, failure, 1);
    report_connected(rep, c->fd.get(), c->peer, cfg.transport);
    p.fd = std::move(c->fd);
    p.peer = c->peer;
    return p;
  }
  auto l = open_listener(spec, cfg, rep);
  if (!l.ok()) return l.take_error();
  AcceptBackoff backoff;
  AcceptHooks hooks;
  hooks.on_backoff = [&](int err, std::chrono::milliseconds d) {
    rep.warning(fmt::format("accept: {}; retrying in {}ms", errno_text(err), d.count()));
  };
  auto fd = accept_allowed(l->fd.get(), {}, {}, &backoff, hooks, &p.peer);
  if (!fd.ok()) return fd.take_error();
  ConnectionReport rc;
  rc.id = 1;
  rc.peer = p.peer;
  BufferSizes b = effective_buffers(fd->get());
  rc.sndbuf = b.sndbuf;
  rc.rcvbuf = b.rcvbuf;
  report_accepted(rep, l->fd.get(), rc);
  p.fd = std::move(*fd);
  p.listener = std::move(*l);
  return p;
}

std::string peer_target(const Endpoint& peer, Transport t, const std::string& unix_path) {
  bool unnamed_unix = peer.family() == AF_UNIX && peer.len <= sizeof(sa_family_t);
  if (unnamed_unix && !unix_path.empty()) return fmt::format("{} (unix)", unix_path);
  return format_target(peer, t == Transport::Udp ? "udp" : "tcp");
}

// With no --stall-timeout a stall is only warned about after this long: a
// relay may feed a consumer that legitimately pauses (a pipeline writing to
// a slow disk), which nc users do not expect to be killed for.
constexpr Duration kStallWarnAfter = std::chrono::seconds(10);

void add_relay_flags(CLI::App* sub, RelayFlags* f) {
  sub->add_flag("--close-on-eof", f->close_on_eof, "Close at once on stdin EOF instead of half-closing");
  sub->add_flag("--keep-sending", f->keep_sending,
                "After the peer's EOF, send stdin to its EOF even from a terminal (the default otherwise)");
  sub->add_flag("--stop-on-peer-eof", f->stop_on_peer_eof,
                "Stop at the peer's EOF, dropping unsent stdin (the default for a terminal)");
  sub->add_option("--stall-timeout", f->stall_timeout,
                  "Give up (exit 3), explaining why, when stdin's bytes make no progress into the socket for "
                  "DURATION (default: warn after 10s and keep waiting; 0: never)")
      ->type_name("DURATION");
}

Result<RelayOptions> relay_options(const RelayFlags& f, int in_fd) {
  if (f.keep_sending && f.stop_on_peer_eof) {
    return usage_error("--keep-sending and --stop-on-peer-eof exclude each other");
  }
  auto stall = duration_flag("--stall-timeout", f.stall_timeout);
  if (!stall.ok()) return stall.take_error();
  RelayOptions ro;
  ro.close_on_eof = f.close_on_eof;
  // Decision: after the peer's EOF, stdin is sent to its EOF (OpenBSD nc),
  // so `listen </dev/null` (which half-closes at once) still gets a whole
  // file; an interactive session (a terminal on stdin) ends when the peer
  // leaves instead of waiting for Ctrl-D, as ncat and telnet users expect.
  bool stop = f.stop_on_peer_eof || (!f.keep_sending && in_fd >= 0 && ::isatty(in_fd));
  ro.on_peer_eof = stop ? PeerEof::Stop : PeerEof::KeepSending;
  ro.stall_timeout = stall->value_or(kStallWarnAfter);
  ro.stall_is_error = stall->has_value();
  return ro;
}

void report_relay_stalls(RelayOptions* ro, Reporter& rep) {
  ro->on_stall = [&rep, fatal = ro->stall_is_error](const StallSnapshot& s, const std::string& why,
                                                  const std::string& target) {
    Json j = stall_json(s);
    j["direction"] = "send";
    j["message"] = why;
    // A fatal stall's line comes from main() with the error; JSON gets the
    // numbers too.
    rep.event("stall", j, "");
    if (!fatal) {
      rep.warning(fmt::format("write to {}: {}; still waiting (--stall-timeout DURATION gives up)", target, why));
    }
  };
}

}  // namespace sp::app
