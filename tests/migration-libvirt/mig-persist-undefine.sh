#!/bin/bash
# virsh migrate --live --copy-storage-all --persistent --undefinesource: the
# guest runs on host 2 with a persistent definition (it survives a destroy
# there) and host 1 has no definition left.
. "$(dirname "$0")/mig-lib.sh"
mig_up
mig_guest g1 --disk-size 16M --write-rate 1 --heartbeat-ms 50

out=$(virsh1 migrate --live --copy-storage-all --persistent --undefinesource g1 "$DST_URI" 2>&1) ||
    fail "virsh migrate: $out"
assert_on_dest g1
virsh -q -c "$U1" list --all --name | grep -qx g1 && fail "g1 still defined on host 1"
virsh -q -c "$U2" destroy g1 > /dev/null
[ "$(state_on "$U2" g1)" = "shut off" ] || fail "g1 is not kept defined on host 2"
heartbeat_ok "$(img 2 g1-xvda.img)"
echo ok
