// Event reporting in text or NDJSON (see report.h).
#include "core/report.h"

#include <unistd.h>

#include <cstdlib>

#include <fmt/format.h>

#include "core/textsafe.h"

namespace sp {

static std::string wrap(bool on, const char* code, std::string_view s) {
  if (!on) return std::string(s);
  return fmt::format("\x1b[{}m{}\x1b[0m", code, s);
}

void Reporter::event(std::string_view name, Json fields, std::string_view human, int min_verbosity) {
  if (opts_.json) {
    // "event" first, then the fields moved in, not copied (a --json server
    // writes two events per connection).
    Json obj;
    obj["event"] = name;
    for (auto& [k, v] : fields.items()) obj[k] = std::move(v);
    std::string line = obj.dump(-1, ' ', false, Json::error_handler_t::replace);
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), out_);
    std::fflush(out_);
    return;
  }
  if (human.empty()) return;
  if (min_verbosity >= 0 && (opts_.quiet || opts_.verbosity < min_verbosity)) return;
  std::fprintf(out_, "%.*s\n", static_cast<int>(human.size()), human.data());
  std::fflush(out_);
}

void Reporter::warning(std::string_view message) {
  if (opts_.json) {
    event("warning", Json{{"message", message}}, "");
    return;
  }
  std::string line = warning_line(terminal_safe(message), opts_.stderr_color);  // may name a peer
  std::fprintf(stderr, "%s\n", line.c_str());
}

void Reporter::text(std::string_view text) {
  if (opts_.json || opts_.quiet) return;
  std::fwrite(text.data(), 1, text.size(), out_);
  std::fflush(out_);
}

std::string Reporter::bold(std::string_view s) const { return wrap(opts_.color, "1", s); }
std::string Reporter::red(std::string_view s) const { return wrap(opts_.color, "31", s); }
std::string Reporter::yellow(std::string_view s) const { return wrap(opts_.color, "33", s); }
std::string Reporter::green(std::string_view s) const { return wrap(opts_.color, "32", s); }

std::string warning_line(std::string_view message, bool color) {
  return fmt::format("sockprobe: {}: {}", wrap(color, "33", "warning"), message);
}

bool resolve_color(std::string_view mode, int fd) {
  if (mode == "always") return true;
  if (mode == "never") return false;
  const char* no_color = std::getenv("NO_COLOR");
  if (no_color != nullptr && *no_color != '\0') return false;
  return ::isatty(fd) == 1;
}

}  // namespace sp
