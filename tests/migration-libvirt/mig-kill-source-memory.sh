#!/bin/bash
# The source's libvirtd is SIGKILLed while the memory is streamed (the
# disks are copied, the guest still runs on host 1): the guest keeps
# running on host 1 only (the restarted libvirtd finds it), its heartbeat
# has no gap, the data of its image is untouched, and host 2, whose Finish
# never comes, removes the incoming domain and the image it created.
. "$(dirname "$0")/mig-lib.sh"
mig_up
mig_memory_guest

mig_start_memory
[ -e "$(img 2 g1-xvda.img)" ] || fail "host 2 did not create the image"
start=$SECONDS
lab restart 1 --kill > /dev/null || fail "restart host 1"
mig_wait_failed "the source daemon died"

# host 2 gives up within its connection timeout (60 s) plus the reaper's second
wait_dest_gone g1 g1-xvda.img 90
echo "host 2 removed its half $((SECONDS - start)) s after the kill"
mig_end_on_source
echo ok
