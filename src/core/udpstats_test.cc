// The recv -u tally: gaps, duplicates, reordering and late datagrams
// counted exactly, expected from the final or the highest sequence, RFC
// 3550 jitter converging to a known value, and the loss verdict's words.
#include "core/udpstats.h"

#include <doctest/doctest.h>

using namespace sp;

namespace {
void add_all(UdpTally& t, std::initializer_list<uint64_t> seqs) {
  for (uint64_t s : seqs) t.add(s, 1000, 2000, 100);
}
}  // namespace

TEST_CASE("Gaps, duplicates and reorderings are counted exactly") {
  UdpTally t;
  add_all(t, {0, 1, 2, 4, 3, 3, 6, 7, 9, 9});
  UdpCounts c = t.counts();
  CHECK(c.datagrams == 8);
  CHECK(c.bytes == 800);
  CHECK(c.duplicates == 2);
  CHECK(c.reordered == 1);
  CHECK(c.late == 0);
  CHECK(c.expected == 10);  // no final: highest + 1
  CHECK(c.lost == 2);       // 5 and 8
  t.set_sent(12);
  c = t.counts();
  CHECK(c.expected == 12);
  CHECK(c.lost == 4);
}

TEST_CASE("Nothing received, or more than the final says, is no negative loss") {
  UdpTally empty;
  CHECK(empty.counts().expected == 0);
  CHECK(empty.counts().lost == 0);
  UdpTally t;
  add_all(t, {0, 1, 2});
  t.set_sent(2);
  CHECK(t.counts().lost == 0);
}

TEST_CASE("Older than the window is late, not a duplicate and not received") {
  UdpTally t(64);
  add_all(t, {0, 100, 38, 37, 38});
  UdpCounts c = t.counts();
  CHECK(c.datagrams == 4);
  CHECK(c.reordered == 2);
  CHECK(c.duplicates == 1);
  CHECK(c.late == 0);
  add_all(t, {0, 36});  // 0 is 100 behind the highest, 36 is 64: both late
  c = t.counts();
  CHECK(c.late == 2);
  CHECK(c.datagrams == 4);
}

TEST_CASE("A wild sequence jump forgets the window once and stays correct") {
  UdpTally t(128);
  add_all(t, {0, 1});
  add_all(t, {UINT64_MAX - 1, UINT64_MAX - 1, UINT64_MAX});
  UdpCounts c = t.counts();
  CHECK(c.datagrams == 4);
  CHECK(c.duplicates == 1);
  CHECK(c.late == 0);
  CHECK(c.expected == UINT64_MAX);
}

TEST_CASE("Jitter: transit alternating by 10 ms converges to 10 ms") {
  UdpTally t;
  for (uint64_t i = 0; i < 200; ++i) {
    uint64_t send = i * 1'000'000;
    uint64_t transit = (i % 2) ? 10'000'000 : 0;
    t.add(i, send, send + 5'000'000 + transit, 100);
  }
  CHECK(t.counts().jitter_ms == doctest::Approx(10.0).epsilon(0.01));
  UdpTally steady;
  for (uint64_t i = 0; i < 50; ++i) steady.add(i, i * 1000, i * 1000 + 777, 100);
  CHECK(steady.counts().jitter_ms == 0);
}

TEST_CASE("Duplicates do not move the jitter") {
  UdpTally t;
  t.add(0, 0, 1'000'000, 10);
  t.add(1, 0, 1'000'000, 10);
  t.add(1, 0, 99'000'000, 10);  // a duplicate with a wild transit
  CHECK(t.counts().jitter_ms == 0);
}

TEST_CASE("The loss splits into the socket's drops and the rest") {
  CHECK(split_loss(10, 4).dropped_in_socket == 4);
  CHECK(split_loss(10, 4).lost_in_network == 6);
  CHECK(split_loss(3, 9).dropped_in_socket == 3);  // other senders' drops count too
  CHECK(split_loss(3, 9).lost_in_network == 0);
}

TEST_CASE("The verdict names the cause and a buffer to try") {
  CHECK(loss_verdict({0, 0}, 212992) == "");
  CHECK(loss_verdict({0, 5}, 212992) == "all of the loss was in the network (the receive buffer dropped nothing)");
  CHECK(loss_verdict({5, 0}, 212992) == "all of the loss was your receive buffer (SO_RCVBUF 208K): try -I 1M");
  CHECK(loss_verdict({94, 6}, 1048576) == "94% of the loss was your receive buffer (SO_RCVBUF 1M): try -I 4M");
  CHECK(loss_verdict({1, 999}, 4096) == "1% of the loss was your receive buffer (SO_RCVBUF 4K): try -I 16K");
}
