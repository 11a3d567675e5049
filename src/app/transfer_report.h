// Reports for send and recv: the summary (bytes, seconds, rate in bytes/s
// and bits/s, the effective buffer, TCP_INFO, checksum), per-interval lines
// like iperf3 -i, the progress line on a terminal, and stall explanations.
#pragma once

#include <string>

#include "core/address.h"
#include "core/report.h"
#include "core/tcpinfo.h"
#include "core/transfer.h"

namespace sp::app {

struct TransferContext {
  std::string direction;  // "send" or "recv"
  Endpoint peer;
  int fd = -1;            // the connection, for its buffer and TCP_INFO
  std::optional<size_t> stream;  // -P: the stream's number, from 1
  std::string tag;               // --bidir: "TX" or "RX", before each text line
};

// The interval table's columns (TCP senders add kTcpColumns), one row of
// it, and the "interval" event.
extern const std::string_view kIntervalColumns;
extern const std::string_view kTcpColumns;
std::string interval_text(const IntervalReport& r, double bps);
Json interval_json(const TransferContext& ctx, const IntervalReport& r);

// Hooks that print interval lines on `rep` and the progress line on stderr
// (when `progress` is on). `total` is the expected size for the ETA.
TransferHooks make_transfer_hooks(Reporter& rep, const TransferContext& ctx, bool progress,
                                  std::optional<uint64_t> total);
void report_summary(Reporter& rep, const TransferContext& ctx, const TransferStats& stats,
                    const Status& outcome);

// The summary's facts when the socket is gone (recv -k reports each sender
// at its close): the same event, plus "id" and "error" for a server's client.
struct SummaryFacts {
  std::string direction;
  Endpoint peer;
  uint64_t bytes = 0;
  double seconds = 0;
  std::optional<std::string> checksum;
  int buffer = 0;  // sndbuf (send) or rcvbuf (recv)
  std::optional<TcpInfo> tcp;
  std::optional<uint64_t> id;
  std::optional<size_t> stream;  // -P: the stream's number, from 1
  std::string error;  // why it is incomplete
};
void report_summary(Reporter& rep, const SummaryFacts& f, bool complete, bool interrupted);
// --bidir: both directions over the connection `ctx` names (core/bidir.h),
// their interval lines tagged [TX]/[RX] and printed under one lock, then
// both summaries; the first failure is the status.
Status bidir_transfer(Reporter& rep, const TransferContext& ctx, Source& src, Sink& sink, bool until_peer_eof,
                      const TransferOptions& send_opts, const TransferOptions& recv_opts);

// Clears the progress line before other output goes to stderr.
void clear_progress_line();

// Shared by the TCP and UDP reports: bytes/s (0 over no time), the rate
// fields of a JSON event, and the interval table's header, printed once
// before the first line (text mode only).
double rate(uint64_t bytes, double seconds);
void rate_json(Json& j, uint64_t bytes, double seconds);
void header_once(Reporter& rep, bool* shown, std::string_view columns);

// --progress / --no-progress, else on when stderr is a terminal (and not --json/-q).
bool want_progress(bool force_on, bool force_off, const Reporter& rep);

}  // namespace sp::app
