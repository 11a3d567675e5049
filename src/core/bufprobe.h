// Why: the rules in bufrules.h are a prediction; the kernel is the authority.
// bufprobe opens a real, unconnected socket of each kind, applies the
// requested SO_SNDBUF/SO_RCVBUF (or the FORCE variants) and reads back what
// the kernel stored, so sockprobe always reports measured values and only
// uses the rules to explain them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/bufrules.h"
#include "core/result.h"

namespace sp {

struct ProbeRequest {
  std::optional<uint64_t> sndbuf;
  std::optional<uint64_t> rcvbuf;
  bool force = false;  // try SO_SNDBUFFORCE / SO_RCVBUFFORCE first
};

enum class ForceOutcome { NotTried, Allowed, Refused };

struct DirOutcome {
  std::optional<uint64_t> requested;
  int64_t fresh = 0;      // getsockopt before any setsockopt
  int64_t effective = 0;  // getsockopt after it (= fresh without a request)
  ForceOutcome force = ForceOutcome::NotTried;
  std::string force_error;  // why FORCE was refused ("Operation not permitted")
};

struct ProbeOutcome {
  SockKind kind = SockKind::Tcp4;
  DirOutcome snd;
  DirOutcome rcv;
};

// Opens a socket of that kind and applies the request. An error means the
// kind is not available here (socket() failed, e.g. no IPv6) or a
// setsockopt failed for another reason than missing privilege.
Result<ProbeOutcome> probe_socket(SockKind kind, const ProbeRequest& req);

// The floors (SOCK_MIN_SNDBUF/SOCK_MIN_RCVBUF) measured by asking a UDP
// socket for 0 bytes; the defaults if that fails.
KernelMinima measure_minima();

}  // namespace sp
