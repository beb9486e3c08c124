#!/bin/bash
# Synchronous mode makes a mirror converge although the guest writes faster
# than the bandwidth limit (2 MiB/s): with --sync-writes (after bulk) or
# --auto-sync (when dirty passes stop shrinking) the job reaches phase=sync
# while the writer keeps writing, and SIGUSR1 sent *during* the writes
# drains, verifies and exits 0 with a byte-identical destination.
#   e2e-mirror-converge.sh --sync-writes | --auto-sync
. "$(dirname "$0")/e2e-lib.sh"
need qemu-io qemu-nbd truncate
need_tool

mode=${1:---sync-writes}
case $mode in --sync-writes|--auto-sync) ;; *) fail "usage: $0 --sync-writes|--auto-sync" ;; esac

size_mib=16
make_mixed_image "$T/src.img" "$size_mib" 2
truncate -s "${size_mib}M" "$T/dst.img"
# Different destination servers for the two modes: ours and qemu-nbd.
if [ "$mode" = --sync-writes ]; then
    start_serve "$T/dst.img" "$T/serve.out" --unix "$T/dst.sock"
else
    start_qemu_nbd "$T/dst.img" "$T/dst.sock"
fi

"$XM" mirror "$T/src.img" "nbd+unix:///?socket=$T/dst.sock" --unix "$T/src.sock" \
    --bandwidth 2 "$mode" --progress=fd:3 3>"$T/progress" >"$T/mirror.out" 2>"$T/mirror.err" &
mpid=$!
track "$mpid"
wait_socket "$T/src.sock" "$mpid" || fail "mirror did not start serving $T/src.sock" "$T/mirror.err"
t0=$(date +%s.%N)

WRITER_PAUSE=0.2 writer "nbd+unix:///?socket=$T/src.sock" $((size_mib / 2 * MiB)) "$T/stop" "$T/writer.log" &
wpid=$!
track "$wpid"

in_sync() { grep -q '^progress phase=sync ' "$T/progress" || { kill -0 "$mpid" 2>/dev/null || return 3; return 1; }; }
E2E_WAIT=40 wait_for in_sync || fail "no progress line with phase=sync within 40 s while writing ($mode)" "$T/mirror.err" "$T/progress"
t1=$(date +%s.%N)
kill -0 "$wpid" 2>/dev/null || fail "the writer stopped before the job reached phase=sync" "$T/writer.log" "$T/writer.log.out"

# The premise of the test: the writer outpaces the 2 MiB/s limit.
written=$(writer_bytes "$T/writer.log")
rate=$(awk -v b="$written" -v a="$t0" -v z="$t1" 'BEGIN { printf "%d", b / (z - a) }')
log "reached phase=sync after $(awk -v a="$t0" -v z="$t1" 'BEGIN { printf "%.1f", z - a }') s; writer rate $rate B/s"
[ "$rate" -gt $((2 * MiB)) ] || fail "precondition: the writer wrote only $rate B/s, not more than the 2 MiB/s limit"

# Keep writing in synchronous mode for a while, then finish during writes.
before=$written
sleep 3
written=$(writer_bytes "$T/writer.log")
[ "$written" -gt "$before" ] || fail "no guest write completed in 3 s of synchronous mode" "$T/writer.log.out" "$T/mirror.err"
log "wrote $((written - before)) bytes in 3 s of synchronous mode"

kill -USR1 "$mpid"
wait_exit "$mpid" 30
[ "$EXIT_RC" -ne 124 ] || fail "mirror did not finish within 30 s of SIGUSR1 ($mode)" "$T/mirror.err" "$T/progress"
[ "$EXIT_RC" -eq 0 ] || fail "mirror exited $EXIT_RC after SIGUSR1, expected 0 ($mode)" "$T/mirror.err" "$T/progress"
touch "$T/stop"
wait_exit "$wpid" 20   # it may fail now that the server is gone; that is fine

if [ "$mode" = --sync-writes ]; then stop_pid "$SERVE_PID"; else stop_pid "$QNBD_PID"; fi
assert_identical "$T/src.img" "$T/dst.img" "$T/mirror.err"
# Guest zero writes and discards in synchronous mode reach the destination
# as zeroes/trims, not as data.
assert_as_sparse "$T/src.img" "$T/dst.img" $((2 * MiB))
log "PASS ($mode)"
