// What `backlog` shares with its sub-subcommands (see backlog_cmd.h).
#include "app/backlog_cmd.h"

#include <fmt/format.h>

namespace sp::app {

// `backlog --watch 1s trace`: backlog's own flags would be ignored by its
// sub-subcommands, so they are a usage error that points to the right place.
Status no_backlog_flags(CLI::App* backlog, const char* sub) {
  for (const CLI::Option* opt : backlog->get_options()) {
    std::string name = opt->get_name();
    if (opt->count() == 0 || name == "--help" || name == "-4" || name == "-6") continue;
    return usage_error(fmt::format("{} is a flag of 'backlog', not of 'backlog {}' (write 'sockprobe backlog {} "
                                   "--help' for its flags)", name, sub, sub));
  }
  return {};
}

}  // namespace sp::app
