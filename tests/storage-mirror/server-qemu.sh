#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Our NBD server against qemu-img and qemu-io. Usage: server-qemu.sh CASE
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require qemu-img qemu-io

case_=${1:?usage: $0 CASE}
img=$tmp/disk.img
sock=$tmp/nbd.sock
make_test_image "$img"
uri=$(uri_unix "$sock")

qio() {
    qemu-io -f raw "$uri" "$@"
}

# qemu-io prints "Pattern verification failed" but exits 0: check both
qio_check() {
    local out
    out=$(qio "$@" 2>&1) || fail "qemu-io $*: $out"
    if grep -Eqi 'fail|error' <<<"$out"; then
        fail "qemu-io $*: $out"
    fi
    echo "$out"
}

case $case_ in
img-info)
    serve_unix "$img" "$sock"
    size=$(qemu-img info --output=json "$uri" |
           sed -n 's/.*"virtual-size": \([0-9]*\).*/\1/p')
    [ "$size" = $((16 * 1024 * 1024)) ] || fail "qemu-img saw size '$size'"
    stop_server
    ;;
img-convert-from)
    serve_unix "$img" "$sock" --readonly
    qemu-img convert -f raw -O raw "$uri" "$tmp/copy.img"
    cmp "$img" "$tmp/copy.img"
    qemu-img compare -f raw -F raw "$img" "$uri"
    stop_server
    ;;
img-convert-to)
    truncate -s 16M "$tmp/target.img"
    serve_unix "$tmp/target.img" "$sock"
    qemu-img convert -n -f raw -O raw "$img" "$uri"
    qemu-img compare -f raw -F raw "$img" "$uri"
    stop_server
    cmp "$img" "$tmp/target.img"
    ;;
img-compare-differs)
    # qemu-img compare must see a change made behind the server's back
    serve_unix "$img" "$sock"
    cp "$img" "$tmp/orig.img"
    printf 'X' | dd of="$img" bs=1 seek=5000000 conv=notrunc status=none
    if qemu-img compare -f raw -F raw "$tmp/orig.img" "$uri" >/dev/null; then
        fail "qemu-img compare missed a difference"
    fi
    stop_server
    ;;
io-write-read)
    serve_unix "$img" "$sock"
    qio_check -c 'write -P 0xab 65536 131072' -c 'write -P 0x5c 7340032 4096'
    qio_check -c 'read -P 0xab 65536 131072' -c 'read -P 0x5c 7340032 4096'
    # a pattern that is not there must be reported
    out=$(qio -c 'read -P 0x11 65536 4096' 2>&1 || true)
    grep -q 'Pattern verification failed' <<<"$out" ||
        fail "qemu-io did not notice a wrong pattern: $out"
    stop_server
    # the bytes really are in the image
    cmp <(dd if="$img" bs=4096 skip=16 count=32 status=none) \
        <(head -c 131072 /dev/zero | tr '\0' '\253')
    ;;
io-read-verbose)
    serve_unix "$img" "$sock"
    qio_check -c 'write -P 0x42 1048576 512' >/dev/null
    out=$(qio_check -c 'read -v 1048576 16')
    grep -q '^00100000:  \(42 \)\{16\} BBBBBBBBBBBBBBBB$' <<<"$out" ||
        fail "read -v shows: $out"
    stop_server
    ;;
io-write-zeroes)
    serve_unix "$img" "$sock"
    # plain zeroing (NO_HOLE) and zeroing that may unmap
    qio_check -c 'write -z 0 65536' -c 'write -z -u 4194304 1048576'
    qio_check -c 'read -P 0 0 65536' -c 'read -P 0 4194304 1048576'
    stop_server
    cmp <(dd if="$img" bs=1M skip=4 count=1 status=none) <(head -c 1M /dev/zero)
    # the unmapped MiB became a hole: the file lost at least 1 MiB
    blocks=$(stat -c %b "$img")
    [ "$blocks" -le $(( (5 * 1024 * 1024 - 1048576) / 512 + 64 )) ] ||
        fail "write -z -u did not punch a hole ($blocks blocks)"
    ;;
io-discard)
    serve_unix "$img" "$sock"
    before=$(stat -c %b "$img")
    qio_check -c 'discard 4194304 2097152'
    stop_server
    after=$(stat -c %b "$img")
    [ $((before - after)) -ge $((2 * 1024 * 1024 / 512)) ] ||
        fail "discard freed $(( (before - after) * 512 )) bytes only"
    ;;
io-flush)
    serve_unix "$img" "$sock"
    qio_check -c 'write -P 0x77 0 4096' -c 'flush' -c 'write -f -P 0x78 4096 4096'
    qio_check -c 'read -P 0x77 0 4096' -c 'read -P 0x78 4096 4096'
    stop_server
    ;;
io-aio)
    # many requests in flight on one connection, served concurrently
    serve_unix "$img" "$sock"
    args=()
    for i in $(seq 0 15); do
        args+=(-c "aio_write -P $((0x40 + i)) $((i * 262144)) 262144")
    done
    args+=(-c "aio_write -z $((8 * 1048576)) 1048576" -c 'aio_flush')
    qio_check "${args[@]}" >/dev/null
    args=()
    for i in $(seq 0 15); do
        args+=(-c "read -P $((0x40 + i)) $((i * 262144)) 262144")
    done
    qio_check "${args[@]}" -c "read -P 0 $((8 * 1048576)) 1048576" >/dev/null
    stop_server
    ;;
*)
    fail "unknown case $case_"
    ;;
esac
echo "PASS: $case_"
