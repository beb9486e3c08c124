#!/bin/bash
# virsh migrate --copy-storage-all --migrate-disks xvda with a guest whose
# second disk lives on storage both hosts reach: only xvda is copied (host 2
# gets no image of xvdb), the guest runs on host 2 on the copied xvda and
# the shared xvdb, with an unbroken heartbeat.
. "$(dirname "$0")/mig-lib.sh"
mig_up
mkdir -p "$LAB_DIR/shared"
lab guest g1 --host 1 --disks 2 --disk-size 16M --write-rate 1 --heartbeat-ms 50 > "$LAB_DIR/g1.xml"
mv "$(img 1 g1-xvdb.img)" "$LAB_DIR/shared/g1-xvdb.img"
sed -i "s|/var/lib/xenmig-lab/images/g1-xvdb.img|$LAB_DIR/shared/g1-xvdb.img|" "$LAB_DIR/g1.xml"
virsh -q -c "$U1" define "$LAB_DIR/g1.xml" > /dev/null || fail "define g1"
virsh -q -c "$U1" start g1 > /dev/null || fail "start g1"

out=$(virsh1 migrate --live --copy-storage-all --migrate-disks xvda g1 "$DST_URI" 2>&1) ||
    fail "virsh migrate --migrate-disks xvda: $out"
assert_on_dest g1
[ -e "$(img 2 g1-xvda.img)" ] || fail "xvda was not copied to host 2"
[ ! -e "$(img 2 g1-xvdb.img)" ] || fail "host 2 has an image of xvdb"
virsh -q -c "$U2" dumpxml g1 | grep -q "$LAB_DIR/shared/g1-xvdb.img" ||
    fail "host 2 does not use the shared xvdb"
sleep 0.5
virsh -q -c "$U2" destroy g1 > /dev/null
heartbeat_ok "$(img 2 g1-xvda.img)"
echo ok
