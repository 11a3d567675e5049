// The SYN-queue experiment (see syn_experiment.h): a TUN device, a listener
// behind it, hand-written SYNs in, SYN-ACKs out and never answered.
#include "core/syn_experiment.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>
#include <random>

#include <fmt/format.h>

#include "core/fd.h"
#include "core/sock.h"
#include "core/synqueue.h"
#include "core/wait.h"

namespace sp {
namespace {

using Clock = std::chrono::steady_clock;

// TEST-NET-1, only ever inside the private namespace.
constexpr const char* kServer = "192.0.2.1";
constexpr const char* kClient = "192.0.2.2";
constexpr uint16_t kFirstClientPort = 40000;

void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

uint16_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

Status set_addr(int s, const char* ifname, unsigned long req, const char* addr) {
  ifreq ifr = {};
  std::strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
  auto* sin = reinterpret_cast<sockaddr_in*>(&ifr.ifr_addr);
  sin->sin_family = AF_INET;
  ::inet_pton(AF_INET, addr, &sin->sin_addr);
  if (::ioctl(s, req, &ifr) != 0) return system_error(fmt::format("{} {}: {}", ifname, addr, errno_text(errno)));
  return {};
}

// A TUN device "sp0" with kServer/24, up: the kernel routes kClient into it.
Result<Fd> make_tun() {
  Fd tun(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!tun.valid()) return system_error(fmt::format("open /dev/net/tun: {}", errno_text(errno)));
  ifreq ifr = {};
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::strncpy(ifr.ifr_name, "sp0", IFNAMSIZ - 1);
  if (::ioctl(tun.get(), TUNSETIFF, &ifr) != 0) return system_error(fmt::format("TUNSETIFF: {}", errno_text(errno)));
  Fd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (Status st = set_addr(s.get(), "sp0", SIOCSIFADDR, kServer); !st) return st.error();
  if (Status st = set_addr(s.get(), "sp0", SIOCSIFNETMASK, "255.255.255.0"); !st) return st.error();
  if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) return system_error(fmt::format("SIOCGIFFLAGS sp0: {}", errno_text(errno)));
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  if (::ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0) return system_error(fmt::format("bring up sp0: {}", errno_text(errno)));
  return tun;
}

Result<Fd> listen_on_tun(int backlog, uint16_t* port) {
  Fd l(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!l.valid()) return system_error(fmt::format("socket: {}", errno_text(errno)));
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  ::inet_pton(AF_INET, kServer, &a.sin_addr);
  if (::bind(l.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    return system_error(fmt::format("bind {}: {}", kServer, errno_text(errno)));
  }
  if (::listen(l.get(), backlog) != 0) return system_error(fmt::format("listen: {}", errno_text(errno)));
  socklen_t len = sizeof a;
  ::getsockname(l.get(), reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return l;
}

// Reads every packet the kernel sends into the TUN device until the
// deadline: SYN-ACKs per client port (more than one: resent).
Status collect_synacks(int tun, uint16_t port, Clock::time_point deadline, std::map<uint16_t, int>* seen) {
  uint8_t buf[2048];
  for (;;) {
    for (;;) {
      ssize_t n = ::read(tun, buf, sizeof buf);
      if (n <= 0) break;
      if (auto client = synack_client_port(buf, static_cast<size_t>(n), port)) ++(*seen)[*client];
    }
    if (Clock::now() >= deadline) return {};
    auto w = wait_fd(tun, POLLIN, deadline);
    if (!w.ok()) return w.take_error();
    if (*w == Wake::Interrupted) return interrupted_error();
  }
}

Status write_syns(int tun, uint16_t port, int clients) {
  uint32_t src = 0, dst = 0;
  ::inet_pton(AF_INET, kClient, &src);
  ::inet_pton(AF_INET, kServer, &dst);
  std::mt19937 rng(std::random_device{}());
  for (int i = 0; i < clients; ++i) {
    auto syn = build_syn(src, static_cast<uint16_t>(kFirstClientPort + i), dst, port, rng());
    if (::write(tun, syn.data(), syn.size()) != static_cast<ssize_t>(syn.size())) {
      return system_error(fmt::format("write SYN into sp0: {}", errno_text(errno)));
    }
  }
  return {};
}

// The listener's request sockets now (sock_diag, matched as `backlog` does).
Result<int> request_sockets(uint16_t port) {
  auto reqs = dump_requests();
  if (!reqs.ok()) return reqs.take_error();
  SockInfo l;
  l.state = kStateListen;
  l.local_address = kServer;
  l.local_port = port;
  return static_cast<int>(match_requests({l}, *reqs).front().syn_recv);
}

}  // namespace

uint32_t ones_sum(const uint8_t* p, size_t len, uint32_t sum) {
  for (size_t i = 0; i + 1 < len; i += 2) sum += get16(p + i);
  if (len % 2) sum += static_cast<uint32_t>(p[len - 1]) << 8;
  return sum;
}

std::vector<uint8_t> build_syn(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, uint32_t seq) {
  std::vector<uint8_t> p(44, 0);
  uint8_t* ip = p.data();
  uint8_t* tcp = ip + 20;
  ip[0] = 0x45;  // IPv4, 20-byte header
  put16(ip + 2, static_cast<uint16_t>(p.size()));
  put16(ip + 6, 0x4000);  // DF
  ip[8] = 64;             // TTL
  ip[9] = IPPROTO_TCP;
  std::memcpy(ip + 12, &src, 4);
  std::memcpy(ip + 16, &dst, 4);
  put16(ip + 10, fold(ones_sum(ip, 20)));
  put16(tcp, sport);
  put16(tcp + 2, dport);
  put16(tcp + 4, static_cast<uint16_t>(seq >> 16));
  put16(tcp + 6, static_cast<uint16_t>(seq));
  tcp[12] = 6 << 4;  // 24-byte header: 20 + MSS option
  tcp[13] = 0x02;    // SYN
  put16(tcp + 14, 64240);
  tcp[20] = 2;  // MSS option: kind 2, length 4, 1460
  tcp[21] = 4;
  put16(tcp + 22, 1460);
  // Pseudo-header: addresses, protocol, TCP length.
  uint32_t sum = ones_sum(ip + 12, 8) + IPPROTO_TCP + 24;
  put16(tcp + 16, fold(ones_sum(tcp, 24, sum)));
  return p;
}

std::optional<uint16_t> synack_client_port(const uint8_t* pkt, size_t len, uint16_t listener_port) {
  if (len < 20 || (pkt[0] >> 4) != 4 || pkt[9] != IPPROTO_TCP) return std::nullopt;
  size_t ihl = static_cast<size_t>(pkt[0] & 0x0f) * 4;
  if (ihl < 20 || len < ihl + 20) return std::nullopt;
  const uint8_t* tcp = pkt + ihl;
  if (get16(tcp) != listener_port || (tcp[13] & 0x12) != 0x12) return std::nullopt;
  return get16(tcp + 2);
}

Status syn_queue_here(const ExperimentOptions& o, ExperimentResult* r) {
  auto tun = make_tun();
  if (!tun.ok()) return tun.take_error();
  auto listener = listen_on_tun(o.backlog, &r->port);
  if (!listener.ok()) return listener.take_error();
  r->address = kServer;
  auto q = listener_queue(listener->get());
  if (!q) return system_error("getsockopt TCP_INFO on the listener: no queue information");
  r->effective = static_cast<int>(q->max);
  SynLimit lim = syn_limit(static_cast<uint32_t>(r->effective), r->syncookies, r->max_syn_backlog);
  r->syn_max = static_cast<int>(lim.max);
  r->clients = o.clients.value_or(r->syn_max + 5);
  if (r->clients > 20000) return usage_error("--clients: at most 20000 with --syn-queue (one source port each)");
  if (Status st = write_syns(tun->get(), r->port, r->clients); !st) return st;
  std::map<uint16_t, int> seen;
  if (Status st = collect_synacks(tun->get(), r->port, Clock::now() + o.timeout, &seen); !st) return st;
  for (const auto& [client, n] : seen) r->synack_resent += n - 1;
  r->synack_clients = static_cast<int>(seen.size());
  r->unanswered = r->clients - r->synack_clients;
  auto reqs = request_sockets(r->port);
  if (!reqs.ok()) return reqs.take_error();
  r->syn_recv = *reqs;
  if (auto end = listener_queue(listener->get())) r->queued = static_cast<int>(end->depth);
  return {};
}

}  // namespace sp
