// What every subcommand front-end shares: the global flags, the socket flags
// (nc's letters), their conversion from text into core values with usage
// errors that name the flag, and the reporter built from --json/-v/-q/--color.
// A front-end registers its CLI11 subcommand and returns the function that
// runs it; main() only parses and dispatches.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/parse.h"
#include "core/report.h"
#include "core/result.h"
#include "core/sock.h"
#include "core/sockname.h"

namespace sp::app {

struct GlobalOptions {
  int verbose = 0;
  bool quiet = false;
  bool json = false;
  bool ipv4 = false;
  bool ipv6 = false;
  std::string color = "auto";
};

// Raw text of the socket flags; converted by socket_config() after parsing so
// that errors read "--rcvbuf: '12X' is not a SIZE (...)".
struct SocketFlags {
  bool udp = false;
  std::string unix_path;
  std::string rcvbuf, sndbuf;
  std::string source, source_port;
  // -4/-6 again on the subcommand: CLI11 reads "-4" after a subcommand as a
  // number (a positional) unless the subcommand itself defines it.
  bool ipv4 = false, ipv6 = false;
};

enum SocketFlagSet : unsigned {
  kFlagUdp = 1, kFlagUnix = 2, kFlagBuffers = 4, kFlagSource = 8,
  kAllSocketFlags = kFlagUdp | kFlagUnix | kFlagBuffers | kFlagSource,
};
void add_socket_flags(CLI::App* sub, SocketFlags* f, unsigned which = kAllSocketFlags);
Result<SocketConfig> socket_config(const SocketFlags& f, const GlobalOptions& g);

// Flag value converters: "" means not given (nullopt).
Result<std::optional<uint64_t>> size_flag(const char* flag, const std::string& text);
Result<std::optional<Duration>> duration_flag(const char* flag, const std::string& text);
Result<std::optional<uint16_t>> port_flag(const char* flag, const std::string& text);
Result<std::optional<long long>> count_flag(const char* flag, const std::string& text, long long min,
                                            long long max);
Result<std::vector<Cidr>> cidr_flags(const char* flag, const std::vector<std::string>& texts);

// The reporter for a command: relay modes report on stderr, others on stdout.
Reporter make_reporter(const GlobalOptions& g, std::FILE* stream);

using Runner = std::function<Status()>;
struct Command {
  CLI::App* sub = nullptr;
  Runner run;
};

// One per subcommand, in src/app/<name>.cc.

Command add_listen(CLI::App& app, const GlobalOptions& g);
Command add_connect(CLI::App& app, const GlobalOptions& g);
Command add_send(CLI::App& app, const GlobalOptions& g);
Command add_recv(CLI::App& app, const GlobalOptions& g);
Command add_backlog(CLI::App& app, const GlobalOptions& g);
Command add_buffers(CLI::App& app, const GlobalOptions& g);

}  // namespace sp::app
