#!/bin/bash
# virsh migrate --live --copy-storage-all --suspend with a guest writing to
# both of its disks: the destination guest stays paused, and each disk on
# host 2 equals host 1's, which nobody writes after the switchover (the
# source guest is gone).
. "$(dirname "$0")/mig-lib.sh"
mig_up
mig_guest g1 --disks 2 --disk-size 16M --write-rate 2 --heartbeat-ms 50
sleep 1

out=$(virsh1 migrate --live --copy-storage-all --suspend g1 "$DST_URI" 2>&1) ||
    fail "virsh migrate --suspend: $out"
[ "$(state_on "$U2" g1)" = paused ] || fail "g1 is '$(state_on "$U2" g1)' on host 2, not paused"
virsh -q -c "$U1" list --name | grep -qx g1 && fail "g1 still active on host 1"
for d in xvda xvdb; do
    cmp "$(img 1 g1-$d.img)" "$(img 2 g1-$d.img)" ||
        fail "disk $d differs between host 1 (switchover) and host 2"
done
# and it runs when resumed
virsh -q -c "$U2" resume g1 > /dev/null || fail "resume on host 2"
[ "$(state_on "$U2" g1)" = running ] || fail "g1 does not run on host 2 after resume"
echo ok
