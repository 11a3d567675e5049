// Sources, sinks and their adapters to the mover (see ends.h).
#include "core/ends.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "core/atomicio.h"
#include "core/fd.h"
#include "core/signals.h"
#include "core/zerocopy.h"

namespace sp {
namespace {

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
  std::string name() const override { return name_; }

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

// An fd the sink owns: -o naming something that is not a regular file.
class OwnedFdSink : public FdSink {
 public:
  OwnedFdSink(Fd fd, std::string name) : FdSink(fd.get(), std::move(name)), owned_(std::move(fd)) {}

 private:
  Fd owned_;
};

// -o FILE without O_TMPFILE: a temporary file beside FILE, renamed over it
// by commit(). The temporary file is removed unless committed: at scope
// exit and by any fatal signal (OwnedPath), not by SIGKILL.
class FileSink : public OwnedFdSink {
 public:
  FileSink(Fd fd, std::string tmp, std::string path)
      : OwnedFdSink(std::move(fd), path), tmp_(std::move(tmp)), path_(std::move(path)) {}
  Status commit() override {
    const std::string& tmp = tmp_.path();
    if (::fsync(fd_) != 0) return system_error(fmt::format("fsync {}: {}", tmp, errno_text(errno)));
    if (::rename(tmp.c_str(), path_.c_str()) != 0) {
      return system_error(fmt::format("rename {} to {}: {}", tmp, path_, errno_text(errno)));
    }
    tmp_.release();
    return {};
  }

 private:
  OwnedPath tmp_;
  std::string path_;
};

// A name beside `path` that is not there yet, for commit()'s two steps.
std::string temp_name(const std::string& path) {
  static const char kAlnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  unsigned char r[6] = {};
  if (::getrandom(r, sizeof r, 0) != static_cast<ssize_t>(sizeof r)) {
    for (unsigned char& c : r) c = static_cast<unsigned char>(::rand());
  }
  std::string name = path + ".sockprobe-";
  for (unsigned char c : r) name += kAlnum[c % (sizeof kAlnum - 1)];
  return name;
}

// -o FILE where FILE's file system has O_TMPFILE (ext4, xfs, btrfs, tmpfs):
// the bytes go into a file without a name until commit(), so nothing a
// kill leaves, SIGKILL included, is ever seen at FILE or beside it. commit()
// links it under a temporary name beside FILE and renames that over FILE
// (rename is the one atomic replace): a name that lives for two calls.
class UnnamedFileSink : public OwnedFdSink {
 public:
  UnnamedFileSink(Fd fd, std::string path) : OwnedFdSink(std::move(fd), path), path_(std::move(path)) {}
  Status commit() override {
    if (::fsync(fd_) != 0) return system_error(fmt::format("fsync {}: {}", path_, errno_text(errno)));
    std::string self = "/proc/self/fd/" + std::to_string(fd_);
    for (int attempt = 0; attempt < 100; ++attempt) {
      std::string tmp = temp_name(path_);
      if (::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, tmp.c_str(), AT_SYMLINK_FOLLOW) != 0) {
        if (errno == EEXIST) continue;
        return system_error(fmt::format("link {}: {}", tmp, errno_text(errno)));
      }
      OwnedPath named(tmp);  // removed if the rename fails, or by a signal now
      if (::rename(tmp.c_str(), path_.c_str()) != 0) {
        return system_error(fmt::format("rename {} to {}: {}", tmp, path_, errno_text(errno)));
      }
      named.release();
      return {};
    }
    return system_error(fmt::format("link beside {}: no free temporary name", path_));
  }

 private:
  std::string path_;
};

// An unnamed file in the directory of `path`; -1 where the file system (or
// the kernel) has no O_TMPFILE, or any other failure, left to the named
// temporary's own error.
int open_unnamed(const std::string& path) {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  return ::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
}

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
  if (int unnamed = open_unnamed(path); unnamed >= 0) {
    return std::unique_ptr<Sink>(std::make_unique<UnnamedFileSink>(Fd(unnamed), path));
  }
  std::string tmp = path + ".sockprobe-XXXXXX";
  int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) return system_error(fmt::format("create {}: {}", tmp, errno_text(errno)));
  ::fchmod(fd, 0644 & ~[] { mode_t m = ::umask(0); ::umask(m); return m; }());
  return std::unique_ptr<Sink>(std::make_unique<FileSink>(Fd(fd), std::move(tmp), path));
}


MoveResult SourceReader::read(char*, size_t max, std::span<const char>* got) {
  auto v = src_.next(max);
  if (!v.ok()) {
    MoveResult m(Moved::Failed);
    m.error = v.take_error();
    return m;
  }
  *got = *v;
  if (got->empty()) return {Moved::Eof};
  return {Moved::Bytes, got->size()};
}

MoveResult SinkWriter::write(std::span<const char> data) {
  if (Status st = sink_.write(data.data(), data.size()); !st) {
    MoveResult m(Moved::Failed, 0, 0, true);
    m.error = st.error();
    return m;
  }
  return {Moved::Bytes, data.size()};
}

}  // namespace sp
