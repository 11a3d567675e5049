// `backlog --openmetrics [-o FILE]`: the snapshot's listeners and counters as
// metrics text (core/openmetrics.h), each listener's labels and values read
// from the fields its JSON event and table row are built from (so the three
// cannot drift), to stdout or to FILE. FILE is replaced
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

// Each listener's labels and values are read back from listener_fields,
// the definition its JSON event and table row come from, not derived again.
ListenerMetrics listener_metrics(const ListenerRow& row, const Snapshot& s, double threshold) {
  FieldRow f = listener_fields(row, s, threshold);
  ListenerMetrics m;
  m.protocol = string_of(f, "protocol");
  // The one figure not read back: an unnamed Unix listener's label is
  // "(unnamed)", as in the table, where its JSON address is "".
  m.address = listener_address(row.sock);
  if (auto port = unsigned_of(f, "port")) m.port = static_cast<uint16_t>(*port);
  m.command = string_of(f, "command");
  m.queue = unsigned_of(f, "queue").value_or(0);
  m.queue_max = unsigned_of(f, "max").value_or(0);
  m.drops = unsigned_of(f, "drops");
  m.syn_recv = unsigned_of(f, "syn_recv");
  // Not a reported field: the key that merges an SO_REUSEPORT group's
  // shared SYN-RECV count into one series.
  if (m.syn_recv) m.syn_recv_group = row.syn.group_key;
  return m;
}

std::string metrics_text(const Snapshot& s, double threshold) {
  std::vector<ListenerMetrics> ls;
  for (const auto& row : s.listeners) ls.push_back(listener_metrics(row, s, threshold));
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
  if (Status st = write_metrics(metrics_text(*snap, o.fail_above), o.output); !st) return st;
  if (!o.watch) return {};
  return every_interval(o, snap->at, [&]() -> Status {
    auto now = take_snapshot(o, rep, false);
    if (!now.ok()) return now.take_error();
    return write_metrics(metrics_text(*now, o.fail_above), o.output);
  });
}

}  // namespace sp::app
