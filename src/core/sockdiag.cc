// NETLINK_SOCK_DIAG dumps (see sockdiag.h): the request/receive half talks
// to the kernel through libmnl; the parsing half only reads bytes, so it
// runs the same on a live reply and on a fixture from another kernel.
#include "core/sockdiag.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include <fmt/format.h>

namespace sp {
namespace {

// ---- requests ------------------------------------------------------------

struct MnlSocket {
  mnl_socket* nl = nullptr;
  ~MnlSocket() {
    if (nl != nullptr) mnl_socket_close(nl);
  }
};

Result<unsigned> open_diag_socket(MnlSocket* s) {
  s->nl = mnl_socket_open(NETLINK_SOCK_DIAG);
  if (s->nl == nullptr) return system_error(fmt::format("socket(NETLINK_SOCK_DIAG): {}", errno_text(errno)));
  if (mnl_socket_bind(s->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
    return system_error(fmt::format("bind(NETLINK_SOCK_DIAG): {}", errno_text(errno)));
  }
  return mnl_socket_get_portid(s->nl);
}

void put_inet_request(nlmsghdr* nlh, const DumpRequest& req, int family) {
  auto* r = static_cast<inet_diag_req_v2*>(mnl_nlmsg_put_extra_header(nlh, sizeof(inet_diag_req_v2)));
  r->sdiag_family = static_cast<uint8_t>(family);
  r->sdiag_protocol = req.transport == Transport::Udp ? IPPROTO_UDP : IPPROTO_TCP;
  r->idiag_states = req.states;
  if (req.skmem) r->idiag_ext = static_cast<uint8_t>(1u << (INET_DIAG_SKMEMINFO - 1));
}

void put_unix_request(nlmsghdr* nlh, const DumpRequest& req) {
  auto* r = static_cast<unix_diag_req*>(mnl_nlmsg_put_extra_header(nlh, sizeof(unix_diag_req)));
  r->sdiag_family = AF_UNIX;
  r->udiag_states = req.states;
  r->udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN | UDIAG_SHOW_UID;
  if (req.skmem) r->udiag_show |= UDIAG_SHOW_MEMINFO;
}

std::string request_name(const DumpRequest& req, int family) {
  if (req.transport == Transport::Unix) return "unix_diag dump";
  return fmt::format("inet_diag dump ({} over {})", transport_name(req.transport),
                     family == AF_INET6 ? "IPv6" : "IPv4");
}

// Receives datagrams until NLMSG_DONE; mnl_cb_run checks seq, port id and
// turns NLMSG_ERROR into errno.
Status receive_dump(mnl_socket* nl, unsigned seq, unsigned portid, const std::string& what, NetlinkDump* out) {
  std::vector<uint8_t> buf(64 * 1024);
  for (;;) {
    ssize_t n = mnl_socket_recvfrom(nl, buf.data(), buf.size());
    if (n < 0) return system_error(fmt::format("recv {}: {}", what, errno_text(errno)));
    out->emplace_back(buf.begin(), buf.begin() + n);
    int rc = mnl_cb_run(buf.data(), static_cast<size_t>(n), seq, portid, nullptr, nullptr);
    if (rc == MNL_CB_ERROR) return system_error(fmt::format("{}: {}", what, errno_text(errno)));
    if (rc == MNL_CB_STOP) return {};
  }
}

// An exact (non-dump) request is answered by one message and no
// NLMSG_DONE; an NLMSG_ERROR reply becomes errno through mnl_cb_run.
Status receive_one(mnl_socket* nl, unsigned seq, unsigned portid, const std::string& what, NetlinkDump* out) {
  std::vector<uint8_t> buf(64 * 1024);
  ssize_t n = mnl_socket_recvfrom(nl, buf.data(), buf.size());
  if (n < 0) return system_error(fmt::format("recv {}: {}", what, errno_text(errno)));
  if (mnl_cb_run(buf.data(), static_cast<size_t>(n), seq, portid, nullptr, nullptr) == MNL_CB_ERROR) {
    return system_error(fmt::format("{}: {}", what, errno_text(errno)));
  }
  out->emplace_back(buf.begin(), buf.begin() + n);
  return {};
}

// ---- parsing -------------------------------------------------------------

constexpr int kMaxAttr = 32;
using AttrTable = const nlattr* [kMaxAttr + 1];

int collect_attr(const nlattr* attr, void* data) {
  auto* table = static_cast<const nlattr**>(data);
  uint16_t type = mnl_attr_get_type(attr);
  if (type <= kMaxAttr) table[type] = attr;
  return MNL_CB_OK;
}

uint32_t read_u32(const void* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// SK_MEMINFO_* array; older kernels send fewer entries (the rest stay 0).
std::optional<SkMem> parse_skmem(const nlattr* attr) {
  if (attr == nullptr) return std::nullopt;
  size_t n = mnl_attr_get_payload_len(attr) / sizeof(uint32_t);
  if (n == 0) return std::nullopt;
  const auto* bytes = static_cast<const uint8_t*>(mnl_attr_get_payload(attr));
  uint32_t v[SK_MEMINFO_VARS] = {};
  for (size_t i = 0; i < n && i < SK_MEMINFO_VARS; ++i) v[i] = read_u32(bytes + i * sizeof(uint32_t));
  SkMem m;
  m.rmem_alloc = v[SK_MEMINFO_RMEM_ALLOC];
  m.rcvbuf = v[SK_MEMINFO_RCVBUF];
  m.wmem_alloc = v[SK_MEMINFO_WMEM_ALLOC];
  m.sndbuf = v[SK_MEMINFO_SNDBUF];
  m.fwd_alloc = v[SK_MEMINFO_FWD_ALLOC];
  m.wmem_queued = v[SK_MEMINFO_WMEM_QUEUED];
  m.optmem = v[SK_MEMINFO_OPTMEM];
  m.backlog = v[SK_MEMINFO_BACKLOG];
  m.drops = v[SK_MEMINFO_DROPS];
  return m;
}

std::optional<uint32_t> attr_u32(const nlattr* attr) {
  if (attr == nullptr || mnl_attr_get_payload_len(attr) < sizeof(uint32_t)) return std::nullopt;
  return read_u32(mnl_attr_get_payload(attr));
}

std::string inet_text(int family, const uint32_t* words) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (::inet_ntop(family, words, buf, sizeof buf) == nullptr) return "?";
  return buf;
}

uint64_t cookie_of(const uint32_t c[2]) { return (static_cast<uint64_t>(c[1]) << 32) | c[0]; }

Result<SockInfo> parse_inet(const nlmsghdr* nlh, Transport transport) {
  if (mnl_nlmsg_get_payload_len(nlh) < sizeof(inet_diag_msg)) {
    return system_error("inet_diag reply: message shorter than inet_diag_msg");
  }
  inet_diag_msg m;
  std::memcpy(&m, mnl_nlmsg_get_payload(nlh), sizeof m);
  if (m.idiag_family != AF_INET && m.idiag_family != AF_INET6) {
    return system_error(fmt::format("inet_diag reply: unexpected family {}", m.idiag_family));
  }
  AttrTable tb = {};
  mnl_attr_parse(nlh, sizeof(inet_diag_msg), collect_attr, tb);
  SockInfo s;
  s.transport = transport;
  if (tb[INET_DIAG_PROTOCOL] != nullptr && mnl_attr_get_payload_len(tb[INET_DIAG_PROTOCOL]) >= 1) {
    uint8_t proto = mnl_attr_get_u8(tb[INET_DIAG_PROTOCOL]);
    if (proto == IPPROTO_UDP) s.transport = Transport::Udp;
    if (proto == IPPROTO_TCP) s.transport = Transport::Tcp;
  }
  s.family = m.idiag_family;
  s.type = s.transport == Transport::Udp ? SOCK_DGRAM : SOCK_STREAM;
  s.state = m.idiag_state;
  s.local_address = inet_text(m.idiag_family, m.id.idiag_src);
  s.local_port = ntohs(m.id.idiag_sport);
  s.remote_address = inet_text(m.idiag_family, m.id.idiag_dst);
  s.remote_port = ntohs(m.id.idiag_dport);
  s.recv_q = m.idiag_rqueue;
  s.send_q = m.idiag_wqueue;
  s.inode = m.idiag_inode;
  s.cookie = cookie_of(m.id.idiag_cookie);
  s.uid = m.idiag_uid;
  s.retrans = m.idiag_retrans;
  s.skmem = parse_skmem(tb[INET_DIAG_SKMEMINFO]);
  return s;
}

// sun_path bytes: a leading NUL is the abstract namespace, shown as '@'.
std::string unix_name(const nlattr* attr) {
  if (attr == nullptr) return "";
  const char* p = static_cast<const char*>(mnl_attr_get_payload(attr));
  size_t n = mnl_attr_get_payload_len(attr);
  if (n == 0) return "";
  if (p[0] == '\0') {
    std::string s(p, n);
    for (char& c : s) c = (c == '\0') ? '@' : c;
    return s;
  }
  return std::string(p, strnlen(p, n));
}

Result<SockInfo> parse_unix(const nlmsghdr* nlh) {
  if (mnl_nlmsg_get_payload_len(nlh) < sizeof(unix_diag_msg)) {
    return system_error("unix_diag reply: message shorter than unix_diag_msg");
  }
  unix_diag_msg m;
  std::memcpy(&m, mnl_nlmsg_get_payload(nlh), sizeof m);
  AttrTable tb = {};
  mnl_attr_parse(nlh, sizeof(unix_diag_msg), collect_attr, tb);
  SockInfo s;
  s.transport = Transport::Unix;
  s.family = AF_UNIX;
  s.type = m.udiag_type;
  s.state = m.udiag_state;
  s.local_address = unix_name(tb[UNIX_DIAG_NAME]);
  s.inode = m.udiag_ino;
  s.cookie = cookie_of(m.udiag_cookie);
  const nlattr* rq = tb[UNIX_DIAG_RQLEN];
  s.queues_known = rq != nullptr && mnl_attr_get_payload_len(rq) >= sizeof(unix_diag_rqlen);
  if (s.queues_known) {
    unix_diag_rqlen q;
    std::memcpy(&q, mnl_attr_get_payload(rq), sizeof q);
    s.recv_q = q.udiag_rqueue;
    s.send_q = q.udiag_wqueue;
  }
  s.uid = attr_u32(tb[UNIX_DIAG_UID]);
  if (auto peer = attr_u32(tb[UNIX_DIAG_PEER])) s.peer_inode = *peer;
  s.skmem = parse_skmem(tb[UNIX_DIAG_MEMINFO]);
  return s;
}

Result<SockInfo> parse_message(const nlmsghdr* nlh, Transport transport) {
  if (transport == Transport::Unix) return parse_unix(nlh);
  return parse_inet(nlh, transport);
}

Status netlink_error(const nlmsghdr* nlh) {
  if (mnl_nlmsg_get_payload_len(nlh) < sizeof(nlmsgerr)) return system_error("sock_diag dump: truncated NLMSG_ERROR");
  nlmsgerr e;
  std::memcpy(&e, mnl_nlmsg_get_payload(nlh), sizeof e);
  if (e.error == 0) return {};  // an ACK
  // -errno; anything else (INT_MIN would overflow the negation: found by
  // fuzz/sockdiag_inet.cc) is a malformed reply.
  if (e.error > 0 || e.error < -4095) return system_error(fmt::format("sock_diag dump: NLMSG_ERROR {}", e.error));
  return system_error(fmt::format("sock_diag dump: {}", errno_text(-e.error)));
}

// Does the message at nlh, with its alignment padding, fit in the `left`
// bytes of the datagram? Not mnl_nlmsg_ok, for two holes the fuzzers found:
// it compares (int)nlmsg_len, so a length above INT_MAX passes as negative
// and mnl_nlmsg_next jumps outside the datagram (fuzz/sockdiag_inet.cc:
// SEGV); and mnl_attr_parse walks attributes up to NLMSG_ALIGN(nlmsg_len),
// so an unaligned last message let an attribute end past the datagram
// (fuzz/sockdiag_unix.cc: heap overflow). The kernel always sends the
// padding (__nlmsg_put reserves NLMSG_ALIGN(size)); 64-bit arithmetic.
bool message_fits(const nlmsghdr* nlh, int left) {
  if (left < static_cast<int>(sizeof(nlmsghdr)) || nlh->nlmsg_len < sizeof(nlmsghdr)) return false;
  uint64_t padded = (static_cast<uint64_t>(nlh->nlmsg_len) + NLMSG_ALIGNTO - 1) & ~uint64_t{NLMSG_ALIGNTO - 1};
  return padded <= static_cast<uint64_t>(left);
}

// Parses one datagram; sets *done at NLMSG_DONE.
Status parse_datagram(const std::vector<uint8_t>& dgram, Transport transport, std::vector<SockInfo>* out,
                      bool* done) {
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(dgram.data());
  int left = static_cast<int>(dgram.size());
  while (message_fits(nlh, left)) {
    if (nlh->nlmsg_type == NLMSG_DONE) {
      *done = true;
      return {};
    }
    if (nlh->nlmsg_type == NLMSG_ERROR) {
      if (Status st = netlink_error(nlh); !st) return st;
    } else if (nlh->nlmsg_type == SOCK_DIAG_BY_FAMILY) {
      auto s = parse_message(nlh, transport);
      if (!s.ok()) return s.take_error();
      out->push_back(std::move(*s));
    }
    nlh = mnl_nlmsg_next(nlh, &left);
  }
  if (left > 0) return system_error(fmt::format("sock_diag dump: {} bytes of truncated message", left));
  return {};
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::vector<uint8_t>> hex_line(std::string_view line, size_t lineno) {
  std::vector<uint8_t> out;
  if (line.size() % 2 != 0) return system_error(fmt::format("hex dump line {}: odd number of digits", lineno));
  for (size_t i = 0; i < line.size(); i += 2) {
    int hi = hex_digit(line[i]);
    int lo = hex_digit(line[i + 1]);
    if (hi < 0 || lo < 0) return system_error(fmt::format("hex dump line {}: not a hex digit", lineno));
    out.push_back(static_cast<uint8_t>(hi * 16 + lo));
  }
  return out;
}

}  // namespace

const char* state_name(uint8_t state) {
  static const char* const names[] = {"?",          "ESTAB",     "SYN-SENT",  "SYN-RECV", "FIN-WAIT-1",
                                      "FIN-WAIT-2", "TIME-WAIT", "UNCONN",    "CLOSE-WAIT", "LAST-ACK",
                                      "LISTEN",     "CLOSING",   "NEW-SYN-RECV"};
  return state < sizeof names / sizeof names[0] ? names[state] : "?";
}

// The netlink header of a sock_diag request in `buf` (a dump, or one socket).
static nlmsghdr* put_diag_header(std::vector<char>& buf, uint16_t flags) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
  nlh->nlmsg_flags = flags;
  nlh->nlmsg_seq = static_cast<uint32_t>(::time(nullptr));
  return nlh;
}

Result<NetlinkDump> dump_raw(const DumpRequest& req, int family) {
  MnlSocket s;
  auto portid = open_diag_socket(&s);
  if (!portid.ok()) return portid.take_error();
  std::vector<char> buf(8192);
  nlmsghdr* nlh = put_diag_header(buf, NLM_F_REQUEST | NLM_F_DUMP);
  if (req.transport == Transport::Unix) {
    put_unix_request(nlh, req);
  } else {
    put_inet_request(nlh, req, family);
  }
  std::string what = request_name(req, family);
  if (mnl_socket_sendto(s.nl, nlh, nlh->nlmsg_len) < 0) {
    return system_error(fmt::format("send {}: {}", what, errno_text(errno)));
  }
  NetlinkDump dump;
  if (Status st = receive_dump(s.nl, nlh->nlmsg_seq, *portid, what, &dump); !st) return st.error();
  return dump;
}

Result<std::vector<SockInfo>> parse_dump(const NetlinkDump& dump, Transport transport) {
  std::vector<SockInfo> out;
  bool done = false;
  for (const auto& dgram : dump) {
    if (done) break;
    if (Status st = parse_datagram(dgram, transport, &out, &done); !st) return st.error();
  }
  return out;
}

Result<std::vector<SockInfo>> dump_sockets(const DumpRequest& req) {
  std::vector<int> families;
  if (req.transport == Transport::Unix) {
    families = {AF_UNIX};
  } else if (req.family == AF_UNSPEC) {
    families = {AF_INET, AF_INET6};
  } else {
    families = {req.family};
  }
  std::vector<SockInfo> out;
  for (int family : families) {
    auto raw = dump_raw(req, family);
    if (!raw.ok()) return raw.take_error();
    auto socks = parse_dump(*raw, req.transport);
    if (!socks.ok()) return socks.take_error();
    for (auto& s : *socks) {
      if (req.unix_type == 0 || s.type == req.unix_type) out.push_back(std::move(s));
    }
  }
  return out;
}

Result<std::vector<SockInfo>> dump_listeners(std::string* unix_error) {
  DumpRequest tcp;
  tcp.states = state_bit(kStateListen);
  auto out = dump_sockets(tcp);
  if (!out.ok()) return out;
  DumpRequest unix_req;
  unix_req.transport = Transport::Unix;
  unix_req.states = state_bit(kStateListen);
  auto unix_socks = dump_sockets(unix_req);
  if (!unix_socks.ok()) {
    if (!unix_error) return unix_socks.take_error();
    *unix_error = unix_socks.error().message;
    return out;
  }
  for (auto& s : *unix_socks) {
    if (s.type == SOCK_STREAM || s.type == SOCK_SEQPACKET) out->push_back(std::move(s));
  }
  return out;
}

Result<SockInfo> unix_socket_by_inode(uint64_t inode) {
  MnlSocket s;
  auto portid = open_diag_socket(&s);
  if (!portid.ok()) return portid.take_error();
  std::vector<char> buf(8192);
  nlmsghdr* nlh = put_diag_header(buf, NLM_F_REQUEST);
  DumpRequest req;
  req.transport = Transport::Unix;
  put_unix_request(nlh, req);
  auto* r = static_cast<unix_diag_req*>(mnl_nlmsg_get_payload(nlh));
  r->udiag_ino = static_cast<uint32_t>(inode);
  r->udiag_cookie[0] = r->udiag_cookie[1] = INET_DIAG_NOCOOKIE;  // any socket with this inode
  std::string what = fmt::format("unix_diag lookup of inode {}", inode);
  if (mnl_socket_sendto(s.nl, nlh, nlh->nlmsg_len) < 0) {
    return system_error(fmt::format("send {}: {}", what, errno_text(errno)));
  }
  NetlinkDump reply;
  if (Status st = receive_one(s.nl, nlh->nlmsg_seq, *portid, what, &reply); !st) return st.error();
  auto socks = parse_dump(reply, Transport::Unix);
  if (!socks.ok()) return socks.take_error();
  for (SockInfo& si : *socks) {
    if (si.inode == inode) return std::move(si);
  }
  return system_error(fmt::format("{}: no such socket", what));
}

std::string dump_to_hex(const NetlinkDump& dump, std::string_view comment) {
  std::string out;
  if (!comment.empty()) out += fmt::format("# {}\n", comment);
  for (const auto& dgram : dump) {
    for (uint8_t b : dgram) out += fmt::format("{:02x}", b);
    out += '\n';
  }
  return out;
}

Result<NetlinkDump> dump_from_hex(std::string_view text) {
  NetlinkDump dump;
  size_t start = 0;
  size_t lineno = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(start, nl - start);
    start = nl + 1;
    ++lineno;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty() || line[0] == '#') continue;
    auto bytes = hex_line(line, lineno);
    if (!bytes.ok()) return bytes.take_error();
    dump.push_back(std::move(*bytes));
  }
  return dump;
}

}  // namespace sp
