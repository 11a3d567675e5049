// `backlog trace`'s engine: loads the backlog_trace BPF program (embedded
// as a libbpf skeleton, src/bpf/backlog_trace.bpf.c), finds this network
// namespace's listeners, attaches the tracepoints and delivers every event
// of the ring buffer until a deadline, a count, or SIGINT (the project's
// interrupt pipe, core/signals.h). Built without BPF support (meson
// -Dbpf=disabled, or the tools missing) start_trace() says so.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "core/result.h"
#include "core/trace_events.h"

namespace sp {

struct TraceOptions {
  std::optional<uint16_t> port;  // only listeners on this port (filtered in the kernel)
};

class Trace {
 public:
  virtual ~Trace() = default;
  // Listeners in this network namespace found at start (after the port filter).
  virtual int listeners() const = 0;
  // Delivers events to `sink` until `deadline`, until `sink` returns false,
  // or until SIGINT (then an Interrupted error, after delivering what was
  // already read). Returns normally on the deadline or when the sink stops.
  virtual Status poll(std::optional<std::chrono::steady_clock::time_point> deadline,
                      const std::function<bool(const TraceRecord&)>& sink) = 0;
  // Events the kernel could not queue (ring buffer full) so far.
  virtual uint64_t lost() const = 0;
};

// Loads and attaches. Errors name what is missing: BPF support in this
// build, root (CAP_BPF + CAP_PERFMON), BTF, or what the kernel refused.
Result<std::unique_ptr<Trace>> start_trace(const TraceOptions& o);

}  // namespace sp
