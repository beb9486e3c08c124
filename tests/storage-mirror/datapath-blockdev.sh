#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A loop device as a datapath disk: served with the device's size, written
# through by a guest, mirrored to a verified copy equal to the device.
#
# Cases: loop
set -euo pipefail
. "$(dirname "$0")/datapath-lib.sh"
require qemu-io qemu-nbd losetup cmp
[ "$(id -u)" -eq 0 ] || skip "needs root for a loop device"

truncate -s 12M "$tmp/backing.img" "$tmp/dst.img"
dd if=/dev/urandom of="$tmp/backing.img" bs=1M count=3 conv=notrunc status=none
loopdev=$(losetup -f --show "$tmp/backing.img" 2>"$tmp/losetup.err") ||
    skip "no loop device: $(cat "$tmp/losetup.err")"
# after the daemon is gone (on_exit runs after lib.sh's own cleanup list)
on_exit "losetup -d '$loopdev'"

start_dest "$tmp/dst.img" "$tmp/dst.sock"
spawn_datapath "xvda=$loopdev=$tmp/a.sock"
qemu-io --image-opts "driver=nbd,server.type=unix,server.path=$tmp/a.sock" \
    -c 'write -P 0x5a 8M 1M' >/dev/null || dp_fail "guest write to the device failed"
dp mirror xvda "nbd+unix:///?socket=$tmp/dst.sock" verify=1 >/dev/null
p=$(dp progress xvda)
[ "$(field total "$p")" = $((12 * MiB)) ] || dp_fail "the device's size was not used: $p"
wait_phase xvda dirty 20
qemu-io --image-opts "driver=nbd,server.type=unix,server.path=$tmp/a.sock" \
    -c 'write -P 0xa5 10M 64k' >/dev/null || dp_fail "guest write during the mirror failed"
res=$(dp complete xvda)
[ "$(field verified "$res")" = 1 ] || dp_fail "not verified: $res"
dp quit >/dev/null
wait_for daemon_gone || dp_fail "daemon still running"
cmp "$loopdev" "$tmp/dst.img" || fail "destination differs from the device"
echo PASS
