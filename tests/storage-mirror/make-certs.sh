#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# make-certs.sh DIR [CA-NAME]
#
# Creates a throw-away CA and a server and a client certificate signed by it
# in DIR, in the layout libvirt, QEMU, nbdkit, libnbd and xenmig read:
#   ca-cert.pem ca-key.pem server-cert.pem server-key.pem
#   client-cert.pem client-key.pem
# The server certificate is valid for localhost, 127.0.0.1 and ::1.
# CA-NAME (default "xenmig test CA") lets a test make a second, unrelated
# CA whose certificates must be refused.
set -euo pipefail

dir=${1:?usage: make-certs.sh DIR [CA-NAME]}
ca_name=${2:-xenmig test CA}
mkdir -p "$dir"
cd "$dir"

gen_key() {
    certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 \
        --outfile "$1" 2>/dev/null
    chmod 600 "$1"
}

cat > ca.info <<EOT
cn = $ca_name
ca
cert_signing_key
expiration_days = 30
EOT
gen_key ca-key.pem
certtool --generate-self-signed --load-privkey ca-key.pem \
    --template ca.info --outfile ca-cert.pem 2>/dev/null

cat > server.info <<'EOT'
organization = xenmig tests
cn = localhost
dns_name = localhost
ip_address = 127.0.0.1
ip_address = ::1
tls_www_server
encryption_key
signing_key
expiration_days = 30
EOT
gen_key server-key.pem
certtool --generate-certificate --load-privkey server-key.pem \
    --load-ca-certificate ca-cert.pem --load-ca-privkey ca-key.pem \
    --template server.info --outfile server-cert.pem 2>/dev/null

cat > client.info <<'EOT'
organization = xenmig tests
cn = localhost
dns_name = localhost
ip_address = 127.0.0.1
tls_www_client
encryption_key
signing_key
expiration_days = 30
EOT
gen_key client-key.pem
certtool --generate-certificate --load-privkey client-key.pem \
    --load-ca-certificate ca-cert.pem --load-ca-privkey ca-key.pem \
    --template client.info --outfile client-cert.pem 2>/dev/null

rm -f ca.info server.info client.info
