// Why: the rules are only worth printing if they match this kernel. Real
// sockets of every kind, several requests, predicted against measured.
#include "core/bufprobe.h"

#include <doctest/doctest.h>

using namespace sp;

TEST_CASE("bufprobe: fresh sockets get the defaults the rules name") {
  BufferLimits lim = read_buffer_limits(ProcFs());
  for (SockKind k : kAllSockKinds) {
    auto out = probe_socket(k, {});
    if (!out.ok()) continue;  // e.g. no IPv6 here
    CAPTURE(sock_kind_name(k));
    CHECK(out->snd.effective == fresh_default(k, BufDir::Send, lim).value);
    CHECK(out->rcv.effective == fresh_default(k, BufDir::Receive, lim).value);
    CHECK_FALSE(out->snd.requested.has_value());
  }
}

TEST_CASE("bufprobe: measured values agree with predict_set") {
  BufferLimits lim = read_buffer_limits(ProcFs());
  KernelMinima min = measure_minima();
  CHECK(min.sndbuf > 0);
  CHECK(min.rcvbuf > 0);
  for (uint64_t req : {uint64_t{1}, uint64_t{2000}, uint64_t{4000}, uint64_t{1} << 20, uint64_t{100} << 20}) {
    for (SockKind k : kAllSockKinds) {
      auto out = probe_socket(k, {req, req, false});
      if (!out.ok()) continue;
      CAPTURE(sock_kind_name(k));
      CAPTURE(req);
      CHECK(out->snd.effective == predict_set(BufDir::Send, req, false, lim, min).effective);
      CHECK(out->rcv.effective == predict_set(BufDir::Receive, req, false, lim, min).effective);
      CHECK(out->snd.force == ForceOutcome::NotTried);
    }
  }
}
