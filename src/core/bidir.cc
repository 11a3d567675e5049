// Both directions over one connection (see bidir.h).
#include "core/bidir.h"

#include <sys/socket.h>

#include <atomic>
#include <thread>

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

}  // namespace

void run_bidir(int fd, Source& src, Sink& sink, bool until_peer_eof, BidirSide* send, BidirSide* recv) {
  std::atomic<bool> peer_done{false}, send_failed{false};
  TransferOptions send_opts = *send->options;
  send_opts.shared_reads = true;
  StoppableSource stoppable(src, peer_done);
  Source& out = until_peer_eof ? static_cast<Source&>(stoppable) : src;
  std::thread receiver([&] {
    recv->outcome = recv_stream(fd, sink, *recv->options, *recv->hooks, &recv->stats);
    peer_done = true;
    if (send_failed.load() && recv->outcome.ok()) {
      recv->outcome = system_error("receiving stopped: the send direction failed");
    }
  });
  send->outcome = send_stream(fd, out, send_opts, *send->hooks, &send->stats);
  if (!send->outcome.ok()) {
    send_failed = true;
    ::shutdown(fd, SHUT_RD);
  }
  receiver.join();
}

}  // namespace sp
