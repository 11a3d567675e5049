// send -u / recv -u reporting (see udp_report.h).
#include "app/udp_report.h"

#include <netinet/in.h>

#include <fmt/format.h>

#include "app/transfer_report.h"
#include "core/parse.h"
#include "core/sock.h"
#include "core/sockname.h"
#include "core/udpstats.h"

namespace sp::app {
namespace {

// "Udp" or "Udp6": which of the host's tables counts this peer's datagrams
// (an IPv4-mapped peer of a dual-stack socket is IPv4); "" for Unix.
std::string counter_prefix(const Endpoint& peer) {
  if (peer.family() == AF_INET) return "Udp";
  if (peer.family() != AF_INET6) return "";
  const auto* a6 = reinterpret_cast<const sockaddr_in6*>(&peer.addr);
  return IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr) ? "Udp" : "Udp6";
}

// The deltas of the counters `names` (suffixes) for the peer: JSON and
// "UdpRcvbufErrors +3, UdpInErrors +3".
std::pair<Json, std::string> host_deltas(const UdpHostCounters& before, const Endpoint& peer,
                                         std::initializer_list<const char*> names) {
  Json j = Json::object();
  std::string text;
  std::string prefix = counter_prefix(peer);
  if (prefix.empty()) return {j, text};
  auto changes = counter_changes(before, read_host_udp_counters());
  for (const char* n : names) {
    std::string name = prefix + n;
    for (const auto& c : changes) {
      if (c.name != name || !c.value) continue;
      j[name] = *c.value;
      text += fmt::format("{}{} +{}", text.empty() ? "" : ", ", name, *c.value);
    }
  }
  return {j, text};
}

std::string rate_text(uint64_t bytes, double seconds) {
  double bps = rate(bytes, seconds);
  return fmt::format("{:.0f} bytes/s ({})", bps, human_bits_per_second(bps));
}

double percent(uint64_t part, uint64_t whole) {
  return whole > 0 ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 0;
}

}  // namespace

UdpHostCounters read_host_udp_counters() { return read_udp_counters(ProcFs()); }

UdpSendHooks make_udp_send_hooks(Reporter& rep) {
  UdpSendHooks h;
  h.on_interval = [&rep, shown = false](const UdpSendInterval& iv) mutable {
    header_once(rep, &shown, "[  start-    end s]    datagrams        bytes          rate");
    double secs = iv.end - iv.start;
    Json j{{"direction", "send"}, {"protocol", "udp"}, {"start", iv.start}, {"end", iv.end},
           {"datagrams", iv.datagrams}, {"bytes", iv.bytes}};
    rate_json(j, iv.bytes, secs);
    rep.event("interval", j,
              fmt::format("[{:7.2f}-{:7.2f} s] {:>12} {:>12} {:>13}", iv.start, iv.end, iv.datagrams, iv.bytes,
                          human_bits_per_second(rate(iv.bytes, secs))));
  };
  return h;
}

UdpRecvHooks make_udp_recv_hooks(Reporter& rep) {
  UdpRecvHooks h;
  h.on_interval = [&rep, shown = false](const UdpRecvInterval& iv) mutable {
    header_once(rep, &shown,
                "[  start-    end s]    datagrams        bytes          rate     lost  in_socket  jitter_ms");
    uint64_t got = iv.now.datagrams - iv.before.datagrams;
    uint64_t bytes = iv.now.bytes - iv.before.bytes;
    uint64_t lost = iv.now.lost > iv.before.lost ? iv.now.lost - iv.before.lost : 0;
    uint64_t drops = iv.drops_now - iv.drops_before;
    double secs = iv.end - iv.start;
    Json j{{"direction", "recv"}, {"protocol", "udp"}, {"start", iv.start}, {"end", iv.end},
           {"datagrams", got}, {"bytes", bytes}, {"lost", lost}, {"dropped_in_socket", drops},
           {"jitter_ms", iv.now.jitter_ms}};
    rate_json(j, bytes, secs);
    rep.event("interval", j,
              fmt::format("[{:7.2f}-{:7.2f} s] {:>12} {:>12} {:>13} {:>8} {:>10} {:>10.3f}", iv.start, iv.end, got,
                          bytes, human_bits_per_second(rate(bytes, secs)), lost, drops, iv.now.jitter_ms));
  };
  return h;
}

void report_udp_send(Reporter& rep, const Endpoint& peer, int fd, const UdpSendOptions& o,
                     const UdpSendStats& st, const UdpHostCounters& host, const Status& outcome) {
  int sndbuf = effective_buffers(fd).sndbuf;
  auto [host_json, host_text] = host_deltas(host, peer, {"SndbufErrors"});
  bool interrupted = !outcome.ok() && outcome.error().kind == ErrorKind::Interrupted;
  Json j{{"direction", "send"}, {"protocol", "udp"}, {"datagrams", st.datagrams}, {"bytes", st.bytes},
         {"seconds", st.seconds}};
  rate_json(j, st.bytes, st.seconds);
  j["length"] = o.length;
  j["gso"] = st.gso;
  j["sndbuf"] = sndbuf;
  j["peer"] = endpoint_json(peer);
  j["eagain"] = st.eagain;
  j["enobufs"] = st.enobufs;
  j["host"] = host_json;
  j["final_acked"] = st.final_acked;
  j["complete"] = outcome.ok();
  if (interrupted) j["interrupted"] = true;
  std::string text = fmt::format(
      "Sent {} datagrams, {} bytes ({}) in {}: {}{}\n  to {}, length {}{}, sndbuf {}; refused for now: EAGAIN {}, "
      "ENOBUFS {}{}{}\n  {}",
      st.datagrams, st.bytes, human_bytes(st.bytes), human_duration(st.seconds), rate_text(st.bytes, st.seconds),
      interrupted ? " (interrupted)" : "", endpoint_words(peer), o.length, st.gso ? " (GSO)" : "", sndbuf,
      st.eagain, st.enobufs,
      host_text.empty() ? "" : "; host ", host_text,
      st.final_acked ? "the receiver confirmed the end (its counts are in its own summary)"
                     : "no receiver confirmed the end (not sockprobe recv -u, gone, or the final datagrams were lost)");
  rep.event("summary", j, text);
}

void report_udp_recv(Reporter& rep, int fd, const UdpRecvStats& st, const UdpHostCounters& host,
                     const Status& outcome) {
  const UdpCounts& c = st.counts;
  int rcvbuf = effective_buffers(fd).rcvbuf;
  UdpLossSplit split = split_loss(c.lost, st.socket_drops);
  std::string verdict = loss_verdict(split, static_cast<uint64_t>(rcvbuf));
  auto [host_json, host_text] = host_deltas(host, st.peer, {"RcvbufErrors", "InErrors"});
  bool interrupted = !outcome.ok() && outcome.error().kind == ErrorKind::Interrupted;
  Json j{{"direction", "recv"}, {"protocol", "udp"}, {"datagrams", c.datagrams}, {"bytes", c.bytes},
         {"seconds", st.seconds}};
  rate_json(j, c.bytes, st.seconds);
  j["peer"] = st.peer.len > 0 ? endpoint_json(st.peer) : Json(nullptr);
  j["rcvbuf"] = rcvbuf;
  j["expected"] = c.expected;
  j["lost"] = c.lost;
  j["lost_percent"] = percent(c.lost, c.expected);
  j["dropped_in_socket"] = split.dropped_in_socket;
  j["lost_in_network"] = split.lost_in_network;
  j["duplicates"] = c.duplicates;
  j["reordered"] = c.reordered;
  j["late"] = c.late;
  j["jitter_ms"] = c.jitter_ms;
  j["foreign"] = st.foreign;
  j["final"] = st.got_final;
  j["host"] = host_json;
  j["verdict"] = verdict;
  j["complete"] = outcome.ok();
  if (interrupted) j["interrupted"] = true;
  std::string text = fmt::format(
      "Received {} datagrams, {} bytes ({}) in {}: {}{}\n  from {}, rcvbuf {}{}\n"
      "  lost {} of {} ({:.2f}%): {} dropped in the socket, {} lost in the network; {} duplicates, {} reordered, "
      "{} late; jitter {:.3f} ms",
      c.datagrams, c.bytes, human_bytes(c.bytes), human_duration(st.seconds), rate_text(c.bytes, st.seconds),
      interrupted ? " (interrupted)" : "", st.peer.len > 0 ? endpoint_words(st.peer) : "nobody", rcvbuf,
      st.got_final ? "" : " (no final datagram: expected counts up to the highest sequence seen)", c.lost,
      c.expected, percent(c.lost, c.expected), split.dropped_in_socket, split.lost_in_network, c.duplicates,
      c.reordered, c.late, c.jitter_ms);
  if (!host_text.empty()) text += "\n  host " + host_text;
  if (st.foreign > 0) text += fmt::format("\n  ignored {} datagrams from other senders or not sockprobe's", st.foreign);
  if (!verdict.empty()) text += "\n  " + verdict;
  rep.event("summary", j, text);
}

}  // namespace sp::app
