#!/bin/bash
# virsh migrate --live --copy-storage-all --tls between two hosts whose
# certificates come from one CA (migrate_tls_x509_cert_dir in each host's
# configuration): the guest moves with an unbroken heartbeat. Then a host
# whose certificates come from another CA is refused and the guest keeps
# running where it was.
. "$(dirname "$0")/mig-lib.sh"
mig_up
here=$(cd "$(dirname "$0")" && pwd)
"$here/mig-make-certs.sh" "$LAB_DIR/pki" "xenmig lab CA" 1 2
"$here/mig-make-certs.sh" "$LAB_DIR/pki-other" "another CA" 2
for i in 1 2; do
    echo "migrate_tls_x509_cert_dir = \"$LAB_DIR/pki/host$i\"" >> "$LAB_DIR/host$i/etc/xenmig.conf"
    lab restart "$i" > /dev/null
done
mig_guest g1 --disk-size 16M --write-rate 1 --heartbeat-ms 50

out=$(virsh1 migrate --live --copy-storage-all --tls --verbose g1 "$DST_URI" 2>&1) ||
    fail "virsh migrate --tls: $out"
assert_on_dest g1

# back to host 1 ... from host 2, whose certificates now come from another CA
sed -i "s|$LAB_DIR/pki/host2|$LAB_DIR/pki-other/host2|" "$LAB_DIR/host2/etc/xenmig.conf"
lab restart 2 > /dev/null
if out=$(lab exec 2 -- virsh migrate --live --copy-storage-all --tls g1 \
         xen+tcp://xenmig-host1/system 2>&1); then
    fail "migration with a certificate of another CA succeeded"
fi
echo "refused: $out"
[ "$(state_on "$U2" g1)" = running ] || fail "g1 does not run on host 2 after the refused migration"
[ "$(state_on "$U1" g1)" != running ] || fail "g1 runs on host 1 too"
sleep 0.5
virsh -q -c "$U2" destroy g1 > /dev/null
heartbeat_ok "$(img 2 g1-xvda.img)"
echo ok
