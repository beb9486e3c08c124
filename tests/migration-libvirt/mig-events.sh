#!/bin/bash
# Lifecycle events of a migration, as nova's power-state sync sees them:
# host 1 sends SUSPENDED/MIGRATED then STOPPED/MIGRATED (and
# UNDEFINED/REMOVED with --undefinesource), host 2 STARTED/MIGRATED (and
# DEFINED/ADDED with --persistent).
. "$(dirname "$0")/mig-lib.sh"
mig_up
mig_guest g1 --disk-size 16M --write-rate 1 --heartbeat-ms 50

/usr/bin/python3 - "$U1" "$U2" <<'PY' || fail "events"
import sys, threading, time
import libvirt

libvirt.virEventRegisterDefaultImpl()
def loop():
    while True:
        libvirt.virEventRunDefaultImpl()
threading.Thread(target=loop, daemon=True).start()

E = libvirt
seen = {1: [], 2: []}
def cb(host):
    def f(conn, dom, event, detail, opaque):
        if dom.name() == "g1":
            seen[host].append((event, detail))
    return f
c1, c2 = libvirt.open(sys.argv[1]), libvirt.open(sys.argv[2])
c1.domainEventRegisterAny(None, E.VIR_DOMAIN_EVENT_ID_LIFECYCLE, cb(1), None)
c2.domainEventRegisterAny(None, E.VIR_DOMAIN_EVENT_ID_LIFECYCLE, cb(2), None)

dom = c1.lookupByName("g1")
flags = (E.VIR_MIGRATE_LIVE | E.VIR_MIGRATE_NON_SHARED_DISK |
         E.VIR_MIGRATE_PERSIST_DEST | E.VIR_MIGRATE_UNDEFINE_SOURCE)
dom.migrate3(c2, {}, flags)

want = {
    1: [(E.VIR_DOMAIN_EVENT_STOPPED, E.VIR_DOMAIN_EVENT_STOPPED_MIGRATED),
        (E.VIR_DOMAIN_EVENT_UNDEFINED, E.VIR_DOMAIN_EVENT_UNDEFINED_REMOVED)],
    2: [(E.VIR_DOMAIN_EVENT_STARTED, E.VIR_DOMAIN_EVENT_STARTED_MIGRATED),
        (E.VIR_DOMAIN_EVENT_DEFINED, E.VIR_DOMAIN_EVENT_DEFINED_ADDED)],
}
deadline = time.time() + 10
while time.time() < deadline and not all(
        all(w in seen[h] for w in want[h]) for h in want):
    time.sleep(0.1)
print("host 1:", seen[1])
print("host 2:", seen[2])
for h in want:
    for w in want[h]:
        if w not in seen[h]:
            sys.exit("host %d: missing event %s" % (h, w))
# the source was suspended for the switchover before it stopped
if (E.VIR_DOMAIN_EVENT_SUSPENDED, E.VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED) not in seen[1]:
    sys.exit("host 1: no SUSPENDED/MIGRATED event")
if seen[1].index((E.VIR_DOMAIN_EVENT_SUSPENDED, E.VIR_DOMAIN_EVENT_SUSPENDED_MIGRATED)) > \
   seen[1].index(want[1][0]):
    sys.exit("host 1: suspended after stopped")
if any(e == E.VIR_DOMAIN_EVENT_STOPPED for e, _ in seen[2]):
    sys.exit("host 2: the guest stopped")
PY
assert_on_dest g1
echo ok
