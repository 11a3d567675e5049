// Signal handling (see signals.h).
#include "core/signals.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <ctime>
#include <cstring>
#include <iterator>
#include <utility>

namespace sp {
namespace {

// Read by every stream's thread (-P, --bidir): a lock-free atomic, which is
// also safe to set in the handler.
std::atomic<int> g_interrupted{0};
static_assert(std::atomic<int>::is_always_lock_free);
int g_pipe[2] = {-1, -1};

// The files a fatal signal removes (OwnedPath). A slot's path and inode
// are written before `armed` is raised and `armed` is lowered before they
// change, so a handler never reads a half-written slot. Slots are taken and
// given back by the main thread only (`taken`); the handler reads `armed`.
struct UnlinkSlot {
  char path[4096];
  dev_t dev;
  ino_t ino;
  volatile sig_atomic_t armed;
  bool taken;
};
UnlinkSlot g_slots[4];

bool same_inode(const char* path, dev_t dev, ino_t ino) {
  struct stat st;
  return ::lstat(path, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

// Sending sockets to reset (send -P has one per stream, each set and
// cleared by its own thread): a slot holds fd + 1, 0 when free (so the
// zero-initialized array starts free).
constexpr int kResetSlots = 128;
std::atomic<int> g_reset_fds[kResetSlots];

// Async-signal-safe: lstat and unlink only.
void unlink_registered() {
  for (UnlinkSlot& s : g_slots) {
    if (s.armed != 0 && same_inode(s.path, s.dev, s.ino)) ::unlink(s.path);
  }
}

int arm_slot(const std::string& path, dev_t dev, ino_t ino) {
  if (path.size() >= sizeof g_slots[0].path) return -1;
  for (int i = 0; i < static_cast<int>(std::size(g_slots)); ++i) {
    UnlinkSlot& s = g_slots[i];
    if (s.taken) continue;
    s.taken = true;
    std::memcpy(s.path, path.c_str(), path.size() + 1);
    s.dev = dev;
    s.ino = ino;
    // Keeps the compiler from moving the slot's bytes past the arming.
    std::atomic_signal_fence(std::memory_order_seq_cst);
    s.armed = 1;
    return i;
  }
  return -1;
}

void disarm_slot(int i) {
  if (i < 0) return;
  g_slots[i].armed = 0;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  g_slots[i].taken = false;
}

// setsockopt() is a plain system call: safe in a handler.
void reset_registered() {
  linger l = {1, 0};
  for (auto& slot : g_reset_fds) {
    int fd = slot.load() - 1;
    if (fd >= 0) ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
}

// Ends the process as the signal's default action would (so the parent
// sees "killed by SIGTERM"), after removing the registered files.
void die_by(int sig) {
  unlink_registered();
  reset_registered();
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void on_sigint(int sig) {
  int saved = errno;
  if (g_interrupted != 0) {  // the second Ctrl-C
    die_by(sig);
    return;
  }
  g_interrupted = 1;
  if (g_pipe[1] >= 0) {
    char c = 1;
    [[maybe_unused]] ssize_t n = ::write(g_pipe[1], &c, 1);
  }
  errno = saved;
}

void on_fatal(int sig) { die_by(sig); }

// SIGURG only interrupts a blocked call (join_interruptible); its default
// action, ignore, would not.
void on_wake(int) {}

// Only when not ignored at start (nohup must keep working). Every other
// signal is blocked while the handler runs: one cleanup, then one death.
void catch_unless_ignored(int sig) {
  struct sigaction old = {};
  if (::sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) return;
  struct sigaction sa = {};
  sa.sa_handler = on_fatal;
  sigfillset(&sa.sa_mask);
  ::sigaction(sig, &sa, nullptr);
}

// The asynchronous signals whose default action ends the process (signal(7)).
constexpr int kFatalSignals[] = {SIGTERM, SIGHUP,  SIGQUIT,   SIGUSR1, SIGUSR2, SIGALRM, SIGVTALRM,
                                 SIGPROF, SIGXCPU, SIGXFSZ,   SIGPWR,  SIGIO,   SIGSTKFLT, SIGABRT};

}  // namespace

void install_signal_handlers() {
  ::signal(SIGPIPE, SIG_IGN);
  if (g_pipe[0] < 0 && ::pipe2(g_pipe, O_CLOEXEC | O_NONBLOCK) != 0) g_pipe[0] = g_pipe[1] = -1;
  struct sigaction sa = {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: blocking calls return EINTR
  ::sigaction(SIGINT, &sa, nullptr);
  sa.sa_handler = on_wake;
  ::sigaction(SIGURG, &sa, nullptr);
  for (int sig : kFatalSignals) catch_unless_ignored(sig);
  for (int sig = SIGRTMIN; sig <= SIGRTMAX; ++sig) catch_unless_ignored(sig);
}

bool interrupted() { return g_interrupted != 0; }

int interrupt_fd() { return g_pipe[0]; }

void join_interruptible(std::thread& worker, const std::atomic<bool>& done) {
  while (!done.load()) {
    if (interrupted()) {
      ::pthread_kill(worker.native_handle(), SIGURG);
      timespec tick = {0, 10'000'000};
      ::nanosleep(&tick, nullptr);
    } else {
      pollfd p = {interrupt_fd(), POLLIN, 0};
      ::poll(&p, 1, 50);  // SIGINT, or a look at `done` 20 times a second
    }
  }
  worker.join();
}

OwnedPath::OwnedPath(std::string path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return;
  path_ = std::move(path);
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  slot_ = arm_slot(path_, dev_, ino_);
}

OwnedPath& OwnedPath::operator=(OwnedPath&& o) noexcept {
  if (this == &o) return *this;
  remove();
  path_ = std::exchange(o.path_, {});
  dev_ = o.dev_;
  ino_ = o.ino_;
  slot_ = std::exchange(o.slot_, -1);  // the slot holds its own copy of the path
  return *this;
}

void OwnedPath::remove() {
  if (path_.empty()) return;
  if (same_inode(path_.c_str(), dev_, ino_)) ::unlink(path_.c_str());
  release();
}

void OwnedPath::release() {
  disarm_slot(std::exchange(slot_, -1));
  path_.clear();
}

void reset_on_fatal_signal(int fd) {
  for (auto& slot : g_reset_fds) {
    int free_slot = 0;
    if (fd >= 0 && slot.compare_exchange_strong(free_slot, fd + 1)) return;
  }
}

void no_reset_on_fatal_signal(int fd) {
  for (auto& slot : g_reset_fds) {
    int mine = fd + 1;
    if (fd >= 0 && slot.compare_exchange_strong(mine, 0)) return;
  }
}

}  // namespace sp
