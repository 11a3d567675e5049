// Aligned text tables for the backlog reports: rows of cells, each column
// padded to its widest cell, numbers right-aligned. Cells may hold ANSI
// colour codes; widths count only the visible characters.
#pragma once

#include <string>
#include <vector>

namespace sp::app {

enum class Align { Left, Right };

// A table's column: the header it shows (also the name FieldRow::cells
// looks it up by) and how it aligns.
struct Column {
  std::string name;
  Align align;
};
std::vector<std::string> column_names(const std::vector<Column>& columns);
std::vector<Align> column_aligns(const std::vector<Column>& columns);

class Table {
 public:
  void row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  bool empty() const { return rows_.empty(); }
  // Every row on its own line, each prefixed by indent; trailing blanks trimmed.
  std::string render(const std::vector<Align>& align, const std::string& indent) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace sp::app
