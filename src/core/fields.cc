// One definition per report field (see fields.h).
#include "core/fields.h"

#include <fmt/format.h>

namespace sp {

FieldRow& FieldRow::add(std::string key, std::string column, nlohmann::ordered_json value, std::string text) {
  fields_.push_back({std::move(key), std::move(column), std::move(value), std::move(text)});
  return *this;
}

FieldRow& FieldRow::counter(const std::string& name, std::optional<int64_t> value, bool delta) {
  std::string text = !value ? "n/a" : delta ? fmt::format("{:+}", *value) : std::to_string(*value);
  return add(name, name, value ? nlohmann::ordered_json(*value) : nlohmann::ordered_json(nullptr), std::move(text));
}

FieldRow& FieldRow::nest(std::string key, const FieldRow& inner, bool present, const std::string& absent) {
  json(std::move(key), present ? inner.to_json() : nlohmann::ordered_json(nullptr));
  for (const auto& f : inner.fields_) {
    if (!f.column.empty()) cell(f.column, present ? f.text : absent);
  }
  return *this;
}

nlohmann::ordered_json FieldRow::to_json() const {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const auto& f : fields_) {
    if (!f.key.empty()) j[f.key] = f.value;
  }
  return j;
}

std::vector<std::string> FieldRow::cells(const std::vector<std::string>& columns) const {
  std::vector<std::string> out;
  out.reserve(columns.size());
  for (const auto& c : columns) {
    std::string text;
    for (const auto& f : fields_) {
      if (f.column == c) {
        text = f.text;
        break;
      }
    }
    out.push_back(std::move(text));
  }
  return out;
}

const Field* FieldRow::find(std::string_view key) const {
  for (const auto& f : fields_) {
    if (f.key == key) return &f;
  }
  return nullptr;
}

std::optional<uint64_t> unsigned_of(const FieldRow& row, std::string_view key) {
  const Field* f = row.find(key);
  if (!f || !f->value.is_number_integer()) return std::nullopt;
  if (f->value.is_number_unsigned()) return f->value.get<uint64_t>();
  int64_t v = f->value.get<int64_t>();
  return v < 0 ? std::nullopt : std::optional<uint64_t>(static_cast<uint64_t>(v));
}

std::string string_of(const FieldRow& row, std::string_view key) {
  const Field* f = row.find(key);
  return f && f->value.is_string() ? f->value.get<std::string>() : std::string();
}

}  // namespace sp
