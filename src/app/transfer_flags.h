// The flags send and recv share (--chunk, --interval, --stall-timeout,
// -w/--timeout, --checksum, --progress/--no-progress), registered once and
// turned into TransferOptions once, so the two commands cannot drift apart
// in names, limits or error messages.
#pragma once

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "core/parse.h"
#include "core/result.h"
#include "core/transfer.h"

namespace sp::app {

struct TransferFlags {
  std::string chunk, interval, stall_timeout, timeout;
  bool checksum = false, progress = false, no_progress = false;
};

// Help texts that differ between send and recv.
struct TransferHelp {
  const char* chunk;
  const char* checksum;
  const char* stall_timeout;
  const char* timeout;
};

void add_transfer_flags(CLI::App* sub, TransferFlags* f, const TransferHelp& help);

struct TransferSettings {
  TransferOptions options;               // chunk, interval, checksum, zero_copy
  std::optional<Duration> stall_timeout;  // as given; the command picks the default
  Duration connect_timeout{0};            // 0: none
};

// Validates the shared flags (usage errors name the flag and the value).
Result<TransferSettings> transfer_settings(const TransferFlags& f);

// SOCKPROBE_ZEROCOPY=1/0 forces zero-copy on/off for measuring; else Auto.
ZeroCopy zero_copy_from_env();

}  // namespace sp::app
