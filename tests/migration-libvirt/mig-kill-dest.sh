#!/bin/bash
# The destination's libvirtd is killed while the disk is being copied: the
# migration fails, the guest keeps running on host 1 with an unbroken
# heartbeat, and the restarted libvirtd on host 2 does not know the domain
# and removes the image the killed one had created for it.
. "$(dirname "$0")/mig-lib.sh"
mig_up
mig_slow_guest

mig_start_slow
[ -e "$(img 2 g1-xvda.img)" ] || fail "host 2 did not create the image"

lab restart 2 --kill > /dev/null || fail "restart host 2"
rc=0
wait "$mig_pid" || rc=$?
[ "$rc" -ne 0 ] || fail "virsh migrate succeeded although the destination daemon died"
echo "migrate: $(tr '\n' ' ' < "$LAB_DIR/migrate.out")"
[ "$(state_on "$U1" g1)" = running ] || fail "g1 is '$(state_on "$U1" g1)' on host 1"
virsh -q -c "$U2" list --all --name | grep -qx g1 && fail "host 2 knows g1 after its restart"
[ ! -e "$(img 2 g1-xvda.img)" ] || fail "host 2 kept the image of the interrupted migration"
sleep 0.5
virsh -q -c "$U1" destroy g1 > /dev/null
out=$("$SIM_GUEST" heartbeat-check "$(img 1 g1-xvda.img)") || fail "heartbeat-check: $out"
echo "heartbeat: $out"
echo ok
