#!/bin/bash
# Two guests migrate from host 1 to host 2 at the same time, one in the
# default mode and one peer-to-peer: each gets its own ports and job, both
# end up running on host 2 only with unbroken heartbeats.
. "$(dirname "$0")/mig-lib.sh"
mig_up
mig_guest g1 --disk-size 16M --write-rate 1 --heartbeat-ms 50
mig_guest g2 --disk-size 16M --write-rate 1 --heartbeat-ms 50

virsh1 migrate --live --copy-storage-all --bandwidth 20 g1 "$DST_URI" > "$LAB_DIR/m1.out" 2>&1 &
p1=$!
virsh1 migrate --live --p2p --copy-storage-all --bandwidth 20 g2 "$DST_URI" > "$LAB_DIR/m2.out" 2>&1 &
p2=$!
wait "$p1" || fail "g1: $(cat "$LAB_DIR/m1.out")"
wait "$p2" || fail "g2: $(cat "$LAB_DIR/m2.out")"
assert_on_dest g1
assert_on_dest g2
sleep 0.5
for g in g1 g2; do
    virsh -q -c "$U2" destroy "$g" > /dev/null
    heartbeat_ok "$(img 2 $g-xvda.img)"
done
echo ok
