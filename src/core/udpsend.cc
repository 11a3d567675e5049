// The send -u loop (see udptransfer.h): sendmmsg batches of stamped
// datagrams, paced and bounded, then the final datagram until echoed.
#include "core/udptransfer.h"

#include <netinet/udp.h>
#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <cstring>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "core/atomicio.h"
#include "core/pacer.h"
#include "core/signals.h"
#include "core/stall.h"
#include "core/ticker.h"
#include "core/udpwire.h"
#include "core/wait.h"

namespace sp {
namespace {

using Clock = std::chrono::steady_clock;
constexpr unsigned kBatch = kUdpBatch;

// The final datagram goes again every kFinalGap until the receiver echoes it,
// kFinalTries times at most (1 s in all): a receiver that was paused, or a
// lossy path, still learns the totals; a sockprobe receiver answers at once.
constexpr int kFinalTries = 40;
constexpr auto kFinalGap = std::chrono::milliseconds(25);
// ENOBUFS: the device queue is full; it drains in well under a millisecond.
constexpr auto kNoBufsPause = std::chrono::microseconds(200);

bool readable_now(int fd) {
  auto w = wait_fd(fd, POLLIN, Clock::now());
  return w.ok() && *w == Wake::Ready;
}

// Decision: with UDP GSO (UDP_SEGMENT) the batch goes as a few
// super-datagrams that the kernel cuts into --length datagrams, each with
// its own header already in place (the cuts fall on the header/body iovec
// pairs, all of one length but the last). Used on UDP over IPv4/IPv6 when
// every datagram but the last is full; a kernel or device that refuses it
// (EIO, EINVAL, ENOPROTOOPT) turns it off for the rest of the run.
// Measured (bench/udp.sh, loopback, --length 1400 unlimited, 3 x 2 s, load
// 2-3): 1.19M datagrams/s sent with GSO against 285k without (4.2x; sender
// 830 vs 3507 ns of CPU per datagram, receiver 676 vs 1648), iperf3 -u -b 0
// -l 1400 303k: 3.8x. SOCKPROBE_UDP_GSO=0 gives the A/B.
constexpr size_t kGsoMaxSegments = 64;     // UDP_MAX_SEGMENTS on older kernels (6.18: 128)
constexpr size_t kGsoMaxBytes = 65507;     // one IPv4 datagram's payload

bool socket_is_inet_udp(int fd) {
  int type = 0;
  socklen_t len = sizeof(type);
  sockaddr_storage ss{};
  socklen_t sl = sizeof(ss);
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_DGRAM) return false;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &sl) != 0) return false;
  return ss.ss_family == AF_INET || ss.ss_family == AF_INET6;
}

// The datagrams of one send: a header and a body per slot, sent with
// sendmmsg (a message per datagram) or, with GSO, as a few super-datagrams.
// Slots not yet taken by the kernel are resent by the next send().
class SendBatch {
 public:
  SendBatch(size_t length, uint16_t stream, bool gso)
      : length_(length), body_len_(length - kUdpDataHeader), bodies_(kBatch * body_len_),
        segments_(std::min(kGsoMaxSegments, kGsoMaxBytes / length)), gso_(gso && segments_ >= 2) {
    UdpHeader h;
    h.stream = stream;
    for (unsigned i = 0; i < kBatch; ++i) {
      encode_udp_header(h, headers_[i]);
      iov_[i][0] = {headers_[i].data(), kUdpDataHeader};
      iov_[i][1] = {bodies_.data() + i * body_len_, 0};
      msgs_[i] = {};
      msgs_[i].msg_hdr.msg_iov = iov_[i].data();
      msgs_[i].msg_hdr.msg_iovlen = 2;
    }
  }
  bool empty() const { return next_ == count_; }

  // Refills up to `want` slots from the source, numbered from `seq`; stops
  // early when a pipe has nothing more now. *eof when the source ended.
  Status fill(Source& src, unsigned want, uint64_t seq, bool* eof) {
    count_ = next_ = 0;
    while (count_ < want && !*eof) {
      size_t got = 0;
      if (auto s = fill_body(src, static_cast<char*>(iov_[count_][1].iov_base), &got, eof); !s) return s;
      if (got == 0) break;
      iov_[count_][1].iov_len = got;
      seqs_[count_] = seq + count_;
      ++count_;
    }
    return {};
  }

  // Stamps what is unsent with the time now and sends as much as the kernel
  // takes: the number sent (their bytes added to *bytes), or -1 with errno.
  int send(int fd, uint64_t* bytes) {
    for (unsigned i = next_; i < count_; ++i) patch_udp_data(headers_[i], seqs_[i], udp_clock_ns());
    int n = gso_ && uniform() ? send_segmented(fd) : send_batch(fd, msgs_.data() + next_, count_ - next_, 0);
    for (int i = 0; i < n; ++i) *bytes += kUdpDataHeader + iov_[next_ + i][1].iov_len;
    if (n > 0) next_ += static_cast<unsigned>(n);
    return n;
  }
  bool gso() const { return gso_; }

 private:
  // One body: full length, as a source's reads may end anywhere; shorter
  // only at the end or when a pipe has nothing more now (as nc -u, which
  // sends what one read gave).
  Status fill_body(Source& src, char* body, size_t* got, bool* eof) {
    int pfd = src.poll_fd();
    while (*got < body_len_) {
      if (pfd >= 0 && !readable_now(pfd)) break;
      auto part = src.next(body_len_ - *got);
      if (!part.ok()) return part.error();
      if (part->empty()) {
        *eof = true;
        break;
      }
      std::memcpy(body + *got, part->data(), part->size());
      *got += part->size();
    }
    return {};
  }

  // Every unsent datagram but the last is full: the kernel's cuts fall right.
  bool uniform() const {
    for (unsigned i = next_; i + 1 < count_; ++i) {
      if (iov_[i][1].iov_len != body_len_) return false;
    }
    return true;
  }

  // The unsent slots as super-datagrams of up to segments_ each (their
  // iovec pairs are contiguous); the datagrams the kernel took, or -1.
  int send_segmented(int fd) {
    unsigned groups = 0;
    for (unsigned i = next_; i < count_; i += static_cast<unsigned>(segments_), ++groups) {
      unsigned n = std::min(static_cast<unsigned>(segments_), count_ - i);
      mmsghdr& m = gmsgs_[groups];
      m = {};
      m.msg_hdr.msg_iov = &iov_[i][0];
      m.msg_hdr.msg_iovlen = 2 * n;
      m.msg_hdr.msg_control = gctl_[groups].bytes;
      m.msg_hdr.msg_controllen = CMSG_SPACE(sizeof(uint16_t));
      cmsghdr* c = CMSG_FIRSTHDR(&m.msg_hdr);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      auto size = static_cast<uint16_t>(length_);
      std::memcpy(CMSG_DATA(c), &size, sizeof size);
      gsegs_[groups] = n;
    }
    int sent = send_batch(fd, gmsgs_.data(), groups, 0);
    if (sent < 0 && (errno == EIO || errno == EINVAL || errno == ENOPROTOOPT || errno == EOPNOTSUPP)) {
      gso_ = false;  // not here: one datagram per message from now on
      return send_batch(fd, msgs_.data() + next_, count_ - next_, 0);
    }
    if (sent < 0) return sent;
    int datagrams = 0;
    for (int g = 0; g < sent; ++g) datagrams += static_cast<int>(gsegs_[g]);
    return datagrams;
  }

  size_t length_;
  size_t body_len_;
  std::vector<char> bodies_;
  size_t segments_;
  bool gso_;
  std::array<mmsghdr, kBatch> gmsgs_{};
  struct alignas(cmsghdr) SegmentControl {
    char bytes[CMSG_SPACE(sizeof(uint16_t))];
  };
  std::array<SegmentControl, kBatch> gctl_{};
  std::array<unsigned, kBatch> gsegs_{};
  std::array<std::array<uint8_t, kUdpDataHeader>, kBatch> headers_{};
  std::array<std::array<iovec, 2>, kBatch> iov_{};
  std::array<mmsghdr, kBatch> msgs_{};
  std::array<uint64_t, kBatch> seqs_{};
  unsigned count_ = 0, next_ = 0;
};

// One attempt to send what the batch holds, and at most one wait when the
// kernel takes nothing (EAGAIN: the socket buffer or a Unix peer's queue is
// full; ENOBUFS: the device queue). The stall clock runs while nothing goes.
struct Sender {
  int fd;
  const UdpSendOptions& o;
  UdpSendStats* st;
  StallClock stall{o.stall_timeout};

  Status step(SendBatch& b, Deadline wake) {
    int n = b.send(fd, &st->bytes);
    if (n > 0) {
      st->datagrams += static_cast<uint64_t>(n);
      stall.update(false, true, Clock::now());
      return {};
    }
    int err = n == 0 ? EAGAIN : errno;
    if (err == EINTR) return interrupted_error();  // send_batch retries other signals
    if (err != EAGAIN && err != EWOULDBLOCK && err != ENOBUFS) {
      return system_error(fmt::format("send to {}: {}", o.target, errno_text(err)));
    }
    ++(err == ENOBUFS ? st->enobufs : st->eagain);
    auto now = Clock::now();
    stall.update(true, false, now);
    if (stall.due(now)) {
      return timeout_error(fmt::format("send to {}: the kernel took no datagram for {} ({} full)", o.target,
                                       human_duration(stall.seconds(now)),
                                       err == ENOBUFS ? "the device queue is" : "the socket's send queue is"));
    }
    Deadline until = earlier(stall.deadline(), wake);
    if (err == ENOBUFS) until = earlier(until, now + kNoBufsPause);
    auto w = err == ENOBUFS ? Result<Wake>(sleep_until(*until) ? Wake::Timeout : Wake::Interrupted)
                            : wait_fd(fd, POLLOUT, until);
    if (!w.ok()) return w.error();
    if (*w == Wake::Interrupted) return interrupted_error();
    return {};
  }
};

enum class Ack { Yes, No, Gone };

// Waits up to `gap` for the receiver's echo of the final datagram.
Ack echoed_within(int fd, const UdpHeader& final, Duration gap) {
  auto until = Clock::now() + gap;
  for (;;) {
    auto w = wait_fd(fd, POLLIN, until);
    if (!w.ok() || *w != Wake::Ready) return Ack::No;
    std::array<uint8_t, kUdpFinalSize> in{};  // an echo is a final datagram
    ssize_t n = recv_some(fd, in.data(), in.size(), MSG_DONTWAIT);
    if (n < 0) return errno == ECONNREFUSED ? Ack::Gone : Ack::No;  // refused: nobody listens any more
    auto h = decode_udp_header(std::span<const uint8_t>(in.data(), static_cast<size_t>(n)));
    if (h && h->kind == UdpKind::Final && h->stream == final.stream && h->datagrams_sent == final.datagrams_sent) {
      return Ack::Yes;
    }
  }
}

// The final datagram with the totals, until echoed (or once, after SIGINT).
// Gone: the kernel says nothing received the data (an ICMP port unreachable
// pending before the first final went). A refusal after that is a receiver
// that took a final and left while its echo was lost: not an error.
Ack send_finals(int fd, const UdpSendStats& st, uint16_t stream, bool wait) {
  UdpHeader h;
  h.kind = UdpKind::Final;
  h.stream = stream;
  h.seq = st.datagrams;
  h.datagrams_sent = st.datagrams;
  h.bytes_sent = st.bytes;
  std::array<uint8_t, kUdpFinalSize> out{};
  for (int i = 0; i < kFinalTries; ++i) {
    h.send_ns = udp_clock_ns();
    encode_udp_header(h, out);
    if (send_one(fd, out.data(), out.size(), MSG_DONTWAIT) < 0 && errno == ECONNREFUSED) {
      return i == 0 ? Ack::Gone : Ack::No;
    }
    if (!wait) return Ack::No;
    Ack a = echoed_within(fd, h, kFinalGap);
    if (a == Ack::Gone && i > 0) return Ack::No;
    if (a != Ack::No || interrupted()) return a;
  }
  return Ack::No;
}

// --interval lines of the sender: counts at the interval's start, deltas out.
struct SendIntervals {
  struct Counts {
    uint64_t datagrams = 0, bytes = 0;
  };
  const UdpSendHooks& hooks;
  IntervalClock<Counts> clock;

  void emit(double end, const UdpSendStats& st) {
    clock.close(end, {st.datagrams, st.bytes}, [&](double start, double stop, const Counts& at) {
      if (hooks.on_interval) hooks.on_interval({start, stop, st.datagrams - at.datagrams, st.bytes - at.bytes});
    });
  }
  void tick_at(Clock::time_point now, const UdpSendStats& st) {
    if (auto end = clock.due(now)) emit(*end, st);
  }
};

// How many datagrams may go now under --rate (all of a batch without it);
// 0 after sleeping until the next one may (or until `wake`).
Result<unsigned> paced_batch(const Pacer& pacer, Clock::time_point t0, Clock::time_point now, uint64_t sent,
                             size_t length, Deadline wake) {
  if (!pacer.limited()) return kBatch;
  double el = std::chrono::duration<double>(now - t0).count();
  auto want = static_cast<unsigned>(std::min<uint64_t>(kBatch, pacer.allowance(el, sent) / length));
  if (want > 0) return want;
  auto d = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(pacer.wait_for(el, sent, length)));
  if (!sleep_until(*earlier(wake, now + d))) return interrupted_error();
  return 0u;
}

// Refills an empty batch; when a pipe has nothing yet, waits for it.
Status refill(SendBatch& b, Source& src, unsigned want, uint64_t seq, bool* eof, Deadline wake) {
  if (auto s = b.fill(src, want, seq, eof); !s) return s;
  if (!b.empty() || *eof) return {};
  auto w = wait_fd(src.poll_fd(), POLLIN, wake);
  if (!w.ok()) return w.error();
  if (*w == Wake::Interrupted) return interrupted_error();
  return {};
}

}  // namespace

Status udp_send(int fd, Source& src, const UdpSendOptions& o, const UdpSendHooks& hooks, UdpSendStats* st) {
  auto batch = std::make_unique<SendBatch>(o.length, o.stream, o.gso && socket_is_inet_udp(fd));
  Sender sender{fd, o, st};
  Pacer pacer(o.rate);
  Clock::time_point t0 = Clock::now();
  Deadline end = o.duration.count() > 0 ? Deadline(t0 + o.duration) : std::nullopt;
  SendIntervals iv{hooks, {}};
  iv.clock.begin(t0, o.interval);
  bool eof = false;
  Status result;
  while (result.ok()) {
    auto now = Clock::now();
    iv.tick_at(now, *st);
    if (end && now >= *end) break;
    Deadline wake = earlier(end, iv.clock.tick.deadline());
    if (!batch->empty()) {
      result = sender.step(*batch, wake);
      continue;
    }
    if (eof) break;
    auto want = paced_batch(pacer, t0, now, st->bytes, o.length, wake);
    if (!want.ok()) result = want.error();
    else if (*want > 0) result = refill(*batch, src, *want, st->datagrams, &eof, wake);
  }
  st->seconds = seconds_since(t0);
  st->gso = batch->gso();
  if (o.interval.count() > 0) iv.emit(st->seconds, *st);
  // A sender that timed out cannot send its final either.
  bool timed_out = !result.ok() && result.error().kind == ErrorKind::Timeout;
  if (timed_out) return result;
  Ack ack = send_finals(fd, *st, o.stream, result.ok());
  st->final_acked = ack == Ack::Yes;
  if (ack == Ack::Gone && result.ok()) {
    return system_error(fmt::format("send to {}: {} (nothing receives there)", o.target, errno_text(ECONNREFUSED)));
  }
  return result;
}

// Whole datagrams, and a last shorter one when what remains holds more than
// a header: a remainder under the header is not sent (the man page says so).
uint64_t udp_body_bytes(uint64_t size, size_t length) {
  uint64_t whole = size / length, rest = size % length;
  uint64_t body = whole * (length - kUdpDataHeader);
  return rest > kUdpDataHeader ? body + rest - kUdpDataHeader : body;
}

}  // namespace sp
