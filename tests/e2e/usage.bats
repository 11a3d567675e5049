#!/usr/bin/env bats
# Malformed invocations: each one must exit 2 (usage error) with exactly one
# line on stderr that names the offending flag or value, and print nothing on
# stdout. None of them may reach the network: every run is bounded by
# `timeout` so a case that wrongly starts listening fails instead of hanging.

setup() {
  : "${SOCKPROBE:?SOCKPROBE must point at the built sockprobe binary}"
  OUT=$BATS_TEST_TMPDIR/out
  ERR=$BATS_TEST_TMPDIR/err
}

# usage_error NEEDLE ARGS...: run sockprobe ARGS with no stdin; expect exit 2,
# empty stdout, one stderr line containing NEEDLE (fixed string).
usage_error() {
  local needle=$1 status=0 lines
  shift
  timeout 10 "$SOCKPROBE" "$@" </dev/null >"$OUT" 2>"$ERR" || status=$?
  lines=$(wc -l <"$ERR")
  if (( status != 2 )); then
    echo "sockprobe $*: exit $status, expected 2; stderr:" >&2
    cat "$ERR" >&2
    return 1
  fi
  if (( lines != 1 )) || [[ -n $(tail -c1 "$ERR") ]]; then
    echo "sockprobe $*: expected exactly one stderr line, got $lines:" >&2
    cat "$ERR" >&2
    return 1
  fi
  if ! grep -qF -- "$needle" "$ERR"; then
    echo "sockprobe $*: stderr does not name '$needle': $(cat "$ERR")" >&2
    return 1
  fi
  if [[ -s $OUT ]]; then
    echo "sockprobe $*: unexpected stdout: $(cat "$OUT")" >&2
    return 1
  fi
}

# --- subcommands and unknown flags ------------------------------------------

@test "no subcommand" { usage_error "subcommand"; }
@test "unknown subcommand" { usage_error "frobnicate" frobnicate; }
@test "unknown global flag" { usage_error "--bogus" --bogus listen 0; }
@test "unknown listen flag" { usage_error "--frobnicate" listen --frobnicate 0; }
@test "unknown connect short flag" { usage_error "-Z" connect -Z 127.0.0.1 1; }
@test "connect-only flag on listen" { usage_error "-w" listen -w 2 0; }
@test "unexpected argument after --version" { usage_error "extra" --version extra; }

# --- positionals -------------------------------------------------------------

@test "listen without PORT" { usage_error "PORT" listen; }
@test "listen with three positionals" { usage_error "'3'" listen 1 2 3; }
@test "listen PORT 70000" { usage_error "70000" listen 127.0.0.1 70000; }
@test "listen PORT not a number or a service" { usage_error "htp" listen htp; }
@test "connect without HOST and PORT" { usage_error "HOST" connect; }
@test "connect without PORT" { usage_error "PORT" connect 127.0.0.1; }
@test "connect PORT 0" { usage_error "'0'" connect 127.0.0.1 0; }
@test "connect PORT 70000" { usage_error "70000" connect 127.0.0.1 70000; }
@test "connect with three positionals" { usage_error "'extra'" connect 127.0.0.1 1 extra; }
@test "connect -z bad port range" { usage_error "1-" connect -z 127.0.0.1 1-; }
@test "connect --unix with HOST PORT" { usage_error "--unix" connect -U "$BATS_TEST_TMPDIR/s" 127.0.0.1 1; }
@test "listen --unix with PORT" { usage_error "--unix" listen -U "$BATS_TEST_TMPDIR/s" 0; }
@test "recv --connect PORT 0" { usage_error "'0'" recv --connect 127.0.0.1 0; }

# --- values: SIZE, DURATION, counts, CIDR, choices --------------------------

@test "-I bad SIZE" { usage_error "--rcvbuf: '12X'" listen -I 12X 0; }
@test "-O bad SIZE" { usage_error "--sndbuf: 'lots'" connect -O lots 127.0.0.1 1; }
@test "--rcvbuf negative SIZE" { usage_error "'-5'" listen --rcvbuf -5 0; }
@test "-w bad DURATION" { usage_error "--timeout: '5x'" connect -w 5x 127.0.0.1 1; }
@test "-w negative DURATION" { usage_error "--timeout: '-1'" connect -w -1 127.0.0.1 1; }
@test "--idle-timeout bad DURATION" { usage_error "--idle-timeout: 'soon'" listen --idle-timeout soon 0; }
@test "--allow bad CIDR" { usage_error "--allow: '1.2.3.4/33'" listen --allow 1.2.3.4/33 0; }
@test "--deny bad CIDR (repeated flag)" { usage_error "--deny: 'foo'" listen --deny 127.0.0.0/8 --deny foo 0; }
@test "--backlog -1" { usage_error "--backlog: '-1'" listen --backlog -1 0; }
@test "--backlog not a number" { usage_error "--backlog: 'lots'" listen -b lots 0; }
@test "--backlog without a value" { usage_error "--backlog" listen -b; }
@test "--max-conns 0" { usage_error "--max-conns: '0'" listen --echo --max-conns 0 0; }
@test "--max-conns without a server mode" { usage_error "--max-conns" listen --max-conns 4 0; }
@test "relay flags with a server mode" { usage_error "--echo/--discard do not" listen --echo --stall-timeout 5s 0; }
@test "--keep-sending with --discard" { usage_error "--keep-sending" listen --discard --keep-sending 0; }
@test "--color=sometimes" { usage_error "sometimes" --color=sometimes listen 0; }
@test "--color without a value" { usage_error "--color" listen 0 --color; }
@test "-p 70000" { usage_error "--source-port: '70000'" connect -p 70000 127.0.0.1 1; }
@test "-U without a PATH" { usage_error "--unix" listen -U; }
@test "send --size bad SIZE" { usage_error "--size: '1Q'" send --size 1Q 127.0.0.1 9; }
@test "send --rate bad RATE" { usage_error "--rate: 'fast'" send --rate fast 127.0.0.1 9; }
@test "send --pattern unknown" { usage_error "--pattern: 'foo'" send --pattern foo --size 1 127.0.0.1 9; }
@test "send --chunk 0" { usage_error "--chunk: '0'" send --chunk 0 127.0.0.1 9; }
@test "recv --expect-checksum malformed" { usage_error "--expect-checksum: 'nothex'" recv --expect-checksum nothex 0; }

# --- flags that exclude each other -------------------------------------------

@test "--echo with --discard" { usage_error "--echo" listen --echo --discard 0; }
@test "-4 with -6 (global)" { usage_error "-4 and -6" -4 -6 listen 0; }
@test "-4 with -6 after the subcommand" { usage_error "-4 and -6" listen -4 -6 0; }
@test "-z with -U" { usage_error "-z" connect -z -U "$BATS_TEST_TMPDIR/s"; }
@test "-z with -u" { usage_error "-z" connect -z -u 127.0.0.1 1; }
@test "--echo with -u" { usage_error "--echo" listen --echo -u 0; }
@test "recv -o with --discard" { usage_error "--discard" recv -o "$BATS_TEST_TMPDIR/f" --discard 0; }
@test "send FILE with --size" { usage_error "--size" send --size 10 127.0.0.1 9 "$BATS_TEST_TMPDIR/f"; }

# --- flags the combination would ignore (app/flagrules.cc) -----------------

@test "send --size with --duration" { usage_error "--size and --duration" send --size 1M --duration 2s 127.0.0.1 9; }
@test "send --pattern with a FILE" { : >"$BATS_TEST_TMPDIR/f"; usage_error "--pattern" send --pattern zero 127.0.0.1 9 "$BATS_TEST_TMPDIR/f"; }
@test "send --pattern with stdin" { usage_error "--pattern" send --pattern zero 127.0.0.1 9; }
@test "send --duration 0" { usage_error "--duration: '0'" send --duration 0 127.0.0.1 9; }
@test "send --duration 0s" { usage_error "--duration: '0s'" send --duration 0s 127.0.0.1 9; }
@test "send --duration 0.0000001us" { usage_error "--duration: '0.0000001us'" send --duration 0.0000001us 127.0.0.1 9; }
@test "buffers --set 0" { usage_error "--set: '0'" buffers --set 0; }
@test "backlog test --check" { usage_error "--check" backlog test --check; }
@test "backlog test --fail-above" { usage_error "--fail-above" backlog test --fail-above 1; }
@test "backlog test --watch" { usage_error "--watch" backlog test --watch 1s; }
@test "backlog test --port" { usage_error "--port" backlog test --port 80; }
@test "backlog --pid before test" { usage_error "--pid" backlog --pid 1 test; }
@test "backlog --count without --watch" { usage_error "--count goes with --watch" backlog --count 2; }
@test "backlog --fail-above without --check" { usage_error "--fail-above goes with --check" backlog --fail-above 5; }
@test "send --size ''" { usage_error "--size: empty" send --size '' 127.0.0.1 9; }
@test "buffers --set ''" { usage_error "--set: empty" buffers --set ''; }
@test "connect -U ''" { usage_error "--unix: empty" connect -U ''; }
@test "listen -U ''" { usage_error "--unix: empty" listen -U ''; }
@test "connect '' 80" { usage_error "empty" connect '' 80; }
@test "connect HOST ''" { usage_error "empty" connect 127.0.0.1 ''; }
@test "backlog --port ''" { usage_error "--port: empty" backlog --port ''; }
@test "backlog test --clients ''" { usage_error "--clients: empty" backlog test --clients ''; }

# --- errors that help: suggestions, netcat habits, one line ----------------

@test "mistyped subcommand: did you mean, and sockprobe --help" {
  usage_error "unknown subcommand 'conect' (did you mean connect?)" conect 127.0.0.1 1
  grep -qF "see 'sockprobe --help'" "$ERR"
}
@test "mistyped long flag: the nearest flag and the subcommand's help" {
  usage_error "unknown flag --timout (did you mean --timeout?)" connect --timout 1 127.0.0.1 1
  grep -qF "see 'sockprobe connect --help'" "$ERR"
}
@test "a flag of another subcommand names its owners" {
  usage_error "it is a flag of connect" listen --zero-io 0
  grep -qF "see 'sockprobe listen --help'" "$ERR"
}
@test "mistyped nested subcommand" { usage_error "unknown subcommand 'tset' (did you mean test?)" backlog tset; }
@test "unknown flag of backlog test points at its help" { usage_error "sockprobe backlog test --help" backlog test --bogus; }
@test "nc habit: listen -p 9000" { usage_error "the port is an argument here: 'sockprobe listen 9000'" listen -p 9000; }
@test "nc habit: recv -p 9000" { usage_error "the port is an argument" recv -p 9000; }
@test "nc habit: -l" { usage_error "'sockprobe listen [HOST] PORT' listens" connect -l 9000; }
@test "nc habit: -N" { usage_error "-N: not needed" connect -N 127.0.0.1 1; }
@test "nc habit: -n" { usage_error "-n: not needed" connect -n 127.0.0.1 1; }
@test "nc habit: -e" { usage_error "-e: running a program" listen -e /bin/sh 9000; }
@test "nc habit: -c" { usage_error "-c: running a program" connect -c 'cat' 127.0.0.1 1; }
@test "a value holding a newline is still one line" { usage_error "--timeout: '5\nx'" connect -w $'5\nx' 127.0.0.1 1; }
@test "a CLI11 error holding a newline is still one line" { usage_error "some\ntimes" --color $'some\ntimes' listen 0; }
@test "a flag's value that starts with a dash is not taken for a flag" { usage_error "--timeout: '-1'" connect -w -1 127.0.0.1 1; }
@test "fe80::1 without a scope" { usage_error "link-local address: it needs a scope" connect fe80::1 80; }
@test "listen on fe80::1 without a scope" { usage_error "needs a scope" listen fe80::1 0; }
@test "PORT: an unknown service name" { usage_error "'nosuchservice' is not a port number (1-65535) or a service name" connect 127.0.0.1 nosuchservice; }
@test "-z PORT list: an unknown service name" { usage_error "nosuchservice" connect -z 127.0.0.1 ssh,nosuchservice; }
@test "HOST:PORT and PORT both" { usage_error "'80'" connect 127.0.0.1:9 80; }

# --- connect bursts, buffers, backlog ----------------------------------------

@test "connect --count 0" { usage_error "--count: '0'" connect --count 0 127.0.0.1 1; }
@test "connect --concurrency without --count" { usage_error "--concurrency" connect --concurrency 5 127.0.0.1 1; }
@test "connect --send over 1M" { usage_error "--send: '2M'" connect --count 5 --send 2M 127.0.0.1 1; }
@test "buffers --set bad SIZE" { usage_error "--set: '12X'" buffers --set 12X; }
@test "buffers --bdp without --rtt" { usage_error "--rtt" buffers --bdp 10Gbit; }
@test "buffers --rtt 0" { usage_error "--rtt: '0'" buffers --bdp 1Gbit --rtt 0; }
@test "buffers --force without a size" { usage_error "--force" buffers --force; }
@test "buffers --watch without a selection" { usage_error "--watch" buffers --watch 1s; }
@test "buffers --pid 0" { usage_error "--pid: '0'" buffers --pid 0; }
@test "backlog with an unexpected argument" { usage_error "extra" backlog extra; }

# --- with --json: the usage error is one {"event":"error"} line ------------

# json_usage_error NEEDLE ARGS...: like usage_error, and the stderr line is
# a JSON error event of kind "usage" with exit 2 whose message names NEEDLE.
json_usage_error() {
  local needle=$1
  usage_error "$@" || return 1
  if [ "$(jq -r '[.event, .kind, .exit] | join(" ")' "$ERR")" != "error usage 2" ]; then
    echo "sockprobe ${*:2}: not a JSON usage error event: $(cat "$ERR")" >&2
    return 1
  fi
  jq -e --arg n "$needle" '.message | contains($n)' "$ERR" >/dev/null || {
    echo "sockprobe ${*:2}: message does not name '$needle': $(cat "$ERR")" >&2
    return 1
  }
}

@test "--json: unknown flag (CLI11) is a JSON error" { json_usage_error "--frobnicate" --json listen --frobnicate 0; }
@test "--json after the subcommand: unknown flag is a JSON error" { json_usage_error "--frobnicate" listen --frobnicate 0 --json; }
@test "--json: flag without its value (CLI11)" { json_usage_error "--backlog" --json listen -b; }
@test "--json: bad --color choice (CLI11)" { json_usage_error "sometimes" --json --color=sometimes listen 0; }
@test "--json: no subcommand" { json_usage_error "subcommand" --json; }
@test "--json: bad SIZE (checked after parsing)" { json_usage_error "--rcvbuf: '12X'" --json listen -I 12X 0; }
@test "--json after --: not taken for the flag" {
  usage_error "--json" listen -- --json
  ! jq -e . "$ERR" >/dev/null 2>&1
}
