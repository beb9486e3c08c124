#!/bin/bash
# virsh migrate --copy-storage-inc copies onto an image that already exists
# on host 2 (as management software pre-creates it) and keeps that image on
# failure; without the image the migration is refused and the guest stays.
. "$(dirname "$0")/mig-lib.sh"
mig_up
mig_guest g1 --disk-size 16M --write-rate 1 --heartbeat-ms 50

# no image on host 2: refused before anything is copied
if out=$(virsh1 migrate --live --copy-storage-inc g1 "$DST_URI" 2>&1); then
    fail "copy-storage-inc without a destination image succeeded"
fi
echo "refused: $out"
assert_on_source g1 g1-xvda.img

truncate -s 16M "$(img 2 g1-xvda.img)"
ino=$(stat -c %i "$(img 2 g1-xvda.img)")
out=$(virsh1 migrate --live --copy-storage-inc --verbose g1 "$DST_URI" 2>&1) ||
    fail "virsh migrate --copy-storage-inc: $out"
assert_on_dest g1
[ "$(stat -c %i "$(img 2 g1-xvda.img)")" = "$ino" ] || fail "the pre-created image was replaced"
sleep 0.5
virsh -q -c "$U2" destroy g1 > /dev/null
heartbeat_ok "$(img 2 g1-xvda.img)"
echo ok
