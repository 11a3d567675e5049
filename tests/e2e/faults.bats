#!/usr/bin/env bats
# The fault matrix's CI subset (issue 12; the whole matrix is
# tests/fault_matrix.sh): 8 MiB transfers between two throwaway namespaces,
# over a link that delays, reorders, duplicates, corrupts, limits the rate
# (tests/e2e/netsim.py) or loses packets (nftables), and with a blackhole, a
# reset or a kill mid-transfer. Each case must keep the delivery contract
# (faultmatrix.bash fm_verdict): the bytes arrive complete and equal, or
# both ends exit non-zero within the timeouts, recv -o keeps no file and the
# message names the cause. Runs in the normal build only (tests/meson.build):
# the sanitizers add nothing to a network fault, and it runs once in CI.

bats_require_minimum_version 1.5.0

load helpers
load netns
load faultmatrix

setup() { sp_setup; }
teardown() { sp_teardown; }

# count DIR WHAT: a counter of the case's forwarder (netsim_count reads $T).
count() { T=$FM_DIR netsim_count "$1" "$2"; }

# check FAULT MODE: runs the case and fails with its row and logs unless it
# keeps the contract.
check() {
  fm_case "$1" "$2"
  local v
  v=$(fm_verdict)
  if [ "$v" != ok ]; then
    fm_header >&2
    fm_row >&2
    show "$FM_DIR/rx.err" "$FM_DIR/rx.out" "$FM_DIR/tx.err" "$FM_DIR/tx.out" "$FM_DIR/netsim.err"
    return 1
  fi
}

@test "no fault (through netsim.py): every mode arrives complete and equal" {
  for m in $FM_MODES; do check none "$m"; done
  # The forwarder carried it: its counters saw the data go by.
  [ "$(count c2s forwarded)" -gt 5000 ]
}

@test "delay with jitter, reordering, duplication, corruption: complete and equal" {
  check delay relay-file
  check reorder send-file
  [ "$(count c2s reordered)" -gt 0 ]
  check duplicate send-stdin
  [ "$(count c2s duplicated)" -gt 0 ]
  check corrupt relay-pipe
  [ "$(count c2s corrupted)" -gt 0 ]
}

@test "5% loss both ways, on the data only, on the ACKs only; a 20 Mbit/s link: complete and equal" {
  check loss send-file
  check loss-data send-size
  check loss-acks relay-pipe
  check rate send-stdin
}

@test "a blackhole mid-transfer: both ends exit 3 after --stall-timeout/--idle-timeout, saying why, no file" {
  check blackhole send-file
  [ "$FM_RX" = 3 ] && [ "$FM_TX" = 3 ] && [ "$FM_KEPT" = no ]
  [[ $FM_MSG_TX == *"packets are being lost"* ]]
  # The receiver cannot see the loss, and must not say the sender sent nothing.
  [[ $FM_MSG_RX == *"nothing arrived"*"packets are lost on the way"* ]]
  [[ $FM_MSG_RX != *"sender is sending nothing"* ]]
  check blackhole relay-file
  [ "$FM_RX" = 3 ] && [ "$FM_TX" = 3 ]
  [[ $FM_MSG_RX == *"idle for 5.00s"* ]]
  [[ $FM_MSG_TX == *"packets are being lost"* ]]
  # Only the ACKs lost: the sender gives up and resets, which the receiver sees.
  check blackhole-data send-size
  [ "$FM_RX" = 3 ] && [ "$FM_TX" = 3 ]
  check blackhole-acks send-stdin
  [ "$FM_TX" = 3 ] && [ "$FM_RX" = 1 ]
  [[ $FM_MSG_RX == *"reset by peer"* ]]
}

@test "a reset from either side mid-transfer: both ends exit 1 at once, naming the reset" {
  check reset-rx send-file
  [ "$FM_RX" = 1 ] && [ "$FM_TX" = 1 ] && [ "$FM_KEPT" = no ]
  [[ $FM_MSG_TX == *"reset by peer"* ]]
  check reset-rx relay-file
  [ "$FM_RX" = 1 ] && [ "$FM_TX" = 1 ]
  check reset-tx relay-pipe
  [ "$FM_RX" = 1 ] && [ "$FM_TX" = 1 ]
  [[ $FM_MSG_RX == *"reset by peer"* ]]
}

@test "kill -9 of the receiver: the sender fails at once; of the sender: recv -o exits 1, keeps no file" {
  check kill-rx send-size
  [ "$FM_TX" = 1 ]
  check kill-rx relay-file
  [ "$FM_TX" = 1 ]
  [[ $FM_MSG_TX == *"Broken pipe"* || $FM_MSG_TX == *"reset by peer"* ]]
  # A killed recv -o leaves nothing: its file had no name yet (O_TMPFILE).
  check kill-rx send-file
  [ "$FM_TX" = 1 ] && [ "$FM_KEPT" = no ] && [ "$FM_LEFT" = 0 ]
  # Regression: a killed send closed with a FIN, and recv -o took the
  # truncated stream for complete (exit 0, the file kept).
  check kill-tx send-file
  [ "$FM_RX" = 1 ] && [ "$FM_KEPT" = no ]
  [[ $FM_MSG_RX == *"reset by peer"* ]]
  check kill-tx send-stdin
  [ "$FM_RX" = 1 ] && [ "$FM_KEPT" = no ]
  # Regression: a killed relay (connect <FILE) closed with a FIN too, and
  # `listen >out` exited 0 with 3 of 8 MiB.
  check kill-tx relay-file
  [ "$FM_RX" = 1 ]
  [[ $FM_MSG_RX == *"reset by peer"* ]]
}

@test "SIGTERM of the sender mid-transfer: recv -o exits 1, keeps no file; a relay's receiver exits 1" {
  check term-tx send-file
  [ "$FM_TX" = 143 ] && [ "$FM_RX" = 1 ] && [ "$FM_KEPT" = no ]
  check term-tx relay-pipe
  [ "$FM_TX" = 143 ] && [ "$FM_RX" = 1 ]
}

@test "over IPv6: delay, duplication and loss arrive equal; a blackhole fails both ends" {
  FM_IPV6=1
  check delay send-file
  check duplicate relay-file
  check loss send-stdin
  check blackhole send-size
  [ "$FM_RX" = 3 ] && [ "$FM_TX" = 3 ]
  [[ $FM_ADDR == 2001:db8:* ]]
}
