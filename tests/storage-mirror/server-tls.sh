#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# STARTTLS on our NBD server with certtool-made certificates.
# Usage: server-tls.sh CASE
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require certtool nbdinfo

case_=${1:?usage: $0 CASE}
img=$tmp/disk.img
make_test_image "$img"
pki=$tmp/pki
"$TESTDIR/make-certs.sh" "$pki" >/dev/null

nbds() {   # nbds URI for the running TCP server with client certs in $1
    echo "nbds://localhost:$SERVER_PORT/?tls-certificates=$1"
}

# must_refuse LOGFILE CMD...: CMD must fail (and not hang)
must_refuse() {
    local log=$1
    shift
    if timeout 20 "$@" > "$log" 2>&1; then
        cat "$log"
        fail "'$*' was accepted"
    fi
    [ $? != 124 ] || fail "'$*' hung"
}

case $case_ in
nbdinfo-ok)
    serve_tcp "$img" --tls-dir "$pki"
    [ "$(nbdinfo --size "$(nbds "$pki")")" = 16777216 ] || fail "wrong size"
    nbdinfo "$(nbds "$pki")" | grep -q 'with TLS' || fail "not TLS"
    # by IP address: the certificate carries 127.0.0.1 too
    nbdinfo --size "nbds://127.0.0.1:$SERVER_PORT/?tls-certificates=$pki" \
        >/dev/null
    stop_server
    ;;
qemu-ok)
    require qemu-img qemu-io
    serve_tcp "$img" --tls-dir "$pki"
    obj="tls-creds-x509,id=tls0,dir=$pki,endpoint=client"
    opts="driver=nbd,server.type=inet,server.host=localhost"
    opts+=",server.port=$SERVER_PORT,tls-creds=tls0"
    qemu-img info --object "$obj" --image-opts "$opts" > "$tmp/info"
    grep -q 'virtual size: 16 MiB' "$tmp/info" || fail "$(cat "$tmp/info")"
    out=$(qemu-io --object "$obj" --image-opts "$opts" \
          -c 'write -P 0x3c 8192 65536' -c 'read -P 0x3c 8192 65536' 2>&1)
    ! grep -Eqi 'fail|error' <<<"$out" || fail "$out"
    qemu-img compare --object "$obj" --image-opts \
        "driver=raw,file.driver=file,file.filename=$img" "$opts" >/dev/null ||
        fail "image differs through TLS"
    stop_server
    ;;
copy)
    # big reads and writes through TLS records
    require nbdcopy
    dd if=/dev/urandom of="$img" bs=1M count=16 conv=notrunc status=none
    truncate -s 16M "$tmp/target.img"
    serve_tcp "$tmp/target.img" --tls-dir "$pki"
    nbdcopy --connections 2 "$img" "$(nbds "$pki")"
    nbdcopy "$(nbds "$pki")" "$tmp/back.img"
    stop_server
    cmp "$img" "$tmp/target.img"
    cmp "$img" "$tmp/back.img"
    ;;
unix)
    serve_unix "$img" "$tmp/sock" --tls-dir "$pki"
    [ "$(nbdinfo --size \
        "nbds+unix:///?socket=$tmp/sock&tls-certificates=$pki")" = 16777216 ] ||
        fail "TLS over a unix socket failed"
    stop_server
    ;;
wrong-ca)
    "$TESTDIR/make-certs.sh" "$tmp/other" "unrelated CA" >/dev/null
    serve_tcp "$img" --tls-dir "$pki"
    must_refuse "$tmp/log" nbdinfo --size "$(nbds "$tmp/other")"
    grep -qi 'certificate\|verif' "$tmp/log" || fail "$(cat "$tmp/log")"
    # the server still serves good clients
    nbdinfo --size "$(nbds "$pki")" >/dev/null
    stop_server
    ;;
client-wrong-ca)
    # a client certificate from another CA, with the right server CA
    "$TESTDIR/make-certs.sh" "$tmp/other" "unrelated CA" >/dev/null
    mkdir "$tmp/mixed"
    cp "$pki/ca-cert.pem" "$tmp/mixed/"
    cp "$tmp/other/client-cert.pem" "$tmp/other/client-key.pem" "$tmp/mixed/"
    serve_tcp "$img" --tls-dir "$pki"
    must_refuse "$tmp/log" nbdinfo --size "$(nbds "$tmp/mixed")"
    stop_server
    ;;
plaintext)
    serve_tcp "$img" --tls-dir "$pki"
    must_refuse "$tmp/log" nbdinfo --size "nbd://localhost:$SERVER_PORT/"
    grep -qi 'TLS' "$tmp/log" || fail "no TLS hint: $(cat "$tmp/log")"
    if command -v qemu-img >/dev/null; then
        must_refuse "$tmp/log" qemu-img info "nbd://localhost:$SERVER_PORT/"
    fi
    stop_server
    ;;
plaintext-options)
    # before STARTTLS every option but ABORT is refused with TLS_REQD,
    # and NBD_OPT_EXPORT_NAME (which has no error reply) hangs up
    serve_tcp "$img" --tls-dir "$pki"
    timeout 30 /usr/bin/python3 - "$SERVER_PORT" <<'PY'
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
def recv(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c: raise SystemExit("closed early")
        b += c
    return b
assert recv(18)[:8] == b"NBDMAGIC"
s.sendall(struct.pack(">I", 3))
def opt(o, d=b""):
    s.sendall(struct.pack(">QII", 0x49484156454F5054, o, len(d)) + d)
    _, ro, rep, n = struct.unpack(">QIII", recv(20)); recv(n)
    return rep
TLS_REQD = (1 << 31) + 5
for o, d in ((6, struct.pack(">IH", 0, 0)), (7, struct.pack(">IH", 0, 0)),
             (3, b""), (8, b""), (9, struct.pack(">II", 0, 0)), (77, b"")):
    rep = opt(o, d)
    assert rep == TLS_REQD, "option %d answered 0x%x" % (o, rep)
s.sendall(struct.pack(">QII", 0x49484156454F5054, 1, 0))
try:
    data = s.recv(1024)
except ConnectionResetError:
    data = b""
assert data == b"", "EXPORT_NAME in plaintext got an answer"
PY
    stop_server
    ;;
no-client-cert)
    mkdir "$tmp/anon"
    cp "$pki/ca-cert.pem" "$tmp/anon/"
    serve_tcp "$img" --tls-dir "$pki"
    must_refuse "$tmp/log" nbdinfo --size "$(nbds "$tmp/anon")"
    stop_server
    ;;
no-verify-peer)
    mkdir "$tmp/anon"
    cp "$pki/ca-cert.pem" "$tmp/anon/"
    serve_tcp "$img" --tls-dir "$pki" --tls-no-verify-peer
    [ "$(nbdinfo --size "$(nbds "$tmp/anon")")" = 16777216 ] ||
        fail "anonymous client refused without verify_peer"
    stop_server
    ;;
*)
    fail "unknown case $case_"
    ;;
esac
echo "PASS: $case_"
