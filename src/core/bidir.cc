// Both directions over one connection (see bidir.h).
#include "core/bidir.h"

#include <sys/socket.h>

#include <atomic>
#include <thread>

#include "core/signals.h"

namespace sp {
namespace {

// The source until the flag is set, then EOF.
class StoppableSource : public Source {
 public:
  StoppableSource(Source& inner, const std::atomic<bool>& stop) : inner_(inner), stop_(stop) {}
  Result<std::span<const char>> next(size_t max) override {
    if (stop_.load()) return std::span<const char>();
    return inner_.next(max);
  }
  int poll_fd() const override { return inner_.poll_fd(); }
  std::string name() const override { return inner_.name(); }

 private:
  Source& inner_;
  const std::atomic<bool>& stop_;
};

// Ends the connection at once (TCP: connect(AF_UNSPEC) aborts it with a
// reset, waking the receiving thread's wait; a Unix socket: shutdown).
void abort_connection(int fd) {
  sockaddr unspec{};
  unspec.sa_family = AF_UNSPEC;
  if (::connect(fd, &unspec, sizeof unspec) != 0) ::shutdown(fd, SHUT_RDWR);
}

}  // namespace

void run_bidir(int fd, Source& src, Sink& sink, bool until_peer_eof, BidirSide* send, BidirSide* recv) {
  std::atomic<bool> peer_done{false};
  TransferOptions send_opts = *send->options;
  send_opts.shared_reads = true;
  StoppableSource stoppable(src, peer_done);
  Source& out = until_peer_eof ? static_cast<Source&>(stoppable) : src;
  std::thread receiver([&] {
    recv->outcome = recv_stream(fd, sink, *recv->options, *recv->hooks, &recv->stats);
    peer_done = true;
  });
  send->outcome = send_stream(fd, out, send_opts, *send->hooks, &send->stats);
  // A failed send direction fails the connection: a receiving direction
  // still running then ends too, and what it saw as an EOF may have been
  // the reset (the two threads share the socket's one pending error), so it
  // is not complete. One that had ended before keeps its outcome.
  bool received_first = peer_done.load();
  if (!send->outcome.ok() && !received_first) abort_connection(fd);
  join_interruptible(receiver, peer_done);
  if (!send->outcome.ok() && !received_first && recv->outcome.ok()) {
    recv->outcome = system_error("receiving stopped: the connection failed while sending (" +
                                 send->outcome.error().message + ")");
  }
}

}  // namespace sp
