// `backlog --openmetrics [-o FILE]`: the snapshot's listeners and counters as
// metrics text (core/openmetrics.h), to stdout or to FILE. FILE is replaced
// atomically: the text goes to a temporary file in FILE's directory (named
// FILE.sockprobe-XXXXXX, so node_exporter's *.prom glob never reads it
// half-written) and is renamed over FILE; a FIFO or device is written in
// place. The same sink as `recv -o` (core/transfer.h).
#include <fmt/format.h>

#include "app/backlog_cmd.h"
#include "core/atomicio.h"
#include "core/transfer.h"

namespace sp::app {

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

}  // namespace sp::app
