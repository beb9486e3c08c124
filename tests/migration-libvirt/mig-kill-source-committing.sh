#!/bin/bash
# The source's libvirtd is SIGKILLed in the final drain, and its record of
# the outgoing migration is then made to say "committing", as if it had
# died between recording that and sending the completion record (which
# host 2 never got). After the restart the source must not resume g1 on
# its own (the destination might run it): g1 stays paused "migrating" on
# host 1 while host 2 gives it up; `virsh resume` then runs it on host 1,
# which undoes the migration's suspension, with an unbroken heartbeat.
. "$(dirname "$0")/mig-lib.sh"
mig_up_direct
mig_drain_guest
uuid=$(virsh -q -c "$U1" domuuid g1)
record="$LAB_DIR/host1/run/libxl/migrate-out/$uuid"

mig_at_drain kill -KILL "$(libvirtd_pid 1)"
[ -f "$record" ] || fail "no record of the outgoing migration at $record"
[ "$(cat "$record")" = suspending ] || fail "record says '$(cat "$record")', not suspending"
echo committing > "$record"
lab restart 1 --kill > /dev/null || fail "restart host 1"
mig_wait_failed "the source daemon died"
[ ! -e "$record" ] || fail "the record is still there after the restart"
state=$(virsh -q -c "$U1" domstate --reason g1)
[ "$state" = "paused (migrating)" ] || fail "g1 on host 1 is '$state', not 'paused (migrating)'"
grep -q "check whether the destination runs it" "$LAB_DIR/host1/log/libvirtd.log" 2> /dev/null ||
    grep -rqs "check whether the destination runs it" "$LAB_DIR/host1" ||
    fail "host 1's log does not say to check the destination"
# host 2 gives up within its connection timeout (60 s) plus the reaper's second
wait_dest_gone g1 g1-xvda.img 90
[ "$(state_on "$U1" g1)" = paused ] || fail "g1 on host 1 was resumed without being asked"
virsh -q -c "$U1" resume g1 > /dev/null || fail "virsh resume of the suspended g1"
[ "$(state_on "$U1" g1)" = running ] || fail "g1 does not run after virsh resume"
mig_end_on_source
echo ok
