// Reports of send -P / recv -P: each stream's --interval lines prefixed by
// its number ("[  2] ..."), a "[SUM]" line per interval once every running
// stream has reported it (core/parallel.h merges them), each stream's
// summary, and the total. Stream threads print only through here, under
// the merger's lock.
#pragma once

#include <string>
#include <vector>

#include "app/transfer_report.h"
#include "core/parallel.h"
#include "core/report.h"

namespace sp::app {

struct StreamEnd {
  TransferContext ctx;
  TransferStats stats;
  Status outcome;
};

class StreamsReport {
 public:
  // every: the --interval, which numbers the ticks the sums are made of.
  StreamsReport(Reporter& rep, std::string direction, size_t streams, Duration every);
  // The hooks of stream i (from 0): intervals and stalls, thread-safe.
  TransferHooks hooks(size_t i);
  void finished(size_t i) { merger_.finished(i); }
  // After every stream ended: their summaries, the total; the status to exit with.
  Status finish(const std::vector<StreamEnd>& ends, double seconds);

 private:
  void on_stream(size_t i, const IntervalReport& r);
  void on_sum(const IntervalReport& sum, size_t streams);

  Reporter& rep_;
  std::string direction_;
  bool header_shown_ = false;
  IntervalMerger merger_;
};

}  // namespace sp::app
