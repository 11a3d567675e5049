// sockprobe's entry point: build the command line, parse it, run the chosen
// subcommand, and turn its Status into an exit code. Nothing else lives here.
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "app/cli_errors.h"
#include "app/common.h"
#include "app/flagrules.h"
#include "app/positionals.h"
#include "core/signals.h"
#include "core/textsafe.h"
#include "version.h"

namespace {

void add_global_flags(CLI::App& app, sp::app::GlobalOptions& g, bool* version) {
  app.add_flag("-V,--version", *version, "Print the version and exit");
  app.add_flag("-v,--verbose", g.verbose, "More detail (one level: -vv is the same as -v)");
  app.add_flag("-q,--quiet", g.quiet, "Only errors");
  app.add_flag("--json", g.json, "Reports as NDJSON events");
  app.add_flag("-4", g.ipv4, "IPv4 only");
  app.add_flag("-6", g.ipv6, "IPv6 only");
  app.add_option("--color", g.color, "Colour: auto, always or never (honours NO_COLOR)")
      ->type_name("WHEN")
      ->check(CLI::IsMember({"auto", "always", "never"}));
}

// CLI-wide parsing rules, applied once every subcommand has its flags:
// - a repeatable option (--allow CIDR) takes one value per occurrence, so in
//   `listen --allow 127.0.0.0/8 0` the 0 stays the PORT;
// - -4/-6 after the subcommand are the global flags: CLI11 would otherwise
//   take them for negative numbers and pass them on as positionals.
// Nested subcommands (`backlog test`) get the same rules.
void apply_cli_rules(CLI::App& app, sp::app::GlobalOptions& g) {
  for (CLI::App* sub : app.get_subcommands({})) {
    for (CLI::Option* opt : sub->get_options()) {
      if (opt->nonpositional() && opt->get_items_expected_max() > 1) opt->allow_extra_args(false);
    }
    if (sub->get_option_no_throw("-4") == nullptr) sub->add_flag("-4", g.ipv4)->group("");
    if (sub->get_option_no_throw("-6") == nullptr) sub->add_flag("-6", g.ipv6)->group("");
    apply_cli_rules(*sub, g);
  }
}

const char* kind_name(sp::ErrorKind kind) {
  switch (kind) {
    case sp::ErrorKind::System: return "system";
    case sp::ErrorKind::Usage: return "usage";
    case sp::ErrorKind::Timeout: return "timeout";
    case sp::ErrorKind::Check: return "check";
    case sp::ErrorKind::Interrupted: return "interrupted";
  }
  return "system";
}

// The last word of a failed run: "sockprobe: MESSAGE" on stderr, or with
// --json one {"event":"error"} line there. Returns the exit status.
int report_error(const sp::Error& err, const sp::app::GlobalOptions& g, const char* hint = "") {
  if (g.json) {
    sp::Reporter r = sp::app::make_reporter(g, stderr);
    r.event("error", sp::Json{{"kind", kind_name(err.kind)}, {"message", err.message}, {"exit", sp::exit_code(err.kind)}},
            "");
  } else if (!err.message.empty()) {  // empty: -z -q, where the exit status alone speaks
    // One line, whatever the message holds (a bad value with a newline, a peer's name).
    std::fprintf(stderr, "sockprobe: %s%s\n", sp::terminal_safe(err.message).c_str(), hint);
  }
  return sp::exit_code(err.kind);
}

// When CLI11 rejects the command line, --json may not have been parsed
// yet: look for it among the arguments (before a "--") so the usage error
// is still one JSON line.
bool json_on_command_line(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--") return false;
    if (a == "--json" || a.starts_with("--json=")) return true;
  }
  return false;
}

int print_version() {
  std::printf("sockprobe %s\n", SOCKPROBE_VERSION);
  return 0;
}

// Decision: build only the subcommand that runs (issue 13, start-up). The
// whole CLI11 tree cost ~1.95M of the 4.3M instructions of `sockprobe
// --version`; one subcommand costs a sixth of that. The subcommand is the
// first argument that is neither a global flag nor --color's value; when
// there is none (`sockprobe --help`, a typo, --help-all) every subcommand is
// built, so help and CLI11's errors see the whole tree.
struct CommandEntry {
  std::string_view name;
  sp::app::Command (*add)(CLI::App&, const sp::app::GlobalOptions&);
};
constexpr CommandEntry kCommands[] = {
    {"listen", sp::app::add_listen}, {"connect", sp::app::add_connect}, {"send", sp::app::add_send},
    {"recv", sp::app::add_recv},     {"backlog", sp::app::add_backlog}, {"buffers", sp::app::add_buffers},
};

// The subcommand argv names, or "" when it names none (or asks for --help-all).
std::string_view invoked_subcommand(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--help-all" || a == "--") return "";
    if (a == "--color") {
      ++i;  // its value
      continue;
    }
    if (a.starts_with("-")) continue;
    for (const CommandEntry& c : kCommands) {
      if (a == c.name) return a;
    }
    return "";
  }
  return "";
}

std::vector<sp::app::Command> add_commands(CLI::App& app, const sp::app::GlobalOptions& g, std::string_view only) {
  std::vector<sp::app::Command> commands;
  for (const CommandEntry& c : kCommands) {
    if (only.empty() || only == c.name) commands.push_back(c.add(app, g));
  }
  return commands;
}

// The command line with the subcommands named by `only` ("" for all).
std::vector<sp::app::Command> build_cli(CLI::App& app, sp::app::GlobalOptions& g, bool* version,
                                        std::string_view only) {
  app.fallthrough();  // global flags work after the subcommand too
  app.require_subcommand(0, 1);
  app.set_help_all_flag("--help-all", "Help for every subcommand");
  add_global_flags(app, g, version);
  std::vector<sp::app::Command> commands = add_commands(app, g, only);
  apply_cli_rules(app, g);
  return commands;
}

constexpr const char* kAbout = "sockprobe: move bytes over sockets and explain what the kernel did with them";

// A rejected command line, explained against the whole tree: "it is a flag
// of connect" needs every subcommand, not only the one that was built.
std::string explain_rejected(int argc, char** argv, const std::string& cli11_message) {
  CLI::App full{kAbout, "sockprobe"};
  sp::app::GlobalOptions g;
  bool version = false;
  build_cli(full, g, &version, "");
  return sp::app::explain_parse_error(full, argc, argv, cli11_message);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && (std::string_view(argv[1]) == "--version" || std::string_view(argv[1]) == "-V")) {
    return print_version();  // the fast path: no CLI tree at all
  }
  CLI::App app{kAbout, "sockprobe"};
  sp::app::GlobalOptions g;
  bool version = false;
  std::vector<sp::app::Command> commands = build_cli(app, g, &version, invoked_subcommand(argc, argv));

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    g.json = g.json || json_on_command_line(argc, argv);
    return report_error(sp::usage_error(explain_rejected(argc, argv, e.what())), g);
  }
  if (sp::Status st = sp::app::check_flag_rules(app); !st) return report_error(st.error(), g);
  if (sp::Status st = sp::app::normalize_positionals(app); !st) return report_error(st.error(), g);
  if (version) return print_version();
  sp::install_signal_handlers();
  sp::raise_fd_limit();
  for (auto& c : commands) {
    if (c.sub->parsed()) {
      sp::Status st = c.run();
      return st.ok() ? 0 : report_error(st.error(), g);
    }
  }
  return report_error(sp::usage_error("a subcommand is required"), g, " (see 'sockprobe --help')");
}
