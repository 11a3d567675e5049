// /proc readers and their pure parsers (see procfs.h).
#include "core/procfs.h"

#include <cerrno>
#include <charconv>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace sp {
namespace {

std::vector<std::string_view> split_ws(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
    size_t j = i;
    while (j < s.size() && !(s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r')) ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

bool to_i64(std::string_view s, int64_t* v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

Result<std::string> ProcFs::read(std::string_view relative) const {
  std::string path = fmt::format("{}/{}", root_, relative);
  std::ifstream in(path, std::ios::binary);
  if (!in) return system_error(fmt::format("open {}: {}", path, errno_text(errno)));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Result<std::string> ProcFs::sysctl_text(std::string_view dotted_name) const {
  std::string rel = "sys/";
  for (char c : dotted_name) rel += (c == '.') ? '/' : c;
  return read(rel);
}

Result<std::vector<int64_t>> ProcFs::sysctl_ints(std::string_view dotted_name) const {
  auto text = sysctl_text(dotted_name);
  if (!text.ok()) return text.take_error();
  auto ints = parse_int_list(*text);
  if (!ints || ints->empty()) {
    return system_error(fmt::format("sysctl {}: unexpected value '{}'", dotted_name, *text));
  }
  return *ints;
}

Result<int64_t> ProcFs::sysctl_int(std::string_view dotted_name) const {
  auto ints = sysctl_ints(dotted_name);
  if (!ints.ok()) return ints.take_error();
  return ints->front();
}

std::optional<std::vector<int64_t>> parse_int_list(std::string_view text) {
  std::vector<int64_t> out;
  for (auto word : split_ws(text)) {
    int64_t v = 0;
    if (!to_i64(word, &v)) return std::nullopt;
    out.push_back(v);
  }
  return out;
}

CounterTable parse_counter_pairs(std::string_view text) {
  CounterTable table;
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    if (nl > start) lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    auto names = split_ws(lines[i]);
    auto values = split_ws(lines[i + 1]);
    if (names.empty() || values.empty() || names[0] != values[0] || names[0].back() != ':') continue;
    // A header line has a non-numeric second word; a value line is numeric.
    int64_t probe = 0;
    if (names.size() > 1 && to_i64(names[1], &probe)) continue;
    std::string prefix(names[0].substr(0, names[0].size() - 1));
    auto& row = table[prefix];
    for (size_t k = 1; k < names.size() && k < values.size(); ++k) {
      int64_t v = 0;
      if (to_i64(values[k], &v)) row[std::string(names[k])] = v;
    }
    ++i;  // consumed the value line
  }
  return table;
}

int64_t counter_delta(int64_t before, int64_t after) {
  return after >= before && before >= 0 ? after - before : after;
}

std::map<std::string, int64_t> parse_name_value_lines(std::string_view text) {
  std::map<std::string, int64_t> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    auto words = split_ws(text.substr(start, nl - start));
    int64_t v = 0;
    if (words.size() == 2 && to_i64(words[1], &v)) out[std::string(words[0])] = v;
    start = nl + 1;
  }
  return out;
}

std::optional<int64_t> parse_sockstat(std::string_view text, std::string_view protocol, std::string_view field) {
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    auto words = split_ws(text.substr(start, nl - start));
    if (!words.empty() && words[0].size() == protocol.size() + 1 && words[0].starts_with(protocol) &&
        words[0].back() == ':') {
      for (size_t i = 1; i + 1 < words.size(); i += 2) {
        int64_t v = 0;
        if (words[i] == field && to_i64(words[i + 1], &v)) return v;
      }
      return std::nullopt;
    }
    start = nl + 1;
  }
  return std::nullopt;
}

}  // namespace sp
