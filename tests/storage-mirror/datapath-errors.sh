#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Error paths of xenmig-datapath and its client, one per case:
#   requests       unknown target/command/key, PROGRESS without a job, a
#                  second MIRROR, an unreachable destination: each the
#                  right ERR code, and the daemon keeps serving afterwards
#   dead-daemon    a killed daemon: the client fails at once naming the socket
#   frozen         a stopped daemon: a request times out after 30 s with
#                  ERR 68 naming the socket; continued, it answers again
#   missing-image  spawn fails with the daemon's reason; nothing is left
#   bad-pid-file   the pid file cannot be written (the last start-up step):
#                  spawn fails with the reason, sockets are removed again
#   busy-control   a second daemon on the same control socket is refused;
#                  the first one is unharmed
#   malformed      a peer answering nonsense: XM_ERR_INTERNAL_ERROR (1)
#   sigchld-ignored  spawn in a caller that ignores SIGCHLD: it still
#                  returns the daemon's pid, or the daemon's failure reason
#   too-many       idle control connections beyond the cap are refused with
#                  ERR 87; once they close, requests work again
#   dest-dies      the destination dies under a synchronous job while the
#                  guest writes: no guest write fails, PROGRESS says failed,
#                  COMPLETE reports the error, a new job can start
set -euo pipefail
. "$(dirname "$0")/datapath-lib.sh"
require qemu-io qemu-nbd timeout

img=$tmp/disk.img
truncate -s 16M "$img"
dd if=/dev/urandom of="$img" bs=1M count=2 conv=notrunc status=none

# nothing may survive a failed start: process, pid file, sockets
assert_nothing_left() {
    local p
    [ ! -e "$PIDF" ] || fail "pid file left behind"
    [ ! -e "$CTL" ] || fail "control socket left behind"
    [ ! -e "$tmp/a.sock" ] || fail "disk socket left behind"
    for p in /proc/[0-9]*; do
        if tr '\0' ' ' < "$p/cmdline" 2>/dev/null | grep -q -- "--pid-file $PIDF"; then
            fail "a daemon is still running: ${p#/proc/}"
        fi
    done
}

# spawn_missing_image: spawn fails with the daemon's reason, leaving nothing
spawn_missing_image() {
    local out
    out=$("$CLIENT" spawn "$CTL" "$PIDF" "$DPLOG" \
        "xvda=$tmp/nosuch.img=$tmp/a.sock") && fail "spawn with a missing image worked"
    case "$out" in
        "ERR 9 "*"did not start"*"nosuch.img"*) ;;
        *) fail "spawn error lacks the daemon's reason: $out" ;;
    esac
    assert_nothing_left
}

case "${1:?case}" in
requests)
    spawn_datapath "xvda=$img=$tmp/a.sock"
    truncate -s 16M "$tmp/dst.img"
    start_dest "$tmp/dst.img" "$tmp/dst.sock"
    uri="nbd+unix:///?socket=$tmp/dst.sock"

    dp_err 8 progress nosuch | grep -q "nosuch" || dp_fail "message lacks the target"
    dp_err 8 mirror nosuch "$uri" >/dev/null
    dp_err 8 raw "FROB target=xvda" | grep -q FROB || dp_fail "message lacks the command"
    dp_err 8 raw "PROGRESS target=xvda colour=blue" >/dev/null
    dp_err 8 raw "PROGRESS" >/dev/null
    dp_err 8 raw "MIRROR target=xvda" >/dev/null
    dp_err 8 raw "MIRROR target=xvda uri=x bandwidth=fast" >/dev/null
    dp_err 8 raw "MIRROR target=xvda uri=x sync=2" >/dev/null
    dp_err 8 raw "PING target=%zz" >/dev/null
    dp_err 8 raw "" >/dev/null
    dp_err 55 progress xvda >/dev/null
    dp_err 55 complete xvda >/dev/null
    dp_err 55 sync xvda >/dev/null
    dp_err 55 bandwidth xvda 3 >/dev/null
    dp cancel xvda >/dev/null   # idempotent without a job
    # nobody listens there
    dp_err 5 mirror xvda "nbd+unix:///?socket=$tmp/nobody.sock" >/dev/null
    grep -q "MIRROR xvda to .*: failed" "$DPLOG" || dp_fail "failed MIRROR not logged"
    dp_err 55 progress xvda >/dev/null

    dp mirror xvda "$uri" bandwidth=1 >/dev/null
    dp_err 55 mirror xvda "$uri" | grep -q "already" || dp_fail "bad second MIRROR message"
    dp progress xvda >/dev/null
    dp cancel xvda >/dev/null

    # a client that hangs up its side and reads to EOF (socat, nc -N) gets
    # its reply and the end at once, not when the next client connects
    /usr/bin/python3 - "$CTL" <<'PY' || dp_fail "no EOF after the reply to a half-closed client"
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(b"PING\n")
s.shutdown(socket.SHUT_WR)
data = b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
sys.exit(0 if data.startswith(b"OK ") else 1)
PY

    # still serving: control and the disk
    dp ping >/dev/null
    qemu-io --image-opts "driver=nbd,server.type=unix,server.path=$tmp/a.sock" \
        -c 'write -P 7 0 64k' -c 'read -P 7 0 64k' >/dev/null || dp_fail "disk not served"
    ;;
dead-daemon)
    spawn_datapath "xvda=$img=$tmp/a.sock"
    kill -KILL "$DP_PID"
    wait_for daemon_gone || fail "daemon survived SIGKILL"
    out=$(timeout 10 "$CLIENT" ping "$CTL") && fail "ping of a dead daemon worked"
    case "$out" in
        "ERR 9 "*"$CTL"*) ;;
        *) fail "unexpected error for a dead daemon: $out" ;;
    esac
    out=$(timeout 10 "$CLIENT" complete "$CTL" xvda) && fail "complete on a dead daemon worked"
    case "$out" in "ERR 9 "*"$CTL"*) ;; *) fail "complete: $out" ;; esac
    # a new daemon replaces the stale sockets
    spawn_datapath "xvda=$img=$tmp/a.sock"
    dp ping >/dev/null
    ;;
frozen)
    spawn_datapath "xvda=$img=$tmp/a.sock"
    kill -STOP "$DP_PID"
    on_exit "kill -CONT $DP_PID 2>/dev/null"
    start=$(date +%s)
    out=$(timeout 45 "$CLIENT" ping "$CTL") && fail "ping of a stopped daemon worked"
    elapsed=$(( $(date +%s) - start ))
    case "$out" in "ERR 68 "*"$CTL"*) ;; *) fail "frozen daemon: $out" ;; esac
    [ "$elapsed" -ge 29 ] && [ "$elapsed" -le 35 ] || fail "timed out after $elapsed s"
    kill -CONT "$DP_PID"
    dp ping >/dev/null
    ;;
missing-image)
    spawn_missing_image
    # same for the second disk of two: the first one's socket is removed
    out=$("$CLIENT" spawn "$CTL" "$PIDF" "$DPLOG" "xvda=$img=$tmp/a.sock" \
        "xvdb=$tmp/nosuch.img=$tmp/b.sock") && fail "spawn with a missing image worked"
    assert_nothing_left
    [ ! -e "$tmp/b.sock" ] || fail "socket b left behind"
    # a FIFO is not an image (and must not block the daemon)
    mkfifo "$tmp/fifo"
    out=$(timeout 20 "$CLIENT" spawn "$CTL" "$PIDF" "$DPLOG" "xvda=$tmp/fifo=$tmp/a.sock") &&
        fail "spawn on a FIFO worked"
    case "$out" in "ERR 9 "*"fifo"*) ;; *) fail "FIFO: $out" ;; esac
    assert_nothing_left
    ;;
bad-pid-file)
    PIDF=$tmp/no/such/dir/datapath.pid
    out=$("$CLIENT" spawn "$CTL" "$PIDF" "$DPLOG" "xvda=$img=$tmp/a.sock") &&
        fail "spawn with an unwritable pid file worked"
    case "$out" in "ERR 9 "*"pid file"*) ;; *) fail "bad pid file: $out" ;; esac
    assert_nothing_left
    ;;
busy-control)
    spawn_datapath "xvda=$img=$tmp/a.sock"
    first=$DP_PID
    out=$("$CLIENT" spawn "$CTL" "$tmp/second.pid" "$DPLOG" \
        "xvdb=$img=$tmp/b.sock") && fail "second daemon on the same control socket started"
    case "$out" in "ERR 9 "*"listens on"*) ;; *) fail "busy control: $out" ;; esac
    [ ! -e "$tmp/second.pid" ] && [ ! -e "$tmp/b.sock" ] || fail "second daemon left files"
    [ "$(cat "$PIDF")" = "$first" ] || fail "first pid file overwritten"
    dp ping >/dev/null
    ;;
malformed)
    # a fake daemon answering each request with the next canned line
    /usr/bin/python3 - "$CTL" > "$tmp/fake.log" 2>&1 <<'PY' &
import socket, sys, os
replies = [b"HELLO\n", b"OK version=1 junk\n", b"OK\n", b"OK version=x1\n",
           b"ERR notanumber oops\n", b"ERR 0 zero\n",
           b"OK phase=bulk pass=1\n", b"OK phase=warp pass=1 total=1 done=1 remaining=0 dirty=0 sent=0 blocks_sent=0 rate=0\n",
           b"OK verified=1 source=abc dest=abc\n", b"OK a=%zz\n", b"OK a=1 a=2\n",
           b"ERR 42 no such domain\n"]
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1]); s.listen(4)
for r in replies:
    c, _ = s.accept()
    c.recv(4096)
    c.sendall(r)
    c.close()
PY
    _bg_pids+=("$!")
    wait_for test -S "$CTL" || fail "fake daemon did not start"
    # each reply above, in order: an ERR 1 for the malformed ones
    for call in ping ping ping ping ping ping "progress xvda" "progress xvda" \
                "complete xvda" ping ping; do
        # shellcheck disable=SC2086
        set -- $call
        out=$("$CLIENT" "$1" "$CTL" "${@:2}") && fail "$call accepted a malformed reply"
        case "$out" in
            "ERR 1 "*) ;;
            *) fail "$call: expected ERR 1, got $out" ;;
        esac
    done
    # a well-formed ERR keeps its code and message
    out=$("$CLIENT" ping "$CTL") && fail "ERR 42 taken for success"
    [ "$out" = "ERR 42 no such domain" ] || fail "ERR not passed through: $out"
    ;;
sigchld-ignored)
    export DATAPATH_TEST_IGNORE_SIGCHLD=1
    spawn_missing_image
    spawn_datapath "xvda=$img=$tmp/a.sock"
    dp ping >/dev/null
    ;;
too-many)
    spawn_datapath "xvda=$img=$tmp/a.sock"
    # 64 idle connections held open by a helper until its stdin closes
    mkfifo "$tmp/hold"
    /usr/bin/python3 -c '
import socket, sys
conns = []
for _ in range(64):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    conns.append(s)
print("held", flush=True)
sys.stdin.read()
' "$CTL" < "$tmp/hold" > "$tmp/held" &
    _bg_pids+=("$!")
    HOLDER=$!
    exec 8> "$tmp/hold"
    wait_for grep -q held "$tmp/held" || fail "could not open 64 connections"
    sleep 0.3
    dp_err 87 ping >/dev/null
    exec 8>&-
    wait "$HOLDER" || true
    for _ in $(seq 50); do "$CLIENT" ping "$CTL" >/dev/null && break; sleep 0.1; done
    dp ping >/dev/null
    ;;
dest-dies)
    truncate -s 16M "$tmp/dst.img"
    start_dest "$tmp/dst.img" "$tmp/dst.sock"
    spawn_datapath "xvda=$img=$tmp/a.sock"
    dp mirror xvda "nbd+unix:///?socket=$tmp/dst.sock" sync=1 timeout=5 >/dev/null
    wait_phase xvda sync 20
    guest_write() {
        qemu-io --image-opts "driver=nbd,server.type=unix,server.path=$tmp/a.sock" \
            -c "write -P $1 $(( $1 * MiB )) 256k" >/dev/null
    }
    guest_write 3 || dp_fail "guest write failed in sync mode"
    kill -KILL "$DEST_PID"
    wait "$DEST_PID" 2>/dev/null || true
    # the hook never fails a guest write; the job fails instead
    for i in 4 5 6; do
        guest_write "$i" || dp_fail "guest write $i failed after the destination died"
    done
    for _ in $(seq 100); do
        phase=$(field phase "$(dp progress xvda)")
        [ "$phase" = failed ] && break
        sleep 0.1
    done
    [ "$phase" = failed ] || dp_fail "job did not fail: $phase"
    out=$(dp_err '[0-9]*' complete xvda)
    case "$out" in "ERR 1 "*|"ERR 55 "*) dp_fail "unexpected COMPLETE error: $out" ;; esac
    grep -q "COMPLETE xvda: failed" "$DPLOG" || dp_fail "failed COMPLETE not logged"
    dp_err 55 progress xvda >/dev/null
    qemu-io --image-opts "driver=nbd,server.type=unix,server.path=$tmp/a.sock" \
        -c "read -P 6 $((6 * MiB)) 256k" >/dev/null || dp_fail "guest data lost"
    # a new job to a new destination
    truncate -s 16M "$tmp/dst2.img"
    start_dest "$tmp/dst2.img" "$tmp/dst2.sock"
    dp mirror xvda "nbd+unix:///?socket=$tmp/dst2.sock" verify=1 >/dev/null
    wait_phase xvda dirty 20
    [ "$(field verified "$(dp complete xvda)")" = 1 ] || dp_fail "new job not verified"
    cmp "$img" "$tmp/dst2.img" || dp_fail "new destination differs"
    ;;
*)
    fail "unknown case $1"
    ;;
esac
echo PASS
