# Shared helpers for sockprobe's end-to-end bats tests: start a process in the
# background and wait (bounded) for a line, read the port a listener chose,
# stop what the test started by pid, make random files, compare checksums,
# and throwaway network namespaces. Every wait is bounded in count and time;
# every background process is recorded and stopped in teardown.
#
# Usage in a .bats file:
#   load helpers
#   setup()    { sp_setup; }
#   teardown() { sp_teardown; }
#
# Others may add functions at the END of this file, in their own commented
# section.

# --- basics ------------------------------------------------------------------

sp_setup() {
  : "${SOCKPROBE:?SOCKPROBE must point at the built sockprobe binary}"
  [ -x "$SOCKPROBE" ] || { echo "SOCKPROBE=$SOCKPROBE is not executable" >&2; return 1; }
  T=$BATS_TEST_TMPDIR
  SP_NETNS=()
  # The system python3 starts fast; a pyenv shim first in PATH takes seconds.
  PY=${PYTHON:-python3}
  if [ -z "${PYTHON:-}" ] && [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; fi
}

sp_teardown() {
  bg_stop_all
  local ns
  for ns in "${SP_NETNS[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
}

# Shows a file's content in the test's failure output.
show() {
  local f
  for f in "$@"; do
    echo "--- $f:" >&2
    if [ -f "$f" ]; then head -c 4000 "$f" >&2; else echo "(missing)" >&2; fi
  done
}

# --- background processes ----------------------------------------------------

# bg_start NAME STDIN CMD...: runs CMD in the background with stdin from
# STDIN, stdout to $T/NAME.out, stderr to $T/NAME.err; the pid goes to
# $T/NAME.pid. fd 3 (bats' own) is closed so bats does not wait for it.
# The files are emptied here, before the background start: the child's
# own redirections run later, so a wait_for_line right after could match
# what an earlier NAME wrote, and then find the file emptied (seen in
# delivery.bats, a name reused in a loop under load: PORT came back empty).
# Not >> in the child: splice refuses a file opened O_APPEND, and tests
# watch which syscall moves the bytes.
bg_start() {
  local name=$1 in=$2
  shift 2
  : >"$T/$name.out"
  : >"$T/$name.err"
  "$@" <"$in" >"$T/$name.out" 2>"$T/$name.err" 3>&- &
  echo $! >"$T/$name.pid"
}

bg_pid() { cat "$T/$1.pid"; }

bg_alive() { kill -0 "$(bg_pid "$1")" 2>/dev/null; }

# bg_wait NAME [SECONDS=20]: waits for NAME to exit and sets BG_STATUS to its
# exit status; fails (status 124) if it is still running after SECONDS.
bg_wait() {
  local name=$1 limit=${2:-20} pid i
  pid=$(bg_pid "$name")
  for ((i = 0; i < limit * 20; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$pid" 2>/dev/null; then
    BG_STATUS=124
    echo "$name (pid $pid) still running after ${limit}s" >&2
    return 1
  fi
  BG_STATUS=0
  wait "$pid" || BG_STATUS=$?
  rm -f "$T/$name.pid"
  return 0
}

# bg_stop NAME: SIGTERM, then SIGKILL after 5 s; never by name.
bg_stop() {
  local name=$1 pid i
  [ -f "$T/$name.pid" ] || return 0
  pid=$(bg_pid "$name")
  kill "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$T/$name.pid"
}

bg_stop_all() {
  local f
  for f in "$T"/*.pid; do
    [ -e "$f" ] || continue
    bg_stop "$(basename "$f" .pid)"
  done
}

# wait_for_line FILE REGEX [SECONDS=10]: polls until FILE has a line matching
# the extended REGEX.
wait_for_line() {
  local file=$1 re=$2 limit=${3:-10} i
  for ((i = 0; i < limit * 20; i++)); do
    grep -Eq -- "$re" "$file" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "no line matching '$re' in $file after ${limit}s" >&2
  show "$file"
  return 1
}

# wait_for_size FILE BYTES [SECONDS=10]: polls until FILE holds >= BYTES.
wait_for_size() { wait_at_least "$2" "${3:-10}" file_size "$1"; }
file_size() { stat -c %s "$1" 2>/dev/null || echo 0; }
# open_fds_of PID: the descriptors PID has open.
open_fds_of() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
# limit_of PID SOFT|HARD: that open-file limit of PID now.
limit_of() { prlimit --pid "$1" --nofile --noheadings --output "$2" | tr -d ' '; }

# wait_at_least WANT SECONDS CMD...: polls (every 50 ms) until CMD prints a
# number >= WANT; says what it last saw if SECONDS pass first.
wait_at_least() {
  local want=$1 limit=$2 i
  shift 2
  for ((i = 0; i < limit * 20; i++)); do
    [ "$("$@")" -ge "$want" ] && return 0
    sleep 0.05
  done
  echo "$* is $("$@"), wanted $want, after ${limit}s" >&2
  return 1
}

# output_so_far PID: bytes the `recv -o` process PID (or a child of it:
# ip netns exec, bash -c) has written so far. Its file has no name until
# the transfer is complete (O_TMPFILE), so it is found through /proc/PID/fd:
# an unnamed "(deleted)" file, or a named FILE.sockprobe-* temporary where
# the file system has no O_TMPFILE. 0 before it opened one.
output_so_far() {
  local f
  f=$(output_fd_of "$1")
  if [ -n "$f" ]; then stat -L -c %s "$f" 2>/dev/null || echo 0; else echo 0; fi
}

# output_fd_of PID: the /proc/PID/fd/N path of that file; nothing if none.
output_fd_of() {
  local p f
  for p in "$1" $(pgrep -P "$1" 2>/dev/null); do
    for f in /proc/"$p"/fd/*; do
      case $(readlink "$f" 2>/dev/null) in
        *'/#'*' (deleted)' | *.sockprobe-*) echo "$f"; return 0 ;;
      esac
    done
  done
}

# wait_for_output PID BYTES [SECONDS=10]: polls until output_so_far >= BYTES.
wait_for_output() { wait_at_least "$2" "${3:-10}" output_so_far "$1"; }

# --- sockprobe listeners -------------------------------------------------------

# listening_port FILE: the port from "Listening on ADDRESS PORT" or from a
# JSON listening event.
listening_port() {
  local file=$1 line
  line=$(grep -m1 -E '^Listening on |"event":"listening"' "$file") || return 1
  if [[ $line == '{'* ]]; then
    jq -r .port <<<"$line"
  else
    sed -E 's/^Listening on [^ ]+ ([0-9]+).*/\1/' <<<"$line"
  fi
}

# start_listener NAME STDIN [listen ARGS...]: starts `sockprobe ARGS` (ARGS
# include the subcommand, e.g. listen 127.0.0.1 0), waits for its listening
# line and sets PORT.
start_listener() {
  local name=$1 in=$2
  shift 2
  bg_start "$name" "$in" "$SOCKPROBE" "$@"
  wait_for_line "$T/$name.err" '^Listening on |"event":"listening"' || return 1
  PORT=$(listening_port "$T/$name.err")
}

# A line on stderr that says the listener is there, from foreign listeners
# run under these helpers (nc -lv, python3 below).
start_foreign() {
  local name=$1 in=$2 re=$3
  shift 3
  bg_start "$name" "$in" "$@"
  wait_for_line "$T/$name.err" "$re" || return 1
}

# --- data ------------------------------------------------------------------------

# make_random FILE MIB: FILE with MIB MiB of random bytes.
make_random() {
  head -c "$(($2 * 1024 * 1024))" /dev/urandom >"$1"
}

sum_of() { sha256sum <"$1" | cut -d' ' -f1; }

# same_bytes A B: equal checksums (and a readable failure when not).
same_bytes() {
  local a b
  a=$(sum_of "$1")
  b=$(sum_of "$2")
  if [ "$a" != "$b" ]; then
    echo "checksums differ: $1 ($(stat -c %s "$1") bytes) vs $2 ($(stat -c %s "$2") bytes)" >&2
    return 1
  fi
}

# free_port: a TCP port on 127.0.0.1 nobody listens on right now (bound to
# port 0 and released).
free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- python3 peers -------------------------------------------------------------

# py_server NAME MODE [ARGS...]: a python3 TCP/UDP peer in the background that
# prints "port N" on stderr once bound (127.0.0.1 unless --host); sets PORT
# (via py_start).
# Modes:
#   relay IN OUT     accept one, send IN while receiving into OUT, half-close
#   reply_after_eof  read to EOF, then send "got N bytes\n" and close
#   fin_then_read OUT  shutdown(SHUT_WR) at once, then read to EOF into OUT
#   hold             accept one, never send, print "got N" (bytes so far)
#                    on stderr, keep it open until killed
#   udp_echo         UDP: send every datagram back
py_server() {
  local name=$1
  shift
  py_start "$name" "$SP_PY_SERVER" "$@"  # defined at the end of this file
}

SP_PY_SERVER='
import socket, sys, threading
args = sys.argv[1:]
host = "127.0.0.1"
if args and args[0] == "--host":
    host = args[1]; args = args[2:]
mode = args[0]
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
if mode == "udp_echo":
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((host, 0))
    print("port", s.getsockname()[1], file=sys.stderr, flush=True)
    while True:
        data, peer = s.recvfrom(65536)
        s.sendto(data, peer)
ls = socket.socket(fam, socket.SOCK_STREAM)
ls.bind((host, 0))
ls.listen(8)
print("port", ls.getsockname()[1], file=sys.stderr, flush=True)
c, peer = ls.accept()
print("peer", peer[0], peer[1], file=sys.stderr, flush=True)
def read_all(out):
    n = 0
    with open(out, "wb") if out else open("/dev/null", "wb") as f:
        while True:
            b = c.recv(1 << 16)
            if not b:
                return n
            n += len(b)
            f.write(b)
if mode == "relay":
    def send():
        with open(args[1], "rb") as f:
            while True:
                b = f.read(1 << 16)
                if not b:
                    break
                c.sendall(b)
        c.shutdown(socket.SHUT_WR)
    t = threading.Thread(target=send)
    t.start()
    read_all(args[2])
    t.join()
elif mode == "reply_after_eof":
    n = read_all(None)
    c.sendall(b"got %d bytes\n" % n)
elif mode == "fin_then_read":
    c.shutdown(socket.SHUT_WR)
    n = read_all(args[1])
    print("received", n, file=sys.stderr, flush=True)
elif mode == "hold":
    n = 0
    while True:
        b = c.recv(1 << 16)
        if not b:
            break
        n += len(b)
        print("got", n, file=sys.stderr, flush=True)
    threading.Event().wait()
c.close()
print("done", file=sys.stderr, flush=True)
'

# py_clients PORT N PAYLOAD_BYTES [TIMEOUT_S=60]: N concurrent TCP clients to
# 127.0.0.1:PORT; once all are connected each sends PAYLOAD_BYTES random
# bytes, half-closes, reads
# the echo to EOF and checks it. Prints "ok N" when every client got exactly
# its bytes back, else the failures.
py_clients() {
  "$PY" -c "$SP_PY_CLIENTS" "$@"
}

SP_PY_CLIENTS='
import os, socket, sys, threading
port, n, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
limit = float(sys.argv[4]) if len(sys.argv) > 4 else 60.0
ok, failures, lock = [0], [], threading.Lock()
# Every client connects before any sends: all N are open at once (in the
# accept queue if the server has not taken them yet).
barrier = threading.Barrier(n)
def client(i):
    data = os.urandom(size)
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=limit)
        s.settimeout(limit)
        try:
            barrier.wait(timeout=limit)
        except threading.BrokenBarrierError:
            pass
        def send():
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        t = threading.Thread(target=send); t.start()
        got = bytearray()
        while True:
            b = s.recv(1 << 16)
            if not b:
                break
            got += b
        t.join()
        s.close()
        with lock:
            if bytes(got) == data: ok[0] += 1
            else: failures.append("client %d: got %d bytes back of %d" % (i, len(got), size))
    except Exception as e:
        with lock: failures.append("client %d: %s" % (i, e))
threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
for t in threads: t.start()
for t in threads: t.join()
print("ok", ok[0])
for f in failures[:10]: print(f)
'

# --- network namespaces -----------------------------------------------------

# blackhole_netns: creates a namespace (removed in teardown) in which
# 192.0.2.2 (TEST-NET-1) is "on link" behind a veth pair whose other end has
# no address: a SYN to it is sent to a MAC nobody answers to and dropped
# inside the namespace. Sets NS. Needs root; skips otherwise.
blackhole_netns() {
  [ "$(id -u)" = 0 ] || skip "network namespaces need root"
  NS="sp-bh-$$-$RANDOM"
  ip netns add "$NS" || skip "cannot create a network namespace"
  SP_NETNS+=("$NS")
  ip -n "$NS" link set lo up
  ip -n "$NS" link add v0 type veth peer name v1
  ip -n "$NS" addr add 192.0.2.1/24 dev v0
  ip -n "$NS" link set v0 up
  ip -n "$NS" link set v1 up
  ip -n "$NS" neigh replace 192.0.2.2 lladdr 02:00:00:00:00:02 dev v0 nud permanent
}

# plain_netns: an empty namespace with only lo up (for per-namespace sysctls
# such as net.core.somaxconn). Sets NS.
plain_netns() {
  [ "$(id -u)" = 0 ] || skip "network namespaces need root"
  NS="sp-ns-$$-$RANDOM"
  ip netns add "$NS" || skip "cannot create a network namespace"
  SP_NETNS+=("$NS")
  ip -n "$NS" link set lo up
}

# --- python3 peers from a script, and one-way transfer peers (cleanup) ------

# py_start NAME SCRIPT [ARGS...]: runs the python3 program SCRIPT (text) in
# the background as NAME; it must print "port N" on stderr once bound. Waits
# for that line (bounded) and sets PORT.
py_start() {
  local name=$1 script=$2
  shift 2
  bg_start "$name" /dev/null "$PY" -c "$script" "$@"
  wait_for_line "$T/$name.err" '^port [0-9]+' || return 1
  PORT=$(sed -nE 's/^port ([0-9]+).*/\1/p' "$T/$name.err" | head -1)
}

# py_transfer_peer NAME MODE FILE: a python3 TCP listener on 127.0.0.1 port 0
# for one client, in the background (py_start: sets PORT). Modes:
#   send FILE   send FILE, then close
#   recv FILE   write everything received to FILE until EOF, then close
#   deaf        never read (the client's send buffer and our window fill
#               up), keep the connection open until killed; FILE unused
py_transfer_peer() {
  local name=$1
  shift
  py_start "$name" "$SP_PY_TRANSFER_PEER" "$@"
}

SP_PY_TRANSFER_PEER='
import socket, sys, threading
mode = sys.argv[1]
path = sys.argv[2] if len(sys.argv) > 2 else None
ls = socket.socket()
ls.bind(("127.0.0.1", 0))
ls.listen(1)
print("port", ls.getsockname()[1], file=sys.stderr, flush=True)
c, _ = ls.accept()
def pump(read, write):
    while True:
        b = read(1 << 20)
        if not b:
            return
        write(b)
if mode == "send":
    with open(path, "rb") as f:
        pump(f.read, c.sendall)
elif mode == "recv":
    with open(path, "wb") as f:
        pump(c.recv, f.write)
else:
    threading.Event().wait()
c.close()
'

# SLOW_HALF_CLOSER COUNT: a python3 receiver on 127.0.0.1 port 0 that
# half-closes at once (`listen </dev/null >copy`), then reads 4 KiB every
# 2 ms through a 4 KiB SO_RCVBUF, writing how many bytes it has read so far
# at offset 0 of COUNT after every read. Prints "port N", then "done N" at
# EOF (stderr). The peer of the delivery-1 cases of send and of the relay.
SLOW_HALF_CLOSER='
import os, socket, sys, time
count = sys.argv[1]
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
ls.bind(("127.0.0.1", 0))
ls.listen(1)
print("port", ls.getsockname()[1], file=sys.stderr, flush=True)
c, _ = ls.accept()
c.shutdown(socket.SHUT_WR)
fd = os.open(count, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
n = 0
while True:
    b = c.recv(4096)
    if not b:
        break
    n += len(b)
    os.pwrite(fd, b"%12d\n" % n, 0)
    time.sleep(0.002)
print("done", n, file=sys.stderr, flush=True)
'

# waits_for_ack NAME CMD: runs CMD (a shell command line: $0 is sockprobe,
# $1 the port, $2 $T/f, 3 MiB, to send) against a SLOW_HALF_CLOSER; at
# CMD's exit (status 0) the receiver has at most its small receive buffer
# (4 KiB asked, a few KiB more after doubling) left in its kernel to read,
# and in the end all of it. $output is CMD's.
waits_for_ack() {
  local name=$1 cmd=$2 read_at_exit
  py_start "$name" "$SLOW_HALF_CLOSER" "$T/$name.count"
  run timeout 60 bash -c "$cmd" "$SOCKPROBE" "$PORT" "$T/f"
  read_at_exit=$(tr -d ' ' <"$T/$name.count" 2>/dev/null || echo 0)
  echo "$name: exit $status, read by the receiver at exit: $read_at_exit of 3145728" >&2
  [ "$status" -eq 0 ] || { echo "$output" >&2; false; }
  [ $((3145728 - read_at_exit)) -le 65536 ]
  bg_wait "$name" 60
  grep -q "^done 3145728$" "$T/$name.err"
}
