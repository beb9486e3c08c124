#!/bin/bash
# While a migration runs at --bandwidth 1: migrate-getspeed reports 1,
# domjobinfo answers on both hosts, migrate-setmaxdowntime /
# migrate-getmaxdowntime round-trip, and migrate-setspeed raising the limit
# lets the migration finish at once. Afterwards domjobinfo --completed shows
# the finished outgoing migration on host 1.
. "$(dirname "$0")/mig-lib.sh"
mig_up
mig_slow_guest

mig_start_slow

speed=$(virsh -q -c "$U1" migrate-getspeed g1)
[ "$speed" = 1 ] || fail "migrate-getspeed says '$speed', not 1"
virsh -c "$U2" domjobinfo g1 > "$LAB_DIR/dst-job" || fail "domjobinfo on host 2"
grep -q "^Job type: *Unbounded" "$LAB_DIR/dst-job" ||
    fail "host 2 shows no migration job: $(cat "$LAB_DIR/dst-job")"
virsh -q -c "$U1" migrate-setmaxdowntime g1 500 || fail "migrate-setmaxdowntime"
dt=$(virsh -q -c "$U1" migrate-getmaxdowntime g1)
[ "$dt" = 500 ] || fail "migrate-getmaxdowntime says '$dt', not 500"

virsh -q -c "$U1" migrate-setspeed g1 1000 || fail "migrate-setspeed"
start=$SECONDS
wait "$mig_pid" || fail "virsh migrate: $(cat "$LAB_DIR/migrate.out")"
echo "finished $((SECONDS - start)) s after raising the speed"
[ $((SECONDS - start)) -lt 12 ] || fail "raising the speed did not speed the migration up"
assert_on_dest g1

virsh -c "$U1" domjobinfo --completed g1 > "$LAB_DIR/done" || fail "domjobinfo --completed"
grep -q "^Job type: *Completed" "$LAB_DIR/done" && grep -q "Outgoing migration" "$LAB_DIR/done" ||
    fail "completed job info: $(cat "$LAB_DIR/done")"
echo ok
