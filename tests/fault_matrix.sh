#!/usr/bin/env bash
# The full fault matrix of issue 12: every mode (relay with a file and with a
# pipe on stdin, send FILE -> recv -o, send --size -> recv --discard, stdin ->
# send) over every fault (tests/e2e/faultmatrix.bash lists them) between two
# throwaway namespaces, each case checked against the delivery contract.
# Why a script and not CI: about 75 cases, 5-10 minutes; CI runs the subset
# in tests/e2e/faults.bats. Writes a tab-separated table (fault, mode, bytes
# out/in, equal, exit codes, seconds from the fault to each exit, verdict,
# each side's last error line) to stdout and, aligned, to FILE.md if given.
#
#   sudo SOCKPROBE=build/src/sockprobe tests/fault_matrix.sh [-o TABLE] [FAULT|MODE ...]
#
# FAULT and MODE words pick a subset (default: all). FM_SIZE, FM_STALL, ...
# (top of faultmatrix.bash) change the sizes and timeouts. Exit 1 when any
# case breaks the contract.
set -u
here=$(cd "$(dirname "$0")" && pwd)
out=""
if [ "${1:-}" = -o ]; then out=$2; shift 2; fi
: "${SOCKPROBE:?SOCKPROBE must point at the built sockprobe binary}"
[ "$(id -u)" = 0 ] || { echo "fault_matrix.sh: needs root (network namespaces)" >&2; exit 1; }
T=$(mktemp -d /tmp/fault-matrix.XXXXXX)
SP_NETNS=()
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
# shellcheck source=e2e/helpers.bash
source "$here/e2e/helpers.bash"
source "$here/e2e/netns.bash"
source "$here/e2e/faultmatrix.bash"
trap 'sp_teardown; rm -rf "$T"' EXIT

faults=() modes=()
for w in "$@"; do
  if [[ " $FM_MODES " == *" $w "* ]]; then modes+=("$w"); else faults+=("$w"); fi
done
[ ${#faults[@]} -gt 0 ] || read -ra faults <<<"$FM_FAULTS_OK $FM_FAULTS_BAD"
[ ${#modes[@]} -gt 0 ] || read -ra modes <<<"$FM_MODES"

table=$T/table.tsv
fm_header >"$table"
fm_header
bad=0 start=$SECONDS
for f in "${faults[@]}"; do
  for m in "${modes[@]}"; do
    if ! fm_case "$f" "$m"; then
      echo "$f $m: the case could not start" >&2
      bad=1
      continue
    fi
    fm_row | tee -a "$table"
    [ "$(fm_verdict)" = ok ] || bad=1
  done
done
echo "# ${#faults[@]} faults x ${#modes[@]} modes in $((SECONDS - start)) s; IPv$([ "$FM_IPV6" = 1 ] && echo 6 || echo 4), size $FM_SIZE, --stall-timeout ${FM_STALL}s and listen --idle-timeout ${FM_IDLE}s (${FM_STALL_OK}s where the transfer must survive), -w ${FM_CONNECT}s, fault at ${FM_AT}s" | tee -a "$table"
if [ -n "$out" ]; then
  { printf '| %s |\n' "$(head -1 "$table" | sed 's/\t/ | /g')"
    head -1 "$table" | awk -F'\t' '{ s = "|"; for (i = 1; i < NF; i++) s = s "---|"; print s "---|" }'
    sed -n '2,$p' "$table" | grep -v '^#' | sed 's/|/\\|/g; s/\t/ | /g; s/^/| /; s/$/ |/'
    tail -1 "$table"; } >"$out"
fi
exit $bad
