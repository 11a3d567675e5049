// Why: a flag that the combination given would ignore must be a usage error,
// never silently dropped (DESIGN.md "Scripts can trust it"). The rules that
// relate flags to each other live in ONE table, per subcommand, consulted
// once after CLI11 has parsed the command line, instead of ad-hoc checks
// scattered over the front-ends. The table names commands and flags as text
// ("backlog test", "--size"), so it does not depend on how or when the CLI11
// objects were built (a lazy, only-the-invoked-subcommand setup keeps working).
//
// Besides the table, two rules hold for every command: an empty value
// (`--size ''`, `connect '' 80`) is a usage error, and so is a flag of a
// parent command given with a nested one (`backlog test --check`).
#pragma once

#include <CLI/CLI.hpp>

#include "core/result.h"

namespace sp::app {

// Checks the rules for the subcommand that was parsed (the deepest one).
// Returns the first violation as a one-line usage error.
Status check_flag_rules(const CLI::App& app);

}  // namespace sp::app
