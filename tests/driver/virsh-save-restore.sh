#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Stock virsh: save, save-image-dumpxml, restore, managedsave and start from
# the managed image; the guest's heartbeat has no gap in its sequence.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

xm_libvirtd_start
xm_guest_xml g1 > "$XM_DIR/g1.xml"
xm_virsh define "$XM_DIR/g1.xml" > /dev/null
xm_virsh start g1 > /dev/null
sleep 0.5
xm_virsh save g1 "$XM_DIR/g1.save" > /dev/null
xm_expect_eq "state after save" "$(xm_virsh domstate --reason g1)" "shut off (saved)"
xm_virsh save-image-dumpxml "$XM_DIR/g1.save" | grep -q "<name>g1</name>" ||
    xm_fail "save-image-dumpxml"
xm_virsh restore "$XM_DIR/g1.save" > /dev/null
xm_expect_eq "state after restore" "$(xm_virsh domstate --reason g1)" "running (restored)"
sleep 0.5
xm_virsh managedsave g1 > /dev/null
xm_expect_eq "managed save" "$(xm_virsh dominfo g1 | awk -F': *' '/^Managed save/ {print $2}')" "yes"
xm_virsh start g1 > /dev/null
xm_expect_eq "state after start" "$(xm_virsh domstate --reason g1)" "running (restored)"
xm_expect_eq "managed save" "$(xm_virsh dominfo g1 | awk -F': *' '/^Managed save/ {print $2}')" "no"
sleep 0.5
xm_virsh destroy g1 > /dev/null
out=$("$XENMIG_BUILDDIR/src/backend/xenmig-sim-guest" heartbeat-check "$XM_IMAGES/g1.img") ||
    xm_fail "heartbeat-check: $out"
case "$out" in
    *missing=0*) ;;
    *) xm_fail "heartbeats lost: $out" ;;
esac
echo ok
