// `backlog test --syn-queue`: the SYN queue filling up, which loopback can
// never show (on loopback the final ACK always arrives at once). Inside the
// experiment's private network namespace sockprobe makes a TUN device,
// listens on its address with backlog N, and writes M clients' SYNs into the
// device itself; it reads the listener's SYN-ACKs back and never answers
// them, so every handshake waits for a final ACK that never comes. Then it
// counts what the kernel kept: request sockets (sock_diag SYN-RECV, matched
// as `backlog` does), SYN-ACKs answered with a cookie, SYNs dropped, the
// SYN-ACK resends, and the TcpExt deltas (TCPReqQFullDoCookies,
// TCPReqQFullDrop, SyncookiesSent).
//
// Decision: a TUN device with hand-written SYNs instead of a second
// namespace over veth with nftables dropping the client's final ACKs (what
// the bats truth tests do, tests/e2e/netns.bash): it needs neither the nft
// binary nor a second namespace, one process sees both sides, and the
// clients' SYNs are exactly M, never resent, so each count is one client.
// The two agree: backlog 2 keeps 3 request sockets and gives the rest
// cookies in both (syn_queue.bats).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/backlog_experiment.h"
#include "core/result.h"

namespace sp {

// Pure: an IPv4 TCP SYN (with an MSS option) from src:sport to dst:dport,
// checksums filled in. Addresses in network byte order.
std::vector<uint8_t> build_syn(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, uint32_t seq);

// Pure: if `pkt` is an IPv4 TCP SYN-ACK from dport, its destination port
// (the client's); nullopt for anything else.
std::optional<uint16_t> synack_client_port(const uint8_t* pkt, size_t len, uint16_t listener_port);

// The internet checksum (RFC 1071) of `len` bytes, folded, not inverted.
uint32_t ones_sum(const uint8_t* p, size_t len, uint32_t sum = 0);

// Runs the SYN-queue experiment in the current (private) namespace: fills
// r's SYN-queue fields, its client counts and its counter deltas.
Status syn_queue_here(const ExperimentOptions& o, ExperimentResult* r);

}  // namespace sp
