// HOST:PORT and service names in the positionals (see positionals.h).
#include "app/positionals.h"

#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/address.h"
#include "core/parse.h"

namespace sp::app {
namespace {

bool given(const CLI::App& sub, const char* flag) {
  const CLI::Option* o = sub.get_option_no_throw(flag);
  return o != nullptr && o->count() > 0;
}

// Where PORT stands in the positionals, or -1 when the command takes none
// (send --listen [FILE], -U PATH). `listen [HOST] PORT`: the last of two.
int port_index(const CLI::App& sub, const std::vector<std::string>& args) {
  const std::string& name = sub.get_name();
  if (given(sub, "--unix")) return -1;
  if (name == "send") return given(sub, "--listen") ? -1 : 1;
  if (name == "connect" || (name == "recv" && given(sub, "--connect"))) return 1;
  if (name == "listen" || name == "recv") return args.size() >= 2 ? 1 : 0;
  return -1;
}

// "https" -> "443"; "ssh,https,8000-8010" -> "22,443,8000-8010" (-z).
Result<std::string> port_text(const std::string& cmd, const std::string& text, bool list) {
  bool numeric = text.find_first_not_of("0123456789,-") == std::string::npos;
  if (numeric) return text;  // numbers and ranges: the front-end checks them
  if (!list) {
    auto p = parse_port(text, false, lookup_service);
    if (!p.ok()) return usage_error(fmt::format("{}: PORT: {}", cmd, p.error().message));
    return std::to_string(*p);
  }
  auto ports = parse_port_list(text, lookup_service);
  if (!ports.ok()) return usage_error(fmt::format("{}: PORT: {}", cmd, ports.error().message));
  return fmt::format("{}", fmt::join(*ports, ","));
}

}  // namespace

Status normalize_positionals(CLI::App& app) {
  auto parsed = app.get_subcommands();
  if (parsed.empty()) return {};
  CLI::App& sub = *parsed.front();
  CLI::Option* opt = sub.get_option_no_throw("args");
  if (opt == nullptr || opt->count() == 0) return {};
  std::vector<std::string> args = opt->results();
  int at = port_index(sub, args);
  if (at < 0) return {};
  // The HOST spot holding HOST:PORT: split it. `listen 127.0.0.1:9000 80`
  // then has three positionals, which the front-end refuses as usual.
  if (auto hp = split_host_port(args[0])) {
    args[0] = hp->host;
    args.insert(args.begin() + 1, hp->port);
    at = 1;
  }
  if (static_cast<size_t>(at) < args.size()) {
    auto p = port_text(sub.get_name(), args[at], sub.get_name() == "connect" && given(sub, "--zero-io"));
    if (!p.ok()) return p.take_error();
    args[at] = *p;
  }
  if (args == opt->results()) return {};
  opt->clear();
  opt->add_result(args);
  opt->run_callback();  // assigns the front-end's args vector again
  return {};
}

}  // namespace sp::app
