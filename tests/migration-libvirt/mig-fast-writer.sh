#!/bin/bash
# A guest that writes to its disk faster than --bandwidth still migrates:
# its disk is served by the domain's datapath, whose tracked mirror goes
# synchronous when dirty passes stop shrinking (the guest's writes then
# complete at the destination's pace). The run uses --suspend so that the
# destination's disk can be compared with the source's as it was at the
# switchover; the completed job statistics must say the disk was tracked
# and went synchronous. A second migration back with
# --copy-storage-synchronous-writes asks for synchronous mode at once.
. "$(dirname "$0")/mig-lib.sh"
mig_up
# 8 MiB/s of writes over a 32 MiB disk against a 2 MiB/s limit: copy-dirty
# passes alone never catch up
mig_guest g1 --disk-size 32M --write-rate 8 --heartbeat-ms 50 --memory 8 --dirty-rate 0
sleep 1

/usr/bin/python3 - "$U1" "$DST_URI" <<'PY' || fail "fast writer migration"
import sys
import libvirt

src_uri, dst_uri = sys.argv[1], sys.argv[2]
conn = libvirt.open(src_uri)
dom = conn.lookupByName("g1")
flags = (libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PEER2PEER |
         libvirt.VIR_MIGRATE_NON_SHARED_DISK | libvirt.VIR_MIGRATE_PAUSED)
dom.migrateToURI3(dst_uri, {libvirt.VIR_MIGRATE_PARAM_BANDWIDTH: 2}, flags)
st = dom.jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED)
print("completed:", {k: v for k, v in st.items() if "disk" in k or "downtime" in k})
if st.get("xenmig.disks_tracked") != 1:
    sys.exit("the disk was not copied by the tracked datapath: %s" % st)
if st.get("xenmig.disks_synchronous") != 1:
    sys.exit("the mirror never went synchronous: %s" % st)
if st.get("xenmig.disk_sent", 0) < 32 << 20:
    sys.exit("less than the disk's writes were sent: %s" % st)
PY

[ "$(state_on "$U2" g1)" = paused ] || fail "g1 is '$(state_on "$U2" g1)' on host 2, not paused"
virsh -q -c "$U1" list --name | grep -qx g1 && fail "g1 still active on host 1"
cmp "$(img 1 g1-xvda.img)" "$(img 2 g1-xvda.img)" ||
    fail "host 2's disk differs from host 1's at the switchover"
virsh -q -c "$U2" resume g1 > /dev/null || fail "resume on host 2"
sleep 1

# back to host 1, synchronous from the end of the bulk copy on request
out=$(lab exec 2 -- virsh migrate --live --copy-storage-all --copy-storage-synchronous-writes \
      --bandwidth 2 g1 xen+tcp://xenmig-host1/system 2>&1) ||
    fail "virsh migrate --copy-storage-synchronous-writes back: $out"
[ "$(state_on "$U1" g1)" = running ] || fail "g1 is '$(state_on "$U1" g1)' on host 1 after coming back"
sleep 1
virsh -q -c "$U1" destroy g1 > /dev/null
heartbeat_ok "$(img 1 g1-xvda.img)"
echo ok
