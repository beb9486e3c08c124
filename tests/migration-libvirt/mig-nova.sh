#!/bin/bash
# nova's live migration replayed with python3-libvirt: migrateToURI3 with
# LIVE|PEER2PEER|UNDEFINE_SOURCE|PERSIST_DEST|NON_SHARED_INC onto an image
# nova pre-created, with bandwidth, migrate_disks, destination_xml and
# persistent_xml; jobStats() polled every 0.5 s from another connection is
# sane and monotonic, and COMPLETED stats exist afterwards. The guest ends
# up running and persistent on host 2 only, undefined on host 1.
. "$(dirname "$0")/mig-lib.sh"
mig_up
mig_guest g1 --disk-size 16M --write-rate 1 --heartbeat-ms 50
# nova creates the instance's disk on the destination before migrating
truncate -s 16M "$(img 2 g1-xvda.img)"

/usr/bin/python3 - "$U1" "$DST_URI" "$U2" <<'PY' || fail "nova replay"
import sys, threading, time
import libvirt

src_uri, dst_uri = sys.argv[1], sys.argv[2]
conn = libvirt.open(src_uri)
dom = conn.lookupByName("g1")
xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_MIGRATABLE | libvirt.VIR_DOMAIN_XML_SECURE)
flags = (libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PEER2PEER |
         libvirt.VIR_MIGRATE_UNDEFINE_SOURCE | libvirt.VIR_MIGRATE_PERSIST_DEST |
         libvirt.VIR_MIGRATE_NON_SHARED_INC)
params = {
    libvirt.VIR_MIGRATE_PARAM_BANDWIDTH: 100,
    libvirt.VIR_MIGRATE_PARAM_MIGRATE_DISKS: ["xvda"],
    libvirt.VIR_MIGRATE_PARAM_DEST_XML: xml,
    libvirt.VIR_MIGRATE_PARAM_PERSIST_XML: xml,
}

samples, stop = [], threading.Event()
def poll():
    pconn = libvirt.open(src_uri)
    pdom = pconn.lookupByName("g1")
    while not stop.is_set():
        try:
            st = pdom.jobStats()
        except libvirt.libvirtError:
            break
        if st.get("type") == libvirt.VIR_DOMAIN_JOB_UNBOUNDED:
            samples.append(st)
        time.sleep(0.5)
poller = threading.Thread(target=poll)
poller.start()
try:
    dom.migrateToURI3(dst_uri, params, flags)
finally:
    stop.set()
    poller.join()

print("%d jobStats samples" % len(samples))
if not samples:
    sys.exit("jobStats never showed the running migration")
prev = None
for st in samples:
    for k in ("time_elapsed", "data_total", "data_processed", "data_remaining",
              "memory_total", "disk_total", "disk_processed"):
        if k not in st:
            sys.exit("jobStats lacks %s: %s" % (k, st))
    if st["data_processed"] > st["data_total"]:
        sys.exit("processed above total: %s" % st)
    if st["data_total"] < st["disk_total"] + st["memory_total"] - 1:
        sys.exit("data_total below disk + memory: %s" % st)
    if prev:
        for k in ("time_elapsed", "data_processed"):
            if st[k] < prev[k]:
                sys.exit("%s went backwards: %s -> %s" % (k, prev[k], st[k]))
    prev = st
# the source domain is undefined now: the destination keeps its own record
ddom = libvirt.open(sys.argv[3]).lookupByName("g1")
done = ddom.jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED)
if done.get("type") != libvirt.VIR_DOMAIN_JOB_COMPLETED:
    sys.exit("no completed job stats: %s" % done)
print("completed: elapsed %d ms, downtime %s ms, data %d bytes" %
      (done["time_elapsed"], done.get("downtime"), done["data_processed"]))
PY

assert_on_dest g1
[ "$(virsh -q -c "$U2" dominfo g1 | sed -n 's/^Persistent: *//p')" = yes ] ||
    fail "g1 is not persistent on host 2"
virsh -q -c "$U1" list --all --name | grep -qx g1 && fail "g1 still defined on host 1"
sleep 0.5
virsh -q -c "$U2" destroy g1 > /dev/null
heartbeat_ok "$(img 2 g1-xvda.img)"
echo ok
