// Socket reports shared by listen and connect (see conn_report.h).
#include "app/conn_report.h"

#include <fmt/format.h>

#include "app/common.h"
#include "core/tcpinfo.h"

namespace sp::app {
namespace {

// The listener's accept queue right now, as JSON and as text
// (", accept queue 0/128"); nothing for UDP or when the kernel says nothing.
void add_accept_queue(int listen_fd, Json* j, std::string* text) {
  if (auto q = listener_queue(listen_fd)) {
    (*j)["accept_queue"] = Json{{"depth", q->depth}, {"max", q->max}};
    *text += fmt::format(", accept queue {}/{}", q->depth, q->max);
  }
}

}  // namespace

// listening and connected carry their endpoint's fields inline: "address"
// and "port", or "path" for a Unix socket.
void report_listening(Reporter& rep, const Listener& l) {
  BufferSizes b = effective_buffers(l.fd.get());
  Json j = endpoint_json(l.local);
  j["protocol"] = protocol_name(kind_of(l.local, l.transport));
  std::string details;
  if (l.transport != Transport::Udp) {
    j["backlog"] = Json{{"requested", l.backlog_requested}, {"effective", l.backlog_effective}};
    details = fmt::format("backlog {}", l.backlog_effective);
    if (l.backlog_effective != l.backlog_requested) details += fmt::format(" (requested {})", l.backlog_requested);
    add_accept_queue(l.fd.get(), &j, &details);
    details += ", ";
  }
  j["sndbuf"] = b.sndbuf;
  j["rcvbuf"] = b.rcvbuf;
  details += fmt::format("sndbuf {}, rcvbuf {}", b.sndbuf, b.rcvbuf);
  // Shown even with -q: with port 0 this line is the only way to learn the port.
  rep.event("listening", j,
            fmt::format("Listening on {} ({}, {})", endpoint_words(l.local), j["protocol"].get<std::string>(), details), -1);
}

void report_accepted(Reporter& rep, int listen_fd, const ConnectionReport& c) {
  // Buffers: the accepted socket's own, read right after accept. Only sizes
  // the listener set are copied from it; an unset send buffer was already
  // grown at the handshake (man page, BEHAVIOUR). Queue: the listener's
  // accept queue right now.
  Json j = Json{{"id", c.id}};
  j["peer"] = endpoint_json(c.peer);
  j["sndbuf"] = c.sndbuf;
  j["rcvbuf"] = c.rcvbuf;
  std::string queue;
  add_accept_queue(listen_fd, &j, &queue);
  rep.event("accepted", j,
            fmt::format("Connection from {} (sndbuf {}, rcvbuf {}{})", endpoint_words(c.peer), c.sndbuf, c.rcvbuf, queue));
}

void report_connected(Reporter& rep, int fd, const Endpoint& peer, Transport t) {
  BufferSizes b = effective_buffers(fd);
  Endpoint local = local_endpoint(fd);
  Json j = endpoint_json(peer);
  j["protocol"] = protocol_name(kind_of(peer, t));
  if (local.family() != AF_UNIX) j["local"] = endpoint_json(local);
  j["sndbuf"] = b.sndbuf;
  j["rcvbuf"] = b.rcvbuf;
  rep.event("connected", j,
            fmt::format("Connected to {} ({}, sndbuf {}, rcvbuf {})", endpoint_words(peer),
                        j["protocol"].get<std::string>(), b.sndbuf, b.rcvbuf), 1);
}

void report_closed(Reporter& rep, const ConnectionReport& c, int min_verbosity) {
  Json j = Json{{"id", c.id}};
  j["peer"] = endpoint_json(c.peer);
  j["bytes_in"] = c.bytes_in;
  j["bytes_out"] = c.bytes_out;
  j["seconds"] = c.seconds;
  j["sndbuf"] = c.sndbuf;
  j["rcvbuf"] = c.rcvbuf;
  if (!c.error.empty()) j["error"] = c.error;
  std::string tcp;
  if (c.has_tcp_info) {
    j["tcp_info"] = tcp_info_json(c.tcp_info);
    tcp = ", " + tcp_info_summary(c.tcp_info);
  }
  rep.event("closed", j,
            fmt::format("Closed {}: {} in, {} out, {}, sndbuf {}, rcvbuf {}{}{}", endpoint_words(c.peer), c.bytes_in,
                        c.bytes_out, human_duration(c.seconds), c.sndbuf, c.rcvbuf, tcp,
                        c.error.empty() ? "" : " (" + c.error + ")"),
            min_verbosity);
}

void finish_connection(Reporter& rep, int fd, ConnectionReport& c, const RelayStats& stats,
                       std::chrono::steady_clock::time_point started, const Status& st) {
  c.bytes_in = stats.bytes_received;
  c.bytes_out = stats.bytes_sent;
  c.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  record_close_state(fd, &c);
  if (!st) c.error = st.error().message;
  // After SIGINT the summary is shown even without -v: the user asked to
  // stop and wants to know what got through (exit 130 follows).
  bool interrupted = !st && st.error().kind == ErrorKind::Interrupted;
  report_closed(rep, c, interrupted ? 0 : 1);
  // The default stop at the peer's EOF must not lose data silently.
  if (stats.input_left > 0) {
    rep.warning(fmt::format("the peer closed its side first: {} bytes of input were not sent "
                            "(--keep-sending sends them anyway)", stats.input_left));
  }
  // `connect ... | head -1`: done, exit 0, silent unless -v (as nc).
  if (stats.output_closed) {
    rep.event("output_closed", Json{}, "The reader of standard output left: done", 1);
  }
}

void ServedTotals::add(const ConnectionReport& c) {
  ++connections;
  bytes_in += c.bytes_in;
  bytes_out += c.bytes_out;
}

void ServedTotals::report(Reporter& rep) const {
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  rep.event("served",
            Json{{"connections", connections}, {"bytes_in", bytes_in}, {"bytes_out", bytes_out}, {"seconds", secs}},
            fmt::format("Interrupted after {}: {}, {} in, {} out", human_duration(secs),
                        counted(connections, "connection"), bytes_in, bytes_out));
}

}  // namespace sp::app
