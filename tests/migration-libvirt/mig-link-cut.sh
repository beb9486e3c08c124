#!/bin/bash
# The link between the hosts is cut while the disk is being copied (host 2's
# port on the lab bridge goes down): the migration fails within the
# library's timeouts (about 30 s) and the guest keeps running on host 1
# only, with an unbroken heartbeat. Host 2, which gets no Finish, gives up
# by itself (its receive fails: idle timeout or the source's close arriving
# once the link is back) and removes the incoming domain and the image it
# created, within a bounded time.
. "$(dirname "$0")/mig-lib.sh"
mig_up
hub="$(lab_ns_prefix)-hub"
mig_slow_guest

mig_start_slow

ip -n "$hub" link set host2 down || fail "cut the link"
start=$SECONDS
rc=0
wait "$mig_pid" || rc=$?
echo "virsh migrate ended $((SECONDS - start)) s after the cut: $(tr '\n' ' ' < "$LAB_DIR/migrate.out")"
[ "$rc" -ne 0 ] || fail "the migration succeeded across a cut link"
[ "$(state_on "$U1" g1)" = running ] || fail "g1 is '$(state_on "$U1" g1)' on host 1"
ip -n "$hub" link set host2 up || fail "restore the link"

[ "$(state_on "$U2" g1)" != running ] || fail "g1 runs on host 2 too"
# The destination's idle timeout is the migration timeout (60 s by
# default), counted from the last record it got before the cut.
gone=
while [ $((SECONDS - start)) -lt 90 ]; do
    if ! virsh -q -c "$U2" list --all --name | grep -qx g1 &&
       [ ! -e "$(img 2 g1-xvda.img)" ]; then
        gone=1
        break
    fi
    [ "$(state_on "$U2" g1)" != running ] || fail "g1 runs on host 2 too"
    sleep 0.5
done
[ -n "$gone" ] || fail "host 2 still has g1 ('$(state_on "$U2" g1)') or its image 90 s after the cut"
echo "host 2 removed its half $((SECONDS - start)) s after the cut"
assert_on_source g1 g1-xvda.img
sleep 0.5
virsh -q -c "$U1" destroy g1 > /dev/null
out=$("$SIM_GUEST" heartbeat-check "$(img 1 g1-xvda.img)") || fail "heartbeat-check: $out"
echo "heartbeat: $out"
echo ok
