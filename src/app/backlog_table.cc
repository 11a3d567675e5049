// Aligned text tables (see backlog_table.h).
#include "app/backlog_table.h"

#include <algorithm>

namespace sp::app {
namespace {

// Visible width: skips ANSI escape sequences, counts UTF-8 lead bytes only.
size_t visible_width(const std::string& s) {
  size_t w = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\x1b') {
      while (i < s.size() && s[i] != 'm') ++i;
      continue;
    }
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) ++w;
  }
  return w;
}

std::string pad(const std::string& cell, size_t width, Align a) {
  std::string fill(width - std::min(width, visible_width(cell)), ' ');
  return a == Align::Right ? fill + cell : cell + fill;
}

}  // namespace

std::string Table::render(const std::vector<Align>& align, const std::string& indent) const {
  std::vector<size_t> widths;
  for (const auto& r : rows_) {
    if (widths.size() < r.size()) widths.resize(r.size(), 0);
    for (size_t c = 0; c < r.size(); ++c) widths[c] = std::max(widths[c], visible_width(r[c]));
  }
  std::string out;
  for (const auto& r : rows_) {
    std::string line = indent;
    for (size_t c = 0; c < r.size(); ++c) {
      Align a = c < align.size() ? align[c] : Align::Left;
      line += pad(r[c], widths[c], a);
      if (c + 1 < r.size()) line += "  ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::vector<std::string> column_names(const std::vector<Column>& columns) {
  std::vector<std::string> out;
  for (const auto& c : columns) out.push_back(c.name);
  return out;
}

std::vector<Align> column_aligns(const std::vector<Column>& columns) {
  std::vector<Align> out;
  for (const auto& c : columns) out.push_back(c.align);
  return out;
}

}  // namespace sp::app
