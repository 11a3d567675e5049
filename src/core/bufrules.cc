// The kernel's socket-buffer rules as pure functions (see bufrules.h). Every
// sentence printed by `sockprobe buffers` about why a value is what it is
// comes from here, so it can be checked against captured limits.
#include "core/bufrules.h"

#include <climits>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "core/sockname.h"

namespace sp {
namespace {

struct SysctlInfo {
  std::string_view name;
  std::string_view meaning;
};

const std::vector<SysctlInfo>& sysctl_table() {
  static const std::vector<SysctlInfo> table = {
      {"net.core.rmem_default", "SO_RCVBUF of a new UDP or Unix socket"},
      {"net.core.rmem_max", "largest SO_RCVBUF request honoured (the kernel then doubles it)"},
      {"net.core.wmem_default", "SO_SNDBUF of a new UDP or Unix socket"},
      {"net.core.wmem_max", "largest SO_SNDBUF request honoured (the kernel then doubles it)"},
      {"net.ipv4.tcp_rmem", "TCP receive buffer: min, default of a new socket, autotuning max"},
      {"net.ipv4.tcp_wmem", "TCP send buffer: min, default of a new socket, autotuning max"},
      {"net.ipv4.tcp_moderate_rcvbuf", "1: TCP receive autotuning on (for sockets without SO_RCVBUF)"},
      {"net.ipv4.udp_rmem_min", "UDP receive memory a socket keeps even under udp_mem pressure"},
      {"net.ipv4.udp_wmem_min", "UDP send memory a socket keeps even under udp_mem pressure"},
      {"net.unix.max_dgram_qlen", "datagrams a Unix datagram socket queues before senders block"},
  };
  return table;
}

std::string short_name(std::string_view dotted) {
  auto dot = dotted.rfind('.');
  return std::string(dot == std::string_view::npos ? dotted : dotted.substr(dot + 1));
}

std::string_view max_sysctl(BufDir d) { return d == BufDir::Send ? "net.core.wmem_max" : "net.core.rmem_max"; }

}  // namespace

std::optional<int64_t> BufferLimits::get(std::string_view name, size_t index) const {
  for (const auto& s : sysctls) {
    if (s.name != name || !s.values) continue;
    if (index < s.values->size()) return (*s.values)[index];
    return std::nullopt;
  }
  return std::nullopt;
}

const std::vector<std::string_view>& buffer_sysctl_names() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> v;
    for (const auto& s : sysctl_table()) v.push_back(s.name);
    return v;
  }();
  return names;
}

std::string_view sysctl_meaning(std::string_view name) {
  for (const auto& s : sysctl_table()) {
    if (s.name == name) return s.meaning;
  }
  return "";
}

BufferLimits read_buffer_limits(const ProcFs& proc) {
  BufferLimits lim;
  for (auto name : buffer_sysctl_names()) {
    SysctlValue v;
    v.name = std::string(name);
    auto ints = proc.sysctl_ints(name);
    if (ints.ok()) {
      v.values = *ints;
    } else {
      v.error = ints.error().message;
    }
    lim.sysctls.push_back(std::move(v));
  }
  return lim;
}

// The namer (core/sockname.h) names the kinds `buffers` probes, as it names
// the live sockets.
std::string sock_kind_name(SockKind k) {
  switch (k) {
    case SockKind::Tcp4: return kind_name({Transport::Tcp, AF_INET, SOCK_STREAM});
    case SockKind::Tcp6: return kind_name({Transport::Tcp, AF_INET6, SOCK_STREAM});
    case SockKind::Udp4: return kind_name({Transport::Udp, AF_INET, SOCK_DGRAM});
    case SockKind::Udp6: return kind_name({Transport::Udp, AF_INET6, SOCK_DGRAM});
    case SockKind::UnixStream: return kind_name({Transport::Unix, AF_UNIX, SOCK_STREAM});
    case SockKind::UnixDgram: return kind_name({Transport::Unix, AF_UNIX, SOCK_DGRAM});
  }
  return "?";
}

bool is_tcp(SockKind k) { return k == SockKind::Tcp4 || k == SockKind::Tcp6; }

std::string_view option_name(BufDir d, bool force) {
  if (d == BufDir::Send) return force ? "SO_SNDBUFFORCE" : "SO_SNDBUF";
  return force ? "SO_RCVBUFFORCE" : "SO_RCVBUF";
}

DefaultRule fresh_default(SockKind k, BufDir d, const BufferLimits& lim) {
  if (is_tcp(k)) {
    std::string name = d == BufDir::Send ? "net.ipv4.tcp_wmem" : "net.ipv4.tcp_rmem";
    return {name + "[1]", lim.get(name, 1)};
  }
  std::string name = d == BufDir::Send ? "net.core.wmem_default" : "net.core.rmem_default";
  return {name, lim.get(name)};
}

std::string explain_fresh(SockKind k, BufDir d, const BufferLimits& lim, int64_t measured) {
  DefaultRule rule = fresh_default(k, d, lim);
  std::string src = short_name(rule.source);
  if (!rule.value) return fmt::format("{} is unavailable, so the default cannot be explained", src);
  if (*rule.value != measured) {
    return fmt::format("expected {} = {}, got {}: this kernel sets it differently", src, *rule.value, measured);
  }
  if (!is_tcp(k)) return fmt::format("= {} (fixed unless the program sets it)", src);
  std::string max_name = d == BufDir::Send ? "net.ipv4.tcp_wmem" : "net.ipv4.tcp_rmem";
  auto max = lim.get(max_name, 2);
  std::string grow = max ? fmt::format("{}[2] = {}", short_name(max_name), human_bytes(static_cast<uint64_t>(*max)))
                         : fmt::format("{}[2]", short_name(max_name));
  if (d == BufDir::Receive && lim.get("net.ipv4.tcp_moderate_rcvbuf") == 0) {
    return fmt::format("= {}; autotuning is off (tcp_moderate_rcvbuf=0), so it stays", src);
  }
  return fmt::format("= {}; autotuning grows it up to {} as the connection needs", src, grow);
}

int setsockopt_value(uint64_t requested) {
  return static_cast<int>(std::min<uint64_t>(requested, INT_MAX));
}

SetPrediction predict_set(BufDir d, uint64_t requested, bool force, const BufferLimits& lim,
                          const KernelMinima& min) {
  SetPrediction p;
  p.requested = requested;
  p.passed = setsockopt_value(requested);
  p.force = force;
  p.limit = lim.get(max_sysctl(d));
  p.minimum = min.of(d);
  int64_t v = p.passed;
  if (!force) {
    if (!p.limit) return p;  // cannot predict without the clamp
    // The kernel compares as u32, so the limit acts as unsigned here.
    if (static_cast<uint64_t>(v) > static_cast<uint64_t>(static_cast<uint32_t>(*p.limit))) {
      p.clamped = true;
      v = static_cast<uint32_t>(*p.limit);
    }
  }
  if (v > INT_MAX / 2) {
    p.halved_int = true;
    v = INT_MAX / 2;
  }
  int64_t doubled = v * 2;
  p.raised = doubled < p.minimum;
  p.effective = p.raised ? p.minimum : doubled;
  return p;
}

std::string explain_set(BufDir d, const SetPrediction& p, int64_t measured) {
  std::string opt(option_name(d, p.force));
  std::string why;
  if (!p.effective) {
    why = fmt::format("{} unavailable: the clamp cannot be checked; 2 x request, at least the minimum",
                      short_name(max_sysctl(d)));
  } else if (p.raised) {
    why = fmt::format("raised to the kernel minimum {} (2 x {} is below it)", p.minimum,
                      p.clamped ? *p.limit : p.passed);
  } else if (p.clamped) {
    why = fmt::format("clamped to {} = {} first, then doubled for bookkeeping: 2 x {} = {}",
                      short_name(max_sysctl(d)), sized(*p.limit), *p.limit, *p.effective);
  } else if (p.halved_int) {
    why = fmt::format("capped at INT_MAX/2 so the doubled value fits an int: {}", *p.effective);
  } else {
    why = fmt::format("doubled for bookkeeping (sk_buff and header overhead): 2 x {} = {}", p.passed,
                      *p.effective);
  }
  if (p.force && p.effective && !p.raised) why = fmt::format("{} skips the max clamp; {}", opt, why);
  if (p.passed != static_cast<int64_t>(p.requested)) {
    why = fmt::format("request capped at INT_MAX for setsockopt; {}", why);
  }
  if (p.effective && *p.effective != measured) {
    why += fmt::format(" [rules predict {}, kernel says {}: this kernel differs]", *p.effective, measured);
  }
  return why;
}

std::string tcp_lock_note(SockKind k, BufDir d, const BufferLimits& lim, int64_t measured) {
  if (!is_tcp(k)) return "";
  if (d == BufDir::Send) {
    return "setting SO_SNDBUF locks it: send-buffer autotuning stops for this socket";
  }
  std::string note =
      "setting SO_RCVBUF locks it: receive autotuning stops; set it before connect()/listen(), "
      "the window scale is fixed at the handshake";
  auto max = lim.get("net.ipv4.tcp_rmem", 2);
  if (max && measured < *max && lim.get("net.ipv4.tcp_moderate_rcvbuf") != 0) {
    note += fmt::format(" (autotuning could have grown it to tcp_rmem[2] = {})",
                        human_bytes(static_cast<uint64_t>(*max)));
  }
  return note;
}

// BDP formula and the assumption behind it:
//   bdp    = rate [bytes/s] x rtt [s], rounded up: the bytes in flight that
//            fill the pipe. The receiver must advertise a window >= bdp and
//            the sender must keep >= bdp unacknowledged bytes.
//   buffer = 2 x bdp. Socket buffers count skb truesize (payload plus
//            struct sk_buff and slab overhead), not payload. Before 6.6 the
//            kernel advertised buffer - buffer >> tcp_adv_win_scale (1 by
//            default: half); since 6.6 tcp_adv_win_scale is obsolete and a
//            per-socket scaling_ratio (payload/truesize) starts at 50% and is
//            then measured. The sender side likewise sizes its autotuned
//            buffer at 2 x cwnd (tcp_sndbuf_expand). So we assume half of a
//            buffer carries payload: tcp_rmem[2] and tcp_wmem[2] must be >=
//            2 x bdp for autotuning to get there.
//   request = bdp: what to pass to SO_RCVBUF/SO_SNDBUF (iperf3 -w); the
//            kernel doubles it, so rmem_max/wmem_max must be >= bdp.
// With a better payload ratio (large MSS, GRO) less suffices: this errs on
// the side of enough.
Result<BdpAdvice> bdp_advice(uint64_t rate, Duration rtt, const BufferLimits& lim) {
  if (rate == 0) return usage_error("--bdp: the rate must be greater than 0");
  if (rtt.count() <= 0) return usage_error("--rtt: the round-trip time must be greater than 0");
  BdpAdvice a;
  a.rate = rate;
  a.rtt_seconds = static_cast<double>(rtt.count()) / 1e9;
  long double bdp = std::ceil(static_cast<long double>(rate) * rtt.count() / 1e9L);
  a.possible = bdp * 2 <= INT_MAX;
  a.bdp = bdp >= 1.8e19L ? UINT64_MAX : static_cast<uint64_t>(bdp);
  a.buffer = a.possible ? a.bdp * 2 : UINT64_MAX;
  a.request = a.bdp;
  auto check = [&](std::string name, std::string_view sysctl, size_t idx, uint64_t needed) {
    a.checks.push_back({std::move(name), lim.get(sysctl, idx), needed});
  };
  check("net.ipv4.tcp_rmem[2]", "net.ipv4.tcp_rmem", 2, a.buffer);
  check("net.ipv4.tcp_wmem[2]", "net.ipv4.tcp_wmem", 2, a.buffer);
  check("net.core.rmem_max", "net.core.rmem_max", 0, a.request);
  check("net.core.wmem_max", "net.core.wmem_max", 0, a.request);
  if (a.possible) {
    // Keep min and default; when unreadable, the kernel's own defaults.
    auto triple = [&](std::string_view name, int64_t mid_default, uint64_t needed) {
      auto lo = lim.get(name, 0), mid = lim.get(name, 1);
      return fmt::format("sysctl -w {}=\"{} {} {}\"", name, lo.value_or(4096), mid.value_or(mid_default), needed);
    };
    // Only for limits known to be too small: an unreadable one may not be settable here either.
    auto short_of = [&](size_t i) { return a.checks[i].current && !a.checks[i].ok(); };
    if (short_of(0)) a.sysctl_lines.push_back(triple("net.ipv4.tcp_rmem", 131072, a.buffer));
    if (short_of(1)) a.sysctl_lines.push_back(triple("net.ipv4.tcp_wmem", 16384, a.buffer));
    if (short_of(2)) a.sysctl_lines.push_back(fmt::format("sysctl -w net.core.rmem_max={}", a.request));
    if (short_of(3)) a.sysctl_lines.push_back(fmt::format("sysctl -w net.core.wmem_max={}", a.request));
  }
  auto rmax = lim.get("net.ipv4.tcp_rmem", 2), wmax = lim.get("net.ipv4.tcp_wmem", 2);
  if (rmax && wmax) {
    double window = static_cast<double>(std::min(*rmax, *wmax)) / 2;
    a.autotune_ceiling = window / a.rtt_seconds;
  }
  return a;
}


std::vector<NamedCounter> udp_buffer_counters(std::string_view snmp, std::string_view snmp6) {
  static const char* fields[] = {"RcvbufErrors", "SndbufErrors", "InErrors"};
  CounterTable v4 = parse_counter_pairs(snmp);
  std::map<std::string, int64_t> v6 = parse_name_value_lines(snmp6);
  std::vector<NamedCounter> out;
  for (const char* f : fields) {
    NamedCounter c{fmt::format("Udp{}", f), std::nullopt};
    auto row = v4.find("Udp");
    if (row != v4.end() && row->second.count(f)) c.value = row->second.at(f);
    out.push_back(c);
  }
  for (const char* f : fields) {
    NamedCounter c{fmt::format("Udp6{}", f), std::nullopt};
    if (v6.count(c.name)) c.value = v6.at(c.name);
    out.push_back(c);
  }
  return out;
}

std::string_view udp_counter_meaning(std::string_view name) {
  if (name.ends_with("RcvbufErrors")) return "datagrams dropped: a socket's receive buffer (rb) was full";
  if (name.ends_with("SndbufErrors")) return "sends that failed for lack of send buffer (tb) or memory";
  if (name.ends_with("InErrors")) return "datagrams dropped for any receive error (includes RcvbufErrors)";
  return "";
}

std::vector<NamedCounter> read_udp_counters(const ProcFs& proc) {
  auto snmp = proc.read("net/snmp");
  auto snmp6 = proc.read("net/snmp6");
  return udp_buffer_counters(snmp.ok() ? *snmp : "", snmp6.ok() ? *snmp6 : "");
}

std::vector<NamedCounter> counter_changes(const std::vector<NamedCounter>& before,
                                          const std::vector<NamedCounter>& after) {
  std::vector<NamedCounter> out;
  for (const auto& a : after) {
    NamedCounter d{a.name, std::nullopt};
    for (const auto& b : before) {
      if (b.name == a.name && a.value && b.value) d.value = counter_delta(*b.value, *a.value);
    }
    out.push_back(d);
  }
  return out;
}

FieldRow udp_counter_fields(const std::vector<NamedCounter>& counters, std::optional<double> interval) {
  FieldRow f;
  f.json("protocol", "udp").json("delta", interval.has_value());
  if (interval) f.json("interval", *interval);
  for (const auto& c : counters) f.counter(c.name, c.value, interval.has_value());
  return f;
}


namespace {

// rb/tb against where a fresh socket of this kind starts.
std::optional<std::string> limit_note(const SockInfo& s, const BufferLimits& lim, BufDir d, uint32_t value) {
  std::string_view what = d == BufDir::Send ? "tb" : "rb";
  if (s.transport == Transport::Tcp) {
    if (s.state == kStateListen) return std::nullopt;
    auto start = lim.get(d == BufDir::Send ? "net.ipv4.tcp_wmem" : "net.ipv4.tcp_rmem", 1);
    auto max = lim.get(d == BufDir::Send ? "net.ipv4.tcp_wmem" : "net.ipv4.tcp_rmem", 2);
    if (start && max && value > *max) {
      return fmt::format("{} {} is above tcp_*mem[2]: set with SO_*BUFFORCE or before a limit change", what, value);
    }
    if (start && value > *start) return fmt::format("{} grew past the default {}: autotuning (or SO_*BUF)", what, *start);
    if (start && value < *start) {
      return fmt::format("{} {} is below the default {}: probably set with {} (locked, no autotuning)", what, value,
                         *start, option_name(d, false));
    }
    return std::nullopt;
  }
  auto def = lim.get(d == BufDir::Send ? "net.core.wmem_default" : "net.core.rmem_default");
  if (def && value != *def) return fmt::format("{} {} differs from the default {}: the program set it", what, value, *def);
  return std::nullopt;
}

}  // namespace

std::vector<std::string> live_notes(const SockInfo& s, const BufferLimits& lim) {
  std::vector<std::string> notes;
  // TIME-WAIT and SYN-RECV entries are mini-sockets without buffers.
  bool mini = s.state == kStateTimeWait || s.state == kStateNewSynRecv;
  if (!s.skmem) return mini ? notes : std::vector<std::string>{"no memory info from the kernel (SKMEMINFO missing)"};
  const SkMem& m = *s.skmem;
  if (m.drops > 0) notes.push_back(fmt::format("d={}: packets dropped on this socket (receive buffer full)", m.drops));
  if (m.rcvbuf > 0 && m.rmem_alloc * 10ULL >= m.rcvbuf * 9ULL) {
    notes.push_back(fmt::format("receive queue r={} is {:.0f}% of rb: the reader is not keeping up", m.rmem_alloc,
                                100.0 * m.rmem_alloc / m.rcvbuf));
  }
  if (m.sndbuf > 0 && m.wmem_queued * 10ULL >= m.sndbuf * 9ULL) {
    notes.push_back(fmt::format("send queue w={} is {:.0f}% of tb: the writer blocks until the peer reads or acks",
                                m.wmem_queued, 100.0 * m.wmem_queued / m.sndbuf));
  }
  if (auto n = limit_note(s, lim, BufDir::Receive, m.rcvbuf)) notes.push_back(*n);
  if (auto n = limit_note(s, lim, BufDir::Send, m.sndbuf)) notes.push_back(*n);
  return notes;
}

std::string note_shape(std::string_view note) {
  std::string out;
  for (char c : note) {
    bool digit = c >= '0' && c <= '9';
    if (!digit) out += c;
    else if (out.empty() || out.back() != '#') out += '#';
  }
  return out;
}

}  // namespace sp
