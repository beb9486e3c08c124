#!/bin/bash
# virsh migrate --xml with a destination XML that moves the guest's
# interface to another bridge: the guest runs on host 2 with the new bridge
# in its running definition (and in the persistent one with --persistent),
# keeps its MAC address, and host 1's definition is unchanged. The sim
# backend attaches no real interface, so the bridge name is what the
# product carries from the destination XML to the domain it starts.
. "$(dirname "$0")/mig-lib.sh"
mig_up
lab guest g1 --host 1 --disk-size 16M --write-rate 1 --heartbeat-ms 50 --memory 16 |
    sed "s|  </devices>|    <interface type='bridge'>\n      <mac address='00:16:3e:5a:01:02'/>\n      <source bridge='xenbr0'/>\n    </interface>\n  </devices>|" \
    > "$LAB_DIR/g1.xml"
virsh -q -c "$U1" define "$LAB_DIR/g1.xml" > /dev/null || fail "define g1"
virsh -q -c "$U1" start g1 > /dev/null || fail "start g1"
virsh -q -c "$U1" dumpxml g1 | grep -q "<source bridge='xenbr0'/>" ||
    fail "host 1 does not run g1 on xenbr0: $(virsh -q -c "$U1" dumpxml g1)"

virsh -q -c "$U1" dumpxml --migratable g1 |
    sed "s|<source bridge='xenbr0'/>|<source bridge='xenbr-dst'/>|" > "$LAB_DIR/dest.xml"
grep -q xenbr-dst "$LAB_DIR/dest.xml" || fail "could not rewrite the bridge"

out=$(virsh1 migrate --live --copy-storage-all --persistent --xml "$LAB_DIR/dest.xml" \
      g1 "$DST_URI" 2>&1) || fail "virsh migrate --xml: $out"
assert_on_dest g1
for how in "" --inactive; do
    xml=$(virsh -q -c "$U2" dumpxml $how g1)
    grep -q "<source bridge='xenbr-dst'/>" <<< "$xml" ||
        fail "host 2's ${how:-running} definition is not on the new bridge: $xml"
    grep -q "xenbr0" <<< "$xml" && fail "host 2's ${how:-running} definition still names xenbr0"
    grep -q "00:16:3e:5a:01:02" <<< "$xml" || fail "host 2's ${how:-running} definition lost the MAC"
done
virsh -q -c "$U1" dumpxml --inactive g1 | grep -q "<source bridge='xenbr0'/>" ||
    fail "host 1's definition of g1 changed"
sleep 0.5
virsh -q -c "$U2" destroy g1 > /dev/null
heartbeat_ok "$(img 2 g1-xvda.img)"
echo ok
