// `backlog test`: an experiment anyone can rerun instead of trusting
// folklore about the listen backlog. Listen on loopback with backlog N and do
// not accept (or accept slowly), open M connections at once, and count what
// the kernel did: handshakes completed, connections waiting in the accept
// queue, SYNs left unanswered, and the TcpExt counter deltas. As root it runs
// in a private network namespace (a forked child calls unshare(CLONE_NEWNET)),
// so the counters belong to the test alone and per-namespace sysctls
// (somaxconn, tcp_syncookies, tcp_abort_on_overflow) can be set safely.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/netstat.h"
#include "core/parse.h"
#include "core/report.h"
#include "core/result.h"

namespace sp {

struct ExperimentOptions {
  int backlog = 4;
  std::optional<int> clients;         // default: effective backlog + 5
  Duration timeout = std::chrono::seconds(2);  // how long clients wait for their handshake
  std::optional<double> accept_rate;  // accepts per second; none: never accept
  // Per-namespace sysctls: only in a private namespace.
  std::optional<int> somaxconn;
  std::optional<int> syncookies;
  std::optional<int> max_syn_backlog;
  bool abort_on_overflow = false;
  bool private_netns = true;  // as root; false runs in the current namespace
  bool syn_queue = false;     // --syn-queue: the SYN queue over a TUN device (syn_experiment.h)
};

struct ExperimentResult {
  bool private_netns = false;
  std::string netns_error;  // why a private namespace could not be made (then it ran here)
  std::string address = "127.0.0.1";
  uint16_t port = 0;
  int requested = 0;
  int effective = 0;  // the listener's maximum (TCP_INFO tcpi_sacked)
  int somaxconn = 0;
  int syncookies = 0;
  int abort_on_overflow = 0;
  int syn_linear_timeouts = -1;  // net.ipv4.tcp_syn_linear_timeouts (6.x); -1: absent
  int clients = 0;
  int established = 0;  // clients whose connect() completed
  int refused = 0;      // clients reset (tcp_abort_on_overflow=1) or refused
  int failed = 0;       // other connect errors
  int unanswered = 0;   // still waiting for a SYN-ACK at the timeout
  int queued = 0;       // connections in the accept queue at the end (tcpi_unacked)
  int accepted = 0;     // with --accept-rate
  double timeout_seconds = 0;
  double accept_rate = 0;  // accepts per second; 0: never accepted
  Counters counters;    // deltas of the listen counters and TCPBacklogDrop
  // --syn-queue (syn_experiment.h); unanswered then counts dropped SYNs.
  bool syn_queue = false;
  int max_syn_backlog = 0;  // net.ipv4.tcp_max_syn_backlog
  int syn_max = 0;          // request sockets the listener keeps (backlog + 1; 0 with syncookies 2)
  int syn_recv = 0;         // request sockets at the end (sock_diag SYN-RECV)
  int synack_clients = 0;   // clients answered with a SYN-ACK (a request socket or a cookie)
  int synack_resent = 0;    // SYN-ACKs the listener sent again
  // Clients answered with a SYN cookie: a SYN-ACK but no request socket.
  int cookies() const;

  // Clients that believe they are connected but sit in no queue: the
  // server dropped their final ACK because the accept queue was full.
  int ack_dropped() const;
};

// Runs the experiment: in a private namespace when opts.private_netns and
// running as root, otherwise on the host's loopback. Needs CAP_NET_ADMIN
// for the sysctl options (usage error otherwise).
Result<ExperimentResult> run_backlog_experiment(const ExperimentOptions& opts);

// The JSON fields of the backlog_test event (also the child->parent wire format).
Json experiment_json(const ExperimentResult& r);
Result<ExperimentResult> experiment_from_json(const Json& j);

}  // namespace sp
