// `backlog --openmetrics`: the per-listener figures node_exporter does not
// have (accept queue, its maximum, drops, SYN-RECV) and the TcpExt listen
// counters as metrics text for node_exporter's textfile collector and
// Prometheus. Pure formatting over plain values, so the escaping of label
// values (Unix socket names and command names are chosen by other users) is
// unit-tested without sockets.
//
// Decision: counters are named with `_total` in their TYPE and HELP lines
// too (`# TYPE sockprobe_listener_drops_total counter`), the form of the
// Prometheus text format. node_exporter's textfile collector reads only that
// format (node_exporter#1988 is still open), and `promtool check metrics`
// rejects the strict OpenMetrics family name without `_total` ("no help
// text"); Prometheus' OpenMetrics parser accepts this form as well (checked
// with `promtool tsdb create-blocks-from openmetrics`), so the text ends
// with OpenMetrics' `# EOF`, a comment to the older parsers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/netstat.h"

namespace sp {

struct ListenerMetrics {
  std::string protocol;          // "tcp" or "unix"
  std::string address;           // "127.0.0.1", "::", "/run/x.sock", "@name"
  std::optional<uint16_t> port;  // none for Unix
  std::string command;           // owner's command; "" when not visible
  uint64_t queue = 0;            // accept-queue depth
  uint64_t queue_max = 0;        // effective backlog
  std::optional<uint64_t> drops;      // skmem d; none when the kernel sent no meminfo
  std::optional<uint64_t> syn_recv;   // request sockets; none for Unix
  // Listeners of one SO_REUSEPORT group share their SYN-RECV count (the
  // kernel does not say which member a request socket belongs to): equal
  // non-zero keys are one group, counted once.
  uint64_t syn_recv_group = 0;
};

// A label value with OpenMetrics' escapes (\\, \", \n). Bytes that are not
// valid UTF-8 and the other control characters (C0, DEL, C1) become U+FFFD,
// so a hostile name can neither break the line nor reach a terminal raw.
std::string metrics_label_value(std::string_view value);

// "ListenOverflows" -> "listen_overflows", "TCPReqQFullDoCookies" ->
// "tcp_req_q_full_do_cookies": Prometheus' snake_case metric names.
std::string metrics_snake_case(std::string_view kernel_name);

// The whole exposition: every listener metric family, then the listen
// counters (listen_counter_names() and TCPBacklogDrop) that `counters`
// holds as sockprobe_tcpext_NAME_total, then "# EOF". Listeners with the
// same labels (an SO_REUSEPORT group of one program) are one series: their
// queues, maxima and drops added, their shared SYN-RECV count taken once.
std::string format_metrics(const std::vector<ListenerMetrics>& listeners, const Counters& counters);

}  // namespace sp
