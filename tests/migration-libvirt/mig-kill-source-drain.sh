#!/bin/bash
# The source's libvirtd is SIGKILLed in the final drain (the guest is
# suspended on host 1 while its disk's last pass and verification run) and
# restarted: the guest runs on exactly one host with an unbroken
# heartbeat. Before the completion record that is host 1, where it must be
# resumed, its image's data untouched, and host 2 removes the incoming
# domain and the image it created; after it, host 2.
. "$(dirname "$0")/mig-lib.sh"
mig_up_direct
mig_drain_guest

mig_at_drain kill -KILL "$(libvirtd_pid 1)"
start=$SECONDS
lab restart 1 --kill > /dev/null || fail "restart host 1"
mig_wait_failed "the source daemon died"
# host 2 gives up within its connection timeout (60 s) plus the reaper's second
mig_end_exactly_once 90
echo "settled $((SECONDS - start)) s after the kill"
echo ok
