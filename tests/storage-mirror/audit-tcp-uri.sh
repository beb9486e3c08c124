#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Plain nbd:// destinations over TCP (the other tests copy over unix
# sockets or nbds://): copy and sync to nbdkit on 127.0.0.1 and on [::1]
# with a named export, both verified, destination identical.
#   audit-tcp-uri.sh ipv4 | ipv6
. "$(dirname "$0")/e2e-lib.sh"
need nbdkit
need_tool

family=${1:?usage: audit-tcp-uri.sh ipv4|ipv6}
case $family in
    ipv4) host=127.0.0.1 bind=127.0.0.1 ;;
    ipv6) host='[::1]' bind=::1
          "$PY" -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null ||
              skip "no IPv6 loopback" ;;
    *) fail "unknown case $family" ;;
esac

make_mixed_image "$T/src.img" 16 21
truncate -s 16M "$T/dst.img"
# a free port: bind to 0, read it, release it (nbdkit cannot report one)
port=$("$PY" -c "import socket,sys; s=socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])" "$bind")
nbdkit -f --exit-with-parent -i "$bind" -p "$port" -e disk file "$T/dst.img" >"$T/nbdkit.log" 2>&1 &
NBDKIT_PID=$!
track "$NBDKIT_PID"
up() { kill -0 "$NBDKIT_PID" 2>/dev/null || return 3; nbdinfo --size "nbd://$host:$port/disk" >/dev/null 2>&1; }
wait_for up || fail "nbdkit did not listen on $host:$port" "$T/nbdkit.log"

uri="nbd://$host:$port/disk"
"$XM" copy "$T/src.img" "$uri" --verify >"$T/out" 2>"$T/err" || fail "copy to $uri exited $?" "$T/err"
grep -q '^verified: ' "$T/err" || fail "no verification report" "$T/err"
# change one block, then sync it over the same URI
head -c 65536 /dev/urandom | dd of="$T/src.img" bs=65536 seek=7 conv=notrunc status=none
"$XM" sync "$T/src.img" "$uri" --verify >"$T/out2" 2>"$T/err2" || fail "sync to $uri exited $?" "$T/err2"
grep -q '^sync: scanned .* sent 65536 bytes (1 blocks)' "$T/err2" || fail "sync did not send exactly the changed block" "$T/err2"
stop_pid "$NBDKIT_PID"
assert_identical "$T/src.img" "$T/dst.img" "$T/err2"
log "PASS ($family)"
