#!/bin/bash
# A full `copy` of an image of data, allocated zeros and holes (1 MiB runs)
# sends zero runs as WRITE_ZEROES rather than data: the destination server
# (nbdkit file behind the stats filter) receives about as many bytes of
# WRITE payload as the image has data, progress reports a matching sent=,
# and the destination (a fresh sparse file) is identical and keeps the
# source's holes.
. "$(dirname "$0")/e2e-lib.sh"
need nbdkit
need_tool

size=$((32 * MiB))
make_mixed_image "$T/src.img" 32 8
truncate -s "$size" "$T/dst.img"
# Bytes that are neither holes nor zeros: the 1 MiB runs of random data.
data=$("$PY" - "$T/src.img" <<'EOF'
import sys
z = bytes(1 << 20)
n = 0
with open(sys.argv[1], "rb") as f:
    while True:
        b = f.read(1 << 20)
        if not b:
            break
        if b != z[:len(b)]:
            n += len(b)
print(n)
EOF
)
start_nbdkit_file "$T/dst.img" "$T/dst.sock" --filter=stats statsfile="$T/stats"
"$XM" copy "$T/src.img" "nbd+unix:///?socket=$T/dst.sock" --connections 4 \
    --progress=fd:3 3>"$T/progress" >"$T/out" 2>"$T/err" || fail "copy exited $?" "$T/err"
stop_pid "$NBDKIT_PID"   # writes the stats file
wire=$(stats_write_bytes "$T/stats")
log "the destination received $wire bytes as WRITE payload"
[ "$wire" -le $((data + data / 20)) ] ||
    fail "the destination received $wire bytes of WRITE payload for $data bytes of data: zeros were sent as data" "$T/stats"
sent=$(progress_last "$T/progress" sent) || fail "no progress line" "$T/progress"
log "image $size bytes, $data of them data; sent=$sent"
[ "$sent" -ge "$data" ] || fail "sent=$sent is less than the $data bytes of data in the image" "$T/progress"
[ "$sent" -le $((data + data / 20)) ] ||
    fail "sent=$sent: zeros were sent as data (image has only $data bytes of data)" "$T/progress"
assert_identical "$T/src.img" "$T/dst.img" "$T/err"
assert_as_sparse "$T/src.img" "$T/dst.img" $((1 * MiB))
log "PASS"
