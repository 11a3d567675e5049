// The -P runner and interval merger (see parallel.h).
#include "core/parallel.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <system_error>
#include <thread>

namespace sp {

std::vector<Status> run_streams(size_t n, const std::function<Status(size_t stream)>& body) {
  std::vector<Status> out(n);
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    try {
      threads.emplace_back([&out, &body, i] { out[i] = body(i); });
    } catch (const std::system_error&) {
      // EAGAIN (no more threads): this stream runs here, late but whole,
      // so it still ends (and the merger hears of it).
      out[i] = body(i);
    }
  }
  for (auto& t : threads) t.join();
  return out;
}

std::vector<uint64_t> split_size(uint64_t total, size_t n) {
  std::vector<uint64_t> out(n, n > 0 ? total / n : 0);
  for (size_t i = 0; n > 0 && i < total % n; ++i) ++out[i];
  return out;
}

IntervalMerger::IntervalMerger(size_t streams, double every_seconds, StreamFn on_stream, SumFn on_sum)
    : on_stream_(std::move(on_stream)),
      on_sum_(std::move(on_sum)),
      every_(every_seconds > 0 ? every_seconds : 1),
      pending_(streams),
      done_(streams, false) {}

void IntervalMerger::add(size_t stream, const IntervalReport& r) {
  std::lock_guard<std::mutex> g(mu_);
  if (on_stream_) on_stream_(stream, r);
  pending_[stream].emplace_back(std::llround(r.start / every_), r);
  flush();
}

void IntervalMerger::finished(size_t stream) {
  std::lock_guard<std::mutex> g(mu_);
  done_[stream] = true;
  flush();
}

// Sums the earliest pending tick once no running stream can still report
// it: each has a report pending (of that tick or a later one) or ended.
void IntervalMerger::flush() {
  for (;;) {
    std::optional<long long> tick;
    for (size_t i = 0; i < pending_.size(); ++i) {
      if (pending_[i].empty()) {
        if (!done_[i]) return;  // still to come
        continue;
      }
      long long k = pending_[i].front().first;
      tick = tick ? std::min(*tick, k) : k;
    }
    if (!tick) return;
    IntervalReport sum;
    bool first = true;
    size_t streams = 0;
    uint32_t retrans = 0;
    bool tcp = false;
    for (auto& q : pending_) {
      if (q.empty() || q.front().first != *tick) continue;
      const IntervalReport& r = q.front().second;
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
