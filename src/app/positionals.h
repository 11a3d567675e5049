// Why: `connect 127.0.0.1:9000`, `connect [::1]:9000` and `connect host
// https` are what users of curl, ssh and Go programs type; DESIGN.md
// accepts HOST:PORT and [V6]:PORT as one argument wherever HOST PORT is, and
// service names for PORT. Rather than teach every front-end, the positional
// arguments of the parsed subcommand are rewritten once, after CLI11 has
// parsed them and before the subcommand runs: "127.0.0.1:9000" becomes
// "127.0.0.1" "9000", "https" becomes "443", "-z ssh,https" "22,443".
#pragma once

#include <CLI/CLI.hpp>

#include "core/result.h"

namespace sp::app {

// Rewrites the HOST PORT positionals of the parsed subcommand in place.
// A service name that /etc/services does not know is a usage error.
Status normalize_positionals(CLI::App& app);

}  // namespace sp::app
