#!/bin/bash
# What "synchronous" means, seen from the guest: with --sync-writes, once the
# job is past bulk, a client write through the tracked server is acknowledged
# only after the destination has it.  The destination server is frozen
# (SIGSTOP): a 64 KiB write from qemu-io must not complete while it is
# frozen and must complete once it is thawed (SIGCONT).  The control case
# runs the same steps without --sync-writes, where the write completes at
# once.  Both end with SIGUSR1 -> exit 0 and an identical destination.
# Uses a named export (--export disk0).
#   e2e-sync-ack.sh sync | background
. "$(dirname "$0")/e2e-lib.sh"
need qemu-io nbdkit
need_tool

mode=${1:-sync}
case $mode in sync) extra=(--sync-writes) ;; background) extra=() ;; *) fail "usage: $0 sync|background" ;; esac

make_mixed_image "$T/src.img" 16 9
truncate -s 16M "$T/dst.img"
start_nbdkit_file "$T/dst.img" "$T/dst.sock"

"$XM" mirror "$T/src.img" "nbd+unix:///?socket=$T/dst.sock" --unix "$T/src.sock" --export disk0 \
    "${extra[@]}" --progress=fd:3 3>"$T/progress" >"$T/mirror.out" 2>"$T/mirror.err" &
mpid=$!
track "$mpid"
wait_socket "$T/src.sock" "$mpid" || fail "mirror did not start serving" "$T/mirror.err"
src_uri="nbd+unix:///disk0?socket=$T/src.sock"

past_bulk() {
    grep -qE '^progress phase=(dirty|sync)' "$T/progress" && return 0
    kill -0 "$mpid" 2>/dev/null || return 3
    return 1
}
E2E_WAIT=30 wait_for past_bulk || fail "the job did not get past bulk in 30 s" "$T/mirror.err" "$T/progress"
if [ "$mode" = sync ]; then
    E2E_WAIT=10 wait_for grep -q '^progress phase=sync' "$T/progress" ||
        fail "--sync-writes: no phase=sync after bulk" "$T/mirror.err" "$T/progress"
fi
sleep 0.5

kill -STOP "$NBDKIT_PID"
qemu-io -f raw "$src_uri" -c "write -P 0x5a $((5 * MiB)) 65536" >"$T/qio.out" 2>&1 &
qpid=$!
track "$qpid"
sleep 2
if [ "$mode" = sync ]; then
    if ! kill -0 "$qpid" 2>/dev/null; then
        kill -CONT "$NBDKIT_PID"
        fail "--sync-writes: a guest write completed while the destination was frozen" "$T/qio.out" "$T/progress"
    fi
    kill -CONT "$NBDKIT_PID"
    wait_exit "$qpid" 15
    [ "$EXIT_RC" -eq 0 ] || fail "--sync-writes: the write did not complete after the destination was thawed (rc $EXIT_RC)" "$T/qio.out" "$T/mirror.err"
    log "the write waited for the frozen destination and completed after it thawed"
else
    kill -0 "$qpid" 2>/dev/null && { kill -CONT "$NBDKIT_PID"; fail "background mode: a guest write waited for the destination" "$T/qio.out"; }
    wait_exit "$qpid" 5
    kill -CONT "$NBDKIT_PID"
    [ "$EXIT_RC" -eq 0 ] || fail "background mode: the write failed (rc $EXIT_RC)" "$T/qio.out" "$T/mirror.err"
    log "the write completed while the destination was frozen"
fi

kill -USR1 "$mpid"
wait_exit "$mpid" 30
[ "$EXIT_RC" -eq 0 ] || fail "mirror exited $EXIT_RC after SIGUSR1, expected 0" "$T/mirror.err" "$T/progress"
stop_pid "$NBDKIT_PID"
assert_identical "$T/src.img" "$T/dst.img" "$T/mirror.err"
cmp -s <(dd if="$T/dst.img" bs=64k skip=80 count=1 status=none) <(head -c 65536 /dev/zero | tr '\0' 'Z') ||
    fail "the guest write is not in the destination"
log "PASS ($mode)"
