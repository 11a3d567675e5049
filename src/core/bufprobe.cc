// Real sockets, real numbers: see bufprobe.h.
#include "core/bufprobe.h"

#include <sys/socket.h>

#include <cerrno>

#include <fmt/format.h>

#include "core/fd.h"

namespace sp {
namespace {

struct KindSpec {
  int family;
  int type;
};

KindSpec spec_of(SockKind k) {
  switch (k) {
    case SockKind::Tcp4: return {AF_INET, SOCK_STREAM};
    case SockKind::Tcp6: return {AF_INET6, SOCK_STREAM};
    case SockKind::Udp4: return {AF_INET, SOCK_DGRAM};
    case SockKind::Udp6: return {AF_INET6, SOCK_DGRAM};
    case SockKind::UnixStream: return {AF_UNIX, SOCK_STREAM};
    case SockKind::UnixDgram: return {AF_UNIX, SOCK_DGRAM};
  }
  return {AF_INET, SOCK_STREAM};
}

Result<Fd> open_kind(SockKind k) {
  KindSpec s = spec_of(k);
  int fd = ::socket(s.family, s.type | SOCK_CLOEXEC, 0);
  if (fd < 0) return system_error(fmt::format("socket ({}): {}", sock_kind_name(k), errno_text(errno)));
  return Fd(fd);
}

int option_of(BufDir d, bool force) {
  if (d == BufDir::Send) return force ? SO_SNDBUFFORCE : SO_SNDBUF;
  return force ? SO_RCVBUFFORCE : SO_RCVBUF;
}

int64_t read_buf(int fd, BufDir d) {
  int v = 0;
  socklen_t len = sizeof v;
  if (::getsockopt(fd, SOL_SOCKET, option_of(d, false), &v, &len) != 0) return -1;
  return v;
}

// Returns the errno of a failed setsockopt, 0 on success.
int set_buf(int fd, BufDir d, bool force, uint64_t requested) {
  int v = setsockopt_value(requested);
  return ::setsockopt(fd, SOL_SOCKET, option_of(d, force), &v, sizeof v) == 0 ? 0 : errno;
}

// FORCE first when asked; EPERM (no CAP_NET_ADMIN) falls back to the plain
// option so the user still sees what an unprivileged request gets.
Status apply_dir(int fd, SockKind k, BufDir d, bool force, DirOutcome* out) {
  out->fresh = read_buf(fd, d);
  out->effective = out->fresh;
  if (!out->requested) return {};
  if (force) {
    int err = set_buf(fd, d, true, *out->requested);
    out->force = err == 0 ? ForceOutcome::Allowed : ForceOutcome::Refused;
    if (err != 0 && err != EPERM) {
      return system_error(fmt::format("setsockopt {} ({}): {}", option_name(d, true), sock_kind_name(k),
                                      errno_text(err)));
    }
    if (err != 0) out->force_error = errno_text(err);
  }
  if (out->force != ForceOutcome::Allowed) {
    if (int err = set_buf(fd, d, false, *out->requested); err != 0) {
      return system_error(fmt::format("setsockopt {} ({}): {}", option_name(d, false), sock_kind_name(k),
                                      errno_text(err)));
    }
  }
  out->effective = read_buf(fd, d);
  return {};
}

}  // namespace

Result<ProbeOutcome> probe_socket(SockKind kind, const ProbeRequest& req) {
  auto fd = open_kind(kind);
  if (!fd.ok()) return fd.take_error();
  ProbeOutcome out;
  out.kind = kind;
  out.snd.requested = req.sndbuf;
  out.rcv.requested = req.rcvbuf;
  if (auto s = apply_dir(fd->get(), kind, BufDir::Send, req.force, &out.snd); !s) return s.error();
  if (auto s = apply_dir(fd->get(), kind, BufDir::Receive, req.force, &out.rcv); !s) return s.error();
  return out;
}

KernelMinima measure_minima() {
  KernelMinima m;
  auto fd = open_kind(SockKind::Udp4);
  if (!fd.ok()) fd = open_kind(SockKind::UnixDgram);
  if (!fd.ok()) return m;
  if (set_buf(fd->get(), BufDir::Send, false, 0) == 0) m.sndbuf = read_buf(fd->get(), BufDir::Send);
  if (set_buf(fd->get(), BufDir::Receive, false, 0) == 0) m.rcvbuf = read_buf(fd->get(), BufDir::Receive);
  return m;
}

}  // namespace sp
