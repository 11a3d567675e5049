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
