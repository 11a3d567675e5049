// Why: every report row is shown twice, as a JSON event and as a table row.
// Built apart, the two drifted (a field in one and not the other, a name
// spelt two ways). A FieldRow holds each field once — its JSON key, the
// table column it fills, its JSON value and its cell text, side by side —
// and both forms are views of it: to_json() in insertion order (the order
// JSON EVENTS documents), cells() in the order of the table's columns.
// A report shown as a list of name/value lines (limits, counters) reads the
// same fields one per line (fields()); a third form (metrics) reads their
// JSON values back (unsigned_of, string_of) instead of deriving them again.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace sp {

struct Field {
  std::string key;     // JSON key; "" when the field is text only
  std::string column;  // the table column it fills; "" when JSON only
  nlohmann::ordered_json value;
  std::string text;
};

class FieldRow {
 public:
  // A field in both forms.
  FieldRow& add(std::string key, std::string column, nlohmann::ordered_json value, std::string text);
  FieldRow& json(std::string key, nlohmann::ordered_json value) {
    return add(std::move(key), "", std::move(value), "");
  }
  FieldRow& cell(std::string column, std::string text) { return add("", std::move(column), nullptr, std::move(text)); }
  // A kernel counter named `name` in both forms: its value (JSON null and
  // "n/a" when the kernel has none), as a signed change ("+3", "-1") in a
  // --watch round's changes, else the total.
  FieldRow& counter(const std::string& name, std::optional<int64_t> value, bool delta);
  // `inner` as one JSON object under `key`, its cells joining this row's
  // columns. When !present: JSON null, and every one of its cells says
  // `absent` (what the kernel did not send).
  FieldRow& nest(std::string key, const FieldRow& inner, bool present, const std::string& absent);

  nlohmann::ordered_json to_json() const;
  // The text of each column, in that order ("" for a column no field fills).
  std::vector<std::string> cells(const std::vector<std::string>& columns) const;
  // The field with this JSON key, nullptr when none.
  const Field* find(std::string_view key) const;
  // Every field in insertion order: one line each in a name/value list.
  const std::vector<Field>& fields() const { return fields_; }

 private:
  std::vector<Field> fields_;
};

// A field's JSON value read back: nullopt when the key is missing, its value
// null or not a number >= 0.
std::optional<uint64_t> unsigned_of(const FieldRow& row, std::string_view key);
// "" when the key is missing or its value not a string.
std::string string_of(const FieldRow& row, std::string_view key);

}  // namespace sp
