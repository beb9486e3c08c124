#!/bin/bash
# mig-make-certs.sh DIR CA-NAME HOST-INDEX...
#
# A throw-away CA in DIR/ca and, for each lab host i, DIR/host<i> in the
# layout of migrate_tls_x509_cert_dir: ca-cert.pem, server-cert.pem,
# server-key.pem, client-cert.pem, client-key.pem, valid for the host's
# name xenmig-host<i> and address 10.77.0.<i>.
set -euo pipefail
dir=${1:?usage: mig-make-certs.sh DIR CA-NAME HOST...}
ca_name=${2:?}
shift 2
mkdir -p "$dir/ca"
cd "$dir"

gen_key() {
    certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile "$1" 2>/dev/null
    chmod 600 "$1"
}
printf 'cn = %s\nca\ncert_signing_key\nexpiration_days = 30\n' "$ca_name" > ca/ca.info
gen_key ca/ca-key.pem
certtool --generate-self-signed --load-privkey ca/ca-key.pem --template ca/ca.info \
    --outfile ca/ca-cert.pem 2>/dev/null

for i in "$@"; do
    h="host$i"
    mkdir -p "$h"
    cp ca/ca-cert.pem "$h/"
    for role in server client; do
        printf 'organization = xenmig tests\ncn = xenmig-host%s\ndns_name = xenmig-host%s\nip_address = 10.77.0.%s\ntls_www_%s\nencryption_key\nsigning_key\nexpiration_days = 30\n' \
            "$i" "$i" "$i" "$role" > "$h/$role.info"
        gen_key "$h/$role-key.pem"
        certtool --generate-certificate --load-privkey "$h/$role-key.pem" \
            --load-ca-certificate ca/ca-cert.pem --load-ca-privkey ca/ca-key.pem \
            --template "$h/$role.info" --outfile "$h/$role-cert.pem" 2>/dev/null
    done
done
