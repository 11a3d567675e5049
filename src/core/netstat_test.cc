// TcpExt parsing against /proc/net/netstat files of other kernels (fields
// missing, extra, reordered) and against the live file.
#include "core/netstat.h"

#include <cstdint>

#include <doctest/doctest.h>

#include "core/test_data.h"

using namespace sp;

namespace {

ProcFs fixture_root() { return ProcFs(test_data_dir()); }

Counters load(const char* name) {
  auto text = fixture_root().read(std::string("netstat/") + name);
  INFO(name);
  REQUIRE(text.ok());
  return parse_tcpext(*text);
}

}  // namespace

TEST_CASE("TcpExt from a 6.18 host has every listen counter") {
  Counters c = load("linux-6.18-host.txt");
  for (const auto& name : listen_counter_names()) {
    INFO(name);
    CHECK(counter(c, name).has_value());
  }
  CHECK(counter(c, kBacklogDropCounter).has_value());
}

TEST_CASE("TcpExt from an old kernel: missing fields are absent, not zero") {
  Counters c = load("old-3.10-fields-missing.txt");
  CHECK(counter(c, "ListenOverflows") == 21);
  CHECK(counter(c, "ListenDrops") == 22);
  CHECK(counter(c, "SyncookiesSent") == 11);
  CHECK(counter(c, "SyncookiesFailed") == 13);
  CHECK_FALSE(counter(c, "TCPReqQFullDrop").has_value());
  CHECK_FALSE(counter(c, "TCPReqQFullDoCookies").has_value());
  CHECK_FALSE(counter(c, kBacklogDropCounter).has_value());
}

TEST_CASE("TcpExt with reordered and extra fields, other rows ignored") {
  Counters c = load("reordered-extra-fields.txt");
  CHECK(counter(c, "ListenOverflows") == 1022);  // not MPTcpExt's 999999
  CHECK(counter(c, "ListenDrops") == 1023);
  CHECK(counter(c, "TCPReqQFullDrop") == 1079);
  CHECK(counter(c, "TCPReqQFullDoCookies") == 1078);
  CHECK(counter(c, "SyncookiesSent") == 1000);
  CHECK(counter(c, "TCPBacklogDrop") == 1072);
  CHECK(counter(c, "TCPFutureCounter") == 777);
  CHECK(c.count("InNoRoutes") == 0);
}

TEST_CASE("parse_tcpext without a TcpExt row") {
  CHECK(parse_tcpext("IpExt: A B\nIpExt: 1 2\n").empty());
  CHECK(parse_tcpext("").empty());
}

TEST_CASE("read_tcpext through a ProcFs root") {
  ProcFs root = fixture_root();
  // ROOT/net/netstat does not exist in the fixture tree: an error naming the path.
  auto missing = read_tcpext(root);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message.find("net/netstat") != std::string::npos);
  auto live = read_tcpext(ProcFs());
  REQUIRE(live.ok());
  CHECK(counter(*live, "ListenOverflows").has_value());
}

TEST_CASE("counter_deltas") {
  Counters before = {{"ListenOverflows", 10}, {"ListenDrops", 12}, {"Gone", 1}};
  Counters after = {{"ListenOverflows", 15}, {"ListenDrops", 3}, {"New", 4}};
  Counters d = counter_deltas(before, after);
  CHECK(d["ListenOverflows"] == 5);
  CHECK(d["ListenDrops"] == 3);  // went down: namespace recreated
  CHECK(d.count("Gone") == 0);
  CHECK(d.count("New") == 0);
  // Junk extremes (fuzz/netstat.cc): no signed overflow, the new value.
  auto junk = counter_deltas(parse_tcpext("TcpExt: A B\nTcpExt: -9223372036854775808 -1\n"),
                             parse_tcpext("TcpExt: A B\nTcpExt: 9223372036854775807 9223372036854775807\n"));
  CHECK(junk["A"] == INT64_MAX);
  CHECK(junk["B"] == INT64_MAX);
}

TEST_CASE("every listen counter is explained") {
  for (const auto& name : listen_counter_names()) {
    INFO(name);
    CHECK_FALSE(counter_meaning(name).empty());
  }
  CHECK(counter_meaning(kBacklogDropCounter).find("NOT the listen backlog") != std::string_view::npos);
}
