// Better usage messages for command lines CLI11 rejected (see cli_errors.h).
// The command line is walked again the way CLI11 reads it (subcommand words,
// flags with or without values, fallthrough to the parents' flags), up to
// the first word that is neither a known flag nor a known subcommand.
#include "app/cli_errors.h"

#include <algorithm>
#include <cctype>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace sp::app {
namespace {

const CLI::App* find_sub(const CLI::App& cmd, std::string_view name) {
  for (const CLI::App* s : cmd.get_subcommands([](const CLI::App*) { return true; })) {
    if (s->get_name() == name) return s;
  }
  return nullptr;
}

std::vector<std::string> sub_names(const CLI::App& cmd) {
  std::vector<std::string> out;
  for (const CLI::App* s : cmd.get_subcommands([](const CLI::App*) { return true; })) out.push_back(s->get_name());
  return out;
}

// The option NAME ("--size", "-w") as CLI11 resolves it: on cmd or, through
// fallthrough, on one of its parents.
const CLI::Option* find_option(const CLI::App* cmd, const std::string& name) {
  for (; cmd != nullptr; cmd = cmd->get_parent()) {
    if (const CLI::Option* o = cmd->get_option_no_throw(name)) return o;
  }
  return nullptr;
}

std::string path_of(const CLI::App* cmd) {
  std::string path;
  for (; cmd != nullptr && cmd->get_parent() != nullptr; cmd = cmd->get_parent()) {
    path = path.empty() ? cmd->get_name() : cmd->get_name() + " " + path;
  }
  return path;
}

std::string help_hint(const CLI::App* cmd) {
  std::string path = path_of(cmd);
  return path.empty() ? "see 'sockprobe --help'" : fmt::format("see 'sockprobe {} --help'", path);
}

// The nearest candidate, if it is near enough to be what was meant: a
// distance of at most a third of the word (>= 1), or a unique prefix.
std::string nearest(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = SIZE_MAX;
  std::vector<std::string> prefixed;
  for (const auto& c : candidates) {
    if (word.size() == 2 && (c.size() != 2 || std::tolower(c[1]) != std::tolower(word[1]))) continue;  // -Z: -z only
    size_t d = edit_distance(word, c);
    if (d < best_d) best_d = d, best = c;
    if (c.starts_with(word) && word.size() >= 3) prefixed.push_back(c);
  }
  if (best_d <= std::max<size_t>(1, word.size() / 3)) return best;
  if (prefixed.size() == 1) return prefixed.front();
  return "";
}

// The flag names offered on cmd: its own and its parents' visible ones.
std::vector<std::string> flag_names(const CLI::App* cmd) {
  std::vector<std::string> out;
  for (; cmd != nullptr; cmd = cmd->get_parent()) {
    for (const CLI::Option* o : cmd->get_options()) {
      if (!o->nonpositional() || o->get_group().empty()) continue;
      for (const auto& l : o->get_lnames()) out.push_back("--" + l);
      for (const auto& s : o->get_snames()) out.push_back("-" + s);
    }
  }
  return out;
}

// Which other subcommands have this flag ("connect, send, recv").
std::string owners_of(const CLI::App& root, const std::string& name) {
  std::vector<std::string> subs;
  for (const CLI::App* s : root.get_subcommands([](const CLI::App*) { return true; })) {
    const CLI::Option* o = s->get_option_no_throw(name);
    if (o != nullptr && !o->get_group().empty()) subs.push_back(s->get_name());
  }
  return fmt::format("{}", fmt::join(subs, ", "));
}

// netcat's letters that mean something else, or nothing, here.
std::string nc_habit(const std::string& path, const std::string& name) {
  if (name == "-p" && (path == "listen" || path == "recv")) {
    return fmt::format("{0}: -p: the port is an argument here: 'sockprobe {0} 9000' (nc -l -p 9000)", path);
  }
  if (name == "-l") return "-l: 'sockprobe listen [HOST] PORT' listens (nc -l); 'recv' listens too";
  if (name == "-N") {
    return "-N: not needed: EOF on stdin already sends a FIN and the peer's reply is still read (what nc -N "
           "does); --close-on-eof closes at once";
  }
  if (name == "-n") return "-n: not needed: a numeric HOST is never looked up in DNS";
  if (name == "-e" || name == "-c") {
    return fmt::format("{}: running a program (nc -e/-c) is not supported yet; sockprobe relays stdin/stdout, so "
                       "pipe a program into it",
                       name);
  }
  return "";
}

std::string unknown_flag(const CLI::App& root, const CLI::App* cmd, const std::string& name) {
  std::string path = path_of(cmd);
  if (std::string habit = nc_habit(path, name); !habit.empty()) return habit;
  std::string where = path.empty() ? "" : path + ": ";
  std::string hint;
  if (std::string n = nearest(name, flag_names(cmd)); !n.empty()) {
    hint = fmt::format(" (did you mean {}?)", n);
  } else if (std::string others = owners_of(root, name); !others.empty() && !path.empty()) {
    hint = fmt::format(" (it is a flag of {}, not of {})", others, path);
  }
  return fmt::format("{}unknown flag {}{}; {}", where, name, hint, help_hint(cmd));
}

std::string unknown_subcommand(const CLI::App* cmd, const std::string& word) {
  std::string path = path_of(cmd);
  std::string where = path.empty() ? "" : path + ": ";
  std::vector<std::string> names = sub_names(*cmd);
  std::string n = nearest(word, names);
  std::string hint = !n.empty() ? fmt::format(" (did you mean {}?)", n)
                                : fmt::format(" (one of: {})", fmt::join(names, ", "));
  return fmt::format("{}unknown subcommand '{}'{}; {}", where, word, hint, help_hint(cmd));
}

bool looks_like_number(std::string_view a) {
  return a.size() >= 2 && a[0] == '-' && (std::isdigit(static_cast<unsigned char>(a[1])) != 0 || a[1] == '.');
}

// Checks one flag word; *skip_value is set when the next word is its value.
// Returns "" when the flag is known.
std::string check_flag(const CLI::App& root, const CLI::App* cmd, std::string_view a, bool* skip_value) {
  *skip_value = false;
  if (a.starts_with("--")) {
    std::string name(a.substr(0, a.find('=')));
    const CLI::Option* o = find_option(cmd, name);
    if (o == nullptr) return unknown_flag(root, cmd, name);
    *skip_value = o->get_items_expected_max() > 0 && a.find('=') == std::string_view::npos;
    return "";
  }
  for (size_t k = 1; k < a.size(); ++k) {  // -kv, -w5, -w 5
    std::string name = fmt::format("-{}", a[k]);
    const CLI::Option* o = find_option(cmd, name);
    if (o == nullptr) return unknown_flag(root, cmd, name);
    if (o->get_items_expected_max() > 0) {
      *skip_value = k + 1 == a.size();
      break;
    }
  }
  return "";
}

}  // namespace

// Optimal string alignment: a swap of two neighbours ("tset") costs 1.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

std::string explain_parse_error(const CLI::App& app, int argc, const char* const* argv,
                                const std::string& cli11_message) {
  const CLI::App* cmd = &app;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--") break;
    if (a.size() > 1 && a[0] == '-' && !looks_like_number(a)) {
      bool skip = false;
      if (std::string msg = check_flag(app, cmd, a, &skip); !msg.empty()) return msg;
      if (skip) ++i;
      continue;
    }
    if (const CLI::App* sub = find_sub(*cmd, a)) {
      cmd = sub;
      continue;
    }
    // A word where a subcommand must stand: the top level, or `backlog tset`.
    bool takes_positionals = !cmd->get_options([](const CLI::Option* o) { return !o->nonpositional(); }).empty();
    if (!sub_names(*cmd).empty() && !takes_positionals) return unknown_subcommand(cmd, std::string(a));
  }
  return fmt::format("{}{} ({})", path_of(cmd).empty() ? "" : path_of(cmd) + ": ", cli11_message, help_hint(cmd));
}

}  // namespace sp::app
