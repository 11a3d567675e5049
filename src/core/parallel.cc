// The -P runner and interval merger (see parallel.h).
#include "core/parallel.h"

#include <algorithm>
#include <thread>

namespace sp {

std::vector<Status> run_streams(size_t n, const std::function<Status(size_t stream)>& body) {
  std::vector<Status> out(n);
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (size_t i = 0; i < n; ++i) threads.emplace_back([&out, &body, i] { out[i] = body(i); });
  for (auto& t : threads) t.join();
  return out;
}

std::vector<uint64_t> split_size(uint64_t total, size_t n) {
  std::vector<uint64_t> out(n, n > 0 ? total / n : 0);
  for (size_t i = 0; n > 0 && i < total % n; ++i) ++out[i];
  return out;
}

IntervalMerger::IntervalMerger(size_t streams, StreamFn on_stream, SumFn on_sum)
    : on_stream_(std::move(on_stream)), on_sum_(std::move(on_sum)), pending_(streams), done_(streams, false) {}

void IntervalMerger::add(size_t stream, const IntervalReport& r) {
  std::lock_guard<std::mutex> g(mu_);
  if (on_stream_) on_stream_(stream, r);
  pending_[stream].push_back(r);
  flush();
}

void IntervalMerger::finished(size_t stream) {
  std::lock_guard<std::mutex> g(mu_);
  done_[stream] = true;
  flush();
}

// Sums the k-th reports while every running stream has one; a stream that
// ended contributes what it still has pending.
void IntervalMerger::flush() {
  for (;;) {
    bool any = false;
    for (size_t i = 0; i < pending_.size(); ++i) {
      if (pending_[i].empty() && !done_[i]) return;  // still to come
      any = any || !pending_[i].empty();
    }
    if (!any) return;
    IntervalReport sum;
    bool first = true;
    size_t streams = 0;
    uint32_t retrans = 0;
    bool tcp = false;
    for (auto& q : pending_) {
      if (q.empty()) continue;
      const IntervalReport& r = q.front();
      sum.start = first ? r.start : std::min(sum.start, r.start);
      sum.end = first ? r.end : std::max(sum.end, r.end);
      first = false;
      sum.bytes += r.bytes;
      if (r.tcp) {
        tcp = true;
        retrans += r.tcp->retrans;
      }
      ++streams;
      q.pop_front();
    }
    if (tcp) sum.tcp = IntervalTcp{retrans, 0, 0, 0};
    if (on_sum_) on_sum_(sum, streams);
  }
}

}  // namespace sp
