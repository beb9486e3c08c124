#!/bin/bash
# Edges of the `mirror` command's life:
#   usr1-in-bulk    SIGUSR1 while the bulk copy is still running (4 MiB/s over
#                   32 MiB): the job finishes the copy, verifies, exits 0,
#                   destination identical
#   dest-dies-sync  --sync-writes, past bulk, the destination is SIGKILLed and
#                   a guest write arrives: the tool ends with exit 1 and a
#                   message within 30 s (no hang), and the guest's write is
#                   either refused or in the source image
#   signal-at-start a controller that waits for the tracked socket to appear
#                   and signals at once: SIGUSR1 must give exit 0 (identical
#                   destination), SIGTERM exit 1 "cancelled" — never death by
#                   the signal's default action (10 tries each, spinning on
#                   the socket so the signal lands as early as possible)
. "$(dirname "$0")/e2e-lib.sh"
need nbdkit qemu-io
need_tool

case=${1:-usr1-in-bulk}
dest_of() { echo "nbd+unix:///?socket=$T/dst.sock"; }

case $case in
    usr1-in-bulk)
        make_random_image "$T/src.img" 32
        truncate -s 32M "$T/dst.img"
        start_nbdkit_file "$T/dst.img" "$T/dst.sock"
        "$XM" mirror "$T/src.img" "$(dest_of)" --unix "$T/src.sock" --bandwidth 4 \
            --progress=fd:3 3>"$T/progress" >"$T/out" 2>"$T/err" &
        mpid=$!
        track "$mpid"
        wait_for progress_started "$mpid" "$T/progress" || fail "no progress" "$T/err" "$T/progress"
        sleep 0.5
        phase=$(progress_last "$T/progress" phase)
        [ "$phase" = bulk ] || fail "precondition: the job is already in phase $phase" "$T/progress"
        kill -USR1 "$mpid"
        wait_exit "$mpid" 40
        [ "$EXIT_RC" -ne 124 ] || fail "mirror did not finish within 40 s of SIGUSR1 in bulk" "$T/err" "$T/progress"
        [ "$EXIT_RC" -eq 0 ] || fail "SIGUSR1 during bulk: exit $EXIT_RC, expected 0" "$T/err" "$T/progress"
        stop_pid "$NBDKIT_PID"
        assert_identical "$T/src.img" "$T/dst.img" "$T/err"
        ;;
    dest-dies-sync)
        make_mixed_image "$T/src.img" 16 12
        truncate -s 16M "$T/dst.img"
        start_nbdkit_file "$T/dst.img" "$T/dst.sock"
        "$XM" mirror "$T/src.img" "$(dest_of)" --unix "$T/src.sock" --sync-writes \
            --progress=fd:3 3>"$T/progress" >"$T/out" 2>"$T/err" &
        mpid=$!
        track "$mpid"
        wait_socket "$T/src.sock" "$mpid" || fail "mirror did not start serving" "$T/err"
        E2E_WAIT=30 wait_for grep -q '^progress phase=sync' "$T/progress" ||
            fail "no phase=sync" "$T/err" "$T/progress"
        kill -KILL "$NBDKIT_PID"; wait "$NBDKIT_PID" 2>/dev/null || true; untrack "$NBDKIT_PID"
        wrc=0
        timeout -k 5 30 qemu-io -f raw "nbd+unix:///?socket=$T/src.sock" \
            -c "write -P 0x77 $((2 * MiB)) 65536" >"$T/qio.out" 2>&1 || wrc=$?
        [ "$wrc" -ne 124 ] && [ "$wrc" -ne 137 ] || fail "the guest write hung for 30 s after the destination died" "$T/qio.out" "$T/err"
        t0=$SECONDS
        wait_exit "$mpid" 30
        log "guest write exit $wrc; tool exit $EXIT_RC $((SECONDS - t0)) s later: $(grep -m1 '^xenmig-mirror: ' "$T/err" || true)"
        [ "$EXIT_RC" -ne 124 ] || fail "the tool still runs 30 s after its destination died" "$T/err" "$T/progress"
        [ "$EXIT_RC" -eq 1 ] || fail "exit $EXIT_RC after the destination died, expected 1" "$T/err"
        grep -q '^xenmig-mirror: ' "$T/err" || fail "no \"xenmig-mirror: \" message" "$T/err"
        if [ "$wrc" -eq 0 ]; then
            cmp -s <(dd if="$T/src.img" bs=64k skip=32 count=1 status=none) \
                   <(head -c 65536 /dev/zero | tr '\0' '\167') ||
                fail "the guest write was acknowledged but is not in the source image"
        fi
        if grep -q '^progress phase=done' "$T/progress"; then
            fail "phase=done reported although the destination died" "$T/progress"
        fi
        ;;
    signal-at-start)
        make_random_image "$T/src.img" 4
        truncate -s 4M "$T/dst.img"
        start_nbdkit_file "$T/dst.img" "$T/dst.sock"
        for i in $(seq 10); do
            for sig in USR1 TERM; do
                rm -f "$T/src.sock"
                "$XM" mirror "$T/src.img" "$(dest_of)" --unix "$T/src.sock" >"$T/out" 2>"$T/err" &
                mpid=$!
                track "$mpid"
                deadline=$((SECONDS + 10))
                until [ -S "$T/src.sock" ]; do
                    kill -0 "$mpid" 2>/dev/null || fail "mirror died before serving" "$T/err"
                    [ "$SECONDS" -lt "$deadline" ] || fail "no socket after 10 s" "$T/err"
                done
                kill -"$sig" "$mpid"
                wait_exit "$mpid" 30
                [ "$EXIT_RC" -ne 124 ] || fail "try $i: mirror hung after SIG$sig" "$T/err"
                if [ "$sig" = USR1 ]; then
                    [ "$EXIT_RC" -eq 0 ] ||
                        fail "try $i: SIGUSR1 right after the socket appeared: exit $EXIT_RC, expected 0 (138 = killed by the signal: handler installed after listen)" "$T/err"
                    cmp -s "$T/src.img" "$T/dst.img" || fail "try $i: destination differs after exit 0" "$T/err"
                else
                    [ "$EXIT_RC" -eq 1 ] ||
                        fail "try $i: SIGTERM right after the socket appeared: exit $EXIT_RC, expected 1 (143 = killed by the signal)" "$T/err"
                    grep -q cancelled "$T/err" || fail "try $i: no \"cancelled\" after SIGTERM" "$T/err"
                fi
            done
        done
        ;;
    *) fail "usage: $0 usr1-in-bulk|dest-dies-sync|signal-at-start" ;;
esac
log "PASS ($case)"
