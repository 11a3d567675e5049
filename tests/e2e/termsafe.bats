#!/usr/bin/env bats
# Terminal safety: names that a peer or another local user chooses (a Unix
# socket's name, a process's command name) never reach the terminal raw.
# A python3 peer binds an abstract name holding ESC]0;...BEL (retitle the
# window) and ESC[2J (clear the screen) and renames itself likewise; every
# human line that shows them must carry them escaped (\033, \007), and the
# JSON must carry the exact bytes (JSON escaping).

bats_require_minimum_version 1.5.0

load helpers

setup() { sp_setup; }
teardown() { sp_teardown; }

# has_raw_escape FILE: does FILE hold an ESC or BEL byte?
has_raw_escape() { LC_ALL=C grep -q $'[\x1b\x07]' "$1"; }

EVIL_NAME=$'evil\e]0;pwned\a\e[2J'
EVIL_TEXT='evil\033]0;pwned\007\033[2J'

@test "listen -U: a peer's hostile name is escaped in 'Connection from' and 'Closed' lines" {
  local sock=$T/srv.sock
  start_listener srv /dev/null -v listen -U "$sock"
  "$PY" -c '
import socket, sys
c = socket.socket(socket.AF_UNIX)
c.bind("\0" + sys.argv[2])
c.connect(sys.argv[1])
c.sendall(b"hi\n")
c.shutdown(socket.SHUT_WR)
c.recv(100)
c.close()
' "$sock" "$EVIL_NAME"
  bg_wait srv 10
  [ "$BG_STATUS" -eq 0 ] || show "$T/srv.err"
  grep -qF "Connection from @$EVIL_TEXT" "$T/srv.err" || { show "$T/srv.err"; false; }
  grep -qF "Closed @$EVIL_TEXT" "$T/srv.err"
  ! has_raw_escape "$T/srv.err"
}

@test "backlog, backlog --check and buffers --all escape hostile socket and command names" {
  bg_start py /dev/null "$PY" -c '
import ctypes, socket, sys, time
ctypes.CDLL(None).prctl(15, b"cmd\x1b[2J\x07", 0, 0, 0)  # PR_SET_NAME
l = socket.socket(socket.AF_UNIX); l.bind("\0" + sys.argv[1]); l.listen(1)
c = socket.socket(socket.AF_UNIX); c.connect("\0" + sys.argv[1])
c2 = socket.socket(socket.AF_UNIX); c2.connect("\0" + sys.argv[1])
print("READY", flush=True)
time.sleep(60)
' "$EVIL_NAME"
  wait_for_line "$T/py.out" READY 10
  local pid
  pid=$(bg_pid py)
  [[ "$(cat /proc/$pid/comm)" == cmd* ]]

  "$SOCKPROBE" backlog --pid "$pid" >"$T/backlog.out" 2>&1 || true
  grep -qF "@$EVIL_TEXT" "$T/backlog.out" || { show "$T/backlog.out"; false; }
  grep -qF 'cmd\033[2J\007' "$T/backlog.out"
  run ! has_raw_escape "$T/backlog.out"

  # The listener is full (1 waiting of max 1 = 100%): the check fails naming it.
  run -4 "$SOCKPROBE" backlog --pid "$pid" --check
  [[ $output == *"@$EVIL_TEXT"* ]]
  printf '%s' "$output" >"$T/check.out"
  run ! has_raw_escape "$T/check.out"

  "$SOCKPROBE" buffers --pid "$pid" >"$T/buffers.out" 2>&1 || true
  "$SOCKPROBE" buffers --all >>"$T/buffers.out" 2>&1 || true
  grep -qF "@$EVIL_TEXT" "$T/buffers.out" || { show "$T/buffers.out"; false; }
  grep -qF 'cmd\033[2J\007' "$T/buffers.out"
  run ! has_raw_escape "$T/buffers.out"

  # JSON: the exact bytes.
  run -0 "$SOCKPROBE" --json backlog --pid "$pid"
  [ "$(jq -r 'select(.event == "listener") | .command' <<<"$output" | head -1)" = $'cmd\e[2J\a' ]
}
