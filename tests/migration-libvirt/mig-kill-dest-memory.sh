#!/bin/bash
# The destination's libvirtd is SIGKILLed while the memory is streamed
# (host 2 is restoring the paused incoming guest): the migration fails, the
# guest keeps running on host 1 only with an unbroken heartbeat and its
# image's data untouched, and the restarted libvirtd on host 2 neither
# knows nor runs the domain and removes the image the killed one created.
. "$(dirname "$0")/mig-lib.sh"
mig_up
mig_memory_guest

mig_start_memory
[ -e "$(img 2 g1-xvda.img)" ] || fail "host 2 did not create the image"
lab restart 2 --kill > /dev/null || fail "restart host 2"
mig_wait_failed "the destination daemon died"
wait_dest_gone g1 g1-xvda.img 10
# the killed daemon's restoring guest process must not survive it
# (its state, and so its command line, lies under host 2's directory)
if stray=$(pgrep -af xenmig-sim-guest | grep -F "$LAB_DIR/host2/"); then
    fail "host 2's restoring sim guest outlived its libvirtd: $stray"
fi
mig_end_on_source
echo ok
