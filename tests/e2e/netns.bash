# Two throwaway network namespaces joined by a veth pair, and nftables rules
# that lose chosen packets between them (this kernel has no netem). For bats
# files (`load netns` after `load helpers`: the namespaces go into SP_NETNS,
# which sp_teardown deletes, and with them the veth pair and the nft tables)
# and for plain bash scripts (source it, then `trap netns_cleanup EXIT`).
#
#   netns_pair              NS_SRV (192.0.2.1, 2001:db8::1) <-veth-> NS_CLI (.2, ::2)
#   netns_drop_final_acks P the client's packets to port P other than SYNs are
#                           dropped in NS_CLI: handshakes stay in SYN-RECV on
#                           the server, which keeps resending its SYN-ACK
#   netns_dropped           packets those rules dropped so far
#   netns_lose_in MATCH     in NS_SRV's input hook, drops the packets that
#                           match the nft expression MATCH (counted), as a
#                           lossy link would: the sender sees no error
#   netns_lost_in           packets that rule dropped so far
#   netns_cleanup           deletes the namespaces this file created
#
# Needs root, ip (iproute2) and nft (nftables); in bats a missing one skips.
# Addresses are TEST-NET-1 and the documentation prefix, only ever inside
# the namespaces made here.

if ! type skip >/dev/null 2>&1; then
  skip() {
    echo "skipped: $*" >&2
    exit 77
  }
fi

NETNS_SRV_ADDR=192.0.2.1
NETNS_CLI_ADDR=192.0.2.2
NETNS_SRV_ADDR6=2001:db8::1
NETNS_CLI_ADDR6=2001:db8::2

# netns_two: NS_SRV and NS_CLI, made (lo up) and registered for teardown;
# the one way netns_pair and netsim_pair start.
netns_two() {
  [ "$(id -u)" = 0 ] || skip "network namespaces need root"
  command -v ip >/dev/null || skip "ip (iproute2) is not installed"
  NS_SRV="sp-srv-$$-$RANDOM"
  NS_CLI="sp-cli-$$-$RANDOM"
  ip netns add "$NS_SRV" || skip "cannot create a network namespace"
  SP_NETNS+=("$NS_SRV")
  ip netns add "$NS_CLI" || skip "cannot create a network namespace"
  SP_NETNS+=("$NS_CLI")
  local ns
  for ns in "$NS_SRV" "$NS_CLI"; do ip -n "$ns" link set lo up; done
}

netns_pair() {
  netns_two
  ip -n "$NS_SRV" link add v0 type veth peer name v1 netns "$NS_CLI"
  ip -n "$NS_SRV" addr add "$NETNS_SRV_ADDR/24" dev v0
  ip -n "$NS_CLI" addr add "$NETNS_CLI_ADDR/24" dev v1
  ip -n "$NS_SRV" addr add "$NETNS_SRV_ADDR6/64" dev v0 nodad
  ip -n "$NS_CLI" addr add "$NETNS_CLI_ADDR6/64" dev v1 nodad
  ip -n "$NS_SRV" link set v0 up
  ip -n "$NS_CLI" link set v1 up
}

# netns_nft_drop NS HOOK MATCH: a counted drop of what matches MATCH in
# NS's HOOK (input or output) hook, in the table sockprobe_test (chain
# "in" or "out"); the one way this file writes such a rule.
netns_nft_drop() {
  local ns=$1 hook=$2 match=$3
  command -v nft >/dev/null || skip "nft (nftables) is not installed"
  ip netns exec "$ns" nft -f - <<NFT
table inet sockprobe_test {
  chain ${hook%put} {
    type filter hook $hook priority 0; policy accept;
    $match counter drop
  }
}
NFT
}

netns_drop_final_acks() { netns_nft_drop "$NS_CLI" output "tcp dport $1 tcp flags & (syn | ack) == ack"; }

netns_dropped() {
  ip netns exec "$NS_CLI" nft list table inet sockprobe_test | sed -nE 's/.*counter packets ([0-9]+).*/\1/p' | head -1
}

netns_lose_in() { netns_nft_drop "$NS_SRV" input "$1"; }

netns_lost_in() {
  ip netns exec "$NS_SRV" nft list table inet sockprobe_test | sed -nE 's/.*counter packets ([0-9]+).*/\1/p' | head -1
}

netns_cleanup() {
  local ns
  for ns in "${NS_SRV:-}" "${NS_CLI:-}"; do
    [ -n "$ns" ] && ip netns del "$ns" 2>/dev/null
  done
  return 0
}

# --- a simulated link: two namespaces joined through netsim.py (TUN) ---------
#
# For the faults nftables cannot make (delay, jitter, reordering,
# duplication, corruption, a rate limit), the two namespaces are joined by
# two TUN devices and the userspace forwarder tests/e2e/netsim.py (see its
# top for the faults and their flags). Needs `load helpers` (or, in a bash
# script, helpers.bash sourced with T set to a scratch directory and
# SP_NETNS=()): the forwarder is a bg_start job named "netsim", so
# sp_teardown / bg_stop_all stop it by pid before the namespaces go.
#
#   netsim_pair [FAULT...]  NS_SRV (198.51.100.1, 2001:db8:1::1) <-tun-netsim-tun-> NS_CLI (.2, ::2)
#                           FAULT: netsim.py flags, e.g. --delay-ms 20 --reorder 5
#   netsim_blackhole        the forwarder drops everything from now on (counted)
#   netsim_restore          and forwards again
#   netsim_stop             stops it (SIGTERM, by pid); its counters are then
#                           in $T/netsim.err ("c2s packets N forwarded N ...")
#   netsim_count DIR WHAT   one counter of a stopped forwarder (DIR c2s|s2c)
#
# And nftables faults that work on either pair (netns_pair or netsim_pair):
#   netns_lose_out MATCH    in NS_SRV's output hook, drops what matches MATCH
#                           (the server's packets: a receiver's ACKs), counted
#   netns_lost_out          packets that rule dropped so far
#   netns_blackhole         NS_SRV drops every packet in and out but on lo
#                           (counted): a link that died mid-transfer
#   netns_blackholed        packets the blackhole dropped so far
#   netns_unblackhole       removes it

NETSIM_SRV_ADDR=198.51.100.1
NETSIM_CLI_ADDR=198.51.100.2
NETSIM_SRV_ADDR6=2001:db8:1::1
NETSIM_CLI_ADDR6=2001:db8:1::2
NETSIM_PY="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/netsim.py"

netsim_pair() {
  [ -c /dev/net/tun ] || skip "no /dev/net/tun"
  netns_two
  ip -n "$NS_SRV" tuntap add dev spt0 mode tun || skip "cannot create a TUN device"
  ip -n "$NS_CLI" tuntap add dev spt1 mode tun || skip "cannot create a TUN device"
  ip -n "$NS_SRV" addr add "$NETSIM_SRV_ADDR" peer "$NETSIM_CLI_ADDR" dev spt0
  ip -n "$NS_CLI" addr add "$NETSIM_CLI_ADDR" peer "$NETSIM_SRV_ADDR" dev spt1
  ip -n "$NS_SRV" addr add "$NETSIM_SRV_ADDR6/64" dev spt0 nodad  # a v6 peer route would need the link up
  ip -n "$NS_CLI" addr add "$NETSIM_CLI_ADDR6/64" dev spt1 nodad
  ip -n "$NS_SRV" link set spt0 txqueuelen 4096 up
  ip -n "$NS_CLI" link set spt1 txqueuelen 4096 up
  echo pass >"$T/netsim.ctl"
  bg_start netsim /dev/null "${PY:-python3}" "$NETSIM_PY" --srv-ns "$NS_SRV" --cli-ns "$NS_CLI" \
    --ctl "$T/netsim.ctl" "$@"
  wait_for_line "$T/netsim.err" '^ready' 10
}

netsim_blackhole() {
  echo blackhole >"$T/netsim.ctl"
  wait_for_line "$T/netsim.err" '^link blackhole' 5
}

netsim_restore() {
  echo pass >"$T/netsim.ctl"
  wait_for_line "$T/netsim.err" '^link pass' 5
}

netsim_stop() { bg_stop netsim; }

netsim_count() {
  sed -nE "s/^$1 .*[ ]$2 ([0-9]+).*/\\1/p" "$T/netsim.err" | tail -1
}

netns_lose_out() { netns_nft_drop "$NS_SRV" output "$1"; }

netns_lost_out() {
  ip netns exec "$NS_SRV" nft list chain inet sockprobe_test out | sed -nE 's/.*counter packets ([0-9]+).*/\1/p' | head -1
}

netns_blackhole() {
  command -v nft >/dev/null || skip "nft (nftables) is not installed"
  ip netns exec "$NS_SRV" nft -f - <<NFT
table inet sockprobe_blackhole {
  chain in {
    type filter hook input priority -10; policy accept;
    iifname != "lo" counter drop
  }
  chain out {
    type filter hook output priority -10; policy accept;
    oifname != "lo" counter drop
  }
}
NFT
}

netns_blackholed() {
  ip netns exec "$NS_SRV" nft list table inet sockprobe_blackhole |
    sed -nE 's/.*counter packets ([0-9]+).*/\1/p' | awk '{ n += $1 } END { print n + 0 }'
}

netns_unblackhole() {
  ip netns exec "$NS_SRV" nft delete table inet sockprobe_blackhole
}
