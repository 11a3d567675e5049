// The SYN queue per listener: handshakes that got our SYN-ACK and wait for
// the client's final ACK. The kernel keeps them as request sockets, which
// sock_diag dumps in state SYN-RECV with inode 0 and idiag_retrans = the
// SYN-ACKs resent, but without naming their listener. They are matched here
// by local address and port, the way the kernel's listener lookup scores a
// SYN: a listener bound to the exact address beats a wildcard one. When
// several listeners tie (an SO_REUSEPORT group), the kernel picked one by
// hash and sock_diag does not say which: the count belongs to the group.
// The limit that applies and what happens beyond it come from the listen
// backlog and net.ipv4.tcp_syncookies / tcp_max_syn_backlog.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/sockdiag.h"

namespace sp {

struct SynQueue {
  uint32_t syn_recv = 0;        // request sockets
  uint32_t synack_retrans = 0;  // SYN-ACKs resent, summed over them
  // Listeners sharing these numbers (1: the match is exact; more: an
  // SO_REUSEPORT group, each member shows the group's numbers).
  uint32_t group_size = 1;
  uint64_t group_key = 0;  // the first member's cookie; the same for the whole group
};

// Pure: the SYN queue of each listener in `listeners` (same order; Unix
// listeners and non-LISTEN entries get zeros). `requests` is a TCP dump;
// entries not in SYN-RECV are ignored, as are requests no listener matches.
std::vector<SynQueue> match_requests(const std::vector<SockInfo>& listeners, const std::vector<SockInfo>& requests);

// Every request socket (TCP over IPv4 and IPv6, state SYN-RECV).
Result<std::vector<SockInfo>> dump_requests();

// What happens to a SYN that finds a listener's SYN queue full.
enum class SynOverflow { Cookies, Drop, AlwaysCookies };

struct SynLimit {
  uint32_t max = 0;  // request sockets the listener keeps before the overflow applies
  SynOverflow overflow = SynOverflow::Cookies;
  // tcp_syncookies 0 only: past this many, SYNs from clients this host has
  // not talked to before are dropped (the last quarter of tcp_max_syn_backlog).
  std::optional<uint32_t> unproven_max;
};

// Pure: the limit for a listener whose effective backlog is `backlog`, under
// tcp_syncookies = `syncookies` and tcp_max_syn_backlog = `max_syn_backlog`
// (see tcp_conn_request, net/ipv4/tcp_input.c).
SynLimit syn_limit(uint32_t backlog, int syncookies, int64_t max_syn_backlog);

// "cookies", "drop", "cookies-always" (JSON values).
const char* syn_overflow_name(SynOverflow o);

}  // namespace sp
