// The burst statistics are pure, so they are checked on made-up samples:
// percentiles, the SYN retransmission schedule, histogram buckets, the
// clusters that point at retransmitted SYNs and their call-out ("1
// connection"); the fd budget and the EADDRNOTAVAIL note likewise. One
// real burst on loopback under a lowered RLIMIT_NOFILE shows EMFILE backing
// off instead of failing connections.
#include "core/burst.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>

#include <doctest/doctest.h>

#include "core/fd.h"

using namespace sp;

TEST_CASE("percentile: nearest rank") {
  std::vector<double> v = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  CHECK(percentile(v, 50) == 5);
  CHECK(percentile(v, 90) == 9);
  CHECK(percentile(v, 99) == 10);
  CHECK(percentile(v, 100) == 10);
  CHECK(percentile({}, 50) == 0);
  CHECK(percentile({0.25}, 99) == 0.25);
}

TEST_CASE("SYN retransmission schedule: exponential, or linear first") {
  CHECK(syn_retransmit_times(0, 4) == std::vector<double>{1, 3, 7, 15});
  CHECK(syn_retransmit_times(4, 7) == std::vector<double>{1, 2, 3, 4, 5, 7, 11});
  CHECK(syn_retransmit_times(0, 0).empty());
}

TEST_CASE("latency histogram buckets follow the schedule") {
  auto marks = syn_retransmit_times(0, 6);  // 1 3 7 15 31 63
  auto h = latency_histogram({50e-6, 0.5e-3, 0.5e-3, 5e-3, 1.01, 1.2, 3.05, 7.1, 20}, marks);
  REQUIRE(h.size() == 9);
  CHECK(h[0].count == 1);  // <100us
  CHECK(h[1].count == 2);  // <1ms
  CHECK(h[2].count == 1);  // <10ms
  CHECK(h[1].label == "100us-1ms");
  CHECK(h[4].label == "0.1-0.9s");
  CHECK(h[5].label == "0.9-2.9s");
  CHECK(h[5].count == 2);  // 0.9-2.9 s: one retransmitted SYN
  CHECK(h[6].count == 1);  // 2.9-6.9 s
  CHECK(h[7].count == 1);  // 6.9-14.9 s
  CHECK(h[8].label == ">=14.9s");
  CHECK(h[8].count == 1);
  auto linear = latency_histogram({2.04}, syn_retransmit_times(4, 6));
  CHECK(linear[5].label == "0.9-1.9s");
  CHECK(linear[6].label == "1.9-2.9s");
  CHECK(linear[6].count == 1);
}

TEST_CASE("SYN retransmission clusters near the marks") {
  auto exp = syn_retransmit_times(0, 4);
  auto c = syn_retransmission_clusters({0.0001, 1.003, 1.02, 1.4, 2.0, 3.001, 7.2, 15.01, 0.5}, exp);
  CHECK(c == std::vector<uint64_t>{3, 1, 1, 1});
  auto lin = syn_retransmission_clusters({2.04, 2.05, 0.001}, syn_retransmit_times(4, 6));
  CHECK(lin[1] == 2);
}

TEST_CASE("SYN call-out: '1 connection ... its SYN was', plural otherwise, none when no cluster") {
  std::vector<double> marks = {1, 3, 7};
  std::string one = syn_callout_text(marks, {1, 0, 0});
  CHECK(one.starts_with("\n  1 connection completed at SYN retransmission times (1 near 1s): its SYN was retransmitted.\n"));
  CHECK(one.find("connections") == std::string::npos);
  CHECK(one.find("full listen backlog") != std::string::npos);
  std::string many = syn_callout_text(marks, {2, 0, 1});
  CHECK(many.starts_with("\n  3 connections completed at SYN retransmission times (2 near 1s, 1 near 7s): "
                         "their SYNs were retransmitted.\n"));
  CHECK(syn_callout_text(marks, {0, 0, 0}).empty());
  CHECK(syn_callout_text(marks, {}).empty());
}

TEST_CASE("burst_fd_room: the fd limit less what is open and a spare") {
  CHECK(burst_fd_room(64, 7) == 64 - 7 - kBurstFdSpare);
  CHECK(burst_fd_room(1024, 3) == 1024 - 3 - kBurstFdSpare);
  CHECK(burst_fd_room(10, 6) == 0);
  CHECK(burst_fd_room(10, 20) == 0);
}

TEST_CASE("port_exhaustion_note names the port range, the TIME_WAIT and the orphan count") {
  auto note = port_exhaustion_note({32768, 60999}, 28101, 9);
  CHECK(note.find("32768-60999 (28232 ports, net.ipv4.ip_local_port_range)") != std::string::npos);
  CHECK(note.find("28101 TCP sockets are in TIME_WAIT now and 9 closed ones still wait for their peer's FIN") !=
        std::string::npos);
  auto tw_only = port_exhaustion_note({32768, 60999}, 28101, std::nullopt);
  CHECK(tw_only.find("28101 TCP sockets are in TIME_WAIT now (") != std::string::npos);
  auto bare = port_exhaustion_note({}, std::nullopt, std::nullopt);
  CHECK(bare.find("every local port to this destination") != std::string::npos);
  CHECK(bare.find("TIME_WAIT now") == std::string::npos);
  CHECK(port_exhaustion_note({5, 1}, 0, 0).find("every local port to") != std::string::npos);  // junk range
}

// A loopback listener that never accepts (backlog 128: a short burst's
// handshakes all fit its queue).
Fd quiet_listener(Endpoint* target) {
  Fd l(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(l.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(l.get(), 128) == 0);
  *target = local_endpoint(l.get());
  return l;
}

// The open-file limit that leaves exactly `free` descriptors: the limit
// bounds the numbers, so holes among the inherited fds count as free.
rlim_t limit_leaving(int free) {
  int fd = 0;
  for (; free > 0; ++fd) {
    if (::fcntl(fd, F_GETFD) < 0) --free;
  }
  return static_cast<rlim_t>(fd);
}

TEST_CASE("EMFILE mid-burst: fewer in flight, said once, every connection made") {
  Endpoint target;
  Fd l = quiet_listener(&target);
  rlimit saved = {};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
  rlimit low = saved;
  low.rlim_cur = limit_leaving(8);  // the epoll fd and a few sockets
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
  BurstOptions o;
  o.count = 40;
  o.concurrency = 30;  // no fd_room: only EMFILE tells
  std::vector<BurstFdLimit> told;
  o.on_fd_limit = [&](const BurstFdLimit& f) { told.push_back(f); };
  auto r = run_burst(target, SocketConfig{}, o);
  ::setrlimit(RLIMIT_NOFILE, &saved);
  REQUIRE(r.ok());
  CHECK(r->ok == 40);
  CHECK(r->other == 0);
  CHECK(r->fd_backoffs >= 1);
  CHECK(r->in_flight_limit >= 1);
  CHECK(r->in_flight_limit < 8);
  REQUIRE(told.size() == 1);
  CHECK(told[0].err == EMFILE);
  CHECK(told[0].concurrency == 30);
}

TEST_CASE("fd_room below --concurrency: said once at the start; 0 ends the burst") {
  Endpoint target;
  Fd l = quiet_listener(&target);
  BurstOptions o;
  o.count = 20;
  o.concurrency = 10;
  o.fd_room = 3;
  std::vector<BurstFdLimit> told;
  o.on_fd_limit = [&](const BurstFdLimit& f) { told.push_back(f); };
  auto r = run_burst(target, SocketConfig{}, o);
  REQUIRE(r.ok());
  CHECK(r->ok == 20);
  CHECK(r->in_flight_limit == 3);
  CHECK(r->fd_backoffs == 0);
  REQUIRE(told.size() == 1);
  CHECK(told[0].err == 0);
  CHECK(told[0].in_flight == 3);
  o.fd_room = 0;
  auto none = run_burst(target, SocketConfig{}, o);
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().message.find("ulimit -n") != std::string::npos);
}
