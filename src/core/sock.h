// The socket steps, one small function each, in the order a tool uses them:
// make a socket with its options (buffers, source address), local_listen /
// unix_listen, accept_one, remote_connect (tries every resolved address) and
// timeout_connect (non-blocking connect + poll + SO_ERROR). Errors name the
// syscall, the target and the errno text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/address.h"
#include "core/fd.h"
#include "core/parse.h"
#include "core/result.h"
#include "core/signals.h"

namespace sp {

struct SocketConfig {
  Transport transport = Transport::Tcp;
  int family = AF_UNSPEC;            // -4 / -6
  std::optional<uint64_t> sndbuf;    // -O
  std::optional<uint64_t> rcvbuf;    // -I
  std::string source_host;           // -s
  std::optional<uint16_t> source_port;  // -p
};

// What the kernel made of the buffer requests (getsockopt after setsockopt).
struct BufferSizes {
  int sndbuf = 0;
  int rcvbuf = 0;
};
BufferSizes effective_buffers(int fd);
// setsockopt SO_SNDBUF / SO_RCVBUF for the sizes the config requests.
Status apply_buffers(int fd, const SocketConfig& cfg);

// Raises the soft RLIMIT_NOFILE to the hard limit (as Go's runtime does;
// done once at start) and returns the soft limit now in force.
uint64_t raise_fd_limit();
// The --max-conns default of the --echo/--discard server: the fd limit
// less kFdReserve for stdio, the listener, epoll, the SIGINT pipe and a
// few files; at least 1.
constexpr uint64_t kFdReserve = 16;
uint64_t default_max_conns();
// The descriptors this process has open (/proc/self/fd); none without /proc.
std::optional<uint64_t> open_fd_count();
// The one read of a socket's pending error (connect outcomes, resets behind
// an EOF, the delivery wait): SO_ERROR (0: none; after a
// non-blocking connect, 0 means it connected), or errno when getsockopt
// itself fails (EBADF, ENOTSOCK).
int pending_socket_error(int fd);

// A TCP socket (not Unix, not UDP)?
bool socket_is_tcp(int fd);

struct Listener {
  Fd fd;
  Endpoint local;
  Transport transport = Transport::Tcp;
  int backlog_requested = 0;
  int backlog_effective = 0;   // the queue maximum the kernel reports (listener_queue)
  // The Unix socket file we created: removed at exit or by a fatal signal,
  // only while PATH is still that inode.
  OwnedPath socket_file;
};

// The value listen() uses when -b is not given: net.core.somaxconn (as Go
// does), or SOMAXCONN when /proc is unreadable.
int default_backlog();

// Binds and (TCP) listens. host empty = every address: "::" dual-stack, or
// 0.0.0.0 when IPv6 is unavailable or -4 was given. UDP sockets are bound
// only. backlog < 0 means default_backlog().
Result<Listener> local_listen(const std::string& host, uint16_t port, const SocketConfig& cfg,
                              int backlog);
// Unix stream (or datagram with cfg.transport == Udp) listener at path or
// @abstract. A stale socket file (no socket bound to it) is replaced; a live
// socket of any type or a non-socket is an error. PATH is removed at exit
// only while it is still the file created here (Listener::socket_file).
Result<Listener> unix_listen(const std::string& path, const SocketConfig& cfg, int backlog);

// accept4 once (non-blocking listener may give EAGAIN: returned as an error
// with that errno in `err_no`).
struct Accepted {
  Fd fd;
  Endpoint peer;
};
Result<Accepted> accept_one(int listen_fd, int* err_no);

// Accept-queue depth and maximum of a listener: TCP from TCP_INFO, Unix
// stream from unix_diag. nullopt for UDP or when the kernel does not say.
struct QueueFill {
  uint32_t depth = 0;
  uint32_t max = 0;
};
std::optional<QueueFill> listener_queue(int listen_fd);

// Connect of a non-blocking socket (every socket is, from make_socket) to
// one endpoint, waiting at most `timeout` (0: no limit), waking on SIGINT.
Status timeout_connect(int fd, const Endpoint& to, Duration timeout, const std::string& target);

struct Connection {
  Fd fd;
  Endpoint peer;
  std::vector<std::string> failures;  // "127.0.0.1: Connection refused" per failed attempt
};
// Resolves host and connects to each address in turn until one answers,
// all within `timeout` (0: no limit). The error names the target and the
// last failure; a timeout is ErrorKind::Timeout.
Result<Connection> remote_connect(const std::string& host, uint16_t port, const SocketConfig& cfg,
                                  Duration timeout);
Result<Connection> unix_connect(const std::string& path, const SocketConfig& cfg, Duration timeout);

// "connect to HOST port P (tcp)" — the operation and target for messages.
std::string connect_target(const std::string& host, uint16_t port, Transport t);

}  // namespace sp
