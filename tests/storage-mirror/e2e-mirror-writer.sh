#!/bin/bash
# xenmig-mirror mirror while a real client (qemu-io or nbdcopy) writes random
# data, zeros and discards through the tracked server the whole time.  After the
# writer stops, SIGUSR1 makes the tool drain, verify and exit 0; the
# destination (an nbdkit file export) is then byte-identical to the source
# and keeps the source's holes.
#   e2e-mirror-writer.sh qemu-io  random-offset writes, zeros, discards
#   e2e-mirror-writer.sh nbdcopy  whole-image rewrites from nbdkit sparse-random
. "$(dirname "$0")/e2e-lib.sh"
need qemu-io nbdkit nbdcopy truncate
need_tool

how=${1:-qemu-io}
case $how in qemu-io|nbdcopy) ;; *) fail "usage: $0 qemu-io|nbdcopy" ;; esac

size_mib=32
make_mixed_image "$T/src.img" "$size_mib" 1
truncate -s "${size_mib}M" "$T/dst.img"
start_nbdkit_file "$T/dst.img" "$T/dst.sock"

"$XM" mirror "$T/src.img" "nbd+unix:///?socket=$T/dst.sock" --unix "$T/src.sock" \
    --progress=fd:3 3>"$T/progress" >"$T/mirror.out" 2>"$T/mirror.err" &
mpid=$!
track "$mpid"
wait_socket "$T/src.sock" "$mpid" || fail "mirror did not start serving $T/src.sock" "$T/mirror.err"

if [ "$how" = qemu-io ]; then
    # The writer stays in the first half so the second half keeps the layout
    # of data, zeros and holes made above, which the sparseness check uses.
    WRITER_PAUSE=0.05 writer "nbd+unix:///?socket=$T/src.sock" $((size_mib * MiB / 2)) "$T/stop" "$T/writer.log" &
else
    WRITER_PAUSE=0.2 writer_nbdcopy "nbd+unix:///?socket=$T/src.sock" $((size_mib * MiB)) "$T/stop" "$T/writer.log" &
fi
wpid=$!
track "$wpid"

sleep 8
kill -0 "$mpid" 2>/dev/null || fail "mirror exited while the writer was writing" "$T/mirror.err"
touch "$T/stop"
wait_exit "$wpid" 30
[ "$EXIT_RC" -eq 0 ] || fail "writer failed (rc $EXIT_RC): a client write through the tracked server failed" "$T/writer.log" "$T/writer.log.out" "$T/mirror.err"
written=$(writer_bytes "$T/writer.log")
[ "$written" -gt $((4 * MiB)) ] || fail "the writer wrote only $written bytes in 8 s" "$T/writer.log.out"
log "writer wrote $written bytes through the tracked server"

# A last, known write proves the writes land in the source image.
qemu-io -f raw "nbd+unix:///?socket=$T/src.sock" -c "write -q -P 0xa5 $((3 * MiB)) 65536" \
    >"$T/marker.out" 2>&1 || fail "marker write failed" "$T/marker.out"

kill -USR1 "$mpid"
wait_exit "$mpid" 40
[ "$EXIT_RC" -ne 124 ] || fail "mirror did not finish within 40 s of SIGUSR1" "$T/mirror.err" "$T/progress"
[ "$EXIT_RC" -eq 0 ] || fail "mirror exited $EXIT_RC after SIGUSR1, expected 0" "$T/mirror.err" "$T/progress"

stop_pid "$NBDKIT_PID"
cmp -s <(dd if="$T/src.img" bs=64k skip=48 count=1 status=none) <(head -c 65536 /dev/zero | tr '\0' '\245') ||
    fail "the marker write is not in the source image"
assert_identical "$T/src.img" "$T/dst.img" "$T/mirror.err"
assert_as_sparse "$T/src.img" "$T/dst.img" $((2 * MiB))
log "PASS ($how)"
