#!/bin/bash
# virsh domjobabort while the disk is being copied (16 MiB of data at
# --bandwidth 1): virsh migrate fails, the guest keeps running on host 1
# with an unbroken heartbeat, and host 2 has neither the domain nor the
# image it had created.
#   mig-abort.sh [default|p2p] [domjobabort|ctrl-c|dest-domjobabort]
# p2p: the migration runs with --p2p; ctrl-c: Ctrl-C typed into virsh
# migrate's terminal instead of domjobabort (virsh aborts the job itself);
# dest-domjobabort: domjobabort on host 2, the destination.
mode=${1:-default}
how=${2:-domjobabort}
. "$(dirname "$0")/mig-lib.sh"
mig_up
mig_slow_guest

p2p=()
[ "$mode" = p2p ] && p2p=(--p2p)
if [ "$how" = ctrl-c ]; then
    "$(dirname "$0")/pty-run.py" "$LAB_DIR/ctrl-c" "$LAB_BIN" --dir "$LAB_DIR" exec 1 -- \
        virsh migrate --live "${p2p[@]}" --copy-storage-all --bandwidth 1 g1 "$DST_URI" \
        > "$LAB_DIR/migrate.out" 2>&1 &
else
    virsh1 migrate --live "${p2p[@]}" --copy-storage-all --bandwidth 1 g1 "$DST_URI" \
        > "$LAB_DIR/migrate.out" 2>&1 &
fi
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
if [ "$how" = ctrl-c ]; then
    touch "$LAB_DIR/ctrl-c"
elif [ "$how" = dest-domjobabort ]; then
    virsh -q -c "$U2" domjobabort g1 || fail "domjobabort on host 2"
else
    virsh -q -c "$U1" domjobabort g1 || fail "domjobabort"
fi

rc=0
wait "$mig_pid" || rc=$?
[ "$rc" -ne 0 ] || fail "virsh migrate succeeded after domjobabort"
# (aborted on the destination, the source sees its peer go away)
[ "$how" = dest-domjobabort ] || grep -qi "abort\|cancel" "$LAB_DIR/migrate.out" ||
    fail "the migration error does not say it was aborted: $(cat "$LAB_DIR/migrate.out")"
echo "migrate: $(tr '\n' ' ' < "$LAB_DIR/migrate.out")"

assert_on_source g1 g1-xvda.img
sleep 0.5
virsh -q -c "$U1" destroy g1 > /dev/null
out=$("$SIM_GUEST" heartbeat-check "$(img 1 g1-xvda.img)") || fail "heartbeat-check: $out"
echo "heartbeat: $out"
echo ok
