#!/usr/bin/env bats
# Why: `sockprobe buffers` claims to report what the kernel really does with
# SO_SNDBUF/SO_RCVBUF. These tests hold it to an independent witness: python3
# getsockopt on a socket of the same type with the same request, the values
# in /proc/sys, and (for other limits) per-namespace sysctls changed inside a
# network namespace the test creates. Never a host sysctl.

load helpers

setup() { sp_setup; }
teardown() { sp_teardown; }

# py_all [REQUEST] [PREFIX...]: "KIND SNDBUF RCVBUF" for every socket kind
# python3 can open here, after setting both to REQUEST when given (one
# interpreter for all kinds: python3 start-up is slow on busy machines).
py_all() {
  local req=${1:-}
  shift || true
  "$@" python3 - "$req" <<'EOF'
import socket, sys
kinds = {"tcp4": (socket.AF_INET, socket.SOCK_STREAM), "tcp6": (socket.AF_INET6, socket.SOCK_STREAM),
         "udp4": (socket.AF_INET, socket.SOCK_DGRAM), "udp6": (socket.AF_INET6, socket.SOCK_DGRAM),
         "unix-stream": (socket.AF_UNIX, socket.SOCK_STREAM), "unix-dgram": (socket.AF_UNIX, socket.SOCK_DGRAM)}
for name, (fam, typ) in sorted(kinds.items()):
    try:
        s = socket.socket(fam, typ)
    except OSError:
        continue
    if sys.argv[1]:
        req = min(int(sys.argv[1]), 2**31 - 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, req)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, req)
    print(name, s.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF), s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
EOF
}

# ours_all JSON: the same listing from sockprobe's events.
ours_all() {
  jq -r 'select(.event=="buffers" and .available != false) | "\(.socket) \(.sndbuf.effective) \(.rcvbuf.effective)"' <<<"$1" | sort
}

# ev JSON KIND: the one "buffers" event for that socket kind (jq -e judges a
# single value; over many inputs jq 1.6 reports on the last one only).
ev() { jq -c --arg k "$2" 'select(.event=="buffers" and .socket==$k)' <<<"$1"; }
# one JSON EVENT: the first event of that name.
one() { jq -c --arg e "$2" 'select(.event==$e)' <<<"$1" | head -n 1; }

@test "buffers: sysctl events carry the values in /proc/sys" {
  run "$SOCKPROBE" buffers --json
  [ "$status" -eq 0 ]
  for name in net.core.rmem_default net.core.rmem_max net.core.wmem_default net.core.wmem_max \
              net.ipv4.tcp_moderate_rcvbuf net.ipv4.udp_rmem_min net.unix.max_dgram_qlen; do
    want=$(cat "/proc/sys/${name//.//}")
    got=$(jq -r --arg n "$name" 'select(.event=="sysctl" and .name==$n) | .value' <<<"$output")
    [ "$got" = "$want" ] || { echo "$name: got '$got' want '$want'"; return 1; }
  done
  want=$(tr -s '\t ' ' ' </proc/sys/net/ipv4/tcp_rmem)
  got=$(jq -r 'select(.event=="sysctl" and .name=="net.ipv4.tcp_rmem") | .value | map(tostring) | join(" ")' <<<"$output")
  [ "$got" = "$want" ]
}

@test "buffers: fresh sockets agree with python3 getsockopt" {
  run "$SOCKPROBE" buffers --json
  [ "$status" -eq 0 ]
  want=$(py_all "")
  [ "$(ours_all "$output")" = "$want" ] || { echo "sockprobe:"; ours_all "$output"; echo "python3:"; echo "$want"; return 1; }
  [ "$(wc -l <<<"$want")" -ge 4 ]
  [ "$(jq -r 'select(.event=="buffers") | .sndbuf.requested' <<<"$output" | sort -u)" = null ]
}

@test "buffers --set: every effective value agrees with python3 for the same request" {
  for req in 1 2000 4000 65536 1048576 104857600 4294967296; do
    run "$SOCKPROBE" buffers --set "$req" --json
    [ "$status" -eq 0 ]
    want=$(py_all "$req")
    [ "$(ours_all "$output")" = "$want" ] || { echo "request $req: sockprobe:"; ours_all "$output"; echo "python3:"; echo "$want"; return 1; }
    [ "$(jq -r 'select(.event=="buffers") | .rcvbuf.requested' <<<"$output" | sort -u)" = "$req" ]
  done
}

@test "buffers --set 4000: doubled, with the reason; human table says so" {
  run "$SOCKPROBE" buffers --set 4000
  [ "$status" -eq 0 ]
  [[ "$output" == *"4000 -> 8000 (7.81 KiB)"* ]]
  [[ "$output" == *"doubled for bookkeeping"* ]]
  [[ "$output" == *"receive autotuning stops"* ]]
  [[ "$output" == *"before connect()/listen()"* ]]
}

@test "buffers --set above rmem_max: clamped then doubled, named in the reason" {
  max=$(cat /proc/sys/net/core/rmem_max)
  req=$((max * 4))
  run "$SOCKPROBE" buffers --set "$req" --json
  [ "$status" -eq 0 ]
  got=$(jq -r 'select(.event=="buffers" and .socket=="udp4") | .rcvbuf.effective' <<<"$output")
  [ "$got" -eq $((max * 2)) ]
  ev "$output" udp4 | jq -e '.rcvbuf.reason | test("clamped to rmem_max")'
}

@test "buffers --rcvbuf only: SO_SNDBUF stays fresh with requested null" {
  run "$SOCKPROBE" buffers --rcvbuf 64K --json
  [ "$status" -eq 0 ]
  ev "$output" tcp4 | jq -e '.sndbuf.requested == null and .rcvbuf.requested == 65536 and .rcvbuf.effective == 131072'
  [ "$(ev "$output" tcp4 | jq .sndbuf.effective)" = "$(py_all "" | awk '$1=="tcp4" {print $2}')" ]
}

@test "buffers --set 1: raised to the kernel minimum" {
  run "$SOCKPROBE" buffers --set 1 --json
  [ "$status" -eq 0 ]
  ev "$output" udp4 | jq -e '.sndbuf.reason | test("raised to the kernel minimum")'
}

@test "buffers --force as root goes past rmem_max" {
  [ "$(id -u)" -eq 0 ] || skip "needs root"
  max=$(cat /proc/sys/net/core/rmem_max)
  req=$((max * 4))
  run "$SOCKPROBE" buffers --set "$req" --force --json
  [ "$status" -eq 0 ]
  ev "$output" tcp4 | jq -e --argjson want $((req * 2)) '.rcvbuf.force == "allowed" and .rcvbuf.effective == $want and .sndbuf.effective == $want'
}

@test "buffers --force as nobody: refusal reported, plain value used, exit 0" {
  [ "$(id -u)" -eq 0 ] || skip "needs root to switch to nobody"
  command -v setpriv >/dev/null || skip "setpriv missing"
  dir=$(mktemp -d)
  chmod 755 "$dir"
  cp "$SOCKPROBE" "$dir/sockprobe"
  max=$(cat /proc/sys/net/core/rmem_max)
  run setpriv --reuid=nobody --regid=nogroup --clear-groups "$dir/sockprobe" buffers --rcvbuf $((max * 4)) --force --json
  rm -rf "$dir"
  [ "$status" -eq 0 ]
  ev "$output" udp4 | jq -e --argjson want $((max * 2)) '.rcvbuf.force == "refused" and .rcvbuf.effective == $want'
  ev "$output" udp4 | jq -e '.rcvbuf.reason | test("SO_RCVBUFFORCE refused.*CAP_NET_ADMIN")'
}

# lined_up TEXT: in the socket table of a human report, every row's
# SO_SNDBUF and SO_RCVBUF cells start at their header's column (a size
# cell: a digit after a blank), over at least four socket kinds.
lined_up() {
  local header snd rcv line n=0
  header=$(grep -m1 '^  socket ' <<<"$1") || { echo "no table header in: $1"; return 1; }
  snd=${header%%SO_SNDBUF*} rcv=${header%%SO_RCVBUF*}
  snd=${#snd} rcv=${#rcv}
  while IFS= read -r line; do
    [[ $line == "  Why:"* ]] && break
    n=$((n + 1))
    [[ ${line:snd-1:2} =~ ^\ [0-9]$ && ${line:rcv-1:2} =~ ^\ [0-9]$ ]] ||
      { printf 'out of line (SO_SNDBUF at %d, SO_RCVBUF at %d):\n%s\n%s\n' "$snd" "$rcv" "$header" "$line"; return 1; }
  done < <(sed -n '/^  socket /,$p' <<<"$1" | tail -n +2)
  [ "$n" -ge 4 ] || { echo "only $n rows: $1"; return 1; }
}

@test "buffers: the socket table's columns line up, with [forced] and [force refused] cells too" {
  run "$SOCKPROBE" buffers
  [ "$status" -eq 0 ]
  lined_up "$output"
  run "$SOCKPROBE" buffers --set 4000
  lined_up "$output"
  [ "$(id -u)" -eq 0 ] || skip "needs root for --force"
  run "$SOCKPROBE" buffers --set 100M --force
  [ "$status" -eq 0 ]
  [[ $output == *"[forced]"* ]]
  lined_up "$output"
  command -v setpriv >/dev/null || skip "setpriv missing"
  dir=$(mktemp -d)
  chmod 755 "$dir"
  cp "$SOCKPROBE" "$dir/sockprobe"
  run setpriv --reuid=nobody --regid=nogroup --clear-groups "$dir/sockprobe" buffers --set 100M --force
  rm -rf "$dir"
  [ "$status" -eq 0 ]
  [[ $output == *"[force refused]"* ]]
  lined_up "$output"
}

@test "buffers: other limits inside a private netns" {
  # Measured on 6.18: net.core.{r,w}mem_{default,max} are global, visible but
  # read-only inside a netns; tcp_rmem, tcp_wmem, tcp_moderate_rcvbuf,
  # udp_{r,w}mem_min and unix.max_dgram_qlen are per-netns and writable.
  plain_netns
  ip netns exec "$NS" test -w /proc/sys/net/ipv4/tcp_rmem || skip "tcp_rmem is not per-netns here"
  host_before=$(cat /proc/sys/net/ipv4/tcp_rmem)
  ip netns exec "$NS" sh -c 'echo "4096 65536 1048576" > /proc/sys/net/ipv4/tcp_rmem &&
    echo "4096 32768 1048576" > /proc/sys/net/ipv4/tcp_wmem && echo 3 > /proc/sys/net/unix/max_dgram_qlen'
  [ "$(cat /proc/sys/net/ipv4/tcp_rmem)" = "$host_before" ]   # the host did not change
  run ip netns exec "$NS" "$SOCKPROBE" buffers --json
  [ "$status" -eq 0 ]
  jq -c 'select(.event=="sysctl" and .name=="net.ipv4.tcp_rmem")' <<<"$output" | jq -e '.value == [4096, 65536, 1048576]'
  jq -c 'select(.event=="sysctl" and .name=="net.unix.max_dgram_qlen")' <<<"$output" | jq -e '.value == 3'
  ev "$output" tcp4 | jq -e '.sndbuf.effective == 32768 and .rcvbuf.effective == 65536'
  [ "$(ours_all "$output")" = "$(py_all "" ip netns exec "$NS")" ]
  run ip netns exec "$NS" "$SOCKPROBE" buffers --bdp 1Gbit --rtt 10ms --json
  [ "$status" -eq 0 ]
  # 1 Gbit/s x 10 ms = 1250000 bytes; buffers of 2500000 > 1048576.
  one "$output" bdp | jq -e '.sysctl | index("sysctl -w net.ipv4.tcp_rmem=\"4096 65536 2500000\"") != null'
  one "$output" bdp | jq -e '.sysctl | index("sysctl -w net.ipv4.tcp_wmem=\"4096 32768 2500000\"") != null'
}

@test "buffers --bdp: arithmetic on several pipes" {
  check() {  # RATE RTT BDP
    run "$SOCKPROBE" buffers --bdp "$1" --rtt "$2" --json
    [ "$status" -eq 0 ] || return 1
    one "$output" bdp | jq -e --argjson bdp "$3" '.bdp == $bdp and .buffer == 2 * $bdp and .request == $bdp' >/dev/null ||
      { echo "bdp $1 x $2: $output"; return 1; }
  }
  check 10Gbit 50ms 62500000
  check 100Mbit 10ms 125000
  check 1Gbit 20ms 2500000
  check 10M 100ms 1048576
  check 1Gbps 1s 125000000
  check 8bit 1500ms 2
}

@test "buffers --bdp: checks match /proc/sys and the sysctl lines fix exactly the short ones" {
  run "$SOCKPROBE" buffers --bdp 10Gbit --rtt 50ms --json
  [ "$status" -eq 0 ]
  rmem2=$(awk '{print $3}' /proc/sys/net/ipv4/tcp_rmem)
  rmax=$(cat /proc/sys/net/core/rmem_max)
  one "$output" bdp | jq -e --argjson c "$rmem2" '.checks[] | select(.name=="net.ipv4.tcp_rmem[2]") | .current == $c and .ok == ($c >= 125000000)'
  one "$output" bdp | jq -e --argjson c "$rmax" '.checks[] | select(.name=="net.core.rmem_max") | .ok == ($c >= 62500000)'
  short=$(one "$output" bdp | jq '[.checks[] | select(.ok | not)] | length')
  lines=$(one "$output" bdp | jq '.sysctl | length')
  [ "$short" -eq "$lines" ]
  if [ "$rmax" -lt 62500000 ]; then
    one "$output" bdp | jq -e '.sysctl | index("sysctl -w net.core.rmem_max=62500000") != null'
  fi
  run "$SOCKPROBE" buffers --bdp 10Gbit --rtt 50ms
  [[ "$output" == *"62500000 bytes (59.6 MiB) in flight"* ]]
}

@test "buffers --bdp: the limits once, then the advice; JSON has every sysctl event" {
  run "$SOCKPROBE" buffers --bdp 1Gbit --rtt 10ms
  [ "$status" -eq 0 ]
  [ "$(grep -c 'System limits' <<<"$output")" -eq 1 ]
  [ "$(grep -c '^  net.core.rmem_max ' <<<"$output")" -eq 1 ]
  [ "$(grep -c 'Bandwidth-delay product' <<<"$output")" -eq 1 ]
  [[ "$output" != *"What a fresh socket gets"* ]]
  run "$SOCKPROBE" buffers --bdp 1Gbit --rtt 10ms --json
  [ "$(jq -s '[.[] | select(.event=="sysctl")] | length' <<<"$output")" -eq \
    "$("$SOCKPROBE" buffers --json | jq -s '[.[] | select(.event=="sysctl")] | length')" ]
}

@test "buffers: bad values exit 2 naming the flag" {
  bad() {  # EXPECTED-FLAG ARGS...
    local flag=$1
    shift
    run "$SOCKPROBE" buffers "$@"
    [ "$status" -eq 2 ] && [[ "$output" == *"$flag"* ]] || { echo "buffers $*: status $status: $output"; return 1; }
  }
  bad --set --set 12X
  bad --sndbuf --sndbuf 1Q
  bad --rcvbuf --rcvbuf -5
  bad --bdp --bdp 10Xbit --rtt 5ms
  bad --bdp --bdp 0 --rtt 5ms
  bad --rtt --bdp 1Gbit --rtt fast
  bad --rtt --bdp 1Gbit --rtt 0
  bad --rtt --bdp 1Gbit
  bad --force --force
  bad --port --port 70000
  bad --pid --pid abc
  bad --watch --watch 1s
}

@test "buffers -4 / -6: only that family's inet sockets, Unix always" {
  run "$SOCKPROBE" buffers -4 --json
  [ "$status" -eq 0 ]
  [ "$(jq -r 'select(.event=="buffers") | .socket' <<<"$output" | sort | tr '\n' ' ')" = "tcp4 udp4 unix-dgram unix-stream " ]
  run "$SOCKPROBE" buffers -6 --set 4000 --json
  [ "$status" -eq 0 ]
  [ "$(jq -r 'select(.event=="buffers") | .socket' <<<"$output" | sort | tr '\n' ' ')" = "tcp6 udp6 unix-dgram unix-stream " ]
}
