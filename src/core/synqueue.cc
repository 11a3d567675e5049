// Request sockets matched to listeners, and the SYN-queue limit (see
// synqueue.h).
#include "core/synqueue.h"

#include <sys/socket.h>

#include <algorithm>
#include <map>
#include <tuple>

namespace sp {
namespace {

// "::ffff:10.0.0.1" -> "10.0.0.1": a v4 client of a dual-stack listener.
std::string plain_address(const std::string& a) {
  if (a.rfind("::ffff:", 0) == 0 && a.find('.') != std::string::npos) return a.substr(7);
  return a;
}

bool is_v4(const std::string& a) { return a.find(':') == std::string::npos; }

// How well a listener's address takes a SYN to `local`: 3 exact, 2 the
// wildcard of its family, 1 the IPv6 wildcard for an IPv4 address
// (dual-stack), 0 not at all.
int match_score(const SockInfo& listener, const std::string& local) {
  std::string la = plain_address(listener.local_address);
  if (la == local) return 3;
  if (la == "0.0.0.0") return is_v4(local) ? 2 : 0;
  if (la == "::") return is_v4(local) ? 1 : 2;
  return 0;
}

// The listeners (indexes) that best match a request; several: a group.
std::vector<size_t> best_listeners(const std::vector<SockInfo>& listeners, const SockInfo& req) {
  std::string local = plain_address(req.local_address);
  std::vector<size_t> best;
  int best_score = 0;
  for (size_t i = 0; i < listeners.size(); ++i) {
    const SockInfo& l = listeners[i];
    if (l.transport != Transport::Tcp || !l.listening() || l.local_port != req.local_port) continue;
    int score = match_score(l, local);
    if (score == 0 || score < best_score) continue;
    if (score > best_score) best.clear();
    best_score = score;
    best.push_back(i);
  }
  return best;
}

}  // namespace

std::vector<SynQueue> match_requests(const std::vector<SockInfo>& listeners, const std::vector<SockInfo>& requests) {
  std::vector<SynQueue> out(listeners.size());
  // Group -> its totals; a group is the set of listeners a request matched.
  std::map<std::vector<size_t>, SynQueue> groups;
  for (const SockInfo& r : requests) {
    if (r.transport != Transport::Tcp || (r.state != kStateSynRecv && r.state != kStateNewSynRecv)) continue;
    std::vector<size_t> members = best_listeners(listeners, r);
    if (members.empty()) continue;
    SynQueue& g = groups[members];
    g.syn_recv += 1;
    g.synack_retrans += r.retrans;
  }
  for (auto& [members, g] : groups) {
    for (size_t i : members) {
      // A listener in several groups adds them up.
      SynQueue& q = out[i];
      q.syn_recv += g.syn_recv;
      q.synack_retrans += g.synack_retrans;
      q.group_size = std::max<uint32_t>(q.group_size, static_cast<uint32_t>(members.size()));
      if (members.size() > 1) q.group_key = listeners[members.front()].cookie;
    }
  }
  return out;
}

Result<std::vector<SockInfo>> dump_requests() {
  DumpRequest req;
  req.states = state_bit(kStateSynRecv) | state_bit(kStateNewSynRecv);
  req.skmem = false;
  return dump_sockets(req);
}

SynLimit syn_limit(uint32_t backlog, int syncookies, int64_t max_syn_backlog) {
  SynLimit l;
  // Decision: the SYN queue is full when it holds more than the backlog
  // (inet_csk_reqsk_queue_is_full: qlen > sk_max_ack_backlog on 6.x), so it
  // keeps backlog + 1 request sockets, like the accept queue; measured by
  // `backlog test --syn-queue` (syn_queue.bats).
  l.max = backlog + 1;
  if (syncookies == 2) {
    l.overflow = SynOverflow::AlwaysCookies;
    l.max = 0;
  } else if (syncookies == 0) {
    l.overflow = SynOverflow::Drop;
    // tcp_conn_request: drop an unproven peer's SYN when
    // max_syn_backlog - qlen < max_syn_backlog / 4.
    if (max_syn_backlog > 0) {
      auto mb = static_cast<uint32_t>(std::min<int64_t>(max_syn_backlog, UINT32_MAX / 2));
      l.unproven_max = mb - (mb >> 2) + 1;
    }
  }
  return l;
}

const char* syn_overflow_name(SynOverflow o) {
  switch (o) {
    case SynOverflow::Cookies: return "cookies";
    case SynOverflow::Drop: return "drop";
    case SynOverflow::AlwaysCookies: return "cookies-always";
  }
  return "?";
}

}  // namespace sp
