// sock_diag parsing is tested three ways: hand-built messages (missing and
// short attributes, errors, truncation), dumps captured on a real kernel
// (tests/data/sockdiag/*.hex, see tests/data/capture.sh), and one live dump
// of sockets this test creates.
#include "core/sockdiag.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "core/fd.h"
#include "core/test_data.h"

using namespace sp;

namespace {

// ---- building messages by hand --------------------------------------------

struct MsgBuilder {
  std::vector<uint8_t> buf = std::vector<uint8_t>(8192);
  size_t used = 0;

  nlmsghdr* begin(uint16_t type) {
    auto* nlh = mnl_nlmsg_put_header(buf.data() + used);
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_MULTI;
    return nlh;
  }
  void end(nlmsghdr* nlh) { used += NLMSG_ALIGN(nlh->nlmsg_len); }
  std::vector<uint8_t> datagram() const { return {buf.begin(), buf.begin() + static_cast<long>(used)}; }
};

nlmsghdr* put_inet(MsgBuilder& b, int family, uint8_t state, const char* src, uint16_t sport, uint32_t rq,
                   uint32_t wq, uint32_t inode) {
  nlmsghdr* nlh = b.begin(SOCK_DIAG_BY_FAMILY);
  auto* m = static_cast<inet_diag_msg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(inet_diag_msg)));
  m->idiag_family = static_cast<uint8_t>(family);
  m->idiag_state = state;
  REQUIRE(inet_pton(family, src, m->id.idiag_src) == 1);
  m->id.idiag_sport = htons(sport);
  m->idiag_rqueue = rq;
  m->idiag_wqueue = wq;
  m->idiag_inode = inode;
  m->idiag_uid = 1000;
  m->id.idiag_cookie[0] = 7;
  m->id.idiag_cookie[1] = 1;
  return nlh;
}

void put_meminfo(nlmsghdr* nlh, uint16_t type, size_t nvars) {
  std::vector<uint32_t> v(nvars);
  for (size_t i = 0; i < nvars; ++i) v[i] = static_cast<uint32_t>(100 + i);
  mnl_attr_put(nlh, type, nvars * sizeof(uint32_t), v.data());
}

nlmsghdr* put_unix(MsgBuilder& b, uint8_t type, uint8_t state, uint32_t inode) {
  nlmsghdr* nlh = b.begin(SOCK_DIAG_BY_FAMILY);
  auto* m = static_cast<unix_diag_msg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(unix_diag_msg)));
  m->udiag_family = AF_UNIX;
  m->udiag_type = type;
  m->udiag_state = state;
  m->udiag_ino = inode;
  return nlh;
}

void put_done(MsgBuilder& b) {
  nlmsghdr* nlh = b.begin(NLMSG_DONE);
  int zero = 0;
  mnl_nlmsg_put_extra_header(nlh, sizeof zero);
  b.end(nlh);
}

// ---- fixtures --------------------------------------------------------------

NetlinkDump load_fixture(const std::string& name) {
  std::string path = test_data_dir() + "/sockdiag/" + name;
  std::ifstream in(path);
  INFO("fixture " << path);
  REQUIRE(in.good());
  std::ostringstream ss;
  ss << in.rdbuf();
  auto dump = dump_from_hex(ss.str());
  REQUIRE(dump.ok());
  return *dump;
}

const SockInfo* find_listener(const std::vector<SockInfo>& socks, const std::string& addr, uint32_t max) {
  for (const auto& s : socks) {
    if (s.listening() && s.local_address == addr && s.send_q == max) return &s;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("parse_dump: TCP listener with skmem") {
  MsgBuilder b;
  nlmsghdr* nlh = put_inet(b, AF_INET, kStateListen, "127.0.0.1", 8080, 3, 5, 4242);
  put_meminfo(nlh, INET_DIAG_SKMEMINFO, SK_MEMINFO_VARS);
  b.end(nlh);
  put_done(b);
  auto socks = parse_dump({b.datagram()}, Transport::Tcp);
  REQUIRE(socks.ok());
  REQUIRE(socks->size() == 1);
  const SockInfo& s = socks->front();
  CHECK(s.listening());
  CHECK(s.transport == Transport::Tcp);
  CHECK(s.type == SOCK_STREAM);
  CHECK(s.local_address == "127.0.0.1");
  CHECK(s.local_port == 8080);
  CHECK(s.recv_q == 3);
  CHECK(s.send_q == 5);
  CHECK(s.inode == 4242);
  CHECK(s.cookie == ((1ull << 32) | 7));
  CHECK(s.uid == 1000u);
  REQUIRE(s.skmem.has_value());
  CHECK(s.skmem->rmem_alloc == 100);
  CHECK(s.skmem->rcvbuf == 101);
  CHECK(s.skmem->sndbuf == 103);
  CHECK(s.skmem->backlog == 107);
  CHECK(s.skmem->drops == 108);
}

TEST_CASE("parse_dump: missing and short attributes leave fields empty") {
  MsgBuilder b;
  nlmsghdr* a = put_inet(b, AF_INET6, kStateEstablished, "::1", 443, 0, 0, 1);
  b.end(a);  // no SKMEMINFO at all
  nlmsghdr* c = put_inet(b, AF_INET6, kStateListen, "::ffff:127.0.0.1", 80, 0, 128, 2);
  put_meminfo(c, INET_DIAG_SKMEMINFO, 7);  // an old kernel: no backlog, no drops
  b.end(c);
  put_done(b);
  auto socks = parse_dump({b.datagram()}, Transport::Tcp);
  REQUIRE(socks.ok());
  REQUIRE(socks->size() == 2);
  CHECK((*socks)[0].local_address == "::1");
  CHECK_FALSE((*socks)[0].skmem.has_value());
  CHECK((*socks)[1].local_address == "::ffff:127.0.0.1");
  REQUIRE((*socks)[1].skmem.has_value());
  CHECK((*socks)[1].skmem->optmem == 106);
  CHECK((*socks)[1].skmem->drops == 0);
}

TEST_CASE("parse_dump: INET_DIAG_PROTOCOL wins over the requested transport") {
  MsgBuilder b;
  nlmsghdr* nlh = put_inet(b, AF_INET, kStateClose, "0.0.0.0", 53, 0, 0, 9);
  mnl_attr_put_u8(nlh, INET_DIAG_PROTOCOL, IPPROTO_UDP);
  b.end(nlh);
  auto socks = parse_dump({b.datagram()}, Transport::Tcp);
  REQUIRE(socks.ok());
  REQUIRE(socks->size() == 1);
  CHECK((*socks)[0].transport == Transport::Udp);
  CHECK((*socks)[0].type == SOCK_DGRAM);
  CHECK(std::string(state_name((*socks)[0].state)) == "UNCONN");
}

TEST_CASE("parse_dump: Unix sockets, names, missing RQLEN") {
  MsgBuilder b;
  nlmsghdr* l = put_unix(b, SOCK_STREAM, kStateListen, 11);
  const char path[] = "/run/app.sock";
  mnl_attr_put(l, UNIX_DIAG_NAME, sizeof path - 1, path);
  unix_diag_rqlen q = {2, 16};
  mnl_attr_put(l, UNIX_DIAG_RQLEN, sizeof q, &q);
  mnl_attr_put_u32(l, UNIX_DIAG_UID, 0);
  put_meminfo(l, UNIX_DIAG_MEMINFO, SK_MEMINFO_VARS);
  b.end(l);
  nlmsghdr* a = put_unix(b, SOCK_DGRAM, kStateClose, 12);
  const char abstract[] = "\0sock\0x";
  mnl_attr_put(a, UNIX_DIAG_NAME, sizeof abstract - 1, abstract);
  mnl_attr_put_u32(a, UNIX_DIAG_PEER, 99);
  b.end(a);
  nlmsghdr* u = put_unix(b, SOCK_STREAM, kStateEstablished, 13);
  b.end(u);  // unnamed, no attributes
  put_done(b);
  auto socks = parse_dump({b.datagram()}, Transport::Unix);
  REQUIRE(socks.ok());
  REQUIRE(socks->size() == 3);
  const SockInfo& ls = (*socks)[0];
  CHECK(ls.family == AF_UNIX);
  CHECK(ls.listening());
  CHECK(ls.local_address == "/run/app.sock");
  CHECK(ls.queues_known);
  CHECK(ls.recv_q == 2);
  CHECK(ls.send_q == 16);
  CHECK(ls.uid == 0u);
  REQUIRE(ls.skmem.has_value());
  CHECK(ls.skmem->drops == 108);
  CHECK((*socks)[1].local_address == "@sock@x");
  CHECK((*socks)[1].type == SOCK_DGRAM);
  CHECK((*socks)[1].peer_inode == 99u);
  CHECK_FALSE((*socks)[1].queues_known);
  CHECK((*socks)[2].local_address.empty());
  CHECK_FALSE((*socks)[2].uid.has_value());
  CHECK_FALSE((*socks)[2].skmem.has_value());
}

TEST_CASE("parse_dump: errors") {
  SUBCASE("message shorter than inet_diag_msg") {
    MsgBuilder b;
    nlmsghdr* nlh = b.begin(SOCK_DIAG_BY_FAMILY);
    mnl_nlmsg_put_extra_header(nlh, 8);
    b.end(nlh);
    auto r = parse_dump({b.datagram()}, Transport::Tcp);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("shorter") != std::string::npos);
  }
  SUBCASE("NLMSG_ERROR carries errno") {
    MsgBuilder b;
    nlmsghdr* nlh = b.begin(NLMSG_ERROR);
    auto* e = static_cast<nlmsgerr*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nlmsgerr)));
    e->error = -ENOENT;
    b.end(nlh);
    auto r = parse_dump({b.datagram()}, Transport::Unix);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find(errno_text(ENOENT)) != std::string::npos);
  }
  SUBCASE("datagram cut in the middle of a message") {
    MsgBuilder b;
    b.end(put_inet(b, AF_INET, kStateListen, "127.0.0.1", 1, 0, 0, 1));
    auto d = b.datagram();
    d.resize(d.size() - 10);
    auto r = parse_dump({d}, Transport::Tcp);
    CHECK_FALSE(r.ok());
  }
  SUBCASE("nlmsg_len above INT_MAX (fuzz/sockdiag_inet.cc: SEGV in mnl_nlmsg_next)") {
    for (uint32_t lie : {0x80000000u, 0xfffffff0u, 0xffffffffu}) {
      MsgBuilder b;
      b.end(put_inet(b, AF_INET, kStateListen, "127.0.0.1", 1, 0, 0, 1));
      b.end(put_inet(b, AF_INET, kStateListen, "127.0.0.2", 2, 0, 0, 2));
      auto d = b.datagram();
      std::memcpy(d.data(), &lie, sizeof lie);  // the first message's nlmsg_len
      auto r = parse_dump({d}, Transport::Tcp);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().message.find("truncated") != std::string::npos);
    }
  }
  SUBCASE("NLMSG_ERROR with an error that is not -errno (fuzz/sockdiag_inet.cc: INT_MIN negated)") {
    for (int bad : {INT_MIN, 5, -4096}) {
      MsgBuilder b;
      nlmsghdr* nlh = b.begin(NLMSG_ERROR);
      static_cast<nlmsgerr*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nlmsgerr)))->error = bad;
      b.end(nlh);
      auto r = parse_dump({b.datagram()}, Transport::Tcp);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().message == fmt::format("sock_diag dump: NLMSG_ERROR {}", bad));
    }
  }
  SUBCASE("unaligned last message: an attribute may not reach into missing padding (fuzz/sockdiag_unix.cc)") {
    MsgBuilder b;
    nlmsghdr* nlh = put_unix(b, SOCK_STREAM, kStateListen, 9);
    mnl_attr_put(nlh, UNIX_DIAG_NAME, 3, "/ab");
    nlh->nlmsg_len -= 1;  // without the attribute's padding byte: 1 short of alignment
    b.end(nlh);
    auto d = b.datagram();
    uint32_t len = nlh->nlmsg_len;
    REQUIRE(len % 4 != 0);
    d.resize(len);  // the datagram stops at nlmsg_len, without the padding
    auto* attr = reinterpret_cast<nlattr*>(d.data() + len - 7);
    attr->nla_len = 8;  // claims the padding byte the datagram does not have
    auto r = parse_dump({d}, Transport::Unix);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("truncated") != std::string::npos);
  }
  SUBCASE("unexpected address family") {
    MsgBuilder b;
    nlmsghdr* nlh = put_inet(b, AF_INET, kStateListen, "127.0.0.1", 1, 0, 0, 1);
    static_cast<inet_diag_msg*>(mnl_nlmsg_get_payload(nlh))->idiag_family = 99;
    b.end(nlh);
    CHECK_FALSE(parse_dump({b.datagram()}, Transport::Tcp).ok());
  }
}

TEST_CASE("parse_dump: stops at NLMSG_DONE, spans datagrams") {
  MsgBuilder first;
  first.end(put_inet(first, AF_INET, kStateListen, "127.0.0.1", 1, 0, 1, 1));
  MsgBuilder second;
  second.end(put_inet(second, AF_INET, kStateListen, "127.0.0.2", 2, 0, 1, 2));
  put_done(second);
  MsgBuilder after;
  after.end(put_inet(after, AF_INET, kStateListen, "127.0.0.3", 3, 0, 1, 3));
  auto socks = parse_dump({first.datagram(), second.datagram(), after.datagram()}, Transport::Tcp);
  REQUIRE(socks.ok());
  REQUIRE(socks->size() == 2);
  CHECK((*socks)[1].local_address == "127.0.0.2");
}

TEST_CASE("hex fixture format round-trips and rejects junk") {
  NetlinkDump d = {{0x00, 0x01, 0xab}, {}, {0xff}};
  std::string hex = dump_to_hex(d, "comment");
  CHECK(hex.rfind("# comment\n", 0) == 0);
  auto back = dump_from_hex(hex);
  REQUIRE(back.ok());
  // The empty datagram becomes an empty line, which is skipped.
  CHECK(*back == NetlinkDump{{0x00, 0x01, 0xab}, {0xff}});
  CHECK_FALSE(dump_from_hex("abc\n").ok());
  CHECK_FALSE(dump_from_hex("zz\n").ok());
}

TEST_CASE("state_name matches ss") {
  CHECK(std::string(state_name(kStateListen)) == "LISTEN");
  CHECK(std::string(state_name(kStateEstablished)) == "ESTAB");
  CHECK(std::string(state_name(kStateTimeWait)) == "TIME-WAIT");
  CHECK(std::string(state_name(200)) == "?");
}

// Captured inside a private network namespace by tests/data/capture.sh:
// a TCP listener on 127.0.0.1 with backlog 3 and 2 connections queued, one
// on ::1 with backlog 7, a UDP socket with 3 unread datagrams, and a Unix
// stream listener with backlog 2 and 1 pending connection.
TEST_CASE("captured dumps from a real kernel") {
  SUBCASE("tcp4") {
    auto socks = parse_dump(load_fixture("tcp4.hex"), Transport::Tcp);
    REQUIRE(socks.ok());
    const SockInfo* l = find_listener(*socks, "127.0.0.1", 3);
    REQUIRE(l != nullptr);
    CHECK(l->recv_q == 2);
    CHECK(l->inode != 0);
    REQUIRE(l->skmem.has_value());
    CHECK(l->skmem->rcvbuf > 0);
    int queued_not_accepted = 0;
    for (const auto& s : *socks) {
      if (s.state == kStateEstablished && s.local_port == l->local_port && s.inode == 0) ++queued_not_accepted;
    }
    CHECK(queued_not_accepted == 2);
  }
  SUBCASE("tcp6") {
    auto socks = parse_dump(load_fixture("tcp6.hex"), Transport::Tcp);
    REQUIRE(socks.ok());
    const SockInfo* l = find_listener(*socks, "::1", 7);
    REQUIRE(l != nullptr);
    CHECK(l->family == AF_INET6);
    CHECK(l->recv_q == 0);
  }
  SUBCASE("udp4") {
    auto socks = parse_dump(load_fixture("udp4.hex"), Transport::Udp);
    REQUIRE(socks.ok());
    REQUIRE_FALSE(socks->empty());
    bool found = false;
    for (const auto& s : *socks) {
      if (s.transport == Transport::Udp && s.local_address == "127.0.0.1" && s.recv_q > 0) {
        found = true;
        REQUIRE(s.skmem.has_value());
        CHECK(s.skmem->rmem_alloc > 0);
      }
    }
    CHECK(found);
  }
  SUBCASE("unix") {
    auto socks = parse_dump(load_fixture("unix.hex"), Transport::Unix);
    REQUIRE(socks.ok());
    const SockInfo* l = find_listener(*socks, "@sockprobe-fixture", 2);
    REQUIRE(l != nullptr);
    CHECK(l->recv_q == 1);
    CHECK(l->type == SOCK_STREAM);
  }
}

TEST_CASE("live dump sees a listener with its queue") {
  Fd l(::socket(AF_INET, SOCK_STREAM, 0));
  REQUIRE(l.valid());
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(l.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(l.get(), 3) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(l.get(), reinterpret_cast<sockaddr*>(&a), &len) == 0);
  Fd c1(::socket(AF_INET, SOCK_STREAM, 0));
  Fd c2(::socket(AF_INET, SOCK_STREAM, 0));
  REQUIRE(::connect(c1.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::connect(c2.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);

  auto socks = dump_listeners();
  REQUIRE(socks.ok());
  const SockInfo* mine = nullptr;
  for (const auto& s : *socks) {
    if (s.transport == Transport::Tcp && s.local_port == ntohs(a.sin_port) && s.local_address == "127.0.0.1") {
      mine = &s;
    }
  }
  REQUIRE(mine != nullptr);
  CHECK(mine->recv_q == 2);
  CHECK(mine->send_q == 3);
  struct stat st;
  REQUIRE(::fstat(l.get(), &st) == 0);
  CHECK(mine->inode == st.st_ino);
}
