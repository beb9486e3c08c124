#!/bin/bash
# `copy --bandwidth 4` of 16 MiB of random data takes at least ~3 s (4 s at
# exactly 4 MiB/s; one second of slack for an initial burst) and the copy is
# still correct.
. "$(dirname "$0")/e2e-lib.sh"
need nbdkit
need_tool

make_random_image "$T/src.img" 16
truncate -s 16M "$T/dst.img"
start_nbdkit_file "$T/dst.img" "$T/dst.sock"
t0=$(date +%s.%N)
timeout -k 5 60 "$XM" copy "$T/src.img" "nbd+unix:///?socket=$T/dst.sock" --bandwidth 4 --connections 2 \
    >"$T/out" 2>"$T/err" || fail "copy exited $?" "$T/err"
t1=$(date +%s.%N)
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
log "16 MiB at --bandwidth 4 took $secs s"
awk -v s="$secs" 'BEGIN { exit !(s >= 3.0) }' || fail "16 MiB at 4 MiB/s took only $secs s: the limit is not applied"
awk -v s="$secs" 'BEGIN { exit !(s <= 12.0) }' || fail "16 MiB at 4 MiB/s took $secs s: far below the limit"
stop_pid "$NBDKIT_PID"
assert_identical "$T/src.img" "$T/dst.img" "$T/err"
log "PASS"
