// Reports of send -u and recv -u: the interval lines (with a header, like
// iperf3 -u -i), the summaries with the loss split by cause and the host's
// UDP error counters beside it, and the one-line verdict on the loss. Text
// and JSON come from the same numbers in one function each.
#pragma once

#include <string>
#include <vector>

#include "core/bufrules.h"
#include "core/report.h"
#include "core/udptransfer.h"

namespace sp::app {

// The host's UDP counters (/proc/net/snmp, snmp6) as read before the
// transfer; the summaries show the deltas of those that matter for their
// side and the peer's family.
using UdpHostCounters = std::vector<NamedCounter>;
UdpHostCounters read_host_udp_counters();

UdpSendHooks make_udp_send_hooks(Reporter& rep);
UdpRecvHooks make_udp_recv_hooks(Reporter& rep);

void report_udp_send(Reporter& rep, const Endpoint& peer, int fd, const UdpSendOptions& o,
                     const UdpSendStats& st, const UdpHostCounters& host, const Status& outcome);
void report_udp_recv(Reporter& rep, int fd, const UdpRecvStats& st, const UdpHostCounters& host,
                     const Status& outcome);

}  // namespace sp::app
