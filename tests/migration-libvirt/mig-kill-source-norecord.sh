#!/bin/bash
# The source's libvirtd is SIGKILLed in the final drain and its record of
# the outgoing migration is lost (a libvirtd without records, a wiped
# state directory). The restarted host 1 must not guess: g1 stays
# suspended ("paused (unknown)") while host 2 gives it up. `virsh resume`
# then runs it on host 1 although the sim refuses to unpause a suspended
# guest: the driver falls back to the backend's resume. Heartbeat
# unbroken, image untouched.
. "$(dirname "$0")/mig-lib.sh"
mig_up_direct
mig_drain_guest
uuid=$(virsh -q -c "$U1" domuuid g1)
record="$LAB_DIR/host1/run/libxl/migrate-out/$uuid"

mig_at_drain kill -KILL "$(libvirtd_pid 1)"
[ -f "$record" ] || fail "no record of the outgoing migration at $record"
rm -f "$record"
lab restart 1 --kill > /dev/null || fail "restart host 1"
mig_wait_failed "the source daemon died"
state=$(virsh -q -c "$U1" domstate --reason g1)
[ "$state" = "paused (unknown)" ] || fail "g1 on host 1 is '$state', not 'paused (unknown)'"
# host 2 gives up within its connection timeout (60 s) plus the reaper's second
wait_dest_gone g1 g1-xvda.img 90
[ "$(state_on "$U1" g1)" = paused ] || fail "g1 on host 1 was resumed without being asked"
virsh -q -c "$U1" resume g1 > /dev/null || fail "virsh resume of the suspended g1"
state=$(virsh -q -c "$U1" domstate --reason g1)
[ "$state" = "running (unpaused)" ] || fail "g1 is '$state' after virsh resume, not 'running (unpaused)'"
mig_end_on_source
echo ok
