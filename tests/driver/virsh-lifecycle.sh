#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Stock virsh: define, start, list, dominfo, dumpxml round trip, suspend,
# resume, shutdown, destroy, undefine, against the module with the sim backend.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

xm_libvirtd_start
xm_expect_eq "connection type" "$(xm_virsh version | awk '/Using API/ {print $3}')" "Xen"
xm_guest_xml g1 > "$XM_DIR/g1.xml"
xm_virsh define "$XM_DIR/g1.xml" > /dev/null
xm_expect_eq "list --all" "$(xm_virsh list --all | awk '{print $2, $3, $4}')" "g1 shut off"

# dumpxml round trip: what virsh defined comes back and defines to itself
xm_virsh dumpxml g1 > "$XM_DIR/dump1.xml"
xm_virsh define "$XM_DIR/dump1.xml" > /dev/null
xm_virsh dumpxml g1 > "$XM_DIR/dump2.xml"
cmp "$XM_DIR/dump1.xml" "$XM_DIR/dump2.xml" || xm_fail "dumpxml does not round-trip"

xm_virsh start g1 > /dev/null
xm_expect_eq "state" "$(xm_virsh domstate --reason g1)" "running (booted)"
xm_expect_eq "dominfo state" "$(xm_virsh dominfo g1 | awk -F': *' '/^State/ {print $2}')" "running"
xm_expect_eq "dominfo persistent" "$(xm_virsh dominfo g1 | awk -F': *' '/^Persistent/ {print $2}')" "yes"
id=$(xm_virsh domid g1)
xm_expect_eq "list" "$(xm_virsh list | awk '{print $1, $2}')" "$id g1"

xm_virsh suspend g1 > /dev/null
xm_expect_eq "state" "$(xm_virsh domstate --reason g1)" "paused (user)"
xm_virsh resume g1 > /dev/null
xm_expect_eq "state" "$(xm_virsh domstate --reason g1)" "running (unpaused)"

xm_virsh shutdown g1 > /dev/null
for _ in $(seq 100); do
    [ "$(xm_virsh domstate g1)" = "shut off" ] && break
    sleep 0.1
done
xm_expect_eq "state after shutdown" "$(xm_virsh domstate --reason g1)" "shut off (shutdown)"

xm_virsh start g1 > /dev/null
xm_virsh destroy g1 > /dev/null
xm_expect_eq "state after destroy" "$(xm_virsh domstate --reason g1)" "shut off (destroyed)"
if xm_virsh destroy g1 2> "$XM_DIR/err"; then
    xm_fail "destroying an inactive domain succeeded"
fi
grep -q "not running" "$XM_DIR/err" || xm_fail "unexpected error: $(cat "$XM_DIR/err")"

xm_virsh undefine g1 > /dev/null
xm_expect_eq "list after undefine" "$(xm_virsh list --all)" ""
[ ! -e "$XM_DIR/config/g1.xml" ] || xm_fail "config file left behind"
echo ok
