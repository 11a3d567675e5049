// Decoding `backlog trace` ring-buffer records and the end-of-trace tally.
// The first record holds the fields of a real event of the truth test
// (tests/e2e/backlog_trace.bats on 6.18: listener 127.0.0.1:34625 with
// backlog 1, client port 40102, accept queue 2/1, its first drop), packed
// as the kernel packs them, with a made-up time stamp; the others are built
// from the shared layout (src/bpf/backlog_trace.h).
#include "core/trace_events.h"

#include <arpa/inet.h>

#include <cstring>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "bpf/backlog_trace.h"

using namespace sp;

namespace {

std::vector<unsigned char> from_hex(const std::string& hex) {
  std::vector<unsigned char> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<unsigned char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

const char* const kRealV4 =
    "cb04fb711f01000001000000020002007f000001000000000000000000000000"
    "7f0000010000000000000000000000004187a69c020000000100000000000000"
    "0100000000000000";

sp_trace_event v6_event(uint32_t reason, uint16_t client_family) {
  sp_trace_event e = {};
  e.time_ns = 5;
  e.reason = reason;
  e.family = client_family;
  e.listener_family = AF_INET6;  // a dual-stack wildcard listener: "::"
  e.listener_port = 8080;
  e.client_port = 50000;
  if (client_family == AF_INET6) {
    inet_pton(AF_INET6, "2001:db8::7", e.client_addr);
  } else {
    inet_pton(AF_INET, "192.0.2.9", e.client_addr);
  }
  e.queue = 129;
  e.max = 128;
  return e;
}

Result<TraceRecord> decode(const sp_trace_event& e) {
  std::vector<unsigned char> raw(sizeof e);
  std::memcpy(raw.data(), &e, sizeof e);
  return decode_trace_event(raw);
}

TraceRecord record(DropReason reason, const char* client, uint16_t cport, uint16_t lport) {
  sp_trace_event e = {};
  e.reason = static_cast<uint32_t>(reason) + SP_REASON_ACCEPT_QUEUE_FULL;
  e.family = e.listener_family = AF_INET;
  inet_pton(AF_INET, client, e.client_addr);
  e.client_port = cport;
  e.listener_port = lport;
  auto r = decode(e);
  REQUIRE(r.ok());
  return *r;
}

}  // namespace

TEST_CASE("trace event: a real IPv4 accept_queue_full record") {
  auto r = decode_trace_event(from_hex(kRealV4));
  REQUIRE(r.ok());
  CHECK(r->time_ns == 1234567890123ULL);
  CHECK(r->reason == DropReason::AcceptQueueFull);
  CHECK(format_endpoint(r->listener) == "127.0.0.1:34625");
  CHECK(format_endpoint(r->client) == "127.0.0.1:40102");
  CHECK(r->queue == 2);
  CHECK(r->max == 1);
  CHECK(r->syn_queue == 0);
  CHECK(r->drops == 1);
}

TEST_CASE("trace event: IPv6 client, and an IPv4 client of a dual-stack listener") {
  auto r6 = decode(v6_event(SP_REASON_ACK_DROPPED, AF_INET6));
  REQUIRE(r6.ok());
  CHECK(r6->reason == DropReason::AckDropped);
  CHECK(format_endpoint(r6->listener) == "[::]:8080");
  CHECK(format_endpoint(r6->client) == "[2001:db8::7]:50000");
  auto r4 = decode(v6_event(SP_REASON_SYNCOOKIE, AF_INET));
  REQUIRE(r4.ok());
  CHECK(r4->reason == DropReason::Syncookie);
  CHECK(format_endpoint(r4->client) == "192.0.2.9:50000");
  CHECK(r4->queue == 129);
}

TEST_CASE("trace event: short, unknown reason and bad family are errors") {
  auto raw = from_hex(kRealV4);
  raw.pop_back();
  auto shortr = decode_trace_event(raw);
  REQUIRE_FALSE(shortr.ok());
  CHECK(shortr.error().message.find("71 bytes") != std::string::npos);
  CHECK_FALSE(decode(v6_event(0, AF_INET6)).ok());
  CHECK_FALSE(decode(v6_event(SP_REASON_SYN_DROPPED + 1, AF_INET6)).ok());
  auto fam = decode(v6_event(SP_REASON_ACK_DROPPED, 1));
  REQUIRE_FALSE(fam.ok());
  CHECK(fam.error().message.find("client address family 1") != std::string::npos);
}

TEST_CASE("reason names are the documented ones") {
  std::vector<std::string> names;
  for (DropReason r : all_reasons()) names.push_back(reason_name(r));
  CHECK(names == std::vector<std::string>{"accept_queue_full", "syn_queue_full", "ack_dropped", "syncookie",
                                          "syn_dropped"});
}

TEST_CASE("tally: per listener and reason, busiest first; top clients by address") {
  TraceTally t;
  t.add(record(DropReason::AcceptQueueFull, "10.0.0.2", 40001, 80));
  t.add(record(DropReason::AcceptQueueFull, "10.0.0.2", 40001, 443));  // a resent SYN: same port
  t.add(record(DropReason::AckDropped, "10.0.0.2", 40002, 443));
  t.add(record(DropReason::AcceptQueueFull, "10.0.0.3", 40003, 443));
  CHECK(t.total() == 4);
  auto ls = t.listeners();
  REQUIRE(ls.size() == 2);
  CHECK(endpoint_port(ls[0].listener) == 443);
  CHECK(ls[0].total == 3);
  CHECK(ls[0].by_reason[DropReason::AcceptQueueFull] == 2);
  CHECK(ls[0].by_reason[DropReason::AckDropped] == 1);
  CHECK(endpoint_port(ls[1].listener) == 80);
  auto cs = t.top_clients(10);
  REQUIRE(cs.size() == 2);
  CHECK(cs[0].address == "10.0.0.2");
  CHECK(cs[0].events == 3);
  CHECK(cs[0].ports == 2);
  CHECK(cs[1].address == "10.0.0.3");
  CHECK(t.top_clients(1).size() == 1);
}

TEST_CASE("CapEff from /proc/self/status, and what it allows") {
  std::string root = "Name:\tsockprobe\nCapInh:\t0000000000000000\nCapPrm:\t000001fffeffffff\n"
                     "CapEff:\t000001fffeffffff\nCapBnd:\t000001fffeffffff\n";
  auto caps = parse_cap_eff(root);
  REQUIRE(caps);
  CHECK(*caps == 0x1fffeffffffULL);
  CHECK(caps_allow_tracing(*caps));
  auto nobody = parse_cap_eff("CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n");
  REQUIRE(nobody);
  CHECK_FALSE(caps_allow_tracing(*nobody));
  CHECK(caps_allow_tracing((1ULL << 38) | (1ULL << 39)));  // CAP_PERFMON + CAP_BPF
  CHECK_FALSE(caps_allow_tracing(1ULL << 39));              // CAP_BPF alone cannot attach tracepoints
  CHECK_FALSE(parse_cap_eff("Name:\tx\n"));
  CHECK_FALSE(parse_cap_eff("CapEff:\tzz\n"));
  CHECK_FALSE(parse_cap_eff("XCapEff:\t0\n"));
}
