#!/bin/bash
# The source's libvirtd is killed while the disk is being copied: the guest
# keeps running on host 1 (and is found again by the restarted libvirtd),
# and host 2, whose Finish never comes, removes the incoming domain and the
# image it created by itself.
. "$(dirname "$0")/mig-lib.sh"
mig_up
mig_slow_guest

mig_start_slow
[ -e "$(img 2 g1-xvda.img)" ] || fail "host 2 did not create the image"

lab restart 1 --kill > /dev/null || fail "restart host 1"
wait "$mig_pid" && fail "virsh migrate succeeded although the source daemon died"

# host 2 gives up within its connection timeout (60 s) plus the reaper's second
gone=
for _ in $(seq 90); do
    if ! virsh -q -c "$U2" list --all --name | grep -qx g1 && [ ! -e "$(img 2 g1-xvda.img)" ]; then
        gone=1
        break
    fi
    sleep 1
done
[ -n "$gone" ] || fail "host 2 kept the incoming domain or its image: $(virsh -c "$U2" list --all)"
[ "$(state_on "$U1" g1)" = running ] || fail "g1 is '$(state_on "$U1" g1)' on host 1 after the restart"
echo ok
