#!/usr/bin/env bats
# The delivery contract (DESIGN.md "Delivery"), issue 9 items 3, 4, 7, 8, 9,
# 10: an interrupted send resets a foreign receiver; recv -o leaves no
# temporary file on any catchable signal; listen -u filters every datagram
# and relays only the chosen peer's; listen -U never replaces or removes
# what is not its own; --max-conns fits the fd limit (the soft one raised
# to the hard one) and says when it is reached; connect bursts respect the
# fd limit. Foreign peers: python3, socat, nc.

bats_require_minimum_version 1.5.0

load helpers

setup() { sp_setup; }
teardown() { sp_teardown; }

# --- item 4: recv -o and signals ---------------------------------------------

# A python3 sender that connects to 127.0.0.1 PORT, sends 1000 bytes and
# holds the connection open (at most 30 s) so recv is mid-transfer.
SP_PY_HOLDING_SENDER='
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"x" * 1000)
print("sent", file=sys.stderr, flush=True)
time.sleep(30)
'

# leftovers DIR: the OUT and OUT.sockprobe-* files left in DIR (recv -o
# writes an unnamed O_TMPFILE where it can: output_fd_of finds it).
leftovers() { find "$1" -maxdepth 1 -name 'out*' -printf '%f\n'; }

# recv_killed_by SIG: recv -o mid-transfer, sent SIG; it must die by that
# signal (the shell sees 128+N) and leave neither OUT nor its temporary.
recv_killed_by() {
  local sig=$1 num
  num=$(kill -l "$sig")
  mkdir "$T/$sig"
  start_listener r /dev/null recv 127.0.0.1 0 -o "$T/$sig/out"
  bg_start py /dev/null "$PY" -c "$SP_PY_HOLDING_SENDER" "$PORT"
  wait_for_line "$T/py.err" '^sent'
  wait_for_line "$T/r.err" '^Connection from '
  [ -n "$(output_fd_of "$(bg_pid r)")" ]  # it is writing its (unnamed) file
  kill -s "$sig" "$(bg_pid r)"
  bg_wait r 10
  echo "$sig: status $BG_STATUS, left: $(leftovers "$T/$sig")"
  [ "$BG_STATUS" -eq $((128 + num)) ]
  [ -z "$(leftovers "$T/$sig")" ]
  bg_stop py
}

@test "recv -o: SIGTERM, SIGHUP, SIGUSR1, SIGALRM and SIGUSR2 mid-transfer leave no file" {
  for sig in TERM HUP USR1 ALRM USR2; do recv_killed_by "$sig"; done
}

@test "recv -o: SIGINT mid-transfer leaves no file (exit 130)" {
  start_listener r /dev/null recv 127.0.0.1 0 -o "$T/out"
  bg_start py /dev/null "$PY" -c "$SP_PY_HOLDING_SENDER" "$PORT"
  wait_for_line "$T/py.err" '^sent'
  wait_for_line "$T/r.err" '^Connection from '
  kill -INT "$(bg_pid r)"
  bg_wait r 10
  [ "$BG_STATUS" -eq 130 ]
  [ -z "$(leftovers "$T")" ]
}

@test "recv -o: SIGQUIT (a shell's background job ignores it: reset first) leaves no file" {
  env --help 2>&1 | grep -q -- --default-signal || skip "env has no --default-signal"
  ulimit -c 0  # SIGQUIT dumps core by default
  bg_start r /dev/null env --default-signal=QUIT "$SOCKPROBE" recv 127.0.0.1 0 -o "$T/out"
  wait_for_line "$T/r.err" '^Listening on '
  [ -n "$(output_fd_of "$(bg_pid r)")" ]
  kill -QUIT "$(bg_pid r)"
  bg_wait r 10
  [ "$BG_STATUS" -eq 131 ]
  [ -z "$(leftovers "$T")" ]
}

@test "recv -o: killed by timeout(1), before and during the transfer, leaves no file" {
  # Nobody connects: timeout's SIGTERM while waiting for the sender.
  run -124 timeout 1 "$SOCKPROBE" recv 127.0.0.1 0 -o "$T/out"
  [ -z "$(leftovers "$T")" ]
  # Mid-transfer, with --signal=HUP this time; socat is the sender.
  mkdir "$T/d"
  bg_start r /dev/null timeout -s HUP 2 "$SOCKPROBE" recv 127.0.0.1 0 -o "$T/d/out"
  wait_for_line "$T/r.err" '^Listening on '
  PORT=$(listening_port "$T/r.err")
  bg_start so /dev/null socat -u "SYSTEM:printf 1234; exec sleep 20" "TCP:127.0.0.1:$PORT"
  wait_for_line "$T/r.err" '^Connection from '
  bg_wait r 10
  [ "$BG_STATUS" -eq 124 ]
  [ -z "$(leftovers "$T/d")" ]
}

# --- item 8: listen -U never replaces or removes what is not its own -----------

# A python3 Unix socket at PATH of TYPE (SOCK_STREAM listening, or
# SOCK_DGRAM printing each datagram it gets as "got DATA"); "bound" on
# stderr once bound; lives at most 30 s.
SP_PY_UNIX_HOLDER='
import socket, sys, time
kind, path = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, getattr(socket, kind))
s.bind(path)
if kind == "SOCK_STREAM":
    s.listen(4)
print("bound", file=sys.stderr, flush=True)
s.settimeout(30)
try:
    if kind == "SOCK_DGRAM":
        while True:
            print("got", s.recv(100).decode(), file=sys.stderr, flush=True)
    else:
        time.sleep(30)
except socket.timeout:
    pass
'

@test "listen -U: a live Unix datagram socket at PATH is in use, not replaced (stream and datagram listen)" {
  local sock=$T/d.sock
  bg_start py /dev/null "$PY" -c "$SP_PY_UNIX_HOLDER" SOCK_DGRAM "$sock"
  wait_for_line "$T/py.err" '^bound'
  run timeout 5 "$SOCKPROBE" listen -U "$sock"
  [ "$status" -eq 1 ]
  [[ $output == *"$sock"*"in use"* ]]
  run timeout 5 "$SOCKPROBE" listen -u -U "$sock"
  [ "$status" -eq 1 ]
  [[ $output == *"in use"* ]]
  # Still python's: a datagram sent there (socat) reaches it.
  printf 'still here' | timeout 5 socat -u - "UNIX-SENDTO:$sock"
  wait_for_line "$T/py.err" '^got still here'
}

@test "listen -U: a live listener of another network namespace at PATH is in use, not replaced" {
  plain_netns
  local sock=$T/ns.sock
  bg_start py /dev/null ip netns exec "$NS" "$PY" -c "$SP_PY_UNIX_HOLDER" SOCK_STREAM "$sock"
  wait_for_line "$T/py.err" '^bound'
  run ! grep -q " $sock\$" /proc/net/unix  # not visible from here: only a connect finds it
  run timeout 5 "$SOCKPROBE" listen -U "$sock"
  [ "$status" -eq 1 ]
  [[ $output == *"in use"* ]]
  # Still answering: connect through the file from this namespace.
  timeout 5 nc -U -z "$sock"
}

@test "listen -U: a regular file or a directory at PATH is 'not a socket', left as it was" {
  printf 'precious' >"$T/plain"
  run timeout 5 "$SOCKPROBE" listen -U "$T/plain"
  [ "$status" -eq 1 ]
  [[ $output == *"$T/plain: not a socket"* ]]
  [[ $output != *"Address already in use"* ]]
  [ "$(cat "$T/plain")" = precious ]
  mkdir "$T/dir"
  run timeout 5 "$SOCKPROBE" listen -u -U "$T/dir"
  [ "$status" -eq 1 ]
  [[ $output == *"not a socket (a directory"* ]]
  [ -d "$T/dir" ]
}

@test "listen -U: a stale socket file is still replaced (its owner was SIGKILLed)" {
  local sock=$T/s.sock
  bg_start py /dev/null "$PY" -c "$SP_PY_UNIX_HOLDER" SOCK_DGRAM "$sock"
  wait_for_line "$T/py.err" '^bound'
  kill -9 "$(bg_pid py)"
  bg_wait py 5
  [ -S "$sock" ]
  start_listener l /dev/null listen -u -U "$sock"
  printf 'dgram' | timeout 5 socat -u - "UNIX-SENDTO:$sock"
  wait_for_size "$T/l.out" 5
  [ "$(cat "$T/l.out")" = dgram ]
}

@test "listen -U: at exit (SIGTERM, SIGINT) what replaced our socket file at PATH is left alone" {
  local sock=$T/r.sock
  # A regular file renamed over our socket meanwhile; SIGTERM.
  start_listener l /dev/null listen -U "$sock"
  printf 'theirs' >"$T/new" && mv "$T/new" "$sock"
  kill -TERM "$(bg_pid l)"
  bg_wait l 10
  [ "$BG_STATUS" -eq 143 ]
  [ -f "$sock" ] && [ "$(cat "$sock")" = theirs ]
  rm "$sock"
  # Another listener's socket (python3) there meanwhile; SIGINT (the normal exit path).
  start_listener l2 /dev/null listen -U "$sock"
  rm "$sock"
  bg_start py /dev/null "$PY" -c "$SP_PY_UNIX_HOLDER" SOCK_STREAM "$sock"
  wait_for_line "$T/py.err" '^bound'
  kill -INT "$(bg_pid l2)"
  bg_wait l2 10
  [ "$BG_STATUS" -eq 130 ]
  [ -S "$sock" ]
  timeout 5 nc -U -z "$sock"
  # Our own socket file is still removed at exit.
  bg_stop py
  rm -f "$sock"
  start_listener l3 /dev/null listen -U "$sock"
  kill -TERM "$(bg_pid l3)"
  bg_wait l3 10
  [ ! -e "$sock" ]
}

# --- item 3: an interrupted send resets a foreign receiver ---------------------

# A python3 receiver on 127.0.0.1 port 0 for one sender: "port N" once
# bound, "got N" on stderr at each 64 KiB it has read, then how the stream
# ended: "reset N" (ECONNRESET: the sender aborted), "eof N" (a clean EOF,
# what a truncated stream must never look like) or "error ..." (at most
# 30 s without data).
SP_PY_RESET_RECEIVER='
import socket, sys
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(1)
print("port", ls.getsockname()[1], file=sys.stderr, flush=True)
c, _ = ls.accept()
c.settimeout(30)
n, told = 0, 0
try:
    while True:
        b = c.recv(1 << 16)
        if not b:
            print("eof", n, file=sys.stderr, flush=True)
            break
        n += len(b)
        if n - told >= 65536:
            told = n
            print("got", n, file=sys.stderr, flush=True)
except ConnectionResetError:
    print("reset", n, file=sys.stderr, flush=True)
except OSError as e:
    print("error", e, file=sys.stderr, flush=True)
'

@test "delivery 3: send --rate 2M FILE interrupted (SIGINT, exit 130) or SIGTERMed resets a python3 receiver (ECONNRESET, not EOF)" {
  make_random "$T/f" 8
  local sig want
  for sig in INT TERM; do
    py_start rx "$SP_PY_RESET_RECEIVER"
    bg_start s /dev/null "$SOCKPROBE" send --rate 2M 127.0.0.1 "$PORT" "$T/f"
    wait_for_line "$T/rx.err" '^got ' 20
    kill -s "$sig" "$(bg_pid s)"
    bg_wait s 10
    want=$((128 + $(kill -l "$sig")))
    echo "SIG$sig: send exit $BG_STATUS (want $want); receiver: $(tail -1 "$T/rx.err")" >&2
    [ "$BG_STATUS" -eq "$want" ]
    bg_wait rx 10
    [ "$BG_STATUS" -eq 0 ]
    grep -Eq '^reset [0-9]+$' "$T/rx.err"
    run ! grep -q '^eof' "$T/rx.err"
    # Cut short: 8 MiB at 2 MB/s take 4 s (room for a slow kill on a loaded
    # machine), the signal came at the first 64 KiB.
    [ "$(sed -nE 's/^reset ([0-9]+)$/\1/p' "$T/rx.err")" -lt 8388608 ]
  done
}

# --- item 9: the soft open-file limit is raised, --max-conns follows it -------

# N python3 clients to 127.0.0.1 PORT, all held open at once: each connects,
# sends one byte and (echo) waits for it to come back, at most 20 s for all.
# Prints "open N" once all are connected and (echo) "echoed K" for those
# that got their byte back while every one of them was still open; holds
# them until stdin (a FIFO) ends, then closes them.
SP_PY_HELD_CLIENTS='
import select, socket, sys, time
port, n, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
socks = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(n)]
print("open", len(socks), flush=True)
for s in socks:
    s.sendall(b"x")
if mode == "echo":
    waiting, deadline = set(socks), time.time() + 20
    while waiting and time.time() < deadline:
        ready, _, _ = select.select(list(waiting), [], [], 0.5)
        for s in ready:
            if s.recv(1) == b"x":
                waiting.discard(s)
    print("echoed", n - len(waiting), flush=True)
sys.stdin.read()
for s in socks:
    s.close()
'

@test "delivery 9: listen --echo/--discard -k under ulimit -Sn 64 raises it to the hard limit and serves 150 clients at once" {
  command -v prlimit >/dev/null || skip "no prlimit"
  local hard mode base n=150
  hard=$(ulimit -Hn)
  [ "$hard" = unlimited ] || [ "$hard" -ge 400 ] || skip "the hard open-file limit ($hard) is below 400"
  for mode in echo discard; do
    bg_start "$mode" /dev/null bash -c 'ulimit -Sn 64 && exec "$0" --json listen --"$1" -k 127.0.0.1 0' "$SOCKPROBE" "$mode"
    wait_for_line "$T/$mode.err" '"event":"listening"'
    PORT=$(listening_port "$T/$mode.err")
    base=$(open_fds_of "$(bg_pid "$mode")")  # std fds, listener, epoll, ...
    # Started at 64, running at the hard limit.
    [ "$(limit_of "$(bg_pid "$mode")" HARD)" = "$(limit_of "$(bg_pid "$mode")" SOFT)" ]
    [ "$(limit_of "$(bg_pid "$mode")" SOFT)" != 64 ]
    mkfifo "$T/$mode.hold"
    bg_start "cl-$mode" "$T/$mode.hold" "$PY" -c "$SP_PY_HELD_CLIENTS" "$PORT" "$n" "$mode"
    exec 5>"$T/$mode.hold"  # the clients' stdin: they hold on until it closes
    wait_for_line "$T/cl-$mode.out" "^open $n\$" 20
    if [ "$mode" = echo ]; then
      # Every one served while all are open: more than 64 less 16 at once.
      wait_for_line "$T/cl-$mode.out" '^echoed ' 30
      grep -qx "echoed $n" "$T/cl-$mode.out" || { show "$T/cl-$mode.out" "$T/$mode.err"; false; }
    else
      # Each accepted connection is a descriptor of the listener's.
      wait_at_least $((base + n)) 20 open_fds_of "$(bg_pid "$mode")"
    fi
    exec 5>&-
    bg_wait "cl-$mode" 20
    [ "$BG_STATUS" -eq 0 ]
    # The default cap (the hard limit less 16) was never reached: no warning.
    run ! grep -q 'max-conns' "$T/$mode.err"
    run ! grep -q 'Too many open files' "$T/$mode.err"
    bg_stop "$mode"
  done
}
