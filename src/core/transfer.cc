// Sources, sinks and the send/recv loops (see transfer.h). Which path the
// bytes take, and the measurements behind it: core/mover.cc; one more case
// lives here: recv --discard without a checksum reads with MSG_TRUNC on TCP
// (the kernel drops the bytes without copying them out; receiver CPU 0.29 s
// vs 0.34 s with read()). Unix sockets and --checksum keep read(); output to
// /dev/null counts as --discard.
#include "core/transfer.h"

#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "core/atomicio.h"
#include "core/delivery.h"
#include "core/deadline.h"
#include "core/pacer.h"
#include "core/signals.h"
#include "core/sock.h"
#include "core/wait.h"
#include "core/zerocopy.h"

namespace sp {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

class FdSource : public Source {
 public:
  FdSource(int fd, size_t chunk, std::string name) : fd_(fd), buf_(chunk), name_(std::move(name)) {
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
      regular_ = true;
      off_t pos = lseek(fd, 0, SEEK_CUR);
      size_ = static_cast<uint64_t>(st.st_size - (pos > 0 ? pos : 0));
    }
  }
  Result<std::span<const char>> next(size_t max) override {
    ssize_t n = read_some(fd_, buf_.data(), std::min(max, buf_.size()));
    if (n < 0) return system_error(fmt::format("read {}: {}", name_, errno_text(errno)));
    return std::span<const char>(buf_.data(), static_cast<size_t>(n));
  }
  int poll_fd() const override { return regular_ ? -1 : fd_; }
  std::optional<uint64_t> size() const override { return size_; }
  int direct_fd() const override { return fd_; }

 private:
  int fd_;
  std::vector<char> buf_;
  std::string name_;
  bool regular_ = false;
  std::optional<uint64_t> size_;
};

class GeneratedSource : public Source {
 public:
  GeneratedSource(std::optional<uint64_t> limit, Pattern pattern, size_t chunk)
      : limit_(limit), block_(std::max<size_t>(4 << 20, chunk)) {
    if (pattern == Pattern::Random) {
      uint64_t x = 0x9E3779B97F4A7C15ULL;  // fixed seed: the same stream every run
      for (size_t i = 0; i + 8 <= block_.size(); i += 8) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        uint64_t v = x * 0x2545F4914F6CDD1DULL;
        std::memcpy(block_.data() + i, &v, 8);
      }
    }
  }
  Result<std::span<const char>> next(size_t max) override {
    uint64_t left = limit_ ? *limit_ - produced_ : UINT64_MAX;
    size_t n = static_cast<size_t>(std::min<uint64_t>({max, left, block_.size() - offset_}));
    std::span<const char> out(block_.data() + offset_, n);
    offset_ = (offset_ + n) % block_.size();
    produced_ += n;
    return out;
  }
  std::optional<uint64_t> size() const override { return limit_; }

 private:
  std::optional<uint64_t> limit_;
  uint64_t produced_ = 0;
  std::vector<char> block_;
  size_t offset_ = 0;
};

class FdSink : public Sink {
 public:
  FdSink(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  Status write(const char* data, size_t len) override {
    if (!write_all(fd_, data, len)) return system_error(fmt::format("write {}: {}", name_, errno_text(errno)));
    return {};
  }
  int direct_fd() const override { return fd_; }
  std::string name() const override { return name_; }
  // `recv > /dev/null` discards as --discard does.
  bool discards() const override { return is_dev_null(fd_); }

 protected:
  int fd_;
  std::string name_;
};

class DiscardSink : public Sink {
 public:
  Status write(const char*, size_t) override { return {}; }
  bool discards() const override { return true; }
};

class FileSink : public FdSink {
 public:
  // The temporary file is removed unless committed: at scope exit and by
  // any fatal signal (OwnedPath).
  FileSink(Fd fd, std::string tmp, std::string path)
      : FdSink(fd.get(), path), owned_(std::move(fd)), tmp_(std::move(tmp)), path_(std::move(path)) {}
  Status commit() override {
    const std::string& tmp = tmp_.path();
    if (::fsync(owned_.get()) != 0) return system_error(fmt::format("fsync {}: {}", tmp, errno_text(errno)));
    if (::rename(tmp.c_str(), path_.c_str()) != 0) {
      return system_error(fmt::format("rename {} to {}: {}", tmp, path_, errno_text(errno)));
    }
    tmp_.release();
    return {};
  }

 private:
  Fd owned_;
  OwnedPath tmp_;
  std::string path_;
};

// Periodic callbacks (interval reports, progress) driven by the loops.
struct Ticker {
  Duration every{0};
  Clock::time_point next{};
  bool due(Clock::time_point now) const { return every.count() > 0 && now >= next; }
  void start(Clock::time_point t) { next = t + every; }
  void advance() { next += every; }
  Deadline deadline() const { return every.count() > 0 ? Deadline(next) : std::nullopt; }
};

struct Reporting {
  const TransferHooks& hooks;
  Clock::time_point start;
  Ticker interval, progress;
  uint64_t interval_bytes_at = 0;
  double interval_start = 0;

  Reporting(const TransferHooks& h, const TransferOptions& o, Clock::time_point s) : hooks(h), start(s) {
    interval.every = o.interval;
    progress.every = o.progress_every;
    interval.start(s);
    progress.start(s);
  }
  void tick(uint64_t bytes) {
    auto now = Clock::now();
    if (interval.due(now)) {
      double end = std::chrono::duration<double>(interval.next - start).count();
      if (hooks.on_interval) hooks.on_interval({interval_start, end, bytes - interval_bytes_at});
      interval_start = end;
      interval_bytes_at = bytes;
      while (interval.due(now)) interval.advance();
    }
    if (progress.due(now)) {
      if (hooks.on_progress) hooks.on_progress(bytes, seconds_since(start));
      while (progress.due(now)) progress.advance();
    }
  }
  // The last, partial interval.
  void finish(uint64_t bytes) {
    double end = seconds_since(start);
    if (interval.every.count() > 0 && hooks.on_interval && end > interval_start + 1e-3) {
      hooks.on_interval({interval_start, end, bytes - interval_bytes_at});
    }
  }
  // The next report due, at most `cap` from now.
  Deadline deadline(Duration cap) const {
    return earlier(Clock::now() + cap, earlier(interval.deadline(), progress.deadline()));
  }
};

Status stalled(int fd, double seconds, bool sending, const TransferHooks& hooks) {
  StallSnapshot snap = take_stall_snapshot(fd);
  std::string why = sending ? explain_send_stall(snap, seconds) : explain_recv_stall(snap, seconds);
  if (hooks.on_stall) hooks.on_stall(snap, why);
  return timeout_error(why);
}

// After the last write: FIN, then wait until the peer's kernel acknowledged
// everything (core/delivery.h), so the time measured is end to end.
Status finish_delivery(int fd, const TransferOptions& opts, const TransferHooks& hooks) {
  ::shutdown(fd, SHUT_WR);
  AckWaitOptions ack;
  ack.stall_timeout = opts.stall_timeout;
  ack.target = opts.target;
  ack.on_stall = hooks.on_stall;
  return wait_acknowledged(fd, ack);
}

PathPolicy path_policy(const TransferOptions& opts) {
  PathPolicy p;
  p.mode = opts.zero_copy;
  p.checksum = opts.checksum;
  return p;
}

// An fd the sink owns: -o naming something that is not a regular file.
class OwnedFdSink : public FdSink {
 public:
  OwnedFdSink(Fd fd, std::string name) : FdSink(fd.get(), std::move(name)), owned_(std::move(fd)) {}

 private:
  Fd owned_;
};

}  // namespace

std::unique_ptr<Source> make_fd_source(int fd, size_t chunk, std::string name) {
  return std::make_unique<FdSource>(fd, chunk, std::move(name));
}
std::unique_ptr<Source> make_generated_source(std::optional<uint64_t> limit, Pattern pattern, size_t chunk) {
  return std::make_unique<GeneratedSource>(limit, pattern, chunk);
}
std::unique_ptr<Sink> make_fd_sink(int fd, std::string name) { return std::make_unique<FdSink>(fd, std::move(name)); }
std::unique_ptr<Sink> make_discard_sink() { return std::make_unique<DiscardSink>(); }

Result<std::unique_ptr<Sink>> make_file_sink(const std::string& path) {
  // -o /dev/null, a FIFO, /dev/stdout: written in place. A temporary file
  // renamed over them would replace the device or FIFO with a regular file.
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return system_error(fmt::format("open {}: {}", path, errno_text(errno)));
    return std::unique_ptr<Sink>(std::make_unique<OwnedFdSink>(Fd(fd), path));
  }
  std::string tmp = path + ".sockprobe-XXXXXX";
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return system_error(fmt::format("create {}: {}", tmp, errno_text(errno)));
  ::fchmod(fd, 0644 & ~[] { mode_t m = ::umask(0); ::umask(m); return m; }());
  return std::unique_ptr<Sink>(std::make_unique<FileSink>(Fd(fd), std::move(tmp), path));
}

namespace {

Status send_loop(int net_fd, Source& src, const TransferOptions& opts, const TransferHooks& hooks,
                 TransferStats* stats) {
  fcntl(net_fd, F_SETFL, fcntl(net_fd, F_GETFL) | O_NONBLOCK);
  Pacer pacer(opts.rate);
  // With --rate, go in slices of ~20 ms worth of bytes so pacing is smooth.
  size_t slice = opts.chunk;
  if (pacer.limited()) slice = static_cast<size_t>(std::clamp<uint64_t>(opts.rate / 50, 1, opts.chunk));
  std::optional<Checksum> sum;
  if (opts.checksum) sum.emplace();
  auto start = Clock::now();
  Reporting rep(hooks, opts, start);
  auto finish_stats = [&] {
    stats->seconds = seconds_since(start);
    if (sum) stats->checksum = sum->text();
  };
  std::span<const char> pending;
  bool src_eof = false;
  Path path = path_into_socket(src.direct_fd(), path_policy(opts));
  bool blocked = false;  // zero-copy: bytes wait for room in the socket
  auto last_progress = Clock::now();
  constexpr Duration kCap = std::chrono::seconds(1);

  for (;;) {
    auto now = Clock::now();
    double elapsed = std::chrono::duration<double>(now - start).count();
    if (opts.duration.count() > 0 && now - start >= opts.duration) {
      src_eof = true;
      pending = {};
    }
    Deadline deadline = rep.deadline(kCap);
    bool want_source = pending.empty() && !src_eof;
    bool pacing_wait = false;
    if (want_source && pacer.limited() && pacer.allowance(elapsed, stats->bytes) < slice) {
      // Not allowed yet: sleep until the next slice is due.
      want_source = false;
      pacing_wait = true;
      double wait = pacer.wait_for(elapsed, stats->bytes, slice);
      deadline = earlier(deadline, now + std::chrono::duration_cast<Duration>(std::chrono::duration<double>(wait)));
    }
    bool socket_full = false;
    if (want_source && path != Path::Copy) {
      MoveResult m = move_zero_copy(path, src.direct_fd(), net_fd, nullptr, slice);
      switch (m.what) {
        case Moved::Bytes:
          stats->bytes += m.bytes;
          last_progress = Clock::now();
          blocked = false;
          want_source = false;
          break;
        case Moved::Eof:
          src_eof = true;
          want_source = false;
          break;
        case Moved::DestFull:
          socket_full = blocked = true;
          want_source = false;
          break;
        case Moved::SourceEmpty: break;  // poll the pipe, as for the copy path
        case Moved::Refused:
          path = Path::Copy;  // nothing was moved: read at once, no poll
          continue;
        case Moved::Interrupted: finish_stats(); return interrupted_error();
        case Moved::Failed:
          finish_stats();
          return system_error(fmt::format("write to {}: {}", opts.target, errno_text(m.err)));
      }
    } else if (want_source && src.poll_fd() < 0) {
      auto v = src.next(slice);
      if (!v.ok()) { finish_stats(); return v.take_error(); }
      pending = *v;
      if (pending.empty()) src_eof = true;
      want_source = false;
    }
    if (pending.empty() && src_eof) break;
    const bool stuck = !pending.empty() || blocked;
    if (opts.duration.count() > 0) deadline = earlier(deadline, start + opts.duration);
    if (stuck && opts.stall_timeout.count() > 0) deadline = earlier(deadline, last_progress + opts.stall_timeout);

    // Write first and poll only when the socket is full: one syscall per
    // chunk on the fast path.
    if (!pending.empty()) {
      ssize_t w = write_some(net_fd, pending.data(), pending.size());
      if (w < 0) { finish_stats(); return system_error(fmt::format("write to {}: {}", opts.target, errno_text(errno))); }
      if (w > 0) {
        if (sum) sum->update(pending.data(), static_cast<size_t>(w));
        pending = pending.subspan(static_cast<size_t>(w));
        stats->bytes += static_cast<uint64_t>(w);
        last_progress = Clock::now();
      } else {
        socket_full = true;
      }
    }
    if (socket_full || want_source || pacing_wait) {
      enum { kNet, kSrc };
      pollfd p[2] = {{socket_full ? net_fd : -1, POLLOUT, 0}, {want_source ? src.poll_fd() : -1, POLLIN, 0}};
      auto w = wait_fds(p, deadline);
      if (!w.ok()) { finish_stats(); return w.take_error(); }
      if (*w == Wake::Ready && p[kSrc].revents != 0 && path == Path::Copy) {
        auto v = src.next(slice);
        if (!v.ok()) { finish_stats(); return v.take_error(); }
        pending = *v;
        if (pending.empty()) src_eof = true;
      }
    }
    if (interrupted()) { finish_stats(); return interrupted_error(); }
    if (stuck && opts.stall_timeout.count() > 0 && Clock::now() - last_progress >= opts.stall_timeout) {
      finish_stats();
      return stalled(net_fd, seconds_since(last_progress), true, hooks);
    }
    rep.tick(stats->bytes);
  }
  Status st = finish_delivery(net_fd, opts, hooks);
  finish_stats();
  rep.finish(stats->bytes);
  return st;
}

}  // namespace

// A sender that fails or is interrupted (SIGINT here; SIGTERM, SIGHUP and a
// second SIGINT in the signal handler) aborts with a reset: a receiver must
// never take a truncated stream, ended by a clean FIN, for a complete one.
Status send_stream(int net_fd, Source& src, const TransferOptions& opts, const TransferHooks& hooks,
                   TransferStats* stats) {
  reset_on_fatal_signal(net_fd);
  Status st = send_loop(net_fd, src, opts, hooks, stats);
  reset_on_fatal_signal(-1);
  if (!st) abort_on_close(net_fd);
  return st;
}

namespace {

// The receiving side of one recv: the socket, the sink, the path between
// them and what has been counted.
struct Receiver {
  int net_fd;
  Sink& sink;
  const TransferOptions& opts;
  TransferStats* stats;
  std::vector<char> buf;
  std::optional<Checksum> sum;
  bool truncate = false;  // --discard on TCP without a checksum: MSG_TRUNC
  Path path = Path::Copy;
  Fd via[2];  // SpliceVia: our pipe between the socket and the sink

  Receiver(int fd, Sink& s, const TransferOptions& o, TransferStats* st)
      : net_fd(fd), sink(s), opts(o), stats(st), buf(o.chunk) {
    if (o.checksum) sum.emplace();
    // MSG_TRUNC discards only on TCP (on Unix stream sockets it is ignored
    // or means something else).
    truncate = sink.discards() && !sum && socket_is_tcp(net_fd);
    path = truncate ? Path::Copy : path_out_of_socket(sink.direct_fd(), path_policy(opts));
    if (path == Path::SpliceVia && !make_via_pipe(via)) path = Path::Copy;
  }

  // One move from the socket, on whichever path; the copy path writes the
  // sink (blocking: a file or a terminal) and feeds the checksum.
  Result<MoveResult> step() {
    if (path != Path::Copy) {
      MoveResult m = move_zero_copy(path, net_fd, sink.direct_fd(), via, opts.chunk);
      if (m.what != Moved::Refused) return m;
      path = Path::Copy;  // nothing was moved: copy from now on
    }
    ssize_t r = truncate ? ::recv(net_fd, buf.data(), buf.size(), MSG_TRUNC) : ::read(net_fd, buf.data(), buf.size());
    if (r == 0) return MoveResult{Moved::Eof};
    if (r < 0) {
      if (errno == EAGAIN) return MoveResult{Moved::SourceEmpty};
      if (errno == EINTR) return MoveResult{interrupted() ? Moved::Interrupted : Moved::SourceEmpty};
      return MoveResult{Moved::Failed, 0, errno, false};
    }
    if (sum) sum->update(buf.data(), static_cast<size_t>(r));
    if (Status st = sink.write(buf.data(), static_cast<size_t>(r)); !st) return st.error();
    return MoveResult{Moved::Bytes, static_cast<size_t>(r)};
  }

  Error failure(const MoveResult& m) const {
    if (m.at_dest) return system_error(fmt::format("write {}: {}", sink.name(), errno_text(m.err)));
    return system_error(fmt::format("read from {}: {}", opts.target, errno_text(m.err)));
  }
};

}  // namespace

Status recv_stream(int net_fd, Sink& sink, const TransferOptions& opts, const TransferHooks& hooks,
                   TransferStats* stats) {
  fcntl(net_fd, F_SETFL, fcntl(net_fd, F_GETFL) | O_NONBLOCK);
  Receiver rx(net_fd, sink, opts, stats);
  auto start = Clock::now();
  Reporting rep(hooks, opts, start);
  auto finish = [&](Status st) {
    stats->seconds = seconds_since(start);
    if (rx.sum) stats->checksum = rx.sum->text();
    if (st.ok()) rep.finish(stats->bytes);
    return st;
  };
  auto last_progress = Clock::now();
  constexpr Duration kCap = std::chrono::seconds(1);
  for (;;) {
    auto m = rx.step();
    if (!m.ok()) return finish(m.take_error());
    switch (m->what) {
      case Moved::Bytes:
        stats->bytes += m->bytes;
        last_progress = Clock::now();
        rep.tick(stats->bytes);
        if (interrupted()) return finish(interrupted_error());
        continue;
      case Moved::Eof: return finish({});
      case Moved::Interrupted: return finish(interrupted_error());
      case Moved::Failed: return finish(rx.failure(*m));
      case Moved::Refused:  // step() copies instead; not returned
      case Moved::SourceEmpty:
      case Moved::DestFull: break;
    }
    // Waiting for our own reader (recv | less: the pipe is full) is not a
    // network stall, as a blocking write() on the copy path never was: the
    // stall clock restarts.
    const bool out_full = m->what == Moved::DestFull;
    const bool watch_stall = opts.stall_timeout.count() > 0 && !out_full;
    Deadline deadline = rep.deadline(kCap);
    if (watch_stall) deadline = earlier(deadline, last_progress + opts.stall_timeout);
    pollfd p[2] = {{out_full ? -1 : net_fd, POLLIN, 0}, {out_full ? sink.direct_fd() : -1, POLLOUT, 0}};
    auto w = wait_fds(p, deadline);
    if (!w.ok()) return finish(w.take_error());
    if (*w == Wake::Interrupted) return finish(interrupted_error());
    if (out_full) last_progress = Clock::now();
    if (watch_stall && Clock::now() - last_progress >= opts.stall_timeout) {
      return finish(stalled(net_fd, seconds_since(last_progress), false, hooks));
    }
    rep.tick(stats->bytes);
  }
}

}  // namespace sp
