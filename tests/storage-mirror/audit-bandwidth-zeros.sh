#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# --bandwidth limits data only; holes and zero runs do not count (as the man
# page says): a 64 MiB image with 1 MiB of data, 16 MiB of allocated zeros
# and holes elsewhere copies at 1 MiB/s in seconds, not in a minute, and
# arrives identical.
. "$(dirname "$0")/e2e-lib.sh"
need nbdkit
need_tool

truncate -s 64M "$T/src.img"
head -c "$MiB" /dev/urandom | dd of="$T/src.img" bs=1M seek=10 conv=notrunc status=none
dd if=/dev/zero of="$T/src.img" bs=1M seek=20 count=16 conv=notrunc status=none
truncate -s 64M "$T/dst.img"
start_nbdkit_file "$T/dst.img" "$T/dst.sock"
t0=$SECONDS
timeout 40 "$XM" copy "$T/src.img" "nbd+unix:///?socket=$T/dst.sock" --bandwidth 1 \
    >"$T/out" 2>"$T/err" || fail "copy exited $?" "$T/err"
took=$((SECONDS - t0))
log "64 MiB (1 MiB of data) at --bandwidth 1 took $took s"
# 1 MiB of data at 1 MiB/s: about 1 s; counting the 17 MiB of zeros would
# take 17 s, the whole image 64 s
[ "$took" -le 8 ] || fail "took $took s: zeros or holes count against the limit" "$T/err"
stop_pid "$NBDKIT_PID"
assert_identical "$T/src.img" "$T/dst.img" "$T/err"
log "PASS"
