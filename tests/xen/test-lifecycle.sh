#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A PVH guest's life through stock virsh on one nested Xen host, via our
# module and its libxl backend: define, start, dominfo, dumpxml, shutdown,
# start again, destroy, undefine. The guest's heartbeat proves it runs.
set -euo pipefail
. "$(dirname "$0")/suite-lib.sh"

V='virsh -c xen:///system'
XML=$(xt_guest_xml hb pvh $XT_IMAGES/hb.img)

# state_is HOSTFN NAME STATE TIMEOUT: waits for virsh domstate.
state_is() {
    local s
    s=$("$1" -t "$4" "for i in \$(seq $(( $4 / 3 ))); do s=\$($V domstate $2 2>&1); [ \"\$s\" = '$3' ] && break; sleep 3; done; echo \$s")
    [ "$s" = "$3" ] || { echo "domain $2 is '$s', expected '$3'"; return 1; }
}

lifecycle() {
    xt_step "module loaded, libxl backend opened real Xen" A -t 120 "
        set -e
        test \"\$($V uri)\" = xen:///system
        grep -a -q 'libxl backend open' /var/log/xenmig/libvirtd.out
        xl info | grep -E '^(xen_version|virt_caps)'"
    xt_step "virsh define" A -t 120 "truncate -s 32M $XT_IMAGES/hb.img
        cat > /root/hb.xml <<'XML'
$XML
XML
        $V define /root/hb.xml"
    xt_step "virsh start" A -t 400 "$V start hb"
    xt_step "virsh dominfo: running" A -t 60 "d=\$($V dominfo hb) && echo \"\$d\" && grep -q -E '^State: +running' <<< \"\$d\""
    xt_step "virsh dumpxml: the PVH guest" A -t 60 "$V dumpxml hb > /root/hb.out.xml
        grep -q '<name>hb</name>' /root/hb.out.xml && grep -q xenpvh /root/hb.out.xml &&
        grep -q -E \"<domain type=.xen. id=.[0-9]+.\" /root/hb.out.xml"
    xt_step "the guest's heartbeat runs" xt_wait_heartbeats A hb 5 300
    xt_step "virsh shutdown" A -t 60 "$V shutdown hb"
    xt_step "guest shut off" state_is A hb "shut off" 300
    xt_step "virsh start again" A -t 400 "$V start hb"
    xt_step "virsh destroy" A -t 200 "$V destroy hb"
    xt_step "guest shut off after destroy" state_is A hb "shut off" 60
    xt_step "xl list: gone from Xen" A -t 60 "! xl list hb"
    xt_step "virsh undefine" A -t 60 "$V undefine hb && ! $V dominfo hb"
}

xt_run_scenario lifecycle 1 lifecycle
