#!/bin/bash
# The link between the hosts is cut while the disk is being copied (host 2's
# port on the lab bridge goes down): the migration fails within the
# library's timeouts (about 30 s) and the guest keeps running on host 1
# only, with an unbroken heartbeat. Host 2, which gets no Finish, gives up
# by itself (its receive fails: idle timeout or the source's close arriving
# once the link is back) and removes the incoming domain and the image it
# created, within a bounded time.
. "$(dirname "$0")/mig-lib.sh"
mig_up
hub="$(lab_ns_prefix)-hub"
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

ip -n "$hub" link set host2 down || fail "cut the link"
start=$SECONDS
rc=0
wait "$mig_pid" || rc=$?
echo "virsh migrate ended $((SECONDS - start)) s after the cut: $(tr '\n' ' ' < "$LAB_DIR/migrate.out")"
[ "$rc" -ne 0 ] || fail "the migration succeeded across a cut link"
[ "$(state_on "$U1" g1)" = running ] || fail "g1 is '$(state_on "$U1" g1)' on host 1"
ip -n "$hub" link set host2 up || fail "restore the link"

[ "$(state_on "$U2" g1)" != running ] || fail "g1 runs on host 2 too"
# The destination's idle timeout is the migration timeout (60 s by
# default), counted from the last record it got before the cut.
gone=
while [ $((SECONDS - start)) -lt 90 ]; do
    if ! virsh -q -c "$U2" list --all --name | grep -qx g1 &&
       [ ! -e "$(img 2 g1-xvda.img)" ]; then
        gone=1
        break
    fi
    [ "$(state_on "$U2" g1)" != running ] || fail "g1 runs on host 2 too"
    sleep 0.5
done
[ -n "$gone" ] || fail "host 2 still has g1 ('$(state_on "$U2" g1)') or its image 90 s after the cut"
echo "host 2 removed its half $((SECONDS - start)) s after the cut"
assert_on_source g1 g1-xvda.img
sleep 0.5
virsh -q -c "$U1" destroy g1 > /dev/null
out=$("$SIM_GUEST" heartbeat-check "$(img 1 g1-xvda.img)") || fail "heartbeat-check: $out"
echo "heartbeat: $out"
echo ok
