#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Our NBD server against libnbd's nbdinfo and nbdcopy.
# Usage: server-nbdtools.sh CASE
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require nbdinfo nbdcopy

case_=${1:?usage: $0 CASE}
img=$tmp/disk.img
sock=$tmp/nbd.sock
make_test_image "$img"
uri=$(uri_unix "$sock")
M=1048576

# expect_map URI "OFFSET LENGTH TYPE" ... : nbdinfo --map must list exactly
# these extents
expect_map() {
    local u=$1 got want
    shift
    got=$(nbdinfo --map "$u" | awk '{print $1, $2, $3}')
    want=$(printf '%s\n' "$@")
    if [ "$got" != "$want" ]; then
        echo "expected map:"; echo "$want"
        echo "got:"; nbdinfo --map "$u"
        fail "wrong allocation map"
    fi
}

# count_connections LOG: connections the server accepted
count_connections() {
    grep -c 'accepted' "$1" || true
}

case $case_ in
info-size)
    serve_unix "$img" "$sock"
    [ "$(nbdinfo --size "$uri")" = $((16 * M)) ] || fail "wrong size"
    nbdinfo "$uri" > "$tmp/info"
    grep -q 'can_multi_conn: true' "$tmp/info" || fail "no multi-conn"
    grep -q 'can_zero: true' "$tmp/info" || fail "no write zeroes"
    grep -q 'can_trim: true' "$tmp/info" || fail "no trim"
    grep -q 'can_fua: true' "$tmp/info" || fail "no FUA"
    grep -q 'base:allocation' "$tmp/info" || fail "no base:allocation"
    grep -q 'using structured packets' "$tmp/info" || fail "no structured replies"
    stop_server
    ;;
map)
    serve_unix "$img" "$sock"
    # written zeroes are allocated: the file system reports them as data
    expect_map "$uri" \
        "0 $M 0" "$M $M 3" "$((2 * M)) $M 0" "$((3 * M)) $M 3" \
        "$((4 * M)) $((2 * M)) 0" "$((6 * M)) $((6 * M)) 3" \
        "$((12 * M)) $M 0" "$((13 * M)) $((3 * M)) 3"
    stop_server
    ;;
map-after-zero)
    require qemu-io
    serve_unix "$img" "$sock"
    # WRITE_ZEROES that may punch turns the zero run into a hole, and
    # TRIM does the same for data
    qemu-io -f raw "$uri" -c "write -z -u $((2 * M)) $M" \
        -c "discard $((12 * M)) $M" >/dev/null
    expect_map "$uri" \
        "0 $M 0" "$M $((3 * M)) 3" "$((4 * M)) $((2 * M)) 0" \
        "$((6 * M)) $((10 * M)) 3"
    stop_server
    ;;
list)
    serve_unix "$img" "$sock" --export diskA
    nbdinfo --list "$(uri_unix "$sock" diskA)" > "$tmp/list"
    grep -q '^export="diskA":' "$tmp/list" || {
        cat "$tmp/list"; fail "--list does not show the export"; }
    [ "$(grep -c '^export=' "$tmp/list")" = 1 ] || fail "more than one export"
    stop_server
    ;;
copy-from)
    G_MESSAGES_DEBUG=xenmig-nbd serve_unix "$img" "$sock" --readonly \
        > "$tmp/server.log" 2>&1
    nbdcopy --connections 4 --threads 4 "$uri" "$tmp/copy.img"
    stop_server
    cmp "$img" "$tmp/copy.img"
    n=$(count_connections "$tmp/server.log")
    [ "$n" -ge 4 ] || fail "nbdcopy used $n connections, expected >= 4"
    # holes stay holes: the copy is no bigger than 5 MiB of data + slack
    [ "$(stat -c %b "$tmp/copy.img")" -le $(( (5 * M + M) / 512 )) ] ||
        fail "copy is not sparse"
    ;;
copy-to)
    truncate -s 16M "$tmp/target.img"
    G_MESSAGES_DEBUG=xenmig-nbd serve_unix "$tmp/target.img" "$sock" \
        > "$tmp/server.log" 2>&1
    nbdcopy --connections 4 --threads 4 "$img" "$uri"
    stop_server
    cmp "$img" "$tmp/target.img"
    n=$(count_connections "$tmp/server.log")
    [ "$n" -ge 4 ] || fail "nbdcopy used $n connections, expected >= 4"
    ;;
copy-tcp)
    # the same over TCP, random data across the whole image
    dd if=/dev/urandom of="$img" bs=1M count=16 conv=notrunc status=none
    truncate -s 16M "$tmp/target.img"
    serve_tcp "$tmp/target.img"
    nbdcopy --connections 4 --threads 4 "$img" "nbd://127.0.0.1:$SERVER_PORT/"
    nbdcopy --connections 4 --threads 4 "nbd://127.0.0.1:$SERVER_PORT/" "$tmp/back.img"
    stop_server
    cmp "$img" "$tmp/target.img"
    cmp "$img" "$tmp/back.img"
    ;;
blockdev)
    # a block device (a loop device over the test image)
    [ "$(id -u)" = 0 ] || skip "needs root for a loop device"
    require losetup qemu-io
    dev=$(losetup -f --show "$img" 2>/dev/null) || skip "no loop device"
    on_exit "losetup -d '$dev'"
    serve_unix "$dev" "$sock"
    [ "$(nbdinfo --size "$uri")" = $((16 * M)) ] || fail "wrong size"
    out=$(qemu-io -f raw "$uri" -c "write -P 0x61 $((3 * M)) 65536" \
          -c "write -z $((5 * M)) $M" -c "write -z -u $((6 * M)) $M" \
          -c "discard $((8 * M)) 65536" -c flush \
          -c "read -P 0x61 $((3 * M)) 65536" -c "read -P 0 $((5 * M)) $((2 * M))" \
          -c "write -z -u $((3 * M + 1000)) 3000" -c "read -P 0 $((3 * M + 1000)) 3000" \
          -c "read -P 0x61 $((3 * M)) 1000" -c "read -P 0x61 $((3 * M + 4000)) 1000" \
          -c "write -z -u $((9 * M)) $M" -c "read -P 0 $((9 * M)) $M" 2>&1)
    ! grep -Eqi 'fail|error' <<<"$out" || fail "$out"
    nbdcopy --connections 4 --threads 4 "$uri" "$tmp/copy.img"
    stop_server
    cmp "$dev" "$tmp/copy.img"
    ;;
*)
    fail "unknown case $case_"
    ;;
esac
echo "PASS: $case_"
