#!/usr/bin/env bats
# `sockprobe backlog` end to end: the listener table against `ss`, the
# counters against `nstat` in a namespace the test creates, `backlog test`
# numbers (N+1, the somaxconn clamp), --check exit codes, usage errors.
# Listeners are python3 sockets on 127.0.0.1 port 0 (or abstract Unix names),
# queued connections are never accepted; every process is killed by PID.

bats_require_minimum_version 1.5.0

load helpers

setup() { sp_setup; }
teardown() { sp_teardown; }

# bl_listeners NETNS SPEC...: start python3 listeners (NETNS "" = here) as
# background process "py" (stdout in $T/py.out, pid in BLPID),
# SPEC = BACKLOG:CLIENTS (tcp on 127.0.0.1), v6:BACKLOG:CLIENTS (tcp on ::1)
# or unix:BACKLOG:CLIENTS (abstract name). Clients connect
# and are never accepted. Waits (at most 10 s) for the READY line and sets
# PORTS to the TCP ports, in SPEC order.
bl_listeners() {
  local ns=$1
  shift
  local -a run=()
  [ -n "$ns" ] && run=(ip netns exec "$ns")
  bg_start py /dev/null "${run[@]}" "$PY" -c '
import socket, sys, time
keep, ports = [], []
for spec in sys.argv[1:]:
    parts = spec.split(":")
    if parts[0] == "unix":
        name = "\0sockprobe-bats-%s-%s" % (parts[1], id(keep))
        l = socket.socket(socket.AF_UNIX); l.bind(name); l.listen(int(parts[1]))
        for _ in range(int(parts[2])):
            c = socket.socket(socket.AF_UNIX); c.connect(name); keep.append(c)
        print("UNIX @" + name[1:], flush=True)
    else:
        v6 = parts[0] == "v6"
        if v6: parts = parts[1:]
        l = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET)
        l.bind(("::1" if v6 else "127.0.0.1", 0)); l.listen(int(parts[0]))
        for _ in range(int(parts[1])):
            keep.append(socket.create_connection(l.getsockname()[:2], timeout=2))
        ports.append(str(l.getsockname()[1]))
    keep.append(l)
print("READY " + " ".join(ports), flush=True)
time.sleep(120)
' "$@"
  BLPID=$(bg_pid py)
  wait_for_line "$T/py.out" '^READY' || { show "$T/py.err"; return 1; }
  read -r -a PORTS <<<"$(sed -n 's/^READY *//p' "$T/py.out")"
}

# bl_need_root: network namespaces and per-namespace sysctls need root.
bl_need_root() {
  [ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
}

# bl_listener_field JSONFILE PORT FIELD: a field of the listener event for PORT.
bl_listener_field() {
  jq -r --argjson p "$2" "select(.event == \"listener\" and .port == \$p) | .$3" "$1"
}

@test "listener table agrees with ss -ltn at backlog 0, 5 and 100000 (clamped)" {
  somaxconn=$(cat /proc/sys/net/core/somaxconn)
  bl_listeners "" 0:1 5:3 100000:2 v6:7:4
  "$SOCKPROBE" --json backlog >"$T/json"
  local i port
  local -a want_queue=(1 3 2 4) want_max=(0 5 "$somaxconn" 7)
  for i in 0 1 2 3; do
    port=${PORTS[$i]}
    read -r recvq sendq < <(ss -ltnH "sport = :$port" | awk '{print $2, $3}')
    [ "$(bl_listener_field "$T/json" "$port" queue)" = "$recvq" ]
    [ "$(bl_listener_field "$T/json" "$port" max)" = "$sendq" ]
    [ "$recvq" = "${want_queue[$i]}" ]
    [ "$sendq" = "${want_max[$i]}" ]
    [ "$(bl_listener_field "$T/json" "$port" pid)" = "$BLPID" ]
    [ "$(bl_listener_field "$T/json" "$port" command)" = "python3" ]
  done
  [ "$(bl_listener_field "$T/json" "${PORTS[3]}" address)" = "::1" ]
  [ "$(bl_listener_field "$T/json" "${PORTS[3]}" family)" = "ipv6" ]
  [ "$(bl_listener_field "$T/json" "${PORTS[2]}" clamped)" = "true" ]
  [ "$(bl_listener_field "$T/json" "${PORTS[1]}" clamped)" = "false" ]
  # backlog 0 holds one connection: 100 % full, flagged.
  [ "$(bl_listener_field "$T/json" "${PORTS[0]}" above_threshold)" = "true" ]
  run -0 "$SOCKPROBE" backlog --port "${PORTS[2]}"
  [[ "$output" == *"probably clamped"* ]]
}

@test "human table shows the listener, its fill and the clamp note" {
  bl_listeners "" 4:5
  run -0 "$SOCKPROBE" backlog --port "${PORTS[0]}"
  [[ "$output" == *"net.core.somaxconn"* ]]
  [[ "$output" == *"TCPBacklogDrop"*"NOT the listen backlog"* ]]
  [[ "$output" == *"count packets, not connections"* ]]
  line=$(grep -E "^  tcp4 +127\.0\.0\.1 +${PORTS[0]} " <<<"$output")
  [[ "$line" =~ \ 5\ +4\ +100%\  ]]
  [[ "$line" == *"FULL"* ]]
}

@test "Unix stream listeners agree with ss -lx" {
  bl_listeners "" unix:2:1
  name=$(sed -n 's/^UNIX //p' "$T/py.out")
  "$SOCKPROBE" --json backlog >"$T/json"
  got=$(jq -r --arg n "$name" 'select(.event=="listener" and .address==$n) | "\(.protocol) \(.queue) \(.max) \(.port)"' "$T/json")
  [ "$got" = "unix 1 2 null" ]
  read -r recvq sendq < <(ss -lxH | awk -v n="$name" '$5 == n {print $3, $4}')
  [ "$recvq $sendq" = "1 2" ]
}

@test "--pid and --port select listeners" {
  bl_listeners "" 3:0 7:0
  "$SOCKPROBE" --json backlog --pid "$BLPID" >"$T/json"
  [ "$(jq -r 'select(.event=="listener") | .port' "$T/json" | sort -n | tr '\n' ' ')" = \
    "$(printf '%s\n' "${PORTS[@]}" | sort -n | tr '\n' ' ')" ]
  "$SOCKPROBE" --json backlog --port "${PORTS[1]}" >"$T/json"
  [ "$(jq -r 'select(.event=="listener") | "\(.port) \(.max)"' "$T/json")" = "${PORTS[1]} 7" ]
}

@test "-4 and -6 list only that family's listeners (no Unix ones, as ss -4/-6)" {
  bl_listeners "" 3:0 v6:5:0 unix:2:0
  "$SOCKPROBE" --json -6 backlog --pid "$BLPID" >"$T/json"
  [ "$(jq -r 'select(.event=="listener") | "\(.family) \(.port)"' "$T/json")" = "ipv6 ${PORTS[1]}" ]
  "$SOCKPROBE" --json -4 backlog --pid "$BLPID" >"$T/json"
  [ "$(jq -r 'select(.event=="listener") | "\(.family) \(.port)"' "$T/json")" = "ipv4 ${PORTS[0]}" ]
  "$SOCKPROBE" --json backlog --pid "$BLPID" >"$T/json"
  [ "$(jq -r 'select(.event=="listener") | .family' "$T/json" | sort | tr '\n' ' ')" = "ipv4 ipv6 unix " ]
}

@test "counters agree with nstat -az in the same namespace" {
  plain_netns
  # Make the overflow counters move inside the namespace first.
  ip netns exec "$NS" "$SOCKPROBE" backlog test --no-netns --backlog 1 --clients 4 --timeout 300ms >/dev/null
  ip netns exec "$NS" "$SOCKPROBE" --json backlog >"$T/json"
  ip netns exec "$NS" nstat -asz >"$T/nstat"
  local name ours theirs
  for name in ListenOverflows ListenDrops TCPReqQFullDrop TCPReqQFullDoCookies SyncookiesSent \
      SyncookiesRecv SyncookiesFailed TCPBacklogDrop; do
    ours=$(jq -r "select(.event==\"counters\") | .$name" "$T/json")
    theirs=$(awk -v n="TcpExt$name" '$1 == n {print $2}' "$T/nstat")
    echo "$name ours=$ours nstat=$theirs"
    [ "$ours" = "$theirs" ]
  done
  [ "$(jq -r 'select(.event=="counters") | .ListenOverflows' "$T/json")" -gt 0 ]
}

@test "backlog test: effective = N and queued = N+1 for N in 0 1 4 16" {
  bl_need_root
  local n
  for n in 0 1 4 16; do
    "$SOCKPROBE" --json backlog test --backlog "$n" --clients $((n + 4)) --timeout 300ms >"$T/json"
    cat "$T/json"
    [ "$(jq -r '.event' "$T/json")" = "backlog_test" ]
    [ "$(jq -r '.requested' "$T/json")" = "$n" ]
    [ "$(jq -r '.effective' "$T/json")" = "$n" ]
    [ "$(jq -r '.queued' "$T/json")" = "$((n + 1))" ]
    [ "$(jq -r '.established' "$T/json")" = "$((n + 1))" ]
    [ "$(jq -r '.unanswered' "$T/json")" = "3" ]
    [ "$(jq -r '.private_netns' "$T/json")" = "true" ]
    [ "$(jq -r '.counters.ListenOverflows' "$T/json")" -ge 3 ]
  done
}

@test "backlog test shows the somaxconn clamp (private namespace, --somaxconn)" {
  bl_need_root
  run -0 "$SOCKPROBE" --json backlog test --backlog 100 --somaxconn 8 --clients 12 --timeout 300ms
  [ "$(jq -r '.requested' <<<"$output")" = 100 ]
  [ "$(jq -r '.somaxconn' <<<"$output")" = 8 ]
  [ "$(jq -r '.effective' <<<"$output")" = 8 ]
  [ "$(jq -r '.queued' <<<"$output")" = 9 ]
  run -0 "$SOCKPROBE" backlog test --backlog 100 --somaxconn 8 --clients 12 --timeout 300ms
  [[ "$output" == *"clamped to net.core.somaxconn = 8"* ]]
  [[ "$output" == *"held 9 connections"* ]]
}

@test "backlog test --no-netns in a namespace with a lowered somaxconn" {
  plain_netns
  ip netns exec "$NS" sysctl -qw net.core.somaxconn=3
  run -0 ip netns exec "$NS" "$SOCKPROBE" --json backlog test --no-netns --backlog 50 --clients 6 --timeout 300ms
  [ "$(jq -r '.effective' <<<"$output")" = 3 ]
  [ "$(jq -r '.queued' <<<"$output")" = 4 ]
  [ "$(jq -r '.private_netns' <<<"$output")" = false ]
}

@test "backlog test --accept-rate: a slow accept loop lets the retried SYN in" {
  bl_need_root
  # Backlog 2 holds 3: the 4th SYN is dropped, and its retry (1 s later)
  # finds room because the loop accepted meanwhile.
  run -0 "$SOCKPROBE" --json backlog test --backlog 2 --clients 4 --accept-rate 20 --timeout 2500ms
  echo "$output"
  [ "$(jq -r '.accepted' <<<"$output")" -ge 1 ]
  [ "$(jq -r '.established' <<<"$output")" = 4 ]
  [ "$(jq -r '.unanswered' <<<"$output")" = 0 ]
  [ "$(jq -r '.queued + .accepted' <<<"$output")" = 4 ]
  [ "$(jq -r '.counters.ListenOverflows' <<<"$output")" -ge 1 ]
}

@test "backlog test without root runs on the host loopback and says the counters are shared" {
  bl_need_root
  command -v setpriv >/dev/null || skip "setpriv not installed"
  run -0 setpriv --reuid=65534 --regid=65534 --clear-groups "$SOCKPROBE" backlog test --backlog 1 --clients 3 --timeout 300ms
  [[ "$output" == *"counters are shared"* ]]
  run -2 setpriv --reuid=65534 --regid=65534 --clear-groups "$SOCKPROBE" backlog test --syncookies 0
  [[ "$output" == *"private network namespace"* ]]
}

@test "--check: exit 4 above the threshold, 0 below" {
  bl_listeners "" 4:5 9:1
  run -4 "$SOCKPROBE" backlog --port "${PORTS[0]}" --check
  [[ "$output" == *"check failed"*"${PORTS[0]}"*"100% full"* ]]
  run -0 "$SOCKPROBE" backlog --port "${PORTS[0]}" --check --fail-above 100
  run -0 "$SOCKPROBE" backlog --port "${PORTS[1]}" --check
  [[ "$output" == *"Check passed"* ]]
  run -4 "$SOCKPROBE" backlog --port "${PORTS[1]}" --check --fail-above 5
  run -4 "$SOCKPROBE" --json backlog --pid "$BLPID" --check
  [ "$(jq -r 'select(.event=="check") | .ok' <<<"$output")" = false ]
}

@test "--check: a selection that matches no listener fails (exit 4) and says so" {
  local port
  port=$(free_port)  # nothing listens there (a race with another listener is harmless: ss shows it)
  ss -Hltn "sport = :$port" | grep -q . && skip "port $port is in use"
  run -4 "$SOCKPROBE" backlog --check --port "$port"
  [[ "$output" == *"no listener matches --port $port"* && "$output" != *"Check passed"* ]]
  run -4 "$SOCKPROBE" backlog --check --pid 999999
  [[ "$output" == *"no listener matches --pid 999999"* ]]
  run -4 "$SOCKPROBE" --json backlog --check --port "$port" --pid 999999
  [ "$(jq -r 'select(.event=="check") | .ok' <<<"$output")" = false ]
  run -4 "$SOCKPROBE" backlog --check --port "$port" --watch 100ms --count 1
}

@test "--check --fail-on-overflow: exit 4 when drops grow during the watch, 0 when quiet" {
  plain_netns
  bl_listeners "$NS" 1:2
  port=${PORTS[0]}
  run -0 ip netns exec "$NS" "$SOCKPROBE" backlog --check --fail-on-overflow --fail-above 100 --watch 200ms --count 2
  # A client whose SYN is dropped by the full queue, while the watch runs
  # (--check stops at the first failing interval; 8 s at most).
  bg_start watch /dev/null ip netns exec "$NS" "$SOCKPROBE" --json backlog --port "$port" --check \
    --fail-on-overflow --fail-above 100 --watch 1s --count 8
  wait_for_line "$T/watch.out" '"event":"listener"' 5
  ip netns exec "$NS" nc -z -w 2 127.0.0.1 "$port" || true
  bg_wait watch 20
  [ "$BG_STATUS" -eq 4 ]
  grep -q '"event":"check","ok":false' "$T/watch.out"
  grep -q 'drops this interval' "$T/watch.err"
}

@test "--watch prints per-interval deltas with the interval" {
  bl_listeners "" 2:1
  run -0 "$SOCKPROBE" --json backlog --port "${PORTS[0]}" --watch 100ms --count 2
  [ "$(jq -c 'select(.event=="counters" and .interval != null)' <<<"$output" | wc -l)" = 2 ]
  [ "$(jq -r 'select(.event=="listener" and .interval != null) | .queue_delta' <<<"$output" | tr '\n' ' ')" = "0 0 " ]
  # Totals and deltas are told apart by "delta", not by guessing: the first
  # counters are totals; a watch round's listener keeps "drops" as the total.
  [ "$(jq -c 'select(.event=="counters") | .delta' <<<"$output" | tr '\n' ' ')" = "false true true " ]
  [ "$(jq -r 'select(.event=="listener" and .interval != null) | (.drops_delta == 0) and (.drops >= 0)' <<<"$output" | sort -u)" = true ]
  # --fail-above is whole percents: the same integer given or defaulted.
  run -0 "$SOCKPROBE" --json backlog --port "${PORTS[0]}" --check
  [[ $output == *'"fail_above":80,'* ]]
  run -0 "$SOCKPROBE" --json backlog --port "${PORTS[0]}" --check --fail-above 80
  [[ $output == *'"fail_above":80,'* ]]
}

@test "bad values exit 2 and name the flag" {
  run -2 "$SOCKPROBE" backlog --port 0
  [[ "$output" == *"--port"* ]]
  run -2 "$SOCKPROBE" backlog --watch 1x
  [[ "$output" == *"--watch"* ]]
  run -2 "$SOCKPROBE" backlog --check --fail-above 101
  [[ "$output" == *"--fail-above"* ]]
  run -2 "$SOCKPROBE" backlog --pid abc
  [[ "$output" == *"--pid"* ]]
  run -2 "$SOCKPROBE" backlog --check --fail-on-overflow
  [[ "$output" == *"--watch"* ]]
  run -2 "$SOCKPROBE" backlog --count 3
  [[ "$output" == *"--count"* ]]
  run -2 "$SOCKPROBE" backlog test --backlog -1
  [[ "$output" == *"--backlog"* ]]
  run -2 "$SOCKPROBE" backlog test --clients 0
  [[ "$output" == *"--clients"* ]]
  run -2 "$SOCKPROBE" backlog test --syncookies 3
  [[ "$output" == *"--syncookies"* ]]
  run -2 "$SOCKPROBE" backlog test --accept-rate fast
  [[ "$output" == *"--accept-rate"* ]]
  run -2 "$SOCKPROBE" backlog test --timeout 0
  [[ "$output" == *"--timeout"* ]]
}

@test "backlog test as root without CAP_SYS_ADMIN falls back to the host loopback and says why" {
  bl_need_root
  command -v setpriv >/dev/null || skip "setpriv not installed"
  run -0 setpriv --bounding-set -sys_admin "$SOCKPROBE" --json backlog test --backlog 1 --clients 3 --timeout 300ms
  [ "$(jq -r '.private_netns' <<<"$output")" = false ]
  [[ "$(jq -r '.netns_error' <<<"$output")" == *"unshare"* ]]
  [ "$(jq -r '.queued' <<<"$output")" = 2 ]
  run -1 setpriv --bounding-set -sys_admin "$SOCKPROBE" backlog test --syncookies 0
  [[ "$output" == *"unshare"* ]]
}
