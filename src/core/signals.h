// SIGPIPE is ignored (a reset peer becomes EPIPE, an error value); SIGINT
// sets a flag and wakes every event loop through a self-pipe, so transfers
// can print their summary and exit 130. A second SIGINT kills at once.
// Every other catchable signal whose default action ends the process
// (SIGTERM, SIGHUP, SIGQUIT, SIGUSR1/2, SIGALRM, SIGXCPU, SIGXFSZ, SIGABRT,
// the real-time signals, ...) keeps that action (the process ends at once,
// a shell reports 128+N), but first removes the files registered as
// OwnedPath (a Unix listener's socket file, recv -o's temporary file), so
// nothing is left behind; so does the second SIGINT. The synchronous faults
// (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS) are left to the
// sanitizers and debuggers that own them; SIGKILL cannot be caught.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <string>
#include <thread>

namespace sp {

void install_signal_handlers();
// True once SIGINT arrived.
bool interrupted();
// A read end to include in poll sets: readable once SIGINT arrived (-1 before
// install_signal_handlers()).
int interrupt_fd();

// Joins a worker thread that sets `done` as its last step. SIGINT reaches
// one thread only; a worker blocked in a call no poll covers (a write to a
// stdout that could not be reopened non-blocking) would never see it, so
// once SIGINT arrived this pokes the worker every 10 ms with SIGURG
// (handled, no SA_RESTART: the call returns EINTR, which atomicio does not
// retry after SIGINT) until it is done.
void join_interruptible(std::thread& worker, const std::atomic<bool>& done);

// A file this process created and must not leave behind: removed when the
// OwnedPath goes out of scope (or remove()), and by a fatal signal, but
// only while the path still names the same inode (st_dev, st_ino) it named
// when adopted, so a file someone else put there since is never removed.
// Up to 4 at once are covered by the signal handler (paths up to 4095
// bytes); beyond that only the scope exit removes them.
class OwnedPath {
 public:
  OwnedPath() = default;
  // Adopts what is at `path` now (lstat); empty if nothing is there.
  explicit OwnedPath(std::string path);
  OwnedPath(OwnedPath&& o) noexcept { *this = std::move(o); }
  OwnedPath& operator=(OwnedPath&& o) noexcept;
  OwnedPath(const OwnedPath&) = delete;
  OwnedPath& operator=(const OwnedPath&) = delete;
  ~OwnedPath() { remove(); }

  // Unlinks the path if it is still ours; then owns nothing.
  void remove();
  // Owns nothing from now on, without touching the file (it was renamed).
  void release();
  bool empty() const { return path_.empty(); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  int slot_ = -1;  // in the signal handler's table; -1: not covered
};

// A sending socket to abort with a reset (SO_LINGER 0) if a signal ends the
// process, so the receiver sees a failed transfer, not a clean EOF; until
// no_reset_on_fatal_signal(fd). Up to 128 at once (send -P's streams,
// each from its own thread); beyond that a socket is not covered.
void reset_on_fatal_signal(int fd);
void no_reset_on_fatal_signal(int fd);

}  // namespace sp
