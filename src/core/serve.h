// The accepting side: the accept loop that survives temporary errors
// (EMFILE, ENFILE, ENOBUFS, ENOMEM, ECONNABORTED, EINTR) with a Go-style
// backoff, peer filtering by --allow/--deny, and the multi-client event loop
// behind `listen --echo` and `listen --discard`.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/address.h"
#include "core/fd.h"
#include "core/parse.h"
#include "core/result.h"
#include "core/tcpinfo.h"

namespace sp {

// Is this accept() errno worth retrying (the listener is fine)?
bool accept_error_is_temporary(int err);

// 5 ms doubling to 1 s, reset after a success: what Go's net/http does.
class AcceptBackoff {
 public:
  std::chrono::milliseconds next();  // the delay to wait now
  void reset() { delay_ = std::chrono::milliseconds(0); }
  bool in_burst() const { return delay_.count() > 0; }

 private:
  std::chrono::milliseconds delay_{0};
};

// --allow/--deny: deny wins; when any allow block is given the peer must be
// in one. Unix peers are always allowed.
bool peer_allowed(const Endpoint& peer, const std::vector<Cidr>& allow, const std::vector<Cidr>& deny);

// Callbacks through which the accept loop reports (the app turns them into
// events); all optional.
struct AcceptHooks {
  std::function<void(int err, std::chrono::milliseconds delay)> on_backoff;  // once per burst
  std::function<void(const Endpoint& peer)> on_refused;                     // by --allow/--deny
};

// Waits for and accepts one allowed connection (non-blocking, as the
// listener is), retrying temporary errors with backoff. Interrupted by
// SIGINT (ErrorKind::Interrupted).
Result<Fd> accept_allowed(int listen_fd, const std::vector<Cidr>& allow, const std::vector<Cidr>& deny,
                          AcceptBackoff* backoff, const AcceptHooks& hooks, Endpoint* peer);

struct ConnectionReport {
  uint64_t id = 0;
  Endpoint peer;
  int sndbuf = 0, rcvbuf = 0;  // effective buffers: at accept, then at close (autotuning grows them)
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  double seconds = 0;
  bool has_tcp_info = false;
  TcpInfo tcp_info;
  std::string error;  // empty when it closed cleanly
  std::optional<std::string> checksum;  // "xxh3-128:HEX" of bytes_in, with ServeOptions::checksum
};

// Just before a connection's fd closes: its effective SO_SNDBUF/SO_RCVBUF
// and (TCP) TCP_INFO, for the "closed" report.
void record_close_state(int fd, ConnectionReport* c);

struct ServeOptions {
  enum class Mode { Echo, Discard } mode = Mode::Echo;
  size_t max_conns = 1024;   // open at once; beyond it the listener is not polled (app: default_max_conns())
  bool keep_open = true;     // false: stop after the first connection closes
  Duration idle_timeout{0};  // per connection, since its last byte either way; 0: none
  std::string idle_reason = "idle timeout";  // the error of a connection it closes
  // recv -k --idle-timeout: a connection that has brought no byte since
  // its accept (a silent or dead client) is closed after this; 0: none.
  Duration silent_timeout{0};
  std::string silent_reason = "no byte since it connected";
  std::vector<Cidr> allow, deny;
  // Read each connection's buffers at accept and close and its TCP_INFO at
  // close, for on_accept/on_close. false (-q: no report is shown) leaves
  // ConnectionReport's sndbuf, rcvbuf and tcp_info unset, and per
  // connection only accept, the moves and close.
  bool socket_state = true;
  // recv -k: each connection's XXH3-128 of what it sent (read() instead of
  // MSG_TRUNC, as recv --checksum), and running totals every `interval`.
  bool checksum = false;
  Duration interval{0};  // 0: no on_interval
};

// The whole server over one --interval: bytes in from every connection.
struct ServeInterval {
  double start = 0, end = 0;  // seconds since serve() began
  uint64_t bytes_in = 0;
  size_t open = 0;  // connections open at the interval's end
};

struct ServeHooks : AcceptHooks {
  std::function<void(const ConnectionReport&)> on_accept;
  std::function<void(const ConnectionReport&)> on_close;
  std::function<void(size_t max_conns)> on_max_conns;  // the first time max_conns are open at once
  std::function<void(const ServeInterval&)> on_interval;
};

// Serves every connection at once with one epoll loop until SIGINT (then
// ErrorKind::Interrupted) or, without keep_open, the first close.
Status serve(int listen_fd, const ServeOptions& opts, const ServeHooks& hooks);

}  // namespace sp
