// Live sockets as the kernel sees them, over NETLINK_SOCK_DIAG (what `ss`
// uses): TCP/UDP over IPv4/IPv6 through inet_diag, Unix sockets through
// unix_diag. Fetching and parsing are separate on purpose: dump_raw() only
// sends the request and collects the reply datagrams, and parse_dump() is a
// pure function over those bytes, so unit tests replay dumps captured on
// other machines (tests/data/*.hex) and hand-built messages with missing
// attributes. Both `backlog` (listeners) and `buffers` (per-socket skmem)
// build on this API; keep it stable.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/address.h"
#include "core/result.h"

namespace sp {

// Kernel socket states (include/net/tcp_states.h). Unix sockets use the same
// numbers: LISTEN for listeners, ESTABLISHED for connected, CLOSE otherwise.
enum SockState : uint8_t {
  kStateEstablished = 1,
  kStateSynSent = 2,
  kStateSynRecv = 3,
  kStateFinWait1 = 4,
  kStateFinWait2 = 5,
  kStateTimeWait = 6,
  kStateClose = 7,
  kStateCloseWait = 8,
  kStateLastAck = 9,
  kStateListen = 10,
  kStateClosing = 11,
  kStateNewSynRecv = 12,
};
// ss's names: "ESTAB", "LISTEN", "UNCONN" (CLOSE), "TIME-WAIT", ...; "?" if unknown.
const char* state_name(uint8_t state);
// Bit for a state in DumpRequest::states.
constexpr uint32_t state_bit(uint8_t state) { return 1u << state; }
constexpr uint32_t kAllStates = 0xffffffffu;

// The socket's memory accounting (SK_MEMINFO_*), named as `ss -m` prints it:
// skmem:(r rb t tb f w o bl d).
struct SkMem {
  uint32_t rmem_alloc = 0;   // r:  bytes in the receive queue (truesize)
  uint32_t rcvbuf = 0;       // rb: receive buffer limit (SO_RCVBUF as the kernel holds it)
  uint32_t wmem_alloc = 0;   // t:  bytes sent but not yet freed by the device/peer
  uint32_t sndbuf = 0;       // tb: send buffer limit
  uint32_t fwd_alloc = 0;    // f:  memory reserved but not yet used
  uint32_t wmem_queued = 0;  // w:  bytes queued for sending (incl. not yet sent)
  uint32_t optmem = 0;       // o:  option memory (filters, cmsg)
  uint32_t backlog = 0;      // bl: per-socket receive backlog (NOT the listen backlog)
  uint32_t drops = 0;        // d:  packets dropped on this socket (listener: SYN/ACK drops)
};

// One socket from a dump. Addresses are text ("127.0.0.1", "::1",
// "::ffff:127.0.0.1"; Unix: "/path", "@abstract" or "" when unnamed).
struct SockInfo {
  Transport transport = Transport::Tcp;
  int family = 0;        // AF_INET, AF_INET6 or AF_UNIX
  int type = 0;          // SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET
  uint8_t state = 0;     // SockState
  std::string local_address;
  uint16_t local_port = 0;   // 0 for Unix
  std::string remote_address;
  uint16_t remote_port = 0;
  // ss's Recv-Q / Send-Q. For LISTEN sockets: accept-queue depth / its maximum
  // (the effective backlog). For others: unread bytes / unsent+unacked bytes
  // (TCP), or queued datagram bytes (UDP), or unread / unsent bytes (Unix).
  uint32_t recv_q = 0;
  uint32_t send_q = 0;
  bool queues_known = true;  // false when a Unix reply lacked UNIX_DIAG_RQLEN
  uint64_t inode = 0;        // 0 for connections queued but not yet accepted
  uint64_t cookie = 0;       // the kernel's socket cookie
  std::optional<uint32_t> uid;
  std::optional<uint64_t> peer_inode;  // Unix: the peer socket's inode
  std::optional<SkMem> skmem;          // missing if the kernel sent no meminfo
  // inet_diag idiag_retrans: for a request socket (SYN-RECV, inode 0) the
  // SYN-ACKs resent; for a connection the retransmit timer's count.
  uint8_t retrans = 0;

  bool listening() const { return state == kStateListen; }
};

// What to ask for. `family`: AF_INET or AF_INET6 for TCP/UDP (AF_UNSPEC
// makes dump() ask for both); ignored for Unix. `unix_type`: 0 for every
// Unix socket type, else SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET
// (filtered after the dump: the kernel cannot filter by type).
struct DumpRequest {
  Transport transport = Transport::Tcp;
  int family = AF_UNSPEC;
  uint32_t states = kAllStates;
  int unix_type = 0;
  bool skmem = true;
};

// Raw reply datagrams of one dump, each as recv() returned it (one or more
// netlink messages, ending with NLMSG_DONE in the last one).
using NetlinkDump = std::vector<std::vector<uint8_t>>;

// Sends one SOCK_DIAG_BY_FAMILY dump request (one family) and collects the
// reply. No parsing beyond finding NLMSG_DONE / NLMSG_ERROR.
Result<NetlinkDump> dump_raw(const DumpRequest& req, int family);

// Pure: the sockets in a captured dump, in kernel order. `transport` is what
// the request asked for (inet_diag replies do not always say TCP or UDP).
// Short or malformed messages are errors; missing optional attributes just
// leave the matching fields empty. NLMSG_ERROR in the dump is an error.
Result<std::vector<SockInfo>> parse_dump(const NetlinkDump& dump, Transport transport);

// dump_raw + parse_dump for every family the request covers, then the
// unix_type filter.
Result<std::vector<SockInfo>> dump_sockets(const DumpRequest& req);

// Every listening socket: TCP over IPv4 and IPv6, and Unix stream and
// seqpacket listeners. A failed Unix dump (no unix_diag module) is an error,
// unless unix_error is given: then it holds the message and the TCP
// listeners are returned alone.
Result<std::vector<SockInfo>> dump_listeners(std::string* unix_error = nullptr);

// One Unix socket by inode (fstat(fd).st_ino of a socket), with its name,
// queues and meminfo: a single unix_diag request, not a dump. For a
// listener recv_q/send_q are its accept-queue depth and maximum.
Result<SockInfo> unix_socket_by_inode(uint64_t inode);

// Fixture format for captured dumps: one datagram per line in lowercase hex;
// lines starting with '#' are comments. Round-trips exactly.
std::string dump_to_hex(const NetlinkDump& dump, std::string_view comment = {});
Result<NetlinkDump> dump_from_hex(std::string_view text);

}  // namespace sp
