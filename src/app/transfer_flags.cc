// Shared send/recv flags (see transfer_flags.h).
#include "app/transfer_flags.h"

#include <cstdlib>
#include <string_view>

#include <fmt/format.h>

#include "app/common.h"

namespace sp::app {

void add_transfer_flags(CLI::App* sub, TransferFlags* f, const TransferHelp& help) {
  sub->add_option("--chunk", f->chunk, help.chunk)->type_name("SIZE");
  sub->add_flag("--checksum", f->checksum, help.checksum);
  sub->add_option("--interval", f->interval, "Print a line every DURATION (like iperf3 -i)")->type_name("DURATION");
  sub->add_option("--stall-timeout", f->stall_timeout, help.stall_timeout)->type_name("DURATION");
  sub->add_option("-w,--timeout", f->timeout, help.timeout)->type_name("DURATION");
  sub->add_flag("--progress", f->progress, "Show a progress line on stderr even when it is not a terminal");
  sub->add_flag("--no-progress", f->no_progress, "Never show the progress line");
}

Result<TransferSettings> transfer_settings(const TransferFlags& f) {
  TransferSettings s;
  auto chunk = size_flag("--chunk", f.chunk);
  if (!chunk.ok()) return chunk.take_error();
  if (chunk->has_value()) {
    if (**chunk == 0 || **chunk > (64u << 20)) {
      return usage_error(fmt::format("--chunk: '{}' must be from 1 byte to 64M", f.chunk));
    }
    s.options.chunk = static_cast<size_t>(**chunk);
  }
  auto interval = duration_flag("--interval", f.interval);
  if (!interval.ok()) return interval.take_error();
  if (interval->has_value()) {
    if (interval->value().count() < 10'000'000) {
      return usage_error(fmt::format("--interval: '{}' is shorter than 10ms", f.interval));
    }
    s.options.interval = **interval;
  }
  auto stall = duration_flag("--stall-timeout", f.stall_timeout);
  if (!stall.ok()) return stall.take_error();
  s.stall_timeout = *stall;
  auto timeout = duration_flag("--timeout", f.timeout);
  if (!timeout.ok()) return timeout.take_error();
  s.connect_timeout = timeout->value_or(Duration(0));
  s.options.checksum = f.checksum;
  s.options.zero_copy = zero_copy_from_env();
  return s;
}

// A knob for measuring, documented under ENVIRONMENT in the man page;
// anything but "1" or "0" leaves the measured choice.
ZeroCopy zero_copy_from_env() {
  const char* env = std::getenv("SOCKPROBE_ZEROCOPY");
  if (env == nullptr) return ZeroCopy::Auto;
  if (std::string_view(env) == "1") return ZeroCopy::On;
  if (std::string_view(env) == "0") return ZeroCopy::Off;
  return ZeroCopy::Auto;
}

}  // namespace sp::app
