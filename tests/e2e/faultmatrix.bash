# The fault matrix, one case at a time (issue 12): a transfer mode run over
# a link with a fault, checked against the delivery contract. Why: a
# diagnostic tool is used when the network misbehaves; each case shows that
# the bytes either arrive complete and equal, or both ends fail within the
# configured timeouts, saying why, and recv -o keeps no file.
#
# Used by tests/e2e/faults.bats (the CI subset) and tests/fault_matrix.sh
# (every fault x every mode, a table). Needs helpers.bash and netns.bash
# loaded first, and T a scratch directory (each case works in $T/FAULT.MODE).
#
#   fm_case FAULT MODE   runs one case; sets FM_RX / FM_TX (exit statuses,
#                        124 = still running FM_LIMIT s after the start or
#                        the fault, then killed), FM_OUT / FM_IN (bytes sent /
#                        received), FM_EQUAL (yes/no/-), FM_KEPT (recv -o:
#                        the final file exists), FM_LEFT (its temporaries),
#                        FM_DT_RX / FM_DT_TX (seconds from the fault, or from
#                        the start with none, to each exit), FM_LATE (the
#                        fault came after the transfer ended: vacuous),
#                        FM_MSG_RX / FM_MSG_TX (the last error line), FM_DIR
#   fm_verdict           "ok" or "FAIL: why" for the case just run
#   fm_row               a tab-separated row for the table (fm_header)
#
# Modes (receiver in NS_SRV listens, sender in NS_CLI connects):
#   relay-file   listen </dev/null >out      <-  connect <FILE
#   relay-pipe   listen </dev/null >out      <-  cat FILE | connect
#   send-file    recv -o out                 <-  send FILE
#   send-size    recv --discard              <-  send --size
#   send-stdin   recv -o out                 <-  cat FILE | send -
# Faults:
#   none, delay (20 ms + 0-5 ms jitter each way), reorder (5 %), duplicate
#   (5 %), corrupt (2 %), rate (20 Mbit/s): netsim.py, the transfer must
#   complete; loss (5 % each way), loss-data (5 % client to server),
#   loss-acks (5 % server to client): nftables on veth, must complete;
#   and, FM_AT s into a transfer slowed to 20 Mbit/s by netsim: blackhole
#   (nft, both ways), blackhole-data / blackhole-acks (nft, one way),
#   reset-rx / reset-tx (ss -K: that side's kernel aborts the connection
#   and resets the peer), kill-rx / kill-tx (kill -9 of that sockprobe),
#   term-tx (SIGTERM to the sender);
#   these must fail on both ends within the timeouts.

FM_SIZE=${FM_SIZE:-8M}        # transfer size (sockprobe SIZE)
FM_STALL=${FM_STALL:-5}       # --stall-timeout (s) of both ends
FM_IDLE=${FM_IDLE:-5}         # listen --idle-timeout (s)
# Both, for the faults a transfer must survive: random loss can hold TCP in
# RTO backoff past 5 s with nothing arriving (CI: 5% loss both ways, a
# handshake-inflated rto, recv -o stalled out at 5 s; both ends failed,
# which the contract allows, but these rows check completion).
FM_STALL_OK=${FM_STALL_OK:-20}
FM_CONNECT=${FM_CONNECT:-5}   # -w (s)
FM_AT=${FM_AT:-1}             # when a mid-transfer fault is switched on (s)
FM_LIMIT=${FM_LIMIT:-30}      # a side still running this long after the fault hangs
FM_SLACK=${FM_SLACK:-10}      # allowed beyond the largest timeout for detecting a fault
FM_IPV6=${FM_IPV6:-0}         # 1: over IPv6 (2001:db8::/32) instead of IPv4

FM_FAULTS_OK="none delay reorder duplicate corrupt rate loss loss-data loss-acks"
FM_FAULTS_BAD="blackhole blackhole-data blackhole-acks reset-rx reset-tx kill-rx kill-tx term-tx"
FM_MODES="relay-file relay-pipe send-file send-size send-stdin"

fm_bytes() { numfmt --from=iec "${1%B}"; }

# fm_input: one random file of FM_SIZE per run, shared by the cases.
fm_input() {
  FM_FILE=$T/fm-input
  [ -s "$FM_FILE" ] || head -c "$(fm_bytes "$FM_SIZE")" /dev/urandom >"$FM_FILE"
}

fm_now() { echo "$EPOCHREALTIME"; }
fm_sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a - b }'; }

# fm_link FAULT: the namespaces for FAULT; sets FM_ADDR.
fm_link() {
  case $1 in
    none) netsim_pair ;;
    delay) netsim_pair --delay-ms 20 --jitter-ms 5 ;;
    reorder) netsim_pair --reorder 5 ;;
    duplicate) netsim_pair --duplicate 5 ;;
    corrupt) netsim_pair --corrupt 2 ;;
    loss* ) netns_pair ;;
    *) netsim_pair --rate-kbit 20000 ;;  # rate, and the mid-transfer faults
  esac
  case $1 in
    loss* ) FM_ADDR=$NETNS_SRV_ADDR; [ "$FM_IPV6" = 1 ] && FM_ADDR=$NETNS_SRV_ADDR6 ;;
    *) FM_ADDR=$NETSIM_SRV_ADDR; [ "$FM_IPV6" = 1 ] && FM_ADDR=$NETSIM_SRV_ADDR6 ;;
  esac
  case $1 in
    loss) netns_lose_in "meta l4proto tcp numgen random mod 100 < 5"
          netns_lose_out "meta l4proto tcp numgen random mod 100 < 5" ;;
    loss-data) netns_lose_in "meta l4proto tcp numgen random mod 100 < 5" ;;
    loss-acks) netns_lose_out "meta l4proto tcp numgen random mod 100 < 5" ;;
  esac
}

# fm_inject FAULT: the mid-transfer fault, now.
fm_inject() {
  case $1 in
    blackhole) netns_blackhole ;;
    blackhole-data) netns_lose_in "meta l4proto tcp" ;;
    blackhole-acks) netns_lose_out "meta l4proto tcp" ;;
    # "connected": a relay's listener has half-closed (FIN-WAIT-2), its client
    # is then in CLOSE-WAIT. No socket killed: the case is vacuous.
    reset-rx) fm_kill_sockets "$NS_SRV" ;;
    reset-tx) fm_kill_sockets "$NS_CLI" ;;
    kill-rx) kill -9 "$(bg_pid rx)" ;;
    kill-tx) kill -9 "$(bg_pid tx)" ;;
    term-tx) kill -TERM "$(bg_pid tx)" ;;
  esac
}

# fm_kill_sockets NS: ss -K on NS's TCP connections (its kernel aborts them
# and resets the peer); FM_LATE=yes if there was none.
fm_kill_sockets() {
  local n
  n=$(ip netns exec "$1" ss -K -tnH state connected | wc -l)
  [ "$n" -gt 0 ] || FM_LATE=yes
}

# fm_received: bytes the receiver has so far (its output file or temporary).
fm_received() {
  case $FM_MODE in
    relay-*) stat -c %s "$T/rx.out" ;;
    send-size) echo 0 ;;
    *) if [ -e "$T/out" ]; then stat -c %s "$T/out"; else output_so_far "$(bg_pid rx)"; fi ;;
  esac
}

# fm_last_error FILE: the last line that says what went wrong.
fm_last_error() {
  grep -E '^sockprobe: |error|timed out|no progress|no data|reset|refused' "$1" 2>/dev/null | tail -1 | cut -c1-200
}

fm_case() {
  local fault=$1 mode=$2
  FM_FAULT=$fault FM_MODE=$mode
  fm_input
  local T="$T/$fault.$mode" S="$FM_STALL"s I="$FM_IDLE"s
  if [[ " $FM_FAULTS_OK " == *" $fault "* ]]; then S="$FM_STALL_OK"s I="$FM_STALL_OK"s; fi
  FM_DIR=$T
  rm -rf "$T" && mkdir -p "$T"
  fm_link "$fault"
  local ns_rx=(ip netns exec "$NS_SRV" "$SOCKPROBE") ns_tx=(ip netns exec "$NS_CLI" "$SOCKPROBE")
  case $mode in
    relay-*) bg_start rx /dev/null "${ns_rx[@]}" listen --idle-timeout "$I" "$FM_ADDR" 0 ;;
    send-size) bg_start rx /dev/null "${ns_rx[@]}" recv --stall-timeout "$S" --discard "$FM_ADDR" 0 ;;
    *) bg_start rx /dev/null "${ns_rx[@]}" recv --stall-timeout "$S" -o "$T/out" "$FM_ADDR" 0 ;;
  esac
  wait_for_line "$T/rx.err" '^Listening on ' 10 || return 1
  PORT=$(listening_port "$T/rx.err")
  local t0 tf t_rx="" t_tx="" i
  t0=$(fm_now)
  case $mode in
    relay-file) bg_start tx "$FM_FILE" "${ns_tx[@]}" connect -w "$FM_CONNECT"s --stall-timeout "$S" "$FM_ADDR" "$PORT" ;;
    relay-pipe) bg_start tx /dev/null bash -c 'f=$1; shift; exec "$@" < <(cat "$f")' _ "$FM_FILE" \
      "${ns_tx[@]}" connect -w "$FM_CONNECT"s --stall-timeout "$S" "$FM_ADDR" "$PORT" ;;
    send-file) bg_start tx /dev/null "${ns_tx[@]}" send -w "$FM_CONNECT"s --stall-timeout "$S" "$FM_ADDR" "$PORT" "$FM_FILE" ;;
    send-size) bg_start tx /dev/null "${ns_tx[@]}" send -w "$FM_CONNECT"s --stall-timeout "$S" --size "$FM_SIZE" "$FM_ADDR" "$PORT" ;;
    send-stdin) bg_start tx /dev/null bash -c 'f=$1; shift; exec "$@" < <(cat "$f")' _ "$FM_FILE" \
      "${ns_tx[@]}" send -w "$FM_CONNECT"s --stall-timeout "$S" "$FM_ADDR" "$PORT" - ;;
  esac
  tf=$t0 FM_LATE=no
  exec 4>&2 2>/dev/null  # bash's "Killed" job notices for the kill-* faults
  if [[ " $FM_FAULTS_BAD " == *" $fault "* ]]; then
    sleep "$FM_AT"
    # Vacuous if the transfer had already ended (then the row says late).
    if ! bg_alive tx || ! bg_alive rx || [ "$(fm_received)" -ge "$(stat -c %s "$FM_FILE")" ]; then
      FM_LATE=yes
    fi
    fm_inject "$fault"
    tf=$(fm_now)
  fi
  # Both ends are watched together: each exit time is when it was seen gone.
  local pid_rx pid_tx
  pid_rx=$(bg_pid rx) pid_tx=$(bg_pid tx)
  for ((i = 0; i < FM_LIMIT * 20; i++)); do
    [ -z "$t_rx" ] && ! kill -0 "$pid_rx" 2>/dev/null && t_rx=$(fm_now)
    [ -z "$t_tx" ] && ! kill -0 "$pid_tx" 2>/dev/null && t_tx=$(fm_now)
    [ -n "$t_rx" ] && [ -n "$t_tx" ] && break
    sleep 0.05
  done
  FM_RX=124 FM_TX=124
  # (2>/dev/null: bash's "Killed" line for the kill-* faults)
  if [ -n "$t_rx" ]; then bg_wait rx 1 2>/dev/null; FM_RX=$BG_STATUS; FM_DT_RX=$(fm_sub "$t_rx" "$tf"); else FM_DT_RX=">$FM_LIMIT"; fi
  if [ -n "$t_tx" ]; then bg_wait tx 1 2>/dev/null; FM_TX=$BG_STATUS; FM_DT_TX=$(fm_sub "$t_tx" "$tf"); else FM_DT_TX=">$FM_LIMIT"; fi
  bg_stop rx
  bg_stop tx
  exec 2>&4 4>&-
  netsim_stop
  netns_cleanup
  # What went out and what came in.
  FM_OUT=$(stat -c %s "$FM_FILE")
  case $mode in
    send-*) FM_OUT=$(sed -nE 's/^Sent ([0-9]+) bytes.*/\1/p' "$T/tx.out" | tail -1); : "${FM_OUT:=?}" ;;
  esac
  FM_KEPT=- FM_LEFT=-
  case $mode in
    relay-*) FM_IN=$(stat -c %s "$T/rx.out")
             FM_EQUAL=$(cmp -s "$FM_FILE" "$T/rx.out" && echo yes || echo no) ;;
    send-size) FM_IN=$(sed -nE 's/^Received ([0-9]+) bytes.*/\1/p' "$T/rx.out" | tail -1); : "${FM_IN:=?}"
               FM_EQUAL=$([ "$FM_IN" = "$(fm_bytes "$FM_SIZE")" ] && echo yes || echo no) ;;
    *) FM_IN=$(sed -nE 's/^Received ([0-9]+) bytes.*/\1/p' "$T/rx.out" | tail -1); : "${FM_IN:=?}"
       FM_KEPT=$([ -e "$T/out" ] && echo yes || echo no)
       FM_LEFT=$(find "$T" -maxdepth 1 -name 'out.sockprobe-*' | wc -l)
       FM_EQUAL=$([ -e "$T/out" ] && cmp -s "$FM_FILE" "$T/out" && echo yes || echo no) ;;
  esac
  FM_MSG_RX=$(fm_last_error "$T/rx.err")
  FM_MSG_TX=$(fm_last_error "$T/tx.err")
  [ -n "$FM_MSG_TX" ] || FM_MSG_TX=$(fm_last_error "$T/tx.out")
  [ -n "$FM_MSG_RX" ] || FM_MSG_RX=$(fm_last_error "$T/rx.out")
  return 0
}

# fm_verdict: the contract for the case just run.
fm_verdict() {
  local bound why=()
  bound=$((FM_STALL > FM_IDLE ? FM_STALL : FM_IDLE))
  bound=$((bound + FM_SLACK))
  [ "$FM_RX" = 124 ] && why+=("receiver hangs")
  [ "$FM_TX" = 124 ] && why+=("sender hangs")
  if [ "$FM_RX" = 0 ] && [ "$FM_EQUAL" != yes ]; then why+=("receiver exit 0 with $FM_IN of $(stat -c %s "$FM_FILE") bytes"); fi
  if [ "$FM_TX" = 0 ] && [ "$FM_RX" != 0 ]; then why+=("sender exit 0 but the receiver failed ($FM_RX)"); fi
  if [ "$FM_KEPT" = yes ] && [ "$FM_EQUAL" != yes ]; then why+=("recv -o kept a partial file"); fi
  if [ "$FM_RX" != 0 ] || [ "$FM_TX" != 0 ]; then
    [ "$FM_KEPT" = yes ] && why+=("recv -o kept the file after a failure")
    [ "$FM_LEFT" != - ] && [ "$FM_LEFT" != 0 ] && why+=("recv -o left a temporary")
  fi
  if [[ " $FM_FAULTS_OK " == *" $FM_FAULT "* ]]; then
    { [ "$FM_RX" = 0 ] && [ "$FM_TX" = 0 ]; } || why+=("a transfer that should survive $FM_FAULT failed (rx $FM_RX, tx $FM_TX)")
  else
    [ "$FM_LATE" = yes ] && why+=("vacuous: the fault came after the transfer ended")
    [ "$FM_RX" = 0 ] && why+=("receiver exit 0 after $FM_FAULT")
    [ "$FM_TX" = 0 ] && why+=("sender exit 0 after $FM_FAULT")
    local dt
    for dt in "$FM_DT_RX" "$FM_DT_TX"; do
      [[ $dt == '>'* ]] && continue
      awk -v d="$dt" -v b="$bound" 'BEGIN { exit !(d > b) }' && why+=("detected after ${dt}s > ${bound}s")
    done
  fi
  if [ ${#why[@]} -eq 0 ]; then echo ok; else local IFS=';'; echo "FAIL: ${why[*]}"; fi
}

fm_header() {
  printf '%s\t' fault mode out in equal rx tx kept dt_rx dt_tx verdict
  printf '%s\t%s\n' rx_message tx_message
}

fm_row() {
  printf '%s\t' "$FM_FAULT" "$FM_MODE" "$FM_OUT" "$FM_IN" "$FM_EQUAL" "$FM_RX" "$FM_TX" "$FM_KEPT" "$FM_DT_RX" "$FM_DT_TX" "$(fm_verdict)"
  printf '%s\t%s\n' "${FM_MSG_RX:--}" "${FM_MSG_TX:--}"
}
