#!/bin/bash
# The destination is not assumed to be zero: onto a destination full of
# random bytes, the source's holes and zero runs must still end up as zeros,
# and the source's holes as holes (zeroing may punch).
#   e2e-overwrite.sh copy | sync | mirror
. "$(dirname "$0")/e2e-lib.sh"
need nbdkit
need_tool

cmd=${1:-copy}
make_mixed_image "$T/src.img" 16 13
make_random_image "$T/dst.img" 16
start_nbdkit_file "$T/dst.img" "$T/dst.sock"
dest="nbd+unix:///?socket=$T/dst.sock"

case $cmd in
    copy) "$XM" copy "$T/src.img" "$dest" >"$T/out" 2>"$T/err" || fail "copy exited $?" "$T/err" ;;
    sync) "$XM" sync "$T/src.img" "$dest" --block-size 65536 >"$T/out" 2>"$T/err" || fail "sync exited $?" "$T/err" ;;
    mirror)
        "$XM" mirror "$T/src.img" "$dest" --unix "$T/src.sock" \
            --progress=fd:3 3>"$T/progress" >"$T/out" 2>"$T/err" &
        mpid=$!
        track "$mpid"
        wait_socket "$T/src.sock" "$mpid" || fail "mirror did not start serving" "$T/err"
        E2E_WAIT=30 wait_for grep -qE '^progress phase=(dirty|sync)' "$T/progress" ||
            fail "the job did not get past bulk" "$T/err" "$T/progress"
        kill -USR1 "$mpid"
        wait_exit "$mpid" 30
        [ "$EXIT_RC" -eq 0 ] || fail "mirror exited $EXIT_RC after SIGUSR1" "$T/err" "$T/progress"
        ;;
    *) fail "usage: $0 copy|sync|mirror" ;;
esac
stop_pid "$NBDKIT_PID"
assert_identical "$T/src.img" "$T/dst.img" "$T/err"
# and the source's holes are holes again, not zeroes written over old data
assert_as_sparse "$T/src.img" "$T/dst.img" $((1 * MiB))
log "PASS ($cmd)"
