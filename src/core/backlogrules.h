// Why: what `backlog` concludes about a listener — how full its accept
// queue is, whether its maximum was clamped to somaxconn, which notes it
// earns, what changed over a --watch interval, why a --check fails, what
// each sysctl value means — are rules about the kernel, not about printing.
// Here they are pure functions over made-up or captured input, unit-tested
// (backlogrules_test.cc) beside bufrules, and the front-end only prints them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/fields.h"
#include "core/netstat.h"
#include "core/owners.h"
#include "core/sockdiag.h"
#include "core/synqueue.h"

namespace sp {

// One listener as `backlog` sees it: the socket, its owner, its SYN queue.
struct ListenerRow {
  SockInfo sock;
  std::optional<SocketOwner> owner;
  SynQueue syn;  // zeros for Unix listeners
};

// ---- one listener --------------------------------------------------------

// Accept-queue fill in percent: depth / (max + 1), as Linux holds max + 1
// connections, so 100 % means the next SYN (or connect) is dropped.
double fill_pct(const SockInfo& s);
// The maximum equals somaxconn: listen() probably asked for more.
bool clamped(const SockInfo& s, std::optional<int64_t> somaxconn);
// skmem d; 0 when the kernel sent no meminfo.
uint32_t drops_of(const SockInfo& s);
// "(unnamed)" for an unnamed Unix socket, else the local address (raw).
std::string listener_address(const SockInfo& s);
// Where a listener is, in a sentence: "127.0.0.1 port 80", or its Unix name;
// terminal-safe (another user names the socket).
std::string listener_where(const SockInfo& s);
// The accept queue's notes: above `threshold` % "FULL: new SYNs are
// dropped" (100 % or more) or "filling up"; "max = somaxconn: probably
// clamped".
std::vector<std::string> accept_notes(const SockInfo& s, std::optional<int64_t> somaxconn, double threshold);
// The SYN queue's notes: an SO_REUSEPORT group (its numbers are the
// group's), a full queue (new SYNs get cookies or are dropped), past 3/4 of
// tcp_max_syn_backlog with tcp_syncookies = 0.
std::vector<std::string> syn_queue_notes(const SynQueue& q, const SynLimit& lim);
// Notes in one cell: "a; b".
std::string join_notes(const std::vector<std::string>& notes);

// What the summary under the table counts.
struct ListenerTally {
  size_t clamped = 0, above = 0, hidden = 0;  // hidden: owner not visible
};
ListenerTally tally(const std::vector<ListenerRow>& rows, std::optional<int64_t> somaxconn, double threshold);

// ---- the sysctls and counters --------------------------------------------

// One line on what a backlog sysctl's value does (somaxconn,
// tcp_max_syn_backlog, tcp_syncookies, tcp_abort_on_overflow).
std::string backlog_sysctl_meaning(std::string_view name, std::optional<int64_t> value);
// The listen counters (listen_counter_names(), then TCPBacklogDrop), each
// once: its kernel name as JSON key and as the text's label, its value (null
// and "n/a" when this kernel lacks it; "+N" when `delta`), then "delta"
// (JSON only). The `counters` event, the Overflow counters table and a
// --watch round's changes line are all views of it.
FieldRow counter_fields(const Counters& c, bool delta);
// A --watch round's counter changes in a line, from counter_fields(d, true):
// "  ListenOverflows +3 ...", or "  no listen counter changed".
std::string counter_changes_text(const FieldRow& deltas);

// ---- a --watch interval ----------------------------------------------------

struct ListenerDelta {
  const ListenerRow* now = nullptr;
  int64_t queue_delta = 0;
  std::optional<int64_t> drops_delta;  // nullopt: a new listener
  int64_t syn_delta = 0, retrans_delta = 0;
};
// Each listener of `now` against itself in `prev` (by socket cookie); a new
// listener's deltas are its values.
std::vector<ListenerDelta> listener_deltas(const std::vector<ListenerRow>& prev, const std::vector<ListenerRow>& now);
// Worth a row without -v: something queued or changed.
bool moved(const ListenerDelta& d);

// ---- --check ---------------------------------------------------------------

struct BacklogCheck {
  double fail_above = 80;
  bool fail_on_overflow = false, fail_on_drops = false;
  std::optional<uint16_t> port;  // the selection (--port, --pid)
  std::optional<int> pid;
};
// A check passes only when it checked something: no listener selected is
// a failure ("no listener matches --port 9999"); then each one above
// fail_above.
std::vector<std::string> fill_failures(const std::vector<ListenerRow>& rows, const BacklogCheck& c);
// The listeners whose drops (skmem d) grew this interval.
std::vector<std::string> drop_failures(const std::vector<ListenerDelta>& ds);
// --fail-on-drops: the selected listeners' drops. --fail-on-overflow: with
// --port/--pid the same, otherwise the namespace's ListenOverflows/ListenDrops.
std::vector<std::string> overflow_failures(const BacklogCheck& c, const Counters& deltas,
                                           const std::vector<ListenerDelta>& ds);
// "Check passed: no selected listener above 80% full[ and no overflow]."
std::string check_passed_text(const BacklogCheck& c);
// "check failed: FIRST[ (and N more)]"; failures must not be empty.
std::string check_failed_text(const std::vector<std::string>& failures);

}  // namespace sp
