#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Ending a datapath mirror job early, one case each:
#   bulk                 CANCEL during a slow bulk copy: OK, the job is
#                        gone, and a new MIRROR then completes verified
#   complete-cancel      the client's cancellable fires during a blocking
#                        COMPLETE: ERR 78, the job is gone when the call
#                        returns; PROGRESS on another connection is answered
#                        while the COMPLETE blocks
#   complete-disconnect  the client dies during COMPLETE: the daemon keeps
#                        running and finishes the job
#   starting             MIRROR to a destination that never answers: CANCEL
#                        interrupts the connect at once (MIRROR gets ERR 78),
#                        and so does SIGTERM
set -euo pipefail
. "$(dirname "$0")/datapath-lib.sh"
require qemu-nbd cmp timeout

src=$tmp/src.img
dst=$tmp/dst.img
truncate -s 32M "$src" "$dst"
dd if=/dev/urandom of="$src" bs=1M count=16 conv=notrunc status=none
start_dest "$dst" "$tmp/dst.sock"
uri="nbd+unix:///?socket=$tmp/dst.sock"
spawn_datapath "xvda=$src=$tmp/a.sock"

# mirror_again: a new job on the same disk runs to a verified copy
mirror_again() {
    local res
    dp mirror xvda "$uri" verify=1 >/dev/null
    wait_phase xvda dirty 20
    res=$(dp complete xvda)
    [ "$(field verified "$res")" = 1 ] || dp_fail "second job not verified: $res"
    cmp "$src" "$dst" || dp_fail "destination differs after the second job"
}

case "${1:?case}" in
bulk)
    dp mirror xvda "$uri" bandwidth=1 >/dev/null
    wait_phase xvda bulk 10
    sleep 1
    p=$(dp progress xvda)
    [ "$(field sent "$p")" -gt 0 ] || dp_fail "nothing sent before the cancel: $p"
    [ "$(field remaining "$p")" -gt 0 ] || dp_fail "bulk already over: $p"
    dp cancel xvda >/dev/null
    dp_err 55 progress xvda >/dev/null
    grep -q "CANCEL xvda: mirror job cancelled" "$DPLOG" || dp_fail "CANCEL not logged"
    dp cancel xvda >/dev/null    # idempotent
    mirror_again
    ;;
complete-cancel)
    dp mirror xvda "$uri" bandwidth=1 >/dev/null
    wait_phase xvda bulk 10
    start=$(date +%s%N)
    ( "$CLIENT" complete "$CTL" xvda 2000 > "$tmp/complete.out" || true ) &
    COMPLETE_PID=$!
    _bg_pids+=("$COMPLETE_PID")
    sleep 0.5
    # another connection is served while COMPLETE blocks
    p=$(timeout 5 "$CLIENT" progress "$CTL" xvda) || dp_fail "PROGRESS blocked by COMPLETE: $p"
    wait "$COMPLETE_PID" || true
    elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
    out=$(cat "$tmp/complete.out")
    case "$out" in "ERR 78 "*) ;; *) dp_fail "cancelled COMPLETE: $out" ;; esac
    [ "$elapsed" -lt 8000 ] || dp_fail "cancelled COMPLETE took ${elapsed} ms"
    # freed by the time the call returned
    dp_err 55 progress xvda >/dev/null
    grep -q "COMPLETE xvda: failed" "$DPLOG" || dp_fail "failed COMPLETE not logged"
    mirror_again
    ;;
complete-disconnect)
    dp mirror xvda "$uri" bandwidth=4 verify=1 >/dev/null
    wait_phase xvda bulk 10
    timeout -s KILL 1 "$CLIENT" complete "$CTL" xvda > /dev/null && fail "COMPLETE returned too soon"
    dp ping >/dev/null
    for _ in $(seq 150); do
        grep -q "COMPLETE xvda: done" "$DPLOG" && break
        sleep 0.1
    done
    grep -qE "COMPLETE xvda: done(,| in [0-9]+ ms \(.*\),) verified" "$DPLOG" || dp_fail "COMPLETE did not finish"
    dp_err 55 progress xvda >/dev/null
    dp ping >/dev/null
    cmp "$src" "$dst" || dp_fail "destination differs"
    ;;
starting)
    # accepts connections into its backlog, never speaks NBD
    /usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1]); s.listen(64)
time.sleep(120)
' "$tmp/frozen.sock" &
    _bg_pids+=("$!")
    wait_for test -S "$tmp/frozen.sock" || fail "frozen peer did not start"
    frozen="nbd+unix:///?socket=$tmp/frozen.sock"
    "$CLIENT" mirror "$CTL" xvda "$frozen" timeout=30 > "$tmp/mirror.out" &
    M=$!
    _bg_pids+=("$M")
    wait_phase xvda init 10
    start=$(date +%s%N)
    dp cancel xvda >/dev/null
    wait "$M" || true
    elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
    [ "$elapsed" -lt 5000 ] || dp_fail "CANCEL of a starting job took ${elapsed} ms"
    case "$(cat "$tmp/mirror.out")" in "ERR 78 "*) ;; *) dp_fail "MIRROR: $(cat "$tmp/mirror.out")" ;; esac
    dp_err 55 progress xvda >/dev/null

    "$CLIENT" mirror "$CTL" xvda "$frozen" timeout=30 > "$tmp/mirror.out" &
    M=$!
    _bg_pids+=("$M")
    wait_phase xvda init 10
    start=$(date +%s%N)
    kill -TERM "$DP_PID"
    for _ in $(seq 50); do daemon_gone && break; sleep 0.1; done
    daemon_gone || dp_fail "SIGTERM did not stop a daemon with a starting job in 5 s"
    wait "$M" || true
    [ ! -e "$CTL" ] && [ ! -e "$PIDF" ] || dp_fail "files left behind"
    ;;
*)
    fail "unknown case $1"
    ;;
esac
echo PASS
