#!/bin/bash
# An image whose size is not a multiple of any block size (16 MiB + 1234
# bytes): copy, sync and mirror (with guest writes touching the last,
# partial block) give an identical destination, and --verify / the mirror's
# final verification agree.
#   e2e-odd-size.sh copy | sync | mirror
. "$(dirname "$0")/e2e-lib.sh"
need nbdkit qemu-io
need_tool

cmd=${1:-copy}
sz=$((16 * MiB + 1234))
head -c "$sz" /dev/urandom >"$T/src.img"
truncate -s "$sz" "$T/dst.img"
start_nbdkit_file "$T/dst.img" "$T/dst.sock"
dest="nbd+unix:///?socket=$T/dst.sock"

case $cmd in
    copy|sync)
        "$XM" "$cmd" "$T/src.img" "$dest" --verify >"$T/out" 2>"$T/err" || fail "$cmd exited $?" "$T/err"
        ;;
    mirror)
        "$XM" mirror "$T/src.img" "$dest" --unix "$T/src.sock" \
            --progress=fd:3 3>"$T/progress" >"$T/out" 2>"$T/err" &
        mpid=$!
        track "$mpid"
        wait_socket "$T/src.sock" "$mpid" || fail "mirror did not start serving" "$T/err"
        E2E_WAIT=30 wait_for grep -qE '^progress phase=(dirty|sync)' "$T/progress" ||
            fail "the job did not get past bulk" "$T/err" "$T/progress"
        qemu-io -f raw "nbd+unix:///?socket=$T/src.sock" \
            -c "write -q -P 7 $((sz - 100)) 100" -c "write -q -P 8 $((sz - 70000)) 1000" \
            >"$T/qio.out" 2>&1 || fail "writes at the end of the image failed" "$T/qio.out"
        kill -USR1 "$mpid"
        wait_exit "$mpid" 30
        [ "$EXIT_RC" -eq 0 ] || fail "mirror exited $EXIT_RC after SIGUSR1" "$T/err" "$T/progress"
        ;;
    *) fail "usage: $0 copy|sync|mirror" ;;
esac
stop_pid "$NBDKIT_PID"
[ "$(stat -c %s "$T/dst.img")" -eq "$sz" ] || fail "the destination changed size"
assert_identical "$T/src.img" "$T/dst.img" "$T/err"
log "PASS ($cmd)"
