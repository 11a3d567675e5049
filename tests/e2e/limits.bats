#!/usr/bin/env bats
# Soak and limits (issue 12): what idle and busy connections cost the
# --echo server with default flags, and serving through a tiny fd limit.
# The memory bound is the contract's goal (10,000 idle clients below 32 MiB
# RSS, below 1 s of CPU); it is a resource bound with a wide margin (12.4
# MiB and 0.12 s measured), not a timing. Registered in the normal build
# only (tests/meson.build): ASan's shadow memory would be what it measures.
# The burst under `ulimit -n 64` and port exhaustion in a namespace are in
# burst.bats; EMFILE while accepting in listen.bats.

load helpers

setup() { sp_setup; }
teardown() { sp_teardown; }

@test "listen --echo -k, default flags: 10000 idle clients in < 32 MiB and < 1 s CPU, then 1000 echo 1 MiB each, all equal" {
  [ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -ge 10100 ] || skip "the hard open-file limit is below 10100"
  run timeout 150 "$PY" "$SOCKPROBE_SOURCE_ROOT/bench/echo_soak.py" "$SOCKPROBE" \
    --idle 10000 --echo 1000 --size 1M --max-idle-rss 32 --max-idle-cpu 1
  echo "$output"
  [ "$status" -eq 0 ]
  [[ $output == *"echo: 1000 x 1048576 bytes at once, 1000 equal, 0 differed, 0 unfinished"* ]]
}

@test "listen -k --echo under ulimit -n 32: 200 clients at once, all served, its CPU bounded" {
  bg_start echo /dev/null bash -c 'ulimit -n 32 && exec "$0" listen --echo -k 127.0.0.1 0' "$SOCKPROBE"
  wait_for_line "$T/echo.err" '^Listening on'
  PORT=$(listening_port "$T/echo.err")
  run py_clients "$PORT" 200 10000 90
  [ "$output" = "ok 200" ]
  bg_alive echo
  # utime + stime in clock ticks: well under 2 s (no spin while the queue waits).
  ticks=$(awk '{print $14 + $15}' "/proc/$(bg_pid echo)/stat")
  [ "$ticks" -lt "$((2 * $(getconf CLK_TCK)))" ] || { echo "server CPU ticks $ticks"; false; }
  [ "$(grep -c -- '--max-conns 16 reached' "$T/echo.err")" -eq 1 ]
}
