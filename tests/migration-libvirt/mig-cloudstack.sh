#!/bin/bash
# CloudStack's storage migration replayed with python3-libvirt:
# virDomainMigrate2(dconn, dxml, LIVE|NON_SHARED_DISK, name, "tcp:" + ip,
# bandwidth), the client holding connections to both hosts. The guest ends
# up running on host 2 only with an unbroken heartbeat.
. "$(dirname "$0")/mig-lib.sh"
mig_up
mig_guest g1 --disk-size 16M --write-rate 1 --heartbeat-ms 50

/usr/bin/python3 - "$U1" "$U2" <<'PY' || fail "CloudStack replay"
import sys
import libvirt

src = libvirt.open(sys.argv[1])
dst = libvirt.open(sys.argv[2])
dom = src.lookupByName("g1")
dxml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_SECURE)
flags = libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_NON_SHARED_DISK
ddom = dom.migrate2(dst, dxml, flags, "g1", "tcp:10.77.0.2", 100)
if ddom is None or ddom.name() != "g1":
    sys.exit("migrate2 returned %r" % ddom)
print("migrated to", dst.getHostname())
PY

assert_on_dest g1
sleep 0.5
virsh -q -c "$U2" destroy g1 > /dev/null
heartbeat_ok "$(img 2 g1-xvda.img)"
echo ok
