// Reporter: every line sockprobe prints about what happened (as opposed to
// relayed data) goes through here, as an event with a name and fields. In
// --json mode each event is one NDJSON object with an "event" field; otherwise
// the event's human text is printed when the verbosity allows. Relay modes
// report on stderr (stdout carries the peer's bytes); data-less commands
// report on stdout.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace sp {

using Json = nlohmann::ordered_json;

struct ReportOptions {
  bool json = false;
  int verbosity = 0;   // -v count
  bool quiet = false;  // -q: only errors
  bool color = false;  // resolved from --color, NO_COLOR and isatty of the report stream
  bool stderr_color = false;  // the same for stderr, where warnings go
};

class Reporter {
 public:
  Reporter(ReportOptions opts, std::FILE* out) : opts_(opts), out_(out) {}

  // Emits an event. `fields` must not contain "event". `human` is printed in
  // text mode when verbosity >= min_verbosity (and not -q, unless min
  // verbosity is negative: always shown). An empty `human` prints nothing.
  void event(std::string_view name, Json fields, std::string_view human, int min_verbosity = 0);

  // A warning line in text mode ("sockprobe: warning: ..."), a
  // {"event":"warning"} object in JSON mode. Always on stderr in text mode,
  // coloured by stderr_color (not by the report stream's colour).
  void warning(std::string_view message);

  // Plain text (tables) in text mode only; nothing in JSON mode.
  void text(std::string_view text);

  const ReportOptions& options() const { return opts_; }
  bool json() const { return opts_.json; }
  int verbosity() const { return opts_.verbosity; }
  bool quiet() const { return opts_.quiet; }
  // Would event(..., min_verbosity) print anything? Callers skip gathering
  // what no one will see (a syscall per connection under -q).
  bool shows(int min_verbosity) const {
    return opts_.json || min_verbosity < 0 || (!opts_.quiet && opts_.verbosity >= min_verbosity);
  }
  std::FILE* stream() const { return out_; }

  // Colour helpers: wrap text in ANSI codes only when colour is on.
  std::string bold(std::string_view s) const;
  std::string red(std::string_view s) const;
  std::string yellow(std::string_view s) const;
  std::string green(std::string_view s) const;

 private:
  ReportOptions opts_;
  std::FILE* out_;
};

// "sockprobe: warning: MESSAGE", with "warning" in yellow when color.
std::string warning_line(std::string_view message, bool color);

// Resolves --color=auto|always|never with NO_COLOR and isatty(fd).
bool resolve_color(std::string_view mode, int fd);

}  // namespace sp
