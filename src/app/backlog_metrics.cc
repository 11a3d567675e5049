// `backlog --openmetrics [-o FILE]`: the snapshot's listeners and counters as
// metrics text (core/openmetrics.h), to stdout or to FILE. FILE is replaced
// atomically: the text goes to a temporary file in FILE's directory (named
// FILE.sockprobe-XXXXXX, so node_exporter's *.prom glob never reads it
// half-written) and is renamed over FILE; a FIFO or device is written in
// place. The same sink as `recv -o` (core/transfer.h).
#include <fmt/format.h>

#include "app/backlog_cmd.h"
#include "app/backlog_view.h"
#include "core/atomicio.h"
#include "core/openmetrics.h"
#include "core/transfer.h"

namespace sp::app {
namespace {

std::string metrics_text(const Snapshot& s) {
  std::vector<ListenerMetrics> ls;
  for (const auto& row : s.listeners) {
    const SockInfo& k = row.sock;
    ListenerMetrics m;
    m.protocol = protocol_name(kind_of(k));
    m.address = listener_address(k);
    if (k.transport != Transport::Unix) m.port = k.local_port;
    if (row.owner) m.command = row.owner->command;
    m.queue = k.recv_q;
    m.queue_max = k.send_q;
    if (k.skmem) m.drops = k.skmem->drops;
    if (k.transport != Transport::Unix && s.syn_known) {
      m.syn_recv = row.syn.syn_recv;
      m.syn_recv_group = row.syn.group_key;
    }
    ls.push_back(std::move(m));
  }
  return format_metrics(ls, s.counters);
}

}  // namespace


Status write_metrics(const std::string& text, const std::string& path) {
  if (path.empty()) {
    std::fflush(stdout);
    if (!write_all(1, text.data(), text.size())) return system_error(fmt::format("write stdout: {}", errno_text(errno)));
    return {};
  }
  auto sink = make_file_sink(path);
  if (!sink.ok()) return sink.take_error();
  if (Status st = (*sink)->write(text.data(), text.size()); !st) return st;
  return (*sink)->commit();
}

// Once, or with --watch the file rewritten every interval.
Status run_metrics(const BacklogOptions& o, Reporter& rep) {
  auto snap = take_snapshot(o, rep, true);
  if (!snap.ok()) return snap.take_error();
  if (Status st = write_metrics(metrics_text(*snap), o.output); !st) return st;
  if (!o.watch) return {};
  return every_interval(o, snap->at, [&]() -> Status {
    auto now = take_snapshot(o, rep, false);
    if (!now.ok()) return now.take_error();
    return write_metrics(metrics_text(*now), o.output);
  });
}

}  // namespace sp::app
