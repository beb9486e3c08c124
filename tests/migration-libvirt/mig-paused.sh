#!/bin/bash
# A paused guest migrates and stays paused on host 2 (libvirt's client asks
# for that itself); resumed there it runs, with an unbroken heartbeat.
. "$(dirname "$0")/mig-lib.sh"
mig_up
mig_guest g1 --disk-size 16M --write-rate 1 --heartbeat-ms 50
sleep 0.5
virsh -q -c "$U1" suspend g1 > /dev/null || fail "suspend g1"

out=$(virsh1 migrate --live --copy-storage-all g1 "$DST_URI" 2>&1) || fail "virsh migrate: $out"
[ "$(state_on "$U2" g1)" = paused ] || fail "g1 is '$(state_on "$U2" g1)' on host 2, not paused"
virsh -q -c "$U1" list --name | grep -qx g1 && fail "g1 still active on host 1"
virsh -q -c "$U2" resume g1 > /dev/null || fail "resume on host 2"
assert_on_dest g1
sleep 0.5
virsh -q -c "$U2" destroy g1 > /dev/null
heartbeat_ok "$(img 2 g1-xvda.img)"
echo ok
