// The `backlog test` sub-subcommand, registered under `backlog` by
// add_backlog (backlog.cc) and implemented in backlog_experiment.cc.
#pragma once

#include "app/common.h"

namespace sp::app {

Command add_backlog_test(CLI::App* backlog, const GlobalOptions& g);

}  // namespace sp::app
