#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A guest writer keeps writing through the datapath daemon's disk socket
# while a tracked mirror job copies the disk to a qemu-nbd destination:
# PROGRESS climbs, SYNC enters synchronous mode, COMPLETE after the writer
# stopped verifies and leaves the destination identical to the source,
# which the mirror itself never modified.
#
# Cases: writer (the above), two-disks (jobs on two disks at once, their
# COMPLETEs running in parallel on two connections)
set -euo pipefail
. "$(dirname "$0")/datapath-lib.sh"
require qemu-io qemu-nbd cmp sha256sum

if [ "${1:?case}" = two-disks ]; then
    for d in a b; do
        truncate -s 24M "$tmp/$d.img" "$tmp/$d-dst.img"
        dd if=/dev/urandom of="$tmp/$d.img" bs=1M count=6 conv=notrunc status=none
        start_dest "$tmp/$d-dst.img" "$tmp/$d-dst.sock"
    done
    spawn_datapath "xvda=$tmp/a.img=$tmp/a.sock" "xvdb=$tmp/b.img=$tmp/b.sock"
    dp mirror xvda "nbd+unix:///?socket=$tmp/a-dst.sock" verify=1 bandwidth=20 >/dev/null
    dp mirror xvdb "nbd+unix:///?socket=$tmp/b-dst.sock" verify=1 sync=1 >/dev/null
    i=1
    for d in a b; do
        qemu-io --image-opts "driver=nbd,server.type=unix,server.path=$tmp/$d.sock" \
            -c "write -P $((i += 1)) 20M 1M" >/dev/null || dp_fail "guest write on $d failed"
    done
    wait_phase xvdb sync 20
    dp bandwidth xvda 0 >/dev/null
    wait_phase xvda dirty 20
    "$CLIENT" complete "$CTL" xvda > "$tmp/a.res" &
    ca=$!
    "$CLIENT" complete "$CTL" xvdb > "$tmp/b.res" &
    cb=$!
    _bg_pids+=("$ca" "$cb")
    wait "$ca" || dp_fail "COMPLETE xvda: $(cat "$tmp/a.res")"
    wait "$cb" || dp_fail "COMPLETE xvdb: $(cat "$tmp/b.res")"
    for d in a b; do
        [ "$(field verified "$(cat "$tmp/$d.res")")" = 1 ] || dp_fail "$d not verified"
        cmp "$tmp/$d.img" "$tmp/$d-dst.img" || dp_fail "disk $d differs"
    done
    echo PASS
    exit 0
fi

src=$tmp/src.img
other=$tmp/other.img
dst=$tmp/dst.img
truncate -s 64M "$src" "$dst"
truncate -s 8M "$other"
dd if=/dev/urandom of="$src" bs=1M count=12 conv=notrunc status=none
dd if=/dev/urandom of="$src" bs=1M seek=40 count=12 conv=notrunc status=none

start_dest "$dst" "$tmp/dst.sock"

spawn_datapath "xvda=$src=$tmp/a.sock" "xvdb=$other=$tmp/b.sock"
dp ping >/dev/null

# The guest: pattern writes through the daemon, 256 KiB at random MiB
# offsets, until told to stop. Any failed write fails the test.
writer() {
    local i=0
    while [ ! -e "$tmp/stop" ]; do
        i=$((i + 1))
        qemu-io --image-opts "driver=nbd,server.type=unix,server.path=$tmp/a.sock" \
            -c "write -P $((i % 251 + 1)) $(( (RANDOM % 63) * MiB )) 256k" \
            -c "write -P $((i % 13 + 1)) $(( (RANDOM % 63) * MiB + 4096 )) 64k" \
            >/dev/null || { echo "writer: write $i failed" >&2; exit 1; }
    done
    echo "$i" > "$tmp/writes"
}
start_bg writer
WRITER=$BG_PID

dp mirror xvda "nbd+unix:///?socket=$tmp/dst.sock" bandwidth=8 verify=1 >/dev/null
# climbs during the bulk copy (24 MiB of data at 8 MiB/s)
first=$(dp progress xvda)
[ "$(field phase "$first")" = bulk ] || dp_fail "not in bulk: $first"
[ "$(field total "$first")" = $((64 * MiB)) ] || dp_fail "bad total: $first"
sleep 1
second=$(dp progress xvda)
[ "$(field done "$second")" -gt "$(field done "$first")" ] ||
    dp_fail "progress did not climb: $first -> $second"
[ "$(field sent "$second")" -gt 0 ] || dp_fail "nothing sent: $second"

dp bandwidth xvda 0 >/dev/null
wait_phase xvda dirty 20
dp sync xvda >/dev/null
wait_phase xvda sync 20
# the other disk is still served, untouched by the job
qemu-io --image-opts "driver=nbd,server.type=unix,server.path=$tmp/b.sock" \
    -c 'read -P 0 0 1M' >/dev/null || dp_fail "disk xvdb not served"

sleep 1
touch "$tmp/stop"
wait "$WRITER" || fail "the guest writer failed"
[ "$(cat "$tmp/writes")" -gt 2 ] || fail "the writer hardly wrote"

before=$(sha256sum < "$src")
res=$(dp complete xvda)
[ "$(field verified "$res")" = 1 ] || dp_fail "not verified: $res"
[ "$(field source "$res")" = "$(field dest "$res")" ] || dp_fail "checksums differ: $res"
[ "${#before}" -gt 0 ] && [ "$before" = "$(sha256sum < "$src")" ] ||
    dp_fail "the source changed during COMPLETE"
cmp "$src" "$dst" || dp_fail "destination differs from the source"

# the job is gone; the disk is still served
dp_err 55 progress xvda >/dev/null
qemu-io --image-opts "driver=nbd,server.type=unix,server.path=$tmp/a.sock" \
    -c 'read 0 4k' >/dev/null || dp_fail "disk xvda no longer served"
grep -qE "COMPLETE xvda: done(,| in [0-9]+ ms \(.*\),) verified" "$DPLOG" || dp_fail "COMPLETE not logged"

dp quit >/dev/null
wait_for daemon_gone || dp_fail "daemon still running after QUIT"
[ ! -e "$CTL" ] && [ ! -e "$PIDF" ] && [ ! -e "$tmp/a.sock" ] ||
    dp_fail "QUIT left files behind: $(ls "$tmp")"
cat "$DPLOG"
echo PASS
