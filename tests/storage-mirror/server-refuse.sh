#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# What our NBD server must refuse, and how xenmig-mirror serve behaves.
# Usage: server-refuse.sh CASE
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require nbdinfo

case_=${1:?usage: $0 CASE}
img=$tmp/disk.img
sock=$tmp/nbd.sock
make_test_image "$img"
uri=$(uri_unix "$sock")

case $case_ in
readonly-write)
    require qemu-io
    cp "$img" "$tmp/orig.img"
    serve_unix "$img" "$sock" --readonly
    nbdinfo "$uri" | grep -q 'is_read_only: true' || fail "not read-only"
    out=$(qemu-io -f raw "$uri" -c 'write -P 0x11 0 4096' 2>&1 || true)
    grep -qi 'not permitted\|read-only\|permission denied' <<<"$out" ||
        fail "write to a read-only export: $out"
    # bypass qemu's own read-only check with a raw NBD client
    /usr/bin/python3 - "$sock" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1])
def recv(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b)); assert c; b += c
    return b
recv(18); s.sendall(struct.pack(">I", 3))
s.sendall(struct.pack(">QII", 0x49484156454F5054, 7, 6) + struct.pack(">IH", 0, 0))
while True:
    _, _, rep, n = struct.unpack(">QIII", recv(20)); recv(n)
    if rep == 1: break
for typ, payload, length in ((1, b"x" * 512, 512), (6, b"", 4096), (4, b"", 4096)):
    s.sendall(struct.pack(">IHHQQI", 0x25609513, 0, typ, 7, 0, length) + payload)
    magic, err, cookie = struct.unpack(">IIQ", recv(16))
    assert err == 1, "command %d: error %d, expected EPERM" % (typ, err)
PY
    stop_server
    cmp "$img" "$tmp/orig.img" || fail "read-only image was modified"
    ;;
unknown-export)
    serve_unix "$img" "$sock" --export diskA
    [ "$(nbdinfo --size "$(uri_unix "$sock" diskA)")" = 16777216 ]
    if nbdinfo --size "$(uri_unix "$sock" diskB)" > "$tmp/log" 2>&1; then
        fail "unknown export accepted"
    fi
    grep -qi 'unknown\|not found\|export' "$tmp/log" || fail "$(cat "$tmp/log")"
    # the default (empty) name is another name
    if nbdinfo --size "$uri" >/dev/null 2>&1; then
        fail "empty export name accepted"
    fi
    if command -v qemu-img >/dev/null &&
       qemu-img info "$(uri_unix "$sock" diskB)" >/dev/null 2>&1; then
        fail "qemu-img opened an unknown export"
    fi
    stop_server
    ;;
malformed)
    serve_unix "$img" "$sock"
    cp "$img" "$tmp/orig.img"
    timeout 60 /usr/bin/python3 "$TESTDIR/test-server-malformed.py" "$sock"
    # the server survived and still serves correct data
    kill -0 "$SERVER_PID" || fail "server died"
    nbdcopy "$uri" "$tmp/copy.img"
    cmp "$tmp/orig.img" "$tmp/copy.img"
    stop_server
    ;;
max-connections)
    serve_unix "$img" "$sock" --max-connections 2
    timeout 60 /usr/bin/python3 - "$sock" <<'PY'
import socket, struct, sys, time
def conn():
    s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1])
    return s
def hello(s):
    b = b""
    while len(b) < 18:
        c = s.recv(18 - len(b))
        if not c: return False
        b += c
    return b[:8] == b"NBDMAGIC"
a, b = conn(), conn()
assert hello(a) and hello(b)
c = conn()
assert not hello(c), "third client was served"
a.close()
for i in range(100):
    time.sleep(0.05)
    d = conn()
    if hello(d): break
else:
    raise SystemExit("no slot freed after a client left")
PY
    stop_server
    ;;
serve-signals)
    # SIGINT stops cleanly too and removes the socket
    serve_unix "$img" "$sock"
    nbdinfo --size "$uri" >/dev/null
    kill -INT "$SERVER_PID"
    rc=0; wait "$SERVER_PID" || rc=$?
    [ $rc = 0 ] || fail "SIGINT: exit status $rc"
    [ ! -e "$sock" ] || fail "socket left behind"
    # a stop with a client connected does not hang
    serve_unix "$img" "$sock"
    /usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); time.sleep(30)' \
        "$sock" &
    idle=$!
    _bg_pids+=("$idle")
    sleep 0.3
    timeout 10 bash -c "kill -TERM $SERVER_PID; while kill -0 $SERVER_PID 2>/dev/null; do sleep 0.1; done" ||
        fail "server hung on SIGTERM with a client connected"
    ;;
serve-usage)
    # expect_exit RC CMD...: usage errors exit 2, run-time errors 1
    expect_exit() {
        local want=$1 rc=0
        shift
        "$XENMIG_MIRROR" "$@" > /dev/null 2> "$tmp/err" || rc=$?
        [ "$rc" = "$want" ] || fail "'$*' exited $rc, expected $want: $(cat "$tmp/err")"
        grep -q '^xenmig-mirror: ' "$tmp/err" || fail "no message: $(cat "$tmp/err")"
    }
    expect_exit 2 serve "$img"
    grep -q -- '--listen or --unix' "$tmp/err" || fail "$(cat "$tmp/err")"
    expect_exit 2 serve "$img" --listen 127.0.0.1:0 --unix "$sock"
    expect_exit 2 serve --unix "$sock"
    expect_exit 2 serve "$img" --listen nonsense
    grep -q 'HOST:PORT' "$tmp/err" || fail "$(cat "$tmp/err")"
    expect_exit 2 serve "$img" --listen 127.0.0.1:99999
    expect_exit 2 serve "$img" --unix "$sock" --bogus
    expect_exit 2 frobnicate
    expect_exit 1 serve "$tmp/missing.img" --unix "$sock"
    grep -q 'missing.img' "$tmp/err" || fail "$(cat "$tmp/err")"
    expect_exit 1 serve "$img" --unix "$sock" --tls-dir "$tmp/nowhere"
    grep -q 'ca-cert.pem' "$tmp/err" || fail "$(cat "$tmp/err")"
    expect_exit 1 serve "$img" --unix "$tmp/no/such/dir/sock"
    # a socket another server still listens on is not taken over
    serve_unix "$img" "$sock"
    expect_exit 1 serve "$img" --unix "$sock"
    grep -q 'Another server' "$tmp/err" || fail "$(cat "$tmp/err")"
    nbdinfo --size "$uri" >/dev/null || fail "first server lost its socket"
    stop_server
    # but a stale one (its server gone) is replaced
    /usr/bin/python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$sock"
    [ -S "$sock" ] || fail "no stale socket made"
    serve_unix "$img" "$sock"
    # (the stale file satisfied serve_unix's wait already)
    wait_for nbdinfo --size "$uri" >/dev/null 2>&1 ||
        fail "stale socket not replaced"
    stop_server
    "$XENMIG_MIRROR" --help | grep -q '^  serve' || fail "help lists no serve"
    "$XENMIG_MIRROR" serve --help | grep -q -- '--tls-dir' || fail "serve --help"
    ;;
*)
    fail "unknown case $case_"
    ;;
esac
echo "PASS: $case_"
