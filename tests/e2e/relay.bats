#!/usr/bin/env bats
# The relay engine end to end: sockprobe in both roles against foreign peers
# (netcat-openbsd, socat, python3), 64 MiB of random bytes each way at once,
# checksums compared; IPv6, UDP, Unix and abstract sockets; half-close
# request/response; SIGINT mid-relay; a peer's early FIN (half-close) never
# truncates what we send.
#
# After the peer's EOF stdin is still sent to its own EOF (OpenBSD nc; only
# a terminal on stdin stops early): both sides send 64 MiB at once here, and
# each finishes its own stream after the other's FIN with no flag. The
# flags (--keep-sending, --stop-on-peer-eof) are tested in connect.bats.

bats_require_minimum_version 1.5.0
load helpers

# A python3 client for 127.0.0.1 PORT that sends LINE (if given) and a
# newline, half-closes, then reads everything into OUT:  PORT OUT [LINE]
HALF_CLOSING_CLIENT='
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
if len(sys.argv) > 3:
    s.sendall(sys.argv[3].encode() + b"\n")
s.shutdown(socket.SHUT_WR)
with open(sys.argv[2], "wb") as f:
    while True:
        b = s.recv(1 << 16)
        if not b: break
        f.write(b)
'

setup() {
  sp_setup
  make_random "$T/a" 64
  make_random "$T/b" 64
}

teardown() { sp_teardown; }

@test "relay: listen <-> nc client, 64 MiB each way" {
  start_listener srv "$T/a" listen 127.0.0.1 0
  timeout 60 nc -N 127.0.0.1 "$PORT" <"$T/b" >"$T/client.out"
  bg_wait srv 60
  [ "$BG_STATUS" -eq 0 ] || show "$T/srv.err"
  [ "$BG_STATUS" -eq 0 ]
  same_bytes "$T/srv.out" "$T/b"
  same_bytes "$T/client.out" "$T/a"
}

@test "relay: connect <-> socat listener, 64 MiB each way" {
  start_foreign socat "$T/b" 'listening on' socat -d -d -t 30 TCP-LISTEN:0,bind=127.0.0.1 STDIO
  PORT=$(sed -nE 's/.*listening on AF=2 127\.0\.0\.1:([0-9]+).*/\1/p' "$T/socat.err")
  timeout 60 "$SOCKPROBE" connect 127.0.0.1 "$PORT" <"$T/a" >"$T/client.out"
  bg_wait socat 60
  [ "$BG_STATUS" -eq 0 ]
  same_bytes "$T/socat.out" "$T/a"
  same_bytes "$T/client.out" "$T/b"
}

@test "relay: connect <-> python3 server, 64 MiB each way" {
  py_server py relay "$T/b" "$T/py.out"
  timeout 60 "$SOCKPROBE" connect 127.0.0.1 "$PORT" <"$T/a" >"$T/client.out"
  bg_wait py 60
  [ "$BG_STATUS" -eq 0 ]
  same_bytes "$T/py.out" "$T/a"
  same_bytes "$T/client.out" "$T/b"
}

@test "relay: listen <-> sockprobe connect, stdin and stdout are pipes" {
  start_listener srv "$T/a" listen 127.0.0.1 0
  # The listener's FIN may come while our stdin still flows.
  cat "$T/b" | timeout 60 "$SOCKPROBE" connect 127.0.0.1 "$PORT" | cat >"$T/client.out"
  bg_wait srv 60
  [ "$BG_STATUS" -eq 0 ]
  same_bytes "$T/srv.out" "$T/b"
  same_bytes "$T/client.out" "$T/a"
}

@test "relay: IPv6 ::1 in both roles" {
  [ -n "$(ip -6 addr show dev lo 2>/dev/null)" ] || skip "no IPv6 on lo"
  start_listener srv "$T/a" listen ::1 0
  grep -q '^Listening on ::1 ' "$T/srv.err"
  timeout 60 "$SOCKPROBE" connect ::1 "$PORT" <"$T/b" >"$T/client.out"
  bg_wait srv 60
  same_bytes "$T/srv.out" "$T/b"
  same_bytes "$T/client.out" "$T/a"
  # [::1] is accepted too, and nc as the foreign client.
  start_listener srv2 "$T/a" listen '[::1]' 0
  timeout 60 nc -N ::1 "$PORT" <"$T/b" >"$T/nc.out"
  bg_wait srv2 60
  same_bytes "$T/srv2.out" "$T/b"
  same_bytes "$T/nc.out" "$T/a"
}

@test "relay: UDP listen takes the first sender as its peer (nc -u)" {
  printf 'reply\n' >"$T/reply"
  mkfifo "$T/in"
  exec 5<>"$T/in"  # stdin that stays open
  start_listener srv "$T/in" listen -u 127.0.0.1 0
  grep -q '(udp' "$T/srv.err"
  printf 'hello over udp\n' >"$T/msg"
  bg_start nc "$T/msg" nc -u -w 5 127.0.0.1 "$PORT"
  wait_for_size "$T/srv.out" 15
  [ "$(cat "$T/srv.out")" = "hello over udp" ]
  # The listener is now connected to nc's address: data goes back.
  printf 'reply\n' >&5
  wait_for_size "$T/nc.out" 6
  [ "$(cat "$T/nc.out")" = "reply" ]
  exec 5>&-
}

@test "relay: UDP connect to a python3 echo peer" {
  py_server py udp_echo
  mkfifo "$T/in"
  exec 5<>"$T/in"
  # The client must not hold fd 5 (a writer of its own stdin): no EOF then.
  bg_start cli "$T/in" bash -c 'exec 5>&-; exec "$0" "$@"' "$SOCKPROBE" connect -u 127.0.0.1 "$PORT"
  printf 'one\n' >&5
  wait_for_size "$T/cli.out" 4
  printf 'two\n' >&5
  wait_for_size "$T/cli.out" 8
  [ "$(cat "$T/cli.out")" = "$(printf 'one\ntwo')" ]
  exec 5>&-
  # stdin's EOF: replies are awaited for -w (default 1 s), then exit 0.
  bg_wait cli 10
  [ "$BG_STATUS" -eq 0 ]
}

@test "relay: Unix socket path in both roles (nc -U, socat)" {
  local sock=$T/s.sock
  start_listener srv "$T/a" listen -U "$sock"
  [[ $(head -1 "$T/srv.err") == "Listening on $sock "* ]]
  [ -S "$sock" ]
  timeout 60 nc -N -U "$sock" <"$T/b" >"$T/client.out"
  bg_wait srv 60
  [ "$BG_STATUS" -eq 0 ]
  same_bytes "$T/srv.out" "$T/b"
  same_bytes "$T/client.out" "$T/a"
  # The socket file is removed on exit.
  [ ! -e "$sock" ]

  start_foreign socat "$T/b" 'listening on' socat -d -d -t 30 UNIX-LISTEN:"$T/u2.sock" STDIO
  timeout 60 "$SOCKPROBE" connect -U "$T/u2.sock" <"$T/a" >"$T/c2.out"
  bg_wait socat 60
  same_bytes "$T/socat.out" "$T/a"
  same_bytes "$T/c2.out" "$T/b"
}

@test "relay: abstract Unix socket @name in both roles" {
  local name="sockprobe-test-$$-$RANDOM"
  start_listener srv "$T/a" listen -U "@$name"
  [[ $(head -1 "$T/srv.err") == "Listening on @$name "* ]]
  timeout 60 socat -t 30 - ABSTRACT-CONNECT:"$name" <"$T/b" >"$T/client.out"
  bg_wait srv 60
  same_bytes "$T/srv.out" "$T/b"
  same_bytes "$T/client.out" "$T/a"

  start_listener srv2 "$T/b" listen -U "@$name"
  timeout 60 "$SOCKPROBE" connect -U "@$name" <"$T/a" >"$T/c2.out"
  bg_wait srv2 60
  same_bytes "$T/srv2.out" "$T/a"
  same_bytes "$T/c2.out" "$T/b"
}

@test "relay: half-close: connect sends, EOF, still receives the reply" {
  py_server py reply_after_eof
  run timeout 30 "$SOCKPROBE" connect 127.0.0.1 "$PORT" <"$T/a"
  [ "$status" -eq 0 ]
  [ "$output" = "got 67108864 bytes" ]
}

@test "relay: half-close: listen serves its whole stdin after the client's EOF" {
  start_listener srv "$T/a" listen 127.0.0.1 0
  # The client sends everything and half-closes before reading anything.
  run timeout 60 "$PY" -c "$HALF_CLOSING_CLIENT" "$PORT" "$T/client.out" "request"
  [ "$status" -eq 0 ]
  bg_wait srv 30
  [ "$BG_STATUS" -eq 0 ]
  [ "$(cat "$T/srv.out")" = "request" ]
  same_bytes "$T/client.out" "$T/a"
}

@test "relay: SIGINT mid-relay prints the summary and exits 130" {
  mkfifo "$T/in"
  exec 5<>"$T/in"
  start_listener srv "$T/in" listen 127.0.0.1 0
  head -c 1000 "$T/a" >"$T/part"
  mkfifo "$T/cin"
  exec 6<>"$T/cin"
  bg_start nc "$T/cin" nc 127.0.0.1 "$PORT"
  cat "$T/part" >&6
  printf 'abc' >&5
  wait_for_size "$T/srv.out" 1000
  wait_for_size "$T/nc.out" 3
  kill -INT "$(bg_pid srv)"
  bg_wait srv 10
  [ "$BG_STATUS" -eq 130 ] || show "$T/srv.err"
  [ "$BG_STATUS" -eq 130 ]
  same_bytes "$T/srv.out" "$T/part"
  # The summary names what was transferred both ways.
  grep -E '^Closed 127\.0\.0\.1 [0-9]+: 1000 in, 3 out' "$T/srv.err"
  grep -q 'interrupted' "$T/srv.err"
  exec 5>&- 6>&-
}

@test "relay: SIGINT while connect waits on a silent peer: summary as JSON, exit 130" {
  py_server py hold
  mkfifo "$T/in"
  exec 5<>"$T/in"
  bg_start cli "$T/in" "$SOCKPROBE" --json connect 127.0.0.1 "$PORT"
  printf 'xyz' >&5
  wait_for_line "$T/py.err" '^got 3$'
  kill -INT "$(bg_pid cli)"
  bg_wait cli 10
  [ "$BG_STATUS" -eq 130 ]
  run jq -c 'select(.event == "closed") | [.bytes_out, .bytes_in, .error]' "$T/cli.err"
  [ "$output" = '[3,0,"interrupted"]' ]
  exec 5>&-
}

@test "relay: every data path delivers the same bytes (sockets as stdin/stdout: read/write; /dev/null: splice)" {
  # stdin and stdout are the ends of socketpairs: the read()/write() path
  # (pipes and files take splice/sendfile, tested above).
  start_listener srv "$T/a" listen 127.0.0.1 0
  timeout 60 "$PY" -c '
import socket, subprocess, sys, threading
sp, port, src, dst = sys.argv[1:5]
a_in, b_in = socket.socketpair()
a_out, b_out = socket.socketpair()
p = subprocess.Popen([sp, "connect", "127.0.0.1", port], stdin=b_in.fileno(), stdout=b_out.fileno())
b_in.close(); b_out.close()
def feed():
    with open(src, "rb") as f:
        while True:
            b = f.read(1 << 16)
            if not b: break
            a_in.sendall(b)
    a_in.shutdown(socket.SHUT_WR)
t = threading.Thread(target=feed); t.start()
with open(dst, "wb") as f:
    while True:
        b = a_out.recv(1 << 16)
        if not b: break
        f.write(b)
t.join()
sys.exit(p.wait())
' "$SOCKPROBE" "$PORT" "$T/b" "$T/client.out"
  bg_wait srv 30
  [ "$BG_STATUS" -eq 0 ]
  same_bytes "$T/srv.out" "$T/b"
  same_bytes "$T/client.out" "$T/a"

  # /dev/null as stdout: nothing lost on the way, the count says so.
  bg_start sink2 /dev/null bash -c 'exec "$0" --json listen 127.0.0.1 0 >/dev/null' "$SOCKPROBE"
  wait_for_line "$T/sink2.err" '"event":"listening"'
  PORT=$(listening_port "$T/sink2.err")
  timeout 60 "$SOCKPROBE" connect 127.0.0.1 "$PORT" <"$T/a" >/dev/null
  bg_wait sink2 30
  [ "$(jq -r 'select(.event == "closed") | .bytes_in' "$T/sink2.err")" = 67108864 ]
}

# The scenario that used to truncate with exit 0: the receiver's stdin is
# empty, so it half-closes at once; the sender must still send everything.
@test "relay: listen </dev/null >file gets a whole file from connect (file and pipe stdin)" {
  make_random "$T/big" 8
  start_listener srv /dev/null listen 127.0.0.1 0
  run timeout 60 "$SOCKPROBE" connect 127.0.0.1 "$PORT" <"$T/big"
  [ "$status" -eq 0 ] || echo "$output" >&2
  [ "$status" -eq 0 ]
  [[ $output != *warning* ]]
  bg_wait srv 30
  [ "$BG_STATUS" -eq 0 ]
  cmp "$T/big" "$T/srv.out"

  # stdin a pipe (splice), stdout a pipe on the receiving side.
  bg_start srv2 /dev/null bash -c '"$0" listen 127.0.0.1 0 | cat >"$1"' "$SOCKPROBE" "$T/srv2.data"
  wait_for_line "$T/srv2.err" '^Listening on '
  PORT=$(listening_port "$T/srv2.err")
  cat "$T/big" | timeout 60 "$SOCKPROBE" connect 127.0.0.1 "$PORT"
  bg_wait srv2 30
  [ "$BG_STATUS" -eq 0 ]
  cmp "$T/big" "$T/srv2.data"

  # The other way round: connect </dev/null receives, listen sends.
  start_listener srv3 "$T/big" listen 127.0.0.1 0
  timeout 60 "$SOCKPROBE" connect 127.0.0.1 "$PORT" </dev/null >"$T/c3.out"
  bg_wait srv3 30
  [ "$BG_STATUS" -eq 0 ]
  cmp "$T/big" "$T/c3.out"
}

@test "relay: foreign peers that half-close at once (nc -N -l </dev/null, python3) still get the whole file" {
  make_random "$T/big" 8
  start_foreign nc /dev/null '^Listening on ' nc.openbsd -v -N -l 127.0.0.1 0
  PORT=$(sed -nE 's/^Listening on [^ ]+ ([0-9]+).*/\1/p' "$T/nc.err")
  run timeout 60 "$SOCKPROBE" connect 127.0.0.1 "$PORT" <"$T/big"
  [ "$status" -eq 0 ] || echo "$output" >&2
  [ "$status" -eq 0 ]
  bg_wait nc 30
  cmp "$T/big" "$T/nc.out"

  # python3: shutdown(SHUT_WR) right after accept, then read to EOF.
  py_server py fin_then_read "$T/py.out"
  run timeout 60 "$SOCKPROBE" connect 127.0.0.1 "$PORT" <"$T/big"
  [ "$status" -eq 0 ]
  bg_wait py 30
  cmp "$T/big" "$T/py.out"

  # sockprobe listen as the sender, a python3 client that half-closes first.
  start_listener srv "$T/big" listen 127.0.0.1 0
  timeout 60 "$PY" -c "$HALF_CLOSING_CLIENT" "$PORT" "$T/client.out"
  bg_wait srv 30
  [ "$BG_STATUS" -eq 0 ]
  cmp "$T/big" "$T/client.out"
}

# A python3 server that reads one line, answers "bye" and closes for good
# (close(), not a half-close): it prints "port N" on stderr once bound.
BYE_SERVER='
import socket, sys
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
print("port", srv.getsockname()[1], file=sys.stderr, flush=True)
c, _ = srv.accept()
f = c.makefile("rb")
f.readline()
c.sendall(b"bye\n")
c.close()
'

@test "relay: the peer's EOF ends stdout at once even while stdin stays open" {
  py_start py "$BYE_SERVER"
  local start
  start=$(date +%s%N)
  # No `timeout` wrapper here: it would hold the stdout pipe open itself.
  { echo hi; sleep 4; } | "$SOCKPROBE" connect --idle-timeout 15s 127.0.0.1 "$PORT" 2>"$T/err" |
    { cat >"$T/out"; date +%s%N >"$T/eof_at"; }
  [ "$(cat "$T/out")" = bye ]
  # The reader saw EOF well before stdin ended (4 s later).
  [ $(( ($(cat "$T/eof_at") - start) / 1000000 )) -lt 3000 ] || { show "$T/err"; false; }
  bg_wait py 10
}

@test "relay: input sent after the peer closed for good is an error, not exit 0" {
  py_start py "$BYE_SERVER"
  run -1 timeout 20 "$SOCKPROBE" connect 127.0.0.1 "$PORT" < <(echo hi; sleep 1; echo important)
  [[ $output == *"bye"* ]]
  [[ $output =~ write\ to\ 127\.0\.0\.1\ port\ $PORT\ \(tcp\):\ (Connection\ reset\ by\ peer|Broken\ pipe) ]] ||
    { echo "got: $output" >&2; false; }
  bg_wait py 10
}

# Runs `sockprobe connect 127.0.0.1 PORT ARGS...` with stdout a socket (or,
# with FULL_STDOUT=pipe in the environment, a pipe) that nobody reads,
# against a server that sends 64 MiB, so stdout is full after a moment. MODE int: SIGINT after 1 s; stall: stdin is /dev/zero (the
# server never reads, so our bytes wait too). Prints "EXIT SECONDS" (seconds from
# the SIGINT, or from the start), or "hung".
FULL_STDOUT_DRIVER='
import os, signal, socket, subprocess, sys, threading, time
sp, mode = sys.argv[1], sys.argv[2]
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(1)
def flood():
    c, _ = ls.accept()
    try:
        c.sendall(b"x" * (64 << 20))
    except OSError:
        pass
threading.Thread(target=flood, daemon=True).start()
# FULL_STDOUT=pipe: stdout the write end of an os.pipe() nobody reads
# (the relay splices into it); else a socketpair (read/write).
if os.environ.get("FULL_STDOUT") == "pipe":
    keep, out = os.pipe()
    out = os.fdopen(out, "wb")
else:
    out, keep = socket.socketpair()
p = subprocess.Popen([sp, "connect", "127.0.0.1", str(ls.getsockname()[1])] + sys.argv[3:],
                     stdin=open("/dev/zero" if mode == "stall" else "/dev/null", "rb"),
                     stdout=out, stderr=subprocess.DEVNULL)
out.close()
start = time.time()
if mode == "int":
    time.sleep(1.0)
    start = time.time()
    p.send_signal(signal.SIGINT)
try:
    rc = p.wait(timeout=15)
    print(rc, round(time.time() - start, 1))
except subprocess.TimeoutExpired:
    p.kill()
    print("hung")
'

# full_stdout_ends RC MAX_SECONDS MODE [FLAGS...]: the relay with a stdout
# nobody reads, ended by MODE, exits RC in under MAX_SECONDS.
full_stdout_ends() {
  local want=$1 max=$2 rc secs
  shift 2
  run timeout 60 "$PY" -c "$FULL_STDOUT_DRIVER" "$SOCKPROBE" "$@"
  echo "$*: $output" >&2
  read -r rc secs <<<"$output"
  [ "$rc" = "$want" ]
  [ "${secs%.*}" -lt "$max" ]
}

@test "delivery 2: a stdout nobody reads does not make SIGINT or --idle-timeout ineffective" {
  full_stdout_ends 130 3 int
  full_stdout_ends 3 5 idle --idle-timeout 1s
}

@test "delivery 2: --stall-timeout holds while stdout is full (the peer neither reads nor stops sending)" {
  full_stdout_ends 3 5 stall --stall-timeout 1s
}

# The same three ends with stdout a pipe nobody reads (full once the relay
# grew it to 1 MiB): the relay splices into it (SPLICE_F_NONBLOCK; a
# blocking splice() would hang), where the socketpair above takes write().
@test "delivery 2: a pipe stdout nobody reads does not make SIGINT, --idle-timeout or --stall-timeout ineffective" {
  FULL_STDOUT=pipe full_stdout_ends 130 3 int
  FULL_STDOUT=pipe full_stdout_ends 3 5 idle --idle-timeout 1s
  FULL_STDOUT=pipe full_stdout_ends 3 5 stall --stall-timeout 1s
}

@test "delivery 5: connect ... | head -1 exits 0 with nothing on stderr (nc, ncat, socat); -v says why" {
  seq 1 2000000 >"$T/lines"
  py_transfer_peer py send "$T/lines"
  run --separate-stderr bash -c '"$0" connect 127.0.0.1 "$1" </dev/null 2>"$2" | head -1; echo "rc=${PIPESTATUS[0]}"' \
    "$SOCKPROBE" "$PORT" "$T/err"
  [ "${lines[0]}" = 1 ]
  [ "${lines[1]}" = rc=0 ]
  run ! grep -q "Broken pipe" "$T/err"
  run ! grep -qi "error" "$T/err"
  py_transfer_peer py2 send "$T/lines"
  run bash -c '"$0" connect -v 127.0.0.1 "$1" </dev/null 2>"$2" | head -1; echo "rc=${PIPESTATUS[0]}"' \
    "$SOCKPROBE" "$PORT" "$T/err2"
  [ "${lines[1]}" = rc=0 ]
  grep -q "reader of standard output left" "$T/err2"
}

@test "delivery 6: UDP and Unix datagram clients finish -w after stdin's EOF, with the replies" {
  py_server py udp_echo
  start=$(date +%s%N)
  run --separate-stderr timeout 20 "$SOCKPROBE" connect -u -w 500ms 127.0.0.1 "$PORT" < <(printf 'ping\n')
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  [ "$status" -eq 0 ]
  [ "$output" = ping ]
  [ "$ms" -ge 500 ] && [ "$ms" -lt 5000 ]
  # Unix datagram: the client autobinds a name, so the echo can answer it.
  "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("port 0", file=sys.stderr, flush=True)
while True:
    d, peer = s.recvfrom(65536)
    s.sendto(d, peer)
' "$T/echo.sock" 2>"$T/uecho.err" 3>&- &
  echo $! >"$T/uecho.pid"
  wait_for_line "$T/uecho.err" '^port'
  run --separate-stderr timeout 20 "$SOCKPROBE" connect -u -U "$T/echo.sock" < <(printf 'over unix\n')
  [ "$status" -eq 0 ]
  [ "$output" = "over unix" ]
}

@test "delivery 1: connect <FILE (and a pipe) to a receiver that half-closed first exits only once its bytes are in the receiver's kernel" {
  make_random "$T/f" 3
  # stdin a file (sendfile), then a pipe (splice); -O 1M: up to ~2 MiB
  # could sit unacknowledged in our send buffer.
  waits_for_ack file '"$0" connect -O 1M 127.0.0.1 "$1" <"$2"'
  waits_for_ack pipe 'cat "$2" | "$0" connect -O 1M 127.0.0.1 "$1"'
  # Default buffers: the kernel may grow ours to hold all 3 MiB.
  waits_for_ack auto '"$0" connect 127.0.0.1 "$1" <"$2"'
}
