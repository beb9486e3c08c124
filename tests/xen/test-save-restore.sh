#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-save-restore.sh pvh|pv: virsh save / restore of a running guest on
# one nested Xen host via our module; the guest's heartbeat must continue
# its sequence after the restore (no gap, no reboot).
set -euo pipefail
. "$(dirname "$0")/suite-lib.sh"

TYPE=${1:?usage: test-save-restore.sh pvh|pv}
N=hbsave$TYPE
V='virsh -c xen:///system'
XML=$(xt_guest_xml $N "$TYPE" $XT_IMAGES/$N.img)

save_restore() {
    xt_step "define + start $TYPE guest" A -t 500 "truncate -s 32M $XT_IMAGES/$N.img
        cat > /root/$N.xml <<'XML'
$XML
XML
        $V define /root/$N.xml && $V start $N"
    xt_step "heartbeat before save" xt_wait_boot A $N 5 300 "$V start $N"
    xt_step "virsh save" A -t 900 "mkdir -p /var/lib/xenmig/save && $V save $N /var/lib/xenmig/save/$N.sav &&
        ls -la /var/lib/xenmig/save/$N.sav"
    xt_step "not running after save" A -t 60 "! xl list $N && $V domstate $N | grep -q 'shut off'"
    xt_step "virsh restore" A -t 900 "$V restore /var/lib/xenmig/save/$N.sav"
    xt_step "heartbeat after restore" xt_wait_heartbeats A $N 5 300
    local hb
    hb=$(xt_heartbeats A $N)
    echo "$hb" > "$XENMIG_XEN_RUN/heartbeats.txt"
    xt_step "heartbeat sequence unbroken across save/restore" xt_check_sequence <<< "$hb"
    echo "time the guest stood still across save + restore (largest heartbeat gap):" \
        "$(xt_check_sequence <<< "$hb" | sed -n 's/.*max_gap=\([0-9.]*s\).*/\1/p')" | tee -a "$XENMIG_XEN_RUN/timings"
    xt_step "one boot only" A -t 60 "test \$(grep -a -c XMBOOT /var/log/xen/console/guest-$N.log) = 1"
    xt_step "virsh destroy + undefine" A -t 200 "$V destroy $N && $V undefine $N"
}

xt_run_scenario "save-restore-$TYPE" 1 save_restore
