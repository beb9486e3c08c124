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
#
# With the argument "tracked" (test xen-migrate-tracked) both hosts run
# with xen_disk_datapath = "nbd": the guest's disk is served by its
# datapath daemon through /dev/nbdN on each host. It then also asserts
# that the completed job's statistics say the disk was tracked
# (xenmig.disks_tracked=1, read with virsh domjobinfo --rawstats), prints
# their downtimes, and checks that no NBD device stays connected and no
# datapath daemon runs on a host once the guest left it, also when the
# guest is destroyed by a libvirtd restarted since its start.
set -euo pipefail
. "$(dirname "$0")/suite-lib.sh"
MODE=${1:-direct}

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

# nbd_use HOSTFN: restarts the dom0's libvirtd with xen_disk_datapath = "nbd".
nbd_use() {
    "$1" -t 180 "/opt/xenmig/libexec/stop-libvirtd
        sed '/^xen_disk_datapath/d' /opt/xenmig/etc/xenmig.conf > /run/xenmig-nbd.conf
        echo 'xen_disk_datapath = \"nbd\"' >> /run/xenmig-nbd.conf
        XENMIG_CONF=/run/xenmig-nbd.conf /opt/xenmig/libexec/start-libvirtd"
}

# nbd_count HOSTFN: "<connected NBD devices> <datapath daemons>" in the
# dom0. Daemons by /proc/PID/comm, not pgrep -f: reading a command line
# can block behind a busy process. A dom0 that does not answer (seen right
# after a guest started, also without NBD) is asked again.
nbd_count() {
    local try
    for try in 1 2 3; do
        "$1" -t 60 "n=0; for f in /sys/block/nbd*/pid; do [ -e \$f ] && n=\$((n + 1)); done
            echo \$n \$(cat /proc/[0-9]*/comm 2>/dev/null | grep -c -x xenmig-datapath)" && return 0
        echo "no answer from the dom0 (try $try)" >&2
    done
    return 1
}

# asked_again HOSTFN COMMAND: COMMAND (idempotent) with up to three tries
# of 60 s: twice the dom0's first command after an event did not answer.
asked_again() {
    local try
    for try in 1 2 3; do
        "$1" -t 60 "$2" && return 0
        echo "no success from the dom0 (try $try); its state: logs-*/diag-noanswer$try.txt" >&2
        # HOSTFN A/B/A1/B1 -> host a/b
        xt_diag "$(echo "${1:0:1}" | tr AB ab)" "noanswer$try"
    done
    return 1
}

# nbd_expect HOSTFN COUNT: COUNT connected devices and COUNT daemons, the
# state settling for up to 60 s (a death is handled in the background).
nbd_expect() {
    local c i
    for i in $(seq 12); do
        c=$(nbd_count "$1") || return 1
        [ "$c" != "$2 $2" ] || return 0
        sleep 5
    done
    echo "expected $2 connected NBD device(s) and $2 datapath daemon(s), found: $c" >&2
    "$1" -t 60 "grep . /sys/block/nbd*/pid; ps -eo pid,args | grep [x]enmig-datapath" >&2 || true
    return 1
}

migrate() {
    if [ "$MODE" = tracked ]; then
        xt_step "libvirtd on a with xen_disk_datapath = nbd" nbd_use A
        xt_step "libvirtd on b with xen_disk_datapath = nbd" nbd_use B
    fi
    xt_step "link a -> b" A -t 120 "busybox ping -c 2 -W 20 10.99.0.2 > /dev/null"
    xt_step "b's libvirtd reachable from a" A -t 120 "virsh -c xen+tcp://xenmig-b/system hostname"
    xt_step "define + start PVH guest on a" A -t 500 "truncate -s 32M $XT_IMAGES/$N.img
        cat > /root/$N.xml <<'XML'
$XML
XML
        $V define /root/$N.xml && $V start $N"
    xt_step "heartbeat on a" xt_wait_boot A $N 10 300 "$V start $N"
    if [ "$MODE" = tracked ]; then
        xt_step "guest's disk on /dev/nbdN served by its datapath on a" nbd_expect A 1
        xt_step "libxl got the NBD device, not the image" A -t 60 \
            "grep -q -E '\"pdev_path\": *\"/dev/nbd' /var/lib/xen/userdata-d.*.libxl-json"
    fi

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

    if [ "$MODE" = tracked ]; then
        local stats
        stats=$(A -t 120 "virsh -c xen:///system domjobinfo $N --completed --rawstats")
        echo "$stats" > "$XENMIG_XEN_RUN/jobstats.txt"
        echo "$stats" | grep -E 'downtime|xenmig\.' | sed 's/^/  /'
        grep -q -E '^ *xenmig\.disks_tracked *[:=] *1$' <<< "$stats" ||
            { echo "the completed job does not say the disk was tracked"; return 1; }
        echo "job stats: $(echo "$stats" | grep -E '^ *(downtime|xenmig\.disk_downtime|xenmig\.disks_synchronous) *[:=]' | tr -s ' ' | paste -sd ' ')" |
            tee -a "$XENMIG_XEN_RUN/timings"
        xt_step "no NBD device nor datapath left on a" nbd_expect A 0
        xt_step "guest's disk on /dev/nbdN served by its datapath on b" nbd_expect B 1
    fi
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
    if [ "$MODE" = tracked ]; then
        # a restarted libvirtd binds the running guest's datapath again
        # from its state file: the destroy below undoes it
        xt_step "libvirtd on b restarted" nbd_use B
        xt_step "guest still running on b" asked_again B "$V domstate $N | grep -q running"
        xt_step "its datapath left running by the restart" nbd_expect B 1
        xt_step "destroy the guest on b" B -t 300 "$V destroy $N"
        xt_step "no NBD device nor datapath left on b" nbd_expect B 0
    fi
}

if [ "$MODE" = tracked ]; then
    xt_run_scenario migrate-tracked 2 migrate
else
    xt_run_scenario migrate 2 migrate
fi
