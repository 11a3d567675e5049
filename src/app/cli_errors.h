// Why: CLI11's own messages for a mistyped command line are poor for a new
// user ("The following arguments were not expected: 1 127.0.0.1 conect",
// always pointing at `sockprobe --help`). When parsing fails, this looks at
// the command line again and says what was wrong: the unknown subcommand or
// flag with the nearest real one ("did you mean connect?"), netcat habits
// (`listen -p 9000`, -N, -n, -e/-c, -l) with the sockprobe way, and the help
// of the subcommand that was meant.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace sp::app {

// The one-line usage message for a command line that CLI11 rejected with
// `cli11_message`: "conect: unknown subcommand (did you mean 'connect'?);
// see 'sockprobe --help'".
std::string explain_parse_error(const CLI::App& app, int argc, const char* const* argv,
                                const std::string& cli11_message);

// Levenshtein distance, for the suggestions (small inputs only).
size_t edit_distance(const std::string& a, const std::string& b);

}  // namespace sp::app
