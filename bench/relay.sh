#!/usr/bin/env bash
# Relay throughput on loopback: sockprobe listen/connect against nc.openbsd
# and socat -b 262144, in one run, same data, same machine moment.
#   (a) pipe: cat FILE | client -> socket -> server | cat >/dev/null
#   (b) file: client <FILE -> socket -> server >/dev/null
# Each case runs RUNS times per tool (interleaved, so load changes hit every
# tool alike); the median wall time is reported with the throughput and
# sockprobe's time ratio to each other tool (ratio < 1: sockprobe faster).
# With GNU time (/usr/bin/time) the CPU seconds (user+sys) of the two tool
# processes are reported too: on a busy machine wall time mostly measures
# the scheduler, CPU time still measures the tool.
#
# Usage: bench/relay.sh [PATH/TO/sockprobe]   (default ./build/src/sockprobe)
# Env:   MIB=1024 (data size), RUNS=3, TMPDIR (data goes to /dev/shm if there)
set -euo pipefail

SP=${1:-./build/src/sockprobe}
MIB=${MIB:-1024}
RUNS=${RUNS:-3}
[ -x "$SP" ] || { echo "relay.sh: $SP is not executable (build first or pass the binary)" >&2; exit 2; }
command -v nc.openbsd >/dev/null || { echo "relay.sh: nc.openbsd is missing (netcat-openbsd)" >&2; exit 2; }
command -v socat >/dev/null || { echo "relay.sh: socat is missing" >&2; exit 2; }

dir=$(mktemp -d "$( [ -d /dev/shm ] && [ -w /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}")/sockprobe-bench.XXXXXX")
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
data=$dir/data
head -c "$((MIB * 1024 * 1024))" /dev/zero >"$data"

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

now() { date +%s.%N; }

# GNU time wraps each tool process and appends "user sys" to $dir/cpu.
TIMER=
[ -x /usr/bin/time ] && /usr/bin/time -f '%U' true 2>/dev/null && TIMER="/usr/bin/time -a -o $dir/cpu -f '%U %S'"

# run_once TOOL CASE: prints "WALL CPU" of one transfer in seconds (CPU is
# 0 without GNU time).
run_once() {
  local tool=$1 case=$2 port sink client server t0 t1 cpu
  port=$(free_port)
  : >"$dir/cpu"
  if [ "$case" = pipe ]; then sink='| cat >/dev/null'; else sink='>/dev/null'; fi
  case $tool in
    sockprobe)
      # --keep-sending: the listener's stdin is /dev/null, so it half-closes
      # at once; by default that peer EOF would end the client's relay.
      server="$TIMER \"$SP\" -q listen 127.0.0.1 $port </dev/null $sink"
      client="$TIMER \"$SP\" -q connect --keep-sending 127.0.0.1 $port >/dev/null" ;;
    nc)
      server="$TIMER nc.openbsd -l 127.0.0.1 $port </dev/null $sink"
      client="$TIMER nc.openbsd -N 127.0.0.1 $port >/dev/null" ;;
    socat)
      server="$TIMER socat -b 262144 -u TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr STDOUT </dev/null $sink"
      client="$TIMER socat -b 262144 -u STDIN TCP:127.0.0.1:$port" ;;
  esac
  if [ "$case" = pipe ]; then client="cat \"$data\" | $client"; else client="$client <\"$data\""; fi
  bash -c "$server" &
  server_pid=$!
  wait_tcp "$port"
  t0=$(now)
  bash -c "$client"
  wait "$server_pid"
  t1=$(now)
  server_pid=
  cpu=$(awk '{ s += $1 + $2 } END { print s + 0 }' "$dir/cpu")
  echo "$(echo "$t1 - $t0" | bc -l) $cpu"
}

tools=(sockprobe socat nc)
declare -A med cpu
echo "sockprobe relay bench: $MIB MiB per transfer, $RUNS runs per tool and case, data in $dir"
echo "binary: $SP ($("$SP" --version 2>/dev/null || echo '?')); load: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"
for case in pipe file; do
  declare -A walls=() cpus=()
  for ((r = 0; r < RUNS; r++)); do
    for tool in "${tools[@]}"; do
      read -r w c < <(run_once "$tool" "$case")
      walls[$tool]+="$w "
      cpus[$tool]+="$c "
    done
  done
  for tool in "${tools[@]}"; do
    med[$case.$tool]=$(tr ' ' '\n' <<<"${walls[$tool]}" | grep . | median)
    cpu[$case.$tool]=$(tr ' ' '\n' <<<"${cpus[$tool]}" | grep . | median)
  done
  unset walls cpus
done

printf '\n%-6s %-10s %10s %10s %12s\n' case tool wall_s cpu_s MiB/s
for case in pipe file; do
  for tool in "${tools[@]}"; do
    m=${med[$case.$tool]}
    printf '%-6s %-10s %10.3f %10.3f %12.0f\n' "$case" "$tool" "$m" "${cpu[$case.$tool]}" "$(echo "$MIB / $m" | bc -l)"
  done
done
printf '\nratios, sockprobe / other (< 1: sockprobe is faster or cheaper)\n'
for case in pipe file; do
  printf '%-6s wall: vs socat -b 262144 %s, vs nc.openbsd %s   cpu: vs socat %s, vs nc %s\n' "$case" \
    "$(ratio "${med[$case.sockprobe]}" "${med[$case.socat]}")" "$(ratio "${med[$case.sockprobe]}" "${med[$case.nc]}")" \
    "$(ratio "${cpu[$case.sockprobe]}" "${cpu[$case.socat]}")" "$(ratio "${cpu[$case.sockprobe]}" "${cpu[$case.nc]}")"
done
