// The record the backlog_trace BPF program (backlog_trace.bpf.c) puts in its
// ring buffer, one per dropped or degraded connection attempt at a
// listener. Shared by the BPF C program and by core/trace_events.cc, which
// decodes it; plain fixed-width fields, no padding holes, so that both
// compilers lay it out the same (checked by a static_assert there).
#ifndef SOCKPROBE_BPF_BACKLOG_TRACE_H
#define SOCKPROBE_BPF_BACKLOG_TRACE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

enum sp_trace_reason {
  SP_REASON_ACCEPT_QUEUE_FULL = 1,  // SYN dropped: the accept queue was full
  SP_REASON_SYN_QUEUE_FULL = 2,     // SYN dropped: the SYN queue was full (no cookies)
  SP_REASON_ACK_DROPPED = 3,        // final ACK dropped: the accept queue was full
  SP_REASON_SYNCOOKIE = 4,          // SYN answered with a cookie
  SP_REASON_SYN_DROPPED = 5,        // SYN dropped for another reason (listener's drops grew)
};

struct sp_trace_event {
  __u64 time_ns;       // bpf_ktime_get_ns(): CLOCK_MONOTONIC
  __u32 reason;        // enum sp_trace_reason
  __u16 family;        // AF_INET or AF_INET6 of the packet
  __u16 listener_family;
  __u8 listener_addr[16];  // IPv4 in the first 4 bytes
  __u8 client_addr[16];
  __u16 listener_port;     // host order
  __u16 client_port;       // host order
  __u32 queue;             // accept queue depth (sk_ack_backlog) then
  __u32 max;               // sk_max_ack_backlog
  __u32 syn_queue;         // request sockets (icsk_accept_queue.qlen) then
  __u32 drops;             // the listener's sk_drops then
  __u32 pad;
};

#endif
