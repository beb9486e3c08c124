#!/bin/bash
# The link between the hosts is cut while the memory is streamed (host 2's
# port on the lab bridge goes down): the migration fails within the
# library's timeouts, the guest keeps running on host 1 only with an
# unbroken heartbeat and its image's data untouched; host 2, which gets no
# Finish, never runs the guest and removes the incoming domain and the
# image it created by itself within a bounded time.
. "$(dirname "$0")/mig-lib.sh"
mig_up
hub="$(lab_ns_prefix)-hub"
mig_memory_guest

mig_start_memory
ip -n "$hub" link set host2 down || fail "cut the link"
start=$SECONDS
mig_wait_failed "the link is cut"
echo "virsh migrate ended $((SECONDS - start)) s after the cut"
[ "$(state_on "$U1" g1)" = running ] || fail "g1 is '$(state_on "$U1" g1)' on host 1"
ip -n "$hub" link set host2 up || fail "restore the link"

# host 2's idle timeout is the migration timeout (60 s by default), counted
# from the last record it got before the cut
wait_dest_gone g1 g1-xvda.img $((90 - (SECONDS - start)))
echo "host 2 removed its half $((SECONDS - start)) s after the cut"
mig_end_on_source
echo ok
