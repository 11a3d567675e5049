// Socket steps: listen, accept, connect (see sock.h).
#include "core/sock.h"

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <optional>

#include <fmt/format.h>

#include "core/deadline.h"
#include "core/procfs.h"
#include "core/signals.h"
#include "core/sockdiag.h"
#include "core/tcpinfo.h"
#include "core/wait.h"

namespace sp {
namespace {

int socktype(Transport t) { return t == Transport::Udp ? SOCK_DGRAM : SOCK_STREAM; }

// Every socket is non-blocking from birth (and every accepted one, by
// accept4's SOCK_NONBLOCK): the loops wait in core/wait and take EAGAIN as
// a value, so no layer flips the mode for the next.
Result<Fd> make_socket(int family, Transport t) {
  int fd = ::socket(family, socktype(t) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return system_error(fmt::format("socket ({} {}): {}", family == AF_INET6 ? "IPv6" : family == AF_UNIX ? "Unix" : "IPv4",
                                    transport_name(t), errno_text(errno)));
  }
  return Fd(fd);
}

Status set_int_opt(int fd, int level, int name, int value, const char* what) {
  if (setsockopt(fd, level, name, &value, sizeof value) != 0) {
    return system_error(fmt::format("setsockopt {}: {}", what, errno_text(errno)));
  }
  return {};
}

// bind()'s error, with the way out when a low port was refused (EACCES):
// ports below net.ipv4.ip_unprivileged_port_start need privilege.
Error bind_error(const char* what, const Endpoint& ep, int err) {
  std::string msg = fmt::format("{} {}: {}", what, format_endpoint(ep), errno_text(err));
  uint16_t port = endpoint_port(ep);
  if (err == EACCES && port != 0) {
    auto start = ProcFs().sysctl_int("net.ipv4.ip_unprivileged_port_start");
    if (start.ok() && port < *start) {
      msg += fmt::format(" (ports below net.ipv4.ip_unprivileged_port_start = {} need root or CAP_NET_BIND_SERVICE)",
                         *start);
    }
  }
  return system_error(msg);
}

Status bind_source(int fd, int family, const SocketConfig& cfg) {
  if (cfg.source_host.empty() && !cfg.source_port) return {};
  auto eps = resolve(cfg.source_host, cfg.source_port.value_or(0), cfg.transport, family, true);
  if (!eps.ok()) return eps.take_error();
  for (const Endpoint& ep : *eps) {
    if (ep.family() != family) continue;
    if (cfg.source_port) (void)set_int_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
    if (::bind(fd, ep.sa(), ep.len) == 0) return {};
    return bind_error("bind source", ep, errno);
  }
  return system_error(fmt::format("bind source {}: no address of the target's family",
                                  cfg.source_host.empty() ? "(any)" : cfg.source_host));
}

using Clock = std::chrono::steady_clock;

// Is some socket bound to this path right now, of any type, in any network
// namespace? Probed by connecting a datagram socket, which sends nothing
// and, unlike a stream probe, is never accepted by a live single-shot
// listener: the kernel finds the socket by the file's inode (not per
// namespace); ECONNREFUSED means none is bound to it, EPROTOTYPE a stream
// or seqpacket socket, success a datagram one. Any other answer (EACCES,
// EPERM...) counts as live: when in doubt, never unlink.
// Decision: /proc/net/unix (the former check) lists only this namespace's
// sockets and needed guessing for relative paths; the probe needs neither.
bool unix_path_in_use(const Endpoint& ep) {
  Fd probe(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!probe.valid()) return true;
  if (::connect(probe.get(), ep.sa(), ep.len) == 0) return true;
  return errno != ECONNREFUSED && errno != ENOENT;
}

// bind() said EADDRINUSE at a filesystem path: what is there, for the
// error (an empty string: a stale socket file that may be replaced).
std::string unix_path_obstacle(const std::string& path, const Endpoint& ep) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return "";  // gone meanwhile: bind again
  if (S_ISDIR(st.st_mode)) return "not a socket (a directory is there; not replaced)";
  if (!S_ISSOCK(st.st_mode)) {
    return S_ISREG(st.st_mode) ? "not a socket (a regular file is there; not replaced)"
                               : "not a socket (not replaced)";
  }
  if (unix_path_in_use(ep)) return "Address already in use (a live socket is bound there; not replaced)";
  return "";
}

}  // namespace

BufferSizes effective_buffers(int fd) {
  BufferSizes b;
  socklen_t len = sizeof b.sndbuf;
  getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &b.sndbuf, &len);
  len = sizeof b.rcvbuf;
  getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &b.rcvbuf, &len);
  return b;
}

uint64_t raise_fd_limit() {
  rlimit rl = {};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit want = rl;
    want.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &want) == 0) rl = want;
  }
  return rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : static_cast<uint64_t>(rl.rlim_cur);
}

uint64_t default_max_conns() {
  rlimit rl = {};
  uint64_t limit = ::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? rl.rlim_cur : 1000000;
  return std::clamp<uint64_t>(limit > kFdReserve ? limit - kFdReserve : 1, 1, 1000000);
}

std::optional<uint64_t> open_fd_count() {
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return std::nullopt;
  uint64_t n = 0;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(d);
  return n > 0 ? n - 1 : 0;  // less the directory's own fd
}

int pending_socket_error(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  return err;
}

bool socket_is_tcp(int fd) {
  int type = 0, proto = 0;
  socklen_t len = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM) return false;
  len = sizeof proto;
  return getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) == 0 && proto == IPPROTO_TCP;
}

Status apply_buffers(int fd, const SocketConfig& cfg) {
  auto clamp = [](uint64_t v) { return static_cast<int>(std::min<uint64_t>(v, INT32_MAX)); };
  if (cfg.sndbuf) {
    if (auto s = set_int_opt(fd, SOL_SOCKET, SO_SNDBUF, clamp(*cfg.sndbuf), "SO_SNDBUF"); !s) return s;
  }
  if (cfg.rcvbuf) {
    if (auto s = set_int_opt(fd, SOL_SOCKET, SO_RCVBUF, clamp(*cfg.rcvbuf), "SO_RCVBUF"); !s) return s;
  }
  return {};
}

int default_backlog() {
  auto v = ProcFs().sysctl_int("net.core.somaxconn");
  if (v.ok() && *v > 0 && *v <= INT32_MAX) return static_cast<int>(*v);
  return SOMAXCONN;
}

// What the kernel holds as the accept queue's maximum: TCP_INFO for TCP,
// unix_diag for Unix; min(requested, somaxconn) if neither answers.
static int effective_backlog(const Listener& l) {
  if (auto q = listener_queue(l.fd.get())) return static_cast<int>(q->max);
  return std::min(l.backlog_requested, default_backlog());
}

Result<Listener> local_listen(const std::string& host, uint16_t port, const SocketConfig& cfg,
                              int backlog) {
  std::vector<Endpoint> candidates;
  bool dual_stack = false;
  if (host.empty()) {
    // Every address: dual-stack "::" unless -4; IPv4 wildcard as fallback.
    if (cfg.family != AF_INET) {
      auto v6 = resolve("::", port, cfg.transport, AF_INET6, true);
      if (v6.ok()) candidates.push_back(v6->front());
      dual_stack = cfg.family == AF_UNSPEC;
    }
    if (cfg.family != AF_INET6) {
      auto v4 = resolve("0.0.0.0", port, cfg.transport, AF_INET, true);
      if (v4.ok()) candidates.push_back(v4->front());
    }
  } else {
    auto eps = resolve(host, port, cfg.transport, cfg.family, true);
    if (!eps.ok()) return eps.take_error();
    candidates = *eps;
  }
  std::string target = fmt::format("{} port {} ({})", host.empty() ? "*" : host, port, transport_name(cfg.transport));
  Error last = system_error(fmt::format("listen on {}: no usable address", target));
  for (const Endpoint& ep : candidates) {
    auto sock = make_socket(ep.family(), cfg.transport);
    if (!sock.ok()) {
      last = sock.take_error();
      continue;
    }
    int fd = sock->get();
    if (cfg.transport == Transport::Tcp) (void)set_int_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR");
    if (ep.family() == AF_INET6) (void)set_int_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, dual_stack ? 0 : 1, "IPV6_V6ONLY");
    if (auto s = apply_buffers(fd, cfg); !s) return s.error();
    if (::bind(fd, ep.sa(), ep.len) != 0) {
      last = bind_error("bind", ep, errno);
      continue;
    }
    Listener l;
    l.transport = cfg.transport;
    l.backlog_requested = backlog < 0 ? default_backlog() : backlog;
    if (cfg.transport == Transport::Tcp && ::listen(fd, l.backlog_requested) != 0) {
      last = system_error(fmt::format("listen {}: {}", format_endpoint(ep), errno_text(errno)));
      continue;
    }
    l.fd = std::move(*sock);
    l.local = local_endpoint(l.fd.get());
    l.backlog_effective = cfg.transport == Transport::Tcp ? effective_backlog(l) : 0;
    return l;
  }
  return last;
}

Result<Listener> unix_listen(const std::string& path, const SocketConfig& cfg, int backlog) {
  auto ep = unix_endpoint(path);
  if (!ep.ok()) return ep.take_error();
  auto sock = make_socket(AF_UNIX, cfg.transport);
  if (!sock.ok()) return sock.take_error();
  int fd = sock->get();
  if (auto s = apply_buffers(fd, cfg); !s) return s.error();
  bool abstract = path[0] == '@';
  if (::bind(fd, ep->sa(), ep->len) != 0) {
    // A socket file left behind by a dead listener is replaced, as most
    // servers do; a live socket of any type, or a non-socket, is an error.
    if (errno != EADDRINUSE || abstract) return system_error(fmt::format("bind {}: {}", path, errno_text(errno)));
    if (std::string why = unix_path_obstacle(path, *ep); !why.empty()) {
      return system_error(fmt::format("bind {}: {}", path, why));
    }
    if ((::unlink(path.c_str()) != 0 && errno != ENOENT) || ::bind(fd, ep->sa(), ep->len) != 0) {
      return system_error(fmt::format("bind {}: {}", path, errno_text(errno)));
    }
  }
  Listener l;
  l.transport = cfg.transport;
  if (!abstract) l.socket_file = OwnedPath(path);  // signals must not leave it behind
  l.backlog_requested = backlog < 0 ? default_backlog() : backlog;
  if (cfg.transport != Transport::Udp && ::listen(fd, l.backlog_requested) != 0) {
    return system_error(fmt::format("listen {}: {}", path, errno_text(errno)));
  }
  l.fd = std::move(*sock);
  l.local = *ep;
  l.backlog_effective = cfg.transport != Transport::Udp ? effective_backlog(l) : 0;
  return l;
}

Result<Accepted> accept_one(int listen_fd, int* err_no) {
  Accepted a;
  a.peer.len = sizeof a.peer.addr;
  int fd = ::accept4(listen_fd, a.peer.sa(), &a.peer.len, SOCK_CLOEXEC);
  if (fd < 0) {
    *err_no = errno;
    return system_error(fmt::format("accept: {}", errno_text(errno)));
  }
  *err_no = 0;
  a.fd.reset(fd);
  return a;
}

// Unix listener: unix_diag by the socket's inode, whose RQLEN attribute
// holds the queue length and sk_max_ack_backlog (what `ss -lx` shows).
static std::optional<QueueFill> unix_listener_queue(int listen_fd) {
  struct stat st;
  if (::fstat(listen_fd, &st) != 0) return std::nullopt;
  auto info = unix_socket_by_inode(st.st_ino);
  if (!info.ok() || !info->listening() || !info->queues_known) return std::nullopt;
  return QueueFill{info->recv_q, info->send_q};
}

std::optional<QueueFill> listener_queue(int listen_fd) {
  int domain = 0;
  socklen_t len = sizeof domain;
  if (getsockopt(listen_fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 && domain == AF_UNIX) {
    return unix_listener_queue(listen_fd);
  }
  auto info = get_tcp_info(listen_fd);
  if (!info.ok()) return std::nullopt;
  return QueueFill{info->raw.unacked, info->raw.sacked};
}

std::string connect_target(const std::string& host, uint16_t port, Transport t) {
  if (t == Transport::Unix) return fmt::format("connect to {} (unix)", host);
  return fmt::format("connect to {} port {} ({})", host, port, transport_name(t));
}

// "TARGET: timed out after 2s", naming the whole budget the caller was given.
static std::string timed_out_message(const std::string& target, Duration timeout) {
  double seconds = std::chrono::duration<double>(timeout).count();
  return fmt::format("{}: timed out after {}", target, human_duration(seconds));
}

Status timeout_connect(int fd, const Endpoint& to, Duration timeout, const std::string& target) {
  if (::connect(fd, to.sa(), to.len) == 0) return {};
  if (errno != EINPROGRESS && errno != EAGAIN) {
    return system_error(fmt::format("{}: {}", target, errno_text(errno)));
  }
  std::optional<Clock::time_point> deadline;  // none: wait as long as the kernel does
  if (timeout.count() > 0) deadline = Clock::now() + timeout;
  auto w = wait_fd(fd, POLLOUT, deadline);
  if (!w.ok()) return system_error(fmt::format("{}: {}", target, w.error().message));
  if (*w == Wake::Interrupted) return interrupted_error();
  if (*w == Wake::Timeout) return timeout_error(timed_out_message(target, timeout));
  int err = pending_socket_error(fd);
  if (err != 0) return system_error(fmt::format("{}: {}", target, errno_text(err)));
  return {};
}

Result<Connection> remote_connect(const std::string& host, uint16_t port, const SocketConfig& cfg,
                                  Duration timeout) {
  std::string target = connect_target(host, port, cfg.transport);
  auto eps = resolve(host, port, cfg.transport, cfg.family, false);
  if (!eps.ok() && eps.error().kind == ErrorKind::Usage) return eps.take_error();  // fe80::1 without %IFACE
  if (!eps.ok()) return system_error(fmt::format("{}: {}", target, eps.error().message));
  auto deadline = Clock::now() + timeout;
  bool limited = timeout.count() > 0;
  Connection c;
  Error last = system_error(target + ": no address");
  for (const Endpoint& ep : *eps) {
    Duration left = timeout;
    if (limited) {
      left = std::chrono::duration_cast<Duration>(deadline - Clock::now());
      if (left.count() <= 0) break;
    }
    auto sock = make_socket(ep.family(), cfg.transport);
    if (!sock.ok()) {
      last = sock.take_error();
      c.failures.push_back(fmt::format("{}: {}", format_host(ep), last.message));
      continue;
    }
    if (auto s = apply_buffers(sock->get(), cfg); !s) return s.error();
    if (auto s = bind_source(sock->get(), ep.family(), cfg); !s) {
      last = s.error();
      c.failures.push_back(fmt::format("{}: {}", format_host(ep), last.message));
      continue;
    }
    std::string one = eps->size() > 1 ? fmt::format("{} ({})", target, format_host(ep)) : target;
    Status st = timeout_connect(sock->get(), ep, left, one);
    if (st.ok()) {
      c.fd = std::move(*sock);
      c.peer = ep;
      return c;
    }
    last = st.error();
    if (last.kind == ErrorKind::Interrupted) return last;
    if (last.kind == ErrorKind::Timeout) {
      // Name the whole -w budget, not what was left for this address.
      last.message = timed_out_message(one, timeout);
    }
    c.failures.push_back(last.message);
  }
  if (limited && Clock::now() >= deadline && last.kind != ErrorKind::Timeout) {
    return timeout_error(timed_out_message(target, timeout));
  }
  return last;
}

Result<Connection> unix_connect(const std::string& path, const SocketConfig& cfg, Duration timeout) {
  auto ep = unix_endpoint(path);
  if (!ep.ok()) return ep.take_error();
  auto sock = make_socket(AF_UNIX, cfg.transport);
  if (!sock.ok()) return sock.take_error();
  if (auto s = apply_buffers(sock->get(), cfg); !s) return s.error();
  // A Unix datagram client with no name cannot be answered (the server's
  // reply has no address to go to): autobind one, an abstract name the
  // kernel picks (bind with only the family), as `socat UNIX-SENDTO` does
  // with its bind option.
  if (cfg.transport == Transport::Udp) {
    sa_family_t family = AF_UNIX;
    if (::bind(sock->get(), reinterpret_cast<const sockaddr*>(&family), sizeof family) != 0) {
      return system_error(fmt::format("bind an autobind name for {}: {}", path, errno_text(errno)));
    }
  }
  std::string target = connect_target(path, 0, Transport::Unix);
  Status st = timeout_connect(sock->get(), *ep, timeout, target);
  if (!st) {
    // connect() to a regular file or a directory says "Connection refused".
    struct stat info;
    if (path[0] != '@' && ::stat(path.c_str(), &info) == 0 && !S_ISSOCK(info.st_mode)) {
      return system_error(fmt::format("{}: not a socket ({})", target, S_ISDIR(info.st_mode) ? "a directory"
                                                                      : S_ISREG(info.st_mode) ? "a regular file"
                                                                                              : "not a socket file"));
    }
    return st.error();
  }
  Connection c;
  c.fd = std::move(*sock);
  c.peer = *ep;
  return c;
}

}  // namespace sp
