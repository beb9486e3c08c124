#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A datapath mirror job to an nbds:// destination (xenmig-mirror serve
# --tls-dir), the certificate directory passed through the control
# protocol (its path has a blank, to exercise the escaping):
#   right     verified copy; the log names the destination's host, never
#             its export name
#   wrong-ca  a client directory of another CA: MIRROR fails, no job is left
set -euo pipefail
. "$(dirname "$0")/datapath-lib.sh"
require certtool cmp

pki="$tmp/pki dir"
"$TESTDIR/make-certs.sh" "$pki/good" >/dev/null
"$TESTDIR/make-certs.sh" "$pki/other" "another CA" >/dev/null

src=$tmp/src.img
truncate -s 16M "$src" "$tmp/dst.img"
dd if=/dev/urandom of="$src" bs=1M count=3 conv=notrunc status=none
export_name=secret-export-4f2a
serve_tcp "$tmp/dst.img" --export "$export_name" --tls-dir "$pki/good"
uri="nbds://127.0.0.1:$SERVER_PORT/$export_name"
spawn_datapath "xvda=$src=$tmp/a.sock"

case "${1:?case}" in
right)
    dp mirror xvda "$uri" "tls_dir=$pki/good" verify=1 >/dev/null
    wait_phase xvda dirty 20
    res=$(dp complete xvda)
    [ "$(field verified "$res")" = 1 ] || dp_fail "not verified: $res"
    cmp "$src" "$tmp/dst.img" || dp_fail "destination differs"
    grep -q "MIRROR xvda to nbds://127.0.0.1:$SERVER_PORT: started" "$DPLOG" ||
        dp_fail "MIRROR not logged with its destination"
    ! grep -q "$export_name" "$DPLOG" || dp_fail "the export name reached the log"
    ;;
wrong-ca)
    out=$(dp_err "[0-9]*" mirror xvda "$uri" "tls_dir=$pki/other" timeout=10)
    echo "$out"
    case "$out" in *[Cc]ertificate*|*TLS*|*tls*|*handshake*) ;; *) dp_fail "not a TLS error: $out" ;; esac
    dp_err 55 progress xvda >/dev/null
    dp ping >/dev/null
    ;;
*)
    fail "unknown case $1"
    ;;
esac
echo PASS
