// procfs parsing: sysctl int lists, netstat/snmp counter pairs matched by
// name (reordered or extra fields tolerated), snmp6 lines, and real sysctls.
#include "core/procfs.h"

#include <cstdint>

#include <doctest/doctest.h>

using namespace sp;

TEST_CASE("parse_int_list") {
  CHECK(*parse_int_list("4096\t131072  6291456\n") == std::vector<int64_t>{4096, 131072, 6291456});
  CHECK(*parse_int_list("1\n") == std::vector<int64_t>{1});
  CHECK_FALSE(parse_int_list("12 abc").has_value());
}

TEST_CASE("parse_counter_pairs parses by name, tolerating reordered and extra fields") {
  const char* text =
      "TcpExt: SyncookiesSent SyncookiesRecv ListenOverflows ListenDrops NewField\n"
      "TcpExt: 1 2 15 16 99\n"
      "IpExt: InNoRoutes InOctets\n"
      "IpExt: 0 123456\n"
      "Broken: A B\n";  // header with no value line
  auto t = parse_counter_pairs(text);
  CHECK(t["TcpExt"]["ListenOverflows"] == 15);
  CHECK(t["TcpExt"]["ListenDrops"] == 16);
  CHECK(t["TcpExt"]["NewField"] == 99);
  CHECK(t["IpExt"]["InOctets"] == 123456);
  CHECK(t.count("Broken") == 0);
}

TEST_CASE("parse_name_value_lines") {
  auto m = parse_name_value_lines("Udp6InDatagrams 5\nUdp6RcvbufErrors 2\nbogus line here\n");
  CHECK(m["Udp6RcvbufErrors"] == 2);
  CHECK(m["Udp6InDatagrams"] == 5);
  CHECK(m.count("bogus") == 0);
}

TEST_CASE("ProcFs reads the real sysctls") {
  ProcFs proc;
  auto somax = proc.sysctl_int("net.core.somaxconn");
  REQUIRE(somax.ok());
  CHECK(*somax > 0);
  auto rmem = proc.sysctl_ints("net.ipv4.tcp_rmem");
  REQUIRE(rmem.ok());
  CHECK(rmem->size() == 3);
  auto missing = proc.sysctl_int("net.core.no_such_thing");
  CHECK_FALSE(missing.ok());
  CHECK(missing.error().message.find("no_such_thing") != std::string::npos);
}

TEST_CASE("counter_delta: never overflows, a counter that went down yields its new value") {
  CHECK(counter_delta(10, 15) == 5);
  CHECK(counter_delta(12, 3) == 3);
  // fuzz/netstat.cc found these: after - before overflowed int64 (UB).
  CHECK(counter_delta(-1, INT64_MAX) == INT64_MAX);
  CHECK(counter_delta(INT64_MIN, 0) == 0);
  CHECK(counter_delta(INT64_MAX, INT64_MIN) == INT64_MIN);
  CHECK(counter_delta(0, INT64_MAX) == INT64_MAX);
}

TEST_CASE("parse_sockstat: TIME_WAIT from /proc/net/sockstat, captured") {
  // Linux 6.18, after a burst of 20000 connections on loopback.
  const char* text =
      "sockets: used 12\n"
      "TCP: inuse 2 orphan 0 tw 19874 alloc 2 mem 372\n"
      "UDP: inuse 0 mem 0\n"
      "UDPLITE: inuse 0\n"
      "RAW: inuse 0\n"
      "FRAG: inuse 0 memory 0\n";
  CHECK(parse_sockstat(text, "TCP", "tw") == 19874);
  CHECK(parse_sockstat(text, "TCP", "inuse") == 2);
  CHECK(parse_sockstat(text, "UDP", "mem") == 0);
  CHECK_FALSE(parse_sockstat(text, "UDP", "tw").has_value());
  CHECK_FALSE(parse_sockstat(text, "TCP6", "tw").has_value());  // "TCP:" is not "TCP6:"
  CHECK_FALSE(parse_sockstat("TCP: inuse 2 tw x\n", "TCP", "tw").has_value());
  CHECK_FALSE(parse_sockstat("", "TCP", "tw").has_value());
  CHECK(parse_sockstat("TCP: tw 5", "TCP", "tw") == 5);  // no final newline
}

TEST_CASE("ip_local_port_range reads as two numbers") {
  CHECK(*parse_int_list("32768\t60999\n") == std::vector<int64_t>{32768, 60999});
}
