#!/bin/bash
# Scan re-sync: after 5% of the 64 KiB blocks of a 64 MiB image are
# rewritten, `xenmig-mirror sync --block-size 65536` sends between 3% and 10%
# of the image, the destination is identical afterwards, and a second sync
# with nothing changed sends (about) nothing.
#   e2e-sync.sh dest   # no state file: hashes are compared with the destination
#   e2e-sync.sh state  # --state FILE kept from the previous pass
#   e2e-sync.sh state-recover
#       the destination is changed behind the tool's back after a --state
#       pass: `sync --state --verify` must fail (exit 1), and running the same
#       command again must repair the destination (exit 0, identical) rather
#       than trust the state that just failed verification forever.
. "$(dirname "$0")/e2e-lib.sh"
need nbdkit qemu-nbd shuf
need_tool

how=${1:-dest}
case $how in dest|state|state-recover) ;; *) fail "usage: $0 dest|state|state-recover" ;; esac

size=$((64 * MiB)) bs=65536
nblocks=$((size / bs))
make_mixed_image "$T/src.img" 64 4
cp --sparse=always "$T/src.img" "$T/dst.img"
if [ "$how" = state ]; then
    start_qemu_nbd "$T/dst.img" "$T/dst.sock"
else
    # the stats filter counts what really arrives as data
    start_nbdkit_file "$T/dst.img" "$T/dst.sock" --filter=stats statsfile="$T/stats"
fi
dest="nbd+unix:///?socket=$T/dst.sock"
opts=(--block-size "$bs")
[ "$how" = dest ] || opts+=(--state "$T/state")

if [ "$how" = state-recover ]; then
    "$XM" sync "$T/src.img" "$dest" "${opts[@]}" >"$T/1.out" 2>"$T/1.err" || fail "first sync exited $?" "$T/1.err"
    head -c "$MiB" /dev/urandom | dd of="$T/dst.img" bs=1M seek=3 conv=notrunc status=none
    rc=0
    "$XM" sync "$T/src.img" "$dest" "${opts[@]}" --verify >"$T/2.out" 2>"$T/2.err" || rc=$?
    [ "$rc" -eq 1 ] || fail "sync --verify onto a destination changed behind its back exited $rc, expected 1" "$T/2.err"
    grep -qi 'verif' "$T/2.err" || fail "the failure does not mention verification" "$T/2.err"
    rc=0
    "$XM" sync "$T/src.img" "$dest" "${opts[@]}" --verify >"$T/3.out" 2>"$T/3.err" || rc=$?
    [ "$rc" -eq 0 ] ||
        fail "re-running sync --state --verify after a failed verification exited $rc: the state that failed verification is trusted again, the destination is never repaired" "$T/3.err"
    assert_identical "$T/src.img" "$T/dst.img" "$T/3.err"
    log "PASS ($how)"
    exit 0
fi

run_sync() { # label
    "$XM" sync "$T/src.img" "$dest" "${opts[@]}" >"$T/$1.out" 2>"$T/$1.err" ||
        fail "sync ($1) exited $?" "$T/$1.err"
    local summary
    summary=$(sync_summary "$T/$1.err")
    [ -n "$summary" ] ||
        fail "no 'sync: scanned X bytes, sent Y bytes (Z blocks)' line on stderr ($1)" "$T/$1.err"
    read -r scanned sent blocks <<<"$summary"
    log "$1: scanned $scanned, sent $sent bytes in $blocks blocks"
    [ "$scanned" -eq "$size" ] || fail "sync ($1) scanned $scanned bytes, the image has $size" "$T/$1.err"
}

if [ "$how" = state ]; then
    run_sync initial   # records the hashes; the copy is already identical
    [ -s "$T/state" ] || fail "sync --state did not write the state file"
fi

# Rewrite 5% of the blocks with new random data.
nchanged=$((nblocks * 5 / 100))
for b in $(shuf -i 0-$((nblocks - 1)) -n "$nchanged"); do
    head -c "$bs" /dev/urandom | dd of="$T/src.img" bs="$bs" seek="$b" conv=notrunc status=none
done

run_sync changed
lo=$((size * 3 / 100)) hi=$((size * 10 / 100))
[ "$sent" -ge "$lo" ] && [ "$sent" -le "$hi" ] ||
    fail "sync after changing $nchanged of $nblocks blocks sent $sent bytes, expected $lo..$hi" "$T/changed.err"
[ "$blocks" -ge "$nchanged" ] || fail "sync sent $blocks blocks, $nchanged were changed" "$T/changed.err"
assert_identical "$T/src.img" "$T/dst.img" "$T/changed.err"

run_sync again
[ "$sent" -le "$bs" ] || fail "a sync with nothing changed sent $sent bytes" "$T/again.err"
assert_identical "$T/src.img" "$T/dst.img" "$T/again.err"
if [ "$how" = dest ]; then
    # Both passes together, as seen by the destination server.
    stop_pid "$NBDKIT_PID"
    wire=$(stats_write_bytes "$T/stats")
    log "the destination received $wire bytes of WRITE payload over both passes"
    [ "$wire" -ge "$lo" ] && [ "$wire" -le "$hi" ] ||
        fail "the destination received $wire bytes of WRITE payload, expected $lo..$hi" "$T/stats"
fi
log "PASS ($how)"
