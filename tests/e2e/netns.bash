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

netns_pair() {
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
  ip -n "$NS_SRV" link add v0 type veth peer name v1 netns "$NS_CLI"
  ip -n "$NS_SRV" addr add "$NETNS_SRV_ADDR/24" dev v0
  ip -n "$NS_CLI" addr add "$NETNS_CLI_ADDR/24" dev v1
  ip -n "$NS_SRV" addr add "$NETNS_SRV_ADDR6/64" dev v0 nodad
  ip -n "$NS_CLI" addr add "$NETNS_CLI_ADDR6/64" dev v1 nodad
  ip -n "$NS_SRV" link set v0 up
  ip -n "$NS_CLI" link set v1 up
}

netns_drop_final_acks() {
  local port=$1
  command -v nft >/dev/null || skip "nft (nftables) is not installed"
  ip netns exec "$NS_CLI" nft -f - <<NFT
table inet sockprobe_test {
  chain out {
    type filter hook output priority 0; policy accept;
    tcp dport $port tcp flags & (syn | ack) == ack counter drop
  }
}
NFT
}

netns_dropped() {
  ip netns exec "$NS_CLI" nft list table inet sockprobe_test | sed -nE 's/.*counter packets ([0-9]+).*/\1/p' | head -1
}

netns_lose_in() {
  command -v nft >/dev/null || skip "nft (nftables) is not installed"
  ip netns exec "$NS_SRV" nft -f - <<NFT
table inet sockprobe_test {
  chain in {
    type filter hook input priority 0; policy accept;
    $1 counter drop
  }
}
NFT
}

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
