// A FieldRow's two views: JSON in insertion order, cells in column order,
// nested objects and the cells of what the kernel did not send.
#include "core/fields.h"

#include <doctest/doctest.h>

using namespace sp;
using Json = nlohmann::ordered_json;

TEST_CASE("one field, two views: JSON keeps its order, cells follow the columns") {
  FieldRow r;
  r.add("queue", "QUEUE", 5, "5").json("inode", 77).add("fill_pct", "FILL", 55.6, "56%").cell("NOTE", "filling up");
  CHECK(r.to_json().dump() == R"({"queue":5,"inode":77,"fill_pct":55.6})");
  CHECK(r.cells({"FILL", "QUEUE", "NOTE", "MISSING"}) == std::vector<std::string>{"56%", "5", "filling up", ""});
  REQUIRE(r.find("inode") != nullptr);
  CHECK(r.find("inode")->value == 77);
  CHECK(r.find("NOTE") == nullptr);  // text-only fields have no key
}

TEST_CASE("nest: an object in JSON, its cells among the row's; null and placeholders when absent") {
  FieldRow inner;
  inner.add("r", "r", 10, "10").json("t", 0).add("rb", "rb", 4096, "4096 (4 KiB)");
  FieldRow r;
  r.add("state", "State", "ESTAB", "ESTAB").nest("skmem", inner, true, "?");
  CHECK(r.to_json().dump() == R"({"state":"ESTAB","skmem":{"r":10,"t":0,"rb":4096}})");
  CHECK(r.cells({"rb", "r", "State"}) == std::vector<std::string>{"4096 (4 KiB)", "10", "ESTAB"});
  FieldRow gone;
  gone.nest("skmem", inner, false, "-");
  CHECK(gone.to_json() == Json{{"skmem", nullptr}});
  CHECK(gone.cells({"r", "rb"}) == std::vector<std::string>{"-", "-"});
}

TEST_CASE("fields(): every field in insertion order, for a name/value list") {
  FieldRow r;
  r.add("ListenOverflows", "ListenOverflows", 3, "+3").json("delta", true).cell("NOTE", "x");
  const auto& fs = r.fields();
  REQUIRE(fs.size() == 3);
  CHECK(fs[0].column == "ListenOverflows");
  CHECK(fs[0].text == "+3");
  CHECK(fs[1].key == "delta");
  CHECK(fs[1].column.empty());
  CHECK(fs[2].key.empty());
}

TEST_CASE("unsigned_of, string_of: a third view reads the JSON values back") {
  FieldRow r;
  r.json("queue", 5).json("big", uint64_t{1} << 40).json("neg", -1).json("none", nullptr).json("fill", 2.5);
  r.json("name", "tcp").json("port", nullptr);
  CHECK(unsigned_of(r, "queue") == 5u);
  CHECK(unsigned_of(r, "big") == uint64_t{1} << 40);
  CHECK_FALSE(unsigned_of(r, "neg").has_value());
  CHECK_FALSE(unsigned_of(r, "none").has_value());
  CHECK_FALSE(unsigned_of(r, "fill").has_value());
  CHECK_FALSE(unsigned_of(r, "missing").has_value());
  CHECK_FALSE(unsigned_of(r, "name").has_value());
  CHECK(string_of(r, "name") == "tcp");
  CHECK(string_of(r, "port").empty());
  CHECK(string_of(r, "missing").empty());
}

TEST_CASE("counter: total, signed change, and n/a / null when the kernel has none") {
  FieldRow r;
  r.counter("Drops", 7, false).counter("Grew", 3, true).counter("Fell", -2, true).counter("Same", 0, true);
  r.counter("Missing", std::nullopt, true);
  CHECK(r.to_json().dump() == R"({"Drops":7,"Grew":3,"Fell":-2,"Same":0,"Missing":null})");
  CHECK(r.cells({"Drops", "Grew", "Fell", "Same", "Missing"}) ==
        std::vector<std::string>{"7", "+3", "-2", "+0", "n/a"});
}
