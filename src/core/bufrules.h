// Why: "I asked for 4000 and got 8000", "iperf3 -w 16M did nothing" and
// "30 MB/s over 50 ms" all have exact answers in the kernel's buffer rules
// (sk_setsockopt in net/core/sock.c, tcp_init_sock, tcp_win_from_space).
// This file holds those rules as pure functions over the limits read from
// /proc/sys, so every explanation sockprobe prints can be unit-tested with
// captured values from other kernels instead of changing the host.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/fields.h"
#include "core/parse.h"
#include "core/procfs.h"
#include "core/sockdiag.h"

namespace sp {

// ---- System limits -------------------------------------------------------

struct SysctlValue {
  std::string name;                            // "net.core.rmem_max"
  std::optional<std::vector<int64_t>> values;  // nullopt: unavailable
  std::string error;                           // why unavailable
};

struct BufferLimits {
  std::vector<SysctlValue> sysctls;  // in display order
  // One integer of a sysctl (index 0..2 for the tcp_rmem style triples).
  std::optional<int64_t> get(std::string_view name, size_t index = 0) const;
};

// The sysctls `buffers` shows, in order.
const std::vector<std::string_view>& buffer_sysctl_names();
// One line saying what the sysctl does.
std::string_view sysctl_meaning(std::string_view name);
// Reads them all through the replay seam; a missing file is unavailable.
BufferLimits read_buffer_limits(const ProcFs& proc);

// ---- Socket kinds --------------------------------------------------------

enum class SockKind { Tcp4, Tcp6, Udp4, Udp6, UnixStream, UnixDgram };
inline constexpr SockKind kAllSockKinds[] = {SockKind::Tcp4, SockKind::Tcp6,       SockKind::Udp4,
                                             SockKind::Udp6, SockKind::UnixStream, SockKind::UnixDgram};
std::string sock_kind_name(SockKind k);  // "tcp4", "unix-dgram", ...
bool is_tcp(SockKind k);

enum class BufDir { Send, Receive };
std::string_view option_name(BufDir d, bool force);  // "SO_SNDBUF", "SO_RCVBUFFORCE"

// The floor the kernel raises small values to (SOCK_MIN_SNDBUF and
// SOCK_MIN_RCVBUF). They depend on sizeof(struct sk_buff), so bufprobe
// measures them; these defaults are what x86-64 6.x kernels use.
struct KernelMinima {
  int64_t sndbuf = 4608;
  int64_t rcvbuf = 2304;
  int64_t of(BufDir d) const { return d == BufDir::Send ? sndbuf : rcvbuf; }
};

// ---- A fresh socket ------------------------------------------------------

// Where a new socket's value comes from: tcp_wmem[1]/tcp_rmem[1] for TCP,
// wmem_default/rmem_default for UDP and Unix.
struct DefaultRule {
  std::string source;              // "net.ipv4.tcp_rmem[1]"
  std::optional<int64_t> value;    // nullopt: that sysctl is unavailable
};
DefaultRule fresh_default(SockKind k, BufDir d, const BufferLimits& lim);
// One line: why a fresh socket of this kind reports `measured`.
std::string explain_fresh(SockKind k, BufDir d, const BufferLimits& lim, int64_t measured);

// ---- A setsockopt request ------------------------------------------------

// The int actually handed to setsockopt: SIZE values above INT_MAX are capped.
int setsockopt_value(uint64_t requested);

struct SetPrediction {
  uint64_t requested = 0;
  int64_t passed = 0;                 // setsockopt_value(requested)
  bool force = false;                 // SO_*BUFFORCE used (and allowed)
  std::optional<int64_t> limit;       // wmem_max / rmem_max (nullopt: unknown)
  bool clamped = false;               // the request exceeded the limit
  bool halved_int = false;            // capped at INT_MAX/2 so doubling fits an int
  bool raised = false;                // 2 x value fell below the minimum
  int64_t minimum = 0;
  std::optional<int64_t> effective;   // nullopt when the limit is unknown
};
// sk_setsockopt's rule: clamp to *_max (not with FORCE), cap at INT_MAX/2,
// double, raise to the minimum.
SetPrediction predict_set(BufDir d, uint64_t requested, bool force, const BufferLimits& lim,
                          const KernelMinima& min);
// One line: why `measured` came out of the request. Mentions a disagreement
// with the prediction if there is one.
std::string explain_set(BufDir d, const SetPrediction& p, int64_t measured);
// TCP only: the consequence of having set it (autotuning off, set it before
// connect/listen). Empty for other kinds.
std::string tcp_lock_note(SockKind k, BufDir d, const BufferLimits& lim, int64_t measured);

// ---- Bandwidth-delay product ---------------------------------------------

struct BdpAdvice {
  uint64_t rate = 0;                // bytes per second
  double rtt_seconds = 0;
  uint64_t bdp = 0;                 // bytes in flight to fill the pipe
  uint64_t buffer = 0;              // sk_rcvbuf / sk_sndbuf one flow needs (2 x bdp)
  uint64_t request = 0;             // SO_RCVBUF/SO_SNDBUF to ask for (= bdp; the kernel doubles)
  bool possible = true;             // false: beyond what one socket can hold (INT_MAX)
  struct Check {
    std::string name;               // "net.ipv4.tcp_rmem[2]"
    std::optional<int64_t> current; // nullopt: unavailable
    uint64_t needed = 0;
    bool ok() const { return current && *current >= 0 && static_cast<uint64_t>(*current) >= needed; }
  };
  std::vector<Check> checks;        // tcp_rmem[2], tcp_wmem[2], rmem_max, wmem_max
  std::vector<std::string> sysctl_lines;  // "sysctl -w ..." for every failing check
  // What one flow can reach with the current autotuning maximum.
  std::optional<double> autotune_ceiling;  // bytes per second
};
// Usage errors for a zero rate or RTT.
Result<BdpAdvice> bdp_advice(uint64_t rate, Duration rtt, const BufferLimits& lim);


// ---- UDP buffer error counters -------------------------------------------

// UdpRcvbufErrors, UdpSndbufErrors, UdpInErrors from /proc/net/snmp and the
// Udp6 ones from /proc/net/snmp6, named as nstat names them. A counter the
// kernel does not have (or a missing file: pass "") is nullopt.
struct NamedCounter {
  std::string name;
  std::optional<int64_t> value;
};
std::vector<NamedCounter> udp_buffer_counters(std::string_view snmp, std::string_view snmp6);
std::string_view udp_counter_meaning(std::string_view name);
// The same, read from ROOT/net/snmp and ROOT/net/snmp6 (buffers --port,
// send -u / recv -u before and after).
std::vector<NamedCounter> read_udp_counters(const ProcFs& proc);
// after - before per name as counter_delta counts it (nullopt when either
// side lacks it).
std::vector<NamedCounter> counter_changes(const std::vector<NamedCounter>& before,
                                          const std::vector<NamedCounter>& after);
// The counters, each field once: the "counters" event (protocol "udp";
// "delta" false for totals, true with "interval" seconds for a --watch
// round's changes) and a text line per counter (column: its name; text: the
// value, "+N"/"-N" for a change, "n/a" when the kernel lacks it).
FieldRow udp_counter_fields(const std::vector<NamedCounter>& counters, std::optional<double> interval);


// ---- Live sockets ----------------------------------------------------------

// Short remarks on a live socket's memory (drops, a nearly full receive or
// send buffer, rb/tb versus the defaults). Empty when nothing stands out.
std::vector<std::string> live_notes(const SockInfo& s, const BufferLimits& lim);
// A note with its numbers taken out ("d=3: ..." and "d=7: ..." are one
// shape): a --watch round explains a shape once per socket, the table's
// columns show how the numbers move.
std::string note_shape(std::string_view note);

}  // namespace sp
