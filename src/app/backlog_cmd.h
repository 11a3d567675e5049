// The `backlog test` and `backlog trace` sub-subcommands, registered under
// `backlog` by add_backlog (backlog.cc), implemented in
// backlog_experiment.cc and backlog_trace.cc; and the writer of
// `backlog --openmetrics` (backlog_metrics.cc).
#pragma once

#include <string>

#include "app/common.h"

namespace sp::app {

Command add_backlog_test(CLI::App* backlog, const GlobalOptions& g);
// `backlog trace` (backlog_trace.cc).
Command add_backlog_trace(CLI::App* backlog, const GlobalOptions& g);

// Metrics text to stdout (path "") or atomically into the file at path.
Status write_metrics(const std::string& text, const std::string& path);

}  // namespace sp::app
