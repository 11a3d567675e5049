// Connection setup for send/recv (see peer.h).
#include "app/peer.h"

#include "app/conn_report.h"
#include "core/serve.h"

#include <fmt/format.h>

namespace sp::app {

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
  auto l = spec.unix_path.empty() ? local_listen(spec.host, spec.port, cfg, -1) : unix_listen(spec.unix_path, cfg, -1);
  if (!l.ok()) return l.take_error();
  report_listening(rep, *l);
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

}  // namespace sp::app
