#!/bin/bash
# virsh migrate --live --p2p --copy-storage-all --verbose, run inside host
# 1: host 1's libvirtd opens host 2 itself and runs Prepare and Finish there.
# The guest ends up running on host 2 only, its heartbeat has no gap and was
# written on both hosts.
. "$(dirname "$0")/mig-lib.sh"
mig_up
mig_guest g1 --disk-size 16M --write-rate 1 --heartbeat-ms 50
sleep 1

out=$(virsh1 migrate --live --p2p --copy-storage-all --verbose g1 "$DST_URI" 2>&1) ||
    fail "virsh migrate --p2p: $out"
echo "$out" | tr '\r' '\n' | grep -q "Migration: \[100 %\]" ||
    fail "virsh --verbose never showed 100 %: $out"
assert_on_dest g1
sleep 1
virsh -q -c "$U2" destroy g1 > /dev/null
heartbeat_ok "$(img 2 g1-xvda.img)"
echo ok
