// Sources, sinks and the send/recv loops (see transfer.h).
//
// Which path each case uses, and the measurement that chose it:
// bench/transfer.sh --only datapath, 1 GiB, 5 alternating runs of copy
// (SOCKPROBE_ZEROCOPY=0) and zero-copy (=1) on a quiet 2-core machine
// (load < 2); ratios are zero-copy/copy rate and copy/zero-copy CPU
// (user+sys of both ends), so above 1 means zero-copy won. Runs on the same
// machine under build load (4-10) blurred these to ~1.0 either way: trust
// quiet runs.
//   send, regular file:   sendfile(). Into recv --discard: rate 2.71 and
//                         2.21, cpu 2.15 and 1.83; into recv -o: rate 1.14,
//                         cpu 1.04. (The issue quoted read/write ahead of
//                         sendfile on this class of machine; not here.)
//   send, pipe/stdin:     splice(pipe -> socket): rate 1.38, 1.24; cpu 1.13,
//                         1.06.
//   send, generated:      write from a precomputed 4 MiB block (no per-chunk
//                         generation, no copy in user space).
//   recv --discard:       recv(MSG_TRUNC) on TCP when no checksum is asked:
//                         the kernel drops the bytes without copying them out.
//                         Receiver CPU 0.29 s vs 0.34 s with read() (base).
//                         Unix sockets and --checksum keep read(). Output to
//                         /dev/null counts as --discard.
//   recv -o FILE:         read + write. splice via a pipe: rate 0.94, 1.04;
//                         cpu 0.99, 1.09 -- a tie, so the simpler path.
//   recv | pipe:          splice(socket -> pipe): rate 1.15, 0.98; cpu 1.22,
//                         1.21.
// Pipes on either side are grown to 1 MiB whichever path is taken. A
// checksum needs the bytes in user space, so --checksum always copies.
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

// How send_stream moves bytes from the source into the socket, and how
// recv_stream moves them from the socket into the sink.
enum class Path {
  Copy,       // through a user-space buffer (read/next + write)
  SendFile,   // send: regular file -> socket
  Splice,     // send: pipe -> socket; recv: socket -> pipe
  SpliceVia,  // recv: socket -> our own pipe -> regular file or /dev/null
};

// What Auto chooses, per case; see the table at the top of this file.
constexpr bool kAutoSendFile = true;
constexpr bool kAutoSplicePipeIn = true;
constexpr bool kAutoSplicePipeOut = true;
constexpr bool kAutoSpliceToFile = false;

bool allowed(ZeroCopy mode, bool auto_choice) {
  return mode == ZeroCopy::On || (mode == ZeroCopy::Auto && auto_choice);
}

// Pipes are grown whichever path is taken: a 64 KiB pipe costs the copy
// path as many wakeups as the splice path.
Path choose_send_path(const Source& src, const TransferOptions& opts) {
  int type = file_type(src.direct_fd());
  if (type == S_IFIFO) grow_pipe(src.direct_fd());
  if (opts.checksum) return Path::Copy;  // the checksum needs the bytes
  if (type == S_IFREG && allowed(opts.zero_copy, kAutoSendFile)) return Path::SendFile;
  if (type == S_IFIFO && allowed(opts.zero_copy, kAutoSplicePipeIn)) return Path::Splice;
  return Path::Copy;
}

Path choose_recv_path(const Sink& sink, const TransferOptions& opts) {
  int fd = sink.direct_fd();
  int type = file_type(fd);
  if (type == S_IFIFO) grow_pipe(fd);
  if (opts.checksum) return Path::Copy;
  if (type == S_IFIFO && allowed(opts.zero_copy, kAutoSplicePipeOut)) return Path::Splice;
  if (type == S_IFREG && never_blocking_sink(fd) && allowed(opts.zero_copy, kAutoSpliceToFile)) {
    return Path::SpliceVia;
  }
  return Path::Copy;
}

// One zero-copy move into the socket: bytes moved, 0 at the source's EOF,
// -1 with errno (EAGAIN: the socket is full, or a pipe is empty).
ssize_t move_into_socket(Path path, int src_fd, int net_fd, size_t max) {
  if (path == Path::SendFile) return ::sendfile(net_fd, src_fd, nullptr, max);
  return ::splice(src_fd, nullptr, net_fd, nullptr, max, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
}

// The kernel refuses this pair of fds: copy from now on.
bool zero_copy_refused(int err) { return err == EINVAL || err == ENOSYS || err == EOPNOTSUPP; }

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
  Path path = choose_send_path(src, opts);
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
      ssize_t n = move_into_socket(path, src.direct_fd(), net_fd, slice);
      if (n > 0) {
        stats->bytes += static_cast<uint64_t>(n);
        last_progress = Clock::now();
        blocked = false;
        want_source = false;
      } else if (n == 0) {
        src_eof = true;
        want_source = false;
      } else if (errno == EAGAIN) {
        // A file is always readable, so the socket is full; a pipe may
        // just be empty (then poll it, as for the copy path).
        if (path == Path::SendFile || readable_bytes(src.direct_fd()) > 0) {
          socket_full = blocked = true;
          want_source = false;
        }
      } else if (zero_copy_refused(errno)) {
        path = Path::Copy;  // nothing was moved: read at once, no poll
        continue;
      } else if (errno != EINTR) {
        finish_stats();
        return system_error(fmt::format("write to {}: {}", opts.target, errno_text(errno)));
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

Status recv_stream(int net_fd, Sink& sink, const TransferOptions& opts, const TransferHooks& hooks,
                   TransferStats* stats) {
  fcntl(net_fd, F_SETFL, fcntl(net_fd, F_GETFL) | O_NONBLOCK);
  std::vector<char> buf(opts.chunk);
  std::optional<Checksum> sum;
  if (opts.checksum) sum.emplace();
  auto start = Clock::now();
  Reporting rep(hooks, opts, start);
  auto finish_stats = [&] {
    stats->seconds = seconds_since(start);
    if (sum) stats->checksum = sum->text();
  };
  auto last_progress = Clock::now();
  constexpr Duration kCap = std::chrono::seconds(1);
  // --discard without a checksum: MSG_TRUNC makes TCP drop the bytes in the
  // kernel without copying them out (see the table at the top).
  // MSG_TRUNC discards only on TCP (on Unix stream sockets it is ignored or
  // means something else).
  const bool truncate = sink.discards() && !sum && socket_is_tcp(net_fd);
  Path path = truncate ? Path::Copy : choose_recv_path(sink, opts);
  Fd via[2];
  if (path == Path::SpliceVia && !make_via_pipe(via)) path = Path::Copy;
  const int out_fd = sink.direct_fd();
  for (;;) {
    ssize_t r;
    if (path == Path::Splice) {
      r = ::splice(net_fd, nullptr, out_fd, nullptr, opts.chunk, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    } else if (path == Path::SpliceVia) {
      r = splice_via(net_fd, via[1].get(), via[0].get(), out_fd, opts.chunk);
      if (r == -2) {
        finish_stats();
        return system_error(fmt::format("write {}: {}", sink.name(), errno_text(errno)));
      }
    } else if (truncate) {
      r = ::recv(net_fd, buf.data(), buf.size(), MSG_TRUNC);
    } else {
      r = ::read(net_fd, buf.data(), buf.size());
    }
    if (r > 0) {
      if (path == Path::Copy) {
        if (sum) sum->update(buf.data(), static_cast<size_t>(r));
        if (Status st = sink.write(buf.data(), static_cast<size_t>(r)); !st) { finish_stats(); return st; }
      }
      stats->bytes += static_cast<uint64_t>(r);
      last_progress = Clock::now();
      rep.tick(stats->bytes);
      if (interrupted()) { finish_stats(); return interrupted_error(); }
      continue;
    }
    if (r == 0) {
      if (path == Path::Copy) break;
      int err = error_behind_splice_eof(net_fd);
      if (err == 0) break;
      finish_stats();
      return system_error(fmt::format("read from {}: {}", opts.target, errno_text(err)));
    }
    if (path != Path::Copy && zero_copy_refused(errno)) {
      path = Path::Copy;  // nothing was moved
      continue;
    }
    if (path == Path::Splice && errno == EPIPE) {  // our output's reader left (recv | head)
      finish_stats();
      return system_error(fmt::format("write {}: {}", sink.name(), errno_text(errno)));
    }
    if (errno != EAGAIN && errno != EINTR) {
      finish_stats();
      return system_error(fmt::format("read from {}: {}", opts.target, errno_text(errno)));
    }
    // Splicing into a pipe, EAGAIN means the socket is empty or the pipe
    // is full: wait for whichever it was. Waiting for our own reader (recv |
    // less) is not a network stall, as a blocking write() on the copy path
    // never was: the stall clock restarts.
    const bool out_full = path == Path::Splice && errno == EAGAIN && readable_bytes(net_fd) > 0;
    const bool watch_stall = opts.stall_timeout.count() > 0 && !out_full;
    Deadline deadline = rep.deadline(kCap);
    if (watch_stall) deadline = earlier(deadline, last_progress + opts.stall_timeout);
    pollfd p[2] = {{out_full ? -1 : net_fd, POLLIN, 0}, {out_full ? out_fd : -1, POLLOUT, 0}};
    auto w = wait_fds(p, deadline);
    if (!w.ok()) { finish_stats(); return w.take_error(); }
    if (*w == Wake::Interrupted) { finish_stats(); return interrupted_error(); }
    if (out_full) last_progress = Clock::now();
    if (watch_stall && Clock::now() - last_progress >= opts.stall_timeout) {
      finish_stats();
      return stalled(net_fd, seconds_since(last_progress), false, hooks);
    }
    rep.tick(stats->bytes);
  }
  finish_stats();
  rep.finish(stats->bytes);
  return {};
}

}  // namespace sp
