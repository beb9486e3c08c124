#!/bin/bash
# virsh migrate --live without a storage-copy flag, for a guest whose disk
# is on storage both hosts reach: only the memory moves, host 2 creates no
# image, and the guest runs on host 2 on the same disk with an unbroken
# heartbeat.
. "$(dirname "$0")/mig-lib.sh"
mig_up
mkdir -p "$LAB_DIR/shared"
lab guest g1 --host 1 --disk-size 16M --write-rate 1 --heartbeat-ms 50 > "$LAB_DIR/g1.xml"
mv "$(img 1 g1-xvda.img)" "$LAB_DIR/shared/g1-xvda.img"
sed -i "s|/var/lib/xenmig-lab/images/g1-xvda.img|$LAB_DIR/shared/g1-xvda.img|" "$LAB_DIR/g1.xml"
virsh -q -c "$U1" define "$LAB_DIR/g1.xml" > /dev/null || fail "define g1"
virsh -q -c "$U1" start g1 > /dev/null || fail "start g1"
sleep 0.5

out=$(virsh1 migrate --live --verbose g1 "$DST_URI" 2>&1) || fail "virsh migrate --live: $out"
assert_on_dest g1
[ ! -e "$(img 2 g1-xvda.img)" ] || fail "host 2 created an image"
sleep 0.5
virsh -q -c "$U2" destroy g1 > /dev/null
heartbeat_ok "$LAB_DIR/shared/g1-xvda.img"
echo ok
