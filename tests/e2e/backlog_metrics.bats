#!/usr/bin/env bats
# `sockprobe backlog --openmetrics`: the text passes `promtool check metrics`
# (the Prometheus text parser node_exporter's textfile collector uses) and
# Prometheus' OpenMetrics parser, its numbers agree with `ss`, hostile Unix
# socket names stay inside their label, and -o FILE is replaced atomically.
# Listeners are python3 sockets on 127.0.0.1 port 0 and abstract Unix names;
# their queued connections are never accepted; stopped by PID in teardown.

bats_require_minimum_version 1.5.0

load helpers

setup() {
  sp_setup
  command -v promtool >/dev/null || skip "promtool not installed (package prometheus)"
}
teardown() { sp_teardown; }

# om_listeners: a TCP listener (backlog 3) with 2 queued connections and an
# abstract Unix listener whose name holds a quote, a backslash, a newline and
# a fake sample line. Sets PORT and UNIX_NAME (as sockprobe prints it).
om_listeners() {
  bg_start py /dev/null "$PY" -c '
import socket, time
keep = []
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(3)
for _ in range(2): keep.append(socket.create_connection(l.getsockname(), timeout=2))
u = socket.socket(socket.AF_UNIX); u.bind("\0sp-om-%d\"q\\b\n} 1\nfake_metric 2" % l.getsockname()[1]); u.listen(1)
print("READY", l.getsockname()[1], flush=True)
time.sleep(120)
'
  wait_for_line "$T/py.out" '^READY' || { show "$T/py.err"; return 1; }
  PORT=$(sed -n 's/^READY //p' "$T/py.out")
}

@test "--openmetrics passes promtool check metrics and agrees with ss" {
  om_listeners
  run -0 "$SOCKPROBE" backlog --openmetrics
  printf '%s\n' "$output" >"$T/m.prom"
  run -0 promtool check metrics <"$T/m.prom"
  [ -z "$output" ]
  labels="protocol=\"tcp\",address=\"127.0.0.1\",port=\"$PORT\",command=\"python3\""
  read -r recvq sendq < <(ss -ltnH "sport = :$PORT" | awk '{print $2, $3}')
  grep -qxF "sockprobe_listener_queue{$labels} $recvq" "$T/m.prom"
  grep -qxF "sockprobe_listener_queue_max{$labels} $sendq" "$T/m.prom"
  [ "$recvq $sendq" = "2 3" ]
  grep -qxF "sockprobe_listener_drops_total{$labels} 0" "$T/m.prom"
  grep -qxF '# TYPE sockprobe_listener_drops_total counter' "$T/m.prom"
  # The counters against the kernel's own file.
  overflows=$(awk '/^TcpExt:/ { if (!n) { for (i = 2; i <= NF; i++) idx[$i] = i; n = 1 } else print $idx["ListenOverflows"] }' /proc/net/netstat)
  grep -qxF "sockprobe_tcpext_listen_overflows_total $overflows" "$T/m.prom"
  grep -q '^sockprobe_tcpext_tcp_req_q_full_do_cookies_total [0-9]*$' "$T/m.prom"
  [ "$(tail -n 1 "$T/m.prom")" = "# EOF" ]
}

@test "--openmetrics: a hostile Unix socket name stays inside its label value" {
  om_listeners
  "$SOCKPROBE" backlog --openmetrics >"$T/m.prom"
  run -0 promtool check metrics <"$T/m.prom"
  grep -qF "address=\"@sp-om-$PORT\\\"q\\\\b\\n} 1\\nfake_metric 2\"" "$T/m.prom"
  run ! grep -q '^fake_metric' "$T/m.prom"
  # Every line is a comment or a sockprobe sample.
  ! grep -vE '^(# |sockprobe_[a-z_]+(\{.*\})? [0-9]+$)' "$T/m.prom"
}

@test "--openmetrics is read by Prometheus' OpenMetrics parser (promtool tsdb)" {
  om_listeners
  "$SOCKPROBE" backlog --openmetrics --port "$PORT" >"$T/m.prom"
  # The backfill parser wants a timestamp on every sample.
  awk '/^#/ { print; next } { print $0, 1700000000 }' "$T/m.prom" >"$T/m.om"
  run -0 promtool tsdb create-blocks-from openmetrics "$T/m.om" "$T/blocks"
  [[ $output == *"NUM SAMPLES"* ]]
}

@test "-o FILE is replaced atomically, no temporary file left; --watch rewrites it" {
  om_listeners
  echo old >"$T/sockprobe.prom"
  ino=$(stat -c %i "$T/sockprobe.prom")
  run -0 "$SOCKPROBE" backlog --openmetrics --port "$PORT" -o "$T/sockprobe.prom"
  [ -z "$output" ]
  [ "$(stat -c %i "$T/sockprobe.prom")" != "$ino" ]
  grep -q "^sockprobe_listener_queue{.*port=\"$PORT\"" "$T/sockprobe.prom"
  promtool check metrics <"$T/sockprobe.prom"
  [ "$(ls "$T" | grep -c 'sockprobe\.prom\.')" = 0 ]
  ino=$(stat -c %i "$T/sockprobe.prom")
  run -0 "$SOCKPROBE" backlog --openmetrics --port "$PORT" -o "$T/sockprobe.prom" --watch 100ms --count 2
  [ "$(stat -c %i "$T/sockprobe.prom")" != "$ino" ]
  promtool check metrics <"$T/sockprobe.prom"
  [ "$(ls "$T" | grep -c 'sockprobe\.prom\.')" = 0 ]
  run -1 "$SOCKPROBE" backlog --openmetrics -o "$T/no-such-dir/x.prom"
  [[ $output == *"no-such-dir"*"No such file or directory"* ]]
}

@test "--openmetrics: conflicting flags exit 2 and name them" {
  run -2 "$SOCKPROBE" backlog -o "$T/x.prom"
  [[ $output == *"--openmetrics"* ]]
  run -2 "$SOCKPROBE" --json backlog --openmetrics
  [[ $output == *"--json"* ]]
  run -2 "$SOCKPROBE" backlog --openmetrics --check
  [[ $output == *"--check"* ]]
  run -2 "$SOCKPROBE" backlog --openmetrics --watch 1s
  [[ $output == *"-o FILE"* ]]
  [ ! -e "$T/x.prom" ]
}
