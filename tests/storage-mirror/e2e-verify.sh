#!/bin/bash
# Verification catches a destination that does not hold the data — never a
# wrong "done":
#   copy-null       copy --verify to `nbdkit null` (accepts writes, reads back
#                   zeros): exit 1 with a message about verification
#   mirror-corrupt  mirror, then the destination file is overwritten behind
#                   the tool's back; SIGUSR1 must not exit 0
. "$(dirname "$0")/e2e-lib.sh"
need nbdkit
need_tool

case=${1:-copy-null}
make_mixed_image "$T/src.img" 16 10
before=$(sha "$T/src.img")

case $case in
    copy-null)
        nbdkit -f --exit-with-parent -U "$T/dst.sock" null 16M >"$T/nbdkit.log" 2>&1 &
        npid=$!
        track "$npid"
        wait_socket "$T/dst.sock" "$npid" || fail "nbdkit did not start" "$T/nbdkit.log"
        rc=0
        timeout -k 5 60 "$XM" copy "$T/src.img" "nbd+unix:///?socket=$T/dst.sock" --verify \
            --progress=fd:3 3>"$T/progress" >"$T/out" 2>"$T/err" || rc=$?
        ;;
    mirror-corrupt)
        truncate -s 16M "$T/dst.img"
        start_nbdkit_file "$T/dst.img" "$T/dst.sock"
        "$XM" mirror "$T/src.img" "nbd+unix:///?socket=$T/dst.sock" --unix "$T/src.sock" \
            --progress=fd:3 3>"$T/progress" >"$T/out" 2>"$T/err" &
        mpid=$!
        track "$mpid"
        past_bulk() {
            grep -qE '^progress phase=(dirty|sync)' "$T/progress" && return 0
            kill -0 "$mpid" 2>/dev/null || return 3
            return 1
        }
        E2E_WAIT=30 wait_for past_bulk || fail "the job did not get past bulk" "$T/err" "$T/progress"
        # 1 MiB of new random data over the middle of the copy.
        head -c "$MiB" /dev/urandom | dd of="$T/dst.img" bs=1M seek=8 conv=notrunc status=none
        kill -USR1 "$mpid"
        wait_exit "$mpid" 30
        [ "$EXIT_RC" -ne 124 ] || fail "mirror hung after SIGUSR1" "$T/err"
        rc=$EXIT_RC
        ;;
    *) fail "unknown case $case" ;;
esac

log "$case: exit $rc: $(grep -m1 '^xenmig-mirror: ' "$T/err" || true)"
[ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] || fail "the tool hung" "$T/err"
[ "$rc" -eq 1 ] || fail "$case: exit $rc although the destination does not hold the data, expected 1" "$T/out" "$T/err" "$T/progress"
grep -q '^xenmig-mirror: ' "$T/err" || fail "no \"xenmig-mirror: \" message" "$T/err"
grep -qiE 'verif|mismatch|differ|checksum' "$T/err" || fail "the message does not say that verification failed" "$T/err"
if grep -q '^progress phase=done' "$T/progress"; then
    fail "phase=done reported for a destination that does not hold the data" "$T/progress"
fi
[ "$(sha "$T/src.img")" = "$before" ] || fail "the source image changed"
log "PASS ($case)"
