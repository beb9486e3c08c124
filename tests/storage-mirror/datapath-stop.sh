#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Stopping xenmig-datapath while a guest is connected and a mirror job
# runs: QUIT (case quit) or SIGTERM/SIGINT (cases sigterm, sigint) cancel
# the job, close the guest's connection, and leave neither sockets nor pid
# file behind; the daemon exits 0 promptly.
set -euo pipefail
. "$(dirname "$0")/datapath-lib.sh"
require qemu-io qemu-nbd

img=$tmp/disk.img
truncate -s 32M "$img" "$tmp/dst.img"
dd if=/dev/urandom of="$img" bs=1M count=8 conv=notrunc status=none
start_dest "$tmp/dst.img" "$tmp/dst.sock"

spawn_datapath "xvda=$img=$tmp/a.sock" "xvdb=$tmp/dst.img=$tmp/b.sock"

# the guest: one qemu-io connection kept open, fed commands through a FIFO
mkfifo "$tmp/guest.in"
start_bg sh -c "qemu-io --image-opts 'driver=nbd,server.type=unix,server.path=$tmp/a.sock' \
    < '$tmp/guest.in' > '$tmp/guest.out' 2>&1"
exec 7> "$tmp/guest.in"
echo "write -P 9 0 64k" >&7
wait_for grep -q "wrote 65536" "$tmp/guest.out" || fail "guest write failed: $(cat "$tmp/guest.out")"

# slow enough to be running at the stop (8 MiB at 1 MiB/s)
dp mirror xvda "nbd+unix:///?socket=$tmp/dst.sock" bandwidth=1 >/dev/null
wait_phase xvda bulk 10

case "${1:?case}" in
quit) dp quit >/dev/null ;;
sigterm) kill -TERM "$DP_PID" ;;
sigint) kill -INT "$DP_PID" ;;
*) fail "unknown case $1" ;;
esac
wait_for daemon_gone || dp_fail "daemon still running 10 s after the stop"
grep -q "CANCEL xvda: mirror job cancelled by shutdown" "$DPLOG" ||
    dp_fail "the job was not cancelled by the shutdown"
grep -q "stopped" "$DPLOG" || dp_fail "daemon did not stop cleanly"
for f in "$CTL" "$PIDF" "$tmp/a.sock" "$tmp/b.sock"; do
    [ ! -e "$f" ] || dp_fail "$f left behind"
done

# the guest's connection is gone: its next request fails
echo "read -P 9 0 64k" >&7
wait_for grep -q "read failed" "$tmp/guest.out" ||
    fail "the guest's connection survived: $(cat "$tmp/guest.out")"
exec 7>&-
echo PASS
