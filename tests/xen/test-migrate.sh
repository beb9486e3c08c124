#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `virsh migrate --live --copy-storage-all` of a running PVH guest with a
# local disk from nested host a to host b through our module. Asserts that
# the guest then runs on b only, that its heartbeat sequence has no gap
# from a to b, and that b's copy of the disk holds every record a's had;
# prints the downtime the guest saw and the migration's total time.
#
# Exits 77 (skipped) only while our module answers the migration with
# VIR_ERR_NO_SUPPORT; any other failure is a failure.
set -euo pipefail
. "$(dirname "$0")/suite-lib.sh"

N=hbmig
V='virsh -c xen:///system'
XML=$(xt_guest_xml $N pvh $XT_IMAGES/$N.img)
NO_SUPPORT='this function is not supported by the connection driver'

# records HOSTFN: "<count> <md5>" of the heartbeat records on the disk.
# Records are contiguous from offset 0 and hold no NUL byte.
disk_records() {
    "$1" -t 300 "n=\$(( \$(tr -d '\\000' < $XT_IMAGES/$N.img | wc -c) / 64 ))
        echo \$n \$(dd if=$XT_IMAGES/$N.img bs=64 count=\$n 2>/dev/null | md5sum | cut -d' ' -f1)"
}

migrate() {
    xt_step "link a -> b" A -t 120 "busybox ping -c 2 -W 20 10.99.0.2 > /dev/null"
    xt_step "b's libvirtd reachable from a" A -t 120 "virsh -c xen+tcp://xenmig-b/system hostname"
    xt_step "define + start PVH guest on a" A -t 500 "truncate -s 32M $XT_IMAGES/$N.img
        cat > /root/$N.xml <<'XML'
$XML
XML
        $V define /root/$N.xml && $V start $N"
    xt_step "heartbeat on a" xt_wait_heartbeats A $N 10 300

    local t rc=0 out
    t=$(xnow_ms)
    out=$(A -t 1800 "virsh -c xen:///system migrate --live --copy-storage-all --verbose $N xen+tcp://xenmig-b/system 2>&1") || rc=$?
    local total
    total=$(xelapsed "$t")
    echo "$out" | tail -5
    echo "virsh migrate --live --copy-storage-all: ${total}s (exit $rc)" >> "$XENMIG_XEN_RUN/timings"
    if [ $rc != 0 ]; then
        if grep -q "$NO_SUPPORT" <<< "$out"; then
            echo "SKIP: our module does not support migration yet: $(grep "$NO_SUPPORT" <<< "$out" | head -1)"
            exit 77
        fi
        echo "virsh migrate failed (exit $rc)"
        return 1
    fi
    echo "  [${total}s] virsh migrate --live --copy-storage-all"

    xt_step "guest not running on a" A -t 60 "! xl list $N"
    xt_step "guest running on b" B -t 60 "xl list $N && $V domstate $N | grep -q running"
    xt_step "heartbeat on b" xt_wait_heartbeats B $N 5 300

    local ha hb seq
    ha=$(xt_heartbeats A $N)
    hb=$(xt_heartbeats B $N)
    printf '%s\n%s\n' "$ha" "$hb" > "$XENMIG_XEN_RUN/heartbeats.txt"
    seq=$(printf '%s\n%s\n' "$ha" "$hb" | xt_check_sequence) || { echo "$seq"; return 1; }
    echo "  heartbeat a -> b: $seq"
    local ra rb
    ra=$(disk_records A)
    rb=$(B -t 300 "dd if=$XT_IMAGES/$N.img bs=64 count=${ra%% *} 2>/dev/null | md5sum | cut -d' ' -f1")
    echo "  disk: a holds ${ra%% *} records ($ra), b's first ${ra%% *}: $rb"
    [ "${ra#* }" = "$rb" ] || { echo "b's disk differs from a's"; return 1; }
    local down
    down=$(sed -n 's/.*max_gap=\([0-9.]*\)s.*/\1/p' <<< "$seq")
    echo "downtime (largest heartbeat gap seen by the guest; host clocks may differ by up to 1 s): ${down}s" |
        tee -a "$XENMIG_XEN_RUN/timings"
    echo "total migration time: ${total}s" | tee -a "$XENMIG_XEN_RUN/timings"
}

xt_run_scenario migrate 2 migrate
