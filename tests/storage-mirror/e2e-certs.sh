#!/bin/bash
# Makes x509 material for the TLS end-to-end tests with certtool:
#   OUT/server/        ca-cert.pem server-cert.pem server-key.pem  (localhost, 127.0.0.1)
#   OUT/client/        ca-cert.pem client-cert.pem client-key.pem
#   OUT/wrongca/       the same for a client of an unrelated CA
#   OUT/noclientcert/  ca-cert.pem only
# Usage: e2e-certs.sh OUT
set -euo pipefail
out=${1:?usage: e2e-certs.sh OUT}
mkdir -p "$out"/{ca,ca2,server,client,wrongca,noclientcert}
cd "$out"

key() { certtool --generate-privkey --key-type=ecdsa --outfile "$1" 2>/dev/null; }

ca() { # dir cn
    key "$1/ca-key.pem"
    printf 'cn = "%s"\nca\ncert_signing_key\nexpiration_days = 30\n' "$2" >"$1/ca.info"
    certtool --generate-self-signed --load-privkey "$1/ca-key.pem" \
        --template "$1/ca.info" --outfile "$1/ca-cert.pem" 2>/dev/null
}

leaf() { # cadir dir name template-lines
    local cadir=$1 dir=$2 name=$3
    key "$dir/$name-key.pem"
    printf '%s\nexpiration_days = 30\n' "$4" >"$dir/$name.info"
    certtool --generate-certificate --load-privkey "$dir/$name-key.pem" \
        --load-ca-certificate "$cadir/ca-cert.pem" --load-ca-privkey "$cadir/ca-key.pem" \
        --template "$dir/$name.info" --outfile "$dir/$name-cert.pem" 2>/dev/null
    rm -f "$dir/$name.info"
    cp "$cadir/ca-cert.pem" "$dir/ca-cert.pem"
}

ca ca "xenmig e2e test CA"
ca ca2 "unrelated CA"
leaf ca server server 'cn = "localhost"
dns_name = "localhost"
ip_address = "127.0.0.1"
tls_www_server
encryption_key
signing_key'
leaf ca client client 'cn = "xenmig e2e client"
tls_www_client
encryption_key
signing_key'
leaf ca2 wrongca client 'cn = "stranger"
tls_www_client
encryption_key
signing_key'
cp ca/ca-cert.pem noclientcert/ca-cert.pem
chmod 0600 ./*/*-key.pem
