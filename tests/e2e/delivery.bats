#!/usr/bin/env bats
# The delivery contract (DESIGN.md "Delivery"), issue 9 items 4, 7, 8, 9, 10:
# recv -o leaves no temporary file on any catchable signal; listen -u
# filters every datagram and relays only the chosen peer's; listen -U never
# replaces or removes what is not its own; --max-conns fits the fd limit and
# says when it is reached; connect bursts respect the fd limit. Foreign
# peers: python3, socat, nc.

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

# leftovers DIR: the OUT and OUT.sockprobe-* files left in DIR.
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
  [ -n "$(leftovers "$T/$sig")" ]  # the temporary exists while receiving
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
  [ -n "$(leftovers "$T")" ]
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
