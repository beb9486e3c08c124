#!/bin/bash
# virsh migrate --xml with a destination XML that moves the disk to another
# path: host 2 creates the image there (not at the old path) and the guest
# runs on host 2 from the new path with an unbroken heartbeat.
. "$(dirname "$0")/mig-lib.sh"
mig_up
mig_guest g1 --disk-size 16M --write-rate 1 --heartbeat-ms 50
virsh -q -c "$U1" dumpxml --migratable g1 |
    sed 's|/var/lib/xenmig-lab/images/g1-xvda.img|/var/lib/xenmig-lab/images/moved-xvda.img|' \
    > "$LAB_DIR/dest.xml"
grep -q moved-xvda "$LAB_DIR/dest.xml" || fail "could not rewrite the disk path"

out=$(virsh1 migrate --live --copy-storage-all --xml "$LAB_DIR/dest.xml" g1 "$DST_URI" 2>&1) ||
    fail "virsh migrate --xml: $out"
assert_on_dest g1
[ ! -e "$(img 2 g1-xvda.img)" ] || fail "host 2 has the image at the old path"
virsh -q -c "$U2" dumpxml g1 | grep -q moved-xvda.img || fail "host 2 does not use the new path"
sleep 0.5
virsh -q -c "$U2" destroy g1 > /dev/null
heartbeat_ok "$(img 2 moved-xvda.img)"
echo ok
