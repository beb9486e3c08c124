#!/bin/bash
# The link between the hosts is cut in the final drain (the guest is
# suspended on host 1 while its disk's last pass and verification run;
# host 2's port on the lab bridge goes down): the migration fails and the
# guest runs on exactly one host with an unbroken heartbeat. Before the
# completion record that is host 1, resumed, its image's data untouched,
# and host 2 removes the incoming domain and the image it created by
# itself; after it, host 2. Host 1's migration_drain_timeout of 3 s, not
# the disk copy's 30 s stall timeout, must end the drain.
. "$(dirname "$0")/mig-lib.sh"
mig_up_direct
echo "migration_drain_timeout = 3" >> "$LAB_DIR/host1/etc/xenmig.conf"
lab restart 1 > /dev/null || fail "restart host 1"
hub="$(lab_ns_prefix)-hub"
mig_drain_guest

mig_at_drain ip -n "$hub" link set host2 down
start=$SECONDS
mig_wait_failed "the link is cut"
echo "virsh migrate ended $((SECONDS - start)) s after the cut"
grep -q "made no progress for 3 s" "$LAB_DIR/migrate.out" ||
    fail "the drain did not end by migration_drain_timeout: $(cat "$LAB_DIR/migrate.out")"
ip -n "$hub" link set host2 up || fail "restore the link"
# host 2's idle timeout is the migration timeout (60 s by default)
mig_end_exactly_once $((90 - (SECONDS - start)))
echo "settled $((SECONDS - start)) s after the cut"
echo ok
