#!/usr/bin/env bats
# The JSON events match their documentation (the man page's JSON EVENTS
# section). The first tests run every subcommand in its --json modes against
# real local sockets (127.0.0.1 or Unix sockets in the test's directory, port
# 0 read back from the "listening" event; every server is stopped by pid,
# every command bounded by `timeout`) and append every JSON line they print,
# stdout and stderr, to one file. The last tests compare that file with the
# man page and fail on any event or field path emitted but not documented,
# or documented but never emitted (except the short HARD list below).
#
# How the man page is read (tests/e2e/json_events.py does it):
#   - The section runs from "# JSON EVENTS" to the next "# " heading. An
#     event is a line "*NAME*" alone; its description is the tab-indented
#     lines under it.
#   - In a description, a quoted name ("rtt", "ListenDrops") outside
#     parentheses is a field. Text in parentheses is commentary (values,
#     units, conditions, examples) and is skipped.
#   - "name" {...} gives the sub-fields of an object; "name" [{...}] those
#     of each element of an array (path name[].sub). A {...} with no quoted
#     name in it ({error text: count}) is an object whose keys are data: any
#     key is accepted (name.*).
#   - A field whose commentary starts with "endpoint" ("peer" (endpoint))
#     is an endpoint: {"address", "port"}, or {"path"} for a Unix socket;
#     every emitted endpoint must have exactly one of those two shapes.
#   - A field keeps one JSON type in every event that emits it (null
#     aside; 80 and 80.0 are two types), but for sysctl.value (a number,
#     or an array for a triple such as tcp_rmem: fixed per sysctl name).
#   - A paragraph starting with '"NAME" holds:' lists the sub-fields of every
#     field NAME (that is how "tcp_info" is documented once for all).
# Emitted paths are what jq's `paths` gives, with array indices written as
# [] (histogram[].label); a path is compared per event.

load helpers

setup() {
  sp_setup
  ROOT=${SOCKPROBE_SOURCE_ROOT:-$BATS_TEST_DIRNAME/../..}
  MAN=$ROOT/man/sockprobe.1.scd
  EV=$BATS_FILE_TMPDIR/events.ndjson
  touch "$EV"
}
teardown() { sp_teardown; }

# Documented but not emitted by any run below, each for a reason (event.path):
HARD=(
  # Only when a kind of socket cannot be made (no IPv6, no Unix sockets).
  buffers.available buffers.error
  # Only when /proc/sys cannot be read.
  sysctl.error
)

# keep NAME...: appends the JSON lines of $T/NAME.out and $T/NAME.err.
keep() {
  local n
  for n in "$@"; do cat "$T/$n.out" "$T/$n.err" 2>/dev/null | grep -a '^{' >>"$EV" || true; done
}

# sj NAME STDIN ARGS...: `sockprobe --json ARGS` (at most 30 s), output into
# $T/NAME.out and $T/NAME.err, kept; sets status.
sj() {
  local name=$1 in=$2
  shift 2
  status=0
  timeout 30 "$SOCKPROBE" --json "$@" <"$in" >"$T/$name.out" 2>"$T/$name.err" 3>&- || status=$?
  keep "$name"
}

# sj_bg NAME STDIN ARGS...: `sockprobe --json ARGS` in the background
# (stopped by pid: bg_stop, or teardown).
sj_bg() {
  local name=$1 in=$2
  shift 2
  bg_start "$name" "$in" "$SOCKPROBE" --json "$@"
}

# listening NAME: waits for NAME's listening event; sets PORT.
listening() {
  wait_for_line "$T/$1.err" '"event":"listening"' || return 1
  PORT=$(jq -r 'select(.event == "listening") | .port' "$T/$1.err" | head -1)
}

@test "json: listen and connect relay over TCP, with -v (listening, accepted, connected, closed)" {
  echo hello >"$T/hi"
  sj_bg lis "$T/hi" -v listen 127.0.0.1 0
  listening lis
  sj cli "$T/hi" -v connect 127.0.0.1 "$PORT"
  [ "$status" -eq 0 ] || { show "$T/cli.err"; false; }
  bg_wait lis 10
  keep lis
  [ "$(jq -r 'select(.event == "closed") | .tcp_info.rtt >= 0' "$T/lis.err" | sort -u)" = true ]
}

@test "json: a relay that ends with an error (closed.error), a warning, the error event" {
  sj_bg idle /dev/null listen --idle-timeout 300ms 127.0.0.1 0
  listening idle
  bg_start quiet <(sleep 3) "$SOCKPROBE" connect 127.0.0.1 "$PORT"
  bg_wait idle 10
  [ "$BG_STATUS" -eq 3 ]
  keep idle
  bg_stop quiet
  [ "$(jq -r 'select(.event == "closed") | .error | length > 0' "$T/idle.err" | sort -u)" = true ]
  # The peer closes its side first: the bytes of input not sent are a warning.
  make_random "$T/big" 64
  py_server early fin_then_read "$T/early.got"
  sj stop "$T/big" connect --stop-on-peer-eof 127.0.0.1 "$PORT"
  bg_stop early
  grep -q '"event":"warning"' "$T/stop.err" || { show "$T/stop.err"; false; }
}

@test "json: connect tries the next address (attempt_failed)" {
  [ "$(id -u)" = 0 ] || skip "a private /etc/hosts needs root (unshare -m)"
  command -v unshare >/dev/null || skip "no unshare"
  # "twohomes" is 127.0.0.1 and 127.0.0.2; one listens, the other refuses.
  # Whichever getaddrinfo puts first, one of the two runs falls through.
  printf '127.0.0.1 twohomes\n127.0.0.2 twohomes\n' >"$T/hosts"
  local addr
  for addr in 127.0.0.2 127.0.0.1; do
    sj_bg "srv$addr" /dev/null listen "$addr" 0
    listening "srv$addr"
    timeout 10 unshare -m bash -c 'mount --bind "$1" /etc/hosts && exec "$2" --json -v connect twohomes "$3" </dev/null' \
      _ "$T/hosts" "$SOCKPROBE" "$PORT" >"$T/two$addr.out" 2>"$T/two$addr.err" || true
    bg_stop "srv$addr"
    keep "two$addr" "srv$addr"
  done
  cat "$T"/two*.err | grep -q '"event":"attempt_failed"' || { show "$T"/two*.err; false; }
}

@test "json: output_closed when the reader of standard output leaves" {
  make_random "$T/big" 16
  sj_bg src "$T/big" listen 127.0.0.1 0
  listening src
  timeout 20 "$SOCKPROBE" --json -v connect 127.0.0.1 "$PORT" </dev/null 2>"$T/oc.err" | head -c 10 >/dev/null
  keep oc
  bg_stop src
  keep src
  grep -q '"event":"output_closed"' "$T/oc.err" || { show "$T/oc.err"; false; }
}

@test "json: listen --echo served, --allow refused, UDP, Unix stream and datagram" {
  sj_bg echo /dev/null listen --echo 127.0.0.1 0
  listening echo
  echo hi | timeout 10 "$SOCKPROBE" connect 127.0.0.1 "$PORT" >/dev/null
  kill -INT "$(bg_pid echo)"
  bg_wait echo 10
  keep echo
  grep -q '"event":"served"' "$T/echo.err"

  sj_bg allow /dev/null listen -k --allow 10.0.0.0/8 127.0.0.1 0
  listening allow
  timeout 10 "$SOCKPROBE" connect 127.0.0.1 "$PORT" </dev/null >/dev/null 2>&1 || true
  wait_for_line "$T/allow.err" '"event":"refused"'
  bg_stop allow
  keep allow

  sj_bg udp /dev/null -v listen -u 127.0.0.1 0
  listening udp
  echo ping >"$T/ping"
  sj ucli "$T/ping" -v connect -u -w 200ms 127.0.0.1 "$PORT"
  wait_for_line "$T/udp.err" '"event":"accepted"'
  bg_stop udp
  keep udp

  echo hello >"$T/hi"
  sj_bg ustr "$T/hi" -v listen -U "$T/s.sock"
  wait_for_line "$T/ustr.err" '"event":"listening"'
  sj uscli "$T/hi" -v connect -U "$T/s.sock"
  bg_wait ustr 10
  keep ustr

  sj_bg udg /dev/null -v listen -u -U "$T/d.sock"
  wait_for_line "$T/udg.err" '"event":"listening"'
  sj udcli "$T/ping" -v connect -u -w 200ms -U "$T/d.sock"
  wait_for_line "$T/udg.err" '"event":"accepted"'
  bg_stop udg
  keep udg
  [ "$(jq -r 'select(.event == "listening") | .protocol' "$T/udg.err")" = unix-dgram ]
  [ "$(jq -r 'select(.event == "listening") | .protocol' "$T/ustr.err")" = unix ]
}

@test "json: connect -z (open, closed, unresolved, --wait) and connect --count (burst)" {
  sj_bg lk /dev/null listen -k --discard 127.0.0.1 0
  listening lk
  local closed
  closed=$(free_port)
  sj z /dev/null connect -z -w 1s 127.0.0.1 "$PORT,$closed"
  sj zw /dev/null connect -z --wait 600ms -w 200ms 127.0.0.1 "$PORT,$closed"
  sj zu /dev/null connect -z -w 1s name.invalid 80
  [ "$status" -eq 1 ]
  sj burst /dev/null connect --count 5 --concurrency 2 --rate 1000 --send 10 127.0.0.1 "$PORT"
  [ "$status" -eq 0 ] || { show "$T/burst.out"; false; }
  bg_stop lk
  keep lk
}

@test "json: send and recv (interval, summary), a stalled send and a stalled relay" {
  sj_bg rcv /dev/null recv -o "$T/got" --checksum --interval 100ms 127.0.0.1 0
  listening rcv
  sj snd /dev/null send --checksum --size 2M --rate 8M --interval 100ms 127.0.0.1 "$PORT"
  [ "$status" -eq 0 ] || { show "$T/snd.out" "$T/snd.err"; false; }
  bg_wait rcv 10
  keep rcv
  # SIGINT in the middle of a transfer: the summary says "interrupted".
  sj_bg drain /dev/null recv --discard 127.0.0.1 0
  listening drain
  sj_bg int /dev/null send --duration 10s --rate 1M --interval 100ms 127.0.0.1 "$PORT"
  wait_for_line "$T/int.out" '"event":"interval"'
  kill -INT "$(bg_pid int)"
  bg_wait int 10
  [ "$BG_STATUS" -eq 130 ]
  bg_wait drain 10
  keep int drain
  [ "$(jq -r 'select(.event == "summary") | .interrupted' "$T/int.out" | sort -u)" = true ]

  bg_start deaf /dev/null "$PY" -c '
import socket, sys, threading
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(4)
print("port", ls.getsockname()[1], file=sys.stderr, flush=True)
held = [ls.accept(), ls.accept()]
threading.Event().wait()
'
  wait_for_line "$T/deaf.err" '^port [0-9]+'
  PORT=$(sed -nE 's/^port ([0-9]+).*/\1/p' "$T/deaf.err")
  sj stall /dev/null send --size 64M --stall-timeout 1s 127.0.0.1 "$PORT"
  [ "$status" -eq 3 ]
  make_random "$T/big" 64
  sj rstall "$T/big" connect --stall-timeout 1s 127.0.0.1 "$PORT"
  [ "$status" -eq 3 ]
  bg_stop deaf
  grep -q '"event":"stall"' "$T/stall.out" "$T/stall.err"
}

@test "json: send -u and recv -u (interval, summary with the loss split)" {
  sj_bg urcv /dev/null recv -u --interval 100ms 127.0.0.1 0
  listening urcv
  sj usnd /dev/null send -u --duration 300ms --rate 4M --interval 100ms 127.0.0.1 "$PORT"
  [ "$status" -eq 0 ] || { show "$T/usnd.out" "$T/usnd.err"; false; }
  bg_wait urcv 10
  [ "$BG_STATUS" -eq 0 ] || { show "$T/urcv.out" "$T/urcv.err"; false; }
  keep urcv
  [ "$(jq -r 'select(.event == "summary") | .final' "$T/urcv.out")" = true ]
}

@test "json: recv -k (a summary per sender with id and error, interval with senders, served)" {
  sj_bg keep /dev/null recv -k --interval 100ms --stall-timeout 300ms 127.0.0.1 0
  listening keep
  sj ksnd /dev/null send --size 1M --rate 10M 127.0.0.1 "$PORT"
  [ "$status" -eq 0 ]
  "$PY" -c 'import socket, sys, time; s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); time.sleep(1)' "$PORT"
  wait_for_line "$T/keep.out" '"error":"no data for' 5
  kill -INT "$(bg_pid keep)"
  bg_wait keep 10
  [ "$BG_STATUS" -eq 130 ]
  keep keep
  grep -q '"event":"served"' "$T/keep.out"
}

@test "json: send -P and recv -P (interval with stream, interval_sum, summary per stream, total)" {
  sj_bg prcv /dev/null recv -P 2 --interval 100ms 127.0.0.1 0
  listening prcv
  sj psnd /dev/null send -P 2 --size 2M --rate 8M --interval 100ms 127.0.0.1 "$PORT"
  [ "$status" -eq 0 ] || { show "$T/psnd.out" "$T/psnd.err"; false; }
  bg_wait prcv 10
  [ "$BG_STATUS" -eq 0 ]
  keep prcv
  grep -q '"event":"total"' "$T/psnd.out"
  # Interrupted: the total says so.
  sj_bg pk /dev/null recv -k 127.0.0.1 0
  listening pk
  sj_bg pint /dev/null send -P 2 --duration 10s --rate 1M --interval 100ms 127.0.0.1 "$PORT"
  wait_for_line "$T/pint.out" '"event":"interval_sum"'
  kill -INT "$(bg_pid pint)"
  bg_wait pint 10
  [ "$BG_STATUS" -eq 130 ]
  keep pint
  [ "$(jq -r 'select(.event == "total") | .interrupted' "$T/pint.out")" = true ]
  bg_stop pk
}

@test "json: buffers (limits, --set --force, --bdp) and the live view with --watch" {
  sj b /dev/null buffers
  sj bs /dev/null buffers --set 64M --force
  sj bd /dev/null buffers --bdp 10Gbit --rtt 100ms
  sj bd2 /dev/null buffers --bdp 10Mbit --rtt 10ms
  sj_bg live /dev/null listen -k 127.0.0.1 0
  listening live
  bg_start hold <(sleep 5) "$SOCKPROBE" connect 127.0.0.1 "$PORT"
  sj bl /dev/null buffers --port "$PORT"
  sj bw /dev/null buffers --port "$PORT" --watch 200ms --count 2
  [ "$status" -eq 0 ] || { show "$T/bw.err"; false; }
  bg_stop hold
  bg_stop live
  keep live
  # A Unix listener's live sockets: endpoints {"path"}, the peer's inode.
  sj_bg ulive /dev/null listen -k -U "$T/live.sock"
  wait_for_line "$T/ulive.err" '"event":"listening"'
  sj bp /dev/null buffers --pid "$(bg_pid ulive)"
  bg_stop ulive
  keep ulive
  [ "$(jq -r 'select(.event == "socket" and .socket == "unix-stream") | .local.path | endswith("live.sock")' "$T/bp.out" | sort -u)" = true ]
}

@test "json: backlog (report, --check pass and fail, --watch) and backlog test" {
  sj_bg bl /dev/null listen -k 127.0.0.1 0
  listening bl
  sj_bg ul /dev/null listen -k -U "$T/b.sock"
  wait_for_line "$T/ul.err" '"event":"listening"'
  sj r /dev/null backlog --port "$PORT"
  sj ru /dev/null backlog --pid "$(bg_pid ul)"
  sj c /dev/null backlog --port "$PORT" --check --fail-above 50
  [ "$status" -eq 0 ]
  sj cf /dev/null backlog --port "$(free_port)" --check
  [ "$status" -eq 4 ]
  sj w /dev/null backlog --port "$PORT" --watch 200ms --count 2
  [ "$status" -eq 0 ]
  bg_stop bl
  bg_stop ul
  keep bl ul
  sj t /dev/null backlog test -b 2 --clients 6 -w 1s
  [ "$status" -eq 0 ] || { show "$T/t.out" "$T/t.err"; false; }
}

@test "json: backlog trace (trace_start, drop, trace_summary)" {
  [ "$(id -u)" = 0 ] || skip "backlog trace needs root"
  [ -r /sys/kernel/btf/vmlinux ] || skip "the kernel has no BTF"
  run "$SOCKPROBE" backlog trace --duration 1ms
  [[ $output != *"built without BPF support"* ]] || skip "sockprobe was built without BPF support"
  plain_netns
  bg_start py /dev/null ip netns exec "$NS" "$PY" -c '
import socket, sys, time
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(1)
print("port", l.getsockname()[1], file=sys.stderr, flush=True)
time.sleep(30)'
  wait_for_line "$T/py.err" '^port [0-9]+'
  PORT=$(sed -nE 's/^port ([0-9]+).*/\1/p' "$T/py.err")
  bg_start trace /dev/null ip netns exec "$NS" timeout 30 "$SOCKPROBE" --json backlog trace --port "$PORT" --count 2
  wait_for_line "$T/trace.out" '"event":"trace_start"'
  ip netns exec "$NS" "$PY" -c '
import socket, sys, time
socks = []
for i in range(5):
    s = socket.socket(); s.setblocking(False)
    try: s.connect(("127.0.0.1", int(sys.argv[1])))
    except BlockingIOError: pass
    socks.append(s); time.sleep(0.05)
time.sleep(0.5)' "$PORT"
  bg_wait trace 20
  bg_stop py
  keep trace
  grep -q '"event":"trace_summary"' "$T/trace.out" || { show "$T/trace.out" "$T/trace.err"; false; }
}

@test "json: every emitted event and field is documented in JSON EVENTS, and every documented one is emitted" {
  [ -s "$EV" ] || skip "no events collected (run the whole file)"
  local trace=1
  grep -q '"event":"trace_start"' "$EV" || trace=0
  run "$PY" "$BATS_TEST_DIRNAME/json_events.py" compare "$MAN" "$EV" "$trace" "${HARD[@]}"
  echo "$output"
  [ "$status" -eq 0 ]
}

@test "json: the man page's JSON EVENTS section parses (every event has fields, no stray braces)" {
  run "$PY" "$BATS_TEST_DIRNAME/json_events.py" show "$MAN"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ $output == *"listening: "*"backlog.effective"* ]]
  [[ $output == *"closed: "*"tcp_info.rtt"* ]]
  [[ $output == *"burst: "*"histogram[].label"* ]]
}
