// Why: the buffer rules must hold for kernels we are not running on, so they
// are fed limits captured from other systems (tests/data/buffers/<kernel>/)
// and checked against the numbers measured on those kernels.
#include "core/bufrules.h"

#include <climits>
#include <string>

#include <doctest/doctest.h>

#include "core/test_data.h"

using namespace sp;
using namespace std::chrono_literals;

namespace {

BufferLimits fixture(const char* name) {
  return read_buffer_limits(ProcFs(test_data_dir() + "/buffers/" + name));
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("read_buffer_limits reads every sysctl by name") {
  BufferLimits lim = fixture("linux-6.18");
  CHECK(lim.sysctls.size() == buffer_sysctl_names().size());
  CHECK(lim.get("net.core.rmem_max") == 4194304);
  CHECK(lim.get("net.ipv4.tcp_rmem", 0) == 4096);
  CHECK(lim.get("net.ipv4.tcp_rmem", 2) == 33554432);
  CHECK(lim.get("net.ipv4.tcp_rmem", 3) == std::nullopt);
  CHECK(lim.get("net.unix.max_dgram_qlen") == 10);
  for (auto name : buffer_sysctl_names()) CHECK_FALSE(sysctl_meaning(name).empty());
}

TEST_CASE("missing and junk sysctls are unavailable, not fatal") {
  BufferLimits lim = fixture("container");
  CHECK(lim.get("net.core.rmem_max") == std::nullopt);
  CHECK(lim.get("net.ipv4.udp_rmem_min") == std::nullopt);
  CHECK(lim.get("net.ipv4.tcp_rmem", 1) == 262144);
  for (const auto& s : lim.sysctls) {
    if (s.name == "net.unix.max_dgram_qlen") CHECK(contains(s.error, "max_dgram_qlen"));
    if (s.name == "net.ipv4.udp_rmem_min") CHECK(contains(s.error, "garbage"));
  }
}

TEST_CASE("fresh sockets: TCP from tcp_*mem[1], the rest from *mem_default") {
  BufferLimits lim = fixture("linux-6.18");
  CHECK(fresh_default(SockKind::Tcp4, BufDir::Receive, lim).value == 131072);
  CHECK(fresh_default(SockKind::Tcp6, BufDir::Send, lim).value == 16384);
  CHECK(fresh_default(SockKind::Udp4, BufDir::Receive, lim).value == 212992);
  CHECK(fresh_default(SockKind::UnixDgram, BufDir::Send, lim).source == "net.core.wmem_default");
  CHECK(contains(explain_fresh(SockKind::Tcp4, BufDir::Receive, lim, 131072), "up to tcp_rmem[2] = 32 MiB"));
  CHECK(contains(explain_fresh(SockKind::Udp6, BufDir::Send, lim, 212992), "= wmem_default"));
  CHECK(contains(explain_fresh(SockKind::Udp6, BufDir::Send, lim, 4242), "expected wmem_default = 212992, got 4242"));
  BufferLimits box = fixture("container");
  CHECK(contains(explain_fresh(SockKind::Tcp4, BufDir::Receive, box, 262144), "autotuning is off"));
  CHECK(contains(explain_fresh(SockKind::Udp4, BufDir::Receive, box, 212992), "unavailable"));
}

TEST_CASE("setsockopt rule: clamp, double, raise (numbers measured on 6.18)") {
  BufferLimits lim = fixture("linux-6.18");
  KernelMinima min;
  auto eff = [&](BufDir d, uint64_t req, bool force = false) {
    return predict_set(d, req, force, lim, min).effective.value_or(-1);
  };
  CHECK(eff(BufDir::Receive, 4000) == 8000);
  CHECK(eff(BufDir::Send, 4000) == 8000);
  CHECK(eff(BufDir::Send, 1) == 4608);
  CHECK(eff(BufDir::Receive, 1) == 2304);
  CHECK(eff(BufDir::Receive, 0) == 2304);
  CHECK(eff(BufDir::Receive, 2000) == 4000);
  CHECK(eff(BufDir::Send, 2000) == 4608);
  CHECK(eff(BufDir::Receive, 65536) == 131072);
  CHECK(eff(BufDir::Receive, 100ULL << 20) == 8388608);
  CHECK(eff(BufDir::Receive, 16ULL << 40) == 8388608);       // beyond INT_MAX: capped, then clamped
  CHECK(eff(BufDir::Receive, 100ULL << 20, true) == 209715200);  // FORCE skips the clamp
  CHECK(eff(BufDir::Send, INT_MAX, true) == 2147483646);          // INT_MAX/2 x 2
  CHECK(eff(BufDir::Send, 1, true) == 4608);
}

TEST_CASE("setsockopt rule with the older 212992 limits") {
  BufferLimits lim = fixture("linux-6.1");
  SetPrediction p = predict_set(BufDir::Receive, 16ULL << 20, false, lim, KernelMinima{});
  CHECK(p.clamped);
  CHECK(p.effective == 425984);
  CHECK(contains(explain_set(BufDir::Receive, p, 425984), "clamped to rmem_max = 212992"));
  CHECK(contains(explain_set(BufDir::Receive, p, 425984), "2 x 212992 = 425984"));
  CHECK(contains(explain_set(BufDir::Receive, p, 1), "kernel says 1"));
}

TEST_CASE("explanations name the rule that applied") {
  BufferLimits lim = fixture("linux-6.18");
  KernelMinima min{4608, 2304};
  auto why = [&](BufDir d, uint64_t req, bool force, int64_t got) {
    return explain_set(d, predict_set(d, req, force, lim, min), got);
  };
  CHECK(contains(why(BufDir::Receive, 4000, false, 8000), "doubled for bookkeeping"));
  CHECK_FALSE(contains(why(BufDir::Receive, 4000, false, 8000), "differs"));
  CHECK(contains(why(BufDir::Send, 1, false, 4608), "raised to the kernel minimum 4608"));
  CHECK(contains(why(BufDir::Receive, 100ULL << 20, true, 209715200), "SO_RCVBUFFORCE skips the max clamp"));
  CHECK(contains(why(BufDir::Receive, 16ULL << 40, false, 8388608), "capped at INT_MAX"));
  BufferLimits box = fixture("container");
  SetPrediction unknown = predict_set(BufDir::Send, 4000, false, box, min);
  CHECK_FALSE(unknown.effective.has_value());
  CHECK(contains(explain_set(BufDir::Send, unknown, 8000), "wmem_max unavailable"));
}

TEST_CASE("tcp_lock_note: autotuning stops, and it may have been bigger") {
  BufferLimits lim = fixture("linux-6.18");
  CHECK(tcp_lock_note(SockKind::Udp4, BufDir::Receive, lim, 8000).empty());
  std::string n = tcp_lock_note(SockKind::Tcp4, BufDir::Receive, lim, 8388608);
  CHECK(contains(n, "before connect()/listen()"));
  CHECK(contains(n, "could have grown it to tcp_rmem[2] = 32 MiB"));
  CHECK(contains(tcp_lock_note(SockKind::Tcp6, BufDir::Send, lim, 8000), "SO_SNDBUF locks it"));
}

TEST_CASE("bdp: 10 Gbit/s over 50 ms needs sysctl changes on 6.18") {
  BufferLimits lim = fixture("linux-6.18");
  auto a = bdp_advice(1250000000, 50ms, lim);
  REQUIRE(a.ok());
  CHECK(a->bdp == 62500000);
  CHECK(a->buffer == 125000000);
  CHECK(a->request == 62500000);
  REQUIRE(a->sysctl_lines.size() == 4);
  CHECK(a->sysctl_lines[0] == "sysctl -w net.ipv4.tcp_rmem=\"4096 131072 125000000\"");
  CHECK(a->sysctl_lines[1] == "sysctl -w net.ipv4.tcp_wmem=\"4096 16384 125000000\"");
  CHECK(a->sysctl_lines[2] == "sysctl -w net.core.rmem_max=62500000");
  CHECK(a->sysctl_lines[3] == "sysctl -w net.core.wmem_max=62500000");
  // tcp_wmem[2] = 4 MiB caps one flow at 2 MiB in flight: 40 MiB/s over 50 ms.
  REQUIRE(a->autotune_ceiling.has_value());
  CHECK(*a->autotune_ceiling == doctest::Approx(2097152 / 0.05));
}

TEST_CASE("bdp: small pipes fit; some limits fail alone") {
  BufferLimits lim = fixture("linux-6.18");
  auto small = bdp_advice(12500000, 10ms, lim);  // 100 Mbit/s, 10 ms
  REQUIRE(small.ok());
  CHECK(small->bdp == 125000);
  CHECK(small->sysctl_lines.empty());
  for (const auto& c : small->checks) CHECK(c.ok());
  auto gig = bdp_advice(125000000, 20ms, lim);  // 1 Gbit/s, 20 ms
  REQUIRE(gig.ok());
  CHECK(gig->bdp == 2500000);
  REQUIRE(gig->sysctl_lines.size() == 1);
  CHECK(gig->sysctl_lines[0] == "sysctl -w net.ipv4.tcp_wmem=\"4096 16384 5000000\"");
  auto old = bdp_advice(125000000, 20ms, fixture("linux-6.1"));
  REQUIRE(old.ok());
  CHECK(old->sysctl_lines.size() == 3);  // tcp_rmem 6 MiB is enough, the rest not
}

TEST_CASE("bdp: rounding, impossible pipes, bad input") {
  BufferLimits lim = fixture("linux-6.18");
  CHECK(bdp_advice(3, 500ms, lim)->bdp == 2);
  auto huge = bdp_advice(12500000000ULL, 1s, lim);  // 100 Gbit/s over 1 s
  REQUIRE(huge.ok());
  CHECK_FALSE(huge->possible);
  CHECK(huge->sysctl_lines.empty());
  auto zero_rtt = bdp_advice(1000, 0ms, lim);
  REQUIRE_FALSE(zero_rtt.ok());
  CHECK(zero_rtt.error().kind == ErrorKind::Usage);
  CHECK(contains(zero_rtt.error().message, "--rtt"));
  CHECK_FALSE(bdp_advice(0, 1s, lim).ok());
  auto box = bdp_advice(12500000, 10ms, fixture("container"));  // rmem_max, wmem_max unknown
  REQUIRE(box.ok());
  CHECK_FALSE(box->checks[2].ok());
  CHECK(box->sysctl_lines.empty());  // not known to be short: no advice to change them
}

TEST_CASE("udp_buffer_counters: by name from snmp and snmp6, missing ones nullopt") {
  ProcFs host(test_data_dir() + "/buffers/linux-6.18");
  auto now = udp_buffer_counters(*host.read("net/snmp"), *host.read("net/snmp6"));
  REQUIRE(now.size() == 6);
  CHECK(now[0].name == "UdpRcvbufErrors");
  CHECK(now[0].value == 0);
  CHECK(now[3].name == "Udp6RcvbufErrors");
  CHECK(now[3].value == 0);
  ProcFs old(test_data_dir() + "/buffers/old-3.10");
  CHECK_FALSE(old.read("net/snmp6").ok());
  auto then = udp_buffer_counters(*old.read("net/snmp"), "");
  CHECK(then[0].value == 5);  // RcvbufErrors, not UdpLite's
  CHECK(then[1].value == 1);
  CHECK(then[2].value == 7);
  CHECK(then[3].value == std::nullopt);
  for (const auto& c : then) CHECK_FALSE(udp_counter_meaning(c.name).empty());
  std::vector<NamedCounter> later = then;
  later[0].value = 12;
  auto d = counter_changes(then, later);
  CHECK(d[0].value == 7);
  CHECK(d[1].value == 0);
  CHECK(d[3].value == std::nullopt);
}

TEST_CASE("udp_counter_fields: one field per counter for the event and the lines") {
  std::vector<NamedCounter> c = {{"UdpRcvbufErrors", 5}, {"Udp6InErrors", std::nullopt}};
  FieldRow totals = udp_counter_fields(c, std::nullopt);
  CHECK(totals.to_json().dump() ==
        R"({"protocol":"udp","delta":false,"UdpRcvbufErrors":5,"Udp6InErrors":null})");
  CHECK(totals.cells({"UdpRcvbufErrors", "Udp6InErrors"}) == std::vector<std::string>{"5", "n/a"});
  FieldRow round = udp_counter_fields({{"UdpRcvbufErrors", 3}, {"UdpInErrors", 0}}, 1.5);
  CHECK(round.to_json().dump() ==
        R"({"protocol":"udp","delta":true,"interval":1.5,"UdpRcvbufErrors":3,"UdpInErrors":0})");
  CHECK(round.cells({"UdpRcvbufErrors", "UdpInErrors"}) == std::vector<std::string>{"+3", "+0"});
}

TEST_CASE("live_notes: drops, full queues, rb/tb against the defaults") {
  BufferLimits lim = fixture("linux-6.18");
  SockInfo s;
  s.transport = Transport::Tcp;
  s.family = AF_INET;
  s.state = kStateEstablished;
  CHECK(contains(live_notes(s, lim).at(0), "SKMEMINFO missing"));
  s.state = kStateTimeWait;
  CHECK(live_notes(s, lim).empty());
  s.state = kStateEstablished;
  SkMem m;
  m.rcvbuf = 131072;
  m.sndbuf = 16384;
  s.skmem = m;
  CHECK(live_notes(s, lim).empty());
  m.rcvbuf = 65536;
  m.rmem_alloc = 60000;
  m.drops = 3;
  m.sndbuf = 4194304;
  s.skmem = m;
  auto notes = live_notes(s, lim);
  REQUIRE(notes.size() == 4);
  CHECK(contains(notes[0], "d=3"));
  CHECK(contains(notes[1], "92% of rb"));
  CHECK(contains(notes[2], "rb 65536 is below the default 131072: probably set with SO_RCVBUF"));
  CHECK(contains(notes[3], "tb grew past the default 16384"));
  SockInfo u;
  u.transport = Transport::Udp;
  u.family = AF_INET6;
  u.skmem = SkMem{0, 8192, 0, 212992, 0, 0, 0, 0, 0};
  auto un = live_notes(u, lim);
  REQUIRE(un.size() == 1);
  CHECK(contains(un[0], "rb 8192 differs from the default 212992"));
}

TEST_CASE("note_shape: numbers out, words kept") {
  CHECK(note_shape("d=3: packets dropped") == "d=#: packets dropped");
  CHECK(note_shape("d=3: packets dropped") == note_shape("d=1200: packets dropped"));
  CHECK(note_shape("receive queue r=60000 is 92% of rb") == "receive queue r=# is #% of rb");
  CHECK(note_shape("rb grew past the default 16384") != note_shape("tb grew past the default 16384"));
  CHECK(note_shape("") == "");
}
