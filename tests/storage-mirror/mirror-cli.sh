#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# xenmig-mirror copy/sync/mirror against real peers, one behaviour per case:
#   mirror-cli.sh nbdkit-memory | qemu-nbd-verify | tls-nbdkit | tls-refused |
#                 bandwidth | sync-5pct | state-mismatch | mirror-qemu-io |
#                 block-device
. "$(dirname "$0")/e2e-lib.sh"
need_tool
case=${1:?usage: mirror-cli.sh CASE}
MIB=$MiB

case $case in
nbdkit-memory)
    # several connections (nbdkit advertises multi-conn); the data is read
    # back with nbdcopy inside nbdkit's lifetime
    need nbdkit nbdcopy
    make_mixed_image "$T/src.img" 32 11
    nbdkit -U - memory 32M --run \
        "'$XM' copy '$T/src.img' \"\$uri\" --connections 4 && nbdcopy \"\$uri\" '$T/out.img'" \
        >"$T/run.log" 2>&1 || fail "copy to nbdkit memory failed" "$T/run.log"
    assert_identical "$T/src.img" "$T/out.img" "$T/run.log"
    ;;
qemu-nbd-verify)
    need qemu-nbd
    make_mixed_image "$T/src.img" 32 12
    truncate -s 32M "$T/dst.img"
    start_qemu_nbd "$T/dst.img" "$T/dst.sock"
    "$XM" copy "$T/src.img" "nbd+unix:///?socket=$T/dst.sock" --verify \
        >"$T/out" 2>"$T/err" || fail "copy --verify exited $?" "$T/err"
    grep -q '^verified: ' "$T/err" || fail "no verification report" "$T/err"
    stop_pid "$QNBD_PID"
    assert_identical "$T/src.img" "$T/dst.img" "$T/err"
    assert_as_sparse "$T/src.img" "$T/dst.img" $((1 * MIB))
    ;;
tls-nbdkit|tls-refused)
    need nbdkit certtool
    bash "$XM_SRCDIR/tests/storage-mirror/make-certs.sh" "$T/pki" >"$T/certs.log" 2>&1 ||
        fail "make-certs.sh failed" "$T/certs.log"
    make_mixed_image "$T/src.img" 16 13
    truncate -s 16M "$T/dst.img"
    start_nbdkit_file "$T/dst.img" "$T/dst.sock" --tls=require \
        --tls-certificates="$T/pki" --tls-verify-peer
    if [ "$case" = tls-nbdkit ]; then
        "$XM" copy "$T/src.img" "nbds+unix:///?socket=$T/dst.sock" --tls-dir "$T/pki" \
            >"$T/out" 2>"$T/err" || fail "TLS copy exited $?" "$T/err" "$T/nbdkit.log"
        stop_pid "$NBDKIT_PID"
        assert_identical "$T/src.img" "$T/dst.img" "$T/err"
    else
        rc=0
        timeout 30 "$XM" copy "$T/src.img" "nbd+unix:///?socket=$T/dst.sock" \
            >"$T/out" 2>"$T/err" || rc=$?
        [ "$rc" -eq 1 ] || fail "plaintext copy to a TLS-only server exited $rc, expected 1" "$T/err"
        grep -q '^xenmig-mirror: ' "$T/err" || fail "no error message" "$T/err"
        [ "$(alloc_bytes "$T/dst.img")" -eq 0 ] || fail "the destination was written"
    fi
    ;;
bandwidth)
    # coarse: 8 MiB of data at 4 MiB/s cannot take less than 1.5 s
    need nbdkit
    make_random_image "$T/src.img" 8
    nbdkit -U - memory 8M --run \
        "s=\$(date +%s%N); '$XM' copy '$T/src.img' \"\$uri\" --bandwidth 4 || exit 1; echo \$(( (\$(date +%s%N) - s) / 1000000 ))" \
        >"$T/ms" 2>"$T/err" || fail "copy failed" "$T/err"
    ms=$(tail -1 "$T/ms")
    log "8 MiB at 4 MiB/s took $ms ms"
    [ "$ms" -ge 1500 ] || fail "8 MiB at --bandwidth 4 took only $ms ms"
    ;;
sync-5pct)
    need nbdkit shuf
    bs=65536 size=$((32 * MIB))
    make_mixed_image "$T/src.img" 32 14
    cp --sparse=always "$T/src.img" "$T/dst.img"
    n=$((size / bs / 20))
    for b in $(shuf -i 0-$((size / bs - 1)) -n "$n"); do
        head -c "$bs" /dev/urandom | dd of="$T/src.img" bs="$bs" seek="$b" conv=notrunc status=none
    done
    start_nbdkit_file "$T/dst.img" "$T/dst.sock"
    "$XM" sync "$T/src.img" "nbd+unix:///?socket=$T/dst.sock" --block-size "$bs" \
        --progress=fd:3 3>"$T/progress" >"$T/out" 2>"$T/err" || fail "sync exited $?" "$T/err"
    read -r scanned sent blocks <<<"$(sync_summary "$T/err")"
    log "scanned $scanned sent $sent blocks $blocks (changed $n)"
    [ "$scanned" -eq "$size" ] || fail "scanned $scanned of $size bytes" "$T/err"
    [ "$sent" -gt 0 ] && [ "$sent" -lt $((size / 10)) ] || fail "sent $sent bytes for 5% changed" "$T/err"
    [ "$(progress_last "$T/progress" sent)" -eq "$sent" ] || fail "progress sent= disagrees" "$T/progress"
    stop_pid "$NBDKIT_PID"
    assert_identical "$T/src.img" "$T/dst.img" "$T/err"
    ;;
state-mismatch)
    need nbdkit
    make_mixed_image "$T/src.img" 8 15
    cp --sparse=always "$T/src.img" "$T/dst.img"
    start_nbdkit_file "$T/dst.img" "$T/dst.sock"
    "$XM" sync "$T/src.img" "nbd+unix:///?socket=$T/dst.sock" --state "$T/state" \
        >"$T/out" 2>"$T/err" || fail "first sync exited $?" "$T/err"
    rc=0
    "$XM" sync "$T/src.img" "nbd+unix:///?socket=$T/dst.sock" --state "$T/state" \
        --block-size 4096 >"$T/out" 2>"$T/err" || rc=$?
    [ "$rc" -eq 1 ] || fail "a state file of another block size was accepted (rc $rc)" "$T/err"
    grep -q "xenmig-mirror: .*state file" "$T/err" || fail "the message does not name the state file" "$T/err"
    ;;
mirror-qemu-io)
    need qemu-io nbdkit
    make_mixed_image "$T/src.img" 16 16
    truncate -s 16M "$T/dst.img"
    start_nbdkit_file "$T/dst.img" "$T/dst.sock"
    "$XM" mirror "$T/src.img" "nbd+unix:///?socket=$T/dst.sock" --unix "$T/src.sock" \
        --progress=fd:3 3>"$T/progress" >"$T/out" 2>"$T/err" &
    mpid=$!
    track "$mpid"
    wait_socket "$T/src.sock" "$mpid" || fail "mirror did not serve" "$T/err"
    for i in 1 2 3 4 5 6 7 8; do
        qemu-io -f raw "nbd+unix:///?socket=$T/src.sock" \
            -c "write -q -P $((i * 17)) $((i * 1536 * 1024)) 300k" \
            -c "write -q -z $((i * 1024 * 1024)) 64k" >>"$T/qemu-io.log" 2>&1 ||
            fail "qemu-io write $i failed" "$T/qemu-io.log" "$T/err"
    done
    kill -USR1 "$mpid"
    wait_exit "$mpid" 40
    [ "$EXIT_RC" -eq 0 ] || fail "mirror exited $EXIT_RC after SIGUSR1" "$T/err" "$T/progress"
    grep -q '^progress phase=done ' "$T/progress" || fail "no phase=done line" "$T/progress"
    stop_pid "$NBDKIT_PID"
    assert_identical "$T/src.img" "$T/dst.img" "$T/err"
    ;;
block-device)
    # a block device as the source: its size comes from the device
    need nbdkit losetup
    [ "$(id -u)" -eq 0 ] || skip "needs root for a loop device"
    make_mixed_image "$T/src.img" 16 17
    loopdev=$(losetup -f --show -r "$T/src.img" 2>"$T/losetup.err") || skip "no loop device: $(cat "$T/losetup.err")"
    trap 'rc=$?; losetup -d "$loopdev" 2>/dev/null; (exit $rc); e2e_cleanup' EXIT
    truncate -s 16M "$T/dst.img"
    start_nbdkit_file "$T/dst.img" "$T/dst.sock"
    "$XM" copy "$loopdev" "nbd+unix:///?socket=$T/dst.sock" --verify \
        >"$T/out" 2>"$T/err" || fail "copy from $loopdev exited $?" "$T/err"
    grep -q "copied $((16 * MIB)) bytes" "$T/err" || fail "the device's size was not used" "$T/err"
    stop_pid "$NBDKIT_PID"
    assert_identical "$T/src.img" "$T/dst.img" "$T/err"
    ;;
*) fail "unknown case $case" ;;
esac
log "PASS ($case)"
