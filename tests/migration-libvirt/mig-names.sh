#!/bin/bash
# Names on the destination: a migration to a host that has another domain
# (other UUID) of the same name is refused before anything is copied, the
# guest staying on host 1 and host 2's domain untouched; with --dname the
# guest moves under the new name.
. "$(dirname "$0")/mig-lib.sh"
mig_up
mig_guest g1 --disk-size 16M --write-rate 1 --heartbeat-ms 50
# another g1 on host 2: same name, new UUID
lab guest other --host 2 --disk-size 8M |
    sed -e 's|<name>other</name>|<name>g1</name>|' -e '/<uuid>/d' > "$LAB_DIR/other.xml"
virsh -q -c "$U2" define "$LAB_DIR/other.xml" > /dev/null || fail "define the other g1"
other_uuid=$(virsh -q -c "$U2" domuuid g1)

if out=$(virsh1 migrate --live --copy-storage-all g1 "$DST_URI" 2>&1); then
    fail "migration onto a name in use succeeded"
fi
echo "refused: $out"
[ "$(state_on "$U1" g1)" = running ] || fail "g1 is not running on host 1"
[ "$(virsh -q -c "$U2" domuuid g1)" = "$other_uuid" ] || fail "host 2's g1 changed"
[ ! -e "$(img 2 g1-xvda.img)" ] || fail "host 2 created an image"

out=$(virsh1 migrate --live --copy-storage-all --dname g1-moved g1 "$DST_URI" 2>&1) ||
    fail "virsh migrate --dname: $out"
[ "$(state_on "$U2" g1-moved)" = running ] || fail "g1-moved does not run on host 2"
[ "$(virsh -q -c "$U2" domuuid g1-moved)" = "$(virsh -q -c "$U1" domuuid g1)" ] ||
    fail "the UUID changed with the name"
[ "$(state_on "$U1" g1)" != running ] || fail "g1 still runs on host 1"
sleep 0.5
virsh -q -c "$U2" destroy g1-moved > /dev/null
heartbeat_ok "$(img 2 g1-xvda.img)"
echo ok
