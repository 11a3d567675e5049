// The backlog rules fed made-up listeners and counters: fill, clamp, notes,
// the --watch deltas, every --check failure, and what each sysctl means.
#include "core/backlogrules.h"

#include <sys/socket.h>

#include <doctest/doctest.h>

using namespace sp;

namespace {

ListenerRow tcp_listener(uint32_t queue, uint32_t max, uint64_t cookie = 1) {
  ListenerRow r;
  r.sock.transport = Transport::Tcp;
  r.sock.family = AF_INET;
  r.sock.state = kStateListen;
  r.sock.local_address = "127.0.0.1";
  r.sock.local_port = 8080;
  r.sock.recv_q = queue;
  r.sock.send_q = max;
  r.sock.cookie = cookie;
  return r;
}

ListenerRow unix_listener(const std::string& name) {
  ListenerRow r;
  r.sock.transport = Transport::Unix;
  r.sock.family = AF_UNIX;
  r.sock.type = SOCK_STREAM;
  r.sock.local_address = name;
  r.sock.send_q = 4;
  return r;
}

SkMem drops(uint32_t d) {
  SkMem m;
  m.drops = d;
  return m;
}

}  // namespace

TEST_CASE("fill: Linux holds max + 1, so a queue of max + 1 is 100 %") {
  CHECK(fill_pct(tcp_listener(0, 128).sock) == 0);
  CHECK(fill_pct(tcp_listener(5, 4).sock) == 100);
  CHECK(fill_pct(tcp_listener(2, 3).sock) == 50);
  CHECK(clamped(tcp_listener(0, 4096).sock, 4096));
  CHECK_FALSE(clamped(tcp_listener(0, 511).sock, 4096));
  CHECK_FALSE(clamped(tcp_listener(0, 4096).sock, std::nullopt));  // somaxconn unreadable
}

TEST_CASE("notes: full, filling up, clamped; joined with '; '") {
  CHECK(accept_notes(tcp_listener(0, 128).sock, 4096, 80).empty());
  CHECK(accept_notes(tcp_listener(5, 4).sock, 4096, 80) == std::vector<std::string>{"FULL: new SYNs are dropped"});
  CHECK(accept_notes(tcp_listener(9, 10).sock, 4096, 80) == std::vector<std::string>{"filling up"});
  auto both = accept_notes(tcp_listener(5, 4).sock, 4, 80);
  CHECK(join_notes(both) == "FULL: new SYNs are dropped; max = somaxconn: probably clamped");
  CHECK(join_notes({}) == "");
}

TEST_CASE("SYN queue notes: full with cookies or drops, the last quarter, a reuseport group") {
  SynQueue q;
  q.syn_recv = 4;
  using Notes = std::vector<std::string>;
  CHECK(syn_queue_notes(q, syn_limit(3, 1, 2048)) == Notes{"SYN queue full: new SYNs get SYN cookies"});
  CHECK(syn_queue_notes(q, syn_limit(3, 0, 2048)) == Notes{"SYN queue full: new SYNs are dropped"});
  CHECK(syn_queue_notes(q, syn_limit(3, 2, 2048)).empty());  // cookies always: no queue kept
  q.syn_recv = 2;
  CHECK(syn_queue_notes(q, syn_limit(3, 1, 2048)).empty());
  q.syn_recv = 4;  // tcp_max_syn_backlog 4, tcp_syncookies 0: the 4th is past 3/4 of it
  auto quarter = syn_queue_notes(q, syn_limit(100, 0, 4));
  REQUIRE(quarter.size() == 1);
  CHECK(quarter[0].find("3/4 of tcp_max_syn_backlog") != std::string::npos);
  q.group_size = 2;
  q.syn_recv = 0;
  auto group = syn_queue_notes(q, syn_limit(3, 1, 2048));
  REQUIRE(group.size() == 1);
  CHECK(group[0].starts_with("SO_REUSEPORT group of 2"));
}

TEST_CASE("where a listener is, and an unnamed or hostile Unix name") {
  CHECK(listener_where(tcp_listener(0, 1).sock) == "127.0.0.1 port 8080");
  CHECK(listener_address(unix_listener("").sock) == "(unnamed)");
  CHECK(listener_where(unix_listener("@evil\x1b[2J").sock) == "@evil\\033[2J");
}

TEST_CASE("tally: clamped, above the threshold, owner hidden") {
  std::vector<ListenerRow> rows = {tcp_listener(5, 4, 1), tcp_listener(0, 4096, 2), tcp_listener(0, 10, 3)};
  rows[2].owner = SocketOwner{42, "nginx"};
  ListenerTally t = tally(rows, 4096, 80);
  CHECK(t.above == 1);
  CHECK(t.clamped == 1);
  CHECK(t.hidden == 2);
}

TEST_CASE("sysctl meanings follow the value") {
  CHECK(backlog_sysctl_meaning("net.core.somaxconn", 4096).find("clamped") != std::string::npos);
  CHECK(backlog_sysctl_meaning("net.ipv4.tcp_syncookies", 0).starts_with("0: no SYN cookies"));
  CHECK(backlog_sysctl_meaning("net.ipv4.tcp_syncookies", 1).starts_with("1:"));
  CHECK(backlog_sysctl_meaning("net.ipv4.tcp_syncookies", 2).starts_with("2:"));
  CHECK(backlog_sysctl_meaning("net.ipv4.tcp_abort_on_overflow", 1).find("RST") != std::string::npos);
  CHECK(backlog_sysctl_meaning("net.ipv4.tcp_abort_on_overflow", 0).find("retries") != std::string::npos);
}

TEST_CASE("counter changes: only the ones that moved, TCPBacklogDrop apart") {
  auto changes = [](const Counters& d) { return counter_changes_text(counter_fields(d, true)); };
  CHECK(changes({{"ListenOverflows", 0}}) == "  no listen counter changed");
  CHECK(changes({{"ListenOverflows", 3}, {"ListenDrops", 3}}) == "  ListenOverflows +3  ListenDrops +3");
  CHECK(changes({{"TCPBacklogDrop", 2}}) == "  (TCPBacklogDrop +2: per-socket receive backlog)");
}

TEST_CASE("counter fields: every listen counter once, TCPBacklogDrop last, missing ones null and n/a") {
  FieldRow f = counter_fields({{"ListenOverflows", 4}, {"TCPBacklogDrop", 1}}, false);
  auto j = f.to_json();
  size_t n = listen_counter_names().size();
  CHECK(j.size() == n + 2);  // the counters, TCPBacklogDrop, delta
  CHECK(j["ListenOverflows"] == 4);
  CHECK(j["ListenDrops"].is_null());
  CHECK(j["delta"] == false);
  CHECK(f.fields()[n].key == "TCPBacklogDrop");
  CHECK(f.cells({"ListenOverflows", "ListenDrops", "TCPBacklogDrop"}) == std::vector<std::string>{"4", "n/a", "1"});
  FieldRow d = counter_fields({{"ListenOverflows", 4}}, true);
  CHECK(d.cells({"ListenOverflows"}) == std::vector<std::string>{"+4"});
  CHECK(d.to_json()["delta"] == true);
}

TEST_CASE("deltas: by cookie; a new listener has no drops delta") {
  std::vector<ListenerRow> prev = {tcp_listener(1, 10, 7)};
  prev[0].sock.skmem = drops(2);
  prev[0].syn.syn_recv = 1;
  std::vector<ListenerRow> now = {tcp_listener(4, 10, 7), tcp_listener(0, 10, 8)};
  now[0].sock.skmem = drops(5);
  now[0].syn.syn_recv = 3;
  auto ds = listener_deltas(prev, now);
  REQUIRE(ds.size() == 2);
  CHECK(ds[0].queue_delta == 3);
  CHECK(ds[0].drops_delta == 3);
  CHECK(ds[0].syn_delta == 2);
  CHECK(ds[1].drops_delta == std::nullopt);
  CHECK(moved(ds[0]));
  CHECK(moved(ds[1]));  // new
  auto same = listener_deltas(now, now);
  CHECK_FALSE(moved(same[1]));
}

TEST_CASE("check: nothing selected fails, then fill, drops and overflow counters") {
  BacklogCheck c;
  CHECK(fill_failures({}, c) == std::vector<std::string>{"no listener to check"});
  c.port = 9999;
  c.pid = 12;
  CHECK(fill_failures({}, c) == std::vector<std::string>{"no listener matches --port 9999 --pid 12"});
  c = BacklogCheck{};
  std::vector<ListenerRow> rows = {tcp_listener(5, 4), tcp_listener(1, 10)};
  CHECK(fill_failures(rows, c) ==
        std::vector<std::string>{"127.0.0.1 port 8080 accept queue 5/4 is 100% full (above 80%)"});
  std::vector<ListenerRow> prev = {tcp_listener(0, 4)};
  prev[0].sock.skmem = drops(1);
  rows[0].sock.skmem = drops(4);
  auto ds = listener_deltas(prev, rows);
  Counters d{{"ListenOverflows", 2}, {"ListenDrops", 0}};
  CHECK(overflow_failures(c, d, ds).empty());  // neither flag
  c.fail_on_overflow = true;
  CHECK(overflow_failures(c, d, ds) == std::vector<std::string>{"ListenOverflows grew by 2"});
  c.port = 8080;  // with a selection: the listener's own drops
  CHECK(overflow_failures(c, d, ds) == std::vector<std::string>{"127.0.0.1 port 8080: 3 drops this interval"});
  CHECK(check_failed_text({"a", "b", "c"}) == "check failed: a (and 2 more)");
  CHECK(check_passed_text(c) == "Check passed: no selected listener above 80% full and no overflow.");
}
