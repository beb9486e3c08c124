#!/bin/bash
# virsh migrate --live --copy-storage-all --verbose in the default
# (client-driven) mode, run inside host 1: the guest ends up running on
# host 2 only, its heartbeat has no gap and was written on both hosts, and
# virsh's progress reached 100 %.
. "$(dirname "$0")/mig-lib.sh"
mig_up
mig_guest g1 --disk-size 16M --write-rate 1 --heartbeat-ms 50
sleep 1

out=$(virsh1 migrate --live --copy-storage-all --verbose g1 "$DST_URI" 2>&1) ||
    fail "virsh migrate: $out"
echo "$out" | tr '\r' '\n' | grep -q "Migration: \[100 %\]" ||
    fail "virsh --verbose never showed 100 %: $out"
assert_on_dest g1
# the definition stays on host 1 (no --undefinesource), shut off as migrated
[ "$(state_on "$U1" g1)" = "shut off" ] || fail "g1 is not shut off on host 1"
sleep 1
virsh -q -c "$U2" destroy g1 > /dev/null
heartbeat_ok "$(img 2 g1-xvda.img)"
echo ok
