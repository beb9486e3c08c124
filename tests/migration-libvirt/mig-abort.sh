#!/bin/bash
# virsh domjobabort while the disk is being copied (16 MiB of data at
# --bandwidth 1): virsh migrate fails, the guest keeps running on host 1
# with an unbroken heartbeat, and host 2 has neither the domain nor the
# image it had created.
. "$(dirname "$0")/mig-lib.sh"
mig_up
lab guest g1 --host 1 --disk-size 64M --write-rate 1 --heartbeat-ms 50 > "$LAB_DIR/g1.xml"
# data beyond the heartbeat area, so the copy takes a while
dd if=/dev/urandom of="$(img 1 g1-xvda.img)" bs=1M seek=32 count=16 conv=notrunc status=none
virsh -q -c "$U1" define "$LAB_DIR/g1.xml" > /dev/null || fail "define g1"
virsh -q -c "$U1" start g1 > /dev/null || fail "start g1"

virsh1 migrate --live --copy-storage-all --bandwidth 1 g1 "$DST_URI" \
    > "$LAB_DIR/migrate.out" 2>&1 &
mig_pid=$!

# wait until data flows, then abort from another connection
processed=0
for _ in $(seq 100); do
    processed=$(virsh -c "$U1" domjobinfo g1 2>/dev/null |
                sed -n 's/^Data processed: *\([0-9.]*\).*/\1/p')
    [ -n "$processed" ] && [ "$processed" != 0.000 ] && break
    sleep 0.2
done
[ -n "$processed" ] && [ "$processed" != 0.000 ] || fail "domjobinfo never showed progress"
sleep 0.5
virsh -q -c "$U1" domjobabort g1 || fail "domjobabort"

rc=0
wait "$mig_pid" || rc=$?
[ "$rc" -ne 0 ] || fail "virsh migrate succeeded after domjobabort"
grep -qi "abort\|cancel" "$LAB_DIR/migrate.out" ||
    fail "the migration error does not say it was aborted: $(cat "$LAB_DIR/migrate.out")"
echo "migrate: $(tr '\n' ' ' < "$LAB_DIR/migrate.out")"

assert_on_source g1 g1-xvda.img
sleep 0.5
virsh -q -c "$U1" destroy g1 > /dev/null
out=$("$SIM_GUEST" heartbeat-check "$(img 1 g1-xvda.img)") || fail "heartbeat-check: $out"
echo "heartbeat: $out"
echo ok
