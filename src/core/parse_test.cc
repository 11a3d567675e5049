// The pure flag parsers (SIZE, DURATION, RATE, PORT, port lists, counts,
// CIDR, human units): what they accept, and that errors name the bad value.
#include "core/parse.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <doctest/doctest.h>

using namespace sp;
using namespace std::chrono_literals;

TEST_CASE("parse_size accepts bytes and binary suffixes") {
  CHECK(*parse_size("0") == 0);
  CHECK(*parse_size("4096") == 4096);
  CHECK(*parse_size("64K") == 65536);
  CHECK(*parse_size("64k") == 65536);
  CHECK(*parse_size("16KiB") == 16384);
  CHECK(*parse_size("1M") == 1048576);
  CHECK(*parse_size("1.5M") == 1572864);
  CHECK(*parse_size("2G") == 2147483648ULL);
  CHECK(*parse_size("1T") == 1099511627776ULL);
  CHECK(*parse_size("10MB") == 10485760);
}

TEST_CASE("parse_size rejects junk with a message naming the value") {
  for (const char* bad : {"", "K", "12X", "-1", "1.5", "1..5M", "1 M", "0x10", "99999999999T"}) {
    auto r = parse_size(bad);
    CHECK_FALSE(r.ok());
    if (!r.ok()) {
      CHECK(r.error().kind == ErrorKind::Usage);
      CHECK(r.error().message.find(std::string("'") + bad + "'") != std::string::npos);
    }
  }
}

TEST_CASE("parse_duration") {
  CHECK(*parse_duration("250ms") == 250ms);
  CHECK(*parse_duration("2s") == 2s);
  CHECK(*parse_duration("5") == 5s);
  CHECK(*parse_duration("1.5") == 1500ms);
  CHECK(*parse_duration("1m") == 60s);
  CHECK(*parse_duration("100us") == 100us);
  CHECK(*parse_duration("0") == 0s);
  for (const char* bad : {"", "s", "2x", "-1", "1e3", "ms5"}) CHECK_FALSE(parse_duration(bad).ok());
}

TEST_CASE("parse_rate: bytes per second and SI bit rates") {
  CHECK(*parse_rate("10M") == 10485760);
  CHECK(*parse_rate("100Mbit") == 12500000);
  CHECK(*parse_rate("1Gbit") == 125000000);
  CHECK(*parse_rate("8bit") == 1);
  CHECK(*parse_rate("1gbps") == 125000000);
  for (const char* bad : {"", "0", "fast", "10Mbitz", "1bit"}) CHECK_FALSE(parse_rate(bad).ok());
}

TEST_CASE("parse_port") {
  CHECK(*parse_port("1") == 1);
  CHECK(*parse_port("65535") == 65535);
  CHECK_FALSE(parse_port("0").ok());
  CHECK(*parse_port("0", true) == 0);
  for (const char* bad : {"", "65536", "-1", "http", "80a", " 80"}) CHECK_FALSE(parse_port(bad).ok());
}

TEST_CASE("parse_port_list keeps order and drops duplicates") {
  auto r = parse_port_list("22,80,8000-8003,80");
  REQUIRE(r.ok());
  CHECK(*r == std::vector<uint16_t>{22, 80, 8000, 8001, 8002, 8003});
  CHECK(parse_port_list("1-65535")->size() == 65535);
  for (const char* bad : {"", ",", "22,", "0", "10-5", "1-70000", "a-b", "22;80"}) {
    CHECK_MESSAGE(!parse_port_list(bad).ok(), bad);
  }
}

namespace {
// A fixed services table, so the test does not depend on /etc/services.
uint16_t fake_services(std::string_view name) {
  if (name == "http") return 80;
  if (name == "ssh") return 22;
  if (name == "http-alt") return 8080;
  return 0;
}
}  // namespace

TEST_CASE("parse_port and parse_port_list take service names when given a lookup") {
  CHECK(*parse_port("http", false, fake_services) == 80);
  CHECK(*parse_port("8080", false, fake_services) == 8080);
  CHECK_FALSE(parse_port("0", false, fake_services).ok());  // a number is never looked up
  auto bad = parse_port("htp", false, fake_services);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("service name") != std::string::npos);
  auto list = parse_port_list("ssh,http-alt,8000-8001,22", fake_services);
  REQUIRE(list.ok());
  CHECK(*list == std::vector<uint16_t>{22, 8080, 8000, 8001});
  CHECK_FALSE(parse_port_list("ssh,nosuch", fake_services).ok());
  CHECK_FALSE(parse_port_list("ssh").ok());  // without a lookup: numbers only
}

TEST_CASE("split_host_port: HOST:PORT and [V6]:PORT, nothing else") {
  auto hp = split_host_port("127.0.0.1:9000");
  REQUIRE(hp);
  CHECK(hp->host == "127.0.0.1");
  CHECK(hp->port == "9000");
  hp = split_host_port("[::1]:9000");
  REQUIRE(hp);
  CHECK(hp->host == "::1");
  CHECK(hp->port == "9000");
  hp = split_host_port("[fe80::1%lo]:http");
  REQUIRE(hp);
  CHECK(hp->host == "fe80::1%lo");
  CHECK(hp->port == "http");
  CHECK(split_host_port("example.com:https")->host == "example.com");
  for (const char* no : {"::1", "fe80::1", "[::1]", "127.0.0.1", "localhost", ":80", "host:", "[]:80", "[::1]80",
                         "[::1]:", "a:b:c", ""}) {
    CHECK_MESSAGE(!split_host_port(no), no);
  }
}

TEST_CASE("parse_count bounds") {
  CHECK(*parse_count("0", 0, 10) == 0);
  CHECK(*parse_count("10", 0, 10) == 10);
  CHECK_FALSE(parse_count("11", 0, 10).ok());
  CHECK_FALSE(parse_count("-1", 0, 10).ok());
  CHECK_FALSE(parse_count("x", 0, 10).ok());
}

TEST_CASE("parse_cidr and cidr_contains") {
  auto lo = parse_cidr("127.0.0.0/8");
  REQUIRE(lo.ok());
  unsigned char a4[4];
  inet_pton(AF_INET, "127.1.2.3", a4);
  CHECK(cidr_contains(*lo, AF_INET, a4));
  inet_pton(AF_INET, "10.0.0.1", a4);
  CHECK_FALSE(cidr_contains(*lo, AF_INET, a4));

  unsigned char a6[16];
  inet_pton(AF_INET6, "::ffff:127.0.0.1", a6);
  CHECK(cidr_contains(*lo, AF_INET6, a6));  // IPv4-mapped matches IPv4 blocks
  inet_pton(AF_INET6, "::1", a6);
  CHECK_FALSE(cidr_contains(*lo, AF_INET6, a6));
  CHECK(cidr_contains(*parse_cidr("::1"), AF_INET6, a6));
  CHECK(cidr_contains(*parse_cidr("[::]/0"), AF_INET6, a6));

  auto odd = parse_cidr("192.168.1.77/25");
  REQUIRE(odd.ok());
  inet_pton(AF_INET, "192.168.1.1", a4);
  CHECK(cidr_contains(*odd, AF_INET, a4));
  inet_pton(AF_INET, "192.168.1.200", a4);
  CHECK_FALSE(cidr_contains(*odd, AF_INET, a4));

  for (const char* bad : {"", "/8", "1.2.3.4/33", "::1/129", "localhost", "1.2.3.4/x", "1.2.3/8"}) {
    CHECK_MESSAGE(!parse_cidr(bad).ok(), bad);
  }
}

TEST_CASE("counted: one noun, or the plural") {
  CHECK(counted(0, "connection") == "0 connections");
  CHECK(counted(1, "connection") == "1 connection");
  CHECK(counted(2, "connection") == "2 connections");
}

TEST_CASE("human units") {
  CHECK(human_bytes(100) == "100 B");
  CHECK(human_bytes(1536) == "1.50 KiB");
  CHECK(human_bytes(8388608) == "8 MiB");
  CHECK(sized(65536) == "65536 (64 KiB)");
  CHECK(sized(0) == "0 (0 B)");
  CHECK(sized(-1) == "?");
  CHECK(human_bits_per_second(125000000) == "1.00 Gbit/s");
  CHECK(human_duration(0.000123) == "123us");
  CHECK(human_duration(1.5) == "1.50s");
}
