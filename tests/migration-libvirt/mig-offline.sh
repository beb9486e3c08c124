#!/bin/bash
# virsh migrate --offline --persistent moves the definition of a domain that
# is not running; with --undefinesource host 1 forgets it. No data moves.
. "$(dirname "$0")/mig-lib.sh"
mig_up
lab guest g1 --host 1 --disk-size 8M > "$LAB_DIR/g1.xml"
virsh -q -c "$U1" define "$LAB_DIR/g1.xml" > /dev/null || fail "define g1"

# libvirt's client itself insists on --persistent
if virsh1 migrate --offline g1 "$DST_URI" > /dev/null 2>&1; then
    fail "offline migration without --persistent succeeded"
fi
out=$(virsh1 migrate --offline --persistent g1 "$DST_URI" 2>&1) || fail "virsh migrate --offline: $out"
[ "$(state_on "$U2" g1)" = "shut off" ] || fail "g1 is '$(state_on "$U2" g1)' on host 2"
[ "$(state_on "$U1" g1)" = "shut off" ] || fail "g1 is no longer defined on host 1"
[ ! -e "$(img 2 g1-xvda.img)" ] || fail "an offline migration created an image"
cmp <(virsh -q -c "$U1" dumpxml --inactive g1) <(virsh -q -c "$U2" dumpxml --inactive g1) ||
    fail "the definitions differ"

virsh -q -c "$U2" undefine g1 > /dev/null
out=$(virsh1 migrate --offline --persistent --undefinesource g1 "$DST_URI" 2>&1) ||
    fail "virsh migrate --offline --undefinesource: $out"
[ "$(state_on "$U2" g1)" = "shut off" ] || fail "g1 is not defined on host 2"
virsh -q -c "$U1" list --all --name | grep -qx g1 && fail "g1 still defined on host 1"
echo ok
