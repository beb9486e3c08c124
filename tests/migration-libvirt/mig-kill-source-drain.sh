#!/bin/bash
# The source's libvirtd is SIGKILLed in the final drain (the guest is
# suspended on host 1 while its disk's last pass and verification run) and
# restarted: the guest runs on exactly one host with an unbroken
# heartbeat. The kill lands before the completion record, so that is
# host 1, where the restarted libvirtd resumes it from its record
# ("running (migration canceled)"), its image's data untouched, and host 2
# removes the incoming domain and the image it created.
. "$(dirname "$0")/mig-lib.sh"
mig_up_direct
mig_drain_guest

mig_at_drain kill -KILL "$(libvirtd_pid 1)"
start=$SECONDS
lab restart 1 --kill > /dev/null || fail "restart host 1"
mig_wait_failed "the source daemon died"
# the restarted host 1 resumed g1 itself (its record said "suspending"),
# and says so in its state and its log
state=$(virsh -q -c "$U1" domstate --reason g1)
[ "$state" = "running (migration canceled)" ] ||
    fail "g1 on host 1 is '$state', not 'running (migration canceled)'"
grep -rqs "interrupted before the switchover" "$LAB_DIR/host1" ||
    fail "host 1's log does not say which migration was undone"
[ -z "$(ls -A "$LAB_DIR/host1/run/libxl/migrate-out" 2> /dev/null)" ] ||
    fail "host 1 kept an outgoing-migration record after the restart"
# host 2 gives up within its connection timeout (60 s) plus the reaper's second
mig_end_exactly_once 90
echo "settled $((SECONDS - start)) s after the kill"
echo ok
