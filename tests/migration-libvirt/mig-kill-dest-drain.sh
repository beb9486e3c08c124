#!/bin/bash
# The destination's libvirtd is SIGKILLed in the final drain (the guest is
# suspended on host 1 while its disk's last pass and verification run) and
# restarted: the guest runs on exactly one host with an unbroken
# heartbeat. Before the completion record that is host 1, resumed, its
# image's data untouched, and host 2 holds neither the domain nor the
# image it created; after it, host 2.
. "$(dirname "$0")/mig-lib.sh"
mig_up_direct
mig_drain_guest

mig_at_drain kill -KILL "$(libvirtd_pid 2)"
start=$SECONDS
mig_wait_failed "the destination daemon died"
lab restart 2 --kill > /dev/null || fail "restart host 2"
mig_end_exactly_once 60
echo "settled $((SECONDS - start)) s after the kill"
echo ok
