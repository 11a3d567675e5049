// send -P / recv -P: N TCP streams at once, each a send_stream/recv_stream
// of its own in its own thread (the engine's loops are per connection; two
// cores, and iperf3 3.16 runs a thread per stream too). What they share is
// here: the runner that starts and joins them, the split of --size, and
// the merger that turns each stream's --interval reports into per-stream
// lines plus one sum per interval, printed under one lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include "core/result.h"
#include "core/transfer.h"

namespace sp {

// Runs body(0) .. body(n-1) at once, one thread each; their results in order.
// A body whose thread cannot be started runs in the calling thread.
std::vector<Status> run_streams(size_t n, const std::function<Status(size_t stream)>& body);

// --size split across n streams: the first ones carry the remainder.
std::vector<uint64_t> split_size(uint64_t total, size_t n);

// Collects the interval reports of n streams (from their threads). Each
// report is passed on at once (on_stream). Reports are matched by the tick
// they start at (start / every, rounded), not by their position: a stream
// that slept through a tick, or whose last report covers the wait for the
// final acknowledgement, has fewer. When every stream still running has
// reported tick k or a later one, the reports of tick k are summed for
// on_sum (start: the earliest, end: the latest, bytes and retransmits
// added). Callbacks run under the merger's lock, so they may print; lock()
// lets other threads print between them.
class IntervalMerger {
 public:
  using StreamFn = std::function<void(size_t stream, const IntervalReport&)>;
  using SumFn = std::function<void(const IntervalReport& sum, size_t streams)>;
  IntervalMerger(size_t streams, double every_seconds, StreamFn on_stream, SumFn on_sum);
  void add(size_t stream, const IntervalReport& r);
  void finished(size_t stream);
  std::unique_lock<std::mutex> lock() { return std::unique_lock<std::mutex>(mu_); }

 private:
  void flush();

  std::mutex mu_;
  StreamFn on_stream_;
  SumFn on_sum_;
  double every_;
  std::vector<std::deque<std::pair<long long, IntervalReport>>> pending_;  // (tick, report)
  std::vector<bool> done_;
};

}  // namespace sp
