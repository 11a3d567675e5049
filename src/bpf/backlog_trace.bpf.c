// SPDX-License-Identifier: GPL-2.0
// `sockprobe backlog trace`, the kernel side: every connection attempt a
// listener drops or degrades, with the client's address and the listener's
// queues at that moment. Tracepoints only (this project's kernels refuse
// fentry and have no kprobes), CO-RE against the running kernel's BTF.
//
// How the hooks fit net/ipv4/tcp_input.c and tcp_ipv4.c (6.x):
// - A SYN that reaches a listener is handled by tcp_conn_request() and then
//   freed with consume_skb() from tcp_rcv_state_process(), queued or not.
//   When tcp_conn_request() drops it, it first bumps the listener's
//   sk_drops (tcp_listendrop). So tp_btf/consume_skb, for an incoming SYN,
//   finds the listener(s) bound to its destination, compares sk_drops (and
//   the request-socket count) with what it saw last and tells dropped or not.
//   The SYN skb carries no socket (skb->sk is NULL): the listener is found
//   by address and port in the `listeners` map; with SO_REUSEPORT every
//   member is checked and the one whose drops grew is named.
// - A final ACK that finds the accept queue full is dropped by tcp_check_req
//   with reason SKB_DROP_REASON_TCP_LISTEN_OVERFLOW through kfree_skb, whose
//   rx_sk is the listener: tp_btf/kfree_skb reports it as ack_dropped. One
//   that carried a SYN cookie is freed with another reason, after the
//   overflow moved the listener's sk_drops: reported as ack_dropped too.
// - The `listeners` map is filled at start by an iter/tcp run (this network
//   namespace's listeners only) and kept current by
//   tp_btf/inet_sock_set_state (added on entering LISTEN, removed on
//   leaving it).
// Concurrent SYNs to one listener on several CPUs can make one SYN's drop be
// reported against another SYN's client: the comparison is not atomic with
// the kernel's decision. That is the price of having no hook inside
// tcp_conn_request.
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "backlog_trace.h"

char LICENSE[] SEC("license") = "GPL";

#define SP_AF_INET 2
#define SP_AF_INET6 10
#define SP_ETH_P_IP 0x0800
#define SP_ETH_P_IPV6 0x86DD
#define SP_IPPROTO_TCP 6
#define SP_TCP_LISTEN 10
#define SP_TH_SYN 0x02
#define SP_TH_RST 0x04
#define SP_TH_ACK 0x10

const volatile __u16 filter_port = 0;  // 0: every port
const volatile __u32 target_netns = 0; // inode of the network namespace traced

__u64 lost_events = 0;  // ring buffer full

struct sp_listener {
  __u64 sk;
  __u8 addr[16];
  __u16 port;
  __u16 family;
  __u32 last_drops;
  __u32 last_qlen;
  __u32 v6only;
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 8192);
  __type(key, __u64);
  __type(value, struct sp_listener);
} listeners SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 256 * 1024);
} events SEC(".maps");

// Kernels from 6.18 may count drops in per-NUMA counters beside sk_drops.
struct sock___drops {
  struct numa_drop_counters *sk_drop_counters;
} __attribute__((preserve_access_index));

static __always_inline __u32 read_drops(const struct sock *sk) {
  __u32 d = BPF_CORE_READ(sk, sk_drops.counter);
  const struct sock___drops *s = (const void *)sk;
  if (bpf_core_field_exists(s->sk_drop_counters)) {
    struct numa_drop_counters *c = BPF_CORE_READ(s, sk_drop_counters);
    if (c) d += BPF_CORE_READ(c, drops0.counter) + BPF_CORE_READ(c, drops1.counter);
  }
  return d;
}

static __always_inline __u32 read_qlen(const struct sock *sk) {
  const struct inet_connection_sock *icsk = (const void *)sk;
  return BPF_CORE_READ(icsk, icsk_accept_queue.qlen.counter);
}

static __always_inline void add_listener(const struct sock *sk) {
  if (BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum) != target_netns) return;
  if (BPF_CORE_READ(sk, sk_protocol) != SP_IPPROTO_TCP) return;
  struct sp_listener v = {};
  v.port = BPF_CORE_READ(sk, __sk_common.skc_num);
  if (filter_port && v.port != filter_port) return;
  v.sk = (__u64)sk;
  v.family = BPF_CORE_READ(sk, __sk_common.skc_family);
  if (v.family == SP_AF_INET) {
    __be32 a = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
    __builtin_memcpy(v.addr, &a, 4);
  } else if (v.family == SP_AF_INET6) {
    BPF_CORE_READ_INTO(&v.addr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
    v.v6only = BPF_CORE_READ_BITFIELD_PROBED(sk, __sk_common.skc_ipv6only);
  } else {
    return;
  }
  v.last_drops = read_drops(sk);
  v.last_qlen = read_qlen(sk);
  __u64 key = v.sk;
  bpf_map_update_elem(&listeners, &key, &v, BPF_ANY);
}

SEC("iter/tcp")
int enum_listeners(struct bpf_iter__tcp *ctx) {
  struct sock_common *skc = ctx->sk_common;
  if (!skc || skc->skc_state != SP_TCP_LISTEN) return 0;
  add_listener((const struct sock *)skc);
  return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_set_state, const struct sock *sk, int oldstate, int newstate) {
  if (newstate == SP_TCP_LISTEN) {
    add_listener(sk);
  } else if (oldstate == SP_TCP_LISTEN) {
    __u64 key = (__u64)sk;
    bpf_map_delete_elem(&listeners, &key);
  }
  return 0;
}

// The addresses and ports of a TCP packet, from its headers.
struct packet {
  __u8 saddr[16];
  __u8 daddr[16];
  __u16 sport, dport;
  __u16 family;
  __u8 flags;
};

static __always_inline int parse_packet(const struct sk_buff *skb, struct packet *p) {
  unsigned char *head = BPF_CORE_READ(skb, head);
  __u16 nh = BPF_CORE_READ(skb, network_header);
  __u16 th = BPF_CORE_READ(skb, transport_header);
  __u16 proto = bpf_ntohs(BPF_CORE_READ(skb, protocol));
  __u8 next = 0;
  if (proto == SP_ETH_P_IP) {
    p->family = SP_AF_INET;
    bpf_probe_read_kernel(&next, 1, head + nh + 9);
    bpf_probe_read_kernel(p->saddr, 4, head + nh + 12);
    bpf_probe_read_kernel(p->daddr, 4, head + nh + 16);
  } else if (proto == SP_ETH_P_IPV6) {
    p->family = SP_AF_INET6;
    bpf_probe_read_kernel(&next, 1, head + nh + 6);
    bpf_probe_read_kernel(p->saddr, 16, head + nh + 8);
    bpf_probe_read_kernel(p->daddr, 16, head + nh + 24);
  } else {
    return -1;
  }
  if (next != SP_IPPROTO_TCP) return -1;
  __be16 ports[2] = {};
  if (bpf_probe_read_kernel(ports, sizeof ports, head + th) != 0) return -1;
  if (bpf_probe_read_kernel(&p->flags, 1, head + th + 13) != 0) return -1;
  p->sport = bpf_ntohs(ports[0]);
  p->dport = bpf_ntohs(ports[1]);
  return 0;
}

static __always_inline int is_zero(const __u8 *a, int n) {
  for (int i = 0; i < n; i++) {
    if (a[i]) return 0;
  }
  return 1;
}

static __always_inline int same(const __u8 *a, const __u8 *b, int n) {
  for (int i = 0; i < n; i++) {
    if (a[i] != b[i]) return 0;
  }
  return 1;
}

// Would this listener receive the packet (address and port)?
static __always_inline int listener_matches(const struct sp_listener *l, const struct packet *p) {
  if (l->port != p->dport) return 0;
  if (p->family == SP_AF_INET) {
    if (l->family == SP_AF_INET) return is_zero(l->addr, 4) || same(l->addr, p->daddr, 4);
    return l->family == SP_AF_INET6 && !l->v6only && is_zero(l->addr, 16);
  }
  return l->family == SP_AF_INET6 && (is_zero(l->addr, 16) || same(l->addr, p->daddr, 16));
}

static __always_inline void emit(const struct sp_listener *l, const struct packet *p, const struct sock *sk,
                                 __u32 reason, __u32 drops, __u32 qlen) {
  struct sp_trace_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (!e) {
    __sync_fetch_and_add(&lost_events, 1);
    return;
  }
  e->time_ns = bpf_ktime_get_ns();
  e->reason = reason;
  e->family = p->family;
  e->listener_family = l->family;
  __builtin_memcpy(e->listener_addr, l->addr, 16);
  __builtin_memcpy(e->client_addr, p->saddr, 16);
  e->listener_port = l->port;
  e->client_port = p->sport;
  e->queue = BPF_CORE_READ(sk, sk_ack_backlog);
  e->max = BPF_CORE_READ(sk, sk_max_ack_backlog);
  e->syn_queue = qlen;
  e->drops = drops;
  e->pad = 0;
  bpf_ringbuf_submit(e, 0);
}

struct syn_ctx {
  struct packet p;
  int cookie_reported;
};

// What became of this SYN at this listener: dropped (and why), answered with
// a cookie, or queued (0).
static __always_inline __u32 syn_verdict(const struct sp_listener *l, const struct sock *sk, __u32 drops, __u32 qlen) {
  __u32 queue = BPF_CORE_READ(sk, sk_ack_backlog);
  __u32 max = BPF_CORE_READ(sk, sk_max_ack_backlog);
  __u8 cookies = BPF_CORE_READ(sk, __sk_common.skc_net.net, ipv4.sysctl_tcp_syncookies);
  if (drops != l->last_drops) {
    if (queue > max) return SP_REASON_ACCEPT_QUEUE_FULL;
    int max_syn = BPF_CORE_READ(sk, __sk_common.skc_net.net, ipv4.sysctl_max_syn_backlog);
    if (qlen > max || (!cookies && max_syn - (int)qlen < (max_syn >> 2))) return SP_REASON_SYN_QUEUE_FULL;
    return SP_REASON_SYN_DROPPED;
  }
  // A cookie leaves no request socket behind: the SYN queue did not grow.
  if (cookies == 2 || (cookies == 1 && qlen > max && qlen <= l->last_qlen)) return SP_REASON_SYNCOOKIE;
  return 0;
}

static long check_listener(struct bpf_map *map, __u64 *key, struct sp_listener *l, struct syn_ctx *c) {
  if (!listener_matches(l, &c->p)) return 0;
  const struct sock *sk = (const void *)l->sk;
  __u32 drops = read_drops(sk);
  __u32 qlen = read_qlen(sk);
  __u32 reason = syn_verdict(l, sk, drops, qlen);
  if (reason == SP_REASON_SYNCOOKIE && c->cookie_reported) reason = 0;
  if (reason == SP_REASON_SYNCOOKIE) c->cookie_reported = 1;
  if (reason) emit(l, &c->p, sk, reason, drops, qlen);
  l->last_drops = drops;
  l->last_qlen = qlen;
  return 0;
}

SEC("tp_btf/consume_skb")
int BPF_PROG(on_consume_skb, struct sk_buff *skb, void *location) {
  // Incoming (a received interface) and not yet owned by a socket.
  if (BPF_CORE_READ(skb, sk) || BPF_CORE_READ(skb, skb_iif) == 0) return 0;
  struct syn_ctx c = {};
  if (parse_packet(skb, &c.p) != 0) return 0;
  if ((c.p.flags & (SP_TH_SYN | SP_TH_ACK | SP_TH_RST)) != SP_TH_SYN) return 0;
  if (filter_port && c.p.dport != filter_port) return 0;
  struct net_device *dev = BPF_CORE_READ(skb, dev);
  if (dev && BPF_CORE_READ(dev, nd_net.net, ns.inum) != target_netns) return 0;
  bpf_for_each_map_elem(&listeners, check_listener, &c, 0);
  return 0;
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(on_kfree_skb, struct sk_buff *skb, void *location, enum skb_drop_reason reason, struct sock *rx_sk) {
  if (!rx_sk) return 0;
  __u64 key = (__u64)rx_sk;
  struct sp_listener *l = bpf_map_lookup_elem(&listeners, &key);
  if (!l) return 0;
  __u32 drops = read_drops(rx_sk);
  struct packet p = {};
  if (bpf_core_enum_value_exists(enum skb_drop_reason, SKB_DROP_REASON_TCP_LISTEN_OVERFLOW) &&
      reason == bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_TCP_LISTEN_OVERFLOW)) {
    if (parse_packet(skb, &p) == 0) emit(l, &p, rx_sk, SP_REASON_ACK_DROPPED, drops, read_qlen(rx_sk));
  } else if (drops != l->last_drops && parse_packet(skb, &p) == 0 &&
             (p.flags & (SP_TH_SYN | SP_TH_ACK | SP_TH_RST)) == SP_TH_ACK) {
    // A final ACK with a valid SYN cookie that finds the accept queue full:
    // tcp_v4_syn_recv_sock counts the overflow (LISTENOVERFLOWS, sk_drops)
    // and the ACK is freed from the cookie path without the LISTEN_OVERFLOW
    // reason. The listener's drops moved while it freed an ACK: that one.
    emit(l, &p, rx_sk, SP_REASON_ACK_DROPPED, drops, read_qlen(rx_sk));
  }
  // Any drop at the listener moves sk_drops: the next SYN compares from here.
  l->last_drops = drops;
  return 0;
}
