#!/bin/bash
# The destination's libvirtd is killed while the disk is being copied: the
# migration fails, the guest keeps running on host 1 with an unbroken
# heartbeat, and the restarted libvirtd on host 2 does not know the domain
# and removes the image the killed one had created for it.
. "$(dirname "$0")/mig-lib.sh"
mig_up
lab guest g1 --host 1 --disk-size 64M --write-rate 1 --heartbeat-ms 50 > "$LAB_DIR/g1.xml"
dd if=/dev/urandom of="$(img 1 g1-xvda.img)" bs=1M seek=32 count=16 conv=notrunc status=none
virsh -q -c "$U1" define "$LAB_DIR/g1.xml" > /dev/null || fail "define g1"
virsh -q -c "$U1" start g1 > /dev/null || fail "start g1"

virsh1 migrate --live --copy-storage-all --bandwidth 1 g1 "$DST_URI" \
    > "$LAB_DIR/migrate.out" 2>&1 &
mig_pid=$!
job=
for _ in $(seq 100); do
    job=$(virsh -c "$U1" domjobinfo g1 2>&1 || true)
    grep -q "^Data processed: *[1-9]" <<< "$job" && break
    sleep 0.2
done
grep -q "^Data processed: *[1-9]" <<< "$job" || fail "no progress: $job"
[ -e "$(img 2 g1-xvda.img)" ] || fail "host 2 did not create the image"

lab restart 2 --kill > /dev/null || fail "restart host 2"
rc=0
wait "$mig_pid" || rc=$?
[ "$rc" -ne 0 ] || fail "virsh migrate succeeded although the destination daemon died"
echo "migrate: $(tr '\n' ' ' < "$LAB_DIR/migrate.out")"
[ "$(state_on "$U1" g1)" = running ] || fail "g1 is '$(state_on "$U1" g1)' on host 1"
virsh -q -c "$U2" list --all --name | grep -qx g1 && fail "host 2 knows g1 after its restart"
[ ! -e "$(img 2 g1-xvda.img)" ] || fail "host 2 kept the image of the interrupted migration"
sleep 0.5
virsh -q -c "$U1" destroy g1 > /dev/null
out=$("$SIM_GUEST" heartbeat-check "$(img 1 g1-xvda.img)") || fail "heartbeat-check: $out"
echo "heartbeat: $out"
echo ok
