#!/usr/bin/env bats
# The data paths of send and recv (src/core/transfer.cc): copy through a
# buffer, splice() from a stdin pipe and into a stdout pipe, MSG_TRUNC for
# output that is thrown away. Each path is forced in turn with
# SOCKPROBE_ZEROCOPY=0/1 or left to choose (unset); the bytes must arrive
# whole on each, including the waits (an empty input pipe, a full output
# pipe), and strace shows that the default takes the measured path.

bats_require_minimum_version 1.5.0
load helpers

setup() {
  sp_setup
  make_random "$T/data" 24
  SIZE=$(stat -c %s "$T/data")
}
teardown() { sp_teardown; }

# sp MODE ARGS...: sockprobe ARGS with SOCKPROBE_ZEROCOPY unset (auto) or
# set to MODE. recv gets a stall timeout so a failing test never hangs.
sp() {
  local mode=$1
  shift
  if [ "$mode" = auto ]; then
    env -u SOCKPROBE_ZEROCOPY "$SOCKPROBE" "$@"
  else
    SOCKPROBE_ZEROCOPY=$mode "$SOCKPROBE" "$@"
  fi
}
recv_file() { sp "$1" recv 127.0.0.1 0 -o "$2" --json --stall-timeout 20s; }
recv_pipe() { sp "$1" recv 127.0.0.1 0 --json --stall-timeout 20s | cat >"$2"; }
recv_slow_pipe() { sp "$1" recv 127.0.0.1 0 --json --stall-timeout 20s | { sleep 0.5; cat >"$2"; }; }
recv_null() { sp "$1" recv 127.0.0.1 0 --json --stall-timeout 20s >/dev/null; }
send_file() { sp "$1" send 127.0.0.1 "$PORT" "$T/data" --json; }
send_pipe() { cat "$T/data" | sp "$1" send 127.0.0.1 "$PORT" --json; }
send_trickle() { { head -c 1M "$T/data"; sleep 0.3; tail -c +$((1024 * 1024 + 1)) "$T/data"; } | sp "$1" send 127.0.0.1 "$PORT" --json; }

# start_recv NAME CMD...: runs CMD in the background and sets PORT from the
# listening event on its stderr.
start_recv() {
  local name=$1
  shift
  bg_start "$name" /dev/null "$@"
  wait_for_line "$T/$name.err" '"event":"listening"' || return 1
  PORT=$(listening_port "$T/$name.err")
}

# summary_bytes FILE: bytes in the summary event of FILE.
summary_bytes() { grep '"event":"summary"' "$1" | jq -r .bytes; }

# through MODE RECV SEND: starts `RECV MODE OUTFILE` (a receiver function
# above), runs `SEND MODE`, and checks both exit 0 and OUTFILE equals the data.
through() {
  local mode=$1 recv=$2 send=$3
  start_recv recv "$recv" "$mode" "$T/out.$mode"
  run "$send" "$mode"
  [ "$status" -eq 0 ] || { echo "mode $mode: $output" >&2; return 1; }
  bg_wait recv 60
  [ "$BG_STATUS" -eq 0 ] || { show "$T/recv.err"; return 1; }
  same_bytes "$T/data" "$T/out.$mode"
}

@test "file -> recv -o FILE is whole with copy, zero-copy and the default" {
  for mode in auto 0 1; do through "$mode" recv_file send_file; done
}

@test "stdin pipe -> stdout pipe is whole with copy, zero-copy and the default" {
  for mode in auto 0 1; do
    through "$mode" recv_pipe send_pipe
    [ "$(summary_bytes "$T/recv.err")" -eq "$SIZE" ]
  done
}

@test "an input pipe that runs dry and an output pipe that fills up lose nothing" {
  for mode in auto 0 1; do through "$mode" recv_slow_pipe send_trickle; done
}

@test "recv > /dev/null counts every byte (discarded in the kernel)" {
  for mode in auto 0 1; do
    start_recv recv recv_null "$mode"
    run sp "$mode" send 127.0.0.1 "$PORT" "$T/data" --json
    [ "$status" -eq 0 ]
    bg_wait recv 60
    [ "$BG_STATUS" -eq 0 ] || { show "$T/recv.err"; false; }
    [ "$(summary_bytes "$T/recv.err")" -eq "$SIZE" ]
  done
}

@test "listen > /dev/null drops the bytes in the kernel (MSG_TRUNC), as recv > /dev/null does, and delivers all" {
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"  # as under strace below
  bg_start lnull /dev/null strace -f -e trace=recvfrom,splice -o "$T/l.trace" \
    bash -c 'exec env -u SOCKPROBE_ZEROCOPY "$0" listen 127.0.0.1 0 >/dev/null' "$SOCKPROBE"
  wait_for_line "$T/lnull.err" '^Listening on ' || { show "$T/lnull.err"; false; }
  PORT=$(listening_port "$T/lnull.err")
  run "$SOCKPROBE" send 127.0.0.1 "$PORT" "$T/data" -q
  [ "$status" -eq 0 ]
  bg_wait lnull 60
  [ "$BG_STATUS" -eq 0 ] || { show "$T/lnull.err"; false; }
  grep -q 'MSG_TRUNC' "$T/l.trace" || { show "$T/l.trace"; false; }
  ! grep -q 'splice(' "$T/l.trace"
}

@test "--checksum on the zero-copy paths still equals xxh128sum" {
  local want
  want=$(xxh128sum "$T/data" | cut -d' ' -f1)
  start_recv recv bash -c 'SOCKPROBE_ZEROCOPY=1 "$0" recv 127.0.0.1 0 --json --checksum --stall-timeout 20s | cat > "$1"' \
    "$SOCKPROBE" "$T/out"
  run bash -c 'cat "$1" | SOCKPROBE_ZEROCOPY=1 "$0" send 127.0.0.1 "$2" --json --checksum' "$SOCKPROBE" "$T/data" "$PORT"
  [ "$status" -eq 0 ]
  [ "$(jq -r 'select(.event == "summary") | .checksum' <<<"$output")" = "xxh3-128:$want" ]
  bg_wait recv 60
  [ "$(grep '"event":"summary"' "$T/recv.err" | jq -r .checksum)" = "xxh3-128:$want" ]
  same_bytes "$T/data" "$T/out"
}

@test "foreign peers: socat into a spliced recv pipe, a spliced send pipe into socat" {
  start_recv recv recv_pipe auto "$T/out1"
  run socat -u "OPEN:$T/data" "TCP:127.0.0.1:$PORT"
  [ "$status" -eq 0 ]
  bg_wait recv 60
  same_bytes "$T/data" "$T/out1"

  start_foreign socat /dev/null 'listening on' socat -d -d -u TCP-LISTEN:0,bind=127.0.0.1 "CREATE:$T/out2"
  PORT=$(sed -nE 's/.*listening on AF=2 127\.0\.0\.1:([0-9]+).*/\1/p' "$T/socat.err")
  run send_pipe auto
  [ "$status" -eq 0 ]
  bg_wait socat 30
  [ "$BG_STATUS" -eq 0 ]
  same_bytes "$T/data" "$T/out2"
}

@test "the default splices pipes and sendfile()s files (what bench/transfer.sh measured)" {
  # Under strace (ptrace) an ASan build's LeakSanitizer cannot stop the
  # world and fails the exit; leaks are checked by every other test.
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
  start_recv recv recv_pipe auto "$T/out"
  run strace -f -e trace=splice,sendfile -o "$T/send.trace" bash -c \
    'cat "$1" | env -u SOCKPROBE_ZEROCOPY "$0" send 127.0.0.1 "$2" -q' "$SOCKPROBE" "$T/data" "$PORT"
  [ "$status" -eq 0 ]
  bg_wait recv 60
  grep -q 'splice(' "$T/send.trace" || { show "$T/send.trace"; false; }
  same_bytes "$T/data" "$T/out"

  start_recv recv2 sp auto recv 127.0.0.1 0 -o "$T/out2" --json --stall-timeout 20s
  run strace -f -e trace=splice,sendfile,read -o "$T/file.trace" env -u SOCKPROBE_ZEROCOPY "$SOCKPROBE" send 127.0.0.1 "$PORT" "$T/data" -q
  [ "$status" -eq 0 ]
  bg_wait recv2 60
  grep -q 'sendfile(' "$T/file.trace" || { show "$T/file.trace"; false; }
  same_bytes "$T/data" "$T/out2"

  # --checksum needs the bytes: read(), no sendfile.
  start_recv recv3 sp auto recv 127.0.0.1 0 --discard --json --stall-timeout 20s
  run strace -f -e trace=sendfile -o "$T/sum.trace" env -u SOCKPROBE_ZEROCOPY "$SOCKPROBE" send 127.0.0.1 "$PORT" "$T/data" -q --checksum
  [ "$status" -eq 0 ]
  bg_wait recv3 60
  ! grep -q 'sendfile(' "$T/sum.trace"
}

# A python3 peer that resets the connection (SO_LINGER 0, then close) after
# ARG bytes: as a server (reset_server N) it prints "port P" on stderr.
RESET_PEER='
import socket, struct, sys, time
mode, n = sys.argv[1], int(sys.argv[2])
if mode == "server":
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    print("port", srv.getsockname()[1], file=sys.stderr, flush=True)
    c, _ = srv.accept()
    got = 0
    while got < n:
        got += len(c.recv(65536))
else:
    c = socket.create_connection(("127.0.0.1", int(sys.argv[3])))
    c.sendall(b"x" * n)
    time.sleep(0.3)  # sockprobe reads it all meanwhile
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.close()
'

@test "a reset mid-transfer names the operation, the peer and the errno (exit 1)" {
  bg_start py /dev/null "$PY" -c "$RESET_PEER" server 1000000
  wait_for_line "$T/py.err" '^port [0-9]+'
  PORT=$(sed -n 's/^port //p' "$T/py.err")
  run -1 "$SOCKPROBE" send 127.0.0.1 "$PORT" --size 1G -q
  [ "${#lines[@]}" -eq 1 ]
  [[ $output =~ (write\ to|wait\ for)\ 127\.0\.0\.1\ port\ $PORT\ \(tcp\).*:\ (Connection\ reset\ by\ peer|Broken\ pipe) ]] ||
    { echo "got: $output" >&2; false; }
  bg_wait py 10
}

recv_pipe_status() { sp auto recv 127.0.0.1 0 --json --stall-timeout 20s | cat >/dev/null; return "${PIPESTATUS[0]}"; }

@test "recv: a sender's reset is reported with its address, on the copy and the splice path" {
  local recv
  for recv in "$SOCKPROBE recv 127.0.0.1 0 --discard --checksum --json" recv_pipe_status; do
    # shellcheck disable=SC2086
    start_recv recv $recv
    run timeout 20 "$PY" -c "$RESET_PEER" client 100000 "$PORT"
    bg_wait recv 20
    [ "$BG_STATUS" -eq 1 ] || { echo "$recv: exit $BG_STATUS" >&2; show "$T/recv.err"; false; }
    grep -Eq '"message":"read from 127\.0\.0\.1 port [0-9]+ \(tcp\): Connection reset by peer"' "$T/recv.err" ||
      { show "$T/recv.err"; false; }
  done
}

@test "-o naming a FIFO writes into it in place (never renamed over it)" {
  mkfifo "$T/fifo"
  bg_start reader /dev/null bash -c 'cat "$0" > "$1"' "$T/fifo" "$T/out"
  start_recv recv "$SOCKPROBE" recv 127.0.0.1 0 -o "$T/fifo" --json --stall-timeout 20s
  run "$SOCKPROBE" send 127.0.0.1 "$PORT" "$T/data" -q
  [ "$status" -eq 0 ]
  bg_wait recv 60
  [ "$BG_STATUS" -eq 0 ] || { show "$T/recv.err"; false; }
  bg_wait reader 30
  [ -p "$T/fifo" ]
  same_bytes "$T/data" "$T/out"
}

recv_slow_reader() { sp auto recv 127.0.0.1 0 --json --stall-timeout 1s | { sleep 3; cat >"$2"; }; return "${PIPESTATUS[0]}"; }
recv_head() { sp auto recv 127.0.0.1 0 --json | head -c 10 >/dev/null; return "${PIPESTATUS[0]}"; }

@test "waiting for a slow reader of stdout is not a network stall" {
  start_recv recv recv_slow_reader auto "$T/out"
  run "$SOCKPROBE" send 127.0.0.1 "$PORT" "$T/data" -q
  [ "$status" -eq 0 ] || { echo "send: $output" >&2; show "$T/recv.err"; false; }
  bg_wait recv 60
  [ "$BG_STATUS" -eq 0 ] || { show "$T/recv.err"; false; }
  same_bytes "$T/data" "$T/out"
}

@test "recv | head: a reader that leaves is a write error on stdout (exit 1)" {
  start_recv recv recv_head auto
  run "$SOCKPROBE" send 127.0.0.1 "$PORT" "$T/data" -q
  bg_wait recv 30
  [ "$BG_STATUS" -eq 1 ] || { show "$T/recv.err"; false; }
  grep -q '"message":"write stdout: Broken pipe"' "$T/recv.err" || { show "$T/recv.err"; false; }
}
