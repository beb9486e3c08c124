#!/bin/bash
# virsh migrate --live --copy-storage-all --verbose over libvirtd's own TLS
# transport (xen+tls:// URIs, x509 certificates verified on both sides,
# client certificates given with pkipath= so nothing under /etc is used),
# run inside host 1:
# - a client certificate signed by another CA is refused by host 2's
#   libvirtd, from virsh (default mode) and from host 1's libvirtd (--p2p):
#   the migration fails, host 2's log says why, the guest stays on host 1;
# - default mode: virsh holds TLS connections to both libvirtd;
# - --p2p: host 1's libvirtd opens the destination URI itself, with host 1's
#   own client certificate (the pkipath of the destination URI);
# each time the guest ends up running on host 2 only, its heartbeat has no
# gap and virsh's progress reached 100 %.
. "$(dirname "$0")/mig-lib.sh"

PKI=$LAB_DIR/pki
tls_pki "$PKI" "xenmig lab CA"
tls_pki "$LAB_DIR/other" "another CA"
# ... and an impostor CA with the lab CA's very name but its own key.
tls_pki "$LAB_DIR/impostor" "xenmig lab CA"
# rogue_pki DIR FROM: client certificates of FROM in DIR, which trusts both
# the lab's CA (to check the server) and FROM's (libvirt checks its own
# certificate against cacert.pem before connecting).
rogue_pki() {
    mkdir -p "$1"
    cat "$PKI/cacert.pem" "$2/../cacert.pem" > "$1/cacert.pem"
    cp "$2/clientcert.pem" "$2/clientkey.pem" "$1/"
}
# an administrator with another CA's certificate: GnuTLS withholds it, as
# host 2 asks for certificates of the lab CA only
ROGUE=$LAB_DIR/rogue
rogue_pki "$ROGUE" "$LAB_DIR/other/client"
# host 1 impersonated: CN xenmig-host1 and the lab CA's name as issuer, so
# host 2 gets the certificate and must find its signature wrong
IMPOSTOR=$LAB_DIR/impostor-host1
rogue_pki "$IMPOSTOR" "$LAB_DIR/impostor/host1"

mig_up_tls "$PKI"
SRC=$(tls_uri 1 "$PKI/client")
mig_guest g1 --disk-size 16M --write-rate 1 --heartbeat-ms 50
mig_guest g2 --disk-size 16M --write-rate 1 --heartbeat-ms 50
lab exec 1 -- virsh -c "$SRC" domstate g1 > /dev/null || fail "virsh over TLS to host 1 failed"
sleep 1

# refusals: host 2's libvirtd checks the peer's certificate
refusals() { grep -c "Failed to verify peer's certificate" "$LAB_DIR/host2/log/libvirtd.log" || true; }
before=$(refusals)
if out=$(lab exec 1 -- virsh -c "$SRC" migrate --live --copy-storage-all g1 \
         "$(tls_uri 2 "$ROGUE")" 2>&1); then
    fail "a client certificate of another CA was let in: $out"
fi
echo "refused (default): $out"
grep -qi "TLS" <<< "$out" || fail "the refusal does not mention TLS: $out"
if out=$(lab exec 1 -- virsh -c "$SRC" migrate --live --p2p --copy-storage-all g1 \
         "$(tls_uri 2 "$IMPOSTOR")" 2>&1); then
    fail "host 1's libvirtd with a certificate of another CA was let in: $out"
fi
echo "refused (p2p): $out"
# the error comes from host 1's libvirtd opening the destination itself
grep -q "cannot open a connection to the destination" <<< "$out" ||
    fail "the p2p refusal does not say the destination connection failed: $out"
grep -qi "TLS" <<< "$out" || fail "the p2p refusal does not mention TLS: $out"
after=$(refusals)
grep "virNetTLSContext" "$LAB_DIR/host2/log/libvirtd.log" | sed 's/^/host 2: /'
[ "$after" -ge $((before + 2)) ] ||
    fail "host 2's libvirtd logged $((after - before)) certificate refusals, expected 2"
assert_on_source g1 g1-xvda.img

out=$(lab exec 1 -- virsh -c "$SRC" migrate --live --copy-storage-all --verbose g1 \
      "$(tls_uri 2 "$PKI/client")" 2>&1) || fail "virsh migrate over TLS: $out"
echo "$out" | tr '\r' '\n' | grep -q "Migration: \[100 %\]" ||
    fail "virsh --verbose never showed 100 %: $out"
assert_on_dest g1
[ "$(state_on "$U1" g1)" = "shut off" ] || fail "g1 is not shut off on host 1"

out=$(lab exec 1 -- virsh -c "$SRC" migrate --live --p2p --copy-storage-all --verbose g2 \
      "$(tls_uri 2 "$PKI/host1")" 2>&1) || fail "virsh migrate --p2p over TLS: $out"
echo "$out" | tr '\r' '\n' | grep -q "Migration: \[100 %\]" ||
    fail "virsh --p2p --verbose never showed 100 %: $out"
assert_on_dest g2

sleep 1
virsh -q -c "$U2" destroy g1 > /dev/null
virsh -q -c "$U2" destroy g2 > /dev/null
heartbeat_ok "$(img 2 g1-xvda.img)"
heartbeat_ok "$(img 2 g2-xvda.img)"
echo ok
