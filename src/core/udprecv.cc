// The recv -u loop (see udptransfer.h): recvmmsg batches of headers with
// the kernel's arrival times and drop counts, fed to the tally, until the
// final datagram (echoed back) or the idle timeout.
#include "core/udptransfer.h"

#include <linux/sock_diag.h>
#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <memory>

#include <fmt/format.h>

#include "core/atomicio.h"
#include "core/signals.h"
#include "core/ticker.h"
#include "core/udpwire.h"
#include "core/wait.h"

namespace sp {

uint64_t socket_drop_count(int fd) {
  std::array<uint32_t, SK_MEMINFO_VARS> mem{};
  socklen_t len = sizeof(mem);
  if (::getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem.data(), &len) != 0 || len <= SK_MEMINFO_DROPS * sizeof(uint32_t)) {
    return 0;
  }
  return mem[SK_MEMINFO_DROPS];
}

namespace {

using Clock = std::chrono::steady_clock;
constexpr unsigned kBatch = kUdpBatch;
// recv -u copies this much of each datagram: the header (MSG_TRUNC makes
// recvmmsg report each datagram's real length, so bytes are counted right).
constexpr size_t kPeek = 64;

// What the kernel says about one received datagram in its control data.
struct Arrival {
  uint64_t ns = 0;                // SO_TIMESTAMPNS (CLOCK_REALTIME), 0 when absent
  std::optional<uint32_t> drops;  // SO_RXQ_OVFL: the socket's drops so far
};

Arrival parse_arrival(msghdr& m) {
  Arrival a;
  for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level != SOL_SOCKET) continue;
    if (c->cmsg_type == SCM_TIMESTAMPNS && c->cmsg_len >= CMSG_LEN(sizeof(timespec))) {
      timespec ts{};
      std::memcpy(&ts, CMSG_DATA(c), sizeof(ts));
      a.ns = static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
    } else if (c->cmsg_type == SO_RXQ_OVFL && c->cmsg_len >= CMSG_LEN(sizeof(uint32_t))) {
      uint32_t v = 0;
      std::memcpy(&v, CMSG_DATA(c), sizeof(v));
      a.drops = v;
    }
  }
  return a;
}

// One recvmmsg call's worth of headers, sender addresses and control data.
class RecvBatch {
 public:
  RecvBatch() {
    for (unsigned i = 0; i < kBatch; ++i) iov_[i] = {bufs_[i].data(), kPeek};
  }
  int receive(int fd) {
    for (unsigned i = 0; i < kBatch; ++i) {
      msgs_[i] = {};
      msghdr& h = msgs_[i].msg_hdr;
      h.msg_iov = &iov_[i];
      h.msg_iovlen = 1;
      h.msg_name = &from_[i];
      h.msg_namelen = sizeof(from_[i]);
      h.msg_control = ctl_[i].bytes;
      h.msg_controllen = sizeof(ctl_[i].bytes);
    }
    return recv_batch(fd, msgs_.data(), kBatch, MSG_DONTWAIT | MSG_TRUNC);
  }
  std::span<const uint8_t> head(unsigned i) const {
    return {bufs_[i].data(), std::min<size_t>(kPeek, msgs_[i].msg_len)};
  }
  size_t length(unsigned i) const { return msgs_[i].msg_len; }
  Endpoint from(unsigned i) const {
    Endpoint e;
    std::memcpy(&e.addr, &from_[i], sizeof(from_[i]));
    e.len = msgs_[i].msg_hdr.msg_namelen;
    return e;
  }
  Arrival arrival(unsigned i) { return parse_arrival(msgs_[i].msg_hdr); }

 private:
  union Control {
    cmsghdr align;
    char bytes[CMSG_SPACE(sizeof(timespec)) + CMSG_SPACE(sizeof(uint32_t))];
  };
  std::array<std::array<uint8_t, kPeek>, kBatch> bufs_{};
  std::array<iovec, kBatch> iov_{};
  std::array<mmsghdr, kBatch> msgs_{};
  std::array<sockaddr_storage, kBatch> from_{};
  std::array<Control, kBatch> ctl_{};
};

// The receiver's state between batches: the tally, the sender it follows,
// its interval clock and the idle clock.
struct Receiver {
  Receiver(int f, const UdpRecvOptions& opts, const UdpRecvHooks& h, UdpRecvStats* s)
      : fd(f), o(opts), hooks(h), st(s) {}
  int fd;
  const UdpRecvOptions& o;
  const UdpRecvHooks& hooks;
  UdpRecvStats* st;
  UdpTally tally;
  std::optional<uint16_t> stream;
  uint64_t first_ns = 0, last_ns = 0;
  uint32_t drops = 0;
  Clock::time_point last_seen{};
  struct Counts {
    UdpCounts tally;
    uint32_t drops = 0;
  };
  IntervalClock<Counts> clock;  // begins with the first datagram

  // The whole batch, also what follows the final datagram (reordered data
  // that overtook nothing: it arrived, so it is counted).
  void take(RecvBatch& b, unsigned n) {
    for (unsigned i = 0; i < n; ++i) take_one(b, i);
  }
  void take_one(RecvBatch& b, unsigned i) {
    auto h = decode_udp_header(b.head(i));
    Endpoint from = b.from(i);
    if (!h || (stream && (*stream != h->stream || !same_endpoint(from, st->peer)))) {
      ++st->foreign;
      return;
    }
    last_seen = Clock::now();  // only the followed sender's datagrams keep the idle clock
    if (st->got_final && h->kind == UdpKind::Final) return;  // a repeat of the final
    Arrival a = b.arrival(i);
    if (a.ns == 0) a.ns = udp_clock_ns();
    if (a.drops) drops = *a.drops;
    if (h->kind == UdpKind::Final) return finish(b, i, *h);
    if (!stream) begin(from, h->stream, a.ns);
    tally.add(h->seq, h->send_ns, a.ns, b.length(i));
    last_ns = a.ns;
  }
  void begin(const Endpoint& from, uint16_t id, uint64_t ns) {
    stream = id;
    st->peer = from;
    first_ns = ns;
    clock.begin(Clock::now(), o.interval);
    if (hooks.on_first) hooks.on_first(from);
  }
  // The final datagram: the sender's totals; echoed so the sender can stop.
  void finish(RecvBatch& b, unsigned i, const UdpHeader& h) {
    if (!stream) begin(b.from(i), h.stream, last_ns);
    tally.set_sent(h.datagrams_sent);
    st->got_final = true;
    Endpoint to = b.from(i);
    auto head = b.head(i);
    send_one_to(fd, head.data(), head.size(), MSG_DONTWAIT, to.sa(), to.len);
  }
  void interval(double end) {
    Counts now{tally.counts(), drops};
    clock.close(end, now, [&](double start, double stop, const Counts& at) {
      if (hooks.on_interval) hooks.on_interval({start, stop, at.tally, now.tally, at.drops, now.drops});
    });
  }
  void tick_at(Clock::time_point now) {
    if (!stream) return;
    if (auto end = clock.due(now)) interval(*end);
  }
  Deadline idle_deadline() const {
    if (!stream || o.idle_timeout.count() == 0) return std::nullopt;
    return last_seen + std::chrono::duration_cast<Clock::duration>(o.idle_timeout);
  }
  void close() {
    if (stream && o.interval.count() > 0) interval(clock.elapsed(Clock::now()));
    st->counts = tally.counts();
    st->seconds = last_ns > first_ns ? static_cast<double>(last_ns - first_ns) / 1e9 : 0;
    st->socket_drops = std::max<uint64_t>(drops, socket_drop_count(fd));
  }
};

// Best effort: without them the arrival time is read after recvmmsg and
// the drops come from SO_MEMINFO at the end only.
void enable_arrival_data(int fd) {
  int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on));
  ::setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof(on));
}

// Receives until the final datagram or the idle timeout; one wait per empty queue.
// After the final datagram: what is already queued behind it (bounded).
void drain_queued(Receiver& r, RecvBatch& batch) {
  for (int k = 0; k < 16; ++k) {
    int n = batch.receive(r.fd);
    if (n <= 0) return;
    r.take(batch, static_cast<unsigned>(n));
  }
}

Status receive_all(Receiver& r, RecvBatch& batch) {
  while (!r.st->got_final) {
    int n = batch.receive(r.fd);
    r.tick_at(Clock::now());
    if (n > 0) {
      r.take(batch, static_cast<unsigned>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) return interrupted_error();
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      return system_error(fmt::format("recv on {}: {}", r.o.target, errno_text(errno)));
    }
    Deadline idle = r.idle_deadline();
    auto w = wait_fd(r.fd, POLLIN, earlier(idle, r.stream ? r.clock.tick.deadline() : std::nullopt));
    if (!w.ok()) return w.error();
    if (*w == Wake::Interrupted) return interrupted_error();
    if (*w == Wake::Timeout && idle && Clock::now() >= *idle) {
      r.st->idle_end = true;
      return timeout_error(fmt::format("recv on {}: no datagram for {} and no final datagram from the sender",
                                       r.o.target, human_duration(std::chrono::duration<double>(r.o.idle_timeout).count())));
    }
  }
  return {};
}

}  // namespace

Status udp_recv(int fd, const UdpRecvOptions& o, const UdpRecvHooks& hooks, UdpRecvStats* st) {
  enable_arrival_data(fd);
  auto batch = std::make_unique<RecvBatch>();
  auto r = std::make_unique<Receiver>(fd, o, hooks, st);
  Status s = receive_all(*r, *batch);
  if (s) drain_queued(*r, *batch);
  r->close();
  return s;
}

}  // namespace sp
