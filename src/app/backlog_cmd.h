// The `backlog test` and `backlog trace` sub-subcommands, registered under
// `backlog` by add_backlog (backlog.cc), implemented in
// backlog_experiment.cc and backlog_trace.cc.
#pragma once

#include "app/common.h"

namespace sp::app {

Command add_backlog_test(CLI::App* backlog, const GlobalOptions& g);
// `backlog trace` (backlog_trace.cc).
Command add_backlog_trace(CLI::App* backlog, const GlobalOptions& g);

}  // namespace sp::app
